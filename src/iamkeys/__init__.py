"""iamkeys: list and audit AWS IAM access keys, and send the results by email.

The public API is re-exported here and loaded lazily, so that importing the package (and
starting the CLI) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it ("module:attribute" where the name differs)
_EXPORTS = {
    "AccessKey": "iamkeys.model",
    "AwsError": "iamkeys.errors",
    "Connection": "iamkeys.aws",
    "Delivery": "iamkeys.model",
    "Finding": "iamkeys.model",
    "FindingsError": "iamkeys.errors",
    "IamKeysError": "iamkeys.errors",
    "InputError": "iamkeys.errors",
    "Inventory": "iamkeys.model",
    "InventoryError": "iamkeys.model",
    "InventoryKey": "iamkeys.model",
    "InventoryRequest": "iamkeys.inventory",
    "KeyAction": "iamkeys.model",
    "LastUsed": "iamkeys.model",
    "Listing": "iamkeys.model",
    "MailError": "iamkeys.errors",
    "MailSettings": "iamkeys.mail",
    "PartialResultError": "iamkeys.errors",
    "Progress": "iamkeys.inventory",
    "RemediationPlan": "iamkeys.model",
    "RemediationPolicy": "iamkeys.model",
    "RemediationRequest": "iamkeys.remediate",
    "Runtime": "iamkeys.actions",
    "SkippedKey": "iamkeys.model",
    "Thresholds": "iamkeys.model",
    "UndoRequest": "iamkeys.remediate",
    "User": "iamkeys.model",
    "WorkflowError": "iamkeys.errors",
    "build_message": "iamkeys.mail",
    "list_access_keys": "iamkeys.listing",
    "run_remediation": "iamkeys.remediate:remediate",
    "run_inventory": "iamkeys.inventory:inventory",
    "send_result": "iamkeys.mail",
    "summary_subject": "iamkeys.mail",
    "undo_remediation": "iamkeys.remediate:undo",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .actions import Runtime as Runtime
    from .aws import Connection as Connection
    from .errors import AwsError as AwsError
    from .errors import FindingsError as FindingsError
    from .errors import IamKeysError as IamKeysError
    from .errors import InputError as InputError
    from .errors import MailError as MailError
    from .errors import PartialResultError as PartialResultError
    from .errors import WorkflowError as WorkflowError
    from .inventory import InventoryRequest as InventoryRequest
    from .inventory import Progress as Progress
    from .inventory import inventory as run_inventory  # noqa: F401  (exported by name)
    from .listing import list_access_keys as list_access_keys
    from .mail import MailSettings as MailSettings
    from .mail import build_message as build_message
    from .mail import send_result as send_result
    from .mail import summary_subject as summary_subject
    from .model import AccessKey as AccessKey
    from .model import Delivery as Delivery
    from .model import Finding as Finding
    from .model import Inventory as Inventory
    from .model import InventoryError as InventoryError
    from .model import InventoryKey as InventoryKey
    from .model import KeyAction as KeyAction
    from .model import LastUsed as LastUsed
    from .model import Listing as Listing
    from .model import RemediationPlan as RemediationPlan
    from .model import RemediationPolicy as RemediationPolicy
    from .model import SkippedKey as SkippedKey
    from .model import Thresholds as Thresholds
    from .model import User as User
    from .remediate import RemediationRequest as RemediationRequest
    from .remediate import UndoRequest as UndoRequest
    from .remediate import remediate as run_remediation  # noqa: F401  (exported by name)
    from .remediate import undo as undo_remediation  # noqa: F401  (exported by name)


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'iamkeys' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
