"""Validation of every user-supplied parameter, shared by the CLI, workflow files and Lambda events.

Each validator takes the raw value and returns the normalised one, or raises `InputError` naming
the parameter by its snake_case name (the CLI shows it as `--option-name`). No validator sends a
request; everything here runs before any AWS or mail call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import InputError

# IAM's own model constraints for ListAccessKeys (IAM API Reference, "ListAccessKeys" request
# parameters). `\w` in IAM's pattern is ASCII only, so the class is spelled out.
USER_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}")
MARKER_RE = re.compile(r"[\u0020-\u00FF]{1,320}")
PATH_PREFIX_RE = re.compile(r"/([\u0021-\u007E]{0,510}/)?")
# Region names as botocore's partitions.json spells them (e.g. us-east-1, us-gov-west-1,
# eusc-de-east-1); membership of a partition is checked in aws.py.
REGION_RE = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}")
ACCOUNT_ID_RE = re.compile(r"[0-9]{12}")
ROLE_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")
PROFILE_RE = re.compile(r"[A-Za-z0-9_+=,.@:/-]{1,128}")
# A deliberately plain addr-spec: no display names, comments, quoting or routes, so that nothing an
# address holds can smuggle another recipient or header (RFC 5322 §3.4.1, dot-atom form only).
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

ALL_REGIONS = "*"
OUTPUT_FORMATS = ("json", "table", "csv")
MAX_SUBJECT = 998  # RFC 5322 §2.1.1 line limit


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """The regions asked for: an explicit tuple, or every region of the current partition."""

    names: tuple[str, ...] = ()
    all: bool = False


def user_name(value: str | None, *, name: str = "user_name") -> str | None:
    """An IAM user name, or None when not given."""
    if value is None:
        return None
    if not isinstance(value, str) or not USER_NAME_RE.fullmatch(value):
        raise InputError(name, "must be 1-128 characters of A-Z a-z 0-9 and _+=,.@-")
    return value


def marker(value: str | None, *, name: str = "marker") -> str | None:
    """A pagination marker as returned by IAM, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not MARKER_RE.fullmatch(value):
        raise InputError(name, "must be 1-320 characters in the range U+0020-U+00FF")
    return value


def max_items(value: int | str | None, *, name: str = "max_items") -> int | None:
    """MaxItems: an integer 1-1000, or None to leave it to IAM (100)."""
    return bounded_int(value, name=name, low=1, high=1000)


def bounded_int(value: int | str | None, *, name: str, low: int, high: int) -> int | None:
    """An integer within [low, high]; strings of ASCII digits are accepted (CLI, templates)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(name, f"must be an integer from {low} to {high}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+]?[0-9]{1,9}", text):
            raise InputError(name, f"must be an integer from {low} to {high}")
        value = int(text)
    if not isinstance(value, int) or not low <= value <= high:
        raise InputError(name, f"must be an integer from {low} to {high}")
    return value


def regions(value: str | Iterable[str] | None, *, name: str = "regions") -> RegionSpec | None:
    """A comma-separated region list, or `*`; None when not given (use the default region)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise InputError(name, "must be region names separated by commas, or *")
    cleaned = [item.strip() for item in items]
    if cleaned == [ALL_REGIONS]:
        return RegionSpec(all=True)
    if not cleaned or any(not item for item in cleaned):
        raise InputError(name, "must be region names separated by commas (no empty items), or *")
    for item in cleaned:
        if not REGION_RE.fullmatch(item):
            raise InputError(name, f"{_shown(item)} is not a region name (like us-east-1)")
    return RegionSpec(names=tuple(dict.fromkeys(cleaned)))


def output(value: str | None, *, choices: tuple[str, ...] = OUTPUT_FORMATS,
           name: str = "output") -> str:
    """An output format from `choices`; the first one is the default."""
    if value is None:
        return choices[0]
    if value not in choices:
        raise InputError(name, f"must be one of {', '.join(choices)}")
    return value


