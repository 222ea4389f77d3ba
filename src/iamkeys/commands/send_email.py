"""`iamkeys send-email`: deliver a JSON result of any iamkeys command as one email."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from .. import aws
from ..aws import Connection
from ..cli import aws_options, connection_from_options, warn
from ..documents import load_json, read_input
from ..errors import InputError
from ..mail import Envelope, MailSettings, send_result

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class MailOptions:
    """The mail options as given on the command line (None: not given, see the environment)."""

    smtp_host: str | None = None
    smtp_port: str | None = None
    smtp_security: str | None = None
    smtp_user: str | None = None
    smtp_ehlo_name: str | None = None
    smtp_timeout: str | None = None
    smtp_ca_file: str | None = None
    ses: bool = False
    outbox: str | None = None


def mail_options(function: F) -> F:
    """The transport options (SMTP, SES, outbox) that every command sending mail takes; the
    command receives them as one `mail: MailOptions` argument."""
    decorators = [
        click.option("--smtp-host", metavar="HOST",
                     help="Send through this SMTP server. Env: IAMKEYS_SMTP_HOST."),
        click.option("--smtp-port", metavar="PORT",
                     help="SMTP port (default: 587 starttls, 465 ssl, 25 none). "
                          "Env: IAMKEYS_SMTP_PORT."),
        click.option("--smtp-security", metavar="MODE",
                     help="starttls (default; ports 587 and 25), ssl (implicit TLS, port 465) "
                          "or none. Env: IAMKEYS_SMTP_SECURITY."),
        click.option("--smtp-user", metavar="USER",
                     help="SMTP AUTH user; the password only from IAMKEYS_SMTP_PASSWORD. "
                          "Env: IAMKEYS_SMTP_USER."),
        click.option("--smtp-ehlo-name", metavar="HOST",
                     help="The host name to give in EHLO (default: this machine's FQDN). "
                          "Env: IAMKEYS_SMTP_EHLO_NAME."),
        click.option("--smtp-timeout", metavar="SECONDS",
                     help="SMTP connect and reply timeout, 1-600 (default: 30). "
                          "Env: IAMKEYS_SMTP_TIMEOUT."),
        click.option("--smtp-ca-file", metavar="FILE",
                     help="Trust only the CA certificates in this PEM file for the SMTP "
                          "server (a private CA; default: the system's trust store). "
                          "Env: IAMKEYS_SMTP_CA_FILE."),
        click.option("--ses", is_flag=True,
                     help="Send through Amazon SES v2 (raw MIME; IAM action ses:SendRawEmail)."),
        click.option("--outbox", metavar="DIR",
                     help="Without --smtp-host or --ses: write the message as an .eml file here "
                          "(default: ./outbox). Env: IAMKEYS_OUTBOX."),
    ]

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {field.name: kwargs.pop(field.name) for field in dataclasses.fields(MailOptions)}
        return function(*args, mail=MailOptions(**given), **kwargs)

    for decorator in reversed(decorators):
        command = decorator(command)
    return cast(F, command)


def settings_from_options(options: MailOptions, *, connection: Connection | None = None,
                          environ: Mapping[str, str] | None = None) -> MailSettings:
    """MailSettings from the `mail_options` values over the environment (os.environ by default)."""
    given = dataclasses.asdict(options)
    given["ses"] = options.ses or None
    return MailSettings.from_environ(os.environ if environ is None else environ,
                                     connection=connection, **given)


@click.command("send-email")
@click.option("--input", "input_path", metavar="FILE",
              help="JSON result of an iamkeys command (default: stdin; - is stdin).")
@click.option("--to", multiple=True, metavar="ADDR",
              help="Recipient; repeat it, or separate addresses with commas. Required.")
@click.option("--cc", multiple=True, metavar="ADDR", help="Copy recipient; repeatable.")
@click.option("--from", "sender", metavar="ADDR",
              help='Sender: sec@example.com or "IAM key report <sec@example.com>". Required '
                   "with SMTP and SES; the outbox uses iamkeys@localhost. Env: IAMKEYS_FROM.")
@click.option("--subject", metavar="TEXT",
              help='Subject (default: a summary such as "IAM access keys: 2 keys, 1 user").')
@mail_options
@click.option("--region", metavar="REGION",
              help="SES region (default: the profile's or AWS_REGION, else us-east-1).")
@aws_options
def command(input_path: str | None, to: tuple[str, ...], cc: tuple[str, ...],
            sender: str | None, subject: str | None, mail: MailOptions, region: str | None,
            profile: str | None, endpoint_url: str | None, connect_timeout: str,
            read_timeout: str) -> None:
    """Email a JSON result (stdin or --input): HTML table, text, JSON and CSV attachments."""
    envelope = Envelope.build(to=to, cc=cc, sender=sender, subject=subject)
    connection = dataclasses.replace(
        connection_from_options(profile, endpoint_url, connect_timeout, read_timeout),
        region=aws.known_region(region))
    settings = settings_from_options(mail, connection=connection)
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
