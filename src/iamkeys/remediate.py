"""Acting on keys: `iamkeys remediate` and `iamkeys undo` as library functions.

    plan      the caller (GetCallerIdentity, and the key it signs with), an inventory (its own,
              through inventory.run, or a saved one), the journal's history and, for the users
              the plan would touch, their tags (ListUserTags) -> remediation.plan
    apply     per action, in a pool: the user's tags, the key as ListAccessKeys of that user
              shows it and, for IAM.22, GetAccessKeyLastUsed -> remediation.verdict; then an
              intent line, the write (UpdateAccessKey / DeleteAccessKey, always naming
              UserName and AccessKeyId), a done or failed line
    undo      the journal's deactivations -> remediation.undo_plan, checked live, applied the
              same way with UpdateAccessKey Status=Active

Writes go through a client on which botocore never retries (`aws.client(attempts=1)`): its
standard mode would send a write again after a dropped connection or a 5xx, when AWS may
already have applied it. Here a throttled write (refused, so not applied) is sent again after
a pause, paced with the inventory's `Pace`; a write whose answer did not arrive, or came as a
5xx (`aws.uncertain`), is re-read first, and sent again only when the key is unchanged.
Accounts other than the caller's are reached through the inventory's role (`--role-name`,
`--external-id`), in sessions named `iamkeys-remediate`.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from . import aws, documents, inventory, journal, params, remediation
from .errors import AwsError, IamKeysError, InputError, PartialResultError
from .findings import UNUSED_KEY
from .inventory import NO_SUCH_ENTITY, THROTTLING_CODES, InventoryRequest
from .model import (
    DEACTIVATE,
    DELETE,
    DONE,
    EXEMPT_TAG,
    FAILED,
    INTENT,
    MAX_ACTIONS,
    REACTIVATE,
    SKIPPED,
    AccessKey,
    Attempt,
    Caller,
    Inventory,
    JournalEntry,
    KeyAction,
    RemediationPlan,
    RemediationPolicy,
    SkippedKey,
)
from .remediation import DEACTIVATABLE, GO, NOT_DEACTIVATABLE, TO_STATUS, Context

SESSION_NAME = "iamkeys-remediate"
# A throttled write: tries, and the first pause (doubled each time, with jitter, capped).
THROTTLED_TRIES = 8
THROTTLED_PAUSE = 0.25
MAX_PAUSE = 8.0
# A write whose outcome is unknown: tries (each after a re-read showed the key unchanged), and
# the pause before re-reading. IAM is eventually consistent ("Changes that I make are not
# always immediately visible", IAM User Guide, Troubleshooting IAM): a re-read right away may
# not show a change just made.
UNCERTAIN_TRIES = 3
UNCERTAIN_PAUSE = 2.0
OPERATIONS = {DEACTIVATE: "UpdateAccessKey Status=Inactive", DELETE: "DeleteAccessKey",
              REACTIVATE: "UpdateAccessKey Status=Active"}


@dataclass(frozen=True, slots=True)
class RemediationRequest:
    """Validated parameters of a remediation: what to list, what to do, where to journal."""

    scope: InventoryRequest = field(default_factory=InventoryRequest)
    policy: RemediationPolicy = field(default_factory=RemediationPolicy)
    # A saved inventory to plan from instead of listing (--from), or a saved plan (--plan).
    inventory: Inventory | None = None
    plan: RemediationPlan | None = None
    # None: the saved plan's journal, else journal.DEFAULT_LOCATION.
    journal: str | None = None
    apply: bool = False

    @classmethod
    def build(cls, *, accounts: Any = None, organization: Any = False, role_name: Any = None,
              external_id: Any = None, path_prefix: Any = None, last_used: Any = True,
              concurrency: Any = None, max_key_age: Any = None, max_unused: Any = None,
              max_inactive: Any = None, inventory: Any = None, plan: Any = None,
              deactivate: Any = None, delete_inactive_after: Any = None, grace: Any = None,
              exempt_tag: Any = None, max_actions: Any = None, journal: Any = None,
              apply: Any = False, between: bool = True) -> RemediationRequest:
        """Validate raw values (CLI options, workflow parameters); nothing is sent.

        `between`: also the rules between parameters (False checks values one by one, as a
        workflow does before the values that wait for earlier steps are known).
        """
        scope = InventoryRequest.build(
            accounts=accounts, organization=organization, role_name=role_name,
            external_id=external_id, path_prefix=path_prefix, last_used=last_used,
            concurrency=concurrency, max_key_age=max_key_age, max_unused=max_unused,
            max_inactive=max_inactive)
        policy = RemediationPolicy(
            deactivate=params.choice_list(_given(deactivate), name="deactivate",
                                          choices=DEACTIVATABLE, refused=NOT_DEACTIVATABLE),
            delete_inactive_after=params.optional_days(_given(delete_inactive_after),
                                                       name="delete_inactive_after"),
            grace=params.optional_days(_given(grace), name="grace"),
            exempt_tag=params.tag_key(_given(exempt_tag), default=EXEMPT_TAG),
            max_actions=params.max_actions(_given(max_actions), default=MAX_ACTIONS))
        request = cls(scope=scope, policy=policy, inventory=_saved_inventory(inventory),
                      plan=_saved_plan(plan), journal=params.journal_location(_given(journal)),
                      apply=params.flag(_given(apply), name="apply"))
        if not between:
            return request
        given = {"accounts": accounts, "organization": scope.organization or None,
                 "path_prefix": path_prefix, "no_last_used": None if scope.last_used else True,
                 "max_key_age": max_key_age, "max_unused": max_unused,
                 "max_inactive": max_inactive}
        request._check({k for k, v in given.items() if _given(v) is not None},
                       {k for k, v in (("deactivate", deactivate),
                                       ("delete_inactive_after", delete_inactive_after),
                                       ("grace", grace), ("exempt_tag", exempt_tag),
                                       ("inventory", inventory)) if _given(v) is not None})
        return request

    def _check(self, scope_given: set[str], policy_given: set[str]) -> None:
        """The rules between parameters."""
        if self.plan is not None:
            for name in sorted(scope_given | policy_given):
                raise InputError(name, "cannot be combined with a saved plan (--plan): the "
                                       "plan says what to do")
            return
        if self.inventory is not None:
            for name in sorted(scope_given):
                raise InputError(name, "cannot be combined with a saved inventory (--from): "
                                       "its keys and findings are what is planned from")
        if not self.policy.deactivate and self.policy.delete_inactive_after is None:
            raise InputError("deactivate", "nothing to do: give --deactivate RULES and/or "
                                           "--delete-inactive-after DAYS (or --plan FILE)")
        if self.policy.grace is not None and self.inventory is None:
            raise InputError("grace", "needs a saved inventory (--from FILE) whose findings "
                                      "carry Since: this run's own inventory would report "
                                      "every finding as first seen now")


@dataclass(frozen=True, slots=True)
class UndoRequest:
    """Validated parameters of an undo: the journal, which plan, and how to reach accounts."""

    journal: str
    only: str | None = None
    role_name: str = inventory.DEFAULT_ROLE_NAME
    external_id: str | None = None
    concurrency: int = inventory.DEFAULT_CONCURRENCY
    max_actions: int = MAX_ACTIONS
    apply: bool = False

    @classmethod
    def build(cls, *, journal: Any, run: Any = None, role_name: Any = None,
              external_id: Any = None, concurrency: Any = None, max_actions: Any = None,
              apply: Any = False) -> UndoRequest:
        """Validate raw values; nothing is read or sent."""
        location = params.journal_location(_given(journal))
        if location is None:
            raise InputError("journal", "is required: the journal whose deactivations to undo")
        return cls(journal=location, only=params.plan_id(_given(run)),
                   role_name=params.role_name(_given(role_name, inventory.DEFAULT_ROLE_NAME)),
                   external_id=params.external_id(_given(external_id)),
                   concurrency=params.concurrency(_given(concurrency),
                                                  default=inventory.DEFAULT_CONCURRENCY),
                   max_actions=params.max_actions(_given(max_actions), default=MAX_ACTIONS),
                   apply=params.flag(_given(apply), name="apply"))


PlanHook = Callable[[RemediationPlan], None]


def remediate(request: RemediationRequest, *, connection: aws.Connection,
              session: aws.Session | None = None, now: datetime | None = None,
              on_plan: PlanHook | None = None) -> RemediationPlan:
    """Plan and, with `request.apply`, act; a plan over the cap is refused before any write.

    `on_plan` sees the plan before anything changes (the CLI saves --plan-out there).
    """
    env = _Environment.start(connection, session)
    accounts = _Accounts(env, request.scope)
    planned = _plan(request, env, accounts, now or datetime.now(UTC))
    _show(planned, request.policy.max_actions, on_plan)
    if not request.apply:
        return planned
    return _apply(planned, env, accounts, _location(request, planned), check_tags=True)


def undo(request: UndoRequest, *, connection: aws.Connection,
         session: aws.Session | None = None, now: datetime | None = None,
         on_plan: PlanHook | None = None) -> RemediationPlan:
    """Plan the reactivation of what the journal deactivated, checked live; with
    `request.apply`, reactivate."""
    env = _Environment.start(connection, session)
    moment = now or datetime.now(UTC)
    history = remediation.attempts(journal.read(request.journal, session=env.session,
                                                connection=connection, required=True))
    planned = remediation.undo_plan(
        history, only=request.only, plan_id=new_plan_id(moment), caller_arn=env.caller.arn,
        journal=request.journal, policy=RemediationPolicy(max_actions=request.max_actions),
        now=moment)
    scope = InventoryRequest(role_name=request.role_name, external_id=request.external_id,
                             concurrency=request.concurrency)
    accounts = _Accounts(env, scope)
    planned = _still_possible(planned, accounts, history)
    _show(planned, request.max_actions, on_plan)
    if not request.apply:
        return planned
    return _apply(planned, env, accounts, request.journal, check_tags=False)


def _show(planned: RemediationPlan, cap: int, on_plan: PlanHook | None) -> None:
    """Refuse a plan over the cap whole; else let the caller see it before anything changes."""
    why = remediation.over_cap(planned, cap)
    if why is not None:
        raise InputError("max_actions", why)
    if on_plan is not None:
        on_plan(planned)


def shortfall(planned: RemediationPlan) -> IamKeysError | None:
    """The error (exit 3, or 1 when nothing could be done) for an applied plan with actions
    not done; None when every action is done, or for a plan not applied."""
    if not planned.applied:
        return None
    counts = planned.results()
    missed = len(planned.actions) - counts[DONE]
    if missed == 0:
        return None
    detail = (f"{counts[SKIPPED]} skipped, {counts[FAILED]} failed; see Result in the "
              "output")
    if counts[DONE] == 0 and counts[FAILED]:
        return IamKeysError(f"nothing could be done: {detail}")
    return PartialResultError(f"{missed} of {len(planned.actions)} action(s) not done: "
                              f"{detail}")


def new_plan_id(now: datetime) -> str:
    """A plan's id: when it was made, and 8 random hex digits."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


