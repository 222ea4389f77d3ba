"""Fault rules and the token-bucket rate limiter used by the harness layer.

Rules are tried in order; the first one that matches the request (action, `match` params,
and for `reject_marker` the presence of a Marker), still has applications left (`times`)
and wins its `probability` roll fires. `times` counts applications, so with probability < 1
a rule stays armed until it has actually fired `times` times. Rules with probability 1
never consume random numbers, so adding them does not change a seeded sequence.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# kind -> (HTTP status, error code, message); {user}/{action} are filled from the request.
ERROR_KINDS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "Throttling", "Rate exceeded"),
    "error500": (500, "ServiceFailure", "Request processing has failed due to an internal error."),
    "error503": (503, "ServiceUnavailable", "Service is unavailable. Please try again later."),
    "access_denied": (
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/harness is not authorized to perform: iam:{action}",
    ),
    "no_such_entity": (404, "NoSuchEntity", "The user with name {user} cannot be found."),
    "reject_marker": (400, "ValidationError", "Invalid Marker"),
}
# apply_then_drop: the request is served (a write is applied), then the connection is closed
# before the answer: the client cannot know that its write landed.
OTHER_KINDS = frozenset({"drop", "delay", "malformed", "truncated", "apply_then_drop"})
# Not a request-level fault: BatchImportFindings answers the matching findings (by their own
# fields, e.g. {"Id": ...}) in FailedFindings and imports the rest (harness/securityhub.py).
FINDING_KINDS = frozenset({"reject_finding"})
KINDS = frozenset(ERROR_KINDS) | OTHER_KINDS | FINDING_KINDS
_RULE_FIELDS = frozenset(
    {"action", "match", "kind", "times", "probability", "delay_s", "code", "message"}
)


@dataclass
class FaultRule:
    """One fault-injection rule; `applied` counts how often it fired."""

    kind: str
    action: str = "*"
    match: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    probability: float = 1.0
    delay_s: float = 0.0
    code: str | None = None
    message: str | None = None
    applied: int = 0

    def matches(self, action: str | None, params: Mapping[str, Any]) -> bool:
        """Whether the rule targets this request (ignoring times/probability)."""
        if self.kind in FINDING_KINDS:
            return False  # applied to findings, inside the request
        if self.action != "*" and self.action != action:
            return False
        if self.kind == "reject_marker" and "Marker" not in params:
            return False
        return all(str(params.get(k)) == v for k, v in self.match.items())

    def matches_finding(self, finding: Mapping[str, Any]) -> bool:
        """Whether a reject_finding rule targets one finding of a BatchImportFindings call."""
        return self.kind in FINDING_KINDS and all(
            str(finding.get(k)) == v for k, v in self.match.items())

    def exhausted(self) -> bool:
        """Whether the rule already fired `times` times."""
        return self.times is not None and self.applied >= self.times

    def describe(self) -> dict[str, Any]:
        """JSON view for /_harness/stats."""
        return {
            "kind": self.kind,
            "action": self.action,
            "match": self.match,
            "times": self.times,
            "probability": self.probability,
            "applied": self.applied,
        }


def parse_rule(raw: Any) -> FaultRule:
    """Validate one rule from the control API; raises ValueError with a readable message."""
    if not isinstance(raw, dict):
        raise ValueError("each fault must be an object")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"fault kind must be one of {sorted(KINDS)}, got {kind!r}")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        raise ValueError("match must be an object")
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
        raise ValueError("times must be null or a non-negative integer")
    probability = float(raw.get("probability", 1.0))
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be within 0..1")
    delay_s = float(raw.get("delay_s", 0.0))
    if delay_s < 0:
        raise ValueError("delay_s must be >= 0")
    return FaultRule(
        kind=kind,
        action=str(raw.get("action", "*")),
        match={str(k): str(v) for k, v in match.items()},
        times=times,
        probability=probability,
        delay_s=delay_s,
        code=raw.get("code"),
        message=raw.get("message"),
    )


class TokenBucket:
    """Classic token bucket: refills `rps` tokens per second up to `burst`. Not locked."""

    def __init__(self, rps: float, burst: int) -> None:
        if rps <= 0 or burst < 1:
            raise ValueError("rate_limit needs rps > 0 and burst >= 1")
        self.rps = rps
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        """Consume one token if available."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rps)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def describe(self) -> dict[str, Any]:
        """JSON view for /_harness/stats."""
        return {"rps": self.rps, "burst": self.burst}


def parse_rate_limit(raw: Any) -> TokenBucket | None:
    """{"rps": R, "burst": B} -> TokenBucket; null disables rate limiting."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or "rps" not in raw:
        raise ValueError("rate_limit must be null or {rps, burst?}")
    rps = float(raw["rps"])
    burst = int(raw.get("burst", max(1, int(rps))))
    return TokenBucket(rps, burst)
