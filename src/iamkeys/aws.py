"""Sessions, partitions, regions, clients and AWS error translation.

Everything AWS goes through botocore: its credential chain, SigV4 signer, endpoint rules and
retries. iamkeys only chooses defaults (retry mode `standard`, timeouts) that the usual AWS
settings can still override.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from . import params, redact
from .errors import AwsError, InputError
from .params import RegionSpec

DEFAULT_REGION = "us-east-1"
USER_AGENT = "iamkeys/0.1.0"
# The codes of a response that arrived but could not be read: a body botocore could not parse
# (cut short, garbled), or one that parsed without what the API always sends (wire.py).
PARSE_ERROR = "ResponseParserError"
INVALID_RESPONSE = "InvalidResponse"
UNREADABLE = frozenset({PARSE_ERROR, INVALID_RESPONSE})
READ_ATTEMPTS = 3
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach AWS: profile, endpoint and timeouts. Credentials come from botocore's chain."""

    profile: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_pool_connections: int = 10
    # Where slim service models are cached (botomodels.py); None: botocore's full models.
    model_cache: str | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """An AWS partition as botocore's partitions.json describes it."""

    name: str
    regions: tuple[str, ...]
    global_region: str


@dataclass(frozen=True, slots=True)
class PartitionCall:
    """One IAM call target: a partition and the requested regions that fold into it."""

    partition: str
    region: str
    requested: tuple[str, ...] = field(default=())


class Session(Protocol):
    """What iamkeys needs of a session; a `boto3.Session` is one (the library's seam)."""

    @property
    def region_name(self) -> str | None: ...

    def client(self, service_name: Any, *args: Any, **kwargs: Any) -> Any: ...

    def get_credentials(self) -> Any: ...


class CoreSession:
    """boto3.Session's client-making subset over a botocore session.

    The CLI uses this instead of importing boto3, whose import (s3transfer, resources) costs
    about 0.1 s per process for nothing a listing needs.
    """

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def region_name(self) -> str | None:
        """The profile's or environment's region."""
        region = self._core.get_config_variable("region")
        return str(region) if region else None

    def client(self, service_name: Any, *args: Any, **kwargs: Any) -> Any:
        """A botocore client, as boto3.Session.client makes it."""
        return self._core.create_client(service_name, *args, **kwargs)

    def get_credentials(self) -> Any:
        """botocore's credential chain."""
        return self._core.get_credentials()

    @property
    def events(self) -> Any:
        """The session's botocore event emitter (boto3.Session.events)."""
        return self._core.get_component("event_emitter")


