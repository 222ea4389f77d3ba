"""The remediation policy: which keys to deactivate or delete, which never to touch, and, right
before each write, whether the live key still allows it.

Small pure functions over domain objects with `now` passed in, like the findings rules. Ages
are whole days (`findings.age_days`): "older than N days" means more than N whole days.

- A key is deactivated when it is Active and has a finding among the rules asked for whose
  `Since` is past the grace; it is deleted when it is Inactive and has been for more than N
  days as far as can be known: since iamkeys deactivated it (the journal), else since its last
  use, else since its creation. An Active key is never deleted, so a key a plan deactivates is
  never deleted by that plan.
- Never touched, and listed as skipped with the reason: keys of users tagged exempt, the key
  signing the requests, keys whose user or account is in the inventory's Errors, and keys
  iamkeys deactivated that someone reactivated since (they are not deactivated twice).
- The journal is read as attempts (an intent and its outcome). An attempt without an outcome
  (the run was killed between them) may or may not have been applied: the live re-read tells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .findings import (
    KEY_AT_USER_SETUP,
    OLD_KEY,
    ROOT_KEYS,
    SEVERAL_ACTIVE_KEYS,
    STALE_INACTIVE,
    UNUSED_KEY,
    age_days,
)
from .model import (
    DEACTIVATE,
    DELETE,
    DONE,
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
)

# Findings that may deactivate a key, and those refused, with why.
DEACTIVATABLE = (OLD_KEY, UNUSED_KEY, KEY_AT_USER_SETUP)
NOT_DEACTIVATABLE = {
    SEVERAL_ACTIVE_KEYS: "flags every active key of the user, so deactivating on it would cut "
                         "the user off (deactivate on IAM.3 or IAM.22)",
    ROOT_KEYS: "root user keys are not IAM user keys; only the root user can remove them",
    STALE_INACTIVE: "flags keys that are already Inactive (see --delete-inactive-after)",
}
ACTIVE = "Active"
INACTIVE = "Inactive"
# The status each action finds a key in, and the one it leaves (None: the key is gone).
FROM_STATUS = {DEACTIVATE: ACTIVE, DELETE: INACTIVE, REACTIVATE: INACTIVE}
TO_STATUS: dict[str, str | None] = {DEACTIVATE: INACTIVE, DELETE: None, REACTIVATE: ACTIVE}
PAST = {DEACTIVATE: "deactivated", DELETE: "deleted", REACTIVATE: "reactivated"}
# A verdict right before a write: go ahead, or the result to record without writing.
GO = "go"
_DAY = timedelta(days=1)

Scope = tuple[str, str]
History = Mapping[tuple[str, str], tuple[Attempt, ...]]


@dataclass(frozen=True, slots=True)
class Context:
    """What planning knows besides the inventory: who signs the requests, who is exempt, and
    what the journal says iamkeys did, by (account id, access key id)."""

    caller_key_id: str | None = None
    exempt: frozenset[Scope] = frozenset()
    # (account id, user name) -> why the user's tags could not be read: exemption unknown.
    unchecked: Mapping[Scope, str] = field(default_factory=dict)
    history: History = field(default_factory=dict)


# --- the journal's history -----------------------------------------------------------------


def attempts(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], tuple[Attempt, ...]]:
    """Each key's attempts in the order they started, by (account id, access key id).

    An outcome line finishes the intent with the same attempt id; one whose intent is missing
    still counts (a journal copied in part), as an attempt that started when it finished.
    """
    made: dict[str, Attempt] = {}
    for entry in entries:
        known = made.get(entry.attempt)
        if entry.event == INTENT or known is None:
            known = Attempt(plan_id=entry.plan_id, account_id=entry.account_id,
                            user_name=entry.user_name, access_key_id=entry.access_key_id,
                            action=entry.action, rules=entry.rules, started=entry.time,
                            attempt=entry.attempt)
        if entry.event != INTENT:
            known = replace(known, outcome=entry.event, finished=entry.time)
        made[entry.attempt] = known
    by_key: dict[tuple[str, str], list[Attempt]] = {}
    for attempt in made.values():
        by_key.setdefault((attempt.account_id, attempt.access_key_id), []).append(attempt)
    return {key: tuple(sorted(found, key=lambda a: a.started)) for key, found in by_key.items()}


def last_landed(history: Sequence[Attempt]) -> Attempt | None:
    """The latest change iamkeys made, or may have made, to a key (failed ones aside)."""
    landed = [a for a in history if a.landed]
    return landed[-1] if landed else None


def deactivated_by_iamkeys(history: Sequence[Attempt]) -> Attempt | None:
    """The deactivation that is iamkeys' latest change to the key, if it is one."""
    last = last_landed(history)
    return last if last is not None and last.action == DEACTIVATE else None


