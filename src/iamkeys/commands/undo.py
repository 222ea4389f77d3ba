"""`iamkeys undo`: reactivate the keys a remediation journal deactivated."""

from __future__ import annotations

from typing import Any

import click

from .. import params
from ..cli import aws_options
from ..inventory import DEFAULT_ROLE_NAME
from ..remediate import UndoRequest, undo
from .inventory import connection_of
from .remediate import finish, saver


@click.command("undo")
@click.argument("journal", metavar="JOURNAL")
@click.option("--run", metavar="PLAN_ID", help="Only what this plan did (its Summary.PlanId; "
                                               "default: every plan in the journal).")
@click.option("--role-name", metavar="NAME", default=DEFAULT_ROLE_NAME, show_default=True,
              help="Role assumed in each account other than the caller's.")
@click.option("--external-id", metavar="ID", help="ExternalId for AssumeRole.")
@click.option("--concurrency", metavar="N", help="Keys worked on at once, 1-256.  "
                                                 "[default: 64]")
@click.option("--max-actions", metavar="N",
              help="Refuse a plan of more actions, whole.  [default: 25]")
@click.option("--plan-out", metavar="FILE", help="Save the plan here before anything changes.")
@click.option("--output", metavar="FORMAT", help="json (default), table or html.")
@click.option("--apply", is_flag=True, help="Reactivate: without it, only the plan is printed.")
@click.option("--region", metavar="REGION", help="Region for STS and IAM (default: profile's, "
              "else us-east-1); picks the partition.")
@aws_options
def command(**options: Any) -> None:
    """Plan the reactivation of the keys JOURNAL deactivated; with --apply, reactivate them.

    \b
    Only keys that still exist and are still Inactive are reactivated; deleted keys are
    listed as not undoable. The reactivations are appended to JOURNAL.
    Exit codes: as iamkeys remediate.
    """
    fmt = params.output(options["output"], choices=params.PLAN_FORMATS)
    plan_out = params.output_file(options["plan_out"], name="plan_out")
    request = UndoRequest.build(journal=options["journal"], run=options["run"],
                                role_name=options["role_name"],
                                external_id=options["external_id"],
                                concurrency=options["concurrency"],
                                max_actions=options["max_actions"], apply=options["apply"])
    connection = connection_of(options, request.concurrency)
    finish(undo(request, connection=connection, on_plan=saver(plan_out)), fmt)