# --- planning ------------------------------------------------------------------------------


def _plan(request: RemediationRequest, env: _Environment, accounts: _Accounts,
          moment: datetime) -> RemediationPlan:
    """The plan: the saved one, or one made from an inventory, the journal and users' tags."""
    if request.plan is not None:
        if request.plan.count(REACTIVATE):
            raise InputError("plan", "is an undo plan: apply it with iamkeys undo")
        return replace(request.plan, policy=replace(request.plan.policy,
                                                    max_actions=request.policy.max_actions))
    location = request.journal or journal.DEFAULT_LOCATION
    history = remediation.attempts(journal.read(location, session=env.session,
                                                connection=env.connection))
    inv = request.inventory or _listed(request.scope, env, accounts, moment)
    context = Context(caller_key_id=env.key_id, history=history)
    plan_id = new_plan_id(moment)

    def made(with_tags: Context) -> RemediationPlan:
        return remediation.plan(inv, request.policy, with_tags, plan_id=plan_id,
                                caller_arn=env.caller.arn, journal=location, now=moment)

    users = remediation.users_to_check(made(context))
    exempt, unchecked = _exemptions(accounts, users, request.policy.exempt_tag,
                                    request.scope.concurrency)
    return made(replace(context, exempt=exempt, unchecked=unchecked))


