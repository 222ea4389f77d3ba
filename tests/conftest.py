"""Shared fixtures: one IAM emulator per session, a hermetic AWS environment per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, aws
from harness.client import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """moto + HarnessLayer in a subprocess on 127.0.0.1, shared by the whole session."""
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def aws_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    """Point every AWS SDK/CLI at the emulator with fake credentials; reset it first."""
    config_file = tmp_path / "aws_config"
    credentials_file = tmp_path / "aws_credentials"
    config_file.write_text("")
    credentials_file.write_text("")
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_RETRY_MODE": "standard",
        # Keeps throttling-exhaustion tests quick.
        "AWS_MAX_ATTEMPTS": "3",
        # A proxy from the developer's environment must never see emulator traffic.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    emulator.reset(state=True)
    return emulator


@pytest.fixture
def iam(aws_env: Emulator) -> Any:
    """A boto3 IAM client on the emulator, for arranging data in tests."""
    return aws.session().client("iam", endpoint_url=aws_env.url, region_name="us-east-1")
