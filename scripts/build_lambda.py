"""Build the AWS Lambda deployment zip of iamkeys, reproducibly (run as `scripts/build-lambda`).

    scripts/build-lambda [--python-version 3.11|3.12|3.13]
                         [--platform manylinux2014_x86_64|manylinux2014_aarch64] [--bytecode]
                         OUT.zip
    scripts/build-lambda --update-lock

The zip holds iamkeys' package files from src/ (with its package data) and the wheels of its
runtime dependencies for the target runtime, at the versions and hashes of the lock file
deploy/lambda-requirements.txt (pip --require-hashes), unpacked flat as Lambda wants them. Entries
are sorted, dated SOURCE_DATE_EPOCH (default 1980-01-01) and given fixed modes, so the same
sources, lock and target give the same bytes. Before anything is downloaded the lock is checked
against pyproject.toml's [project].dependencies; after, pip's resolver checks on the locked wheels
alone that they are exactly what those dependencies need on the target. --bytecode adds
hash-based .pyc files, compiled by the running interpreter, which must be the target's version.

Runs on the standard library and pip (`python3 -m pip`); wheels are kept in .cache/lambda-wheels
so that a second build needs no network. Errors are one line on stderr: exit 2 for bad arguments,
lock or pyproject, 1 when pip cannot download or resolve.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "deploy" / "lambda-requirements.txt"
CACHE = ROOT / ".cache" / "lambda-wheels"
PROG = "build-lambda"

# The Lambda Python runtimes iamkeys supports (python3.11 .. python3.13).
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
PLATFORMS = ("manylinux2014_x86_64", "manylinux2014_aarch64")
# manylinux2014 (glibc 2.17) is the floor; wheels built for a newer glibc up to 2.26 are accepted
# too, since that is Amazon Linux 2's, the oldest base of those runtimes (python3.12 and 3.13 run
# on Amazon Linux 2023, glibc 2.34). css-inline ships aarch64 wheels only as manylinux_2_24.
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
GLIBC_MINORS = range(26, 16, -1)

# Runtime dependencies of pyproject.toml that the zip leaves out, and why. Nothing else may be
# missing from the lock.
OMITTED = {
    "boto3": "iamkeys reaches AWS through botocore alone (iamkeys.aws.CoreSession); only "
             "`iamkeys demo`, which needs the dev-only moto, imports boto3",
}

EPOCH_1980 = 315532800  # 1980-01-01T00:00:00Z, the earliest date a zip entry can hold
COMPRESS_LEVEL = 6  # zlib's default: level 9 takes 3x the time for 0.2% less
FILE_MODE = 0o644
EXEC_MODE = 0o755
PIP_NOISE = ("WARNING: Location ", "WARNING: Skipping ")
WHEEL_DATA = re.compile(r"^[^/]+\.data/(purelib|platlib)/(.+)$")


class BuildError(Exception):
    """A failure reported as one line; `exit_code` 2 for bad input, 1 for the rest."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Pin:
    """One lock entry: a distribution at one version, with the hashes of its allowed files."""

    name: str
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """A Lambda runtime: CPython version and platform."""

    python_version: str
    platform: str

    @property
    def label(self) -> str:
        """e.g. cp311-manylinux2014_x86_64."""
        return f"cp{self.python_version.replace('.', '')}-{self.platform}"

    def pip_options(self) -> list[str]:
        """pip's options for wheels of this target only."""
        arch = self.platform.removeprefix("manylinux2014_")
        platforms = [self.platform] + [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS]
        options = ["--only-binary=:all:", "--implementation", "cp",
                   "--python-version", self.python_version]
        for platform in platforms:
            options += ["--platform", platform]
        return options


@dataclass(frozen=True)
class Project:
    """The project tree: its name, version, runtime dependencies and package files."""

    root: Path
    name: str
    version: str
    requires_python: str | None
    dependencies: tuple[str, ...]
    package_data: Mapping[str, Sequence[str]]


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name at the start of a PEP 508 requirement."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise BuildError(f"pyproject.toml: cannot read the dependency {requirement!r}", 2)
    return normalize(match.group(1))


# --- reading the project and the lock --------------------------------------------------------


def read_project(root: Path) -> Project:
    """pyproject.toml's [project] and setuptools package data."""
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BuildError(f"{path}: {e}", 2) from e
    project = data.get("project", {})
    if "version" not in project or "name" not in project:
        raise BuildError(f"{path}: [project] needs a static name and version", 2)
    package_data = data.get("tool", {}).get("setuptools", {}).get("package-data", {})
    return Project(root=root, name=project["name"], version=project["version"],
                   requires_python=project.get("requires-python"),
                   dependencies=tuple(project.get("dependencies", ())),
                   package_data=package_data)


