"""Validation of every user-supplied parameter, shared by the CLI, workflow files and Lambda events.

Each validator takes the raw value and returns the normalised one, or raises `InputError` naming
the parameter by its snake_case name (the CLI shows it as `--option-name`). No validator sends a
request; everything here runs before any AWS or mail call.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
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
# C0 and C1 controls and the Unicode line separators: what splitlines() and terminals treat as
# line breaks, so that no value can add a line to a header, a log or a one-line error.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

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
    items = _items(value)
    if items is None or not all(isinstance(item, str) for item in items):
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
    items = _items(value)
    if items is None or not all(isinstance(item, str | int) and not isinstance(item, bool)
                                for item in items):
        raise InputError(name, "must be 12-digit account ids separated by commas")
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


def _items(value: object) -> list[Any] | None:
    """The items of a comma-separated string or of a list (workflow, event); None otherwise."""
    if isinstance(value, str):
        return list(value.split(","))
    if isinstance(value, list | tuple):
        return list(value)
    return None


def _shown(value: object) -> str:
    """A value quoted for an error message, escaped and shortened so it stays one line."""
    # reprlib stops at a few levels: a deeply nested event value cannot exhaust the stack.
    text = repr(value) if isinstance(value, str) else reprlib.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- inventory (issue 4) -------------------------------------------------------------------

INVENTORY_FORMATS = ("json", "csv", "table", "html", "asff", "ocsf")
CONCURRENCY_LIMITS = (1, 256)
MAX_DAYS = 36_500  # 100 years: anything larger is a typo, not a policy
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def concurrency(value: int | str | None, *, name: str = "concurrency",
                default: int = 64) -> int:
    """Requests in flight at once: an integer 1-256."""
    low, high = CONCURRENCY_LIMITS
    checked = bounded_int(value, name=name, low=low, high=high)
    return default if checked is None else checked


def days(value: int | str | None, *, name: str, default: int) -> int:
    """A threshold in whole days: an integer 0-36500."""
    checked = bounded_int(value, name=name, low=0, high=MAX_DAYS)
    return default if checked is None else checked


def flag(value: bool | str | None, *, name: str, default: bool = False) -> bool:
    """A yes/no value: a bool, or true/false, yes/no, on/off, 1/0 as text (templates)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InputError(name, "must be true or false")


def region(value: str | None, *, name: str = "region") -> str | None:
    """One region name (like us-east-1); membership of a partition is checked in aws.py."""
    if value is None:
        return None
    if not isinstance(value, str) or not REGION_RE.fullmatch(value):
        raise InputError(name, f"{_shown(value)} is not a region name (like us-east-1)")
    return value


def output_file(value: str | None, *, name: str = "out") -> str | None:
    """A file to write: a path without control characters whose directory exists."""
    import os.path

    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or CONTROL_RE.search(value):
        raise InputError(name, "must be a file path without control characters")
    if len(value) > 4096:
        raise InputError(name, "must be at most 4096 characters")
    if os.path.isdir(value) or value.endswith(os.sep):
        raise InputError(name, f"{_shown(value)} is a directory")
    directory = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(directory):
        raise InputError(name, f"directory {_shown(directory)} does not exist")
    return value


# --- owners, state (issue 9) ---------------------------------------------------------------

# IAM tag keys: 1-128 letters, numbers, spaces and _.:/=+-@ (IAM API Reference, "Tag").
TAG_KEY_EXTRA = frozenset("_.:/=+-@")
MAX_OWNER_TAGS = 10
# S3 bucket names (general purpose buckets): 3-63 of a-z 0-9 . -, starting and ending with a
# letter or digit (Amazon S3 User Guide, "Bucket naming rules").
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_SCHEME = "s3://"


@dataclass(frozen=True, slots=True)
class StateLocation:
    """Where `--state` keeps the last inventory: an S3 object, or a file."""

    text: str
    bucket: str | None = None
    key: str | None = None
    path: str | None = None


