"""`iamkeys run`: workflow files and the library's workflow, against the IAM emulator and a real
SMTP server; validation before anything runs; the template sandbox; YAML limits."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_runner import Result, assert_one_line_error, iamkeys
from iamkeys import workflow
from iamkeys.actions import Runtime
from iamkeys.aws import Connection
from iamkeys.cli import main
from iamkeys.demo import SmtpServer, embedded_smtp
from iamkeys.errors import WorkflowError
from iamkeys.workflow import expressions, schema
from seed_data import SEED_KEYS, SEED_OUTPUT, create_seed_user

TO = "security-team@example.com"
FROM = "iamkeys@example.com"


@pytest.fixture
def alice(aws_env: Any, iam: Any) -> Any:
    """The seed's user Alice with her two keys; the request counters start at zero."""
    create_seed_user(iam, aws_env)
    aws_env.reset(state=False)
    return aws_env


@pytest.fixture
def smtp_plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real aiosmtpd server on 127.0.0.1 (free port), no TLS, keeping messages in memory; the
    sender SMTP needs comes from IAMKEYS_FROM."""
    monkeypatch.setenv("IAMKEYS_FROM", FROM)
    with embedded_smtp() as server:
        yield server


def smtp_args(server: SmtpServer) -> list[str]:
    """Mail options for the plain test server."""
    return ["--smtp-host", server.host, "--smtp-port", str(server.port),
            "--smtp-security", "none"]


def run_inproc(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """`iamkeys ARGS` through `iamkeys.cli.main` in this process (fast; same code path)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return Result(code, out, err)


def write(tmp_path: Path, text: str, name: str = "workflow.yaml") -> Path:
    """A workflow file in tmp_path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def attachment(message: Any, filename: str) -> bytes:
    """An attachment's bytes by file name."""
    for part in message.iter_attachments():
        if part.get_filename() == filename:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError(f"no attachment {filename}")


# --- the library's workflow, end to end ------------------------------------------------------


def test_library_workflow_lists_and_emails(alice: Any, smtp_plain: SmtpServer) -> None:
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                     "--input", f"to={TO}", *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        "iamkeys: step email: email.send ... ok",
    ]
    delivery = result.json()
    assert delivery["Transport"] == "smtp"
    assert delivery["Recipients"] == [TO]
    assert delivery["Subject"] == "IAM access keys: 2 keys, 1 user"
    assert delivery["Attachments"] == ["access-keys.json", "access-keys.csv"]
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}

    [received] = smtp_plain.received
    assert received.recipients == (TO,)
    message = received.message
    assert message["Subject"] == delivery["Subject"]
    assert message["Message-ID"] == delivery["MessageId"]
    assert json.loads(attachment(message, "access-keys.json")) == SEED_OUTPUT
    csv_lines = attachment(message, "access-keys.csv").decode().splitlines()
    assert len(csv_lines) == 1 + len(SEED_KEYS)


@pytest.mark.parametrize("workflow", ["list-access-keys-email", "inventory-findings-email"])
def test_smtp_without_a_sender_is_refused_before_the_first_step(
        alice: Any, smtp_plain: SmtpServer, monkeypatch: pytest.MonkeyPatch,
        workflow: str) -> None:
    monkeypatch.delenv("IAMKEYS_FROM")
    result = iamkeys("run", workflow, "--input", f"to={TO}", *smtp_args(smtp_plain))
    assert_one_line_error(result, 2, f"Error: {workflow}: step 'email': parameter from: "
                                     "required to send through SMTP (or set IAMKEYS_FROM)")
    assert alice.stats()["total"] == 0 and smtp_plain.received == []


def test_the_from_input_with_a_display_name(alice: Any, smtp_plain: SmtpServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IAMKEYS_FROM")
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice", "--input",
                     f"to={TO}", "--input", 'from="IAM key report" <sec@example.com>',
                     *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    [received] = smtp_plain.received
    assert (received.mail_from, received.message["From"]) == (
        "sec@example.com", "IAM key report <sec@example.com>")


def test_json_attachment_is_the_list_output(alice: Any, smtp_plain: SmtpServer) -> None:
    listed = iamkeys("list-access-keys", "--user-name", "Alice")
    assert listed.code == 0, listed.stderr
    sent = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                   "--input", f"to={TO}", *smtp_args(smtp_plain))
    assert sent.code == 0, sent.stderr
    [received] = smtp_plain.received
    assert json.loads(attachment(received.message, "access-keys.json")) == listed.json()


def test_mail_settings_come_from_the_environment(alice: Any, smtp_plain: SmtpServer) -> None:
    env = {"IAMKEYS_SMTP_HOST": smtp_plain.host, "IAMKEYS_SMTP_PORT": str(smtp_plain.port),
           "IAMKEYS_SMTP_SECURITY": "none"}
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                     "--input", f"to={TO}", "--input", "subject=Weekly keys", env=env)
    assert result.code == 0, result.stderr
    assert [r.message["Subject"] for r in smtp_plain.received] == ["Weekly keys"]


def test_outbox_is_the_default_transport(alice: Any, tmp_path: Path) -> None:
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                     "--input", f"to={TO}", "--outbox", str(tmp_path / "out"))
    assert result.code == 0, result.stderr
    [eml] = (tmp_path / "out").glob("*.eml")
    assert result.json()["Transport"] == "outbox"
    assert result.json()["Detail"] == str(eml)


