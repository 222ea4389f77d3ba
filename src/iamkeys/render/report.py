"""The inventory's HTML report: one self-contained page, a table per account sorted by risk.

No external scripts, styles, fonts or images (a Content-Security-Policy meta tag says so to the
browser too); every value is escaped by Jinja2's autoescape. The email for an inventory has its
own body (mail/templates/inventory.html.j2): mail clients drop the <style> this page relies on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import findings, serialize
from ..findings import SEVERITY, TITLES, age_days
from ..model import Finding, Inventory, InventoryError, InventoryKey

if TYPE_CHECKING:
    import jinja2

TITLE = "IAM access key inventory"
_LEVELS = {4: "critical", 3: "high", 2: "medium", 1: "low"}


@dataclass(frozen=True, slots=True)
class Badge:
    """A finding as shown: rule id, reason and severity level (a CSS class)."""

    rule: str
    reason: str
    level: str


@dataclass(frozen=True, slots=True)
class Row:
    """One key as shown in its account's table."""

    user_name: str
    access_key_id: str
    status: str
    active: bool
    created: str
    age_days: int
    age_percent: int
    age_level: str
    last_used: str
    last_used_where: str
    badges: tuple[Badge, ...]


@dataclass(frozen=True, slots=True)
class AccountSection:
    """One account: its header figures, account-level findings, errors and key rows."""

    account_id: str
    users: int
    root_keys: str
    badges: tuple[Badge, ...]
    errors: tuple[InventoryError, ...]
    rows: tuple[Row, ...]

    @property
    def findings(self) -> int:
        """Findings in this account, keys and account-level."""
        return len(self.badges) + sum(len(row.badges) for row in self.rows)


def report_html(inv: Inventory, *, title: str = TITLE) -> str:
    """The report for an inventory."""
    summary = serialize.inventory_summary(inv)
    return _environment().get_template("report.html.j2").render(
        title=title, summary=summary, accounts=sections(inv), inv=inv,
        rules=[(rule, TITLES[rule], _level(rule), summary["FindingsByRule"].get(rule, 0))
               for rule in findings.RULES])


def sections(inv: Inventory) -> tuple[AccountSection, ...]:
    """One section per account, the riskiest account first."""
    made = [_section(inv, scan.account_id, scan.users, scan.root_keys_present)
            for scan in inv.accounts]
    return tuple(sorted(made, key=lambda s: (-_worst(s), -s.findings, s.account_id)))


def _section(inv: Inventory, account_id: str, users: int,
             root_keys: bool | None) -> AccountSection:
    """The section of one account, its keys sorted by risk."""
    keys = sorted((k for k in inv.keys if k.account_id == account_id),
                  key=lambda k: (*findings.risk(k, inv.generated_at), k.user_name,
                                 k.access_key_id))
    return AccountSection(
        account_id=account_id, users=users,
        root_keys={True: "yes", False: "no", None: "unknown"}[root_keys],
        badges=tuple(_badge(f.finding) for f in inv.account_findings
                     if f.account_id == account_id),
        errors=tuple(e for e in inv.errors if e.account_id == account_id),
        rows=tuple(_row(inv, key) for key in keys),
    )


def _row(inv: Inventory, key: InventoryKey) -> Row:
    """A key's cells; the age bar fills at twice the key-age limit."""
    age = age_days(key.create_date, inv.generated_at)
    limit = inv.thresholds.max_key_age if key.active else inv.thresholds.max_inactive
    return Row(
        user_name=key.user_name, access_key_id=key.access_key_id, status=key.status,
        active=key.active, created=_day(serialize.timestamp(key.create_date)), age_days=age,
        age_percent=min(100, round(100 * age / max(1, 2 * limit))),
        age_level=_age_level(age, limit, key.active), last_used=_last_used(key),
        last_used_where=_where(key), badges=tuple(_badge(f) for f in key.findings),
    )


def _age_level(age: int, limit: int, active: bool) -> str:
    """The colour of an age: fine, close to the limit, over it (inactive keys: grey, or over)."""
    if age > limit:
        return "over"
    if not active:
        return "idle"
    return "near" if age * 3 > limit * 2 else "fine"


def _last_used(key: InventoryKey) -> str:
    """The day of last use, `never`, or `not checked`."""
    last = key.last_used
    if last is None:
        return "not checked"
    if last.date is None:
        return "never"
    return _day(serialize.timestamp(last.date))


def _where(key: InventoryKey) -> str:
    """Service and region of the last use: `s3, eu-west-1`."""
    last = key.last_used
    if last is None or last.date is None:
        return ""
    return ", ".join(part for part in (last.service, last.region) if part)


def _badge(finding: Finding) -> Badge:
    """A finding as a badge."""
    return Badge(rule=finding.rule, reason=finding.reason or TITLES.get(finding.rule, ""),
                 level=_level(finding.rule))


def _level(rule: str) -> str:
    """The severity level name of a rule."""
    return _LEVELS.get(SEVERITY.get(rule, 1), "low")


def _worst(section: AccountSection) -> int:
    """The highest severity in a section (0 without findings)."""
    badges: Sequence[Badge] = [*section.badges, *(b for r in section.rows for b in r.badges)]
    return max((SEVERITY.get(b.rule, 1) for b in badges), default=0)


def _day(stamp: str | None) -> str:
    """The date part of a timestamp."""
    return (stamp or "")[:10]


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment for the report template, with autoescape on."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("iamkeys", "render/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
