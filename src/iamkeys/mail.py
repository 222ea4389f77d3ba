"""Sending an iamkeys result by email: settings, the message, and delivery.

One message per result: an HTML table with a plain-text alternative, the input JSON attached
byte for byte (`access-keys.json`) and a CSV (`access-keys.csv`). It goes out through SMTP when
a host is set, else through Amazon SES v2 when asked, else into an outbox directory as `.eml`.
The transports are in `mail_transports.py`; the result's shapes in `mail_document.py`.
"""

from __future__ import annotations

import email.policy
import email.utils
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from . import aws, params, redact, serialize
from .errors import InputError
from .mail_document import ResultRows, parse_result

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
class Delivery:
    """A message the server accepted (or the outbox file written)."""

    transport: str
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    detail: str
    attachments: tuple[str, ...]

    def summary(self) -> str:
        """One line for stderr: what went where."""
        to = ", ".join(self.recipients)
        if self.transport == "outbox":
            return (f"wrote {self.detail} (to {to}: {self.subject!r}); not sent: no SMTP host "
                    "or SES configured")
        if self.transport == "ses":
            return f"sent {self.subject!r} to {to} via SES: MessageId {self.detail}"
        return f"sent {self.subject!r} to {to} via SMTP: {self.detail}"


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


def summary_subject(document: Mapping[str, Any]) -> str:
    """The default subject, e.g. "IAM access keys: 2 keys, 1 user"."""
    return _subject(parse_result(document, now=datetime.now(UTC)))


def _subject(result: ResultRows) -> str:
    """The default subject of a parsed result."""
    if not result.rows:
        return "IAM access keys: no access keys found"
    keys, users = len(result.rows), result.users
    text = f"IAM access keys: {keys} key{'s' * (keys != 1)}, {users} user{'s' * (users != 1)}"
    if result.kind == "inventory":
        text += f", {result.findings} finding{'s' * (result.findings != 1)}"
    if result.errors or result.truncated:
        text += " (incomplete)"
    return text


def build_message(document: Mapping[str, Any], *, to: Sequence[str] | str,
                  cc: Sequence[str] | str = (), sender: str | None = None,
                  subject: str | None = None, raw_json: bytes | None = None,
                  now: datetime | None = None) -> EmailMessage:
    """The whole message: headers, HTML and text bodies, JSON and CSV attachments.

    `raw_json` is attached as given (the input as read); without it the document is serialized.
    """
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    return _message(document, envelope, raw_json, now or datetime.now(UTC))


def _message(document: Mapping[str, Any], envelope: Envelope, raw_json: bytes | None,
             now: datetime) -> EmailMessage:
    """Build the message for a validated envelope."""
    from .render import email as body

    result = parse_result(document, now=now)
    title = envelope.subject or _subject(result)
    message = _headers(envelope, title, now)
    # Quoted-printable keeps the body 7-bit, so no server needs 8BITMIME or SMTPUTF8.
    message.set_content(body.text(result, title=title, generated=now),
                        cte="quoted-printable")
    message.add_alternative(_html(document, result, title, now), subtype="html",
                            cte="quoted-printable")
    data = raw_json if raw_json is not None else serialize.dumps(document).encode()
    message.add_attachment(data, maintype="application", subtype="json",
                           filename=JSON_ATTACHMENT)
    message.add_attachment(body.csv_attachment(result).encode(), maintype="text", subtype="csv",
                           filename=CSV_ATTACHMENT, params={"charset": "utf-8"})
    return message


def _headers(envelope: Envelope, title: str, now: datetime) -> EmailMessage:
    """An empty message with From, To, Cc, Subject, Date and a Message-ID in the sender's domain."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = envelope.sender
    message["To"] = ", ".join(envelope.to)
    if envelope.cc:
        message["Cc"] = ", ".join(envelope.cc)
    message["Subject"] = title
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=envelope.sender.rpartition("@")[2])
    return message


def _html(document: Mapping[str, Any], result: ResultRows, title: str, now: datetime) -> str:
    """The HTML body: the inventory's own report, or the table of a listing."""
    if result.kind == "inventory":
        from .render.report import inventory_html

        return inventory_html(document)
    from .render import email as body

    return body.html(result, title=title, generated=now)


def send_result(document: Mapping[str, Any], *, to: Sequence[str] | str,
                cc: Sequence[str] | str = (), sender: str | None = None,
                subject: str | None = None, settings: MailSettings,
                session: aws.Session | None = None,
                raw_json: bytes | None = None) -> Delivery:
    """Build one message for `document` and deliver it; MailError unless it was accepted."""
    from . import mail_transports

    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    now = datetime.now(UTC)
    message = _message(document, envelope, raw_json, now)
    data = message.as_bytes()
    message_id = str(message["Message-ID"])
    if settings.transport == "smtp":
        detail = mail_transports.send_smtp(data, envelope.sender, envelope.recipients, settings)
    elif settings.transport == "ses":
        detail = mail_transports.send_ses(data, envelope.sender, envelope.to, envelope.cc,
                                          settings, session)
    else:
        detail = str(mail_transports.write_outbox(data, settings.outbox, message_id, now))
    return Delivery(transport=settings.transport, message_id=message_id,
                    recipients=envelope.recipients, subject=str(message["Subject"]),
                    detail=detail, attachments=(JSON_ATTACHMENT, CSV_ATTACHMENT))