def test_dry_run_prints_the_plan_and_calls_nothing(alice: Any, smtp_plain: SmtpServer) -> None:
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                     "--input", f"to={TO}", "--input", "max_items=5", "--dry-run",
                     *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert result.json() == {
        "workflow": "list-access-keys-email",
        "source": "list-access-keys-email",
        "dry_run": True,
        "inputs": {"user_name": "Alice", "regions": None, "marker": None, "max_items": "5",
                   "to": TO, "from": None, "subject": None},
        "steps": [
            {"id": "list", "action": "aws.iam.list_access_keys",
             "with": {"user_name": "Alice", "regions": None, "marker": None,
                      "max_items": "5"}},
            {"id": "email", "action": "email.send",
             "with": {"to": TO, "from": None, "subject": None,
                      "result": "<output of step list>"}},
        ],
    }
    assert result.stderr == "iamkeys: dry run: nothing was called (mail would go through smtp)\n"
    assert alice.stats()["total"] == 0
    assert smtp_plain.received == []


# --- workflow files ----------------------------------------------------------------------------

TEMPLATED = """\
    name: keys-report
    description: Alice's keys, with a subject made from the listing.
    inputs:
      who: {required: true}
      page: {default: 2}
    steps:
      - id: list
        action: aws.iam.list_access_keys
        with: {user_name: "{{ inputs.who }}", max_items: "{{ inputs.page }}", all_pages: true}
      - id: email
        action: email.send
        with:
          to: [security-team@example.com]
          cc: "{{ ['audit@example.com', 'ops@example.com'] | join(',') }}"
          subject: "{{ steps.list.output.AccessKeyMetadata | length }} keys of {{ inputs.who }}"
          result: "{{ steps.list.output }}"
"""


