"""Property tests for every validator: anything outside the rules raises InputError naming it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkeys import params
from iamkeys.errors import InputError

USER_NAME_OK = st.text(alphabet="ABCxyz019_+=,.@-", min_size=1, max_size=128)


@given(USER_NAME_OK)
def test_user_name_accepts_iam_pattern(value: str) -> None:
    assert params.user_name(value) == value


@given(st.text(min_size=0, max_size=300).filter(
    lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,128}", s)))
def test_user_name_refuses_everything_else(value: str) -> None:
    with pytest.raises(InputError) as e:
        params.user_name(value)
    assert e.value.parameter == "user_name"


@pytest.mark.parametrize("value", ["Alicé", "", "a" * 129, "a b", "a\nb", "a\x00", "Ａlice"])
def test_user_name_examples(value: str) -> None:
    with pytest.raises(InputError, match="user_name"):
        params.user_name(value)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1,
               max_size=320))
def test_marker_accepts_latin1_printable(value: str) -> None:
    assert params.marker(value) == value


@given(st.text(max_size=400).filter(lambda s: not re.fullmatch(r"[\u0020-\u00FF]{1,320}", s)))
def test_marker_refuses_everything_else(value: str) -> None:
    with pytest.raises(InputError) as e:
        params.marker(value)
    assert e.value.parameter == "marker"


@given(st.integers(min_value=1, max_value=1000))
def test_max_items_accepts_1_to_1000(value: int) -> None:
    assert params.max_items(value) == value
    assert params.max_items(str(value)) == value


@given(st.one_of(st.integers().filter(lambda i: not 1 <= i <= 1000),
                 st.text().filter(lambda s: not re.fullmatch(r"\s*\+?0*([1-9][0-9]{0,2}|1000)\s*",
                                                             s)),
                 st.booleans(), st.floats()))
def test_max_items_refuses_everything_else(value: object) -> None:
    with pytest.raises(InputError) as e:
        params.max_items(value)  # type: ignore[arg-type]
    assert e.value.parameter == "max_items"


@pytest.mark.parametrize(("value", "expected"), [
    ("us-east-1", ("us-east-1",)),
    (" us-east-1 , eu-west-2 ", ("us-east-1", "eu-west-2")),
    ("us-east-1,us-east-1", ("us-east-1",)),
    ("cn-north-1,us-gov-west-1", ("cn-north-1", "us-gov-west-1")),
])
def test_regions_lists(value: str, expected: tuple[str, ...]) -> None:
    spec = params.regions(value)
    assert spec is not None and spec.names == expected and not spec.all


def test_regions_star() -> None:
    assert params.regions("*") == params.RegionSpec(all=True)
    assert params.regions(" * ") == params.RegionSpec(all=True)


@given(st.text(max_size=60).filter(
    lambda s: s.strip() != "*" and not all(
        re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", p.strip()) for p in s.split(","))))
def test_regions_refuses_malformed(value: str) -> None:
    with pytest.raises(InputError) as e:
        params.regions(value)
    assert e.value.parameter == "regions"


@pytest.mark.parametrize("value", [
    "us-east-1.evil.com", "us-east-1/", "us-east-1@evil", "http://x", "us-east-1,", "*,us-east-1",
    "US-EAST-1", "us-east-1 eu-west-1", "../..", "localhost",
])
def test_regions_cannot_carry_a_host(value: str) -> None:
    with pytest.raises(InputError, match="regions"):
        params.regions(value)


@given(st.text(max_size=40))
def test_output_only_known_formats(value: str) -> None:
    if value in params.OUTPUT_FORMATS:
        assert params.output(value) == value
    else:
        with pytest.raises(InputError, match="output"):
            params.output(value)


@pytest.mark.parametrize("value", [
    "ftp://x", "http://", "localhost:80", "http://u:p@h", "http://h/?q=1", "http://h#f",
    "http://h:99999", "http://h\n", "javascript:alert(1)",
])
def test_endpoint_url_refuses(value: str) -> None:
    with pytest.raises(InputError, match="endpoint_url"):
        params.endpoint_url(value)


@pytest.mark.parametrize(("url", "warns"), [
    ("https://iam.example.com", False), ("http://127.0.0.1:5000", False),
    ("http://localhost:5000", False), ("http://[::1]:5000", False),
    ("http://10.0.0.5:5000", True), ("http://iam.example.com", True),
])
def test_endpoint_warning(url: str, warns: bool) -> None:
    assert params.endpoint_url(url) == url
    assert (params.endpoint_warning(url) is not None) is warns


@given(st.text(max_size=300).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@:/-]{1,128}", s)))
def test_profile_refuses(value: str) -> None:
    with pytest.raises(InputError, match="profile"):
        params.profile(value)


@pytest.mark.parametrize("value", [
    "a@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.org",
])
def test_email_address_accepts_plain(value: str) -> None:
    assert params.email_address(value, name="to") == value


@pytest.mark.parametrize("value", [
    "", "a", "@example.com", "a@", "a@b@c", '"a@b.com" <evil@x.com>', "Alice <a@b.com>",
    "a@b.com\r\nBcc: evil@x.com", "a@b.com\x00", "a b@c.com", "a@-b.com", "a..b@c.com",
    "a@b.com>", "а@example.com",  # Cyrillic a
])
def test_email_address_refuses(value: str) -> None:
    with pytest.raises(InputError, match="to"):
        params.email_address(value, name="to")


@given(st.text(max_size=60).filter(lambda s: "@" not in s or any(c in s for c in "<>\" \r\n\x00")))
def test_email_address_property(value: str) -> None:
    with pytest.raises(InputError):
        params.email_address(value, name="to")


def test_email_addresses_split_and_require() -> None:
    assert params.email_addresses("a@b.com,c@d.com", name="to") == ("a@b.com", "c@d.com")
    with pytest.raises(InputError, match="at least one"):
        params.email_addresses([], name="to", required=True)


@given(st.text(min_size=1, max_size=50).filter(lambda s: any(ord(c) < 32 or c == "\x7f"
                                                             for c in s)))
def test_header_text_refuses_control_characters(value: str) -> None:
    with pytest.raises(InputError, match="subject"):
        params.header_text(value, name="subject")


def test_header_text_limits() -> None:
    assert params.header_text("IAM keys ✓", name="subject") == "IAM keys ✓"
    with pytest.raises(InputError):
        params.header_text("x" * 999, name="subject")
    with pytest.raises(InputError):
        params.header_text("   ", name="subject")


@given(st.text(max_size=30).filter(lambda s: not re.fullmatch(r"\s*[0-9]{12}(\s*,\s*[0-9]{12})*\s*",
                                                              s)))
def test_account_ids_refuse(value: str) -> None:
    with pytest.raises(InputError, match="accounts"):
        params.account_ids(value)


@given(st.text(max_size=80).filter(lambda s: not re.fullmatch(r"/([\x21-\x7e]{0,510}/)?", s)))
def test_path_prefix_refuses(value: str) -> None:
    with pytest.raises(InputError, match="path_prefix"):
        params.path_prefix(value)


@given(st.text(max_size=80).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,64}", s)))
def test_role_name_refuses(value: str) -> None:
    with pytest.raises(InputError, match="role_name"):
        params.role_name(value)


@given(st.text(max_size=80).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_+=,.@:/-]{2,1224}", s)))
def test_external_id_refuses(value: str) -> None:
    with pytest.raises(InputError, match="external_id"):
        params.external_id(value)
