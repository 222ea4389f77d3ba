"""The mail library: validators, reading results, the message, and delivery to real servers.

SMTP tests run against aiosmtpd on 127.0.0.1 (tests/smtp_server.py); the certificate is made by
a test CA and reaches the client through MailSettings.ssl_context, the seam for private CAs.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import re
import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkeys import documents, params
from iamkeys.aws import Connection
from iamkeys.documents import MAX_INPUT_BYTES, load_json, read_input
from iamkeys.errors import InputError, MailDeferredError, MailError
from iamkeys.mail import (
    Delivery,
    MailSettings,
    Sender,
    build_message,
    send_result,
    summary_subject,
    views,
)
from mail_samples import (
    EMPTY,
    HOSTILE,
    INVENTORY,
    LONG_NAME,
    PARTITIONS,
    REALISTIC,
    SEED,
    inventory_of,
    key,
    raw,
)
from smtp_server import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    closed_port,
    smtp_auth,
    smtp_ca,
    smtp_plain,
    smtp_starttls,
    smtp_tls,
    smtp_tls_auth,
)

__all__ = ["closed_port", "smtp_auth", "smtp_plain", "smtp_starttls", "smtp_tls", "smtp_ca",
           "smtp_tls_auth"]

TO = "secops@example.com"
FROM = "sec@example.com"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ADDRESS = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,5})?@[a-z0-9]{1,10}\.(com|org|example)",
                        fullmatch=True)


def parts(message: EmailMessage) -> dict[str, Any]:
    """The HTML and text bodies and the attachments (name -> bytes) of a message."""
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    attachments = {a.get_filename(): a.get_payload(decode=True)
                   for a in message.iter_attachments()}
    return {"html": html.get_content(), "text": text.get_content(), **attachments}


def parsed(data: bytes) -> EmailMessage:
    """Bytes as a modern EmailMessage."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def csv_rows(data: bytes) -> list[list[str]]:
    """A CSV attachment's rows, header included."""
    return list(csv.reader(io.StringIO(data.decode())))


def key_rows(html: str) -> dict[str, str]:
    """The table rows that show a key: access key id -> the row's markup."""
    return {re.search(r"<code[^>]*>([^<]+)</code>", row).group(1): row  # type: ignore[union-attr]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S) if "<code" in row}


def smtp(server: SmtpServer, **overrides: Any) -> MailSettings:
    """Settings for a test server, trusting its CA through the ssl_context seam; retries of
    temporary refusals after 10 ms."""
    values: dict[str, Any] = {"smtp_host": server.host, "smtp_port": server.port,
                              "smtp_security": "none", "ssl_context": server.client_context(),
                              "smtp_timeout": 10.0, "smtp_retry_delays": (0.01, 0.01),
                              "sender": Sender(FROM)}
    values.update(overrides)
    return MailSettings(**values)


# --- validators ----------------------------------------------------------------------------


@given(st.lists(ADDRESS, min_size=1, max_size=5), st.booleans())
def test_recipients_accepts_lists_and_comma_separated_values(addresses: list[str],
                                                             joined: bool) -> None:
    values = [",".join(addresses)] if joined else addresses
    assert params.recipients(values, name="to") == tuple(dict.fromkeys(addresses))


@given(st.sampled_from(["to", "cc"]),
       st.sampled_from(['"a@b.com" <evil@x.com>', "a@b.com\r\nBcc: evil@x.com", "a@b.com\n",
                        "a@b.com\x00", "<evil@x.com>", "Alice <a@b.com>", "a@b.com;evil@x.com",
                        "", " ", "a@b.com,", "a b@c.com", "a@-b.com", "@b.com", "a@"]),
       st.lists(ADDRESS, max_size=2))
def test_recipients_refuse_anything_but_bare_addresses(name: str, bad: str,
                                                       good: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        params.recipients([*good, bad], name=name)
    assert caught.value.parameter == name


def test_recipients_required_and_bounded() -> None:
    with pytest.raises(InputError, match="at least one address"):
        params.recipients((), name="to", required=True)
    with pytest.raises(InputError, match="at most 100"):
        params.recipients([f"u{i}@example.com" for i in range(101)], name="to")
    with pytest.raises(InputError):
        params.recipients(5, name="to")  # type: ignore[arg-type]


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}",
                     fullmatch=True))
def test_smtp_host_accepts_host_names(host: str) -> None:
    assert params.smtp_host(host) == host


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("::1", "::1"),
    ("smtp.example.com.", "smtp.example.com.")])
def test_smtp_host_accepts_addresses(host: str, expected: str) -> None:
    assert params.smtp_host(host) == expected


@given(st.text(min_size=1).filter(lambda t: not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", t)))
def test_smtp_host_refuses_other_text(host: str) -> None:
    with pytest.raises(InputError) as caught:
        params.smtp_host(host)
    assert caught.value.parameter == "smtp_host"


@given(st.integers(1, 65535))
def test_smtp_port_in_range(port: int) -> None:
    assert params.smtp_port(str(port)) == port == params.smtp_port(port)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536),
                 st.text().filter(lambda t: not t.strip().lstrip("+").isdigit())))
def test_smtp_port_out_of_range(port: int | str) -> None:
    with pytest.raises(InputError) as caught:
        params.smtp_port(port)
    assert caught.value.parameter == "smtp_port"


@given(st.sampled_from(["starttls", "ssl", "none"]), st.booleans())
def test_smtp_security_choices(mode: str, upper: bool) -> None:
    assert params.smtp_security(mode.upper() if upper else mode) == mode


@given(st.text().filter(lambda t: t.strip().lower() not in ("starttls", "ssl", "none")))
def test_smtp_security_refuses_others(mode: str) -> None:
    with pytest.raises(InputError) as caught:
        params.smtp_security(mode)
    assert caught.value.parameter == "smtp_security"


@given(st.text(min_size=1, max_size=256).filter(lambda t: not params.CONTROL_RE.search(t)))
def test_smtp_user_accepts_printable(user: str) -> None:
    assert params.smtp_user(user) == user


@given(st.one_of(st.just(""), st.text(min_size=257, max_size=300),
                 st.text().map(lambda t: t + "\r\n")))
def test_smtp_user_refuses_empty_long_or_control(user: str) -> None:
    with pytest.raises(InputError) as caught:
        params.smtp_user(user)
    assert caught.value.parameter == "smtp_user"


@given(st.text(min_size=1).filter(lambda t: t.strip() and not params.CONTROL_RE.search(t)
                                  and len(t) <= 4096))
def test_directory_path_accepts_printable(path: str) -> None:
    assert params.directory_path(path, name="outbox") == path


@given(st.one_of(st.just(""), st.just("   "), st.text().map(lambda t: t + "\x00"),
                 st.just("x" * 4097)))
def test_directory_path_refuses(path: str) -> None:
    with pytest.raises(InputError) as caught:
        params.directory_path(path, name="outbox")
    assert caught.value.parameter == "outbox"


@given(st.integers(1, 600), st.booleans())
def test_seconds_in_range(value: int, as_text: bool) -> None:
    assert params.seconds(str(value) if as_text else value, name="smtp_timeout",
                          high=600) == float(value)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=601),
                 st.text().filter(lambda t: not t.strip().lstrip("+").isdigit())))
