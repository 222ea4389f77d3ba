"""`iamkeys.aws_lambda.handler` against the IAM emulator and a real SMTP server: both event forms,
the CLI's errors and messages, bad events, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import iamkeys
from iamkeys import actions
from iamkeys.aws_lambda import handler
from iamkeys.cli import fail_input
from iamkeys.commands import (
    inventory,
    list_access_keys,
    remediate,
    securityhub_import,
    send_email,
)
from iamkeys.demo import SmtpServer, embedded_smtp
from iamkeys.errors import AwsError, InputError
from seed_data import SEED_OUTPUT, create_seed_user

TO = "security-team@example.com"


@pytest.fixture
def alice(aws_env: Any, iam: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Alice and her two keys; no mail settings in the environment; counters at zero."""
    for name in ("IAMKEYS_SMTP_HOST", "IAMKEYS_SMTP_PORT", "IAMKEYS_SMTP_SECURITY",
                 "IAMKEYS_SMTP_USER", "IAMKEYS_SMTP_PASSWORD", "IAMKEYS_SES", "IAMKEYS_FROM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IAMKEYS_OUTBOX", str(tmp_path / "outbox"))
    create_seed_user(iam, aws_env)
    aws_env.reset(state=False)
    return aws_env


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server, configured through the function's environment as in Lambda."""
    with embedded_smtp() as server:
        monkeypatch.setenv("IAMKEYS_SMTP_HOST", server.host)
        monkeypatch.setenv("IAMKEYS_SMTP_PORT", str(server.port))
        monkeypatch.setenv("IAMKEYS_SMTP_SECURITY", "none")
        monkeypatch.setenv("IAMKEYS_FROM", "iamkeys@example.com")
        yield server


def test_action_event(alice: Any) -> None:
    event = {"action": "aws.iam.list_access_keys", "with": {"user_name": "Alice"}}
    assert handler(event, None) == SEED_OUTPUT
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}


def test_action_event_equals_the_cli_output(alice: Any) -> None:
    event = {"action": "aws.iam.list_access_keys",
             "with": {"user_name": "Alice", "max_items": "1"}}
    cli = iamkeys("list-access-keys", "--user-name", "Alice", "--max-items", "1")
    assert handler(event, None) == cli.json()
    assert cli.json()["IsTruncated"] is True


def test_workflow_event_sends_the_mail(alice: Any, smtp: SmtpServer) -> None:
    event = {"workflow": "list-access-keys-email",
             "inputs": {"user_name": "Alice", "to": TO, "max_items": 100}}
    delivery = handler(event, None)
    assert delivery["Transport"] == "smtp"
    assert delivery["Recipients"] == [TO]
    [received] = smtp.received
    assert received.recipients == (TO,)
    assert received.message["Message-ID"] == delivery["MessageId"]
    [document] = [json.loads(part.get_payload(decode=True))
                  for part in received.message.iter_attachments()
                  if part.get_filename() == "access-keys.json"]
    assert document == SEED_OUTPUT
    json.dumps(delivery)  # what Lambda returns must serialize


def test_workflow_event_without_transport_writes_the_outbox(alice: Any, tmp_path: Path) -> None:
    event = {"workflow": "list-access-keys-email", "inputs": {"user_name": "Alice", "to": TO}}
    delivery = handler(event, None)
    [eml] = (tmp_path / "outbox").glob("*.eml")
    assert delivery["Transport"] == "outbox"
    assert delivery["Detail"] == str(eml)


