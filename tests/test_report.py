"""The inventory's HTML report: self-contained, escaped, one row per key, sorted by risk."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from iamkeys import findings, serialize
from iamkeys.documents import inventory as inventory_from_json
from iamkeys.findings import Thresholds
from iamkeys.model import (
    AccountScan,
    DeletedDuringRun,
    Inventory,
    InventoryError,
    InventoryKey,
    LastUsed,
)
from iamkeys.render.report import report_html, sections

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LIMITS = Thresholds()
HOSTILE = '<script>alert("x")</script>&"\'><img src=http://evil.example/x.png>'
QUIET, LOUD = "111111111111", "222222222222"


def key(account: str, user: str, key_id: str, *, age: int, status: str = "Active",
        used_days_ago: int | None = 1, user_age: int = 500) -> InventoryKey:
    last = LastUsed(NOW - used_days_ago * DAY, "s3", "eu-west-1") if used_days_ago is not None \
        else LastUsed(None, None, None)
    return InventoryKey(account_id=account, user_name=user,
                        user_create_date=NOW - user_age * DAY, access_key_id=key_id,
                        status=status, create_date=NOW - age * DAY, last_used=last)


def sample() -> Inventory:
    """Two accounts: a quiet one with a fresh key, a loud one with keys at every risk."""
    users = [
        [key(QUIET, "fresh", "AKIAQUIET00000000001", age=3)],
        [key(LOUD, "b-rotated-late", "AKIALOUD00000000001", age=100)],  # IAM.3
        [key(LOUD, "c-old-unused", "AKIALOUD00000000002", age=300,
             used_days_ago=None)],  # IAM.3 + IAM.22
        [key(LOUD, "a-stale", "AKIALOUD00000000003", age=60, status="Inactive")],  # STALE
        [key(LOUD, "d-fine", "AKIALOUD00000000004", age=10)],
        [key(LOUD, HOSTILE, "AKIALOUD00000000005", age=20)],
    ]
    keys = tuple(k for user in users for k in findings.assess_user(user, LIMITS, NOW))
    root = findings.root_access_keys(AccountScan(LOUD, root_keys_present=True), NOW)
    assert root is not None
    return Inventory(
        keys=tuple(sorted(keys, key=lambda k: (k.account_id, k.user_name))),
        errors=(InventoryError(LOUD, "gone-wrong", "ListAccessKeys", "AccessDenied", HOSTILE),),
        deleted=(DeletedDuringRun(LOUD, "left-meanwhile"),),
        accounts=(AccountScan(QUIET, users=1, root_keys_present=False, listed=True),
                  AccountScan(LOUD, users=6, root_keys_present=True, listed=True)),
        account_findings=(root,),
        generated_at=NOW,
        thresholds=LIMITS,
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parsed(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    elements.close()
    return elements


@pytest.fixture(scope="module")
def page() -> str:
    return report_html(sample())


def test_self_contained(page: str) -> None:
    elements = parsed(page)
    tags = {tag for tag, _ in elements.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    for _, attrs in elements.tags:
        assert not {"src", "href", "srcset", "action", "poster", "data"} & set(attrs)
        assert not any(name.startswith("on") for name in attrs)
    css = "".join(elements.styles) + " ".join(str(a.get("style", "")) for _, a in elements.tags)
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert not re.search(r"https?://", page.replace("http://evil.example", ""))
    csp = [a for t, a in elements.tags if t == "meta" and a.get("http-equiv")]
    assert csp == [{"http-equiv": "Content-Security-Policy",
                    "content": "default-src 'none'; style-src 'unsafe-inline'"}]


def test_hostile_text_is_escaped(page: str) -> None:
    assert "<script" not in page and "<img" not in page
    escaped = ("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#34;&#39;&gt;"
               "&lt;img src=http://evil.example/x.png&gt;")
    assert page.count(escaped) == 2  # the user name, and the error message
    # Inside an attribute too: the reason of a finding on a hostile user's key stays quoted.
    for tag, attrs in parsed(page).tags:
        if tag == "tr":
            assert set(attrs) <= {"class", "data-key"}


def test_a_row_per_key_sorted_by_risk_in_each_account(page: str) -> None:
    rows = re.findall(r'data-key="(AKIA\w+)"', page)
    assert rows == [
        "AKIALOUD00000000002",  # IAM.3 + IAM.22 (two severity-3 findings)
        "AKIALOUD00000000001",  # IAM.3
        "AKIALOUD00000000003",  # STALE_INACTIVE
        "AKIALOUD00000000005",  # no finding, 20 days
        "AKIALOUD00000000004",  # no finding, 10 days
        "AKIAQUIET00000000001",
    ]
    assert [s.account_id for s in sections(sample())] == [LOUD, QUIET]  # riskiest first


def test_summary_badges_and_age(page: str) -> None:
    text = re.sub(r"<[^>]+>", " ", page)
    text = " ".join(text.split())
    assert "2 accounts 7 users 6 keys 5 active 1 inactive 5 findings 1 errors" in text
    assert "Incomplete: 1 error(s)" in text
    assert "IAM.4 root user has access keys: 1" in text
    assert "Deleted during the run: left-meanwhile (222222222222)" in text
    reason = "active key is 300 days old (limit 90)"
    assert f'<span class="badge high" title="{reason}">IAM.3</span> ' \
           f'<span class="reason">{reason}</span>' in page
    # Age: a bar (width of 2 x the limit) and the number.
    assert '<span class="over" style="width: 100%"></span></span>300</td>' in page
    assert '<span class="near" style="width: 56%"></span></span>100</td>' not in page
    assert '<span class="over" style="width: 56%"></span></span>100</td>' in page
    assert '<span class="fine" style="width: 6%"></span></span>10</td>' in page
    assert "root user has access keys: yes" in text and "never" in text


def test_renders_from_json_the_same(page: str) -> None:
    document = serialize.inventory(sample())
    assert report_html(inventory_from_json(document)) == page


def test_empty_inventory_says_so() -> None:
    empty = Inventory(keys=(), errors=(), deleted=(),
                      accounts=(AccountScan(QUIET, users=0, root_keys_present=False,
                                            listed=True),),
                      account_findings=(), generated_at=NOW, thresholds=LIMITS)
    page = report_html(empty)
    assert "No access keys." in page and "Complete: every user" in page
    assert 'class="key' not in page


@pytest.mark.parametrize("document", [{"Keys": "nope"}, {"Summary": {}}])
def test_json_that_is_not_an_inventory_is_refused(document: dict[str, Any]) -> None:
    from iamkeys.errors import InputError

    with pytest.raises(InputError, match="not an iamkeys result"):
        inventory_from_json(document)