def test_templates_over_inputs_and_outputs(alice: Any, smtp_plain: SmtpServer,
                                           tmp_path: Path) -> None:
    path = write(tmp_path, TEMPLATED)
    result = iamkeys("run", str(path), "--input", "who=Alice", "--input", "page=1",
                     *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    [received] = smtp_plain.received
    assert received.message["Subject"] == "2 keys of Alice"
    assert received.recipients == (TO, "audit@example.com", "ops@example.com")
    # max_items=1 and all_pages: two pages, one request each.
    assert alice.stats()["by_action"] == {"ListAccessKeys": 2}


def test_dry_run_shows_what_waits_for_outputs(alice: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, TEMPLATED)
    result = run_inproc(capsys, "run", str(path), "--input", "who=Alice", "--dry-run")
    assert result.code == 0, result.stderr
    steps = result.json()["steps"]
    assert steps[0]["with"] == {"user_name": "Alice", "max_items": 2, "all_pages": True}
    assert steps[1]["with"] == {
        "to": [TO], "cc": "audit@example.com,ops@example.com",
        "subject": "<{{ steps.list.output.AccessKeyMetadata | length }} keys of "
                   "{{ inputs.who }} with the output of step list>",
        "result": "<output of step list>"}
    assert alice.stats()["total"] == 0


def test_input_values_are_data_not_templates(alice: Any, smtp_plain: SmtpServer) -> None:
    result = iamkeys("run", "list-access-keys-email", "--input", "user_name=Alice",
                     "--input", f"to={TO}", "--input", "subject={{ 7 * 7 }}",
                     *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert smtp_plain.received[0].message["Subject"] == "{{ 7 * 7 }}"


def test_raw_xml_output_is_printed_as_received(alice: Any, tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: raw
        steps:
          - {id: list, action: aws.iam.list_access_keys, with: {user_name: Alice, raw_xml: "yes"}}
    """)
    result = iamkeys("run", str(path))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("<ListAccessKeysResponse")
    assert "AKIA111111111EXAMPLE" in result.stdout


# --- everything is validated before anything runs ----------------------------------------------

LIST_STEP = """\
    name: t
    inputs:
      user_name: {default: null}
      to: {required: true}
    steps:
      - id: list
        action: aws.iam.list_access_keys
        with: {WITH}
      - id: email
        action: email.send
        with: {to: "{{ inputs.to }}", result: "{{ steps.list.output }}"}
"""


def list_step(with_: str) -> str:
    """LIST_STEP with the list step's `with:` mapping."""
    return LIST_STEP.replace("{WITH}", with_)


INVALID = [
    # (id, workflow text, extra args, expected message after "Error: ")
    ("literal value", list_step("{max_items: 5000}"), [],
     "F: step 'list': parameter max_items: must be an integer from 1 to 1000"),
    ("literal regions", list_step("{regions: 'us-east-1,,x'}"), [],
     "F: step 'list': parameter regions: must be region names separated by commas "
     "(no empty items), or *"),
    ("literal flag", list_step("{all_pages: maybe}"), [],
     "F: step 'list': parameter all_pages: must be true or false"),
    ("unknown parameter", list_step("{user: Alice}"), [],
     "F: step 'list': parameter user: is not a parameter of aws.iam.list_access_keys "
     "(parameters: user_name, marker, max_items, regions, raw_xml, all_pages)"),
    ("unknown action", list_step("{}").replace("aws.iam.list_access_keys", "aws.iam.nope"), [],
     "F: step 'list': unknown action 'aws.iam.nope' (actions: aws.iam.list_access_keys, "
     "aws.iam.inventory, aws.iam.remediate, email.send, aws.securityhub.import)"),
    ("missing parameter", list_step("{}").replace('to: "{{ inputs.to }}", ', ""), [],
     "F: step 'email': parameter to: is required by email.send"),
    ("transport in the file", list_step("{}").replace("with: {to:", "with: {smtp_host: x, to:"),
     [], "F: step 'email': parameter smtp_host: is not a parameter of email.send "
         "(parameters: to, cc, from, subject, result)"),
    ("template syntax", list_step('{user_name: "{{ inputs.user_name "}'), [],
     "F: step 'list': parameter user_name: template syntax error: unexpected end of "
     "template, expected 'end of print statement'. (line 1)"),
    ("later step", list_step('{user_name: "{{ steps.email.output }}"}'), [],
     "F: step 'list': parameter user_name: refers to step 'email', which is not an "
     "earlier step"),
    ("unknown step", list_step('{user_name: "{{ steps[\'nope\'].output.x }}"}'), [],
     "F: step 'list': parameter user_name: refers to step 'nope', which is not an earlier "
     "step"),
    ("undeclared input", list_step('{user_name: "{{ inputs.who }}"}'), [],
     "F: step 'list': parameter user_name: refers to input 'who', which is not declared "
     "(inputs: to, user_name)"),
    ("statement", list_step('{user_name: "{% if true %}x{% endif %}"}'), [],
     "F: step 'list': parameter user_name: only {{ expressions }} are allowed, not "
     "{% statements %}"),
    ("call", list_step('{user_name: "{{ inputs.to.upper() }}"}'), [],
     "F: step 'list': parameter user_name: function and method calls are not allowed; "
     "use filters"),
    ("unsafe filter", list_step('{user_name: "{{ inputs.to | attr(\'x\') }}"}'), [],
     "F: step 'list': parameter user_name: template error: No filter named 'attr'."),
    ("steps misused", list_step('{user_name: "{{ steps | length }}"}'), [],
     "F: step 'list': parameter user_name: refer to an earlier step's result as "
     "steps.<id>.output"),
    ("templated value from input", list_step('{max_items: "{{ inputs.user_name }}"}'),
     ["--input", "user_name=Alice", "--input", "to=a@example.com"],
     "F: step 'list': parameter max_items: must be an integer from 1 to 1000"),
    ("address from input", list_step("{}"), ["--input", "to=not an address"],
     "F: step 'email': parameter to: 'not an address' is not a plain e-mail address "
     "(local@domain)"),
    ("empty address", list_step("{}"), ["--input", "to="],
     "F: step 'email': parameter to: '' is not a plain e-mail address (local@domain)"),
    ("unknown input", list_step("{}"), ["--input", "nope=1", "--input", "to=a@example.com"],
     "--input: 'nope' is not an input of workflow t (inputs: user_name, to)"),
    ("input not NAME=VALUE", list_step("{}"), ["--input", "to"],
     "--input: 'to' must be NAME=VALUE"),
    ("input given twice", list_step("{}"), ["--input", "to=a@example.com", "--input", "to=b"],
     "--input: 'to' is given twice"),
    ("unknown top-level key", list_step("{}") + "    schedule: daily\n", [],
     "F: unknown key 'schedule' (allowed: name, description, inputs, steps)"),
    ("unknown step key", list_step("{}").replace("- id: list", "- id: list\n        when: x"),
     [], "F: step 'list': unknown key 'when' (allowed: id, if, action, with)"),
    ("duplicate step id", list_step("{}").replace("id: email", "id: list"), [],
     "F: step 'list': duplicate step id"),
    ("bad step id", list_step("{}").replace("id: list", "id: List"), [],
     "F: steps[0]: id must be a-z, 0-9, _ and -, starting with a letter, at most 64 "
     "characters"),
    ("bad input name", list_step("{}").replace("user_name: {default", "user-name: {default"),
     [], "F: input 'user-name': input names are a-z, 0-9 and _, starting with a letter, at "
         "most 64 characters"),
    ("input without default", list_step("{}").replace("{default: null}", "{description: x}"),
     [], "F: input 'user_name': needs either a default or required: true (not both)"),
    ("no steps", "name: t\nsteps: []\n", [], "F: steps: must be a list of 1-50 steps"),
    ("too many steps", "name: t\nsteps:\n" + "".join(
        f"  - {{id: s{i}, action: aws.iam.list_access_keys}}\n" for i in range(51)), [],
     "F: steps: must be a list of 1-50 steps"),
    ("no name", "steps: [{id: a, action: email.send}]\n", [],
     "F: name: must be a non-empty string (at most 4096 characters)"),
    ("duplicate key", list_step("{}").replace("name: t", "name: t\n    name: u"), [],
     "F: line 2: duplicate key 'name'"),
    ("not a mapping", "- 1\n- 2\n", [],
     "F: must be a mapping with name, description, inputs and steps"),
    ("bad YAML", "name: [\n", [],
     "F: not valid YAML: line 2: expected the node content, but found '<stream end>'"),
]


@pytest.mark.parametrize(("case", "text", "args", "expected"), INVALID,
                         ids=[c[0] for c in INVALID])
def test_invalid_workflows_exit_2_naming_the_place(
        case: str, text: str, args: list[str], expected: str, aws_env: Any,
        smtp_plain: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, text)
    result = run_inproc(capsys, "run", str(path), *args, *smtp_args(smtp_plain))
    assert_one_line_error(result, 2)
    assert result.stderr == "Error: " + expected.replace("F: ", f"{path}: ") + "\n"
    assert result.stdout == ""
    assert aws_env.stats()["total"] == 0
    assert smtp_plain.received == []


def test_missing_required_input(aws_env: Any, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, list_step("{}"))
    result = run_inproc(capsys, "run", str(path))
    assert_one_line_error(result, 2)
    assert result.stderr == "Error: --input: 'to' is required by workflow t\n"
    assert aws_env.stats()["total"] == 0


def test_value_rendered_from_an_output_is_checked_before_the_call(
        alice: Any, smtp_plain: SmtpServer, tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        steps:
          - {id: list, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: email
            action: email.send
            with:
              to: "{{ steps.list.output.AccessKeyMetadata[0].UserName }}"
              result: "{{ steps.list.output }}"
    """)
    result = iamkeys("run", str(path), *smtp_args(smtp_plain))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        f"Error: {path}: step 'email': parameter to: 'Alice' is not a plain e-mail address "
        "(local@domain)",
    ]
    assert smtp_plain.received == []


def test_result_must_be_an_iamkeys_document(aws_env: Any, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, """\
        name: t
        steps:
          - {id: email, action: email.send, with: {to: a@example.com, result: {a: 1}}}
    """)
    result = run_inproc(capsys, "run", str(path))
    assert_one_line_error(result, 2, f"{path}: step 'email': parameter result: not an iamkeys "
                                     "result")


def test_unknown_library_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_inproc(capsys, "run", "no-such-workflow")
    assert_one_line_error(result, 2)
    assert result.stderr == ("Error: no-such-workflow: not a workflow of the library "
                             "(inventory-findings-email, list-access-keys-email); a file path "
                             "needs a / or a .yaml extension\n")


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_inproc(capsys, "run", str(tmp_path / "none.yaml"))
    assert_one_line_error(result, 2)
    assert result.stderr == f"Error: {tmp_path / 'none.yaml'}: cannot read: No such file or " \
                            "directory\n"


def test_library_lists_the_shipped_workflow() -> None:
    assert workflow.library() == ("inventory-findings-email", "list-access-keys-email")
    loaded = workflow.load("list-access-keys-email")
    assert [i.name for i in loaded.inputs] == ["user_name", "regions", "marker", "max_items",
                                                "to", "from", "subject"]
    assert [(s.id, s.action) for s in loaded.steps] == [
        ("list", "aws.iam.list_access_keys"), ("email", "email.send")]


# --- the sandbox --------------------------------------------------------------------------------

ESCAPES = [
    ("{{ ''.__class__.__mro__ }}",
     "refused by the template sandbox: access to attribute '__class__' of 'str' object is "
     "unsafe."),
    ("{{ inputs.to.__class__.__init__ }}",
     "refused by the template sandbox: access to attribute '__init__' of 'StrictUndefined' "
     "object is unsafe."),
    ("{{ inputs['__class__'] }}",
     "refers to input '__class__', which is not declared (inputs: to, user_name)"),
    ("{{ cycler.__init__.__globals__ }}",
     "unknown variable 'cycler' (use inputs.<name> or steps.<id>.output)"),
    ("{{ self.__init__ }}", "unknown variable 'self' (use inputs.<name> or steps.<id>.output)"),
    ("{{ range(10) }}", "function and method calls are not allowed; use filters"),
    ("{{ 'x' * 100000000 }}", "refused by the template sandbox: * result would be too large"),
    ("{{ [1] * 100000000 }}", "refused by the template sandbox: * result would be too large"),
    ("{{ 2 ** 100000 }}", "refused by the template sandbox: ** result would be too large"),
    ("{{ '%099999999d' % 1 }}",
     "refused by the template sandbox: string formatting with % is not allowed"),
    ("{{ 'ab' | join('x' * 70000) }}",
     "refused by the template sandbox: * result would be too large"),
    ("x{{ inputs.to | join(inputs.to * 900) }}",
     "refused by the template sandbox: join result would be too large"),
    ("{{ " + "(" * 500 + "1" + ")" * 500 + " }}", "template nested too deeply"),
]


@pytest.mark.parametrize(("template", "rule"), ESCAPES, ids=[e[0][:40] for e in ESCAPES])
def test_sandbox_refuses_escapes(template: str, rule: str, aws_env: Any, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, list_step("{user_name: USER}").replace("USER", json.dumps(template)))
    result = run_inproc(capsys, "run", str(path), "--input", "to=" + "a" * 60 + "@example.com")
    assert_one_line_error(result, 2)
    assert result.stderr == f"Error: {path}: step 'list': parameter user_name: {rule}\n"
    assert aws_env.stats()["total"] == 0


def test_sandbox_guards_step_outputs_too(alice: Any, smtp_plain: SmtpServer,
                                         tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        steps:
          - {id: list, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: email
            action: email.send
            with:
              to: a@example.com
              subject: "{{ steps.list.output.AccessKeyMetadata.__class__.__base__ }}"
              result: "{{ steps.list.output }}"
    """)
    result = iamkeys("run", str(path), *smtp_args(smtp_plain))
    assert result.code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: {path}: step 'email': parameter subject: refused by the template sandbox: "
        "access to attribute '__class__' of 'list' object is unsafe.")
    assert smtp_plain.received == []


# --- YAML: safe_load only, with limits -----------------------------------------------------------

BILLION_LAUGHS = """\
name: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
steps: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""

YAML_CASES = [
    ("python object", "name: !!python/object/apply:os.system ['touch PWNED']\nsteps: []\n",
     "F: not valid YAML: line 1: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("python name", "name: !!python/name:os.system\nsteps: []\n",
     "F: not valid YAML: line 1: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/name:os.system'"),
    ("billion laughs", BILLION_LAUGHS, "F: line 1: YAML anchors and aliases are not allowed"),
    ("merge key", "base: &base {id: a}\nsteps: [{<<: *base, action: email.send}]\n",
     "F: line 1: YAML anchors and aliases are not allowed"),
    ("deep nesting", "name: t\nsteps: " + "[" * 40 + "]" * 40 + "\n",
     "F: nested deeper than 16 levels"),
    ("too many nodes", "name: t\nsteps: [" + ",".join(["1"] * 20_000) + "]\n",
     "F: more than 10000 YAML nodes"),
    ("too large", "name: t\n" + "# " + "x" * (1 << 20) + "\n",
     "F: larger than 1048576 bytes"),
    ("not UTF-8", b"name: \xff\n", "F: not UTF-8 text (invalid start byte at byte 6)"),
]


@pytest.mark.parametrize(("case", "text", "expected"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_yaml_limits(case: str, text: str | bytes, expected: str, aws_env: Any,
                     tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "workflow.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run_inproc(capsys, "run", str(path))
    assert_one_line_error(result, 2)
    assert result.stderr == "Error: " + expected.replace("F: ", f"{path}: ") + "\n"
    assert not (tmp_path / "PWNED").exists()
    assert aws_env.stats()["total"] == 0


# --- property: inputs outside the rules never reach IAM -----------------------------------------

def max_items_rejected(value: str) -> bool:
    """Outside the rule: not 1-9 ASCII digits (around spaces aside), or not within 1..1000."""
    text = value.strip()
    return not re.fullmatch(r"\+?[0-9]{1,9}", text) or not 1 <= int(text) <= 1000


BAD_MAX_ITEMS = st.one_of(
    st.integers(min_value=-10**9, max_value=0).map(str),
    st.integers(min_value=1001, max_value=10**12).map(str),
    st.text(max_size=20).filter(max_items_rejected),
)
BAD_USER_NAME = st.text(max_size=200).filter(
    lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,128}", s))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["max_items", "user_name"]), data=st.data())
def test_inputs_outside_the_rules_exit_2_and_send_nothing(
        name: str, data: st.DataObject, aws_env: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    value = data.draw(BAD_MAX_ITEMS if name == "max_items" else BAD_USER_NAME)
    result = run_inproc(capsys, "run", "list-access-keys-email", f"--input={name}={value}",
                        "--input", f"to={TO}")
    assert result.code == 2, result
    assert result.stderr.startswith(
        f"Error: list-access-keys-email: step 'list': parameter {name}: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert aws_env.stats()["total"] == 0


# --- names as people write them: keys, items, values -------------------------------------------

DICT_NAMES = """\
    name: dict-names
    inputs:
      items: {required: true}
      values: {default: [security-team@example.com]}
    steps:
      - id: keys
        action: aws.iam.list_access_keys
        with: {user_name: "{{ inputs.items }}"}
      - id: my-step
        action: email.send
        with:
          to: "{{ inputs.values }}"
          subject: >-
            {{ steps.keys.output.AccessKeyMetadata | length }} keys of {{ inputs['items'] }}
          result: "{{ steps.keys.output }}"
      - id: items
        action: email.send
        with:
          to: "{{ inputs.values }}"
          subject: "{{ steps['my-step'].output.Subject }}, again"
          result: "{{ steps.keys.output }}"
"""


def test_steps_and_inputs_named_like_dict_methods(alice: Any, smtp_plain: SmtpServer,
                                                  tmp_path: Path) -> None:
    path = write(tmp_path, DICT_NAMES)
    result = iamkeys("run", str(path), "--input", "items=Alice", *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step keys: aws.iam.list_access_keys ... ok",
        "iamkeys: step my-step: email.send ... ok",
        "iamkeys: step items: email.send ... ok",
    ]
    assert [r.message["Subject"] for r in smtp_plain.received] == [
        "2 keys of Alice", "2 keys of Alice, again"]
    assert [r.recipients for r in smtp_plain.received] == [(TO,), (TO,)]
    assert json.loads(attachment(smtp_plain.received[0].message, "access-keys.json")) \
        == SEED_OUTPUT
    assert result.json()["Subject"] == "2 keys of Alice, again"
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}


def test_dry_run_with_dict_names(aws_env: Any, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, DICT_NAMES)
    result = run_inproc(capsys, "run", str(path), "--input", "items=Alice", "--dry-run")
    assert result.code == 0, result.stderr
    steps = result.json()["steps"]
    assert [step["id"] for step in steps] == ["keys", "my-step", "items"]
    assert steps[0]["with"] == {"user_name": "Alice"}
    assert steps[1]["with"]["to"] == [TO]
    assert steps[2]["with"]["subject"] == ("<{{ steps['my-step'].output.Subject }}, again with "
                                           "the output of step my-step>")
    assert aws_env.stats()["total"] == 0


DICT_NAME_ESCAPES = [
    ("{{ inputs.__class__ }}", [],
     "refers to input '__class__', which is not declared (inputs: items, keys, to, values)"),
    ("{{ inputs._data }}", [],
     "refers to input '_data', which is not declared (inputs: items, keys, to, values)"),
    ("{{ inputs.items() }}", [], "function and method calls are not allowed; use filters"),
    ("{{ inputs.keys | attr('__self__') }}", [], "template error: No filter named 'attr'."),
    ("{{ inputs.items.__class__ }}", [],
     "refused by the template sandbox: access to attribute '__class__' of 'str' object is "
     "unsafe."),
    # Reached with a name known only at run time: still the items, never an attribute.
    ("{{ inputs[inputs.items] }}", ["--input", "items=__class__"],
     "template error: no item '__class__'"),
    ("{{ inputs[inputs.items] }}", ["--input", "items=_data"], "template error: no item '_data'"),
    ("{{ inputs[inputs.items] }}", ["--input", "items=get"], "template error: no item 'get'"),
    ("{{ inputs[inputs.values] | string }}", ["--input", "values=__len__"],
     "template error: no item '__len__'"),
]


@pytest.mark.parametrize(("template", "args", "rule"), DICT_NAME_ESCAPES,
                         ids=[f"{e[0][:40]} {e[1][-1:]}" for e in DICT_NAME_ESCAPES])
def test_dict_names_reach_items_only(template: str, args: list[str], rule: str, aws_env: Any,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f"""\
        name: t
        inputs:
          items: {{default: Alice}}
          values: {{default: x}}
          keys: {{default: y}}
          to: {{default: {TO}}}
        steps:
          - id: keys
            action: aws.iam.list_access_keys
            with: {{user_name: {json.dumps(template)}}}
    """)
    result = run_inproc(capsys, "run", str(path), *args)
    assert_one_line_error(result, 2)
    assert result.stderr == f"Error: {path}: step 'keys': parameter user_name: {rule}\n"
    assert aws_env.stats()["total"] == 0


def test_an_outputs_dict_methods_are_out_of_reach(alice: Any, smtp_plain: SmtpServer,
                                                  tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: t
        steps:
          - {id: keys, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: email
            action: email.send
            with:
              to: a@example.com
              subject: "{{ steps.keys.output.keys }}"
              result: "{{ steps.keys.output }}"
    """)
    result = iamkeys("run", str(path), *smtp_args(smtp_plain))
    assert result.code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: {path}: step 'email': parameter subject: template error: 'dict object' has no "
        "attribute 'keys'")
    assert smtp_plain.received == []


def test_mappings_still_work_with_filters() -> None:
    names = expressions.context({"items": "a", "values": [1, 2]}, {"keys": {"A": 1}})
    assert workflow.render("{{ inputs | tojson }}", names, "w", "p") \
        == '{"items": "a", "values": [1, 2]}'
    assert workflow.render("{{ inputs | dictsort }}", names, "w", "p") \
        == [("items", "a"), ("values", [1, 2])]
    assert workflow.render("{{ inputs | list }} {{ inputs | last }} {{ inputs | length }}",
                           names, "w", "p") == "['items', 'values'] values 2"
    assert workflow.render("{{ [inputs, steps.keys.output] }}", names, "w", "p") \
        == [{"items": "a", "values": [1, 2]}, {"A": 1}]
    assert type(workflow.render("{{ inputs }}", names, "w", "p")) is dict


STEP_IDS = st.from_regex(schema.ID_RE, fullmatch=True)
INPUT_NAMES = st.from_regex(schema.INPUT_RE, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(step_id=STEP_IDS, name=INPUT_NAMES, value=st.text(max_size=20),
       output=st.dictionaries(st.sampled_from(["A", "items", "keys"]), st.integers()))
def test_any_id_and_input_name_is_reachable(step_id: str, name: str, value: str,
                                            output: dict[str, int]) -> None:
    templates = [f"{{{{ steps[{step_id!r}].output }}}}", f"{{{{ inputs.{name} }}}}",
                 f"{{{{ inputs[{name!r}] }}}}"]
    if "-" not in step_id:  # `steps.a-b` is `steps.a - b`; such ids are reached as steps['a-b']
        templates.append(f"{{{{ steps.{step_id}.output }}}}")
    steps = [{"id": step_id, "action": "aws.iam.list_access_keys"},
             {"id": "z" if step_id != "z" else "y", "action": "email.send",
              "with": {"to": "a@example.com", "result": templates}}]
    document = {"name": "t", "inputs": {name: {"default": None}}, "steps": steps}
    loaded = workflow.parse(json.dumps(document), source="t.yaml")
    assert [s.id for s in loaded.steps][0] == step_id
    assert loaded.steps[1].needs == {"to": frozenset(), "result": frozenset({step_id})}
    names = expressions.context({name: value}, {step_id: output})
    rendered = workflow.render(templates, names, "w", "p")
    assert rendered == [output, value, value, *([output] if "-" not in step_id else [])]


@settings(max_examples=100, deadline=None)
@given(step_id=st.text(max_size=80).filter(lambda s: not schema.ID_RE.fullmatch(s))
       | st.from_regex(r"[a-z][a-z0-9_-]{64,80}", fullmatch=True))
def test_any_other_id_is_refused(step_id: str) -> None:
    document = {"name": "t", "steps": [{"id": step_id, "action": "email.send"}]}
    with pytest.raises(WorkflowError) as raised:
        workflow.parse(json.dumps(document), source="t.yaml")
    assert str(raised.value) == ("t.yaml: steps[0]: id must be a-z, 0-9, _ and -, starting with "
                                 "a letter, at most 64 characters")


def test_the_public_face_is_sorted_and_complete() -> None:
    assert workflow.__all__ == sorted(workflow.__all__)
    assert all(getattr(workflow, name) is not None for name in workflow.__all__)


# --- conditional steps: if -----------------------------------------------------------------------

CONDITIONAL = """\
    name: conditional
    inputs:
      n: {default: 5}
      to: {default: security-team@example.com}
    steps:
      - id: list
        if: "{{ inputs.n | int > 3 }}"
        action: aws.iam.list_access_keys
        with: {user_name: Alice}
      - id: email
        if: >-
          {{ steps.list.output is not none
          and steps.list.output.AccessKeyMetadata | length > 1 }}
        action: email.send
        with: {to: "{{ inputs.to }}", result: "{{ steps.list.output }}"}
      - id: fallback
        if: "{{ steps.list.output is none }}"
        action: aws.iam.list_access_keys
        with: {user_name: Alice, max_items: 1}
"""
EMAIL_IF = ("{{ steps.list.output is not none and steps.list.output.AccessKeyMetadata | length > 1 "
            "}}")


def test_if_true_runs_the_step_and_false_skips_it(alice: Any, smtp_plain: SmtpServer,
                                                  tmp_path: Path) -> None:
    path = write(tmp_path, CONDITIONAL)
    result = iamkeys("run", str(path), *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        "iamkeys: step email: email.send ... ok",
        "iamkeys: step fallback: aws.iam.list_access_keys ... skipped: "
        "{{ steps.list.output is none }} was false",
    ]
    assert result.stdout == "null\n"  # the last step's output: it was skipped
    assert len(smtp_plain.received) == 1
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}


def test_a_skipped_steps_output_is_null_for_later_steps(alice: Any, smtp_plain: SmtpServer,
                                                        tmp_path: Path) -> None:
    path = write(tmp_path, CONDITIONAL)
    result = iamkeys("run", str(path), "--input", "n=2", *smtp_args(smtp_plain))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... skipped: {{ inputs.n | int > 3 }} was "
        "false",
        f"iamkeys: step email: email.send ... skipped: {EMAIL_IF} was false",
        "iamkeys: step fallback: aws.iam.list_access_keys ... ok",
    ]
    assert result.json()["AccessKeyMetadata"] == SEED_OUTPUT["AccessKeyMetadata"][:1]
    assert smtp_plain.received == []
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}


