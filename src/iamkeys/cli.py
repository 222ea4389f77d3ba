"""The `iamkeys` command line: a thin layer that builds library calls and translates errors once.

Commands live in `iamkeys.commands.*` and are imported only when invoked, so that
`iamkeys list-access-keys` pays for nothing it does not use.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, TextIO, TypeVar, cast

import click

from . import aws, params, redact
from .errors import IamKeysError, InputError, WorkflowError
from .params import CONTROL_RE

F = TypeVar("F", bound=Callable[..., Any])
# click >= 8.2 raises this for a bare `iamkeys`; older versions print help themselves.
_NO_ARGS_IS_HELP: type[click.UsageError] = getattr(
    click.exceptions, "NoArgsIsHelpError", click.exceptions.UsageError)

# What a shell reports for a process ended by SIGPIPE (128 + 13): `iamkeys ... | head -1`.
EXIT_CLOSED_PIPE = 141

COMMANDS = {
    "demo": "iamkeys.commands.demo",
    "diff": "iamkeys.commands.diff",
    "inventory": "iamkeys.commands.inventory",
    "list-access-keys": "iamkeys.commands.list_access_keys",
    "remediate": "iamkeys.commands.remediate",
    "run": "iamkeys.commands.run",
    "securityhub-import": "iamkeys.commands.securityhub_import",
    "send-email": "iamkeys.commands.send_email",
    "undo": "iamkeys.commands.undo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="iamkeys")
@click.option("--debug", is_flag=True, envvar="IAMKEYS_DEBUG",
              help="Log every request made (secrets redacted) to stderr. Env: IAMKEYS_DEBUG=1.")
def cli(debug: bool) -> None:
    """List and audit AWS IAM access keys, and send the results by email."""
    if debug:
        redact.configure_debug(sys.stderr)


def aws_options(function: F) -> F:
    """The AWS connection options every AWS command takes, as in the AWS CLI."""
    decorators = [
        click.option("--profile", metavar="NAME", help="AWS config profile (botocore's chain)."),
        click.option("--endpoint-url", metavar="URL",
                     help="Send requests to this URL (e.g. an emulator). Env: AWS_ENDPOINT_URL."),
        click.option("--connect-timeout", metavar="SECONDS", default="10", show_default=True,
                     help="TCP connect timeout per request."),
        click.option("--read-timeout", metavar="SECONDS", default="30", show_default=True,
                     help="Read timeout per request (retried by botocore)."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def connection_from_options(profile: str | None, endpoint_url: str | None,
                            connect_timeout: str, read_timeout: str,
                            max_pool_connections: int = 10) -> aws.Connection:
    """Validate the shared AWS options into a Connection; warn about unencrypted endpoints."""
    url = params.endpoint_url(endpoint_url)
    warning = params.endpoint_warning(url)
    if warning:
        warn(warning)
    return aws.Connection(
        profile=params.profile(profile),
        endpoint_url=url,
        connect_timeout=float(params.bounded_int(connect_timeout, name="connect_timeout",
                                                 low=1, high=300) or 10),
        read_timeout=float(params.bounded_int(read_timeout, name="read_timeout",
                                              low=1, high=900) or 30),
        max_pool_connections=max_pool_connections,
        model_cache=model_cache_dir(os.environ),
    )


def model_cache_dir(environ: Mapping[str, str]) -> str | None:
    """Where slim botocore models are cached: IAMKEYS_CACHE_DIR (empty: off), else the XDG cache."""
    if "IAMKEYS_CACHE_DIR" in environ:
        return environ["IAMKEYS_CACHE_DIR"] or None
    base = environ.get("XDG_CACHE_HOME") or (
        os.path.join(environ["HOME"], ".cache") if environ.get("HOME") else None)
    return os.path.join(base, "iamkeys", "models") if base else None


def option_name(parameter: str) -> str:
    """The CLI spelling of a snake_case parameter name."""
    return "--" + parameter.replace("_", "-")


def fail_input(error: InputError) -> str:
    """The one-line message for an input error: by its place in a workflow, else by option."""
    if isinstance(error, WorkflowError):
        return f"Error: {error}"
    return f"Error: {option_name(error.parameter)}: {error.rule}"


def warn(message: str) -> None:
    """One line on stderr."""
    click.echo(f"iamkeys: {one_line(redact.text(message))}", err=True)


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped: one line, whatever the
    input or a server's message held."""
    return CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class OutputError(IamKeysError):
    """stdout, stderr or an output file could not be written: a full disk, a closed pipe."""

    def __init__(self, destination: str, error: OSError, *, stream: IO[Any] | None = None
                 ) -> None:
        self.destination = destination
        self.error = error
        self.stream = stream  # the standard stream that failed; None for a file
        super().__init__(f"cannot write output: {destination}: {error.strerror or error}")

    @property
    def closed_pipe(self) -> bool:
        """The reader went away (`| head -1`): not a failure to report."""
        return isinstance(self.error, BrokenPipeError)


