"""`iamkeys demo`, the quick start's first command: the seed's workflow end to end on the
embedded IAM emulator and SMTP server, leaving nothing running."""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path

import pytest

from cli_runner import Result, iamkeys
from iamkeys.cli import main
from iamkeys.demo import embedded_smtp
from seed_data import SEED_OUTPUT


def ports(stderr: str) -> list[int]:
    """The ports the demo said it listened on (emulator URL and SMTP server)."""
    found = re.findall(r"embedded IAM emulator on http://127\.0\.0\.1:(\d+)", stderr)
    found += re.findall(r"embedded SMTP server on 127\.0\.0\.1:(\d+)", stderr)
    return [int(port) for port in found]


def is_listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def check_demo(result: Result, cwd: Path) -> None:
    """The demo's documented output."""
    assert result.code == 0, result.stderr
    assert result.stdout == json.dumps(SEED_OUTPUT, indent=2) + "\n"
    lines = result.stderr.splitlines()
    assert "iamkeys: step list: aws.iam.list_access_keys ... ok" in lines
    assert "iamkeys: step email: email.send ... ok" in lines
    assert "iamkeys:   From: iamkeys@localhost" in lines
    assert "iamkeys:   To: security-team@example.com" in lines
    assert "iamkeys:   Subject: IAM access keys: 2 keys, 1 user" in lines
    [attachments] = [line for line in lines if line.startswith("iamkeys:   Attachments: ")]
    assert re.fullmatch(r"iamkeys:   Attachments: access-keys\.json \(application/json, \d+ "
                        r"bytes\), access-keys\.csv \(text/csv, \d+ bytes\)", attachments)
    assert "iamkeys:   HTML body saved to demo-output/email.html (open it in a browser)" in lines
    assert lines[-1] == "iamkeys: emulator and SMTP server stopped"
    html = (cwd / "demo-output" / "email.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "AKIA111111111EXAMPLE" in html and "AKIA222222222EXAMPLE" in html


def test_demo_runs_the_workflow_end_to_end(tmp_path: Path) -> None:
    result = iamkeys("demo", cwd=str(tmp_path), env={"IAMKEYS_SMTP_HOST": "mail.invalid"})
    check_demo(result, tmp_path)
    listened = ports(result.stderr)
    assert len(listened) == 2
    assert not any(is_listening(port) for port in listened)
    assert not (tmp_path / "outbox").exists()


def test_demo_stops_everything_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(threading.enumerate())
    code = main(["demo"])
    out, err = capsys.readouterr()
    check_demo(Result(code, out, err), tmp_path)
    assert not any(is_listening(port) for port in ports(err))
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []


def test_output_dir(tmp_path: Path) -> None:
    result = iamkeys("demo", "--output-dir", "site/mail", cwd=str(tmp_path))
    assert result.code == 0, result.stderr
    assert (tmp_path / "site" / "mail" / "email.html").is_file()
    assert "iamkeys:   HTML body saved to site/mail/email.html (open it in a browser)" \
        in result.stderr.splitlines()


def test_embedded_smtp_stops_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), embedded_smtp() as server:
        port = server.port
        assert is_listening(port)
        raise RuntimeError("boom")
    assert not is_listening(port)
