"""`iamkeys inventory` against a sequential boto3 script and Cloud Custodian (issue 4).

Scenario: N users (default 1000, --quick 200) with 2 keys each, created through the harness,
and the emulator adding 50 ms to every request. Each tool runs as a child process; every key id
it reports is checked against the keys that exist (a tool that misses one is INCOMPLETE), and
the harness counts the requests it made. Targets: at least 20x faster than the sequential
script, and faster than Cloud Custodian.

Cloud Custodian runs from its own virtual environment (never the project's); create it with
    python3 -m venv bench/.venv-c7n && bench/.venv-c7n/bin/pip install c7n
or point --c7n-venv (or IAMKEYS_BENCH_C7N_VENV) at one. Without it the row says "not installed".

    .venv/bin/python bench/inventory.py [--quick] [--users N] [--latency-ms MS]
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c

SEQUENTIAL_TARGET = 20.0
C7N_POLICY = """\
policies:
  - name: iam-user-access-keys
    resource: iam-user
    filters:
      - type: access-key
        key: AccessKeyId
        value: present
"""
C7N_POLICY_NAME = "iam-user-access-keys"


@dataclass(frozen=True)
class Outcome:
    """One tool's run: time, exit code, completeness and the requests the emulator saw."""

    name: str
    seconds: float | None
    cpu_seconds: float | None
    returncode: int | None
    found: c.Completeness | None
    requests: int
    by_action: dict[str, int]
    note: str = ""


def measure(b: c.Bench, name: str, cmd: list[str], truth: set[str], latency_ms: float,
            key_ids: Any) -> Outcome:
    """Run one tool on fresh counters; `key_ids(run)` extracts the key ids it reported."""
    b.emulator.reset(state=False)
    b.emulator.configure(latency_ms=latency_ms)
    result = c.run(cmd, b.env)
    stats = b.emulator.stats()
    note = "" if result.returncode == 0 else f"exit {result.returncode}: {c.tail(result.stderr, 2)}"
    try:
        found = c.completeness(key_ids(result), truth)
    except (ValueError, KeyError, OSError) as exc:
        found, note = None, f"{note} unreadable output: {exc!r}".strip()
    return Outcome(name, result.seconds, result.cpu_seconds, result.returncode, found,
                   int(stats["total"]), dict(stats["by_action"]), note)


def iamkeys_ids(result: c.Run) -> list[str]:
    """Key ids from `iamkeys inventory --output json`, refusing a run that reported errors."""
    data = json.loads(result.stdout)
    if data.get("Errors"):
        raise ValueError(f"{len(data['Errors'])} errors, first: {data['Errors'][0]}")
    return [str(k["AccessKeyId"]) for k in data["Keys"]]


def custodian_ids(out_dir: Path) -> Any:
    """A reader of the key ids in Custodian's resources.json (every key of each matched user)."""

    def read(result: c.Run) -> list[str]:
        users = json.loads((out_dir / C7N_POLICY_NAME / "resources.json").read_text())
        return [str(k["AccessKeyId"]) for u in users for k in u.get("c7n:AccessKeys", [])]

    return read


def run_iamkeys(b: c.Bench, truth: set[str], latency: float, extra: list[str],
                repeat: int) -> list[Outcome]:
    """Our inventory `repeat` times, with and without last-used lookups; medians are taken later."""
    outcomes = []
    for label, flags in (("iamkeys inventory", []), ("iamkeys --no-last-used", ["--no-last-used"])):
        cmd = [str(c.IAMKEYS), "inventory", "--output", "json", *flags, *extra]
        for _ in range(repeat):
            outcomes.append(measure(b, label, cmd, truth, latency, iamkeys_ids))
    return outcomes


def run_custodian(b: c.Bench, truth: set[str], latency: float, venv: Path) -> Outcome:
    """`custodian run` with an iam-user policy using the access-key filter."""
    custodian = venv / "bin" / "custodian"
    if not custodian.exists():
        return Outcome("custodian run", None, None, None, None, 0, {},
                       f"not installed ({custodian} missing; see bench/README.md)")
    policy = b.scratch / "c7n-policy.yml"
    policy.write_text(C7N_POLICY)
    out_dir = b.scratch / "c7n-out"
    cmd = [str(custodian), "run", "-s", str(out_dir), "--cache-period", "0",
           "--region", c.REGION, str(policy)]
    return measure(b, "custodian run", cmd, truth, latency, custodian_ids(out_dir))


def run_sequential(b: c.Bench, truth: set[str], latency: float) -> Outcome:
    """bench/peer_sequential.py."""
    cmd = [str(c.PYTHON), str(c.BENCH / "peer_sequential.py")]
    return measure(b, "sequential boto3", cmd, truth, latency,
                   lambda result: c.inventory_key_ids(result.stdout))


