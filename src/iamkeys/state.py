"""Where `inventory --state` keeps the last inventory: an S3 object or a file, written only when
nothing changed it since this run read it.

Two runs that read the same state must not both store theirs: the second would silently drop
the first one's carried-over keys and `Since` dates. So a write is conditional on the version
read (`Snapshot.version`), and the loser gets StateConflictError (exit 1) naming the location.

- S3: GetObject, then PutObject with `If-Match: <the ETag read>`, or `If-None-Match: *` when
  there was no object. S3 answers 412 Precondition Failed when the object changed (or appeared)
  meanwhile, and 409 ConditionalRequestConflict while another conditional write to the same key
  is in flight (retried: it may still fail). See the Amazon S3 User Guide, "How to prevent
  object overwrites with conditional writes":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
- A file: the version is the SHA-256 of the bytes read (none: the file did not exist). The
  write takes an exclusive `flock` on a lock file beside the state (`.<name>.lock`), checks the
  file's current digest against the one read, writes a temporary file in the same directory,
  fsyncs it, renames it over the state and fsyncs the directory. Why this way: the rename makes
  the write atomic (a reader sees the old file or the new one, never half of one); the lock
  makes "check, then rename" one step against another writer (a lock on the state file itself
  would not: the rename replaces its inode, so two writers could hold locks on different
  inodes); a digest of the content is what S3's ETag is for a single-part object, and unlike
  mtime and size it cannot miss a rewrite within the same clock tick or of the same length.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from . import aws, wire
from .errors import AwsError, IamKeysError, StateConflictError
from .model import Snapshot
from .params import StateLocation

CONTENT_TYPE = "application/json"
# S3 codes meaning "the object is not the one this run read".
CHANGED = frozenset({"PreconditionFailed", "NoSuchKey"})
# S3: another conditional write to the key is in flight; asking again settles it.
IN_FLIGHT = "ConditionalRequestConflict"
IN_FLIGHT_ATTEMPTS = 3


def read(location: StateLocation, *, session: aws.Session | None = None,
         connection: aws.Connection | None = None) -> Snapshot:
    """The stored inventory's bytes and version; `data` None when nothing is stored yet."""
    if location.path is not None:
        return _read_file(Path(location.path))
    return _read_object(_s3(session, connection), location)


def write(location: StateLocation, data: bytes, read_before: Snapshot, *,
          session: aws.Session | None = None, connection: aws.Connection | None = None) -> None:
    """Store `data`, if the state is still the version `read_before` holds."""
    if location.path is not None:
        _write_file(Path(location.path), data, read_before, location)
    else:
        _write_object(_s3(session, connection), location, data, read_before)


# --- S3 ------------------------------------------------------------------------------------


def _s3(session: aws.Session | None, connection: aws.Connection | None) -> Any:
    """An S3 client with the run's connection options (--endpoint-url, AWS_ENDPOINT_URL_S3)."""
    connection = connection or aws.Connection()
    session = session or aws.make_session(connection)
    return aws.client(session, "s3", aws.default_region(session, connection), connection)


def _read_object(s3: Any, location: StateLocation) -> Snapshot:
    """GetObject; a missing object is an empty state, anything else an error naming it."""
    try:
        return aws.read(lambda: wire.stored_object(
            s3.get_object(Bucket=location.bucket, Key=location.key)))
    except AwsError as e:
        if e.code in ("NoSuchKey", "404"):
            return Snapshot(data=None, version=None)
        raise AwsError(e.code, f"{e.message} [state {location.text}, GetObject]") from e


def _write_object(s3: Any, location: StateLocation, data: bytes, read_before: Snapshot) -> None:
    """PutObject, conditional on the ETag read (or on there being no object)."""
    condition = ({"IfMatch": read_before.version} if read_before.version is not None
                 else {"IfNoneMatch": "*"})
    for attempt in range(IN_FLIGHT_ATTEMPTS):
        try:
            with aws.translated():
                s3.put_object(Bucket=location.bucket, Key=location.key, Body=data,
                              ContentType=CONTENT_TYPE, **condition)
            return
        except AwsError as e:
            if e.code == IN_FLIGHT and attempt < IN_FLIGHT_ATTEMPTS - 1:
                continue
            if e.code in CHANGED or e.code == IN_FLIGHT:
                if _already_ours(s3, location, data):
                    return
                raise StateConflictError(location.text) from e
            raise AwsError(e.code, f"{e.message} [state {location.text}, PutObject]") from e


def _already_ours(s3: Any, location: StateLocation, data: bytes) -> bool:
    """Whether the object holds exactly `data`: our own write, answered 412 when botocore sent
    it again after a connection dropped before S3's first answer arrived."""
    try:
        return _read_object(s3, location).data == data
    except AwsError:
        return False


# --- a file --------------------------------------------------------------------------------


def _read_file(path: Path) -> Snapshot:
    """The file's bytes and their SHA-256; none yet when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Snapshot(data=None, version=None)
    except OSError as e:
        raise IamKeysError(f"cannot read state {str(path)!r}: {e.strerror}") from e
    return Snapshot(data=data, version=_digest(data))


def _write_file(path: Path, data: bytes, read_before: Snapshot, location: StateLocation) -> None:
    """Under the lock: check the version, then write a temporary file and rename it over."""
    import fcntl

    lock_path = path.with_name(f".{path.name}.lock")
    try:
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise IamKeysError(f"cannot lock state {str(path)!r}: {e.strerror}") from e
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _current_version(path) != read_before.version:
            raise StateConflictError(location.text)
        _replace(path, data)
    finally:
        os.close(lock)  # releases the flock


def _current_version(path: Path) -> str | None:
    """The digest of the file as it is now (None: it does not exist)."""
    return _read_file(path).version


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over, fsync the
    directory: after a crash the state is the old file or the new one, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise IamKeysError(f"cannot write state {str(path)!r}: {e.strerror}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _digest(data: bytes) -> str:
    """The version of a file state: SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()
