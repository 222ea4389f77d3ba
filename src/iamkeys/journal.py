"""The remediation journal: append-only JSON lines, one event per line, in a file or in S3.

Before each write to a key, an `intent` line; after it, a `done` or `failed` line. Each line is
on disk (or in S3) before the next step: a run killed at any point leaves a journal that, with
a live re-read of the keys, tells what was done (`remediation.verdict`).

    {"Time": "2026-11-29T10:00:00.123456Z", "Event": "intent", "PlanId": "...", "Attempt": "...",
     "AccountId": "123456789012", "UserName": "Alice", "AccessKeyId": "AKIA...",
     "Action": "deactivate", "Rules": ["IAM.22"], "CallerArn": "arn:aws:iam::...",
     "RoleArn": null, "Detail": "IAM.22: active key never used ..."}

- A file (`./iamkeys-journal.jsonl` by default) is opened for appending and locked against a
  second run; each line is written, flushed and fsync'd before the request it announces.
- `s3://BUCKET/PREFIX` keeps one object per line under the prefix (see `_S3Journal`).

JSON lines are not an iamkeys document: this module writes them and reads them back itself,
through `parse_line` alone.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from . import aws, params
from .errors import AwsError, IamKeysError, InputError
from .model import ACTIONS, DONE, FAILED, INTENT, JournalEntry

DEFAULT_LOCATION = "./iamkeys-journal.jsonl"
EVENTS = (INTENT, DONE, FAILED)
FIELDS = ("Time", "Event", "PlanId", "Attempt", "AccountId", "UserName", "AccessKeyId",
          "Action", "Rules", "CallerArn", "RoleArn", "Detail")
MAX_LINE = 64 * 1024
# The objects of an S3 journal: <prefix><time>-<plan id>-<attempt>-<event>.json, so that
# listing them in key order lists them in the order they were written.
_S3_NAME_RE = re.compile(r"[0-9]{8}T[0-9]{12}Z-[A-Za-z0-9-]{1,64}-[0-9a-f]{1,32}-"
                         r"(intent|done|failed)\.json")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_READERS = 8


class Writer(Protocol):
    """Where journal lines go; `append` returns once the line is durable."""

    location: str

    def append(self, entry: JournalEntry) -> None: ...


# --- one line, both ways -------------------------------------------------------------------


def line(entry: JournalEntry) -> bytes:
    """One journal line, newline included; ASCII only, so nothing in it can break the line."""
    record = {
        "Time": _time(entry.time), "Event": entry.event, "PlanId": entry.plan_id,
        "Attempt": entry.attempt, "AccountId": entry.account_id, "UserName": entry.user_name,
        "AccessKeyId": entry.access_key_id, "Action": entry.action, "Rules": list(entry.rules),
        "CallerArn": entry.caller_arn, "RoleArn": entry.role_arn, "Detail": entry.detail,
    }
    return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def parse_line(text: str, where: str) -> JournalEntry:
    """A journal line back into an entry; anything else is an input error naming `where`."""
    try:
        record = json.loads(text)
    except ValueError as e:
        raise _bad(where, "not a JSON line") from e
    if not isinstance(record, dict):
        raise _bad(where, "not a JSON object")

    def text_of(name: str, *, optional: bool = False) -> Any:
        value = record.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise _bad(where, f"{name} must be a non-empty string")
        return value

    event = text_of("Event")
    if event not in EVENTS:
        raise _bad(where, f"Event must be one of {', '.join(EVENTS)}")
    action = text_of("Action")
    if action not in ACTIONS:
        raise _bad(where, f"Action must be one of {', '.join(ACTIONS)}")
    account = text_of("AccountId")
    if not _ACCOUNT_RE.fullmatch(account):
        raise _bad(where, "AccountId must be 12 digits")
    rules = record.get("Rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise _bad(where, "Rules must be a list of rule ids")
    try:
        moment = datetime.fromisoformat(text_of("Time"))
    except ValueError as e:
        raise _bad(where, "Time must be an ISO 8601 timestamp") from e
    return JournalEntry(
        time=moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC),
        event=event, plan_id=text_of("PlanId"), attempt=text_of("Attempt"),
        account_id=account, user_name=text_of("UserName"),
        access_key_id=text_of("AccessKeyId"), action=action, rules=tuple(rules),
        caller_arn=text_of("CallerArn"), role_arn=text_of("RoleArn", optional=True),
        detail=text_of("Detail", optional=True))


def _time(moment: datetime) -> str:
    """UTC with microseconds: lines of one run sort in the order they were written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bad(where: str, rule: str) -> InputError:
    """The input error for a journal line that is not one."""
    return InputError("journal", f"{where}: not an iamkeys journal line: {rule}")


