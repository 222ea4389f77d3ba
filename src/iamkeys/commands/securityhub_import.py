"""`iamkeys securityhub-import`: an inventory's findings into AWS Security Hub."""

from __future__ import annotations

import dataclasses
import sys

import click

from .. import aws, documents, serialize
from ..cli import aws_options, connection_from_options, warn
from ..errors import AwsError, InputError, PartialResultError
from ..securityhub import DEFAULT_ROLE_NAME, ImportRequest, import_inventory


@click.command("securityhub-import")
@click.option("--input", "input_path", metavar="FILE",
              help="An inventory (JSON) from `iamkeys inventory` (default: stdin; - is stdin).")
@click.option("--role-name", metavar="NAME", default=DEFAULT_ROLE_NAME, show_default=True,
              help="Role assumed in each account other than the caller's: Security Hub takes "
                   "an account's findings only from that account.")
@click.option("--external-id", metavar="ID", help="ExternalId for AssumeRole.")
@click.option("--region", metavar="REGION",
              help="Security Hub's region (default: the profile's, else us-east-1).")
@aws_options
def command(input_path: str | None, role_name: str, external_id: str | None,
            region: str | None, profile: str | None, endpoint_url: str | None,
            connect_timeout: str, read_timeout: str) -> None:
    """Import the inventory's findings (ASFF, BatchImportFindings, 100 a call); findings
    resolved since its baseline are archived.

    \b
    Exit codes: 0 every finding taken; 1 none could be sent; 2 bad option or input;
    3 some findings refused or not sent (each named on stderr and in the output).
    """
    request = ImportRequest.build(role_name=role_name, external_id=external_id)
    connection = dataclasses.replace(
        connection_from_options(profile, endpoint_url, connect_timeout, read_timeout),
        region=aws.known_region(region))
    inv = documents.saved_inventory(_read(input_path), parameter="input",
                                    where=input_path or "stdin")
    result = import_inventory(inv, request, connection=connection)
    click.echo(serialize.dumps(serialize.securityhub_import(result)), nl=False)
    for failed in result.failed:
        warn(f"finding {failed.finding_id} (account {failed.account_id}) refused: "
             f"{failed.code}: {failed.message}")
    for error in result.errors:
        warn(f"account {error.account_id} {error.operation}: {error.code}: {error.message} "
             f"({error.findings} finding(s) not sent)")
    if result.complete:
        return
    if result.imported + result.archived == 0 and result.errors:
        first = result.errors[0]
        raise AwsError(first.code, f"{first.message} [account {first.account_id}, "
                                   f"{first.operation}]; no finding was imported")
    missing = len(result.failed) + sum(e.findings for e in result.errors)
    raise PartialResultError(f"{missing} finding(s) not imported; see FailedFindings and "
                             "Errors in the output")


def _read(path: str | None) -> bytes:
    """The inventory's bytes: a file, or stdin when it is not a terminal."""
    if path is not None and path != "-":
        return documents.read_file(path, parameter="input")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("input", "no input: pass --input FILE or pipe an inventory in")
    return documents.read_input(sys.stdin.buffer, limit=documents.MAX_INVENTORY_BYTES)
