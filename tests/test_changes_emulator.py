"""`inventory --baseline` and `iamkeys diff` against a mutated emulator: every kind of change,
Since carried over, and a partial run that keeps what it could not read out of the removals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli_runner import assert_one_line_error, iamkeys
from test_inventory_org import MANAGEMENT, ROLE, Organization, organization  # noqa: F401

ACCOUNT = "123456789012"
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def used(ago: timedelta) -> dict[str, str]:
    return {"date": iso(NOW - ago), "service": "s3", "region": "eu-west-1"}


@pytest.fixture
def made(aws_env: Any) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = aws_env.bulk_create([
        # Turns 100 days old between the runs: a new IAM.3.
        {"name": "alice", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - 80 * DAY), "last_used": used(DAY)}]},
        # Deactivated between the runs.
        {"name": "bob", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - 10 * DAY), "last_used": used(DAY)}]},
        # Deleted between the runs, with its IAM.3 and IAM.22.
        {"name": "carol", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - 200 * DAY)}]},
        # Gets a key between the runs.
        {"name": "dave", "create_date": iso(NOW - 400 * DAY)},
        # Used again between the runs: IAM.22 resolved, IAM.3 stays (its Since too).
        {"name": "erin", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - 100 * DAY), "last_used": used(60 * DAY)}]},
        # Rotated between the runs: a new key and a removed one, not "the same slot".
        {"name": "frank", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - 20 * DAY), "last_used": used(DAY)}]},
    ])
    aws_env.reset(state=False)
    return keys


def ref(user: str, key_id: str, **more: str) -> dict[str, str]:
    return {"AccountId": ACCOUNT, "UserName": user, "AccessKeyId": key_id, **more}


def mutate(emulator: Any, iam: Any, keys: dict[str, list[str]]) -> dict[str, str]:
    """The changes between the two runs; returns the keys created."""
    emulator.patch_key(keys["alice"][0], create_date=iso(NOW - 100 * DAY))
    iam.update_access_key(UserName="bob", AccessKeyId=keys["bob"][0], Status="Inactive")
    iam.delete_access_key(UserName="carol", AccessKeyId=keys["carol"][0])
    dave = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
    emulator.patch_key(keys["erin"][0], last_used=used(timedelta(hours=1)))
    iam.delete_access_key(UserName="frank", AccessKeyId=keys["frank"][0])
    frank = iam.create_access_key(UserName="frank")["AccessKey"]["AccessKeyId"]
    return {"dave": dave, "frank": frank}


def test_every_kind_of_change_against_the_emulator(made: dict[str, list[str]], aws_env: Any,
                                                   iam: Any, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    first = iamkeys("inventory", "--out", str(old))
    assert first.code == 0, first.stderr
    then = first_since = json_of(old)["Summary"]["GeneratedAt"]
    created = mutate(aws_env, iam, made)
    second = iamkeys("inventory", "--baseline", str(old))
    assert second.code == 0, second.stderr
    document = second.json()
    now = document["Summary"]["GeneratedAt"]
    carol_reasons = {f["Rule"]: f["Reason"] for k in json_of(old)["Keys"]
                     if k["UserName"] == "carol" for f in k["FindingDetails"]}
    erin_iam22 = next(f["Reason"] for k in json_of(old)["Keys"] if k["UserName"] == "erin"
                      for f in k["FindingDetails"] if f["Rule"] == "IAM.22")
    alice_iam3 = next(f["Reason"] for k in document["Keys"] if k["UserName"] == "alice"
                      for f in k["FindingDetails"])
    assert document["Changes"] == {
        "Baseline": then,
        "NewKeys": [ref("dave", created["dave"]), ref("frank", created["frank"])],
        "RemovedKeys": [ref("carol", made["carol"][0]), ref("frank", made["frank"][0])],
        "StatusChanged": [ref("bob", made["bob"][0], From="Active", To="Inactive")],
        "NewFindings": [ref("alice", made["alice"][0], Rule="IAM.3", Reason=alice_iam3,
                            Since=now)],
        "ResolvedFindings": [
            ref("carol", made["carol"][0], Rule="IAM.3", Reason=carol_reasons["IAM.3"],
                Since=first_since),
            ref("carol", made["carol"][0], Rule="IAM.22", Reason=carol_reasons["IAM.22"],
                Since=first_since),
            ref("erin", made["erin"][0], Rule="IAM.22", Reason=erin_iam22, Since=first_since),
        ],
    }
    erin = next(k for k in document["Keys"] if k["UserName"] == "erin")
    assert [(f["Rule"], f["Since"]) for f in erin["FindingDetails"]] == [("IAM.3", then)]
    # `iamkeys diff` prints the same Changes from the two saved inventories.
    new = tmp_path / "new.json"
    new.write_text(second.stdout)
    diff = iamkeys("diff", str(old), str(new))
    assert diff.code == 0, diff.stderr
    assert diff.json() == document["Changes"]


def test_diff_of_two_plain_inventories(made: dict[str, list[str]], aws_env: Any, iam: Any,
                                       tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert iamkeys("inventory", "--out", str(old)).code == 0
    created = mutate(aws_env, iam, made)
    assert iamkeys("inventory", "--out", str(new)).code == 0
    diff = iamkeys("diff", str(old), str(new)).json()
    assert [k["AccessKeyId"] for k in diff["NewKeys"]] == [created["dave"], created["frank"]]
    assert [(f["UserName"], f["Rule"]) for f in diff["ResolvedFindings"]] == [
        ("carol", "IAM.3"), ("carol", "IAM.22"), ("erin", "IAM.22")]
    nothing = iamkeys("diff", str(new), str(new)).json()
    assert all(nothing[kind] == [] for kind in ("NewKeys", "RemovedKeys", "StatusChanged",
                                                "NewFindings", "ResolvedFindings"))


@pytest.mark.parametrize(("args", "message"), [
    (["missing.json", "{listing}"], "Error: OLD.json: cannot read 'missing.json'"),
    (["{listing}", "{listing}"], "Error: OLD.json: {listing}: not an iamkeys result: expected "
                                 "an inventory"),
    (["{listing}"], "Error: Missing argument 'NEW.json'"),
])
def test_diff_bad_input_is_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    listing = tmp_path / "listing.json"
    listing.write_text('{"AccessKeyMetadata": [], "IsTruncated": false}')
    result = iamkeys("diff", *[a.replace("{listing}", str(listing)) for a in args],
                     cwd=str(tmp_path))
    assert_one_line_error(result, 2, message.replace("{listing}", str(listing)))


def test_a_baseline_that_is_not_an_inventory_is_exit_2(aws_env: Any, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("[1, 2")
    result = iamkeys("inventory", "--baseline", str(bad))
    assert_one_line_error(result, 2, f"--baseline: {bad}: invalid JSON at line 1")
    assert aws_env.stats()["total"] == 0


def test_a_partial_run_with_a_baseline_removes_nothing_it_could_not_read(
        organization: Organization, aws_env: Any, iam: Any, tmp_path: Path) -> None:  # noqa: F811
    old = tmp_path / "old.json"
    assert iamkeys("inventory", "--organization", "--out", str(old)).code == 0
    baseline = json_of(old)
    denied, readable = organization.members[0], organization.members[1]
    # Gone for real, but in a scope the next run cannot read: not "removed".
    [admin_key] = [k["AccessKeyId"] for k in baseline["Keys"] if k["UserName"] == "admin"]
    iam.delete_access_key(UserName="admin", AccessKeyId=admin_key)
    # Gone in a scope the next run reads: removed.
    gone = next(k for k in baseline["Keys"] if k["AccountId"] == readable)
    aws_env.delete_user(gone["UserName"], account_id=readable)
    aws_env.configure(faults=[
        {"action": "AssumeRole", "kind": "access_denied",
         "match": {"RoleArn": f"arn:aws:iam::{denied}:role/{ROLE}"}},
        {"action": "ListAccessKeys", "kind": "access_denied", "match": {"UserName": "admin"}}])
    result = iamkeys("inventory", "--organization", "--baseline", str(old))
    assert_one_line_error(result, 3, "2 item(s) could not be listed")
    document = result.json()
    gone_keys = {k["AccessKeyId"] for k in baseline["Keys"]
                 if (k["AccountId"], k["UserName"]) == (readable, gone["UserName"])}
    assert {k["AccessKeyId"] for k in document["Changes"]["RemovedKeys"]} == gone_keys
    assert {f["AccessKeyId"] for f in document["Changes"]["ResolvedFindings"]} <= gone_keys
    assert document["Changes"]["NewKeys"] == []
    carried = {k["AccessKeyId"]: k["CarriedOver"]["Reason"] for k in document["Keys"]
               if "CarriedOver" in k}
    expected = {k["AccessKeyId"]: "AssumeRole failed: AccessDenied" for k in baseline["Keys"]
                if k["AccountId"] == denied}
    expected[admin_key] = "ListAccessKeys failed: AccessDenied"
    assert carried == expected
    assert all(k["CarriedOver"]["ReadAt"] == baseline["Summary"]["GeneratedAt"]
               for k in document["Keys"] if "CarriedOver" in k)
    # Every key of the baseline is still in the document, but the ones really gone and read.
    assert {k["AccessKeyId"] for k in document["Keys"]} == {
        k["AccessKeyId"] for k in baseline["Keys"]} - gone_keys
    assert document["Summary"]["CarriedOver"] == len(expected)


def json_of(path: Path) -> Any:
    import json

    return json.loads(path.read_text())
