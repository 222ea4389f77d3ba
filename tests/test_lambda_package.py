"""The Lambda deployment zip of scripts/build-lambda, for this machine's CPU and Python.

Built once per session (pip downloads the locked wheels the first time; .cache/lambda-wheels
keeps them), unpacked into an empty folder, and run with `python -I -S -B`: no site-packages,
nothing on sys.path but that folder and the standard library, no bytecode written (Lambda's
/var/task is read-only). The handler runs there against the IAM emulator and a real SMTP server.
The --bytecode variant is built too (twice, compared byte for byte) and run the same way. A
build that cannot reach the package registry fails these tests with the script's own line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from project_scripts import load_script
from seed_data import SEED_OUTPUT, create_seed_user
from smtp_server import SmtpServer, closed_port, smtp_ca, smtp_plain  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_lambda.py"
LOCK = ROOT / "deploy" / "lambda-requirements.txt"
TO = "security-team@example.com"
BUILD_TIMEOUT_S = 900
# Test and development packages of pyproject's extras, and boto3's own, none of which may ship.
DEV_PACKAGES = {"pytest", "_pytest", "xdist", "moto", "mypy", "ruff", "awscli", "aiosmtpd",
                "hypothesis", "trustme", "cfnlint", "samtranslator", "importlinter", "grimp",
                "werkzeug", "flask", "boto3", "s3transfer", "mypy_boto3_iam", "boto3_stubs",
                "botocore_stubs", "yaml_stubs", "pip", "setuptools", "wheel"}


build_lambda = load_script("build_lambda")


def this_machine() -> list[str]:
    """--python-version and --platform of the interpreter running the tests."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
    machine = arch.get(platform.machine().lower())
    if version not in build_lambda.PYTHON_VERSIONS or machine is None:
        pytest.fail(f"the Lambda package has no target for Python {version} on "
                    f"{platform.machine()}", pytrace=False)
    return ["--python-version", version, "--platform", f"manylinux2014_{machine}"]


def build(out: Path, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """Run the build script with these arguments."""
    return subprocess.run([sys.executable, str(SCRIPT), *args, str(out)], capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT_S, env=env, cwd=ROOT)


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip for this machine, built once."""
    out = tmp_path_factory.mktemp("lambda-zip") / "iamkeys-lambda.zip"
    done = build(out, *this_machine())
    if done.returncode != 0:
        pytest.fail(f"scripts/build-lambda failed (exit {done.returncode}): "
                    f"{done.stderr.strip()}", pytrace=False)
    return out


@pytest.fixture(scope="session")
def unpacked(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip's contents in a folder that held nothing else."""
    folder = tmp_path_factory.mktemp("var-task")
    assert list(folder.iterdir()) == []
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(folder)
    return folder


# Run in the child: the handler from the unpacked folder alone; report its result and every
# module that came from somewhere other than that folder or the standard library.
HANDLER_CODE = """
import json, sys, sysconfig
folder = sys.argv[1]
sys.path.insert(0, folder)
from iamkeys.aws_lambda import handler
result = handler(json.loads(sys.argv[2]), None)
stdlib = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib"))
outside = sorted(name for name, module in list(sys.modules.items())
                 if getattr(module, "__file__", None)
                 and not module.__file__.startswith(folder)
                 and (not module.__file__.startswith(stdlib) or "site-packages" in module.__file__))
print(json.dumps({"result": result, "outside": outside}))
"""


def run_isolated(folder: Path, code: str, *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """`python -I -S -B -c CODE FOLDER ARGS...`: no site-packages, no user site, no bytecode."""
    return subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code, str(folder), *args],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=folder)