def test_seconds_out_of_range(value: int | str) -> None:
    with pytest.raises(InputError) as caught:
        params.seconds(value, name="smtp_timeout", high=600)
    assert caught.value.parameter == "smtp_timeout"


@given(st.text(min_size=1, max_size=4096).filter(
    lambda t: t.strip() and not params.CONTROL_RE.search(t)))
def test_file_path_accepts_printable(path: str) -> None:
    assert params.file_path(path, name="smtp_ca_file") == path


@given(st.one_of(st.just(""), st.just(" "), st.text().map(lambda t: t + "\n"),
                 st.just("c" * 4097)))
def test_file_path_refuses(path: str) -> None:
    with pytest.raises(InputError) as caught:
        params.file_path(path, name="smtp_ca_file")
    assert caught.value.parameter == "smtp_ca_file"


# --- reading results -----------------------------------------------------------------------


def parse_result(document: Any, *, now: datetime) -> Any:
    """A document as the email shows it: read by the one reader, then viewed."""
    return views.view(documents.parse(document), now=now)


def test_listing_rows_and_ages() -> None:
    result = parse_result(SEED, now=NOW)
    assert isinstance(result, views.ResultRows)
    assert [(r.user_name, r.access_key_id, r.status, r.age_days) for r in result.rows] == [
        ("Alice", "AKIA111111111EXAMPLE", "Active", 3103),
        ("Alice", "AKIA222222222EXAMPLE", "Active", 3103)]
    assert (result.users, result.inactive, result.old) == (1, 0, 2)


def test_partition_rows_keep_partition_and_truncation() -> None:
    result = parse_result(PARTITIONS, now=NOW)
    assert [r.partition for r in result.rows] == ["aws", "aws-cn"]
    assert result.partitions == ("aws", "aws-cn")
    assert result.truncated == ("aws-cn truncated: more keys follow Marker 'bWFya2Vy'",)


def test_inventory_view_riskiest_first() -> None:
    view = parse_result(INVENTORY, now=NOW)
    assert isinstance(view, views.InventoryView)
    assert [(r.access_key_id, [b.rule for b in r.badges]) for r in view.rows] == [
        ("AKIA111111111EXAMPLE", ["IAM.3"]), ("AKIA555555555EXAMPLE", ["STALE_INACTIVE"]),
        ("AKIA444444444EXAMPLE", [])]
    first = view.rows[0]
    assert (first.account_id, first.age_days, first.last_used, first.last_used_where) == (
        "111122223333", 2920, INVENTORY["Keys"][0]["LastUsedDate"][:10], "s3, eu-west-1")
    assert view.rows[1].last_used == "never"
    assert [views.error_line(e) for e in view.errors] == [
        "AccountId: 777788889999; Operation: ListUsers; Code: AccessDenied; "
        "Message: not authorized"]
    assert (view.accounts, view.users, view.keys, view.findings) == (3, 4, 3, 2)
    assert [(r.rule, r.count) for r in view.rules] == [
        ("IAM.4", 0), ("IAM.3", 1), ("IAM.22", 0), ("CIS.1.13", 0), ("CIS.1.11", 0),
        ("STALE_INACTIVE", 1)]


def test_inventory_view_of_some_keys_counts_them_alone() -> None:
    inventory = documents.inventory(INVENTORY)
    mine = [k for k in inventory.keys if k.user_name in ("carol", LONG_NAME)]
    view = views.inventory_view(inventory, keys=mine)
    assert [r.user_name for r in view.rows] == [LONG_NAME, "carol"]
    assert (view.accounts, view.users, view.keys, view.active, view.findings) == (2, 2, 2, 1, 1)
    assert view.errors == () and view.account_findings == () and not view.complete
    assert view.shown(1).hidden_keys == 1 and view.shown(1).keys == 2


