"""`iamkeys remediate --organization`: member accounts are acted on through the same role as
the inventory (--role-name, --external-id), in sessions named iamkeys-remediate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli_runner import iamkeys
from estate import ago, journal_lines, writes
from harness import TEST_ACCESS_KEY_ID
from test_inventory_org import MANAGEMENT, ROLE, Organization, assumed_iam
from test_inventory_org import organization as organization  # noqa: F401  (the fixture)


def test_each_member_is_acted_on_through_its_role(organization: Organization,  # noqa: F811
                                                  aws_env: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    chosen: dict[str, tuple[str, str]] = {}  # key id -> (account, user)
    for account in organization.members:
        key_id = next(k for k, a in organization.keys.items() if a == account)
        user = aws_env.patch_key(key_id, account_id=account, create_date=ago(400))["user_name"]
        chosen[key_id] = (account, user)
    aws_env.reset(state=False)
    result = iamkeys("remediate", "--organization", "--deactivate", "IAM.3", "--external-id",
                     "ext-42", "--apply")
    assert result.code == 0, result.stderr
    document = result.json()
    assert {a["AccessKeyId"]: (a["AccountId"], a["UserName"]) for a in document["Actions"]} \
        == chosen
    assert {a["Result"] for a in document["Actions"]} == {"done"}
    log = aws_env.stats(log=True)["log"]
    remediating = [e["params"] for e in log if e["action"] == "AssumeRole"
                   and e["params"]["RoleSessionName"] == "iamkeys-remediate"]
    assert sorted(r["RoleArn"] for r in remediating) == sorted(
        f"arn:aws:iam::{m}:role/{ROLE}" for m in organization.members)
    assert {r["ExternalId"] for r in remediating} == {"ext-42"}
    updates = [e for e in log if e["action"] == "UpdateAccessKey"]
    assert sorted(e["params"]["AccessKeyId"] for e in updates) == sorted(chosen)
    # Signed by the assumed roles' temporary keys, never by the caller's own key.
    assert all(e["access_key_id"] != TEST_ACCESS_KEY_ID for e in updates)
    for key_id, (account, user) in chosen.items():
        keys = assumed_iam(aws_env, account).list_access_keys(UserName=user)
        assert {k["AccessKeyId"]: k["Status"] for k in keys["AccessKeyMetadata"]}[key_id] == \
            "Inactive"
    lines = journal_lines(tmp_path / "iamkeys-journal.jsonl")
    assert {(line["AccountId"], line["RoleArn"]) for line in lines} == {
        (m, f"arn:aws:iam::{m}:role/{ROLE}") for m in organization.members}
    assert MANAGEMENT not in {line["AccountId"] for line in lines}


def test_a_member_whose_role_cannot_be_assumed_at_apply_fails_by_name(
        organization: Organization, aws_env: Any, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    denied, allowed = organization.members[0], organization.members[1]
    targets = {}
    for account in (denied, allowed):
        key_id = next(k for k, a in organization.keys.items() if a == account)
        aws_env.patch_key(key_id, account_id=account, create_date=ago(400))
        targets[account] = key_id
    assert iamkeys("inventory", "--accounts", f"{denied},{allowed}", "--out",
                   "inventory.json").code == 0
    fault = [{"action": "AssumeRole", "kind": "access_denied",
              "match": {"RoleArn": f"arn:aws:iam::{denied}:role/{ROLE}"}}]
    # Denied while planning: its users' exemption cannot be read, so its keys are left alone.
    aws_env.configure(faults=fault)
    unsure = iamkeys("remediate", "--from", "inventory.json", "--deactivate", "IAM.3")
    assert unsure.code == 0, unsure.stderr
    [left] = [s for s in unsure.json()["Skipped"] if s["AccountId"] == denied]
    assert left["Reason"].startswith("whether the user is tagged iamkeys:exempt is not known: "
                                     "ListUserTags: AccessDenied: ")
    # Denied at apply time: the action fails, by name; the other account's is done.
    aws_env.configure(faults=[])
    planned = iamkeys("remediate", "--from", "inventory.json", "--deactivate", "IAM.3",
                      "--plan-out", "plan.json")
    assert planned.code == 0, planned.stderr
    aws_env.reset(state=False)
    aws_env.configure(faults=fault)
    result = iamkeys("remediate", "--plan", "plan.json", "--apply")
    assert result.code == 3, result.stderr
    by_account = {a["AccountId"]: a for a in result.json()["Actions"]}
    assert by_account[denied]["Result"] == "failed"
    assert by_account[denied]["ResultReason"].startswith("AssumeRole: AccessDenied: ")
    assert by_account[allowed]["Result"] == "done"
    assert [w["AccessKeyId"] for w in writes(aws_env)] == [targets[allowed]]
