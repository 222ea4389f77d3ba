"""The remediation policy (remediation.py): pure functions over domain objects, `now` passed in,
each day limit tested at N-1, N and N+1; the validators and the journal line format, with
hypothesis; the plan document written and read back."""

from __future__ import annotations

import re
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkeys import documents, journal, params, remediation, serialize
from iamkeys.errors import InputError
from iamkeys.model import (
    DEACTIVATE,
    DELETE,
    DONE,
    FAILED,
    INTENT,
    REACTIVATE,
    SKIPPED,
    AccessKey,
    Attempt,
    Finding,
    Inventory,
    InventoryError,
    InventoryKey,
    JournalEntry,
    KeyAction,
    LastUsed,
    RemediationPlan,
    RemediationPolicy,
    SkippedKey,
    Thresholds,
)
from iamkeys.remediation import GO, Context

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ACCOUNT = "123456789012"


def key(key_id: str = "AKIAAAAAAAAAAAAAAAA1", *, user: str = "alice", status: str = "Active",
        created: datetime = NOW - 400 * DAY, last_used: LastUsed | None = None,
        findings: tuple[Finding, ...] = (), account: str = ACCOUNT) -> InventoryKey:
    return InventoryKey(account_id=account, user_name=user, user_create_date=NOW - 500 * DAY,
                        access_key_id=key_id, status=status, create_date=created,
                        last_used=last_used or LastUsed(None, None, None), findings=findings)


def finding(rule: str, since: datetime | None = NOW) -> Finding:
    return Finding(rule, f"{rule} reason", since)


def inventory(*keys: InventoryKey, errors: tuple[InventoryError, ...] = ()) -> Inventory:
    return Inventory(keys=keys, errors=errors, deleted=(), accounts=(), account_findings=(),
                     generated_at=NOW, thresholds=Thresholds())


def attempt(action: str, at: datetime, *, outcome: str | None = DONE, plan: str = "p1",
            key_id: str = "AKIAAAAAAAAAAAAAAAA1") -> Attempt:
    return Attempt(plan_id=plan, account_id=ACCOUNT, user_name="alice", access_key_id=key_id,
                   action=action, rules=("IAM.3",), started=at,
                   outcome=outcome, finished=at if outcome else None, attempt=f"a-{at:%s}")


def planned(inv: Inventory, policy: RemediationPolicy,
            context: Context | None = None) -> RemediationPlan:
    return remediation.plan(inv, policy, context or Context(), plan_id="p-test",
                            caller_arn="arn:aws:iam::123456789012:user/ops", journal="j",
                            now=NOW)


# --- grace ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_ago", "expected"), [(13, False), (14, False), (15, True)])
def test_a_finding_is_past_its_grace_after_more_than_n_days(days_ago: int,
                                                            expected: bool) -> None:
    assert remediation.past_grace(finding("IAM.3", NOW - days_ago * DAY), 14, NOW) is expected


def test_no_grace_is_always_past_and_an_unrecorded_since_never_is() -> None:
    assert remediation.past_grace(finding("IAM.3", None), None, NOW)
    assert not remediation.past_grace(finding("IAM.3", None), 0, NOW)


# --- deactivation --------------------------------------------------------------------------


def test_an_active_key_with_a_rule_asked_for_is_deactivated() -> None:
    inv_key = key(findings=(finding("IAM.3"), finding("IAM.22")),
                  last_used=LastUsed(NOW - 90 * DAY, "s3", "eu-west-1"))
    action = remediation.deactivation(inv_key, RemediationPolicy(deactivate=("IAM.22",)), (),
                                      NOW)
    assert action == KeyAction(account_id=ACCOUNT, user_name="alice",
                               access_key_id="AKIAAAAAAAAAAAAAAAA1", action=DEACTIVATE,
                               rules=("IAM.22",), reason="IAM.22: IAM.22 reason",
                               status="Active", last_used=NOW - 90 * DAY)


