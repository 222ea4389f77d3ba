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