def test_workflow_file_event(alice: Any, tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("name: keys\ninputs: {who: {required: true}}\nsteps:\n"
                    "  - {id: list, action: aws.iam.list_access_keys, "
                    "with: {user_name: '{{ inputs.who }}'}}\n")
    assert handler({"workflow": str(path), "inputs": {"who": "Alice"}}, None) == SEED_OUTPUT


def test_inventory_action_event(alice: Any) -> None:
    document = handler({"action": "aws.iam.inventory", "with": {"no_last_used": True}}, None)
    assert [(k["UserName"], k["AccessKeyId"]) for k in document["Keys"]] == [
        ("Alice", "AKIA111111111EXAMPLE"), ("Alice", "AKIA222222222EXAMPLE")]
    assert "GetAccessKeyLastUsed" not in alice.stats()["by_action"]


# --- errors: the CLI's exceptions with the CLI's messages --------------------------------------


@pytest.mark.parametrize(("event", "cli_args"), [
    ({"action": "aws.iam.list_access_keys", "with": {"max_items": 0}},
     ["list-access-keys", "--max-items", "0"]),
    ({"action": "aws.iam.list_access_keys", "with": {"user_name": "Al ice"}},
     ["list-access-keys", "--user-name", "Al ice"]),
    ({"action": "aws.iam.list_access_keys", "with": {"regions": "mars-1"}},
     ["list-access-keys", "--regions", "mars-1"]),
    ({"action": "email.send", "with": {"to": "x", "result": SEED_OUTPUT}},
     ["send-email", "--to", "x", "--input", "-"]),
], ids=["max_items", "user_name", "regions", "to"])
def test_action_input_errors_are_the_clis(event: dict[str, Any], cli_args: list[str],
                                          alice: Any) -> None:
    with pytest.raises(InputError) as raised:
        handler(event, None)
    cli = iamkeys(*cli_args, stdin=json.dumps(SEED_OUTPUT))
    assert cli.code == raised.value.exit_code == 2
    assert cli.stderr == fail_input(raised.value) + "\n"
    assert alice.stats()["total"] == 0


@pytest.mark.parametrize(("inputs", "cli_inputs"), [
    ({"user_name": "Alice", "to": TO, "max_items": 5000}, ["user_name=Alice", f"to={TO}",
                                                           "max_items=5000"]),
    ({"user_name": "Alice", "to": "not-an-address"}, ["user_name=Alice", "to=not-an-address"]),
    ({"to": TO, "nope": "1"}, [f"to={TO}", "nope=1"]),
    ({"user_name": "Alice"}, ["user_name=Alice"]),
], ids=["max_items", "to", "unknown input", "missing input"])
def test_workflow_input_errors_are_the_clis(inputs: dict[str, Any], cli_inputs: list[str],
                                            alice: Any) -> None:
    with pytest.raises(InputError) as raised:
        handler({"workflow": "list-access-keys-email", "inputs": inputs}, None)
    cli = iamkeys("run", "list-access-keys-email",
                  *[arg for value in cli_inputs for arg in ("--input", value)])
    assert cli.code == raised.value.exit_code == 2
    line = cli.stderr.strip()
    assert line in (f"Error: {raised.value}", fail_input(raised.value))
    assert alice.stats()["total"] == 0


def test_aws_errors_are_the_clis(alice: Any) -> None:
    with pytest.raises(AwsError) as raised:
        handler({"action": "aws.iam.list_access_keys", "with": {"user_name": "nobody"}}, None)
    cli = iamkeys("list-access-keys", "--user-name", "nobody")
    assert raised.value.code == "NoSuchEntity"
    assert cli.code == raised.value.exit_code == 1
    assert cli.stderr == f"Error: {raised.value}\n"


BAD_EVENTS = [
    (None, "must be a JSON object with a workflow or an action"),
    ([], "must be a JSON object with a workflow or an action"),
    ("list-access-keys-email", "must be a JSON object with a workflow or an action"),
    ({}, "needs exactly one of workflow and action"),
    ({"workflow": "list-access-keys-email", "action": "email.send"},
     "needs exactly one of workflow and action"),
    ({"action": "aws.iam.list_access_keys", "region": "us-east-1"},
     "unknown key 'region' (allowed: workflow, inputs, action, with)"),
    ({"action": "aws.iam.list_access_keys", "inputs": {}},
     "inputs go with workflow; an action takes with"),
    ({"workflow": "list-access-keys-email", "with": {}},
     "with goes with action; a workflow takes inputs"),
    ({"workflow": 7}, "workflow must be a non-empty string"),
    ({"action": ""}, "action must be a non-empty string"),
    ({"workflow": "list-access-keys-email", "inputs": ["to"]}, "inputs must be a JSON object"),
    ({"action": "aws.iam.list_access_keys", "with": "user_name=Alice"},
     "with must be a JSON object"),
]


@pytest.mark.parametrize(("event", "rule"), BAD_EVENTS, ids=[repr(e[0])[:40] for e in BAD_EVENTS])
def test_bad_events(event: Any, rule: str, alice: Any) -> None:
    with pytest.raises(InputError) as raised:
        handler(event, None)
    assert (raised.value.parameter, raised.value.rule) == ("event", rule)
    assert alice.stats()["total"] == 0


@pytest.mark.parametrize(("event", "message"), [
    ({"action": "aws.iam.nope"}, "action: unknown action 'aws.iam.nope' (actions: "
                                 "aws.iam.list_access_keys, aws.iam.inventory, "
                                 "aws.iam.remediate, email.send, aws.securityhub.import)"),
    ({"action": "email.send", "with": {"smtp_host": "evil.example"}},
     "smtp_host: is not a parameter of email.send (parameters: to, cc, from, subject, result)"),
    ({"action": "email.send", "with": {"result": SEED_OUTPUT}}, "to: is required by email.send"),
    ({"workflow": "no-such-workflow"}, "no-such-workflow: not a workflow of the library "
                                       "(inventory-findings-email, list-access-keys-email); "
                                       "a file path needs a / or a "
                                       ".yaml extension"),
], ids=["unknown action", "transport parameter", "missing parameter", "unknown workflow"])
def test_event_content_errors(event: dict[str, Any], message: str, alice: Any,
                              smtp: SmtpServer) -> None:
    with pytest.raises(InputError) as raised:
        handler(event, None)
    assert str(raised.value) == message
    assert alice.stats()["total"] == 0
    assert smtp.received == []


# --- the registry mirrors the CLI -----------------------------------------------------------

NOT_PARAMETERS = {"output", "out", "fail_on_findings", "region", "profile", "endpoint_url",
                  "connect_timeout", "read_timeout", "smtp_host", "smtp_port", "smtp_security",
                  "smtp_user", "smtp_ehlo_name", "smtp_timeout", "smtp_ca_file", "ses",
                  "outbox"}


@pytest.mark.parametrize(("action", "command", "extra", "files"), [
    (actions.LIST_ACCESS_KEYS, list_access_keys.command, set(), set()),
    (actions.INVENTORY, inventory.command, set(), set()),
    # remediate reads a saved inventory or plan from --from / --plan FILE and saves the plan
    # to --plan-out; an action takes the documents themselves (an earlier step's output).
    (actions.REMEDIATE, remediate.command, {"inventory", "plan"},
     {"from", "plan", "plan_out"}),
    # send-email and securityhub-import read their document from --input.
    (actions.EMAIL_SEND, send_email.command, {"result"}, {"input"}),
    (actions.SECURITYHUB_IMPORT, securityhub_import.command, {"inventory"}, {"input"}),
], ids=lambda value: getattr(value, "name", None) or "")
def test_parameters_are_the_cli_option_names(action: actions.Action, command: Any,
                                             extra: set[str], files: set[str]) -> None:
    options = {opt[2:].replace("-", "_") for p in command.params for opt in p.opts}
    options -= NOT_PARAMETERS | files
    assert {p.name for p in action.parameters} == options | extra


def test_import_is_light() -> None:
    code = ("import sys, iamkeys.aws_lambda; print(sorted(m for m in ('boto3', 'botocore', "
            "'jinja2', 'yaml', 'moto', 'iamkeys.mail', 'iamkeys.listing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
