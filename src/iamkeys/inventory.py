"""Account- and organization-wide inventory: every user's access keys, their last use, findings.

Fan-out: for each account, one thread walks ListUsers' marker chain (its pages can only be
fetched in order) and hands each user to a shared pool of `concurrency` threads that call
ListAccessKeys and GetAccessKeyLastUsed, while the next ListUsers page is already on its way.
A semaphore per account caps the users one account has in flight, so that a large account
cannot take the whole pool from the others.
Each account's request rate adapts (`Pace`): unlimited until IAM throttles much, then just
under what IAM lets through, probed upward slowly. botocore retries each request (standard
mode, 10 attempts; the environment still wins); a call still throttled after that is tried
again a few times, later.

Failures after retries do not stop the run: each one is recorded as an `InventoryError` and the
rest is still listed. A user deleted between ListUsers and a later call (NoSuchEntity) is
recorded as deleted, not as an error.

With owner tags, each user that has keys costs one more call (ListUserTags, in the same pool,
pace and retries). With a baseline (`--baseline`, `--state`), changes.py carries over what this
run could not read and sets the Changes.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from . import aws, changes, documents, findings, params, redact, serialize, state, wire
from .errors import AwsError, InputError
from .model import (
    OWNER_NO_TAG,
    OWNER_NOT_EMAIL,
    OWNER_UNREAD,
    AccessKey,
    AccountScan,
    Caller,
    DeletedDuringRun,
    Inventory,
    InventoryError,
    InventoryKey,
    LastUsed,
    Tag,
    Thresholds,
    User,
)

DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
ROLE_SESSION_NAME = "iamkeys-inventory"
DEFAULT_CONCURRENCY = 64
# Retry defaults for a throttling-heavy fan-out (env AWS_RETRY_MODE / AWS_MAX_ATTEMPTS win).
# Not botocore's `adaptive` mode: it cuts a client's rate by 30% at every throttle whatever the
# rate, so throttles that do not come from our own pace (another tool using the account's IAM
# quota; 20% random throttles in our tests) drive it to its floor of 0.5 requests per second
# (measured, 400 users with 20% of answers throttled: 579 s; with `Pace` below, 11 s).
RETRY_MODE = "standard"
MAX_ATTEMPTS = 10
# After botocore gave up on a throttled call (attempts or retry quota spent): tries, and the
# first pause (doubled each time, with jitter).
THROTTLED_ROUNDS = 3
THROTTLED_PAUSE = 1.0
# Error codes that mean "slow down" (botocore's throttling list, minus quota-style codes).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "SlowDown",
})
# ListUsers' marker chain is sequential: the largest page IAM allows means the fewest waits.
USERS_PER_PAGE = 1000
# A guard against markers that never end (10,000,000 users at 100 per page).
MAX_PAGES = 100_000
NO_SUCH_ENTITY = "NoSuchEntity"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InventoryRequest:
    """Validated parameters of an inventory run."""

    accounts: tuple[str, ...] = ()
    organization: bool = False
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    path_prefix: str | None = None
    last_used: bool = True
    concurrency: int = DEFAULT_CONCURRENCY
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Tag keys naming each key's owner (--owner-tag), first match wins; () looks up no owner.
    owner_tags: tuple[str, ...] = ()
    # MaxItems of ListUsers and ListAccessKeys (None: IAM's default, 100). Library-only knobs:
    # smaller pages exercise pagination in tests; the defaults are the fastest.
    users_per_page: int = USERS_PER_PAGE
    keys_per_page: int | None = None

    @classmethod
    def build(cls, *, accounts: Any = None, organization: Any = False, role_name: Any = None,
              external_id: Any = None, path_prefix: Any = None, last_used: Any = True,
              concurrency: Any = None, max_key_age: Any = None, max_unused: Any = None,
              max_inactive: Any = None, owner_tag: Any = None) -> InventoryRequest:
        """Validate raw values (CLI options, workflow parameters; strings or ints)."""
        request = cls(
            accounts=params.account_ids(_given(accounts)),
            organization=params.flag(_given(organization), name="organization"),
            role_name=params.role_name(_given(role_name, DEFAULT_ROLE_NAME)),
            external_id=params.external_id(_given(external_id)),
            path_prefix=params.path_prefix(_given(path_prefix)),
            last_used=params.flag(_given(last_used), name="last_used", default=True),
            concurrency=params.concurrency(_given(concurrency), default=DEFAULT_CONCURRENCY),
            thresholds=Thresholds(
                max_key_age=params.days(_given(max_key_age), name="max_key_age", default=90),
                max_unused=params.days(_given(max_unused), name="max_unused", default=45),
                max_inactive=params.days(_given(max_inactive), name="max_inactive", default=30),
            ),
            owner_tags=params.owner_tags(_given(owner_tag)),
        )
        if request.organization and request.accounts:
            raise InputError("accounts", "cannot be combined with --organization")
        return request


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a run is: accounts, users and keys done of those found so far."""

    accounts_done: int
    accounts_total: int
    users_done: int
    users_total: int
    keys_done: int
    keys_total: int


