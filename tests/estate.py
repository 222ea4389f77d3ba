"""An account to remediate: users whose keys are old, unused, inactive, exempt or the caller's,
created on the IAM emulator with backdated dates and last use; and readers of the harness log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import DEFAULT_ACCOUNT_ID, TEST_ACCESS_KEY_ID

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
ACCOUNT = DEFAULT_ACCOUNT_ID
WRITES = ("UpdateAccessKey", "DeleteAccessKey")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(days: float) -> str:
    return iso(NOW - days * DAY)


@dataclass(frozen=True)
class Estate:
    """Key ids by role in the scenario."""

    old_unused: str      # alice: Active, 400 days old, last used 100 days ago (IAM.3, IAM.22)
    fresh: str           # alice: Active, 10 days old, used yesterday
    stale_inactive: str  # bob: Inactive, last used 120 days ago
    exempt: str          # carol (tagged iamkeys:exempt): Active, 400 days old, never used
    recent_inactive: str  # erin: Inactive, 20 days old, never used
    old_used: str        # frank: Active, 300 days old, used 2 days ago (IAM.3)
    caller: str          # ops: the key signing the requests, 400 days old (IAM.3)


def populate(emulator: Any, iam: Any) -> Estate:
    """The scenario, in the default account; harness counters reset afterwards."""
    made = emulator.bulk_create([
        {"name": "alice", "create_date": ago(500), "keys": [
            {"create_date": ago(400), "last_used": {"date": ago(100), "service": "s3"}},
            {"create_date": ago(10), "last_used": {"date": ago(1), "service": "sts"}}]},
        {"name": "bob", "create_date": ago(500), "keys": [
            {"status": "Inactive", "create_date": ago(200),
             "last_used": {"date": ago(120), "service": "ec2"}}]},
        {"name": "carol", "create_date": ago(500), "keys": [{"create_date": ago(400)}]},
        {"name": "erin", "create_date": ago(500), "keys": [
            {"status": "Inactive", "create_date": ago(20)}]},
        {"name": "frank", "create_date": ago(500), "keys": [
            {"create_date": ago(300), "last_used": {"date": ago(2), "service": "s3"}}]},
        {"name": "ops", "create_date": ago(500), "keys": [
            {"id": TEST_ACCESS_KEY_ID, "create_date": ago(400)}]},
    ])
    iam.tag_user(UserName="carol", Tags=[{"Key": "iamkeys:exempt", "Value": "payments"}])
    emulator.reset(state=False)
    return Estate(old_unused=made["alice"][0], fresh=made["alice"][1],
                  stale_inactive=made["bob"][0], exempt=made["carol"][0],
                  recent_inactive=made["erin"][0], old_used=made["frank"][0],
                  caller=made["ops"][0])


def writes(emulator: Any) -> list[dict[str, Any]]:
    """The write requests the emulator received, in order (params as sent)."""
    return [entry["params"] for entry in emulator.stats(log=True)["log"]
            if entry["action"] in WRITES]


def writes_by_key(emulator: Any) -> dict[str, int]:
    """How many write requests named each key."""
    counts: dict[str, int] = {}
    for params in writes(emulator):
        counts[params["AccessKeyId"]] = counts.get(params["AccessKeyId"], 0) + 1
    return counts


def statuses(iam: Any, *users: str) -> dict[str, str]:
    """Key id -> status, as IAM lists them now."""
    return {k["AccessKeyId"]: k["Status"] for user in users
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """A journal file's lines, parsed."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def actions(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(user, key, action) of a plan document's actions."""
    return {(a["UserName"], a["AccessKeyId"], a["Action"]) for a in document["Actions"]}
