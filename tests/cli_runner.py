"""Run the real `iamkeys` entry point in a subprocess, the way users and cron do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

# What a new machine's login shell has; the rest of the developer's environment stays out.
NEW_MACHINE = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def emulator_environ(url: str, tmp_path: Path) -> dict[str, str]:
    """What points every AWS SDK and CLI at the emulator: fake credentials, empty config files."""
    config_file = tmp_path / "aws_config"
    credentials_file = tmp_path / "aws_credentials"
    config_file.write_text("")
    credentials_file.write_text("")
    return {
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
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


def scrubbed_environ(home: Path, **extra: str) -> dict[str, str]:
    """A new machine's environment (HOME, PATH, LANG and nothing of this process's), plus
    `extra`: for tests that must not depend on the developer's environment."""
    return {"HOME": str(home), **NEW_MACHINE, **extra}


@dataclass(frozen=True)
class Result:
    """A finished `iamkeys` process."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


def iamkeys(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            cwd: str | None = None, timeout: float = 120) -> Result:
    """Run `python -m iamkeys ARGS` with the current environment (plus `env`)."""
    merged = dict(os.environ)
    merged.update(env or {})
    done = subprocess.run([sys.executable, "-m", "iamkeys", *args], capture_output=True,
                          text=True, env=merged, input=stdin, cwd=cwd, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, code: int, *needles: str) -> None:
    """An expected failure: exit code, exactly one line on stderr, no traceback."""
    assert result.code == code, (result.code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
