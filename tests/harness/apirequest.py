"""Parsing of incoming AWS API requests (query and JSON protocols) from a WSGI environ."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")

Pairs = list[tuple[str, str]]


@dataclass
class ApiRequest:
    """What the harness needs to know about one API call."""

    action: str | None
    # "query" (form/querystring), "json" (X-Amz-Target), "rest-json" (Security Hub),
    # "rest-xml" (S3) or "other"
    protocol: str
    body: bytes
    body_pairs: Pairs = field(default_factory=list)
    query_pairs: Pairs = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    access_key_id: str | None = None
    region: str | None = None
    service: str | None = None
    host: str | None = None


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body (Content-Length or a terminated chunked stream)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip().isdigit():
        data: bytes = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        data = stream.read()
    else:
        data = b""
    return data


def _is_form(environ: dict[str, Any]) -> bool:
    """Whether the body is application/x-www-form-urlencoded."""
    return str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded")


def _json_params(body: bytes) -> dict[str, Any]:
    """Top-level fields of a JSON body, or {} when it is not a JSON object."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_request(environ: dict[str, Any]) -> ApiRequest:
    """Parse an API request; leaves environ['wsgi.input'] re-readable for moto."""
    body = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    query_pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    target = environ.get("HTTP_X_AMZ_TARGET")
    req = ApiRequest(action=None, protocol="other", body=body, query_pairs=query_pairs)
    if target:
        req.protocol = "json"
        req.action = target.rsplit(".", 1)[-1]
        req.params = _json_params(body)
    else:
        if _is_form(environ):
            req.body_pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        req.params = dict(query_pairs + req.body_pairs)
        if "Action" in req.params:
            req.protocol = "query"
            req.action = str(req.params["Action"])
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        req.access_key_id, req.region, req.service = match.groups()
    req.host = environ.get("HTTP_HOST")
    if req.action is None:
        _name_rest_action(req, environ)
    return req


# REST operations named by method and path, so that counters, the log and fault rules see them.
SECURITYHUB_ACTIONS = {("POST", "/findings/import"): "BatchImportFindings",
                       ("POST", "/findings"): "GetFindings",
                       ("POST", "/accounts"): "EnableSecurityHub"}
S3_OBJECT_ACTIONS = {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject",
                     "DELETE": "DeleteObject"}


def _name_rest_action(req: ApiRequest, environ: dict[str, Any]) -> None:
    """Security Hub (rest-json) and S3 object (rest-xml) requests by operation name."""
    method = str(environ.get("REQUEST_METHOD", "GET"))
    path = str(environ.get("PATH_INFO") or "/")
    if req.service == "securityhub":
        req.protocol = "rest-json"
        req.action = SECURITYHUB_ACTIONS.get((method, path.rstrip("/")))
        req.params = _json_params(req.body)
    elif req.service == "s3":
        req.protocol = "rest-xml"
        bucket, _, key = path.lstrip("/").partition("/")
        if key and not environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            req.action = S3_OBJECT_ACTIONS.get(method)
            req.params = {"Bucket": bucket, "Key": key}


def without_params(req: ApiRequest, environ: dict[str, Any], names: set[str]) -> bytes:
    """Rewrite environ (query string and form body) without `names`; returns the new body."""
    if req.query_pairs:
        environ["QUERY_STRING"] = urlencode([p for p in req.query_pairs if p[0] not in names])
    if not req.body_pairs:
        return req.body
    return urlencode([p for p in req.body_pairs if p[0] not in names]).encode("utf-8")
