"""Where a message goes and who it is from and to: validated settings and addressing.

SMTP when a host is set, else Amazon SES v2 when asked, else an outbox directory of `.eml` files.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import aws, params, redact
from ..errors import InputError

DEFAULT_SENDER = "iamkeys@localhost"
JSON_ATTACHMENT = "access-keys.json"
CSV_ATTACHMENT = "access-keys.csv"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# Environment variable of each MailSettings field that can come from the environment.
ENVIRONMENT = {
    "smtp_host": "IAMKEYS_SMTP_HOST",
    "smtp_port": "IAMKEYS_SMTP_PORT",
    "smtp_security": "IAMKEYS_SMTP_SECURITY",
    "smtp_user": "IAMKEYS_SMTP_USER",
    "smtp_password": "IAMKEYS_SMTP_PASSWORD",
    "outbox": "IAMKEYS_OUTBOX",
}


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where a message goes: an SMTP server, SES, or the outbox directory."""

    smtp_host: str | None = None
    smtp_port: int | None = None  # None: 587 for starttls, 465 for ssl, 25 for none
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    ses: bool = False
    outbox: Path = Path("outbox")
    connection: aws.Connection = aws.Connection()
    timeout: float = 30.0
    # A seam for tests and private CAs; None means ssl.create_default_context().
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> MailSettings:
        """Settings from IAMKEYS_SMTP_* and IAMKEYS_OUTBOX in `environ`; non-None overrides win."""
        values: dict[str, Any] = {name: environ.get(var) or None
                                  for name, var in ENVIRONMENT.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        redact.add_secret(values["smtp_password"])
        return cls(
            smtp_host=params.smtp_host(values.pop("smtp_host")),
            smtp_port=params.smtp_port(values.pop("smtp_port")),
            smtp_security=params.smtp_security(values.pop("smtp_security")),
            smtp_user=params.smtp_user(values.pop("smtp_user")),
            outbox=_outbox(values.pop("outbox")),
            **values,
        )

    @property
    def port(self) -> int:
        """The SMTP port: the one given, or the default of the security mode."""
        return self.smtp_port or DEFAULT_PORTS[self.smtp_security]

    @property
    def transport(self) -> str:
        """The transport a message goes through: smtp, ses or outbox."""
        return "smtp" if self.smtp_host else "ses" if self.ses else "outbox"


def _outbox(value: str | Path | None) -> Path:
    """The outbox directory; ./outbox when not given."""
    if not value:
        return Path("outbox")
    return Path(params.directory_path(str(value), name="outbox") or value)


def _check(settings: MailSettings) -> None:
    """Rules between settings; a password is never sent unencrypted off this machine."""
    if settings.smtp_security not in DEFAULT_PORTS:
        raise InputError("smtp_security", f"must be one of {', '.join(DEFAULT_PORTS)}")
    if settings.smtp_port is not None and not 0 < settings.smtp_port < 65536:
        raise InputError("smtp_port", "must be an integer from 1 to 65535")
    if not 0 < settings.timeout <= 600:
        raise InputError("timeout", "must be more than 0 and at most 600 seconds")
    if settings.smtp_host and settings.ses:
        raise InputError("ses", "choose one transport: --ses or an SMTP host "
                                "(--smtp-host, IAMKEYS_SMTP_HOST), not both")
    if settings.smtp_host and settings.smtp_user and not settings.smtp_password:
        raise InputError("smtp_user", "needs the password in IAMKEYS_SMTP_PASSWORD")
    if settings.smtp_host and settings.smtp_password and not settings.smtp_user:
        raise InputError("smtp_user", "required when IAMKEYS_SMTP_PASSWORD is set")
    if (settings.smtp_host and settings.smtp_password and settings.smtp_security == "none"
            and not params.is_loopback(settings.smtp_host)):
        raise InputError("smtp_security", f"none would send the SMTP password unencrypted to "
                                          f"{settings.smtp_host}; use starttls or ssl")


@dataclass(frozen=True, slots=True)
class Envelope:
    """Validated addressing: who from, who to, and the subject."""

    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str | None

    @classmethod
    def build(cls, *, to: Sequence[str] | str, cc: Sequence[str] | str = (),
              sender: str | None = None, subject: str | None = None) -> Envelope:
        """Check every address and the subject (no CR, LF, NUL or display names)."""
        return cls(
            sender=params.email_address(sender, name="from") if sender is not None
            else DEFAULT_SENDER,
            to=params.recipients(to, name="to", required=True),
            cc=params.recipients(cc, name="cc"),
            subject=params.header_text(subject, name="subject"),
        )

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the message goes to, each once."""
        return tuple(dict.fromkeys(self.to + self.cc))
