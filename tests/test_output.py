"""Output that cannot be written, and output that went to a file, as a new machine runs it.

Every case is a real `python -m iamkeys` process in a new machine's environment (HOME, PATH,
LANG, plus the emulator's variables), once with Python's default buffering and once with
PYTHONUNBUFFERED=1: a failure at interpreter exit, outside the CLI's error boundary, shows only
with buffering, and a developer's shell often sets PYTHONUNBUFFERED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from cli_runner import Result, emulator_environ, scrubbed_environ
from filesystems import fill, small_fs
from iamkeys import serialize

__all__ = ["small_fs"]

TIMEOUT = 120.0
BUFFERING = [pytest.param({}, id="buffered"), pytest.param({"PYTHONUNBUFFERED": "1"},
                                                           id="unbuffered")]
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
ISO = "%Y-%m-%dT%H:%M:%SZ"
FULL = "No space left on device"
# Two users: alice's old active key has two findings (IAM.3, IAM.22), her new one is inactive;
# bob's key is recent and used.
USERS = [
    {"name": "alice", "create_date": (NOW - 500 * DAY).strftime(ISO),
     "keys": [{"create_date": (NOW - 200 * DAY).strftime(ISO)},
              {"status": "Inactive", "create_date": (NOW - 3 * DAY).strftime(ISO)}]},
    {"name": "bob", "create_date": (NOW - 500 * DAY).strftime(ISO),
     "keys": [{"create_date": (NOW - 5 * DAY).strftime(ISO),
               "last_used": {"date": (NOW - DAY).strftime(ISO), "service": "s3"}}]},
]
HOLDS = "1 account, 2 users, 3 keys, 2 findings, 0 errors"
EMAIL_RUN = ("run", "list-access-keys-email", "--input", "user_name=alice",
             "--input", "to=secops@example.com")


@pytest.fixture
def machine(aws_env: Any, tmp_path: Path) -> dict[str, str]:
    """A new machine's environment pointed at the emulator, which holds USERS."""
    aws_env.bulk_create(USERS)
    aws_env.reset(state=False)
    home = tmp_path / "home"
    home.mkdir()
    return scrubbed_environ(home, **emulator_environ(aws_env.url, tmp_path))


@pytest.fixture
def bare(tmp_path: Path) -> dict[str, str]:
    """A new machine's environment, for commands that call nothing."""
    home = tmp_path / "home"
    home.mkdir()
    return scrubbed_environ(home)


