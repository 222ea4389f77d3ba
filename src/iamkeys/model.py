"""The domain: plain frozen objects that renderers, findings and mail work on.

Nothing here knows about boto3 dictionaries; `wire.py` builds these from AWS responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key's metadata, as ListAccessKeys returns it (never its secret)."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime

    @property
    def active(self) -> bool:
        """Whether the key can sign requests."""
        return self.status == "Active"


@dataclass(frozen=True, slots=True)
class User:
    """An IAM user, as ListUsers returns it."""

    user_name: str
    user_id: str
    arn: str
    path: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class LastUsed:
    """GetAccessKeyLastUsed's answer; `date` is None for a key never used."""

    date: datetime | None
    service: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One ListAccessKeys response: keys in server order, and where to continue."""

    keys: tuple[AccessKey, ...]
    is_truncated: bool
    marker: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    """The List Access Keys action's result for one partition."""

    partition: str
    regions: tuple[str, ...]
    keys: tuple[AccessKey, ...]
    is_truncated: bool
    marker: str | None
    raw_pages: tuple[bytes, ...] = field(default=(), repr=False)
    pages: int = 1


# --- inventory -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The day limits of the age rules (findings.py)."""

    max_key_age: int = 90
    max_unused: int = 45
    max_inactive: int = 30


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signs the requests (STS GetCallerIdentity)."""

    account_id: str
    arn: str
    partition: str


@dataclass(frozen=True, slots=True)
class UsersPage:
    """One ListUsers response: users in server order, and where to continue."""

    users: tuple[User, ...]
    is_truncated: bool
    marker: str | None


@dataclass(frozen=True, slots=True)
class Tag:
    """One IAM tag: key and value as IAM keeps them (keys compare without case)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TagsPage:
    """One ListUserTags response: tags in server order, and where to continue."""

    tags: tuple[Tag, ...]
    is_truncated: bool
    marker: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored inventory as read from its state location, and the version that was read.

    `data` is None when nothing is stored yet. `version` is what a conditional write compares:
    the S3 ETag, or the SHA-256 of a file's bytes.
    """

    data: bytes | None
    version: str | None


@dataclass(frozen=True, slots=True)
class OrgAccount:
    """A member account of an AWS Organization (ListAccounts)."""

    account_id: str
    name: str
    status: str

    @property
    def active(self) -> bool:
        """Whether the account can be inventoried (not suspended or being closed)."""
        return self.status == "ACTIVE"


@dataclass(frozen=True, slots=True)
class CarriedOver:
    """Why a key or finding comes from the baseline, not this run: its scope could not be read.

    `read_at` is when it was last actually read (the GeneratedAt of the run that read it), kept
    when it is carried over again.
    """

    reason: str
    read_at: datetime


@dataclass(frozen=True, slots=True)
class Finding:
    """A hygiene rule that fired, with a one-line reason that carries the numbers."""

    rule: str
    reason: str
    # When the finding was first reported for this key (carried over from the baseline run);
    # None when not known (an inventory written before iamkeys recorded it).
    since: datetime | None = None
    # Set when this run could not evaluate the rule (e.g. GetAccessKeyLastUsed failed) and the
    # baseline's finding is kept (changes.py).
    carried_over: CarriedOver | None = None


@dataclass(frozen=True, slots=True)
class InventoryKey:
    """One access key in an inventory: the key, its user and its last use."""

    account_id: str
    user_name: str
    user_create_date: datetime
    access_key_id: str
    status: str
    create_date: datetime
    # None when not looked up (--no-last-used, or GetAccessKeyLastUsed failed: see Errors).
    last_used: LastUsed | None = None
    findings: tuple[Finding, ...] = ()
    # With --owner-tag: the user's tag value when it is an e-mail address; otherwise None and
    # `owner_problem` says why (OWNER_NO_TAG, OWNER_NOT_EMAIL, OWNER_UNREAD).
    owner: str | None = None
    owner_problem: str | None = None
    # Set when the key's scope (account, user) could not be read in this run and the record is
    # the baseline's (changes.py).
    carried_over: CarriedOver | None = None

    @property
    def active(self) -> bool:
        """Whether the key can sign requests."""
        return self.status == "Active"


OWNER_NO_TAG = "no tag"
OWNER_NOT_EMAIL = "not an email address"
OWNER_UNREAD = "tags could not be read (see Errors)"


@dataclass(frozen=True, slots=True)
class InventoryError:
    """Something that could not be listed after botocore's retries; the run went on."""

    account_id: str
    user_name: str | None
    operation: str
    code: str
    message: str
    access_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeletedDuringRun:
    """A user (or one of its keys) that disappeared between ListUsers and a later call."""

    account_id: str
    user_name: str
    access_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class AccountFinding:
    """A finding about an account as a whole (e.g. the root user has access keys)."""

    account_id: str
    finding: Finding


