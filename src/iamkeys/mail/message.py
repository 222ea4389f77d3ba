"""One message for an iamkeys result: headers, HTML and text bodies, JSON and CSV attachments.

The input JSON is attached byte for byte (`access-keys.json`) beside a CSV (`access-keys.csv`);
the bodies are rendered by `body.py` from what `views.py` makes of the domain objects
`documents.parse` reads.
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from .. import aws, documents, serialize
from ..model import Delivery
from . import body, transports, views
from .settings import (
    CSV_ATTACHMENT,
    DEFAULT_SENDER,
    JSON_ATTACHMENT,
    Envelope,
    MailSettings,
    Sender,
)


def summary_subject(document: Mapping[str, Any]) -> str:
    """The default subject, e.g. "IAM access keys: 2 keys, 1 user"."""
    return _subject(views.view(documents.parse(document), now=datetime.now(UTC)))


def _subject(shown: views.ResultRows | views.InventoryView) -> str:
    """The default subject of what a body shows."""
    figures = views.counts(shown)
    keys, users, found = figures["keys"], figures["users"], figures["findings"]
    if not keys:
        return "IAM access keys: no access keys found"
    text = f"IAM access keys: {keys} key{'s' * (keys != 1)}, {users} user{'s' * (users != 1)}"
    if found is not None:
        text += f", {found} finding{'s' * (found != 1)}"
    if figures["incomplete"]:
        text += " (incomplete)"
    return text


def build_message(document: Mapping[str, Any], *, to: Sequence[str] | str,
                  cc: Sequence[str] | str = (), sender: str | Sender | None = None,
                  subject: str | None = None, raw_json: bytes | None = None,
                  now: datetime | None = None) -> EmailMessage:
    """The whole message: headers, HTML and text bodies, JSON and CSV attachments.

    `raw_json` is attached as given (the input as read); without it the document is serialized.
    Without a sender the message is from iamkeys@localhost (fine for a file, not for a server).
    """
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    return _message(document, envelope, envelope.sender or Sender(DEFAULT_SENDER), raw_json,
                    now or datetime.now(UTC))


def _message(document: Mapping[str, Any], envelope: Envelope, sender: Sender,
             raw_json: bytes | None, now: datetime) -> EmailMessage:
    """Build the message for a validated envelope."""
    parsed = documents.parse(document)
    shown = views.view(parsed, now=now)
    title = envelope.subject or _subject(shown)
    message = _headers(envelope, sender, title, now)
    text, html = body.bodies(shown, title=title, generated=now)
    # Quoted-printable keeps the body 7-bit, so no server needs 8BITMIME or SMTPUTF8.
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    data = raw_json if raw_json is not None else serialize.dumps(document).encode()
    message.add_attachment(data, maintype="application", subtype="json",
                           filename=JSON_ATTACHMENT)
    message.add_attachment(body.csv_attachment(parsed).encode(), maintype="text",
                           subtype="csv", filename=CSV_ATTACHMENT, params={"charset": "utf-8"})
    return message


def _headers(envelope: Envelope, sender: Sender, title: str, now: datetime) -> EmailMessage:
    """An empty message with From, To, Cc, Subject, Date and a Message-ID in the sender's domain."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender.header()
    message["To"] = ", ".join(envelope.to)
    if envelope.cc:
        message["Cc"] = ", ".join(envelope.cc)
    message["Subject"] = title
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.domain)
    return message


def send_result(document: Mapping[str, Any], *, to: Sequence[str] | str,
                cc: Sequence[str] | str = (), sender: str | Sender | None = None,
                subject: str | None = None, settings: MailSettings,
                session: aws.Session | None = None,
                raw_json: bytes | None = None) -> Delivery:
    """Build one message for `document` and deliver it; MailError unless it was accepted.

    Without a sender, settings.sender (IAMKEYS_FROM) is used; SMTP and SES need one of them
    (InputError before anything is sent), the outbox falls back to iamkeys@localhost.
    """
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    source = settings.sender_for(envelope.sender)
    now = datetime.now(UTC)
    message = _message(document, envelope, source, raw_json, now)
    data = message.as_bytes()
    message_id = str(message["Message-ID"])
    if settings.transport == "smtp":
        detail = transports.send_smtp(data, source.address, envelope.recipients, settings)
    elif settings.transport == "ses":
        detail = transports.send_ses(data, source.address, envelope.to, envelope.cc,
                                     settings, session)
    else:
        detail = str(transports.write_outbox(data, settings.outbox, message_id, now))
    return Delivery(transport=settings.transport, message_id=message_id,
                    recipients=envelope.recipients, subject=str(message["Subject"]),
                    detail=detail, attachments=(JSON_ATTACHMENT, CSV_ATTACHMENT))