def profile(value: str | None, *, name: str = "profile") -> str | None:
    """An AWS config profile name."""
    if value is None:
        return None
    if not isinstance(value, str) or not PROFILE_RE.fullmatch(value):
        raise InputError(name, "must be 1-128 characters of A-Z a-z 0-9 and _+=,.@:/-")
    return value


def endpoint_url(value: str | None, *, name: str = "endpoint_url") -> str | None:
    """An http(s) URL with a host and nothing after the path."""
    if value is None:
        return None
    if not isinstance(value, str) or CONTROL_RE.search(value) or len(value) > 2048:
        raise InputError(name, "must be an http:// or https:// URL")
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InputError(name, "must be an http:// or https:// URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InputError(name, "must not contain credentials, a query or a fragment")
    return value


def endpoint_warning(url: str | None) -> str | None:
    """A warning for an endpoint that sends signed requests unencrypted off this machine."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" or is_loopback(parts.hostname or ""):
        return None
    return f"--endpoint-url {url} is not HTTPS: signed requests travel unencrypted"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def path_prefix(value: str | None, *, name: str = "path_prefix") -> str | None:
    """An IAM path prefix: `/` or `/segment/.../`."""
    if value is None:
        return None
    if not isinstance(value, str) or not PATH_PREFIX_RE.fullmatch(value):
        raise InputError(name, "must start and end with / and hold printable ASCII (max 512)")
    return value


def account_ids(value: str | Iterable[str] | None, *, name: str = "accounts") -> tuple[str, ...]:
    """A comma-separated list of 12-digit AWS account ids."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    cleaned = [str(item).strip() for item in items]
    if not cleaned or any(not ACCOUNT_ID_RE.fullmatch(item) for item in cleaned):
        raise InputError(name, "must be 12-digit account ids separated by commas")
    return tuple(dict.fromkeys(cleaned))


def role_name(value: str, *, name: str = "role_name") -> str:
    """An IAM role name."""
    if not isinstance(value, str) or not ROLE_NAME_RE.fullmatch(value):
        raise InputError(name, "must be 1-64 characters of A-Z a-z 0-9 and _+=,.@-")
    return value


def external_id(value: str | None, *, name: str = "external_id") -> str | None:
    """An STS external id."""
    if value is None:
        return None
    if not isinstance(value, str) or not EXTERNAL_ID_RE.fullmatch(value):
        raise InputError(name, "must be 2-1224 characters of A-Z a-z 0-9 and _+=,.@:/-")
    return value


def email_address(value: str, *, name: str) -> str:
    """A bare e-mail address (local@domain); display names and comments are refused."""
    if not isinstance(value, str) or len(value) > 254 or not EMAIL_RE.fullmatch(value):
        raise InputError(name, f"{_shown(value)} is not a plain e-mail address (local@domain)")
    return value


def email_addresses(values: Iterable[str] | str | None, *, name: str,
                    required: bool = False) -> tuple[str, ...]:
    """One or more bare addresses; a string may hold several separated by commas."""
    if values is None:
        values = ()
    if isinstance(values, str):
        values = values.split(",")
    checked = tuple(email_address(v.strip() if isinstance(v, str) else v, name=name)
                    for v in values)
    if required and not checked:
        raise InputError(name, "at least one address is required")
    if len(checked) > 100:
        raise InputError(name, "at most 100 addresses")
    return tuple(dict.fromkeys(checked))


def header_text(value: str | None, *, name: str, limit: int = MAX_SUBJECT) -> str | None:
    """Text for a mail header: no control characters (CR, LF, NUL...), at most `limit` chars."""
    if value is None:
        return None
    if not isinstance(value, str) or CONTROL_RE.search(value):
        raise InputError(name, "must not contain control characters (CR, LF, NUL, ...)")
    if not value.strip() or len(value) > limit:
        raise InputError(name, f"must be 1-{limit} characters")
    return value


def _shown(value: object) -> str:
    """A value quoted for an error message, escaped and shortened so it stays one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
