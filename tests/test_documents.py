"""The one reader: every document serialize.py writes reads back into the same domain objects."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamkeys import documents, serialize
from iamkeys.errors import InputError
from iamkeys.model import (
    OWNER_NO_TAG,
    OWNER_NOT_EMAIL,
    OWNER_UNREAD,
    AccessKey,
    AccountFinding,
    AccountScan,
    CarriedOver,
    Changes,
    DeletedDuringRun,
    Delivery,
    Finding,
    FindingChange,
    Inventory,
    InventoryError,
    InventoryKey,
    KeyChange,
    LastUsed,
    Listing,
    StatusChange,
    Thresholds,
)
from seed_data import SEED_OUTPUT

SRC = Path(__file__).resolve().parents[1] / "src" / "iamkeys"
EPOCH = datetime(2015, 1, 1, tzinfo=UTC)

seconds = st.integers(min_value=0, max_value=12 * 365 * 86400)
times = seconds.map(lambda s: EPOCH + timedelta(seconds=s))
names = st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,64}", fullmatch=True)
key_ids = st.from_regex(r"AKIA[A-Z0-9]{16}", fullmatch=True)
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
statuses = st.sampled_from(["Active", "Inactive"])
texts = st.text(max_size=40)
marks = st.builds(CarriedOver, reason=texts, read_at=times)
found = st.builds(Finding, rule=st.sampled_from(["IAM.3", "IAM.22", "CIS.1.13"]), reason=texts,
                  since=st.none() | times, carried_over=st.none() | marks)
emails = st.builds("{}@{}.example".format, st.from_regex(r"[a-z0-9+_-]{1,12}", fullmatch=True),
                   st.sampled_from(["ops", "sec-team", "a1"]))
owners = (st.tuples(emails, st.none())
          | st.tuples(st.none(), st.sampled_from([OWNER_NO_TAG, OWNER_NOT_EMAIL, OWNER_UNREAD])))
rules = st.sampled_from(["IAM.3", "IAM.4", "CIS.1.11", "STALE_INACTIVE"])
key_changes = st.builds(KeyChange, account_id=accounts, user_name=names, access_key_id=key_ids)
finding_changes = st.builds(FindingChange, account_id=accounts, user_name=st.none() | names,
                            access_key_id=st.none() | key_ids, rule=rules, reason=texts,
                            since=st.none() | times)
all_changes = st.builds(
    Changes, baseline_at=times,
    new_keys=st.lists(key_changes, max_size=2).map(tuple),
    removed_keys=st.lists(key_changes, max_size=2).map(tuple),
    status_changed=st.lists(st.builds(StatusChange, account_id=accounts, user_name=names,
                                      access_key_id=key_ids, before=statuses, after=statuses),
                            max_size=2).map(tuple),
    new_findings=st.lists(finding_changes, max_size=2).map(tuple),
    resolved_findings=st.lists(finding_changes, max_size=2).map(tuple))


@st.composite
def inventories(draw: Any) -> Inventory:
    """Any inventory serialize.inventory can write."""
    checked = draw(st.booleans())
    last_used = (st.none() | st.builds(LastUsed, date=st.none() | times,
                                       service=st.none() | names, region=st.none() | names)
                 if checked else st.none())
    owner_tags = draw(st.lists(names, max_size=2).map(tuple))
    keys = draw(st.lists(st.builds(
        InventoryKey, account_id=accounts, user_name=names, user_create_date=times,
        access_key_id=key_ids, status=statuses, create_date=times, last_used=last_used,
        findings=st.lists(found, max_size=3).map(tuple),
        carried_over=st.none() | marks), max_size=6))
    if owner_tags:  # every key then has an owner, or the reason it has none
        keys = [replace(k, owner=owner, owner_problem=problem)
                for k, (owner, problem) in zip(keys, draw(st.lists(
                    owners, min_size=len(keys), max_size=len(keys))), strict=True)]
    errors = draw(st.lists(st.builds(
        InventoryError, account_id=accounts, user_name=st.none() | names, operation=names,
        code=names, message=texts, access_key_id=st.none() | key_ids), max_size=3))
    # A key whose last-use lookup failed reads back without last use.
    failed = {e.access_key_id for e in errors if e.operation == "GetAccessKeyLastUsed"}
    keys = [k if k.access_key_id not in failed else replace(k, last_used=None) for k in keys]
    if checked:
        keys = [k if k.last_used or k.access_key_id in failed else
                replace(k, last_used=LastUsed(None, None, None)) for k in keys]
    return Inventory(
        keys=tuple(keys), errors=tuple(errors),
        deleted=tuple(draw(st.lists(st.builds(DeletedDuringRun, account_id=accounts,
                                              user_name=names,
                                              access_key_id=st.none() | key_ids),
                                    max_size=2))),
        accounts=tuple(draw(st.lists(st.builds(
            AccountScan, account_id=accounts, users=st.integers(0, 10_000),
            root_keys_present=st.none() | st.booleans(), listed=st.booleans()), max_size=3))),
        account_findings=tuple(draw(st.lists(st.builds(AccountFinding, account_id=accounts,
                                                       finding=found), max_size=2))),
        generated_at=draw(times),
        thresholds=draw(st.builds(Thresholds, max_key_age=st.integers(0, 3650),
                                  max_unused=st.integers(0, 3650),
                                  max_inactive=st.integers(0, 3650))),
        last_used_checked=checked,
        owner_tags=owner_tags,
        changes=draw(st.none() | all_changes))


@settings(suppress_health_check=[HealthCheck.too_slow])  # rich inventories, a shared machine
@given(inventories())
def test_every_inventory_reads_back_as_written(inv: Inventory) -> None:
    assert documents.inventory(serialize.inventory(inv)) == inv
    assert documents.read(serialize.dumps(serialize.inventory(inv)).encode()) == inv


@given(st.lists(st.builds(AccessKey, user_name=names, access_key_id=key_ids, status=statuses,
                          create_date=times), max_size=5),
       st.booleans(), st.none() | names)
def test_every_listing_reads_back_as_written(keys: list[AccessKey], truncated: bool,
                                             marker: str | None) -> None:
    listing = Listing(partition="", regions=(), keys=tuple(keys), is_truncated=truncated,
                      marker=marker if truncated else None)
    assert documents.parse(serialize.listing(listing)) == (listing,)
    several = (listing, Listing("aws-cn", (), tuple(keys), False, None))
    keyed = serialize.listings([Listing(p.partition or "aws", *_rest(p)) for p in several])
    assert [p.partition for p in documents.parse(keyed)] == ["aws", "aws-cn"]


def _rest(listing: Listing) -> tuple[Any, ...]:
    """A listing's fields after its partition."""
    return (listing.regions, listing.keys, listing.is_truncated, listing.marker)


