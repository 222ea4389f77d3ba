"""Hostile values for every option of `remediate` and `undo`: exit 2, one line naming the
option, no traceback, nothing on stdout, not one request at the emulator, no journal or plan
file written (the pattern of test_hostile.py, with its value strategies)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_hostile import (
    ARGV_TEXT,
    AWS_OPTIONS,
    OPTIONS,
    REGION,
    SETTINGS,
    Opt,
    assert_refused,
    bad_integers,
    inproc,
    not_blank,
    outside,
    pattern,
    with_control,
)
from test_hostile import hostile_env as hostile_env  # noqa: F401  (the fixture)

RULE_IDS = ("IAM.3", "IAM.22", "CIS.1.11")
NOT_A_FILE = (ARGV_TEXT.map(lambda v: "missing-dir/" + v.replace("/", "_"))
              | st.sampled_from(["/", ".", "/etc/hostname", "/dev/null", " "])
              | with_control("inventory.json"))
BAD_S3 = st.sampled_from(["s3://", "s3://A-Bucket/x", "s3://ab/x", "s3://bucket..x/p",
                          "s3://bucket/with space", "s3://bucket/\u00e9", "s3://-bucket/x",
                          "s3://" + "b" * 64 + "/x"])
FILE_OUT = (with_control("plan.json") | ARGV_TEXT.map(
    lambda v: "missing-dir/" + v.replace("/", "_")) | st.sampled_from(["/", "/tmp", ".", " "]))
SHARED = [o for o in OPTIONS if o.command == "inventory"
          and o.option not in ("--output", "--out")]
REMEDIATE = [
    *(Opt("remediate", o.option, o.bad, o.names) for o in SHARED),
    Opt("remediate", "--deactivate", ARGV_TEXT.filter(lambda v: not all(
        item.strip() in RULE_IDS for item in v.split(","))) | st.sampled_from(
        ["CIS.1.13", "IAM.3,IAM.4", "STALE_INACTIVE", "iam.3", "IAM.3,,IAM.22", ""])),
    Opt("remediate", "--delete-inactive-after", bad_integers(0, 36500, blank_ok=True)),
    Opt("remediate", "--grace", bad_integers(0, 36500, blank_ok=True)),
    Opt("remediate", "--exempt-tag", outside(not_blank(lambda v: re.fullmatch(
        r"[A-Za-z0-9 _.:/=+@-]{1,128}", v) is not None and not v.lower().startswith("aws:")),
        "team:exempt") | st.sampled_from(["aws:exempt", "AWS:x"])),
    Opt("remediate", "--max-actions", bad_integers(1, 10000, blank_ok=True)),
    # Blank text is "not given" (a template that rendered nothing), as for the inventory's.
    Opt("remediate", "--journal", (FILE_OUT | BAD_S3).filter(lambda v: v.strip() != "")),
    Opt("remediate", "--plan-out", FILE_OUT),
    Opt("remediate", "--output", outside(lambda v: v in ("json", "table", "html"), "table")),
    Opt("remediate", "--from", NOT_A_FILE),
    Opt("remediate", "--plan", NOT_A_FILE),
]
UNDO = [
    Opt("undo", "JOURNAL", FILE_OUT | BAD_S3, names=("Error: --journal: ",)),
    Opt("undo", "--run", outside(not_blank(pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")),
                                 "20261129T000000Z-ab12cd34")),
    Opt("undo", "--max-actions", bad_integers(1, 10000, blank_ok=True)),
    Opt("undo", "--concurrency", bad_integers(1, 256, blank_ok=True)),
    Opt("undo", "--role-name", outside(not_blank(pattern(r"[A-Za-z0-9_+=,.@-]{1,64}")),
                                       "Audit")),
    Opt("undo", "--external-id", outside(not_blank(pattern(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")),
                                         "ext-42")),
    Opt("undo", "--output", outside(lambda v: v in ("json", "table", "html"), "html")),
    Opt("undo", "--plan-out", FILE_OUT),
    Opt("undo", "--region", REGION),
    *(Opt("undo", option, bad) for option, bad in AWS_OPTIONS),
]


def argv(opt: Opt, value: str) -> list[str]:
    """The command with valid values for everything but the option under test."""
    if opt.command == "undo":
        journal = value if opt.option == "JOURNAL" else "journal.jsonl"
        rest = [] if opt.option == "JOURNAL" else [f"{opt.option}={value}"]
        return ["undo", journal, *rest]
    base = [] if opt.option in ("--deactivate", "--plan") else ["--deactivate=IAM.3"]
    return ["remediate", *base, f"{opt.option}={value}", "--apply"]


@pytest.mark.parametrize("opt", REMEDIATE + UNDO, ids=[o.id for o in REMEDIATE + UNDO])
def test_every_option_refuses_values_outside_its_rule(
        opt: Opt, hostile_env: Path, aws_env: Any,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    @SETTINGS
    @given(value=opt.bad)
    def check(value: str) -> None:
        aws_env.reset(state=False)
        result = inproc(capsys, argv(opt, value))
        assert_refused(result, *(opt.names or (f"Error: {opt.option}: ",)))
        assert aws_env.stats()["total"] == 0
        leftovers = {p.name for p in Path.cwd().iterdir()} - {"aws_config", "aws_credentials"}
        assert not leftovers, leftovers

    check()


@pytest.mark.parametrize(("args", "needle"), [
    (["remediate"], "Error: --deactivate: nothing to do"),
    (["remediate", "--delete-inactive-after", "3", "--plan", "p.json"], "Error: --plan: "),
    (["remediate", "--deactivate", "IAM.3", "--apply=yes"], "Error: Option '--apply' does not "
                                                            "take a value."),
], ids=["nothing to do", "plan and policy", "apply takes no value"])
def test_combinations_outside_the_rules(args: list[str], needle: str, hostile_env: Path,  # noqa: F811
                                        aws_env: Any, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    aws_env.reset(state=False)
    result = inproc(capsys, args)
    assert_refused(result, needle)
    assert aws_env.stats()["total"] == 0


def test_a_saved_plan_refuses_the_policy_options(hostile_env: Path, aws_env: Any,  # noqa: F811
                                                 capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    from estate import NOW
    from iamkeys import serialize
    from iamkeys.model import RemediationPlan, RemediationPolicy

    plan = RemediationPlan(plan_id="p1", actions=(), skipped=(), policy=RemediationPolicy(),
                           generated_at=NOW, caller_arn="arn", journal="j")
    (tmp_path / "p.json").write_text(serialize.dumps(serialize.plan(plan)))
    for option in ("--deactivate=IAM.3", "--grace=3", "--exempt-tag=x", "--accounts="
                   "111122223333", "--no-last-used", "--max-unused=3"):
        aws_env.reset(state=False)
        result = inproc(capsys, ["remediate", "--plan", "p.json", option])
        name = option.split("=")[0]
        assert_refused(result, f"Error: {name}: cannot be combined with a saved plan (--plan)")
        assert aws_env.stats()["total"] == 0