def read_lock(path: Path) -> list[Pin]:
    """The lock's entries: `name==version --hash=sha256:...` lines, continued with backslashes."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BuildError(f"lock {path}: {e.strerror}", 2) from e
    pins: list[Pin] = []
    for number, line in _logical_lines(text):
        words = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", words[0])
        hashes = [w.removeprefix("--hash=sha256:") for w in words[1:]]
        if (not match or not hashes or len(hashes) != len(words) - 1
                or not all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)):
            raise BuildError(f"lock {path}:{number}: each entry must be name==version followed "
                             "by --hash=sha256:... (pinned, with hashes)", 2)
        pins.append(Pin(normalize(match.group(1)), match.group(2), tuple(hashes)))
    names = [pin.name for pin in pins]
    doubles = sorted({name for name in names if names.count(name) > 1})
    if doubles:
        raise BuildError(f"lock {path}: {', '.join(doubles)} pinned more than once", 2)
    return pins


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Non-comment lines joined across trailing backslashes, with their first line number."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part).strip()
        pending = []
        if joined:
            yield start, joined
    if pending and " ".join(pending).strip():
        yield start, " ".join(pending).strip()


def check_lock_names(project: Project, pins: Sequence[Pin], lock: Path) -> None:
    """Every runtime dependency pinned unless omitted on purpose; no omitted one pinned."""
    pinned = {pin.name for pin in pins}
    for requirement in project.dependencies:
        name = requirement_name(requirement)
        if name in OMITTED and name in pinned:
            raise BuildError(f"lock {lock}: {name} is left out of the package on purpose "
                             f"({OMITTED[name]}); remove it from the lock", 2)
        if name not in OMITTED and name not in pinned:
            raise BuildError(f"lock {lock}: runtime dependency {requirement!r} of pyproject.toml "
                             "is not pinned; refresh it with scripts/build-lambda --update-lock",
                             2)


def wanted(project: Project) -> list[str]:
    """The runtime requirements the zip must satisfy: pyproject's, minus the omitted ones."""
    return [r for r in project.dependencies if requirement_name(r) not in OMITTED]


# --- pip -------------------------------------------------------------------------------------


def pip(args: Sequence[str], *, what: str, exit_code: int = 1) -> str:
    """Run `python -m pip ARGS`; its stdout, or a BuildError with pip's own error line."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"{what}: pip did not finish within {e.timeout:.0f} s") from e
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines()
                 if line.strip() and not line.startswith(PIP_NOISE)]
        errors = [line for line in lines if line.startswith("ERROR:")]
        reason = (errors or lines or [f"exit status {done.returncode}"])[-1]
        if "No module named pip" in reason:
            reason = f"{sys.executable} has no pip; run this script with a Python that has it"
        raise BuildError(f"{what}: {reason.removeprefix('ERROR: ')}", exit_code)
    return done.stdout


def download(pins: Sequence[Pin], lock: Path, target: Target, dest: Path, cache: Path | None
             ) -> dict[str, Path]:
    """The lock's wheels for `target` in `dest` (from the cache when it has them), by name."""
    base = ["download", "--no-deps", "--require-hashes", "-r", str(lock), "-d", str(dest),
            *target.pip_options()]
    what = f"downloading the locked wheels for {target.label} (is the package registry reachable?)"
    if not (cache is not None and cache.is_dir() and _offline(base, cache, dest, what)):
        pip(base, what=what)
    wheels = {normalize(path.name.split("-")[0]): path for path in dest.glob("*.whl")}
    pinned = {pin.name for pin in pins}
    if set(wheels) != pinned or len(wheels) != len(list(dest.iterdir())):
        raise BuildError(f"{what}: got {sorted(p.name for p in dest.iterdir())}, "
                         f"expected one wheel each of {sorted(pinned)}")
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        for path in wheels.values():
            if not (cache / path.name).exists():
                shutil.copyfile(path, cache / path.name)
    return wheels


def _offline(base: Sequence[str], cache: Path, dest: Path, what: str) -> bool:
    """Whether the cache alone had every locked wheel (hashes checked by pip all the same)."""
    try:
        pip([*base, "--no-index", "--find-links", str(cache)], what=what)
    except BuildError:
        for partial in dest.iterdir():
            partial.unlink()
        return False
    return True


