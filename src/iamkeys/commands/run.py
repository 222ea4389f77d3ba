"""`iamkeys run`: run a workflow file, or a workflow of the library, step by step."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import click

from .. import aws, documents, serialize, workflow
from ..actions import Runtime
from ..cli import aws_options, connection_from_options, warn
from ..errors import InputError, PartialResultError, WorkflowError
from ..mail import MailSettings
from .send_email import MailOptions, mail_options, settings_from_options


@click.command("run")
@click.argument("workflow_ref", metavar="WORKFLOW")
@click.option("--input", "inputs", multiple=True, metavar="NAME=VALUE",
              help="A workflow input; repeat for several.")
@click.option("--dry-run", is_flag=True,
              help="Print the resolved plan as JSON and call nothing.")
@mail_options
@click.option("--region", metavar="REGION",
              help="Default region (the profile's or AWS_REGION when not given, else us-east-1).")
@aws_options
def command(workflow_ref: str, inputs: tuple[str, ...], dry_run: bool, mail: MailOptions,
            region: str | None, profile: str | None, endpoint_url: str | None,
            connect_timeout: str, read_timeout: str) -> None:
    """Run WORKFLOW, a YAML file or a workflow of the library.

    \b
    Library: list-access-keys-email (list a user's access keys, email the result).
    Mail and AWS settings come from these options and the environment, never from the file.
    """
    given = parse_inputs(inputs)
    connection = dataclasses.replace(
        connection_from_options(profile, endpoint_url, connect_timeout, read_timeout),
        region=aws.known_region(region))
    settings = settings_from_options(mail, connection=connection)
    runtime = Runtime(connection=connection, mail=settings)
    if dry_run:
        plan = workflow.plan(workflow.load(workflow_ref), given)
        require_senders(plan, settings)
        click.echo(serialize.dumps(workflow.describe(plan)), nl=False)
        warn(f"dry run: nothing was called (mail would go through {settings.transport})")
        return
    outcome = execute(workflow_ref, given, runtime)
    output = outcome.output
    click.echo(output if isinstance(output, str) else serialize.dumps(output), nl=False)
    if outcome.missing:
        raise PartialResultError("; ".join(f"step {step}: {gap}"
                                           for step, gap in outcome.missing.items()))


def execute(reference: str, inputs: Mapping[str, str], runtime: Runtime) -> workflow.Outcome:
    """Load, plan and run with a progress line per step, then a line per .eml file an email
    step wrote: `iamkeys run` and `iamkeys demo`."""
    plan = workflow.plan(workflow.load(reference), inputs)
    if runtime.mail is not None:
        require_senders(plan, runtime.mail)
    email_steps: list[str] = []

    def on_step(step: str, action: str, missing: str | None = None,
                skipped: str | None = None) -> None:
        say_step(step, action, missing, skipped)
        if action == "email.send" and skipped is None:
            email_steps.append(step)

    outcome = workflow.run(plan, runtime=runtime, on_step=on_step)
    for step in email_steps:
        say_outbox(step, outcome.outputs[step])
    return outcome


def require_senders(plan: workflow.Plan, mail: MailSettings) -> None:
    """An email.send step without `from` needs IAMKEYS_FROM for SMTP and SES: said before the
    first step runs rather than after an inventory (a step known to be skipped needs none)."""
    for step in plan.steps:
        if (step.action == "email.send" and step.runs is not False
                and "from" not in step.pending and step.values.get("from") is None):
            try:
                mail.sender_for(None)
            except InputError as e:
                raise WorkflowError(f"{plan.workflow.source}: step {step.id!r}: parameter from",
                                    e.rule, parameter="from") from e


def say_step(step: str, action: str, missing: str | None = None,
             skipped: str | None = None) -> None:
    """One progress line on stderr: ok, incomplete (what is missing) or skipped (why)."""
    status = "ok" if missing is None else f"incomplete: {missing}"
    warn(f"step {step}: {action} ... {status if skipped is None else 'skipped: ' + skipped}")


def say_outbox(step: str, sent: Any) -> None:
    """The line `iamkeys send-email` prints, when an email step wrote its message to the outbox:
    a scheduled run's log names the file."""
    delivery = documents.delivery(sent)
    if delivery.transport == "outbox":
        warn(f"step {step}: {delivery.summary()}")


def parse_inputs(values: tuple[str, ...]) -> dict[str, str]:
    """`--input NAME=VALUE` options as a mapping; a name given twice is an error."""
    given: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError("input", f"{value[:60]!r} must be NAME=VALUE")
        if name in given:
            raise InputError("input", f"{name!r} is given twice")
        given[name] = text
    return given