@pytest.mark.parametrize("inv_key", [
    key(status="Inactive", findings=(finding("IAM.3"),)),
    key(findings=(finding("CIS.1.13"),)),
    key(),
], ids=["inactive", "other rule", "no finding"])
def test_other_keys_are_not_deactivated(inv_key: InventoryKey) -> None:
    assert remediation.deactivation(inv_key, RemediationPolicy(deactivate=("IAM.3",)), (),
                                    NOW) is None


@pytest.mark.parametrize(("days_ago", "acted"), [(13, False), (14, False), (15, True)])
def test_grace_at_n_minus_1_n_n_plus_1(days_ago: int, acted: bool) -> None:
    inv_key = key(findings=(finding("IAM.3", NOW - days_ago * DAY),))
    result = remediation.deactivation(inv_key, RemediationPolicy(deactivate=("IAM.3",),
                                                                 grace=14), (), NOW)
    assert isinstance(result, KeyAction) is acted
    if not acted:
        assert isinstance(result, SkippedKey)
        first = (NOW - days_ago * DAY).strftime("%Y-%m-%d")
        start = (NOW - days_ago * DAY + 15 * DAY).strftime("%Y-%m-%d")
        assert result.reason == (f"IAM.3: first reported {first}, in its grace of 14 days "
                                 f"(acted on from {start})")


def test_only_the_findings_past_their_grace_drive_a_deactivation() -> None:
    inv_key = key(findings=(finding("IAM.3", NOW - 30 * DAY), finding("IAM.22", NOW - DAY)))
    result = remediation.deactivation(
        inv_key, RemediationPolicy(deactivate=("IAM.3", "IAM.22"), grace=7), (), NOW)
    assert isinstance(result, KeyAction)
    assert result.rules == ("IAM.3",)


def test_since_not_recorded_is_skipped_under_a_grace() -> None:
    result = remediation.deactivation(key(findings=(finding("IAM.3", None),)),
                                      RemediationPolicy(deactivate=("IAM.3",), grace=0), (), NOW)
    assert isinstance(result, SkippedKey)
    assert "when it was first reported is not recorded" in result.reason


def test_a_key_iamkeys_deactivated_and_someone_reactivated_is_not_deactivated_twice() -> None:
    history = (attempt(DEACTIVATE, NOW - 3 * DAY),)
    result = remediation.deactivation(key(findings=(finding("IAM.3"),)),
                                      RemediationPolicy(deactivate=("IAM.3",)), history, NOW)
    assert isinstance(result, SkippedKey)
    assert result.reason.startswith("iamkeys deactivated it on 2026-11-26 (journal, plan p1) "
                                    "and it is Active again")


def test_a_saved_inventory_older_than_the_deactivation_leaves_it_to_the_re_read() -> None:
    history = (attempt(DEACTIVATE, NOW - 3 * DAY),)
    result = remediation.deactivation(key(findings=(finding("IAM.3"),)),
                                      RemediationPolicy(deactivate=("IAM.3",)), history, NOW,
                                      seen=NOW - 4 * DAY)
    assert isinstance(result, KeyAction)


def test_a_deactivation_whose_outcome_is_unknown_and_seen_active_since_goes_ahead() -> None:
    history = (attempt(DEACTIVATE, NOW - 3 * DAY, outcome=None),)
    result = remediation.deactivation(key(findings=(finding("IAM.3"),)),
                                      RemediationPolicy(deactivate=("IAM.3",)), history, NOW,
                                      seen=NOW)
    assert isinstance(result, KeyAction)


def test_after_an_undo_the_key_may_be_deactivated_again() -> None:
    history = (attempt(DEACTIVATE, NOW - 3 * DAY), attempt(REACTIVATE, NOW - 2 * DAY))
    result = remediation.deactivation(key(findings=(finding("IAM.3"),)),
                                      RemediationPolicy(deactivate=("IAM.3",)), history, NOW)
    assert isinstance(result, KeyAction)


