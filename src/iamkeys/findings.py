"""Access-key hygiene rules: small pure functions over inventory keys, with their thresholds.

Ages are whole days: `age_days = floor((now - then) / 1 day)`, and "older than N days" means
`age_days > N`, so a key created 90 days and 23 hours ago is 90 days old and not older than 90.
`now` is always passed in, never read from the clock here.

The rule ids are those of AWS Security Hub (IAM.3, IAM.4, IAM.22) and the CIS AWS Foundations
Benchmark (1.11, 1.13): https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .model import AccountFinding, AccountScan, Finding, InventoryKey, Thresholds

ROOT_KEYS = "IAM.4"
OLD_KEY = "IAM.3"
UNUSED_KEY = "IAM.22"
SEVERAL_ACTIVE_KEYS = "CIS.1.13"
KEY_AT_USER_SETUP = "CIS.1.11"
STALE_INACTIVE = "STALE_INACTIVE"
# Every rule, most severe first: the order of Summary.FindingsByRule and of report badges.
RULES = (ROOT_KEYS, OLD_KEY, UNUSED_KEY, SEVERAL_ACTIVE_KEYS, KEY_AT_USER_SETUP, STALE_INACTIVE)
SEVERITY = {ROOT_KEYS: 4, OLD_KEY: 3, UNUSED_KEY: 3, SEVERAL_ACTIVE_KEYS: 2,
            KEY_AT_USER_SETUP: 2, STALE_INACTIVE: 1}
TITLES = {
    ROOT_KEYS: "root user has access keys",
    OLD_KEY: "active key not rotated",
    UNUSED_KEY: "active key unused",
    SEVERAL_ACTIVE_KEYS: "user has more than one active key",
    KEY_AT_USER_SETUP: "key created with its user and never used",
    STALE_INACTIVE: "inactive key kept",
}
# CIS 1.11: a key made during initial user setup (the console's "create user" flow).
SETUP_WINDOW = timedelta(minutes=10)
_DAY = timedelta(days=1)


def age_days(since: datetime, now: datetime) -> int:
    """Whole days from `since` to `now` (never negative, e.g. with clock skew)."""
    return max(0, (now - since) // _DAY)


def old_active_key(key: InventoryKey, limits: Thresholds, now: datetime) -> Finding | None:
    """IAM.3: an active key older than max_key_age days."""
    age = age_days(key.create_date, now)
    if not key.active or age <= limits.max_key_age:
        return None
    return Finding(OLD_KEY, f"active key is {_days(age)} old (limit {limits.max_key_age})")


def unused_active_key(key: InventoryKey, limits: Thresholds, now: datetime) -> Finding | None:
    """IAM.22: an active key not used for max_unused days; never used counts from creation."""
    if not key.active or key.last_used is None:
        return None
    used = key.last_used.date
    idle = age_days(used or key.create_date, now)
    if idle <= limits.max_unused:
        return None
    if used is None:
        return Finding(UNUSED_KEY, f"active key never used in the {_days(idle)} since its "
                                   f"creation (limit {limits.max_unused})")
    return Finding(UNUSED_KEY, f"active key last used {_days(idle)} ago "
                               f"(limit {limits.max_unused})")


def several_active_keys(key: InventoryKey, active_keys: int) -> Finding | None:
    """CIS.1.13: the key is one of a user's several active keys."""
    if not key.active or active_keys <= 1:
        return None
    return Finding(SEVERAL_ACTIVE_KEYS, f"user has {active_keys} active keys (limit 1)")


def key_at_user_setup(key: InventoryKey) -> Finding | None:
    """CIS.1.11: an active key created within 10 minutes of its user and never used."""
    if not key.active or key.last_used is None or key.last_used.date is not None:
        return None
    after = key.create_date - key.user_create_date
    if not timedelta(0) <= after <= SETUP_WINDOW:
        return None
    seconds = int(after.total_seconds())
    return Finding(KEY_AT_USER_SETUP, f"key created {seconds // 60}m{seconds % 60:02d}s after "
                                      "its user (window 10m) and never used")


def stale_inactive_key(key: InventoryKey, limits: Thresholds, now: datetime) -> Finding | None:
    """STALE_INACTIVE: an inactive key kept more than max_inactive days after its creation."""
    age = age_days(key.create_date, now)
    if key.active or age <= limits.max_inactive:
        return None
    return Finding(STALE_INACTIVE, f"inactive key kept {_days(age)} after creation "
                                   f"(limit {limits.max_inactive})")


def root_access_keys(account: AccountScan, now: datetime) -> AccountFinding | None:
    """IAM.4: the account's root user has access keys (GetAccountSummary)."""
    if not account.root_keys_present:
        return None
    return AccountFinding(account.account_id, Finding(
        ROOT_KEYS, "the root user has access keys (AccountAccessKeysPresent = 1)", since=now))


def key_findings(key: InventoryKey, *, active_keys: int, limits: Thresholds,
                 now: datetime) -> tuple[Finding, ...]:
    """Every finding for one key, in RULES order; `active_keys` counts its user's active keys."""
    found = (  # first reported now; a baseline run's Since replaces it (inventory.py)
        old_active_key(key, limits, now),
        unused_active_key(key, limits, now),
        several_active_keys(key, active_keys),
        key_at_user_setup(key),
        stale_inactive_key(key, limits, now),
    )
    return tuple(replace(f, since=now) for f in found if f is not None)


def assess_user(keys: Sequence[InventoryKey], limits: Thresholds,
                now: datetime) -> tuple[InventoryKey, ...]:
    """One user's keys with their findings set (CIS.1.13 needs all of them at once)."""
    active = sum(1 for key in keys if key.active)
    return tuple(replace(key, findings=key_findings(key, active_keys=active, limits=limits,
                                                    now=now))
                 for key in keys)


def count_by_rule(keys: Iterable[InventoryKey],
                  account_findings: Iterable[AccountFinding]) -> dict[str, int]:
    """How many keys (accounts, for IAM.4) each rule flagged, every rule listed."""
    counts = dict.fromkeys(RULES, 0)
    for key in keys:
        for finding in key.findings:
            counts[finding.rule] = counts.get(finding.rule, 0) + 1
    for account_finding in account_findings:
        rule = account_finding.finding.rule
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def risk(key: InventoryKey, now: datetime) -> tuple[int, int, int]:
    """A sort key, highest risk first: worst severity, then total severity, then age."""
    severities = [SEVERITY.get(f.rule, 1) for f in key.findings]
    return (-max(severities, default=0), -sum(severities), -age_days(key.create_date, now))


def _days(count: int) -> str:
    """`1 day`, `2 days`."""
    return f"{count} day" if count == 1 else f"{count} days"
