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
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import aws, redact
from ..errors import AwsError, MailDeferredError, MailError

if TYPE_CHECKING:
    from .settings import MailSettings

log = logging.getLogger(__name__)


# smtplib's own AUTH mechanisms; the server's first offered one among them is used, once.
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
# How long a server may stay silent before a TLS handshake is tried on a second connection: an
# implicit-TLS port (465) waits for the client's ClientHello and never greets in plain text.
GREETING_WAIT = 2.0


class _Refused(Exception):
    """Some recipients were refused at RCPT TO; DATA is never sent then."""

    def __init__(self, refused: dict[str, tuple[int, bytes]]) -> None:
        super().__init__(refused)
        self.refused = refused

    @property
    def temporary(self) -> bool:
        """Every refusal was temporary (4xx), so the whole transaction may succeed later."""
        return all(400 <= code < 500 for code, _ in self.refused.values())


class _Reply(smtplib.SMTPResponseException):
    """A refusing reply to a step smtplib does not raise for (MAIL FROM, end of DATA)."""

    def __init__(self, step: str, code: int, reply: bytes) -> None:
        super().__init__(code, reply)
        self.step = step


class _WrongTls(Exception):
    """The server expects the other TLS mode: `fits` names the --smtp-security that does."""

    def __init__(self, reason: str, fits: str) -> None:
        super().__init__(f"{reason}: use --smtp-security {fits} "
                         f"(IAMKEYS_SMTP_SECURITY={fits})")


def send_smtp(data: bytes, sender: str, recipients: Sequence[str],
              settings: MailSettings) -> str:
    """Deliver through SMTP; returns the answer to the message, e.g. "250 OK from host:587".

    A temporary refusal (4xx) at any step is tried again, the whole transaction on a new
    connection, after each of settings.smtp_retry_delays; a message is never sent twice, since
    a 4xx at the end of DATA means it was not accepted. MailDeferredError when every attempt was
    refused for now, MailError for anything else that is not an accepted message.
    """
    redact.add_secret(settings.smtp_password)
    delays = settings.smtp_retry_delays
    for attempt in range(1, len(delays) + 2):
        conversation = _Conversation(settings)
        try:
            detail = conversation.deliver(data, sender, recipients)
        except (smtplib.SMTPException, OSError, _Refused, _WrongTls) as e:
            conversation.close(polite=_answered(e))
            if not _temporary(e):
                raise conversation.error(e) from e
            if attempt > len(delays):
                raise conversation.deferred(e, attempt) from e
            log.debug("SMTP %s: %s; trying again in %g s", conversation.where,
                      conversation.why(e), delays[attempt - 1])
            time.sleep(delays[attempt - 1])
            continue
        conversation.close(polite=True)
        return detail
    raise AssertionError("unreachable: the last attempt returns or raises")


def _temporary(e: BaseException) -> bool:
    """Whether the server refused for now: a 4xx reply (RFC 5321 §4.2.1)."""
    if isinstance(e, _Refused):
        return e.temporary
    return isinstance(e, smtplib.SMTPResponseException) and 400 <= e.smtp_code < 500


def _answered(e: BaseException) -> bool:
    """Whether the server answered (so that QUIT is polite), rather than the link failing."""
    return isinstance(e, _Refused | smtplib.SMTPResponseException)


class _Client(smtplib.SMTP):
    """smtplib.SMTP whose connection is made here: implicit TLS at once (ssl), or plain TCP
    with a check that the server greets rather than waits for a TLS handshake."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        # Connects and reads the greeting (SMTPConnectError unless it is 220); the host given
        # here is also the name STARTTLS verifies the certificate against.
        super().__init__(settings.smtp_host or "", settings.port,
                         local_hostname=settings.smtp_ehlo_name, timeout=settings.smtp_timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        """smtplib's hook for the connection (SMTP.connect calls it, then reads the greeting)."""
        sock = socket.create_connection((host, port), timeout)
        try:
            if self.settings.smtp_security == "ssl":
                return _implicit_tls(sock, host, port, self.settings)
            _expect_greeting(sock, host, port, self.settings)
        except BaseException:
            sock.close()
            raise
        return sock


def _implicit_tls(sock: socket.socket, host: str, port: int,
                  settings: MailSettings) -> socket.socket:
    """The TLS handshake on a new connection; a server that greets in plain text is named."""
    try:
        return settings.tls_context().wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError:
        raise
    except ssl.SSLError as e:
        # A plain-text greeting read as a TLS record: OpenSSL's WRONG_VERSION_NUMBER (or
        # "record layer failure"); a second connection tells which it was.
        if _greets_in_plain_text(host, port, settings.smtp_timeout):
            raise _WrongTls(f"the server on port {port} greets in plain text instead of a TLS "
                            "handshake", "starttls") from e
        raise


def _expect_greeting(sock: socket.socket, host: str, port: int,
                     settings: MailSettings) -> None:
    """Wait briefly for the greeting; if none comes and the port answers a TLS handshake, it
    expects implicit TLS (else the server is just slow, and smtplib waits for the rest)."""
    sock.settimeout(min(GREETING_WAIT, settings.smtp_timeout))
    try:
        sock.recv(1, socket.MSG_PEEK)
        return  # a greeting (or a closed connection, which smtplib reports)
    except TimeoutError:
        pass
    finally:
        sock.settimeout(settings.smtp_timeout)
    if _answers_tls(host, port, settings.smtp_timeout):
        raise _WrongTls(f"no SMTP greeting, and port {port} answers a TLS handshake: the "
                        "server expects implicit TLS", "ssl")


