"""`iamkeys inventory --organization / --accounts` against moto's Organizations, STS and IAM.

Member accounts are made by CreateAccount; their users are made by assuming the member's
OrganizationAccountAccessRole (moto picks the account from the assumed-role credentials) and,
for volume, by the harness in the member's backend. Every key must be attributed to its account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from cli_runner import assert_one_line_error, iamkeys
from iamkeys.aws import Connection
from iamkeys.inventory import InventoryRequest, run

MANAGEMENT = "123456789012"
ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class Organization:
    """Account ids, and every key id -> the account that owns it."""

    members: tuple[str, ...]
    suspended: str
    keys: dict[str, str]


def assumed_iam(emulator: Any, account_id: str) -> Any:
    """An IAM client in the member account, through its OrganizationAccountAccessRole."""
    sts = boto3.client("sts", endpoint_url=emulator.url, region_name="us-east-1")
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                                  RoleSessionName="test-setup")["Credentials"]
    return boto3.client("iam", endpoint_url=emulator.url, region_name="us-east-1",
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


@pytest.fixture
def organization(aws_env: Any, iam: Any) -> Organization:
    org = boto3.client("organizations", endpoint_url=aws_env.url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    members = tuple(org.create_account(Email=f"member{i}@example.com", AccountName=f"m{i}")
                    ["CreateAccountStatus"]["AccountId"] for i in range(4))
    keys: dict[str, str] = {}
    for index, account in enumerate(members):
        member_iam = assumed_iam(aws_env, account)
        for u in range(3):
            name = f"m{index}-api-{u}"
            member_iam.create_user(UserName=name)
            for _ in range(u % 3):
                made = member_iam.create_access_key(UserName=name)["AccessKey"]
                keys[made["AccessKeyId"]] = account
        bulk = aws_env.bulk_create([{"name": f"m{index}-bulk-{u}", "keys": [{}] * (u % 3)}
                                    for u in range(40)], account_id=account)
        keys.update({key_id: account for ids in bulk.values() for key_id in ids})
    iam.create_user(UserName="admin")
    keys[iam.create_access_key(UserName="admin")["AccessKey"]["AccessKeyId"]] = MANAGEMENT
    org.close_account(AccountId=members[-1])
    suspended = members[-1]
    aws_env.reset(state=False)
    return Organization(members=members[:-1], suspended=suspended,
                        keys={k: a for k, a in keys.items() if a != suspended})


def owners(document: dict[str, Any]) -> dict[str, str]:
    ids = [k["AccessKeyId"] for k in document["Keys"]]
    assert len(ids) == len(set(ids)), "a key was listed twice"
    return {k["AccessKeyId"]: k["AccountId"] for k in document["Keys"]}


def assume_role_calls(emulator: Any) -> list[dict[str, Any]]:
    return [entry["params"] for entry in emulator.stats(log=True)["log"]
            if entry["action"] == "AssumeRole"]


def test_organization_finds_every_key_in_its_account(organization: Organization, aws_env: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # --endpoint-url reaches Organizations and STS as well as IAM.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    result = iamkeys("inventory", "--organization", "--endpoint-url", aws_env.url)
    assert result.code == 0, result.stderr
    document = result.json()
    assert owners(document) == organization.keys
    summary = document["Summary"]
    assert summary["Accounts"] == 4
    assert [a["AccountId"] for a in summary["ByAccount"]] == sorted(
        (MANAGEMENT, *organization.members))
    assert all(a["Users"] == 43 for a in summary["ByAccount"] if a["AccountId"] != MANAGEMENT)
    assert organization.suspended not in {a["AccountId"] for a in summary["ByAccount"]}
    roles = assume_role_calls(aws_env)
    # Members are reached through the role; the caller's own account is used directly.
    assert sorted(r["RoleArn"] for r in roles) == sorted(
        f"arn:aws:iam::{m}:role/{ROLE}" for m in organization.members)
    assert {r["RoleSessionName"] for r in roles} == {"iamkeys-inventory"}
    assert all("ExternalId" not in r for r in roles)


def test_root_keys_are_flagged_in_their_own_account(organization: Organization,
                                                    aws_env: Any) -> None:
    flagged = organization.members[1]
    aws_env.patch_account(flagged, root_access_keys=True)
    result = iamkeys("inventory", "--organization", "--no-last-used")
    assert result.code == 0, result.stderr
    document = result.json()
    assert [(f["AccountId"], f["Rule"]) for f in document["AccountFindings"]] == [
        (flagged, "IAM.4")]
    present = {a["AccountId"]: a["RootAccessKeysPresent"]
               for a in document["Summary"]["ByAccount"]}
    assert present == {account: account == flagged
                       for account in (MANAGEMENT, *organization.members)}


def test_accounts_lists_only_those_given(organization: Organization, aws_env: Any) -> None:
    chosen = (organization.members[0], MANAGEMENT)
    result = iamkeys("inventory", "--accounts", ",".join(chosen), "--external-id", "ext-42")
    assert result.code == 0, result.stderr
    assert owners(result.json()) == {k: a for k, a in organization.keys.items() if a in chosen}
    [role] = assume_role_calls(aws_env)
    assert (role["RoleArn"], role["ExternalId"]) == (
        f"arn:aws:iam::{organization.members[0]}:role/{ROLE}", "ext-42")


def test_role_name_is_the_role_assumed(organization: Organization, aws_env: Any) -> None:
    member = organization.members[1]
    # moto lets any role be assumed; the ARN sent is what matters.
    result = iamkeys("inventory", "--accounts", member, "--role-name", "Audit.Reader")
    assert result.code == 0, result.stderr
    assert [r["RoleArn"] for r in assume_role_calls(aws_env)] == [
        f"arn:aws:iam::{member}:role/Audit.Reader"]
    assert set(owners(result.json()).values()) == {member}


def test_an_account_that_cannot_be_assumed_is_an_error(organization: Organization,
                                                       aws_env: Any) -> None:
    denied = organization.members[0]
    aws_env.configure(faults=[{"action": "AssumeRole", "kind": "access_denied",
                               "message": "not allowed",
                               "match": {"RoleArn": f"arn:aws:iam::{denied}:role/{ROLE}"}}])
    result = iamkeys("inventory", "--organization")
    assert_one_line_error(result, 3, "1 item(s) could not be listed")
    document = result.json()
    assert document["Errors"] == [{"AccountId": denied, "UserName": None, "AccessKeyId": None,
                                   "Operation": "AssumeRole", "Code": "AccessDenied",
                                   "Message": "not allowed"}]
    assert owners(document) == {k: a for k, a in organization.keys.items() if a != denied}
    by_account = {a["AccountId"]: a for a in document["Summary"]["ByAccount"]}
    assert by_account[denied] == {"AccountId": denied, "Users": 0, "Keys": 0,
                                  "RootAccessKeysPresent": None, "Listed": False}


def test_nothing_listed_when_every_account_fails(organization: Organization,
                                                 aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "AssumeRole", "kind": "access_denied"}])
    members = ",".join(organization.members)
    result = iamkeys("inventory", "--accounts", members)
    assert_one_line_error(result, 1, "AccessDenied", "AssumeRole",
                          "and 2 more account(s) failed")
    assert result.stdout == ""


def test_small_pool_still_reaches_every_account(organization: Organization) -> None:
    # concurrency 2: one ListUsers walker, one request per account in flight at a time.
    inv = run(InventoryRequest(organization=True, concurrency=2, users_per_page=7),
              connection=Connection())
    assert {k.access_key_id: k.account_id for k in inv.keys} == organization.keys
    assert inv.complete


def test_organization_listing_failure_is_exit_1(organization: Organization,
                                               aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListAccounts", "kind": "access_denied",
                               "message": "not the management account"}])
    result = iamkeys("inventory", "--organization")
    assert_one_line_error(result, 1, "AccessDenied: not the management account")
    assert [e["action"] for e in aws_env.stats(log=True)["log"]] == [
        "GetCallerIdentity", "ListAccounts"]


def test_an_organization_without_active_accounts_is_exit_1(aws_env: Any) -> None:
    result = iamkeys("inventory", "--organization")
    assert_one_line_error(result, 1, "NoActiveAccounts")