@pytest.mark.parametrize("document, detail", [
    ([], "expected a JSON object, got an array"),
    ("keys", "expected a JSON object, got a string"),
    ({}, "expected AccessKeyMetadata"),
    ({"Users": []}, "expected AccessKeyMetadata"),
    ({"AccessKeyMetadata": {}}, "AccessKeyMetadata must be a list"),
    ({"AccessKeyMetadata": [1]}, "AccessKeyMetadata[0] must be an object, got a number"),
    ({"AccessKeyMetadata": [{"AccessKeyId": "AKIA1", "Status": "Active"}]},
     "AccessKeyMetadata[0].CreateDate must be an ISO 8601 timestamp"),
    ({"AccessKeyMetadata": [{"AccessKeyId": 5, "Status": "Active",
                             "CreateDate": "2020-01-01T00:00:00Z"}]},
     "AccessKeyMetadata[0].AccessKeyId must be a string"),
    ({"AccessKeyMetadata": [], "IsTruncated": "no"}, "IsTruncated must be true or false"),
    ({"Aws": {"AccessKeyMetadata": []}}, "'Aws' is not a partition name"),
    ({"Keys": [], "Errors": [], "Summary": []}, "Summary must be an object"),
    ({"Keys": [{**INVENTORY["Keys"][0], "Findings": [1]}], "Summary": {}},
     "Keys[0].Findings must hold rule ids"),
    ({"Keys": [{**INVENTORY["Keys"][0], "AgeDays": "9"}], "Summary": {}},
     "Keys[0].AgeDays must be a non-negative integer"),
    ({"Keys": [{**INVENTORY["Keys"][0], "CreateDate": "yesterday"}], "Summary": {}},
     "Keys[0].CreateDate must be an ISO 8601 timestamp"),
    ({"Keys": [], "Summary": {}}, "Summary.Thresholds must be an object"),
])
def test_anything_else_is_not_a_result(document: Any, detail: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_result(document, now=NOW)
    assert caught.value.parameter == "input"
    assert caught.value.rule.startswith("not an iamkeys result: ")
    assert detail in caught.value.rule


@pytest.mark.parametrize("data, message", [
    (b'{"AccessKeyMetadata": [\n  {"AccessKeyId": }\n]}',
     "invalid JSON at line 2 column 19: Expecting value"),
    (b"", "invalid JSON at line 1 column 1: Expecting value"),
    (b'{"a": "\xff"}', "not UTF-8 text"),
    (b"[" * 100_000, "JSON nested too deeply"),
])
def test_malformed_json_names_line_and_column(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_json(data)
    assert caught.value.parameter == "input"
    assert message in caught.value.rule


def test_input_over_the_limit_is_refused() -> None:
    assert read_input(io.BytesIO(b"x" * 1000), limit=1000) == b"x" * 1000
    with pytest.raises(InputError, match=r"larger than 20 MiB \(20971520 bytes\)"):
        read_input(io.BytesIO(b" " * (MAX_INPUT_BYTES + 1)))


# --- the message ---------------------------------------------------------------------------


def test_message_headers_bodies_and_attachments() -> None:
    data = raw(REALISTIC)
    message = parsed(build_message(REALISTIC, to=[TO, "b@example.org"], cc="c@example.net",
                                   sender="iamkeys@example.com", raw_json=data).as_bytes())
    assert (message["From"], message["To"], message["Cc"]) == (
        "iamkeys@example.com", f"{TO}, b@example.org", "c@example.net")
    assert message["Subject"] == "IAM access keys: 6 keys, 5 users"
    assert re.fullmatch(r"<[^@<>]+@example\.com>", message["Message-ID"])
    assert message.get_content_type() == "multipart/mixed"
    body = parts(message)
    assert body["access-keys.json"] == data
    assert json.loads(body["access-keys.json"]) == REALISTIC
    assert list(key_rows(body["html"])) == [k["AccessKeyId"]
                                            for k in REALISTIC["AccessKeyMetadata"]]
    rows = csv_rows(body["access-keys.csv"])
    assert rows[0] == ["AccessKeyId", "CreateDate", "Status", "UserName"]
    assert [r[0] for r in rows[1:]] == [k["AccessKeyId"] for k in REALISTIC["AccessKeyMetadata"]]
    # The text part wraps at 78 columns; a long name goes on (and over) lines of its own.
    assert "AKIA666666666EXAMPLE" in body["text"]
    assert LONG_NAME in "".join(body["text"].splitlines())
    assert max(len(line) for line in body["text"].splitlines()) <= 78


def test_message_is_seven_bit() -> None:
    data = build_message(REALISTIC, to=TO, subject="Clés IAM — résumé").as_bytes()
    data.decode("ascii")
    assert parsed(data)["Subject"] == "Clés IAM — résumé"


def test_inactive_and_old_keys_are_marked_with_a_label() -> None:
    rows = key_rows(parts(build_message(REALISTIC, to=TO))["html"])
    inactive_old = rows["AKIA333333333EXAMPLE"]  # inactive and 400 days old
    assert re.search(r">Inactive</span>", inactive_old) and re.search(r">Old</span>", inactive_old)
    assert ">Old</span>" not in rows["AKIA444444444EXAMPLE"]  # active, 12 days
    assert ">Old</span>" not in rows["AKIA666666666EXAMPLE"]  # exactly 90 days is not old
    assert ">Old</span>" in rows["AKIA555555555EXAMPLE"]  # 91 days
    assert ">Active</span>" in rows["AKIA555555555EXAMPLE"]


@pytest.mark.parametrize("document", [REALISTIC, PARTITIONS, INVENTORY])
def test_html_is_self_contained(document: dict[str, Any]) -> None:
    html = parts(build_message(document, to=TO))["html"]
    assert not re.search(r"(?i)<(script|link|img|iframe)|src=|url\(|@import|https?://", html)
    assert "<style" not in html and 'style="' in html  # inlined: nothing for a client to drop


def test_listing_html_wraps_instead_of_scrolling() -> None:
    html = parts(build_message(REALISTIC, to=TO))["html"]
    assert "table-layout:fixed" in html and "overflow-wrap:anywhere" in html


def test_user_controlled_text_is_escaped_in_an_inventory() -> None:
    document = json.loads(json.dumps(INVENTORY))
    document["Keys"][0]["UserName"] = "<script>alert('x')</script>"
    document["Errors"][0]["Message"] = "<img src=x onerror=alert(1)>"
    html = parts(build_message(document, to=TO))["html"]
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html


def test_user_controlled_text_is_escaped() -> None:
    body = parts(build_message(HOSTILE, to=TO))
    html = body["html"]
    assert "<script>" not in html and "<img" not in html
    # Jinja2 escapes; css-inline's serializer then writes quotes in text as plain characters.
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert 'a"&gt;&lt;img src=x onerror=alert(1)&gt;' in html
    assert "<script>alert('x')</script>" in body["text"]  # plain text is not HTML


def test_csv_neutralises_formulas() -> None:
    rows = csv_rows(parts(build_message(HOSTILE, to=TO))["access-keys.csv"])
    assert rows[2][3] == "'=cmd|' /C calc'!A0"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_zero_keys_says_so() -> None:
    message = build_message(EMPTY, to=TO)
    body = parts(message)
    assert message["Subject"] == "IAM access keys: no access keys found"
    assert "<b>No access keys found.</b>" in body["html"] and not key_rows(body["html"])
    assert "Access key ID" not in body["html"]
    assert "No access keys found." in body["text"]
    assert csv_rows(body["access-keys.csv"]) == [["AccessKeyId", "CreateDate", "Status",
                                                  "UserName"]]


def test_inventory_body_has_findings_last_use_and_errors() -> None:
    body = parts(build_message(INVENTORY, to=TO))
    html, text = body["html"], body["text"]
    assert "Content-Security-Policy" not in html  # its own template, not the report page
    assert list(key_rows(html)) == ["AKIA111111111EXAMPLE", "AKIA555555555EXAMPLE",
                                    "AKIA444444444EXAMPLE"]  # riskiest first
    for record in INVENTORY["Keys"]:
        assert record["AccessKeyId"] in text
    assert "IAM.3</b> active key is 2920 days old (limit 90)" in html
    assert "STALE_INACTIVE</b> inactive key is 40 days old (limit 30)" in html
    assert "AccessDenied: not authorized" in html
    assert "IAM.3  active key is 2920 days old (limit 90)" in text
    assert "Last used: never" in text and "Last used: " + INVENTORY["Keys"][0]["LastUsedDate"][
        :10] + " (s3, eu-west-1)" in text
    assert "Error: AccountId: 777788889999; Operation: ListUsers" in text
    rows = csv_rows(body["access-keys.csv"])
    assert rows[0][-4:] == ["LastUsedDate", "LastUsedService", "LastUsedRegion", "Findings"]
    assert rows[1][-4:-1] == [INVENTORY["Keys"][0]["LastUsedDate"], "s3", "eu-west-1"]
    assert rows[1][-1] == "IAM.3" and len(rows) == 4


def test_inventory_text_has_a_legend_of_every_rule() -> None:
    from iamkeys.findings import RULES, TITLES

    text = parts(build_message(INVENTORY, to=TO))["text"]
    for rule in RULES:
        assert re.search(rf"^  {re.escape(rule)} +{re.escape(TITLES[rule])}: \d+$", text, re.M)


GMAIL_CLIPS_AT = 102_000  # bytes of HTML; Gmail shows "[Message clipped]" past ~102 KB


def html_part(message: EmailMessage) -> tuple[str, int]:
    """The HTML body and its size as sent (quoted-printable, in bytes)."""
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content()), len(part.get_payload().encode())


def worst_severity(record: dict[str, Any]) -> int:
    """The highest severity among a key record's findings (0 without)."""
    from iamkeys.findings import SEVERITY

    return max((SEVERITY[rule] for rule in record["Findings"]), default=0)


@pytest.mark.parametrize("long_names", [False, True])
def test_a_thousand_keys_stay_under_gmails_clipping_size(long_names: bool) -> None:
    document = inventory_of(1000, long_names=long_names)
    message = build_message(document, to=TO)
    html, sent = html_part(message)
    assert len(html.encode()) < GMAIL_CLIPS_AT and sent < GMAIL_CLIPS_AT
    shown = list(key_rows(html))
    assert len(shown) == 100
    assert "900 more keys are in the attachments (access-keys.csv and access-keys.json)." in html
    assert "The 100 riskiest of 1000 keys" in html
    # The riskiest are shown: no key left out has a worse finding than one shown.
    by_id = {r["AccessKeyId"]: r for r in document["Keys"]}
    hidden = set(by_id) - set(shown)
    assert min(worst_severity(by_id[i]) for i in shown) >= max(
        worst_severity(by_id[i]) for i in hidden)
    text = parts(message)["text"]
    assert re.findall(r"^\d+\. ", text, re.M)[-1] == "100. "
    assert "900 more keys are in the attachments" in text
    assert max(len(line) for line in text.splitlines()) <= 78
    assert len(csv_rows(parts(message)["access-keys.csv"])) == 1 + 1000  # all of them


def test_a_small_inventory_shows_every_key() -> None:
    html, sent = html_part(build_message(inventory_of(38), to=TO))
    assert len(key_rows(html)) == 38 and "more key" not in html
    assert sent < 40_000


def test_rows_that_would_clip_are_left_to_the_attachments() -> None:
    document = inventory_of(100)
    for record in document["Keys"]:  # a crafted document: 2,000-character reasons
        record["FindingDetails"] = [{"Rule": "IAM.3", "Reason": "r" * 2000}]
        record["Findings"] = ["IAM.3"]
    message = build_message(document, to=TO)
    html, sent = html_part(message)
    shown = len(key_rows(html))
    assert 10 < shown < 100 and sent <= 100_000
    assert f"{100 - shown} more keys are in the attachments" in html
    assert len(re.findall(r"^\d+\. ", parts(message)["text"], re.M)) == shown  # text agrees


def test_a_long_listing_is_cut_too() -> None:
    listing = {"AccessKeyMetadata": [key(f"user-{i}", f"AKIA{i:016d}", i)
                                     for i in range(250)], "IsTruncated": False}
    message = build_message(listing, to=TO)
    html, _ = html_part(message)
    assert len(key_rows(html)) == 100
    assert "150 more keys are in the attachments (access-keys.csv and access-keys.json)." in html
    text = parts(message)["text"]
    assert "150 more keys are in the attachments" in text and "AKIA0000000000000099" in text
    assert "AKIA0000000000000100" not in text


def test_inventory_the_report_cannot_read_is_an_input_error() -> None:
    document = {"Keys": [], "Errors": [], "Summary": {"Users": 0}}
    with pytest.raises(InputError) as caught:
        build_message(document, to=TO)
    assert caught.value.parameter == "input"


def test_partitions_get_a_column_and_a_notice() -> None:
    body = parts(build_message(PARTITIONS, to=TO))
    assert re.search(r'<th scope="col"[^>]*>Partition</th>', body["html"])
    assert "aws-cn truncated: more keys follow Marker" in body["html"]
    assert csv_rows(body["access-keys.csv"])[2][:2] == ["aws-cn", "AKIACN11111EXAMPLE01"]


def test_without_raw_json_the_document_is_serialized() -> None:
    body = parts(build_message(SEED, to=TO))
    assert body["access-keys.json"].decode() == json.dumps(SEED, indent=2) + "\n"


@pytest.mark.parametrize("subject, expected", [
    (SEED, "IAM access keys: 2 keys, 1 user"),
    (REALISTIC, "IAM access keys: 6 keys, 5 users"),
    (EMPTY, "IAM access keys: no access keys found"),
    (PARTITIONS, "IAM access keys: 2 keys, 2 users (incomplete)"),
    (INVENTORY, "IAM access keys: 3 keys, 4 users, 2 findings (incomplete)"),
])
def test_summary_subject(subject: dict[str, Any], expected: str) -> None:
    assert summary_subject(subject) == expected


@pytest.mark.parametrize("field", ["to", "cc", "from", "subject"])
@pytest.mark.parametrize("evil", ["\r\nBcc: evil@x.com", "\nX-Injected: 1", "\x00", "\r"])
def test_header_injection_is_refused(field: str, evil: str) -> None:
    values: dict[str, Any] = {"to": TO, "cc": (), "sender": None, "subject": None}
    key = {"from": "sender"}.get(field, field)
    values[key] = ("ops@example.com" if field != "subject" else "Keys") + evil
    with pytest.raises(InputError) as caught:
        build_message(SEED, **values)
    assert caught.value.parameter == field


def test_recipients_take_no_display_name() -> None:
    for value in ['"a@b.com" <evil@x.com>', "a@b.com <evil@x.com>", "Alice <a@b.com>"]:
        with pytest.raises(InputError, match="is not a plain e-mail address"):
            build_message(SEED, to=value)
    # Commas inside one value split it: each address is checked and shown, none is hidden.
    message = build_message(SEED, to=["a@b.com,evil@x.com"])
    assert message["To"] == "a@b.com, evil@x.com"


# Short enough for one RFC 2047 encoded word: Python's own header parser adds a space between
# two adjacent encoded words (RFC 2047 §6.2 says to drop it), which would fail the round trip.
DISPLAY_NAME = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     whitelist_categories=("L", "N", "Zs", "P", "S"),
                                     blacklist_characters='@<>"\\'),
                       min_size=1, max_size=20).filter(lambda t: t.strip() and "=?" not in t)


