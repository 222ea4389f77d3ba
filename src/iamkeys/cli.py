"""The `iamkeys` command line: a thin layer that builds library calls and translates errors once.

Commands live in `iamkeys.commands.*` and are imported only when invoked, so that
`iamkeys list-access-keys` pays for nothing it does not use.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from . import aws, params, redact
from .errors import IamKeysError, InputError, WorkflowError
from .params import CONTROL_RE

F = TypeVar("F", bound=Callable[..., Any])
# click >= 8.2 raises this for a bare `iamkeys`; older versions print help themselves.
_NO_ARGS_IS_HELP: type[click.UsageError] = getattr(
    click.exceptions, "NoArgsIsHelpError", click.exceptions.UsageError)

COMMANDS = {
    "demo": "iamkeys.commands.demo",
    "inventory": "iamkeys.commands.inventory",
    "list-access-keys": "iamkeys.commands.list_access_keys",
    "remediate": "iamkeys.commands.remediate",
    "run": "iamkeys.commands.run",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; expected failures print one line on stderr and return their exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="iamkeys",
                 standalone_mode=False)
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
    except BrokenPipeError:
        return 141
    except Exception:  # a bug, or an environment we did not foresee: the traceback, masked
        click.echo(redact.text(traceback.format_exc()), err=True, nl=False)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
