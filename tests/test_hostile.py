"""Hostile input gets a clear error: every option of every command, every workflow and Lambda input.

Values outside each documented rule (hypothesis: wrong lengths and patterns, control characters,
unicode look-alikes, huge values; NUL and non-string values through the Lambda path, since argv
cannot carry them) must give exit 2 and exactly one line naming the parameter, no traceback, and
nothing on the wire: no request at the IAM emulator (its layer counts them), no connection to the
SMTP server, nothing in the outbox. Then: regions never choose the host, `--endpoint-url` is used
as given and warned about when it is plain HTTP off this machine, hostile text in a result is
escaped in the email's HTML and neutralised in its CSV, workflow files cannot reach Python, and
malformed JSON names its line and column.

The per-command examples that already exist (test_list_access_keys, test_inventory,
test_send_email_cli, test_workflow, test_lambda, test_mail) are not repeated here.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_runner import Result, assert_one_line_error, iamkeys
from iamkeys import aws, cli, params
from iamkeys.aws_lambda import handler
from iamkeys.documents import parse
from iamkeys.errors import InputError, WorkflowError
from iamkeys.mail import build_message
from mail_samples import INVENTORY, SEED

TO = "secops@example.com"
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.filter_too_much])

# --- value strategies -------------------------------------------------------------------------

# argv cannot carry NUL (or lone surrogates); everything else can.
ARGV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=80)
CONTROL = st.sampled_from([chr(c) for c in range(1, 32)] + ["\x7f", "\x85", "\u2028"])
# Letters, digits and punctuation that look like ASCII ones and are not.
LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440",
              "i": "\u0456", "s": "\u0455", "x": "\u0445", "-": "\u2010", ".": "\u2024",
              "@": "\uff20", "/": "\u2215", "A": "\u0391", "l": "\u04cf", "_": "\uff3f",
              "t": "\u0442", "m": "\u043c",
              **{str(d): chr(0xFF10 + d) for d in range(10)}}  # fullwidth digits


def with_control(valid: str) -> st.SearchStrategy[str]:
    """`valid` with a control character at some position."""
    return st.tuples(st.integers(0, len(valid)), CONTROL).map(
        lambda t: valid[:t[0]] + t[1] + valid[t[0]:])


def lookalike(valid: str) -> st.SearchStrategy[str]:
    """`valid` with one character replaced by a unicode look-alike."""
    spots = [i for i, c in enumerate(valid) if c in LOOKALIKES]
    assert spots, valid
    return st.sampled_from(spots).map(lambda i: valid[:i] + LOOKALIKES[valid[i]] + valid[i + 1:])


def huge(valid: str) -> st.SearchStrategy[str]:
    """`valid` repeated to tens or hundreds of thousands of characters."""
    return st.integers(10_000, 200_000).map(lambda n: (valid * (n // len(valid) + 1))[:n])


def outside(rule: Callable[[str], bool], valid: str, *, lookalikes: bool = True,
            big: bool = True, text: st.SearchStrategy[str] = ARGV_TEXT) -> st.SearchStrategy[str]:
    """Values that break `rule`: random text, control characters, look-alikes, huge values."""
    parts = [text, with_control(valid)]
    if lookalikes:
        parts.append(lookalike(valid))
    if big:
        parts.append(huge(valid))
    return st.one_of(*parts).filter(lambda value: not rule(value))


def pattern(regex: str) -> Callable[[str], bool]:
    return lambda value: re.fullmatch(regex, value) is not None


def integer(low: int, high: int, *, blank_ok: bool = False) -> Callable[[str], bool]:
    """The integer rule: ASCII digits (a + sign and surrounding spaces allowed), within range."""
    def ok(value: str) -> bool:
        text = value.strip()
        if blank_ok and not text:
            return True
        return bool(re.fullmatch(r"\+?[0-9]{1,9}", text)) and low <= int(text) <= high
    return ok


def bad_integers(low: int, high: int, *, blank_ok: bool = False) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-10**12, low - 1).map(str), st.integers(high + 1, 10**15).map(str),
        st.sampled_from([str(low) + ".5", "1e3", "\uff11", "0x10", "\u0661", f"{high}\u200b"]),
        outside(integer(low, high, blank_ok=blank_ok), str(high)))


def not_blank(rule: Callable[[str], bool]) -> Callable[[str], bool]:
    """Inventory options treat blank text as not given (a template that rendered nothing)."""
    return lambda value: not value.strip() or rule(value)


def without(characters: str) -> Callable[[str], bool]:
    """A rule that only passes values made of `characters` (so anything else is outside it)."""
    return lambda value: value != "" and all(c in characters for c in value)


ASCII_HOST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]%"
NOT_AN_ADDRESS = outside(lambda v: "@" in v and not re.search(r"[\x00-\x1f\x7f]", v),
                         "ops@example.com", big=False)
ADDRESS_TRICKS = st.sampled_from([
    '"ops@example.com" <evil@x.com>', "Ops <ops@example.com>", "ops@example.com (Ops)",
    "<ops@example.com>", "ops@example.com>", '"o p"@example.com', "@evil.com:ops@example.com",
    "ops@[127.0.0.1]", "ops@example.com;evil@x.com", "ops@-example.com", "ops@example..com",
    "ops@" + "a" * 64 + ".com", "o" * 250 + "@example.com", "ops@\u0435xample.com",
    "ops@example.com\u2028Bcc: evil@x.com", "=?utf-8?q?evil?= <ops@example.com>"])
# A sender may carry a display name ("Ops <ops@example.com>"), but none that hides an address.
SENDER_TRICKS = ADDRESS_TRICKS.filter(lambda v: v != "Ops <ops@example.com>") | st.sampled_from([
    "ops@example.com <evil@x.com>", '"ops@example.com" <evil@x.com>',
    "Ops <ops@example.com> <evil@x.com>", '"Ops <evil@x.com>" <ops@example.com>',
    "Ops\uff20example.com <ops@example.com>", "Ops\u202e <ops@example.com>",
    'Ops "x" <ops@example.com>', "Ops\\ <ops@example.com>", "  <ops@example.com>",
    "Ops <ops@example.com>, Evil <evil@x.com>", "Ops <ops@example.com", "O" * 79 + " <o@x.com>"])


@dataclass(frozen=True)
class Opt:
    """One option of one command, values outside its rule, and what else the command needs."""

    command: str
    option: str
    bad: st.SearchStrategy[str]
    names: tuple[str, ...] = ()  # what the error line names (any of), when not the option

    @property
    def id(self) -> str:
        return f"{self.command} {self.option}"


AWS_OPTIONS = [
    # Only values that cannot be a URL: never a request to another host, whatever is drawn.
    ("--endpoint-url", outside(lambda v: "://" in v and not re.search(r"[\x00-\x1f\x7f]", v),
                               "http://127.0.0.1:1", lookalikes=False)
     | st.sampled_from(["ftp://127.0.0.1", "http://", "http://127.0.0.1:99999",
                        "http://user:pw@127.0.0.1", "http://127.0.0.1/?a=b",
                        "http://127.0.0.1/#x", "file:///etc/passwd", "http//127.0.0.1"])),
    ("--connect-timeout", bad_integers(1, 300)),
    ("--read-timeout", bad_integers(1, 900)),
    # Any profile: the test's config files are empty, so even a well-formed name is unknown.
    ("--profile", ARGV_TEXT | lookalike("default") | huge("prod")),
]
KNOWN_REGIONS = frozenset(r for p in aws.partitions() for r in p.regions)


def region_list(value: str) -> bool:
    """The --regions rule: `*`, or known region names separated by commas (spaces ignored)."""
    items = [item.strip() for item in value.split(",")]
    return items == ["*"] or all(item in KNOWN_REGIONS for item in items)


REGION_ODDITIES = st.sampled_from(
    ["xx-nowhere-1", "us-east-99", "aws-global", "us-east-1.evil.example", "US-EAST-1", "",
     "us-east-1/", "us-east-1@evil.example", "us-east-1:443", "us-east-1#", "*,us-east-1"])
REGIONS = outside(region_list, "us-east-1,eu-west-1") | REGION_ODDITIES
REGION = outside(lambda v: v in KNOWN_REGIONS, "us-east-1") | REGION_ODDITIES
MAIL_OPTIONS = [
    ("--smtp-host", outside(without(ASCII_HOST), "smtp.example.com") | st.sampled_from(
        ["", "-smtp.example.com", "smtp..example.com", "a" * 64 + ".com", "smtp_1.example"])),
    ("--smtp-port", bad_integers(1, 65535)),
    ("--smtp-security", outside(lambda v: v.strip().lower() in ("starttls", "ssl", "none"),
                                "starttls")),
    # Any user: the password is not in the environment, so naming a user is an error.
    ("--smtp-user", ARGV_TEXT | with_control("mailer") | huge("mailer")),
    ("--outbox", outside(lambda v: v == "" or (bool(v.strip()) and len(v) <= 4096
                                                and not re.search(r"[\x00-\x1f\x7f]", v)),
                         "outbox", text=st.just(" "))),
    ("--smtp-ehlo-name", outside(lambda v: len(v) <= 253 and pattern(
        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
        r"[A-Za-z0-9])?)*\.?")(v), "mailer.example.com") | st.sampled_from(
        ["", "-mailer.example.com", "mailer..example.com", "a" * 64 + ".com", "[127.0.0.1]"])),
    ("--smtp-timeout", bad_integers(1, 600)),
    ("--smtp-ca-file", with_control("ca.pem") | huge("ca/") | ARGV_TEXT.map(
        lambda v: "missing-dir/" + v) | st.sampled_from(["", " ", "/", ".", "/etc/hostname",
                                                          "/dev/null"])),
]
OPTIONS = [
    Opt("list-access-keys", "--user-name", outside(pattern(r"[A-Za-z0-9_+=,.@-]{1,128}"),
                                                   "alice")),
    Opt("list-access-keys", "--marker", outside(pattern(r"[\u0020-\u00FF]{1,320}"), "bWFya2Vy",
                                                lookalikes=True)),
    Opt("list-access-keys", "--max-items", bad_integers(1, 1000)),
    Opt("list-access-keys", "--regions", REGIONS),
    Opt("list-access-keys", "--output", outside(lambda v: v in ("json", "table", "csv"),
                                                "json")),
    *(Opt("list-access-keys", option, bad) for option, bad in AWS_OPTIONS),
    Opt("inventory", "--accounts", outside(not_blank(lambda v: all(
        re.fullmatch("[0-9]{12}", item.strip()) for item in v.split(","))), "111122223333")),
    Opt("inventory", "--role-name", outside(not_blank(pattern(r"[A-Za-z0-9_+=,.@-]{1,64}")),
                                            "Audit")),
    Opt("inventory", "--external-id", outside(not_blank(pattern(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")),
                                              "ext-42")),
    Opt("inventory", "--path-prefix", outside(not_blank(pattern(r"/([\x21-\x7e]{0,510}/)?")),
                                              "/ops/")),
    Opt("inventory", "--concurrency", bad_integers(1, 256, blank_ok=True)),
    Opt("inventory", "--max-key-age", bad_integers(0, 36500, blank_ok=True)),
    Opt("inventory", "--max-unused", bad_integers(0, 36500, blank_ok=True)),
    Opt("inventory", "--max-inactive", bad_integers(0, 36500, blank_ok=True)),
    Opt("inventory", "--output", outside(lambda v: v in ("json", "csv", "table", "html"), "html")),
    Opt("inventory", "--out", with_control("report.html") | ARGV_TEXT.map(
        lambda v: "missing-dir/" + v.replace("/", "_"))
        | st.sampled_from(["/", "/tmp", ".", " "])),
    Opt("inventory", "--region", REGION),
    *(Opt("inventory", option, bad) for option, bad in AWS_OPTIONS),
    Opt("send-email", "--to", NOT_AN_ADDRESS | ADDRESS_TRICKS),
    Opt("send-email", "--cc", NOT_AN_ADDRESS | ADDRESS_TRICKS),
    Opt("send-email", "--from", NOT_AN_ADDRESS | SENDER_TRICKS),
    Opt("send-email", "--subject", with_control("Weekly keys") | huge("Weekly keys ")
        | st.sampled_from(["", " ", "\t"])),
    Opt("send-email", "--input", ARGV_TEXT.filter(lambda v: v != "-").map(
        lambda v: "missing-dir/" + v) | st.sampled_from(["/", ".", "/etc/hostname",
                                                                  "/dev/null"])),
    Opt("send-email", "--region", REGION),
    # send-email reads the profile only for SES: over SMTP a well-formed unknown one is unused.
    *(Opt("send-email", option, bad) for option, bad in MAIL_OPTIONS + AWS_OPTIONS[:-1]),
    Opt("send-email", "--profile", outside(pattern(r"[A-Za-z0-9_+=,.@:/-]{1,128}"), "prod")),
    Opt("run", "--input", ARGV_TEXT.filter(lambda v: v.partition("=")[0].strip() not in (
        "user_name", "regions", "marker", "max_items", "to", "from", "subject")
        or "=" not in v)),
    Opt("run", "--input", outside(pattern(r"[\u0020-\u00FF]{1,320}"), "bWFya2Vy").map(
        lambda v: "marker=" + v), names=("parameter marker: ", "input 'marker': ")),
    Opt("run", "--input", REGIONS.map(lambda v: "regions=" + v),
        names=("parameter regions: ", "input 'regions': ")),
    Opt("run", "--input", (NOT_AN_ADDRESS | SENDER_TRICKS).map(lambda v: "from=" + v),
        names=("parameter from: ", "input 'from': ")),
    Opt("run", "--input", (with_control("Keys") | huge("Keys ")).map(lambda v: "subject=" + v),
        names=("parameter subject: ", "input 'subject': ")),
    Opt("run", "--region", REGION),
    *(Opt("run", option, bad) for option, bad in MAIL_OPTIONS + AWS_OPTIONS),
    Opt("demo", "--output-dir", with_control("demo-output") | huge("d/")
        | st.sampled_from(["", " "])),
]


class Tripwire:
    """A listening socket that must never be connected to (where the SMTP server would be)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    def untouched(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return True
        conn.close()
        return False


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    wire = Tripwire()
    try:
        yield wire
    finally:
        wire.sock.close()


@pytest.fixture
def hostile_env(aws_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No mail settings from the developer; an outbox that must stay empty; cwd in tmp."""
    for name in ("IAMKEYS_SMTP_HOST", "IAMKEYS_SMTP_PORT", "IAMKEYS_SMTP_SECURITY",
                 "IAMKEYS_SMTP_USER", "IAMKEYS_SMTP_PASSWORD", "IAMKEYS_SES", "IAMKEYS_DEBUG",
                 "IAMKEYS_SMTP_EHLO_NAME", "IAMKEYS_SMTP_TIMEOUT", "IAMKEYS_SMTP_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    outbox = tmp_path / "outbox"
    monkeypatch.setenv("IAMKEYS_OUTBOX", str(outbox))
    monkeypatch.setenv("IAMKEYS_FROM", "iamkeys@example.com")  # SMTP needs a sender
    monkeypatch.chdir(tmp_path)
    return outbox


def base_args(opt: Opt, wire: Tripwire) -> list[str]:
    """Valid values for everything the command needs besides the option under test."""
    mail = ["--smtp-host=127.0.0.1", f"--smtp-port={wire.port}", "--smtp-security=none"]
    return {
        "list-access-keys": ["--user-name=alice"],
        "inventory": [],
        "send-email": [f"--to={TO}", *mail],
        "run": ["list-access-keys-email", f"--input=to={TO}", "--input=user_name=alice", *mail],
        "demo": [],
    }[opt.command]


def inproc(capsys: pytest.CaptureFixture[str], args: list[str]) -> Result:
    """`iamkeys ARGS` through `iamkeys.cli.main` in this process (the same code path)."""
    code = cli.main(args)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def assert_refused(result: Result, *names: str) -> None:
    """Exit 2, one line naming the parameter, no traceback, nothing on stdout."""
    assert result.code == 2, (result.code, result.stderr[:500])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    assert lines[0].startswith("Error: ") and any(n in lines[0] for n in names), (
        names, lines[0][:300])
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("opt", OPTIONS, ids=[o.id for o in OPTIONS])
def test_every_option_refuses_values_outside_its_rule(
        opt: Opt, hostile_env: Path, aws_env: Any, tripwire: Tripwire,
        capsys: pytest.CaptureFixture[str]) -> None:
    @SETTINGS
    @given(value=opt.bad)
    def check(value: str) -> None:
        aws_env.reset(state=False)
        result = inproc(capsys, [opt.command, *base_args(opt, tripwire), f"{opt.option}={value}"])
        assert_refused(result, *(opt.names or (f"Error: {opt.option}: ",)))
        assert aws_env.stats()["total"] == 0
        assert tripwire.untouched(), "the SMTP port was connected to"
        assert not hostile_env.exists(), "the outbox was written"

    check()


FLAGS = [("list-access-keys", "--raw-xml"), ("list-access-keys", "--all-pages"),
         ("inventory", "--organization"), ("inventory", "--no-last-used"),
         ("inventory", "--fail-on-findings"), ("send-email", "--ses"), ("run", "--dry-run")]


@pytest.mark.parametrize(("command", "flag"), FLAGS)
def test_switches_take_no_value(command: str, flag: str, hostile_env: Path, aws_env: Any,
                                capsys: pytest.CaptureFixture[str]) -> None:
    aws_env.reset(state=False)
    result = inproc(capsys, [command, f"{flag}=yes\nBcc: evil@x.com"])
    assert_refused(result, f"Error: Option '{flag}' does not take a value")
    assert aws_env.stats()["total"] == 0


@SETTINGS
@given(reference=ARGV_TEXT | with_control("list-access-keys-email")
       | lookalike("list-access-keys-email") | st.sampled_from(
           ["../../../../etc/passwd", "/etc/hostname", "/dev/zero", "/proc/self/environ",
            "list-access-keys-email.yaml", "iamkeys.workflows", "iamkeys.workflow.library",
            "library/list-access-keys-email", "-", "."]))
def test_run_refuses_any_workflow_that_is_not_one(reference: str, hostile_env: Path,
                                                  aws_env: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    aws_env.reset(state=False)
    result = inproc(capsys, ["run", "--input", f"to={TO}", "--", reference])
    assert_refused(result, f"Error: {cli.one_line(reference)}: ")
    assert aws_env.stats()["total"] == 0 and not hostile_env.exists()


REAL_PROCESS = [
    (["list-access-keys", "--user-name", "\uff21lice"], "--user-name"),
    (["list-access-keys", "--user-name", "alice", "--regions", "us\u2010east\u20101"],
     "--regions"),
    (["inventory", "--accounts", "\uff11" * 12], "--accounts"),
    (["inventory", "--path-prefix", "/ops/\x1b[31m/"], "--path-prefix"),
    (["send-email", "--to", TO, "--subject", "keys\rBcc: evil@x.com"], "--subject"),
    (["send-email", "--to", "ops@\u0435xample.com"], "--to"),
    (["run", "list-access-keys-email", "--input", f"to={TO}\nBcc: evil@x.com"],
     "parameter to"),
    (["demo", "--output-dir", "out\tput"], "--output-dir"),
]


@pytest.mark.parametrize(("args", "names"), REAL_PROCESS, ids=[a[0] + " " + a[-2]
                                                               for a, _ in REAL_PROCESS])
def test_the_real_entry_point_refuses_them_too(args: list[str], names: str,
                                               hostile_env: Path, aws_env: Any) -> None:
    aws_env.reset(state=False)
    result = iamkeys(*args, stdin=json.dumps(SEED))
    assert_one_line_error(result, 2, names)
    assert aws_env.stats()["total"] == 0 and not hostile_env.exists()


# --- Lambda and library: NUL, and values no command line can hold ----------------------------

ACTION_PARAMETERS = {
    "aws.iam.list_access_keys": ["user_name", "marker", "max_items", "regions", "raw_xml",
                                 "all_pages"],
    "aws.iam.inventory": ["accounts", "organization", "role_name", "external_id",
                          "path_prefix", "no_last_used", "concurrency", "max_key_age",
                          "max_unused", "max_inactive"],
    "email.send": ["to", "cc", "from", "subject"],
}
VALID = {"user_name": "alice", "marker": "bWFya2Vy", "max_items": "5", "regions": "us-east-1",
         "raw_xml": "false", "all_pages": "true", "accounts": "111122223333",
         "organization": "false", "role_name": "Audit", "external_id": "ext-42",
         "path_prefix": "/ops/", "no_last_used": "true", "concurrency": "8",
         "max_key_age": "90", "max_unused": "45", "max_inactive": "30", "to": TO,
         "cc": "cc@example.com", "from": "iam@example.com", "subject": "Keys"}
NESTED: list[Any] = []
for _ in range(3000):
    NESTED = [NESTED]
NOT_TEXT = st.one_of(
    st.just(NESTED), st.just({"a": NESTED}), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(10**10, 10**30), st.lists(st.integers(), min_size=2, max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3),
    st.just(b"bytes"))


def with_nul(name: str) -> st.SearchStrategy[str]:
    valid = VALID[name]
    return st.integers(0, len(valid)).map(lambda i: valid[:i] + "\x00" + valid[i:])


@pytest.mark.parametrize(("action", "name"), [(a, n) for a, names in ACTION_PARAMETERS.items()
                                              for n in names])
def test_lambda_action_parameters_refuse_nul_and_non_text(
        action: str, name: str, hostile_env: Path, aws_env: Any) -> None:
    @SETTINGS
    @given(value=(with_nul(name) | NOT_TEXT).filter(
        lambda v: not (name == "accounts" and isinstance(v, int) and len(str(v)) == 12)))
    def check(value: Any) -> None:
        aws_env.reset(state=False)
        values: dict[str, Any] = {name: value}
        if action == "email.send":
            values = {"to": TO, "result": SEED, **values}
        with pytest.raises(InputError) as raised:
            handler({"action": action, "with": values}, None)
        assert raised.value.parameter == name, raised.value
        assert "\n" not in str(raised.value)
        assert aws_env.stats()["total"] == 0 and not hostile_env.exists()

    check()


WORKFLOW_INPUTS = [
    *(("list-access-keys-email", name) for name in (
        "user_name", "regions", "marker", "max_items", "to", "from", "subject")),
    *(("inventory-findings-email", name) for name in (
        "accounts", "organization", "role_name", "external_id", "path_prefix", "no_last_used",
        "max_key_age", "max_unused", "max_inactive", "to", "from", "subject")),
]


@pytest.mark.parametrize(("workflow", "name"), WORKFLOW_INPUTS)
def test_lambda_workflow_inputs_refuse_nul_and_bombs(workflow: str, name: str,
                                                     hostile_env: Path, aws_env: Any) -> None:
    @SETTINGS
    @given(value=with_nul(name) | st.just(NESTED) | st.just(["x"] * 1001)
           | st.just("x" * (64 * 1024 + 1)))
    def check(value: Any) -> None:
        aws_env.reset(state=False)
        inputs = {"to": TO, name: value}
        with pytest.raises(InputError) as raised:
            handler({"workflow": workflow, "inputs": inputs}, None)
        message = str(raised.value)
        assert f"parameter {name}:" in message or f"input '{name}'" in message, message
        assert "\n" not in message
        assert aws_env.stats()["total"] == 0 and not hostile_env.exists()

    check()


def test_library_refuses_nul_before_any_request(aws_env: Any) -> None:
    from iamkeys.inventory import inventory
    from iamkeys.listing import list_access_keys

    aws_env.reset(state=False)
    for call, name in ((lambda: list_access_keys(user_name="al\x00ice"), "user_name"),
                       (lambda: list_access_keys(user_name="alice", marker="\x00"), "marker"),
                       (lambda: inventory(role_name="Au\x00dit"), "role_name"),
                       (lambda: inventory(external_id="ext\x0042"), "external_id")):
        with pytest.raises(InputError) as raised:
            call()
        assert raised.value.parameter == name
    assert aws_env.stats()["total"] == 0


# --- regions never choose the host; the endpoint is used as given -----------------------------


def test_every_region_of_a_partition_reaches_the_same_iam_host(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No request is sent: only the endpoint botocore resolves for each region is read.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-used-no-request-is-sent")
    session = aws.make_session(aws.Connection())
    hosts: dict[str, set[str]] = {}
    for partition in aws.partitions():
        for call in aws.plan_calls(params.regions(",".join(partition.regions)),
                                   partition.regions[0]):
            client = aws.client(session, "iam", call.region, aws.Connection())
            hosts.setdefault(partition.name, set()).add(
                str(urlsplit(client.meta.endpoint_url).hostname))
    assert all(len(found) == 1 for found in hosts.values()), hosts
    assert hosts["aws"] == {"iam.amazonaws.com"}
    assert hosts["aws-cn"] == {"iam.cn-north-1.amazonaws.com.cn"}
    assert hosts["aws-us-gov"] == {"iam.us-gov.amazonaws.com"}


def test_with_an_endpoint_every_partition_call_goes_to_it(aws_env: Any) -> None:
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1"):
        iam = boto3.client("iam", region_name=region, endpoint_url=aws_env.url)
        iam.create_user(UserName="alice")
    aws_env.reset(state=False)
    result = iamkeys("list-access-keys", "--user-name", "alice", "--regions",
                     "eu-west-1,cn-northwest-1,us-gov-east-1,ap-south-1", "--endpoint-url",
                     aws_env.url)
    assert result.code == 0, result.stderr
    log = aws_env.stats(log=True)["log"]
    assert len(log) == 3
    assert {entry["host"] for entry in log} == {aws_env.url.removeprefix("http://")}


@pytest.mark.parametrize("args", [
    ["list-access-keys", "--user-name", "alice"],
    ["inventory", "--no-last-used"],
], ids=["list-access-keys", "inventory"])
def test_endpoint_url_is_used_as_given(args: list[str], aws_env: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    aws_env.bulk_create([{"name": "alice", "keys": [{}]}])
    aws_env.reset(state=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    given = aws_env.url.replace("127.0.0.1", "localhost")
    result = iamkeys(*args, "--endpoint-url", given)
    assert result.code == 0, result.stderr
    assert result.stderr == ""  # loopback: no warning, even over http
    hosts = {entry["host"] for entry in aws_env.stats(log=True)["log"]}
    assert hosts == {given.removeprefix("http://")}


PLAIN_OFF_MACHINE = ["http://192.0.2.1:9", "http://iam.example.invalid", "http://10.1.2.3:8080/",
                     "HTTP://198.51.100.7"]
# The warning comes first; an input error found after it stops the command before any request.
STOPPED_LATER = [
    (["list-access-keys", "--user-name", "alice", "--profile", "missing"], "--profile"),
    (["inventory", "--region", "us-fake-9"], "--region"),
    (["send-email", "--to", TO, "--smtp-security", "tls"], "--smtp-security"),
    (["run", "list-access-keys-email", "--region", "moon-1"], "--region"),
]


@pytest.mark.parametrize("url", PLAIN_OFF_MACHINE)
@pytest.mark.parametrize(("args", "option"), STOPPED_LATER, ids=[a[0] for a, _ in STOPPED_LATER])
def test_plain_http_off_this_machine_is_warned_about(url: str, args: list[str], option: str,
                                                     hostile_env: Path, aws_env: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    aws_env.reset(state=False)
    result = inproc(capsys, [*args, "--endpoint-url", url])
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"iamkeys: --endpoint-url {url} is not HTTPS: signed requests travel unencrypted",
        result.stderr.splitlines()[1]]
    assert result.stderr.splitlines()[1].startswith(f"Error: {option}: ")
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize("url", ["https://192.0.2.1:9", "http://127.0.0.1:9", "http://localhost:9",
                                 "http://[::1]:9", "http://127.8.9.10:9"])
def test_https_and_loopback_endpoints_are_not_warned_about(url: str, aws_env: Any,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    result = inproc(capsys, ["list-access-keys", "--user-name", "alice", "--profile", "missing",
                             "--endpoint-url", url])
    assert_refused(result, "Error: --profile: ")


def test_the_warning_is_printed_by_the_real_entry_point(aws_env: Any) -> None:
    result = iamkeys("inventory", "--endpoint-url", "http://192.0.2.1:9", "--region", "mars-1",
                     timeout=30)
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "iamkeys: --endpoint-url http://192.0.2.1:9 is not HTTPS: signed requests travel "
        "unencrypted", "Error: --region: 'mars-1' is not a region name (like us-east-1)"]


# --- email: headers, addresses, and hostile text in the result --------------------------------

HEADERS = {"to": TO, "cc": "cc@example.com", "sender": "iam@example.com", "subject": "Keys"}
ANY_CONTROL = st.sampled_from([chr(c) for c in range(0, 32)] + ["\x7f"])


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(list(HEADERS)), control=ANY_CONTROL, at=st.integers(0, 20))
def test_control_characters_in_any_header_are_refused(field: str, control: str, at: int) -> None:
    values = dict(HEADERS)
    values[field] = values[field][:at] + control + values[field][at:]
    with pytest.raises(InputError) as raised:
        build_message(SEED, **values)
    assert raised.value.parameter == {"sender": "from"}.get(field, field)


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(["to", "cc", "sender"]), data=st.data())
def test_display_name_and_route_tricks_are_refused(field: str, data: st.DataObject) -> None:
    trick = data.draw(SENDER_TRICKS if field == "sender" else ADDRESS_TRICKS)
    values = dict(HEADERS)
    values[field] = trick
    with pytest.raises(InputError) as raised:
        build_message(SEED, **values)
    assert raised.value.parameter == {"sender": "from"}.get(field, field)


HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
                     "</td></tr></table><iframe src=//evil>", "<!--", "]]>", "&amp;lt;",
                     "=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                     "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0", "javascript:alert(1)"]),
    st.tuples(st.sampled_from("=+-@\t\r"), st.text(max_size=20)).map("".join))


class Page(HTMLParser):
    """Tags, attributes and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(document: dict[str, Any]) -> tuple[Page, list[list[str]]]:
    """The email's HTML, parsed, and its CSV attachment's rows."""
    import csv

    message = build_message(document, to=TO)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    page = Page()
    page.feed(html.get_content())
    [data] = [p.get_payload(decode=True) for p in message.iter_attachments()
              if p.get_filename() == "access-keys.csv"]
    assert isinstance(data, bytes)
    return page, list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def listing_with(name: str) -> dict[str, Any]:
    key = dict(SEED["AccessKeyMetadata"][0])
    key["UserName"] = name
    return {"AccessKeyMetadata": [key], "IsTruncated": False}


def inventory_with(name: str) -> dict[str, Any]:
    document = json.loads(json.dumps(INVENTORY))
    document["Keys"][0]["UserName"] = name
    document["Keys"][0]["LastUsedService"] = name
    document["Keys"][0]["FindingDetails"][0]["Reason"] = name
    document["Errors"][0]["Message"] = name
    return document


BASELINE = {kind: {tag for tag, _ in rendered(make("x"))[0].tags}
            for kind, make in (("listing", listing_with), ("inventory", inventory_with))}


@settings(max_examples=80, deadline=None)
@given(name=HOSTILE_TEXT, kind=st.sampled_from(["listing", "inventory"]))
def test_hostile_text_is_data_in_html_and_csv(name: str, kind: str) -> None:
    document = (listing_with if kind == "listing" else inventory_with)(name)
    page, rows = rendered(document)
    # No element or attribute comes from the text: the same tags as with a harmless name.
    assert {tag for tag, _ in page.tags} <= BASELINE[kind]
    assert not any(a.startswith("on") for _, attrs in page.tags for a in attrs)
    visible = "".join(page.text)
    if name.strip() and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\r]", name):
        assert " ".join(name.split()) in " ".join(visible.split())
    # Every CSV cell that a spreadsheet would run is quoted with a leading apostrophe.
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    user_cells = [cell for cell in cells if cell.lstrip("'") == name and name]
    if name and name[0] in "=+-@\t\r":
        assert user_cells and all(cell == "'" + name for cell in user_cells)


# --- malformed JSON into send-email -------------------------------------------------------------


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 400), junk=st.sampled_from(["", "}", ",", "\n\n]", "'", "\x01",
                                                      "NaNx", "{{", '"\\x"']))
