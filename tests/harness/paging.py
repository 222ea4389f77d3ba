"""IAM-style MaxItems/Marker pagination applied on top of moto's unpaginated list responses."""

from __future__ import annotations

import base64
import binascii
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.awsxml import IAM_NS, render_member, sortable_date, strip_namespaces, text_el

DEFAULT_MAX_ITEMS = 100
MAX_MAX_ITEMS = 1000


class PagingError(Exception):
    """A request the real IAM would reject with 400 ValidationError."""


@dataclass(frozen=True)
class ListSpec:
    """How one IAM list operation is shaped and ordered."""

    action: str
    list_tag: str
    key_fields: tuple[str, ...]
    date_fields: frozenset[str]
    echo_user_name: bool


SPECS: dict[str, ListSpec] = {
    "ListAccessKeys": ListSpec(
        "ListAccessKeys",
        "AccessKeyMetadata",
        ("CreateDate", "AccessKeyId"),
        frozenset({"CreateDate"}),
        echo_user_name=True,
    ),
    "ListUsers": ListSpec("ListUsers", "Users", ("UserName",), frozenset(), echo_user_name=False),
    # moto answers ListUserTags in one piece; IAM pages it (MaxItems, Marker) like the others.
    "ListUserTags": ListSpec("ListUserTags", "Tags", ("Key",), frozenset(), echo_user_name=False),
}


def parse_max_items(raw: str | None) -> int:
    """Validate MaxItems the way IAM does (integer in 1..1000, default 100)."""
    if raw is None:
        return DEFAULT_MAX_ITEMS
    prefix = f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy"
    try:
        value = int(raw)
    except ValueError:
        raise PagingError(f"{prefix} constraint: Member must be an integer") from None
    if value < 1:
        raise PagingError(f"{prefix} constraint: Member must have value greater than or equal to 1")
    if value > MAX_MAX_ITEMS:
        raise PagingError(
            f"{prefix} constraint: Member must have value less than or equal to {MAX_MAX_ITEMS}"
        )
    return value


def encode_marker(spec: ListSpec, after: tuple[str, ...]) -> str:
    """Opaque continuation token recording the sort key of the last item returned."""
    raw = json.dumps({"a": spec.action, "after": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_marker(spec: ListSpec, marker: str) -> tuple[str, ...]:
    """Inverse of encode_marker; anything else is an 'Invalid Marker'."""
    try:
        padded = marker + "=" * (-len(marker) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise PagingError("Invalid Marker") from None
    if not isinstance(data, dict) or data.get("a") != spec.action:
        raise PagingError("Invalid Marker")
    after = data.get("after")
    if (
        not isinstance(after, list)
        or len(after) != len(spec.key_fields)
        or not all(isinstance(part, str) for part in after)
    ):
        raise PagingError("Invalid Marker")
    return tuple(after)


def member_key(spec: ListSpec, member: ET.Element) -> tuple[str, ...]:
    """Deterministic sort key of one <member>."""
    parts = []
    for field in spec.key_fields:
        text = member.findtext(field) or ""
        parts.append(sortable_date(text) if field in spec.date_fields and text else text)
    return tuple(parts)


Item = tuple[tuple[str, ...], str]  # (sort key, serialised <member>)


def moto_items(spec: ListSpec, moto_body: bytes) -> tuple[list[Item], str | None]:
    """Members of moto's complete listing, plus the UserName moto echoed (if any)."""
    root = strip_namespaces(ET.fromstring(moto_body))
    container = root.find(f"{spec.action}Result/{spec.list_tag}")
    members = list(container) if container is not None else []
    items = [(member_key(spec, m), render_member(m)) for m in members]
    echoed = root.findtext(f"{spec.action}Result/UserName")
    if not echoed and members:
        echoed = members[0].findtext("UserName")
    return items, echoed


def render_page(
    spec: ListSpec,
    items: list[Item],
    max_items: int,
    after: tuple[str, ...] | None,
    request_id: str,
    user_name: str | None = None,
) -> str:
    """Sort, resume after the marker's key, slice and render one IAM-shaped page."""
    keyed = sorted(items, key=lambda item: item[0])
    if after is not None:
        # Resume strictly after the last key served, so deletions between pages never
        # make the client skip or repeat an item.
        keyed = [item for item in keyed if item[0] > after]
    page = keyed[:max_items]
    truncated = len(keyed) > max_items
    parts = [f'<{spec.action}Response xmlns="{IAM_NS}"><{spec.action}Result>']
    if spec.echo_user_name and user_name:
        parts.append(text_el("UserName", user_name))
    parts.append(f"<{spec.list_tag}>")
    parts.extend(member for _, member in page)
    parts.append(f"</{spec.list_tag}>")
    parts.append(text_el("IsTruncated", "true" if truncated else "false"))
    if truncated:
        parts.append(text_el("Marker", encode_marker(spec, page[-1][0])))
    parts.append(f"</{spec.action}Result>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{spec.action}Response>")
    return "".join(parts)