# --- deactivation --------------------------------------------------------------------------


def past_grace(finding: Finding, grace: int | None, now: datetime) -> bool:
    """Whether a finding was first reported more than `grace` days ago (no grace: always).

    A finding whose first report is not recorded is never past a grace.
    """
    if grace is None:
        return True
    return finding.since is not None and age_days(finding.since, now) > grace


def deactivation(key: InventoryKey, policy: RemediationPolicy, history: Sequence[Attempt],
                 now: datetime, *, seen: datetime | None = None) -> KeyAction | SkippedKey | None:
    """Deactivate an Active key with findings among the rules, once past their grace.

    `seen`: when the inventory saw the key Active. Seen Active after iamkeys deactivated it,
    it was reactivated since and is not deactivated twice; seen before (a saved inventory),
    the live re-read at apply time decides.
    """
    matching = [f for f in key.findings if f.rule in policy.deactivate]
    if not key.active or not matching:
        return None
    rules = tuple(f.rule for f in matching)
    ready = [f for f in matching if past_grace(f, policy.grace, now)]
    if not ready:
        return _skipped(key, DEACTIVATE, rules,
                        "; ".join(_waiting(f, policy.grace, now) for f in matching))
    earlier = deactivated_by_iamkeys(history)
    if (earlier is not None and earlier.outcome == DONE
            and (seen is None or earlier.time < seen)):
        return _skipped(key, DEACTIVATE, rules, _again(DEACTIVATE, earlier, ACTIVE))
    last = key.last_used.date if key.last_used is not None else None
    return KeyAction(account_id=key.account_id, user_name=key.user_name,
                     access_key_id=key.access_key_id, action=DEACTIVATE,
                     rules=tuple(f.rule for f in ready),
                     reason="; ".join(f"{f.rule}: {f.reason}" for f in ready),
                     status=ACTIVE, last_used=last)


def _waiting(finding: Finding, grace: int | None, now: datetime) -> str:
    """Why a finding is not acted on yet: the grace, and from when it will be."""
    if finding.since is None:
        return (f"{finding.rule}: when it was first reported is not recorded, so its "
                f"grace of {grace} days cannot be counted")
    start = finding.since + (int(grace or 0) + 1) * _DAY
    return (f"{finding.rule}: first reported {_day(finding.since)}, in its grace of {grace} "
            f"days (acted on from {_day(start)})")


def _again(action: str, earlier: Attempt, status: str) -> str:
    """Why a key iamkeys already changed is not changed twice."""
    return (f"iamkeys {PAST[action]} it on {_day(earlier.time)} (journal, plan "
            f"{earlier.plan_id}) and it is {status} again: changed outside iamkeys since, so "
            f"it is not {PAST[action]} twice")


# --- deletion ------------------------------------------------------------------------------


def inactive_since(key: InventoryKey, history: Sequence[Attempt]) -> tuple[datetime, str] | None:
    """Since when an Inactive key is inactive, as far as can be known, and how it is known.

    Since iamkeys deactivated it (the journal); else since its last use; else since its
    creation when it was never used. None when its last use was not looked up.
    """
    earlier = deactivated_by_iamkeys(history)
    if earlier is not None:
        return earlier.time, f"iamkeys deactivated it on {_day(earlier.time)} (journal)"
    if key.last_used is None:
        return None
    if key.last_used.date is not None:
        return key.last_used.date, f"its last use on {_day(key.last_used.date)}"
    return key.create_date, f"its creation on {_day(key.create_date)} (never used)"


def deletion(key: InventoryKey, policy: RemediationPolicy, history: Sequence[Attempt],
             now: datetime, *, deactivating: bool) -> KeyAction | SkippedKey | None:
    """Delete a key Inactive for more than `delete_inactive_after` days; never an Active one.

    `deactivating`: this plan deactivates the key, so it is deleted by a later run at the
    earliest, once it has been Inactive long enough.
    """
    days = policy.delete_inactive_after
    rules = tuple(f.rule for f in key.findings if f.rule == STALE_INACTIVE)
    if days is None:
        return None
    if key.active:
        if deactivating:
            return _skipped(key, DELETE, rules, f"deactivated by this plan: never deleted by "
                                                f"the run that deactivates it (a later run "
                                                f"deletes it once Inactive more than {days} "
                                                "days)")
        idle = (key.last_used.date or key.create_date) if key.last_used is not None else None
        if idle is not None and age_days(idle, now) > days:
            return _skipped(key, DELETE, rules, "Active: a key is never deleted while Active "
                                                "(deactivate it first)")
        return None
    since = inactive_since(key, history)
    if since is None:
        return _skipped(key, DELETE, rules, "how long it has been Inactive is not known: its "
                                            "last use was not looked up (--no-last-used, or "
                                            "GetAccessKeyLastUsed failed)")
    moment, basis = since
    inactive = age_days(moment, now)
    if inactive <= days:
        return None
    return KeyAction(account_id=key.account_id, user_name=key.user_name,
                     access_key_id=key.access_key_id, action=DELETE, rules=rules,
                     reason=f"Inactive for more than {days} days: {inactive} days since "
                            f"{basis}",
                     status=INACTIVE)


