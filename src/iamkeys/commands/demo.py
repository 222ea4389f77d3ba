"""`iamkeys demo`: the "list access keys and send results via email" workflow end to end on the
embedded default, no AWS account needed."""

from __future__ import annotations

from pathlib import Path

import click

from .. import params, serialize
from ..actions import Runtime
from ..aws import Connection
from ..cli import warn
from ..demo import Received, SmtpServer, attachments, embedded_iam, embedded_smtp, save_html
from ..errors import IamKeysError
from ..mail import DEFAULT_SENDER, MailSettings
from .run import execute

WORKFLOW = "list-access-keys-email"
INPUTS = {"user_name": "Alice", "to": "security-team@example.com"}


@click.command("demo")
@click.option("--output-dir", metavar="DIR", default="demo-output", show_default=True,
              help="Where to save the HTML body of the email the SMTP server received.")
def command(output_dir: str) -> None:
    """List Alice's access keys on an embedded IAM emulator and email them to an embedded SMTP
    server: the list-access-keys-email workflow, run as `iamkeys run` runs it."""
    directory = Path(params.directory_path(output_dir, name="output_dir") or output_dir)
    with embedded_iam() as emulator, embedded_smtp() as smtp:
        warn(f"embedded IAM emulator on {emulator.url} (holding AWS's example user Alice)")
        warn(f"embedded SMTP server on {smtp.host}:{smtp.port} (keeps messages in memory)")
        warn(f"$ iamkeys run {WORKFLOW} "
             + " ".join(f"--input {name}={value}" for name, value in INPUTS.items()))
        runtime = Runtime(
            connection=Connection(endpoint_url=emulator.url), session=emulator.session,
            mail=MailSettings.from_environ({}, smtp_host=smtp.host, smtp_port=smtp.port,
                                           smtp_security="none", sender=DEFAULT_SENDER))
        outcome = execute(WORKFLOW, INPUTS, runtime)
        click.echo(serialize.dumps(outcome.outputs["list"]), nl=False)
        _show(smtp, directory)
    warn("emulator and SMTP server stopped")


def _show(smtp: SmtpServer, output_dir: Path) -> None:
    """What the SMTP server received, on stderr; the HTML body saved to `output_dir`."""
    if len(smtp.received) != 1:
        raise IamKeysError(f"the SMTP server received {len(smtp.received)} messages, not 1")
    received: Received = smtp.received[0]
    message = received.message
    path = save_html(message, output_dir)
    warn(f"the SMTP server on {smtp.host}:{smtp.port} received 1 message:")
    warn(f"  From: {received.mail_from}")
    warn(f"  To: {', '.join(received.recipients)}")
    warn(f"  Subject: {message['Subject']}")
    warn(f"  Attachments: {', '.join(attachments(message))}")
    warn(f"  HTML body saved to {path} (open it in a browser)")