@pytest.mark.parametrize(("n", "value"), [("5", True), ("2", False)])
def test_dry_run_shows_each_condition(n: str, value: bool, aws_env: Any, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, CONDITIONAL)
    result = run_inproc(capsys, "run", str(path), "--input", f"n={n}", "--dry-run")
    assert result.code == 0, result.stderr
    assert result.json()["steps"] == [
        {"id": "list", "action": "aws.iam.list_access_keys",
         "if": {"expression": "{{ inputs.n | int > 3 }}", "value": value},
         "with": {"user_name": "Alice"}},
        {"id": "email", "action": "email.send",
         "if": {"expression": EMAIL_IF, "waits_for": ["list"]},
         "with": {"to": TO, "result": "<output of step list>"}},
        {"id": "fallback", "action": "aws.iam.list_access_keys",
         "if": {"expression": "{{ steps.list.output is none }}", "waits_for": ["list"]},
         "with": {"user_name": "Alice", "max_items": 1}},
    ]
    assert aws_env.stats()["total"] == 0


def test_a_step_skipped_before_the_run_is_neither_rendered_nor_checked(
        alice: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, """\
        name: t
        inputs:
          to: {default: null}
        steps:
          - {id: list, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: email
            if: "{{ inputs.to is not none }}"
            action: email.send
            with: {to: "{{ inputs.to }}", result: "{{ steps.list.output }}"}
          - {id: done, if: true, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - {id: never, if: false, action: aws.iam.list_access_keys, with: {user_name: Alice}}
    """)
    planned = run_inproc(capsys, "run", str(path), "--dry-run")
    assert planned.code == 0, planned.stderr
    steps = planned.json()["steps"]
    assert steps[1]["if"] == {"expression": "{{ inputs.to is not none }}", "value": False}
    assert steps[1]["with"] == {"to": "{{ inputs.to }}", "result": "<output of step list>"}
    assert [step["if"] for step in steps[2:]] == [{"expression": "true", "value": True},
                                                  {"expression": "false", "value": False}]
    result = run_inproc(capsys, "run", str(path))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        "iamkeys: step email: email.send ... skipped: {{ inputs.to is not none }} was false",
        "iamkeys: step done: aws.iam.list_access_keys ... ok",
        "iamkeys: step never: aws.iam.list_access_keys ... skipped: if: false",
    ]
    assert alice.stats()["by_action"] == {"ListAccessKeys": 2}


