"""`iamkeys remediate --apply` behind a token-bucket rate limit: every planned key deactivated,
exactly once, at >= 80% of the rate (issue 10).

The harness layer lets R requests per second through (burst R) and answers the excess with
`Throttling`, on top of 50 ms per request. Each user has one Active key 400 days old (IAM.3).
Three runs, each on fresh counters and with every key Active again:

- `iamkeys remediate --deactivate IAM.3 --apply`: its own inventory, the plan (ListUserTags per
  user), then per key ListUserTags, ListAccessKeys and UpdateAccessKey, journaled;
- the same with `--from` a saved inventory: the remediation alone;
- `peer_deactivate.py`: a sequential boto3 script listing and deactivating (the naive way).

Each must leave every key Inactive after exactly one applied UpdateAccessKey per key (from the
harness log: answers 200) and exit 0. Effective rate = requests the emulator served ÷ the
process's wall time, start-up included; the target is >= 80% of R for iamkeys.

    .venv/bin/python bench/remediate_throttle.py [--quick] [--users N] [--rps R[,R...]]
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import _common as c

TARGET = 0.8
AGE = "2025-01-01T00:00:00Z"


@dataclass(frozen=True)
class Deactivation:
    """One rate-limited run."""

    tool: str
    rps: float
    run: c.Run
    applied: Counter[str]
    inactive: int
    expected: int
    served: int
    rate_limited: int

    @property
    def effective(self) -> float:
        """Requests served per second of wall time."""
        return self.served / self.run.seconds

    @property
    def complete(self) -> bool:
        """Exit 0, every key Inactive, each after exactly one applied write."""
        return (self.run.returncode == 0 and self.inactive == self.expected
                and len(self.applied) == self.expected and set(self.applied.values()) == {1})


def populate(b: c.Bench, users: int) -> dict[str, str]:
    """Users with one Active key each, old enough for IAM.3; key id -> user."""
    specs = [{"name": f"{c.USER_PREFIX}{i:05d}", "keys": [{"create_date": AGE}]}
             for i in range(users)]
    made: dict[str, str] = {}
    for start in range(0, users, c.BULK_CHUNK):
        created = b.emulator.bulk_create(specs[start:start + c.BULK_CHUNK])
        made.update({ids[0]: name for name, ids in created.items()})
    return made


def reactivate(b: c.Bench, keys: dict[str, str]) -> None:
    """Every key Active again, counters cleared."""
    for key_id in keys:
        b.emulator.patch_key(key_id, status="Active")
    b.emulator.reset(state=False)


def one_run(b: c.Bench, keys: dict[str, str], tool: str, argv: list[str], rps: float,
            latency_ms: float) -> Deactivation:
    """One tool behind a fresh token bucket."""
    reactivate(b, keys)
    journal = b.scratch / "journal.jsonl"
    journal.unlink(missing_ok=True)
    b.emulator.configure(latency_ms=latency_ms, rate_limit={"rps": rps, "burst": max(1,
                                                                                     int(rps))})
    result = c.run(argv + (["--journal", str(journal)] if tool.startswith("iamkeys") else []),
                   b.env)
    stats = b.emulator.stats(log=True)
    b.emulator.configure(latency_ms=0, rate_limit=None)
    applied = Counter(str(e["params"]["AccessKeyId"]) for e in stats["log"]
                      if e["action"] == "UpdateAccessKey" and e["status"] == 200)
    inactive = sum(1 for key_id in keys if _status(b, key_id) == "Inactive")
    if result.returncode != 0:
        print(f"   {tool}: exit {result.returncode}\n{c.tail(result.stderr)}")
    return Deactivation(tool, rps, result, applied, inactive, len(keys),
                        c.successful_requests(stats), int(stats["rate_limited"]))


def _status(b: c.Bench, key_id: str) -> str:
    """A key's status, read through the harness (no request is counted)."""
    return str(b.emulator.patch_key(key_id).get("status", ""))


def report(runs: list[Deactivation]) -> bool:
    """A row per run; True when every iamkeys run is complete and at >= TARGET of its rate."""
    print(f"   {'tool':<32} {'R rps':>6} {'wall s':>7} {'deactivated':<22} {'served':>6} "
          f"{'throttled':>9} {'effective rps':>13} {'of R':>6}  verdict")
    met = True
    for r in runs:
        share = r.effective / r.rps
        good = r.complete and (share >= TARGET or not r.tool.startswith("iamkeys"))
        if r.tool.startswith("iamkeys"):
            met &= good
        once = "each once" if set(r.applied.values()) <= {1} else "SOME TWICE"
        keys = f"{r.inactive}/{r.expected} {once}"
        verdict = c.verdict(good) if r.tool.startswith("iamkeys") else "(peer)"
        print(f"   {r.tool:<32} {r.rps:>6g} {r.run.seconds:>7.2f} {keys:<22} {r.served:>6} "
              f"{r.rate_limited:>9} {r.effective:>13.1f} {share:>6.0%}  {verdict}")
    ours = [r for r in runs if r.tool == "iamkeys remediate --apply"]
    peers = [r for r in runs if not r.tool.startswith("iamkeys")]
    for mine, peer in zip(ours, peers, strict=False):
        print(f"   at R={mine.rps:g}: iamkeys {mine.run.seconds:.2f} s vs the sequential script "
              f"{peer.run.seconds:.2f} s ({peer.run.seconds / mine.run.seconds:.1f}x)")
    print(f"   target: every key deactivated, each by one applied write, exit 0, effective rate "
          f">= {TARGET:.0%} of R")
    return met


def main() -> int:
    """Populate, then deactivate behind each rate limit, three ways."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--users", type=int, help="users (1 old key each); default 400, "
                                                "--quick 150")
    args.add_argument("--rps", default="50", help="comma-separated rates R (default 50)")
    args.add_argument("--latency-ms", type=float, default=50.0, help="added per request")
    opts = args.parse_args()
    users = opts.users or (150 if opts.quick else 400)
    rates = [float(r) for r in opts.rps.split(",")]
    c.header(f"remediate --apply under a rate limit: {users} keys to deactivate, "
             f"+{opts.latency_ms:g} ms per request")
    if not c.iamkeys_available("remediate"):
        print("   iamkeys remediate: not available in this installation")
        return 1
    with c.bench() as b:
        keys = populate(b, users)
        saved = b.scratch / "inventory.json"
        listed = c.run([str(c.IAMKEYS), "inventory", "--out", str(saved)], b.env)
        if listed.returncode != 0:
            print(c.tail(listed.stderr))
            return 1
        policy = ["--deactivate", "IAM.3", "--apply", "--max-actions", str(users)]
        runs = []
        for rps in rates:
            runs.append(one_run(b, keys, "iamkeys remediate --apply",
                                [str(c.IAMKEYS), "remediate", *policy], rps, opts.latency_ms))
            runs.append(one_run(b, keys, "iamkeys remediate --from --apply",
                                [str(c.IAMKEYS), "remediate", "--from", str(saved), *policy],
                                rps, opts.latency_ms))
            runs.append(one_run(b, keys, "peer_deactivate.py (sequential)",
                                [str(c.PYTHON), str(Path(c.BENCH, "peer_deactivate.py"))],
                                rps, opts.latency_ms))
    return 0 if report(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
