"""`inventory --state`: a file or an S3 object holds the last inventory; writes never overwrite
another run's (S3 in the emulator, conditional PutObject; a file under a lock).

Two real `iamkeys inventory --state` processes race on the same location: exactly one stores
its inventory, the other exits 1 naming the location.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_runner import Result, assert_one_line_error, iamkeys
from iamkeys import state
from iamkeys.aws import Connection
from iamkeys.errors import StateConflictError
from iamkeys.params import state_location

BUCKET = "iamkeys-state"
KEY = "inventories/prod.json"


@pytest.fixture
def users(aws_env: Any) -> dict[str, list[str]]:
    made: dict[str, list[str]] = aws_env.bulk_create(
        [{"name": f"user-{i}", "keys": [{}] * (i % 3)} for i in range(12)])
    aws_env.reset(state=False)
    return made


@pytest.fixture
def s3(aws_env: Any) -> Any:
    client = boto3.client("s3", endpoint_url=aws_env.url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def stored(s3: Any) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    return data


@pytest.fixture(params=["file", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path, aws_env: Any) -> str:
    if request.param == "file":
        return str(tmp_path / "state.json")
    request.getfixturevalue("s3")
    return f"s3://{BUCKET}/{KEY}"


def read_back(location: str, aws_env: Any) -> bytes:
    if location.startswith("s3://"):
        return stored(boto3.client("s3", endpoint_url=aws_env.url, region_name="us-east-1"))
    return Path(location).read_bytes()


# --- the state is the baseline, and the new inventory is stored ---------------------------


def test_first_run_stores_second_run_compares(users: dict[str, list[str]], location: str,
                                              aws_env: Any, iam: Any) -> None:
    first = iamkeys("inventory", "--state", location)
    assert first.code == 0, first.stderr
    assert "Changes" not in first.json()  # nothing stored yet: nothing to compare with
    assert read_back(location, aws_env) == first.stdout.encode()
    created = iam.create_access_key(UserName="user-0")["AccessKey"]["AccessKeyId"]
    second = iamkeys("inventory", "--state", location)
    assert second.code == 0, second.stderr
    changes = second.json()["Changes"]
    assert changes["Baseline"] == first.json()["Summary"]["GeneratedAt"]
    assert changes["NewKeys"] == [{"AccountId": "123456789012", "UserName": "user-0",
                                   "AccessKeyId": created}]
    assert changes["RemovedKeys"] == [] and changes["StatusChanged"] == []
    assert read_back(location, aws_env) == second.stdout.encode()


def test_a_file_state_is_replaced_whole_and_private(users: dict[str, list[str]],
                                                    tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    for _ in range(2):
        assert iamkeys("inventory", "--state", str(target)).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".state.json.lock", "aws_config",
                                                          "aws_credentials", "state.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it names every user and key


def test_a_partial_run_is_stored_with_what_it_carried_over(users: dict[str, list[str]],
                                                           location: str,
                                                           aws_env: Any) -> None:
    assert iamkeys("inventory", "--state", location).code == 0
    aws_env.configure(faults=[{"action": "ListAccessKeys", "match": {"UserName": "user-2"},
                               "kind": "access_denied"}])
    partial = iamkeys("inventory", "--state", location)
    assert partial.code == 3
    carried = [k for k in partial.json()["Keys"] if "CarriedOver" in k]
    assert sorted(k["AccessKeyId"] for k in carried) == sorted(users["user-2"])
    assert partial.json()["Changes"]["RemovedKeys"] == []
    aws_env.configure(faults=[])
    healed = iamkeys("inventory", "--state", location)
    assert healed.code == 0, healed.stderr
    assert all("CarriedOver" not in k for k in healed.json()["Keys"])
    assert healed.json()["Changes"]["NewKeys"] == []  # the carried keys were there all along


@pytest.mark.parametrize("endpoint", ["--endpoint-url", "AWS_ENDPOINT_URL_S3"])
def test_s3_is_reached_like_every_other_service(users: dict[str, list[str]], s3: Any,
                                                aws_env: Any, endpoint: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    if endpoint == "--endpoint-url":
        args = ["--endpoint-url", aws_env.url]
    else:  # botocore's per-service endpoint variables
        for service in ("IAM", "STS", "S3"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", aws_env.url)
        args = []
    result = iamkeys("inventory", "--state", f"s3://{BUCKET}/{KEY}", *args)
    assert result.code == 0, result.stderr
    assert stored(s3) == result.stdout.encode()


def test_a_missing_bucket_is_exit_1_naming_the_state(users: dict[str, list[str]],
                                                     aws_env: Any) -> None:
    result = iamkeys("inventory", "--state", "s3://no-such-bucket/x.json")
    assert_one_line_error(result, 1, "NoSuchBucket", "[state s3://no-such-bucket/x.json, "
                                                     "GetObject]")
    assert "ListUsers" not in aws_env.stats()["by_action"]  # before the inventory


def test_a_state_that_is_not_an_inventory_is_exit_2(users: dict[str, list[str]],
                                                    tmp_path: Path, aws_env: Any) -> None:
    bad = tmp_path / "state.json"
    bad.write_text('{"AccessKeyMetadata": [], "IsTruncated": false}')
    result = iamkeys("inventory", "--state", str(bad))
    assert_one_line_error(result, 2, f"--state: {bad}: not an iamkeys result: expected an "
                                     "inventory")
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize(("value", "rule"), [
    ("s3://Bad_Bucket/x.json", "is not an S3 bucket name"),
    ("s3://ab/x.json", "is not an S3 bucket name"),
    ("s3://bucket", "must name an object"),
    ("s3://bucket/", "must name an object"),
    ("/nonexistent-dir/state.json", "does not exist"),
    ("/", "is a directory"),
    ("state\n.json", "without control characters"),
])
def test_a_bad_location_is_exit_2_before_any_request(aws_env: Any, value: str,
                                                     rule: str) -> None:
    result = iamkeys("inventory", "--state", value)
    assert_one_line_error(result, 2, "--state: ", rule)
    assert aws_env.stats()["total"] == 0


def test_baseline_and_state_are_one_or_the_other(aws_env: Any, tmp_path: Path) -> None:
    result = iamkeys("inventory", "--state", str(tmp_path / "s.json"), "--baseline",
                     str(tmp_path / "b.json"))
    assert_one_line_error(result, 2, "--baseline: cannot be combined with --state")
    assert aws_env.stats()["total"] == 0


# --- two writers --------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["no-state-yet", "state-stored"])
def test_of_two_concurrent_runs_exactly_one_stores(users: dict[str, list[str]], location: str,
                                                   aws_env: Any, existing: bool) -> None:
    if existing:
        assert iamkeys("inventory", "--state", location).code == 0
    # Both read the state, then spend two seconds listing users: neither has written yet
    # when the other reads. Their thresholds differ, so that their documents do (started in
    # the same second, two runs would otherwise write the same bytes, and S3 would then hold
    # exactly what each meant to store).
    aws_env.configure(faults=[{"action": "ListUsers", "kind": "delay", "delay_s": 2.0}])
    runs = [subprocess.Popen([sys.executable, "-m", "iamkeys", "inventory", "--state",
                              location, "--max-key-age", str(days)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ)) for days in (90, 91)]
    outputs = [p.communicate(timeout=120) for p in runs]
    results = [Result(p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]
    assert sorted(r.code for r in results) == [0, 1], [r.stderr for r in results]
    winner = next(r for r in results if r.code == 0)
    loser = next(r for r in results if r.code == 1)
    assert_one_line_error(loser, 1, f"state {location} changed since this run read it")
    assert loser.stdout == ""
    assert read_back(location, aws_env) == winner.stdout.encode()


# --- the conditions themselves --------------------------------------------------------------


def test_a_file_changed_created_or_deleted_since_it_was_read_is_a_conflict(
        tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    where = state_location(str(target))
    assert where is not None
    empty = state.read(where)
    target.write_bytes(b"another run's")
    with pytest.raises(StateConflictError):
        state.write(where, b"ours", empty)  # it appeared meanwhile
    read = state.read(where)
    target.write_bytes(b"yet another run's")
    with pytest.raises(StateConflictError):
        state.write(where, b"ours", read)  # it changed meanwhile
    read = state.read(where)
    target.unlink()
    with pytest.raises(StateConflictError):
        state.write(where, b"ours", read)  # it went away meanwhile
    state.write(where, b"ours", state.read(where))
    assert target.read_bytes() == b"ours"


def test_an_object_changed_or_created_since_it_was_read_is_a_conflict(s3: Any) -> None:
    where = state_location(f"s3://{BUCKET}/{KEY}")
    assert where is not None
    connection = Connection()
    empty = state.read(where, connection=connection)
    assert (empty.data, empty.version) == (None, None)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"another run's")
    with pytest.raises(StateConflictError):
        state.write(where, b"ours", empty, connection=connection)  # If-None-Match: *
    read = state.read(where, connection=connection)
    assert read.data == b"another run's"
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"yet another run's")
    with pytest.raises(StateConflictError):
        state.write(where, b"ours", read, connection=connection)  # If-Match: the old ETag
    read = state.read(where, connection=connection)
    state.write(where, b"ours", read, connection=connection)
    # The same write again (botocore resending it after a dropped answer): 412, yet ours.
    state.write(where, b"ours", read, connection=connection)
    assert stored(s3) == b"ours"


def test_the_emulator_refuses_stale_conditional_puts(s3: Any) -> None:
    """moto's PutObject checks If-Match / If-None-Match (moto/s3/responses.py, put_object)."""
    first = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"1", IfNoneMatch="*")["ETag"]
    for condition in ({"IfNoneMatch": "*"}, {"IfMatch": '"0123456789abcdef"'}):
        with pytest.raises(s3.exceptions.ClientError) as caught:
            s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"2", **condition)
        assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"2", IfMatch=first)["ETag"] != first


def test_state_json_is_the_inventory_document(users: dict[str, list[str]],
                                              tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    result = iamkeys("inventory", "--state", str(target), "--output", "csv")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("AccountId,")  # the output format is the user's choice
    assert json.loads(target.read_text())["Summary"]["Keys"] == sum(
        len(k) for k in users.values())
