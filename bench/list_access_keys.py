"""Wall time of one `iamkeys list-access-keys` process against `aws iam list-access-keys` (issue 2).

Both CLIs run as fresh processes against the same local emulator, alternating (ours, theirs,
ours, ...) so that background load hits both alike. Before timing, both must list the same keys.
Target: our median at most 0.6x the AWS CLI's.

    .venv/bin/python bench/list_access_keys.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import sys

import _common as c

USER = "bench-user"
TARGET = 0.6
WARMUP = 2


def commands() -> dict[str, list[str]]:
    """The two command lines compared."""
    return {
        "iamkeys": [str(c.IAMKEYS), "list-access-keys", "--user-name", USER],
        "aws": [str(c.AWS_CLI), "iam", "list-access-keys", "--user-name", USER],
    }


def keys_of(stdout: str) -> list[tuple[str, str, str, str]]:
    """(id, status, user, create date to the second) of each key in either CLI's JSON."""
    data = json.loads(stdout)
    return sorted(
        (k["AccessKeyId"], k["Status"], k["UserName"], k["CreateDate"][:19])
        for k in data["AccessKeyMetadata"]
    )


def same_keys(env: dict[str, str], truth: set[str]) -> bool:
    """Run each CLI once; both must succeed and list exactly the keys that exist."""
    listed = {}
    for name, cmd in commands().items():
        result = c.run(cmd, env)
        if result.returncode != 0:
            print(f"{name} failed (exit {result.returncode}):\n{c.tail(result.stderr)}")
            return False
        listed[name] = keys_of(result.stdout)
    ours, theirs = listed["iamkeys"], listed["aws"]
    print(f"   both list the same {len(ours)} keys: {ours == theirs}")
    return ours == theirs and {k[0] for k in ours} == truth


def timed_runs(env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Alternate the two CLIs; the first WARMUP rounds are discarded."""
    times: dict[str, list[float]] = {name: [] for name in commands()}
    for round_ in range(WARMUP + runs):
        for name, cmd in commands().items():
            result = c.run(cmd, env)
            if result.returncode != 0:
                raise SystemExit(f"{name} failed (exit {result.returncode}):\n"
                                 f"{c.tail(result.stderr)}")
            if round_ >= WARMUP:
                times[name].append(result.seconds)
    return times


def report(times: dict[str, list[float]]) -> bool:
    """Print medians, p90s and the ratio; True when the target is met."""
    print(f"   {'tool':<10} {'runs':>4} {'median s':>9} {'p90 s':>7} {'min s':>7}")
    for name, values in times.items():
        print(f"   {name:<10} {len(values):>4} {c.median(values):>9.3f} {c.p90(values):>7.3f} "
              f"{min(values):>7.3f}")
    ratio = c.median(times["iamkeys"]) / c.median(times["aws"])
    p90_ratio = c.p90(times["iamkeys"]) / c.p90(times["aws"])
    min_ratio = min(times["iamkeys"]) / min(times["aws"])
    ok = ratio <= TARGET
    print(f"   ratio iamkeys/aws: median {ratio:.2f}x, p90 {p90_ratio:.2f}x, min {min_ratio:.2f}x "
          f"(target: median <= {TARGET}x): {c.verdict(ok)}")
    return ok


def main() -> int:
    """Set up one user with two keys, check both CLIs agree, then time them alternately."""
    args = c.parser(__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, help="timed runs per tool (default 21, --quick 7)")
    opts = args.parse_args()
    runs = opts.runs or (7 if opts.quick else 21)
    c.header(f"list-access-keys: iamkeys vs aws CLI, {runs} alternating runs each "
             f"(+{WARMUP} warm-up)")
    with c.bench() as b:
        truth = set(b.emulator.bulk_create([{"name": USER, "keys": [{}, {"status": "Inactive"}]}])
                    [USER])
        if not same_keys(b.env, truth):
            print("   outputs differ: not timing")
            return 1
        times = timed_runs(b.env, runs)
    return 0 if report(times) else 1


if __name__ == "__main__":
    sys.exit(main())
