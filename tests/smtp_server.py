"""Real aiosmtpd servers on 127.0.0.1 (free ports) for the mail tests, and their fixtures.

Variants: plain, STARTTLS, implicit TLS, and AUTH over STARTTLS or implicit TLS; certificates
come from a test CA made with trustme. The handler records what the server accepted (and every
EHLO, MAIL FROM and AUTH attempt) and can be told to answer a command with an error, now or
for its next few occurrences, or to drop the connection before answering DATA. `CutOffSmtp`
is a bare server that drops the connection in the middle of DATA.

Import the fixtures into a test module: `from smtp_server import smtp_plain, ...`.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
SMTP_USER = "mailer"
SMTP_PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern API."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """aiosmtpd handler: keeps accepted messages; scripted replies make commands fail.

    `replies` answers a command ("MAIL", "RCPT", "DATA") every time; `script` answers its next
    occurrences, one reply each, then the command is accepted again (greylisting: refused a
    few times, then accepted). Counters: every EHLO name, MAIL FROM and AUTH attempt seen.
    """

    received: list[Received] = field(default_factory=list)
    # Command ("MAIL", "RCPT", "DATA") -> the reply to give instead of accepting.
    replies: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[str]] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply
    drop_before_data_reply: bool = False
    rcpt_seen: list[str] = field(default_factory=list)
    mail_seen: list[str] = field(default_factory=list)
    ehlo_seen: list[str] = field(default_factory=list)
    auth_attempts: list[str] = field(default_factory=list)  # the mechanism of each
    auth_offer: str | None = None  # e.g. "PLAIN LOGIN": the EHLO AUTH line, reordered

    def _scripted(self, command: str) -> str | None:
        """The reply planned for this occurrence of `command`, if any."""
        queued = self.script.get(command)
        if queued:
            return queued.pop(0)
        return self.replies.get(command)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.ehlo_seen.append(hostname)
        session.host_name = hostname
        if self.auth_offer is not None:  # "" takes AUTH out of the answer
            responses = [f"250-AUTH {self.auth_offer}" if r.startswith("250-AUTH ") else r
                         for r in responses if self.auth_offer or not r.startswith("250-AUTH ")]
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        self.mail_seen.append(address)
        reply = self._scripted("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.rcpt_seen.append(address)
        reply = self.refuse.get(address) or self._scripted("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_before_data_reply:
            server.transport.close()
            return "451 dropped"
        reply = self._scripted("DATA")
        if reply:
            return reply
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      bytes(envelope.original_content)))
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        """Accept SMTP_USER with SMTP_PASSWORD only; every attempt is counted."""
        self.auth_attempts.append(mechanism)
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
              and auth_data.password == SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)


class FreePortController(Controller):  # type: ignore[misc]
    """A Controller listening on a port the kernel chose (bound before the loop starts)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((HOST, 0))
        super().__init__(handler, hostname=HOST, port=self._socket.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._socket,
                                       ssl=self.ssl_context)


@dataclass
class SmtpServer:
    """A running test server: where it listens, what it received, how to trust it."""

    host: str
    port: int
    handler: Recorder
    ca: trustme.CA
    ca_file: Path

    @property
    def received(self) -> list[Received]:
        """Messages accepted so far."""
        return self.handler.received

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the test CA (and nothing else)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context


@pytest.fixture(scope="session")
def smtp_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """A CA made for this test session, its PEM file, and a server certificate for 127.0.0.1."""
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, ca_file


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


def _serve(smtp_ca: tuple[trustme.CA, Path], *, auth: bool = False,
           **kwargs: Any) -> Iterator[SmtpServer]:
    """Start a controller with these aiosmtpd options; stop it afterwards."""
    ca, ca_file = smtp_ca
    handler = Recorder()
    if auth:
        kwargs = {"authenticator": handler.authenticate, "auth_required": True,
                  "auth_require_tls": True, **kwargs}
    controller = FreePortController(handler, **kwargs)
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, handler, ca, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def smtp_plain(smtp_ca: tuple[trustme.CA, Path]) -> Iterator[SmtpServer]:
    """An SMTP server without TLS or AUTH."""
    yield from _serve(smtp_ca)


@pytest.fixture
def smtp_starttls(smtp_ca: tuple[trustme.CA, Path]) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS."""
    yield from _serve(smtp_ca, tls_context=_server_context(smtp_ca[0]), require_starttls=True)


@pytest.fixture
def smtp_auth(smtp_ca: tuple[trustme.CA, Path]) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS, then AUTH as SMTP_USER / SMTP_PASSWORD."""
    yield from _serve(smtp_ca, tls_context=_server_context(smtp_ca[0]), require_starttls=True,
                      auth=True)


@pytest.fixture
def smtp_tls_auth(smtp_ca: tuple[trustme.CA, Path]) -> Iterator[SmtpServer]:
    """An SMTP server on implicit TLS (like port 465) that requires AUTH."""
    # aiosmtpd counts only STARTTLS as encryption; this connection is TLS from the start.
    yield from _serve(smtp_ca, ssl_context=_server_context(smtp_ca[0]), auth=True,
                      auth_require_tls=False)


@pytest.fixture
def smtp_tls(smtp_ca: tuple[trustme.CA, Path]) -> Iterator[SmtpServer]:
    """An SMTP server on implicit TLS (SMTPS, like port 465)."""
    yield from _serve(smtp_ca, ssl_context=_server_context(smtp_ca[0]))


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections (bound, never listening)."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind((HOST, 0))
    try:
        yield held.getsockname()[1]
    finally:
        held.close()


class CutOffSmtp:
    """A bare SMTP server that closes the connection mid-DATA, after `cut_after` bytes.

    aiosmtpd reads the whole message before its handler sees it, so it cannot cut a message
    in the middle; this one speaks just enough SMTP (one connection at a time, in a thread).
    `data_bytes` is how much of the message arrived before the cut.
    """

    def __init__(self, cut_after: int) -> None:
        self.cut_after = cut_after
        self.data_bytes = 0
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="cut-off-smtp", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening; the thread ends with the listener."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(10)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                with contextlib.suppress(OSError):
                    self._converse(conn)

    def _converse(self, conn: socket.socket) -> None:
        """Greet, accept the envelope, then cut the connection in the middle of DATA."""
        conn.settimeout(10)
        reader = conn.makefile("rb")
        conn.sendall(b"220 cut-off ESMTP\r\n")
        for line in reader:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 cut-off\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while self.data_bytes < self.cut_after:
                    chunk = reader.read1(self.cut_after - self.data_bytes)
                    if not chunk:
                        break
                    self.data_bytes += len(chunk)
                conn.shutdown(socket.SHUT_RDWR)
                return
            else:  # MAIL, RCPT, RSET, NOOP
                conn.sendall(b"250 OK\r\n")