@dataclass(frozen=True, slots=True)
class AccountScan:
    """What was learnt about one account: users listed, and whether root has access keys."""

    account_id: str
    users: int = 0
    # None when GetAccountSummary failed (see Errors).
    root_keys_present: bool | None = None
    # Whether ListUsers answered at least once.
    listed: bool = False


@dataclass(frozen=True, slots=True)
class KeyChange:
    """A key that appeared or disappeared between two inventories."""

    account_id: str
    user_name: str
    access_key_id: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A key whose status changed (Active, Inactive) between two inventories."""

    account_id: str
    user_name: str
    access_key_id: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class FindingChange:
    """A finding that appeared or was resolved; user and key are None for an account finding.

    `reason` and `since` are the finding's own: this run's for a new finding, the baseline's
    for a resolved one.
    """

    account_id: str
    user_name: str | None
    access_key_id: str | None
    rule: str
    reason: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since a baseline inventory, keyed by access key id across accounts.

    A replaced key is one new key and one removed key. Keys and findings whose scope could not
    be read in the newer run are never removed or resolved (changes.py).
    """

    baseline_at: datetime
    new_keys: tuple[KeyChange, ...] = ()
    removed_keys: tuple[KeyChange, ...] = ()
    status_changed: tuple[StatusChange, ...] = ()
    new_findings: tuple[FindingChange, ...] = ()
    resolved_findings: tuple[FindingChange, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.new_keys or self.removed_keys or self.status_changed
                    or self.new_findings or self.resolved_findings)


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every access key of the accounts listed, with findings, errors and what was deleted."""

    keys: tuple[InventoryKey, ...]
    errors: tuple[InventoryError, ...]
    deleted: tuple[DeletedDuringRun, ...]
    accounts: tuple[AccountScan, ...]
    account_findings: tuple[AccountFinding, ...]
    generated_at: datetime
    thresholds: Thresholds
    last_used_checked: bool = True
    # The tag keys asked for with --owner-tag; when empty, owners were not looked up.
    owner_tags: tuple[str, ...] = ()
    # Set when the inventory was compared with a baseline (--baseline, --state).
    changes: Changes | None = None

    @property
    def complete(self) -> bool:
        """True when nothing failed: every user's keys (and last use) were listed."""
        return not self.errors

    @property
    def users(self) -> int:
        """Users listed across all accounts."""
        return sum(account.users for account in self.accounts)

    @property
    def findings(self) -> int:
        """Key findings plus account findings."""
        return sum(len(key.findings) for key in self.keys) + len(self.account_findings)

    @property
    def unowned(self) -> int:
        """Keys without an owner (counted only when owners were looked up)."""
        return sum(1 for key in self.keys if key.owner is None) if self.owner_tags else 0

    @property
    def carried_over(self) -> int:
        """Keys whose record is the baseline's, because their scope could not be read."""
        return sum(1 for key in self.keys if key.carried_over is not None)


# --- Security Hub --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedFinding:
    """A finding Security Hub did not take: named by its Id, with the reason it gave."""

    account_id: str
    finding_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """A BatchImportFindings call (or the role to reach its account) that failed after retries."""

    account_id: str
    operation: str
    code: str
    message: str
    findings: int