def owner_tags(values: Iterable[str] | str | None, *,
               name: str = "owner_tag") -> tuple[str, ...]:
    """Tag keys naming a key's owner, in order; duplicates (ignoring case) dropped."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise InputError(name, "must be IAM tag keys")
    checked: dict[str, str] = {}
    for value in items:
        if not isinstance(value, str) or not _is_tag_key(value):
            raise InputError(name, f"{_shown(value)} is not an IAM tag key (1-128 letters, "
                                   "numbers, spaces and _.:/=+-@)")
        checked.setdefault(value.casefold(), value)
    if len(checked) > MAX_OWNER_TAGS:
        raise InputError(name, f"at most {MAX_OWNER_TAGS} tag keys")
    return tuple(checked.values())


def _is_tag_key(value: str) -> bool:
    """Whether `value` has the shape IAM allows for a tag key: letters, numbers and space
    separators (IAM's \\p{L}, \\p{N}, \\p{Z}, less the line and paragraph separators, which
    end a line) and _.:/=+-@."""
    import unicodedata

    def allowed(char: str) -> bool:
        category = unicodedata.category(char)
        return char in TAG_KEY_EXTRA or category[0] in "LN" or category == "Zs"

    return 1 <= len(value) <= 128 and all(allowed(char) for char in value)


def state_location(value: str | None, *, name: str = "state") -> StateLocation | None:
    """`s3://bucket/key`, or a file path whose directory exists."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or CONTROL_RE.search(value):
        raise InputError(name, "must be s3://bucket/key or a file path, without control "
                               "characters")
    if not value.startswith(S3_SCHEME):
        return StateLocation(value, path=output_file(value, name=name))
    bucket, _, key = value[len(S3_SCHEME):].partition("/")
    if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise InputError(name, f"{_shown(bucket)} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
    if not key or len(key.encode("utf-8")) > 1024:
        raise InputError(name, "must name an object: s3://bucket/key (key 1-1024 bytes)")
    return StateLocation(value, bucket=bucket, key=key)


# --- mail (issue 3) ----------------------------------------------------------------------------

SMTP_SECURITY = ("starttls", "ssl", "none")
# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
HOSTNAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                         r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")


def recipients(values: Iterable[str] | str | None, *, name: str,
               required: bool = False) -> tuple[str, ...]:
    """Addresses from a repeatable option; each value may hold several separated by commas."""
    if values is None:
        values = ()
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, Iterable):
        raise InputError(name, "must be e-mail addresses (local@domain)")
    items: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InputError(name, f"{_shown(value)} is not a plain e-mail address (local@domain)")
        if CONTROL_RE.search(value):  # refused, not stripped: a header value never holds CR/LF
            raise InputError(name, f"{_shown(value)} contains control characters (CR, LF, NUL)")
        items.extend(value.split(","))
    return email_addresses(items, name=name, required=required)


def smtp_host(value: str | None, *, name: str = "smtp_host") -> str | None:
    """An SMTP server: a DNS host name or an IP address (an IPv6 address may be bracketed)."""
    if value is None:
        return None
    if isinstance(value, str):
        host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        if _is_ip(host) or (len(host) <= 253 and HOSTNAME_RE.fullmatch(host)):
            return host
    raise InputError(name, f"{_shown(value)} is not a host name or an IP address")


def _is_ip(value: str) -> bool:
    """Whether `value` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def smtp_port(value: int | str | None, *, name: str = "smtp_port") -> int | None:
    """A TCP port 1-65535, or None for the default of the security mode."""
    return bounded_int(value, name=name, low=1, high=65535)


def smtp_security(value: str | None, *, name: str = "smtp_security") -> str:
    """How the SMTP connection is encrypted: starttls (default), ssl, or none."""
    if value is None:
        return SMTP_SECURITY[0]
    if not isinstance(value, str) or value.strip().lower() not in SMTP_SECURITY:
        raise InputError(name, f"must be one of {', '.join(SMTP_SECURITY)}")
    return value.strip().lower()


def sender(value: str | None, *, name: str = "from") -> tuple[str, str] | None:
    """A From address with an optional display name: (display name, address), or None.

    `sec@example.com`, `IAM key report <sec@example.com>` and `"IAM key report"
    <sec@example.com>` are accepted. Refused: control characters, comments, several addresses,
    and display names that could pass for an address or hide one (`@`, `<`, `>`, quotes,
    backslashes or RFC 2047 encoded words, also as Unicode look-alikes such as U+FF20).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(name, f"{_shown(value)} is not an e-mail address (local@domain)")
    if CONTROL_RE.search(value):  # refused, not stripped: a header value never holds CR/LF
        raise InputError(name, f"{_shown(value)} contains control characters (CR, LF, NUL)")
    text = value.strip()
    if EMAIL_RE.fullmatch(text) and len(text) <= 254:
        return "", text
    found = _NAME_ADDR_RE.fullmatch(text)
    if found is None or len(found["address"]) > 254 or not EMAIL_RE.fullmatch(found["address"]):
        raise InputError(name, f"{_shown(value)} is not an e-mail address (local@domain, or "
                               "Display Name <local@domain>)")
    display = found["name"]
    if display.startswith('"') and display.endswith('"') and len(display) >= 2:
        display = display[1:-1]
    display = " ".join(display.split())
    if not display or len(display) > MAX_DISPLAY_NAME:
        raise InputError(name, f"the display name must be 1-{MAX_DISPLAY_NAME} characters")
    if _tricky_display_name(display):
        raise InputError(name, f"the display name {_shown(display)} must not hold @, <, >, "
                               "quotes, backslashes, encoded words or invisible characters")
    return display, found["address"]


# `Display Name <address>`: the name plain or in double quotes, the address a plain addr-spec.
_NAME_ADDR_RE = re.compile(r'(?P<name>"[^"]*"|[^"<>]*?)\s*<(?P<address>[^<>\s]+)>')
MAX_DISPLAY_NAME = 78  # one header line (RFC 5322 §2.1.1 "SHOULD" limit)