# --- reading -------------------------------------------------------------------------------


def read(location: str, *, session: aws.Session, connection: aws.Connection,
         required: bool = False) -> tuple[JournalEntry, ...]:
    """Every entry of the journal, in the order written; none for a journal not yet started
    (an input error when `required`)."""
    bucket = _s3(location)
    if bucket is not None:
        return _S3Journal(*bucket, session=session, connection=connection).entries(required)
    return _read_file(location, required)


def _read_file(location: str, required: bool) -> tuple[JournalEntry, ...]:
    """A journal file's entries; a last line cut short (its write never completed) is left out:
    no request was ever sent on its strength."""
    try:
        data = Path(location).read_bytes()
    except FileNotFoundError as e:
        if required:
            raise InputError("journal", f"no journal at {location!r}") from e
        return ()
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError("journal", f"cannot read {location!r}: {reason}") from e
    complete, _, _torn = data.rpartition(b"\n")
    lines = complete.split(b"\n") if complete else []
    return tuple(parse_line(_decoded(raw, f"{location} line {n}"), f"{location} line {n}")
                 for n, raw in enumerate(lines, 1) if raw.strip())


def _decoded(raw: bytes, where: str) -> str:
    """A line's text: ASCII JSON, at most MAX_LINE bytes."""
    if len(raw) > MAX_LINE:
        raise _bad(where, f"longer than {MAX_LINE} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(where, "not UTF-8 text") from e


# --- writing -------------------------------------------------------------------------------


@contextmanager
def opened(location: str, *, session: aws.Session,
           connection: aws.Connection) -> Iterator[Writer]:
    """The journal, open for appending until the block ends."""
    bucket = _s3(location)
    if bucket is not None:
        yield _S3Journal(*bucket, session=session, connection=connection)
        return
    journal = _FileJournal(location)
    try:
        yield journal
    finally:
        journal.close()


class _FileJournal:
    """A local journal file: O_APPEND, one write per line, fsync before returning.

    Locked (flock) while open, so that two runs never act on one journal at once. A tail left
    by a write that never completed (a crash mid-line) is cut before appending, so that every
    line stays whole.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        path = Path(location)
        self._lock = threading.Lock()
        created = not path.exists()
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as e:
            raise IamKeysError(f"cannot open the journal {self.location!r}: "
                               f"{e.strerror}") from e
        try:
            self._take_lock()
            self._cut_torn_tail()
            if created:  # the new file's directory entry must survive a crash too
                _fsync_directory(path.parent)
        except BaseException:
            os.close(self._fd)
            raise

    def _take_lock(self) -> None:
        """An exclusive lock, or an error when another run holds it."""
        import fcntl

        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise IamKeysError(f"the journal {self.location!r} is in use by another iamkeys "
                               "run; wait for it to end") from e

    def _cut_torn_tail(self) -> None:
        """Truncate after the last newline when the file does not end with one."""
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        keep = size
        while keep > 0:
            start = max(0, keep - 65536)
            chunk = os.pread(self._fd, keep - start, start)
            index = chunk.rfind(b"\n")
            if index >= 0:
                keep = start + index + 1
                break
            keep = start
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)

    def append(self, entry: JournalEntry) -> None:
        """Write one line and wait until it is on disk."""
        data = line(entry)
        with self._lock:
            try:
                written = 0
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                os.fsync(self._fd)
            except OSError as e:
                raise IamKeysError(f"cannot write the journal {self.location!r}: "
                                   f"{e.strerror}") from e

    def close(self) -> None:
        """Release the lock and the file."""
        os.close(self._fd)


def _fsync_directory(directory: Path) -> None:
    """Make a directory's entries durable (a newly created file's name)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _S3Journal:
    """A journal under an S3 prefix: one object per line, each written once, never changed.

    S3 has no append (outside S3 Express One Zone directory buckets). Rewriting one object per
    line added would be a read-modify-write: two writers (or a retried request) could each
    overwrite the other's line unless every write were made conditional with If-Match and
    retried on conflict, and each write would grow with the journal. One object per line keeps
    each write small and independent: the name (time, plan, attempt, event) is unique, and
    PutObject with If-None-Match: * never replaces an object, so no line is ever lost or
    changed. A retried PutObject whose first try landed gets 412 PreconditionFailed; the object
    is then read back and must hold the same bytes. Listing is strongly consistent, so a line
    written is a line read (S3 consistency model:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel).
    """

    def __init__(self, bucket: str, prefix: str, *, session: aws.Session,
                 connection: aws.Connection) -> None:
        self.location = f"{params.S3_SCHEME}{bucket}/{prefix}"
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = aws.client(session, "s3", aws.default_region(session, connection),
                              connection)

    def append(self, entry: JournalEntry) -> None:
        """Put the line's object; it is durable once S3 answers."""
        name = (f"{self.prefix}{entry.time.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{entry.plan_id}-"
                f"{entry.attempt}-{entry.event}.json")
        data = line(entry)
        try:
            with aws.translated():
                self._s3.put_object(Bucket=self.bucket, Key=name, Body=data, IfNoneMatch="*",
                                    ContentType="application/x-ndjson")
        except AwsError as e:
            if e.code != "PreconditionFailed" or self._object(name) != data:
                raise AwsError(e.code, f"{e.message} [journal {self.location}, PutObject "
                                       f"{name}]", status=e.status) from e

    def entries(self, required: bool) -> tuple[JournalEntry, ...]:
        """Every line, in the order written (object names sort by time)."""
        names = sorted(self._names())
        if not names and required:
            raise InputError("journal", f"no journal lines under {self.location}")
        with ThreadPoolExecutor(_READERS, thread_name_prefix="iamkeys-journal") as pool:
            bodies = list(pool.map(self._object, names))
        return tuple(parse_line(_decoded(body.rstrip(b"\n"), f"{self.location} {name}"),
                                f"{self.location} {name}")
                     for name, body in zip(names, bodies, strict=True))

    def _names(self) -> list[str]:
        """The journal's object names (other objects under the prefix are not its lines)."""
        def every_page() -> list[str]:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/")
            return [item["Key"] for page in pages for item in page.get("Contents", [])]

        try:
            found = aws.read(every_page)
        except AwsError as e:
            raise AwsError(e.code, f"{e.message} [journal {self.location}, ListObjectsV2]",
                           status=e.status) from e
        return [name for name in found if _S3_NAME_RE.fullmatch(name[len(self.prefix):])]

    def _object(self, name: str) -> bytes:
        """One object's bytes."""
        def get() -> bytes:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=name)["Body"].read()
            return body

        try:
            return aws.read(get)
        except AwsError as e:
            raise AwsError(e.code, f"{e.message} [journal {self.location}, GetObject {name}]",
                           status=e.status) from e


def _s3(location: str) -> tuple[str, str] | None:
    """(bucket, prefix ending in / or empty) of an s3:// location; None for a file."""
    if not location.startswith(params.S3_SCHEME):
        return None
    bucket, _, prefix = location[len(params.S3_SCHEME):].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix
