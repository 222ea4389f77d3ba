"""Sending an iamkeys result by email: settings, the message, and its delivery.

    settings.py    MailSettings (SMTP, SES or outbox), Sender and Envelope (validated addressing)
    message.py     one message per result, and send_result, which builds and delivers it
    views.py       what a body shows: a listing's rows, an inventory's keys riskiest first
    body.py        the HTML (inlined styles, under Gmail's clipping size) and text bodies, the CSV
    transports.py  SMTP (smtplib; one AUTH, retries of 4xx), Amazon SES v2, the outbox
"""

from __future__ import annotations

from ..model import Delivery
from .message import build_message, send_result, summary_subject
from .settings import (
    CSV_ATTACHMENT,
    DEFAULT_PORTS,
    DEFAULT_SENDER,
    ENVIRONMENT,
    JSON_ATTACHMENT,
    Envelope,
    MailSettings,
    Sender,
)

__all__ = [
    "CSV_ATTACHMENT",
    "DEFAULT_PORTS",
    "DEFAULT_SENDER",
    "ENVIRONMENT",
    "JSON_ATTACHMENT",
    "Delivery",
    "Envelope",
    "MailSettings",
    "Sender",
    "build_message",
    "send_result",
    "summary_subject",
]