@settings(deadline=None, max_examples=40)
@given(DISPLAY_NAME, ADDRESS, st.booleans())
def test_sender_takes_a_display_name(name: str, address: str, quoted: bool) -> None:
    value = f'"{name}" <{address}>' if quoted else f"{name} <{address}>"
    sender = Sender.parse(value)
    assert (sender.display_name, sender.address) == (" ".join(name.split()), address)
    message = parsed(build_message(SEED, to=TO, sender=value).as_bytes())
    assert message["From"].addresses[0].display_name == sender.display_name
    assert message["From"].addresses[0].addr_spec == address
    assert message["Message-ID"].endswith("@" + address.rpartition("@")[2] + ">")


@pytest.mark.parametrize("value, header", [
    ("sec@example.com", "sec@example.com"),
    ('"IAM key report" <sec@example.com>', "IAM key report <sec@example.com>"),
    ("Doe, Jane <jane@example.com>", '"Doe, Jane" <jane@example.com>'),
    ("Équipe sécurité <sec@example.com>", "Équipe sécurité <sec@example.com>"),
])
def test_sender_header_is_built_by_the_email_package(value: str, header: str) -> None:
    data = build_message(SEED, to=TO, sender=value).as_bytes()
    data.decode("ascii")  # an accented name travels as an RFC 2047 encoded word
    assert str(parsed(data)["From"]) == header


@pytest.mark.parametrize("value", [
    '"a@b.com" <evil@x.com>', "a@b.com <evil@x.com>", "Ops <ops@example.com> <evil@x.com>",
    '"Ops <evil@x.com>" <ops@example.com>', "Ops\uff20example.com <ops@example.com>",
    "=?utf-8?q?evil?= <ops@example.com>", 'Ops "quoted" <ops@example.com>',
    "Ops\\ <ops@example.com>", "<ops@example.com>", "  <ops@example.com>",
    "Ops\u202e <ops@example.com>", "Ops\u200b <ops@example.com>",
    "ops@example.com (Ops)", "Ops <ops@example.com", "Ops <ops@example.com>, Evil <e@x.com>",
    "Ops <o p@example.com>", "Ops <ops@-example.com>", "O" * 79 + " <ops@example.com>",
    "Ops\r\nBcc: evil@x.com <ops@example.com>", "Ops <ops@example.com>\x00",
])
def test_sender_tricks_are_refused(value: str) -> None:
    with pytest.raises(InputError) as caught:
        build_message(SEED, to=TO, sender=value)
    assert caught.value.parameter == "from"
    assert "\n" not in str(caught.value)


