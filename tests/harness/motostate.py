"""Direct, in-process edits of moto's IAM backend (fast fixtures and time travel)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from moto.iam.models import (
    LIMIT_KEYS_PER_USER,
    AccessKey,
    AccessKeyLastUsed,
    IAMBackend,
    User,
    iam_backends,
)

from harness import DEFAULT_ACCOUNT_ID
from harness.awsxml import format_date, parse_date, text_el

PARTITION = "aws"
REGION = "us-east-1"
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_KEY_ID_RE = re.compile(r"^[A-Z0-9]{16,128}$")
_STATUSES = ("Active", "Inactive", "Expired")


class ControlError(Exception):
    """A control-API failure carrying the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def backend_for(body: Mapping[str, Any]) -> IAMBackend:
    """The IAM backend of body['account_id'] (default 123456789012)."""
    account_id = body.get("account_id", DEFAULT_ACCOUNT_ID)
    if not isinstance(account_id, str) or not _ACCOUNT_RE.match(account_id):
        raise ControlError(400, f"account_id must be 12 digits, got {account_id!r}")
    backend: IAMBackend = iam_backends[account_id][PARTITION]
    return backend


def reset_all() -> None:
    """Reset every moto backend, exactly like POST /moto-api/reset."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _date(value: Any, field: str) -> Any:
    """Parse an ISO 8601 date or fail with 400."""
    if not isinstance(value, str):
        raise ControlError(400, f"{field} must be an ISO 8601 string")
    try:
        return parse_date(value)
    except ValueError:
        raise ControlError(400, f"{field}: invalid ISO 8601 date {value!r}") from None


def _last_used(value: Any) -> AccessKeyLastUsed | None:
    """Build moto's AccessKeyLastUsed from {"date", "service", "region"} (None clears it)."""
    if value is None:
        return None
    if not isinstance(value, dict) or "date" not in value:
        raise ControlError(400, "last_used must be null or {date, service?, region?}")
    return AccessKeyLastUsed(
        timestamp=_date(value["date"], "last_used.date"),
        service=str(value.get("service", "iam")),
        region=str(value.get("region", REGION)),
    )


def _status(value: Any) -> str:
    """Validate an access key status."""
    if value not in _STATUSES:
        raise ControlError(400, f"status must be one of {_STATUSES}, got {value!r}")
    return str(value)


def _user(backend: IAMBackend, name: Any) -> User:
    """Look a user up or fail with 404."""
    user = backend.users.get(name) if isinstance(name, str) else None
    if user is None:
        raise ControlError(404, f"no user {name!r} in account {backend.account_id}")
    return user


def _find_key(backend: IAMBackend, key_id: Any) -> AccessKey:
    """Find a user's access key by id or fail with 404."""
    if isinstance(key_id, str):
        key = backend.access_keys.get(key_id)
        if key is not None:
            return key
        for user in backend.users.values():
            for candidate in user.access_keys:
                if candidate.access_key_id == key_id:
                    return candidate
    raise ControlError(404, f"no access key {key_id!r} in account {backend.account_id}")


def _key_id_taken(key_id: str) -> bool:
    """Whether any account already has this access key id (ids are globally unique in AWS)."""
    accounts = list(iam_backends.values())
    return any(key_id in account[PARTITION].access_keys for account in accounts)


def _check_new_key_id(key_id: Any) -> str:
    """Validate a caller-chosen access key id."""
    if not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id):
        raise ControlError(400, f"invalid access key id {key_id!r}")
    if _key_id_taken(key_id):
        raise ControlError(409, f"access key id {key_id} already exists")
    return key_id


def patch_user(body: Mapping[str, Any]) -> dict[str, Any]:
    """Edit a user's create_date and/or path."""
    backend = backend_for(body)
    user = _user(backend, body.get("user_name"))
    if "create_date" in body:
        user.create_date = _date(body["create_date"], "create_date")
    if "path" in body:
        path = body["path"]
        if not isinstance(path, str) or not (path.startswith("/") and path.endswith("/")):
            raise ControlError(400, "path must start and end with '/'")
        user.path = path
    return {"user_name": user.name, "arn": user.arn}


def patch_key(body: Mapping[str, Any]) -> dict[str, Any]:
    """Edit an access key's id, create_date, status and/or last-used record."""
    backend = backend_for(body)
    key = _find_key(backend, body.get("access_key_id"))
    # Validate everything before mutating so a bad request changes nothing.
    new_id = _check_new_key_id(body["new_access_key_id"]) if "new_access_key_id" in body else None
    create_date = _date(body["create_date"], "create_date") if "create_date" in body else None
    status = _status(body["status"]) if "status" in body else None
    last_used = _last_used(body["last_used"]) if "last_used" in body else None
    if new_id is not None:
        # IAMBackend.access_keys is keyed by AccessKey.physical_resource_id (the id itself).
        backend.access_keys.pop(key.access_key_id, None)
        key.access_key_id = new_id
        backend.access_keys[key.physical_resource_id] = key
    if create_date is not None:
        key.create_date = create_date
    if status is not None:
        key.status = status
    if "last_used" in body:
        key.last_used = last_used
    return {"access_key_id": key.access_key_id, "user_name": key.user_name, "status": key.status}