def median_run(outcomes: list[Outcome], name: str) -> Outcome | None:
    """The median-time run of a tool (incomplete runs count: they are shown as such)."""
    runs = sorted((o for o in outcomes if o.name == name and o.seconds is not None),
                  key=lambda o: o.seconds or 0.0)
    return runs[len(runs) // 2] if runs else None


def table(outcomes: list[Outcome], expected: int) -> None:
    """One row per tool: wall time, keys, requests and calls by action."""
    print(f"   {'tool':<24} {'wall s':>8} {'cpu s':>6} {'keys':<28} {'requests':>8}  by action")
    for o in outcomes:
        wall = f"{o.seconds:8.2f}" if o.seconds is not None else f"{'-':>8}"
        cpu = f"{o.cpu_seconds:6.2f}" if o.cpu_seconds is not None else f"{'-':>6}"
        keys = o.found.describe(expected) if o.found else "-"
        actions = ", ".join(f"{k} {v}" for k, v in sorted(o.by_action.items()))
        print(f"   {o.name:<24} {wall} {cpu} {keys:<28} {o.requests:>8}  {actions}")
        if o.note:
            print(f"   {'':<24} {o.note}")


def ok(o: Outcome | None) -> bool:
    """A run that finished with exit 0 and reported every key exactly once."""
    return o is not None and o.returncode == 0 and o.found is not None and o.found.complete


def ratio_line(label: str, peer: Outcome | None, ours: Outcome | None, target: float,
               strict: bool = False) -> bool:
    """Print peer/ours; True when the target is met (an incomplete or missing run fails)."""
    if peer is None or peer.seconds is None or ours is None or ours.seconds is None:
        print(f"   {label}: not measured")
        return False
    ratio = peer.seconds / ours.seconds
    met = ok(ours) and (ratio > target if strict else ratio >= target)
    sign = ">" if strict else ">="
    extra = "" if ok(peer) else f" (peer INCOMPLETE or failed: exit {peer.returncode})"
    print(f"   {label}: {ratio:.1f}x (target {sign} {target:g}x): {c.verdict(met)}{extra}")
    return met


def main() -> int:
    """Populate the emulator, run every tool, print the table and the ratios."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--users", type=int, help="users (2 keys each); default 1000, --quick 200")
    args.add_argument("--latency-ms", type=float, default=50.0, help="added per request")
    args.add_argument("--repeat", type=int, default=3, help="runs of iamkeys (median shown)")
    args.add_argument("--concurrency", help="passed to iamkeys inventory --concurrency")
    args.add_argument("--skip", action="append", default=[], choices=["sequential", "custodian"],
                      help="leave a peer out (repeatable)")
    args.add_argument("--c7n-venv", type=Path, default=Path(os.environ.get(
        "IAMKEYS_BENCH_C7N_VENV", c.BENCH / ".venv-c7n")), help="Cloud Custodian's venv")
    opts = args.parse_args()
    users = opts.users or (200 if opts.quick else 1000)
    extra = ["--concurrency", opts.concurrency] if opts.concurrency else []
    c.header(f"inventory: {users} users x 2 keys, +{opts.latency_ms:g} ms per request")
    have_ours = c.iamkeys_available("inventory")
    with c.bench() as b:
        truth = c.populate(b.emulator, users)
        outcomes: list[Outcome] = []
        if have_ours:
            outcomes += run_iamkeys(b, truth, opts.latency_ms, extra, max(1, opts.repeat))
        if "custodian" not in opts.skip:
            outcomes.append(run_custodian(b, truth, opts.latency_ms, opts.c7n_venv))
        if "sequential" not in opts.skip:
            outcomes.append(run_sequential(b, truth, opts.latency_ms))
    table(outcomes, len(truth))
    if not have_ours:
        print("   iamkeys inventory: not available in this installation")
        return 1
    ours = median_run(outcomes, "iamkeys inventory")
    scoped = median_run(outcomes, "iamkeys --no-last-used")
    print(f"   iamkeys: median of {max(1, opts.repeat)} runs: {ours.seconds if ours else 0:.2f} s "
          f"(--no-last-used {scoped.seconds if scoped else 0:.2f} s)")
    met = ok(ours) and ok(scoped)
    if "sequential" not in opts.skip:
        met &= ratio_line("sequential / iamkeys", median_run(outcomes, "sequential boto3"), ours,
                          SEQUENTIAL_TARGET)
    if "custodian" not in opts.skip:
        custodian = median_run(outcomes, "custodian run")
        met &= ratio_line("custodian / iamkeys", custodian, ours, 1.0, strict=True)
        # Custodian's access-key filter never calls GetAccessKeyLastUsed: compare like for like.
        ratio_line("custodian / iamkeys --no-last-used (same calls)", custodian, scoped, 1.0,
                   strict=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