def test_malformed_json_names_line_and_column(cut: int, junk: str, hostile_env: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps(SEED, indent=2)
    broken = text[:cut % len(text)] + junk
    try:
        json.loads(broken)
    except json.JSONDecodeError as e:
        expected = f"Error: --input: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
    else:
        return  # still valid JSON (e.g. a cut after a complete value): nothing to check
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(broken.encode())))
    result = inproc(capsys, ["send-email", "--to", TO])
    assert_refused(result, "Error: --input: ")
    assert result.stderr.strip() == expected
    assert not hostile_env.exists()


def test_malformed_json_through_a_real_pipe(hostile_env: Path) -> None:
    result = iamkeys("send-email", "--to", TO, stdin='{\n  "AccessKeyMetadata": [\n    {,}\n')
    assert_one_line_error(result, 2, "Error: --input: invalid JSON at line 3 column 6: "
                                     "Expecting property name enclosed in double quotes")


def test_a_result_nested_too_deeply_is_refused_not_crashed() -> None:
    document = {**SEED, "Extra": NESTED}
    with pytest.raises(InputError) as raised:
        parse(document)
    assert raised.value.parameter == "input" and "nested deeper than 32 levels" in str(
        raised.value)
    with pytest.raises(InputError) as raised:
        handler({"action": "email.send", "with": {"to": TO, "result": document}}, None)
    assert raised.value.parameter == "result"


