"""Nothing is lost under faults: every listing command through the harness's fault layer.

`list-access-keys --all-pages`, `inventory` (one account, and `--organization`) and the email
workflow run as real processes against the emulator while the harness injects, in turn and then
mixed: Throttling 400s, 500s and 503s, dropped connections, answers delayed past the read
timeout, truncated and malformed XML, a Marker the server rejects, and NoSuchEntity for users
or keys that vanish mid-run. Each run is checked against the ground truth the test created:
either the result is complete and equal to it, or every missing key is named (in `Errors`, in
`Summary.DeletedDuringRun`, or by the one-line error) and the exit code says so (3 or 1). Never
a silently shorter list, never a duplicate; a subprocess timeout bounds every run.

Each run appends one line to a ledger (IAMKEYS_FAULTS_LEDGER, else `faults-ledger.jsonl` in the
session's base temporary directory): command, fault, seed, exit code, seconds, requests, faults
injected by kind, keys reported, missing-but-named, lost, duplicates. docs/reliability.md gives
the sums of one full run.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_runner import Result, assert_one_line_error, iamkeys
from filesystems import fill, read_only, small_fs
from smtp_server import CutOffSmtp, SmtpServer, smtp_ca, smtp_plain

__all__ = ["small_fs", "smtp_ca", "smtp_plain"]

pytestmark = pytest.mark.faults

ACCOUNT = "123456789012"
ALICE = "alice"
RUN_TIMEOUT = 90.0  # seconds: a run still going after this is a hang, and fails the test
# Answers delayed past --read-timeout 1; attempts as the aws_env fixture sets (AWS_MAX_ATTEMPTS).
FAST = ("--read-timeout", "1", "--connect-timeout", "1")
DELAY_S = 1.2
# IAM pages of 7 users and of 1 key, whatever MaxItems says: every command paginates.
PAGE_CAP = {"ListUsers": 7, "ListAccessKeys": 1}
MAIL_CLEAN = {"IAMKEYS_SMTP_HOST": "", "IAMKEYS_SMTP_PORT": "", "IAMKEYS_SMTP_SECURITY": "",
              "IAMKEYS_SMTP_USER": "", "IAMKEYS_SMTP_PASSWORD": "", "IAMKEYS_OUTBOX": "",
              "IAMKEYS_FROM": "iamkeys@example.com"}

# One fault kind at a time: the rule fires on half of the calls it matches (seeded), so that
# with 3 attempts per call some calls recover and some exhaust their retries (IN_TURN_PROBABILITY).
KINDS: dict[str, dict[str, Any]] = {
    "throttle": {"kind": "throttle"},
    "error500": {"kind": "error500"},
    "error503": {"kind": "error503"},
    "drop": {"kind": "drop"},
    "delay": {"kind": "delay", "delay_s": DELAY_S},
    "malformed": {"kind": "malformed"},
    "truncated": {"kind": "truncated"},
    "reject_marker": {"kind": "reject_marker"},
    # What IAM answers for a user or key deleted since it was listed.
    "no_such_entity": {"kind": "no_such_entity"},
}
# no_such_entity only where IAM would say it for a vanished user or key.
VANISHING = ("ListAccessKeys", "GetAccessKeyLastUsed")
IN_TURN_PROBABILITY = 0.5
# Throttles and slow answers cost seconds of backoff each: fewer of them keep the suite short.
SLOW_KINDS = {"throttle": 0.3, "delay": 0.3}
SEEDS = range(1, 21)
# The mixed case: every kind at once. Rates per request for the inventories (~250 requests a
# run); the commands that make one or two requests get 5 or 10 times as much, so that most of
# their runs see faults.
MIXED = [
    ("throttle", 0.05), ("error500", 0.01), ("error503", 0.01), ("drop", 0.01),
    ("delay", 0.005), ("malformed", 0.01), ("truncated", 0.01), ("reject_marker", 0.01),
    ("no_such_entity", 0.01),
]
MIXED_SCALE = {"list-access-keys": 5.0, "inventory": 1.0, "inventory --organization": 1.0,
               "run list-access-keys-email": 10.0}


def fault_rules(kind: str, probability: float, *, first: bool = False) -> list[dict[str, Any]]:
    """Harness rules for one kind at `probability` on every call it can hit (and, with
    `first`, on the first of them for sure: a two-request run sees at least one fault)."""
    actions = VANISHING if kind == "no_such_entity" else ("*",)
    rules = [{**KINDS[kind], "action": action, "probability": probability} for action in actions]
    if first:
        rules.insert(0, {**KINDS[kind], "action": actions[0], "times": 1})
    return rules


def kind_seed(kind: str) -> int:
    """Each kind rolls its own dice (seed 1 for the first kind, 2 for the next...)."""
    return list(KINDS).index(kind) + 1


def in_turn(kind: str) -> float:
    """The probability of a kind when it is injected alone."""
    return SLOW_KINDS.get(kind, IN_TURN_PROBABILITY)


def mixed_rules(command: str) -> list[dict[str, Any]]:
    """Every kind, each at its own rate for `command`."""
    scale = MIXED_SCALE[command]
    return [rule for kind, p in MIXED for rule in fault_rules(kind, min(1.0, p * scale))]


# --- ground truth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What the test created: key id -> its record, and each account's users by name."""

    keys: dict[str, dict[str, Any]]
    users: dict[str, list[str]]  # account -> user names, sorted as ListUsers returns them

    def owner(self, key_id: str) -> tuple[str, str]:
        record = self.keys[key_id]
        return record["AccountId"], record["UserName"]


