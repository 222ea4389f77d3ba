"""Send an inventory's findings to AWS Security Hub (BatchImportFindings).

BatchImportFindings takes a finding only from the account named in its AwsAccountId when the
ProductArn is the account's default product, and at most 100 findings per call
("BatchImportFindings for finding providers",
https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html).
So findings are grouped by account: the caller's own go with its credentials, every other
account's through the same role the inventory assumes there (`--role-name`, `--external-id`),
in batches of at most 100.

Throttling (10 calls a second per account and Region, burst 30) is retried by botocore and then
a few times more, later: sending the same findings again only updates them (same Id, same
UpdatedAt). Each finding Security Hub refuses is named with its code; a call that still fails
(the role, the hub not enabled) names its account and how many findings it carried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from . import aws, params, redact, wire
from .errors import AwsError
from .model import BatchFailure, FailedFinding, Inventory, SecurityHubImport
from .render import asff

BATCH_SIZE = 100
ROLE_SESSION_NAME = "iamkeys-securityhub"
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
THROTTLED_ROUNDS = 4
THROTTLED_PAUSE = 1.0
THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling",
                              "LimitExceededException"})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """Validated parameters of an import: how to reach accounts other than the caller's."""

    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None

    @classmethod
    def build(cls, *, role_name: Any = None, external_id: Any = None) -> ImportRequest:
        """Validate raw values (CLI options, workflow parameters)."""
        return cls(role_name=params.role_name(role_name or DEFAULT_ROLE_NAME),
                   external_id=params.external_id(external_id or None))


def import_inventory(inv: Inventory, request: ImportRequest | None = None, *,
                     connection: aws.Connection | None = None,
                     session: aws.Session | None = None,
                     pause: Callable[[float], None] = time.sleep) -> SecurityHubImport:
    """Import every finding of `inv` (and archive those resolved since its baseline)."""
    request = request or ImportRequest()
    connection = connection or aws.Connection()
    session = session or aws.make_session(connection)
    region = aws.default_region(session, connection)
    sts = aws.client(session, "sts", region, connection)
    caller = aws.read(lambda: wire.caller(sts.get_caller_identity()))
    found = asff.findings(inv, region=region, partition=aws.partition_of(region).name)
    sender = _Sender(request, connection, session, region, caller.account_id, caller.partition,
                     sts, pause)
    for account_id, account_findings in asff.accounts(found):
        sender.send(account_id, account_findings)
    return sender.result()


class _Sender:
    """Sends one account's findings at a time, and keeps what Security Hub answered."""

    def __init__(self, request: ImportRequest, connection: aws.Connection,
                 session: aws.Session, region: str, caller_account: str, partition: str,
                 sts: Any, pause: Callable[[float], None]) -> None:
        self.request = request
        self.connection = connection
        self.session = session
        self.region = region
        self.caller_account = caller_account
        self.partition = partition
        self.sts = sts
        self.pause = pause
        self.imported = 0
        self.archived = 0
        self.batches = 0
        self.failed: list[FailedFinding] = []
        self.errors: list[BatchFailure] = []

    def send(self, account_id: str, findings: Sequence[dict[str, Any]]) -> None:
        """Every finding of one account, in batches of at most BATCH_SIZE."""
        try:
            hub = self._client(account_id)
        except AwsError as e:
            self.errors.append(BatchFailure(account_id, "AssumeRole", e.code,
                                            redact.text(e.message), len(findings)))
            return
        for start in range(0, len(findings), BATCH_SIZE):
            self._batch(hub, account_id, findings[start:start + BATCH_SIZE])

    def _batch(self, hub: Any, account_id: str, batch: Sequence[dict[str, Any]]) -> None:
        """One BatchImportFindings call; its refused findings are kept by Id."""
        self.batches += 1
        try:
            refused = self._patiently(
                lambda: wire.refused_findings(hub.batch_import_findings(Findings=list(batch)),
                                              account_id))
        except AwsError as e:
            self.errors.append(BatchFailure(account_id, "BatchImportFindings", e.code,
                                            redact.text(e.message), len(batch)))
            return
        self.failed.extend(refused)
        refused_ids = {f.finding_id for f in refused}
        accepted = [f for f in batch if f["Id"] not in refused_ids]
        archived = sum(1 for f in accepted if f.get("RecordState") == "ARCHIVED")
        self.archived += archived
        self.imported += len(accepted) - archived

    def _client(self, account_id: str) -> Any:
        """A Security Hub client in the account: our credentials, or the assumed role's."""
        session = self.session
        if account_id != self.caller_account:
            session = aws.make_session(self.connection, credentials=self._assume(account_id))
        return aws.client(session, "securityhub", self.region, self.connection)

    def _assume(self, account_id: str) -> aws.SessionCredentials:
        """Temporary credentials for the role in the account (registered as secrets)."""
        arn = f"arn:{self.partition}:iam::{account_id}:role/{self.request.role_name}"
        kwargs = {"RoleArn": arn, "RoleSessionName": ROLE_SESSION_NAME}
        if self.request.external_id is not None:
            kwargs["ExternalId"] = self.request.external_id
        credentials = aws.read(lambda: wire.assumed_credentials(self.sts.assume_role(**kwargs)))
        redact.add_secret(credentials.secret_access_key)
        redact.add_secret(credentials.session_token)
        return credentials

    def _patiently(self, call: Callable[[], T]) -> T:
        """`call`, tried again later while it ends throttled (sending again only updates)."""
        for round_ in range(THROTTLED_ROUNDS - 1):
            try:
                with aws.translated():
                    return call()
            except AwsError as e:
                if e.code not in THROTTLING_CODES:
                    raise
            self.pause(THROTTLED_PAUSE * 2 ** round_ * (0.5 + random.random()))
        with aws.translated():
            return call()

    def result(self) -> SecurityHubImport:
        """What was sent, in a stable order."""
        return SecurityHubImport(
            imported=self.imported, archived=self.archived, batches=self.batches,
            failed=tuple(sorted(self.failed, key=lambda f: (f.account_id, f.finding_id))),
            errors=tuple(self.errors))