def _listed(scope: InventoryRequest, env: _Environment, accounts: _Accounts,
            moment: datetime) -> Inventory:
    """The inventory, its requests in the caller's account paced by that account's pace too:
    the inventory's own pace is tuned for runs of thousands of requests, and the remediation
    that follows starts at the rate IAM let through rather than in a burst."""
    pace = accounts.pace(env.caller.account_id)
    stops = [aws.observe(env.session, "before-send.iam", pace.before_send),
             aws.observe(env.session, "needs-retry.iam", pace.on_answer)]
    try:
        return inventory.run(scope, connection=env.connection, session=env.session, now=moment)
    finally:
        for stop in stops:
            if stop is not None:
                stop()


def _exemptions(accounts: _Accounts, users: Iterable[tuple[str, str]], tag: str,
                concurrency: int) -> tuple[frozenset[tuple[str, str]], dict[tuple[str, str], str]]:
    """Which users carry the exempt tag, and those whose tags could not be read (and why)."""
    exempt: set[tuple[str, str]] = set()
    unchecked: dict[tuple[str, str], str] = {}

    def check(user: tuple[str, str]) -> None:
        tags = accounts.user_tags(*user)
        if isinstance(tags, AwsError):
            unchecked[user] = f"ListUserTags: {tags.code}: {tags.message}"
        elif tag in tags:
            exempt.add(user)

    ordered = sorted(users)
    if ordered:
        with ThreadPoolExecutor(min(concurrency, len(ordered)),
                                thread_name_prefix="iamkeys-tags") as pool:
            list(pool.map(check, ordered))
    return frozenset(exempt), unchecked