# --- settings ------------------------------------------------------------------------------


def test_settings_from_environ_and_overrides(tmp_path: Path, smtp_ca: Any) -> None:
    environ = {"IAMKEYS_SMTP_HOST": "smtp.example.com", "IAMKEYS_SMTP_PORT": "2525",
               "IAMKEYS_SMTP_SECURITY": "SSL", "IAMKEYS_SMTP_USER": "bot",
               "IAMKEYS_SMTP_PASSWORD": "pw-from-env", "IAMKEYS_OUTBOX": "/tmp/out",
               "IAMKEYS_FROM": '"IAM key report" <sec@example.com>',
               "IAMKEYS_SMTP_EHLO_NAME": "mailer.example.com", "IAMKEYS_SMTP_TIMEOUT": "12",
               "IAMKEYS_SMTP_CA_FILE": str(smtp_ca[1])}
    settings = MailSettings.from_environ(environ)
    assert (settings.smtp_host, settings.port, settings.smtp_security, settings.smtp_user,
            settings.smtp_password, settings.outbox) == (
        "smtp.example.com", 2525, "ssl", "bot", "pw-from-env", Path("/tmp/out"))
    assert (settings.sender, settings.smtp_ehlo_name, settings.smtp_timeout,
            settings.smtp_ca_file) == (Sender("sec@example.com", "IAM key report"),
                                       "mailer.example.com", 12.0, smtp_ca[1])
    assert settings.smtp_retry_delays == (1.0, 4.0)
    assert "pw-from-env" not in repr(settings)
    overridden = MailSettings.from_environ(environ, smtp_port="465", smtp_host=None,
                                           outbox="elsewhere", sender="other@example.org")
    assert (overridden.smtp_host, overridden.port, overridden.outbox, overridden.sender) == (
        "smtp.example.com", 465, Path("elsewhere"), Sender("other@example.org"))


@pytest.mark.parametrize("security, port", [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_default_ports(security: str, port: int) -> None:
    settings = MailSettings.from_environ({}, smtp_host="localhost", smtp_security=security)
    assert settings.port == port and settings.transport == "smtp"


def test_default_transport_is_the_outbox() -> None:
    settings = MailSettings.from_environ({"IAMKEYS_SMTP_HOST": ""})
    assert (settings.transport, settings.outbox) == ("outbox", Path("outbox"))
    assert MailSettings.from_environ({}, ses=True).transport == "ses"


@pytest.mark.parametrize("environ, overrides, parameter, rule", [
    ({"IAMKEYS_SMTP_HOST": "mail.example.com", "IAMKEYS_SMTP_SECURITY": "none",
      "IAMKEYS_SMTP_USER": "u", "IAMKEYS_SMTP_PASSWORD": "pw"}, {}, "smtp_security",
     "none would send the SMTP password unencrypted to mail.example.com"),
    ({"IAMKEYS_SMTP_HOST": "mail.example.com"}, {"ses": True}, "ses", "choose one transport"),
    ({"IAMKEYS_SMTP_HOST": "h", "IAMKEYS_SMTP_USER": "u"}, {}, "smtp_user",
     "needs the password in IAMKEYS_SMTP_PASSWORD"),
    ({"IAMKEYS_SMTP_HOST": "h", "IAMKEYS_SMTP_PASSWORD": "pw"}, {}, "smtp_user",
     "required when IAMKEYS_SMTP_PASSWORD is set"),
    ({"IAMKEYS_SMTP_PORT": "0"}, {}, "smtp_port", "from 1 to 65535"),
    ({"IAMKEYS_SMTP_SECURITY": "tls"}, {}, "smtp_security", "starttls, ssl, none"),
    ({"IAMKEYS_SMTP_HOST": "a b"}, {}, "smtp_host", "not a host name"),
    ({}, {"smtp_timeout": 0.0}, "smtp_timeout", "more than 0"),
    ({"IAMKEYS_SMTP_TIMEOUT": "0"}, {}, "smtp_timeout", "an integer from 1 to 600"),
    ({"IAMKEYS_SMTP_TIMEOUT": "1.5"}, {}, "smtp_timeout", "an integer from 1 to 600"),
    ({"IAMKEYS_SMTP_EHLO_NAME": "my host"}, {}, "smtp_ehlo_name", "is not a host name"),
    ({"IAMKEYS_SMTP_CA_FILE": "/nonexistent/ca.pem"}, {}, "smtp_ca_file",
     "cannot use '/nonexistent/ca.pem': No such file or directory"),
    ({"IAMKEYS_SMTP_CA_FILE": "/etc/hostname"}, {}, "smtp_ca_file",
     "cannot use '/etc/hostname': no PEM certificate in it"),
    ({"IAMKEYS_FROM": "IAM <not an address>"}, {}, "from", "is not an e-mail address"),
    ({}, {"smtp_retry_delays": (1.0, -1.0)}, "smtp_retry_delays", "0 to 600 seconds"),
])
def test_settings_refused(environ: dict[str, str], overrides: dict[str, Any], parameter: str,
                          rule: str) -> None:
    with pytest.raises(InputError) as caught:
        MailSettings.from_environ(environ, **overrides)
    assert caught.value.parameter == parameter and rule in caught.value.rule


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}",
                     fullmatch=True))
def test_ehlo_name_accepts_host_names(name: str) -> None:
    assert params.ehlo_name(name) == name


@given(st.text(min_size=1).filter(lambda t: not re.fullmatch(r"[A-Za-z0-9.-]+", t))
       | st.sampled_from(["-mailer", "mailer-.example.com", "a..b", "a" * 64 + ".com"]))
def test_ehlo_name_refuses_other_text(name: str) -> None:
    with pytest.raises(InputError) as caught:
        params.ehlo_name(name)
    assert caught.value.parameter == "smtp_ehlo_name"


def test_settings_from_cli_options_over_the_environment() -> None:
    from iamkeys.commands.send_email import MailOptions, settings_from_options

    environ = {"IAMKEYS_SMTP_HOST": "smtp.example.com", "IAMKEYS_SMTP_USER": "env-user",
               "IAMKEYS_SMTP_PASSWORD": "env-password", "IAMKEYS_SMTP_TIMEOUT": "9"}
    options = MailOptions(smtp_port="2525", smtp_security="ssl", smtp_user="cli-user",
                          smtp_timeout="7", smtp_ehlo_name="mailer.example.com")
    settings = settings_from_options(options, connection=Connection(region="eu-west-1"),
                                     environ=environ)
    assert (settings.smtp_host, settings.port, settings.smtp_security, settings.smtp_user,
            settings.smtp_password, settings.connection.region, settings.smtp_timeout,
            settings.smtp_ehlo_name) == (
        "smtp.example.com", 2525, "ssl", "cli-user", "env-password", "eu-west-1", 7.0,
        "mailer.example.com")
    outbox = settings_from_options(MailOptions(outbox="mail"), environ={})
    assert (outbox.transport, outbox.outbox) == ("outbox", Path("mail"))


