"""The hygiene rules as pure functions, each at and around its threshold, with `now` injected.

Also the inventory's validators (hypothesis), its request, and the JSON round trip.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkeys import documents, findings, params, serialize
from iamkeys.errors import InputError
from iamkeys.findings import Thresholds, age_days
from iamkeys.inventory import InventoryRequest
from iamkeys.model import (
    AccountFinding,
    AccountScan,
    DeletedDuringRun,
    Finding,
    Inventory,
    InventoryError,
    InventoryKey,
    LastUsed,
)

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
LIMITS = Thresholds(max_key_age=90, max_unused=45, max_inactive=30)
DAY = timedelta(days=1)
NEVER = LastUsed(date=None, service=None, region=None)


def key(*, age: timedelta = DAY, status: str = "Active", used: LastUsed | None = NEVER,
        user_age: timedelta | None = None, name: str = "alice",
        key_id: str = "AKIAAAAAAAAAAAAAAAAA") -> InventoryKey:
    """A key created `age` before NOW, its user `user_age` before NOW (default: a year)."""
    created = NOW - age
    return InventoryKey(account_id="123456789012", user_name=name,
                        user_create_date=NOW - (user_age or timedelta(days=365)),
                        access_key_id=key_id, status=status, create_date=created,
                        last_used=used)


def used(ago: timedelta) -> LastUsed:
    return LastUsed(date=NOW - ago, service="s3", region="eu-west-1")


# --- age: whole days, floor ----------------------------------------------------------------


@pytest.mark.parametrize(("elapsed", "days"), [
    (timedelta(0), 0),
    (timedelta(hours=23, minutes=59, seconds=59), 0),
    (DAY, 1),
    (90 * DAY + timedelta(hours=23), 90),
    (91 * DAY, 91),
    (-DAY, 0),  # created "in the future" (clock skew): never negative
])
def test_age_days_is_whole_days_elapsed(elapsed: timedelta, days: int) -> None:
    assert age_days(NOW - elapsed, NOW) == days


# --- IAM.3 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "fires"), [(89, False), (90, False), (91, True)])
def test_old_active_key_fires_only_past_max_key_age(days: int, fires: bool) -> None:
    found = findings.old_active_key(key(age=days * DAY + timedelta(hours=5)), LIMITS, NOW)
    if fires:
        assert found == Finding("IAM.3", f"active key is {days} days old (limit 90)")
    else:
        assert found is None


def test_old_inactive_key_is_not_iam3() -> None:
    assert findings.old_active_key(key(age=400 * DAY, status="Inactive"), LIMITS, NOW) is None


def test_max_key_age_is_configurable() -> None:
    found = findings.old_active_key(key(age=8 * DAY), Thresholds(max_key_age=7), NOW)
    assert found == Finding("IAM.3", "active key is 8 days old (limit 7)")


# --- IAM.22 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "fires"), [(44, False), (45, False), (46, True)])
def test_unused_active_key_counts_from_last_use(days: int, fires: bool) -> None:
    found = findings.unused_active_key(key(age=400 * DAY, used=used(days * DAY)), LIMITS, NOW)
    if fires:
        assert found == Finding("IAM.22", f"active key last used {days} days ago (limit 45)")
    else:
        assert found is None


@pytest.mark.parametrize(("days", "fires"), [(44, False), (45, False), (46, True)])
def test_never_used_key_counts_from_creation(days: int, fires: bool) -> None:
    found = findings.unused_active_key(key(age=days * DAY), LIMITS, NOW)
    if fires:
        assert found == Finding("IAM.22", f"active key never used in the {days} days since "
                                          "its creation (limit 45)")
    else:
        assert found is None


def test_unused_rule_needs_last_use_and_an_active_key() -> None:
    assert findings.unused_active_key(key(age=400 * DAY, used=None), LIMITS, NOW) is None
    assert findings.unused_active_key(key(age=400 * DAY, status="Inactive"), LIMITS, NOW) is None


# --- CIS.1.13 --------------------------------------------------------------------------------


@pytest.mark.parametrize(("active", "fires"), [(1, False), (2, True)])
def test_several_active_keys(active: int, fires: bool) -> None:
    found = findings.several_active_keys(key(), active)
    assert found == (Finding("CIS.1.13", "user has 2 active keys (limit 1)") if fires else None)


def test_several_active_keys_flags_each_active_key_only() -> None:
    keys = [key(key_id="AKIA1111111111111111"), key(key_id="AKIA2222222222222222"),
            key(key_id="AKIA3333333333333333", status="Inactive")]
    assessed = findings.assess_user(keys, LIMITS, NOW)
    assert [[f.rule for f in k.findings if f.rule == "CIS.1.13"] for k in assessed] == [
        ["CIS.1.13"], ["CIS.1.13"], []]


# --- CIS.1.11 --------------------------------------------------------------------------------


@pytest.mark.parametrize(("after", "fires"), [
    (timedelta(0), True),
    (timedelta(minutes=9, seconds=59), True),
    (timedelta(minutes=10), True),
    (timedelta(minutes=10, seconds=1), False),
])
def test_key_at_user_setup_window(after: timedelta, fires: bool) -> None:
    user_age = 2 * DAY
    made = key(age=user_age - after, user_age=user_age)
    found = findings.key_at_user_setup(made)
    if fires:
        seconds = int(after.total_seconds())
        assert found == Finding("CIS.1.11", f"key created {seconds // 60}m{seconds % 60:02d}s "
                                            "after its user (window 10m) and never used")
    else:
        assert found is None


def test_key_at_user_setup_needs_never_used_active_key() -> None:
    made = {"age": 2 * DAY, "user_age": 2 * DAY}
    assert findings.key_at_user_setup(key(**made, used=used(DAY))) is None  # type: ignore[arg-type]
    assert findings.key_at_user_setup(key(**made, used=None)) is None  # type: ignore[arg-type]
    assert findings.key_at_user_setup(
        key(**made, status="Inactive")) is None  # type: ignore[arg-type]


# --- STALE_INACTIVE --------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "fires"), [(29, False), (30, False), (31, True)])
def test_stale_inactive_key(days: int, fires: bool) -> None:
    found = findings.stale_inactive_key(key(age=days * DAY, status="Inactive"), LIMITS, NOW)
    if fires:
        assert found == Finding("STALE_INACTIVE",
                                f"inactive key kept {days} days after creation (limit 30)")
    else:
        assert found is None


def test_stale_inactive_ignores_active_keys() -> None:
    assert findings.stale_inactive_key(key(age=400 * DAY), LIMITS, NOW) is None


def test_one_day_is_singular() -> None:
    found = findings.stale_inactive_key(key(age=DAY, status="Inactive"),
                                        Thresholds(max_inactive=0), NOW)
    assert found is not None and found.reason == "inactive key kept 1 day after creation (limit 0)"


# --- IAM.4 and the whole --------------------------------------------------------------------


@pytest.mark.parametrize(("present", "fires"), [(True, True), (False, False), (None, False)])
def test_root_access_keys(present: bool | None, fires: bool) -> None:
    found = findings.root_access_keys(AccountScan("111122223333", root_keys_present=present), NOW)
    expected = AccountFinding("111122223333", Finding(
        "IAM.4", "the root user has access keys (AccountAccessKeysPresent = 1)", since=NOW))
    assert found == (expected if fires else None)


def test_key_findings_in_rule_order() -> None:
    old_unused = key(age=200 * DAY, user_age=200 * DAY)
    assessed = findings.assess_user([old_unused, key(key_id="AKIA2222222222222222")], LIMITS, NOW)
    assert [f.rule for f in assessed[0].findings] == ["IAM.3", "IAM.22", "CIS.1.13", "CIS.1.11"]
    assert [f.rule for f in assessed[1].findings] == ["CIS.1.13"]


def test_count_by_rule_lists_every_rule() -> None:
    assessed = findings.assess_user([key(age=200 * DAY)], LIMITS, NOW)
    root = findings.root_access_keys(AccountScan("111122223333", root_keys_present=True), NOW)
    assert root is not None
    assert findings.count_by_rule(assessed, [root]) == {
        "IAM.4": 1, "IAM.3": 1, "IAM.22": 1, "CIS.1.13": 0, "CIS.1.11": 0, "STALE_INACTIVE": 0}


def test_risk_orders_by_severity_then_findings_then_age() -> None:
    plain_old = key(age=80 * DAY, used=used(DAY))
    unused = key(age=50 * DAY)  # IAM.22 (3)
    rotated_late = key(age=100 * DAY, used=used(DAY))  # IAM.3 (3)
    both = key(age=120 * DAY)  # IAM.3 + IAM.22
    stale = key(age=60 * DAY, status="Inactive")  # STALE_INACTIVE (1)
    keys = {"plain_old": plain_old, "unused": unused, "rotated_late": rotated_late,
            "both": both, "stale": stale}
    assessed = {name: findings.assess_user([k], LIMITS, NOW)[0] for name, k in keys.items()}
    ranked = sorted(assessed, key=lambda name: findings.risk(assessed[name], NOW))
    assert ranked == ["both", "rotated_late", "unused", "stale", "plain_old"]


# --- validators (hypothesis) -----------------------------------------------------------------


@given(st.integers(min_value=1, max_value=256))
def test_concurrency_accepts_1_to_256(value: int) -> None:
    assert params.concurrency(value) == value
    assert params.concurrency(str(value)) == value


CONCURRENCY_TEXT = re.compile(r"\s*\+?0*([1-9]\d?|1\d\d|2[0-4]\d|25[0-6])\s*")


@given(st.one_of(st.integers().filter(lambda n: not 1 <= n <= 256),
                 st.text().filter(lambda s: not CONCURRENCY_TEXT.fullmatch(s)),
                 st.booleans(), st.floats()))
def test_concurrency_refuses_everything_else(value: object) -> None:
    with pytest.raises(InputError) as e:
        params.concurrency(value)  # type: ignore[arg-type]
    assert e.value.parameter == "concurrency"


@given(st.integers(min_value=0, max_value=36_500))
def test_days_accepts_0_to_36500(value: int) -> None:
    assert params.days(value, name="max_key_age", default=90) == value
    assert params.days(str(value), name="max_key_age", default=90) == value


@pytest.mark.parametrize("name", ["max_key_age", "max_unused", "max_inactive"])
@given(value=st.one_of(st.integers().filter(lambda n: not 0 <= n <= 36_500),
                       st.text().filter(lambda s: not re.fullmatch(r"\s*\+?\d{1,5}\s*", s)),
                       st.booleans(), st.floats()))
def test_days_refuses_everything_else(name: str, value: object) -> None:
    with pytest.raises(InputError) as e:
        params.days(value, name=name, default=1)  # type: ignore[arg-type]
    assert e.value.parameter == name


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("true", True), ("False", False), (" yes ", True),
    ("no", False), ("on", True), ("off", False), ("1", True), ("0", False), (None, False)])
def test_flag_values(value: object, expected: bool) -> None:
    assert params.flag(value, name="organization") is expected  # type: ignore[arg-type]


@given(st.one_of(st.text().filter(
    lambda s: s.strip().lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0")),
    st.integers(), st.floats(), st.lists(st.booleans())))
def test_flag_refuses_everything_else(value: object) -> None:
    with pytest.raises(InputError) as e:
        params.flag(value, name="last_used")  # type: ignore[arg-type]
    assert e.value.parameter == "last_used"


@given(st.text().filter(lambda s: not re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", s)))
def test_region_refuses_non_region_names(value: str) -> None:
    with pytest.raises(InputError) as e:
        params.region(value)
    assert e.value.parameter == "region"


@given(st.text(min_size=1).filter(lambda s: bool(re.search(r"[\x00-\x1f\x7f]", s))))
def test_output_file_refuses_control_characters(value: str) -> None:
    with pytest.raises(InputError) as e:
        params.output_file(value)
    assert e.value.parameter == "out"


def test_output_file_needs_an_existing_directory(tmp_path: Path) -> None:
    assert params.output_file(str(tmp_path / "report.html")) == str(tmp_path / "report.html")
    for bad in (str(tmp_path), str(tmp_path / "missing" / "report.html"), "", "   "):
        with pytest.raises(InputError, match="out"):
            params.output_file(bad)


# --- the request -----------------------------------------------------------------------------


def test_request_defaults() -> None:
    request = InventoryRequest.build()
    assert request == InventoryRequest(accounts=(), organization=False,
                                       role_name="OrganizationAccountAccessRole",
                                       external_id=None, path_prefix=None, last_used=True,
                                       concurrency=64, thresholds=Thresholds(90, 45, 30))


def test_request_from_template_strings() -> None:
    request = InventoryRequest.build(
        accounts="111122223333, 444455556666", organization="false", role_name="Audit",
        external_id="", path_prefix="/ops/", last_used="no", concurrency="8",
        max_key_age="180", max_unused="60", max_inactive="0")
    assert request.accounts == ("111122223333", "444455556666")
    assert (request.organization, request.last_used, request.concurrency) == (False, False, 8)
    assert (request.role_name, request.external_id, request.path_prefix) == (
        "Audit", None, "/ops/")
    assert request.thresholds == Thresholds(180, 60, 0)


@pytest.mark.parametrize(("raw", "parameter"), [
    ({"accounts": "12345"}, "accounts"),
    ({"accounts": "111122223333", "organization": True}, "accounts"),
    ({"organization": "maybe"}, "organization"),
    ({"role_name": "bad role"}, "role_name"),
    ({"external_id": "x"}, "external_id"),
    ({"path_prefix": "ops"}, "path_prefix"),
    ({"last_used": "perhaps"}, "last_used"),
    ({"concurrency": 0}, "concurrency"),
    ({"concurrency": "257"}, "concurrency"),
    ({"max_key_age": -1}, "max_key_age"),
    ({"max_unused": "forty"}, "max_unused"),
    ({"max_inactive": 36_501}, "max_inactive"),
])
def test_request_refuses_each_bad_value(raw: dict[str, object], parameter: str) -> None:
    with pytest.raises(InputError) as e:
        InventoryRequest.build(**raw)  # type: ignore[arg-type]
    assert e.value.parameter == parameter


# --- the JSON round trip ---------------------------------------------------------------------


def sample_inventory() -> Inventory:
    keys = findings.assess_user([
        key(age=200 * DAY, name="alice", key_id="AKIA1111111111111111"),
        key(age=3 * DAY, name="alice", key_id="AKIA2222222222222222", used=used(DAY)),
    ], LIMITS, NOW) + findings.assess_user([
        key(age=40 * DAY, status="Inactive", name="bob", key_id="AKIA3333333333333333",
            used=None),
    ], LIMITS, NOW)
    root = findings.root_access_keys(AccountScan("123456789012", root_keys_present=True), NOW)
    assert root is not None
    return Inventory(
        keys=keys,
        errors=(InventoryError("123456789012", "bob", "GetAccessKeyLastUsed", "ServiceFailure",
                               "internal error", "AKIA3333333333333333"),
                InventoryError("444455556666", None, "AssumeRole", "AccessDenied", "no")),
        deleted=(DeletedDuringRun("123456789012", "carol"),),
        accounts=(AccountScan("123456789012", users=3, root_keys_present=True, listed=True),
                  AccountScan("444455556666")),
        account_findings=(root,),
        generated_at=NOW,
        thresholds=LIMITS,
    )


def test_json_round_trip_is_exact() -> None:
    inv = sample_inventory()
    document = serialize.inventory(inv)
    assert documents.inventory(document) == inv
    assert document["Keys"][2]["LastUsedDate"] is None  # the failed lookup
    assert document["Summary"]["Complete"] is False
    assert document["Summary"]["FindingsByRule"] == {
        "IAM.4": 1, "IAM.3": 1, "IAM.22": 1, "CIS.1.13": 2, "CIS.1.11": 0, "STALE_INACTIVE": 1}


def test_json_round_trip_without_last_used() -> None:
    inv = sample_inventory()
    unchecked = Inventory(
        keys=tuple(InventoryKey(k.account_id, k.user_name, k.user_create_date, k.access_key_id,
                                k.status, k.create_date, None, k.findings) for k in inv.keys),
        errors=(), deleted=(), accounts=inv.accounts, account_findings=(),
        generated_at=NOW, thresholds=LIMITS, last_used_checked=False)
    assert documents.inventory(serialize.inventory(unchecked)) == unchecked


@pytest.mark.parametrize("document", [
    [], {}, {"Keys": {}, "Summary": {}}, {"Keys": [], "Summary": []},
    {"Keys": [], "Summary": {"Thresholds": {}}},
    {"Keys": [1], "Summary": {"GeneratedAt": "2026-01-01T00:00:00Z",
                              "Thresholds": {"MaxKeyAge": 1, "MaxUnused": 1, "MaxInactive": 1}}},
])
def test_parsing_refuses_what_is_not_an_inventory(document: object) -> None:
    with pytest.raises(InputError, match="not an iamkeys result"):
        documents.inventory(document)  # type: ignore[arg-type]


def test_parsing_refuses_a_bad_date() -> None:
    document = serialize.inventory(sample_inventory())
    document["Keys"][0]["CreateDate"] = "yesterday"
    with pytest.raises(InputError, match=r"Keys\[0\]\.CreateDate must be an ISO 8601 timestamp"):
        documents.inventory(document)