def conditional(condition: str) -> str:
    """A list step, then an email step with `if: CONDITION` (YAML as written)."""
    return textwrap.dedent("""\
        name: t
        inputs:
          n: {default: 5}
          flag: {default: null}
        steps:
          - {id: list, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: email
            if: CONDITION
            action: email.send
            with: {to: a@example.com, result: "{{ steps.list.output }}"}
          - {id: after, action: aws.iam.list_access_keys, with: {user_name: Alice}}
    """).replace("CONDITION", condition)


NOT_BOOLEAN = "not true or false (write true, false or one {{ expression }})"
BAD_CONDITIONS = [
    # (id, `if:` as written, extra args, expected message after "Error: F: step 'email': if: ")
    ("string", "maybe", [], f"is the string 'maybe', {NOT_BOOLEAN}"),
    ("quoted true", '"true"', [], f"is the string 'true', {NOT_BOOLEAN}"),
    ("number", "1", [], f"is the number 1, {NOT_BOOLEAN}"),
    ("null", "null", [], f"is null, {NOT_BOOLEAN}"),
    ("empty", "", [], f"is null, {NOT_BOOLEAN}"),
    ("list", "[true]", [], f"is a list, {NOT_BOOLEAN}"),
    ("text around", '"n is {{ inputs.n > 3 }}"', [],
     "must be one {{ expression }} with no text around it (text makes a string, not true or "
     "false)"),
    ("statement", '"{% if true %}true{% endif %}"', [],
     "only {{ expressions }} are allowed, not {% statements %}"),
    ("later step", '"{{ steps.after.output is none }}"', [],
     "refers to step 'after', which is not an earlier step"),
    ("itself", '"{{ steps.email.output is none }}"', [],
     "refers to step 'email', which is not an earlier step"),
    ("undeclared input", '"{{ inputs.m }}"', [],
     "refers to input 'm', which is not declared (inputs: flag, n)"),
    ("call", '"{{ inputs.n.bit_length() }}"', [],
     "function and method calls are not allowed; use filters"),
    # Known from the inputs alone: refused before anything runs.
    ("renders a string", '"{{ inputs.flag }}"', ["--input", "flag=true"],
     "{{ inputs.flag }} is the string 'true', not true or false"),
    ("renders a number", '"{{ inputs.n }}"', [], "{{ inputs.n }} is the number 5, not true or "
                                                 "false"),
    ("renders null", '"{{ inputs.flag }}"', [], "{{ inputs.flag }} is null, not true or false"),
    ("renders and", '"{{ inputs.n > 3 and inputs.n }}"', [],
     "{{ inputs.n > 3 and inputs.n }} is the number 5, not true or false"),
    ("renders an error", '"{{ inputs.n > \'3\' }}"', [],
     "template error: TypeError: '>' not supported between instances of 'int' and 'str'"),
    ("sandbox", '"{{ inputs.n.__class__ }}"', [],
     "refused by the template sandbox: access to attribute '__class__' of 'int' object is "
     "unsafe."),
]


