"""The three ways a message leaves: SMTP (smtplib), Amazon SES v2 (raw MIME), an outbox directory.

Each returns a one-line detail of what the server (or file system) confirmed, and raises
MailError for anything less than an accepted message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import aws, redact
from ..errors import AwsError, MailError

if TYPE_CHECKING:
    from .settings import MailSettings

log = logging.getLogger(__name__)


class _Refused(Exception):
    """Some recipients were refused at RCPT TO; DATA is never sent then."""

    def __init__(self, refused: dict[str, tuple[int, bytes]]) -> None:
        super().__init__(refused)
        self.refused = refused


def send_smtp(data: bytes, sender: str, recipients: Sequence[str],
              settings: MailSettings) -> str:
    """Deliver through SMTP; returns the answer to the message, e.g. "250 OK from host:587"."""
    redact.add_secret(settings.smtp_password)
    conversation = _Conversation(settings)
    try:
        detail = conversation.deliver(data, sender, recipients)
    except (smtplib.SMTPException, OSError, _Refused) as e:
        conversation.close(polite=False)
        raise conversation.error(e) from e
    conversation.close(polite=True)
    return detail


class _Conversation:
    """One SMTP session; it remembers the command in progress so that a failure can name it."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.port}"
        self.step = "connect"
        self.smtp: smtplib.SMTP | None = None

    def deliver(self, data: bytes, sender: str, recipients: Sequence[str]) -> str:
        """Connect, secure, log in, then MAIL, RCPT for everyone, DATA."""
        self.smtp = smtp = self._connect()
        self._secure(smtp)
        if self.settings.smtp_user:
            self._begin("AUTH")
            smtp.login(self.settings.smtp_user, self.settings.smtp_password or "")
        self._begin("MAIL FROM")
        options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        self._begin("RCPT TO")
        # Every recipient must be accepted before DATA: a partly refused message is not "sent".
        answers = {address: smtp.rcpt(address) for address in recipients}
        refused = {a: answer for a, answer in answers.items() if answer[0] not in (250, 251)}
        if refused:
            raise _Refused(refused)
        self._begin("DATA")
        code, reply = smtp.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return f"{code} {_reply(reply)} from {self.where}"

    def _begin(self, step: str) -> None:
        """Name the command in progress (for errors) and log it (for --debug)."""
        self.step = step
        log.debug("SMTP %s: %s", self.where, step)

    def _connect(self) -> smtplib.SMTP:
        """The TCP (or implicit TLS) connection, greeted."""
        self._begin("connect")
        settings = self.settings
        host = settings.smtp_host or ""
        if settings.smtp_security == "ssl":
            return smtplib.SMTP_SSL(host, settings.port, timeout=settings.timeout,
                                    context=self._context())
        return smtplib.SMTP(host, settings.port, timeout=settings.timeout)

    def _secure(self, smtp: smtplib.SMTP) -> None:
        """EHLO, and STARTTLS when asked for: a server that does not offer it is refused."""
        self._begin("EHLO")
        smtp.ehlo_or_helo_if_needed()
        if self.settings.smtp_security != "starttls":
            return
        self._begin("STARTTLS")
        if not smtp.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError(
                "the server does not offer STARTTLS; refusing to continue unencrypted "
                "(--smtp-security none is for servers without TLS)")
        smtp.starttls(context=self._context())
        self._begin("EHLO")
        smtp.ehlo()

    def _context(self) -> ssl.SSLContext:
        """The TLS context: the settings' seam, or the system's trust store."""
        return self.settings.ssl_context or ssl.create_default_context()

    def close(self, *, polite: bool) -> None:
        """QUIT after success (its failure changes nothing: the message was accepted)."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            if polite:
                smtp.quit()
        smtp.close()

    def error(self, e: BaseException) -> MailError:
        """The one-line MailError for a failure in the current step."""
        outcome = ("the server did not confirm the message" if self.step == "DATA"
                   else "message not sent")
        return MailError(redact.text(f"SMTP {self.where}: {self._why(e)}; {outcome}"))

    def _why(self, e: BaseException) -> str:
        """What went wrong, in the server's words where it gave any."""
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS: certificate verify failed: {e.verify_message}"
        if isinstance(e, ssl.SSLError):
            return f"TLS: {e.reason or e}"
        if isinstance(e, _Refused):
            named = ", ".join(f"{address} ({code} {_reply(text)})"
                              for address, (code, text) in e.refused.items())
            return f"RCPT TO: recipient refused: {named}"
        if isinstance(e, smtplib.SMTPAuthenticationError):
            return (f"AUTH: authentication failed for user {self.settings.smtp_user!r}: "
                    f"{e.smtp_code} {_reply(e.smtp_error)}")
        if isinstance(e, smtplib.SMTPResponseException):
            return f"{self.step}: {e.smtp_code} {_reply(e.smtp_error)}"
        if isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError):
            # smtplib reports a read timeout as SMTPServerDisconnected; the context tells.
            return f"{self.step}: timed out after {self.settings.timeout:g} s"
        if isinstance(e, smtplib.SMTPServerDisconnected):
            return f"{self.step}: connection closed by the server"
        if isinstance(e, socket.gaierror):
            return f"connect: cannot resolve {self.settings.smtp_host}: {e.strerror}"
        if isinstance(e, OSError):
            return f"{self.step}: {e.strerror or e}"
        return f"{self.step}: {e}"


def _reply(text: bytes | str) -> str:
    """A server reply on one line, at most 200 characters."""
    line = " ".join((text.decode("utf-8", "replace") if isinstance(text, bytes) else text).split())
    return line if len(line) <= 200 else line[:197] + "..."


def send_ses(data: bytes, sender: str, to: Sequence[str], cc: Sequence[str],
             settings: MailSettings, session: aws.Session | None) -> str:
    """Deliver through SES v2 SendEmail with raw MIME (IAM action ses:SendRawEmail)."""
    if session is None:
        session = aws.make_session(settings.connection)
    region = aws.default_region(session, settings.connection)
    client = aws.client(session, "sesv2", region, settings.connection)
    destination: dict[str, Any] = {"ToAddresses": list(to)}
    if cc:
        destination["CcAddresses"] = list(cc)
    try:
        with aws.translated():
            response = client.send_email(FromEmailAddress=sender, Destination=destination,
                                         Content={"Raw": {"Data": data}})
    except AwsError as e:
        raise MailError(f"SES {region}: {e.code}: {e.message}; message not sent") from e
    # A garbled JSON body parses as an empty answer: without a MessageId nothing is confirmed.
    if not response.get("MessageId"):
        raise MailError(f"SES {region}: the answer holds no MessageId; SES did not confirm "
                        "the message")
    return str(response["MessageId"])


def write_outbox(data: bytes, directory: Path, message_id: str, now: datetime) -> Path:
    """Write the message as `<UTC time>-<message id>.eml` into `directory`, atomically."""
    token = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))[:100]
    path = directory / f"{now:%Y%m%dT%H%M%S.%f}Z-{token}.eml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
    except OSError as e:
        raise MailError(f"outbox {directory}: cannot write: {e.strerror or e}; "
                        "message not written") from e
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    """A temporary file in the same directory, synced, then renamed into place."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".eml.tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
