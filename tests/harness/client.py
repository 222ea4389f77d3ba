"""Emulator: start/stop the harness server subprocess and drive its control API (stdlib only)."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from harness import DEFAULT_ACCOUNT_ID

TESTS_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# Never let an HTTP(S)_PROXY from the environment intercept 127.0.0.1 traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HarnessError(RuntimeError):
    """A control-API call failed."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"harness control API returned {status}: {body}")
        self.status = status
        self.body = body


class Emulator:
    """One moto+HarnessLayer server process on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        self.requested_port = port
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None
        self._stdout_tail: list[str] = []
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Endpoint URL, e.g. http://127.0.0.1:5000."""
        if self.port is None:
            raise RuntimeError("Emulator not started")
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Emulator:
        """Spawn the server and wait (<= 30 s) for its 'PORT <n>' line."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(TESTS_DIR), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["PYTHONUNBUFFERED"] = "1"
        argv = [sys.executable, "-m", "harness.server", "--port", str(self.requested_port)]
        # The server exits when our end of its stdin closes, so even a crashed or
        # SIGKILLed parent (pytest, a benchmark) never leaves an orphan emulator behind.
        self.proc = subprocess.Popen(
            [*argv, "--exit-with-parent"],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(TESTS_DIR),
        )
        atexit.register(self.stop)
        port_box: list[int] = []
        ready = threading.Event()
        self._pump = threading.Thread(
            target=self._pump_stdout, args=(port_box, ready), name="emulator-stdout", daemon=True
        )
        self._pump.start()
        if not ready.wait(START_TIMEOUT_S) or not port_box:
            self.stop()
            raise RuntimeError(f"emulator did not report its port: {self._stdout_tail!r}")
        self.port = port_box[0]
        return self

    def _pump_stdout(self, port_box: list[int], ready: threading.Event) -> None:
        """Read the PORT line, then keep draining stdout so the child never blocks."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if not port_box and line.startswith("PORT "):
                port_box.append(int(line.split()[1]))
                ready.set()
            else:
                self._stdout_tail = (self._stdout_tail + [line.rstrip()])[-20:]
        ready.set()  # EOF: the process died before (or after) reporting

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after a timeout)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        if self._pump is not None:
            # The pump sees EOF once the process is gone; closing the pipe under it would
            # make it raise in its thread.
            self._pump.join(STOP_TIMEOUT_S)
            self._pump = None
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        self.port = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ control API
    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON control request."""
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(
            f"{self.url}/_harness/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(req, timeout=120) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise HarnessError(exc.code, exc.read().decode("utf-8", "replace")) from None

    def health(self) -> bool:
        """Whether the control API answers."""
        return bool(self._call("GET", "health")["ok"])

    def reset(self, state: bool = True) -> dict[str, Any]:
        """Clear faults/latency/rate limit/counters/log; state=True also wipes moto."""
        result: dict[str, Any] = self._call("POST", "reset", {"state": state})
        return result

    def configure(self, **config: Any) -> dict[str, Any]:
        """Set any of latency_ms, rate_limit, faults, seed, fast_paths, page_cap."""
        result: dict[str, Any] = self._call("POST", "config", config)
        return result

    def stats(self, log: bool = False) -> dict[str, Any]:
        """Counters (and the request log when log=True)."""
        result: dict[str, Any] = self._call("GET", "stats?log=1" if log else "stats")
        return result

    def patch_user(
        self, user_name: str, account_id: str = DEFAULT_ACCOUNT_ID, **fields: Any
    ) -> dict[str, Any]:
        """Edit a user in place (create_date, path)."""
        body = {"account_id": account_id, "user_name": user_name, **fields}
        result: dict[str, Any] = self._call("POST", "patch-user", body)
        return result

    def patch_key(
        self, access_key_id: str, account_id: str = DEFAULT_ACCOUNT_ID, **fields: Any
    ) -> dict[str, Any]:
        """Edit a key in place (new_access_key_id, create_date, status, last_used)."""
        body = {"account_id": account_id, "access_key_id": access_key_id, **fields}
        result: dict[str, Any] = self._call("POST", "patch-key", body)
        return result

    def patch_account(
        self, account_id: str = DEFAULT_ACCOUNT_ID, *, root_access_keys: bool
    ) -> dict[str, Any]:
        """Set whether the account's root user has access keys (AccountAccessKeysPresent)."""
        body = {"account_id": account_id, "root_access_keys": root_access_keys}
        result: dict[str, Any] = self._call("POST", "patch-account", body)
        return result

    def bulk_create(
        self, users: list[dict[str, Any]], account_id: str = DEFAULT_ACCOUNT_ID
    ) -> dict[str, list[str]]:
        """Create users and keys in-process; returns {user name: [access key ids]}."""
        result = self._call("POST", "bulk-create", {"account_id": account_id, "users": users})
        key_ids: dict[str, list[str]] = result["key_ids"]
        return key_ids

    def delete_user(self, user_name: str, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, Any]:
        """Remove a user and its keys (simulates deletion mid-run)."""
        body = {"account_id": account_id, "user_name": user_name}
        result: dict[str, Any] = self._call("POST", "delete-user", body)
        return result
