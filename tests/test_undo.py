"""`iamkeys undo JOURNAL [--apply]` against the IAM emulator: it plans, then reactivates exactly
the keys the journal deactivated that still exist and are still Inactive; deletions are listed
as not undoable; the reactivations are journaled too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_runner import assert_one_line_error, iamkeys
from estate import NOW, Estate, actions, journal_lines, populate, statuses, writes

POLICY = ("--deactivate", "IAM.3,IAM.22", "--delete-inactive-after", "30")


@pytest.fixture
def remediated(aws_env: Any, iam: Any, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Estate:
    """alice's and frank's old keys deactivated, bob's inactive key deleted, by one plan."""
    monkeypatch.chdir(tmp_path)
    estate = populate(aws_env, iam)
    result = iamkeys("remediate", *POLICY, "--apply")
    assert result.code == 0, result.stderr
    aws_env.reset(state=False)
    return estate


def test_undo_plans_then_reactivates_exactly_what_the_journal_deactivated(
        remediated: Estate, aws_env: Any, iam: Any, tmp_path: Path) -> None:
    e = remediated
    # Someone reactivated frank's key by hand meanwhile.
    iam.update_access_key(UserName="frank", AccessKeyId=e.old_used, Status="Active")
    aws_env.reset(state=False)
    planned = iamkeys("undo", "iamkeys-journal.jsonl")
    assert planned.code == 0, planned.stderr
    document = planned.json()
    assert actions(document) == {("alice", e.old_unused, "reactivate")}
    assert document["Actions"][0]["Status"] == "Inactive"
    reasons = {(s["UserName"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert reasons[("bob", "delete")].endswith(
        "not undoable, a deleted key cannot be restored (create a new key for the user)")
    assert reasons[("frank", "reactivate")] == (
        "already Active: changed outside iamkeys since the plan")
    assert writes(aws_env) == []
    applied = iamkeys("undo", "iamkeys-journal.jsonl", "--apply")
    assert applied.code == 0, applied.stderr
    assert [(a["AccessKeyId"], a["Result"], a["ResultReason"])
            for a in applied.json()["Actions"]] == [
        (e.old_unused, "done", "UpdateAccessKey Status=Active")]
    assert [(w["Action"], w["UserName"], w["AccessKeyId"], w["Status"])
            for w in writes(aws_env)] == [("UpdateAccessKey", "alice", e.old_unused, "Active")]
    assert statuses(iam, "alice") == {e.old_unused: "Active", e.fresh: "Active"}
    lines = journal_lines(tmp_path / "iamkeys-journal.jsonl")
    assert [(line["Action"], line["Event"]) for line in lines[-2:]] == [
        ("reactivate", "intent"), ("reactivate", "done")]
    assert lines[-1]["PlanId"] == applied.json()["Summary"]["PlanId"]


def test_after_an_undo_a_new_plan_may_deactivate_again_but_not_what_a_person_reactivated(
        remediated: Estate, aws_env: Any, iam: Any) -> None:
    e = remediated
    iam.update_access_key(UserName="frank", AccessKeyId=e.old_used, Status="Active")
    assert iamkeys("undo", "iamkeys-journal.jsonl", "--apply").code == 0
    again = iamkeys("remediate", "--deactivate", "IAM.3", "--apply")
    assert again.code == 0, again.stderr
    document = again.json()
    assert actions(document) == {("alice", e.old_unused, "deactivate")}
    reasons = {(s["UserName"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert "it is Active again: changed outside iamkeys since, so it is not deactivated " \
           "twice" in reasons[("frank", "deactivate")]


def test_a_key_gone_since_is_skipped(remediated: Estate, aws_env: Any) -> None:
    aws_env.delete_user("alice")
    result = iamkeys("undo", "iamkeys-journal.jsonl")
    assert result.code == 0, result.stderr
    document = result.json()
    assert actions(document) == {("frank", remediated.old_used, "reactivate")}
    reasons = {(s["UserName"], s["Action"]): s["Reason"] for s in document["Skipped"]}
    assert reasons[("alice", "reactivate")] == (
        "no longer listed under user alice: deleted (or the user removed) since the plan")
    assert writes(aws_env) == []


def test_undo_of_one_plan_only(remediated: Estate, aws_env: Any, iam: Any) -> None:
    e = remediated
    first = json.loads(Path("iamkeys-journal.jsonl").read_text().splitlines()[0])["PlanId"]
    # A second plan deactivates erin's... no: alice's fresh key, by IAM.3 with a low limit.
    second = iamkeys("remediate", "--deactivate", "IAM.3", "--max-key-age", "5", "--apply")
    assert second.code == 0, second.stderr
    assert actions(second.json()) == {("alice", e.fresh, "deactivate")}
    aws_env.reset(state=False)
    result = iamkeys("undo", "iamkeys-journal.jsonl", "--run",
                     second.json()["Summary"]["PlanId"], "--apply")
    assert result.code == 0, result.stderr
    assert actions(result.json()) == {("alice", e.fresh, "reactivate")}
    assert statuses(iam, "alice") == {e.old_unused: "Inactive", e.fresh: "Active"}
    assert first != second.json()["Summary"]["PlanId"]


def test_a_run_that_ended_between_intent_and_outcome_is_undone_when_the_key_is_inactive(
        aws_env: Any, iam: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    made = aws_env.bulk_create([{"name": "victor", "keys": [{"status": "Inactive"}]}])
    key_id = made["victor"][0]
    line = {"Time": NOW.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), "Event": "intent",
            "PlanId": "20261129T000000Z-00000000", "Attempt": "ab12", "AccountId":
            "123456789012", "UserName": "victor", "AccessKeyId": key_id,
            "Action": "deactivate", "Rules": ["IAM.3"], "CallerArn": "arn:aws:iam::x",
            "RoleArn": None, "Detail": None}
    Path("j.jsonl").write_text(json.dumps(line) + "\n")
    aws_env.reset(state=False)
    result = iamkeys("undo", "j.jsonl", "--apply")
    assert result.code == 0, result.stderr
    [action] = result.json()["Actions"]
    assert action["Reason"].endswith("the run ended before its outcome was journaled: undone "
                                     "if the key is Inactive")
    assert statuses(iam, "victor") == {key_id: "Active"}


def test_a_missing_journal_is_an_input_error(aws_env: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = iamkeys("undo", "nowhere.jsonl")
    assert_one_line_error(result, 2, "Error: --journal: no journal at 'nowhere.jsonl'")
    assert [e["action"] for e in aws_env.stats(log=True)["log"]] == ["GetCallerIdentity"]


def test_undo_over_the_cap_is_refused_whole(remediated: Estate, aws_env: Any) -> None:
    result = iamkeys("undo", "iamkeys-journal.jsonl", "--apply", "--max-actions", "1",
                     "--output", "table")
    # Two deactivations to undo (alice's, frank's), over a cap of one.
    assert_one_line_error(result, 2, "Error: --max-actions: the plan has 2 actions, over the "
                                     "cap of 1")
    assert writes(aws_env) == []