def populate(emulator: Any, account: str, prefix: str, users: int, seed: int) -> Truth:
    """Users with 0-2 keys each, some inactive, some used; dates fixed on the emulator."""
    rng = random.Random(seed)
    specs = []
    for i in range(users):
        keys = []
        for _ in range(rng.choice((0, 1, 2, 2))):
            spec: dict[str, Any] = {"status": rng.choice(("Active", "Active", "Inactive")),
                                    "create_date": f"20{rng.randint(15, 25)}-0{rng.randint(1, 9)}"
                                                   f"-1{rng.randint(0, 9)}T08:00:00Z"}
            if rng.random() < 0.5:
                spec["last_used"] = {"date": "2026-01-02T03:04:05Z", "service": "s3",
                                     "region": "eu-west-1"}
            keys.append(spec)
        specs.append({"name": f"{prefix}{i:03d}", "keys": keys})
    made = emulator.bulk_create(specs, account_id=account)
    truth: dict[str, dict[str, Any]] = {}
    for spec in specs:
        for key_id, key in zip(made[spec["name"]], spec["keys"], strict=True):
            last = key.get("last_used")
            truth[key_id] = {
                "AccountId": account, "UserName": spec["name"], "AccessKeyId": key_id,
                "Status": key["status"], "CreateDate": key["create_date"],
                "LastUsedDate": last["date"] if last else None,
                "LastUsedService": last["service"] if last else None,
                "LastUsedRegion": last["region"] if last else None}
    return Truth(truth, {account: sorted(s["name"] for s in specs)})


def merged(*truths: Truth) -> Truth:
    return Truth({k: v for t in truths for k, v in t.keys.items()},
                 {a: u for t in truths for a, u in t.users.items()})


@pytest.fixture
def alice(aws_env: Any) -> list[dict[str, str]]:
    """A user with two keys: the list-access-keys ground truth, oldest first."""
    made = aws_env.bulk_create([{"name": ALICE, "keys": [
        {"create_date": "2016-12-01T22:19:58Z"},
        {"create_date": "2016-12-01T22:20:01Z", "status": "Inactive"}]}])
    statuses = ("Active", "Inactive")
    dates = ("2016-12-01T22:19:58Z", "2016-12-01T22:20:01Z")
    aws_env.reset(state=False)
    return [{"AccessKeyId": key_id, "CreateDate": date, "Status": status, "UserName": ALICE}
            for key_id, date, status in zip(made[ALICE], dates, statuses, strict=True)]


@pytest.fixture
def account(aws_env: Any) -> Truth:
    """One account, 60 users."""
    truth = populate(aws_env, ACCOUNT, "u", 60, seed=7)
    aws_env.reset(state=False)
    return truth


