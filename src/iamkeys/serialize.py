"""The one place that turns domain objects into the JSON documents iamkeys prints.

The List Access Keys shape is the seed's: `AccessKeyMetadata` members with AccessKeyId,
CreateDate, Status, UserName in that order, then IsTruncated, then Marker when truncated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .model import (
    AccessKey,
    AccountFinding,
    AccountScan,
    DeletedDuringRun,
    Finding,
    Inventory,
    InventoryError,
    InventoryKey,
    LastUsed,
    Listing,
)

if TYPE_CHECKING:
    from .mail import Delivery

KEY_FIELDS = ("AccessKeyId", "CreateDate", "Status", "UserName")


def timestamp(value: datetime | None) -> str | None:
    """UTC as YYYY-MM-DDTHH:MM:SSZ (seconds precision, like the AWS examples)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_metadata(key: AccessKey) -> dict[str, Any]:
    """One AccessKeyMetadata member, fields in the seed's order."""
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


# --- inventory (issue 4) -------------------------------------------------------------------

INVENTORY_KEY_FIELDS = (
    "AccountId", "UserName", "UserCreateDate", "AccessKeyId", "Status", "CreateDate", "AgeDays",
    "LastUsedDate", "LastUsedService", "LastUsedRegion", "Findings", "FindingDetails",
)
# The flat columns of CSV output (Findings joined by spaces), and the terminal table's subset.
INVENTORY_COLUMNS = INVENTORY_KEY_FIELDS[:-1]
INVENTORY_TABLE_COLUMNS = ("AccountId", "UserName", "AccessKeyId", "Status", "CreateDate",
                           "AgeDays", "LastUsedDate", "LastUsedService", "Findings")
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def inventory(inv: Inventory) -> dict[str, Any]:
    """The inventory document: {"Keys": [...], "Errors": [...], "AccountFindings": [...],
    "Summary": {...}}."""
    return {
        "Keys": [inventory_key(key, inv.generated_at) for key in inv.keys],
        "Errors": [inventory_error(error) for error in inv.errors],
        "AccountFindings": [
            {"AccountId": f.account_id, "Rule": f.finding.rule, "Reason": f.finding.reason}
            for f in inv.account_findings
        ],
        "Summary": inventory_summary(inv),
    }


def inventory_key(key: InventoryKey, now: datetime) -> dict[str, Any]:
    """One key record; `now` is the run's time, from which AgeDays is counted."""
    from .findings import age_days

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
        "FindingDetails": [{"Rule": f.rule, "Reason": f.reason} for f in key.findings],
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
    from .findings import count_by_rule

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
                   columns: Sequence[str] = INVENTORY_COLUMNS) -> list[list[Any]]:
    """One row per key, cells in `columns` order (CSV and table output)."""
    rows = []
    for key in inv.keys:
        record = inventory_key(key, inv.generated_at)
        record["Findings"] = " ".join(record["Findings"])
        rows.append([record[column] for column in columns])
    return rows


def is_inventory(document: Any) -> bool:
    """Whether a parsed JSON document looks like `iamkeys inventory` output."""
    return (isinstance(document, Mapping) and isinstance(document.get("Keys"), list)
            and isinstance(document.get("Summary"), Mapping))


def inventory_from_json(document: Mapping[str, Any]) -> Inventory:
    """Our own inventory JSON back into domain objects; InputError names what is wrong."""
    from .findings import Thresholds

    if not is_inventory(document):
        raise _not_inventory("expected an object with Keys (a list) and Summary (an object)")
    summary = document["Summary"]
    limits = _mapping(summary, "Thresholds")
    errors = tuple(_error_from(item) for item in _list(document, "Errors"))
    failed_lookups = {e.access_key_id for e in errors if e.operation == "GetAccessKeyLastUsed"}
    checked = bool(summary.get("LastUsedChecked", True))
    return Inventory(
        keys=tuple(_key_from(item, checked, failed_lookups) for item in document["Keys"]),
        errors=errors,
        deleted=tuple(_deleted_from(item) for item in _list(summary, "DeletedDuringRun")),
        accounts=tuple(_scan_from(item) for item in _list(summary, "ByAccount")),
        account_findings=tuple(
            AccountFinding(_text(item, "AccountId"),
                           Finding(_text(item, "Rule"), _text(item, "Reason")))
            for item in _list(document, "AccountFindings")),
        generated_at=_date(summary, "GeneratedAt"),
        thresholds=Thresholds(max_key_age=_int(limits, "MaxKeyAge"),
                              max_unused=_int(limits, "MaxUnused"),
                              max_inactive=_int(limits, "MaxInactive")),
        last_used_checked=checked,
    )


