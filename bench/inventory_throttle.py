"""`iamkeys inventory` behind a token-bucket rate limit: complete, at >= 80% of the rate (issue 4).

The harness layer lets R requests per second through (burst B, default R) and answers the excess
with `Throttling`, on top of the inventory scenario's 50 ms per request. The inventory must
finish with every key, no errors and exit 0, and its effective rate (requests the emulator served,
from the harness counters, divided by the process's wall time) must be at least 80% of R.

    .venv/bin/python bench/inventory_throttle.py [--quick] [--users N] [--rps R[,R...]]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import _common as c

TARGET = 0.8


@dataclass(frozen=True)
class Throttled:
    """One rate-limited inventory run."""

    rps: float
    burst: int
    run: c.Run
    found: c.Completeness | None
    errors: int
    total: int
    served: int
    rate_limited: int

    @property
    def effective(self) -> float:
        """Requests served per second of wall time."""
        return self.served / self.run.seconds

    @property
    def complete(self) -> bool:
        """Exit 0, no errors, every key exactly once."""
        return (self.run.returncode == 0 and self.errors == 0 and self.found is not None
                and self.found.complete)


def one_run(b: c.Bench, truth: set[str], rps: float, burst: int, latency_ms: float,
            extra: list[str]) -> Throttled:
    """Inventory once behind a fresh token bucket."""
    b.emulator.reset(state=False)
    b.emulator.configure(latency_ms=latency_ms, rate_limit={"rps": rps, "burst": burst})
    result = c.run([str(c.IAMKEYS), "inventory", "--output", "json", *extra], b.env)
    stats = b.emulator.stats()
    found, errors = None, 0
    try:
        data = json.loads(result.stdout)
        found = c.completeness((str(k["AccessKeyId"]) for k in data["Keys"]), truth)
        errors = len(data["Errors"])
    except (ValueError, KeyError) as exc:
        print(f"   unreadable output (exit {result.returncode}): {exc!r}\n{c.tail(result.stderr)}")
    return Throttled(rps, burst, result, found, errors, int(stats["total"]),
                     c.successful_requests(stats), int(stats["rate_limited"]))


def report(runs: list[Throttled], expected: int) -> bool:
    """A row per rate; True when every run is complete and at >= TARGET of its rate."""
    print(f"   {'R rps':>6} {'burst':>5} {'wall s':>7} {'keys':<24} {'served':>6} "
          f"{'throttled':>9} {'effective rps':>13} {'of R':>6}  verdict")
    met = True
    for r in runs:
        share = r.effective / r.rps
        good = r.complete and share >= TARGET
        met &= good
        keys = r.found.describe(expected) if r.found else "-"
        if r.errors:
            keys += f", {r.errors} errors"
        print(f"   {r.rps:>6g} {r.burst:>5} {r.run.seconds:>7.2f} {keys:<24} {r.served:>6} "
              f"{r.rate_limited:>9} {r.effective:>13.1f} {share:>6.0%}  {c.verdict(good)}"
              f"{'' if r.run.returncode == 0 else f' (exit {r.run.returncode})'}")
    print(f"   target: complete, exit 0, effective rate >= {TARGET:.0%} of R")
    return met


def main() -> int:
    """Populate the emulator, then run the inventory behind each rate limit."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--users", type=int, help="users (2 keys each); default 1000, --quick 200")
    args.add_argument("--rps", default="50", help="comma-separated rates R (default 50)")
    args.add_argument("--burst", type=int, help="bucket size (default: R)")
    args.add_argument("--latency-ms", type=float, default=50.0, help="added per request")
    args.add_argument("--concurrency", help="passed to iamkeys inventory --concurrency")
    opts = args.parse_args()
    users = opts.users or (200 if opts.quick else 1000)
    rates = [float(r) for r in opts.rps.split(",")]
    extra = ["--concurrency", opts.concurrency] if opts.concurrency else []
    c.header(f"inventory under a rate limit: {users} users x 2 keys, "
             f"+{opts.latency_ms:g} ms per request")
    if not c.iamkeys_available("inventory"):
        print("   iamkeys inventory: not available in this installation")
        return 1
    with c.bench() as b:
        truth = c.populate(b.emulator, users)
        runs = [one_run(b, truth, rps, opts.burst or max(1, int(rps)), opts.latency_ms, extra)
                for rps in rates]
    return 0 if report(runs, len(truth)) else 1


if __name__ == "__main__":
    sys.exit(main())