@pytest.fixture
def organization(aws_env: Any) -> Truth:
    """The management account and three members, 12 users each."""
    org = boto3.client("organizations", endpoint_url=aws_env.url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    members = [org.create_account(Email=f"m{i}@example.com", AccountName=f"m{i}")
               ["CreateAccountStatus"]["AccountId"] for i in range(3)]
    truth = merged(*(populate(aws_env, acct, f"a{n}-", 12, seed=n)
                     for n, acct in enumerate((ACCOUNT, *members))))
    aws_env.reset(state=False)
    return truth


# --- runs and the ledger ----------------------------------------------------------------------


@dataclass
class Run:
    """One finished command: its result, how long it took, and the harness's counts."""

    result: Result
    seconds: float
    stats: dict[str, Any]
    outcome: dict[str, Any] = field(default_factory=dict)


def arm(emulator: Any, rules: list[dict[str, Any]], seed: int,
        page_cap: dict[str, int] | None = PAGE_CAP) -> None:
    """Clear the counters, then set pages, faults and the seed of their dice."""
    emulator.reset(state=False)
    emulator.configure(page_cap=page_cap, faults=rules, seed=seed)


def run(emulator: Any, *args: str, env: dict[str, str] | None = None,
        cwd: str | None = None) -> Run:
    """The real entry point, bounded by RUN_TIMEOUT (a hang raises TimeoutExpired)."""
    start = time.monotonic()
    result = iamkeys(*args, env=env, cwd=cwd, timeout=RUN_TIMEOUT)
    return Run(result, time.monotonic() - start, emulator.stats())


@dataclass(frozen=True)
class Ledger:
    """A JSON-lines file of runs, shared by the xdist workers of one session."""

    path: Path

    def record(self, command: str, fault: str, seed: int | None, done: Run) -> None:
        """Append one run (one line, written at once)."""
        line = json.dumps({
            "command": command, "fault": fault, "seed": seed, "exit": done.result.code,
            "seconds": round(done.seconds, 2), "requests": done.stats["total"],
            "faults": done.stats["faults_by_kind"], **done.outcome}) + "\n"
        with self.path.open("a", encoding="utf-8") as ledger:
            ledger.write(line)


@pytest.fixture(scope="session")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    configured = os.environ.get("IAMKEYS_FAULTS_LEDGER")
    if configured:
        return Ledger(Path(configured))
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own base directory inside the session's.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return Ledger(shared / "faults-ledger.jsonl")


# --- the checks -------------------------------------------------------------------------------


def check_listing(done: Run, truth: list[dict[str, str]]) -> dict[str, Any]:
    """list-access-keys --all-pages: every key once, or exit 1 naming the user and page."""
    result = done.result
    if result.code == 0:
        assert result.json() == {"AccessKeyMetadata": truth, "IsTruncated": False}
        assert result.stderr == ""
        return {"keys": len(truth), "named_missing": 0, "lost": 0, "duplicates": 0}
    assert_one_line_error(result, 1, f"[ListAccessKeys, user {ALICE}, page ")
    assert result.stdout == ""
    return {"keys": 0, "named_missing": len(truth), "lost": 0, "duplicates": 0,
            "error": result.stderr.split(":")[1].strip()}


def check_inventory(done: Run, truth: Truth) -> dict[str, Any]:
    """The inventory equals the truth, but for keys named as missing; exit 0, 3 or 1 to match."""
    result = done.result
    if result.code == 1:
        # Nothing could be listed: the one line says which call failed, and where.
        assert_one_line_error(result, 1, "[")
        line = result.stderr.strip()
        assert any(where in line for where in ("account ", "GetCallerIdentity",
                                               "ListAccounts")), line
        assert result.stdout == ""
        return {"keys": 0, "named_missing": len(truth.keys), "lost": 0, "duplicates": 0,
                "error": line.split(":")[1].strip()}
    assert result.code in (0, 3), (result.code, result.stderr)
    document = result.json()
    errors, summary = document["Errors"], document["Summary"]
    assert (result.code == 3) == bool(errors) == (not summary["Complete"]), errors
    if errors:
        assert result.stderr.splitlines()[-1] == (
            f"Error: {len(errors)} item(s) could not be listed; see Errors in the output")
    else:
        assert result.stderr == ""
    ids = [k["AccessKeyId"] for k in document["Keys"]]
    assert len(ids) == len(set(ids)), "a key was listed twice"
    named = _named(document, truth)
    unexplained_lookups = {e["AccessKeyId"] for e in errors
                           if e["Operation"] == "GetAccessKeyLastUsed"}
    for key in document["Keys"]:
        expected = truth.keys[key["AccessKeyId"]]
        fields = [f for f in expected if not (f.startswith("LastUsed")
                                              and key["AccessKeyId"] in unexplained_lookups)]
        assert {f: key[f] for f in fields} == {f: expected[f] for f in fields}, key
        assert truth.owner(key["AccessKeyId"]) not in named.users, key
    missing = set(truth.keys) - set(ids)
    lost = sorted(k for k in missing if not named.covers(k, truth))
    assert lost == [], f"keys missing and not named: {lost}"
    return {"keys": len(ids), "named_missing": len(missing), "lost": 0, "duplicates": 0,
            "errors": len(errors), "deleted": len(summary["DeletedDuringRun"])}


@dataclass(frozen=True)
class Named:
    """What an inventory says it could not list."""

    users: set[tuple[str, str]]  # (account, user): ListAccessKeys failed, or the user is gone
    keys: set[str]  # keys gone since ListAccessKeys
    accounts: dict[str, int]  # account -> users listed before ListUsers/AssumeRole failed

    def covers(self, key_id: str, truth: Truth) -> bool:
        account, user = truth.owner(key_id)
        if (account, user) in self.users or key_id in self.keys:
            return True
        # ListUsers returns users by name: those after the failed page are the unlisted ones.
        listed = self.accounts.get(account)
        return listed is not None and truth.users[account].index(user) >= listed


def _named(document: dict[str, Any], truth: Truth) -> Named:
    """Errors and deletions, each checked to name something that exists."""
    users: set[tuple[str, str]] = set()
    keys: set[str] = set()
    accounts: dict[str, int] = {}
    listed = {a["AccountId"]: a["Users"] for a in document["Summary"]["ByAccount"]}
    for error in document["Errors"]:
        account, user = error["AccountId"], error["UserName"]
        assert account in truth.users, error
        assert user is None or user in truth.users[account], error
        if error["Operation"] == "ListAccessKeys":
            users.add((account, user))
        elif error["Operation"] in ("ListUsers", "AssumeRole"):
            accounts[account] = listed[account]
    for gone in document["Summary"]["DeletedDuringRun"]:
        assert gone["UserName"] in truth.users[gone["AccountId"]], gone
        if gone["AccessKeyId"] is None:
            users.add((gone["AccountId"], gone["UserName"]))
        else:
            assert truth.owner(gone["AccessKeyId"]) == (gone["AccountId"], gone["UserName"])
            keys.add(gone["AccessKeyId"])
    return Named(users, keys, accounts)


def check_workflow(done: Run, truth: list[dict[str, str]], server: SmtpServer) -> dict[str, Any]:
    """The email holds every key, or nothing was sent and the one line names user and page."""
    result = done.result
    steps = result.stderr.splitlines()
    if result.code == 0:
        assert steps == ["iamkeys: step list: aws.iam.list_access_keys ... ok",
                         "iamkeys: step email: email.send ... ok"]
        [message] = [r.message for r in server.received]
        assert json.loads(attachment(message, "access-keys.json")) == {
            "AccessKeyMetadata": truth, "IsTruncated": False}
        assert len(attachment(message, "access-keys.csv").splitlines()) == len(truth) + 1
        return {"keys": len(truth), "named_missing": 0, "lost": 0, "duplicates": 0}
    assert result.code == 1, result.stderr
    assert server.received == [] and result.stdout == ""
    assert len(steps) == 1 and steps[0].startswith("Error: "), steps
    assert f"[ListAccessKeys, user {ALICE}, page 1]" in steps[0]
    return {"keys": 0, "named_missing": len(truth), "lost": 0, "duplicates": 0,
            "error": steps[0].split(":")[1].strip()}


def attachment(message: EmailMessage, name: str) -> bytes:
    [data] = [part.get_payload(decode=True) for part in message.iter_attachments()
              if part.get_filename() == name]
    assert isinstance(data, bytes)
    return data


def workflow_args(server: SmtpServer) -> list[str]:
    return ["run", "list-access-keys-email", "--input", f"user_name={ALICE}",
            "--input", "to=secops@example.com", "--smtp-host", server.host,
            "--smtp-port", str(server.port), "--smtp-security", "none", *FAST]


# --- each fault in turn -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_list_access_keys_all_pages(kind: str, alice: list[dict[str, str]], aws_env: Any,
                                    ledger: Ledger) -> None:
    arm(aws_env, fault_rules(kind, in_turn(kind), first=True), seed=kind_seed(kind))
    done = run(aws_env, "list-access-keys", f"--user-name={ALICE}", "--max-items", "1",
               "--all-pages", *FAST)
    done.outcome = check_listing(done, alice)
    ledger.record("list-access-keys", kind, kind_seed(kind), done)
    assert done.stats["by_action"]["ListAccessKeys"] >= 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_inventory_one_account(kind: str, account: Truth, aws_env: Any,
                               ledger: Ledger) -> None:
    arm(aws_env, fault_rules(kind, in_turn(kind), first=True), seed=kind_seed(kind))
    done = run(aws_env, "inventory", *FAST)
    done.outcome = check_inventory(done, account)
    ledger.record("inventory", kind, kind_seed(kind), done)
    if done.result.code == 0:
        assert done.stats["by_action"]["ListUsers"] >= 9  # 60 users, pages of 7