@pytest.mark.parametrize(("case", "condition", "args", "expected"), BAD_CONDITIONS,
                         ids=[c[0] for c in BAD_CONDITIONS])
def test_a_condition_that_is_not_a_boolean_is_refused_before_anything_runs(
        case: str, condition: str, args: list[str], expected: str, aws_env: Any,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, conditional(condition))
    for extra in ([], ["--dry-run"]):
        result = run_inproc(capsys, "run", str(path), *args, *extra)
        assert_one_line_error(result, 2)
        assert result.stderr == f"Error: {path}: step 'email': if: {expected}\n"
        assert result.stdout == ""
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize(("condition", "expected"), [
    ('"{{ steps.list.output.AccessKeyMetadata | length }}"',
     "{{ steps.list.output.AccessKeyMetadata | length }} is the number 2"),
    ('"{{ steps.list.output.AccessKeyMetadata[0].UserName }}"',
     "{{ steps.list.output.AccessKeyMetadata[0].UserName }} is the string 'Alice'"),
    ('"{{ steps.list.output.AccessKeyMetadata }}"',
     "{{ steps.list.output.AccessKeyMetadata }} is a list"),
    ('"{{ steps.list.output }}"', "{{ steps.list.output }} is a mapping"),
], ids=["number", "string", "list", "mapping"])
def test_a_condition_on_an_output_is_checked_before_its_step(
        condition: str, expected: str, alice: Any, smtp_plain: SmtpServer,
        tmp_path: Path) -> None:
    path = write(tmp_path, conditional(condition))
    result = iamkeys("run", str(path), *smtp_args(smtp_plain))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "iamkeys: step list: aws.iam.list_access_keys ... ok",
        f"Error: {path}: step 'email': if: {expected}, not true or false",
    ]
    assert smtp_plain.received == []
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}  # `after` did not run