# --- keys never touched --------------------------------------------------------------------


def error_scopes(errors: Iterable[InventoryError]) -> dict[Scope, InventoryError]:
    """The inventory's errors by scope: (account, user), or (account, "") for a whole account."""
    scopes: dict[Scope, InventoryError] = {}
    for error in errors:
        scopes.setdefault((error.account_id, error.user_name or ""), error)
    return scopes


def protection(key: InventoryKey, errors: Mapping[Scope, InventoryError], context: Context,
               policy: RemediationPolicy) -> str | None:
    """Why a key is never touched, or None."""
    user = (key.account_id, key.user_name)
    error = errors.get(user) or errors.get((key.account_id, ""))
    if error is not None:
        whose = f"user {key.user_name}" if error.user_name else f"account {key.account_id}"
        return (f"{whose} is in the inventory's Errors ({error.operation}: {error.code}): "
                "what is known of its keys is incomplete")
    if context.caller_key_id is not None and key.access_key_id == context.caller_key_id:
        return "the key signing these requests (the caller's own)"
    if user in context.exempt:
        return f"user tagged {policy.exempt_tag}"
    if user in context.unchecked:
        return (f"whether the user is tagged {policy.exempt_tag} is not known: "
                f"{context.unchecked[user]}")
    return None


def _protected(candidate: KeyAction | SkippedKey | None, reason: str | None
               ) -> KeyAction | SkippedKey | None:
    """The candidate, skipped for `reason` when the key is never touched."""
    if candidate is None or reason is None:
        return candidate
    return SkippedKey(account_id=candidate.account_id, user_name=candidate.user_name,
                      access_key_id=candidate.access_key_id, action=candidate.action,
                      rules=candidate.rules, reason=reason)


# --- the plan ------------------------------------------------------------------------------


def plan(inv: Inventory, policy: RemediationPolicy, context: Context, *, plan_id: str,
         caller_arn: str, journal: str, now: datetime) -> RemediationPlan:
    """Every action the policy asks for on the inventory's keys, and every key left alone."""
    errors = error_scopes(inv.errors)
    actions: list[KeyAction] = []
    skipped: list[SkippedKey] = []
    for key in inv.keys:
        history = context.history.get((key.account_id, key.access_key_id), ())
        guard = protection(key, errors, context, policy)
        deactivate = _protected(deactivation(key, policy, history, now,
                                             seen=inv.generated_at), guard)
        delete = _protected(deletion(key, policy, history, now,
                                     deactivating=isinstance(deactivate, KeyAction)), guard)
        for candidate in (deactivate, delete):
            if isinstance(candidate, KeyAction):
                actions.append(candidate)
            elif candidate is not None:
                skipped.append(candidate)
    return RemediationPlan(plan_id=plan_id, actions=tuple(actions), skipped=tuple(skipped),
                           policy=policy, generated_at=now, caller_arn=caller_arn,
                           journal=journal, inventory_generated_at=inv.generated_at)


def users_to_check(planned: RemediationPlan) -> frozenset[Scope]:
    """The users whose tags decide whether the plan's actions may go ahead."""
    return frozenset((a.account_id, a.user_name) for a in planned.actions)


def over_cap(planned: RemediationPlan, cap: int) -> str | None:
    """Why a plan is refused whole: more actions than the cap."""
    if len(planned.actions) <= cap:
        return None
    return (f"the plan has {len(planned.actions)} actions, over the cap of {cap}: nothing was "
            "changed (raise --max-actions, or narrow the plan with --accounts, --path-prefix "
            "or fewer rules)")


# --- undo ----------------------------------------------------------------------------------


def undo_plan(history: History, *, only: str | None, plan_id: str, caller_arn: str,
              journal: str, policy: RemediationPolicy, now: datetime) -> RemediationPlan:
    """Reactivate the keys the journal deactivated (those of plan `only`, or of every plan);
    deletions are listed as not undoable."""
    actions: list[KeyAction] = []
    skipped: list[SkippedKey] = []
    for found in history.values():
        mine = last_landed([a for a in found if only is None or a.plan_id == only])
        if mine is None or mine.action == REACTIVATE:
            continue
        candidate = _undo(mine, last_landed(found))
        if isinstance(candidate, KeyAction):
            actions.append(candidate)
        else:
            skipped.append(candidate)
    actions.sort(key=_key_order)
    skipped.sort(key=_key_order)
    return RemediationPlan(plan_id=plan_id, actions=tuple(actions), skipped=tuple(skipped),
                           policy=policy, generated_at=now, caller_arn=caller_arn,
                           journal=journal)