def _tricky_display_name(display: str) -> bool:
    """Whether a display name could be read as (or hide) an address, a header or a break."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", display)
    if any(c in folded for c in '@<>"\\') or "=?" in folded:
        return True
    # Invisible or reordering characters (Cf: bidi overrides, zero-width...), unassigned,
    # private-use and surrogate code points.
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp")
               for c in display)


def ehlo_name(value: str | None, *, name: str = "smtp_ehlo_name") -> str | None:
    """The name iamkeys gives itself in EHLO: a DNS host name (at most 253 characters)."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 253 and HOSTNAME_RE.fullmatch(value):
        return value
    raise InputError(name, f"{_shown(value)} is not a host name (like mailer.example.com)")


def seconds(value: int | str | None, *, name: str, high: int) -> float | None:
    """A timeout in whole seconds, 1 to `high`; None when not given."""
    checked = bounded_int(value, name=name, low=1, high=high)
    return None if checked is None else float(checked)


def file_path(value: str | None, *, name: str) -> str | None:
    """A file to read: a path without control characters, at most 4096 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or CONTROL_RE.search(value):
        raise InputError(name, "must be a file path without control characters")
    if len(value) > 4096:
        raise InputError(name, "must be at most 4096 characters")
    return value


def smtp_user(value: str | None, *, name: str = "smtp_user") -> str | None:
    """An SMTP AUTH user name: 1-256 characters, no control characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 256 or CONTROL_RE.search(value):
        raise InputError(name, "must be 1-256 characters without control characters")
    return value


def directory_path(value: str | None, *, name: str) -> str | None:
    """A directory path to create or write into: no control characters, at most 4096 chars."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or CONTROL_RE.search(value):
        raise InputError(name, "must be a directory path without control characters")
    if len(value) > 4096:
        raise InputError(name, "must be at most 4096 characters")
    return value


# --- remediation (issue 10) --------------------------------------------------------------------

PLAN_FORMATS = ("json", "table", "html")
MAX_ACTIONS_LIMIT = 10_000
# IAM tag keys (IAM API Reference, "Tag"): letters, digits, spaces and _.:/=+-@, 1-128
# characters; `aws:` is reserved for AWS. ASCII only here, like the other IAM names.
TAG_KEY_RE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{1,128}")
# S3 bucket names (general purpose buckets: 3-63 lowercase letters, digits, dots, hyphens).
S3_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_PREFIX_RE = re.compile(r"[\u0021-\u007e]{0,900}")
S3_SCHEME = "s3://"
PLAN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def choice_list(value: str | Iterable[str] | None, *, name: str, choices: Iterable[str],
                refused: dict[str, str] | None = None) -> tuple[str, ...]:
    """Comma-separated names, each one of `choices`; `refused` names get their own reason."""
    if value is None:
        return ()
    items = _items(value)
    allowed = tuple(choices)
    if items is None or not all(isinstance(item, str) for item in items):
        raise InputError(name, f"must be names separated by commas ({', '.join(allowed)})")
    cleaned = [item.strip() for item in items]
    if not cleaned or any(not item for item in cleaned):
        raise InputError(name, f"must be names separated by commas, no empty items "
                               f"({', '.join(allowed)})")
    for item in cleaned:
        if refused and item in refused:
            raise InputError(name, f"{item}: {refused[item]}")
        if item not in allowed:
            raise InputError(name, f"{_shown(item)} is not one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(cleaned))


def optional_days(value: int | str | None, *, name: str) -> int | None:
    """A number of whole days 0-36500, or None when not given."""
    return bounded_int(value, name=name, low=0, high=MAX_DAYS)


def max_actions(value: int | str | None, *, name: str = "max_actions", default: int) -> int:
    """The most actions a plan may hold: an integer 1-10000."""
    checked = bounded_int(value, name=name, low=1, high=MAX_ACTIONS_LIMIT)
    return default if checked is None else checked


def tag_key(value: str | None, *, name: str = "exempt_tag", default: str) -> str:
    """An IAM tag key (not one of the `aws:` keys AWS reserves)."""
    if value is None:
        return default
    if not isinstance(value, str) or not TAG_KEY_RE.fullmatch(value) or not value.strip():
        raise InputError(name, "must be 1-128 characters of A-Z a-z 0-9, spaces and _.:/=+@-")
    if value.lower().startswith("aws:"):
        raise InputError(name, "aws: tag keys are reserved for AWS")
    return value


def journal_location(value: str | None, *, name: str = "journal") -> str | None:
    """Where the journal is: a file path whose directory exists, or s3://BUCKET[/PREFIX]."""
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(S3_SCHEME):
        bucket, _, prefix = value[len(S3_SCHEME):].partition("/")
        if not S3_BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            raise InputError(name, "s3://BUCKET/PREFIX: the bucket must be 3-63 characters of "
                                   "a-z 0-9 . -")
        if not S3_PREFIX_RE.fullmatch(prefix):
            raise InputError(name, "s3://BUCKET/PREFIX: the prefix must be printable ASCII "
                                   "without spaces, at most 900 characters")
        return value
    return output_file(value, name=name)


def plan_id(value: str | None, *, name: str = "run") -> str | None:
    """A plan's id, as its Summary and the journal name it."""
    if value is None:
        return None
    if not isinstance(value, str) or not PLAN_ID_RE.fullmatch(value):
        raise InputError(name, "must be a plan id: 1-64 characters of A-Z a-z 0-9 and -")
    return value
