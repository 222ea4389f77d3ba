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


# How the project was made is not something users can look up: name the thing instead.
MAKING_WORDS = re.compile(r"the seed\b|seed's|the spec\b|spec's", re.I)
ROOT = Path(__file__).resolve().parents[1]


def test_no_words_of_how_the_project_was_made_reach_users() -> None:
    places = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md")),
              *sorted((ROOT / "src" / "iamkeys").rglob("*.py")),
              *sorted((ROOT / "src" / "iamkeys").rglob("*.yaml")),
              *sorted((ROOT / "src" / "iamkeys").rglob("*.j2"))]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in places
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if MAKING_WORDS.search(line)]
    assert found == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_texts_name_things_by_what_they_are(name: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert not MAKING_WORDS.search(result.output), result.output
