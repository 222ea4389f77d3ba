"""boto3 sessions for tests that share one botocore data loader (client creation 4x faster)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.loaders
import botocore.session

# The loader only caches the read-only JSON models shipped with botocore, so sharing it
# between otherwise independent sessions keeps every session hermetic.
_LOADER = botocore.loaders.create_loader()


def session(**kwargs: Any) -> boto3.session.Session:
    """A fresh boto3 Session (reads the environment as usual) with the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, **kwargs)
