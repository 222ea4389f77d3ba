"""Run the real `iamkeys` entry point in a subprocess, the way users and cron do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


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
