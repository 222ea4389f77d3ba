"""iamkeys: list and audit AWS IAM access keys, and send the results by email.

The public API is re-exported here and loaded lazily, so that importing the package (and
starting the CLI) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "AccessKey": "iamkeys.model",
    "AwsError": "iamkeys.errors",
    "Connection": "iamkeys.aws",
    "FindingsError": "iamkeys.errors",
    "IamKeysError": "iamkeys.errors",
    "InputError": "iamkeys.errors",
    "LastUsed": "iamkeys.model",
    "Listing": "iamkeys.model",
    "MailError": "iamkeys.errors",
    "PartialResultError": "iamkeys.errors",
    "User": "iamkeys.model",
    "list_access_keys": "iamkeys.listing",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .aws import Connection as Connection
    from .errors import AwsError as AwsError
    from .errors import FindingsError as FindingsError
    from .errors import IamKeysError as IamKeysError
    from .errors import InputError as InputError
    from .errors import MailError as MailError
    from .errors import PartialResultError as PartialResultError
    from .listing import list_access_keys as list_access_keys
    from .model import AccessKey as AccessKey
    from .model import LastUsed as LastUsed
    from .model import Listing as Listing
    from .model import User as User


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'iamkeys' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
