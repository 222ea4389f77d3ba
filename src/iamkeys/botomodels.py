"""A botocore data loader that starts faster: slim service models, cached per botocore version.

Creating a botocore client parses the service's whole model (IAM: 708 KB of JSON for the four
operations iamkeys calls) and first lists every service directory botocore ships (449 of them,
checked file by file) to confirm that the service exists. Together that is about 60 ms of a
~0.3 s `iamkeys list-access-keys` (measured, bench/list_access_keys.py).

This loader keeps botocore's own search path and files; it only
- answers "which services exist" from directory names, without opening each one, and
- puts a cache directory first on the search path, holding models cut down to the operations
  iamkeys calls and the shapes they reach. They are generated from the installed botocore's own
  model on first use, into a folder named after the botocore version and the operations kept
  (so a newer iamkeys calling one more operation never finds an older cut), so they can never
  disagree with it. Endpoint rules, paginators and retries still come from botocore's files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore import __version__ as BOTOCORE_VERSION
from botocore.loaders import Loader

log = logging.getLogger("iamkeys")

# The operations iamkeys calls, per service. A service not listed here gets botocore's full model.
OPERATIONS: Mapping[str, frozenset[str]] = {
    "iam": frozenset({"ListAccessKeys", "ListUsers", "GetAccessKeyLastUsed",
                      "GetAccountSummary", "ListUserTags", "UpdateAccessKey",
                      "DeleteAccessKey"}),
    "sts": frozenset({"GetCallerIdentity", "AssumeRole"}),
    "organizations": frozenset({"ListAccounts"}),
    "sesv2": frozenset({"SendEmail"}),
    # --state objects (state.py) and the remediation journal under an s3:// prefix (journal.py).
    "s3": frozenset({"GetObject", "PutObject", "ListObjectsV2"}),
    "securityhub": frozenset({"BatchImportFindings"}),
}
SERVICE_MODEL = "service-2"
# Part of the cache folder's name: a slim model cut for another list of operations (an older
# iamkeys) is never read for this one.
OPERATIONS_DIGEST = hashlib.sha256(json.dumps(
    {service: sorted(ops) for service, ops in sorted(OPERATIONS.items())}).encode()
).hexdigest()[:12]


class SlimLoader(Loader):
    """botocore's Loader with a slim-model cache first on its search path."""

    def __init__(self, cache_root: Path | None, data_path: str | None = None) -> None:
        # `data_path` is botocore's own AWS_DATA_PATH setting, kept after the cache.
        self._slim_root = cache_root / f"botocore-{BOTOCORE_VERSION}-{OPERATIONS_DIGEST}" \
            if cache_root else None
        extra = [str(self._slim_root)] if self._slim_root else []
        extra += [os.path.expanduser(p) for p in (data_path or "").split(os.pathsep) if p]
        super().__init__(extra_search_paths=extra)

    def list_available_services(self, type_name: str) -> list[str]:
        """Service names from directory names alone (botocore opens each one to check)."""
        names: set[str] = set()
        for path in self.search_paths:
            if os.path.isdir(path):
                names.update(os.listdir(path))
        return sorted(names)

    def load_service_model(self, service_name: str, type_name: str,
                           api_version: str | None = None) -> Any:
        """botocore's model; the first load of a known service also writes its slim model."""
        model = super().load_service_model(service_name, type_name, api_version)
        target = self._slim_target(service_name, type_name, api_version)
        if target is not None and not target.exists():
            try:
                _write_atomically(target, slim_model(model, OPERATIONS[service_name]))
            except OSError as e:
                # A read-only or full cache only costs speed: botocore's full model is used.
                log.debug("model cache not written (%s): %s", target, e)
        return model

    def _slim_target(self, service_name: str, type_name: str,
                     api_version: str | None) -> Path | None:
        """Where the slim model of a service belongs, or None when it gets the full model."""
        if self._slim_root is None or type_name != SERVICE_MODEL or service_name not in OPERATIONS:
            return None
        version = api_version or self.determine_latest_version(service_name, SERVICE_MODEL)
        return self._slim_root / service_name / version / f"{SERVICE_MODEL}.json"


def slim_model(model: Mapping[str, Any], operations: frozenset[str]) -> dict[str, Any]:
    """The model with only `operations` and the shapes they reach; documentation dropped."""
    kept_ops = {name: op for name, op in model["operations"].items() if name in operations}
    missing = operations - set(kept_ops)
    if missing:
        raise ValueError(f"operations not in the model: {sorted(missing)}")
    shapes = model["shapes"]
    reached: set[str] = set()
    pending = [name for op in kept_ops.values() for name in _shape_refs(op)]
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(_shape_refs(shapes[name]))
    return {
        **{k: v for k, v in model.items() if k not in ("operations", "shapes", "documentation")},
        "operations": {name: _undocumented(op) for name, op in kept_ops.items()},
        "shapes": {name: _undocumented(shapes[name]) for name in sorted(reached)},
    }


def _shape_refs(node: Any) -> Iterator[str]:
    """Every shape name a model node refers to, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "shape" and isinstance(value, str):
                yield value
            else:
                yield from _shape_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _shape_refs(item)


def _undocumented(node: Any) -> Any:
    """A model node without its documentation strings (most of a model's size)."""
    if isinstance(node, dict):
        return {k: _undocumented(v) for k, v in node.items()
                if k not in ("documentation", "documentationUrl")}
    if isinstance(node, list):
        return [_undocumented(item) for item in node]
    return node


def _write_atomically(target: Path, document: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".slim-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(document, stream, separators=(",", ":"))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
