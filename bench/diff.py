"""`iamkeys diff OLD.json NEW.json` of two large inventories: time and peak memory (issue 9).

Two inventories of N keys (default 5,000, 10,000 and 20,000; --quick 1,000, 2,000, 4,000) across
20 accounts, written by iamkeys' own serializer; the newer one has 5% of keys replaced (a new
key and a removed one each), 2% deactivated and findings added and resolved. Each size runs
`iamkeys diff` as a child process 3 times (median shown) and reads its peak RSS from wait4.

Compared in the same run:
- the floor: a child that only reads and parses both JSON files (`json.load`), nothing else;
- a naive differ (for each old key, scan the new list), at the smallest size only: it is
  quadratic, so the ratio grows with N.

Targets: `iamkeys diff` of two 20,000-key inventories under 2 s; memory linear (the second
segment's KB per key at most 1.5x the first's); the Changes found exactly those made.

    .venv/bin/python bench/diff.py [--quick] [--keys N,N,N] [--repeat R]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common as c

sys.path.insert(0, str(c.ROOT / "src"))

from iamkeys import serialize  # noqa: E402
from iamkeys.model import (  # noqa: E402
    AccountScan,
    Finding,
    Inventory,
    InventoryKey,
    LastUsed,
    Thresholds,
)

TARGET_SECONDS = 2.0
LINEAR_SLACK = 1.5
ACCOUNTS = 20
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
THEN = NOW - timedelta(days=1)

FLOOR = ("import json, sys\n"
         "old = json.load(open(sys.argv[1]))\n"
         "new = json.load(open(sys.argv[2]))\n"
         "print(len(old['Keys']) + len(new['Keys']))\n")
NAIVE = ("import json, sys\n"
         "old = json.load(open(sys.argv[1]))['Keys']\n"
         "new = json.load(open(sys.argv[2]))['Keys']\n"
         "removed = [o for o in old if not any(n['AccessKeyId'] == o['AccessKeyId'] "
         "for n in new)]\n"
         "added = [n for n in new if not any(o['AccessKeyId'] == n['AccessKeyId'] "
         "for o in old)]\n"
         "print(len(removed), len(added))\n")


def key(i: int, rng: random.Random) -> InventoryKey:
    """Key number i: its account, user and some findings."""
    account = f"{100000000000 + i % ACCOUNTS:012d}"
    created = NOW - timedelta(days=rng.randint(1, 900))
    rules = [r for r in ("IAM.3", "IAM.22", "CIS.1.13") if rng.random() < 0.3]
    return InventoryKey(
        account_id=account, user_name=f"user-{i // 2:06d}",
        user_create_date=created - timedelta(days=30), access_key_id=f"AKIA{i:016d}",
        status="Active", create_date=created,
        last_used=LastUsed(NOW - timedelta(days=rng.randint(0, 90)), "s3", "eu-west-1"),
        findings=tuple(Finding(r, f"{r}: reason with a number {rng.randint(1, 999)}", THEN)
                       for r in rules))


def inventory(keys: list[InventoryKey], at: datetime) -> Inventory:
    accounts = tuple(AccountScan(f"{100000000000 + a:012d}", users=len(keys) // ACCOUNTS // 2,
                                 root_keys_present=False, listed=True)
                     for a in range(ACCOUNTS))
    return Inventory(keys=tuple(keys), errors=(), deleted=(), accounts=accounts,
                     account_findings=(), generated_at=at, thresholds=Thresholds())


def pair(count: int, folder: Path) -> tuple[Path, Path, dict[str, int]]:
    """OLD and NEW inventory files of `count` keys, and the changes made between them."""
    rng = random.Random(count)
    old = [key(i, rng) for i in range(count)]
    new = list(old)
    made = {"NewKeys": 0, "RemovedKeys": 0, "StatusChanged": 0, "NewFindings": 0,
            "ResolvedFindings": 0}
    for index in rng.sample(range(count), count * 7 // 100):
        k = new[index]
        if made["RemovedKeys"] < count * 5 // 100:  # replaced: new id, same user
            new[index] = replace(k, access_key_id="AKIAR" + k.access_key_id[5:], findings=())
            made["NewKeys"] += 1
            made["RemovedKeys"] += 1
            made["ResolvedFindings"] += len(k.findings)
        else:  # deactivated, findings swapped for STALE_INACTIVE
            new[index] = replace(k, status="Inactive",
                                 findings=(Finding("STALE_INACTIVE", "kept", NOW),))
            made["StatusChanged"] += 1
            made["NewFindings"] += 1
            made["ResolvedFindings"] += len(k.findings)
    old_path, new_path = folder / f"old-{count}.json", folder / f"new-{count}.json"
    old_path.write_text(serialize.dumps(serialize.inventory(inventory(old, THEN))))
    new_path.write_text(serialize.dumps(serialize.inventory(inventory(new, NOW))))
    return old_path, new_path, made


def median_run(cmd: list[str], env: dict[str, str], repeat: int) -> c.Run:
    runs = sorted((c.run(cmd, env) for _ in range(repeat)), key=lambda r: r.seconds)
    return runs[len(runs) // 2]


def main() -> int:
    """Write the inventories, time each tool on each size, print the table and the verdicts."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--keys", help="comma-separated sizes (default 5000,10000,20000)")
    args.add_argument("--repeat", type=int, default=3)
    opts = args.parse_args()
    sizes = ([int(n) for n in opts.keys.split(",")] if opts.keys
             else [1000, 2000, 4000] if opts.quick else [5000, 10000, 20000])
    c.header(f"iamkeys diff: two inventories of {', '.join(f'{n:,}' for n in sizes)} keys")
    c.compile_sources()
    rows = []
    with tempfile.TemporaryDirectory(prefix="iamkeys-bench-diff-") as tmp:
        folder = Path(tmp)
        env = c.child_env("http://127.0.0.1:9", folder)  # diff makes no request at all
        for count in sizes:
            old, new, made = pair(count, folder)
            ours = median_run([str(c.IAMKEYS), "diff", str(old), str(new)], env, opts.repeat)
            floor = median_run([str(c.PYTHON), "-c", FLOOR, str(old), str(new)], env,
                               opts.repeat)
            found = ({kind: len(v) for kind, v in json.loads(ours.stdout).items()
                      if isinstance(v, list)} if ours.returncode == 0 else {})
            rows.append(Row(count, old.stat().st_size, ours, floor, found == made))
        naive = c.run([str(c.PYTHON), "-c", NAIVE, str(folder / f"old-{sizes[0]}.json"),
                       str(folder / f"new-{sizes[0]}.json")], env)
    return report(rows, naive)


