"""`iamkeys demo`: the main job on the embedded default, no AWS account needed."""

from __future__ import annotations

import click

from .. import serialize
from ..aws import Connection
from ..cli import warn
from ..demo import embedded_iam
from ..listing import list_access_keys


@click.command("demo")
def command() -> None:
    """Run List Access Keys for the seed's user Alice against an embedded IAM emulator."""
    with embedded_iam() as emulator:
        warn(f"embedded IAM emulator on {emulator.url} (seeded with the seed's example account)")
        warn("$ iamkeys list-access-keys --user-name Alice")
        results = list_access_keys(user_name="Alice", session=emulator.session,
                                   connection=Connection(endpoint_url=emulator.url))
        click.echo(serialize.dumps(serialize.listings(results)), nl=False)
    warn("emulator stopped")
