"""Security Hub: `inventory --output asff|ocsf` and `iamkeys securityhub-import`, against the
emulator's Security Hub (moto behind the harness, which checks BatchImportFindings as Security
Hub does: required attributes, the calling account, 100 findings a call).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_runner import assert_one_line_error, iamkeys
from iamkeys import actions, documents
from iamkeys.errors import InputError
from iamkeys.render.asff import finding_id
from test_inventory_org import MANAGEMENT, ROLE, Organization, organization  # noqa: F401

ACCOUNT = "123456789012"
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
REQUIRED = ("AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn",
            "Resources", "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def keys(aws_env: Any) -> dict[str, list[str]]:
    """alice: an old key never used (IAM.3, IAM.22); bob: a fresh one (no finding); root keys."""
    made: dict[str, list[str]] = aws_env.bulk_create([
        {"name": "alice", "create_date": iso(NOW - 400 * DAY),
         "tags": [{"Key": "owner", "Value": "alice@example.com"}],
         "keys": [{"create_date": iso(NOW - 200 * DAY)}]},
        {"name": "bob", "create_date": iso(NOW - 400 * DAY),
         "keys": [{"create_date": iso(NOW - DAY),
                   "last_used": {"date": iso(NOW), "service": "s3", "region": "us-east-1"}}]},
    ])
    aws_env.patch_account(root_access_keys=True)
    aws_env.reset(state=False)
    return made


def hub(emulator: Any, **credentials: str) -> Any:
    return boto3.client("securityhub", endpoint_url=emulator.url, region_name="us-east-1",
                        **credentials)


def stored(client: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("get_findings").paginate():
        for finding in page["Findings"]:
            assert finding["Id"] not in found, "a finding is stored twice"
            found[finding["Id"]] = finding
    return found


def calls(emulator: Any, action: str) -> list[dict[str, Any]]:
    return [e for e in emulator.stats(log=True)["log"] if e["action"] == action]


# --- ASFF ----------------------------------------------------------------------------------


def test_asff_has_every_required_field(keys: dict[str, list[str]]) -> None:
    result = iamkeys("inventory", "--output", "asff", "--owner-tag", "owner")
    assert result.code == 0, result.stderr
    found = result.json()
    alice = keys["alice"][0]
    assert [f["Id"] for f in found] == [
        f"iamkeys/{ACCOUNT}/access-key/{alice}/IAM.3",
        f"iamkeys/{ACCOUNT}/access-key/{alice}/IAM.22",
        f"iamkeys/{ACCOUNT}/root/IAM.4"]
    for finding in found:
        assert all(finding.get(name) for name in REQUIRED), finding
        assert finding["SchemaVersion"] == "2018-10-08"
        assert finding["ProductArn"] == (f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/"
                                         f"{ACCOUNT}/default")
        assert finding["AwsAccountId"] == ACCOUNT
        assert (finding["Compliance"], finding["RecordState"]) == ({"Status": "FAILED"},
                                                                   "ACTIVE")
        assert len(finding["Title"]) <= 256 and len(finding["Description"]) <= 1024
    old = found[0]
    assert old["GeneratorId"] == "iamkeys/IAM.3"
    assert old["Severity"] == {"Label": "HIGH", "Original": "3"}
    assert old["Types"] == ["Software and Configuration Checks/AWS Security Best Practices"]
    assert old["Resources"] == [{
        "Type": "AwsIamAccessKey", "Id": f"AWS::IAM::AccessKey:{alice}", "Partition": "aws",
        "Region": "us-east-1",
        "Details": {"AwsIamAccessKey": {
            "AccessKeyId": alice, "AccountId": ACCOUNT, "PrincipalName": "alice",
            "PrincipalType": "IAMUser", "Status": "Active",
            "CreatedAt": iso(NOW - 200 * DAY)}}}]
    assert old["ProductFields"] == {"iamkeys/Rule": "IAM.3", "iamkeys/UserName": "alice",
                                    "iamkeys/Owner": "alice@example.com"}
    root = found[2]
    assert root["Severity"]["Label"] == "CRITICAL"
    assert root["Resources"] == [{"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}",
                                  "Partition": "aws", "Region": "us-east-1"}]


def test_asff_ids_are_the_same_on_every_run(keys: dict[str, list[str]]) -> None:
    runs = [iamkeys("inventory", "--output", "asff").json() for _ in range(2)]
    assert [f["Id"] for f in runs[0]] == [f["Id"] for f in runs[1]]
    assert runs[0][0]["Id"] == finding_id(ACCOUNT, keys["alice"][0], "IAM.3")


def test_asff_follows_the_region_and_its_partition(keys: dict[str, list[str]]) -> None:
    found = iamkeys("inventory", "--output", "asff", "--region", "eu-west-2").json()
    assert {f["ProductArn"].split(":")[3] for f in found} == {"eu-west-2"}
    assert {f["Resources"][0]["Region"] for f in found} == {"eu-west-2"}


def test_ocsf_detection_findings(keys: dict[str, list[str]]) -> None:
    result = iamkeys("inventory", "--output", "ocsf")
    assert result.code == 0, result.stderr
    events = result.json()
    asff = iamkeys("inventory", "--output", "asff").json()
    assert [e["finding_info"]["uid"] for e in events] == [f["Id"] for f in asff]
    for event in events:
        assert (event["class_uid"], event["category_uid"], event["activity_id"],
                event["type_uid"]) == (2004, 2, 1, 200401)
        assert event["metadata"]["version"] == "1.5.0"
        assert event["metadata"]["product"]["vendor_name"] == "iamkeys"
        assert event["cloud"]["provider"] == "aws" and event["cloud"]["account"]["uid"] == ACCOUNT
        assert event["finding_info"]["title"] and event["severity_id"] in (2, 3, 4, 5)
        assert event["status_code"] == "FAIL"
        # timestamp_t: milliseconds since the epoch.
        assert abs(event["time"] / 1000 - datetime.now(UTC).timestamp()) < 120
    assert events[0]["resources"][0]["uid"] == f"AWS::IAM::AccessKey:{keys['alice'][0]}"
    assert events[2]["severity"] == "Critical"


# --- securityhub-import --------------------------------------------------------------------


def test_import_then_reimport_updates_instead_of_duplicating(keys: dict[str, list[str]],
                                                             aws_env: Any) -> None:
    first = iamkeys("inventory")
    imported = iamkeys("securityhub-import", stdin=first.stdout)
    assert imported.code == 0, imported.stderr
    assert imported.json() == {"Imported": 3, "Archived": 0, "Batches": 1,
                               "FailedFindings": [], "Errors": [], "Complete": True}
    before = stored(hub(aws_env))
    assert sorted(before) == sorted(f["Id"] for f in iamkeys("inventory", "--output",
                                                             "asff").json())
    again = iamkeys("inventory")
    assert iamkeys("securityhub-import", stdin=again.stdout).code == 0
    after = stored(hub(aws_env))
    assert sorted(after) == sorted(before)
    generated = again.json()["Summary"]["GeneratedAt"]
    assert {f["UpdatedAt"] for f in after.values()} == {generated}


def test_findings_resolved_since_the_baseline_are_archived(keys: dict[str, list[str]],
                                                           aws_env: Any, iam: Any,
                                                           tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = iamkeys("inventory", "--state", str(state))
    assert iamkeys("securityhub-import", "--input", str(state)).code == 0
    iam.delete_access_key(UserName="alice", AccessKeyId=keys["alice"][0])
    aws_env.patch_account(root_access_keys=False)
    second = iamkeys("inventory", "--state", str(state))
    assert second.code == 0, second.stderr
    resolved = second.json()["Changes"]["ResolvedFindings"]
    assert [f["Rule"] for f in resolved] == ["IAM.4", "IAM.3", "IAM.22"]  # account first
    result = iamkeys("securityhub-import", "--input", str(state))
    assert result.code == 0, result.stderr
    assert (result.json()["Imported"], result.json()["Archived"]) == (0, 3)
    found = stored(hub(aws_env))
    assert len(found) == 3
    for finding in found.values():
        assert (finding["RecordState"], finding["Compliance"]["Status"]) == ("ARCHIVED",
                                                                             "PASSED")
        assert finding["Severity"]["Label"] == "INFORMATIONAL"
        assert finding["CreatedAt"] == first.json()["Summary"]["GeneratedAt"]  # its Since
        assert finding["UpdatedAt"] == second.json()["Summary"]["GeneratedAt"]


def test_findings_go_in_batches_of_100(aws_env: Any) -> None:
    # 250 keys unused for 100 days: 250 IAM.22 findings, 3 calls.
    aws_env.bulk_create([{"name": f"u{i:03d}", "create_date": iso(NOW - 200 * DAY),
                          "keys": [{"create_date": iso(NOW - 100 * DAY)}]} for i in range(250)])
    inventory = iamkeys("inventory", "--max-key-age", "365", "--max-unused", "10")
    assert inventory.code == 0, inventory.stderr
    assert inventory.json()["Summary"]["Findings"] == 250
    aws_env.reset(state=False)
    result = iamkeys("securityhub-import", stdin=inventory.stdout)
    assert result.code == 0, result.stderr
    sizes = [len(e["params"]["Findings"]) for e in calls(aws_env, "BatchImportFindings")]
    assert sizes == [100, 100, 50]
    assert result.json()["Batches"] == 3 and len(stored(hub(aws_env))) == 250


def test_throttling_is_retried(keys: dict[str, list[str]], aws_env: Any) -> None:
    inventory = iamkeys("inventory").stdout
    aws_env.configure(faults=[{"action": "BatchImportFindings", "kind": "throttle",
                               "times": 4}])
    result = iamkeys("securityhub-import", stdin=inventory)
    assert result.code == 0, result.stderr
    assert aws_env.stats()["faults_by_kind"] == {"throttle": 4}
    assert [e["status"] for e in calls(aws_env, "BatchImportFindings")] == [429] * 4 + [200]
    assert len(stored(hub(aws_env))) == 3


def test_each_refused_finding_is_named_exit_3(keys: dict[str, list[str]], aws_env: Any) -> None:
    inventory = iamkeys("inventory").stdout
    refused = finding_id(ACCOUNT, keys["alice"][0], "IAM.22")
    aws_env.configure(faults=[{"action": "BatchImportFindings", "kind": "reject_finding",
                               "match": {"Id": refused}, "code": "InvalidInput",
                               "message": "Finding too large"}])
    result = iamkeys("securityhub-import", stdin=inventory)
    assert result.code == 3
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"iamkeys: finding {refused} (account {ACCOUNT}) refused: InvalidInput: "
        "Finding too large",
        "Error: 1 finding(s) not imported; see FailedFindings and Errors in the output"]
    document = result.json()
    assert document["FailedFindings"] == [{"AccountId": ACCOUNT, "Id": refused,
                                           "ErrorCode": "InvalidInput",
                                           "ErrorMessage": "Finding too large"}]
    assert (document["Imported"], document["Complete"]) == (2, False)
    assert refused not in stored(hub(aws_env))


def test_nothing_imported_is_exit_1(keys: dict[str, list[str]], aws_env: Any) -> None:
    inventory = iamkeys("inventory").stdout
    aws_env.configure(faults=[{"action": "BatchImportFindings", "kind": "access_denied",
                               "code": "AccessDeniedException", "message": "not allowed"}])
    result = iamkeys("securityhub-import", stdin=inventory)
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: AccessDeniedException: not allowed [account {ACCOUNT}, BatchImportFindings]; "
        "no finding was imported")


def test_each_account_imports_its_own_findings(organization: Organization,  # noqa: F811
                                               aws_env: Any, tmp_path: Path) -> None:
    inventory = iamkeys("inventory", "--organization")
    assert inventory.code == 0, inventory.stderr
    by_account: dict[str, int] = {}
    for key in inventory.json()["Keys"]:
        by_account[key["AccountId"]] = by_account.get(key["AccountId"], 0) + len(key["Findings"])
    denied = organization.members[2]
    aws_env.reset(state=False)  # counters and log: the import's calls only
    aws_env.configure(faults=[{"action": "AssumeRole", "kind": "access_denied",
                               "match": {"RoleArn": f"arn:aws:iam::{denied}:role/{ROLE}"}}])
    result = iamkeys("securityhub-import", "--external-id", "ext-1", stdin=inventory.stdout)
    assert result.code == 3
    assert result.json()["Errors"] == [{
        "AccountId": denied, "Operation": "AssumeRole", "Code": "AccessDenied",
        "Message": f"User: arn:aws:iam::{ACCOUNT}:user/harness is not authorized to perform: "
                   "iam:AssumeRole", "Findings": by_account[denied]}]
    assert result.json()["FailedFindings"] == []  # each account sent only its own
    roles = [e["params"] for e in calls(aws_env, "AssumeRole")]
    assert {r["RoleSessionName"] for r in roles} == {"iamkeys-securityhub"}
    assert {r["ExternalId"] for r in roles} == {"ext-1"}
    for account in (organization.members[0], organization.members[1]):
        member = assumed_hub(aws_env, account)
        assert {f["AwsAccountId"] for f in stored(member).values()} == {account}
        assert len(stored(member)) == by_account[account]
    assert len(stored(hub(aws_env))) == by_account.get(MANAGEMENT, 0)


def test_the_emulator_refuses_what_security_hub_refuses(aws_env: Any) -> None:
    from botocore.config import Config

    # botocore checks required members itself; sent anyway, the emulator refuses them too.
    client = boto3.client("securityhub", endpoint_url=aws_env.url, region_name="us-east-1",
                          config=Config(parameter_validation=False))
    finding = iamkeys_finding()
    other = {**finding, "Id": "x2", "AwsAccountId": "999999999999"}
    missing = {k: v for k, v in finding.items() if k != "Title"} | {"Id": "x3"}
    answer = client.batch_import_findings(Findings=[finding, other, missing])
    assert answer["SuccessCount"] == 1
    assert [(f["Id"], f["ErrorCode"]) for f in answer["FailedFindings"]] == [
        ("x2", "AccessDeniedException"), ("x3", "InvalidInput")]
    with pytest.raises(client.exceptions.InvalidInputException):
        client.batch_import_findings(Findings=[{**finding, "Id": f"y{i}"} for i in range(101)])


def iamkeys_finding() -> dict[str, Any]:
    return {"SchemaVersion": "2018-10-08", "Id": "x1",
            "ProductArn": f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default",
            "GeneratorId": "g", "AwsAccountId": ACCOUNT, "Types": ["t/c"],
            "CreatedAt": "2026-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z",
            "Severity": {"Label": "LOW"}, "Title": "t", "Description": "d",
            "Resources": [{"Type": "Other", "Id": "r"}]}


def assumed_hub(emulator: Any, account_id: str) -> Any:
    sts = boto3.client("sts", endpoint_url=emulator.url, region_name="us-east-1")
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                                  RoleSessionName="test")["Credentials"]
    return hub(emulator, aws_access_key_id=credentials["AccessKeyId"],
               aws_secret_access_key=credentials["SecretAccessKey"],
               aws_session_token=credentials["SessionToken"])


@pytest.mark.parametrize(("args", "message"), [
    (["--role-name", "no spaces"], "Error: --role-name: "),
    (["--external-id", "x"], "Error: --external-id: "),
    (["--region", "mars"], "Error: --region: "),
    (["--input", "/nonexistent.json"], "Error: --input: cannot read '/nonexistent.json'"),
])
def test_bad_input_is_exit_2_before_any_request(aws_env: Any, args: list[str],
                                                message: str) -> None:
    result = iamkeys("securityhub-import", *args, stdin="{}")
    assert_one_line_error(result, 2, message)
    assert aws_env.stats()["total"] == 0


def test_a_listing_is_not_an_inventory(aws_env: Any) -> None:
    result = iamkeys("securityhub-import", stdin='{"AccessKeyMetadata": [], "IsTruncated": false}')
    assert_one_line_error(result, 2, "--input: stdin: not an iamkeys result: expected an "
                                     "inventory")
    assert aws_env.stats()["total"] == 0


# --- the workflow action -------------------------------------------------------------------


def test_the_workflow_action_imports_an_inventory_step(keys: dict[str, list[str]],
                                                       aws_env: Any, tmp_path: Path) -> None:
    workflow = tmp_path / "to-security-hub.yaml"
    workflow.write_text(
        "name: to-security-hub\n"
        "steps:\n"
        "  - id: inventory\n"
        "    action: aws.iam.inventory\n"
        "    with:\n"
        "      owner_tag: owner\n"
        f"      state: {tmp_path / 'state.json'}\n"
        "  - id: import\n"
        "    action: aws.securityhub.import\n"
        "    with:\n"
        "      inventory: \"{{ steps.inventory.output }}\"\n")
    result = iamkeys("run", str(workflow))
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines() == ["iamkeys: step inventory: aws.iam.inventory ... ok",
                                          "iamkeys: step import: aws.securityhub.import ... ok"]
    assert result.json()["Imported"] == 3
    assert len(stored(hub(aws_env))) == 3
    saved = documents.inventory(json.loads((tmp_path / "state.json").read_text()))
    assert saved.owner_tags == ("owner",)


def test_the_action_validates_like_the_cli() -> None:
    action = actions.get("aws.securityhub.import")
    with pytest.raises(InputError) as caught:
        action.validate({"inventory": {"AccessKeyMetadata": [], "IsTruncated": False}})
    assert caught.value.parameter == "inventory"
    with pytest.raises(InputError) as caught:
        action.validate({"role_name": "bad name"})
    assert caught.value.parameter == "role_name"
    with pytest.raises(InputError, match="is required by aws.securityhub.import"):
        action.validate({})
    inventory = actions.get("aws.iam.inventory")
    with pytest.raises(InputError) as caught:
        inventory.validate({"state": "s3://x"})
    assert caught.value.parameter == "state"
    with pytest.raises(InputError) as caught:
        inventory.validate({"owner_tag": ["ok", "not,ok"]})
    assert caught.value.parameter == "owner_tag"
