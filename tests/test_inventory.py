"""`iamkeys inventory` in one account, against the IAM emulator process behind the harness layer.

The inventory must equal the ground truth the test created, key for key, under pagination,
faults and deletions; every exit code is exercised; every option is validated before a request.
"""

from __future__ import annotations

import json
import os
import pty
import random
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli_runner import Result, assert_one_line_error, iamkeys
from iamkeys import cli, serialize
from iamkeys.aws import Connection
from iamkeys.errors import AwsError
from iamkeys.findings import Thresholds
from iamkeys.inventory import InventoryRequest, Progress, inventory, run

ACCOUNT = "123456789012"
PREFIXES = ("/", "/ops/", "/ops/batch/", "/apps/")
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Truth:
    """What the test created: key id -> the record the inventory must report."""

    keys: dict[str, dict[str, Any]]
    users: dict[str, str]  # user name -> path

    def under(self, prefix: str) -> Truth:
        users = {u: p for u, p in self.users.items() if p.startswith(prefix)}
        return Truth({k: v for k, v in self.keys.items() if v["UserName"] in users}, users)


def populate(emulator: Any, iam: Any, users: int = 320, over_api: int = 8,
             seed: int = 4) -> Truth:
    """Users under several paths with 0-2 keys, some inactive, some used; most in bulk."""
    rng = random.Random(seed)
    specs = []
    for i in range(users - over_api):
        keys = []
        for _ in range(rng.choice((0, 1, 1, 2, 2))):
            spec: dict[str, Any] = {
                "status": rng.choice(("Active", "Active", "Inactive")),
                "create_date": iso(NOW - rng.randint(0, 800) * DAY - rng.randint(0, 86399)
                                   * timedelta(seconds=1))}
            if rng.random() < 0.5:
                spec["last_used"] = {"date": iso(NOW - rng.randint(0, 100) * DAY),
                                     "service": rng.choice(("s3", "ec2", "iam")),
                                     "region": "eu-west-1"}
            keys.append(spec)
        specs.append({"name": f"user-{i:04d}", "path": PREFIXES[i % len(PREFIXES)],
                      "create_date": iso(NOW - 900 * DAY), "keys": keys})
    made = emulator.bulk_create(specs)
    truth: dict[str, dict[str, Any]] = {}
    for spec in specs:
        for key_id, key in zip(made[spec["name"]], spec["keys"], strict=True):
            truth[key_id] = expected(spec["name"], key_id, key["status"], key["create_date"],
                                     key.get("last_used"))
    paths = {spec["name"]: spec["path"] for spec in specs}
    for i in range(over_api):
        name = f"api.user+{i}@example.com"
        iam.create_user(UserName=name, Path="/apps/")
        paths[name] = "/apps/"
        for _ in range(i % 3):
            key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            created = iso(NOW - 10 * i * DAY)
            emulator.patch_key(key_id, create_date=created)
            truth[key_id] = expected(name, key_id, "Active", created, None)
    return Truth(truth, paths)


def expected(user: str, key_id: str, status: str, created: str,
             last: dict[str, str] | None) -> dict[str, Any]:
    return {"AccountId": ACCOUNT, "UserName": user, "AccessKeyId": key_id, "Status": status,
            "CreateDate": created, "LastUsedDate": last["date"] if last else None,
            "LastUsedService": last["service"] if last else None,
            "LastUsedRegion": last["region"] if last else None}


