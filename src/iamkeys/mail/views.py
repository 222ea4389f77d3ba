"""What an email shows, from the domain objects `documents.parse` reads: no markup here.

A listing becomes `ResultRows` (one row per key, with its age and marks); an inventory becomes an
`InventoryView`: its counts, the rule legend and its keys riskiest first (`findings.risk`). An
inventory view can be made for a subset of its keys (one owner's, say), counted on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..documents import Document
from ..findings import RULES, SEVERITY, TITLES, age_days, count_by_rule, risk
from ..model import (
    DeletedDuringRun,
    Finding,
    Inventory,
    InventoryError,
    InventoryKey,
    Listing,
    Thresholds,
)

OLD_KEY_DAYS = 90  # the usual rotation period (CIS AWS Foundations Benchmark, IAM.3)
LEVELS = {4: "critical", 3: "high", 2: "medium", 1: "low"}


# --- a listing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One access key of a listing as the email shows it."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime
    age_days: int
    partition: str = ""

    @property
    def active(self) -> bool:
        """Whether the key can sign requests."""
        return self.status == "Active"

    @property
    def old(self) -> bool:
        """Whether the key is older than the rotation period."""
        return self.age_days > OLD_KEY_DAYS


@dataclass(frozen=True, slots=True)
class ResultRows:
    """A listing as rows: its keys, its partitions and where it was truncated."""

    rows: tuple[KeyRow, ...]
    partitions: tuple[str, ...] = ()
    truncated: tuple[str, ...] = ()

    @property
    def users(self) -> int:
        """The distinct users that have a key."""
        return len({(r.partition, r.user_name) for r in self.rows})

    @property
    def inactive(self) -> int:
        """Keys that are not Active."""
        return sum(not r.active for r in self.rows)

    @property
    def old(self) -> int:
        """Keys older than the rotation period."""
        return sum(r.old for r in self.rows)


def listing_rows(listings: Iterable[Listing], *, now: datetime) -> ResultRows:
    """The rows of a listing (one per partition when several); ages are counted to `now`."""
    listings = tuple(listings)
    keyed = any(listing.partition for listing in listings)
    return ResultRows(
        rows=tuple(KeyRow(user_name=key.user_name, access_key_id=key.access_key_id,
                          status=key.status, create_date=key.create_date,
                          age_days=age_days(key.create_date, now), partition=listing.partition)
                   for listing in listings for key in listing.keys),
        partitions=tuple(listing.partition for listing in listings) if keyed else (),
        truncated=tuple(f"{listing.partition or 'result'} truncated: more keys follow Marker "
                        f"{listing.marker!r}" for listing in listings if listing.is_truncated))


# --- an inventory ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Badge:
    """A finding as shown: its rule id, its reason and its severity level."""

    rule: str
    reason: str
    level: str


@dataclass(frozen=True, slots=True)
class RuleCount:
    """One line of the rule legend: rule id, what it means, level, how many it flagged."""

    rule: str
    title: str
    level: str
    count: int


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One key of an inventory as the email shows it."""

    account_id: str
    user_name: str
    access_key_id: str
    status: str
    active: bool
    created: datetime
    age_days: int
    over_age: bool  # older than its limit (max_key_age when active, max_inactive when not)
    last_used: str  # a YYYY-MM-DD day, "never" or "not checked"
    last_used_where: str  # "s3, eu-west-1", or empty
    badges: tuple[Badge, ...]


@dataclass(frozen=True, slots=True)
class InventoryView:
    """An inventory (or a subset of its keys) as the email shows it; `rows` riskiest first."""

    generated: datetime
    thresholds: Thresholds
    last_used_checked: bool
    complete: bool
    accounts: int
    users: int
    active: int
    findings: int
    rules: tuple[RuleCount, ...]
    rows: tuple[InventoryRow, ...]
    account_findings: tuple[tuple[str, Badge], ...] = ()
    errors: tuple[InventoryError, ...] = ()
    deleted: tuple[DeletedDuringRun, ...] = ()
    hidden_keys: int = 0  # keys left to the attachments

    @property
    def keys(self) -> int:
        """Every key of the view, shown or not."""
        return len(self.rows) + self.hidden_keys

    @property
    def inactive(self) -> int:
        """Keys that are not Active."""
        return self.keys - self.active

    def shown(self, keys: int) -> InventoryView:
        """The same view showing only its `keys` riskiest keys (the rest: in the attachments)."""
        keep = self.rows[:max(0, keys)]
        return replace(self, rows=keep, hidden_keys=self.keys - len(keep))