def _answers_tls(host: str, port: int, timeout: float) -> bool:
    """Whether a second connection to the port completes a TLS handshake (nothing is sent
    over it and it is closed at once, so its certificate does not matter here)."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), min(timeout, 5.0)) as raw, \
                probe.wrap_socket(raw, server_hostname=host):
            return True
    except ssl.SSLError as e:
        return "ALERT" in str(e.reason)  # a TLS alert: the server speaks TLS, and refused us
    except OSError:
        return False


def _greets_in_plain_text(host: str, port: int, timeout: float) -> bool:
    """Whether a second, plain connection to the port is greeted with an SMTP 220 line."""
    try:
        with socket.create_connection((host, port), min(timeout, 5.0)) as raw:
            greeting = raw.recv(4)
            with contextlib.suppress(OSError):
                raw.sendall(b"QUIT\r\n")
            return greeting.startswith(b"220")
    except OSError:
        return False


class _Conversation:
    """One SMTP session; it remembers the command in progress so that a failure can name it."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.port}"
        self.step = "connect"
        self.smtp: smtplib.SMTP | None = None

    def deliver(self, data: bytes, sender: str, recipients: Sequence[str]) -> str:
        """Connect, secure, log in, then MAIL, RCPT for everyone, DATA."""
        self._begin("connect")
        self.smtp = smtp = _Client(self.settings)
        self._secure(smtp)
        if self.settings.smtp_user:
            self._login(smtp)
        self._begin(f"MAIL FROM <{sender}>" + (f" (as user {self.settings.smtp_user!r})"
                                               if self.settings.smtp_user else ""))
        options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise _Reply(self.step, code, reply)
        self._begin("RCPT TO")
        # Every recipient must be accepted before DATA: a partly refused message is not "sent".
        answers = {address: smtp.rcpt(address) for address in recipients}
        refused = {a: answer for a, answer in answers.items() if answer[0] not in (250, 251)}
        if refused:
            raise _Refused(refused)
        self._begin("DATA")
        code, reply = smtp.data(data)
        if code != 250:
            raise _Reply("end of DATA", code, reply)
        return f"{code} {_reply(reply)} from {self.where}"

    def _begin(self, step: str) -> None:
        """Name the command in progress (for errors) and log it (for --debug)."""
        self.step = step
        log.debug("SMTP %s: %s", self.where, step)

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
        smtp.starttls(context=self.settings.tls_context())
        self._begin("EHLO")
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP) -> None:
        """One AUTH attempt, with the first mechanism the server offers that smtplib has.

        smtplib's login() tries each mechanism in turn, so one wrong password would count as
        two or three failed logins towards a lockout (or fail2ban); this sends one.
        """
        self._begin("AUTH")
        if not smtp.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError(
                "the server does not offer AUTH (is --smtp-user needed, or the right port?)")
        offered = smtp.esmtp_features["auth"].upper().split()
        mechanism = next((m for m in offered if m in AUTH_MECHANISMS), None)
        if mechanism is None:
            raise smtplib.SMTPNotSupportedError(
                f"the server offers AUTH {' '.join(offered)}; iamkeys can log in with "
                f"{', '.join(AUTH_MECHANISMS)}")
        self._begin(f"AUTH {mechanism}")
        smtp.user, smtp.password = self.settings.smtp_user or "", self.settings.smtp_password or ""
        # smtp.auth_plain, auth_login or auth_cram_md5: the object smtplib's login() would use.
        smtp.auth(mechanism, getattr(smtp, "auth_" + mechanism.lower().replace("-", "_")))

    def close(self, *, polite: bool) -> None:
        """QUIT when the server is still listening (its failure changes nothing)."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            if polite:
                smtp.quit()
        smtp.close()

    def error(self, e: BaseException) -> MailError:
        """The one-line MailError for a failure in the current step."""
        return MailError(redact.text(f"SMTP {self.where}: {self.why(e)}; {self._outcome(e)}"))

    def deferred(self, e: BaseException, attempts: int) -> MailDeferredError:
        """The one-line MailDeferredError after the last temporary refusal."""
        tried = f"{attempts} attempts, each refused" if attempts > 1 else "refused"
        return MailDeferredError(redact.text(
            f"SMTP {self.where}: {self.why(e)}; message not sent ({tried} for now: try again "
            "later)"))

    def _outcome(self, e: BaseException) -> str:
        """Not sent, unless the link failed while the message was on its way."""
        if self.step == "DATA" and not _answered(e):
            return "the server did not confirm the message"
        return "message not sent"

    def why(self, e: BaseException) -> str:
        """What went wrong: the step, the address and the server's reply as it gave them."""
        if isinstance(e, _WrongTls):
            return f"{self.step}: {e}"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS: certificate verify failed: {e.verify_message}"
        if isinstance(e, ssl.SSLError):
            return f"TLS: {e.reason or e}"
        if isinstance(e, _Refused):
            return ", ".join(f"RCPT TO <{address}>: {code} {_reply(text)}"
                             for address, (code, text) in e.refused.items())
        if isinstance(e, smtplib.SMTPAuthenticationError):
            return (f"{self.step}: authentication failed for user {self.settings.smtp_user!r}: "
                    f"{e.smtp_code} {_reply(e.smtp_error)}")
        if isinstance(e, _Reply):
            return f"{e.step}: {e.smtp_code} {_reply(e.smtp_error)}"
        if isinstance(e, smtplib.SMTPResponseException):
            return f"{self.step}: {e.smtp_code} {_reply(e.smtp_error)}"
        if isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError):
            # smtplib reports a read timeout as SMTPServerDisconnected; the context tells.
            return f"{self.step}: timed out after {self.settings.smtp_timeout:g} s"
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