class _Guarded:
    """A standard stream whose failed writes and flushes raise OutputError naming it.

    Installed as sys.stdout and sys.stderr for the run, so that click's help and version, every
    command's output and every message fail inside the error boundary, not at interpreter exit.
    """

    def __init__(self, stream: Any, label: str) -> None:
        self._stream = stream
        self._label = label

    def write(self, data: Any) -> int:
        """Write all of `data`, or raise OutputError."""
        try:
            if not isinstance(self._stream, io.TextIOBase):
                _write_all(self._stream, data)
                return len(data)
            binary = getattr(self._stream, "buffer", None)
            if binary is None or not isinstance(data, str):  # a StringIO; or bytes: TypeError
                return int(self._stream.write(data))
            self._stream.flush()
            _write_all(binary, data.encode(self._stream.encoding, self._stream.errors or "strict"))
            return len(data)
        except OSError as e:
            raise OutputError(self._label, e, stream=self._stream) from e

    def writelines(self, lines: Any) -> None:
        """Write each of `lines`."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the stream, or raise OutputError."""
        try:
            self._stream.flush()
        except OSError as e:
            raise OutputError(self._label, e, stream=self._stream) from e

    @property
    def buffer(self) -> _Guarded:
        """The binary stream underneath, guarded the same way."""
        return _Guarded(self._stream.buffer, self._label)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _write_all(binary: Any, data: bytes) -> None:
    """Write every byte: when a pipe's reader goes away or a disk fills up mid-write, write(2)
    takes part of the data and the next call fails, but a TextIOWrapper ignores the short count
    and drops the rest without a word (even buffered, for writes larger than the buffer)."""
    view = memoryview(data)
    while view:
        written = binary.write(view)
        if not written:  # None: a non-blocking stream that cannot take more now
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        view = view[written:]


@contextmanager
def output_to(path: str | None) -> Iterator[IO[str]]:
    """Where a command writes a large output piece by piece: stdout, or the file `--out` names.
    Writes are gathered into 64 KiB chunks; a failure is an OutputError naming the file."""
    if path is None:
        chunks = _Chunked(sys.stdout.write)
        yield cast(IO[str], chunks)
        chunks.flush()
        return
    try:
        with open(path, "wb", buffering=0) as file:
            chunks = _Chunked(lambda text: _write_all(file, text.encode("utf-8")))
            yield cast(IO[str], chunks)
            chunks.flush()
    except OSError as e:
        raise OutputError(path, e) from e


class _Chunked:
    """A text sink that hands its writer one chunk of at least 64 KiB at a time."""

    def __init__(self, sink: Callable[[str], object]) -> None:
        self._sink = sink
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        """Keep `text`; pass the chunk on once it is large enough."""
        self._parts.append(text)
        self._size += len(text)
        if self._size >= 1 << 16:
            self.flush()
        return len(text)

    def flush(self) -> None:
        """Pass on what is kept."""
        if self._parts:
            text, self._parts, self._size = "".join(self._parts), [], 0
            self._sink(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; expected failures print one line on stderr and return their exit code.

    Every write to stdout and stderr happens, and is flushed, inside this boundary: output that
    cannot be written is one line and exit 1, a reader that closed the pipe ends the run quietly
    with exit 141; never a traceback or a second failure at interpreter exit.
    """
    streams = sys.stdout, sys.stderr
    sys.stdout = _guard(sys.stdout, "stdout")
    sys.stderr = _guard(sys.stderr, "stderr")
    try:
        code = _run(argv)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        return code
    except OutputError as e:
        return _output_failed(e, streams[1])
    finally:
        sys.stdout, sys.stderr = streams


def _run(argv: Sequence[str] | None) -> int:
    """The command, with each expected failure translated into one line and its exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="iamkeys",
                 standalone_mode=False)
    except OutputError:
        raise
    except InputError as e:
        click.echo(one_line(redact.text(fail_input(e))), err=True)
        return e.exit_code
    except IamKeysError as e:
        click.echo(one_line(redact.text(f"Error: {e}")), err=True)
        return e.exit_code
    except _NO_ARGS_IS_HELP as e:
        click.echo(e.ctx.get_help() if e.ctx else "", err=True)
        return 2
    except click.UsageError as e:
        message = " ".join(e.format_message().split())
        click.echo(one_line(redact.text(f"Error: {message}")), err=True)
        return 2
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except Exception:  # a bug, or an environment we did not foresee: the traceback, masked
        click.echo(redact.text(traceback.format_exc()), err=True, nl=False)
        return 1
    return 0


def _guard(stream: TextIO | None, label: str) -> TextIO | None:
    """`stream` behind a _Guarded; None stays None (no such stream, e.g. `>&-`)."""
    return None if stream is None else cast(TextIO, _Guarded(stream, label))


def _output_failed(error: OutputError, stderr: TextIO | None) -> int:
    """After a failed write: silence the stream, then one line on stderr, or none for a reader
    that closed the pipe (as Unix tools do) or when stderr itself failed."""
    _silence(error.stream)
    if error.closed_pipe:
        return EXIT_CLOSED_PIPE
    stderr_failed = error.stream is not None and error.destination == "stderr"
    if stderr is not None and not stderr_failed:
        try:
            stderr.write(one_line(redact.text(f"Error: {error}")) + "\n")
            stderr.flush()
        except OSError:
            _silence(stderr)
    return error.exit_code


def _silence(stream: IO[Any] | None) -> None:
    """Point a failed standard stream at /dev/null: what it still buffers is flushed there at
    interpreter exit instead of failing again ("Exception ignored ... OSError", exit 120), as
    the Python docs' Note on SIGPIPE recommends:
    https://docs.python.org/3/library/signal.html#note-on-sigpipe"""
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError):  # not a file (a test's capture), or already closed
        return
    if fd < 0:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
