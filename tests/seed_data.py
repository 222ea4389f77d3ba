"""The spec's example account: Alice's two keys and the action's output for them."""

from __future__ import annotations

from typing import Any

SEED_KEYS: list[dict[str, Any]] = [
    {"AccessKeyId": "AKIA111111111EXAMPLE", "CreateDate": "2016-12-01T22:19:58Z",
     "Status": "Active", "UserName": "Alice"},
    {"AccessKeyId": "AKIA222222222EXAMPLE", "CreateDate": "2016-12-01T22:20:01Z",
     "Status": "Active", "UserName": "Alice"},
]
SEED_OUTPUT: dict[str, Any] = {"AccessKeyMetadata": SEED_KEYS, "IsTruncated": False}


def create_seed_user(iam: Any, emulator: Any) -> None:
    """Create Alice over the API, then give her keys the seed's ids and dates on the emulator."""
    iam.create_user(UserName="Alice")
    for key in SEED_KEYS:
        made = iam.create_access_key(UserName="Alice")["AccessKey"]["AccessKeyId"]
        emulator.patch_key(access_key_id=made, new_access_key_id=key["AccessKeyId"],
                           create_date=key["CreateDate"])