@dataclass(frozen=True)
class Row:
    """One size: the file, iamkeys diff's median run, the JSON-parsing floor's, correctness."""

    keys: int
    file_bytes: int
    ours: c.Run
    floor: c.Run
    exact: bool


def report(rows: list[Row], naive: c.Run) -> int:
    """The table, the ratios and the verdicts; 0 when every target is met."""
    print(f"   {'keys':>7} {'file MB':>8} {'diff s':>7} {'cpu s':>6} {'peak MB':>8} "
          f"{'json.load s':>12} {'ratio':>6}  changes")
    for row in rows:
        print(f"   {row.keys:>7,} {row.file_bytes / 1e6:8.1f} {row.ours.seconds:7.2f} "
              f"{row.ours.cpu_seconds:6.2f} {row.ours.maxrss_kb / 1024:8.1f} "
              f"{row.floor.seconds:12.2f} "
              f"{row.ours.seconds / row.floor.seconds:5.1f}x  "
              f"{'exactly those made' if row.exact else 'WRONG'}")
    first, largest = rows[0], rows[-1]
    print(f"   naive quadratic differ at {first.keys:,} keys: {naive.seconds:.2f} s, "
          f"{naive.seconds / first.ours.seconds:.1f}x iamkeys diff's time")
    fast = largest.ours.seconds < TARGET_SECONDS and largest.ours.returncode == 0
    print(f"   {largest.keys:,} keys in {largest.ours.seconds:.2f} s "
          f"(target < {TARGET_SECONDS:g} s): {c.verdict(fast)}")
    per_key = [(b.ours.maxrss_kb - a.ours.maxrss_kb) / (b.keys - a.keys)
               for a, b in zip(rows, rows[1:], strict=False)]
    linear = all(k <= LINEAR_SLACK * per_key[0] for k in per_key[1:]) if per_key else True
    print(f"   peak RSS KB per key by segment: {', '.join(f'{k:.2f}' for k in per_key)} "
          f"(linear: no segment above {LINEAR_SLACK:g}x the first): {c.verdict(linear)}")
    ok = fast and linear and all(row.exact for row in rows)
    print(f"   {c.verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
