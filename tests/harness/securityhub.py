"""BatchImportFindings as Security Hub checks it, before moto (which only wants Resources).

Security Hub refuses, one finding at a time in FailedFindings, a finding that lacks a required
top-level ASFF attribute ("Required top-level ASFF attributes",
https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html), and,
for the account's default product, a finding whose AwsAccountId or ProductArn is not the calling
account ("BatchImportFindings for finding providers",
https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html).
It takes at most 100 findings a call. The error codes and messages here are the harness's own
wording of those rules; moto stores whatever remains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REQUIRED = ("AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn",
            "Resources", "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt")
MAX_BATCH = 100
_PRODUCT_ARN_RE = re.compile(r"arn:[a-z-]+:securityhub:([a-z0-9-]+):(\d{12}):product/(.+)")


def refusal(finding: Any, caller_account: str) -> tuple[str, str] | None:
    """(ErrorCode, ErrorMessage) when Security Hub would refuse the finding, else None."""
    if not isinstance(finding, Mapping):
        return ("InvalidInput", "Finding does not adhere to Amazon Finding Format. data "
                                "should be object")
    for name in REQUIRED:
        if finding.get(name) in (None, "", []):
            return ("InvalidInput", "Finding does not adhere to Amazon Finding Format. data "
                                    f"should have required property '{name}'")
    if finding.get("SchemaVersion") != "2018-10-08":
        return ("InvalidInput", "Finding does not adhere to Amazon Finding Format. "
                                "data.SchemaVersion should be equal to one of the allowed values")
    match = _PRODUCT_ARN_RE.fullmatch(str(finding["ProductArn"]))
    if match is None:
        return ("InvalidInput", f"Invalid ProductArn {finding['ProductArn']!r}")
    product_account, product = match.group(2), match.group(3)
    if product == f"{product_account}/default" and (
            product_account != caller_account or finding["AwsAccountId"] != caller_account):
        return ("AccessDeniedException",
                f"Account {caller_account} cannot import findings for account "
                f"{finding['AwsAccountId']} with product {finding['ProductArn']}")
    return None


def merged(moto_answer: Mapping[str, Any], refused: Iterable[Mapping[str, str]]) -> dict[str, Any]:
    """moto's BatchImportFindings answer with the findings refused before it added."""
    failed = [*refused, *moto_answer.get("FailedFindings", [])]
    return {"FailedCount": len(failed), "SuccessCount": int(moto_answer.get("SuccessCount", 0)),
            "FailedFindings": failed}