def check_closure(project: Project, pins: Sequence[Pin], wheels_dir: Path, target: Target,
                  scratch: Path, lock: Path) -> None:
    """pip's resolver, on the locked wheels only: they are exactly what the dependencies need."""
    report = scratch / "report.json"
    pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--no-index",
         "--find-links", str(wheels_dir), "--target", str(scratch / "dry-run"),
         "--report", str(report), *target.pip_options(), *wanted(project)],
        what=f"lock {lock} does not satisfy pyproject.toml's runtime dependencies on "
             f"{target.label}", exit_code=2)
    resolved = {normalize(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text(encoding="utf-8"))["install"]}
    extra = sorted(f"{pin.name}=={pin.version}" for pin in pins if pin.name not in resolved)
    if extra:
        raise BuildError(f"lock {lock}: pins {', '.join(extra)}, which no runtime dependency "
                         f"of pyproject.toml needs on {target.label}; remove it or say why in "
                         f"OMITTED of {Path(__file__).name}", 2)


# --- staging ---------------------------------------------------------------------------------


def wheel_files(wheel: Path) -> dict[str, tuple[bytes, int]]:
    """A wheel's files as installed into a flat folder: path -> (bytes, mode)."""
    files: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            data_dir = WHEEL_DATA.match(name)
            if data_dir:
                name = data_dir.group(2)
            elif re.match(r"^[^/]+\.data/", name):
                continue  # scripts, headers, data: nothing Lambda imports
            if "__pycache__" in PurePosixPath(name).parts:
                continue
            _check_path(name, wheel.name)
            mode = EXEC_MODE if (info.external_attr >> 16) & 0o111 else FILE_MODE
            files[name] = (archive.read(info), mode)
    return files


def _check_path(name: str, source: str) -> None:
    """Refuse a path that would land outside the package folder."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise BuildError(f"{source}: refusing the path {name!r}")


def project_files(project: Project) -> dict[str, tuple[bytes, int]]:
    """The files a wheel of the project would install: packages' modules and package data."""
    src = project.root / "src"
    packages = sorted(p.parent for p in src.rglob("__init__.py")
                      if "__pycache__" not in p.parts and _is_package(p.parent, src))
    if not packages:
        raise BuildError(f"{src}: no Python package found", 2)
    files: dict[str, tuple[bytes, int]] = {}
    for package in packages:
        dotted = ".".join(package.relative_to(src).parts)
        patterns = [*project.package_data.get(dotted, ()), *project.package_data.get("*", ())]
        chosen = set(package.glob("*.py"))
        for pattern in patterns:
            chosen.update(package.glob(pattern))
        for path in chosen:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[path.relative_to(src).as_posix()] = (path.read_bytes(), FILE_MODE)
    files.update(_dist_info(project))
    return files


def _is_package(folder: Path, src: Path) -> bool:
    """Every folder from src down to this one has an __init__.py (setuptools' find_packages)."""
    return all((src.joinpath(*folder.relative_to(src).parts[:depth]) / "__init__.py").is_file()
               for depth in range(1, len(folder.relative_to(src).parts) + 1))


def _dist_info(project: Project) -> dict[str, tuple[bytes, int]]:
    """The project's METADATA, so that importlib.metadata finds it as it would after pip."""
    lines = ["Metadata-Version: 2.1", f"Name: {project.name}", f"Version: {project.version}"]
    if project.requires_python:
        lines.append(f"Requires-Python: {project.requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in project.dependencies]
    folder = f"{normalize(project.name).replace('-', '_')}-{project.version}.dist-info"
    return {f"{folder}/METADATA": (("\n".join(lines) + "\n").encode(), FILE_MODE)}


def stage(project: Project, wheels: Mapping[str, Path]) -> dict[str, tuple[bytes, int]]:
    """Every file of the package, by its path in the zip; two sources of one path are an error."""
    files = project_files(project)
    owner = dict.fromkeys(files, project.name)
    for name in sorted(wheels):
        for path, content in wheel_files(wheels[name]).items():
            if path in files:
                raise BuildError(f"{path} comes from both {owner[path]} and {name}")
            files[path] = content
            owner[path] = name
    return files


# --- writing ---------------------------------------------------------------------------------


def zip_date() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH (not before 1980) as a zip entry date, in UTC."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if raw and not raw.isdigit():
        raise BuildError("SOURCE_DATE_EPOCH: must be a number of seconds since 1970", 2)
    moment = time.gmtime(max(int(raw or EPOCH_1980), EPOCH_1980))
    return moment[:6]


def write_zip(files: Mapping[str, tuple[bytes, int]], out: Path) -> None:
    """Sorted entries, one date, fixed modes and compression: the same files give the same bytes."""
    date = zip_date()
    partial = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=date)
            # botocore's models are gzipped already: deflating them again saves nothing.
            info.compress_type = (zipfile.ZIP_STORED if name.endswith(".gz")
                                  else zipfile.ZIP_DEFLATED)
            info.create_system = 3  # Unix, so that the mode below is honoured
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    partial.replace(out)


