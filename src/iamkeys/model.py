"""The domain: plain frozen objects that renderers, findings and mail work on.

Nothing here knows about boto3 dictionaries; `wire.py` builds these from AWS responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key's metadata, as ListAccessKeys returns it (never its secret)."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime

    @property
    def active(self) -> bool:
        """Whether the key can sign requests."""
        return self.status == "Active"


@dataclass(frozen=True, slots=True)
class User:
    """An IAM user, as ListUsers returns it."""

    user_name: str
    user_id: str
    arn: str
    path: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class LastUsed:
    """GetAccessKeyLastUsed's answer; `date` is None for a key never used."""

    date: datetime | None
    service: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One ListAccessKeys response: keys in server order, and where to continue."""

    keys: tuple[AccessKey, ...]
    is_truncated: bool
    marker: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    """The List Access Keys action's result for one partition."""

    partition: str
    regions: tuple[str, ...]
    keys: tuple[AccessKey, ...]
    is_truncated: bool
    marker: str | None
    raw_pages: tuple[bytes, ...] = field(default=(), repr=False)
    pages: int = 1
