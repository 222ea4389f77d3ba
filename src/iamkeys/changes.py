"""What changed since a baseline inventory, and what a partial run keeps from it.

Small pure functions over domain objects, like findings.py. Keys are matched by account and
access key id, never by user or key slot: a replaced key is one new key and one removed key.

A run that could not read part of its scope (its `Errors`) never reports that part's keys as
removed or its findings as resolved. Each error leaves a scope unread:

    error                                   unread scope           kept from the baseline
    AssumeRole, ListUsers (no user)         the account's keys     its keys, marked CarriedOver
    GetAccountSummary (or AssumeRole)       the account's root     its account findings, marked
    ListAccessKeys (a user)                 the user's keys        their keys, marked
    GetAccessKeyLastUsed (a key), or        the key's last use     IAM.22 and CIS.1.11, marked
      the run used --no-last-used
    ListUserTags (a user)                   the user's owner       nothing (Owner is null)

An error of an operation not in this table is read as leaving its whole scope unread (the
account without a user, the user with one): carrying over too much is safe, too little is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from .findings import KEY_AT_USER_SETUP, RULES, UNUSED_KEY
from .model import (
    AccountFinding,
    CarriedOver,
    Changes,
    Finding,
    FindingChange,
    Inventory,
    InventoryError,
    InventoryKey,
    KeyChange,
    StatusChange,
)

# The rules that need a key's last use (GetAccessKeyLastUsed).
LAST_USE_RULES = frozenset({UNUSED_KEY, KEY_AT_USER_SETUP})
# Errors about an account (no user) after which its keys were still listed.
ACCOUNT_ROOT_ONLY = frozenset({"GetAccountSummary"})
# Errors about a user after which its keys were still listed.
USER_OWNER_ONLY = frozenset({"ListUserTags"})
NO_LAST_USE = "last use not checked (--no-last-used)"

KeyId = tuple[str, str]  # (account id, access key id)


@dataclass(frozen=True, slots=True)
class Unread:
    """The parts of an inventory's scope it could not read, each with the reason why."""

    accounts: Mapping[str, str]
    users: Mapping[tuple[str, str], str]
    last_use: Mapping[KeyId, str]
    roots: Mapping[str, str]
    all_last_use: str | None = None

    def keys_of(self, key: InventoryKey) -> str | None:
        """Why the key's account or user could not be listed, or None when it was."""
        return (self.accounts.get(key.account_id)
                or self.users.get((key.account_id, key.user_name)))

    def last_use_of(self, key: InventoryKey) -> str | None:
        """Why the key's last use is unknown, or None when it was read."""
        return self.last_use.get(key_id(key)) or self.all_last_use


def key_id(key: InventoryKey) -> KeyId:
    """What identifies a key across inventories: its account and access key id."""
    return (key.account_id, key.access_key_id)


def unread(inv: Inventory) -> Unread:
    """The scopes `inv` could not read, from its errors, its accounts and --no-last-used."""
    accounts: dict[str, str] = {}
    users: dict[tuple[str, str], str] = {}
    last_use: dict[KeyId, str] = {}
    for error in inv.errors:
        reason = _reason(error)
        if error.access_key_id is not None:
            last_use.setdefault((error.account_id, error.access_key_id), reason)
        elif error.user_name is not None:
            if error.operation not in USER_OWNER_ONLY:
                users.setdefault((error.account_id, error.user_name), reason)
        elif error.operation not in ACCOUNT_ROOT_ONLY:
            accounts.setdefault(error.account_id, reason)
    roots = {scan.account_id: _root_reason(inv.errors, scan.account_id)
             for scan in inv.accounts if scan.root_keys_present is None}
    return Unread(accounts=accounts, users=users, last_use=last_use, roots=roots,
                  all_last_use=None if inv.last_used_checked else NO_LAST_USE)


def _reason(error: InventoryError) -> str:
    """`ListAccessKeys failed: AccessDenied`."""
    return f"{error.operation} failed: {error.code}"


def _root_reason(errors: Iterable[InventoryError], account_id: str) -> str:
    """Why an account's root keys are unknown: its first account-level error."""
    return next((_reason(e) for e in errors
                 if e.account_id == account_id and e.user_name is None),
                "GetAccountSummary not answered")


# --- a run with a baseline ------------------------------------------------------------------


def with_baseline(current: Inventory, baseline: Inventory) -> Inventory:
    """`current` continued from `baseline`: findings keep their Since, what `current` could not
    read is carried over (marked), and Changes are set."""
    scope = unread(current)
    read_at = baseline.generated_at
    before = {key_id(key): key for key in baseline.keys}
    keys = [_continued(key, before.get(key_id(key)), scope, read_at) for key in current.keys]
    present = {key_id(key) for key in current.keys}
    for key in baseline.keys:
        reason = scope.keys_of(key)
        if key_id(key) not in present and reason is not None:
            keys.append(replace(key, carried_over=_mark(reason, key.carried_over, read_at)))
    result = replace(current, keys=tuple(sorted(keys, key=key_order)),
                     account_findings=_account_findings(current, baseline, scope))
    return replace(result, changes=compare(baseline, result))


def _continued(key: InventoryKey, before: InventoryKey | None, scope: Unread,
               read_at: datetime) -> InventoryKey:
    """A key of this run: Since from the baseline; last-use findings kept when unread."""
    if before is None:
        return key
    earlier = {f.rule: f for f in before.findings}
    found = [_since(f, earlier.get(f.rule), read_at) for f in key.findings]
    reason = scope.last_use_of(key)
    if reason is not None:
        have = {f.rule for f in found}
        found += [replace(f, carried_over=_mark(reason, f.carried_over, read_at))
                  for f in before.findings if f.rule in LAST_USE_RULES and f.rule not in have]
    return replace(key, findings=tuple(sorted(found, key=rule_order)))


