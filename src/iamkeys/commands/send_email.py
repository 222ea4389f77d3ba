"""`iamkeys send-email`: deliver a JSON result of any iamkeys command as one email."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import aws
from ..aws import Connection
from ..cli import aws_options, connection_from_options, warn
from ..documents import load_json, read_input
from ..errors import InputError
from ..mail import Envelope, MailSettings, send_result

F = TypeVar("F", bound=Callable[..., Any])


def mail_options(function: F) -> F:
    """The transport options (SMTP, SES, outbox) that every command sending mail takes."""
    decorators = [
        click.option("--smtp-host", metavar="HOST",
                     help="Send through this SMTP server. Env: IAMKEYS_SMTP_HOST."),
        click.option("--smtp-port", metavar="PORT",
                     help="SMTP port (default: 587 starttls, 465 ssl, 25 none). "
                          "Env: IAMKEYS_SMTP_PORT."),
        click.option("--smtp-security", metavar="MODE",
                     help="starttls (default), ssl or none. Env: IAMKEYS_SMTP_SECURITY."),
        click.option("--smtp-user", metavar="USER",
                     help="SMTP AUTH user; the password only from IAMKEYS_SMTP_PASSWORD. "
                          "Env: IAMKEYS_SMTP_USER."),
        click.option("--ses", is_flag=True,
                     help="Send through Amazon SES v2 (raw MIME; IAM action ses:SendRawEmail)."),
        click.option("--outbox", metavar="DIR",
                     help="Without --smtp-host or --ses: write the message as an .eml file here "
                          "(default: ./outbox). Env: IAMKEYS_OUTBOX."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def settings_from_options(smtp_host: str | None, smtp_port: str | None,
                          smtp_security: str | None, smtp_user: str | None, ses: bool,
                          outbox: str | None, *, connection: Connection | None = None,
                          environ: Mapping[str, str] | None = None) -> MailSettings:
    """MailSettings from the `mail_options` values over the environment (os.environ by default)."""
    return MailSettings.from_environ(
        os.environ if environ is None else environ,
        smtp_host=smtp_host, smtp_port=smtp_port, smtp_security=smtp_security,
        smtp_user=smtp_user, ses=ses or None, outbox=outbox, connection=connection,
    )


@click.command("send-email")
@click.option("--input", "input_path", metavar="FILE",
              help="JSON result of an iamkeys command (default: stdin; - is stdin).")
@click.option("--to", multiple=True, metavar="ADDR",
              help="Recipient; repeat it, or separate addresses with commas. Required.")
@click.option("--cc", multiple=True, metavar="ADDR", help="Copy recipient; repeatable.")
@click.option("--from", "sender", metavar="ADDR", help="Sender (default: iamkeys@localhost).")
@click.option("--subject", metavar="TEXT",
              help='Subject (default: a summary such as "IAM access keys: 2 keys, 1 user").')
@mail_options
@click.option("--region", metavar="REGION",
              help="SES region (default: the profile's or AWS_REGION, else us-east-1).")
@aws_options
def command(input_path: str | None, to: tuple[str, ...], cc: tuple[str, ...],
            sender: str | None, subject: str | None, smtp_host: str | None,
            smtp_port: str | None, smtp_security: str | None, smtp_user: str | None, ses: bool,
            outbox: str | None, region: str | None, profile: str | None,
            endpoint_url: str | None, connect_timeout: str, read_timeout: str) -> None:
    """Email a JSON result (stdin or --input): HTML table, text, JSON and CSV attachments."""
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    connection = dataclasses.replace(
        connection_from_options(profile, endpoint_url, connect_timeout, read_timeout),
        region=aws.known_region(region))
    settings = settings_from_options(smtp_host, smtp_port, smtp_security, smtp_user, ses,
                                     outbox, connection=connection)
    raw = _read(input_path)
    delivery = send_result(load_json(raw), to=envelope.to, cc=envelope.cc,
                           sender=envelope.sender, subject=envelope.subject, settings=settings,
                           raw_json=raw)
    warn(delivery.summary())


def _read(path: str | None) -> bytes:
    """The input bytes: a file, or stdin when it is not a terminal."""
    if path is None or path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("input", "no input: pass --input FILE or pipe a JSON result in")
        return read_input(sys.stdin.buffer)
    try:
        with Path(path).open("rb") as file:
            return read_input(file)
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError("input", f"cannot read {path!r}: {reason}") from e
