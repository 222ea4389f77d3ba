"""Sending an iamkeys result by email: settings, the message, and its delivery.

    settings.py    MailSettings (SMTP, SES or outbox) and Envelope (validated addressing)
    message.py     one message per result, and send_result, which builds and delivers it
    body.py        the HTML and text bodies and the CSV attachment, from domain objects
    transports.py  SMTP (smtplib), Amazon SES v2 (raw MIME), the outbox directory
"""

from __future__ import annotations

from ..model import Delivery
from .message import CSV_ATTACHMENT, JSON_ATTACHMENT, build_message, send_result, summary_subject
from .settings import DEFAULT_PORTS, DEFAULT_SENDER, ENVIRONMENT, Envelope, MailSettings

__all__ = [
    "CSV_ATTACHMENT",
    "DEFAULT_PORTS",
    "DEFAULT_SENDER",
    "ENVIRONMENT",
    "JSON_ATTACHMENT",
    "Delivery",
    "Envelope",
    "MailSettings",
    "build_message",
    "send_result",
    "summary_subject",
]
