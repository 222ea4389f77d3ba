"""The IAM emulator harness, exercised over the wire with boto3 and the real AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from harness import TEST_ACCESS_KEY_ID, aws
from harness.client import Emulator, HarnessError

NS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/"}
# botocore's retries["max_attempts"] counts *retries* (1 => 2 requests); total_max_attempts
# is the number of requests, so 1 really disables retrying.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
TESTS_DIR = Path(__file__).resolve().parent
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --------------------------------------------------------------------------- helpers
def client(emu: Emulator, service: str = "iam", **config: Any) -> Any:
    """A boto3 client on the emulator with retries disabled (plus optional Config fields)."""
    cfg = NO_RETRY.merge(Config(**config)) if config else NO_RETRY
    return aws.session().client(service, endpoint_url=emu.url, region_name="us-east-1", config=cfg)


def raw_iam(emu: Emulator, params: dict[str, str]) -> tuple[int, str]:
    """POST a hand-built IAM query request; returns (status, body)."""
    body = urlencode({"Version": "2010-05-08", **params}).encode()
    auth = (
        f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/20240101/us-east-1/iam/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    req = urllib.request.Request(
        f"{emu.url}/",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": auth,
        },
    )
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response["Error"]["Code"])


def http_status(exc: ClientError) -> int:
    """The HTTP status of a ClientError."""
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def make_users(
    emu: Emulator, count: int, keys: int = 0, prefix: str = "user"
) -> dict[str, list[str]]:
    """Bulk-create `count` users spread over a few paths, each with `keys` keys."""
    paths = ["/", "/eng/", "/eng/platform/", "/ops/"]
    users = [
        {"name": f"{prefix}{i:05d}", "path": paths[i % len(paths)], "keys": [{}] * keys}
        for i in range(count)
    ]
    return emu.bulk_create(users)


def awscli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real AWS CLI (v1) with the test environment."""
    return subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


# --------------------------------------------------------------------------- pagination
def test_list_access_keys_pages_like_iam(aws_env: Emulator, iam: Any) -> None:
    """MaxItems=1 gives IsTruncated+Marker; the Marker yields the second key, oldest first."""
    iam.create_user(UserName="bob")
    first = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    second = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    # Make the key created second the older one: order must follow CreateDate, not insertion.
    aws_env.patch_key(second, create_date="2015-01-01T00:00:00Z")

    page1 = iam.list_access_keys(UserName="bob", MaxItems=1)
    assert page1["IsTruncated"] is True
    assert [k["AccessKeyId"] for k in page1["AccessKeyMetadata"]] == [second]
    page2 = iam.list_access_keys(UserName="bob", MaxItems=1, Marker=page1["Marker"])
    assert [k["AccessKeyId"] for k in page2["AccessKeyMetadata"]] == [first]
    assert page2["IsTruncated"] is False
    assert "Marker" not in page2


def test_list_access_keys_xml_shape(aws_env: Emulator, iam: Any) -> None:
    """The raw response carries UserName, IsTruncated and ISO-8601 Z dates like IAM's."""
    iam.create_user(UserName="bob")
    iam.create_access_key(UserName="bob")
    status, body = raw_iam(aws_env, {"Action": "ListAccessKeys", "UserName": "bob"})
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == f"{{{NS['iam']}}}ListAccessKeysResponse"
    result = root.find("iam:ListAccessKeysResult", NS)
    assert result is not None
    assert result.findtext("iam:UserName", namespaces=NS) == "bob"
    assert result.findtext("iam:IsTruncated", namespaces=NS) == "false"
    member = result.find("iam:AccessKeyMetadata/iam:member", NS)
    assert member is not None
    fields = [child.tag.split("}")[1] for child in member]
    assert fields == ["UserName", "AccessKeyId", "Status", "CreateDate"]
    assert (member.findtext("iam:CreateDate", namespaces=NS) or "").endswith("Z")
    assert root.findtext("iam:ResponseMetadata/iam:RequestId", namespaces=NS)


