"""Reading an iamkeys JSON result back into the rows an email shows.

Three shapes are accepted, each printed by an iamkeys command: the List Access Keys result
(`AccessKeyMetadata`, `IsTruncated`, `Marker`), several of them keyed by partition name
(`--regions` across partitions), and the inventory (`Keys`, `Errors`, `Summary`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from .errors import InputError

MAX_INPUT_BYTES = 20 * 1024 * 1024
# An iamkeys result nests 5 levels; a deeper document (a Lambda event, a library call) would
# exhaust the stack when serialized for the attachment.
MAX_NESTING = 32
OLD_KEY_DAYS = 90  # the usual rotation period (CIS AWS Foundations Benchmark, IAM.3)
_PARTITION_RE = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One access key as the email shows it; inventory-only fields stay empty for a listing."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime
    age_days: int
    partition: str = ""
    account_id: str = ""
    user_create_date: datetime | None = None
    last_used_date: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None
    findings: tuple[str, ...] = ()

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
    """A parsed result: its kind ("listing" or "inventory"), its keys and what it warns about."""

    kind: str
    rows: tuple[KeyRow, ...]
    partitions: tuple[str, ...] = ()
    truncated: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # The inventory's own counts (its Summary), which include users without keys and
    # account-level findings; None for a listing.
    summary_users: int | None = None
    summary_findings: int | None = None

    @property
    def users(self) -> int:
        """Users: the inventory's count, or the distinct users that have a key."""
        if self.summary_users is not None:
            return self.summary_users
        return len({(r.partition, r.account_id, r.user_name) for r in self.rows})

    @property
    def inactive(self) -> int:
        """Keys that are not Active."""
        return sum(not r.active for r in self.rows)

    @property
    def old(self) -> int:
        """Keys older than the rotation period."""
        return sum(r.old for r in self.rows)

    @property
    def findings(self) -> int:
        """Findings (inventory only): the inventory's count, or those on keys."""
        if self.summary_findings is not None:
            return self.summary_findings
        return sum(len(r.findings) for r in self.rows)


def read_input(stream: IO[bytes], *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """At most `limit` bytes from `stream`; more is an input error, not a truncated result."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError("input", f"larger than {limit // (1024 * 1024)} MiB ({limit} bytes); "
                                  "send a smaller result (e.g. filter by user or account)")
    return data


def load_json(data: bytes) -> Any:
    """The JSON document in `data`; a syntax error names its line and column."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise InputError("input", f"invalid JSON at line {e.lineno} column {e.colno}: "
                                  f"{e.msg}") from e
    except UnicodeDecodeError as e:
        raise InputError("input", f"not UTF-8 text (byte {e.start})") from e
    except RecursionError as e:
        raise InputError("input", "JSON nested too deeply") from e


def parse_result(document: Any, *, now: datetime) -> ResultRows:
    """The rows of any iamkeys result; anything else is an input error."""
    if not isinstance(document, Mapping):
        raise _not_result(f"expected a JSON object, got {_json_type(document)}")
    if _nested_deeper(document, MAX_NESTING):
        raise _not_result(f"nested deeper than {MAX_NESTING} levels")
    if "AccessKeyMetadata" in document:
        rows, truncated = _listing(document, "", now)
        return ResultRows(kind="listing", rows=rows, truncated=truncated)
    if "Keys" in document and "Summary" in document:
        return _inventory(document, now)
    if document and all(isinstance(v, Mapping) and "AccessKeyMetadata" in v
                        for v in document.values()):
        return _partitions(document, now)
    raise _not_result("expected AccessKeyMetadata (list-access-keys), results keyed by "
                      "partition, or Keys/Errors/Summary (inventory)")


def _nested_deeper(document: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping | list | tuple):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, Mapping) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def _partitions(document: Mapping[str, Any], now: datetime) -> ResultRows:
    """Several List Access Keys results keyed by partition name."""
    rows: list[KeyRow] = []
    truncated: list[str] = []
    for name, result in document.items():
        if not _PARTITION_RE.fullmatch(name):
            raise _not_result(f"{name!r} is not a partition name")
        more_rows, more_truncated = _listing(result, name, now)
        rows.extend(more_rows)
        truncated.extend(more_truncated)
    return ResultRows(kind="listing", rows=tuple(rows), partitions=tuple(document),
                      truncated=tuple(truncated))


def _listing(result: Mapping[str, Any], partition: str,
             now: datetime) -> tuple[tuple[KeyRow, ...], tuple[str, ...]]:
    """One List Access Keys result: its rows, and a note when it was truncated."""
    where = f"{partition}." if partition else ""
    members = _list(result, "AccessKeyMetadata", where)
    rows = tuple(_listing_row(item, f"{where}AccessKeyMetadata[{i}]", partition, now)
                 for i, item in enumerate(members))
    truncated = result.get("IsTruncated", False)
    if not isinstance(truncated, bool):
        raise _not_result(f"{where}IsTruncated must be true or false")
    if not truncated:
        return rows, ()
    marker = result.get("Marker")
    note = f"{partition or 'result'} truncated: more keys follow Marker {marker!r}"
    return rows, (note,)