ProgressHook = Callable[[Progress], None]


def inventory(*, accounts: Any = None, organization: Any = False,
              role_name: Any = DEFAULT_ROLE_NAME, external_id: Any = None,
              path_prefix: Any = None, last_used: Any = True, concurrency: Any = None,
              max_key_age: Any = 90, max_unused: Any = 45, max_inactive: Any = 30,
              owner_tag: Any = None, baseline: Inventory | None = None,
              connection: aws.Connection | None = None, session: aws.Session | None = None,
              progress: ProgressHook | None = None, now: datetime | None = None) -> Inventory:
    """Every access key of the caller's account, the accounts given, or the organization."""
    request = InventoryRequest.build(
        accounts=accounts, organization=organization, role_name=role_name,
        external_id=external_id, path_prefix=path_prefix, last_used=last_used,
        concurrency=concurrency, max_key_age=max_key_age, max_unused=max_unused,
        max_inactive=max_inactive, owner_tag=owner_tag)
    return run(request, connection=connection or aws.Connection(), session=session,
               progress=progress, now=now, baseline=baseline)


def run(request: InventoryRequest, *, connection: aws.Connection,
        session: aws.Session | None = None, progress: ProgressHook | None = None,
        now: datetime | None = None, baseline: Inventory | None = None) -> Inventory:
    """Run a validated request; raises AwsError only when nothing at all could be listed.

    With a `baseline` (an earlier inventory), findings keep their Since, what this run could not
    read is carried over (marked), and the inventory's Changes are set.
    """
    pool_size = max(connection.max_pool_connections, request.concurrency + 1)
    connection = replace(connection, max_pool_connections=pool_size)
    session = session or retrying_session(connection)
    region = aws.default_region(session, connection)
    sts = aws.client(session, "sts", region, connection)
    caller = caller_identity(sts)
    targets = _targets(request, caller, session, region, connection)
    scope = _Scope(request=request, connection=connection, session=session, region=region,
                   caller=caller, sts=sts, now=now or datetime.now(UTC))
    inv = _Run(scope, targets, progress).execute()
    return inv if baseline is None else changes.with_baseline(inv, baseline)


def run_with_state(request: InventoryRequest, location: params.StateLocation, *,
                   connection: aws.Connection, session: aws.Session | None = None,
                   progress: ProgressHook | None = None,
                   now: datetime | None = None) -> Inventory:
    """Run with the inventory stored at `location` (if any) as the baseline, then store the new
    one there, unless another run stored one meanwhile (StateConflictError, nothing written)."""
    session = session or retrying_session(connection)
    snapshot = state.read(location, session=session, connection=connection)
    baseline = None if snapshot.data is None else documents.saved_inventory(
        snapshot.data, parameter="state", where=location.text)
    inv = run(request, connection=connection, session=session, progress=progress, now=now,
              baseline=baseline)
    data = serialize.dumps(serialize.inventory(inv)).encode("utf-8")
    state.write(location, data, snapshot, session=session, connection=connection)
    return inv


def retrying_session(connection: aws.Connection,
                     credentials: aws.SessionCredentials | None = None) -> aws.Session:
    """A session with the inventory's retry defaults and fast timestamp parsing."""
    return aws.make_session(connection, retry_mode=RETRY_MODE, max_attempts=MAX_ATTEMPTS,
                            credentials=credentials, timestamp_parser=wire.timestamp)