def test_the_list_access_keys_example_reads_as_alice_s_two_keys() -> None:
    (listing,) = documents.parse(SEED_OUTPUT)
    assert [(k.user_name, k.access_key_id) for k in listing.keys] == [
        ("Alice", "AKIA111111111EXAMPLE"), ("Alice", "AKIA222222222EXAMPLE")]
    assert listing.keys[0].create_date == datetime(2016, 12, 1, 22, 19, 58, tzinfo=UTC)


def test_the_aws_cli_s_timestamps_are_read_too() -> None:
    document = {"AccessKeyMetadata": [{"UserName": "Alice", "AccessKeyId": "AKIA1",
                                       "Status": "Active",
                                       "CreateDate": "2016-12-01T22:19:58+00:00"}]}
    (listing,) = documents.parse(document)
    assert listing.keys[0].create_date == datetime(2016, 12, 1, 22, 19, 58, tzinfo=UTC)


@pytest.mark.parametrize(("document", "detail"), [
    ({"AccessKeyMetadata": [{"AccessKeyId": "A", "Status": "Active",
                             "CreateDate": "soon"}]},
     "AccessKeyMetadata[0].CreateDate must be an ISO 8601 timestamp like 2016-12-01T22:19:58Z"),
    ({"aws": {"AccessKeyMetadata": "x"}}, "aws.AccessKeyMetadata must be a list"),
    ({"Keys": [], "Summary": {"Thresholds": {}, "GeneratedAt": "2026-01-01T00:00:00Z"}},
     "Summary.Thresholds.MaxKeyAge must be a non-negative integer"),
    ({"Keys": [7], "Summary": {}}, "Keys[0] must be an object, got a number"),
])
def test_a_wrong_member_is_named_by_its_place(document: Any, detail: str) -> None:
    with pytest.raises(InputError) as caught:
        documents.parse(document)
    assert caught.value.parameter == "input"
    assert caught.value.rule == f"not an iamkeys result: {detail}"