@pytest.mark.parametrize("kind", list(KINDS))
def test_inventory_organization(kind: str, organization: Truth, aws_env: Any,
                                ledger: Ledger) -> None:
    arm(aws_env, fault_rules(kind, in_turn(kind), first=True), seed=kind_seed(kind))
    done = run(aws_env, "inventory", "--organization", *FAST)
    done.outcome = check_inventory(done, organization)
    ledger.record("inventory --organization", kind, kind_seed(kind), done)


@pytest.mark.parametrize("kind", list(KINDS))
def test_email_workflow(kind: str, alice: list[dict[str, str]], aws_env: Any,
                        smtp_plain: SmtpServer, ledger: Ledger) -> None:
    # No page cap: the workflow lists one page (it has no all_pages input).
    arm(aws_env, fault_rules(kind, in_turn(kind), first=True), seed=kind_seed(kind), page_cap=None)
    done = run(aws_env, *workflow_args(smtp_plain), env=MAIL_CLEAN)
    done.outcome = check_workflow(done, alice, smtp_plain)
    ledger.record("run list-access-keys-email", kind, kind_seed(kind), done)


@pytest.mark.parametrize("kind", ["throttle", "error503", "drop", "malformed", "truncated"])
def test_one_transient_fault_per_call_is_absorbed(kind: str, account: Truth, aws_env: Any,
                                                  ledger: Ledger) -> None:
    # The first call of each operation gets the fault (no dice): retries make the result whole.
    rules = [{**KINDS[kind], "action": action, "times": 1} for action in (
        "GetCallerIdentity", "GetAccountSummary", "ListUsers", "ListAccessKeys",
        "GetAccessKeyLastUsed")]
    arm(aws_env, rules, seed=1)
    done = run(aws_env, "inventory", *FAST)
    done.outcome = check_inventory(done, account)
    ledger.record("inventory", f"{kind} once per action", None, done)
    assert done.result.code == 0, done.result.stderr
    assert done.stats["faults_injected"] == 5


