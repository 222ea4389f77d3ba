"""Findings as OCSF Detection Findings (class 2004), the shape Prowler emits for SIEMs.

OCSF 1.5.0, https://schema.ocsf.io/1.5.0/classes/detection_finding: the class requires
activity_id, category_uid (2, Findings), class_uid (2004), finding_info (with its required
title and uid), metadata (with product and the schema version), severity_id, time and type_uid
(class_uid * 100 + activity_id); the `cloud` profile requires cloud.provider. Times are
timestamp_t, milliseconds since the epoch, with the `datetime` profile's *_dt twins.
Prowler's mapping (prowler/lib/outputs/ocsf/ocsf.py, through py-ocsf-models) is followed for
the rest: status_code FAIL/PASS, resources[] with the cloud partition and region.

`finding_info.uid` is the ASFF Id, so the same finding has one identifier in both formats.
Resolved findings are Close activities with status Resolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import aws, serialize
from ..findings import SEVERITY, TITLES
from ..model import FindingChange, Inventory, InventoryKey
from .asff import finding_id

OCSF_VERSION = "1.5.0"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_CREATE, ACTIVITY_CLOSE = 1, 3
STATUS_NEW, STATUS_RESOLVED = 1, 4
# OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
SEVERITY_IDS = {4: 5, 3: 4, 2: 3, 1: 2}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
AWS_ACCOUNT_TYPE = 10  # OCSF account type_id: AWS Account
PRODUCT_VERSION = aws.USER_AGENT.partition("/")[2]  # iamkeys/0.1.0


def findings(inv: Inventory, *, region: str, partition: str) -> list[dict[str, Any]]:
    """Every finding of the inventory, then those resolved since its baseline, in OCSF."""
    when = inv.generated_at
    events = [_event(_Finding(key.account_id, key.user_name, key.access_key_id, f.rule,
                              f.reason, f.since, key), when, region, partition)
              for key in inv.keys for f in key.findings]
    events += [_event(_Finding(f.account_id, None, None, f.finding.rule, f.finding.reason,
                               f.finding.since), when, region, partition)
               for f in inv.account_findings]
    if inv.changes is not None:
        events += [_event(_Finding.of_resolved(change), when, region, partition)
                   for change in inv.changes.resolved_findings]
    return events


class _Finding:
    """What one event says: where, which rule and why, and whether it still holds."""

    __slots__ = ("access_key_id", "account_id", "key", "reason", "resolved", "rule", "since",
                 "user_name")

    def __init__(self, account_id: str, user_name: str | None, access_key_id: str | None,
                 rule: str, reason: str, since: datetime | None,
                 key: InventoryKey | None = None, resolved: bool = False) -> None:
        self.account_id = account_id
        self.user_name = user_name
        self.access_key_id = access_key_id
        self.rule = rule
        self.reason = reason
        self.since = since
        self.key = key
        self.resolved = resolved

    @classmethod
    def of_resolved(cls, change: FindingChange) -> _Finding:
        """A finding gone since the baseline."""
        return cls(change.account_id, change.user_name, change.access_key_id, change.rule,
                   change.reason, change.since, resolved=True)


def _event(f: _Finding, when: datetime, region: str, partition: str) -> dict[str, Any]:
    """One Detection Finding event."""
    activity = ACTIVITY_CLOSE if f.resolved else ACTIVITY_CREATE
    severity = 1 if f.resolved else SEVERITY_IDS.get(SEVERITY.get(f.rule, 1), 2)
    created = f.since or when
    who = f"{f.user_name} {f.access_key_id}" if f.access_key_id else f.account_id
    return {
        "activity_id": activity,
        "activity_name": "Close" if f.resolved else "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"Detection Finding: {'Close' if f.resolved else 'Create'}",
        "time": _millis(when),
        "time_dt": serialize.timestamp(when),
        "severity_id": severity,
        "severity": SEVERITY_NAMES[severity],
        "status_id": STATUS_RESOLVED if f.resolved else STATUS_NEW,
        "status": "Resolved" if f.resolved else "New",
        "status_code": "PASS" if f.resolved else "FAIL",
        "status_detail": f.reason,
        "message": f"{'Resolved: ' if f.resolved else ''}{f.reason}",
        "finding_info": {
            "uid": finding_id(f.account_id, f.access_key_id, f.rule),
            "title": f"{f.rule} {TITLES.get(f.rule, f.rule)}: {who}",
            "desc": f.reason,
            "types": [f.rule],
            "created_time": _millis(created),
            "created_time_dt": serialize.timestamp(created),
        },
        "metadata": {
            "version": OCSF_VERSION,
            "event_code": f.rule,
            "product": {"name": "iamkeys", "uid": "iamkeys", "vendor_name": "iamkeys",
                        "version": PRODUCT_VERSION},
            "profiles": ["cloud", "datetime"],
        },
        "cloud": {
            "provider": "aws",
            "region": region,
            "account": {"uid": f.account_id, "type_id": AWS_ACCOUNT_TYPE, "type": "AWS Account"},
        },
        "resources": [_resource(f, region, partition)],
    }


def _resource(f: _Finding, region: str, partition: str) -> dict[str, Any]:
    """The access key (or the account) the finding is about."""
    if f.access_key_id is None:
        return {"uid": f"AWS::::Account:{f.account_id}", "name": f.account_id,
                "type": "AwsAccount", "cloud_partition": partition, "region": region,
                "group": {"name": "iam"}}
    resource: dict[str, Any] = {
        "uid": f"AWS::IAM::AccessKey:{f.access_key_id}", "name": f.access_key_id,
        "type": "AwsIamAccessKey", "cloud_partition": partition, "region": region,
        "group": {"name": "iam"},
        "data": {"details": {"UserName": f.user_name, "AccountId": f.account_id}},
    }
    if f.key is not None:
        resource["data"]["details"].update(
            Status=f.key.status, CreateDate=serialize.timestamp(f.key.create_date))
        if f.key.owner:
            resource["owner"] = {"email_addr": f.key.owner}
    return resource


def _millis(moment: datetime) -> int:
    """OCSF timestamp_t: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)
