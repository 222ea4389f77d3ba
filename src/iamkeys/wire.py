"""The one adapter from boto3 response dictionaries to domain objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import AwsError
from .model import AccessKey, LastUsed, Page, User


def utc(value: Any) -> datetime:
    """A botocore timestamp as an aware UTC datetime."""
    if not isinstance(value, datetime):
        raise AwsError("InvalidResponse", f"expected a timestamp, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def access_key(item: Mapping[str, Any], user_name: str | None = None) -> AccessKey:
    """An AccessKeyMetadata member."""
    try:
        return AccessKey(
            user_name=str(item.get("UserName") or user_name or ""),
            access_key_id=str(item["AccessKeyId"]),
            status=str(item["Status"]),
            create_date=utc(item["CreateDate"]),
        )
    except KeyError as e:
        raise AwsError("InvalidResponse", f"access key metadata without {e.args[0]}") from e


def page(response: Mapping[str, Any], user_name: str | None = None) -> Page:
    """A ListAccessKeys response; a truncated page must carry a Marker."""
    keys = tuple(access_key(item, user_name) for item in response.get("AccessKeyMetadata", []))
    truncated = bool(response.get("IsTruncated", False))
    marker = response.get("Marker") if truncated else None
    if truncated and not marker:
        raise AwsError("InvalidResponse", "IsTruncated is true but the response has no Marker")
    return Page(keys=keys, is_truncated=truncated, marker=marker)


def user(item: Mapping[str, Any]) -> User:
    """A ListUsers member."""
    try:
        return User(
            user_name=str(item["UserName"]),
            user_id=str(item.get("UserId", "")),
            arn=str(item.get("Arn", "")),
            path=str(item.get("Path", "/")),
            create_date=utc(item["CreateDate"]),
        )
    except KeyError as e:
        raise AwsError("InvalidResponse", f"user without {e.args[0]}") from e


def last_used(response: Mapping[str, Any]) -> LastUsed:
    """A GetAccessKeyLastUsed response; IAM says `N/A` for a key never used."""
    data = response.get("AccessKeyLastUsed", {})
    date = data.get("LastUsedDate")
    return LastUsed(
        date=utc(date) if date is not None else None,
        service=_known(data.get("ServiceName")),
        region=_known(data.get("Region")),
    )


def _known(value: Any) -> str | None:
    """IAM's `N/A` (never used) as None."""
    return None if value in (None, "", "N/A") else str(value)
