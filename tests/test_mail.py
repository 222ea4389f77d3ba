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
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkeys import documents, params
from iamkeys.aws import Connection
from iamkeys.documents import MAX_INPUT_BYTES, load_json, read_input
from iamkeys.errors import InputError, MailError
from iamkeys.mail import (
    Delivery,
    MailSettings,
    body,
    build_message,
    send_result,
    summary_subject,
)
from mail_samples import EMPTY, HOSTILE, INVENTORY, LONG_NAME, PARTITIONS, REALISTIC, SEED, raw
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
)

__all__ = ["closed_port", "smtp_auth", "smtp_plain", "smtp_starttls", "smtp_tls", "smtp_ca"]

TO = "secops@example.com"
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


def key_rows(html: str) -> list[str]:
    """The table rows that show a key."""
    return re.findall(r'<tr class="key[^"]*">', html)


def smtp(server: SmtpServer, **overrides: Any) -> MailSettings:
    """Settings for a test server, trusting its CA through the ssl_context seam."""
    values: dict[str, Any] = {"smtp_host": server.host, "smtp_port": server.port,
                              "smtp_security": "none", "ssl_context": server.client_context(),
                              "timeout": 10.0}
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


# --- reading results -----------------------------------------------------------------------


def parse_result(document: Any, *, now: datetime) -> body.ResultRows:
    """A document as the email's rows: read by the one reader, then laid out."""
    return body.rows(documents.parse(document), now=now)


def test_listing_rows_and_ages() -> None:
    result = parse_result(SEED, now=NOW)
    assert result.kind == "listing"
    assert [(r.user_name, r.access_key_id, r.status, r.age_days) for r in result.rows] == [
        ("Alice", "AKIA111111111EXAMPLE", "Active", 3103),
        ("Alice", "AKIA222222222EXAMPLE", "Active", 3103)]
    assert (result.users, result.inactive, result.old) == (1, 0, 2)


def test_partition_rows_keep_partition_and_truncation() -> None:
    result = parse_result(PARTITIONS, now=NOW)
    assert [r.partition for r in result.rows] == ["aws", "aws-cn"]
    assert result.partitions == ("aws", "aws-cn")
    assert result.truncated == ("aws-cn truncated: more keys follow Marker 'bWFya2Vy'",)


def test_inventory_rows() -> None:
    result = parse_result(INVENTORY, now=NOW)
    first = result.rows[0]
    assert (result.kind, first.account_id, first.age_days, first.findings) == (
        "inventory", "111122223333", 2920, ("IAM.3",))
    assert first.last_used_date is not None and result.rows[1].last_used_date is None
    assert result.errors == ("AccountId: 777788889999; Operation: ListUsers; "
                             "Code: AccessDenied; Message: not authorized",)
    assert (result.users, result.findings) == (4, 2)  # the Summary's: users without keys too


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
    assert len(key_rows(body["html"])) == 6
    rows = csv_rows(body["access-keys.csv"])
    assert rows[0] == ["AccessKeyId", "CreateDate", "Status", "UserName"]
    assert [r[0] for r in rows[1:]] == [k["AccessKeyId"] for k in REALISTIC["AccessKeyMetadata"]]
    assert "AKIA666666666EXAMPLE" in body["text"] and LONG_NAME in body["text"]


def test_message_is_seven_bit() -> None:
    data = build_message(REALISTIC, to=TO, subject="Clés IAM — résumé").as_bytes()
    data.decode("ascii")
    assert parsed(data)["Subject"] == "Clés IAM — résumé"


def test_inactive_and_old_keys_are_marked_with_class_and_label() -> None:
    html = parts(build_message(REALISTIC, to=TO))["html"]
    rows = re.findall(r'<tr class="(key[^"]*)">(.*?)</tr>', html, re.S)
    marks = {re.search(r'class="id">([^<]+)<', cells).group(1): (cls, cells)  # type: ignore
             for cls, cells in rows}
    cls, cells = marks["AKIA333333333EXAMPLE"]  # inactive and 400 days old
    assert cls == "key inactive old"
    assert '<span class="tag tag-inactive">Inactive</span>' in cells
    assert '<span class="tag tag-old">Old</span>' in cells
    assert marks["AKIA444444444EXAMPLE"][0] == "key"  # active, 12 days
    assert marks["AKIA666666666EXAMPLE"][0] == "key"  # exactly 90 days is not old
    assert marks["AKIA555555555EXAMPLE"][0] == "key old"  # 91 days


@pytest.mark.parametrize("document", [REALISTIC, PARTITIONS, INVENTORY])
def test_html_is_self_contained(document: dict[str, Any]) -> None:
    html = parts(build_message(document, to=TO))["html"]
    assert not re.search(r"(?i)<(script|link|img|iframe)|src=|url\(|@import|https?://", html)


