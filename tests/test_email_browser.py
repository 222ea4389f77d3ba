"""The HTML body in a real browser: headless Chromium at 800 px wide never scrolls sideways, and
reads right with the styles a client may drop.

A probe script appended to the rendered body writes the document's scroll width (and the number
of resources the page loaded) into the DOM, which `--dump-dom` prints; another writes the page's
innerText, which is what a reader sees once the styles are gone (Outlook for Windows and the
Gmail app with non-Google accounts drop <style> blocks). Set IAMKEYS_UPDATE_DOCS=1 to refresh
docs/email-800px.png and docs/email-inventory-800px.png from the screenshots these tests take.
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iamkeys.mail import build_message
from mail_samples import (
    EMPTY,
    HOSTILE,
    INVENTORY,
    LONG_NAME,
    NOW,
    PARTITIONS,
    REALISTIC,
    inventory_of,
    key,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 800
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars")
PROBE = """<script>
document.body.insertAdjacentHTML("beforeend", "<p id=probe" +
  " data-scroll-width=" + document.documentElement.scrollWidth +
  " data-content-height=" + Math.ceil(document.body.getBoundingClientRect().height) +
  " data-resources=" + performance.getEntriesByType("resource").length + "></p>");
</script>"""
DOCS = Path(__file__).resolve().parents[1] / "docs"
TEXT_PROBE = """<script>
document.documentElement.setAttribute("data-inner-text", document.body.innerText);
</script>"""
SCREENSHOT_NOW = datetime(2025, 6, 2, 7, 30, tzinfo=UTC)
# The documented screenshot: fixed dates, so that it only changes when the template does.
SCREENSHOT = {"AccessKeyMetadata": [
    {"AccessKeyId": id_, "CreateDate": created, "Status": status, "UserName": user}
    for user, id_, created, status in [
        ("Alice", "AKIA111111111EXAMPLE", "2016-12-01T22:19:58Z", "Active"),
        ("Alice", "AKIA222222222EXAMPLE", "2025-04-18T09:12:40Z", "Inactive"),
        ("bob.smith@example.com", "AKIA333333333EXAMPLE", "2024-04-28T16:03:11Z", "Inactive"),
        ("carol", "AKIA444444444EXAMPLE", "2025-05-21T08:45:00Z", "Active"),
        (LONG_NAME, "AKIA555555555EXAMPLE", "2025-03-02T11:30:00Z", "Active"),
        ("deploy-bot+ci=prod,eu", "AKIA666666666EXAMPLE", "2025-03-05T06:00:00Z", "Active"),
    ]], "IsTruncated": False}

# The widest content a result can hold: a 128-character user name with no break opportunity
# (IAM allows it), and a 998-character subject without spaces.
UNBREAKABLE = {"AccessKeyMetadata": [key("A" * 128, "AKIA111111111EXAMPLE", 400, "Inactive"),
                                     key("b" * 64 + "@" + "c" * 63, "AKIA222222222EXAMPLE", 3)],
               "IsTruncated": True, "Marker": "m" * 320}



def shifted(document: Any, by: Any) -> Any:
    """`document` with every timestamp moved by `by` (a timedelta): a fixed-date copy."""
    if isinstance(document, dict):
        return {k: shifted(v, by) for k, v in document.items()}
    if isinstance(document, list):
        return [shifted(v, by) for v in document]
    if isinstance(document, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document):
        moved = datetime.strptime(document, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + by
        return moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    return document


SCREENSHOT_INVENTORY = shifted(INVENTORY, SCREENSHOT_NOW - NOW)
UNBREAKABLE_INVENTORY = json.loads(json.dumps(INVENTORY))
UNBREAKABLE_INVENTORY["Keys"][0]["UserName"] = "A" * 128
UNBREAKABLE_INVENTORY["Errors"][0]["Message"] = "M" * 400


@pytest.fixture(scope="module")
def chromium() -> Path:
    """The browser, or a skip saying how to get it."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    return CHROMIUM