# --- deletion ------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "deleted"), [(29, False), (30, False), (31, True)])
@pytest.mark.parametrize("basis", ["creation", "last use", "journal"])
def test_deletion_at_n_minus_1_n_n_plus_1(days: int, deleted: bool, basis: str) -> None:
    moment = NOW - days * DAY
    history: tuple[Attempt, ...] = ()
    if basis == "creation":
        inv_key = key(status="Inactive", created=moment)
    elif basis == "last use":
        inv_key = key(status="Inactive", last_used=LastUsed(moment, "s3", "us-east-1"))
    else:
        inv_key = key(status="Inactive", created=NOW - 900 * DAY,
                      last_used=LastUsed(NOW - 800 * DAY, "s3", "us-east-1"))
        history = (attempt(DEACTIVATE, moment),)
    result = remediation.deletion(inv_key, RemediationPolicy(delete_inactive_after=30), history,
                                  NOW, deactivating=False)
    assert isinstance(result, KeyAction) is deleted
    if deleted:
        assert isinstance(result, KeyAction)
        assert (result.action, result.status) == (DELETE, "Inactive")
        assert result.reason.startswith(f"Inactive for more than 30 days: {days} days since ")
    else:
        assert result is None


def test_inactive_since_prefers_the_journal_then_last_use_then_creation() -> None:
    used = LastUsed(NOW - 50 * DAY, "s3", None)
    inv_key = key(status="Inactive", created=NOW - 100 * DAY, last_used=used)
    assert remediation.inactive_since(inv_key, (attempt(DEACTIVATE, NOW - 5 * DAY),)) == (
        NOW - 5 * DAY, "iamkeys deactivated it on 2026-11-24 (journal)")
    assert remediation.inactive_since(inv_key, ()) == (
        NOW - 50 * DAY, "its last use on 2026-10-10")
    assert remediation.inactive_since(key(status="Inactive", created=NOW - 100 * DAY), ()) == (
        NOW - 100 * DAY, "its creation on 2026-08-21 (never used)")
    # Reactivated by an undo since: the journal no longer dates the inactivity.
    undone = (attempt(DEACTIVATE, NOW - 5 * DAY), attempt(REACTIVATE, NOW - 4 * DAY))
    assert remediation.inactive_since(inv_key, undone)[0] == NOW - 50 * DAY


def test_inactivity_of_a_key_whose_last_use_was_not_looked_up_is_unknown() -> None:
    inv_key = InventoryKey(account_id=ACCOUNT, user_name="alice", user_create_date=NOW,
                           access_key_id="AKIAAAAAAAAAAAAAAAA1", status="Inactive",
                           create_date=NOW - 900 * DAY, last_used=None)
    result = remediation.deletion(inv_key, RemediationPolicy(delete_inactive_after=30), (), NOW,
                                  deactivating=False)
    assert isinstance(result, SkippedKey)
    assert "its last use was not looked up" in result.reason


def test_an_active_key_is_never_deleted() -> None:
    old = key(created=NOW - 900 * DAY)
    result = remediation.deletion(old, RemediationPolicy(delete_inactive_after=30), (), NOW,
                                  deactivating=False)
    assert isinstance(result, SkippedKey)
    assert result.reason == "Active: a key is never deleted while Active (deactivate it first)"
    recent = key(created=NOW - 900 * DAY, last_used=LastUsed(NOW - DAY, "s3", None))
    assert remediation.deletion(recent, RemediationPolicy(delete_inactive_after=30), (), NOW,
                                deactivating=False) is None


def test_the_plan_that_deactivates_a_key_never_deletes_it() -> None:
    inv = inventory(key(created=NOW - 900 * DAY, findings=(finding("IAM.3"),)))
    result = planned(inv, RemediationPolicy(deactivate=("IAM.3",), delete_inactive_after=0))
    assert [(a.action, a.access_key_id) for a in result.actions] == [
        (DEACTIVATE, "AKIAAAAAAAAAAAAAAAA1")]
    [left] = result.skipped
    assert (left.action, left.reason.split(":")[0]) == (DELETE, "deactivated by this plan")


# --- never touched -------------------------------------------------------------------------


