"""The embedded default: an in-process IAM emulator seeded with the seed's example account.

`iamkeys demo` needs no AWS account and no mail server: it starts moto's server on 127.0.0.1
(a free port), creates the seed's user Alice with keys AKIA111111111EXAMPLE and
AKIA222222222EXAMPLE (dates set on the emulator's own objects), plus a few other users, runs
the List Access Keys action against it, and stops everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import IamKeysError

if TYPE_CHECKING:
    import boto3

DEMO_ACCOUNT = "123456789012"
# The seed's example output: Alice's two keys.
SEED_KEYS = (
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
    """Start moto's server in-process on 127.0.0.1 (free port), seed it, stop it on exit."""
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
        seed(emulator)
        yield emulator
    finally:
        server.stop()
        _reset_moto()


def seed(emulator: Emulator) -> None:
    """Create the seed's users and keys over HTTP, then set ids and dates on moto's objects."""
    iam = emulator.session.client("iam", endpoint_url=emulator.url)
    for user_name, key_id, created, status in SEED_KEYS + OTHER_USERS:
        if user_name not in {u["UserName"] for u in iam.list_users()["Users"]}:
            iam.create_user(UserName=user_name)
        made = iam.create_access_key(UserName=user_name)["AccessKey"]["AccessKeyId"]
        _set_key(made, key_id, created, status)


def _set_key(made: str, key_id: str, created: datetime, status: str) -> None:
    """Give an emulator key the seed's id, creation date and status."""
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