def test_an_inventory_is_required_where_one_is_needed() -> None:
    with pytest.raises(InputError, match="expected an inventory"):
        documents.inventory(SEED_OUTPUT)


def test_no_other_module_parses_json() -> None:
    readers = [path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py")
               if re.search(r"\bjson\.loads?\(", path.read_text(encoding="utf-8"))]
    # The remediation journal's JSON lines are not an iamkeys document: journal.py reads its
    # own, in one function.
    assert readers == ["documents.py", "journal.py"]
    journal = (SRC / "journal.py").read_text(encoding="utf-8")
    assert len(re.findall(r"\bjson\.loads?\(", journal)) == 1
    assert re.search(r"def parse_line\(.*?\n(?:    .*\n|\n)*?    .*json\.loads\(", journal)


@given(inventories())
def test_the_streamed_inventory_is_the_same_text(inv: Inventory) -> None:
    import io

    out = io.StringIO()
    serialize.write(serialize.inventory_stream(inv), out)
    assert out.getvalue() == serialize.dumps(serialize.inventory(inv))


@given(st.builds(Delivery, transport=st.sampled_from(["smtp", "ses", "outbox"]),
                 message_id=texts, recipients=st.lists(texts, max_size=3).map(tuple),
                 subject=texts, detail=texts, attachments=st.lists(texts, max_size=2).map(tuple)))
def test_every_delivery_reads_back_as_written(sent: Delivery) -> None:
    assert documents.delivery(serialize.delivery(sent)) == sent


GONE = object()


def _record(**changes: Any) -> dict[str, Any]:
    """A valid inventory with one key record, its members changed (GONE removes one)."""
    key = InventoryKey("123456789012", "alice", EPOCH, "AKIA1", "Active", EPOCH,
                       LastUsed(None, None, None), (Finding("IAM.3", "old", EPOCH),),
                       owner="a@example.com")
    inv = Inventory((key,), (), (), (), (), EPOCH, Thresholds(), owner_tags=("owner",))
    document = serialize.inventory(inv)
    for name, value in changes.items():
        if value is GONE:
            del document["Keys"][0][name]
        else:
            document["Keys"][0][name] = value
    return document


@pytest.mark.parametrize(("changes", "detail"), [
    ({"CreateDate": "soon"}, "Keys[0].CreateDate must be an ISO 8601 timestamp"),
    ({"AgeDays": -1}, "Keys[0].AgeDays must be a non-negative integer"),
    ({"AgeDays": True}, "Keys[0].AgeDays must be a non-negative integer"),
    ({"Status": GONE}, "Keys[0].Status must be a string"),
    ({"Status": None}, "Keys[0].Status must be a string"),
    ({"Owner": 7}, "Keys[0].Owner must be a string"),
    ({"LastUsedService": ["s3"]}, "Keys[0].LastUsedService must be a string"),
    ({"Findings": ["IAM.3", 3]}, "Keys[0].Findings must hold rule ids"),
    ({"FindingDetails": [{"Rule": 3, "Reason": "x"}]}, "Keys[0].FindingDetails[0].Rule must be "
                                                       "a string"),
    ({"FindingDetails": None}, "Keys[0].FindingDetails must be a list"),
    ({"CarriedOver": {"Reason": "x"}}, "Keys[0].CarriedOver.ReadAt must be an ISO 8601"),
])
def test_the_fast_reader_leaves_a_wrong_record_to_the_one_that_names_it(
        changes: dict[str, Any], detail: str) -> None:
    with pytest.raises(InputError) as caught:
        documents.parse(_record(**changes))
    assert caught.value.rule.startswith(f"not an iamkeys result: {detail}")


def test_both_readers_read_a_record_alike() -> None:
    # A CarriedOver mark sends a record to the checked reader; without it, the fast one reads.
    mark = {"Reason": "AssumeRole failed: AccessDenied", "ReadAt": "2015-01-01T00:00:00Z"}
    fast = documents.inventory(_record()).keys[0]
    checked = documents.inventory(_record(CarriedOver=mark)).keys[0]
    assert replace(checked, carried_over=None) == fast
