"""The HTML body in a real browser: headless Chromium at 800 px wide never scrolls sideways.

A probe script appended to the rendered body writes the document's scroll width (and the number
of resources the page loaded) into the DOM, which `--dump-dom` prints. Set IAMKEYS_UPDATE_DOCS=1
to refresh docs/email-800px.png from the screenshot this test takes.
"""

from __future__ import annotations

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
from mail_samples import EMPTY, HOSTILE, INVENTORY, LONG_NAME, PARTITIONS, REALISTIC, key

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
DOCS = Path(__file__).resolve().parents[1] / "docs" / "email-800px.png"
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


def test_screenshot(chromium: Path, tmp_path: Path) -> None:
    html = html_of(SCREENSHOT, now=SCREENSHOT_NOW)
    height = measure(chromium, tmp_path, html)["height"]
    page = tmp_path / "email.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "email-800px.png"
    run_chromium(chromium, tmp_path, f"--window-size={WIDTH},{height}",
                 f"--screenshot={shot}", page.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (WIDTH, height)
    if os.environ.get("IAMKEYS_UPDATE_DOCS") == "1":
        DOCS.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS)