def _still_possible(planned: RemediationPlan, accounts: _Accounts,
                    history: remediation.History) -> RemediationPlan:
    """An undo plan with the actions the live keys no longer allow moved to Skipped."""

    def check(action: KeyAction) -> KeyAction | SkippedKey:
        try:
            live = accounts.clients(action.account_id).key(action)
        except AwsError as e:
            return _left(action, f"could not be read: {e.code}: {e.message}")
        found = history.get((action.account_id, action.access_key_id), ())
        kind, reason = remediation.verdict(action, live, found)
        return action if kind == GO else _left(action, reason)

    if not planned.actions:
        return planned
    with ThreadPoolExecutor(min(accounts.scope.concurrency, len(planned.actions)),
                            thread_name_prefix="iamkeys-undo") as pool:
        checked = list(pool.map(check, planned.actions))
    return replace(planned, actions=tuple(a for a in checked if isinstance(a, KeyAction)),
                   skipped=tuple(sorted((*planned.skipped,
                                         *(a for a in checked if isinstance(a, SkippedKey))),
                                        key=lambda s: (s.account_id, s.user_name,
                                                       s.access_key_id))))


def _left(action: KeyAction, reason: str) -> SkippedKey:
    """An action not taken, as a skipped key."""
    return SkippedKey(account_id=action.account_id, user_name=action.user_name,
                      access_key_id=action.access_key_id, action=action.action,
                      rules=action.rules, reason=reason)


# --- applying ------------------------------------------------------------------------------


def _apply(planned: RemediationPlan, env: _Environment, accounts: _Accounts,
           journal_location: str, *, check_tags: bool) -> RemediationPlan:
    """Every action re-checked live and, when it still holds, made and journaled."""
    with journal.opened(journal_location, session=env.session,
                        connection=env.connection) as writer:
        # Read once the journal is ours (a file is locked): what earlier runs did, up to now.
        history = remediation.attempts(journal.read(journal_location, session=env.session,
                                                    connection=env.connection))
        run = _Apply(planned, env, accounts, writer, history, check_tags)
        results: list[KeyAction] = []
        if planned.actions:
            with ThreadPoolExecutor(min(accounts.scope.concurrency, len(planned.actions)),
                                    thread_name_prefix="iamkeys-apply") as pool:
                results = list(pool.map(run.one, planned.actions))
    return replace(planned, actions=tuple(results), applied=True, journal=journal_location)


