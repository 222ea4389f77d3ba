"""Where a message goes and who it is from and to: validated settings and addressing.

SMTP when a host is set, else Amazon SES v2 when asked, else an outbox directory of `.eml` files.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from .. import aws, params, redact
from ..errors import InputError

# Only for the outbox (and the demo's embedded server): real servers refuse a sender without a
# fully-qualified domain (Postfix's reject_non_fqdn_sender), so SMTP and SES need --from.
DEFAULT_SENDER = "iamkeys@localhost"
JSON_ATTACHMENT = "access-keys.json"
CSV_ATTACHMENT = "access-keys.csv"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# After a temporary refusal (4xx), the whole transaction is tried again after each delay: 1 s
# then 4 s outlasts a busy server's "421 too many connections" or a reconnect that Postfix's
# postscreen asks for, without holding a scheduled job for long. Greylisting (postgrey waits
# 300 s) is longer than that on purpose: exit 75 tells the scheduler to try again later.
RETRY_DELAYS = (1.0, 4.0)
# Environment variable of each MailSettings field that can come from the environment.
ENVIRONMENT = {
    "sender": "IAMKEYS_FROM",
    "smtp_host": "IAMKEYS_SMTP_HOST",
    "smtp_port": "IAMKEYS_SMTP_PORT",
    "smtp_security": "IAMKEYS_SMTP_SECURITY",
    "smtp_user": "IAMKEYS_SMTP_USER",
    "smtp_password": "IAMKEYS_SMTP_PASSWORD",
    "smtp_ehlo_name": "IAMKEYS_SMTP_EHLO_NAME",
    "smtp_timeout": "IAMKEYS_SMTP_TIMEOUT",
    "smtp_ca_file": "IAMKEYS_SMTP_CA_FILE",
    "outbox": "IAMKEYS_OUTBOX",
}


@dataclass(frozen=True, slots=True)
class Sender:
    """A From address with an optional display name, e.g. "IAM key report" <sec@example.com>."""

    address: str
    display_name: str = ""

    @classmethod
    def parse(cls, value: str, *, name: str = "from") -> Sender:
        """A checked sender (params.sender's rules: no CR/LF/NUL, no display-name tricks)."""
        checked = params.sender(value, name=name)
        assert checked is not None
        display_name, address = checked
        return cls(address=address, display_name=display_name)

    @property
    def domain(self) -> str:
        """The address's domain, e.g. for the Message-ID."""
        return self.address.rpartition("@")[2]

    def header(self) -> Address:
        """The From header value, built (and quoted) by the email package."""
        return Address(display_name=self.display_name, addr_spec=self.address)


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where a message goes: an SMTP server, SES, or the outbox directory."""

    smtp_host: str | None = None
    smtp_port: int | None = None  # None: 587 for starttls, 465 for ssl, 25 for none
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_ehlo_name: str | None = None  # None: smtplib's socket.getfqdn()
    smtp_timeout: float = 30.0
    smtp_ca_file: Path | None = None  # None: the system's trust store
    smtp_retry_delays: tuple[float, ...] = RETRY_DELAYS
    # The sender when a message names none (IAMKEYS_FROM).
    sender: Sender | None = None
    ses: bool = False
    outbox: Path = Path("outbox")
    connection: aws.Connection = aws.Connection()
    # A seam for tests; None means the system's trust store, or smtp_ca_file's certificates.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> MailSettings:
        """Settings from IAMKEYS_FROM, IAMKEYS_SMTP_* and IAMKEYS_OUTBOX in `environ`; non-None
        overrides win."""
        values: dict[str, Any] = {name: environ.get(var) or None
                                  for name, var in ENVIRONMENT.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        redact.add_secret(values["smtp_password"])
        sender, timeout = values.pop("sender"), values.pop("smtp_timeout")
        ca_file = params.file_path(values.pop("smtp_ca_file"), name="smtp_ca_file")
        return cls(
            smtp_host=params.smtp_host(values.pop("smtp_host")),
            smtp_port=params.smtp_port(values.pop("smtp_port")),
            smtp_security=params.smtp_security(values.pop("smtp_security")),
            smtp_user=params.smtp_user(values.pop("smtp_user")),
            smtp_ehlo_name=params.ehlo_name(values.pop("smtp_ehlo_name")),
            smtp_timeout=_timeout(timeout),
            smtp_ca_file=Path(ca_file) if ca_file else None,
            sender=Sender.parse(sender) if isinstance(sender, str) else sender,
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

    def sender_for(self, given: Sender | None) -> Sender:
        """The message's sender: the one given, else IAMKEYS_FROM's; only the outbox has a
        default, since SMTP servers and SES refuse iamkeys@localhost."""
        if given is not None:
            return given
        if self.sender is not None:
            return self.sender
        if self.transport == "outbox":
            return Sender(DEFAULT_SENDER)
        raise InputError("from", f"required to send through {self.transport.upper()} (or set "
                                 "IAMKEYS_FROM): servers refuse a sender without a real domain, "
                                 f"like {DEFAULT_SENDER}")

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context: the seam, else one trusting smtp_ca_file or the system's store."""
        return self.ssl_context or _trusting(self.smtp_ca_file)


def _trusting(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying context: only the CA certificates in `ca_file`, or the system's store."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError, ValueError) as e:
        reason = (e.strerror if isinstance(e, OSError) and e.strerror
                  else getattr(e, "reason", None) or str(e))
        if "NO_CERTIFICATE" in str(reason) or "no start line" in str(e).lower():
            reason = "no PEM certificate in it"
        raise InputError("smtp_ca_file", f"cannot use {str(ca_file)!r}: {reason}") from e


def _timeout(value: float | int | str | None) -> float:
    """The SMTP timeout: whole seconds from text (CLI, environment), or a library float."""
    if isinstance(value, float):
        return value
    return params.seconds(value, name="smtp_timeout", high=600) or 30.0


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
    if not 0 < settings.smtp_timeout <= 600:
        raise InputError("smtp_timeout", "must be more than 0 and at most 600 seconds")
    if len(settings.smtp_retry_delays) > 10 or not all(
            0 <= delay <= 600 for delay in settings.smtp_retry_delays):
        raise InputError("smtp_retry_delays", "must be at most 10 delays of 0 to 600 seconds")
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
    if settings.smtp_ca_file is not None and settings.ssl_context is None:
        _trusting(settings.smtp_ca_file)  # refused now, before any connection


@dataclass(frozen=True, slots=True)
class Envelope:
    """Validated addressing: who from (None: the transport's default), who to, the subject."""

    sender: Sender | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str | None

    @classmethod
    def build(cls, *, to: Sequence[str] | str, cc: Sequence[str] | str = (),
              sender: str | Sender | None = None, subject: str | None = None) -> Envelope:
        """Check every address and the subject: recipients are bare addresses, the sender may
        have a display name; no CR, LF or NUL anywhere."""
        return cls(
            sender=Sender.parse(sender) if isinstance(sender, str) else sender,
            to=params.recipients(to, name="to", required=True),
            cc=params.recipients(cc, name="cc"),
            subject=params.header_text(subject, name="subject"),
        )

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the message goes to, each once."""
        return tuple(dict.fromkeys(self.to + self.cc))
