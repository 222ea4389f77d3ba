"""The README documents what exists: the two quick-start commands and every command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iamkeys.cli import COMMANDS, LazyGroup, cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q '.[demo]' && .venv/bin/iamkeys demo",
        "bash scripts/test",
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    assert f"### `iamkeys {name}`" in README


def test_every_list_access_keys_option_is_documented() -> None:
    import click

    group = cli
    assert isinstance(group, LazyGroup)
    command = group.get_command(click.Context(group), "list-access-keys")
    assert command is not None
    for param in command.params:
        for option in param.opts:
            if option.startswith("--") and option != "--help":
                assert f"`{option}" in README, option
