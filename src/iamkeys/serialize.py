"""The one place that turns domain objects into the JSON documents iamkeys prints.

The List Access Keys shape is the IAM List Access Keys action's: `AccessKeyMetadata` members with
AccessKeyId, CreateDate, Status, UserName in that order, then IsTruncated, then Marker when
truncated. `documents.py` reads every document written here back into domain objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from .findings import age_days, count_by_rule
from .model import AccessKey, Delivery, Inventory, InventoryError, InventoryKey, Listing

KEY_FIELDS = ("AccessKeyId", "CreateDate", "Status", "UserName")


def timestamp(value: datetime | None) -> str | None:
    """UTC as YYYY-MM-DDTHH:MM:SSZ (seconds precision, like the AWS examples)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_metadata(key: AccessKey) -> dict[str, Any]:
    """One AccessKeyMetadata member, fields in the order ListAccessKeys documents."""
    return {
        "AccessKeyId": key.access_key_id,
        "CreateDate": timestamp(key.create_date),
        "Status": key.status,
        "UserName": key.user_name,
    }


def listing(result: Listing) -> dict[str, Any]:
    """One partition's List Access Keys result."""
    document: dict[str, Any] = {
        "AccessKeyMetadata": [key_metadata(k) for k in result.keys],
        "IsTruncated": result.is_truncated,
    }
    if result.is_truncated:
        document["Marker"] = result.marker
    return document


def listings(results: Sequence[Listing]) -> dict[str, Any]:
    """The plain result for one partition; an object keyed by partition name for several."""
    if len(results) == 1:
        return listing(results[0])
    return {r.partition: listing(r) for r in results}


def dumps(document: Any) -> str:
    """JSON as iamkeys prints it: two-space indent, non-ASCII kept, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(document: Mapping[str, Any], stream: IO[str]) -> None:
    """The same text as `dumps(document)`, written as it is made: a member whose value is an
    iterator is written one item at a time, so its items are never all in memory at once."""
    stream.write("{")
    for index, (name, value) in enumerate(document.items()):
        stream.write(("," if index else "") + "\n  " + json.dumps(name) + ": ")
        if isinstance(value, Iterator):
            _write_items(value, stream)
        else:
            stream.write(_nested(value, 1))
    stream.write("\n}\n" if document else "}\n")


def _write_items(items: Iterator[Any], stream: IO[str]) -> None:
    """A JSON array two levels deep, item by item."""
    empty = True
    for item in items:
        stream.write(("[" if empty else ",") + "\n    " + _nested(item, 2))
        empty = False
    stream.write("[]" if empty else "\n  ]")


def _nested(value: Any, level: int) -> str:
    """`value` as `dumps` writes it `level` levels deep (JSON strings hold no raw newline)."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)


# --- inventory -----------------------------------------------------------------------------

INVENTORY_KEY_FIELDS = (
    "AccountId", "UserName", "UserCreateDate", "AccessKeyId", "Status", "CreateDate", "AgeDays",
    "LastUsedDate", "LastUsedService", "LastUsedRegion", "Findings", "FindingDetails",
)
# The flat columns of CSV output (Findings joined by spaces), and the terminal table's subset.
INVENTORY_COLUMNS = INVENTORY_KEY_FIELDS[:-1]
INVENTORY_TABLE_COLUMNS = ("AccountId", "UserName", "AccessKeyId", "Status", "CreateDate",
                           "AgeDays", "LastUsedDate", "LastUsedService", "Findings")


def inventory(inv: Inventory) -> dict[str, Any]:
    """The inventory document: {"Keys": [...], "Errors": [...], "AccountFindings": [...],
    "Summary": {...}}."""
    return {name: list(value) if isinstance(value, Iterator) else value
            for name, value in inventory_stream(inv).items()}


def inventory_stream(inv: Inventory) -> dict[str, Any]:
    """The inventory document with its key records made one at a time, for `write`."""
    return {
        "Keys": (inventory_key(key, inv.generated_at) for key in inv.keys),
        "Errors": [inventory_error(error) for error in inv.errors],
        "AccountFindings": [
            {"AccountId": f.account_id, "Rule": f.finding.rule, "Reason": f.finding.reason,
             "Since": timestamp(f.finding.since)}
            for f in inv.account_findings
        ],
        "Summary": inventory_summary(inv),
    }


def inventory_key(key: InventoryKey, now: datetime) -> dict[str, Any]:
    """One key record; `now` is the run's time, from which AgeDays is counted."""
    last = key.last_used
    return {
        "AccountId": key.account_id,
        "UserName": key.user_name,
        "UserCreateDate": timestamp(key.user_create_date),
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": timestamp(key.create_date),
        "AgeDays": age_days(key.create_date, now),
        "LastUsedDate": timestamp(last.date) if last else None,
        "LastUsedService": last.service if last else None,
        "LastUsedRegion": last.region if last else None,
        "Findings": [f.rule for f in key.findings],
        "FindingDetails": [{"Rule": f.rule, "Reason": f.reason, "Since": timestamp(f.since)}
                           for f in key.findings],
    }


def inventory_error(error: InventoryError) -> dict[str, Any]:
    """One Errors member."""
    return {
        "AccountId": error.account_id,
        "UserName": error.user_name,
        "AccessKeyId": error.access_key_id,
        "Operation": error.operation,
        "Code": error.code,
        "Message": error.message,
    }


def inventory_summary(inv: Inventory) -> dict[str, Any]:
    """Counts, findings by rule, users deleted during the run, and whether it is complete."""
    keys_by_account: dict[str, int] = {}
    for key in inv.keys:
        keys_by_account[key.account_id] = keys_by_account.get(key.account_id, 0) + 1
    active = sum(1 for key in inv.keys if key.active)
    return {
        "Accounts": len(inv.accounts),
        "Users": inv.users,
        "Keys": len(inv.keys),
        "Active": active,
        "Inactive": len(inv.keys) - active,
        "Findings": inv.findings,
        "FindingsByRule": count_by_rule(inv.keys, inv.account_findings),
        "DeletedDuringRun": [
            {"AccountId": d.account_id, "UserName": d.user_name, "AccessKeyId": d.access_key_id}
            for d in inv.deleted
        ],
        "Complete": inv.complete,
        "LastUsedChecked": inv.last_used_checked,
        "GeneratedAt": timestamp(inv.generated_at),
        "Thresholds": {
            "MaxKeyAge": inv.thresholds.max_key_age,
            "MaxUnused": inv.thresholds.max_unused,
            "MaxInactive": inv.thresholds.max_inactive,
        },
        "ByAccount": [
            {"AccountId": a.account_id, "Users": a.users,
             "Keys": keys_by_account.get(a.account_id, 0),
             "RootAccessKeysPresent": a.root_keys_present, "Listed": a.listed}
            for a in inv.accounts
        ],
    }


def inventory_rows(inv: Inventory,
                   columns: Sequence[str] = INVENTORY_COLUMNS) -> Iterator[list[Any]]:
    """One row per key, cells in `columns` order (CSV and table output), made one at a time."""
    for key in inv.keys:
        record = inventory_key(key, inv.generated_at)
        record["Findings"] = " ".join(record["Findings"])
        yield [record[column] for column in columns]


# --- mail ----------------------------------------------------------------------------------


def delivery(sent: Delivery) -> dict[str, Any]:
    """What email.send reports: the transport, the server's answer, and what was sent."""
    return {
        "Transport": sent.transport,
        "MessageId": sent.message_id,
        "Recipients": list(sent.recipients),
        "Subject": sent.subject,
        "Detail": sent.detail,
        "Attachments": list(sent.attachments),
    }
