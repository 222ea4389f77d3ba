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
from .model import (
    AccessKey,
    CarriedOver,
    Changes,
    Delivery,
    Finding,
    FindingChange,
    Inventory,
    InventoryError,
    InventoryKey,
    KeyAction,
    KeyChange,
    Listing,
    RemediationPlan,
    SecurityHubImport,
    SkippedKey,
)

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
    "Summary": {...}}, and "Changes" when compared with a baseline."""
    return {name: list(value) if isinstance(value, Iterator) else value
            for name, value in inventory_stream(inv).items()}


def inventory_stream(inv: Inventory) -> dict[str, Any]:
    """The inventory document with its key records made one at a time, for `write`."""
    owners = bool(inv.owner_tags)
    document: dict[str, Any] = {
        "Keys": (inventory_key(key, inv.generated_at, owners=owners) for key in inv.keys),
        "Errors": [inventory_error(error) for error in inv.errors],
        "AccountFindings": [
            {"AccountId": f.account_id, **finding_detail(f.finding)}
            for f in inv.account_findings
        ],
        "Summary": inventory_summary(inv),
    }
    if inv.changes is not None:
        document["Changes"] = changes(inv.changes)
    return document


def inventory_key(key: InventoryKey, now: datetime, *, owners: bool = False) -> dict[str, Any]:
    """One key record; `now` is the run's time, from which AgeDays is counted.

    With `owners` (an inventory with --owner-tag), Owner and OwnerProblem follow; a record
    carried over from the baseline ends with CarriedOver.
    """
    last = key.last_used
    record: dict[str, Any] = {
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
        "FindingDetails": [finding_detail(f) for f in key.findings],
    }
    if owners:
        record["Owner"] = key.owner
        record["OwnerProblem"] = key.owner_problem
    if key.carried_over is not None:
        record["CarriedOver"] = carried_over(key.carried_over)
    return record


def finding_detail(finding: Finding) -> dict[str, Any]:
    """One FindingDetails (or AccountFindings) member: rule, reason, since when reported."""
    detail: dict[str, Any] = {"Rule": finding.rule, "Reason": finding.reason,
                              "Since": timestamp(finding.since)}
    if finding.carried_over is not None:
        detail["CarriedOver"] = carried_over(finding.carried_over)
    return detail


def carried_over(mark: CarriedOver) -> dict[str, Any]:
    """Why a record is the baseline's, and when it was last read."""
    return {"Reason": mark.reason, "ReadAt": timestamp(mark.read_at)}


def changes(found: Changes) -> dict[str, Any]:
    """The Changes member (and `iamkeys diff`'s output): what changed since the baseline."""
    return {
        "Baseline": timestamp(found.baseline_at),
        "NewKeys": [key_change(k) for k in found.new_keys],
        "RemovedKeys": [key_change(k) for k in found.removed_keys],
        "StatusChanged": [
            {"AccountId": c.account_id, "UserName": c.user_name,
             "AccessKeyId": c.access_key_id, "From": c.before, "To": c.after}
            for c in found.status_changed],
        "NewFindings": [finding_change(c) for c in found.new_findings],
        "ResolvedFindings": [finding_change(c) for c in found.resolved_findings],
    }


def key_change(change: KeyChange) -> dict[str, Any]:
    """A new or removed key."""
    return {"AccountId": change.account_id, "UserName": change.user_name,
            "AccessKeyId": change.access_key_id}


