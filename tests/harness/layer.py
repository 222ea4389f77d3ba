"""HarnessLayer: WSGI middleware before moto adding IAM pagination, faults and a control API."""

from __future__ import annotations

import io
import json
import os
import random
import socket
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from harness import motostate, securityhub
from harness.apirequest import ApiRequest, parse_request, read_body, without_params
from harness.awsxml import (
    IAM_NS,
    Headers,
    Response,
    format_date,
    json_error,
    new_request_id,
    query_error,
    xml_response,
)
from harness.faults import ERROR_KINDS, FaultRule, TokenBucket, parse_rate_limit, parse_rule
from harness.paging import (
    SPECS,
    PagingError,
    decode_marker,
    moto_items,
    parse_max_items,
    render_page,
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LOG_LIMIT = 10_000
CONTROL_PREFIX = "/_harness/"
_CONFIG_FIELDS = frozenset(
    {"latency_ms", "rate_limit", "faults", "seed", "fast_paths", "page_cap"}
)


class _State:
    """Mutable harness configuration and counters; guarded by HarnessLayer._lock."""

    def __init__(self) -> None:
        self.latency_ms = 0.0
        self.bucket: TokenBucket | None = None
        self.rules: list[FaultRule] = []
        self.seed = 0
        self.rng = random.Random(0)
        # Serve ListUsers and GetAccessKeyLastUsed straight from moto's backend objects:
        # moto re-serialises every user per ListUsers page and scans every key per
        # GetAccessKeyLastUsed, which makes 10,000-user runs quadratic.
        self.fast_paths = True
        # IAM "might return fewer results, even when there are more results available" than
        # MaxItems (IAM API Reference, ListUsers): a cap lets tests paginate any client.
        self.page_cap: dict[str, int] = {}
        self.total = 0
        self.by_action: Counter[str] = Counter()
        self.throttled = 0
        self.rate_limited = 0
        self.faults_injected = 0
        self.faults_by_kind: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)