class _Apply:
    """One apply run: the plan, the journal, and each action's re-check and write."""

    def __init__(self, planned: RemediationPlan, env: _Environment, accounts: _Accounts,
                 writer: journal.Writer, history: remediation.History,
                 check_tags: bool) -> None:
        self.planned = planned
        self.env = env
        self.accounts = accounts
        self.writer = writer
        self.history = history
        self.check_tags = check_tags

    def one(self, action: KeyAction) -> KeyAction:
        """Re-check one action live; make it when it still holds."""
        try:
            clients = self.accounts.clients(action.account_id)
        except AwsError as e:
            return _result(action, FAILED, f"AssumeRole: {e.code}: {e.message}")
        guard = self._guard(action)
        if guard is not None:
            return _result(action, SKIPPED, guard)
        try:
            live = clients.key(action)
        except AwsError as e:
            return _result(action, FAILED, f"ListAccessKeys: {e.code}: {e.message}")
        found = self.history.get((action.account_id, action.access_key_id), ())
        kind, reason = remediation.verdict(action, live, found)
        if kind == DONE:
            self._settle(clients, action, found)
            return _result(action, DONE, reason)
        if kind != GO:
            return _result(action, SKIPPED, reason)
        if action.action == DEACTIVATE and UNUSED_KEY in action.rules:
            try:
                used = remediation.used_since(action, clients.last_used(action.access_key_id))
            except AwsError as e:
                return _result(action, FAILED, f"GetAccessKeyLastUsed: {e.code}: {e.message}")
            if used is not None:
                return _result(action, SKIPPED, used)
        return self._write(clients, action)

    def _guard(self, action: KeyAction) -> str | None:
        """Why a key is not touched after all: the caller's own key, an exempt user (tags read
        while planning in this run, or now for a saved plan)."""
        if action.access_key_id == self.env.key_id:
            return "the key signing these requests (the caller's own)"
        if not self.check_tags:
            return None
        tags = self.accounts.user_tags(action.account_id, action.user_name)
        exempt = self.planned.policy.exempt_tag
        if isinstance(tags, AwsError) and tags.code == NO_SUCH_ENTITY:
            return None  # the user is gone: the key's re-read says so
        if isinstance(tags, AwsError):
            return (f"whether the user is tagged {exempt} is not known: ListUserTags: "
                    f"{tags.code}: {tags.message}")
        return f"user tagged {exempt}" if exempt in tags else None

    def _settle(self, clients: _Clients, action: KeyAction, found: Iterable[Attempt]) -> None:
        """Journal the outcome the re-read confirmed for an intent an interrupted run left."""
        last = remediation.last_landed(tuple(found))
        if last is not None and last.outcome is None:
            self._journal(DONE, action, last.attempt, clients,
                          "confirmed by a re-read: the key is as this action leaves it")

    def _write(self, clients: _Clients, action: KeyAction) -> KeyAction:
        """Intent, the write (throttling retried, an unknown outcome re-read), then outcome."""
        attempt = secrets.token_hex(8)
        self._journal(INTENT, action, attempt, clients, action.reason)
        throttled = uncertain = 0
        doubt: AwsError | None = None
        while True:
            try:
                clients.write(action)
            except AwsError as e:
                if e.code in THROTTLING_CODES and throttled < THROTTLED_TRIES - 1:
                    # Refused, so not applied: sent again once the pace allows.
                    time.sleep(min(MAX_PAUSE, THROTTLED_PAUSE * 2 ** throttled)
                               * (0.5 + random.random()))
                    throttled += 1
                    continue
                if e.code == NO_SUCH_ENTITY and doubt is not None and action.action == DELETE:
                    return self._done(clients, action, attempt,
                                      f"{OPERATIONS[action.action]} after {doubt.code}: the "
                                      "key was gone, deleted by the first try")
                if e.code == NO_SUCH_ENTITY:
                    return self._failed(clients, action, attempt, e, SKIPPED,
                                        "deleted (or its user removed) since the re-read")
                if not aws.uncertain(e):
                    return self._failed(clients, action, attempt, e, FAILED)
                uncertain += 1
                doubt = e
                settled = self._reread(clients, action, attempt, e)
                if settled is not None:
                    return settled
                if uncertain >= UNCERTAIN_TRIES:
                    return self._failed(clients, action, attempt, e, FAILED,
                                        f"{uncertain} tries; the re-read shows the key "
                                        "unchanged")
                continue
            detail = OPERATIONS[action.action] + (f" (after {doubt.code}, the re-read showed "
                                                  "the key unchanged)" if doubt else "")
            return self._done(clients, action, attempt, detail)

    def _reread(self, clients: _Clients, action: KeyAction, attempt: str,
                error: AwsError) -> KeyAction | None:
        """After a write with an unknown outcome: done, changed meanwhile, or None to send the
        write again (the key is unchanged: it did not land)."""
        time.sleep(UNCERTAIN_PAUSE)
        try:
            live = clients.key(action)
        except AwsError as e:
            return self._failed(clients, action, attempt, e, FAILED,
                                f"the outcome of {OPERATIONS[action.action]} is unknown "
                                f"({error.code}) and re-reading the key failed")
        state = live.status if live is not None else None
        if state == TO_STATUS[action.action]:
            return self._done(clients, action, attempt,
                              f"{OPERATIONS[action.action]}: the answer was lost "
                              f"({error.code}); the re-read shows it applied")
        if state != action.status:
            return self._failed(clients, action, attempt, error, SKIPPED,
                                f"after {error.code}, the re-read shows the key "
                                f"{state or 'gone'}: changed meanwhile")
        return None

    def _done(self, clients: _Clients, action: KeyAction, attempt: str,
              detail: str) -> KeyAction:
        """Journal the outcome, then record it."""
        self._journal(DONE, action, attempt, clients, detail)
        return _result(action, DONE, detail)

    def _failed(self, clients: _Clients, action: KeyAction, attempt: str, error: AwsError,
                result: str, why: str | None = None) -> KeyAction:
        """Journal a failure; the action's result is `result` (skipped when it was not safe)."""
        detail = f"{error.code}: {error.message}" + (f" ({why})" if why else "")
        self._journal(FAILED, action, attempt, clients, detail)
        return _result(action, result, detail)

    def _journal(self, event: str, action: KeyAction, attempt: str, clients: _Clients,
                 detail: str | None) -> None:
        """One journal line, durable before this returns."""
        self.writer.append(JournalEntry(
            time=datetime.now(UTC), event=event, plan_id=self.planned.plan_id,
            attempt=attempt, account_id=action.account_id, user_name=action.user_name,
            access_key_id=action.access_key_id, action=action.action, rules=action.rules,
            caller_arn=self.env.caller.arn, role_arn=clients.role_arn, detail=detail))


