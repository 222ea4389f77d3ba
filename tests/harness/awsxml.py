"""Builders for AWS-shaped response bodies (IAM query XML, JSON errors) and date helpers."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from http import HTTPStatus
from xml.sax.saxutils import escape

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"

Headers = list[tuple[str, str]]


class Response:
    """A fully materialised HTTP response."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def status_line(self) -> str:
        """WSGI status string, e.g. '200 OK'."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def with_body(self, body: bytes) -> Response:
        """Copy with a new body and a matching Content-Length."""
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        return Response(self.status, headers, body)


def new_request_id() -> str:
    """A fresh request id in AWS's uuid style."""
    return str(uuid.uuid4())


def xml_response(status: int, body: str, request_id: str) -> Response:
    """An XML response with the headers AWS sends."""
    data = body.encode("utf-8")
    headers = [
        ("Content-Type", "text/xml"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", request_id),
    ]
    return Response(status, headers, data)


def error_type_for(status: int) -> str:
    """IAM reports 5xx as Receiver faults and everything else as Sender faults."""
    return "Receiver" if status >= 500 else "Sender"


def query_error(status: int, code: str, message: str) -> Response:
    """An IAM query-protocol <ErrorResponse>."""
    rid = new_request_id()
    body = (
        f'<ErrorResponse xmlns="{IAM_NS}"><Error><Type>{error_type_for(status)}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return xml_response(status, body, rid)


def json_error(status: int, code: str, message: str) -> Response:
    """An awsJson-protocol error (used when the request was X-Amz-Target style)."""
    rid = new_request_id()
    data = json.dumps({"__type": code, "message": message}).encode("utf-8")
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", rid),
        ("x-amzn-ErrorType", code),
    ]
    return Response(status, headers, data)


def strip_namespaces(root: ET.Element) -> ET.Element:
    """Drop '{ns}' prefixes in place so elements re-serialise without ns0: prefixes."""
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def render_member(member: ET.Element) -> str:
    """Serialise a namespace-stripped <member> element."""
    return ET.tostring(member, encoding="unicode")


def text_el(tag: str, text: str) -> str:
    """A simple text element."""
    return f"<{tag}>{escape(text)}</{tag}>"


def parse_date(value: str) -> datetime:
    """Parse ISO 8601 (with Z or offset) into a naive UTC datetime, as moto stores them."""
    dt = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def format_date(dt: datetime) -> str:
    """Format a naive UTC datetime exactly like moto's serializer does."""
    if dt.microsecond > 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sortable_date(value: str) -> str:
    """Normalise a serialised date so string order equals chronological order."""
    return parse_date(value).strftime("%Y-%m-%dT%H:%M:%S.%f")