def test_list_users_pages_of_100_over_paths(aws_env: Emulator, iam: Any) -> None:
    """250 users on 4 paths: pages of 100 return everyone exactly once; PathPrefix filters."""
    make_users(aws_env, 250)
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 100}))
    names = [u["UserName"] for p in pages for u in p["Users"]]
    assert [len(p["Users"]) for p in pages] == [100, 100, 50]
    assert names == sorted(names) and len(set(names)) == 250

    default = iam.list_users()
    assert len(default["Users"]) == 100 and default["IsTruncated"] is True

    eng = [
        u for p in iam.get_paginator("list_users").paginate(PathPrefix="/eng/") for u in p["Users"]
    ]
    assert {u["Path"] for u in eng} == {"/eng/", "/eng/platform/"}
    assert len(eng) == 125



@pytest.mark.parametrize("fast_paths", [True, False])
def test_page_cap_shortens_pages_whatever_max_items(
    aws_env: Emulator, iam: Any, fast_paths: bool
) -> None:
    """page_cap=7: pages of 7 users even with MaxItems=1000; every user still once."""
    make_users(aws_env, 20, keys=2)
    aws_env.configure(page_cap=7, fast_paths=fast_paths)
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1000}))
    assert [len(p["Users"]) for p in pages] == [7, 7, 6]
    assert len({u["UserName"] for p in pages for u in p["Users"]}) == 20
    config = aws_env.configure(page_cap={"ListAccessKeys": 1})
    assert config["page_cap"] == {"ListAccessKeys": 1}
    keys = iam.list_access_keys(UserName="user00000", MaxItems=100)
    assert len(keys["AccessKeyMetadata"]) == 1 and keys["IsTruncated"] is True
    assert len(iam.list_users(MaxItems=1000)["Users"]) == 20
    assert aws_env.configure(page_cap=None)["page_cap"] is None
    assert len(iam.list_users(MaxItems=1000)["Users"]) == 20
    for bad in (0, {"ListRoles": 5}, {"ListUsers": True}):
        with pytest.raises(HarnessError) as info:
            aws_env.configure(page_cap=bad)
        assert info.value.status == 400

@pytest.mark.parametrize("fast_paths", [True, False])
def test_list_users_marker_survives_deletion(aws_env: Emulator, iam: Any, fast_paths: bool) -> None:
    """Deleting users between pages neither repeats nor skips the remaining users."""
    aws_env.configure(fast_paths=fast_paths)
    make_users(aws_env, 6)
    page1 = iam.list_users(MaxItems=2)
    assert [u["UserName"] for u in page1["Users"]] == ["user00000", "user00001"]
    aws_env.delete_user("user00001")  # last item already served
    aws_env.delete_user("user00002")  # first item of the next page
    page2 = iam.list_users(MaxItems=2, Marker=page1["Marker"])
    assert [u["UserName"] for u in page2["Users"]] == ["user00003", "user00004"]
    page3 = iam.list_users(MaxItems=2, Marker=page2["Marker"])
    assert [u["UserName"] for u in page3["Users"]] == ["user00005"]
    assert page3["IsTruncated"] is False


