"""The embedded default: an in-process IAM emulator and SMTP server, nothing else needed.

`iamkeys demo` needs no AWS account and no mail server: it starts moto's server on 127.0.0.1
(a free port), creates AWS's example user Alice (from the ListAccessKeys documentation) with keys
AKIA111111111EXAMPLE and AKIA222222222EXAMPLE (dates set on the emulator's own objects), plus a
few other users, starts an aiosmtpd server on 127.0.0.1 (a free port) that keeps what it
receives in memory, runs the `list-access-keys-email` workflow against both, and stops everything.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IamKeysError

if TYPE_CHECKING:
    import boto3

LOOPBACK = "127.0.0.1"
DEMO_ACCOUNT = "123456789012"
# The example output of AWS's ListAccessKeys documentation: Alice's two keys.
ALICE_KEYS = (
    ("Alice", "AKIA111111111EXAMPLE", datetime(2016, 12, 1, 22, 19, 58, tzinfo=UTC), "Active"),
    ("Alice", "AKIA222222222EXAMPLE", datetime(2016, 12, 1, 22, 20, 1, tzinfo=UTC), "Active"),
)
OTHER_USERS = (
    ("Bob", "AKIA333333333EXAMPLE", datetime(2023, 3, 14, 9, 26, 53, tzinfo=UTC), "Inactive"),
    ("Carol", "AKIA444444444EXAMPLE", datetime(2025, 6, 30, 12, 0, 0, tzinfo=UTC), "Active"),
    ("deploy-bot", "AKIA555555555EXAMPLE", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "Active"),
)


@dataclass(frozen=True, slots=True)
class Emulator:
    """A running embedded IAM emulator: its URL and a session whose keys it accepts."""

    url: str
    session: boto3.Session


@contextmanager
def embedded_iam() -> Iterator[Emulator]:
    """Start moto's server in-process on 127.0.0.1 (free port), fill it, stop it on exit."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        raise IamKeysError("the demo needs the emulator: pip install 'iamkeys[demo]'") from e
    _quiet_werkzeug()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        session = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                                aws_secret_access_key="demo-secret-not-a-real-key",
                                region_name="us-east-1")
        emulator = Emulator(url=f"http://{host}:{port}", session=session)
        populate(emulator)
        yield emulator
    finally:
        server.stop()
        _reset_moto()


def populate(emulator: Emulator) -> None:
    """Create Alice and the other users and keys over HTTP, then set ids and dates on moto's
    objects."""
    iam = emulator.session.client("iam", endpoint_url=emulator.url)
    for user_name, key_id, created, status in ALICE_KEYS + OTHER_USERS:
        if user_name not in {u["UserName"] for u in iam.list_users()["Users"]}:
            iam.create_user(UserName=user_name)
        made = iam.create_access_key(UserName=user_name)["AccessKey"]["AccessKeyId"]
        _set_key(made, key_id, created, status)


def _set_key(made: str, key_id: str, created: datetime, status: str) -> None:
    """Give an emulator key the example's id, creation date and status."""
    from moto.iam.models import iam_backends

    backend = iam_backends[DEMO_ACCOUNT]["aws"]
    key = backend.access_keys.pop(made)
    key.access_key_id = key_id
    key.create_date = created.replace(tzinfo=None)
    key.status = status
    backend.access_keys[key_id] = key


def _quiet_werkzeug() -> None:
    """The embedded server must not log each request to the demo's stderr."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _reset_moto() -> None:
    """Forget the emulator's state so a second demo in the same process starts clean."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


@dataclass(frozen=True, slots=True)
class Received:
    """One message the embedded SMTP server accepted: envelope and bytes as received."""

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message, parsed."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """A running embedded SMTP server: where it listens and what it has received so far."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)


@contextmanager
def embedded_smtp() -> Iterator[SmtpServer]:
    """Start aiosmtpd on 127.0.0.1 (a free port) keeping messages in memory; stop it on exit."""
    import socket

    try:
        from aiosmtpd.controller import Controller
    except ImportError as e:
        raise IamKeysError("the demo needs the SMTP server: pip install 'iamkeys[demo]'") from e

    class BoundController(Controller):
        """Serves on a socket bound beforehand, so the kernel picks the free port."""

        def __init__(self, handler: Any, sock: socket.socket) -> None:
            super().__init__(handler, hostname=LOOPBACK, port=sock.getsockname()[1])
            self.sock = sock

        def _create_server(self) -> Any:
            return self.loop.create_server(self._factory_invoker, sock=self.sock)

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        server = SmtpServer(host=LOOPBACK, port=sock.getsockname()[1])
        controller = BoundController(_Keeper(server.received), sock)
        controller.start()
        try:
            yield server
        finally:
            controller.stop()


class _Keeper:
    """aiosmtpd handler: accept every message and keep it."""

    def __init__(self, received: list[Received]) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(mail_from=str(envelope.mail_from),
                                      recipients=tuple(envelope.rcpt_tos),
                                      data=bytes(envelope.original_content)))
        return "250 2.0.0 Message accepted for delivery"


def save_html(message: EmailMessage, directory: Path) -> Path:
    """Write the message's HTML body to `directory`/email.html (created) and return its path."""
    body = message.get_body(preferencelist=("html",))
    if body is None or not isinstance(body, EmailMessage):
        raise IamKeysError("the message has no HTML body")
    path = directory / "email.html"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(body.get_content(), encoding="utf-8")
    except OSError as e:
        raise IamKeysError(f"cannot write {path}: {e.strerror or e}") from e
    return path


def attachments(message: EmailMessage) -> list[str]:
    """Each attachment as `name (type, N bytes)`."""
    return [f"{part.get_filename()} ({part.get_content_type()}, "
            f"{len(part.get_payload(decode=True) or b'')} bytes)"
            for part in message.iter_attachments()]