# --- every fault at once, 20 seeds --------------------------------------------------------------


@dataclass
class SeedReport:
    """Per-seed outcomes of one command, shown in full when any seed fails."""

    command: str
    lines: list[str] = field(default_factory=list)

    def add(self, seed: int, done: Run) -> None:
        faults = ",".join(f"{k}={v}" for k, v in sorted(done.stats["faults_by_kind"].items()))
        self.lines.append(f"seed {seed:2d}: exit {done.result.code} in {done.seconds:5.1f} s, "
                          f"{done.outcome.get('keys', '?')} keys, "
                          f"{done.outcome.get('named_missing', '?')} named missing, "
                          f"faults {faults or 'none'}")

    def __str__(self) -> str:
        return f"{self.command}, seeds {SEEDS.start}-{SEEDS.stop - 1}:\n" + "\n".join(self.lines)


MIXED_COMMANDS = ["list-access-keys", "inventory", "inventory --organization",
                  "run list-access-keys-email"]


@pytest.mark.parametrize("command", MIXED_COMMANDS)
def test_mixed_faults_over_20_seeds(command: str, request: pytest.FixtureRequest,
                                    aws_env: Any, ledger: Ledger) -> None:
    report = SeedReport(command)
    for seed in SEEDS:
        try:
            done = mixed_run(command, seed, request, aws_env)
        except (AssertionError, subprocess.TimeoutExpired) as e:
            raise AssertionError(f"seed {seed} failed: {e}\n{report}") from e
        report.add(seed, done)
        ledger.record(command, "mixed", seed, done)
    # Each run was checked above; most of them under faults.
    assert sum("faults none" in line for line in report.lines) <= len(SEEDS) // 2, str(report)


