"""The one reader of iamkeys JSON documents: bytes or parsed JSON back into domain objects.

Every command that takes a saved result (send-email, the report, workflows, the Lambda handler)
reads it here, and nowhere else. The shapes, each written by `serialize.py`:

    List Access Keys result     {"AccessKeyMetadata": [...], "IsTruncated": ..., "Marker"?}
    several partitions          {"aws": <List Access Keys result>, "aws-cn": ...}
    inventory                   {"Keys": [...], "Errors": [...], "AccountFindings": [...],
                                 "Summary": {...}, "Changes"?: {...}}
    remediation plan            {"Actions": [...], "Skipped": [...], "Summary": {...},
                                 "Applied": ...}   (read by `plan` only)

A document that is none of these is an InputError on `input` that names the member at fault,
e.g. "not an iamkeys result: Keys[3].CreateDate must be an ISO 8601 timestamp".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from . import params
from .errors import InputError
from .model import (
    ACTIONS,
    DONE,
    FAILED,
    SKIPPED,
    AccessKey,
    AccountFinding,
    AccountScan,
    CarriedOver,
    Changes,
    DeletedDuringRun,
    Delivery,
    Finding,
    FindingChange,
    Inventory,
    InventoryError,
    InventoryKey,
    KeyAction,
    KeyChange,
    LastUsed,
    Listing,
    RemediationPlan,
    RemediationPolicy,
    SkippedKey,
    StatusChange,
    Thresholds,
)

MAX_INPUT_BYTES = 20 * 1024 * 1024
# An inventory read as a baseline (or by diff, securityhub-import): ~0.7 KB a key, so room for
# an organization of 300,000 keys.
MAX_INVENTORY_BYTES = 256 * 1024 * 1024
# An iamkeys result nests 5 levels; a deeper document (a Lambda event, a library call) would
# exhaust the stack when serialized again (the email's JSON attachment).
MAX_NESTING = 32
_PARTITION_RE = re.compile(r"[a-z][a-z0-9-]{0,31}")

Listings = tuple[Listing, ...]
Document = Listings | Inventory


def read_input(stream: IO[bytes], *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """At most `limit` bytes from `stream`; more is an input error, not a truncated result."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError("input", f"larger than {limit // (1024 * 1024)} MiB ({limit} bytes); "
                                  "send a smaller result (e.g. filter by user or account)")
    return data


def read_file(path: str, *, parameter: str, limit: int = MAX_INVENTORY_BYTES) -> bytes:
    """The bytes of the file `path` (at most `limit`); a file that cannot be read is an input
    error on `parameter`."""
    from pathlib import Path

    try:
        with Path(path).open("rb") as file:
            data = file.read(limit + 1)
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError(parameter, f"cannot read {path!r}: {reason}") from e
    if len(data) > limit:
        raise InputError(parameter, f"{path!r} is larger than {limit // (1024 * 1024)} MiB")
    return data


