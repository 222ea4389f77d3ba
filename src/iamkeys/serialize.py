"""The one place that turns domain objects into the JSON documents iamkeys prints.

The List Access Keys shape is the seed's: `AccessKeyMetadata` members with AccessKeyId,
CreateDate, Status, UserName in that order, then IsTruncated, then Marker when truncated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .model import AccessKey, Listing

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