def test_password_over_plain_smtp_to_loopback_is_allowed() -> None:
    settings = MailSettings.from_environ({"IAMKEYS_SMTP_PASSWORD": "pw"}, smtp_host="127.0.0.1",
                                         smtp_security="none", smtp_user="u")
    assert settings.smtp_password == "pw"


# --- SMTP ----------------------------------------------------------------------------------


def assert_received(server: SmtpServer, delivery: Delivery, data: bytes) -> None:
    """The server got exactly one message, as built, with both attachments intact."""
    [got] = server.received
    message = got.message
    assert got.mail_from == FROM and got.rcpt_tos == (TO,)
    assert (message["From"], message["To"], message["Subject"]) == (
        FROM, TO, "IAM access keys: 6 keys, 5 users")
    assert message["Message-ID"] == delivery.message_id
    body = parts(message)
    assert body["access-keys.json"] == data
    assert len(key_rows(body["html"])) == 6
    assert len(csv_rows(body["access-keys.csv"])) == 1 + 6


def test_smtp_plain(smtp_plain: SmtpServer) -> None:
    data = raw(REALISTIC)
    delivery = send_result(REALISTIC, to=TO, settings=smtp(smtp_plain), raw_json=data)
    assert_received(smtp_plain, delivery, data)
    assert delivery.transport == "smtp" and delivery.recipients == (TO,)
    assert delivery.detail == (f"250 2.0.0 Message accepted for delivery from "
                               f"127.0.0.1:{smtp_plain.port}")
    assert delivery.attachments == ("access-keys.json", "access-keys.csv")


def test_smtp_starttls(smtp_starttls: SmtpServer) -> None:
    data = raw(REALISTIC)
    delivery = send_result(REALISTIC, to=TO, raw_json=data,
                           settings=smtp(smtp_starttls, smtp_security="starttls"))
    assert_received(smtp_starttls, delivery, data)


def test_smtp_implicit_tls(smtp_tls: SmtpServer) -> None:
    data = raw(REALISTIC)
    delivery = send_result(REALISTIC, to=TO, raw_json=data,
                           settings=smtp(smtp_tls, smtp_security="ssl"))
    assert_received(smtp_tls, delivery, data)


def test_smtp_auth_over_starttls(smtp_auth: SmtpServer) -> None:
    data = raw(REALISTIC)
    settings = smtp(smtp_auth, smtp_security="starttls", smtp_user=SMTP_USER,
                    smtp_password=SMTP_PASSWORD)
    delivery = send_result(REALISTIC, to=TO, raw_json=data, settings=settings)
    assert_received(smtp_auth, delivery, data)
    assert smtp_auth.handler.auth_attempts == ["LOGIN"]


def test_smtp_cc_and_sender(smtp_plain: SmtpServer) -> None:
    send_result(SEED, to=[TO, "b@example.com"], cc=["c@example.com", TO],
                sender='"IAM key report" <iam@example.org>', subject="Weekly keys",
                settings=smtp(smtp_plain))
    [got] = smtp_plain.received
    assert got.mail_from == "iam@example.org"  # MAIL FROM takes the bare address
    assert got.rcpt_tos == (TO, "b@example.com", "c@example.com")
    message = got.message
    assert (message["From"], message["To"], message["Cc"], message["Subject"]) == (
        "IAM key report <iam@example.org>", f"{TO}, b@example.com", f"c@example.com, {TO}",
        "Weekly keys")


@pytest.mark.parametrize("transport", ["smtp", "ses"])
def test_smtp_and_ses_need_a_sender(transport: str, closed_port: int) -> None:
    settings = (MailSettings(smtp_host="127.0.0.1", smtp_port=closed_port, smtp_security="none")
                if transport == "smtp" else MailSettings(ses=True))
    with pytest.raises(InputError) as caught:
        send_result(SEED, to=TO, settings=settings)  # refused before connecting (closed port)
    assert caught.value.parameter == "from"
    assert caught.value.rule == (f"required to send through {transport.upper()} (or set "
                                 "IAMKEYS_FROM): servers refuse a sender without a real domain, "
                                 "like iamkeys@localhost")


def test_the_sender_of_the_settings_is_the_default(smtp_plain: SmtpServer) -> None:
    send_result(SEED, to=TO, settings=smtp(smtp_plain, sender=Sender.parse("Ops <o@example.com>")))
    [got] = smtp_plain.received
    assert (got.mail_from, got.message["From"]) == ("o@example.com", "Ops <o@example.com>")


def test_ehlo_name(smtp_plain: SmtpServer) -> None:
    send_result(SEED, to=TO, settings=smtp(smtp_plain, smtp_ehlo_name="mailer.example.com"))
    assert smtp_plain.handler.ehlo_seen == ["mailer.example.com"]
    assert len(smtp_plain.received) == 1


def test_private_ca_file(smtp_starttls: SmtpServer) -> None:
    settings = smtp(smtp_starttls, smtp_security="starttls", ssl_context=None,
                    smtp_ca_file=smtp_starttls.ca_file)
    send_result(SEED, to=TO, settings=settings)
    assert len(smtp_starttls.received) == 1


def test_private_ca_file_is_the_only_trust(smtp_starttls: SmtpServer, tmp_path: Path) -> None:
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    message = failure(smtp(smtp_starttls, smtp_security="starttls", ssl_context=None,
                           smtp_ca_file=other))
    assert "TLS: certificate verify failed: unable to get local issuer certificate" in message


def failure(settings: MailSettings, error: type[MailError] = MailError,
            sender: str | None = None) -> str:
    """The MailError message of a send that must fail."""
    with pytest.raises(error) as caught:
        send_result(SEED, to=TO, settings=settings, sender=sender)
    message = str(caught.value)
    assert "\n" not in message
    return message


# Each sub-test of a wrong password: exactly one AUTH attempt, with the first mechanism offered.
@pytest.mark.parametrize("offer, used", [(None, "LOGIN"), ("PLAIN LOGIN", "PLAIN"),
                                         ("CRAM-MD5 LOGIN PLAIN", "CRAM-MD5")])
def test_a_wrong_password_is_one_failed_login(smtp_auth: SmtpServer, offer: str | None,
                                              used: str) -> None:
    # aiosmtpd offers "AUTH LOGIN PLAIN"; smtplib's login() tried PLAIN, then LOGIN: two.
    smtp_auth.handler.auth_offer = offer
    message = failure(smtp(smtp_auth, smtp_security="starttls", smtp_user=SMTP_USER,
                           smtp_password="wrong-password"))
    if used == "CRAM-MD5":  # aiosmtpd has no CRAM-MD5: it refuses the mechanism itself
        assert smtp_auth.handler.auth_attempts == []
        assert "AUTH CRAM-MD5: authentication failed for user 'mailer': 504" in message
        return
    assert smtp_auth.handler.auth_attempts == [used]
    assert message == (f"SMTP 127.0.0.1:{smtp_auth.port}: AUTH {used}: authentication failed "
                       "for user 'mailer': 535 5.7.8 Authentication credentials invalid; "
                       "message not sent")
    assert smtp_auth.received == [] and smtp_auth.handler.mail_seen == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_over_implicit_tls(smtp_tls_auth: SmtpServer) -> None:
    failure(smtp(smtp_tls_auth, smtp_security="ssl", smtp_user=SMTP_USER,
                 smtp_password="wrong-password"))
    assert smtp_tls_auth.handler.auth_attempts == ["LOGIN"]