def _listing_row(item: Any, where: str, partition: str, now: datetime) -> KeyRow:
    """One AccessKeyMetadata member."""
    record = _object(item, where)
    created = _time(record, "CreateDate", where)
    return KeyRow(
        user_name=_optional_text(record, "UserName", where) or "",
        access_key_id=_text(record, "AccessKeyId", where),
        status=_text(record, "Status", where),
        create_date=created,
        age_days=_age(created, now),
        partition=partition,
    )


def _inventory(document: Mapping[str, Any], now: datetime) -> ResultRows:
    """The inventory result: key records with last use and findings, plus errors."""
    rows = tuple(_inventory_row(item, f"Keys[{i}]", now)
                 for i, item in enumerate(_list(document, "Keys", "")))
    errors = tuple(_error_text(item) for item in _list(document, "Errors", "", default=[]))
    summary = document["Summary"]
    if not isinstance(summary, Mapping):
        raise _not_result("Summary must be an object")
    return ResultRows(kind="inventory", rows=rows, errors=errors,
                      summary_users=_count(summary, "Users"),
                      summary_findings=_count(summary, "Findings"))


def _count(summary: Mapping[str, Any], field: str) -> int | None:
    """A count in the inventory's Summary, when it holds one."""
    value = summary.get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _inventory_row(item: Any, where: str, now: datetime) -> KeyRow:
    """One inventory key record."""
    record = _object(item, where)
    created = _time(record, "CreateDate", where)
    age = record.get("AgeDays")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int)):
        raise _not_result(f"{where}.AgeDays must be an integer")
    return KeyRow(
        user_name=_text(record, "UserName", where),
        access_key_id=_text(record, "AccessKeyId", where),
        status=_text(record, "Status", where),
        create_date=created,
        age_days=_age(created, now) if age is None else age,
        account_id=_optional_text(record, "AccountId", where) or "",
        user_create_date=_optional_time(record, "UserCreateDate", where),
        last_used_date=_optional_time(record, "LastUsedDate", where),
        last_used_service=_optional_text(record, "LastUsedService", where),
        last_used_region=_optional_text(record, "LastUsedRegion", where),
        findings=_findings(record.get("Findings"), f"{where}.Findings"),
    )


def _findings(value: Any, where: str) -> tuple[str, ...]:
    """Rule ids, given as strings or as objects with a `Rule`."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _not_result(f"{where} must be a list")
    rules = [v.get("Rule") if isinstance(v, Mapping) else v for v in value]
    if not all(isinstance(rule, str) for rule in rules):
        raise _not_result(f"{where} must hold rule ids")
    return tuple(str(rule) for rule in rules)


def _error_text(item: Any) -> str:
    """One inventory error as a line of text."""
    if isinstance(item, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in item.items()
                         if isinstance(v, str | int) and not isinstance(v, bool))
    return str(item)


def _object(item: Any, where: str) -> Mapping[str, Any]:
    """A JSON object, or an input error naming where it was expected."""
    if not isinstance(item, Mapping):
        raise _not_result(f"{where} must be an object, got {_json_type(item)}")
    return item


def _list(record: Mapping[str, Any], field: str, where: str,
          default: list[Any] | None = None) -> list[Any]:
    """A JSON array member."""
    value = record.get(field, default)
    if not isinstance(value, list):
        raise _not_result(f"{where}{field} must be a list")
    return value


def _text(record: Mapping[str, Any], field: str, where: str) -> str:
    """A required string member."""
    value = record.get(field)
    if not isinstance(value, str):
        raise _not_result(f"{where}.{field} must be a string")
    return value


def _optional_text(record: Mapping[str, Any], field: str, where: str) -> str | None:
    """A string member that may be missing or null."""
    return None if record.get(field) is None else _text(record, field, where)


def _time(record: Mapping[str, Any], field: str, where: str) -> datetime:
    """An ISO 8601 timestamp member as an aware UTC datetime (naive means UTC)."""
    value = record.get(field)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _not_result(f"{where}.{field} must be an ISO 8601 timestamp")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional_time(record: Mapping[str, Any], field: str, where: str) -> datetime | None:
    """A timestamp member that may be missing or null (a key never used)."""
    return None if record.get(field) is None else _time(record, field, where)


def _age(created: datetime, now: datetime) -> int:
    """Whole days since `created`; never negative (clock skew)."""
    return max(0, (now - created).days)


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _not_result(detail: str) -> InputError:
    """The input error for a document that is not an iamkeys result."""
    return InputError("input", f"not an iamkeys result: {detail}")