def _key_from(item: Any, checked: bool, failed_lookups: set[str | None]) -> InventoryKey:
    """One Keys member."""
    if not isinstance(item, Mapping):
        raise _not_inventory("each Keys member must be an object")
    key_id = _text(item, "AccessKeyId")
    last = None
    if checked and key_id not in failed_lookups:
        last = LastUsed(date=_optional_date(item, "LastUsedDate"),
                        service=_optional_text(item, "LastUsedService"),
                        region=_optional_text(item, "LastUsedRegion"))
    details = item.get("FindingDetails")
    if isinstance(details, list):
        found = tuple(Finding(_text(d, "Rule"), _text(d, "Reason")) for d in details)
    else:
        found = tuple(Finding(str(rule), "") for rule in _list(item, "Findings"))
    return InventoryKey(
        account_id=_text(item, "AccountId"), user_name=_text(item, "UserName"),
        user_create_date=_date(item, "UserCreateDate"), access_key_id=key_id,
        status=_text(item, "Status"), create_date=_date(item, "CreateDate"),
        last_used=last, findings=found)


def _error_from(item: Any) -> InventoryError:
    """One Errors member."""
    return InventoryError(
        account_id=_text(item, "AccountId"), user_name=_optional_text(item, "UserName"),
        operation=_text(item, "Operation"), code=_text(item, "Code"),
        message=_text(item, "Message"), access_key_id=_optional_text(item, "AccessKeyId"))


def _deleted_from(item: Any) -> DeletedDuringRun:
    """One Summary.DeletedDuringRun member."""
    return DeletedDuringRun(account_id=_text(item, "AccountId"),
                            user_name=_text(item, "UserName"),
                            access_key_id=_optional_text(item, "AccessKeyId"))


def _scan_from(item: Any) -> AccountScan:
    """One Summary.ByAccount member."""
    present = item.get("RootAccessKeysPresent") if isinstance(item, Mapping) else None
    return AccountScan(account_id=_text(item, "AccountId"), users=_int(item, "Users"),
                       root_keys_present=None if present is None else bool(present),
                       listed=bool(item.get("Listed", True)))


def _not_inventory(detail: str) -> InputError:
    """The input error for a document that is not our inventory JSON."""
    return InputError("input", f"not an iamkeys inventory document: {detail}")


def _mapping(parent: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A required object member."""
    value = parent.get(name)
    if not isinstance(value, Mapping):
        raise _not_inventory(f"{name} must be an object")
    return value


def _list(parent: Any, name: str) -> list[Any]:
    """A list member; missing means empty."""
    value = parent.get(name, []) if isinstance(parent, Mapping) else None
    if not isinstance(value, list):
        raise _not_inventory(f"{name} must be a list")
    return value


def _text(parent: Any, name: str) -> str:
    """A required string member."""
    value = parent.get(name) if isinstance(parent, Mapping) else None
    if not isinstance(value, str):
        raise _not_inventory(f"{name} must be a string")
    return value


def _optional_text(parent: Mapping[str, Any], name: str) -> str | None:
    """A string member or null."""
    value = parent.get(name)
    if value is not None and not isinstance(value, str):
        raise _not_inventory(f"{name} must be a string or null")
    return value


def _int(parent: Any, name: str) -> int:
    """A required non-negative integer member."""
    value = parent.get(name) if isinstance(parent, Mapping) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _not_inventory(f"{name} must be a non-negative integer")
    return value


def _date(parent: Any, name: str) -> datetime:
    """A required YYYY-MM-DDTHH:MM:SSZ member."""
    value = _optional_date(parent, name)
    if value is None:
        raise _not_inventory(f"{name} must be a date like 2016-12-01T22:19:58Z")
    return value


def _optional_date(parent: Any, name: str) -> datetime | None:
    """A YYYY-MM-DDTHH:MM:SSZ member or null."""
    value = parent.get(name) if isinstance(parent, Mapping) else None
    if value is None:
        return None
    try:
        return datetime.strptime(str(value), _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _not_inventory(f"{name} must be a date like 2016-12-01T22:19:58Z") from None


# --- workflows (issue 3) -----------------------------------------------------------------------


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