def test_auth_not_offered(smtp_starttls: SmtpServer) -> None:
    smtp_starttls.handler.auth_offer = ""
    message = failure(smtp(smtp_starttls, smtp_security="starttls", smtp_user=SMTP_USER,
                           smtp_password=SMTP_PASSWORD))
    assert message.endswith(": AUTH: the server does not offer AUTH (is --smtp-user needed, or "
                            "the right port?); message not sent")


def test_auth_mechanisms_iamkeys_lacks(smtp_auth: SmtpServer) -> None:
    smtp_auth.handler.auth_offer = "XOAUTH2 SCRAM-SHA-256"
    message = failure(smtp(smtp_auth, smtp_security="starttls", smtp_user=SMTP_USER,
                           smtp_password=SMTP_PASSWORD))
    assert message.endswith(": AUTH: the server offers AUTH XOAUTH2 SCRAM-SHA-256; iamkeys can "
                            "log in with PLAIN, LOGIN, CRAM-MD5; message not sent")
    assert smtp_auth.handler.auth_attempts == []


def test_smtp_certificate_not_trusted(smtp_starttls: SmtpServer) -> None:
    message = failure(smtp(smtp_starttls, smtp_security="starttls", ssl_context=None))
    assert message == (f"SMTP 127.0.0.1:{smtp_starttls.port}: TLS: certificate verify failed: "
                       "unable to get local issuer certificate; message not sent")
    assert smtp_starttls.received == []


def test_smtp_starttls_not_offered(smtp_plain: SmtpServer) -> None:
    message = failure(smtp(smtp_plain, smtp_security="starttls"))
    assert message.endswith("STARTTLS: the server does not offer STARTTLS; refusing to "
                            "continue unencrypted (--smtp-security none is for servers "
                            "without TLS); message not sent")


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_plain_text_modes_against_implicit_tls(smtp_tls: SmtpServer, security: str) -> None:
    started = time.monotonic()
    message = failure(smtp(smtp_tls, smtp_security=security, smtp_timeout=30.0))
    assert time.monotonic() - started < 10  # not the 30 s timeout: no greeting, then a probe
    assert message == (f"SMTP 127.0.0.1:{smtp_tls.port}: connect: no SMTP greeting, and port "
                       f"{smtp_tls.port} answers a TLS handshake: the server expects implicit "
                       "TLS: use --smtp-security ssl (IAMKEYS_SMTP_SECURITY=ssl); message not "
                       "sent")


@pytest.mark.parametrize("server", ["smtp_starttls", "smtp_plain"])
def test_implicit_tls_against_a_plain_text_greeting(server: str,
                                                    request: pytest.FixtureRequest) -> None:
    plain_text: SmtpServer = request.getfixturevalue(server)
    message = failure(smtp(plain_text, smtp_security="ssl"))
    assert message == (f"SMTP 127.0.0.1:{plain_text.port}: connect: the server on port "
                       f"{plain_text.port} greets in plain text instead of a TLS handshake: use "
                       "--smtp-security starttls (IAMKEYS_SMTP_SECURITY=starttls); message not "
                       "sent")
    assert "WRONG_VERSION_NUMBER" not in message


def test_a_slow_greeting_is_waited_for() -> None:
    """A server silent past the probe wait, whose port answers no TLS handshake, is waited for;
    its late 421 greeting is a temporary refusal."""
    import threading

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            client, _ = listener.accept()
            probe, _ = listener.accept()  # iamkeys' second connection, after 2 s of silence
            with probe:
                probe.sendall(b"220 slow.example.com ESMTP\r\n")  # a plain greeting: no TLS
            with client:
                client.sendall(b"421 4.3.2 slow.example.com shutting down\r\n")
                client.recv(100)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        message = failure(MailSettings(smtp_host="127.0.0.1", smtp_port=port,
                                       smtp_security="none", smtp_timeout=10.0,
                                       smtp_retry_delays=(), sender=Sender(FROM)),
                          MailDeferredError)
        thread.join(10)
    assert message == (f"SMTP 127.0.0.1:{port}: connect: 421 4.3.2 slow.example.com shutting "
                       "down; message not sent (refused for now: try again later)")


@pytest.mark.parametrize("command, reply, expected", [
    ("MAIL", "553 5.7.1 sender rejected",
     f"MAIL FROM <{FROM}>: 553 5.7.1 sender rejected; message not sent"),
    ("RCPT", "550 5.1.1 no such user",
     "RCPT TO <secops@example.com>: 550 5.1.1 no such user; message not sent"),
    # Postfix checks the sender at RCPT TO (smtpd_delay_reject): the reply says so, as it is.
    ("RCPT", "504 5.5.2 <iamkeys@localhost>: Sender address rejected: need fully-qualified "
             "address", "RCPT TO <secops@example.com>: 504 5.5.2 <iamkeys@localhost>: Sender "
                        "address rejected: need fully-qualified address; message not sent"),
    ("DATA", "554 5.6.0 message rejected",
     "end of DATA: 554 5.6.0 message rejected; message not sent"),
    ("DATA", "550 5.7.1 content rejected",
     "end of DATA: 550 5.7.1 content rejected; message not sent"),
])
def test_smtp_permanent_refusals_name_the_step(smtp_plain: SmtpServer, command: str,
                                               reply: str, expected: str) -> None:
    smtp_plain.handler.replies[command] = reply
    message = failure(smtp(smtp_plain))
    assert message == f"SMTP 127.0.0.1:{smtp_plain.port}: {expected}"
    assert smtp_plain.received == [] and len(smtp_plain.handler.mail_seen) == 1  # not retried


def test_sender_refused_after_auth(smtp_auth: SmtpServer) -> None:
    smtp_auth.handler.replies["MAIL"] = ("553 5.7.1 <sec@example.com>: Sender address rejected: "
                                         "not owned by user mailer")
    message = failure(smtp(smtp_auth, smtp_security="starttls", smtp_user=SMTP_USER,
                           smtp_password=SMTP_PASSWORD))
    assert message == (f"SMTP 127.0.0.1:{smtp_auth.port}: MAIL FROM <sec@example.com> (as user "
                       "'mailer'): 553 5.7.1 <sec@example.com>: Sender address rejected: not "
                       "owned by user mailer; message not sent")


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_greylisting_then_accepted(smtp_plain: SmtpServer, command: str) -> None:
    smtp_plain.handler.script[command] = ["451 4.7.1 Greylisted, try again later"] * 2
    delivery = send_result(SEED, to=TO, settings=smtp(smtp_plain))
    assert delivery.detail.startswith("250 ")
    assert len(smtp_plain.received) == 1  # the two refused transactions delivered nothing
    assert len(smtp_plain.handler.mail_seen) == 3  # a whole transaction per attempt