def _result(action: KeyAction, result: str, reason: str) -> KeyAction:
    """An action with its result."""
    return replace(action, result=result, result_reason=reason)


# --- AWS -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Environment:
    """Where AWS is and who we are: the session, its region, STS, the caller and its key."""

    connection: aws.Connection
    session: aws.Session
    region: str
    sts: Any
    caller: Caller
    key_id: str | None

    @classmethod
    def start(cls, connection: aws.Connection,
              session: aws.Session | None) -> _Environment:
        """The caller, from GetCallerIdentity, and the key that signs (from its credentials)."""
        session = session or inventory.retrying_session(connection)
        region = aws.default_region(session, connection)
        sts = aws.client(session, "sts", region, connection)
        caller = inventory.caller_identity(sts)
        key_id = str(aws.frozen_credentials(session).access_key or "") or None
        return cls(connection, session, region, sts, caller, key_id)


@dataclass(frozen=True, slots=True)
class _Clients:
    """One account's IAM clients, reads (botocore's retries) and writes (none), one pace."""

    read: Any
    writer: Any
    role_arn: str | None

    def tags(self, user_name: str) -> dict[str, str]:
        """Every tag of a user (ListUserTags, every page), by key."""
        return {tag.key: tag.value for tag in inventory.list_tags(self.read, user_name)}

    def key(self, action: KeyAction) -> AccessKey | None:
        """The key as ListAccessKeys of its user shows it; None when not listed there (or the
        user is gone)."""
        try:
            keys = inventory.list_keys(self.read, action.user_name, None)
        except AwsError as e:
            if e.code == NO_SUCH_ENTITY:
                return None
            raise
        return next((k for k in keys if k.access_key_id == action.access_key_id), None)

    def last_used(self, access_key_id: str) -> Any:
        """GetAccessKeyLastUsed of the key."""
        return inventory.key_last_used(self.read, access_key_id)

    def write(self, action: KeyAction) -> None:
        """The action's one request, naming both the user and the key; AwsError on failure."""
        who = {"UserName": action.user_name, "AccessKeyId": action.access_key_id}
        with aws.translated():
            if action.action == DELETE:
                self.writer.delete_access_key(**who)
            else:
                status = TO_STATUS[action.action]
                self.writer.update_access_key(**who, Status=status)