def _undo(mine: Attempt, last: Attempt | None) -> KeyAction | SkippedKey:
    """The reactivation that undoes one attempt, or why there is none."""
    if mine.action == DELETE:
        return _left(mine, DELETE, f"deleted by iamkeys on {_day(mine.time)} (plan "
                                   f"{mine.plan_id}): not undoable, a deleted key cannot be "
                                   "restored (create a new key for the user)")
    if last is not None and last is not mine:
        return _left(mine, REACTIVATE, f"{PAST[last.action]} by iamkeys on {_day(last.time)} "
                                       f"(plan {last.plan_id}), after this deactivation: undo "
                                       "that instead")
    reason = f"deactivated by iamkeys on {_day(mine.time)} (plan {mine.plan_id}"
    reason += f"; {', '.join(mine.rules)})" if mine.rules else ")"
    if mine.outcome is None:
        reason += ("; the run ended before its outcome was journaled: undone if the key is "
                   "Inactive")
    return KeyAction(account_id=mine.account_id, user_name=mine.user_name,
                     access_key_id=mine.access_key_id, action=REACTIVATE, rules=mine.rules,
                     reason=reason, status=INACTIVE)


def _left(attempt: Attempt, action: str, reason: str) -> SkippedKey:
    """A key an undo leaves alone."""
    return SkippedKey(account_id=attempt.account_id, user_name=attempt.user_name,
                      access_key_id=attempt.access_key_id, action=action,
                      rules=attempt.rules, reason=reason)


# --- right before a write ------------------------------------------------------------------


def verdict(action: KeyAction, live: AccessKey | None,
            history: Sequence[Attempt]) -> tuple[str, str]:
    """Go ahead, or the result (done, skipped) to record without writing, with the reason.

    `live` is the key as ListAccessKeys of its user shows it now (None: not listed, or the
    user is gone). What the journal and this re-read show as done is not done again.
    """
    last = last_landed(history)
    ours = last is not None and last.action == action.action
    state = live.status if live is not None else None
    if state == TO_STATUS[action.action]:
        if ours and last is not None:
            how = ("; this re-read confirms the outcome the journal lacks"
                   if last.outcome is None else "")
            return DONE, f"done by iamkeys on {_day(last.time)} (journal, plan {last.plan_id}" \
                         f"){how}"
        shown = state or "deleted"
        return SKIPPED, f"already {shown}: changed outside iamkeys since the plan"
    if live is None:
        return SKIPPED, (f"no longer listed under user {action.user_name}: deleted (or the "
                         "user removed) since the plan")
    if state != action.status:
        return SKIPPED, f"status is {state}, planned {action.status}: changed since the plan"
    if ours and last is not None and last.outcome == DONE:
        return SKIPPED, _again(action.action, last, action.status)
    return GO, ""


def used_since(action: KeyAction, live: LastUsed) -> str | None:
    """Why a deactivation for IAM.22 (unused) no longer holds: the key was used after the
    inventory's last use (or at all, when it had none)."""
    if action.action != DEACTIVATE or UNUSED_KEY not in action.rules or live.date is None:
        return None
    # To the second: the precision of LastUsedDate as IAM and iamkeys' documents write it.
    if action.last_used is not None and (live.date.replace(microsecond=0)
                                         <= action.last_used.replace(microsecond=0)):
        return None
    where = ", ".join(part for part in (live.service, live.region) if part)
    return (f"used since the inventory: last used {_stamp(live.date)}"
            + (f" ({where})" if where else "") + ", so IAM.22 no longer holds")


def _skipped(key: InventoryKey, action: str, rules: tuple[str, ...], reason: str) -> SkippedKey:
    """A key left alone."""
    return SkippedKey(account_id=key.account_id, user_name=key.user_name,
                      access_key_id=key.access_key_id, action=action, rules=rules,
                      reason=reason)


def _key_order(item: KeyAction | SkippedKey) -> tuple[str, str, str]:
    """By account, user, key."""
    return (item.account_id, item.user_name, item.access_key_id)


def _day(moment: datetime) -> str:
    """The UTC date of a moment: 2026-11-29."""
    return moment.strftime("%Y-%m-%d")


def _stamp(moment: datetime) -> str:
    """A moment as AWS prints it: 2026-11-29T10:00:00Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