PROTECTED = [
    ("user error", Context(), (InventoryError(ACCOUNT, "alice", "GetAccessKeyLastUsed",
                                              "Throttling", "Rate exceeded"),),
     "user alice is in the inventory's Errors (GetAccessKeyLastUsed: Throttling): what is "
     "known of its keys is incomplete"),
    ("account error", Context(), (InventoryError(ACCOUNT, None, "ListUsers", "ServiceFailure",
                                                 "x"),),
     "account 123456789012 is in the inventory's Errors (ListUsers: ServiceFailure): what is "
     "known of its keys is incomplete"),
    ("caller", Context(caller_key_id="AKIAAAAAAAAAAAAAAAA1"), (),
     "the key signing these requests (the caller's own)"),
    ("exempt", Context(exempt=frozenset({(ACCOUNT, "alice")})), (),
     "user tagged iamkeys:exempt"),
    ("tags unreadable", Context(unchecked={(ACCOUNT, "alice"): "ListUserTags: AccessDenied: no"}),
     (), "whether the user is tagged iamkeys:exempt is not known: ListUserTags: AccessDenied: "
         "no"),
]


@pytest.mark.parametrize(("context", "errors", "reason"), [p[1:] for p in PROTECTED],
                         ids=[p[0] for p in PROTECTED])
def test_keys_never_touched_are_listed_with_the_reason(
        context: Context, errors: tuple[InventoryError, ...], reason: str) -> None:
    inv = inventory(key(findings=(finding("IAM.3"),)),
                    key("AKIAAAAAAAAAAAAAAAA2", user="bob", findings=(finding("IAM.3"),)),
                    errors=errors)
    result = planned(inv, RemediationPolicy(deactivate=("IAM.3",)), context)
    alice = [s for s in result.skipped if s.user_name == "alice"]
    assert [(s.action, s.reason) for s in alice] == [(DEACTIVATE, reason)]
    bob = [a.user_name for a in result.actions]
    assert bob == ([] if reason.startswith("account") else ["bob"])


def test_another_accounts_error_does_not_protect() -> None:
    inv = inventory(key(findings=(finding("IAM.3"),)),
                    errors=(InventoryError("111122223333", None, "AssumeRole", "AccessDenied",
                                           "x"),))
    assert len(planned(inv, RemediationPolicy(deactivate=("IAM.3",))).actions) == 1


def test_users_to_check_are_those_with_actions() -> None:
    inv = inventory(key(findings=(finding("IAM.3"),)),
                    key("AKIAAAAAAAAAAAAAAAA2", user="bob", status="Inactive",
                        created=NOW - 10 * DAY))
    result = planned(inv, RemediationPolicy(deactivate=("IAM.3",), delete_inactive_after=30))
    assert remediation.users_to_check(result) == {(ACCOUNT, "alice")}


@pytest.mark.parametrize(("actions", "refused"), [(24, False), (25, False), (26, True)])
def test_the_cap_at_n_minus_1_n_n_plus_1(actions: int, refused: bool) -> None:
    inv = inventory(*(key(f"AKIA{i:016d}", findings=(finding("IAM.3"),))
                      for i in range(actions)))
    why = remediation.over_cap(planned(inv, RemediationPolicy(deactivate=("IAM.3",))), 25)
    assert (why is not None) is refused
    if why:
        assert why.startswith("the plan has 26 actions, over the cap of 25: nothing was "
                              "changed")


# --- the journal as attempts ---------------------------------------------------------------


def entry(event: str, at: datetime, attempt_id: str, action: str = DEACTIVATE) -> JournalEntry:
    return JournalEntry(time=at, event=event, plan_id="p1", attempt=attempt_id,
                        account_id=ACCOUNT, user_name="alice",
                        access_key_id="AKIAAAAAAAAAAAAAAAA1", action=action, rules=("IAM.3",),
                        caller_arn="arn:aws:iam::123456789012:user/ops")


