"""Shared plumbing for the benchmarks: paths, the emulator, child environments, runs and stats.

Benchmarks are scripts, not tests: each starts its own IAM emulator (moto behind the test
harness's layer) on 127.0.0.1, runs the tools it compares as child processes, prints what it
measured and stops everything. Credentials are fake and live only in the children's environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from harness.client import Emulator  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
IAMKEYS = VENV_BIN / "iamkeys"
AWS_CLI = VENV_BIN / "aws"

# AWS's documented example key pair: fake, accepted by the emulator, useless anywhere else.
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
USER_PREFIX = "bench-user-"
BULK_CHUNK = 500
RUN_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Run:
    """One finished child process: wall time, exit code, output, peak RSS and CPU time."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_kb: int
    cpu_seconds: float


@dataclass(frozen=True)
class Bench:
    """A running emulator and the environment children use to reach it."""

    emulator: Emulator
    env: dict[str, str]
    scratch: Path


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the `--quick` flag every benchmark takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="smaller, faster run")
    return result


def child_env(endpoint_url: str, scratch: Path) -> dict[str, str]:
    """This process's environment without AWS_* settings, plus fake credentials and the endpoint."""
    empty = scratch / "empty-aws-config"
    empty.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMKEYS_"))}
    env.update(
        AWS_ACCESS_KEY_ID=FAKE_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    return env


def compile_sources() -> None:
    """Write the package's bytecode (git-ignored __pycache__/), as `pip install` does.

    Site-packages (botocore, awscli, c7n) were compiled when pip installed them; the editable
    iamkeys sources were not, and with PYTHONDONTWRITEBYTECODE set every iamkeys process would
    compile them again, a cost no installed copy pays.
    """
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "src" / "iamkeys")],
                   check=True, cwd=ROOT)


@contextlib.contextmanager
def bench() -> Iterator[Bench]:
    """Compile sources, start an emulator with an empty state; stop it and clean up on exit."""
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="iamkeys-bench-") as tmp, Emulator() as emulator:
        emulator.reset(state=True)
        scratch = Path(tmp)
        yield Bench(emulator, child_env(emulator.url, scratch), scratch)


def run(cmd: Sequence[str | Path], env: dict[str, str], *, cwd: Path | None = None,
        timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run a child to completion; its own peak RSS comes from wait4, not RUSAGE_CHILDREN's max."""
    argv = [str(part) for part in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd or ROOT, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), usage.ru_maxrss,
                   usage.ru_utime + usage.ru_stime)


def user_specs(count: int, keys_per_user: int = 2, start: int = 0) -> list[dict[str, Any]]:
    """`count` users named bench-user-<start>..., each with `keys_per_user` keys (2nd inactive)."""
    statuses = ("Active", "Inactive")
    return [
        {"name": f"{USER_PREFIX}{i:05d}",
         "keys": [{"status": statuses[k % 2]} for k in range(keys_per_user)]}
        for i in range(start, start + count)
    ]


def populate(emulator: Emulator, count: int, keys_per_user: int = 2, start: int = 0) -> set[str]:
    """Create users and keys in the emulator's own objects; returns every key id created."""
    specs = user_specs(count, keys_per_user, start)
    truth: set[str] = set()
    for start in range(0, len(specs), BULK_CHUNK):
        created = emulator.bulk_create(specs[start:start + BULK_CHUNK])
        truth.update(key for keys in created.values() for key in keys)
    return truth


def successful_requests(stats: dict[str, Any]) -> int:
    """Requests the emulator served: neither rate-limited nor hit by an injected fault."""
    return int(stats["total"]) - int(stats["rate_limited"]) - int(stats["faults_injected"])


@dataclass(frozen=True)
class Completeness:
    """How a tool's key ids compare with the ground truth."""

    found: int
    unique: int
    missing: int
    extra: int

    @property
    def complete(self) -> bool:
        """Every key exactly once, nothing else."""
        return self.missing == 0 and self.extra == 0 and self.found == self.unique

    def describe(self, expected: int) -> str:
        """`2000/2000 complete`, or what is wrong."""
        text = f"{self.unique}/{expected}"
        if self.complete:
            return f"{text} complete"
        problems = [f"{self.missing} missing"] if self.missing else []
        problems += [f"{self.extra} unexpected"] if self.extra else []
        problems += [f"{self.found - self.unique} duplicates"] if self.found != self.unique else []
        return f"{text} INCOMPLETE ({', '.join(problems)})"


def completeness(found: Iterable[str], truth: set[str]) -> Completeness:
    """Compare found key ids (with repeats) against the set of keys that exist."""
    found_list = list(found)
    unique = set(found_list)
    return Completeness(len(found_list), len(unique), len(truth - unique), len(unique - truth))


def inventory_key_ids(stdout: str) -> list[str]:
    """Access key ids in `iamkeys inventory --output json` (or peer_sequential.py) output."""
    if not stdout.strip():
        return []
    return [str(record["AccessKeyId"]) for record in json.loads(stdout)["Keys"]]


def median(values: Sequence[float]) -> float:
    """The median."""
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive method; the maximum for fewer than 2 values)."""
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def machine() -> str:
    """One line about where the figures came from."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.platform()}  "
            f"{os.cpu_count()} cores  Python {platform.python_version()}  load avg {load}")


def header(title: str) -> None:
    """Print the benchmark's title and the machine line."""
    print(f"== {title}")
    print(f"   {machine()}")


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def tail(text: str, lines: int = 5) -> str:
    """The last lines of a child's stderr, for a failure message."""
    return "\n".join(text.strip().splitlines()[-lines:])


def iamkeys_available(command: str) -> bool:
    """Whether the installed `iamkeys` has the given subcommand (its module imports)."""
    probe = subprocess.run([str(IAMKEYS), command, "--help"], capture_output=True, text=True,
                           cwd=ROOT, check=False)
    return probe.returncode == 0