def make_session(connection: Connection, *, retry_mode: str = "standard",
                 max_attempts: int | None = None,
                 credentials: SessionCredentials | None = None,
                 timestamp_parser: Callable[[str], Any] | None = None) -> Session:
    """A session on botocore's credential chain, with standard retries by default.

    `retry_mode` and `max_attempts` are defaults only: AWS_RETRY_MODE, AWS_MAX_ATTEMPTS and the
    config file still win. `credentials` (e.g. from AssumeRole) replace the credential chain.
    `timestamp_parser` replaces botocore's (dateutil, a fifth of a listing's client CPU).
    """
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    from .botomodels import SlimLoader

    core = botocore.session.Session(profile=connection.profile,
                                    session_vars=_session_vars(retry_mode, max_attempts))
    model_cache = Path(connection.model_cache) if connection.model_cache else None
    try:
        data_path = core.get_config_variable("data_path")
    except ProfileNotFound as e:
        raise _no_profile(connection) from e
    core.register_component("data_loader", SlimLoader(model_cache, data_path))
    if credentials is not None:
        core.set_credentials(credentials.access_key_id, credentials.secret_access_key,
                             credentials.session_token)
    if timestamp_parser is not None:
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=timestamp_parser)
    return CoreSession(core)


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    """Explicit (usually temporary) credentials for a session; secrets are kept out of repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _session_vars(retry_mode: str, max_attempts: int | None) -> dict[str, Any]:
    """botocore session variables with our defaults; the environment and config still win."""
    # (config name, environment variable, default, type): `standard` instead of botocore's
    # `legacy` retries; AWS_RETRY_MODE / `retry_mode` in the config file still win over it.
    variables: dict[str, Any] = {
        "retry_mode": ("retry_mode", "AWS_RETRY_MODE", retry_mode, None)}
    if max_attempts is not None:
        variables["max_attempts"] = ("max_attempts", "AWS_MAX_ATTEMPTS", max_attempts, int)
    return variables


def _no_profile(connection: Connection) -> InputError:
    """The input error for a profile botocore cannot find."""
    return InputError("profile", f"profile {connection.profile!r} is not in the AWS config")


def observe(session: Session, event: str,
            handler: Callable[..., Any]) -> Callable[[], None] | None:
    """Call `handler` on `event` in every client made from `session` from now on; returns
    what stops that for clients made later (None: a session without botocore events)."""
    emitter = getattr(session, "events", None)
    if emitter is None:
        return None
    emitter.register(event, handler)
    return lambda: emitter.unregister(event, handler)


def default_region(session: Session, connection: Connection) -> str:
    """The region to use when none is given: option, then profile/environment, then us-east-1."""
    from botocore.exceptions import ProfileNotFound

    if connection.region:
        return connection.region
    try:
        return session.region_name or DEFAULT_REGION
    except ProfileNotFound as e:
        raise _no_profile(connection) from e


@functools.cache
def partitions() -> tuple[Partition, ...]:
    """Every partition in botocore's partitions.json, without the pseudo `*-global` regions."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("partitions")
    return tuple(
        Partition(
            name=p["id"],
            regions=tuple(r for r in p["regions"] if not r.endswith("-global")),
            global_region=p["outputs"].get("implicitGlobalRegion", ""),
        )
        for p in data["partitions"]
    )


def partition_of(region: str, *, name: str = "regions") -> Partition:
    """The partition a known region belongs to; an unknown region is an input error."""
    for partition in partitions():
        if region in partition.regions:
            return partition
    raise InputError(name, f"unknown region {region!r} (not in any partition botocore knows)")


def known_region(value: str | None, *, name: str = "region") -> str | None:
    """A `--region` option: shaped like a region and in a partition botocore knows, or None.

    The region picks the endpoint (SES is regional): one botocore does not know would make up
    a host name.
    """
    checked = params.region(value, name=name)
    if checked is not None:
        partition_of(checked, name=name)
    return checked


def plan_calls(spec: RegionSpec | None, default: str) -> tuple[PartitionCall, ...]:
    """Group regions by partition: IAM is global within a partition, so one call per partition.

    See the IAM User Guide, "Resilience in AWS Identity and Access Management": IAM's control
    plane is in one region per partition, and every regional endpoint name resolves to it.
    """
    if spec is None:
        names: tuple[str, ...] = (default,)
    elif spec.all:
        names = partition_of(default).regions
    else:
        names = spec.names
    grouped: dict[str, list[str]] = {}
    for name in names:
        grouped.setdefault(partition_of(name).name, []).append(name)
    return tuple(
        PartitionCall(partition=p, region=regions[0], requested=tuple(regions))
        for p, regions in grouped.items()
    )


def client(session: Session, service: str, region: str, connection: Connection, *,
           attempts: int | None = None) -> Any:
    """A botocore client for `service` in `region`, with the connection's endpoint and timeouts.

    `attempts` fixes botocore's total attempts per request over any environment or config
    setting: 1 for writes, which botocore must never send twice on its own (see `uncertain`).
    """
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    config = Config(
        connect_timeout=connection.connect_timeout,
        read_timeout=connection.read_timeout,
        max_pool_connections=connection.max_pool_connections,
        user_agent_extra=USER_AGENT,
        retries=None if attempts is None else {"total_max_attempts": attempts,
                                               "mode": "standard"},
    )
    try:
        made = session.client(
            service, region_name=region, endpoint_url=connection.endpoint_url, config=config
        )
    except ProfileNotFound as e:
        raise _no_profile(connection) from e
    _mask_credentials(session)
    redact.watch_client(made)
    return made