class HarnessLayer:
    """WSGI middleware around moto's DomainDispatcherApplication. Thread-safe."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()  # harness state
        # moto is not thread-safe (dicts mutate during list calls); serialise every moto
        # access, including our in-process edits. Sleeps always happen outside this lock.
        self._moto_lock = threading.RLock()
        self._state = _State()

    # ----------------------------------------------------------------- WSGI entry
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Route control calls to the control API and everything else through the fault path."""
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(CONTROL_PREFIX):
            resp = self._control(environ, path[len(CONTROL_PREFIX) :])
        elif path.startswith("/moto-api"):
            # moto's own dashboard/reset API: plain pass-through, never faulted or counted.
            resp = self._forward(environ)
        else:
            resp = self._api(environ)
        start_response(resp.status_line(), resp.headers)
        return [resp.body]

    # ----------------------------------------------------------------- API path
    def _api(self, environ: dict[str, Any]) -> Response:
        """Count, delay, rate-limit, maybe fault, then serve one API request."""
        req = parse_request(environ)
        entry = self._record_arrival(req)
        # A dropped connection raises out of _handle and leaves status/body None in the log.
        resp = self._handle(req, environ, entry)
        entry["status"] = resp.status
        # The exact bytes sent, so tests can compare a tool's raw output with the wire.
        entry["response_body"] = resp.body.decode("utf-8", "replace")
        return resp

    def _handle(self, req: ApiRequest, environ: dict[str, Any], entry: dict[str, Any]) -> Response:
        """Everything after arrival accounting."""
        latency = self._state.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        if not self._take_token():
            entry["fault"] = "rate_limit"
            return self._error(req, 400, "Throttling", "Rate exceeded")
        rule = self._pick_fault(req)
        if rule is None:
            return self._serve(req, environ)
        entry["fault"] = rule.kind
        return self._apply_fault(rule, req, environ, entry)

    def _record_arrival(self, req: ApiRequest) -> dict[str, Any]:
        """Count the request and append its (still status-less) log entry."""
        entry: dict[str, Any] = {
            "time": time.time(),
            "action": req.action,
            "service": req.service,
            "params": req.params,
            "status": None,
            "response_body": None,
            "fault": None,
            "access_key_id": req.access_key_id,
            "host": req.host,
        }
        with self._lock:
            st = self._state
            st.total += 1
            st.by_action[req.action or "<none>"] += 1
            st.log.append(entry)
        return entry

    def _take_token(self) -> bool:
        """Apply the rate limit; False means 'throttle this request'."""
        with self._lock:
            st = self._state
            if st.bucket is None or st.bucket.take():
                return True
            st.rate_limited += 1
            st.throttled += 1
            return False

    def _pick_fault(self, req: ApiRequest) -> FaultRule | None:
        """First rule (in order) that matches, has applications left and wins its dice roll."""
        with self._lock:
            st = self._state
            for rule in st.rules:
                if rule.exhausted() or not rule.matches(req.action, req.params):
                    continue
                if rule.probability < 1.0 and st.rng.random() >= rule.probability:
                    continue
                rule.applied += 1
                st.faults_injected += 1
                st.faults_by_kind[rule.kind] += 1
                if rule.kind == "throttle":
                    st.throttled += 1
                return rule
        return None

    def _apply_fault(self, rule: FaultRule, req: ApiRequest, environ: dict[str, Any],
                     entry: dict[str, Any]) -> Response:
        """Produce the faulty response for a fired rule."""
        if rule.delay_s > 0:
            time.sleep(rule.delay_s)
        if rule.kind in ERROR_KINDS:
            status, code, message = ERROR_KINDS[rule.kind]
            user = str(req.params.get("UserName", "unknown"))
            text = (rule.message or message).replace("{user}", user)
            text = text.replace("{action}", str(req.action))
            return self._error(req, status, rule.code or code, text)
        if rule.kind == "drop":
            _drop_connection(environ)
        if rule.kind == "apply_then_drop":
            served = self._serve(req, environ)
            entry["applied_status"] = served.status
            _drop_connection(environ)
        if rule.kind == "malformed":
            body = f"<{req.action}Response><{req.action}Result><Oops"
            return xml_response(200, body, new_request_id())
        resp = self._serve(req, environ)
        if rule.kind == "truncated" and resp.status == 200:
            return resp.with_body(resp.body[: len(resp.body) // 2])
        return resp  # "delay"

    @staticmethod
    def _error(req: ApiRequest, status: int, code: str, message: str) -> Response:
        """An error in the request's own protocol."""
        if req.protocol == "rest-json" and code == "Throttling":
            # Security Hub throttles with 429 TooManyRequestsException.
            return json_error(429, "TooManyRequestsException", message)
        if req.protocol in ("json", "rest-json"):
            return json_error(status, code, message)
        return query_error(status, code, message)

    # ----------------------------------------------------------------- serving
    def _serve(self, req: ApiRequest, environ: dict[str, Any]) -> Response:
        """Serve normally: paginated lists and fast paths here, the rest by moto."""
        if req.service == "securityhub" and req.action == "BatchImportFindings":
            return self._batch_import(req, environ)
        if req.protocol != "query" or req.service not in (None, "iam"):
            return self._forward(environ)
        if req.action in SPECS:
            return self._paginated(req, environ)
        if req.action == "GetAccessKeyLastUsed" and self._state.fast_paths:
            fast = self._last_used_fast(req, environ)
            if fast is not None:
                return fast
        return self._forward(environ)

    def _paginated(self, req: ApiRequest, environ: dict[str, Any]) -> Response:
        """IAM paging: moto's full listing (or the ListUsers fast path), sorted and sliced."""
        spec = SPECS[str(req.action)]
        try:
            max_items = parse_max_items(_opt_str(req.params.get("MaxItems")))
            max_items = min(max_items, self._state.page_cap.get(spec.action, max_items))
            marker = _opt_str(req.params.get("Marker"))
            after = decode_marker(spec, marker) if marker is not None else None
        except PagingError as exc:
            return query_error(400, "ValidationError", str(exc))
        rid = new_request_id()
        if spec.action == "ListUsers" and self._state.fast_paths:
            prefix = _opt_str(req.params.get("PathPrefix"))
            with self._moto_lock:
                account = _caller_account(req, environ)
                items = motostate.list_users_window(account, prefix, after, max_items + 1)
                _mark_caller_visited(req, environ)
            return xml_response(200, render_page(spec, items, max_items, None, rid), rid)
        body = without_params(req, environ, {"MaxItems", "Marker"})
        resp = self._forward(environ, body)
        if resp.status != 200:
            return resp  # e.g. NoSuchEntity, unchanged
        try:
            items, echoed = moto_items(spec, resp.body)
        except ParseError:
            return resp  # not something we understand: let the client see moto's answer
        user_name = _opt_str(req.params.get("UserName")) or echoed
        return xml_response(200, render_page(spec, items, max_items, after, rid, user_name), rid)

    def _batch_import(self, req: ApiRequest, environ: dict[str, Any]) -> Response:
        """Security Hub's own checks and reject_finding faults, then moto with the rest."""
        findings = req.params.get("Findings")
        if not isinstance(findings, list):
            return json_error(400, "InvalidInputException", "Findings must be a list")
        if len(findings) > securityhub.MAX_BATCH:
            return json_error(400, "InvalidInputException",
                              f"at most {securityhub.MAX_BATCH} findings per request")
        with self._moto_lock:
            account = _caller_account(req, environ)
        accepted, refused = [], []
        for finding in findings:
            reason = self._finding_fault(finding) or securityhub.refusal(finding, account)
            if reason is None:
                accepted.append(finding)
            else:
                finding_id = finding.get("Id", "") if isinstance(finding, dict) else ""
                refused.append({"Id": str(finding_id), "ErrorCode": reason[0],
                                "ErrorMessage": reason[1]})
        body = json.dumps({**req.params, "Findings": accepted}).encode("utf-8")
        resp = self._forward(environ, body)
        if resp.status != 200:
            return resp
        answer = securityhub.merged(json.loads(resp.body or b"{}"), refused)
        data = json.dumps(answer).encode("utf-8")
        headers = [(k, v) for k, v in resp.headers if k.lower() != "content-length"]
        return Response(200, [*headers, ("Content-Length", str(len(data)))], data)

    def _finding_fault(self, finding: Any) -> tuple[str, str] | None:
        """The first reject_finding rule that takes this finding: (code, message)."""
        if not isinstance(finding, dict):
            return None
        with self._lock:
            st = self._state
            for rule in st.rules:
                if rule.exhausted() or not rule.matches_finding(finding):
                    continue
                rule.applied += 1
                st.faults_injected += 1
                st.faults_by_kind[rule.kind] += 1
                return (rule.code or "InvalidInput",
                        rule.message or "harness fault: finding refused")
        return None

    def _last_used_fast(self, req: ApiRequest, environ: dict[str, Any]) -> Response | None:
        """GetAccessKeyLastUsed from moto's id-keyed dicts; None defers to moto."""
        key_id = req.params.get("AccessKeyId")
        if not key_id:
            return None
        with self._moto_lock:
            found = motostate.last_used_fast(str(key_id))
            if found is None:
                return None  # moto produces the authoritative NoSuchEntity
            _mark_caller_visited(req, environ)
        user_name, last = found
        rid = new_request_id()
        if last is None:
            used = "<ServiceName>N/A</ServiceName><Region>N/A</Region>"
        else:
            used = (
                f"<LastUsedDate>{format_date(last.timestamp)}</LastUsedDate>"
                f"<ServiceName>{escape(last.service)}</ServiceName>"
                f"<Region>{escape(last.region)}</Region>"
            )
        xml = (
            f'<GetAccessKeyLastUsedResponse xmlns="{IAM_NS}"><GetAccessKeyLastUsedResult>'
            f"<UserName>{escape(user_name)}</UserName><AccessKeyLastUsed>{used}</AccessKeyLastUsed>"
            f"</GetAccessKeyLastUsedResult><ResponseMetadata><RequestId>{rid}</RequestId>"
            f"</ResponseMetadata></GetAccessKeyLastUsedResponse>"
        )
        return xml_response(200, xml, rid)

    def _forward(self, environ: dict[str, Any], body: bytes | None = None) -> Response:
        """Call moto (serialised) and materialise its response."""
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        with self._moto_lock:
            try:
                result = self.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception as exc:  # moto bug: answer like AWS would, keep the traceback
                traceback.print_exc(file=sys.stderr)
                return query_error(500, "InternalFailure", f"moto raised {exc!r}")
        status = int(str(captured["status"]).split(" ", 1)[0])
        return Response(status, list(captured["headers"]), b"".join(chunks))

    # ----------------------------------------------------------------- control API
    def _control(self, environ: dict[str, Any], route: str) -> Response:
        """Dispatch /_harness/<route>; JSON in and out."""
        method = environ.get("REQUEST_METHOD", "GET")
        handlers: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, Any]], Any]] = {
            ("GET", "health"): lambda env, body: {"ok": True},
            ("POST", "reset"): self._ctl_reset,
            ("POST", "config"): self._ctl_config,
            ("GET", "stats"): self._ctl_stats,
            ("POST", "patch-user"): self._moto_edit(motostate.patch_user),
            ("POST", "patch-key"): self._moto_edit(motostate.patch_key),
            ("POST", "bulk-create"): self._moto_edit(motostate.bulk_create),
            ("POST", "delete-user"): self._moto_edit(motostate.delete_user),
            ("POST", "patch-account"): self._moto_edit(motostate.patch_account),
        }
        handler = handlers.get((method, route))
        if handler is None:
            known = {r for _, r in handlers}
            status = 405 if route in known else 404
            return _json(status, {"error": f"{method} /_harness/{route} not supported"})
        try:
            body = _json_body(environ)
            return _json(200, handler(environ, body))
        except motostate.ControlError as exc:
            return _json(exc.status, {"error": exc.message})
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})

    def _moto_edit(
        self, func: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
        """Wrap an in-process moto edit so it runs under the moto lock."""

        def run(environ: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            with self._moto_lock:
                return func(body)

        return run

    def _ctl_reset(self, environ: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Clear harness config and counters; {"state": true} also wipes moto."""
        with self._lock:
            self._state = _State()
        if body.get("state"):
            with self._moto_lock:
                motostate.reset_all()
        return {"reset": True, "state": bool(body.get("state"))}

    def _ctl_config(self, environ: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Replace whichever of latency_ms/rate_limit/faults/seed/fast_paths are present."""
        unknown = set(body) - _CONFIG_FIELDS
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        # Parse everything first so an invalid request leaves the config untouched.
        rules = [parse_rule(r) for r in body["faults"]] if "faults" in body else None
        bucket = parse_rate_limit(body["rate_limit"]) if "rate_limit" in body else None
        latency = float(body["latency_ms"]) if "latency_ms" in body else None
        if latency is not None and latency < 0:
            raise ValueError("latency_ms must be >= 0")
        page_cap = _page_cap(body["page_cap"]) if "page_cap" in body else None
        with self._lock:
            st = self._state
            if rules is not None:
                st.rules = rules
            if "rate_limit" in body:
                st.bucket = bucket
            if latency is not None:
                st.latency_ms = latency
            if "seed" in body:
                st.seed = int(body["seed"])
                st.rng = random.Random(st.seed)
            if "fast_paths" in body:
                st.fast_paths = bool(body["fast_paths"])
            if "page_cap" in body:
                st.page_cap = page_cap
            return self._config_view(st)

    @staticmethod
    def _config_view(st: _State) -> dict[str, Any]:
        """Current configuration as JSON."""
        return {
            "latency_ms": st.latency_ms,
            "rate_limit": st.bucket.describe() if st.bucket else None,
            "faults": [r.describe() for r in st.rules],
            "seed": st.seed,
            "fast_paths": st.fast_paths,
            "page_cap": st.page_cap or None,
        }

    def _ctl_stats(self, environ: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Counters, config and (with ?log=1) the request log."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        want_log = query.get("log", ["0"])[-1] not in ("", "0", "false")
        with self._lock:
            st = self._state
            stats: dict[str, Any] = {
                "total": st.total,
                "by_action": dict(st.by_action),
                "throttled": st.throttled,
                "rate_limited": st.rate_limited,
                "faults_injected": st.faults_injected,
                "faults_by_kind": dict(st.faults_by_kind),
                "config": self._config_view(st),
            }
            if want_log:
                stats["log"] = [dict(e) for e in st.log]
        return stats


def _drop_connection(environ: dict[str, Any]) -> None:
    """Close the client socket without a response, then abort the handler."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # werkzeug treats ConnectionError from the app as "client went away": no response,
    # no 500, no traceback in the log.
    raise ConnectionAbortedError("harness fault: connection dropped")


def _caller_account(req: ApiRequest, environ: dict[str, Any]) -> str:
    """The account moto would attribute this request to (BaseResponse.get_current_account)."""
    from moto.iam.models import get_account_id_from

    return str(
        os.environ.get("MOTO_ACCOUNT_ID")
        or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        or get_account_id_from(req.access_key_id or "AKIAEXAMPLE")
    )


def _mark_caller_visited(req: ApiRequest, environ: dict[str, Any]) -> None:
    """Keep moto's side effect of stamping the caller's own key as last used."""
    from moto.iam.models import mark_account_as_visited

    if req.access_key_id:
        account = _caller_account(req, environ)
        mark_account_as_visited(account, req.access_key_id, "iam", req.region or "us-east-1")


def _page_cap(value: Any) -> dict[str, int]:
    """The most items a page holds, per list action: from N (every action), {action: N}, null."""
    if value is None:
        return {}
    caps = value if isinstance(value, dict) else dict.fromkeys(SPECS, value)
    for action, cap in caps.items():
        if action not in SPECS or not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            raise ValueError(f"page_cap must be null, a positive integer, or an object of "
                             f"{sorted(SPECS)} to positive integers")
    return dict(caps)


def _opt_str(value: Any) -> str | None:
    """None stays None, anything else becomes str."""
    return None if value is None else str(value)


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """Decode a control request's JSON object body ({} when empty)."""
    raw = read_body(environ)
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _json(status: int, payload: Any) -> Response:
    """A JSON control-API response."""
    data = json.dumps(payload, default=str).encode("utf-8")
    return Response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data
    )