def _account_findings(current: Inventory, baseline: Inventory,
                      scope: Unread) -> tuple[AccountFinding, ...]:
    """This run's account findings with their Since, and those of accounts whose root keys
    could not be read, carried over."""
    read_at = baseline.generated_at
    earlier = {(f.account_id, f.finding.rule): f.finding for f in baseline.account_findings}
    found = [replace(f, finding=_since(f.finding, earlier.get((f.account_id, f.finding.rule)),
                                       read_at))
             for f in current.account_findings]
    have = {(f.account_id, f.finding.rule) for f in found}
    for old in baseline.account_findings:
        reason = scope.roots.get(old.account_id)
        if reason is not None and (old.account_id, old.finding.rule) not in have:
            marked = replace(old.finding, carried_over=_mark(reason, old.finding.carried_over,
                                                             read_at))
            found.append(replace(old, finding=marked))
    return tuple(sorted(found, key=lambda f: (f.account_id, rule_order(f.finding))))


def _since(finding: Finding, earlier: Finding | None, read_at: datetime) -> Finding:
    """The finding with the Since of the same rule in the baseline (its time when unknown)."""
    if earlier is None:
        return finding
    return replace(finding, since=earlier.since or read_at)


def _mark(reason: str, previous: CarriedOver | None, read_at: datetime) -> CarriedOver:
    """The mark of something carried over; carried again, it keeps when it was last read."""
    return CarriedOver(reason=reason, read_at=previous.read_at if previous else read_at)


# --- two inventories ------------------------------------------------------------------------


FindingId = tuple[str, str | None, str]  # (account id, access key id or None, rule)
Keep = Callable[[FindingId, FindingChange], bool]


def compare(baseline: Inventory, current: Inventory) -> Changes:
    """What changed from `baseline` to `current`, leaving out what `current` could not read."""
    scope = unread(current)
    before = {key_id(key): key for key in baseline.keys}
    after = {key_id(key): key for key in current.keys}
    then_found, now_found = _findings(baseline), _findings(current)
    return Changes(
        baseline_at=baseline.generated_at,
        new_keys=tuple(_key_change(k) for i, k in after.items() if i not in before),
        removed_keys=tuple(_key_change(k) for i, k in before.items()
                           if i not in after and scope.keys_of(k) is None),
        status_changed=tuple(
            StatusChange(k.account_id, k.user_name, k.access_key_id, before[i].status, k.status)
            for i, k in after.items() if i in before and before[i].status != k.status),
        new_findings=_finding_changes(now_found, then_found),
        resolved_findings=_finding_changes(
            then_found, now_found,
            keep=lambda ident, change: _resolved(ident, change, before, after, scope)),
    )


def _key_change(key: InventoryKey) -> KeyChange:
    """A key as Changes name it."""
    return KeyChange(key.account_id, key.user_name, key.access_key_id)


def _findings(inv: Inventory) -> dict[FindingId, tuple[str | None, Finding]]:
    """Every finding of an inventory, keys' and accounts', by account, key and rule: its user
    (None for an account finding) and the finding."""
    found: dict[FindingId, tuple[str | None, Finding]] = {
        (k.account_id, k.access_key_id, f.rule): (k.user_name, f)
        for k in inv.keys for f in k.findings}
    for account in inv.account_findings:
        found[(account.account_id, None, account.finding.rule)] = (None, account.finding)
    return found


def _finding_changes(ours: Mapping[FindingId, tuple[str | None, Finding]],
                     theirs: Mapping[FindingId, tuple[str | None, Finding]],
                     keep: Keep | None = None) -> tuple[FindingChange, ...]:
    """Findings in `ours` and not in `theirs` (that `keep` accepts), in a stable order."""
    changed = [FindingChange(ident[0], user, ident[1], f.rule, f.reason, f.since)
               for ident, (user, f) in ours.items() if ident not in theirs]
    if keep is not None:
        changed = [c for c in changed if keep((c.account_id, c.access_key_id, c.rule), c)]
    return tuple(sorted(changed, key=_change_order))


def _resolved(ident: FindingId, change: FindingChange, before: Mapping[KeyId, InventoryKey],
              after: Mapping[KeyId, InventoryKey], scope: Unread) -> bool:
    """Whether a baseline finding gone from the current run is really resolved: the key was
    read (or the account's root keys), or the key is gone from a scope that was read."""
    account_id, access_key_id, rule = ident
    if access_key_id is None:
        return account_id not in scope.roots
    key = after.get((account_id, access_key_id))
    if key is None:
        return scope.keys_of(before[(account_id, access_key_id)]) is None
    return rule not in LAST_USE_RULES or scope.last_use_of(key) is None


def _change_order(change: FindingChange) -> tuple[str, str, str, int]:
    """Findings by account, user, key, then rule severity."""
    return (change.account_id, change.user_name or "", change.access_key_id or "",
            _rule_index(change.rule))


def key_order(key: InventoryKey) -> tuple[str, str, datetime, str]:
    """Keys by account, user, creation, id: the inventory's own order."""
    return (key.account_id, key.user_name, key.create_date, key.access_key_id)


def rule_order(finding: Finding) -> int:
    """Findings in RULES order (most severe first); unknown rules last."""
    return _rule_index(finding.rule)


def _rule_index(rule: str) -> int:
    """A rule's place in RULES."""
    return RULES.index(rule) if rule in RULES else len(RULES)
