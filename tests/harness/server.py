"""Run moto behind HarnessLayer on 127.0.0.1: `python -m harness.server --port 0`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make `harness` importable and stop tests/harness/ from shadowing
    # top-level modules (sys.path[0] is this file's directory).
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != _here]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from harness.layer import HarnessLayer  # noqa: E402

HOST = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    """Request handler that never writes access or error lines."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Drop werkzeug's per-request logging."""


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher with host -> backend resolution memoised.

    moto re-lists its own package directory (~170 isdir calls) twice per request to
    resolve the backend; that was a third of moto's per-request cost.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_cache: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        """Same answer as moto's, computed once per host (called under moto's own lock)."""
        if host not in self._backend_cache:
            self._backend_cache[host] = super().get_backend_for_host(host)
        return self._backend_cache[host]


def build_app() -> HarnessLayer:
    """moto's multi-service WSGI app wrapped in the harness layer."""
    return HarnessLayer(CachedDispatcher(create_backend_app))


def silence_logging() -> None:
    """Keep werkzeug (and flask) from writing to the terminal."""
    for name in ("werkzeug", "flask.app"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False


def _stop_on_stdin_eof(stop: threading.Event) -> None:
    """Set `stop` once stdin reaches EOF, i.e. when the parent holding the pipe is gone."""
    # os.read on the raw fd: a daemon thread parked inside sys.stdin's buffered reader
    # holds its lock and makes interpreter shutdown abort.
    try:
        fd = sys.stdin.fileno()
        while os.read(fd, 4096):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def serve(port: int, exit_with_parent: bool = False) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF with exit_with_parent)."""
    silence_logging()
    server = make_server(HOST, port, build_app(), threaded=True, request_handler=QuietHandler)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if exit_with_parent:
        threading.Thread(target=_stop_on_stdin_eof, args=(stop,), daemon=True).start()
    thread = threading.Thread(target=server.serve_forever, name="harness-server", daemon=True)
    thread.start()
    sys.stdout.write(f"PORT {server.server_port}\n")
    sys.stdout.flush()
    # Anything moto prints later must not pollute the one-line stdout protocol.
    sys.stdout = sys.stderr
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any)")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="also stop when stdin hits EOF (the spawning process keeps a pipe open)",
    )
    args = parser.parse_args(argv)
    serve(args.port, exit_with_parent=args.exit_with_parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
