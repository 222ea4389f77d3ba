"""One message for an iamkeys result: headers, HTML and text bodies, JSON and CSV attachments.

The input JSON is attached byte for byte (`access-keys.json`) beside a CSV (`access-keys.csv`);
the bodies are rendered by `body.py` from the domain objects `documents.parse` reads.
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from .. import aws, documents, serialize
from ..model import Delivery, Inventory
from ..render.report import report_html
from . import body, transports
from .settings import Envelope, MailSettings

JSON_ATTACHMENT = "access-keys.json"
CSV_ATTACHMENT = "access-keys.csv"


def summary_subject(document: Mapping[str, Any]) -> str:
    """The default subject, e.g. "IAM access keys: 2 keys, 1 user"."""
    return _subject(body.rows(documents.parse(document), now=datetime.now(UTC)))


def _subject(result: body.ResultRows) -> str:
    """The default subject of a result's rows."""
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
    parsed = documents.parse(document)
    result = body.rows(parsed, now=now)
    title = envelope.subject or _subject(result)
    message = _headers(envelope, title, now)
    # Quoted-printable keeps the body 7-bit, so no server needs 8BITMIME or SMTPUTF8.
    message.set_content(body.text(result, title=title, generated=now),
                        cte="quoted-printable")
    html = (report_html(parsed) if isinstance(parsed, Inventory)
            else body.html(result, title=title, generated=now))
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    data = raw_json if raw_json is not None else serialize.dumps(document).encode()
    message.add_attachment(data, maintype="application", subtype="json",
                           filename=JSON_ATTACHMENT)
    message.add_attachment(body.csv_attachment(parsed).encode(), maintype="text",
                           subtype="csv", filename=CSV_ATTACHMENT, params={"charset": "utf-8"})
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


def send_result(document: Mapping[str, Any], *, to: Sequence[str] | str,
                cc: Sequence[str] | str = (), sender: str | None = None,
                subject: str | None = None, settings: MailSettings,
                session: aws.Session | None = None,
                raw_json: bytes | None = None) -> Delivery:
    """Build one message for `document` and deliver it; MailError unless it was accepted."""
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    now = datetime.now(UTC)
    message = _message(document, envelope, raw_json, now)
    data = message.as_bytes()
    message_id = str(message["Message-ID"])
    if settings.transport == "smtp":
        detail = transports.send_smtp(data, envelope.sender, envelope.recipients, settings)
    elif settings.transport == "ses":
        detail = transports.send_ses(data, envelope.sender, envelope.to, envelope.cc,
                                     settings, session)
    else:
        detail = str(transports.write_outbox(data, settings.outbox, message_id, now))
    return Delivery(transport=settings.transport, message_id=message_id,
                    recipients=envelope.recipients, subject=str(message["Subject"]),
                    detail=detail, attachments=(JSON_ATTACHMENT, CSV_ATTACHMENT))
