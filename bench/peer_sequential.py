"""The honest baseline for `iamkeys inventory`: a straightforward, sequential boto3 script.

Users paginator, then per user list_access_keys (paginated) and per key
get_access_key_last_used, one call after another, as most people would first write it. Prints
the same shape as `iamkeys inventory --output json` ({"Keys": [...]}) so that the benchmark
checks both the same way. Endpoint, region and credentials come from the usual AWS variables.

    AWS_ENDPOINT_URL=... .venv/bin/python bench/peer_sequential.py
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3


def iso(value: Any) -> str | None:
    """A datetime as YYYY-MM-DDTHH:MM:SSZ (None stays None)."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def inventory() -> list[dict[str, Any]]:
    """Every key of every user, with its last use."""
    iam = boto3.client("iam")
    records = []
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            for keys in iam.get_paginator("list_access_keys").paginate(UserName=name):
                for key in keys["AccessKeyMetadata"]:
                    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
                    last = used["AccessKeyLastUsed"]
                    records.append({
                        "UserName": name,
                        "AccessKeyId": key["AccessKeyId"],
                        "Status": key["Status"],
                        "CreateDate": iso(key["CreateDate"]),
                        "LastUsedDate": iso(last.get("LastUsedDate")),
                        "LastUsedService": last.get("ServiceName"),
                        "LastUsedRegion": last.get("Region"),
                    })
    return records


def main() -> int:
    """Print the inventory as JSON."""
    records = inventory()
    json.dump({"Keys": records}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