class _Accounts:
    """The clients of each account, made once (an assumed role for other accounts), and the
    tags of each user, read once per run."""

    def __init__(self, env: _Environment, scope: InventoryRequest) -> None:
        self.env = env
        self.scope = scope
        self.lock = threading.Lock()
        self.made: dict[str, _Clients | AwsError] = {}
        self.tags: dict[tuple[str, str], dict[str, str] | AwsError] = {}
        self.paces: dict[str, _Pace] = {}

    def pace(self, account_id: str) -> _Pace:
        """The account's pace: IAM's quota is per account, and counts reads and writes."""
        with self.lock:
            return self.paces.setdefault(account_id, _Pace())

    def user_tags(self, account_id: str, user_name: str) -> dict[str, str] | AwsError:
        """A user's tags (ListUserTags), or the error that kept them from being read."""
        with self.lock:
            known = self.tags.get((account_id, user_name))
        if known is not None:
            return known
        try:
            known = self.clients(account_id).tags(user_name)
        except AwsError as e:
            known = e
        with self.lock:
            self.tags[(account_id, user_name)] = known
        return known

    def clients(self, account_id: str) -> _Clients:
        """The account's clients; AwsError when its role could not be assumed."""
        with self.lock:
            made = self.made.get(account_id)
            if made is None:
                try:
                    made = self._make(account_id)
                except AwsError as e:
                    made = e
                self.made[account_id] = made
        if isinstance(made, AwsError):
            raise made
        return made

    def _make(self, account_id: str) -> _Clients:
        """Reads and writes share one pace: IAM's quota counts both."""
        env = self.env
        session, role = env.session, None
        if account_id != env.caller.account_id:
            role = inventory.role_arn(env.caller, account_id, self.scope.role_name)
            session = inventory.retrying_session(env.connection, inventory.assume_role(
                env.sts, role, external_id=self.scope.external_id, session_name=SESSION_NAME))
        read = aws.client(session, "iam", env.region, env.connection)
        writer = aws.client(session, "iam", env.region, env.connection, attempts=1)
        pace = self.paces.setdefault(account_id, _Pace())  # under self.lock (clients())
        for made in (read, writer):
            made.meta.events.register("before-send.iam", pace.before_send)
            made.meta.events.register("needs-retry.iam", pace.on_answer)
        return _Clients(read=read, writer=writer, role_arn=role)


# --- parameters ----------------------------------------------------------------------------


class _Pace(inventory.Pace):
    """The inventory's pace, quicker to slow down: a remediation's phases (tags, re-reads and
    writes) are a few hundred requests, where the inventory's smoothing over ~200 answers
    would let each phase's first burst be throttled for seconds."""

    SMOOTHING = 1 / 25


def _location(request: RemediationRequest, planned: RemediationPlan) -> str:
    """The journal: the one asked for, else the saved plan's, else the default file."""
    return request.journal or planned.journal or journal.DEFAULT_LOCATION


def _saved_inventory(value: Any) -> Inventory | None:
    """A saved inventory (an object, or its JSON document), or None."""
    if value is None or isinstance(value, Inventory):
        return value
    try:
        return documents.inventory(value)
    except InputError as e:
        raise InputError("inventory", e.rule) from e


def _saved_plan(value: Any) -> RemediationPlan | None:
    """A saved plan (an object, or its JSON document), or None."""
    if value is None or isinstance(value, RemediationPlan):
        return value
    if not isinstance(value, Mapping):
        raise InputError("plan", "must be a plan: the JSON iamkeys remediate prints")
    try:
        return documents.plan(value)
    except InputError as e:
        raise InputError("plan", e.rule) from e


def _given(value: Any, default: Any = None) -> Any:
    """`default` for a missing value or blank text (a template that rendered nothing)."""
    if value is None or isinstance(value, str) and not value.strip():
        return default
    return value
