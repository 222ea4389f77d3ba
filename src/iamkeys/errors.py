"""The iamkeys exception tree; each class carries the process exit code the CLI uses.

    IamKeysError (exit 1)
    ├── InputError (exit 2)          bad option, parameter, workflow file or event; nothing was sent
    │   └── WorkflowError            ... located in a workflow file or Lambda event (file, step)
    ├── AwsError (exit 1)            an AWS call failed after botocore's retries; keeps the AWS code
    ├── MailError (exit 1)           the message was not accepted by the server, or not written
    │   └── MailDeferredError (exit 75)  refused for now (SMTP 4xx) on every attempt: try later
    ├── StateConflictError (exit 1)  --state changed since it was read (another run wrote it)
    ├── PartialResultError (exit 3)  some items not listed, or planned changes not made; the rest
    │                                is still reported
    └── FindingsError (exit 4)       --fail-on-findings and there are findings
"""

from __future__ import annotations


class IamKeysError(Exception):
    """Root of every error iamkeys raises on purpose."""

    exit_code = 1


class InputError(IamKeysError):
    """A parameter broke a rule; raised before any request is sent."""

    exit_code = 2

    def __init__(self, parameter: str, rule: str) -> None:
        self.parameter = parameter
        self.rule = rule
        super().__init__(f"{parameter}: {rule}")


class WorkflowError(InputError):
    """An input error located in a workflow file or event: `where` names file, step, parameter."""

    def __init__(self, where: str, rule: str, *, parameter: str = "workflow") -> None:
        super().__init__(parameter, rule)
        self.where = where
        self.args = (f"{where}: {rule}",)


class AwsError(IamKeysError):
    """An AWS call failed; `code` is AWS's error code (or the botocore error class name).

    `status` is the HTTP status of AWS's answer, None when no answer arrived (a dropped
    connection, a timeout).
    """

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}")


class MailError(IamKeysError):
    """The message could not be delivered or written."""


class MailDeferredError(MailError):
    """The server refused for now (an SMTP 4xx reply) on every attempt; nothing was delivered.

    Exit 75 is sendmail's EX_TEMPFAIL (sysexits.h): a scheduler can tell "try again later"
    from "fix the configuration" (exit 1).
    """

    exit_code = 75
class StateConflictError(IamKeysError):
    """The stored inventory changed between this run's read and its write; nothing was written."""

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(f"state {location} changed since this run read it (another run stored "
                         "an inventory there); this run's inventory was not stored")


class PartialResultError(IamKeysError):
    """Part of a listing failed; the errors are named in the result."""

    exit_code = 3


class FindingsError(IamKeysError):
    """Findings were present and the caller asked to fail on them."""

    exit_code = 4