def mixed_run(command: str, seed: int, request: pytest.FixtureRequest, emulator: Any) -> Run:
    """One seed of the mixed case for `command` (ground truth made once per test)."""
    if command == "list-access-keys":
        truth = request.getfixturevalue("alice")
        arm(emulator, mixed_rules(command), seed)
        done = run(emulator, "list-access-keys", f"--user-name={ALICE}", "--max-items", "1",
                   "--all-pages", *FAST)
        done.outcome = check_listing(done, truth)
    elif command.startswith("inventory"):
        organization = "--organization" in command
        truth = request.getfixturevalue("organization" if organization else "account")
        arm(emulator, mixed_rules(command), seed)
        done = run(emulator, *command.split(), *FAST)
        done.outcome = check_inventory(done, truth)
    else:
        truth = request.getfixturevalue("alice")
        server = request.getfixturevalue("smtp_plain")
        server.received.clear()
        arm(emulator, mixed_rules(command), seed, page_cap=None)  # one page: no all_pages input
        done = run(emulator, *workflow_args(server), env=MAIL_CLEAN)
        done.outcome = check_workflow(done, truth, server)
    return done


# --- users and keys deleted for real, mid-run ------------------------------------------------


def wait_for(emulator: Any, action: str, params: dict[str, str], timeout: float = 30) -> None:
    """Until a request for `action` with `params` has arrived at the emulator."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in emulator.stats(log=True)["log"]:
            if entry["action"] == action and all(
                    entry["params"].get(k) == v for k, v in params.items()):
                return
        time.sleep(0.05)
    raise AssertionError(f"no {action} {params} within {timeout} s")


def test_user_deleted_between_its_listing_and_its_keys(account: Truth, aws_env: Any,
                                                       ledger: Ledger) -> None:
    victim = account.users[ACCOUNT][30]
    # The victim's ListAccessKeys waits 1.5 s at the server; the user is deleted meanwhile.
    arm(aws_env, [{"kind": "delay", "delay_s": 1.5, "action": "ListAccessKeys",
                   "match": {"UserName": victim}}], seed=1)
    deleter = threading.Thread(target=lambda: (
        wait_for(aws_env, "ListAccessKeys", {"UserName": victim}),
        aws_env.delete_user(victim)))
    deleter.start()
    done = run(aws_env, "inventory", "--read-timeout", "5")
    deleter.join()
    assert done.result.code == 0, done.result.stderr
    document = done.result.json()
    assert document["Summary"]["DeletedDuringRun"] == [
        {"AccountId": ACCOUNT, "UserName": victim, "AccessKeyId": None}]
    done.outcome = check_inventory(done, account)
    ledger.record("inventory", "user deleted mid-run", None, done)


def test_user_deleted_between_two_pages_of_keys(alice: list[dict[str, str]], aws_env: Any,
                                                ledger: Ledger) -> None:
    first = iamkeys("list-access-keys", f"--user-name={ALICE}", "--max-items", "1")
    marker = first.json()["Marker"]
    arm(aws_env, [{"kind": "delay", "delay_s": 1.5, "action": "ListAccessKeys",
                   "match": {"Marker": marker}}], seed=1)
    deleter = threading.Thread(target=lambda: (
        wait_for(aws_env, "ListAccessKeys", {"Marker": marker}), aws_env.delete_user(ALICE)))
    deleter.start()
    done = run(aws_env, "list-access-keys", f"--user-name={ALICE}", "--max-items", "1",
               "--all-pages", "--read-timeout", "5")
    deleter.join()
    # Half a list is never printed: the user is named, with the page that failed.
    assert_one_line_error(done.result, 1, "NoSuchEntity", f"user {ALICE}, page 2]")
    done.outcome = check_listing(done, alice)
    ledger.record("list-access-keys", "user deleted mid-run", None, done)


def test_marker_rejected_mid_walk_names_the_account(account: Truth, aws_env: Any,
                                                    ledger: Ledger) -> None:
    # Only the third ListUsers page's marker is refused: two pages of users are still listed.
    second = aws_env_marker(aws_env, pages=2)
    arm(aws_env, [{"kind": "reject_marker", "action": "ListUsers",
                   "match": {"Marker": second}}], seed=1)
    done = run(aws_env, "inventory", *FAST)
    assert done.result.code == 3
    document = done.result.json()
    assert [(e["UserName"], e["Operation"], e["Code"], e["Message"])
            for e in document["Errors"]] == [(None, "ListUsers", "ValidationError",
                                              "Invalid Marker")]
    assert document["Summary"]["ByAccount"][0]["Users"] == 14
    done.outcome = check_inventory(done, account)
    ledger.record("inventory", "marker rejected", None, done)


def aws_env_marker(emulator: Any, pages: int) -> str:
    """The Marker ListUsers hands out after `pages` pages of 7 (read with boto3)."""
    emulator.configure(page_cap=PAGE_CAP)
    iam = boto3.client("iam", endpoint_url=emulator.url, region_name="us-east-1")
    marker = None
    for _ in range(pages):
        page = iam.list_users(**({"Marker": marker} if marker else {}))
        marker = page["Marker"]
    assert marker is not None
    return str(marker)


# --- a partial inventory mailed by the workflow still exits 3 --------------------------------


def test_inventory_workflow_mails_a_partial_result_and_exits_3(account: Truth, aws_env: Any,
                                                              tmp_path: Path) -> None:
    victim = account.users[ACCOUNT][5]
    arm(aws_env, [{"kind": "access_denied", "action": "ListAccessKeys",
                   "match": {"UserName": victim}}], seed=1)
    outbox = tmp_path / "outbox"
    done = run(aws_env, "run", "inventory-findings-email", "--input", "to=secops@example.com",
               "--outbox", str(outbox), *FAST, env=MAIL_CLEAN)
    assert done.result.code == 3
    [sent] = outbox.glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert done.result.stderr.splitlines() == [
        "iamkeys: step inventory: aws.iam.inventory ... incomplete: 1 item(s) could not be "
        "listed; see Errors in the output",
        "iamkeys: step email: email.send ... ok",
        f"iamkeys: step email: wrote {sent} (to secops@example.com: {message['Subject']!r}); "
        "not sent: no SMTP host or SES configured",
        "Error: step inventory: 1 item(s) could not be listed; see Errors in the output"]
    assert str(message["Subject"]).endswith("(incomplete)")
    document = json.loads(attachment(message, "access-keys.json"))
    assert [(e["UserName"], e["Operation"], e["Code"]) for e in document["Errors"]] == [
        (victim, "ListAccessKeys", "AccessDenied")]
    mailed = {k["AccessKeyId"] for k in document["Keys"]}
    assert mailed == {k for k, v in account.keys.items() if v["UserName"] != victim}


# --- mail: a server that fails mid-conversation, an outbox that cannot be written -------------


@pytest.fixture
def cut_off() -> Iterator[CutOffSmtp]:
    server = CutOffSmtp(cut_after=2048)
    try:
        yield server
    finally:
        server.close()


def test_smtp_connection_dropped_mid_data(alice: list[dict[str, str]], aws_env: Any,
                                          cut_off: CutOffSmtp) -> None:
    args = ["run", "list-access-keys-email", "--input", f"user_name={ALICE}", "--input",
            "to=secops@example.com", "--smtp-host", "127.0.0.1", "--smtp-port",
            str(cut_off.port), "--smtp-security", "none"]
    done = run(aws_env, *args, env=MAIL_CLEAN)
    assert_mail_failed(done.result, "SMTP 127.0.0.1:", "DATA: ")
    assert 0 < cut_off.data_bytes <= 2048 + 65536  # part of the message, then the cut


# A 4xx is tried again (1 s, 4 s), then exit 75 (EX_TEMPFAIL: try later); a 5xx is exit 1.
SMTP_FAILURES = [
    ("MAIL", "421 4.3.2 service shutting down", 75),
    ("RCPT", "450 4.2.1 mailbox busy", 75),
    ("DATA", "451 4.3.0 local error in processing", 75),
    ("DATA", "552 5.3.4 message too big", 1),
    ("DATA", "554 5.6.0 message rejected", 1),
]


@pytest.mark.parametrize(("command", "reply", "code"), SMTP_FAILURES)
def test_smtp_4xx_and_5xx_are_failures(command: str, reply: str, code: int,
                                       alice: list[dict[str, str]], aws_env: Any,
                                       smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.replies[command] = reply
    done = run(aws_env, *workflow_args(smtp_plain), env=MAIL_CLEAN)
    assert_mail_failed(done.result, reply, code=code)
    assert smtp_plain.received == []
    assert len(smtp_plain.handler.mail_seen) == (3 if code == 75 else 1)


def test_smtp_drop_before_the_data_reply(alice: list[dict[str, str]], aws_env: Any,
                                         smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.drop_before_data_reply = True
    done = run(aws_env, *workflow_args(smtp_plain), env=MAIL_CLEAN)
    assert_mail_failed(done.result, "DATA: connection closed by the server; the server did not "
                                    "confirm the message")


def assert_mail_failed(result: Result, *needles: str, code: int = 1) -> None:
    """Exit 1 (or `code`); the list step ran, the email step did not claim success; one error
    line."""
    assert result.code == code, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "iamkeys: step list: aws.iam.list_access_keys ... ok"
    assert len(lines) == 2 and lines[1].startswith("Error: "), lines
    assert "email.send ... ok" not in result.stderr and "sent '" not in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for needle in needles:
        assert needle in lines[1], (needle, lines[1])


def test_outbox_on_a_full_file_system(alice: list[dict[str, str]], aws_env: Any,
                                      small_fs: Path) -> None:
    (small_fs / "outbox").mkdir()
    fill(small_fs)
    done = run(aws_env, "run", "list-access-keys-email", "--input", f"user_name={ALICE}",
               "--input", "to=secops@example.com", env=MAIL_CLEAN, cwd=str(small_fs))
    assert_mail_failed(done.result, "Error: outbox outbox: cannot write: No space left on "
                                    "device; message not written")
    assert list((small_fs / "outbox").iterdir()) == []  # no partial .eml, no temporary file


def test_outbox_on_a_read_only_file_system(alice: list[dict[str, str]], aws_env: Any,
                                           small_fs: Path) -> None:
    read_only(small_fs)
    done = run(aws_env, "run", "list-access-keys-email", "--input", f"user_name={ALICE}",
               "--input", "to=secops@example.com", env=MAIL_CLEAN, cwd=str(small_fs))
    assert_mail_failed(done.result, "Error: outbox outbox: cannot write: Read-only file "
                                    "system; message not written")


def test_send_email_to_a_read_only_outbox_directory(small_fs: Path) -> None:
    (small_fs / "outbox").mkdir()
    read_only(small_fs)
    result = iamkeys("send-email", "--to", "a@example.com", "--outbox",
                     str(small_fs / "outbox"), env=MAIL_CLEAN, timeout=RUN_TIMEOUT,
                     stdin=json.dumps({"AccessKeyMetadata": [], "IsTruncated": False}))
    assert_one_line_error(result, 1, f"Error: outbox {small_fs}/outbox: cannot write: "
                                     "Read-only file system; message not written")


def test_cut_off_server_is_really_cut_off(cut_off: CutOffSmtp) -> None:
    """The fixture itself: a client that sends a large DATA sees the connection go away."""
    import smtplib

    client = smtplib.SMTP("127.0.0.1", cut_off.port, timeout=10)
    client.ehlo()
    client.mail("a@example.com")
    client.rcpt("b@example.com")
    with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
        client.data(b"x" * 1_000_000)
    client.close()
    assert 0 < cut_off.data_bytes < 1_000_000