def caller_identity(sts: Any) -> Caller:
    """Who we are: the account used directly, and the partition for role ARNs."""
    try:
        return patiently(lambda: wire.caller(sts.get_caller_identity()))
    except AwsError as e:
        raise _located(e, "GetCallerIdentity") from e


def _targets(request: InventoryRequest, caller: Caller, session: aws.Session, region: str,
             connection: aws.Connection) -> tuple[str, ...]:
    """The account ids to list: the caller's, the ones given, or the organization's."""
    if request.organization:
        return _organization_accounts(aws.client(session, "organizations", region, connection))
    return request.accounts or (caller.account_id,)


def _organization_accounts(organizations: Any) -> tuple[str, ...]:
    """Active accounts of the organization, from every ListAccounts page."""

    def every_page() -> list[str]:
        # The paginator hides its pages' tokens: a page that cannot be read restarts the walk.
        return [a.account_id
                for page in organizations.get_paginator("list_accounts").paginate()
                for a in wire.org_accounts(page) if a.active]

    try:
        active = aws.read(every_page)
    except AwsError as e:
        raise _located(e, "ListAccounts") from e
    if not active:
        raise AwsError("NoActiveAccounts", "Organizations ListAccounts returned no ACTIVE account")
    return tuple(sorted(set(active)))