def reported(keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The inventory's keys in the ground truth's shape; fails on a key listed twice."""
    fields = ("AccountId", "UserName", "AccessKeyId", "Status", "CreateDate", "LastUsedDate",
              "LastUsedService", "LastUsedRegion")
    ids = [k["AccessKeyId"] for k in keys]
    assert len(ids) == len(set(ids)), "a key was listed twice"
    return {k["AccessKeyId"]: {f: k[f] for f in fields} for k in keys}


def calls(emulator: Any, action: str) -> int:
    return int(emulator.stats()["by_action"].get(action, 0))


@pytest.fixture
def truth(aws_env: Any, iam: Any) -> Truth:
    """320 users: the completeness tests."""
    made = populate(aws_env, iam)
    aws_env.reset(state=False)  # counters only
    return made


@pytest.fixture
def few(aws_env: Any, iam: Any) -> Truth:
    """40 users: enough around the one user or key a test breaks."""
    made = populate(aws_env, iam, users=40, over_api=4)
    aws_env.reset(state=False)
    return made


# --- completeness ----------------------------------------------------------------------------


def test_small_pages_still_list_every_key_once(truth: Truth, aws_env: Any) -> None:
    request = InventoryRequest(users_per_page=37, keys_per_page=1, concurrency=16)
    inv = run(request, connection=Connection(), now=NOW)
    document = serialize.inventory(inv)
    assert reported(document["Keys"]) == truth.keys
    assert document["Errors"] == [] and document["Summary"]["Complete"] is True
    assert document["Summary"]["Users"] == len(truth.users) == 320
    keys_per_user = [sum(1 for k in truth.keys.values() if k["UserName"] == u)
                     for u in truth.users]
    assert calls(aws_env, "ListUsers") == -(-320 // 37)
    # MaxItems=1: a user with two keys needs a second page.
    assert calls(aws_env, "ListAccessKeys") == sum(1 + (n == 2) for n in keys_per_user)
    assert calls(aws_env, "GetAccessKeyLastUsed") == len(truth.keys)
    order = [(k["AccountId"], k["UserName"], k["CreateDate"], k["AccessKeyId"])
             for k in document["Keys"]]
    assert order == sorted(order)


def test_cli_json_equals_the_ground_truth(truth: Truth) -> None:
    result = iamkeys("inventory")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    document = result.json()
    assert list(document) == ["Keys", "Errors", "AccountFindings", "Summary"]
    assert reported(document["Keys"]) == truth.keys
    first = document["Keys"][0]
    assert list(first) == list(serialize.INVENTORY_KEY_FIELDS)
    created = datetime.strptime(first["CreateDate"], "%Y-%m-%dT%H:%M:%S%z")
    generated = datetime.strptime(document["Summary"]["GeneratedAt"], "%Y-%m-%dT%H:%M:%S%z")
    assert first["AgeDays"] == (generated - created).days
    summary = document["Summary"]
    active = sum(1 for k in truth.keys.values() if k["Status"] == "Active")
    assert {k: summary[k] for k in ("Accounts", "Users", "Keys", "Active", "Inactive")} == {
        "Accounts": 1, "Users": 320, "Keys": len(truth.keys), "Active": active,
        "Inactive": len(truth.keys) - active}
    assert summary["ByAccount"] == [{"AccountId": ACCOUNT, "Users": 320,
                                     "Keys": len(truth.keys), "RootAccessKeysPresent": False,
                                     "Listed": True}]
    flagged = sum(len(k["Findings"]) for k in document["Keys"])
    assert sum(summary["FindingsByRule"].values()) == flagged == summary["Findings"]


@pytest.mark.parametrize("prefix", ["/ops/", "/apps/"])
def test_path_prefix_filters(truth: Truth, prefix: str) -> None:
    result = iamkeys("inventory", "--path-prefix", prefix, "--no-last-used")
    assert result.code == 0, result.stderr
    expected_keys = {k: {**v, "LastUsedDate": None, "LastUsedService": None,
                         "LastUsedRegion": None} for k, v in truth.under(prefix).keys.items()}
    assert reported(result.json()["Keys"]) == expected_keys
    assert result.json()["Summary"]["Users"] == len(truth.under(prefix).users)


def test_no_last_used_sends_no_lookups(aws_env: Any, iam: Any) -> None:
    aws_env.bulk_create([{"name": "old", "create_date": iso(NOW - 400 * DAY),
                          "keys": [{"create_date": iso(NOW - 400 * DAY)}]}])
    aws_env.reset(state=False)
    result = iamkeys("inventory", "--no-last-used")
    assert result.code == 0, result.stderr
    document = result.json()
    assert calls(aws_env, "GetAccessKeyLastUsed") == 0
    assert document["Summary"]["LastUsedChecked"] is False
    assert document["Keys"][0]["Findings"] == ["IAM.3"]  # no IAM.22 / CIS.1.11 without it


def test_progress_reaches_every_total(few: Truth) -> None:
    seen: list[Progress] = []
    inv = inventory(concurrency=8, progress=seen.append)
    last = seen[-1]
    assert (last.accounts_done, last.accounts_total) == (1, 1)
    assert (last.users_done, last.users_total) == (40, 40)
    assert (last.keys_done, last.keys_total) == (len(few.keys), len(inv.keys))
    for before, after in zip(seen, seen[1:], strict=False):
        assert after.users_done >= before.users_done and after.keys_done >= before.keys_done


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.faults
def test_throttling_and_500s_still_complete(truth: Truth, aws_env: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The inventory's own retry defaults (the fixture sets AWS_MAX_ATTEMPTS=3 for other tests).
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    monkeypatch.delenv("AWS_RETRY_MODE")
    aws_env.configure(seed=20, faults=[{"kind": "throttle", "probability": 0.2},
                                       {"kind": "error500", "probability": 0.03}])
    result = iamkeys("inventory")
    assert result.code == 0, result.stderr
    assert reported(result.json()["Keys"]) == truth.keys
    stats = aws_env.stats()
    assert stats["faults_by_kind"]["throttle"] > 100 and stats["faults_by_kind"]["error500"] > 5


@pytest.mark.faults
def test_a_user_whose_keys_cannot_be_listed_is_an_error(few: Truth, aws_env: Any) -> None:
    victim = "user-0005"
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": victim},
                               "kind": "access_denied", "message": "no access to {user}"}])
    result = iamkeys("inventory")
    assert_one_line_error(result, 3, "1 item(s) could not be listed")
    document = result.json()
    assert document["Errors"] == [{
        "AccountId": ACCOUNT, "UserName": victim, "AccessKeyId": None,
        "Operation": "ListAccessKeys", "Code": "AccessDenied",
        "Message": f"no access to {victim}"}]
    everyone_else = {k: v for k, v in few.keys.items() if v["UserName"] != victim}
    assert reported(document["Keys"]) == everyone_else
    assert document["Summary"]["Complete"] is False


@pytest.mark.faults
def test_a_failed_last_used_lookup_is_an_error_and_the_key_stays(few: Truth,
                                                                   aws_env: Any) -> None:
    key_id, record = next(iter(few.keys.items()))
    aws_env.configure(faults=[{"action": "GetAccessKeyLastUsed",
                               "match": {"AccessKeyId": key_id}, "kind": "access_denied"}])
    result = iamkeys("inventory")
    assert result.code == 3
    document = result.json()
    [error] = document["Errors"]
    assert (error["UserName"], error["AccessKeyId"], error["Operation"]) == (
        record["UserName"], key_id, "GetAccessKeyLastUsed")
    assert key_id in reported(document["Keys"])


@pytest.mark.faults
def test_user_gone_before_list_access_keys_is_deleted_not_error(few: Truth,
                                                                 aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": "user-0007"},
                               "kind": "no_such_entity"}])
    result = iamkeys("inventory")
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["Errors"] == []
    assert document["Summary"]["DeletedDuringRun"] == [
        {"AccountId": ACCOUNT, "UserName": "user-0007", "AccessKeyId": None}]
    assert document["Summary"]["Complete"] is True


def test_user_deleted_between_list_users_and_list_access_keys(few: Truth,
                                                              aws_env: Any) -> None:
    victim = next(k["UserName"] for k in few.keys.values())
    deleted: list[str] = []

    def delete_once(progress: Progress) -> None:
        # Called by the ListUsers walker before it hands the page's users to the pool.
        if progress.users_total and not deleted:
            deleted.append(victim)
            aws_env.delete_user(victim)

    inv = inventory(progress=delete_once)
    assert [(d.user_name, d.access_key_id) for d in inv.deleted] == [(victim, None)]
    assert inv.errors == ()
    listed = {k.access_key_id for k in inv.keys}
    assert listed == {k for k, v in few.keys.items() if v["UserName"] != victim}


@pytest.mark.faults
def test_key_gone_before_its_lookup_is_deleted_not_error(few: Truth, aws_env: Any) -> None:
    key_id, record = next(iter(few.keys.items()))
    aws_env.configure(faults=[{"action": "GetAccessKeyLastUsed",
                               "match": {"AccessKeyId": key_id}, "kind": "no_such_entity"}])
    result = iamkeys("inventory")
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["Summary"]["DeletedDuringRun"] == [
        {"AccountId": ACCOUNT, "UserName": record["UserName"], "AccessKeyId": key_id}]
    assert key_id not in reported(document["Keys"])


# --- findings on the emulator's own objects, at their thresholds -----------------------------


def test_findings_at_their_thresholds(aws_env: Any, iam: Any) -> None:
    now = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    users = {
        # user: (user created, [(status, created, last used or None)])
        "age89": (now - 400 * DAY, [("Active", now - 89 * DAY, now)]),
        "age90": (now - 400 * DAY, [("Active", now - 90 * DAY - timedelta(hours=23), now)]),
        "age91": (now - 400 * DAY, [("Active", now - 91 * DAY, now)]),
        "unused45": (now - 400 * DAY, [("Active", now - 80 * DAY, now - 45 * DAY)]),
        "unused46": (now - 400 * DAY, [("Active", now - 80 * DAY, now - 46 * DAY)]),
        "never46": (now - 400 * DAY, [("Active", now - 46 * DAY, None)]),
        "twoactive": (now - 400 * DAY, [("Active", now - DAY, now), ("Active", now - DAY, now)]),
        "setup10m": (now - 2 * DAY, [("Active", now - 2 * DAY + timedelta(minutes=10), None)]),
        "setup10m1s": (now - 2 * DAY,
                       [("Active", now - 2 * DAY + timedelta(minutes=10, seconds=1), None)]),
        "inactive30": (now - 400 * DAY, [("Inactive", now - 30 * DAY, None)]),
        "inactive31": (now - 400 * DAY, [("Inactive", now - 31 * DAY, None)]),
    }
    for name, (user_created, keys) in users.items():
        iam.create_user(UserName=name)
        aws_env.patch_user(name, create_date=iso(user_created))
        for status, created, last in keys:
            key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            aws_env.patch_key(key_id, status=status, create_date=iso(created),
                              last_used=None if last is None else {
                                  "date": iso(last), "service": "sts", "region": "us-east-1"})
    inv = inventory(now=now)
    found = {(k.user_name, tuple(f.rule for f in k.findings)) for k in inv.keys}
    assert found == {
        ("age89", ()), ("age90", ()), ("age91", ("IAM.3",)),
        ("unused45", ()), ("unused46", ("IAM.22",)), ("never46", ("IAM.22",)),
        ("twoactive", ("CIS.1.13",)),
        ("setup10m", ("CIS.1.11",)), ("setup10m1s", ()),
        ("inactive30", ()), ("inactive31", ("STALE_INACTIVE",)),
    }
    assert len(inv.keys) == 12
    reasons = {k.user_name: [f.reason for f in k.findings] for k in inv.keys}
    assert reasons["unused46"] == ["active key last used 46 days ago (limit 45)"]
    assert reasons["inactive31"] == ["inactive key kept 31 days after creation (limit 30)"]
    stricter = inventory(now=now, max_key_age=88, max_unused="44", max_inactive=29)
    assert stricter.thresholds == Thresholds(88, 44, 29)
    strict_found = {k.user_name for k in stricter.keys if k.findings}
    assert {"age89", "age90", "unused45", "inactive30"} <= strict_found


def test_root_access_keys_are_iam_4(aws_env: Any) -> None:
    aws_env.bulk_create([{"name": "fresh", "create_date": iso(NOW - DAY),
                          "keys": [{"create_date": iso(NOW - DAY),
                                    "last_used": {"date": iso(NOW), "service": "s3"}}]}])
    assert iamkeys("inventory", "--fail-on-findings").code == 0
    aws_env.patch_account(root_access_keys=True)
    result = iamkeys("inventory", "--fail-on-findings")
    assert_one_line_error(result, 4, "1 finding(s): IAM.4 1")
    document = result.json()
    assert document["AccountFindings"] == [{
        "AccountId": ACCOUNT, "Rule": "IAM.4",
        "Reason": "the root user has access keys (AccountAccessKeysPresent = 1)",
        "Since": document["Summary"]["GeneratedAt"]}]
    assert document["Summary"]["FindingsByRule"]["IAM.4"] == 1
    assert document["Summary"]["ByAccount"][0]["RootAccessKeysPresent"] is True
    assert [k["Findings"] for k in document["Keys"]] == [[]]  # an account finding, not a key's


# --- formats and --out ----------------------------------------------------------------------


@pytest.fixture
def two_users(aws_env: Any) -> dict[str, list[str]]:
    made: dict[str, list[str]] = aws_env.bulk_create([
        {"name": "=cmd", "create_date": iso(NOW - 500 * DAY),
         "keys": [{"create_date": iso(NOW - 200 * DAY)},
                  {"status": "Inactive", "create_date": iso(NOW - 3 * DAY)}]},
        {"name": "bob", "create_date": iso(NOW - 500 * DAY),
         "keys": [{"create_date": iso(NOW - 5 * DAY),
                   "last_used": {"date": iso(NOW - DAY), "service": "s3",
                                 "region": "eu-west-1"}}]},
    ])
    aws_env.reset(state=False)
    return made


def test_csv_has_one_row_per_key_and_neutralises_formulas(two_users: dict[str, list[str]]
                                                          ) -> None:
    result = iamkeys("inventory", "--output", "csv")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(serialize.INVENTORY_COLUMNS)
    assert len(lines) == 4
    cmd_old = two_users["=cmd"][0]
    assert f"{ACCOUNT},'=cmd," in lines[1] and cmd_old in lines[1]
    assert lines[1].endswith(",200,,,,IAM.3 IAM.22")
    bob = two_users["bob"][0]
    assert lines[3] == (f"{ACCOUNT},bob,{iso(NOW - 500 * DAY)},{bob},Active,"
                        f"{iso(NOW - 5 * DAY)},5,{iso(NOW - DAY)},s3,eu-west-1,")


def test_table_lists_each_key(two_users: dict[str, list[str]]) -> None:
    result = iamkeys("inventory", "--output", "table")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = [cell.strip() for cell in lines[1].strip("┃ ").split("┃")]
    assert header == list(serialize.INVENTORY_TABLE_COLUMNS)
    rows = [line for line in lines if line.startswith("│ 123456789012")]
    assert [next(k for k in (*two_users["=cmd"], *two_users["bob"]) if k in row)
            for row in rows] == [*two_users["=cmd"], *two_users["bob"]]
    assert "'=cmd" not in result.stdout and "=cmd" in result.stdout  # no CSV quoting here


def test_out_writes_the_file_and_says_so_on_stderr(two_users: dict[str, list[str]],
                                                   tmp_path: Path) -> None:
    target = tmp_path / "inventory.html"
    result = iamkeys("inventory", "--output", "html", "--out", str(target))
    assert (result.code, result.stdout) == (0, "")
    assert result.stderr == (f"iamkeys: wrote {target}: html inventory of 1 account, 2 users, "
                             "3 keys, 2 findings, 0 errors\n")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('<tr class="key') == 3


def test_progress_on_a_terminal_goes_to_stderr_only(two_users: dict[str, list[str]]) -> None:
    main, child = pty.openpty()
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(main, chunks), daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "iamkeys", "inventory"],
                              stdout=subprocess.PIPE, stderr=child, env=dict(os.environ),
                              timeout=60, check=False)
    finally:
        os.close(child)
    reader.join(10)
    seen = b"".join(chunks).decode("utf-8", "replace")
    assert done.returncode == 0
    assert json.loads(done.stdout)["Summary"]["Keys"] == 3  # stdout is clean JSON
    assert "users" in seen and "keys" in seen


def _drain(fd: int, chunks: list[bytes]) -> None:
    """Read a pty until the other side is closed (EIO on Linux)."""
    try:
        while data := os.read(fd, 65536):
            chunks.append(data)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- exit codes ------------------------------------------------------------------------------


def test_exit_0_and_4_with_fail_on_findings(two_users: dict[str, list[str]]) -> None:
    assert iamkeys("inventory", "--fail-on-findings", "--max-key-age", "365",
                   "--max-unused", "365").code == 0
    result = iamkeys("inventory", "--fail-on-findings")
    assert_one_line_error(result, 4, "2 finding(s): IAM.3 1, IAM.22 1")
    assert result.json()["Summary"]["Findings"] == 2  # the output is still printed


def test_exit_3_wins_over_findings(two_users: dict[str, list[str]], aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": "bob"},
                               "kind": "access_denied"}])
    assert iamkeys("inventory", "--fail-on-findings").code == 3


def test_exit_1_when_nothing_could_be_listed(aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListUsers", "kind": "access_denied"}])
    result = iamkeys("inventory")
    assert_one_line_error(result, 1, "AccessDenied", "account 123456789012, ListUsers")
    assert result.stdout == ""
    with pytest.raises(AwsError) as e:
        inventory()
    assert e.value.code == "AccessDenied"


def test_exit_1_without_credentials(aws_env: Any) -> None:
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    result = iamkeys("inventory", env=env)
    assert_one_line_error(result, 1, "NoCredentials")
    assert aws_env.stats()["total"] == 0


def test_errors_are_named_on_stderr_for_csv(two_users: dict[str, list[str]],
                                            aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": "bob"},
                               "kind": "access_denied"}])
    result = iamkeys("inventory", "--output", "csv")
    assert result.code == 3
    lines = result.stderr.splitlines()
    assert lines[0].startswith("iamkeys: 123456789012 bob ListAccessKeys: AccessDenied: ")
    assert lines[-1].startswith("Error: 1 item(s) could not be listed")
    assert len(result.stdout.splitlines()) == 3  # header + =cmd's two keys


INVALID = [
    (["--accounts", "12345"], "--accounts"),
    (["--accounts", "111122223333,"], "--accounts"),
    (["--accounts", "111122223333", "--organization"], "--accounts"),
    (["--role-name", "no spaces"], "--role-name"),
    (["--role-name", "r" * 65], "--role-name"),
    (["--external-id", "x"], "--external-id"),
    (["--external-id", "bad\nid"], "--external-id"),
    (["--path-prefix", "ops"], "--path-prefix"),
    (["--path-prefix", "/ops"], "--path-prefix"),
    (["--concurrency", "0"], "--concurrency"),
    (["--concurrency", "257"], "--concurrency"),
    (["--concurrency", "many"], "--concurrency"),
    (["--max-key-age", "-1"], "--max-key-age"),
    (["--max-key-age", "36501"], "--max-key-age"),
    (["--max-unused", "1.5"], "--max-unused"),
    (["--max-inactive", "x"], "--max-inactive"),
    (["--output", "xml"], "--output"),
    (["--out", "/nonexistent-dir/x.json"], "--out"),
    (["--out", "/"], "--out"),
    (["--region", "mars"], "--region"),
    (["--region", "us-fake-9"], "--region"),
    (["--endpoint-url", "ftp://127.0.0.1"], "--endpoint-url"),
    (["--profile", "no such profile"], "--profile"),
    (["--profile", "missing"], "--profile"),
    (["--connect-timeout", "0"], "--connect-timeout"),
    (["--read-timeout", "x"], "--read-timeout"),
]


@pytest.mark.parametrize(("args", "option"), INVALID)
def test_invalid_options_exit_2_before_any_request(aws_env: Any, args: list[str], option: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inventory", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {option}: "), err
    assert aws_env.stats()["total"] == 0


def test_invalid_option_in_a_real_process(aws_env: Any) -> None:
    result: Result = iamkeys("inventory", "--concurrency", "1000")
    assert_one_line_error(result, 2, "--concurrency: must be an integer from 1 to 256")
    assert aws_env.stats()["total"] == 0



# --- the library workflow: inventory, then email the findings --------------------------------


def test_inventory_findings_email_workflow(two_users: dict[str, list[str]],
                                           tmp_path: Path) -> None:
    import email
    from email import policy

    outbox = tmp_path / "outbox"
    result = iamkeys("run", "inventory-findings-email", "--input", "to=sec@example.com",
                     "--input", "max_unused=400", "--outbox", str(outbox))
    assert result.code == 0, result.stderr
    [sent] = outbox.glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
    assert result.stderr.splitlines() == [
        "iamkeys: step inventory: aws.iam.inventory ... ok",
        "iamkeys: step email: email.send ... ok",
        f"iamkeys: step email: wrote {sent} (to sec@example.com: {message['Subject']!r}); "
        "not sent: no SMTP host or SES configured"]
    assert message["To"] == "sec@example.com"
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    document = json.loads(attachments["access-keys.json"])
    assert document["Summary"]["Thresholds"]["MaxUnused"] == 400
    assert {k["AccessKeyId"]: k["Findings"] for k in document["Keys"]} == {
        two_users["=cmd"][0]: ["IAM.3"], two_users["=cmd"][1]: [], two_users["bob"][0]: []}


# --- retries and pace ------------------------------------------------------------------------


def test_retry_defaults_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    from iamkeys import aws
    from iamkeys.inventory import retrying_session

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    client = aws.client(retrying_session(Connection()), "iam", "us-east-1", Connection())
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 10}
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    client = aws.client(retrying_session(Connection()), "iam", "us-east-1", Connection())
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}


class Clock:
    """A fake monotonic clock; `sleep` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("seed", range(6))
def test_pace_hardly_slows_for_throttles_it_does_not_cause(seed: int) -> None:
    from iamkeys.inventory import Pace

    clock = Clock()
    start = clock.now
    pace = Pace(clock=clock, sleep=clock.sleep)
    rng = random.Random(seed)
    for _ in range(20_000):  # 20% random throttles at 200 answers a second, for 100 s
        clock.now += 0.005
        pace.answer(throttled=rng.random() < 0.2)
        pace.before_send()
    # A rare false alarm (4 standard deviations) costs a second at most, then probes back.
    assert sum(clock.slept) < 0.02 * (clock.now - start)


def test_pace_settles_just_under_what_iam_lets_through() -> None:
    from iamkeys.inventory import Pace

    clock = Clock()
    pace = Pace(clock=clock, sleep=clock.sleep)
    for i in range(400):  # 200 answers a second, of which 50 a second get through
        clock.now += 0.005
        pace.answer(throttled=i % 4 != 0)
        if pace.rate is not None:
            break
    assert pace.rate == pytest.approx(0.95 * 50, rel=0.1)
    before = clock.now
    for _ in range(10):
        pace.before_send()
    assert clock.now - before == pytest.approx(9 / pace.rate)  # spaced at the rate
    rate = pace.rate
    clock.now += 1.0
    pace.answer(throttled=False)
    assert pace.rate == pytest.approx(rate * 1.05)  # probed upward, 5% a second
