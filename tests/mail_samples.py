"""iamkeys results to email in the mail tests: the seed's, a realistic one, and hostile ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from seed_data import SEED_OUTPUT

NOW = datetime.now(UTC).replace(microsecond=0)


def stamp(days_ago: int) -> str:
    """A CreateDate `days_ago` days before now, as iamkeys prints it."""
    return (NOW - timedelta(days=days_ago, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def key(user: str, key_id: str, days_ago: int, status: str = "Active") -> dict[str, Any]:
    """One AccessKeyMetadata member in the seed's field order."""
    return {"AccessKeyId": key_id, "CreateDate": stamp(days_ago), "Status": status,
            "UserName": user}


# The seed's example output.
SEED = SEED_OUTPUT

LONG_NAME = "svc-" + "data-pipeline-ingest." * 5 + "eu-west-1@example.com"  # 123 characters

# A few users: long names, inactive keys, old keys, a fresh one.
REALISTIC = {
    "AccessKeyMetadata": [
        key("Alice", "AKIA111111111EXAMPLE", 2920),
        key("Alice", "AKIA222222222EXAMPLE", 45, "Inactive"),
        key("bob.smith@example.com", "AKIA333333333EXAMPLE", 400, "Inactive"),
        key("carol", "AKIA444444444EXAMPLE", 12),
        key(LONG_NAME, "AKIA555555555EXAMPLE", 91),
        key("deploy-bot+ci=prod,eu", "AKIA666666666EXAMPLE", 90),
    ],
    "IsTruncated": False,
}

EMPTY = {"AccessKeyMetadata": [], "IsTruncated": False}

PARTITIONS = {
    "aws": {"AccessKeyMetadata": [key("Alice", "AKIA111111111EXAMPLE", 10)], "IsTruncated": False},
    "aws-cn": {"AccessKeyMetadata": [key("li.wei", "AKIACN11111EXAMPLE01", 200, "Inactive")],
               "IsTruncated": True, "Marker": "bWFya2Vy"},
}

def inventory_key(account: str, user: str, key_id: str, days_ago: int, status: str,
                  last_used: tuple[int, str, str] | None,
                  findings: list[tuple[str, str]]) -> dict[str, Any]:
    """One Keys member as `iamkeys inventory` prints it."""
    used_days, service, region = last_used or (0, None, None)
    return {"AccountId": account, "UserName": user, "UserCreateDate": stamp(days_ago + 1),
            "AccessKeyId": key_id, "Status": status, "CreateDate": stamp(days_ago),
            "AgeDays": days_ago, "LastUsedDate": stamp(used_days) if last_used else None,
            "LastUsedService": service, "LastUsedRegion": region,
            "Findings": [rule for rule, _ in findings],
            "FindingDetails": [{"Rule": rule, "Reason": why} for rule, why in findings]}


# `iamkeys inventory` output: two accounts, findings, a key never used, and one error.
INVENTORY = {
    "Keys": [
        inventory_key("111122223333", "Alice", "AKIA111111111EXAMPLE", 2920, "Active",
                      (1, "s3", "eu-west-1"),
                      [("IAM.3", "active key is 2920 days old (limit 90)")]),
        inventory_key("111122223333", LONG_NAME, "AKIA555555555EXAMPLE", 40, "Inactive", None,
                      [("STALE_INACTIVE", "inactive key is 40 days old (limit 30)")]),
        inventory_key("444455556666", "carol", "AKIA444444444EXAMPLE", 12, "Active",
                      (0, "sts", "us-east-1"), []),
    ],
    "Errors": [{"AccountId": "777788889999", "UserName": None, "AccessKeyId": None,
                "Operation": "ListUsers", "Code": "AccessDenied", "Message": "not authorized"}],
    "AccountFindings": [],
    "Summary": {
        "Accounts": 3, "Users": 4, "Keys": 3, "Active": 2, "Inactive": 1, "Findings": 2,
        "FindingsByRule": {"IAM.4": 0, "IAM.3": 1, "IAM.22": 0, "CIS.1.13": 0, "CIS.1.11": 0,
                           "STALE_INACTIVE": 1},
        "DeletedDuringRun": [], "Complete": False, "LastUsedChecked": True,
        "GeneratedAt": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Thresholds": {"MaxKeyAge": 90, "MaxUnused": 45, "MaxInactive": 30},
        "ByAccount": [
            {"AccountId": "111122223333", "Users": 3, "Keys": 2, "RootAccessKeysPresent": False,
             "Listed": True},
            {"AccountId": "444455556666", "Users": 1, "Keys": 1, "RootAccessKeysPresent": False,
             "Listed": True},
            {"AccountId": "777788889999", "Users": 0, "Keys": 0, "RootAccessKeysPresent": None,
             "Listed": False},
        ],
    },
}