def finding_change(change: FindingChange) -> dict[str, Any]:
    """A new or resolved finding (UserName and AccessKeyId null for an account finding)."""
    return {"AccountId": change.account_id, "UserName": change.user_name,
            "AccessKeyId": change.access_key_id, "Rule": change.rule, "Reason": change.reason,
            "Since": timestamp(change.since)}


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
    summary: dict[str, Any] = {
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
    if inv.owner_tags:
        summary["OwnerTags"] = list(inv.owner_tags)
        summary["Unowned"] = inv.unowned
    if inv.changes is not None:
        summary["CarriedOver"] = inv.carried_over
    return summary


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


# --- Security Hub --------------------------------------------------------------------------


def securityhub_import(result: SecurityHubImport) -> dict[str, Any]:
    """What `securityhub-import` reports: findings taken, archived, and each failure named."""
    return {
        "Imported": result.imported,
        "Archived": result.archived,
        "Batches": result.batches,
        "FailedFindings": [
            {"AccountId": f.account_id, "Id": f.finding_id, "ErrorCode": f.code,
             "ErrorMessage": f.message}
            for f in result.failed],
        "Errors": [
            {"AccountId": e.account_id, "Operation": e.operation, "Code": e.code,
             "Message": e.message, "Findings": e.findings}
            for e in result.errors],
        "Complete": result.complete,
    }


# --- remediation ---------------------------------------------------------------------------

# The table's columns: what each action does and why, then (once applied) what became of it.
PLAN_COLUMNS = ("AccountId", "UserName", "AccessKeyId", "Action", "Rules", "Reason")
RESULT_COLUMNS = ("Result", "ResultReason")
SKIPPED_COLUMNS = ("AccountId", "UserName", "AccessKeyId", "Action", "Rules", "Reason")


def plan(planned: RemediationPlan) -> dict[str, Any]:
    """The plan document: {"Actions": [...], "Skipped": [...], "Summary": {...}, "Applied": b};
    applied, each action carries its Result and ResultReason."""
    return {
        "Actions": [key_action(a, planned.applied) for a in planned.actions],
        "Skipped": [skipped_key(s) for s in planned.skipped],
        "Summary": plan_summary(planned),
        "Applied": planned.applied,
    }


def key_action(action: KeyAction, applied: bool) -> dict[str, Any]:
    """One Actions member; Status and LastUsedDate are what the live re-read checks."""
    record: dict[str, Any] = {
        "AccountId": action.account_id,
        "UserName": action.user_name,
        "AccessKeyId": action.access_key_id,
        "Action": action.action,
        "Rules": list(action.rules),
        "Reason": action.reason,
        "Status": action.status,
        "LastUsedDate": timestamp(action.last_used),
    }
    if applied:
        record["Result"] = action.result
        record["ResultReason"] = action.result_reason
    return record


def skipped_key(skipped: SkippedKey) -> dict[str, Any]:
    """One Skipped member."""
    return {
        "AccountId": skipped.account_id,
        "UserName": skipped.user_name,
        "AccessKeyId": skipped.access_key_id,
        "Action": skipped.action,
        "Rules": list(skipped.rules),
        "Reason": skipped.reason,
    }


def plan_summary(planned: RemediationPlan) -> dict[str, Any]:
    """Counts by action (and by result once applied), the policy, and where it was journaled."""
    policy = planned.policy
    return {
        "PlanId": planned.plan_id,
        "Actions": len(planned.actions),
        "Deactivate": planned.count("deactivate"),
        "Delete": planned.count("delete"),
        "Reactivate": planned.count("reactivate"),
        "Skipped": len(planned.skipped),
        "Results": planned.results() if planned.applied else None,
        "GeneratedAt": timestamp(planned.generated_at),
        "InventoryGeneratedAt": timestamp(planned.inventory_generated_at),
        "CallerArn": planned.caller_arn,
        "Journal": planned.journal,
        "Policy": {
            "Deactivate": list(policy.deactivate),
            "DeleteInactiveAfter": policy.delete_inactive_after,
            "Grace": policy.grace,
            "ExemptTag": policy.exempt_tag,
            "MaxActions": policy.max_actions,
        },
    }


def plan_rows(planned: RemediationPlan) -> tuple[tuple[str, ...], list[list[Any]]]:
    """The columns and one row per action (with its result once applied), for tables."""
    columns = PLAN_COLUMNS + (RESULT_COLUMNS if planned.applied else ())
    rows = []
    for action in planned.actions:
        record = key_action(action, planned.applied)
        record["Rules"] = " ".join(record["Rules"])
        rows.append([record[column] for column in columns])
    return columns, rows


def skipped_rows(planned: RemediationPlan) -> list[list[Any]]:
    """One row per skipped key, in SKIPPED_COLUMNS order."""
    rows = []
    for skipped in planned.skipped:
        record = skipped_key(skipped)
        record["Rules"] = " ".join(record["Rules"])
        rows.append([record[column] for column in SKIPPED_COLUMNS])
    return rows