# --- workflow files: YAML tags and templates, through every entry -----------------------------

UNSAFE_TAGS = [
    "!!python/object/new:os.system [touch PWNED]",
    "!!python/object/apply:subprocess.check_output [[touch, PWNED]]",
    "!!python/module:os",
    "!!python/name:builtins.eval",
    "!!python/tuple [a, b]",
    "!ruby/object:Gem::Installer {}",
    "!<tag:yaml.org,2002:python/object/apply:os.system> [touch PWNED]",
]


@pytest.mark.parametrize("tag", UNSAFE_TAGS)
@pytest.mark.parametrize("entry", ["run", "lambda"])
def test_unsafe_yaml_tags_are_refused_everywhere(tag: str, entry: str, tmp_path: Path,
                                                 aws_env: Any, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "workflow.yaml"
    path.write_text(f"name: {tag}\nsteps:\n  - {{id: a, action: email.send}}\n")
    if entry == "run":
        result = inproc(capsys, ["run", str(path)])
        assert_refused(result, f"Error: {path}: not valid YAML: line 1: ")
    else:
        with pytest.raises(WorkflowError, match="not valid YAML: line 1: "):
            handler({"workflow": str(path)}, None)
    assert not (tmp_path / "PWNED").exists()
    assert aws_env.stats()["total"] == 0


ESCAPING_TEMPLATES = [
    "{{ inputs.to.__class__.__mro__[1].__subclasses__() }}",
    "{{ inputs|attr('__class__') }}",
    "{{ lipsum.__globals__ }}",
    "{{ config.items() }}",
    "{{ request.application.__self__._get_data_for_json.__globals__ }}",
    "{{ ''.__class__ }}",
    "{{ inputs['to'] ~ ('x' * 100000000) }}",
    "{{ [inputs.to] * 99999999 }}",
    "{{ inputs.items.__class__ }}",
    "{{ inputs[inputs.to] }}",
]


@pytest.mark.parametrize("template", ESCAPING_TEMPLATES)
def test_templates_cannot_reach_python_through_lambda(template: str, tmp_path: Path,
                                                      aws_env: Any) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text("name: t\ninputs:\n  to: {required: true}\nsteps:\n"
                    "  - id: list\n    action: aws.iam.list_access_keys\n"
                    f"    with: {{user_name: {json.dumps(template)}}}\n")
    with pytest.raises(WorkflowError) as raised:
        handler({"workflow": str(path), "inputs": {"to": TO}}, None)
    assert "parameter user_name: " in str(raised.value)
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize("template", ESCAPING_TEMPLATES)
def test_conditions_cannot_reach_python_either(template: str, tmp_path: Path,
                                               aws_env: Any) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text("name: t\ninputs:\n  to: {required: true}\n  items: {default: x}\nsteps:\n"
                    f"  - id: keys\n    if: {json.dumps(template)}\n"
                    "    action: aws.iam.list_access_keys\n")
    with pytest.raises(WorkflowError) as raised:
        handler({"workflow": str(path), "inputs": {"to": "__class__"}}, None)
    assert f"{path}: step 'keys': if: " in str(raised.value)
    assert aws_env.stats()["total"] == 0
