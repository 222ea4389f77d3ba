"""`iamkeys inventory`: every access key of an account or organization, with findings."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import IO, Any, TypeVar

import click

from .. import aws, documents, params, serialize
from ..cli import aws_options, connection_from_options, output_to, warn
from ..errors import FindingsError, InputError, PartialResultError
from ..findings import RULES
from ..inventory import (
    DEFAULT_ROLE_NAME,
    InventoryRequest,
    Progress,
    run,
    run_with_state,
)
from ..model import Inventory

F = TypeVar("F", bound=Callable[..., Any])


def inventory_options(function: F) -> F:
    """What an inventory lists and how it reaches AWS: the options `inventory` and
    `remediate` share, passed under their own names."""
    decorators = [
        click.option("--accounts", metavar="IDS",
                     help="Comma-separated account ids (default: the caller's account)."),
        click.option("--organization", is_flag=True,
                     help="Every ACTIVE account of the AWS Organization (ListAccounts)."),
        click.option("--role-name", metavar="NAME", default=DEFAULT_ROLE_NAME,
                     show_default=True, help="Role assumed in each account other than the "
                                             "caller's."),
        click.option("--external-id", metavar="ID", help="ExternalId for AssumeRole."),
        click.option("--path-prefix", metavar="PATH",
                     help="Only users under this IAM path, e.g. /ops/."),
        click.option("--no-last-used", is_flag=True, help="Skip GetAccessKeyLastUsed (faster; "
                     "no IAM.22 or CIS.1.11 findings)."),
        click.option("--concurrency", metavar="N", help="Users worked on at once, 1-256.  "
                     "[default: 64]"),
        click.option("--max-key-age", metavar="DAYS", help="IAM.3: active keys older than "
                     "this.  [default: 90]"),
        click.option("--max-unused", metavar="DAYS", help="IAM.22: active keys unused for "
                     "longer.  [default: 45]"),
        click.option("--max-inactive", metavar="DAYS", help="STALE_INACTIVE: inactive keys "
                     "older than this.  [default: 30]"),
        click.option("--region", metavar="REGION", help="Region for STS and IAM (default: "
                     "profile's, else us-east-1); picks the partition."),
        aws_options,
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def inventory_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """The `inventory_options` values as `InventoryRequest.build` takes them."""
    return {"accounts": options["accounts"], "organization": options["organization"],
            "role_name": options["role_name"], "external_id": options["external_id"],
            "path_prefix": options["path_prefix"], "last_used": not options["no_last_used"],
            "concurrency": options["concurrency"], "max_key_age": options["max_key_age"],
            "max_unused": options["max_unused"], "max_inactive": options["max_inactive"]}


def connection_of(options: Mapping[str, Any], concurrency: int) -> aws.Connection:
    """The AWS connection of the `inventory_options` values, pooled for `concurrency`."""
    return replace(
        connection_from_options(options["profile"], options["endpoint_url"],
                                options["connect_timeout"], options["read_timeout"],
                                max_pool_connections=concurrency + 1),
        region=aws.known_region(options["region"]))


@click.command("inventory")
@inventory_options
@click.option("--owner-tag", "owner_tag", multiple=True, metavar="KEY",
              help="Tag key holding each user's owner (an e-mail address); repeatable, first "
                   "match wins, compared without case (ListUserTags).")
@click.option("--baseline", metavar="FILE",
              help="An earlier inventory (JSON): adds Changes and carries Since over.")
@click.option("--state", metavar="LOCATION",
              help="s3://bucket/key or a file: the stored inventory is the baseline, and this "
                   "run's is stored there (only if no other run stored one meanwhile).")
@click.option("--fail-on-findings", is_flag=True, help="Exit 4 when there are findings.")
@click.option("--output", metavar="FORMAT",
              help="json (default), csv, table, html, asff (Security Hub) or ocsf.")
@click.option("--out", metavar="FILE", help="Write the output to FILE instead of stdout.")
def command(accounts: str | None, organization: bool, role_name: str, external_id: str | None,
            path_prefix: str | None, no_last_used: bool, concurrency: str | None,
            max_key_age: str | None, max_unused: str | None, max_inactive: str | None,
            owner_tag: tuple[str, ...], baseline: str | None, state: str | None,
            fail_on_findings: bool, output: str | None, out: str | None, region: str | None,
            profile: str | None, endpoint_url: str | None, connect_timeout: str,
            read_timeout: str) -> None:
    """List every IAM user's access keys, their last use and hygiene findings.

    \b
    Exit codes: 0 complete; 1 nothing could be listed; 2 bad option;
    3 some users, keys or accounts failed (named under Errors, the rest is printed);
    4 findings, with --fail-on-findings.
    """
    request = InventoryRequest.build(
        accounts=accounts, organization=organization, role_name=role_name,
        external_id=external_id, path_prefix=path_prefix, last_used=not no_last_used,
        concurrency=concurrency, max_key_age=max_key_age, max_unused=max_unused,
        max_inactive=max_inactive, owner_tag=owner_tag)
    fmt = params.output(output, choices=params.INVENTORY_FORMATS)
    target = params.output_file(out)
    location = params.state_location(state)
    if baseline is not None and location is not None:
        raise InputError("baseline", "cannot be combined with --state (the state is the "
                                     "baseline)")
    earlier = (documents.saved_inventory(documents.read_file(baseline, parameter="baseline"),
                                         parameter="baseline", where=baseline)
               if baseline is not None else None)
    connection = replace(
        connection_from_options(profile, endpoint_url, connect_timeout, read_timeout,
                                max_pool_connections=request.concurrency + 1),
        region=aws.known_region(region))
    with _progress() as hook:
        if location is not None:
            inv = run_with_state(request, location, connection=connection, progress=hook)
        else:
            inv = run(request, connection=connection, progress=hook, baseline=earlier)
    with output_to(target) as stream:
        write(inv, fmt, stream, connection)
    if target is not None:
        warn(f"wrote {target}: {fmt} inventory of {written(inv)}")
    _conclude(inv, fmt, fail_on_findings)


def write(inv: Inventory, fmt: str, stream: IO[str],
          connection: aws.Connection | None = None) -> None:
    """The inventory in one of the output formats; JSON and CSV are written record by record,
    so the whole document is never in memory at once."""
    if fmt == "json":
        serialize.write(serialize.inventory_stream(inv), stream)
        return
    if fmt in ("asff", "ocsf"):
        stream.write(_findings_text(inv, fmt, connection or aws.Connection()))
        return
    from ..render.tabular import table_text, write_csv

    if fmt == "csv":
        write_csv(serialize.INVENTORY_COLUMNS, serialize.inventory_rows(inv), stream)
    elif fmt == "html":
        from ..render.report import report_html

        stream.write(report_html(inv))
    else:
        columns = serialize.INVENTORY_TABLE_COLUMNS
        stream.write(table_text(columns, serialize.inventory_rows(inv, columns)))


def _findings_text(inv: Inventory, fmt: str, connection: aws.Connection) -> str:
    """The findings as a JSON array of ASFF findings or OCSF Detection Findings."""
    from ..render import asff, ocsf

    region = aws.default_region(aws.make_session(connection), connection)
    partition = aws.partition_of(region).name
    renderer = asff.findings if fmt == "asff" else ocsf.findings
    return serialize.dumps(renderer(inv, region=region, partition=partition))


@contextmanager
def _progress() -> Iterator[Callable[[Progress], None] | None]:
    """A rich progress display on stderr when it is a terminal; no hook otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bar

    bar = Bar(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
              console=Console(stderr=True), transient=True)
    tasks = [bar.add_task(name, total=None) for name in ("accounts", "users", "keys")]

    def hook(p: Progress) -> None:
        for task, done, total in zip(tasks, (p.accounts_done, p.users_done, p.keys_done),
                                     (p.accounts_total, p.users_total, p.keys_total),
                                     strict=True):
            bar.update(task, completed=done, total=total)

    with bar:
        yield hook


def written(inv: Inventory) -> str:
    """What an inventory holds, for the line that names the file written: "3 accounts, 120
    users, 200 keys, 14 findings, 0 errors"."""
    counts = ((len(inv.accounts), "account"), (inv.users, "user"), (len(inv.keys), "key"),
              (inv.findings, "finding"), (len(inv.errors), "error"))
    return ", ".join(f"{n} {word}{'s' * (n != 1)}" for n, word in counts)


def _conclude(inv: Inventory, fmt: str, fail_on_findings: bool) -> None:
    """After the output: errors on stderr (non-JSON formats), then the exit code."""
    if inv.errors:
        if fmt != "json":
            for error in inv.errors:
                who = f"{error.account_id} {error.user_name or '(account)'}"
                warn(f"{who} {error.operation}: {error.code}: {error.message}")
        raise PartialResultError(f"{len(inv.errors)} item(s) could not be listed; "
                                 "see Errors in the output")
    if fail_on_findings and inv.findings:
        counts = serialize.inventory_summary(inv)["FindingsByRule"]
        listed = ", ".join(f"{rule} {counts[rule]}" for rule in RULES if counts.get(rule))
        raise FindingsError(f"{inv.findings} finding(s): {listed}")