def sha256(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Run by the target's interpreter: compile every .py under a folder to hash-based .pyc files
# (no timestamp inside) that Python never checks against the source: the zip is immutable.
COMPILE = """
import pathlib, py_compile, sys
root = pathlib.Path(sys.argv[1])
for path in sorted(root.rglob("*.py")):
    relative = path.relative_to(root).as_posix()
    try:
        py_compile.compile(str(path), dfile=relative, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as e:
        sys.exit(f"cannot compile {relative}: {e.msg.strip().splitlines()[-1]}")
"""


def check_bytecode(target: Target) -> None:
    """--bytecode needs the target's interpreter: .pyc files are specific to a Python version."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != target.python_version:
        raise BuildError(f"--bytecode: needs Python {target.python_version} to run this script "
                         f"(this is {running}); build without --bytecode", 2)


def add_bytecode(files: dict[str, tuple[bytes, int]], target: Target, scratch: Path) -> None:
    """Add __pycache__/*.pyc for every module, compiled by this interpreter (the target's).

    Lambda's /var/task is read-only, so without them every cold start compiles what it imports.
    PYTHONHASHSEED is fixed so that set constants are written in the same order every time.
    """
    root = scratch / "bytecode"
    for name, (data, _) in files.items():
        if name.endswith(".py"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    done = subprocess.run([sys.executable, "-I", "-c", COMPILE, str(root)], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        raise BuildError(f"--bytecode: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    for pyc in root.rglob("*.pyc"):
        files[pyc.relative_to(root).as_posix()] = (pyc.read_bytes(), FILE_MODE)


def build(project: Project, lock: Path, target: Target, out: Path, cache: Path | None, *,
          bytecode: bool = False) -> None:
    """Check, download, verify, stage and write the zip; print its size and file count."""
    if bytecode:
        check_bytecode(target)
    pins = read_lock(lock)
    check_lock_names(project, pins, lock)
    with tempfile.TemporaryDirectory(prefix="build-lambda-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "wheels").mkdir()
        wheels = download(pins, lock, target, scratch / "wheels", cache)
        check_closure(project, pins, scratch / "wheels", target, scratch, lock)
        files = stage(project, wheels)
        if bytecode:
            add_bytecode(files, target, scratch)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_zip(files, out)
    size = out.stat().st_size
    shown = os.path.relpath(out) if out.is_relative_to(Path.cwd()) else out
    sys.stdout.write(f"{shown}: {size / 1e6:.1f} MB ({size} bytes), {len(files)} files, "
                     f"{target.label}, sha256 {sha256(out)}\n")


# --- refreshing the lock ---------------------------------------------------------------------


LOCK_HEADER = """\
# Runtime dependencies of the Lambda package (scripts/build-lambda), pinned with the sha256 of
# every wheel the package may contain: CPython 3.11, 3.12 and 3.13 on manylinux2014 x86_64 and
# aarch64 (wheels for glibc 2.17 to 2.26). scripts/build-lambda installs them with pip
# --require-hashes and checks that they are exactly what pyproject.toml's [project].dependencies
# need; boto3 is left out on purpose (see OMITTED in scripts/build_lambda.py).
#
# Refresh after changing those dependencies (or to take new releases), then review the diff:
#   python3 scripts/build_lambda.py --update-lock
# It resolves the dependencies with pip for each of the six targets, fails if they disagree on a
# version, and writes this file. Generated; do not edit by hand.
"""


def update_lock(project: Project, lock: Path) -> None:
    """Resolve the runtime dependencies for every target and write the lock with all hashes."""
    versions: dict[str, dict[str, str]] = {}
    files: dict[str, set[Path]] = {}
    with tempfile.TemporaryDirectory(prefix="build-lambda-lock-") as scratch_name:
        for python_version in PYTHON_VERSIONS:
            for platform in PLATFORMS:
                target = Target(python_version, platform)
                dest = Path(scratch_name) / target.label
                pip(["download", "-d", str(dest), *target.pip_options(), *wanted(project)],
                    what=f"resolving the runtime dependencies for {target.label}")
                for wheel in dest.glob("*.whl"):
                    name, version = normalize(wheel.name.split("-")[0]), wheel.name.split("-")[1]
                    versions.setdefault(name, {})[target.label] = version
                    files.setdefault(name, set()).add(wheel)
        disagree = {name: by_target for name, by_target in versions.items()
                    if len(set(by_target.values())) > 1}
        if disagree:
            name, by_target = sorted(disagree.items())[0]
            shown = ", ".join(f"{v} on {t}" for t, v in sorted(by_target.items()))
            raise BuildError(f"{name} resolves to different versions ({shown}); every target "
                             "must use one version")
        direct = {requirement_name(r) for r in wanted(project)}
        needed_by = _needed_by({name: next(iter(paths)) for name, paths in files.items()})
        entries = []
        for name in sorted(versions):
            version = next(iter(versions[name].values()))
            wheels = sorted({path.name: path for path in files[name]}.items())
            origin = ("from pyproject.toml" if name in direct
                      else "needed by " + ", ".join(sorted(needed_by.get(name, ()))))
            comment = [f"# {name}: {origin}"] + [f"#   {filename}" for filename, _ in wheels]
            hashes = sorted({sha256(path) for _, path in wheels})
            body = " \\\n".join([f"{name}=={version}", *(f"    --hash=sha256:{h}" for h in hashes)])
            entries.append("\n".join([*comment, body]))
    lock.write_text(LOCK_HEADER + "\n" + "\n\n".join(entries) + "\n", encoding="utf-8")
    sys.stdout.write(f"{lock}: {len(entries)} distributions pinned for "
                     f"{len(PYTHON_VERSIONS) * len(PLATFORMS)} targets\n")


def _needed_by(wheels: Mapping[str, Path]) -> dict[str, set[str]]:
    """Which locked distributions require each one (Requires-Dist without an extra)."""
    needed: dict[str, set[str]] = {}
    for name, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as archive:
            [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            text = archive.read(metadata).decode("utf-8", "replace")
        for line in text.split("\n\n")[0].splitlines():
            if line.startswith("Requires-Dist:") and "extra ==" not in line:
                needed.setdefault(requirement_name(line.split(":", 1)[1]), set()).add(name)
    return needed


# --- command line ----------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise BuildError(message, 2)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line, checked."""
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", metavar="OUT.zip", help="the zip to write")
    parser.add_argument("--python-version", default="3.11", metavar="X.Y",
                        help="Lambda runtime python3.11, 3.12 or 3.13 (default 3.11)")
    parser.add_argument("--platform", default=PLATFORMS[0],
                        help="manylinux2014_x86_64 (default) or manylinux2014_aarch64")
    parser.add_argument("--lock", type=Path, default=LOCK, metavar="FILE",
                        help="the lock file (default deploy/lambda-requirements.txt)")
    parser.add_argument("--project", type=Path, default=ROOT, metavar="DIR",
                        help="the project tree with pyproject.toml and src/ (default: this one)")
    parser.add_argument("--cache", type=Path, default=CACHE, metavar="DIR",
                        help="where downloaded wheels are kept (default .cache/lambda-wheels)")
    parser.add_argument("--no-cache", action="store_true", help="download every wheel again")
    parser.add_argument("--bytecode", action="store_true",
                        help="add .pyc files (faster cold starts); needs the target's Python")
    parser.add_argument("--update-lock", action="store_true",
                        help="resolve the dependencies again and rewrite the lock, then stop")
    args = parser.parse_args(argv)
    if args.python_version not in PYTHON_VERSIONS:
        parser.error(f"--python-version: must be one of {', '.join(PYTHON_VERSIONS)}")
    if args.platform not in PLATFORMS:
        parser.error(f"--platform: must be one of {', '.join(PLATFORMS)}")
    if args.update_lock:
        if args.out:
            parser.error("OUT.zip: not with --update-lock, which only rewrites the lock")
    elif not args.out:
        parser.error("OUT.zip: required (the zip to write)")
    elif not args.out.endswith(".zip") or args.out.endswith("/"):
        parser.error("OUT.zip: must be a file name ending in .zip")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: build the zip or refresh the lock; one line and an exit status on error."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        project = read_project(args.project.resolve())
        if args.update_lock:
            update_lock(project, args.lock)
        else:
            build(project, args.lock, Target(args.python_version, args.platform),
                  Path(args.out).resolve(), None if args.no_cache else args.cache,
                  bytecode=args.bytecode)
    except BuildError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