def load_json(data: bytes) -> Any:
    """The JSON value in `data`; a syntax error names its line and column."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise InputError("input", f"invalid JSON at line {e.lineno} column {e.colno}: "
                                  f"{e.msg}") from e
    except UnicodeDecodeError as e:
        raise InputError("input", f"not UTF-8 text (byte {e.start})") from e
    except RecursionError as e:
        raise InputError("input", "JSON nested too deeply") from e


def read(data: bytes) -> Document:
    """The document in `data`: JSON text of any iamkeys result."""
    return parse(load_json(data))


def parse(document: Any) -> Document:
    """Any iamkeys result, parsed JSON, as domain objects: listings (one per partition) or an
    inventory."""
    _check_shape(document)
    if "AccessKeyMetadata" in document:
        return (_listing(_Members(document, ""), ""),)
    if "Keys" in document and "Summary" in document:
        return _inventory(_Members(document, ""))
    if document and all(isinstance(v, Mapping) and "AccessKeyMetadata" in v
                        for v in document.values()):
        return tuple(_partition(name, value) for name, value in document.items())
    raise _invalid("expected AccessKeyMetadata (list-access-keys), results keyed by "
                   "partition, or Keys/Errors/Summary (inventory)")


def inventory(document: Any) -> Inventory:
    """An inventory document (what `iamkeys inventory` prints); any other result is refused."""
    parsed = parse(document)
    if not isinstance(parsed, Inventory):
        raise _invalid("expected an inventory (Keys, Errors, Summary), got a List Access Keys "
                       "result")
    return parsed


def delivery(document: Any) -> Delivery:
    """What email.send reports (serialize.delivery): the transport, the server's answer, and
    what was sent."""
    _check_shape(document)
    sent = _Members(document, "")
    return Delivery(transport=sent.text("Transport"), message_id=sent.text("MessageId"),
                    recipients=tuple(_texts(sent, "Recipients")), subject=sent.text("Subject"),
                    detail=sent.text("Detail"), attachments=tuple(_texts(sent, "Attachments")))


def _texts(parent: _Members, name: str, *, default: list[Any] | None = None) -> list[str]:
    """An array of strings (missing is `default`; required when None)."""
    values = parent.array(name, default=default)
    if not all(isinstance(value, str) for value in values):
        raise _invalid(f"{parent.where(name)} must hold strings")
    return values


def saved_inventory(data: bytes, *, parameter: str, where: str) -> Inventory:
    """A saved inventory (a --baseline file, the --state, diff's arguments); anything else is an
    input error on `parameter`, naming `where`."""
    try:
        document = load_json(data)
        if not isinstance(document, Mapping):
            raise _invalid(f"expected a JSON object, got {_json_type(document)}")
        # Not walked for its depth (_check_shape): a saved inventory is only read into domain
        # objects, never serialized again, and what is read is its known, shallow members.
        if "Keys" in document and "Summary" in document:
            return _inventory(_Members(document, ""))
        return inventory(document)
    except InputError as e:
        raise InputError(parameter, f"{where}: {e.rule}") from e


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _check_shape(document: Any) -> None:
    """An object, nested no deeper than MAX_NESTING (walked without recursion).

    Only containers are walked, and JSON's own types are told apart by `type` before the
    slower abstract checks: a 20,000-key inventory has 600,000 values.
    """
    if not isinstance(document, Mapping):
        raise _invalid(f"expected a JSON object, got {_json_type(document)}")
    stack: list[tuple[Any, int]] = [(document, 1)]
    scalars = _SCALARS
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _invalid(f"nested deeper than {MAX_NESTING} levels")
        children = value.values() if isinstance(value, Mapping) else value
        for child in children:
            kind = type(child)
            if kind is dict or kind is list or (kind not in scalars and isinstance(
                    child, Mapping | list | tuple)):
                stack.append((child, depth + 1))


# --- List Access Keys results


def _partition(name: str, value: Any) -> Listing:
    """One member of a result keyed by partition name."""
    if not _PARTITION_RE.fullmatch(name):
        raise _invalid(f"{name!r} is not a partition name")
    return _listing(_Members(value, name), name)


def _listing(result: _Members, partition: str) -> Listing:
    """One List Access Keys result."""
    keys = tuple(_access_key(member) for member in result.objects("AccessKeyMetadata"))
    truncated = result.boolean("IsTruncated", default=False)
    return Listing(partition=partition, regions=(), keys=keys, is_truncated=truncated,
                   marker=result.optional_text("Marker") if truncated else None)


def _access_key(item: _Members) -> AccessKey:
    """One AccessKeyMetadata member; UserName may be missing (an implicit-user listing)."""
    return AccessKey(user_name=item.optional_text("UserName") or "",
                     access_key_id=item.text("AccessKeyId"), status=item.text("Status"),
                     create_date=item.time("CreateDate"))


# --- inventories


def _inventory(document: _Members) -> Inventory:
    """The inventory document; the Summary's own counts are derived again from its parts."""
    summary = document.object("Summary")
    records = document.array("Keys")
    errors = tuple(_error(item) for item in document.objects("Errors", default=[]))
    checked = summary.boolean("LastUsedChecked", default=True)
    failed = {e.access_key_id for e in errors if e.operation == "GetAccessKeyLastUsed"}
    fast = _FastKeys(checked, failed)
    keys = tuple(fast.key(record) or _inventory_key(_Members(record, f"Keys[{i}]"), checked,
                                                    failed)
                 for i, record in enumerate(records))
    limits = summary.object("Thresholds")
    owner_tags = summary.array("OwnerTags", default=[])
    if not all(isinstance(tag, str) for tag in owner_tags):
        raise _invalid(f"{summary.where('OwnerTags')} must hold tag keys")
    return Inventory(
        keys=keys,
        errors=errors,
        deleted=tuple(_deleted(item) for item in summary.objects("DeletedDuringRun", default=[])),
        accounts=tuple(_scan(item) for item in summary.objects("ByAccount", default=[])),
        account_findings=tuple(
            AccountFinding(item.text("AccountId"), _finding(item))
            for item in document.objects("AccountFindings", default=[])),
        generated_at=summary.time("GeneratedAt"),
        thresholds=Thresholds(max_key_age=limits.count("MaxKeyAge"),
                              max_unused=limits.count("MaxUnused"),
                              max_inactive=limits.count("MaxInactive")),
        last_used_checked=checked,
        owner_tags=tuple(owner_tags),
        changes=_changes(document.object("Changes")) if "Changes" in document.members else None,
    )


def _inventory_key(item: _Members, checked: bool, failed: set[str | None]) -> InventoryKey:
    """One Keys member; last use is unknown when not looked up or when the lookup failed."""
    key_id = item.text("AccessKeyId")
    item.optional_count("AgeDays")  # derived from CreateDate; checked, not trusted
    last = None
    if checked and key_id not in failed:
        last = LastUsed(date=item.optional_time("LastUsedDate"),
                        service=item.optional_text("LastUsedService"),
                        region=item.optional_text("LastUsedRegion"))
    return InventoryKey(
        account_id=item.text("AccountId"), user_name=item.text("UserName"),
        user_create_date=item.time("UserCreateDate"), access_key_id=key_id,
        status=item.text("Status"), create_date=item.time("CreateDate"),
        last_used=last, findings=_findings(item), owner=item.optional_text("Owner"),
        owner_problem=item.optional_text("OwnerProblem"), carried_over=_carried(item))


class _FastKeys:
    """Keys members read straight from their dictionaries, for large inventories.

    The same rules as `_inventory_key` (which reads each member through `_Members`, ~4 times
    slower); anything unusual (a wrong type, a CarriedOver mark) returns None, and the checked
    reader then reads the record again and names the member at fault.
    """

    __slots__ = ("checked", "failed", "times")

    def __init__(self, checked: bool, failed: set[str | None]) -> None:
        self.checked = checked
        self.failed = failed
        self.times: dict[str, datetime] = {}

    def key(self, m: Any) -> InventoryKey | None:
        """The key in record `m`, or None to leave it to the checked reader."""
        try:
            return self._key(m) if type(m) is dict else None
        except (KeyError, TypeError, ValueError):
            return None

    def _key(self, m: dict[str, Any]) -> InventoryKey | None:
        key_id, account, user, status = (m["AccessKeyId"], m["AccountId"], m["UserName"],
                                         m["Status"])
        age = m.get("AgeDays")
        if (m.get("CarriedOver") is not None or type(key_id) is not str
                or type(account) is not str or type(user) is not str or type(status) is not str
                or age is not None and (type(age) is not int or age < 0)):
            return None
        found = self._findings(m)
        if found is None:
            return None
        last = None
        if self.checked and key_id not in self.failed:
            date, service, region = (m.get("LastUsedDate"), m.get("LastUsedService"),
                                     m.get("LastUsedRegion"))
            if not (service is None or type(service) is str) or not (
                    region is None or type(region) is str):
                return None
            last = LastUsed(None if date is None else self.time(date), service, region)
        owner, problem = m.get("Owner"), m.get("OwnerProblem")
        if not (owner is None or type(owner) is str) or not (
                problem is None or type(problem) is str):
            return None
        return InventoryKey(account_id=account, user_name=user,
                            user_create_date=self.time(m["UserCreateDate"]),
                            access_key_id=key_id, status=status,
                            create_date=self.time(m["CreateDate"]), last_used=last,
                            findings=found, owner=owner, owner_problem=problem)

    def _findings(self, m: dict[str, Any]) -> tuple[Finding, ...] | None:
        rules = m.get("Findings", [])
        if type(rules) is not list:
            return None
        for rule in rules:
            if type(rule) is not str:
                return None
        details = m.get("FindingDetails")
        if details is None:
            return None if "FindingDetails" in m else tuple(Finding(rule, "") for rule in rules)
        if type(details) is not list:
            return None
        found = []
        for d in details:
            rule, reason, since = d["Rule"], d["Reason"], d.get("Since")
            if (type(d) is not dict or d.get("CarriedOver") is not None
                    or type(rule) is not str or type(reason) is not str):
                return None
            found.append(Finding(rule, reason, None if since is None else self.time(since)))
        return tuple(found)

    def time(self, value: Any) -> datetime:
        """A timestamp as `_Members.time` reads it; the same text is parsed once."""
        parsed = self.times.get(value) if type(value) is str else None
        if parsed is None:
            if type(value) is not str:
                raise TypeError(value)
            moment = datetime.fromisoformat(value)
            parsed = moment.replace(tzinfo=UTC) if moment.tzinfo is None else \
                moment.astimezone(UTC)
            self.times[value] = parsed
        return parsed


def _findings(item: _Members) -> tuple[Finding, ...]:
    """FindingDetails (rule and reason), else the bare rule ids of Findings."""
    rules = item.array("Findings", default=[])
    if not all(isinstance(rule, str) for rule in rules):
        raise _invalid(f"{item.where('Findings')} must hold rule ids")
    if "FindingDetails" not in item.members:
        return tuple(Finding(rule, "") for rule in rules)
    return tuple(_finding(detail) for detail in item.objects("FindingDetails"))


def _finding(item: _Members) -> Finding:
    """A finding's rule, reason and, when recorded, since when it has been reported."""
    return Finding(item.text("Rule"), item.text("Reason"), item.optional_time("Since"),
                   carried_over=_carried(item))


def _carried(item: _Members) -> CarriedOver | None:
    """A record's CarriedOver mark (why it is the baseline's, when it was last read), if any."""
    if item.members.get("CarriedOver") is None:
        return None
    mark = item.object("CarriedOver")
    return CarriedOver(reason=mark.text("Reason"), read_at=mark.time("ReadAt"))


def _changes(item: _Members) -> Changes:
    """The Changes member: what changed since the baseline."""
    return Changes(
        baseline_at=item.time("Baseline"),
        new_keys=tuple(_key_change(k) for k in item.objects("NewKeys")),
        removed_keys=tuple(_key_change(k) for k in item.objects("RemovedKeys")),
        status_changed=tuple(
            StatusChange(c.text("AccountId"), c.text("UserName"), c.text("AccessKeyId"),
                         c.text("From"), c.text("To"))
            for c in item.objects("StatusChanged")),
        new_findings=tuple(_finding_change(c) for c in item.objects("NewFindings")),
        resolved_findings=tuple(_finding_change(c) for c in item.objects("ResolvedFindings")),
    )


def _key_change(item: _Members) -> KeyChange:
    """A NewKeys or RemovedKeys member."""
    return KeyChange(item.text("AccountId"), item.text("UserName"), item.text("AccessKeyId"))


def _finding_change(item: _Members) -> FindingChange:
    """A NewFindings or ResolvedFindings member."""
    return FindingChange(item.text("AccountId"), item.optional_text("UserName"),
                         item.optional_text("AccessKeyId"), item.text("Rule"),
                         item.text("Reason"), item.optional_time("Since"))


def _error(item: _Members) -> InventoryError:
    """One Errors member."""
    return InventoryError(
        account_id=item.text("AccountId"), user_name=item.optional_text("UserName"),
        operation=item.text("Operation"), code=item.text("Code"), message=item.text("Message"),
        access_key_id=item.optional_text("AccessKeyId"))


def _deleted(item: _Members) -> DeletedDuringRun:
    """One Summary.DeletedDuringRun member."""
    return DeletedDuringRun(account_id=item.text("AccountId"), user_name=item.text("UserName"),
                            access_key_id=item.optional_text("AccessKeyId"))


def _scan(item: _Members) -> AccountScan:
    """One Summary.ByAccount member."""
    present = item.members.get("RootAccessKeysPresent")
    return AccountScan(account_id=item.text("AccountId"), users=item.count("Users"),
                       root_keys_present=None if present is None else bool(present),
                       listed=item.boolean("Listed", default=True))


# --- remediation plans


def plan(document: Any) -> RemediationPlan:
    """A remediation plan (what `iamkeys remediate` prints, applied or not)."""
    _check_shape(document)
    members = _Members(document, "")
    if "Actions" not in document or "Summary" not in document:
        raise _invalid("expected a plan (Actions, Skipped, Summary, Applied)")
    summary = members.object("Summary")
    policy = summary.object("Policy")
    return RemediationPlan(
        plan_id=summary.checked("PlanId", params.plan_id),
        actions=tuple(_key_action(item) for item in members.objects("Actions")),
        skipped=tuple(_skipped_key(item) for item in members.objects("Skipped", default=[])),
        policy=RemediationPolicy(
            deactivate=tuple(_texts(policy, "Deactivate", default=[])),
            delete_inactive_after=policy.optional_count("DeleteInactiveAfter"),
            grace=policy.optional_count("Grace"),
            exempt_tag=policy.checked("ExemptTag", lambda v, *, name: params.tag_key(
                v, name=name, default="")),
            max_actions=policy.count("MaxActions")),
        generated_at=summary.time("GeneratedAt"),
        caller_arn=summary.text("CallerArn"),
        journal=summary.text("Journal"),
        inventory_generated_at=summary.optional_time("InventoryGeneratedAt"),
        applied=members.boolean("Applied", default=False),
    )


_RESULTS = (DONE, SKIPPED, FAILED)
_STATUSES = ("Active", "Inactive")


def _key_action(item: _Members) -> KeyAction:
    """One Actions member; the key is named exactly as IAM names it."""
    result = item.optional_text("Result")
    if result is not None and result not in _RESULTS:
        raise _invalid(f"{item.where('Result')} must be one of {', '.join(_RESULTS)}")
    return KeyAction(
        account_id=item.checked("AccountId", _account_id),
        user_name=item.checked("UserName", params.user_name),
        access_key_id=item.checked("AccessKeyId", _key_id),
        action=item.choice("Action", ACTIONS), rules=tuple(_texts(item, "Rules", default=[])),
        reason=item.text("Reason"), status=item.choice("Status", _STATUSES),
        last_used=item.optional_time("LastUsedDate"), result=result,
        result_reason=item.optional_text("ResultReason"))


def _skipped_key(item: _Members) -> SkippedKey:
    """One Skipped member."""
    return SkippedKey(account_id=item.text("AccountId"), user_name=item.text("UserName"),
                      access_key_id=item.text("AccessKeyId"), action=item.text("Action"),
                      rules=tuple(_texts(item, "Rules", default=[])), reason=item.text("Reason"))


_ACCOUNT_ID_RE = re.compile(r"[0-9]{12}")
_KEY_ID_RE = re.compile(r"[A-Z0-9]{16,128}")


def _account_id(value: Any, *, name: str) -> str:
    """A 12-digit account id."""
    if not isinstance(value, str) or not _ACCOUNT_ID_RE.fullmatch(value):
        raise InputError(name, "must be a 12-digit account id")
    return value


def _key_id(value: Any, *, name: str) -> str:
    """An access key id as IAM spells them (16-128 of A-Z 0-9)."""
    if not isinstance(value, str) or not _KEY_ID_RE.fullmatch(value):
        raise InputError(name, "must be an access key id (16-128 characters of A-Z 0-9)")
    return value


# --- members, located


class _Members:
    """A JSON object and where it sits in the document, e.g. `Keys[3]`; each accessor checks
    one member's type and names it when it is wrong."""

    __slots__ = ("members", "path")

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _invalid(f"{path or 'the document'} must be an object, got {_json_type(value)}")
        self.members: Mapping[str, Any] = value
        self.path = path

    def where(self, name: str) -> str:
        """The member's place, e.g. `Keys[3].CreateDate`."""
        return f"{self.path}.{name}" if self.path else name

    def object(self, name: str) -> _Members:
        """A required object member."""
        value = self.members.get(name)
        if not isinstance(value, Mapping):
            raise _invalid(f"{self.where(name)} must be an object")
        return _Members(value, self.where(name))

    def array(self, name: str, *, default: list[Any] | None = None) -> list[Any]:
        """An array member; missing is `default` (required when None)."""
        value = self.members.get(name, default)
        if not isinstance(value, list):
            raise _invalid(f"{self.where(name)} must be a list")
        return value

    def objects(self, name: str, *, default: list[Any] | None = None) -> list[_Members]:
        """An array of objects, each located by its index."""
        where = self.where(name)
        return [_Members(item, f"{where}[{i}]")
                for i, item in enumerate(self.array(name, default=default))]

    def text(self, name: str) -> str:
        """A required string member."""
        value = self.members.get(name)
        if not isinstance(value, str):
            raise _invalid(f"{self.where(name)} must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        """A string member that may be missing or null."""
        return None if self.members.get(name) is None else self.text(name)

    def boolean(self, name: str, *, default: bool) -> bool:
        """A true/false member; missing is `default`."""
        value = self.members.get(name, default)
        if not isinstance(value, bool):
            raise _invalid(f"{self.where(name)} must be true or false")
        return value

    def count(self, name: str) -> int:
        """A required non-negative integer member."""
        value = self.members.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid(f"{self.where(name)} must be a non-negative integer")
        return value

    def optional_count(self, name: str) -> int | None:
        """A non-negative integer member that may be missing or null."""
        return None if self.members.get(name) is None else self.count(name)

    def time(self, name: str) -> datetime:
        """An ISO 8601 timestamp member (as iamkeys and the AWS CLI print them), in UTC; a time
        without an offset is UTC."""
        value = self.members.get(name)
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise _invalid(f"{self.where(name)} must be an ISO 8601 timestamp "
                           "like 2016-12-01T22:19:58Z")
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def checked(self, name: str, check: Any) -> Any:
        """A required member passed through a validator `check(value, name)` (a params rule)."""
        value = self.members.get(name)
        if value is None:
            raise _invalid(f"{self.where(name)} is required")
        try:
            return check(value, name=self.where(name))
        except InputError as e:
            raise _invalid(f"{self.where(name)} {e.rule}") from e

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """A string member that is one of `choices`."""
        value = self.text(name)
        if value not in choices:
            raise _invalid(f"{self.where(name)} must be one of {', '.join(choices)}")
        return value

    def optional_time(self, name: str) -> datetime | None:
        """A timestamp member that may be missing or null (a key never used)."""
        return None if self.members.get(name) is None else self.time(name)


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _invalid(detail: str) -> InputError:
    """The input error for a document that is not an iamkeys result."""
    return InputError("input", f"not an iamkeys result: {detail}")