def test_attempts_pair_intents_with_their_outcomes() -> None:
    found = remediation.attempts([
        entry(INTENT, NOW, "a1"), entry(FAILED, NOW + DAY, "a1"),
        entry(INTENT, NOW + 2 * DAY, "a2"), entry(DONE, NOW + 3 * DAY, "a2"),
        entry(INTENT, NOW + 4 * DAY, "a3", REACTIVATE),
        entry(DONE, NOW + 5 * DAY, "a4", DELETE),  # its intent line is missing
    ])
    [history] = found.values()
    assert [(a.attempt, a.action, a.outcome, a.landed) for a in history] == [
        ("a1", DEACTIVATE, FAILED, False), ("a2", DEACTIVATE, DONE, True),
        ("a3", REACTIVATE, None, True), ("a4", DELETE, DONE, True)]
    assert history[2].time == NOW + 4 * DAY and history[1].time == NOW + 3 * DAY
    assert remediation.last_landed(history) == history[3]


# --- right before a write ------------------------------------------------------------------


def live(status: str | None) -> AccessKey | None:
    if status is None:
        return None
    return AccessKey("alice", "AKIAAAAAAAAAAAAAAAA1", status, NOW - 400 * DAY)


def action(kind: str = DEACTIVATE, **fields: Any) -> KeyAction:
    status = "Active" if kind == DEACTIVATE else "Inactive"
    values: dict[str, Any] = dict(account_id=ACCOUNT, user_name="alice",
                                  access_key_id="AKIAAAAAAAAAAAAAAAA1", action=kind,
                                  rules=("IAM.3",), reason="r", status=status)
    values.update(fields)
    return KeyAction(**values)


VERDICTS = [
    ("deactivate, still Active", DEACTIVATE, "Active", (), GO, ""),
    ("deactivate, already Inactive", DEACTIVATE, "Inactive", (), SKIPPED,
     "already Inactive: changed outside iamkeys since the plan"),
    ("deactivate, gone", DEACTIVATE, None, (), SKIPPED,
     "no longer listed under user alice: deleted (or the user removed) since the plan"),
    ("deactivate, journal done, Inactive", DEACTIVATE, "Inactive",
     (attempt(DEACTIVATE, NOW),), DONE, "done by iamkeys on 2026-11-29 (journal, plan p1)"),
    ("deactivate, intent only, Inactive", DEACTIVATE, "Inactive",
     (attempt(DEACTIVATE, NOW, outcome=None),), DONE,
     "done by iamkeys on 2026-11-29 (journal, plan p1); this re-read confirms the outcome the "
     "journal lacks"),
    ("deactivate, intent only, still Active", DEACTIVATE, "Active",
     (attempt(DEACTIVATE, NOW, outcome=None),), GO, ""),
    ("deactivate, failed before, still Active", DEACTIVATE, "Active",
     (attempt(DEACTIVATE, NOW, outcome=FAILED),), GO, ""),
    ("deactivate, journal done, Active again", DEACTIVATE, "Active",
     (attempt(DEACTIVATE, NOW),), SKIPPED,
     "iamkeys deactivated it on 2026-11-29 (journal, plan p1) and it is Active again: changed "
     "outside iamkeys since, so it is not deactivated twice"),
    ("delete, Inactive", DELETE, "Inactive", (), GO, ""),
    ("delete, Active again", DELETE, "Active", (), SKIPPED,
     "status is Active, planned Inactive: changed since the plan"),
    ("delete, gone, not by iamkeys", DELETE, None, (), SKIPPED,
     "already deleted: changed outside iamkeys since the plan"),
    ("delete, gone, intent only", DELETE, None, (attempt(DELETE, NOW, outcome=None),), DONE,
     "done by iamkeys on 2026-11-29 (journal, plan p1); this re-read confirms the outcome the "
     "journal lacks"),
    ("delete, gone, failed before", DELETE, None, (attempt(DELETE, NOW, outcome=FAILED),),
     SKIPPED, "already deleted: changed outside iamkeys since the plan"),
    ("reactivate, Inactive", REACTIVATE, "Inactive", (attempt(DEACTIVATE, NOW),), GO, ""),
    ("reactivate, already Active", REACTIVATE, "Active", (attempt(DEACTIVATE, NOW),), SKIPPED,
     "already Active: changed outside iamkeys since the plan"),
]


