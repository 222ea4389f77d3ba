"""The naive baseline for `iamkeys remediate --apply`: a sequential boto3 script.

Lists every user and key, and deactivates each Active key older than the limit (IAM.3), one
call after another, with boto3's standard retries (which also resend a write after a dropped
connection). No plan, no re-check, no journal: what a first script does. Prints the key ids it
deactivated, one per line.

    AWS_ENDPOINT_URL=... .venv/bin/python bench/peer_deactivate.py [--max-key-age DAYS]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config


def main() -> int:
    """Deactivate the old keys; print their ids."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-key-age", type=int, default=90)
    limit = datetime.now(UTC) - timedelta(days=parser.parse_args().max_key_age)
    iam = boto3.client("iam", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            for keys in iam.get_paginator("list_access_keys").paginate(UserName=name):
                for key in keys["AccessKeyMetadata"]:
                    if key["Status"] == "Active" and key["CreateDate"] < limit:
                        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"],
                                              Status="Inactive")
                        sys.stdout.write(key["AccessKeyId"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