def test_listing_html_wraps_instead_of_scrolling() -> None:
    html = parts(build_message(REALISTIC, to=TO))["html"]
    assert "table-layout: fixed" in html and "overflow-wrap: anywhere" in html


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
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "a&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert('x')</script>" in body["text"]  # plain text is not HTML


def test_csv_neutralises_formulas() -> None:
    rows = csv_rows(parts(build_message(HOSTILE, to=TO))["access-keys.csv"])
    assert rows[2][3] == "'=cmd|' /C calc'!A0"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_zero_keys_says_so() -> None:
    message = build_message(EMPTY, to=TO)
    body = parts(message)
    assert message["Subject"] == "IAM access keys: no access keys found"
    assert "<b>No access keys found.</b>" in body["html"] and "<table" not in body["html"]
    assert "No access keys found." in body["text"]
    assert csv_rows(body["access-keys.csv"]) == [["AccessKeyId", "CreateDate", "Status",
                                                  "UserName"]]


def test_inventory_body_is_the_report_with_findings_and_last_use() -> None:
    from iamkeys.render.report import report_html

    body = parts(build_message(INVENTORY, to=TO))
    page = report_html(documents.inventory(INVENTORY))
    assert body["html"].rstrip("\n") == page.rstrip("\n")
    for record in INVENTORY["Keys"]:
        assert record["AccessKeyId"] in body["html"] and record["AccessKeyId"] in body["text"]
    assert "IAM.3" in body["html"] and "STALE_INACTIVE" in body["html"]
    text = body["text"]
    assert "Last used" in text and "Findings" in text and "never" in text
    assert "IAM.3" in text and "Error: AccountId: 777788889999; Operation: ListUsers" in text
    rows = csv_rows(body["access-keys.csv"])
    assert rows[0][-4:] == ["LastUsedDate", "LastUsedService", "LastUsedRegion", "Findings"]
    assert rows[1][-4:-1] == [INVENTORY["Keys"][0]["LastUsedDate"], "s3", "eu-west-1"]
    assert rows[1][-1] == "IAM.3" and len(rows) == 4


def test_inventory_the_report_cannot_read_is_an_input_error() -> None:
    document = {"Keys": [], "Errors": [], "Summary": {"Users": 0}}
    with pytest.raises(InputError) as caught:
        build_message(document, to=TO)
    assert caught.value.parameter == "input"


def test_partitions_get_a_column_and_a_notice() -> None:
    body = parts(build_message(PARTITIONS, to=TO))
    assert '<th scope="col">Partition</th>' in body["html"]
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


def test_display_name_tricks() -> None:
    for value in ['"a@b.com" <evil@x.com>', "a@b.com <evil@x.com>", "Alice <a@b.com>"]:
        with pytest.raises(InputError, match="is not a plain e-mail address"):
            build_message(SEED, to=value)
    # Commas inside one value split it: each address is checked and shown, none is hidden.
    message = build_message(SEED, to=["a@b.com,evil@x.com"])
    assert message["To"] == "a@b.com, evil@x.com"


# --- settings ------------------------------------------------------------------------------


def test_settings_from_environ_and_overrides() -> None:
    environ = {"IAMKEYS_SMTP_HOST": "smtp.example.com", "IAMKEYS_SMTP_PORT": "2525",
               "IAMKEYS_SMTP_SECURITY": "SSL", "IAMKEYS_SMTP_USER": "bot",
               "IAMKEYS_SMTP_PASSWORD": "pw-from-env", "IAMKEYS_OUTBOX": "/tmp/out"}
    settings = MailSettings.from_environ(environ)
    assert (settings.smtp_host, settings.port, settings.smtp_security, settings.smtp_user,
            settings.smtp_password, settings.outbox) == (
        "smtp.example.com", 2525, "ssl", "bot", "pw-from-env", Path("/tmp/out"))
    assert "pw-from-env" not in repr(settings)
    overridden = MailSettings.from_environ(environ, smtp_port="465", smtp_host=None,
                                           outbox="elsewhere")
    assert (overridden.smtp_host, overridden.port, overridden.outbox) == (
        "smtp.example.com", 465, Path("elsewhere"))


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
    ({}, {"timeout": 0.0}, "timeout", "more than 0"),
])
def test_settings_refused(environ: dict[str, str], overrides: dict[str, Any], parameter: str,
                          rule: str) -> None:
    with pytest.raises(InputError) as caught:
        MailSettings.from_environ(environ, **overrides)
    assert caught.value.parameter == parameter and rule in caught.value.rule