@pytest.mark.parametrize(("kind", "status", "history", "expected", "reason"),
                         [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS])
def test_verdict_right_before_a_write(kind: str, status: str | None,
                                      history: tuple[Attempt, ...], expected: str,
                                      reason: str) -> None:
    assert remediation.verdict(action(kind), live(status), history) == (expected, reason)


USED = [
    ("unused still", ("IAM.22",), NOW - 90 * DAY, LastUsed(NOW - 90 * DAY, "s3", "eu-west-1"),
     None),
    ("used since", ("IAM.22",), NOW - 90 * DAY, LastUsed(NOW - DAY, "s3", "eu-west-1"),
     "used since the inventory: last used 2026-11-28T12:00:00Z (s3, eu-west-1), so IAM.22 no "
     "longer holds"),
    ("never used, then used", ("IAM.22",), None, LastUsed(NOW, "ec2", None),
     "used since the inventory: last used 2026-11-29T12:00:00Z (ec2), so IAM.22 no longer "
     "holds"),
    ("never used still", ("IAM.22",), None, LastUsed(None, None, None), None),
    ("not for IAM.22", ("IAM.3",), None, LastUsed(NOW, "ec2", None), None),
    ("sub-second", ("IAM.22",), NOW, LastUsed(NOW + timedelta(microseconds=5), "s3", None),
     None),
]


@pytest.mark.parametrize(("rules", "seen", "now_used", "reason"), [u[1:] for u in USED],
                         ids=[u[0] for u in USED])
def test_used_since_the_inventory(rules: tuple[str, ...], seen: datetime | None,
                                  now_used: LastUsed, reason: str | None) -> None:
    assert remediation.used_since(action(rules=rules, last_used=seen), now_used) == reason


# --- undo ----------------------------------------------------------------------------------


def undo(history: dict[tuple[str, str], tuple[Attempt, ...]],
         only: str | None = None) -> RemediationPlan:
    return remediation.undo_plan(history, only=only, plan_id="u1", caller_arn="arn", journal="j",
                                 policy=RemediationPolicy(), now=NOW)


def test_undo_reactivates_what_was_deactivated_and_lists_deletions_as_not_undoable() -> None:
    k1, k2, k3, k4 = (f"AKIAAAAAAAAAAAAAAAA{i}" for i in range(1, 5))
    result = undo({
        (ACCOUNT, k1): (attempt(DEACTIVATE, NOW, key_id=k1),),
        (ACCOUNT, k2): (attempt(DELETE, NOW, key_id=k2),),
        (ACCOUNT, k3): (attempt(DEACTIVATE, NOW, key_id=k3),
                        attempt(REACTIVATE, NOW + DAY, key_id=k3, plan="u0")),
        (ACCOUNT, k4): (attempt(DEACTIVATE, NOW, key_id=k4, outcome=FAILED),),
    })
    assert [(a.access_key_id, a.action, a.status) for a in result.actions] == [
        (k1, REACTIVATE, "Inactive")]
    assert [(s.access_key_id, s.action, s.reason.split(":")[0]) for s in result.skipped] == [
        (k2, DELETE, "deleted by iamkeys on 2026-11-29 (plan p1)")]
    assert "not undoable" in result.skipped[0].reason


def test_undo_of_one_plan_leaves_the_others() -> None:
    k1, k2 = "AKIAAAAAAAAAAAAAAAA1", "AKIAAAAAAAAAAAAAAAA2"
    history = {(ACCOUNT, k1): (attempt(DEACTIVATE, NOW, key_id=k1, plan="p1"),),
               (ACCOUNT, k2): (attempt(DEACTIVATE, NOW, key_id=k2, plan="p2"),)}
    assert [a.access_key_id for a in undo(history, only="p2").actions] == [k2]


