"""`iamkeys inventory --owner-tag` against the same inventory without it (issue 9).

Scenario: N users (default 1000, --quick 200) with 2 keys each and three tags (one of them
`owner`, an e-mail address), created through the harness; the emulator adds 50 ms to every
request. Both commands run alternately, `--repeat` times each (median shown), on fresh harness
counters. The owner lookup costs one ListUserTags per user with keys, in the same pool.

Targets: with --owner-tag at most 1.5x the time without it; every key found, with its owner;
exactly one ListUserTags per user.

    .venv/bin/python bench/inventory_owners.py [--quick] [--users N] [--latency-ms MS]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import _common as c

TARGET = 1.5


@dataclass(frozen=True)
class Outcome:
    """One run: its time, what it found and the calls it made."""

    seconds: float
    cpu_seconds: float
    returncode: int
    found: c.Completeness | None
    owners: int
    by_action: dict[str, int]
    note: str = ""


def specs(count: int) -> list[dict[str, Any]]:
    """Users with 2 keys (the second inactive) and three tags, one naming the owner."""
    return [{"name": f"{c.USER_PREFIX}{i:05d}",
             "tags": [{"Key": "team", "Value": f"team-{i % 17}"},
                      {"Key": "Owner", "Value": f"owner{i % 250}@example.com"},
                      {"Key": "cost-center", "Value": str(4000 + i % 9)}],
             "keys": [{"status": "Active"}, {"status": "Inactive"}]} for i in range(count)]


def populate(emulator: Any, count: int) -> set[str]:
    """Create the users; every key id created."""
    users = specs(count)
    truth: set[str] = set()
    for start in range(0, len(users), c.BULK_CHUNK):
        created = emulator.bulk_create(users[start:start + c.BULK_CHUNK])
        truth.update(key for keys in created.values() for key in keys)
    return truth


def measure(b: c.Bench, args: list[str], truth: set[str], latency_ms: float) -> Outcome:
    """One inventory run on fresh counters."""
    b.emulator.reset(state=False)
    b.emulator.configure(latency_ms=latency_ms)
    result = c.run([str(c.IAMKEYS), "inventory", "--output", "json", *args], b.env)
    stats = b.emulator.stats()
    note = "" if result.returncode == 0 else f"exit {result.returncode}: {c.tail(result.stderr)}"
    try:
        keys = json.loads(result.stdout)["Keys"]
        found = c.completeness((k["AccessKeyId"] for k in keys), truth)
        owners = sum(1 for k in keys if k.get("Owner"))
    except (ValueError, KeyError) as exc:
        found, owners, note = None, 0, f"{note} unreadable output: {exc!r}".strip()
    return Outcome(result.seconds, result.cpu_seconds, result.returncode, found, owners,
                   dict(stats["by_action"]), note)


def median(outcomes: list[Outcome]) -> Outcome:
    """The median-time run."""
    ranked = sorted(outcomes, key=lambda o: o.seconds)
    return ranked[len(ranked) // 2]


def main() -> int:
    """Populate, run both alternately, print the table and the verdicts."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--users", type=int, help="users (2 keys each); default 1000, --quick 200")
    args.add_argument("--latency-ms", type=float, default=50.0, help="added per request")
    args.add_argument("--repeat", type=int, default=3, help="runs of each (median shown)")
    opts = args.parse_args()
    users = opts.users or (200 if opts.quick else 1000)
    c.header(f"inventory --owner-tag: {users} users x 2 keys, +{opts.latency_ms:g} ms per "
             "request")
    with c.bench() as b:
        truth = populate(b.emulator, users)
        plain: list[Outcome] = []
        owned: list[Outcome] = []
        for _ in range(max(1, opts.repeat)):
            plain.append(measure(b, [], truth, opts.latency_ms))
            owned.append(measure(b, ["--owner-tag", "owner"], truth, opts.latency_ms))
    print(f"   {'run':<28} {'wall s':>7} {'cpu s':>6} {'keys':<24} {'owners':>6}  by action")
    for label, runs in (("inventory", plain), ("inventory --owner-tag owner", owned)):
        for o in runs:
            keys = o.found.describe(len(truth)) if o.found else "-"
            actions = ", ".join(f"{k} {v}" for k, v in sorted(o.by_action.items()))
            print(f"   {label:<28} {o.seconds:7.2f} {o.cpu_seconds:6.2f} {keys:<24} "
                  f"{o.owners:>6}  {actions}")
            if o.note:
                print(f"   {'':<28} {o.note}")
    base, with_owner = median(plain), median(owned)
    ratio = with_owner.seconds / base.seconds
    complete = all(o.returncode == 0 and o.found is not None and o.found.complete
                   for o in plain + owned)
    every_owner = all(o.owners == len(truth) for o in owned)
    one_call = all(o.by_action.get("ListUserTags") == users for o in owned)
    print(f"   medians: {base.seconds:.2f} s without, {with_owner.seconds:.2f} s with "
          f"--owner-tag: {ratio:.2f}x (target <= {TARGET:g}x): {c.verdict(ratio <= TARGET)}")
    print(f"   every key found: {c.verdict(complete)}; every key's owner: "
          f"{c.verdict(every_owner)}; one ListUserTags per user: {c.verdict(one_call)}")
    ok = ratio <= TARGET and complete and every_owner and one_call
    print(f"   {c.verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
