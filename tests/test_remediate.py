"""`iamkeys remediate` against the IAM emulator process: the plan, --apply, the live re-checks,
the keys never touched, the cap, faults during apply, a run killed mid-apply and run again, the
journal (a file and S3), --grace with a saved inventory, the output formats, and the
aws.iam.remediate action through workflows and the Lambda handler."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_runner import Result, assert_one_line_error, iamkeys
from estate import (
    NOW,
    Estate,
    actions,
    ago,
    journal_lines,
    populate,
    statuses,
    writes,
    writes_by_key,
)
from iamkeys.aws_lambda import handler

USERS = ("alice", "bob", "carol", "erin", "frank", "ops")
POLICY = ("--deactivate", "IAM.3,IAM.22", "--delete-inactive-after", "30")


@pytest.fixture
def estate(aws_env: Any, iam: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Estate:
    monkeypatch.chdir(tmp_path)
    return populate(aws_env, iam)


def remediate(*args: str, cwd: Path | None = None) -> Result:
    return iamkeys("remediate", *args, cwd=str(cwd) if cwd else None)


def expected_plan(e: Estate) -> set[tuple[str, str, str]]:
    return {("alice", e.old_unused, "deactivate"), ("frank", e.old_used, "deactivate"),
            ("bob", e.stale_inactive, "delete")}


# --- the plan ------------------------------------------------------------------------------


def test_the_plan_is_the_expected_keys_and_sends_no_write(estate: Estate, aws_env: Any,
                                                         tmp_path: Path) -> None:
    result = remediate(*POLICY)
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["Applied"] is False
    assert actions(document) == expected_plan(estate)
    by_key = {a["AccessKeyId"]: a for a in document["Actions"]}
    assert by_key[estate.old_unused]["Rules"] == ["IAM.3", "IAM.22"]
    assert by_key[estate.old_unused]["Status"] == "Active"
    assert by_key[estate.old_unused]["LastUsedDate"] == ago(100)
    assert by_key[estate.stale_inactive]["Reason"] == (
        f"Inactive for more than 30 days: 120 days since its last use on {ago(120)[:10]}")
    assert "Result" not in by_key[estate.old_unused]
    skipped = {(s["UserName"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert skipped[("carol", "deactivate")] == "user tagged iamkeys:exempt"
    assert skipped[("ops", "deactivate")] == "the key signing these requests (the caller's own)"
    assert skipped[("alice", "delete")].startswith("deactivated by this plan: never deleted")
    assert skipped[("carol", "delete")] == "user tagged iamkeys:exempt"
    # frank's key is deactivated by this plan; ops's key was just used (it signs the requests).
    assert set(skipped) == {("alice", "delete"), ("carol", "deactivate"), ("carol", "delete"),
                            ("ops", "deactivate"), ("frank", "delete")}
    summary = document["Summary"]
    assert (summary["Actions"], summary["Deactivate"], summary["Delete"]) == (3, 2, 1)
    assert summary["Policy"] == {"Deactivate": ["IAM.3", "IAM.22"], "DeleteInactiveAfter": 30,
                                 "Grace": None, "ExemptTag": "iamkeys:exempt",
                                 "MaxActions": 25}
    assert summary["Journal"] == "./iamkeys-journal.jsonl"
    assert writes(aws_env) == []
    assert not (tmp_path / "iamkeys-journal.jsonl").exists()
    assert result.stderr == (f"iamkeys: plan {summary['PlanId']}: 2 to deactivate, 1 to "
                             "delete, 5 skipped; nothing was changed (run again with "
                             "--apply to act)\n")


def test_apply_changes_exactly_the_planned_keys_one_write_each(estate: Estate, aws_env: Any,
                                                              iam: Any, tmp_path: Path) -> None:
    before = statuses(iam, *USERS)
    result = remediate(*POLICY, "--apply")
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["Applied"] is True
    assert {a["AccessKeyId"]: (a["Result"], a["ResultReason"]) for a in document["Actions"]} == {
        estate.old_unused: ("done", "UpdateAccessKey Status=Inactive"),
        estate.old_used: ("done", "UpdateAccessKey Status=Inactive"),
        estate.stale_inactive: ("done", "DeleteAccessKey")}
    assert document["Summary"]["Results"] == {"done": 3, "skipped": 0, "failed": 0}
    after = statuses(iam, *USERS)
    expected = dict(before)
    expected[estate.old_unused] = expected[estate.old_used] = "Inactive"
    del expected[estate.stale_inactive]
    assert after == expected
    sent = writes(aws_env)
    assert sorted((w["Action"], w["UserName"], w["AccessKeyId"], w.get("Status"))
                  for w in sent) == [
        ("DeleteAccessKey", "bob", estate.stale_inactive, None),
        ("UpdateAccessKey", "alice", estate.old_unused, "Inactive"),
        ("UpdateAccessKey", "frank", estate.old_used, "Inactive")]
    lines = journal_lines(tmp_path / "iamkeys-journal.jsonl")
    plan_id = document["Summary"]["PlanId"]
    assert sorted((line["Event"], line["AccessKeyId"]) for line in lines) == sorted(
        (event, key) for key in (estate.old_unused, estate.old_used, estate.stale_inactive)
        for event in ("intent", "done"))
    for line in lines:
        assert line["PlanId"] == plan_id and line["AccountId"] == "123456789012"
        assert line["CallerArn"] == document["Summary"]["CallerArn"]
        assert line["Rules"] == {estate.old_unused: ["IAM.3", "IAM.22"],
                                 estate.old_used: ["IAM.3"],
                                 estate.stale_inactive: ["STALE_INACTIVE"]}[
            line["AccessKeyId"]]
    for key in (estate.old_unused, estate.old_used, estate.stale_inactive):
        mine = [line["Event"] for line in lines if line["AccessKeyId"] == key]
        assert mine == ["intent", "done"]
    assert "iamkeys: plan " in result.stderr and "applied: 3 done, 0 skipped, 0 failed" in \
        result.stderr


def test_a_key_used_between_plan_and_apply_is_skipped(estate: Estate, aws_env: Any, iam: Any,
                                                      tmp_path: Path) -> None:
    planned = remediate(*POLICY, "--plan-out", "plan.json")
    assert planned.code == 0, planned.stderr
    assert json.loads((tmp_path / "plan.json").read_text()) == planned.json()
    aws_env.patch_key(estate.old_unused, last_used={"date": ago(0.01), "service": "lambda",
                                                    "region": "eu-west-1"})
    result = remediate("--plan", "plan.json", "--apply")
    assert_one_line_error_last(result, 3, "1 of 3 action(s) not done: 1 skipped, 0 failed")
    by_key = {a["AccessKeyId"]: a for a in result.json()["Actions"]}
    assert by_key[estate.old_unused]["Result"] == "skipped"
    assert by_key[estate.old_unused]["ResultReason"].startswith(
        "used since the inventory: last used ")
    assert by_key[estate.old_unused]["ResultReason"].endswith(
        "(lambda, eu-west-1), so IAM.22 no longer holds")
    assert statuses(iam, "alice")[estate.old_unused] == "Active"
    assert estate.old_unused not in writes_by_key(aws_env)
    assert by_key[estate.old_used]["Result"] == "done"
    assert result.json()["Summary"]["PlanId"] == planned.json()["Summary"]["PlanId"]
    assert (f"skipped: deactivate {estate.old_unused} of alice (123456789012): used since"
            in result.stderr)


def assert_one_line_error_last(result: Result, code: int, *needles: str) -> None:
    """The summary lines, then one Error line last."""
    assert result.code == code, (result.code, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and all(n in last for n in needles), last
    assert "Traceback" not in result.stderr


def test_a_custom_exempt_tag(estate: Estate, iam: Any) -> None:
    iam.tag_user(UserName="frank", Tags=[{"Key": "team:keep", "Value": ""}])
    result = remediate(*POLICY, "--exempt-tag", "team:keep")
    assert result.code == 0, result.stderr
    document = result.json()
    assert actions(document) == expected_plan(estate) - {("frank", estate.old_used,
                                                           "deactivate")} | {
        ("carol", estate.exempt, "deactivate")}
    reasons = {(s["UserName"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert reasons[("frank", "deactivate")] == "user tagged team:keep"


def test_a_user_tagged_exempt_after_the_plan_is_skipped_at_apply(estate: Estate, iam: Any,
                                                                 aws_env: Any) -> None:
    assert remediate(*POLICY, "--plan-out", "plan.json").code == 0
    iam.tag_user(UserName="frank", Tags=[{"Key": "iamkeys:exempt", "Value": ""}])
    result = remediate("--plan", "plan.json", "--apply")
    assert result.code == 3
    by_key = {a["AccessKeyId"]: a for a in result.json()["Actions"]}
    assert (by_key[estate.old_used]["Result"], by_key[estate.old_used]["ResultReason"]) == (
        "skipped", "user tagged iamkeys:exempt")
    assert estate.old_used not in writes_by_key(aws_env)


def test_keys_of_a_user_in_the_inventorys_errors_are_left_alone(estate: Estate,
                                                                 aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "GetAccessKeyLastUsed", "kind": "access_denied",
                               "match": {"AccessKeyId": estate.fresh}}])
    result = remediate(*POLICY, "--apply")
    assert result.code == 0, result.stderr
    document = result.json()
    assert actions(document) == expected_plan(estate) - {("alice", estate.old_unused,
                                                           "deactivate")}
    reasons = {(s["AccessKeyId"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert reasons[(estate.old_unused, "deactivate")] == (
        "user alice is in the inventory's Errors (GetAccessKeyLastUsed: AccessDenied): what is "
        "known of its keys is incomplete")
    assert estate.old_unused not in writes_by_key(aws_env)


def test_an_active_key_is_never_deleted(estate: Estate, aws_env: Any) -> None:
    result = remediate("--delete-inactive-after", "30", "--apply")
    assert result.code == 0, result.stderr
    document = result.json()
    assert actions(document) == {("bob", estate.stale_inactive, "delete")}
    reasons = {(s["AccessKeyId"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert reasons[(estate.old_unused, "delete")] == (
        "Active: a key is never deleted while Active (deactivate it first)")
    assert [w["AccessKeyId"] for w in writes(aws_env)] == [estate.stale_inactive]


def test_a_key_is_never_deleted_by_the_run_that_deactivated_it(estate: Estate, aws_env: Any,
                                                               iam: Any) -> None:
    first = remediate("--deactivate", "IAM.3", "--delete-inactive-after", "0", "--apply")
    assert first.code == 0, first.stderr
    assert ("alice", estate.old_unused, "deactivate") in actions(first.json())
    # Inactive now, last used 100 days ago, but deactivated by iamkeys today (the journal).
    again = remediate("--deactivate", "IAM.3", "--delete-inactive-after", "0", "--apply")
    assert again.code == 0, again.stderr
    assert estate.old_unused not in {a["AccessKeyId"] for a in again.json()["Actions"]}
    assert statuses(iam, "alice")[estate.old_unused] == "Inactive"
    deletes = [w["AccessKeyId"] for w in writes(aws_env) if w["Action"] == "DeleteAccessKey"]
    assert estate.old_unused not in deletes and estate.old_used not in deletes


def test_a_plan_over_the_cap_is_refused_whole(estate: Estate, aws_env: Any,
                                              tmp_path: Path) -> None:
    result = remediate(*POLICY, "--apply", "--max-actions", "2", "--plan-out", "plan.json")
    assert_one_line_error(result, 2, "Error: --max-actions: the plan has 3 actions, over the "
                                     "cap of 2: nothing was changed")
    assert result.stdout == ""
    assert writes(aws_env) == []
    assert not (tmp_path / "plan.json").exists()
    assert not (tmp_path / "iamkeys-journal.jsonl").exists()


def test_grace_needs_a_saved_inventory(estate: Estate, aws_env: Any) -> None:
    result = remediate("--deactivate", "IAM.3", "--grace", "14")
    assert_one_line_error(result, 2, "Error: --grace: needs a saved inventory (--from FILE)")
    assert aws_env.stats()["total"] == 0


def test_grace_with_a_saved_inventory_whose_since_is_backdated(estate: Estate, aws_env: Any,
                                                                tmp_path: Path) -> None:
    saved = iamkeys("inventory", "--out", "inventory.json")
    assert saved.code == 0, saved.stderr
    document = json.loads((tmp_path / "inventory.json").read_text())
    since = {estate.old_unused: ago(20), estate.old_used: ago(14), estate.caller: ago(90)}
    for record in document["Keys"]:
        for detail in record["FindingDetails"]:
            if record["AccessKeyId"] in since:
                detail["Since"] = since[record["AccessKeyId"]]
    (tmp_path / "inventory.json").write_text(json.dumps(document))
    aws_env.reset(state=False)
    result = remediate("--from", "inventory.json", "--deactivate", "IAM.3", "--grace", "14",
                       "--apply")
    assert result.code == 0, result.stderr
    plan = result.json()
    assert actions(plan) == {("alice", estate.old_unused, "deactivate")}
    reasons = {s["AccessKeyId"]: s["Reason"] for s in plan["Skipped"]}
    assert reasons[estate.old_used].startswith(
        f"IAM.3: first reported {ago(14)[:10]}, in its grace of 14 days (acted on from ")
    # Planned from the file (no ListUsers), acted on after a live re-read.
    by_action = aws_env.stats()["by_action"]
    assert "ListUsers" not in by_action and by_action["UpdateAccessKey"] == 1
    assert by_action["ListAccessKeys"] == 1


def test_a_saved_inventory_excludes_the_scope_options(estate: Estate, aws_env: Any,
                                                      tmp_path: Path) -> None:
    assert iamkeys("inventory", "--out", "inventory.json").code == 0
    aws_env.reset(state=False)
    result = remediate("--from", "inventory.json", "--deactivate", "IAM.3", "--accounts",
                       "111122223333")
    assert_one_line_error(result, 2, "Error: --accounts: cannot be combined with a saved "
                                     "inventory (--from)")
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize(("fmt", "needles"), [
    ("table", ("Plan ", "AccessKeyId", "Left alone", "user tagged iamkeys:exempt")),
    ("html", ("<!DOCTYPE html>", "remediation plan", "to deactivate", "Left alone")),
])
def test_table_and_html_output(estate: Estate, fmt: str, needles: tuple[str, ...]) -> None:
    result = remediate(*POLICY, "--output", fmt)
    assert result.code == 0, result.stderr
    for needle in (*needles, estate.old_unused, estate.stale_inactive):
        assert needle in result.stdout


def test_html_escapes_what_it_shows(aws_env: Any, iam: Any, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    aws_env.bulk_create([{"name": "a<b>@x", "keys": [{"create_date": ago(400)}]}])
    result = remediate("--deactivate", "IAM.3", "--output", "html")
    assert result.code == 0, result.stderr
    assert "a&lt;b&gt;@x" in result.stdout and "a<b>@x" not in result.stdout


# --- faults during apply -------------------------------------------------------------------


def one_key(aws_env: Any, *, status: str = "Active") -> str:
    made = aws_env.bulk_create([{"name": "victor", "keys": [
        {"status": status, "create_date": ago(400)}]}])
    aws_env.reset(state=False)
    return str(made["victor"][0])


FAULTS = [
    ("throttled twice", "UpdateAccessKey", {"kind": "throttle", "times": 2}, "done",
     "UpdateAccessKey Status=Inactive", 3),
    ("500 once", "UpdateAccessKey", {"kind": "error500", "times": 1}, "done",
     "UpdateAccessKey Status=Inactive (after ServiceFailure, the re-read showed the key "
     "unchanged)", 2),
    ("500 every time", "UpdateAccessKey", {"kind": "error500"}, "failed",
     "ServiceFailure: Request processing has failed due to an internal error. (3 tries; the "
     "re-read shows the key unchanged)", 3),
    ("applied, then the connection dropped", "UpdateAccessKey",
     {"kind": "apply_then_drop", "times": 1}, "done",
     "UpdateAccessKey Status=Inactive: the answer was lost (ConnectionClosedError); the re-read "
     "shows it applied", 1),
    ("delete applied, then the connection dropped", "DeleteAccessKey",
     {"kind": "apply_then_drop", "times": 1}, "done",
     "DeleteAccessKey: the answer was lost (ConnectionClosedError); the re-read shows it "
     "applied", 1),
    ("NoSuchEntity: deleted meanwhile", "UpdateAccessKey",
     {"kind": "no_such_entity", "times": 1}, "skipped",
     "NoSuchEntity: The user with name victor cannot be found. (deleted (or its user removed) "
     "since the re-read)", 1),
    ("access denied", "UpdateAccessKey", {"kind": "access_denied", "times": 1}, "failed",
     "AccessDenied: User: arn:aws:iam::123456789012:user/harness is not authorized to "
     "perform: iam:UpdateAccessKey", 1),
]


@pytest.mark.parametrize(("action", "fault", "result", "reason", "sent"),
                         [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_faults_during_apply(action: str, fault: dict[str, Any], result: str, reason: str,
                             sent: int, aws_env: Any, iam: Any, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    deleting = action == "DeleteAccessKey"
    key_id = one_key(aws_env, status="Inactive" if deleting else "Active")
    aws_env.configure(faults=[{"action": action, **fault}])
    policy = ("--delete-inactive-after", "30") if deleting else ("--deactivate", "IAM.3")
    run = remediate(*policy, "--apply")
    assert run.code == {"done": 0, "skipped": 3, "failed": 1}[result], run.stderr
    [done] = run.json()["Actions"]
    assert (done["Result"], done["ResultReason"]) == (result, reason)
    assert writes_by_key(aws_env) == {key_id: sent}
    live = statuses(iam, "victor")
    if result == "done":
        assert live == ({} if deleting else {key_id: "Inactive"})
    else:
        assert live == {key_id: "Active"}
    events = [line["Event"] for line in journal_lines(tmp_path / "iamkeys-journal.jsonl")]
    assert events == ["intent", "done" if result == "done" else "failed"]


def test_a_write_that_timed_out_is_re_read_not_sent_again(aws_env: Any, iam: Any,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    key_id = one_key(aws_env)
    # The server applies the change 1.5 s in; the client gave up after 1 s.
    aws_env.configure(faults=[{"action": "UpdateAccessKey", "kind": "delay", "delay_s": 1.5,
                               "times": 1}])
    run = remediate("--deactivate", "IAM.3", "--apply", "--read-timeout", "1")
    assert run.code == 0, run.stderr
    [done] = run.json()["Actions"]
    assert done["ResultReason"] == ("UpdateAccessKey Status=Inactive: the answer was lost "
                                    "(ReadTimeoutError); the re-read shows it applied")
    assert writes_by_key(aws_env) == {key_id: 1}
    assert statuses(iam, "victor") == {key_id: "Inactive"}


def test_a_key_deleted_between_plan_and_apply_is_skipped(estate: Estate, aws_env: Any) -> None:
    assert remediate(*POLICY, "--plan-out", "plan.json").code == 0
    aws_env.delete_user("frank")
    result = remediate("--plan", "plan.json", "--apply")
    assert result.code == 3
    by_key = {a["AccessKeyId"]: a for a in result.json()["Actions"]}
    assert by_key[estate.old_used]["ResultReason"] == (
        "no longer listed under user frank: deleted (or the user removed) since the plan")
    assert estate.old_used not in writes_by_key(aws_env)


def test_throttled_reads_and_writes_still_complete(estate: Estate, aws_env: Any,
                                                   iam: Any) -> None:
    aws_env.configure(seed=7, faults=[{"action": "*", "kind": "throttle",
                                       "probability": 0.3}])
    result = remediate(*POLICY, "--apply")
    assert result.code == 0, result.stderr
    assert {a["Result"] for a in result.json()["Actions"]} == {"done"}
    assert statuses(iam, "alice", "frank") == {estate.old_unused: "Inactive",
                                               estate.fresh: "Active",
                                               estate.old_used: "Inactive"}


def test_nothing_could_be_done_is_exit_1(estate: Estate, aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "UpdateAccessKey", "kind": "access_denied"},
                              {"action": "DeleteAccessKey", "kind": "access_denied"}])
    result = remediate(*POLICY, "--apply")
    assert_one_line_error_last(result, 1, "nothing could be done: 0 skipped, 3 failed")
    assert {a["Result"] for a in result.json()["Actions"]} == {"failed"}


# --- killed mid-apply, then run again ------------------------------------------------------


@pytest.fixture
def many(aws_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    made = aws_env.bulk_create([{"name": f"svc-{i:02d}", "keys": [{"create_date": ago(400)}]}
                                for i in range(12)])
    return [ids[0] for ids in made.values()]


def settle(emulator: Any, timeout: float = 15.0) -> None:
    """Wait until every request the emulator received has been answered (or dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = emulator.stats(log=True)["log"]
        if all(entry["status"] is not None for entry in log):
            return
        time.sleep(0.2)
    raise AssertionError("the emulator still has requests in flight")


@pytest.mark.parametrize("again", ["the saved plan", "the same options, same inventory",
                                   "the same options, a new inventory"])
def test_killed_mid_apply_and_run_again_completes_the_plan_writing_no_key_twice(
        again: str, many: list[str], aws_env: Any, iam: Any, tmp_path: Path) -> None:
    assert iamkeys("inventory", "--out", "inventory.json").code == 0
    source = ("--from", "inventory.json") if "same inventory" in again or "plan" in again \
        else ()
    options = (*source, "--deactivate", "IAM.3", "--concurrency", "2", "--max-actions", "50",
               "--apply")
    aws_env.reset(state=False)
    aws_env.configure(latency_ms=250)
    child = subprocess.Popen([sys.executable, "-m", "iamkeys", "remediate", *options,
                              "--plan-out", "plan.json"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "iamkeys-journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if journal.exists() and journal.read_text().count('"intent"') >= 4:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    settle(aws_env)
    first = writes_by_key(aws_env)
    assert 0 < len(first) < 12, "the run was not killed mid-apply"
    aws_env.configure(latency_ms=0)
    rerun = ("--plan", "plan.json", "--apply") if again == "the saved plan" else options
    result = remediate(*rerun)
    assert result.code == 0, result.stderr
    assert statuses(iam, *(f"svc-{i:02d}" for i in range(12))) == dict.fromkeys(many,
                                                                                "Inactive")
    assert writes_by_key(aws_env) == dict.fromkeys(many, 1)
    # A rerun of the same plan settles what the kill left open: a done line once the re-read
    # confirms the write landed, or a new intent when it never left (an intent journaled just
    # before the kill). A new inventory no longer plans the keys already Inactive, so their
    # intents stay without an outcome (undo and later plans read them so).
    lines = journal_lines(journal)
    for key_id in many:
        events = [line["Event"] for line in lines if line["AccessKeyId"] == key_id]
        assert events[0] == "intent" and "failed" not in events, (key_id, events)
        if "new inventory" not in again:
            assert events.count("done") == 1 and events[-1] == "done", (key_id, events)


# --- the journal ---------------------------------------------------------------------------


def test_an_s3_journal_holds_one_object_per_line_and_is_read_back(estate: Estate,
                                                                  aws_env: Any,
                                                                  iam: Any) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env.url, region_name="us-east-1")
    s3.create_bucket(Bucket="audit-journal")
    location = "s3://audit-journal/iamkeys/prod"
    first = remediate("--deactivate", "IAM.3", "--apply", "--journal", location)
    assert first.code == 0, first.stderr
    assert first.json()["Summary"]["Journal"] == location
    names = [o["Key"] for o in s3.list_objects_v2(Bucket="audit-journal")["Contents"]]
    assert len(names) == 4 and all(n.startswith("iamkeys/prod/") for n in names)
    bodies = [json.loads(s3.get_object(Bucket="audit-journal", Key=n)["Body"].read())
              for n in sorted(names)]
    assert sorted((b["AccessKeyId"], b["Event"]) for b in bodies) == sorted(
        (k, e) for k in (estate.old_unused, estate.old_used) for e in ("intent", "done"))
    # The journal dates the deactivation: today, so not deleted (last use alone: 100 days).
    second = remediate("--delete-inactive-after", "30", "--journal", location)
    assert second.code == 0, second.stderr
    assert estate.old_unused not in {a["AccessKeyId"] for a in second.json()["Actions"]}
    without = remediate("--delete-inactive-after", "30", "--journal", "other.jsonl")
    assert estate.old_unused in {a["AccessKeyId"] for a in without.json()["Actions"]}


def test_a_journal_in_use_by_another_run_is_refused(estate: Estate, aws_env: Any,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "iamkeys-journal.jsonl"
    with path.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = remediate(*POLICY, "--apply")
    assert_one_line_error(result, 1, "is in use by another iamkeys run")
    assert writes(aws_env) == []


def test_a_line_cut_short_by_a_crash_is_dropped_before_appending(estate: Estate,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "iamkeys-journal.jsonl"
    path.write_bytes(b'{"Time": "2026-11-2')
    result = remediate(*POLICY, "--apply")
    assert result.code == 0, result.stderr
    assert len(journal_lines(path)) == 6


def test_a_journal_that_is_not_one_is_an_input_error(estate: Estate, aws_env: Any,
                                                     tmp_path: Path) -> None:
    (tmp_path / "iamkeys-journal.jsonl").write_text('{"Event": "intent"}\n')
    result = remediate(*POLICY)
    assert_one_line_error(result, 2, "Error: --journal: ./iamkeys-journal.jsonl line 1: not "
                                     "an iamkeys journal line")
    assert writes(aws_env) == []


# --- workflows and the Lambda handler ------------------------------------------------------


def test_the_lambda_action_plans_unless_told_to_apply(estate: Estate, aws_env: Any, iam: Any,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAMKEYS_JOURNAL", str(tmp_path / "lambda.jsonl"))
    values = {"deactivate": "IAM.3,IAM.22", "delete_inactive_after": 30}
    planned = handler({"action": "aws.iam.remediate", "with": values}, None)
    assert planned["Applied"] is False and actions(planned) == expected_plan(estate)
    assert writes(aws_env) == []
    applied = handler({"action": "aws.iam.remediate", "with": {**values, "apply": True}}, None)
    assert {a["Result"] for a in applied["Actions"]} == {"done"}
    assert applied["Summary"]["Journal"] == str(tmp_path / "lambda.jsonl")
    assert len(journal_lines(tmp_path / "lambda.jsonl")) == 6
    assert statuses(iam, "frank") == {estate.old_used: "Inactive"}


WORKFLOW = """
name: deactivate-unused
description: Inventory, then deactivate the keys unused for too long.
inputs:
  apply:
    default: false
steps:
  - id: inventory
    action: aws.iam.inventory
  - id: deactivate
    action: aws.iam.remediate
    with:
      inventory: "{{ steps.inventory.output }}"
      deactivate: IAM.22
      apply: "{{ inputs.apply }}"
"""


def test_a_workflow_remediates_an_earlier_steps_inventory(estate: Estate, aws_env: Any,
                                                          iam: Any, tmp_path: Path) -> None:
    (tmp_path / "deactivate.yaml").write_text(WORKFLOW)
    planned = iamkeys("run", "./deactivate.yaml")
    assert planned.code == 0, planned.stderr
    assert actions(planned.json()) == {("alice", estate.old_unused, "deactivate")}
    assert writes(aws_env) == []
    applied = iamkeys("run", "./deactivate.yaml", "--input", "apply=true")
    assert applied.code == 0, applied.stderr
    assert applied.json()["Actions"][0]["Result"] == "done"
    assert statuses(iam, "alice")[estate.old_unused] == "Inactive"
    assert (tmp_path / "iamkeys-journal.jsonl").exists()


def test_a_workflow_step_with_actions_not_done_is_exit_3(estate: Estate, aws_env: Any,
                                                         tmp_path: Path) -> None:
    (tmp_path / "deactivate.yaml").write_text(WORKFLOW)
    aws_env.configure(faults=[{"action": "UpdateAccessKey", "kind": "access_denied"}])
    result = iamkeys("run", "./deactivate.yaml", "--input", "apply=true")
    assert result.code == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: step deactivate: 1 of 1 action(s) not done: 0 skipped, 1 failed; see Result "
        "in the output")


def test_now_is_the_plans_time(estate: Estate) -> None:
    generated = remediate(*POLICY).json()["Summary"]["GeneratedAt"]
    assert abs((NOW - NOW.fromisoformat(generated)).total_seconds()) < 600


def test_the_library_takes_a_request_and_a_boto3_session(estate: Estate, aws_env: Any,
                                                         iam: Any) -> None:
    import iamkeys
    from harness import aws

    request = iamkeys.RemediationRequest.build(deactivate="IAM.22", delete_inactive_after=90,
                                               journal="library.jsonl", apply=True)
    plan = iamkeys.run_remediation(request, connection=iamkeys.Connection(),
                                   session=aws.session())
    assert isinstance(plan, iamkeys.RemediationPlan) and plan.applied
    assert {(a.access_key_id, a.action, a.result) for a in plan.actions} == {
        (estate.old_unused, "deactivate", "done"), (estate.stale_inactive, "delete", "done")}
    assert statuses(iam, "alice")[estate.old_unused] == "Inactive"


def test_writes_are_never_retried_by_botocore_whatever_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from iamkeys import aws
    from iamkeys.inventory import retrying_session

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    connection = aws.Connection()
    writer = aws.client(retrying_session(connection), "iam", "us-east-1", connection,
                        attempts=1)
    reader = aws.client(retrying_session(connection), "iam", "us-east-1", connection)
    assert writer.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert reader.meta.config.retries["total_max_attempts"] == 7