def test_undo_of_an_interrupted_deactivation_says_so() -> None:
    result = undo({(ACCOUNT, "AKIAAAAAAAAAAAAAAAA1"): (attempt(DEACTIVATE, NOW, outcome=None),)})
    assert result.actions[0].reason.endswith("undone if the key is Inactive")


# --- validators (hypothesis) ---------------------------------------------------------------

RULES = st.sampled_from(["IAM.3", "IAM.22", "CIS.1.11"])


@settings(max_examples=60)
@given(st.lists(RULES, min_size=1, max_size=5), st.sampled_from([",", " ,", ", "]))
def test_rule_lists_of_known_rules_are_accepted(rules: list[str], sep: str) -> None:
    checked = params.choice_list(sep.join(rules), name="deactivate",
                                 choices=remediation.DEACTIVATABLE,
                                 refused=remediation.NOT_DEACTIVATABLE)
    assert checked == tuple(dict.fromkeys(rules))


@settings(max_examples=80)
@given(st.text(max_size=40))
def test_rule_lists_with_anything_else_are_refused(text: str) -> None:
    items = [item.strip() for item in text.split(",")]
    valid = all(item in remediation.DEACTIVATABLE for item in items)
    try:
        params.choice_list(text, name="deactivate", choices=remediation.DEACTIVATABLE,
                           refused=remediation.NOT_DEACTIVATABLE)
    except InputError as e:
        assert not valid and e.parameter == "deactivate"
    else:
        assert valid


@pytest.mark.parametrize("rule", ["CIS.1.13", "IAM.4", "STALE_INACTIVE"])
def test_rules_that_cannot_deactivate_say_why(rule: str) -> None:
    with pytest.raises(InputError) as raised:
        params.choice_list(f"IAM.3,{rule}", name="deactivate",
                           choices=remediation.DEACTIVATABLE,
                           refused=remediation.NOT_DEACTIVATABLE)
    assert raised.value.rule == f"{rule}: {remediation.NOT_DEACTIVATABLE[rule]}"


@settings(max_examples=80)
@given(st.text(max_size=140))
def test_tag_keys(text: str) -> None:
    ok = (re.fullmatch(r"[A-Za-z0-9 _.:/=+@-]{1,128}", text) is not None and bool(text.strip())
          and not text.lower().startswith("aws:"))
    try:
        assert params.tag_key(text, default="x") == text
    except InputError as e:
        assert not ok and e.parameter == "exempt_tag"
    else:
        assert ok


@settings(max_examples=80)
@given(st.one_of(st.integers(-5, 20_000).map(str), st.text(max_size=8)))
def test_max_actions(text: str) -> None:
    ok = re.fullmatch(r"\s*\+?[0-9]{1,9}\s*", text) is not None and 1 <= int(text) <= 10_000
    try:
        value = params.max_actions(text, default=25)
    except InputError as e:
        assert not ok and e.rule == "must be an integer from 1 to 10000"
    else:
        assert ok and value == int(text)


@settings(max_examples=80)
@given(st.one_of(st.integers(-5, 40_000).map(str), st.text(max_size=8)))
def test_optional_days(text: str) -> None:
    ok = re.fullmatch(r"\s*\+?[0-9]{1,9}\s*", text) is not None and 0 <= int(text) <= 36_500
    try:
        value = params.optional_days(text, name="grace")
    except InputError as e:
        assert not ok and e.parameter == "grace"
    else:
        assert ok and value == int(text)


BUCKET = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)


@settings(max_examples=60)
@given(BUCKET, st.text(string.ascii_letters + string.digits + "/-_.", max_size=40))
def test_s3_journal_locations(bucket: str, prefix: str) -> None:
    location = f"s3://{bucket}/{prefix}"
    assert params.journal_location(location) == location


@settings(max_examples=80)
@given(st.text(max_size=80).map(lambda t: "s3://" + t))
def test_s3_journal_locations_outside_the_rules_are_refused(location: str) -> None:
    bucket, _, prefix = location[5:].partition("/")
    ok = (re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket) is not None
          and ".." not in bucket and re.fullmatch(r"[\x21-\x7e]{0,900}", prefix) is not None)
    try:
        params.journal_location(location)
    except InputError as e:
        assert not ok and e.parameter == "journal"
    else:
        assert ok