def test_fast_paths_match_moto_byte_for_byte(aws_env: Emulator, iam: Any) -> None:
    """The layer's ListUsers/GetAccessKeyLastUsed fast paths answer exactly like moto's path."""
    key_ids = make_users(aws_env, 30, keys=1)
    used, unused = key_ids["user00003"][0], key_ids["user00004"][0]
    aws_env.patch_key(used, last_used={"date": "2024-02-03T04:05:06Z", "service": "s3"})
    aws_env.patch_user("user00007", create_date="2016-12-01T22:00:00.123456Z")
    requests = [
        {"Action": "ListUsers", "MaxItems": "7"},
        {"Action": "ListUsers", "PathPrefix": "/eng/", "MaxItems": "3"},
        {"Action": "GetAccessKeyLastUsed", "AccessKeyId": used},
        {"Action": "GetAccessKeyLastUsed", "AccessKeyId": unused},
        {"Action": "GetAccessKeyLastUsed", "AccessKeyId": "AKIADOESNOTEXIST0000"},
    ]

    def answers() -> list[tuple[int, str]]:
        out = []
        for params in requests:
            status, body = raw_iam(aws_env, params)
            root = ET.fromstring(body)
            for rid in root.iter():  # request ids differ per call by design
                if rid.tag.endswith("RequestId"):
                    rid.text = "-"
            out.append((status, ET.tostring(root, encoding="unicode")))
        return out

    aws_env.configure(fast_paths=True)
    fast = answers()
    aws_env.configure(fast_paths=False)
    slow = answers()
    assert fast[-1][0] == 404
    for f, s in zip(fast[:-1], slow[:-1], strict=True):
        assert f == s
    # moto's own 404 body has an extra lowercase <message>; both paths return moto's.
    assert fast[-1] == slow[-1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Marker": "not-a-marker"}, "Invalid Marker"),
        ({"MaxItems": "0"}, "greater than or equal to 1"),
        ({"MaxItems": "1001"}, "less than or equal to 1000"),
        ({"MaxItems": "ten"}, "must be an integer"),
    ],
)
def test_invalid_paging_input_is_validation_error(
    aws_env: Emulator, iam: Any, params: dict[str, str], message: str
) -> None:
    """Bad Marker/MaxItems get 400 ValidationError, as from IAM."""
    iam.create_user(UserName="bob")
    for action in ("ListUsers", "ListAccessKeys"):
        status, body = raw_iam(aws_env, {"Action": action, "UserName": "bob", **params})
        assert status == 400
        assert "<Code>ValidationError</Code>" in body and message in body


def test_invalid_marker_via_boto3(aws_env: Emulator, iam: Any) -> None:
    """boto3 surfaces the bad Marker as a ValidationError ClientError."""
    with pytest.raises(ClientError) as info:
        iam.list_users(Marker="garbage")
    assert error_code(info.value) == "ValidationError"
    assert http_status(info.value) == 400


def test_moto_errors_pass_through(aws_env: Emulator, iam: Any) -> None:
    """A missing user is moto's 404 NoSuchEntity, unchanged by the paging layer."""
    with pytest.raises(ClientError) as info:
        iam.list_access_keys(UserName="ghost", MaxItems=5)
    assert error_code(info.value) == "NoSuchEntity"
    assert http_status(info.value) == 404
    assert "ghost" in info.value.response["Error"]["Message"]


