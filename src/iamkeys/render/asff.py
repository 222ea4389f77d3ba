"""Findings in the AWS Security Finding Format (ASFF), as BatchImportFindings takes them.

One finding per (key, rule) and per account finding, with every top-level attribute Security Hub
requires: AwsAccountId, CreatedAt, Description, GeneratorId, Id, ProductArn, Resources,
SchemaVersion, Severity, Title, Types, UpdatedAt ("Required top-level ASFF attributes",
https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html).
The key is an `AwsIamAccessKey` resource ("AwsIam resources in ASFF",
https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resourcedetails-awsiam.html).

`Id` is the same on every run for the same account, key and rule, so that importing again
updates the finding instead of adding one; Security Hub keeps the update whose `UpdatedAt` is
later ("Determining whether to create or update a finding",
https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html).
Findings resolved since the baseline (`Changes.ResolvedFindings`) come with Compliance PASSED
and RecordState ARCHIVED. ProductArn is the account's default product: BatchImportFindings
takes a finding only from the account it names in AwsAccountId.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .. import serialize
from ..findings import SEVERITY, TITLES
from ..model import AccountFinding, Finding, FindingChange, Inventory, InventoryKey

SCHEMA_VERSION = "2018-10-08"
# ASFF types: namespace/category/classifier ("Types taxonomy for ASFF").
BEST_PRACTICES = "Software and Configuration Checks/AWS Security Best Practices"
CIS = ("Software and Configuration Checks/Industry and Regulatory Standards/"
       "CIS AWS Foundations Benchmark")
LABELS = {4: "CRITICAL", 3: "HIGH", 2: "MEDIUM", 1: "LOW"}
RESOLVED_LABEL = "INFORMATIONAL"
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 1024
REMEDIATION = {
    "IAM.3": "Rotate the key: create a new one, move its users to it, then deactivate and "
             "delete this one.",
    "IAM.22": "Deactivate the unused key, then delete it when nothing breaks.",
    "CIS.1.13": "Keep one active key per user: deactivate the key no longer in use.",
    "CIS.1.11": "Delete keys created with the user and never used.",
    "STALE_INACTIVE": "Delete the inactive key.",
    "IAM.4": "Delete the root user's access keys; use IAM users or roles instead.",
}


def finding_id(account_id: str, access_key_id: str | None, rule: str) -> str:
    """The finding's Id: the same on every run for the account, key (or the root) and rule."""
    where = f"access-key/{access_key_id}" if access_key_id else "root"
    return f"iamkeys/{account_id}/{where}/{rule}"


def product_arn(partition: str, region: str, account_id: str) -> str:
    """The account's default product in Security Hub (findings from the account itself)."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def findings(inv: Inventory, *, region: str, partition: str) -> list[dict[str, Any]]:
    """Every finding of the inventory, then those resolved since its baseline, in ASFF."""
    place = _Place(region, partition, serialize.timestamp(inv.generated_at) or "")
    found = [_key_finding(place, key, f) for key in inv.keys for f in key.findings]
    found += [_account_finding(place, f) for f in inv.account_findings]
    if inv.changes is not None:
        found += [_resolved(place, change) for change in inv.changes.resolved_findings]
    return found


def accounts(found: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The findings grouped by AwsAccountId, accounts in order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for finding in found:
        grouped.setdefault(finding["AwsAccountId"], []).append(finding)
    yield from sorted(grouped.items())


class _Place:
    """Where the findings go and when: partition, region, the run's time."""

    __slots__ = ("partition", "region", "updated")

    def __init__(self, region: str, partition: str, updated: str) -> None:
        self.region = region
        self.partition = partition
        self.updated = updated

    def base(self, account_id: str, access_key_id: str | None, rule: str,
             created: datetime | None) -> dict[str, Any]:
        """The attributes every finding has, for the account, key and rule."""
        return {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": finding_id(account_id, access_key_id, rule),
            "ProductArn": product_arn(self.partition, self.region, account_id),
            "GeneratorId": f"iamkeys/{rule}",
            "AwsAccountId": account_id,
            "Types": _types(rule),
            "CreatedAt": min(serialize.timestamp(created) or self.updated, self.updated),
            "UpdatedAt": self.updated,
        }