@dataclass(frozen=True, slots=True)
class SecurityHubImport:
    """What `securityhub-import` sent: findings taken (active and archived) and failures."""

    imported: int
    archived: int
    batches: int
    failed: tuple[FailedFinding, ...] = ()
    errors: tuple[BatchFailure, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether Security Hub took every finding."""
        return not self.failed and not self.errors


# --- remediation ---------------------------------------------------------------------------

DEACTIVATE = "deactivate"
DELETE = "delete"
REACTIVATE = "reactivate"
ACTIONS = (DEACTIVATE, DELETE, REACTIVATE)
# What became of an applied action, and the journal's events around each write.
DONE = "done"
SKIPPED = "skipped"
FAILED = "failed"
INTENT = "intent"
EXEMPT_TAG = "iamkeys:exempt"
MAX_ACTIONS = 25


@dataclass(frozen=True, slots=True)
class RemediationPolicy:
    """What a remediation may do: the findings that deactivate a key, when an inactive key is
    deleted, the grace after a finding is first reported, and the limits."""

    deactivate: tuple[str, ...] = ()
    delete_inactive_after: int | None = None
    grace: int | None = None
    exempt_tag: str = EXEMPT_TAG
    max_actions: int = MAX_ACTIONS


@dataclass(frozen=True, slots=True)
class KeyAction:
    """One planned change to one access key and, once applied, what became of it."""

    account_id: str
    user_name: str
    access_key_id: str
    action: str
    rules: tuple[str, ...]
    reason: str
    # The status the key must still have, live, right before the change.
    status: str
    # The last use the inventory saw (None: never used, or not looked up); a deactivation for
    # IAM.22 is skipped when the key was used after it.
    last_used: datetime | None = None
    result: str | None = None
    result_reason: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedKey:
    """A key a rule would have acted on, left alone, and why."""

    account_id: str
    user_name: str
    access_key_id: str
    action: str
    rules: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class RemediationPlan:
    """The changes a remediation (or an undo) makes, the keys it leaves alone, and, once
    applied, each change's result."""

    plan_id: str
    actions: tuple[KeyAction, ...]
    skipped: tuple[SkippedKey, ...]
    policy: RemediationPolicy
    generated_at: datetime
    caller_arn: str
    journal: str
    # When the inventory the plan was made from was taken (None: an undo, made from a journal).
    inventory_generated_at: datetime | None = None
    applied: bool = False

    def count(self, action: str) -> int:
        """Actions of one kind."""
        return sum(1 for a in self.actions if a.action == action)

    def results(self) -> dict[str, int]:
        """Applied actions by result: done, skipped, failed."""
        counts = dict.fromkeys((DONE, SKIPPED, FAILED), 0)
        for a in self.actions:
            if a.result is not None:
                counts[a.result] = counts.get(a.result, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One line of the remediation journal: an intent before a write, its outcome after."""

    time: datetime
    event: str
    plan_id: str
    # Ties an outcome line to its intent line.
    attempt: str
    account_id: str
    user_name: str
    access_key_id: str
    action: str
    rules: tuple[str, ...]
    caller_arn: str
    role_arn: str | None = None
    # Why the plan asked for it (intent), or what happened (outcome: how it was confirmed, or
    # the error).
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One change iamkeys set out to make to a key: its intent and, once journaled, its outcome.

    `outcome` is done, failed, or None when the run ended between the intent and the outcome
    (the write may or may not have been applied; a live re-read tells).
    """

    plan_id: str
    account_id: str
    user_name: str
    access_key_id: str
    action: str
    rules: tuple[str, ...]
    started: datetime
    outcome: str | None = None
    finished: datetime | None = None
    # The journal's id for it (an outcome line names the intent it closes).
    attempt: str = ""

    @property
    def landed(self) -> bool:
        """Done, or perhaps done: not known to have failed."""
        return self.outcome != FAILED

    @property
    def time(self) -> datetime:
        """When the change was (or may have been) made."""
        return self.finished or self.started


# --- mail ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message the server accepted (or the outbox file written)."""

    transport: str
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    detail: str
    attachments: tuple[str, ...]

    def summary(self) -> str:
        """One line for stderr: what went where."""
        to = ", ".join(self.recipients)
        if self.transport == "outbox":
            return (f"wrote {self.detail} (to {to}: {self.subject!r}); not sent: no SMTP host "
                    "or SES configured")
        if self.transport == "ses":
            return f"sent {self.subject!r} to {to} via SES: MessageId {self.detail}"
        return f"sent {self.subject!r} to {to} via SMTP: {self.detail}"