# --------------------------------------------------------------------------- AWS CLI
def test_awscli_page_size_sends_max_items(aws_env: Emulator, iam: Any) -> None:
    """`--page-size` is what sends MaxItems; the CLI follows our Marker to the end."""
    iam.create_user(UserName="bob")
    ids = {iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"] for _ in range(2)}
    aws_env.reset(state=False)
    proc = awscli("iam", "list-access-keys", "--user-name", "bob", "--page-size", "1")
    assert proc.returncode == 0, proc.stderr
    assert {k["AccessKeyId"] for k in json.loads(proc.stdout)["AccessKeyMetadata"]} == ids
    sent = [e["params"] for e in aws_env.stats(log=True)["log"]]
    assert [p.get("MaxItems") for p in sent] == ["1", "1"]
    assert "Marker" not in sent[0] and "Marker" in sent[1]


def test_awscli_no_paginate_max_items(aws_env: Emulator, iam: Any) -> None:
    """With --no-paginate, --max-items/--marker are the raw API parameters."""
    iam.create_user(UserName="bob")
    for _ in range(2):
        iam.create_access_key(UserName="bob")
    first = awscli(
        "iam", "list-access-keys", "--user-name", "bob", "--no-paginate", "--max-items", "1"
    )
    assert first.returncode == 0, first.stderr
    page1 = json.loads(first.stdout)
    assert page1["IsTruncated"] is True and len(page1["AccessKeyMetadata"]) == 1
    second = awscli(
        "iam", "list-access-keys", "--user-name", "bob", "--no-paginate",
        "--max-items", "1", "--marker", page1["Marker"],
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    page2 = json.loads(second.stdout)
    assert page2["IsTruncated"] is False
    assert (
        page2["AccessKeyMetadata"][0]["AccessKeyId"] != page1["AccessKeyMetadata"][0]["AccessKeyId"]
    )


def test_awscli_sees_faults(aws_env: Emulator, iam: Any) -> None:
    """The CLI reports an injected AccessDenied and exits non-zero."""
    iam.create_user(UserName="bob")
    aws_env.configure(faults=[{"action": "ListAccessKeys", "kind": "access_denied"}])
    proc = awscli("iam", "list-access-keys", "--user-name", "bob")
    assert proc.returncode != 0
    assert "AccessDenied" in proc.stderr


# --------------------------------------------------------------------------- faults
ERROR_FAULTS = [
    ("throttle", "Throttling", 400),
    ("error500", "ServiceFailure", 500),
    ("error503", "ServiceUnavailable", 503),
    ("access_denied", "AccessDenied", 403),
    ("no_such_entity", "NoSuchEntity", 404),
]


@pytest.mark.parametrize(("kind", "code", "status"), ERROR_FAULTS)
def test_error_faults(aws_env: Emulator, iam: Any, kind: str, code: str, status: int) -> None:
    """Each error kind reaches boto3 with its IAM code and HTTP status."""
    iam.create_user(UserName="bob")
    aws_env.configure(faults=[{"action": "ListAccessKeys", "kind": kind}])
    with pytest.raises(ClientError) as info:
        client(aws_env).list_access_keys(UserName="bob")
    assert (error_code(info.value), http_status(info.value)) == (code, status)
    if kind == "no_such_entity":
        assert info.value.response["Error"]["Message"] == "The user with name bob cannot be found."
    iam.list_users()  # other actions are untouched
    assert aws_env.stats()["faults_injected"] == 1


def test_drop_fault_is_a_connection_error(aws_env: Emulator, iam: Any) -> None:
    """`drop` closes the socket with no response; botocore reports a connection error."""
    aws_env.configure(faults=[{"action": "ListUsers", "kind": "drop", "times": 1}])
    with pytest.raises(ConnectionClosedError):
        client(aws_env).list_users()
    assert client(aws_env).list_users()["Users"] == []
    entry = aws_env.stats(log=True)["log"][0]
    assert entry["fault"] == "drop" and entry["status"] is None and entry["response_body"] is None


def test_apply_then_drop_applies_the_write_and_loses_the_answer(aws_env: Emulator,
                                                               iam: Any) -> None:
    """`apply_then_drop` serves the request (the write happens), then closes the socket."""
    iam.create_user(UserName="w")
    key_id = iam.create_access_key(UserName="w")["AccessKey"]["AccessKeyId"]
    aws_env.configure(faults=[{"action": "UpdateAccessKey", "kind": "apply_then_drop",
                               "times": 1}])
    with pytest.raises(ConnectionClosedError):
        client(aws_env).update_access_key(UserName="w", AccessKeyId=key_id, Status="Inactive")
    assert iam.list_access_keys(UserName="w")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    [entry] = [e for e in aws_env.stats(log=True)["log"] if e["action"] == "UpdateAccessKey"]
    assert (entry["fault"], entry["status"], entry["applied_status"]) == (
        "apply_then_drop", None, 200)


def test_delay_fault_exceeds_read_timeout(aws_env: Emulator) -> None:
    """`delay` answers normally but too late for a client with a short read timeout."""
    aws_env.configure(faults=[{"action": "ListUsers", "kind": "delay", "delay_s": 1.0, "times": 2}])
    with pytest.raises(ReadTimeoutError):
        client(aws_env, read_timeout=0.3).list_users()
    started = time.monotonic()
    assert client(aws_env, read_timeout=5).list_users()["Users"] == []
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_bad_body_faults(aws_env: Emulator, iam: Any, kind: str) -> None:
    """`malformed` and `truncated` give 200s whose XML botocore cannot parse."""
    make_users(aws_env, 3)
    aws_env.configure(faults=[{"action": "ListUsers", "kind": kind}])
    with pytest.raises(ResponseParserError):
        client(aws_env).list_users()


def test_reject_marker_only_hits_continuations(aws_env: Emulator, iam: Any) -> None:
    """`reject_marker` lets first pages through and rejects any request carrying a Marker."""
    make_users(aws_env, 3)
    aws_env.configure(faults=[{"action": "*", "kind": "reject_marker"}])
    page1 = iam.list_users(MaxItems=2)
    with pytest.raises(ClientError) as info:
        iam.list_users(MaxItems=2, Marker=page1["Marker"])
    assert error_code(info.value) == "ValidationError"
    assert info.value.response["Error"]["Message"] == "Invalid Marker"


def test_times_and_match(aws_env: Emulator, iam: Any) -> None:
    """`times` limits a rule to its first N matching requests; `match` filters on params."""
    for name in ("alice", "bob"):
        iam.create_user(UserName=name)
    aws_env.configure(
        faults=[
            {
                "action": "ListAccessKeys",
                "match": {"UserName": "bob"},
                "kind": "error500",
                "times": 2,
            },
            {"action": "ListAccessKeys", "kind": "throttle", "times": 0},
        ]
    )
    c = client(aws_env)
    assert c.list_access_keys(UserName="alice")["AccessKeyMetadata"] == []
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            c.list_access_keys(UserName="bob")
        assert error_code(info.value) == "ServiceFailure"
    assert c.list_access_keys(UserName="bob")["AccessKeyMetadata"] == []
    stats = aws_env.stats()
    assert stats["faults_injected"] == 2
    assert [r["applied"] for r in stats["config"]["faults"]] == [2, 0]


def test_probability_is_seeded(aws_env: Emulator) -> None:
    """The same seed replays the same sequence of injected faults."""

    def outcomes() -> list[int]:
        aws_env.reset(state=False)
        aws_env.configure(
            seed=7, faults=[{"action": "ListUsers", "kind": "error503", "probability": 0.5}]
        )
        return [raw_iam(aws_env, {"Action": "ListUsers"})[0] for _ in range(30)]

    first = outcomes()
    assert set(first) == {200, 503}
    assert outcomes() == first


def test_sdk_retries_recover_and_exhaust(aws_env: Emulator, iam: Any) -> None:
    """AWS_MAX_ATTEMPTS=3 from aws_env: one 500 is retried away; endless throttling is not."""
    aws_env.configure(faults=[{"action": "ListUsers", "kind": "error500", "times": 1}])
    assert iam.list_users()["Users"] == []
    aws_env.reset(state=False)
    aws_env.configure(faults=[{"action": "GetUser", "kind": "throttle"}])
    with pytest.raises(ClientError) as info:
        iam.get_user(UserName="x")
    assert error_code(info.value) == "Throttling"
    stats = aws_env.stats()
    assert stats["by_action"] == {"GetUser": 3}
    assert stats["throttled"] == 3


def test_json_protocol_faults(aws_env: Emulator) -> None:
    """Faults on X-Amz-Target (JSON) services come back as JSON errors botocore understands."""
    aws_env.configure(faults=[{"action": "DescribeOrganization", "kind": "throttle"}])
    with pytest.raises(ClientError) as info:
        client(aws_env, "organizations").describe_organization()
    assert error_code(info.value) == "Throttling"
    assert aws_env.stats()["by_action"] == {"DescribeOrganization": 1}


# --------------------------------------------------------------------------- rate limit, latency
def test_rate_limit_throttles_excess(aws_env: Emulator) -> None:
    """A token bucket (burst 5, slow refill) throttles the rest of a fast burst of 20 requests."""
    c = client(aws_env)  # built first: creating a client takes long enough to refill a token
    rps = 0.2
    aws_env.configure(rate_limit={"rps": rps, "burst": 5})
    started = time.monotonic()
    results = [raw_iam(aws_env, {"Action": "ListUsers"}) for _ in range(20)]
    refilled = int((time.monotonic() - started) * rps) + 1
    throttled = [body for status, body in results if status == 400]
    assert 5 <= 20 - len(throttled) <= 5 + refilled
    assert "<Code>Throttling</Code><Message>Rate exceeded</Message>" in throttled[0]
    assert "<Type>Sender</Type>" in throttled[0]
    with pytest.raises(ClientError) as info:
        c.list_users()
    assert error_code(info.value) == "Throttling"
    stats = aws_env.stats()
    assert stats["throttled"] == stats["rate_limited"] == len(throttled) + 1
    aws_env.configure(rate_limit=None)
    assert raw_iam(aws_env, {"Action": "ListUsers"})[0] == 200


def test_latency_is_added(aws_env: Emulator, iam: Any) -> None:
    """latency_ms delays every API request."""
    aws_env.configure(latency_ms=150)
    started = time.monotonic()
    iam.list_users()
    assert time.monotonic() - started >= 0.15


# --------------------------------------------------------------------------- counters / log
def test_counters_and_log(aws_env: Emulator, iam: Any) -> None:
    """Every API call is counted by action and logged with params, status, key and host."""
    iam.create_user(UserName="bob")
    iam.list_access_keys(UserName="bob")
    aws.session().client("sts", endpoint_url=aws_env.url).get_caller_identity()
    aws_env.stats()  # control calls are not counted
    stats = aws_env.stats(log=True)
    assert stats["total"] == 3
    assert stats["by_action"] == {"CreateUser": 1, "ListAccessKeys": 1, "GetCallerIdentity": 1}
    entry = stats["log"][1]
    assert entry["action"] == "ListAccessKeys" and entry["status"] == 200
    assert entry["response_body"].startswith("<ListAccessKeysResponse")
    assert entry["params"]["UserName"] == "bob"
    assert entry["access_key_id"] == TEST_ACCESS_KEY_ID
    assert entry["host"] == aws_env.url.removeprefix("http://")
    assert stats["log"][2]["service"] == "sts"
    assert "log" not in aws_env.stats()


# --------------------------------------------------------------------------- state edits
@pytest.mark.parametrize("fast_paths", [True, False])
def test_patch_user_and_key(aws_env: Emulator, iam: Any, fast_paths: bool) -> None:
    """patch-user/patch-key edits show up in ListUsers, ListAccessKeys, GetAccessKeyLastUsed."""
    aws_env.configure(fast_paths=fast_paths)
    iam.create_user(UserName="Alice")
    old_id = iam.create_access_key(UserName="Alice")["AccessKey"]["AccessKeyId"]
    aws_env.patch_user("Alice", create_date="2016-12-01T22:00:00Z")
    new_id = "AKIAHARNESSPATCHED01"
    aws_env.patch_key(
        old_id,
        new_access_key_id=new_id,
        create_date="2017-01-02T03:04:05Z",
        status="Inactive",
        last_used={"date": "2024-05-06T07:08:09Z", "service": "s3", "region": "eu-west-1"},
    )
    user = iam.list_users()["Users"][0]
    assert user["CreateDate"].isoformat() == "2016-12-01T22:00:00+00:00"
    (key,) = iam.list_access_keys(UserName="Alice")["AccessKeyMetadata"]
    assert (key["AccessKeyId"], key["Status"]) == (new_id, "Inactive")
    assert key["CreateDate"].isoformat() == "2017-01-02T03:04:05+00:00"
    last = iam.get_access_key_last_used(AccessKeyId=new_id)
    assert last["UserName"] == "Alice"
    used = last["AccessKeyLastUsed"]
    assert used["LastUsedDate"].isoformat() == "2024-05-06T07:08:09+00:00"
    assert (used["ServiceName"], used["Region"]) == ("s3", "eu-west-1")
    with pytest.raises(ClientError) as info:
        iam.get_access_key_last_used(AccessKeyId=old_id)
    assert error_code(info.value) == "NoSuchEntity"
    aws_env.patch_key(new_id, last_used=None)
    never = iam.get_access_key_last_used(AccessKeyId=new_id)["AccessKeyLastUsed"]
    assert never == {"ServiceName": "N/A", "Region": "N/A"}
    # The renamed key is still a real key to moto: it can be deleted by its new id.
    iam.delete_access_key(UserName="Alice", AccessKeyId=new_id)
    assert iam.list_access_keys(UserName="Alice")["AccessKeyMetadata"] == []


def test_bulk_create_2000_users(aws_env: Emulator, iam: Any) -> None:
    """2,000 users with 2 keys each are created in-process quickly and are fully visible."""
    users = [
        {
            "name": f"bulk{i:05d}",
            "path": "/bulk/",
            "create_date": "2019-06-01T00:00:00Z",
            "keys": [
                {"status": "Active"},
                {"status": "Inactive", "create_date": "2020-01-01T00:00:00Z"},
            ],
        }
        for i in range(2000)
    ]
    users[0]["keys"] = [
        {
            "id": "AKIABULKFIXEDID00001",
            "last_used": {"date": "2024-01-01T00:00:00Z", "service": "ec2"},
        }
    ]
    started = time.perf_counter()
    key_ids = aws_env.bulk_create(users)
    elapsed = time.perf_counter() - started
    print(f"\nbulk-create of 2,000 users / 3,999 keys: {elapsed:.2f}s")  # noqa: T201
    assert sum(len(v) for v in key_ids.values()) == 3999
    assert key_ids["bulk00000"] == ["AKIABULKFIXEDID00001"]

    started = time.perf_counter()
    pages = iam.get_paginator("list_users").paginate(PathPrefix="/bulk/")
    assert sum(len(p["Users"]) for p in pages) == 2000
    print(f"ListUsers full scan of 2,000 users: {time.perf_counter() - started:.2f}s")  # noqa: T201
    keys = iam.list_access_keys(UserName="bulk00042")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Inactive", "Active"]  # oldest CreateDate first
    last = iam.get_access_key_last_used(AccessKeyId="AKIABULKFIXEDID00001")["AccessKeyLastUsed"]
    assert last["ServiceName"] == "ec2"
    with pytest.raises(HarnessError) as info:
        aws_env.bulk_create([{"name": "bulk00001"}])
    assert info.value.status == 409


def test_delete_user_removes_user_and_keys(aws_env: Emulator, iam: Any) -> None:
    """delete-user makes the user and its keys vanish from every API."""
    key_id = make_users(aws_env, 1, keys=2)["user00000"][0]
    policy = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(POLICY))["Policy"]
    iam.attach_user_policy(UserName="user00000", PolicyArn=policy["Arn"])
    iam.put_user_policy(
        UserName="user00000", PolicyName="inline", PolicyDocument=json.dumps(POLICY)
    )
    assert len(aws_env.delete_user("user00000")["deleted_key_ids"]) == 2
    assert iam.list_users()["Users"] == []
    for call in (
        lambda: iam.list_access_keys(UserName="user00000"),
        lambda: iam.get_access_key_last_used(AccessKeyId=key_id),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info.value) == "NoSuchEntity"


def test_patch_account_sets_the_root_keys_flag(aws_env: Emulator, iam: Any) -> None:
    """GetAccountSummary's AccountAccessKeysPresent follows patch-account, per account."""
    def present() -> int:
        return int(iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"])

    assert present() == 0
    aws_env.patch_account(root_access_keys=True)
    assert present() == 1
    aws_env.patch_account("111122223333", root_access_keys=True)
    aws_env.patch_account(root_access_keys=False)
    assert present() == 0
    with pytest.raises(HarnessError) as info:
        aws_env._call("POST", "patch-account", {"root_access_keys": "yes"})
    assert info.value.status == 400

def test_control_api_rejects_bad_input(aws_env: Emulator) -> None:
    """Unknown fault kinds, unknown users and unknown routes are client errors."""
    with pytest.raises(HarnessError) as info:
        aws_env.configure(faults=[{"kind": "explode"}])
    assert info.value.status == 400
    with pytest.raises(HarnessError) as info:
        aws_env.patch_user("nobody", create_date="2020-01-01T00:00:00Z")
    assert info.value.status == 404
    with pytest.raises(HarnessError) as info:
        aws_env._call("GET", "nope")
    assert info.value.status == 404


# --------------------------------------------------------------------------- accounts, threads
def test_sts_assume_role_into_other_account(aws_env: Emulator, iam: Any) -> None:
    """AssumeRole into another account's role works through the layer; calls land there."""
    other = "210987654321"
    aws_env.bulk_create([{"name": "remote", "keys": [{}]}], account_id=other)
    iam.create_user(UserName="local")
    creds = client(aws_env, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{other}:role/auditor", RoleSessionName="audit"
    )["Credentials"]
    session = aws.session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    sts = session.client("sts", endpoint_url=aws_env.url, region_name="us-east-1")
    assert sts.get_caller_identity()["Account"] == other
    remote_iam = session.client("iam", endpoint_url=aws_env.url, region_name="us-east-1")
    assert [u["UserName"] for u in remote_iam.list_users()["Users"]] == ["remote"]
    assert len(remote_iam.list_access_keys(UserName="remote")["AccessKeyMetadata"]) == 1
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["local"]
    keys_seen = [e["access_key_id"] for e in aws_env.stats(log=True)["log"]]
    assert keys_seen.count(creds["AccessKeyId"]) == 3


def test_concurrent_reads_during_deletes(aws_env: Emulator) -> None:
    """Parallel listing while users are deleted never yields a 5xx (the layer serialises moto)."""
    make_users(aws_env, 300, keys=1)
    statuses: list[int] = []

    def reader(offset: int) -> None:
        for i in range(15):
            statuses.append(raw_iam(aws_env, {"Action": "ListUsers", "MaxItems": "50"})[0])
            user = f"user{(offset * 37 + i * 11) % 300:05d}"
            statuses.append(raw_iam(aws_env, {"Action": "ListAccessKeys", "UserName": user})[0])

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for i in range(0, 300, 5):
        aws_env.delete_user(f"user{i:05d}")
    for t in threads:
        t.join()
    assert statuses and all(s in (200, 404) for s in statuses)


# --------------------------------------------------------------------------- server process
def test_server_script_prints_port_and_stops_cleanly() -> None:
    """`python tests/harness/server.py --port 0` prints one PORT line and exits 0 on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "harness" / "server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT ") and int(line.split()[1]) > 0
        emu = Emulator()
        emu.port = int(line.split()[1])
        assert emu.health()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_emulator_stop_exits_cleanly() -> None:
    """Emulator.stop() ends the server process with exit status 0."""
    emu = Emulator().start()
    proc = emu.proc
    assert emu.health() and proc is not None
    emu.stop()
    assert proc.returncode == 0
