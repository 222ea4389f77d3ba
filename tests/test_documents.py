"""The one reader: every document serialize.py writes reads back into the same domain objects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkeys import documents, serialize
from iamkeys.errors import InputError
from iamkeys.model import (
    AccessKey,
    AccountFinding,
    AccountScan,
    DeletedDuringRun,
    Finding,
    Inventory,
    InventoryError,
    InventoryKey,
    LastUsed,
    Listing,
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
found = st.builds(Finding, rule=st.sampled_from(["IAM.3", "IAM.22", "CIS.1.13"]), reason=texts,
                  since=st.none() | times)


@st.composite
def inventories(draw: Any) -> Inventory:
    """Any inventory serialize.inventory can write."""
    checked = draw(st.booleans())
    last_used = (st.none() | st.builds(LastUsed, date=st.none() | times,
                                       service=st.none() | names, region=st.none() | names)
                 if checked else st.none())
    keys = draw(st.lists(st.builds(
        InventoryKey, account_id=accounts, user_name=names, user_create_date=times,
        access_key_id=key_ids, status=statuses, create_date=times, last_used=last_used,
        findings=st.lists(found, max_size=3).map(tuple)), max_size=6))
    errors = draw(st.lists(st.builds(
        InventoryError, account_id=accounts, user_name=st.none() | names, operation=names,
        code=names, message=texts, access_key_id=st.none() | key_ids), max_size=3))
    # A key whose last-use lookup failed reads back without last use.
    failed = {e.access_key_id for e in errors if e.operation == "GetAccessKeyLastUsed"}
    keys = [k if k.access_key_id not in failed else
            InventoryKey(k.account_id, k.user_name, k.user_create_date, k.access_key_id,
                         k.status, k.create_date, None, k.findings) for k in keys]
    if checked:
        keys = [k if k.last_used or k.access_key_id in failed else
                InventoryKey(k.account_id, k.user_name, k.user_create_date, k.access_key_id,
                             k.status, k.create_date, LastUsed(None, None, None), k.findings)
                for k in keys]
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
        last_used_checked=checked)


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
