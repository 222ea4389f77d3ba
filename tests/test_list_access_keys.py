"""`iamkeys list-access-keys` end to end against the IAM emulator process, over HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_runner import assert_one_line_error, iamkeys
from seed_data import SEED_KEYS

ALICE_KEYS = SEED_KEYS


def make_user(iam: Any, emulator: Any, name: str, keys: list[dict[str, str]]) -> list[str]:
    """Create a user and its keys over the API, then set ids, dates and status on the emulator."""
    iam.create_user(UserName=name)
    ids = []
    for key in keys:
        made = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        renamed = {"new_access_key_id": key["AccessKeyId"]} if "AccessKeyId" in key else {}
        emulator.patch_key(access_key_id=made, create_date=key["CreateDate"],
                           status=key.get("Status", "Active"), **renamed)
        ids.append(key.get("AccessKeyId", made))
    return ids


@pytest.fixture
def alice(aws_env: Any, iam: Any) -> Any:
    """The seed's example user, Alice, with her two keys."""
    make_user(iam, aws_env, "Alice", ALICE_KEYS)
    aws_env.reset(state=False)
    return aws_env


def requests_for(emulator: Any, action: str) -> int:
    return int(emulator.stats()["by_action"].get(action, 0))


def test_seed_example_output(alice: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice")
    assert result.code == 0, result.stderr
    assert result.stdout == json.dumps(
        {"AccessKeyMetadata": ALICE_KEYS, "IsTruncated": False}, indent=2) + "\n"
    assert list(result.json()["AccessKeyMetadata"][0]) == [
        "AccessKeyId", "CreateDate", "Status", "UserName"]
    assert requests_for(alice, "ListAccessKeys") == 1


def test_no_keys_is_an_empty_list(aws_env: Any, iam: Any) -> None:
    iam.create_user(UserName="nokeys")
    result = iamkeys("list-access-keys", "--user-name", "nokeys")
    assert result.code == 0, result.stderr
    assert result.json() == {"AccessKeyMetadata": [], "IsTruncated": False}


def test_matches_the_aws_cli(aws_env: Any, iam: Any) -> None:
    users = {
        "Alice": ALICE_KEYS,
        "bob.smith@example.com": [{"CreateDate": "2020-02-29T00:00:00Z", "Status": "Inactive"}],
        "carol+ops=1,x": [{"CreateDate": "2024-07-04T12:34:56Z"},
                          {"CreateDate": "2025-01-01T00:00:00Z", "Status": "Inactive"}],
        "dave": [],
    }
    for name, keys in users.items():
        make_user(iam, aws_env, name, keys)
    for name in users:
        ours = iamkeys("list-access-keys", "--user-name", name)
        theirs = aws_cli("iam", "list-access-keys", "--user-name", name)
        assert ours.code == 0, ours.stderr
        assert normalise(ours.json()["AccessKeyMetadata"]) == normalise(
            theirs["AccessKeyMetadata"])
        assert len(ours.json()["AccessKeyMetadata"]) == len(users[name])


def aws_cli(*args: str) -> Any:
    """The AWS CLI (awscli from PyPI), our reference client, on the same server."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "awscli", *args, "--output", "json"],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


def normalise(keys: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    """Keys as comparable tuples; the AWS CLI prints +00:00 where we print Z."""
    return sorted((k["UserName"], k["AccessKeyId"], k["Status"],
                   re.sub(r"(\.\d+)?(\+00:00|Z)$", "Z", k["CreateDate"])) for k in keys)


def test_pagination_marker_round_trip(alice: Any) -> None:
    first = iamkeys("list-access-keys", "--user-name", "Alice", "--max-items", "1")
    assert first.code == 0, first.stderr
    page = first.json()
    assert page["AccessKeyMetadata"] == ALICE_KEYS[:1]
    assert page["IsTruncated"] is True and page["Marker"]
    assert list(page) == ["AccessKeyMetadata", "IsTruncated", "Marker"]
    assert page["Marker"] in first.stderr and "--all-pages" in first.stderr
    second = iamkeys("list-access-keys", "--user-name", "Alice", "--marker", page["Marker"])
    assert second.code == 0, second.stderr
    assert second.json() == {"AccessKeyMetadata": ALICE_KEYS[1:], "IsTruncated": False}


def test_all_pages_merges(alice: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice", "--max-items", "1", "--all-pages")
    assert result.code == 0, result.stderr
    assert result.json() == {"AccessKeyMetadata": ALICE_KEYS, "IsTruncated": False}
    assert requests_for(alice, "ListAccessKeys") == 2
    sent = [e["params"].get("MaxItems") for e in alice.stats(log=True)["log"]]
    assert sent == ["1", "1"]


def test_max_items_not_sent_when_omitted(alice: Any) -> None:
    assert iamkeys("list-access-keys", "--user-name", "Alice").code == 0
    (entry,) = alice.stats(log=True)["log"]
    assert "MaxItems" not in entry["params"] and "Marker" not in entry["params"]


def test_implicit_user_is_the_signer(aws_env: Any, iam: Any) -> None:
    make_user(iam, aws_env, "Alice", ALICE_KEYS)
    iam.create_user(UserName="signer")
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    result = iamkeys("list-access-keys", env=env)
    assert result.code == 0, result.stderr
    assert [k["UserName"] for k in result.json()["AccessKeyMetadata"]] == ["signer"]
    assert [k["AccessKeyId"] for k in result.json()["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    assert key["SecretAccessKey"] not in result.stdout + result.stderr


def test_temporary_credentials_need_a_user_name(aws_env: Any) -> None:
    aws_env.reset(state=False)
    result = iamkeys("list-access-keys", env={"AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLETOKEN"})
    assert_one_line_error(result, 2, "--user-name", "temporary credentials")
    assert "FwoGZXIvYXdzEXAMPLETOKEN" not in result.stderr
    assert aws_env.stats()["total"] == 0


def test_raw_xml_is_the_body_as_sent(alice: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice", "--raw-xml")
    assert result.code == 0, result.stderr
    (entry,) = alice.stats(log=True)["log"]
    assert result.stdout == entry["response_body"]
    assert result.stdout.startswith("<ListAccessKeysResponse")


def test_raw_xml_all_pages_one_document_per_page(alice: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice", "--raw-xml", "--all-pages",
                     "--max-items", "1")
    assert result.code == 0, result.stderr
    bodies = [e["response_body"] for e in alice.stats(log=True)["log"]]
    assert len(bodies) == 2
    assert result.stdout == "\n".join(bodies)


@pytest.mark.parametrize(("regions", "calls", "partitions"), [
    ("us-east-1", 1, None),
    ("us-east-1,eu-west-2,ap-southeast-2,us-west-2", 1, None),
    ("*", 1, None),
    ("us-east-1,cn-north-1", 2, ["aws", "aws-cn"]),
])
def test_one_call_per_partition(alice: Any, regions: str, calls: int,
                                partitions: list[str] | None) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice", "--regions", regions)
    assert f"-> {calls} IAM call(s)" in result.stderr
    if partitions is None:
        assert result.code == 0, result.stderr
        assert result.json()["AccessKeyMetadata"] == ALICE_KEYS
        assert requests_for(alice, "ListAccessKeys") == 1
    else:
        # The emulator keeps each partition apart: Alice exists only in `aws`.
        assert result.code == 1
        assert "NoSuchEntity" in result.stderr


def test_multi_partition_json_is_keyed_by_partition(aws_env: Any) -> None:
    import boto3

    for region in ("us-east-1", "cn-north-1", "us-gov-west-1"):
        iam = boto3.client("iam", region_name=region, endpoint_url=aws_env.url)
        iam.create_user(UserName="Alice")
        iam.create_access_key(UserName="Alice")
    aws_env.reset(state=False)
    result = iamkeys("list-access-keys", "--user-name", "Alice", "--regions",
                     "us-east-1,cn-north-1,cn-northwest-1,eu-west-1,us-gov-west-1")
    assert result.code == 0, result.stderr
    assert "5 region(s) -> 3 IAM call(s)" in result.stderr
    assert requests_for(aws_env, "ListAccessKeys") == 3
    document = result.json()
    assert list(document) == ["aws", "aws-cn", "aws-us-gov"]
    for partition in document.values():
        assert partition["IsTruncated"] is False
        assert [k["UserName"] for k in partition["AccessKeyMetadata"]] == ["Alice"]


def test_table_and_csv(alice: Any) -> None:
    csv_result = iamkeys("list-access-keys", "--user-name", "Alice", "--output", "csv")
    assert csv_result.stdout.splitlines() == [
        "AccessKeyId,CreateDate,Status,UserName",
        "AKIA111111111EXAMPLE,2016-12-01T22:19:58Z,Active,Alice",
        "AKIA222222222EXAMPLE,2016-12-01T22:20:01Z,Active,Alice",
    ]
    table = iamkeys("list-access-keys", "--user-name", "Alice", "--output", "table")
    assert table.code == 0
    lines = table.stdout.splitlines()
    assert "AccessKeyId" in lines[1] and "UserName" in lines[1]
    assert sum("AKIA" in line for line in lines) == 2


@pytest.mark.parametrize(("args", "option"), [
    (["--user-name", "Alicé"], "--user-name"),
    (["--user-name", ""], "--user-name"),
    (["--user-name", "a" * 129], "--user-name"),
    (["--marker", ""], "--marker"),
    (["--marker", "x" * 321], "--marker"),
    (["--marker", "\u0100"], "--marker"),
    (["--max-items", "0"], "--max-items"),
    (["--max-items", "1001"], "--max-items"),
    (["--max-items", "ten"], "--max-items"),
    (["--regions", "us-east-1,"], "--regions"),
    (["--regions", "xx-nowhere-1"], "--regions"),
    (["--regions", "us-east-1.evil.example"], "--regions"),
    (["--output", "yaml"], "--output"),
    (["--output", "csv", "--raw-xml"], "--output"),
    (["--endpoint-url", "ftp://127.0.0.1"], "--endpoint-url"),
    (["--read-timeout", "0"], "--read-timeout"),
    (["--profile", "no such profile"], "--profile"),
    (["--profile", "missing-profile"], "--profile"),
])
def test_bad_input_exits_2_before_any_request(aws_env: Any, args: list[str], option: str) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice", *args)
    assert_one_line_error(result, 2, option)
    assert aws_env.stats()["total"] == 0


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40).filter(
    lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,128}", s) and "\x00" not in s
    and not s.startswith("-")))
def test_property_user_names_outside_the_rule(aws_env: Any, value: str) -> None:
    aws_env.reset(state=False)
    result = iamkeys("list-access-keys", "--user-name", value)
    assert_one_line_error(result, 2, "--user-name")
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize(("fault", "code"), [
    ({"kind": "access_denied"}, "AccessDenied"),
    ({"kind": "throttle"}, "Throttling"),
    ({"kind": "error500"}, "ServiceFailure"),
])
def test_aws_errors_one_line_exit_1(alice: Any, fault: dict[str, Any], code: str) -> None:
    alice.configure(faults=[{"action": "ListAccessKeys", **fault}])
    result = iamkeys("list-access-keys", "--user-name", "Alice")
    assert_one_line_error(result, 1, code)
    if code in ("Throttling", "ServiceFailure"):
        assert requests_for(alice, "ListAccessKeys") == 3  # AWS_MAX_ATTEMPTS=3 in the fixture


def test_no_such_entity(aws_env: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "nobody")
    assert_one_line_error(result, 1, "NoSuchEntity", "nobody")


def test_throttling_then_success_is_retried(alice: Any) -> None:
    alice.configure(faults=[{"action": "ListAccessKeys", "kind": "throttle", "times": 2}])
    result = iamkeys("list-access-keys", "--user-name", "Alice")
    assert result.code == 0, result.stderr
    assert result.json()["AccessKeyMetadata"] == ALICE_KEYS
    assert requests_for(alice, "ListAccessKeys") == 3


def test_connection_refused(aws_env: Any) -> None:
    result = iamkeys("list-access-keys", "--user-name", "Alice",
                     env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert_one_line_error(result, 1, "EndpointConnectionError")


def test_python_dash_m_and_console_script_agree(alice: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "iamkeys"
    done = subprocess.run([str(script), "list-access-keys", "--user-name", "Alice"],
                          capture_output=True, text=True, check=True)
    assert done.stdout == iamkeys("list-access-keys", "--user-name", "Alice").stdout