def inventory_view(inv: Inventory, *,
                   keys: Iterable[InventoryKey] | None = None) -> InventoryView:
    """The view of an inventory, or of `keys` among its keys (counted on their own, without the
    account findings, errors and deletions: those belong to no one key)."""
    whole = keys is None
    chosen = tuple(inv.keys if keys is None else keys)
    ordered = sorted(chosen, key=lambda k: (*risk(k, inv.generated_at), k.account_id,
                                            k.user_name, k.access_key_id))
    account_findings = inv.account_findings if whole else ()
    by_rule = count_by_rule(chosen, account_findings)
    return InventoryView(
        generated=inv.generated_at, thresholds=inv.thresholds,
        last_used_checked=inv.last_used_checked, complete=inv.complete,
        accounts=len(inv.accounts) if whole else len({k.account_id for k in chosen}),
        users=inv.users if whole else len({(k.account_id, k.user_name) for k in chosen}),
        active=sum(k.active for k in chosen),
        findings=sum(by_rule.values()),
        rules=tuple(RuleCount(rule, TITLES[rule], level(rule), by_rule.get(rule, 0))
                    for rule in RULES),
        rows=tuple(_row(inv, key) for key in ordered),
        account_findings=tuple((f.account_id, _badge(f.finding)) for f in account_findings),
        errors=inv.errors if whole else (),
        deleted=inv.deleted if whole else (),
    )


def _row(inv: Inventory, key: InventoryKey) -> InventoryRow:
    """One key's cells."""
    last = key.last_used
    used = ("not checked" if last is None else "never" if last.date is None
            else last.date.strftime("%Y-%m-%d"))
    where = ", ".join(p for p in (last.service, last.region) if p) if last and last.date else ""
    age = age_days(key.create_date, inv.generated_at)
    limit = inv.thresholds.max_key_age if key.active else inv.thresholds.max_inactive
    return InventoryRow(
        account_id=key.account_id, user_name=key.user_name, access_key_id=key.access_key_id,
        status=key.status, active=key.active, created=key.create_date, age_days=age,
        over_age=age > limit, last_used=used,
        last_used_where=where, badges=tuple(_badge(f) for f in key.findings))


def _badge(finding: Finding) -> Badge:
    """A finding as a badge."""
    return Badge(rule=finding.rule, reason=finding.reason or TITLES.get(finding.rule, ""),
                 level=level(finding.rule))


def level(rule: str) -> str:
    """The severity level name of a rule: critical, high, medium or low."""
    return LEVELS.get(SEVERITY.get(rule, 1), "low")


def error_line(error: InventoryError) -> str:
    """One inventory error as a line of text: account, user, key, operation, code, message."""
    parts = [("AccountId", error.account_id), ("UserName", error.user_name),
             ("AccessKeyId", error.access_key_id), ("Operation", error.operation),
             ("Code", error.code), ("Message", error.message)]
    return "; ".join(f"{name}: {value}" for name, value in parts if value)


# --- either ------------------------------------------------------------------------------------


def view(document: Document, *, now: datetime) -> ResultRows | InventoryView:
    """What the email of a document shows: listing rows, or the inventory view."""
    if isinstance(document, Inventory):
        return inventory_view(document)
    return listing_rows(document, now=now)


def counts(shown: ResultRows | InventoryView) -> dict[str, Any]:
    """The figures a subject is made of: keys, users, findings, and whether it is incomplete."""
    if isinstance(shown, InventoryView):
        return {"keys": shown.keys, "users": shown.users, "findings": shown.findings,
                "incomplete": not shown.complete}
    return {"keys": len(shown.rows), "users": shown.users, "findings": None,
            "incomplete": bool(shown.truncated)}