def _mask_credentials(session: Session) -> None:
    """Register the secret key and session token the client signs with (before it logs them).

    botocore's debug log prints each request's headers, the session token among them.
    """
    with translated():
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    if frozen is not None:
        redact.add_secret(frozen.secret_key)
        redact.add_secret(frozen.token)


def frozen_credentials(session: Session) -> Any:
    """The session's credentials, resolved once; their secret parts are registered for redaction."""
    with translated():
        credentials = session.get_credentials()
        if credentials is None:
            raise AwsError("NoCredentials", "Unable to locate AWS credentials")
        frozen = credentials.get_frozen_credentials()
    redact.add_secret(frozen.secret_key)
    redact.add_secret(frozen.token)
    return frozen


def require_long_term_credentials(session: Session, parameter: str) -> None:
    """IAM infers the user only from a user's own key; temporary credentials are refused early.

    AWS answers "Must specify userName when calling with non-User credentials" for role, SSO and
    federated sessions; we say so before sending anything.
    """
    if frozen_credentials(session).token:
        raise InputError(
            parameter,
            "required with temporary credentials (a session token: role, SSO, federation); "
            "IAM infers the user only from a user's own access key",
        )


@contextmanager
def translated() -> Iterator[None]:
    """Turn botocore exceptions into AwsError, keeping AWS's error code."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as e:
        error = e.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or e)
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise AwsError(code, message, status=status if isinstance(status, int) else None) from e
    except BotoCoreError as e:
        raise AwsError(type(e).__name__, redact.text(str(e))) from e
    except ResponseParserError as e:  # not a BotoCoreError
        raise AwsError(PARSE_ERROR, _unparsable(e)) from e


def _unparsable(error: Exception) -> str:
    """botocore's parse failure without the body it appends (data, possibly credentials)."""
    first = str(error).split("\n", 1)[0]
    return redact.text(first.split(" Further retries may succeed", 1)[0].rstrip(" .:"))


def read(call: Callable[[], T]) -> T:
    """A read-only `call`, AWS errors translated; a response that cannot be read is asked again.

    botocore parses a response after its retry loop, so a body cut short or garbled in transit
    (ResponseParserError) is never retried by it. For a call without side effects, asking again
    is as safe as botocore's own retry of a dropped connection, so we do, twice; then the
    error is reported by its name. Calls with side effects (SES SendEmail) never come here.
    """
    for _ in range(READ_ATTEMPTS - 1):
        try:
            with translated():
                return call()
        except AwsError as e:
            if e.code not in UNREADABLE:
                raise
    with translated():
        return call()


# botocore's errors for a request whose answer never arrived, or arrived cut: the connection
# dropped, timed out or could not be made. botocore's standard mode retries every one of them,
# like 500-504 answers ("Retries", boto3 guide: https://boto3.amazonaws.com/v1/documentation/
# api/latest/guide/retries.html), which is right for a read and wrong for a write.
NO_ANSWER = frozenset({
    "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError", "ConnectionError",
    "EndpointConnectionError", "ProxyConnectionError", "HTTPClientError",
})


def uncertain(error: AwsError) -> bool:
    """Whether a write that failed this way may still have been applied by AWS.

    No answer, an answer that could not be read, or a 5xx: the server may have made the
    change before the failure. Such a write is re-read, never sent again blindly; a 4xx
    (throttling, access denied, no such entity) says the change was not made.
    """
    return (error.code in NO_ANSWER or error.code in UNREADABLE
            or (error.status is not None and error.status >= 500))


RawSink = Callable[[bytes], None]


def capture_raw(client_: Any, operation: str, sink: RawSink) -> None:
    """Send each successful response body of `operation` to `sink`, byte for byte."""

    def on_after_call(http_response: Any, **_: Any) -> None:
        sink(http_response.content)

    client_.meta.events.register(f"after-call.{client_.meta.service_model.service_id.hyphenize()}."
                                 f"{operation}", on_after_call)