def html_of(document: Any, **kwargs: Any) -> str:
    """The HTML body of the message for `document`."""
    body = build_message(document, to="secops@example.com", **kwargs).get_body(("html",))
    assert body is not None
    return str(body.get_content())


def run_chromium(chromium: Path, tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with a throwaway profile; its stdout."""
    done = subprocess.run([str(chromium), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def measure(chromium: Path, tmp_path: Path, html: str) -> dict[str, int]:
    """Scroll width, content height and resources loaded, for `html` in an 800 px window."""
    # The inventory report forbids scripts (a CSP meta tag); the copy measured goes without it.
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(chromium, tmp_path, f"--window-size={WIDTH},900", "--dump-dom",
                       page.as_uri())
    found = re.search(r'<p id="probe" data-scroll-width="(\d+)" data-content-height="(\d+)" '
                      r'data-resources="(\d+)">', dom)
    assert found, dom[-2000:]
    width, height, resources = map(int, found.groups())
    return {"width": width, "height": height, "resources": resources}


def test_the_probe_sees_horizontal_scrolling(chromium: Path, tmp_path: Path) -> None:
    wide = '<html><body><div style="width:1200px">wide</div></body></html>'
    assert measure(chromium, tmp_path, wide)["width"] > WIDTH


@pytest.mark.parametrize("name, document, subject", [
    ("listing", REALISTIC, None),
    ("inventory", INVENTORY, None),
    ("partitions", PARTITIONS, None),
    ("hostile", HOSTILE, None),
    ("empty", EMPTY, None),
    ("unbreakable", UNBREAKABLE, "S" * 998),
    ("unbreakable inventory", UNBREAKABLE_INVENTORY, None),
])
def test_fits_800_px_without_horizontal_scrolling(chromium: Path, tmp_path: Path, name: str,
                                                  document: Any, subject: str | None) -> None:
    seen = measure(chromium, tmp_path, html_of(document, subject=subject))
    assert seen["width"] <= WIDTH, (name, seen)
    assert seen["resources"] == 0, (name, seen)


@pytest.mark.parametrize("document, name", [(SCREENSHOT, "email-800px.png"),
                                            (SCREENSHOT_INVENTORY, "email-inventory-800px.png")])
def test_screenshot(chromium: Path, tmp_path: Path, document: Any, name: str) -> None:
    html = html_of(document, now=SCREENSHOT_NOW)
    height = measure(chromium, tmp_path, html)["height"]
    page = tmp_path / "email.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / name
    run_chromium(chromium, tmp_path, f"--window-size={WIDTH},{height}",
                 f"--screenshot={shot}", page.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (WIDTH, height)
    if os.environ.get("IAMKEYS_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / name)


# --- read without styles -----------------------------------------------------------------------


def without_style_blocks(html: str) -> str:
    """What Outlook for Windows keeps: every <style> block removed."""
    return re.sub(r"(?is)<style\b.*?</style>", "", html)


def without_any_css(html: str) -> str:
    """What a client ignoring CSS altogether shows: no <style> block, no style attribute."""
    return re.sub(r'(?i)\sstyle="[^"]*"', "", without_style_blocks(html))


STRIPPED = [("as sent", lambda html: html), ("without <style>", without_style_blocks),
            ("without any CSS", without_any_css)]


def inner_text(chromium: Path, tmp_path: Path, html: str) -> str:
    """The page's innerText in Chromium: what a reader sees, as text."""
    page = tmp_path / "text.html"
    page.write_text(html.replace("</body>", TEXT_PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(chromium, tmp_path, f"--window-size={WIDTH},900", "--dump-dom",
                       page.as_uri())
    found = re.search(r'<html[^>]*\sdata-inner-text="([^"]*)"', dom)
    assert found, dom[:2000]
    return htmllib.unescape(found.group(1))


def pieces(text: str) -> list[str]:
    """The text between the separators a browser puts in: line breaks and cell tabs."""
    return [piece.strip() for piece in re.split(r"[\n\t]+", text) if piece.strip()]


@pytest.mark.parametrize("variant, strip", STRIPPED, ids=[v for v, _ in STRIPPED])
def test_inventory_reads_right_without_styles(chromium: Path, tmp_path: Path, variant: str,
                                              strip: Any) -> None:
    text = inner_text(chromium, tmp_path, strip(html_of(INVENTORY)))
    seen = pieces(text)
    assert "3 accounts · 4 users · 3 keys · 2 active · 1 inactive · 2 findings · 1 error" in seen
    for record in INVENTORY["Keys"]:  # every id, user and account on its own
        assert record["AccessKeyId"] in seen and record["UserName"] in seen
        assert f"account {record['AccountId']}" in seen
        assert f"created {record['CreateDate'][:10]}" in seen
    assert "IAM.3 active key is 2920 days old (limit 90)" in seen
    assert "STALE_INACTIVE inactive key is 40 days old (limit 30)" in seen
    assert {"2920 days", "40 days", "12 days", "never", "none", "s3, eu-west-1",
            INVENTORY["Keys"][0]["LastUsedDate"][:10]} <= set(seen)
    assert ["IAM.3", "active key not rotated:", "1"] == seen[seen.index("IAM.3"):][:3]
    assert ["STALE_INACTIVE", "inactive key kept:", "1"] == seen[
        seen.index("STALE_INACTIVE"):][:3]
    assert "AccessDenied: not authorized" in seen and "777788889999" in seen
    # What the report page read as once its styles were gone: nothing runs together.
    for fused in ("1accounts", "3accounts", "(limit 90)IAM", "EXAMPLEaccount", "daysnever"):
        assert fused not in text, (variant, fused)


@pytest.mark.parametrize("variant, strip", STRIPPED[1:], ids=[v for v, _ in STRIPPED[1:]])
def test_a_thousand_key_inventory_reads_right_without_styles(chromium: Path, tmp_path: Path,
                                                             variant: str, strip: Any) -> None:
    document = inventory_of(1000)
    html = html_of(document)
    seen = pieces(inner_text(chromium, tmp_path, strip(html)))
    shown = [r["AccessKeyId"] for r in document["Keys"] if r["AccessKeyId"] in seen]
    assert len(shown) == 100
    assert "900 more keys are in the attachments (access-keys.csv and access-keys.json)." in seen
    rules = {f"{d['Rule']} {d['Reason']}" for r in document["Keys"]
             if r["AccessKeyId"] in shown for d in r["FindingDetails"]}
    assert rules <= set(seen)


@pytest.mark.parametrize("variant, strip", STRIPPED, ids=[v for v, _ in STRIPPED])
def test_listing_reads_right_without_styles(chromium: Path, tmp_path: Path, variant: str,
                                            strip: Any) -> None:
    seen = pieces(inner_text(chromium, tmp_path, strip(html_of(REALISTIC))))
    assert "6 keys · 5 users · 2 inactive · 3 older than 90 days" in seen
    for record in REALISTIC["AccessKeyMetadata"]:
        at = seen.index(record["AccessKeyId"])
        assert seen[at - 1] == record["UserName"] or record["UserName"] == LONG_NAME
        assert seen[at + 1] == record["Status"] and seen[at + 2] == record["CreateDate"][:10]
    assert seen.count("Old") == 3 and seen.count("Inactive") == 2  # marks apart from values


@pytest.mark.parametrize("variant, strip, documents", [
    ("without <style>", without_style_blocks, (REALISTIC, INVENTORY, UNBREAKABLE_INVENTORY)),
    # With no CSS at all nothing can break a 128-letter name; names with dots or hyphens wrap.
    ("without any CSS", without_any_css, (REALISTIC, INVENTORY)),
], ids=["without <style>", "without any CSS"])
def test_stripped_bodies_still_fit_800_px(chromium: Path, tmp_path: Path, variant: str,
                                          strip: Any, documents: tuple[Any, ...]) -> None:
    for document in documents:
        seen = measure(chromium, tmp_path, strip(html_of(document)))
        assert seen["width"] <= WIDTH, (variant, seen)