def test_a_condition_on_a_skipped_steps_output(alice: Any, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, """\
        name: t
        steps:
          - {id: first, if: false, action: aws.iam.list_access_keys, with: {user_name: Alice}}
          - id: second
            if: "{{ steps.first.output }}"
            action: aws.iam.list_access_keys
            with: {user_name: Alice}
    """)
    result = run_inproc(capsys, "run", str(path))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "iamkeys: step first: aws.iam.list_access_keys ... skipped: if: false",
        f"Error: {path}: step 'second': if: {{{{ steps.first.output }}}} is null, not true or "
        "false",
    ]
    assert alice.stats()["total"] == 0


def test_conditions_through_the_library_api(alice: Any, tmp_path: Path) -> None:
    path = write(tmp_path, CONDITIONAL)
    seen: list[tuple[str, str, str | None, str | None]] = []
    outcome = workflow.execute(path, {"n": 2}, runtime=Runtime(connection=Connection()),
                               on_step=lambda *report: seen.append(report))
    assert outcome.outputs["list"] is None and outcome.outputs["email"] is None
    assert outcome.output == outcome.outputs["fallback"]
    assert outcome.skipped == {"list": "{{ inputs.n | int > 3 }} was false",
                               "email": f"{EMAIL_IF} was false"}
    assert seen == [("list", "aws.iam.list_access_keys", None, outcome.skipped["list"]),
                    ("email", "email.send", None, outcome.skipped["email"]),
                    ("fallback", "aws.iam.list_access_keys", None, None)]


