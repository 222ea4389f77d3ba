"""`iamkeys diff OLD.json NEW.json`: what changed between two saved inventories."""

from __future__ import annotations

import gc

import click

from .. import changes, documents, serialize
from ..errors import InputError
from ..model import Inventory


@click.command("diff")
@click.argument("old", metavar="OLD.json")
@click.argument("new", metavar="NEW.json")
def command(old: str, new: str) -> None:
    """Print the Changes from OLD to NEW (two `iamkeys inventory` outputs), by access key id.

    \b
    NewKeys, RemovedKeys, StatusChanged, NewFindings, ResolvedFindings: the same Changes that
    `inventory --baseline OLD.json` adds. What NEW could not read (its Errors) is never
    reported as removed or resolved.
    """
    # Two large inventories are millions of small, acyclic objects: the cycle collector would
    # walk them again and again as they are built (a third of the time at 20,000 keys) and
    # find nothing to free. This process ends when the diff is printed.
    gc.disable()
    before = _inventory(old, "OLD.json")
    after = _inventory(new, "NEW.json")
    click.echo(serialize.dumps(serialize.changes(changes.compare(before, after))), nl=False)


def _inventory(path: str, argument: str) -> Inventory:
    """A saved inventory; anything else is a usage error (exit 2) naming the argument."""
    try:
        return documents.saved_inventory(documents.read_file(path, parameter=argument),
                                         parameter=argument, where=path)
    except InputError as e:
        raise click.UsageError(f"{argument}: {e.rule}") from e
