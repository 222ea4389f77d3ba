"""The one adapter from boto3 response dictionaries to domain objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .aws import SessionCredentials
from .errors import AwsError
from .model import AccessKey, Caller, LastUsed, OrgAccount, Page, User, UsersPage


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


def _required(response: Mapping[str, Any], name: str, operation: str) -> Any:
    """A member the API always sends; a body that parsed without it was not the API's answer.

    A list missing from a page would otherwise read as an empty page: keys silently lost.
    """
    if name not in response:
        raise AwsError("InvalidResponse", f"{operation} response without {name}")
    return response[name]


def page(response: Mapping[str, Any], user_name: str | None = None) -> Page:
    """A ListAccessKeys response; a truncated page must carry a Marker."""
    members = _required(response, "AccessKeyMetadata", "ListAccessKeys")
    keys = tuple(access_key(item, user_name) for item in members)
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
    data = _required(response, "AccessKeyLastUsed", "GetAccessKeyLastUsed")
    date = data.get("LastUsedDate")
    return LastUsed(
        date=utc(date) if date is not None else None,
        service=_known(data.get("ServiceName")),
        region=_known(data.get("Region")),
    )


def _known(value: Any) -> str | None:
    """IAM's `N/A` (never used) as None."""
    return None if value in (None, "", "N/A") else str(value)


# --- inventory (issue 4) -------------------------------------------------------------------


def caller(response: Mapping[str, Any]) -> Caller:
    """An STS GetCallerIdentity response; the partition is the ARN's second field."""
    arn = str(response.get("Arn", ""))
    parts = arn.split(":")
    account_id = str(response.get("Account", ""))
    if len(parts) < 5 or not parts[1] or not account_id:
        raise AwsError("InvalidResponse", f"GetCallerIdentity returned no account or ARN: {arn!r}")
    return Caller(account_id=account_id, arn=arn, partition=parts[1])


def users_page(response: Mapping[str, Any]) -> UsersPage:
    """A ListUsers response; a truncated page must carry a Marker."""
    users = tuple(user(item) for item in _required(response, "Users", "ListUsers"))
    truncated = bool(response.get("IsTruncated", False))
    marker = response.get("Marker") if truncated else None
    if truncated and not marker:
        raise AwsError("InvalidResponse", "IsTruncated is true but the response has no Marker")
    return UsersPage(users=users, is_truncated=truncated, marker=marker)


def org_accounts(response: Mapping[str, Any]) -> tuple[OrgAccount, ...]:
    """An Organizations ListAccounts page.

    AWS is replacing `Status` (ACTIVE | SUSPENDED | PENDING_CLOSURE) with `State`; either works.
    """
    try:
        return tuple(
            OrgAccount(account_id=str(item["Id"]), name=str(item.get("Name", "")),
                       status=str(item.get("State") or item.get("Status") or ""))
            for item in _required(response, "Accounts", "ListAccounts")
        )
    except KeyError as e:
        raise AwsError("InvalidResponse", f"account without {e.args[0]}") from e


def root_keys_present(response: Mapping[str, Any]) -> bool:
    """GetAccountSummary's AccountAccessKeysPresent (0 or 1) as a bool."""
    summary = response.get("SummaryMap", {})
    if "AccountAccessKeysPresent" not in summary:
        raise AwsError("InvalidResponse", "GetAccountSummary without AccountAccessKeysPresent")
    value = summary["AccountAccessKeysPresent"]
    if value not in (0, 1, "0", "1", True, False):
        raise AwsError("InvalidResponse", f"AccountAccessKeysPresent is {value!r}, not 0 or 1")
    return value in (1, "1", True)


def assumed_credentials(response: Mapping[str, Any]) -> SessionCredentials:
    """STS AssumeRole's Credentials."""
    try:
        data = response["Credentials"]
        return SessionCredentials(access_key_id=str(data["AccessKeyId"]),
                                  secret_access_key=str(data["SecretAccessKey"]),
                                  session_token=str(data["SessionToken"]))
    except KeyError as e:
        raise AwsError("InvalidResponse", f"AssumeRole returned no {e.args[0]}") from e


def timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as AWS sends it (`2016-12-01T22:19:58Z`), as aware UTC.

    A botocore timestamp parser: `datetime.fromisoformat` is ~20 times faster than dateutil,
    which botocore uses by default; anything else (epoch seconds, RFC 822) goes to botocore's.
    """
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        from botocore.utils import parse_timestamp

        parsed = parse_timestamp(text)
    return utc(parsed)


# --- remediation (issue 10) ----------------------------------------------------------------


def user_tags(response: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """A ListUserTags page: its tags by key, and the marker of the next page (None: last)."""
    tags: dict[str, str] = {}
    for item in _required(response, "Tags", "ListUserTags"):
        try:
            tags[str(item["Key"])] = str(item.get("Value", ""))
        except (KeyError, TypeError, AttributeError) as e:
            raise AwsError("InvalidResponse", "ListUserTags returned a tag without Key") from e
    truncated = bool(response.get("IsTruncated", False))
    marker = response.get("Marker") if truncated else None
    if truncated and not marker:
        raise AwsError("InvalidResponse", "IsTruncated is true but the response has no Marker")
    return tags, marker
