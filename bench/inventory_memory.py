"""Peak memory of `iamkeys inventory` as the account grows: linear, at most 1.5 KB per key.

Runs `iamkeys inventory --no-last-used --output json --out /dev/null` at increasing user counts
(2 keys each, no added latency) and reads the child's own peak RSS (ru_maxrss from wait4).
Beside it, at each size, the naive way in the same run: the same inventory through the library,
the whole document built as one dictionary and dumped as one string (`json.dumps`), as iamkeys
did before it streamed. Prints KB per key of both between the smallest and largest run and their
ratio, and checks that growth is linear: the
KB per key of the upper segment may not exceed 1.5x that of the lower one. Target: <= 1.5 KB per
key from 1,000 to 10,000 users (the document is streamed to its destination; what stays in memory
is the domain objects of the keys).

    .venv/bin/python bench/inventory_memory.py [--quick] [--users N,N,N]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import _common as c

KB_PER_KEY_TARGET = 1.5
LINEAR_SLACK = 1.5
KEYS_PER_USER = 2


# The naive way: build the whole document, then dump it as one string.
NAIVE = """
import sys
from iamkeys import aws, serialize
from iamkeys.inventory import InventoryRequest, run
inv = run(InventoryRequest.build(last_used=False), connection=aws.Connection())
sys.stdout.write(serialize.dumps(serialize.inventory(inv)))
"""


@dataclass(frozen=True)
class Point:
    """Peak RSS at one account size, streamed (iamkeys) and naive."""

    users: int
    keys: int
    found: c.Completeness
    run: c.Run
    naive: c.Run


def measure(b: c.Bench, users: int, truth: set[str]) -> Point:
    """One inventory run at the current size; output goes to /dev/null via --out."""
    cmd = [str(c.IAMKEYS), "inventory", "--no-last-used", "--output", "json", "--out", "/dev/null"]
    run = c.run(cmd, b.env)
    if run.returncode != 0:
        raise SystemExit(f"iamkeys inventory failed at {users} users (exit {run.returncode}):\n"
                         f"{c.tail(run.stderr)}")
    # The output went to /dev/null: the harness's per-action counters prove every user was read.
    stats = b.emulator.stats()
    listed = int(stats["by_action"].get("ListAccessKeys", 0))
    found = c.Completeness(listed, listed, max(0, users - listed), max(0, listed - users))
    b.emulator.reset(state=False)
    naive = c.run([str(c.PYTHON), "-c", NAIVE], b.env)
    if naive.returncode != 0:
        raise SystemExit(f"the naive run failed at {users} users:\n{c.tail(naive.stderr)}")
    b.emulator.reset(state=False)
    return Point(users, len(truth), found, run, naive)


def kb_per_key(low: Point, high: Point, *, naive: bool = False) -> float:
    """Growth of peak RSS per added key, in KB."""
    low_run, high_run = (low.naive, high.naive) if naive else (low.run, high.run)
    return (high_run.maxrss_kb - low_run.maxrss_kb) / (high.keys - low.keys)


def report(points: list[Point]) -> bool:
    """Print the table, KB/key and the linearity check; True when both targets hold."""
    print(f"   {'users':>6} {'keys':>6} {'peak RSS MB':>11} {'naive MB':>9} {'wall s':>7}  "
          "users listed")
    for p in points:
        print(f"   {p.users:>6} {p.keys:>6} {p.run.maxrss_kb / 1024:>11.1f} "
              f"{p.naive.maxrss_kb / 1024:>9.1f} {p.run.seconds:>7.2f}  "
              f"{p.found.describe(p.users)}")
    first, last = points[0], points[-1]
    slope = kb_per_key(first, last)
    naive = kb_per_key(first, last, naive=True)
    small = slope <= KB_PER_KEY_TARGET
    print(f"   {first.users} -> {last.users} users: {slope:.2f} KB per key "
          f"(target <= {KB_PER_KEY_TARGET:g}): {c.verdict(small)}; the naive way "
          f"{naive:.2f} KB per key: ratio {slope / naive:.2f}x")
    linear = True
    if len(points) >= 3:
        segments = [kb_per_key(a, b) for a, b in zip(points, points[1:], strict=False)]
        # A near-flat first segment must not turn any later growth into "superlinear".
        lower = max(segments[0], 0.05)
        linear = all(s <= LINEAR_SLACK * lower for s in segments[1:])
        shown = ", ".join(f"{s:.2f}" for s in segments)
        print(f"   KB per key by segment: {shown} (linear: later <= {LINEAR_SLACK}x first): "
              f"{c.verdict(linear)}")
    complete = all(p.found.complete for p in points)
    return small and linear and complete


def main() -> int:
    """Grow the account step by step and measure at each size."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--users", help="comma-separated user counts, ascending "
                                      "(default 1000,5000,10000; --quick 1000,2000,3000)")
    opts = args.parse_args()
    default = "1000,2000,3000" if opts.quick else "1000,5000,10000"
    sizes = sorted({int(n) for n in (opts.users or default).split(",")})
    if len(sizes) < 2:
        raise SystemExit("need at least two sizes")
    c.header(f"inventory peak memory: {', '.join(map(str, sizes))} users x {KEYS_PER_USER} keys")
    if not c.iamkeys_available("inventory"):
        print("   iamkeys inventory: not available in this installation")
        return 1
    points = []
    with c.bench() as b:
        truth: set[str] = set()
        for users in sizes:
            truth |= c.populate(b.emulator, users - len(truth) // KEYS_PER_USER, KEYS_PER_USER,
                                start=len(truth) // KEYS_PER_USER)
            b.emulator.reset(state=False)
            points.append(measure(b, users, truth))
    return 0 if report(points) else 1


if __name__ == "__main__":
    sys.exit(main())