def test_greylisting_until_the_attempts_run_out(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.replies["RCPT"] = "451 4.7.1 Greylisted, try again later"
    started = time.monotonic()
    message = failure(smtp(smtp_plain, smtp_retry_delays=(0.2, 0.4)), MailDeferredError)
    assert 0.6 <= time.monotonic() - started < 5  # the delays were waited, once each
    assert message == (f"SMTP 127.0.0.1:{smtp_plain.port}: RCPT TO <secops@example.com>: 451 "
                       "4.7.1 Greylisted, try again later; message not sent (3 attempts, each "
                       "refused for now: try again later)")
    assert MailDeferredError.exit_code == 75 and issubclass(MailDeferredError, MailError)
    assert smtp_plain.received == [] and len(smtp_plain.handler.mail_seen) == 3


def test_a_permanent_refusal_after_a_temporary_one_stops(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.script["DATA"] = ["452 4.3.1 insufficient storage",
                                         "552 5.3.4 message too big"]
    message = failure(smtp(smtp_plain))
    assert message.endswith("end of DATA: 552 5.3.4 message too big; message not sent")
    assert len(smtp_plain.handler.mail_seen) == 2


def test_one_refused_recipient_sends_nothing(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.refuse["gone@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(MailError, match=r": RCPT TO <gone@example.com>: 550 5.1.1 no such user;"):
        send_result(SEED, to=[TO, "gone@example.com"], cc="c@example.com",
                    settings=smtp(smtp_plain))
    assert smtp_plain.handler.rcpt_seen == [TO, "gone@example.com", "c@example.com"]
    assert smtp_plain.received == []


def test_a_temporary_and_a_permanent_recipient_refusal_is_permanent(
        smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.refuse["busy@example.com"] = "450 4.2.1 mailbox busy"
    smtp_plain.handler.refuse["gone@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(MailError) as caught:
        send_result(SEED, to=["busy@example.com", "gone@example.com"], settings=smtp(smtp_plain))
    assert not isinstance(caught.value, MailDeferredError)
    assert str(caught.value).endswith(
        ": RCPT TO <busy@example.com>: 450 4.2.1 mailbox busy, RCPT TO <gone@example.com>: 550 "
        "5.1.1 no such user; message not sent")


def test_smtp_connection_dropped_during_data(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.drop_before_data_reply = True
    message = failure(smtp(smtp_plain))
    assert message == (f"SMTP 127.0.0.1:{smtp_plain.port}: DATA: connection closed by the "
                       "server; the server did not confirm the message")
    assert len(smtp_plain.handler.mail_seen) == 1  # never retried: it may have been delivered


def test_smtp_unreachable(closed_port: int) -> None:
    settings = MailSettings(smtp_host="127.0.0.1", smtp_port=closed_port, smtp_security="none",
                            sender=Sender(FROM))
    assert failure(settings) == (f"SMTP 127.0.0.1:{closed_port}: connect: Connection refused; "
                                 "message not sent")


def test_smtp_timeout() -> None:
    with socket.socket() as silent:  # accepts (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        settings = MailSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                smtp_timeout=0.3, sender=Sender(FROM))
        assert failure(settings) == (f"SMTP 127.0.0.1:{port}: connect: timed out after 0.3 s; "
                                     "message not sent")


def test_password_over_plain_refused_before_connecting(closed_port: int) -> None:
    with pytest.raises(InputError, match="unencrypted to smtp.example.com"):
        MailSettings(smtp_host="smtp.example.com", smtp_port=closed_port, smtp_security="none",
                     smtp_user="u", smtp_password="pw")


def test_input_errors_send_nothing(smtp_plain: SmtpServer) -> None:
    with pytest.raises(InputError):
        send_result(SEED, to="not-an-address", settings=smtp(smtp_plain))
    with pytest.raises(InputError):
        send_result({"nope": 1}, to=TO, settings=smtp(smtp_plain))
    assert smtp_plain.handler.rcpt_seen == []


# --- SES (moto behind the harness) ---------------------------------------------------------


def ses_session() -> boto3.Session:
    """A boto3 session with the emulator's test credentials."""
    return boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                         aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                         region_name="us-east-1")


def sent_by_moto(url: str, message_id: str) -> dict[str, Any]:
    """The raw message moto's SES recorded, read over HTTP from /moto-api/data.json."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    [sent] = [m for m in data["ses"]["RawMessage"] if m["id"] == message_id]
    return dict(sent)


def test_ses_sends_raw_mime(emulator: Any) -> None:
    session = ses_session()
    session.client("ses", endpoint_url=emulator.url).verify_email_identity(
        EmailAddress="iam@example.com")
    data = raw(REALISTIC)
    settings = MailSettings(ses=True, connection=Connection(endpoint_url=emulator.url))
    delivery = send_result(REALISTIC, to=TO, cc="c@example.com", sender="iam@example.com",
                           settings=settings, session=session, raw_json=data)
    sent = sent_by_moto(emulator.url, delivery.detail)
    assert sent["source"] == "iam@example.com"
    assert set(sent["destinations"]) == {TO, "c@example.com"}
    body = parts(parsed(sent["raw_data"].encode()))
    assert body["access-keys.json"] == data and len(csv_rows(body["access-keys.csv"])) == 7
    assert delivery.summary().endswith(f"via SES: MessageId {delivery.detail}")


def test_ses_unverified_sender(emulator: Any) -> None:
    settings = MailSettings(ses=True, connection=Connection(endpoint_url=emulator.url))
    with pytest.raises(MailError) as caught:
        send_result(SEED, to=TO, sender="stranger@example.net", settings=settings,
                    session=ses_session())
    assert str(caught.value) == ("SES us-east-1: MessageRejected: Did not have authority to send "
                                 "from email stranger@example.net; message not sent")


# --- outbox --------------------------------------------------------------------------------


def test_outbox_writes_an_eml(tmp_path: Path) -> None:
    data = raw(REALISTIC)
    delivery = send_result(REALISTIC, to=TO, settings=MailSettings(outbox=tmp_path / "out"),
                           raw_json=data)
    path = Path(delivery.detail)
    assert path.parent == tmp_path / "out" and os.listdir(path.parent) == [path.name]
    token = re.sub(r"[^A-Za-z0-9._-]", "_", delivery.message_id.strip("<>"))
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-" + re.escape(token) + r"\.eml", path.name)
    body = parts(parsed(path.read_bytes()))
    assert body["access-keys.json"] == data and len(csv_rows(body["access-keys.csv"])) == 7
    assert delivery.summary().startswith(f"wrote {path} (to {TO}: ")


def test_outbox_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(MailError) as caught:
        send_result(SEED, to=TO, settings=MailSettings(outbox=blocker / "sub"))
    assert str(caught.value) == (f"outbox {blocker / 'sub'}: cannot write: Not a directory; "
                                 "message not written")


def test_outbox_that_cannot_be_written() -> None:
    with pytest.raises(MailError, match=r"^outbox /proc/iamkeys-outbox: cannot write: "):
        send_result(SEED, to=TO, settings=MailSettings(outbox=Path("/proc/iamkeys-outbox")))
