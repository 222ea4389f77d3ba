"""`inventory --owner-tag`: each key's owner from its user's tags (ListUserTags), on the emulator.

Users are tagged in the emulator with missing, invalid and mixed-case tags; tag pages are cut
to one tag so that every lookup paginates; an organization's owners span its accounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_runner import assert_one_line_error, iamkeys
from iamkeys import cli, params
from iamkeys.errors import InputError
from iamkeys.inventory import owner_of
from iamkeys.model import OWNER_NO_TAG, OWNER_NOT_EMAIL, OWNER_UNREAD, Tag
from test_inventory_org import MANAGEMENT, Organization, assumed_iam, organization  # noqa: F401

ACCOUNT = "123456789012"


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k.replace("_", "-"), "Value": v} for k, v in pairs.items()]


@pytest.fixture
def tagged(aws_env: Any) -> dict[str, list[str]]:
    """Users whose tags hold an owner, a wrong one, none, or several candidates."""
    made: dict[str, list[str]] = aws_env.bulk_create([
        {"name": "alice", "tags": tags(Owner="alice@example.com"), "keys": [{}, {}]},
        {"name": "bob", "tags": tags(team="red", owner=" bob@example.com "), "keys": [{}]},
        {"name": "carol", "tags": tags(OWNER="Carol from accounting"), "keys": [{}]},
        {"name": "dave", "tags": tags(team="blue"), "keys": [{}]},
        {"name": "erin", "keys": [{}]},
        # Both tags asked for: the first one given wins, wherever it sits among the user's tags.
        {"name": "frank", "tags": tags(contact="frank.b@example.com", a="1", b="2", c="3",
                                       Owner="frank@example.com"), "keys": [{}]},
        {"name": "gina", "tags": tags(contact="gina@example.com", owner="gina at example"),
         "keys": [{}]},
        {"name": "hank", "tags": tags(owner="hank@example.com")},  # no keys: never asked
    ])
    aws_env.reset(state=False)  # counters only
    aws_env.configure(page_cap={"ListUserTags": 1})
    return made


def owners(document: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {k["UserName"]: (k["Owner"], k["OwnerProblem"]) for k in document["Keys"]}


def test_owners_from_tags_first_match_wins_case_ignored(tagged: dict[str, list[str]],
                                                        aws_env: Any) -> None:
    result = iamkeys("inventory", "--owner-tag", "owner", "--owner-tag", "Contact")
    assert result.code == 0, result.stderr
    document = result.json()
    assert owners(document) == {
        "alice": ("alice@example.com", None),
        "bob": ("bob@example.com", None),
        "carol": (None, OWNER_NOT_EMAIL),
        "dave": (None, OWNER_NO_TAG),
        "erin": (None, OWNER_NO_TAG),
        "frank": ("frank@example.com", None),
        "gina": (None, OWNER_NOT_EMAIL),
    }
    assert len([k for k in document["Keys"] if k["UserName"] == "alice"]) == 2
    summary = document["Summary"]
    assert (summary["OwnerTags"], summary["Unowned"]) == (["owner", "Contact"], 4)
    first = document["Keys"][0]
    assert list(first)[-2:] == ["Owner", "OwnerProblem"]
    stats = aws_env.stats(log=True)
    # One user lookup per user with keys (not hank), each walking pages of one tag.
    asked = [e["params"]["UserName"] for e in stats["log"] if e["action"] == "ListUserTags"
             and "Marker" not in e["params"]]
    assert sorted(asked) == ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]
    frank_pages = [e for e in stats["log"] if e["action"] == "ListUserTags"
                   and e["params"]["UserName"] == "frank"]
    assert len(frank_pages) == 5


def test_the_order_given_decides_not_the_tags(tagged: dict[str, list[str]]) -> None:
    result = iamkeys("inventory", "--owner-tag", "CONTACT", "--owner-tag", "owner",
                     "--no-last-used")
    assert result.code == 0, result.stderr
    found = owners(result.json())
    assert (found["frank"], found["gina"]) == (("frank.b@example.com", None),
                                               ("gina@example.com", None))


def test_without_owner_tag_no_owner_is_looked_up(tagged: dict[str, list[str]],
                                                 aws_env: Any) -> None:
    result = iamkeys("inventory")
    assert result.code == 0, result.stderr
    document = result.json()
    assert all("Owner" not in k and "OwnerProblem" not in k for k in document["Keys"])
    assert "OwnerTags" not in document["Summary"] and "Unowned" not in document["Summary"]
    assert "ListUserTags" not in aws_env.stats()["by_action"]


def test_tags_that_cannot_be_read_are_an_error_not_no_tag(tagged: dict[str, list[str]],
                                                          aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListUserTags", "match": {"UserName": "bob"},
                               "kind": "access_denied", "message": "no tags for {user}"}])
    result = iamkeys("inventory", "--owner-tag", "owner")
    assert_one_line_error(result, 3, "1 item(s) could not be listed")
    document = result.json()
    assert document["Errors"] == [{"AccountId": ACCOUNT, "UserName": "bob", "AccessKeyId": None,
                                   "Operation": "ListUserTags", "Code": "AccessDenied",
                                   "Message": "no tags for bob"}]
    assert owners(document)["bob"] == (None, OWNER_UNREAD)
    assert owners(document)["alice"] == ("alice@example.com", None)
    assert [k["AccessKeyId"] for k in document["Keys"] if k["UserName"] == "bob"] == \
        tagged["bob"]  # its keys are still listed


def test_a_throttled_tag_lookup_is_retried(tagged: dict[str, list[str]], aws_env: Any) -> None:
    aws_env.configure(faults=[{"action": "ListUserTags", "kind": "throttle", "times": 4}])
    result = iamkeys("inventory", "--owner-tag", "owner")
    assert result.code == 0, result.stderr
    assert owners(result.json())["alice"] == ("alice@example.com", None)
    assert aws_env.stats()["faults_by_kind"] == {"throttle": 4}


def test_owners_across_an_organization(organization: Organization, aws_env: Any,  # noqa: F811
                                       iam: Any) -> None:
    first, second = organization.members[:2]
    for account, name in ((first, "m0-api-1"), (second, "m1-api-2")):
        assumed_iam(aws_env, account).tag_user(
            UserName=name, Tags=[{"Key": "Owner", "Value": "platform@example.com"}])
    iam.tag_user(UserName="admin", Tags=[{"Key": "owner", "Value": "root-team@example.com"}])
    result = iamkeys("inventory", "--organization", "--owner-tag", "owner", "--no-last-used")
    assert result.code == 0, result.stderr
    owned = {(k["AccountId"], k["UserName"]): k["Owner"] for k in result.json()["Keys"]
             if k["Owner"]}
    assert owned == {(first, "m0-api-1"): "platform@example.com",
                     (second, "m1-api-2"): "platform@example.com",
                     (MANAGEMENT, "admin"): "root-team@example.com"}
    keys = result.json()["Keys"]
    assert len(keys) == len(organization.keys)
    assert result.json()["Summary"]["Unowned"] == len(keys) - 1 - 1 - 2  # m1-api-2 has 2 keys


@pytest.mark.parametrize("value", ["", "tab\tkey", "x" * 129, "bad,comma", "ne\nw"])
def test_an_invalid_tag_key_is_exit_2_before_any_request(
        aws_env: Any, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inventory", "--owner-tag", value]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("Error: --owner-tag: ") and len(err.strip().splitlines()) == 1
    assert aws_env.stats()["total"] == 0


def test_more_than_ten_tag_keys_is_exit_2(aws_env: Any) -> None:
    args = [arg for i in range(11) for arg in ("--owner-tag", f"owner{i}")]
    result = iamkeys("inventory", *args)
    assert_one_line_error(result, 2, "--owner-tag: at most 10 tag keys")
    assert aws_env.stats()["total"] == 0


# --- the rule, as pure functions -------------------------------------------------------------


@pytest.mark.parametrize(("user_tags", "wanted", "expected"), [
    ([], ["owner"], (None, OWNER_NO_TAG)),
    ([Tag("Owner", "a@example.com")], ["owner"], ("a@example.com", None)),
    ([Tag("owner", "a@example.com")], ["OWNER"], ("a@example.com", None)),
    ([Tag("owner", "  a@example.com\t")], ["owner"], ("a@example.com", None)),
    ([Tag("owner", "Alice <a@example.com>")], ["owner"], (None, OWNER_NOT_EMAIL)),
    ([Tag("owner", "")], ["owner"], (None, OWNER_NOT_EMAIL)),
    ([Tag("b", "b@example.com"), Tag("a", "a@example.com")], ["a", "b"], ("a@example.com", None)),
    ([Tag("a", "nope"), Tag("b", "b@example.com")], ["a", "b"], (None, OWNER_NOT_EMAIL)),
    # Two keys differing only in case (IAM refuses it, other tools may not): the first listed.
    ([Tag("Owner", "x@example.com"), Tag("owner", "y@example.com")], ["OWNER"],
     ("x@example.com", None)),
])
def test_owner_of(user_tags: list[Tag], wanted: list[str],
                  expected: tuple[str | None, str | None]) -> None:
    assert owner_of(user_tags, wanted) == expected


tag_keys = st.text(alphabet=st.characters(categories=["L", "N", "Zs"],
                                          include_characters="_.:/=+-@"),
                   min_size=1, max_size=128)
NOT_IN_A_TAG_KEY = list(",;#!\"'<>?*&%$^()[]{}|\\~`\t\n\r\x00\x7f\u2028\u2029")


@given(st.lists(tag_keys, min_size=1, max_size=10))
def test_every_iam_shaped_tag_key_is_accepted_once_ignoring_case(keys: list[str]) -> None:
    checked = params.owner_tags(keys)
    assert [k.casefold() for k in checked] == list(dict.fromkeys(k.casefold() for k in keys))


@given(tag_keys, st.sampled_from(NOT_IN_A_TAG_KEY), st.integers(0, 128))
def test_anything_else_is_refused(key: str, bad: str, at: int) -> None:
    with pytest.raises(InputError) as caught:
        params.owner_tags([key[:at] + bad + key[at:]])
    assert caught.value.parameter == "owner_tag"


def test_owner_tags_from_a_workflow_value() -> None:
    assert params.owner_tags("owner") == ("owner",)
    assert params.owner_tags(None) == ()
    with pytest.raises(InputError):
        params.owner_tags(7)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        params.owner_tags([7])  # type: ignore[list-item]
