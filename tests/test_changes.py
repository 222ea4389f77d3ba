"""Only what changed: Changes, Since and the carried-over scopes, as pure functions (changes.py).

Inventories are built from domain objects here; tests/test_changes_emulator.py drives the same
through `iamkeys inventory --baseline` and `iamkeys diff` against a mutated emulator.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from iamkeys import changes, documents, serialize
from iamkeys.model import (
    AccountFinding,
    AccountScan,
    CarriedOver,
    Changes,
    Finding,
    FindingChange,
    Inventory,
    InventoryError,
    InventoryKey,
    KeyChange,
    LastUsed,
    StatusChange,
    Thresholds,
)

A, B = "111111111111", "222222222222"
THEN = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 2, 6, 0, tzinfo=UTC)
FIRST = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
NEVER = LastUsed(None, None, None)


def key(key_id: str, user: str = "alice", account: str = A, status: str = "Active",
        *rules: str, since: datetime | None = None) -> InventoryKey:
    return InventoryKey(account_id=account, user_name=user,
                        user_create_date=datetime(2020, 1, 1, tzinfo=UTC), access_key_id=key_id,
                        status=status, create_date=datetime(2021, 1, 1, tzinfo=UTC),
                        last_used=NEVER,
                        findings=tuple(Finding(r, f"{r} reason", since) for r in rules))


def inventory(*keys: InventoryKey, at: datetime = NOW, errors: tuple[InventoryError, ...] = (),
              accounts: tuple[str, ...] = (A, B), root: tuple[str, ...] = (),
              unread_roots: tuple[str, ...] = (), last_used: bool = True,
              root_since: datetime | None = None) -> Inventory:
    scans = tuple(AccountScan(a, users=3, listed=True,
                              root_keys_present=None if a in unread_roots else a in root)
                  for a in accounts)
    return Inventory(keys=keys, errors=errors, deleted=(), accounts=scans,
                     account_findings=tuple(AccountFinding(a, Finding("IAM.4", "root keys",
                                                                      root_since or at))
                                            for a in root),
                     generated_at=at, thresholds=Thresholds(), last_used_checked=last_used)


def error(operation: str, account: str = A, user: str | None = None,
          key_id: str | None = None) -> InventoryError:
    return InventoryError(account, user, operation, "AccessDenied", "denied", key_id)


# --- every kind of change, keyed by key id ------------------------------------------------


def test_each_kind_of_change_by_key_id() -> None:
    old = inventory(key("AKIAOLD1", "alice", A, "Active", "IAM.3", since=FIRST),
                    key("AKIAGONE", "bob", A, "Active"),
                    key("AKIAFLIP", "carol", B, "Active", "IAM.22", since=FIRST), at=THEN)
    new = inventory(key("AKIAOLD1", "alice", A, "Active", "IAM.3", "CIS.1.13"),
                    key("AKIANEW1", "bob", A, "Active"),
                    key("AKIAFLIP", "carol", B, "Inactive", "STALE_INACTIVE"))
    assert changes.compare(old, new) == Changes(
        baseline_at=THEN,
        new_keys=(KeyChange(A, "bob", "AKIANEW1"),),
        removed_keys=(KeyChange(A, "bob", "AKIAGONE"),),
        status_changed=(StatusChange(B, "carol", "AKIAFLIP", "Active", "Inactive"),),
        new_findings=(FindingChange(A, "alice", "AKIAOLD1", "CIS.1.13", "CIS.1.13 reason", None),
                      FindingChange(B, "carol", "AKIAFLIP", "STALE_INACTIVE",
                                    "STALE_INACTIVE reason", None)),
        resolved_findings=(FindingChange(B, "carol", "AKIAFLIP", "IAM.22", "IAM.22 reason",
                                         FIRST),),
    )


def test_a_replaced_key_is_one_new_and_one_removed_not_a_slot() -> None:
    # Bob's only key, rotated: same user, same "first key" slot, another key id.
    old = inventory(key("AKIAROT1", "bob", A, "Active", "IAM.3"), at=THEN)
    new = inventory(key("AKIAROT2", "bob", A, "Active"))
    found = changes.compare(old, new)
    assert found.new_keys == (KeyChange(A, "bob", "AKIAROT2"),)
    assert found.removed_keys == (KeyChange(A, "bob", "AKIAROT1"),)
    assert [f.rule for f in found.resolved_findings] == ["IAM.3"]  # its key is gone


def test_a_user_renamed_keeps_its_keys() -> None:
    old = inventory(key("AKIAKEEP", "old-name", A), at=THEN)
    new = inventory(key("AKIAKEEP", "new-name", A))
    assert changes.compare(old, new).empty


def test_the_same_key_id_in_two_accounts_is_two_keys() -> None:
    old = inventory(key("AKIASAME", "x", A), at=THEN)
    new = inventory(key("AKIASAME", "x", B))
    found = changes.compare(old, new)
    assert (found.new_keys, found.removed_keys) == ((KeyChange(B, "x", "AKIASAME"),),
                                                    (KeyChange(A, "x", "AKIASAME"),))


def test_account_findings_appear_and_resolve() -> None:
    old = inventory(root=(A,), at=THEN, root_since=FIRST)
    new = inventory(root=(B,))
    found = changes.compare(old, new)
    assert found.new_findings == (FindingChange(B, None, None, "IAM.4", "root keys", NOW),)
    assert found.resolved_findings == (FindingChange(A, None, None, "IAM.4", "root keys", FIRST),)


# --- Since -------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "expected"), [
    (FIRST, FIRST),   # first reported in an earlier run: kept
    (None, THEN),     # a baseline written before Since existed: at least since it was taken
])
def test_since_is_carried_over_for_the_same_key_and_rule(before: datetime | None,
                                                         expected: datetime) -> None:
    old = inventory(key("AKIA1", "alice", A, "Active", "IAM.3", since=before), at=THEN)
    new = inventory(key("AKIA1", "alice", A, "Active", "IAM.3", "IAM.22", since=NOW))
    result = changes.with_baseline(new, old)
    assert [(f.rule, f.since) for f in result.keys[0].findings] == [("IAM.3", expected),
                                                                    ("IAM.22", NOW)]


def test_since_is_not_taken_from_another_key_or_account() -> None:
    old = inventory(key("AKIA1", "alice", A, "Active", "IAM.3", since=FIRST),
                    key("AKIA2", "bob", B, "Active", "IAM.3", since=FIRST), at=THEN)
    new = inventory(key("AKIA2", "bob", A, "Active", "IAM.3", since=NOW),
                    key("AKIA3", "alice", A, "Active", "IAM.3", since=NOW))
    result = changes.with_baseline(new, old)
    assert {k.access_key_id: k.findings[0].since for k in result.keys} == {"AKIA2": NOW,
                                                                          "AKIA3": NOW}


def test_account_finding_since_is_carried_over() -> None:
    result = changes.with_baseline(inventory(root=(A,)), inventory(root=(A,), at=THEN,
                                                                   root_since=FIRST))
    assert result.account_findings[0].finding.since == FIRST


# --- a partial run never mistakes "could not read" for "removed" ---------------------------


def test_an_account_that_could_not_be_assumed_is_carried_over() -> None:
    old = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3", since=FIRST),
                    key("AKIAB1", "bob", B, "Active", "IAM.3", since=FIRST),
                    key("AKIAB2", "bob", B, "Active"), root=(B,), at=THEN, root_since=FIRST)
    new = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3", since=NOW),
                    errors=(error("AssumeRole", B),), unread_roots=(B,))
    result = changes.with_baseline(new, old)
    mark = CarriedOver("AssumeRole failed: AccessDenied", THEN)
    assert [(k.access_key_id, k.carried_over) for k in result.keys] == [
        ("AKIAA1", None), ("AKIAB1", mark), ("AKIAB2", mark)]
    assert result.keys[1].findings == old.keys[1].findings  # as they were, Since kept
    assert result.account_findings == (AccountFinding(B, replace(
        old.account_findings[0].finding, carried_over=mark)),)
    assert result.changes == Changes(baseline_at=THEN)
    assert result.carried_over == 2


def test_a_user_whose_keys_could_not_be_listed_is_carried_over_others_are_not() -> None:
    old = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3"),
                    key("AKIAB1", "bob", A, "Active", "IAM.22"), at=THEN)
    new = inventory(errors=(error("ListAccessKeys", A, "alice"),))
    result = changes.with_baseline(new, old)
    assert [(k.access_key_id, k.carried_over) for k in result.keys] == [
        ("AKIAA1", CarriedOver("ListAccessKeys failed: AccessDenied", THEN))]
    assert result.changes is not None
    assert result.changes.removed_keys == (KeyChange(A, "bob", "AKIAB1"),)
    assert [(f.user_name, f.rule) for f in result.changes.resolved_findings] == [
        ("bob", "IAM.22")]


def test_carried_over_again_keeps_when_it_was_last_read() -> None:
    old = inventory(key("AKIAA1", "alice"), at=THEN)
    failed = (error("ListUsers", A),)
    second = changes.with_baseline(inventory(errors=failed), old)
    later = NOW + timedelta(days=1)
    third = changes.with_baseline(inventory(errors=(error("AssumeRole", A),), at=later),
                                  second)
    assert third.keys[0].carried_over == CarriedOver("AssumeRole failed: AccessDenied", THEN)
    # Read again: the mark goes, nothing changed.
    fourth = changes.with_baseline(inventory(key("AKIAA1", "alice"), at=later), third)
    assert fourth.keys[0].carried_over is None and fourth.changes == Changes(baseline_at=later)


@pytest.mark.parametrize("operation", ["GetAccessKeyLastUsed", "--no-last-used"])
def test_last_use_findings_stay_when_last_use_could_not_be_read(operation: str) -> None:
    old = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3", "IAM.22", "CIS.1.11",
                        since=FIRST), at=THEN)
    fresh = replace(key("AKIAA1", "alice", A, "Active", since=NOW), last_used=None)
    if operation == "--no-last-used":
        new = inventory(fresh, last_used=False)
        reason = "last use not checked (--no-last-used)"
    else:
        new = inventory(fresh, errors=(error(operation, A, "alice", "AKIAA1"),))
        reason = "GetAccessKeyLastUsed failed: AccessDenied"
    result = changes.with_baseline(new, old)
    mark = CarriedOver(reason, THEN)
    assert result.keys[0].carried_over is None  # the key itself was read
    assert [(f.rule, f.since, f.carried_over) for f in result.keys[0].findings] == [
        ("IAM.22", FIRST, mark), ("CIS.1.11", FIRST, mark)]
    assert result.changes is not None
    # IAM.3 needs no last use: its absence is real.
    assert [f.rule for f in result.changes.resolved_findings] == ["IAM.3"]


def test_root_keys_unknown_keeps_the_account_finding_only() -> None:
    old = inventory(key("AKIAA1", "alice"), root=(A,), at=THEN)
    new = inventory(errors=(error("GetAccountSummary", A),), unread_roots=(A,))
    result = changes.with_baseline(new, old)
    assert result.account_findings[0].finding.carried_over == CarriedOver(
        "GetAccountSummary failed: AccessDenied", THEN)
    assert result.changes is not None
    assert result.changes.removed_keys == (KeyChange(A, "alice", "AKIAA1"),)  # keys were listed


def test_list_user_tags_failing_leaves_the_keys_listed() -> None:
    old = inventory(key("AKIAA1", "alice"), at=THEN)
    new = inventory(errors=(error("ListUserTags", A, "alice"),))
    assert changes.compare(old, new).removed_keys == (KeyChange(A, "alice", "AKIAA1"),)


def test_an_unknown_operation_is_read_as_its_whole_scope_unread() -> None:
    old = inventory(key("AKIAA1", "alice"), key("AKIAB1", "bob", B), at=THEN)
    new = inventory(errors=(error("GetSomethingNew", A, "alice"), error("ListSomething", B)))
    assert changes.compare(old, new).empty


def test_an_account_the_new_run_did_not_target_is_removed() -> None:
    # Not an error: the account is no longer in the scope (closed, or not in --accounts).
    old = inventory(key("AKIAB1", "bob", B), at=THEN)
    new = inventory(accounts=(A,))
    assert changes.compare(old, new).removed_keys == (KeyChange(B, "bob", "AKIAB1"),)


def test_diff_of_saved_inventories_leaves_out_what_the_new_one_could_not_read() -> None:
    # `iamkeys diff`: NEW was written without a baseline, so nothing is carried over in it.
    old = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3"),
                    key("AKIAB1", "bob", B, "Active", "IAM.3"), at=THEN)
    new = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3"),
                    errors=(error("AssumeRole", B),), unread_roots=(B,))
    assert changes.compare(old, new).empty


def test_a_run_with_a_baseline_reads_back_as_written() -> None:
    old = inventory(key("AKIAA1", "alice", A, "Active", "IAM.3", "IAM.22", since=FIRST),
                    key("AKIAB1", "bob", B, "Active", "IAM.3"), key("AKIAGONE", "c", A),
                    root=(B,), at=THEN)
    new = inventory(replace(key("AKIAA1", "alice", A, "Active", "IAM.3", since=NOW),
                            last_used=None),
                    key("AKIANEW", "dave", A),
                    errors=(error("AssumeRole", B), error("GetAccessKeyLastUsed", A, "alice",
                                                          "AKIAA1")),
                    unread_roots=(B,))
    result = changes.with_baseline(new, old)
    document = serialize.inventory(result)
    assert documents.inventory(document) == result
    assert list(document) == ["Keys", "Errors", "AccountFindings", "Summary", "Changes"]
    assert document["Summary"]["CarriedOver"] == 1
    carried = next(k for k in document["Keys"] if k["AccessKeyId"] == "AKIAB1")
    assert carried["CarriedOver"] == {"Reason": "AssumeRole failed: AccessDenied",
                                      "ReadAt": "2026-05-01T06:00:00Z"}
    assert document["Changes"] == {
        "Baseline": "2026-05-01T06:00:00Z",
        "NewKeys": [{"AccountId": A, "UserName": "dave", "AccessKeyId": "AKIANEW"}],
        "RemovedKeys": [{"AccountId": A, "UserName": "c", "AccessKeyId": "AKIAGONE"}],
        "StatusChanged": [],
        "NewFindings": [],
        "ResolvedFindings": [],
    }