@dataclass(frozen=True, slots=True)
class _Scope:
    """What every thread of a run reads: the request, where AWS is, who we are, and now."""

    request: InventoryRequest
    connection: aws.Connection
    session: aws.Session
    region: str
    caller: Caller
    sts: Any
    now: datetime

    def per_account_cap(self, accounts: int) -> int:
        """Users of one account worked on at once: the whole pool alone, half when sharing."""
        concurrency = self.request.concurrency
        return concurrency if accounts <= 1 else max(1, concurrency // 2)

    def listers(self, accounts: int) -> int:
        """Threads walking ListUsers chains at once (each mostly waits for the pool)."""
        return max(1, min(accounts, self.request.concurrency // 4))


class _Run:
    """One inventory run: its threads, and the results they add under one lock."""

    def __init__(self, scope: _Scope, targets: Sequence[str],
                 progress: ProgressHook | None) -> None:
        self.scope = scope
        self.targets = tuple(targets)
        self.cap = scope.per_account_cap(len(self.targets))
        self.progress = progress
        self.lock = threading.Lock()
        self.keys: list[InventoryKey] = []
        self.errors: list[InventoryError] = []
        self.deleted: list[DeletedDuringRun] = []
        self.scans = {account: AccountScan(account) for account in self.targets}
        self.pending = dict.fromkeys(self.targets, 1)  # 1: the ListUsers walk itself
        self.counts = _Counts(accounts_total=len(self.targets))
        self.crashes: list[BaseException] = []
        self.pool: ThreadPoolExecutor | None = None

    def execute(self) -> Inventory:
        """List every target account, wait for every user, and assemble the inventory."""
        self._report()
        workers = self.scope.request.concurrency
        with ThreadPoolExecutor(workers, thread_name_prefix="iamkeys-user") as pool:
            self.pool = pool
            listers = self.scope.listers(len(self.targets))
            with ThreadPoolExecutor(listers, thread_name_prefix="iamkeys-account") as walkers:
                for account in self.targets:
                    walkers.submit(self._account, account).add_done_callback(self._check)
        if self.crashes:
            raise self.crashes[0]
        return self._result()

    # --- one account ------------------------------------------------------------------------

    def _account(self, account_id: str) -> None:
        """Reach the account, learn whether root has keys, and walk its users."""
        try:
            iam = self._iam(account_id)
        except AwsError as e:
            self._fail(account_id, None, "AssumeRole", e)
        else:
            pace = Pace()
            iam.meta.events.register("before-send.iam", pace.before_send)
            iam.meta.events.register("needs-retry.iam", pace.on_answer)
            self._root_keys(iam, account_id)
            self._walk_users(iam, account_id)
        finally:
            self._task_done(account_id)

    def _iam(self, account_id: str) -> Any:
        """An IAM client for the account: our own credentials, or an assumed role's."""
        scope = self.scope
        session = scope.session
        if account_id != scope.caller.account_id:
            session = retrying_session(scope.connection, self._assume(account_id))
        return aws.client(session, "iam", scope.region, scope.connection)

    def _assume(self, account_id: str) -> aws.SessionCredentials:
        """Temporary credentials for `--role-name` in the account (registered as secrets)."""
        request = self.scope.request
        return assume_role(self.scope.sts, role_arn(self.scope.caller, account_id,
                                                     request.role_name),
                           external_id=request.external_id)

    def _root_keys(self, iam: Any, account_id: str) -> None:
        """Whether the account's root user has access keys (GetAccountSummary)."""
        try:
            present = patiently(lambda: wire.root_keys_present(iam.get_account_summary()))
        except AwsError as e:
            self._fail(account_id, None, "GetAccountSummary", e)
            return
        with self.lock:
            self.scans[account_id] = replace(self.scans[account_id], root_keys_present=present)

    def _walk_users(self, iam: Any, account_id: str) -> None:
        """Follow ListUsers' markers, handing users to the pool as the account's cap allows.

        The next page is fetched as soon as fewer than `cap` users wait, so the pool keeps
        working on earlier users while the (sequential) marker chain advances.
        """
        gate = threading.BoundedSemaphore(self.cap)
        waiting: deque[User] = deque()
        pages = _users_pages(iam, self.scope.request)
        more = True
        while more or waiting:
            if more and len(waiting) < self.cap:
                more = self._next_page(pages, account_id, waiting)
                continue
            gate.acquire()
            self._submit(iam, account_id, waiting.popleft(), gate)

    def _next_page(self, pages: Iterator[tuple[User, ...]], account_id: str,
                   waiting: deque[User]) -> bool:
        """Fetch one ListUsers page into `waiting`; False when there are no more pages."""
        try:
            users = next(pages)
        except StopIteration:
            return False
        except AwsError as e:
            self._fail(account_id, None, "ListUsers", e)
            return False
        waiting.extend(users)
        with self.lock:
            scan = self.scans[account_id]
            self.scans[account_id] = replace(scan, users=scan.users + len(users), listed=True)
            self.counts.users_total += len(users)
        self._report()
        return True

    def _submit(self, iam: Any, account_id: str, user: User,
                gate: threading.BoundedSemaphore) -> None:
        """Run one user's calls in the pool; the gate is released when they are done."""
        with self.lock:
            self.pending[account_id] += 1
        assert self.pool is not None
        future = self.pool.submit(self._user, iam, account_id, user, gate)
        future.add_done_callback(self._check)

    # --- one user ---------------------------------------------------------------------------

    def _user(self, iam: Any, account_id: str, user: User,
              gate: threading.BoundedSemaphore) -> None:
        """List a user's keys and their last use, and assess them."""
        try:
            keys = self._keys(iam, account_id, user)
            owner = self._owner(iam, account_id, user, keys)
            if keys is not None and owner is not None:
                records = [self._record(iam, account_id, user, key) for key in keys]
                assessed = findings.assess_user(
                    [replace(r, owner=owner[0], owner_problem=owner[1])
                     for r in records if r is not None],
                    self.scope.request.thresholds, self.scope.now)
                with self.lock:
                    self.keys.extend(assessed)
        finally:
            gate.release()
            with self.lock:
                self.counts.users_done += 1
            self._task_done(account_id)

    def _keys(self, iam: Any, account_id: str, user: User) -> tuple[AccessKey, ...] | None:
        """Every key of the user; None when the user is gone or the call failed."""
        try:
            keys = list_keys(iam, user.user_name, self.scope.request.keys_per_page)
        except AwsError as e:
            if e.code == NO_SUCH_ENTITY:
                self._gone(account_id, user.user_name, None)
            else:
                self._fail(account_id, user.user_name, "ListAccessKeys", e)
            return None
        with self.lock:
            self.counts.keys_total += len(keys)
            if not self.scope.request.last_used:
                self.counts.keys_done += len(keys)
        return keys

    def _owner(self, iam: Any, account_id: str, user: User,
               keys: tuple[AccessKey, ...] | None) -> tuple[str | None, str | None] | None:
        """(owner, problem) from the user's tags; None when the user is gone meanwhile.

        Only users with keys are asked (ListUserTags): owners matter for keys alone.
        """
        wanted = self.scope.request.owner_tags
        if not wanted or not keys:
            return (None, None)
        try:
            tags = list_tags(iam, user.user_name)
        except AwsError as e:
            if e.code != NO_SUCH_ENTITY:
                self._fail(account_id, user.user_name, "ListUserTags", e)
                return (None, OWNER_UNREAD)
            self._gone(account_id, user.user_name, None)
            if self.scope.request.last_used:
                with self.lock:
                    self.counts.keys_done += len(keys)
            return None
        return owner_of(tags, wanted)

    def _record(self, iam: Any, account_id: str, user: User,
                key: AccessKey) -> InventoryKey | None:
        """The key with its user and last use; None when the key vanished meanwhile."""
        last: LastUsed | None = None
        if self.scope.request.last_used:
            try:
                last = key_last_used(iam, key.access_key_id)
            except AwsError as e:
                if e.code == NO_SUCH_ENTITY:
                    self._gone(account_id, user.user_name, key.access_key_id)
                    return None
                self._fail(account_id, user.user_name, "GetAccessKeyLastUsed", e,
                           key.access_key_id)
            finally:
                with self.lock:
                    self.counts.keys_done += 1
                self._report()
        return InventoryKey(account_id=account_id, user_name=user.user_name,
                            user_create_date=user.create_date,
                            access_key_id=key.access_key_id, status=key.status,
                            create_date=key.create_date, last_used=last)

    # --- bookkeeping ------------------------------------------------------------------------

    def _fail(self, account_id: str, user_name: str | None, operation: str, error: AwsError,
              access_key_id: str | None = None) -> None:
        """Record a failure that survived botocore's retries; the run goes on."""
        recorded = InventoryError(account_id=account_id, user_name=user_name,
                                  operation=operation, code=error.code,
                                  message=redact.text(error.message),
                                  access_key_id=access_key_id)
        with self.lock:
            self.errors.append(recorded)

    def _gone(self, account_id: str, user_name: str, access_key_id: str | None) -> None:
        """Record a user (or key) deleted since ListUsers."""
        with self.lock:
            self.deleted.append(DeletedDuringRun(account_id, user_name, access_key_id))

    def _task_done(self, account_id: str) -> None:
        """One user (or the ListUsers walk) of the account finished."""
        with self.lock:
            self.pending[account_id] -= 1
            if self.pending[account_id] == 0:
                self.counts.accounts_done += 1
        self._report()

    def _report(self) -> None:
        """Tell the progress hook where the run is."""
        if self.progress is None:
            return
        with self.lock:
            snapshot = self.counts.snapshot()
        self.progress(snapshot)

    def _check(self, future: Future[None]) -> None:
        """Keep an unexpected exception (a bug, not an AWS error) to raise at the end."""
        error = future.exception()
        if error is not None:
            with self.lock:
                self.crashes.append(error)

    def _result(self) -> Inventory:
        """The frozen inventory, in a deterministic order; AwsError when nothing was listed."""
        scans = tuple(self.scans[a] for a in sorted(self.scans))
        errors = tuple(sorted(self.errors, key=_error_order))
        if not any(scan.listed for scan in scans):
            raise _nothing_listed(errors, len(scans))
        found = (findings.root_access_keys(scan, self.scope.now) for scan in scans)
        return Inventory(
            keys=tuple(sorted(self.keys, key=_key_order)),
            errors=errors,
            deleted=tuple(sorted(set(self.deleted), key=_deleted_order)),
            accounts=scans,
            account_findings=tuple(f for f in found if f is not None),
            generated_at=self.scope.now,
            thresholds=self.scope.request.thresholds,
            last_used_checked=self.scope.request.last_used,
            owner_tags=self.scope.request.owner_tags,
        )


class Pace:
    """The request rate of one account: unlimited until IAM throttles, then what IAM lets through.

    The share of throttled answers is smoothed over ~200 answers. When it passes TOLERANCE, the
    rate is set just under the rate of successful answers (what IAM's quota is letting through)
    and then probed upward by 5% a second. Throttles that our rate does not cause (another tool
    on the account's quota; random faults in tests) stay under TOLERANCE and change nothing,
    where botocore's `adaptive` mode would cut the rate at each one. TOLERANCE also stays under
    the share at which botocore's retry quota drains (about a third: a throttled retry costs 5,
    a first-try success gives 1 back).
    """

    TOLERANCE = 0.28
    SMOOTHING = 1 / 200
    BELOW = 0.95
    PROBE = 1.05
    WINDOW = 2.0
    MIN_RATE = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.rate: float | None = None
        self.next_send = 0.0
        self.throttled_share = 0.0
        self.successes: deque[float] = deque()
        self.first_answer: float | None = None
        self.probed = 0.0

    def before_send(self, **_: Any) -> None:
        """botocore's `before-send` event (every attempt): wait for this request's turn."""
        with self.lock:
            if self.rate is None:
                return
            now = self.clock()
            turn = max(now, self.next_send)
            self.next_send = turn + 1 / self.rate
        if turn > now:
            self.sleep(turn - now)

    def on_answer(self, response: Any = None, **_: Any) -> None:
        """botocore's `needs-retry` event (after every attempt): was it throttled?"""
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        code = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        self.answer(throttled=code in THROTTLING_CODES)

    def answer(self, *, throttled: bool) -> None:
        """Count one answer: set the rate when throttling passes TOLERANCE, else probe up."""
        with self.lock:
            now = self.clock()
            if self.first_answer is None:
                self.first_answer = now
            self.throttled_share += self.SMOOTHING * (throttled - self.throttled_share)
            if not throttled:
                self.successes.append(now)
            while self.successes and self.successes[0] < now - self.WINDOW:
                self.successes.popleft()
            if self.throttled_share > self.TOLERANCE:
                self._slow_down(now)
            elif self.rate is not None and now - self.probed >= 1.0:
                self.rate *= self.PROBE
                self.probed = now

    def _slow_down(self, now: float) -> None:
        """Just under the rate of recent successes; judge the new rate on its own answers."""
        assert self.first_answer is not None
        span = min(self.WINDOW, max(0.25, now - self.first_answer))
        self.rate = max(self.MIN_RATE, self.BELOW * len(self.successes) / span)
        self.next_send = max(self.next_send, now)
        self.throttled_share = 0.0
        self.probed = now


@dataclass(slots=True)
class _Counts:
    """Progress counters (mutated under the run's lock)."""

    accounts_total: int
    accounts_done: int = 0
    users_done: int = 0
    users_total: int = 0
    keys_done: int = 0
    keys_total: int = 0

    def snapshot(self) -> Progress:
        """An immutable copy for the progress hook."""
        return Progress(self.accounts_done, self.accounts_total, self.users_done,
                        self.users_total, self.keys_done, self.keys_total)


def _users_pages(iam: Any, request: InventoryRequest) -> Iterator[tuple[User, ...]]:
    """ListUsers pages in order; AwsError from the page that failed."""
    kwargs: dict[str, Any] = {"MaxItems": request.users_per_page}
    if request.path_prefix is not None:
        kwargs["PathPrefix"] = request.path_prefix
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = patiently(lambda: wire.users_page(iam.list_users(**kwargs)))
        yield page.users
        if not page.is_truncated:
            return
        kwargs["Marker"] = _next_marker(page.marker, seen)
    raise AwsError("InvalidResponse", f"ListUsers returned more than {MAX_PAGES} pages")


def list_keys(iam: Any, user_name: str, per_page: int | None) -> tuple[AccessKey, ...]:
    """Every ListAccessKeys page of one user."""
    kwargs: dict[str, Any] = {"UserName": user_name}
    if per_page is not None:
        kwargs["MaxItems"] = per_page
    keys: list[AccessKey] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = patiently(lambda: wire.page(iam.list_access_keys(**kwargs), user_name))
        keys.extend(page.keys)
        if not page.is_truncated:
            return tuple(keys)
        kwargs["Marker"] = _next_marker(page.marker, seen)
    raise AwsError("InvalidResponse", f"ListAccessKeys returned more than {MAX_PAGES} pages")


def list_tags(iam: Any, user_name: str) -> tuple[Tag, ...]:
    """Every ListUserTags page of one user."""
    kwargs: dict[str, Any] = {"UserName": user_name}
    tags: list[Tag] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = patiently(lambda: wire.tags_page(iam.list_user_tags(**kwargs)))
        tags.extend(page.tags)
        if not page.is_truncated:
            return tuple(tags)
        kwargs["Marker"] = _next_marker(page.marker, seen)
    raise AwsError("InvalidResponse", f"ListUserTags returned more than {MAX_PAGES} pages")


def owner_of(tags: Sequence[Tag], wanted: Sequence[str]) -> tuple[str | None, str | None]:
    """(owner, None) from the first tag key of `wanted` the user has (keys compared without
    case), when its value is an e-mail address; else (None, the problem)."""
    by_key: dict[str, str] = {}
    for tag in tags:
        by_key.setdefault(tag.key.casefold(), tag.value)
    value = next((by_key[k.casefold()] for k in wanted if k.casefold() in by_key), None)
    if value is None:
        return (None, OWNER_NO_TAG)
    try:
        return (params.email_address(value.strip(), name="owner"), None)
    except InputError:
        return (None, OWNER_NOT_EMAIL)


def _next_marker(marker: str | None, seen: set[str]) -> str:
    """The marker to send next; a marker seen before means pagination would never end."""
    if marker is None or marker in seen:
        raise AwsError("InvalidResponse", f"IAM returned marker {marker!r} twice; "
                                          "pagination would never end")
    seen.add(marker)
    return marker


def key_last_used(iam: Any, access_key_id: str) -> LastUsed:
    """GetAccessKeyLastUsed for one key."""
    return patiently(
        lambda: wire.last_used(iam.get_access_key_last_used(AccessKeyId=access_key_id)))


def role_arn(caller: Caller, account_id: str, role_name: str) -> str:
    """The ARN of `role_name` in an account, in the caller's partition."""
    return f"arn:{caller.partition}:iam::{account_id}:role/{role_name}"


def assume_role(sts: Any, arn: str, *, external_id: str | None,
                session_name: str = ROLE_SESSION_NAME) -> aws.SessionCredentials:
    """Temporary credentials for a role (registered as secrets the moment they arrive)."""
    kwargs = {"RoleArn": arn, "RoleSessionName": session_name}
    if external_id is not None:
        kwargs["ExternalId"] = external_id
    # AssumeRole changes nothing but issues one more session: asking again is safe.
    credentials = patiently(lambda: wire.assumed_credentials(sts.assume_role(**kwargs)))
    redact.add_secret(credentials.secret_access_key)
    redact.add_secret(credentials.session_token)
    return credentials


def patiently(call: Callable[[], T]) -> T:
    """`call` (a read, see aws.read), tried again later while it ends throttled.

    botocore gives up on a throttled request after its attempts, or at once when the client's
    retry quota is spent; a pause of a few seconds lets the account's quota refill.
    """
    for round_ in range(THROTTLED_ROUNDS - 1):
        try:
            return aws.read(call)
        except AwsError as e:
            if e.code not in THROTTLING_CODES:
                raise
        time.sleep(THROTTLED_PAUSE * 2 ** round_ * (0.5 + random.random()))
    return aws.read(call)


def _nothing_listed(errors: Sequence[InventoryError], accounts: int) -> AwsError:
    """The error for a run in which no account answered ListUsers."""
    if not errors:
        return AwsError("NothingListed", "no account could be listed")
    first = errors[0]
    where = f"account {first.account_id}, {first.operation}"
    more = f" (and {accounts - 1} more account(s) failed)" if accounts > 1 else ""
    return AwsError(first.code, f"{first.message} [{where}]{more}")


def _located(error: AwsError, where: str) -> AwsError:
    """A run-stopping error with the call that failed, as `_nothing_listed` names it."""
    return AwsError(error.code, f"{error.message} [{where}]")


def _key_order(key: InventoryKey) -> tuple[str, str, datetime, str]:
    """Keys by account, user, creation, id: the same order on every run."""
    return (key.account_id, key.user_name, key.create_date, key.access_key_id)


def _error_order(error: InventoryError) -> tuple[str, str, str, str]:
    """Errors by account, user, operation, key."""
    return (error.account_id, error.user_name or "", error.operation, error.access_key_id or "")


def _deleted_order(item: DeletedDuringRun) -> tuple[str, str, str]:
    """Deleted users by account, name, key."""
    return (item.account_id, item.user_name, item.access_key_id or "")


def _given(value: Any, default: Any = None) -> Any:
    """`default` for a missing value or blank text (a template that rendered nothing)."""
    if value is None or isinstance(value, str) and not value.strip():
        return default
    return value
