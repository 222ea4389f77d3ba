"""The AWS Lambda entry point: `iamkeys.aws_lambda.handler`.

    {"workflow": "list-access-keys-email", "inputs": {"user_name": "Alice", "to": "a@b.example"}}
    {"action": "aws.iam.list_access_keys", "with": {"user_name": "Alice"}}

The handler returns the output document (a workflow's last step's, or the action's) and raises
the CLI's exceptions, with its messages, on failure. It is a boundary like the CLI: the mail
transport and default sender come from the function's environment (IAMKEYS_SMTP_*, IAMKEYS_SES,
IAMKEYS_OUTBOX, IAMKEYS_FROM), and so does the journal of aws.iam.remediate when its step names
none (IAMKEYS_JOURNAL, e.g. s3://bucket/iamkeys/; /tmp/iamkeys-journal.jsonl otherwise, which
does not outlive the function), AWS from botocore's own (the execution role, AWS_REGION,
AWS_ENDPOINT_URL); IAMKEYS_DEBUG=1 logs every request to stderr with secrets masked, as
`iamkeys --debug` does. Everything else is imported on the first event, so that a cold start
pays only for what the event uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .actions import Runtime

EVENT_KEYS = ("workflow", "inputs", "action", "with")
SES_VARIABLE = "IAMKEYS_SES"
DEBUG_VARIABLE = "IAMKEYS_DEBUG"
JOURNAL_VARIABLE = "IAMKEYS_JOURNAL"


@dataclass(frozen=True, slots=True)
class Event:
    """A parsed event: a workflow and its inputs, or one action and its parameters."""

    workflow: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    action: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


def handler(event: Any, context: Any) -> Any:
    """Run the event's workflow or action; the JSON output, or the CLI's exception."""
    debug_from_environ(os.environ)
    parsed = parse_event(event)
    return run(parsed, runtime_from_environ(os.environ))


def debug_from_environ(environ: Mapping[str, str]) -> None:
    """IAMKEYS_DEBUG=1: iamkeys' and botocore's debug logs to stderr (CloudWatch), redacted."""
    from . import params, redact

    if params.flag(environ.get(DEBUG_VARIABLE) or None, name=DEBUG_VARIABLE):
        redact.configure_debug(sys.stderr)


def run(event: Event, runtime: Runtime) -> Any:
    """Run a parsed event on `runtime`."""
    from . import actions, workflow

    if event.workflow is not None:
        return workflow.execute(event.workflow, event.inputs, runtime=runtime).output
    assert event.action is not None
    return actions.get(event.action).run(event.values, runtime)


def parse_event(event: Any) -> Event:
    """Check the event's shape: an object with exactly one of `workflow` and `action`."""
    if not isinstance(event, Mapping):
        raise InputError("event", "must be a JSON object with a workflow or an action")
    for key in event:
        if key not in EVENT_KEYS:
            raise InputError("event", f"unknown key {key!r} (allowed: {', '.join(EVENT_KEYS)})")
    if ("workflow" in event) == ("action" in event):
        raise InputError("event", "needs exactly one of workflow and action")
    if "workflow" in event:
        if "with" in event:
            raise InputError("event", "with goes with action; a workflow takes inputs")
        return Event(workflow=_name(event, "workflow"), inputs=_mapping(event, "inputs"))
    if "inputs" in event:
        raise InputError("event", "inputs go with workflow; an action takes with")
    return Event(action=_name(event, "action"), values=_mapping(event, "with"))


def _name(event: Mapping[str, Any], key: str) -> str:
    """A workflow or action name."""
    value = event[key]
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise InputError("event", f"{key} must be a non-empty string")
    return value


def _mapping(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`inputs` or `with`: an object with string keys (absent: empty)."""
    value = event.get(key) or {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InputError("event", f"{key} must be a JSON object")
    return value


def runtime_from_environ(environ: Mapping[str, str]) -> Runtime:
    """The mail settings and AWS connection of the function's environment."""
    from . import aws, params
    from .actions import Runtime
    from .mail import MailSettings

    # /tmp is the one writable place in Lambda; the cache outlives a cold start's invocation.
    connection = aws.Connection(model_cache=environ.get("IAMKEYS_CACHE_DIR", "/tmp/iamkeys-models")
                                or None)
    ses = params.flag(environ.get(SES_VARIABLE) or None, name="ses")
    mail = MailSettings.from_environ(environ, ses=ses or None, connection=connection)
    # Lambda's file system does not outlive the function: journal to S3 (IAMKEYS_JOURNAL).
    journal = params.journal_location(environ.get(JOURNAL_VARIABLE) or None,
                                      name=JOURNAL_VARIABLE)
    return Runtime(connection=connection, mail=mail,
                   journal=journal or "/tmp/iamkeys-journal.jsonl")