# Users with such names cannot exist in IAM: a crafted document tests escaping and CSV safety.
HOSTILE = {
    "AccessKeyMetadata": [
        key("<script>alert('x')</script>", "AKIA777777777EXAMPLE", 5),
        key("=cmd|' /C calc'!A0", "AKIA888888888EXAMPLE", 5),
        key('a"><img src=x onerror=alert(1)>', "AKIA999999999EXAMPLE", 5),
    ],
    "IsTruncated": False,
}


def raw(document: Any) -> bytes:
    """The document as a user's file might hold it: 4-space indent, escaped non-ASCII, no
    trailing newline, so that a re-serialized attachment would differ from the input."""
    return json.dumps(document, indent=4, ensure_ascii=True).encode()


# Findings as `iamkeys inventory` words them, for generated inventories.
_REASONS = {
    "IAM.3": lambda age: f"active key is {age} days old (limit 90)",
    "IAM.22": lambda age: f"active key never used in the {age} days since its creation "
                          "(limit 45)" if age > 0 else f"active key last used {-age} days ago "
                          "(limit 45)",
    "CIS.1.13": lambda age: "user has 2 active keys (limit 1)",
    "CIS.1.11": lambda age: "key created 0m04s after its user (window 10m) and never used",
    "STALE_INACTIVE": lambda age: f"inactive key kept {age} days after creation (limit 30)",
}
_SERVICES = [("s3", "eu-west-1"), ("sts", "us-east-1"), ("ec2", "eu-central-1"),
             ("dynamodb", "ap-southeast-2"), ("iam", "us-east-1")]


def inventory_of(keys: int, *, accounts: int = 3, long_names: bool = False) -> dict[str, Any]:
    """An inventory of `keys` keys over `accounts` accounts with a realistic mix of findings;
    `long_names` gives every user a 128-character name (the longest IAM allows)."""
    import random

    rng = random.Random(keys * 31 + accounts)  # the same document on every run
    account_ids = [f"{111122223333 + 111111111 * i:012d}" for i in range(accounts)]
    records = []
    for i in range(keys):
        account = account_ids[i % accounts]
        user = (f"svc-{i:04d}-" + "data-pipeline-ingest." * 6)[:128] if long_names else (
            rng.choice(["svc-", "ci-", "", "ops."]) + rng.choice(
                ["deploy", "backup", "alice", "bob.smith", "data-pipeline", "terraform"])
            + f"-{i}")
        age = rng.choice([3, 12, 40, 95, 200, 400, 1200, 2920])
        active = rng.random() < 0.8
        used = rng.choice([None, 1, 30, 60, 300]) if active else None
        rules = []
        if active and age > 90:
            rules.append("IAM.3")
        if active and (used is None and age > 45 or used is not None and used > 45):
            rules.append("IAM.22")
        if active and rng.random() < 0.15:
            rules.append("CIS.1.13")
        if active and used is None and rng.random() < 0.1:
            rules.append("CIS.1.11")
        if not active and age > 30:
            rules.append("STALE_INACTIVE")
        last = (used, *rng.choice(_SERVICES)) if used is not None else None
        records.append(inventory_key(account, user, f"AKIA{i:09d}EXAMPLE", age,
                                     "Active" if active else "Inactive", last,  # type: ignore
                                     [(r, _REASONS[r](-used if r == "IAM.22" and used
                                                      else age)) for r in rules]))
    by_rule = {rule: sum(rule in r["Findings"] for r in records)
               for rule in ("IAM.4", "IAM.3", "IAM.22", "CIS.1.13", "CIS.1.11", "STALE_INACTIVE")}
    return {
        "Keys": records, "Errors": [], "AccountFindings": [],
        "Summary": {
            "Accounts": accounts, "Users": keys, "Keys": keys,
            "Active": sum(r["Status"] == "Active" for r in records),
            "Inactive": sum(r["Status"] != "Active" for r in records),
            "Findings": sum(by_rule.values()), "FindingsByRule": by_rule,
            "DeletedDuringRun": [], "Complete": True, "LastUsedChecked": True,
            "GeneratedAt": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Thresholds": {"MaxKeyAge": 90, "MaxUnused": 45, "MaxInactive": 30},
            "ByAccount": [{"AccountId": a, "Users": sum(r["AccountId"] == a for r in records),
                           "Keys": sum(r["AccountId"] == a for r in records),
                           "RootAccessKeysPresent": False, "Listed": True}
                          for a in account_ids],
        },
    }