def invoke(folder: Path, event: dict[str, Any], env: dict[str, str]) -> Any:
    """The handler's result for `event`, run from the unpacked zip alone."""
    done = run_isolated(folder, HANDLER_CODE, json.dumps(event), env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["outside"] == []
    return report["result"]


@pytest.fixture
def function_env(aws_env: Any, iam: Any, tmp_path: Path) -> dict[str, str]:
    """Alice on the emulator; the child's environment as Lambda would give it, without mail."""
    create_seed_user(iam, aws_env)
    aws_env.reset(state=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAMKEYS_")}
    env["IAMKEYS_CACHE_DIR"] = str(tmp_path / "models")
    env["IAMKEYS_OUTBOX"] = str(tmp_path / "outbox")
    return env


def test_action_event_from_the_zip_alone(unpacked: Path, function_env: dict[str, str],
                                         aws_env: Any) -> None:
    event = {"action": "aws.iam.list_access_keys", "with": {"user_name": "Alice"}}
    assert invoke(unpacked, event, function_env) == SEED_OUTPUT
    assert aws_env.stats()["by_action"] == {"ListAccessKeys": 1}


def test_email_workflow_from_the_zip_alone(unpacked: Path, function_env: dict[str, str],
                                           smtp_plain: SmtpServer) -> None:  # noqa: F811
    env = {**function_env, "IAMKEYS_SMTP_HOST": smtp_plain.host,
           "IAMKEYS_SMTP_PORT": str(smtp_plain.port), "IAMKEYS_SMTP_SECURITY": "none"}
    event = {"workflow": "list-access-keys-email", "inputs": {"user_name": "Alice", "to": TO,
                                                          "from": "iamkeys@example.com"}}
    delivery = invoke(unpacked, event, env)
    assert (delivery["Transport"], delivery["Recipients"]) == ("smtp", [TO])
    [received] = smtp_plain.received
    message = received.message
    assert received.rcpt_tos == (TO,)
    assert message["Message-ID"] == delivery["MessageId"]
    assert message["Subject"] == "IAM access keys: 2 keys, 1 user"
    attachments = {part.get_filename(): part.get_payload(decode=True)
                   for part in message.iter_attachments()}
    assert json.loads(attachments["access-keys.json"]) == SEED_OUTPUT
    assert attachments["access-keys.csv"].decode().splitlines()[1:] == [
        "AKIA111111111EXAMPLE,2016-12-01T22:19:58Z,Active,Alice",
        "AKIA222222222EXAMPLE,2016-12-01T22:20:01Z,Active,Alice"]
    html = message.get_body(("html",))
    assert html is not None
    body = html.get_content()
    # The template (package data) rendered, its styles inlined by css-inline's native module.
    assert "AKIA222222222EXAMPLE" in body and 'style="' in body


IMPORT_ALL = """
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import iamkeys
failed = {}
for module in pkgutil.walk_packages(iamkeys.__path__, "iamkeys."):
    if module.name == "iamkeys.__main__":
        continue  # runs the CLI
    try:
        importlib.import_module(module.name)
    except Exception as e:
        failed[module.name] = repr(e)
print(json.dumps(failed))
"""


def test_every_module_imports_from_the_zip_alone(unpacked: Path) -> None:
    done = run_isolated(unpacked, IMPORT_ALL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


def test_the_same_sources_give_the_same_bytes(lambda_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    done = build(again, *this_machine())
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(lambda_zip.read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == digest
    assert done.stdout.strip().endswith(f"sha256 {digest}")


def test_bytecode_is_reproducible_and_used(lambda_zip: Path, tmp_path: Path,
                                           function_env: dict[str, str], aws_env: Any) -> None:
    """--bytecode: a hash-based .pyc beside every module, the same bytes twice, and it runs."""
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    for out in (first, second):
        done = build(out, "--bytecode", *this_machine())
        assert done.returncode == 0, done.stderr
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(lambda_zip) as plain, zipfile.ZipFile(first) as compiled:
        plain_names = set(plain.namelist())
        pycs = set(compiled.namelist()) - plain_names
        tag = sys.implementation.cache_tag
        assert pycs == {f"{name.rpartition('/')[0]}/__pycache__/"
                        f"{name.rpartition('/')[2][:-3]}.{tag}.pyc".lstrip("/")
                        for name in plain_names if name.endswith(".py")}
        for name in plain_names:
            assert compiled.read(name) == plain.read(name), name
        header = compiled.read(f"iamkeys/__pycache__/aws_lambda.{tag}.pyc")[:8]
        # PEP 552: flags 0b01, a hash-based .pyc that is never checked against its source.
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == 0b01
        folder = tmp_path / "var-task"
        compiled.extractall(folder)
    event = {"action": "aws.iam.list_access_keys", "with": {"user_name": "Alice"}}
    assert invoke(folder, event, function_env) == SEED_OUTPUT


def test_bytecode_needs_the_target_python(tmp_path: Path) -> None:
    other = next(v for v in build_lambda.PYTHON_VERSIONS
                 if v != f"{sys.version_info.major}.{sys.version_info.minor}")
    _fails(build(tmp_path / "out.zip", "--bytecode", "--python-version", other), 2,
           f"--bytecode: needs Python {other} to run this script")


def test_entries_are_sorted_dated_and_moded(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} <= {0o100644, 0o100755}
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_only_iamkeys_and_the_locked_packages(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0].removesuffix(".py") for name in names}
    assert not tops & DEV_PACKAGES
    distributions = {build_lambda.normalize(top.split("-")[0]) for top in tops
                     if top.endswith(".dist-info")}
    locked = {pin.name for pin in build_lambda.read_lock(LOCK)}
    assert distributions == locked | {"iamkeys"}
    assert "botocore" in locked and "boto3" not in locked


def test_every_tracked_package_file_is_in_the_zip(lambda_zip: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", "src/iamkeys"], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout.split()
    with zipfile.ZipFile(lambda_zip) as archive:
        names = set(archive.namelist())
        for path in tracked:
            inside = path.removeprefix("src/")
            assert inside in names, path
            assert archive.read(inside) == (ROOT / path).read_bytes(), path
    for data in ("iamkeys/py.typed", "iamkeys/mail/templates/email.html.j2",
                 "iamkeys/workflow/library/list-access-keys-email.yaml"):
        assert data in names


# --- the lock and the arguments, checked before anything is built ----------------------------


def _lock_text(drop: str | None = None, add: str = "") -> str:
    """The lock without the entry of `drop` (and its comment lines), plus `add`."""
    entries = LOCK.read_text().split("\n\n")
    kept = [e for e in entries if not drop or not re.search(rf"^{drop}==", e, re.M)]
    return "\n\n".join(kept) + "\n" + add


def _fails(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit status `code` and one line on stderr that holds `words`."""
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("build-lambda: "), done.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(("drop", "add", "words"), [
    ("click", "", ["runtime dependency 'click>=8.1'", "is not pinned", "--update-lock"]),
    ("click", "click==8.5.1\n", ["each entry must be name==version", "with hashes"]),
    ("click", "click>=8.1 --hash=sha256:" + "0" * 64 + "\n", ["each entry must be"]),
    (None, "boto3==1.44.8 --hash=sha256:" + "0" * 64 + "\n",
     ["boto3 is left out of the package on purpose", "botocore alone"]),
    (None, "six==1.17.0 --hash=sha256:" + "0" * 64 + "\n", ["six pinned more than once"]),
], ids=["unpinned", "no hash", "not ==", "boto3", "twice"])
def test_a_lock_that_does_not_match_pyproject(drop: str | None, add: str, words: list[str],
                                              tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(_lock_text(drop, add))
    _fails(build(tmp_path / "out.zip", "--lock", str(lock)), 2, *words)
    assert not (tmp_path / "out.zip").exists()


def test_a_lock_missing_a_transitive_dependency(lambda_zip: Path, tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(_lock_text("six"))
    _fails(build(tmp_path / "out.zip", "--lock", str(lock), *this_machine()), 2,
           "does not satisfy pyproject.toml's runtime dependencies", "six")


def test_a_lock_pinning_what_nothing_needs(lambda_zip: Path, tmp_path: Path) -> None:
    """A project that no longer depends on rich: its four distributions are unexplained."""
    project = tmp_path / "project"
    project.mkdir()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '    "rich>=13",\n' in pyproject
    (project / "pyproject.toml").write_text(pyproject.replace('    "rich>=13",\n', ""))
    (project / "src").symlink_to(ROOT / "src")
    _fails(build(tmp_path / "out.zip", "--project", str(project), *this_machine()), 2,
           "pins markdown-it-py==", "mdurl==", "pygments==", "rich==",
           "which no runtime dependency of pyproject.toml needs")


def test_an_unreachable_registry_is_reported(tmp_path: Path,
                                            closed_port: int) -> None:  # noqa: F811
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "",
           "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port}/simple", "PIP_RETRIES": "0",
           "PIP_TIMEOUT": "5", "PIP_NO_CACHE_DIR": "1"}
    _fails(build(tmp_path / "out.zip", "--no-cache", env=env), 1,
           "downloading the locked wheels for cp311-manylinux2014_x86_64",
           "is the package registry reachable?")


@pytest.mark.parametrize(("args", "words"), [
    (["--python-version", "3.10"], ["--python-version: must be one of 3.11, 3.12, 3.13"]),
    (["--platform", "musllinux_1_2_x86_64"],
     ["--platform: must be one of manylinux2014_x86_64, manylinux2014_aarch64"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
], ids=["python", "platform", "unknown"])
def test_bad_arguments(args: list[str], words: list[str], tmp_path: Path) -> None:
    _fails(build(tmp_path / "out.zip", *args), 2, *words)


@pytest.mark.parametrize(("out", "words"), [
    ("out.tar", ["OUT.zip: must be a file name ending in .zip"]),
], ids=["suffix"])
def test_bad_output_name(out: str, words: list[str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / out)],
                          capture_output=True, text=True, timeout=60)
    _fails(done, 2, *words)


def test_no_output_name() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=60)
    _fails(done, 2, "OUT.zip: required")

