"""Keeping secrets out of every output: a registry of secret values and a redacting log filter.

Secrets (secret access keys, session tokens, SMTP passwords) are registered as soon as iamkeys
learns them; every log record and every error message is passed through `text()` before it is
written. Patterns catch what was never registered (signatures, tokens in headers or bodies).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "****"
_lock = threading.Lock()
_secrets: set[str] = set()
_PATTERNS = (
    # botocore's debug log shows headers as a dict of bytes: 'X-Amz-Security-Token': b'...'
    re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\",\s}]+"),
    re.compile(r"(?i)(Signature=)[0-9a-f]+"),
    re.compile(r"(?i)(SecretAccessKey['\"]?\s*[:=>]\s*['\"]?)[^'\",\s<}]+"),
    re.compile(r"(?i)(SessionToken['\"]?\s*[:=>]\s*['\"]?)[^'\",\s<}]+"),
    re.compile(r"(?i)(AUTH (?:PLAIN|LOGIN) )\S+"),
)

log = logging.getLogger("iamkeys")


def add_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def text(value: str) -> str:
    """`value` with every registered secret and secret-looking field masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        value = value.replace(secret, MASK)
    for pattern in _PATTERNS:
        value = pattern.sub(lambda m: m.group(1) + MASK, value)
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that renders each record once and masks secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = text(record.getMessage())
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{record.msg}\n{text(formatted)}"
        return True


class _DebugHandler(logging.StreamHandler[Any]):
    """The handler `configure_debug` installs (one at a time)."""


def configure_debug(stream: Any) -> None:
    """Send iamkeys' and botocore's debug logs to `stream`, redacted.

    Called again (a warm Lambda, a second in-process run), it replaces its own handler.
    """
    handler = _DebugHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    for name in ("iamkeys", "botocore", "urllib3"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _DebugHandler)]:
            logger.removeHandler(old)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        logger.propagate = False


def watch_client(client: Any) -> None:
    """Log each request a client sends and each response status, when debug logging is on."""
    if not log.isEnabledFor(logging.DEBUG):
        return

    def before_send(request: Any, **_: Any) -> None:
        log.debug("request %s %s", request.method, request.url)

    def after_call(http_response: Any, model: Any, **_: Any) -> None:
        log.debug("response %s %s", model.name, http_response.status_code)

    client.meta.events.register("before-send", before_send)
    client.meta.events.register("after-call", after_call)
