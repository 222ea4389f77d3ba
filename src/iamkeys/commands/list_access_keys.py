"""`iamkeys list-access-keys`: the "IAM List Access Keys" action."""

from __future__ import annotations

import click

from .. import aws, params, serialize
from ..cli import aws_options, connection_from_options, warn
from ..errors import InputError
from ..listing import ListRequest, run
from ..model import Listing
from ..serialize import KEY_FIELDS


@click.command("list-access-keys")
@click.option("--user-name", metavar="NAME",
              help="IAM user; omitted: the user whose access key signs the request.")
@click.option("--marker", metavar="TOKEN", help="Continue from this Marker of a truncated page.")
@click.option("--max-items", metavar="N", help="Keys per page, 1-1000 (IAM's default: 100).")
@click.option("--regions", metavar="LIST",
              help="Comma-separated regions, or * for every region of the partition. "
                   "IAM is called once per partition.")
@click.option("--raw-xml", is_flag=True,
              help="Disable XML to JSON auto convert: print the XML response body as received.")
@click.option("--all-pages", is_flag=True, help="Follow Marker until IsTruncated is false.")
@click.option("--output", metavar="FORMAT", help="json (default), table or csv.")
@aws_options
def command(user_name: str | None, marker: str | None, max_items: str | None,
            regions: str | None, raw_xml: bool, all_pages: bool, output: str | None,
            profile: str | None, endpoint_url: str | None, connect_timeout: str,
            read_timeout: str) -> None:
    """Return the access key ids of an IAM user (the IAM List Access Keys action)."""
    request = ListRequest.build(user_name=user_name, marker=marker, max_items=max_items,
                                regions=regions, raw_xml=raw_xml, all_pages=all_pages)
    fmt = params.output(output)
    if raw_xml and fmt != "json":
        raise InputError("output", "--raw-xml prints XML as received; it takes no --output")
    connection = connection_from_options(profile, endpoint_url, connect_timeout, read_timeout)
    results = run(request, connection=connection,
                  on_plan=_say_plan if regions is not None else None)
    _print(results, fmt, raw_xml)
    _say_truncation(results, all_pages)


def _say_plan(calls: tuple[aws.PartitionCall, ...]) -> None:
    """One line: how many regions became how many IAM calls."""
    regions = sum(len(c.requested) for c in calls)
    partitions = ", ".join(c.partition for c in calls)
    warn(f"{regions} region(s) -> {len(calls)} IAM call(s), one per partition ({partitions}); "
         "IAM is global within a partition")


def _print(results: tuple[Listing, ...], fmt: str, raw_xml: bool) -> None:
    """Write the results to stdout in the chosen format."""
    if raw_xml:
        pages = [page for result in results for page in result.raw_pages]
        click.echo(b"\n".join(pages), nl=False)
        return
    if fmt == "json":
        click.echo(serialize.dumps(serialize.listings(results)), nl=False)
        return
    from ..render.tabular import csv_text, table_text

    header = list(KEY_FIELDS)
    rows = [list(serialize.key_metadata(k).values()) for r in results for k in r.keys]
    if len(results) > 1:
        header.insert(0, "Partition")
        rows = [[r.partition, *serialize.key_metadata(k).values()]
                for r in results for k in r.keys]
    click.echo(csv_text(header, rows) if fmt == "csv" else table_text(header, rows), nl=False)


def _say_truncation(results: tuple[Listing, ...], all_pages: bool) -> None:
    """Tell how to continue a truncated single page."""
    for result in results:
        if result.is_truncated and not all_pages:
            warn(f"results truncated ({result.partition}): continue with "
                 f"--marker '{result.marker}', or pass --all-pages")