def test_settings_from_cli_options_over_the_environment() -> None:
    from iamkeys.commands.send_email import settings_from_options

    environ = {"IAMKEYS_SMTP_HOST": "smtp.example.com", "IAMKEYS_SMTP_USER": "env-user",
               "IAMKEYS_SMTP_PASSWORD": "env-password"}
    settings = settings_from_options(None, "2525", "ssl", "cli-user", False, None,
                                     connection=Connection(region="eu-west-1"), environ=environ)
    assert (settings.smtp_host, settings.port, settings.smtp_security, settings.smtp_user,
            settings.smtp_password, settings.connection.region) == (
        "smtp.example.com", 2525, "ssl", "cli-user", "env-password", "eu-west-1")
    outbox = settings_from_options(None, None, None, None, False, "mail", environ={})
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
    assert got.mail_from == "iamkeys@localhost" and got.rcpt_tos == (TO,)
    assert (message["From"], message["To"], message["Subject"]) == (
        "iamkeys@localhost", TO, "IAM access keys: 6 keys, 5 users")
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


def test_smtp_cc_and_sender(smtp_plain: SmtpServer) -> None:
    send_result(SEED, to=[TO, "b@example.com"], cc=["c@example.com", TO],
                sender="iam@example.org", subject="Weekly keys", settings=smtp(smtp_plain))
    [got] = smtp_plain.received
    assert got.mail_from == "iam@example.org"
    assert got.rcpt_tos == (TO, "b@example.com", "c@example.com")
    message = got.message
    assert (message["To"], message["Cc"], message["Subject"]) == (
        f"{TO}, b@example.com", f"c@example.com, {TO}", "Weekly keys")


def failure(settings: MailSettings) -> str:
    """The MailError message of a send that must fail."""
    with pytest.raises(MailError) as caught:
        send_result(SEED, to=TO, settings=settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_smtp_auth_failure(smtp_auth: SmtpServer) -> None:
    message = failure(smtp(smtp_auth, smtp_security="starttls", smtp_user=SMTP_USER,
                           smtp_password="wrong-password"))
    assert message == (f"SMTP 127.0.0.1:{smtp_auth.port}: AUTH: authentication failed for "
                       "user 'mailer': 535 5.7.8 Authentication credentials invalid; "
                       "message not sent")
    assert smtp_auth.received == []


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


def test_smtp_tls_to_a_plain_server(smtp_plain: SmtpServer) -> None:
    assert ": TLS: " in failure(smtp(smtp_plain, smtp_security="ssl"))


@pytest.mark.parametrize("command, reply, expected", [
    ("MAIL", "451 4.3.0 try again later", "MAIL FROM: 451 4.3.0 try again later; message not"),
    ("MAIL", "550 5.7.1 sender rejected", "MAIL FROM: 550 5.7.1 sender rejected; message not"),
    ("RCPT", "450 4.2.1 mailbox busy", "RCPT TO: recipient refused: secops@example.com "
                                       "(450 4.2.1 mailbox busy); message not sent"),
    ("DATA", "554 5.6.0 message rejected", "DATA: 554 5.6.0 message rejected; the server did "
                                           "not confirm the message"),
    ("DATA", "452 4.3.1 insufficient storage", "DATA: 452 4.3.1 insufficient storage;"),
])
def test_smtp_error_replies(smtp_plain: SmtpServer, command: str, reply: str,
                            expected: str) -> None:
    smtp_plain.handler.replies[command] = reply
    message = failure(smtp(smtp_plain))
    assert message.startswith(f"SMTP 127.0.0.1:{smtp_plain.port}: ") and expected in message
    assert smtp_plain.received == []


def test_one_refused_recipient_sends_nothing(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.refuse["gone@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(MailError, match=r"recipient refused: gone@example.com \(550 5.1.1 no "):
        send_result(SEED, to=[TO, "gone@example.com"], cc="c@example.com",
                    settings=smtp(smtp_plain))
    assert smtp_plain.handler.rcpt_seen == [TO, "gone@example.com", "c@example.com"]
    assert smtp_plain.received == []


def test_smtp_connection_dropped_during_data(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.drop_before_data_reply = True
    message = failure(smtp(smtp_plain))
    assert message == (f"SMTP 127.0.0.1:{smtp_plain.port}: DATA: connection closed by the "
                       "server; the server did not confirm the message")


def test_smtp_unreachable(closed_port: int) -> None:
    settings = MailSettings(smtp_host="127.0.0.1", smtp_port=closed_port, smtp_security="none")
    assert failure(settings) == (f"SMTP 127.0.0.1:{closed_port}: connect: Connection refused; "
                                 "message not sent")


def test_smtp_timeout() -> None:
    with socket.socket() as silent:  # accepts (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        settings = MailSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                timeout=0.3)
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
