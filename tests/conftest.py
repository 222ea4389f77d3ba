"""Shared fixtures: one IAM emulator per session, a hermetic AWS environment per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import emulator_environ
from harness import aws
from harness.client import Emulator


@pytest.fixture(autouse=True)
def hermetic_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's AWS or iamkeys settings: an AWS_ENDPOINT_URL_IAM or
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would send requests past the emulator (to AWS), an
    IAMKEYS_DEBUG or IAMKEYS_SMTP_HOST would change every output. Each test sets what it needs."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "IAMKEYS_")):
            monkeypatch.delenv(name)


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
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = emulator_environ(emulator.url, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    emulator.reset(state=True)
    return emulator


@pytest.fixture
def iam(aws_env: Emulator) -> Any:
    """A boto3 IAM client on the emulator, for arranging data in tests."""
    return aws.session().client("iam", endpoint_url=aws_env.url, region_name="us-east-1")
