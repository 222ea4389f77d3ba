"""The Lambda package (issue 11): the zip's size, and the cold start of its handler.

The zip is built with scripts/build-lambda for this machine (its CPython version and CPU),
unpacked into an empty folder, and fresh `python -I -S -B` processes (no site-packages, nothing
but that folder and the standard library, no bytecode written: Lambda's /var/task is read-only)
run, alternating so that background load hits each alike:

  pass                     the interpreter's own start-up: the baseline
  import handler           `from iamkeys.aws_lambda import handler`: Lambda's init phase
  first event              the import, then the handler on an IAM List Access Keys event for
                           AWS's example user Alice against the emulator: a whole cold
                           invocation (botocore's import, the client, one call), with an empty
                           model cache as in a new sandbox's /tmp
  first event, --bytecode  the same from the zip built with --bytecode (hash-based .pyc files
                           for every module): what they save a cold start

Target: median `import handler` at most 0.5 s.

    .venv/bin/python bench/lambda_package.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import _common as c

TARGET_S = 0.5
WARMUP = 1
ALICE_KEYS = ["AKIA111111111EXAMPLE", "AKIA222222222EXAMPLE"]
EVENT = {"action": "aws.iam.list_access_keys", "with": {"user_name": "Alice"}}
IMPORT = "import sys; sys.path.insert(0, sys.argv[1]); from iamkeys.aws_lambda import handler"
FIRST_EVENT = (IMPORT + "; import json; print(json.dumps(handler(json.loads(sys.argv[2]), "
               "None)))")


def build(out: Path, *options: str) -> Path:
    """The zip for this machine, from scripts/build-lambda."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}[platform.machine()]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    done = subprocess.run([sys.executable, str(c.ROOT / "scripts" / "build_lambda.py"),
                           "--python-version", version, "--platform", f"manylinux2014_{arch}",
                           *options, str(out)], capture_output=True, text=True, cwd=c.ROOT)
    if done.returncode != 0:
        raise SystemExit(done.stderr.strip())
    return out


def unpack(archive: Path, folder: Path) -> tuple[int, int]:
    """Extract into an empty folder; (files, bytes unpacked)."""
    folder.mkdir()
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)
        infos = opened.infolist()
    return len(infos), sum(info.file_size for info in infos)


def commands(plain: Path, compiled: Path) -> dict[str, list[str]]:
    """The command lines compared (the first event's model cache is added per run)."""
    python = [sys.executable, "-I", "-S", "-B", "-c"]
    return {
        "pass": [*python, "pass"],
        "import handler": [*python, IMPORT, str(plain)],
        "first event": [*python, FIRST_EVENT, str(plain), json.dumps(EVENT)],
        "first event, --bytecode": [*python, FIRST_EVENT, str(compiled), json.dumps(EVENT)],
    }


def timed(bench: c.Bench, plain: Path, compiled: Path, runs: int) -> dict[str, list[float]]:
    """Alternate the commands; each first event gets a new, empty model cache."""
    times: dict[str, list[float]] = {name: [] for name in commands(plain, compiled)}
    for round_ in range(WARMUP + runs):
        for name, cmd in commands(plain, compiled).items():
            env = {**bench.env, "IAMKEYS_CACHE_DIR": str(bench.scratch / f"models-{round_}-"
                                                          f"{len(times[name])}-{name[-4:]}")}
            result = c.run(cmd, env, cwd=plain)
            if result.returncode != 0:
                raise SystemExit(f"{name} failed (exit {result.returncode}):\n"
                                 f"{c.tail(result.stderr)}")
            if name.startswith("first event"):
                keys = [k["AccessKeyId"] for k in json.loads(result.stdout)["AccessKeyMetadata"]]
                if keys != ALICE_KEYS:
                    raise SystemExit(f"{name} listed {keys}, not Alice's two keys")
            if round_ >= WARMUP:
                times[name].append(result.seconds)
    return times


def main() -> int:
    """Build, unpack, time; print the figures and the verdict."""
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    c.header("Lambda package: zip size and cold start of the handler (issue 11)")
    with c.bench() as bench:
        plain, compiled = bench.scratch / "var-task", bench.scratch / "var-task-bytecode"
        for folder, options in ((plain, ()), (compiled, ("--bytecode",))):
            archive = build(bench.scratch / f"{folder.name}.zip", *options)
            files, unpacked = unpack(archive, folder)
            size = archive.stat().st_size
            print(f"   {' '.join(options) or 'default':10} zip {size / 1e6:.1f} MB ({size} bytes), "
                  f"{files} files, {unpacked / 1e6:.1f} MB unpacked")
        print("   (Lambda's limits: 50 MB zipped for a direct upload, 250 MB unpacked)")
        bench.emulator.bulk_create([{"name": "Alice", "keys": [
            {"id": key, "status": "Active"} for key in ALICE_KEYS]}])
        times = timed(bench, plain, compiled, runs)
    baseline = c.median(times["pass"])
    print(f"   {runs} timed runs each after {WARMUP} warm-up round; python -I -S -B")
    print(f"   {'':24} {'median':>8} {'p90':>8} {'min':>8} {'x pass':>8}")
    for name, values in times.items():
        print(f"   {name:24} {c.median(values):7.3f}s {c.p90(values):7.3f}s "
              f"{min(values):7.3f}s {c.median(values) / baseline:7.1f}x")
    saved = c.median(times["first event"]) - c.median(times["first event, --bytecode"])
    print(f"   --bytecode saves {saved:.3f} s of a cold first event "
          f"({c.median(times['first event, --bytecode']) / c.median(times['first event']):.2f}x)")
    imported = c.median(times["import handler"])
    ok = imported <= TARGET_S
    print(f"   import handler: median {imported:.3f} s, target <= {TARGET_S} s: {c.verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
