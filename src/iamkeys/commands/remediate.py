"""`iamkeys remediate`: plan, then (with --apply) deactivate and delete keys, journaled."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import documents, params, serialize
from ..cli import warn
from ..errors import IamKeysError, InputError
from ..model import DONE, RemediationPlan
from ..remediate import RemediationRequest, remediate, shortfall
from .inventory import connection_of, inventory_options, inventory_values


@click.command("remediate")
@inventory_options
@click.option("--from", "source", metavar="FILE",
              help="Plan from this saved inventory (iamkeys inventory's JSON) instead of "
                   "listing; keys are still re-read live before each action.")
@click.option("--plan", "saved_plan", metavar="FILE",
              help="Act on exactly the actions of this saved plan (--plan-out), re-checked "
                   "live.")
@click.option("--deactivate", metavar="RULES",
              help="Deactivate Active keys with any of these findings: IAM.3, IAM.22, "
                   "CIS.1.11 (comma-separated).")
@click.option("--delete-inactive-after", metavar="DAYS",
              help="Delete keys Inactive for more than DAYS (since iamkeys deactivated them, "
                   "else their last use, else their creation).")
@click.option("--grace", metavar="DAYS",
              help="Only findings first reported more than DAYS ago (needs --from: a saved "
                   "inventory carrying Since).")
@click.option("--exempt-tag", metavar="KEY",
              help="Users with this tag are never touched.  [default: iamkeys:exempt]")
@click.option("--max-actions", metavar="N",
              help="Refuse a plan of more actions, whole.  [default: 25]")
@click.option("--journal", metavar="LOCATION",
              help="Append-only journal: a file or s3://BUCKET/PREFIX.  "
                   "[default: ./iamkeys-journal.jsonl]")
@click.option("--plan-out", metavar="FILE", help="Save the plan here before anything changes.")
@click.option("--output", metavar="FORMAT", help="json (default), table or html.")
@click.option("--apply", is_flag=True, help="Act: without it, only the plan is printed and no "
                                            "write is sent.")
def command(**options: Any) -> None:
    """Plan the deactivation and deletion of keys; with --apply, act on the plan.

    \b
    Exit codes: 0 every action done, or a plan printed; 1 nothing could be done;
    2 bad option, or a plan over --max-actions (nothing changed);
    3 some actions skipped for safety or failed at apply time (each named).
    """
    fmt = params.output(options["output"], choices=params.PLAN_FORMATS)
    plan_out = params.output_file(options["plan_out"], name="plan_out")
    request = RemediationRequest.build(
        **inventory_values(options),
        inventory=read_document(options["source"], "from", documents.inventory),
        plan=read_document(options["saved_plan"], "plan", documents.plan),
        deactivate=options["deactivate"], delete_inactive_after=options["delete_inactive_after"],
        grace=options["grace"], exempt_tag=options["exempt_tag"],
        max_actions=options["max_actions"], journal=options["journal"], apply=options["apply"])
    connection = connection_of(options, request.scope.concurrency)
    result = remediate(request, connection=connection, on_plan=saver(plan_out))
    finish(result, fmt)


def read_document(path: str | None, name: str, parse: Callable[[Any], Any]) -> Any:
    """A saved JSON document (an inventory, a plan) from a file, or None."""
    if path is None:
        return None
    if not path.strip() or params.CONTROL_RE.search(path):
        raise InputError(name, "must be a file path without control characters")
    try:
        with Path(path).open("rb") as file:
            data = documents.read_input(file)
        return parse(documents.load_json(data))
    except InputError as e:
        raise InputError(name, e.rule) from e
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError(name, f"cannot read {path!r}: {reason}") from e


def saver(target: str | None) -> Callable[[RemediationPlan], None] | None:
    """Save the plan to `target` (written whole or not at all) before anything changes."""
    if target is None:
        return None

    def save(planned: RemediationPlan) -> None:
        directory = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".iamkeys-plan-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(serialize.dumps(serialize.plan(planned)))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, target)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise IamKeysError(f"cannot write {target!r}: {e.strerror}") from e

    return save


def render(planned: RemediationPlan, fmt: str) -> str:
    """The plan (or its result) in one of the output formats."""
    if fmt == "json":
        return serialize.dumps(serialize.plan(planned))
    if fmt == "html":
        from ..render.plan import plan_html

        return plan_html(planned)
    from ..render.tabular import table_text

    columns, rows = serialize.plan_rows(planned)
    title = "Result" if planned.applied else "Plan"
    text = table_text(columns, rows, title=f"{title} {planned.plan_id}: actions")
    if planned.skipped:
        text += table_text(serialize.SKIPPED_COLUMNS, serialize.skipped_rows(planned),
                           title="Left alone")
    return text


def finish(planned: RemediationPlan, fmt: str) -> None:
    """The output, a summary on stderr (each action not done named), then the exit code."""
    click.echo(render(planned, fmt), nl=False)
    counts = ", ".join(f"{planned.count(kind)} to {kind}" for kind in
                       ("deactivate", "delete", "reactivate") if planned.count(kind))
    if not planned.applied:
        warn(f"plan {planned.plan_id}: {counts or 'nothing to do'}, {len(planned.skipped)} "
             "skipped; nothing was changed (run again with --apply to act)")
        return
    for action in planned.actions:
        if action.result != DONE:
            warn(f"{action.result}: {action.action} {action.access_key_id} of "
                 f"{action.user_name} ({action.account_id}): {action.result_reason}")
    results = planned.results()
    warn(f"plan {planned.plan_id} applied: {results['done']} done, {results['skipped']} "
         f"skipped, {results['failed']} failed; journal {planned.journal}")
    error = shortfall(planned)
    if error is not None:
        raise error