@settings(max_examples=80)
@given(st.text(max_size=70))
def test_plan_ids(text: str) -> None:
    ok = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", text) is not None
    try:
        assert params.plan_id(text) == text
    except InputError as e:
        assert not ok and e.parameter == "run"
    else:
        assert ok


# --- the journal line and the plan document, both ways --------------------------------------

TEXT = st.text(max_size=60).filter(bool)
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC))


@settings(max_examples=80)
@given(MOMENTS, st.sampled_from(journal.EVENTS), TEXT, TEXT, TEXT, TEXT,
       st.sampled_from((DEACTIVATE, DELETE, REACTIVATE)), st.lists(TEXT, max_size=3),
       st.none() | TEXT, st.none() | TEXT)
def test_a_journal_line_reads_back_as_written(moment: datetime, event: str, plan: str,
                                              user: str, key_id: str, arn: str, kind: str,
                                              rules: list[str], role: str | None,
                                              detail: str | None) -> None:
    written = JournalEntry(time=moment, event=event, plan_id=plan, attempt="a1",
                           account_id=ACCOUNT, user_name=user, access_key_id=key_id,
                           action=kind, rules=tuple(rules), caller_arn=arn, role_arn=role,
                           detail=detail)
    raw = journal.line(written)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1 and raw.isascii()
    assert journal.parse_line(raw.decode(), "line 1") == written


@pytest.mark.parametrize(("text", "rule"), [
    ("{", "not a JSON line"),
    ("[]", "not a JSON object"),
    ('{"Event": "maybe"}', "Event must be one of intent, done, failed"),
])
def test_a_journal_line_that_is_not_one_is_named(text: str, rule: str) -> None:
    with pytest.raises(InputError) as raised:
        journal.parse_line(text, "j line 3")
    assert raised.value.rule == f"j line 3: not an iamkeys journal line: {rule}"


def test_a_plan_reads_back_as_written() -> None:
    inv = inventory(key(findings=(finding("IAM.22"),),
                        last_used=LastUsed(NOW - 60 * DAY, "s3", None)),
                    key("AKIAAAAAAAAAAAAAAAA2", user="bob", status="Inactive",
                        created=NOW - 90 * DAY),
                    key("AKIAAAAAAAAAAAAAAAA3", user="carol", findings=(finding("IAM.22"),)))
    policy = RemediationPolicy(deactivate=("IAM.22",), delete_inactive_after=30,
                               exempt_tag="team:exempt", max_actions=7)
    made = planned(inv, policy, Context(exempt=frozenset({(ACCOUNT, "carol")})))
    assert len(made.actions) == 2 and len(made.skipped) == 3
    assert documents.plan(serialize.plan(made)) == made
    applied = replace(made, applied=True, actions=tuple(
        replace(a, result=DONE, result_reason="UpdateAccessKey Status=Inactive")
        for a in made.actions))
    assert documents.plan(serialize.plan(applied)) == applied


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["Actions"][0].update(UserName="Alicé"),
     "Actions[0].UserName must be 1-128 characters"),
    (lambda d: d["Actions"][0].update(Action="rotate"),
     "Actions[0].Action must be one of deactivate, delete, reactivate"),
    (lambda d: d["Actions"][0].update(AccountId="12345"),
     "Actions[0].AccountId must be a 12-digit account id"),
    (lambda d: d["Summary"].pop("PlanId"), "Summary.PlanId is required"),
    (lambda d: d.pop("Actions"), "expected a plan"),
])
def test_a_plan_that_is_not_one_names_the_member(change: Any, message: str) -> None:
    document = serialize.plan(planned(inventory(key(findings=(finding("IAM.3"),))),
                                      RemediationPolicy(deactivate=("IAM.3",))))
    change(document)
    with pytest.raises(InputError) as raised:
        documents.plan(document)
    assert message in raised.value.rule