def patch_account(body: Mapping[str, Any]) -> dict[str, Any]:
    """Set whether the account's root user has access keys (GetAccountSummary's flag)."""
    backend = backend_for(body)
    present = body.get("root_access_keys")
    if not isinstance(present, bool):
        raise ControlError(400, "root_access_keys must be true or false")
    # moto has no root user: AccountAccessKeysPresent is a constant 0 on its summary object.
    backend.account_summary._account_access_keys_present = int(present)
    return {"account_id": backend.account_id, "root_access_keys": present}


def _add_key(backend: IAMBackend, user: User, spec: Mapping[str, Any]) -> str:
    """Create one access key for user from a bulk-create key spec."""
    status = _status(spec.get("status", "Active"))
    key = user.create_access_key(prefix="AKIA", status=status)
    if "id" in spec:
        try:
            key.access_key_id = _check_new_key_id(spec["id"])
        except ControlError:
            user.access_keys.remove(key)
            raise
    if "create_date" in spec:
        key.create_date = _date(spec["create_date"], "create_date")
    if "last_used" in spec:
        key.last_used = _last_used(spec["last_used"])
    backend.access_keys[key.physical_resource_id] = key
    return key.access_key_id


def _create_one(backend: IAMBackend, spec: Any) -> tuple[str, list[str]]:
    """Create one user (and its keys) from a bulk-create user spec."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ControlError(400, "each user needs a string 'name'")
    name, path = spec["name"], spec.get("path", "/")
    if not isinstance(path, str) or not (path.startswith("/") and path.endswith("/")):
        raise ControlError(400, f"user {name}: path must start and end with '/'")
    keys = spec.get("keys", [])
    if not isinstance(keys, list) or len(keys) > LIMIT_KEYS_PER_USER:
        raise ControlError(400, f"user {name}: at most {LIMIT_KEYS_PER_USER} keys (IAM quota)")
    if name in backend.users:
        raise ControlError(409, f"user {name} already exists")
    create_date = _date(spec["create_date"], "create_date") if "create_date" in spec else None
    tags = spec.get("tags", [])
    if not isinstance(tags, list) or not all(
            isinstance(t, dict) and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value", ""), str) for t in tags):
        raise ControlError(400, f"user {name}: tags must be a list of {{Key, Value}}")
    user = backend.create_user(region_name=REGION, user_name=name, path=path,
                               tags=[{"Key": t["Key"], "Value": t.get("Value", "")}
                                     for t in tags])
    if create_date is not None:
        user.create_date = create_date
    return name, [_add_key(backend, user, k) for k in keys]


def bulk_create(body: Mapping[str, Any]) -> dict[str, Any]:
    """Create many users with keys straight in the backend; returns {user: [key ids]}."""
    backend = backend_for(body)
    users = body.get("users")
    if not isinstance(users, list):
        raise ControlError(400, "users must be a list")
    created: dict[str, list[str]] = {}
    for spec in users:
        name, key_ids = _create_one(backend, spec)
        created[name] = key_ids
    return {"created": len(created), "key_ids": created}


def delete_user(body: Mapping[str, Any]) -> dict[str, Any]:
    """Remove a user with its keys, policies and group memberships (no DeleteConflict)."""
    backend = backend_for(body)
    user = _user(backend, body.get("user_name"))
    key_ids = [k.access_key_id for k in user.access_keys]
    for key_id in key_ids:
        # moto's own DeleteUser leaves keys in backend.access_keys; we don't.
        backend.access_keys.pop(key_id, None)
    user.access_keys.clear()
    user.policies.clear()
    for policy_arn in list(user.managed_policies):
        backend.detach_user_policy(policy_arn, user.name)
    for group in backend.groups.values():
        if user in group.users:
            group.users.remove(user)
    backend.delete_user(user.name)
    return {"user_name": user.name, "deleted_key_ids": key_ids}


def last_used_fast(key_id: str) -> tuple[str, AccessKeyLastUsed | None] | None:
    """O(accounts) lookup of (user name, last used) for a live user key; None if not found."""
    for accounts in list(iam_backends.values()):
        backend = accounts[PARTITION]
        key = backend.access_keys.get(key_id)
        if key is None or key.user_name is None:
            continue
        user = backend.users.get(key.user_name)
        # moto keeps keys of deleted users in access_keys; only keys still attached count.
        if user is not None and any(k is key for k in user.access_keys):
            return key.user_name, key.last_used
    return None


def _user_member(user: User) -> str:
    """A <member> of ListUsers with the fields moto emits."""
    parts = [
        text_el("Path", user.path),
        text_el("UserName", user.name),
        text_el("UserId", user.id),
        text_el("Arn", user.arn),
        text_el("CreateDate", format_date(user.create_date)),
    ]
    if user.password_last_used is not None:
        parts.append(text_el("PasswordLastUsed", format_date(user.password_last_used)))
    return "<member>" + "".join(parts) + "</member>"


def list_users_window(
    account_id: str, path_prefix: str | None, after: tuple[str, ...] | None, limit: int
) -> list[tuple[tuple[str, ...], str]]:
    """Up to `limit` ListUsers members (sorted by name, strictly after `after`) as paging items."""
    users = list(iam_backends[account_id][PARTITION].users.values())
    if path_prefix:
        users = [u for u in users if u.path.startswith(path_prefix)]
    users.sort(key=lambda u: u.name)
    if after is not None:
        users = [u for u in users if (u.name,) > after]
    # Render only what can appear on the page: serialising all 10,000 users per page
    # is exactly the O(n) per call we are avoiding.
    return [((u.name,), _user_member(u)) for u in users[:limit]]