def iamkeys_to(stdout: IO[Any] | int, *args: str, env: dict[str, str],
               cwd: Path | None = None) -> Result:
    """Run `python -m iamkeys ARGS` with stdout going to `stdout`; stderr captured."""
    done = subprocess.run([sys.executable, "-m", "iamkeys", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, timeout=TIMEOUT,
                          check=False)
    return Result(done.returncode, "", done.stderr)


def assert_no_traceback(stderr: str) -> None:
    """Neither our boundary nor the interpreter at exit printed a traceback."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.fixture
def closed_pipe() -> Iterator[int]:
    """The write end of a pipe whose reader is gone before the command starts."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        yield write_end
    finally:
        os.close(write_end)


# --- stdout on a full device ----------------------------------------------------------------

NO_AWS = [("--help",), ("--version",), ("inventory", "--help"),
          ("list-access-keys", "--help"), (*EMAIL_RUN, "--dry-run")]
AWS = [("list-access-keys", "--user-name", "alice"),
       ("list-access-keys", "--user-name", "alice", "--output", "table"),
       ("list-access-keys", "--user-name", "alice", "--raw-xml"),
       ("inventory", "--output", "csv"), ("inventory",), EMAIL_RUN]


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("args", NO_AWS, ids=" ".join)
def test_stdout_on_a_full_device(args: tuple[str, ...], buffering: dict[str, str],
                                 bare: dict[str, str], tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = iamkeys_to(full, *args, env={**bare, **buffering}, cwd=tmp_path)
    assert (result.code, result.stderr) == (1, f"Error: cannot write output: stdout: {FULL}\n")


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("args", AWS, ids=" ".join)
def test_command_output_on_a_full_device(args: tuple[str, ...], buffering: dict[str, str],
                                         machine: dict[str, str], tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = iamkeys_to(full, *args, env={**machine, **buffering}, cwd=tmp_path)
    assert_no_traceback(result.stderr)
    lines = result.stderr.splitlines()
    assert (result.code, lines[-1]) == (1, f"Error: cannot write output: stdout: {FULL}")
    # Only the progress lines the command prints before its output come first.
    assert all(line.startswith("iamkeys: step ") for line in lines[:-1]), lines


@pytest.mark.parametrize("buffering", BUFFERING)
def test_demo_output_on_a_full_device(buffering: dict[str, str], bare: dict[str, str],
                                      tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = iamkeys_to(full, "demo", env={**bare, **buffering}, cwd=tmp_path)
    assert_no_traceback(result.stderr)
    lines = result.stderr.splitlines()
    assert (result.code, lines[-1]) == (1, f"Error: cannot write output: stdout: {FULL}")
    assert lines[-2] == "iamkeys: step email: email.send ... ok"  # the JSON comes next


@pytest.mark.parametrize("buffering", BUFFERING)
def test_stdout_and_stderr_on_a_full_device(buffering: dict[str, str],
                                            bare: dict[str, str]) -> None:
    # Nothing can be said; the exit code still says it failed, and nothing hangs or loops.
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "iamkeys", "--help"], stdout=full,
                              stderr=full, env={**bare, **buffering}, timeout=TIMEOUT,
                              check=False)
    assert done.returncode == 1


# --- a reader that closed the pipe: quiet, exit 141 as for SIGPIPE --------------------------


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("args", [("--help",), ("--version",), ("inventory", "--help")],
                         ids=" ".join)
def test_a_closed_pipe_ends_quietly(args: tuple[str, ...], buffering: dict[str, str],
                                    bare: dict[str, str], closed_pipe: int) -> None:
    result = iamkeys_to(closed_pipe, *args, env={**bare, **buffering})
    assert (result.code, result.stderr) == (141, "")


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("args", AWS[:4], ids=" ".join)
def test_a_closed_pipe_ends_a_command_quietly(args: tuple[str, ...], buffering: dict[str, str],
                                              machine: dict[str, str],
                                              closed_pipe: int) -> None:
    result = iamkeys_to(closed_pipe, *args, env={**machine, **buffering})
    assert (result.code, result.stderr) == (141, "")


@pytest.fixture
def many_users(machine: dict[str, str], aws_env: Any) -> dict[str, str]:
    """1,000 more users with two keys each: a CSV inventory of ~250 KB, four times a pipe's
    64 KiB buffer, so that the command is still writing when the reader goes away."""
    aws_env.bulk_create([{"name": f"user-{i:04d}", "keys": [{}, {"status": "Inactive"}]}
                         for i in range(1000)])
    aws_env.reset(state=False)
    return machine


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize("reader", [["head", "-1"], ["head", "-c1"]], ids=" ".join)
def test_inventory_into_head(reader: list[str], buffering: dict[str, str],
                             many_users: dict[str, str]) -> None:
    # `iamkeys inventory --output csv | head -1`, as the shell runs a pipeline.
    writer = subprocess.Popen([sys.executable, "-m", "iamkeys", "inventory", "--output", "csv",
                               "--no-last-used"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**many_users, **buffering})
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.Popen(reader, stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # head holds the only read end now
    first, _ = head.communicate(timeout=TIMEOUT)
    stderr = writer.stderr.read().decode()
    code = writer.wait(timeout=TIMEOUT)
    writer.stderr.close()
    header = ",".join(serialize.INVENTORY_COLUMNS).encode() + b"\r\n"
    assert first == (header if reader[1] == "-1" else header[:1])
    assert (code, stderr) == (141, "")


@pytest.mark.parametrize("buffering", BUFFERING)
def test_stdout_to_a_file_system_that_fills_up(buffering: dict[str, str],
                                               many_users: dict[str, str],
                                               small_fs: Path) -> None:
    # ~250 KB into 64 KiB: the first write(2) takes part of it, the next one fails.
    with (small_fs / "inventory.csv").open("w") as out:
        result = iamkeys_to(out, "inventory", "--output", "csv", "--no-last-used",
                            env={**many_users, **buffering})
    assert (result.code, result.stderr) == (1, f"Error: cannot write output: stdout: {FULL}\n")


# --- --out FILE that cannot be written ------------------------------------------------------


@pytest.mark.parametrize("buffering", BUFFERING)
@pytest.mark.parametrize(("path", "reason"), [
    ("/dev/full", FULL),
    ("/proc/iamkeys-report.html", "No such file or directory"),  # procfs creates no files
])
def test_out_that_cannot_be_written(path: str, reason: str, buffering: dict[str, str],
                                    machine: dict[str, str]) -> None:
    result = iamkeys_to(subprocess.PIPE, "inventory", "--output", "html", "--out", path,
                        env={**machine, **buffering})
    assert (result.code, result.stderr) == (1, f"Error: cannot write output: {path}: {reason}\n")


@pytest.mark.parametrize("buffering", BUFFERING)
def test_out_on_a_full_file_system(buffering: dict[str, str], machine: dict[str, str],
                                   small_fs: Path) -> None:
    fill(small_fs)
    report = small_fs / "report.html"
    result = iamkeys_to(subprocess.PIPE, "inventory", "--output", "html", "--out", str(report),
                        env={**machine, **buffering})
    assert (result.code, result.stderr) == (1, f"Error: cannot write output: {report}: {FULL}\n")


@pytest.mark.parametrize("buffering", BUFFERING)
def test_out_larger_than_the_space_left(buffering: dict[str, str], many_users: dict[str, str],
                                        small_fs: Path) -> None:
    report = small_fs / "inventory.json"
    result = iamkeys_to(subprocess.PIPE, "inventory", "--no-last-used", "--out", str(report),
                        env={**many_users, **buffering})
    assert (result.code, result.stderr) == (1, f"Error: cannot write output: {report}: {FULL}\n")


# --- output to a file says so ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "table", "html"])
def test_out_names_the_file_and_what_it_holds(fmt: str, machine: dict[str, str],
                                              tmp_path: Path) -> None:
    report = tmp_path / f"report.{fmt}"
    done = subprocess.run([sys.executable, "-m", "iamkeys", "inventory", "--output", fmt,
                           "--out", str(report)], capture_output=True, text=True, env=machine,
                          timeout=TIMEOUT, check=False)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"iamkeys: wrote {report}: {fmt} inventory of {HOLDS}\n"
    assert "alice" in report.read_text(encoding="utf-8")


def test_out_with_errors_and_findings(machine: dict[str, str], aws_env: Any,
                                      tmp_path: Path) -> None:
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": "bob"},
                               "kind": "access_denied"}])
    done = subprocess.run([sys.executable, "-m", "iamkeys", "inventory", "--out", "report.json",
                           "--fail-on-findings"], capture_output=True, text=True, env=machine,
                          cwd=tmp_path, timeout=TIMEOUT, check=False)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.splitlines() == [
        "iamkeys: wrote report.json: json inventory of 1 account, 2 users, 2 keys, 2 findings, "
        "1 error",
        "Error: 1 item(s) could not be listed; see Errors in the output",
    ]


def test_fail_on_findings_after_writing(machine: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "iamkeys", "inventory", "--out", "report.json",
                           "--fail-on-findings"], capture_output=True, text=True, env=machine,
                          cwd=tmp_path, timeout=TIMEOUT, check=False)
    assert done.returncode == 4
    assert done.stderr.splitlines() == [
        f"iamkeys: wrote report.json: json inventory of {HOLDS}",
        "Error: 2 finding(s): IAM.3 1, IAM.22 1",
    ]


def test_a_workflow_names_the_eml_file_it_wrote(machine: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "iamkeys", *EMAIL_RUN], capture_output=True,
                          text=True, env=machine, cwd=tmp_path, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    (eml,) = (tmp_path / "outbox").iterdir()
    assert done.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        "iamkeys: step email: email.send ... ok",
        f"iamkeys: step email: wrote outbox/{eml.name} (to secops@example.com: 'IAM access "
        "keys: 2 keys, 1 user'); not sent: no SMTP host or SES configured",
    ]
