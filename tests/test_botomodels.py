"""The slim-model loader: same answers as botocore's full models, from a per-version cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.loaders import Loader

from iamkeys import aws
from iamkeys.botomodels import OPERATIONS, SlimLoader, slim_model


def test_slim_model_keeps_the_operations_and_every_shape_they_reach() -> None:
    full = Loader().load_service_model("iam", "service-2")
    slim = slim_model(full, OPERATIONS["iam"])
    assert set(slim["operations"]) == set(OPERATIONS["iam"])
    assert slim["metadata"] == full["metadata"]
    for name, shape in slim["shapes"].items():
        assert shape == without_docs(full["shapes"][name])
    assert "AccessKeyMetadata" in slim["shapes"] and "CreateUserRequest" not in slim["shapes"]


def without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_docs(v) for k, v in node.items() if not k.startswith("documentation")}
    return [without_docs(i) for i in node] if isinstance(node, list) else node


def test_unknown_operation_is_refused() -> None:
    full = Loader().load_service_model("sts", "service-2")
    with pytest.raises(ValueError, match="NoSuchOperation"):
        slim_model(full, frozenset({"NoSuchOperation"}))


def session_with(loader: SlimLoader) -> Any:
    core = botocore.session.Session()
    core.register_component("data_loader", loader)
    return core


# Bytes a slim model may take: the models are 0.1-1.4 MB whole. BatchImportFindings reaches the
# whole AWS Security Finding Format (every resource's details): 205 KB of Security Hub's 1.4 MB.
SLIM_BYTES = {"s3": 30_000, "securityhub": 250_000}


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_cache_is_written_once_then_used(tmp_path: Path, service: str) -> None:
    first = session_with(SlimLoader(tmp_path)).get_service_model(service)
    (written,) = tmp_path.glob(f"botocore-*/{service}/*/service-2.json")
    second = session_with(SlimLoader(tmp_path)).get_service_model(service)
    assert set(second.operation_names) == set(OPERATIONS[service])
    assert set(OPERATIONS[service]) <= set(first.operation_names)
    assert written.stat().st_size < SLIM_BYTES.get(service, 20_000)


def test_same_answers_over_the_wire(aws_env: Any, iam: Any, tmp_path: Path) -> None:
    iam.create_user(UserName="Alice")
    iam.create_access_key(UserName="Alice")
    answers = []
    for cache in (None, tmp_path, tmp_path):  # full model, cold cache, warm cache
        session = aws.make_session(aws.Connection(model_cache=str(cache) if cache else None))
        client = aws.client(session, "iam", "us-east-1", aws.Connection())
        response = client.list_access_keys(UserName="Alice")
        answers.append(response["AccessKeyMetadata"])
    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0]) == 1


def test_unwritable_cache_falls_back_to_the_full_model(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    model = session_with(SlimLoader(blocker / "cache")).get_service_model("iam")
    assert "CreateUser" in model.operation_names


def test_aws_data_path_is_still_searched(tmp_path: Path) -> None:
    loader = SlimLoader(tmp_path / "cache", data_path=str(tmp_path / "extra"))
    assert str(tmp_path / "extra") in loader.search_paths
