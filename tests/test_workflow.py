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
from iamkeys.cli import main
from iamkeys.demo import SmtpServer, embedded_smtp
from seed_data import SEED_KEYS, SEED_OUTPUT, create_seed_user

TO = "security-team@example.com"


@pytest.fixture
def alice(aws_env: Any, iam: Any) -> Any:
    """The seed's user Alice with her two keys; the request counters start at zero."""
    create_seed_user(iam, aws_env)
    aws_env.reset(state=False)
    return aws_env


@pytest.fixture
def smtp_plain() -> Iterator[SmtpServer]:
    """A real aiosmtpd server on 127.0.0.1 (free port), no TLS, keeping messages in memory."""
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
     "aws.iam.inventory, aws.iam.remediate, email.send)"),
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
    ("unknown step key", list_step("{}").replace("- id: list", "- id: list\n        if: x"), [],
     "F: step 'list': unknown key 'if' (allowed: id, action, with)"),
    ("duplicate step id", list_step("{}").replace("id: email", "id: list"), [],
     "F: step 'list': duplicate step id"),
    ("bad step id", list_step("{}").replace("id: list", "id: List"), [],
     "F: steps[0]: id must be a-z, 0-9, _ and -, starting with a letter, at most 64 "
     "characters, and not a dict method name"),
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
