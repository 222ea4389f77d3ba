"""The public face: the export list, lazy loading, and the exception tree's exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

import iamkeys
from iamkeys import errors

EXPECTED_EXPORTS = [
    "AccessKey",
    "AwsError",
    "Connection",
    "Delivery",
    "Finding",
    "FindingsError",
    "IamKeysError",
    "InputError",
    "Inventory",
    "InventoryError",
    "InventoryKey",
    "InventoryRequest",
    "KeyAction",
    "LastUsed",
    "Listing",
    "MailError",
    "MailSettings",
    "PartialResultError",
    "Progress",
    "RemediationPlan",
    "RemediationPolicy",
    "RemediationRequest",
    "Runtime",
    "SkippedKey",
    "Thresholds",
    "UndoRequest",
    "User",
    "WorkflowError",
    "__version__",
    "build_message",
    "list_access_keys",
    "run_inventory",
    "run_remediation",
    "send_result",
    "summary_subject",
    "undo_remediation",
]


def test_all_is_sorted_and_guarded() -> None:
    assert iamkeys.__all__ == sorted(iamkeys.__all__)
    assert iamkeys.__all__ == sorted(EXPECTED_EXPORTS)


@pytest.mark.parametrize("name", [n for n in EXPECTED_EXPORTS if n != "__version__"])
def test_every_export_resolves(name: str) -> None:
    assert getattr(iamkeys, name) is not None


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        iamkeys.no_such_thing  # noqa: B018


def test_import_is_light() -> None:
    heavy = "('boto3', 'botocore', 'rich', 'jinja2', 'moto')"
    code = f"import sys, iamkeys; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("cls", "code"), [
    (errors.IamKeysError, 1), (errors.InputError, 2), (errors.AwsError, 1),
    (errors.MailError, 1), (errors.PartialResultError, 3), (errors.FindingsError, 4),
])
def test_exit_codes(cls: type[errors.IamKeysError], code: int) -> None:
    assert cls.exit_code == code
    assert issubclass(cls, errors.IamKeysError)