README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readmes_conditional_example_is_real(aws_env: Any, iam: Any, tmp_path: Path) -> None:
    section = README.split("name: keys-if-any", 1)[1]
    path = write(tmp_path, "name: keys-if-any" + section.split("```", 1)[0], "keys-if-any.yaml")
    console = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    command, *stderr, stdout = console
    iam.create_user(UserName="Bob")
    args = command.removeprefix("$ iamkeys ").split()
    result = iamkeys(*[str(path) if arg == "keys-if-any.yaml" else arg for arg in args],
                     cwd=str(tmp_path))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == stderr
    assert result.stdout == stdout + "\n"


def test_the_docstrings_example_is_a_valid_workflow() -> None:
    assert workflow.__doc__ is not None
    example = workflow.__doc__.split("\n\n")[2]
    loaded = workflow.parse(textwrap.dedent(example), source="doc")
    assert [(s.id, s.condition is not None) for s in loaded.steps] == [("keys", False),
                                                                       ("email", True)]
    # With no `to`, the inputs alone decide the condition (false): the step's values, which
    # would be refused (no address), are not checked.
    planned = workflow.describe(workflow.plan(loaded, {"user_name": "Alice"}))
    assert planned["steps"][1]["if"]["value"] is False
    assert planned["steps"][1]["with"]["to"] == "{{ inputs.to }}"
    planned = workflow.describe(workflow.plan(loaded, {"user_name": "Alice", "to": TO}))
    assert planned["steps"][1]["if"]["waits_for"] == ["keys"]
    assert planned["steps"][1]["with"]["to"] == TO


OPTIONAL_EMAIL = """\
    name: t
    inputs:
      to: {default: null}
      n: {default: 1}
    steps:
      - {id: keys, action: aws.iam.list_access_keys, with: {user_name: Alice}}
      - id: email
        if: "{{ inputs.to is not none and steps.keys.output.AccessKeyMetadata | length > 0 }}"
        action: email.send
        with: {to: "{{ inputs.to }}", result: "{{ steps.keys.output }}"}
"""


def test_a_condition_the_inputs_alone_decide_is_decided_before_the_run(
        alice: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, OPTIONAL_EMAIL)
    result = run_inproc(capsys, "run", str(path))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "iamkeys: step keys: aws.iam.list_access_keys ... ok",
        "iamkeys: step email: email.send ... skipped: {{ inputs.to is not none and "
        "steps.keys.output.AccessKeyMetadata | length > 0 }} was false",
    ]
    assert alice.stats()["by_action"] == {"ListAccessKeys": 1}
    alice.reset(state=False)
    # Given a `to`, the condition waits for the listing, and the address is checked first.
    result = run_inproc(capsys, "run", str(path), "--input", "to=not an address")
    assert_one_line_error(result, 2)
    assert result.stderr == (f"Error: {path}: step 'email': parameter to: 'not an address' is "
                             "not a plain e-mail address (local@domain)\n")
    assert alice.stats()["total"] == 0
    # Short of the output, `0 and ...` is 0 whatever the output: refused before the run.
    path = write(tmp_path, OPTIONAL_EMAIL.replace("inputs.to is not none", "inputs.n")
                 .replace("{default: 1}", "{default: 0}"))
    result = run_inproc(capsys, "run", str(path), "--input", "to=a@example.com",
                        "--outbox", str(tmp_path / "outbox"))
    assert_one_line_error(result, 2)
    assert result.stderr.endswith(" is the number 0, not true or false\n")
    assert not (tmp_path / "outbox").exists()
    assert alice.stats()["total"] == 0
