"""The "IAM List Access Keys" action: one user's keys, per partition, with IAM's pagination."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import aws, params, wire
from .errors import AwsError
from .model import AccessKey, Listing, Page

# A guard against a server that keeps answering IsTruncated with markers that never end: IAM
# allows at most 2 keys per user, so 10,000 pages means the pagination is broken.
MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class ListRequest:
    """Validated parameters of the action."""

    user_name: str | None = None
    marker: str | None = None
    max_items: int | None = None
    regions: params.RegionSpec | None = None
    raw_xml: bool = False
    all_pages: bool = False

    @classmethod
    def build(cls, *, user_name: str | None = None, marker: str | None = None,
              max_items: int | str | None = None, regions: Any = None, raw_xml: bool = False,
              all_pages: bool = False) -> ListRequest:
        """Validate raw values (CLI options, workflow parameters) into a request."""
        return cls(
            user_name=params.user_name(user_name),
            marker=params.marker(marker),
            max_items=params.max_items(max_items),
            regions=params.regions(regions),
            raw_xml=bool(raw_xml),
            all_pages=bool(all_pages),
        )


PlanHook = Callable[[tuple[aws.PartitionCall, ...]], None]


def list_access_keys(
    *,
    user_name: str | None = None,
    marker: str | None = None,
    max_items: int | str | None = None,
    regions: Any = None,
    raw_xml: bool = False,
    all_pages: bool = False,
    connection: aws.Connection | None = None,
    session: aws.Session | None = None,
    on_plan: PlanHook | None = None,
) -> tuple[Listing, ...]:
    """List a user's access keys (the caller's own when `user_name` is None), per partition."""
    request = ListRequest.build(user_name=user_name, marker=marker, max_items=max_items,
                                regions=regions, raw_xml=raw_xml, all_pages=all_pages)
    return run(request, connection=connection or aws.Connection(), session=session,
               on_plan=on_plan)


def run(request: ListRequest, *, connection: aws.Connection,
        session: aws.Session | None = None, on_plan: PlanHook | None = None
        ) -> tuple[Listing, ...]:
    """Run a validated request: plan one call per partition, check credentials, then call IAM."""
    session = session or aws.make_session(connection)
    calls = aws.plan_calls(request.regions, aws.default_region(session, connection))
    if request.user_name is None:
        aws.require_long_term_credentials(session, "user_name")
    if on_plan is not None:
        on_plan(calls)
    return tuple(_list_partition(request, call, session, connection) for call in calls)


def _list_partition(request: ListRequest, call: aws.PartitionCall, session: aws.Session,
                    connection: aws.Connection) -> Listing:
    """Call IAM in one partition: one page, or every page when `all_pages`."""
    iam = aws.client(session, "iam", call.region, connection)
    bodies: list[bytes] = []
    raw: list[bytes] = []
    if request.raw_xml:
        aws.capture_raw(iam, "ListAccessKeys", bodies.append)
    keys: list[AccessKey] = []
    marker, seen, pages = request.marker, set(), 0
    while True:
        try:
            page = _one_page(iam, request, marker)
        except AwsError as e:
            raise _located(e, request, pages + 1) from e
        pages += 1
        keys.extend(page.keys)
        raw.extend(bodies[-1:])  # the body of the answer read, not of one asked again
        bodies.clear()
        if not (request.all_pages and page.is_truncated):
            return Listing(partition=call.partition, regions=call.requested, keys=tuple(keys),
                           is_truncated=page.is_truncated, marker=page.marker,
                           raw_pages=tuple(raw), pages=pages)
        if page.marker in seen or pages >= MAX_PAGES:
            raise AwsError("InvalidResponse", f"IAM returned marker {page.marker!r} twice; "
                                              "pagination would never end")
        seen.add(page.marker)
        marker = page.marker


def _one_page(iam: Any, request: ListRequest, marker: str | None) -> Page:
    """One ListAccessKeys call."""
    kwargs: dict[str, Any] = {}
    if request.user_name is not None:
        kwargs["UserName"] = request.user_name
    if marker is not None:
        kwargs["Marker"] = marker
    if request.max_items is not None:
        kwargs["MaxItems"] = request.max_items
    return aws.read(lambda: wire.page(iam.list_access_keys(**kwargs), request.user_name))


def _located(error: AwsError, request: ListRequest, page: int) -> AwsError:
    """The error naming whose keys were not listed, and at which page."""
    who = f"user {request.user_name}" if request.user_name else "the signing user"
    return AwsError(error.code, f"{error.message} [ListAccessKeys, {who}, page {page}]")