def _key_finding(place: _Place, key: InventoryKey, finding: Finding) -> dict[str, Any]:
    """One rule that fired for one key: an active, failed finding."""
    title = f"{finding.rule} {TITLES.get(finding.rule, finding.rule)}: {key.user_name} " \
            f"{key.access_key_id}"
    detail = (f"{finding.reason}. User {key.user_name}, access key {key.access_key_id} "
              f"({key.status}, created {serialize.timestamp(key.create_date)}) in account "
              f"{key.account_id}.")
    fields = {"iamkeys/Rule": finding.rule, "iamkeys/UserName": key.user_name}
    if key.owner:
        fields["iamkeys/Owner"] = key.owner
    carried = key.carried_over or finding.carried_over
    if carried is not None:
        fields["iamkeys/CarriedOver"] = carried.reason
    return {
        **place.base(key.account_id, key.access_key_id, finding.rule, finding.since),
        **_active(finding.rule, title, detail),
        "ProductFields": fields,
        "Resources": [_key_resource(place, key.account_id, key.user_name, key.access_key_id,
                                    key.status, key.create_date)],
    }


def _account_finding(place: _Place, found: AccountFinding) -> dict[str, Any]:
    """A finding about an account as a whole (IAM.4, root access keys)."""
    finding = found.finding
    title = f"{finding.rule} {TITLES.get(finding.rule, finding.rule)}: {found.account_id}"
    return {
        **place.base(found.account_id, None, finding.rule, finding.since),
        **_active(finding.rule, title, f"{finding.reason}, in account {found.account_id}."),
        "ProductFields": {"iamkeys/Rule": finding.rule},
        "Resources": [_account_resource(place, found.account_id)],
    }


def _resolved(place: _Place, change: FindingChange) -> dict[str, Any]:
    """A finding gone since the baseline: passed, and archived in Security Hub."""
    rule = change.rule
    who = (f"{change.user_name} {change.access_key_id}" if change.access_key_id
           else change.account_id)
    severity = {"Label": RESOLVED_LABEL, "Original": str(SEVERITY.get(rule, 1))}
    finding = {
        **place.base(change.account_id, change.access_key_id, rule, change.since),
        "Title": _cut(f"{rule} {TITLES.get(rule, rule)}: {who} (resolved)", TITLE_LIMIT),
        "Description": _cut(f"Resolved since the last run; it was: {change.reason}.",
                            DESCRIPTION_LIMIT),
        "Severity": severity,
        "Compliance": {"Status": "PASSED"},
        "RecordState": "ARCHIVED",
        "FindingProviderFields": {"Types": _types(rule), "Severity": severity},
        "ProductFields": {"iamkeys/Rule": rule},
    }
    if change.access_key_id and change.user_name:
        finding["Resources"] = [_key_resource(place, change.account_id, change.user_name,
                                              change.access_key_id)]
    else:
        finding["Resources"] = [_account_resource(place, change.account_id)]
    return finding


def _active(rule: str, title: str, description: str) -> dict[str, Any]:
    """Title, description, severity and state of a finding that still holds."""
    severity = {"Label": LABELS.get(SEVERITY.get(rule, 1), "LOW"),
                "Original": str(SEVERITY.get(rule, 1))}
    return {
        "Title": _cut(title, TITLE_LIMIT),
        "Description": _cut(description, DESCRIPTION_LIMIT),
        "Severity": severity,
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "Remediation": {"Recommendation": {"Text": REMEDIATION.get(rule, "Review the key.")}},
        # Severity and Types of an existing finding change only through FindingProviderFields.
        "FindingProviderFields": {"Types": _types(rule), "Severity": severity},
    }


def _types(rule: str) -> list[str]:
    """The finding's ASFF types: CIS controls, or AWS security best practices."""
    return [CIS if rule.startswith("CIS.") else BEST_PRACTICES]


def _key_resource(place: _Place, account_id: str, user_name: str, access_key_id: str,
                  status: str | None = None, created: datetime | None = None) -> dict[str, Any]:
    """The access key as an AwsIamAccessKey resource (Id as GuardDuty names access keys)."""
    details: dict[str, Any] = {"AccessKeyId": access_key_id, "AccountId": account_id,
                               "PrincipalName": user_name, "PrincipalType": "IAMUser"}
    if status is not None:
        details["Status"] = status
    if created is not None:
        details["CreatedAt"] = serialize.timestamp(created)
    return {"Type": "AwsIamAccessKey", "Id": f"AWS::IAM::AccessKey:{access_key_id}",
            "Partition": place.partition, "Region": place.region,
            "Details": {"AwsIamAccessKey": details}}


def _account_resource(place: _Place, account_id: str) -> dict[str, Any]:
    """The account as a resource (Security Hub's own form for account-level findings)."""
    return {"Type": "AwsAccount", "Id": f"AWS::::Account:{account_id}",
            "Partition": place.partition, "Region": place.region}


def _cut(text: str, limit: int) -> str:
    """`text` within Security Hub's length limit."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
