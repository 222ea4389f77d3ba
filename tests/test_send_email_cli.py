"""`iamkeys send-email` as users run it: the real entry point in a subprocess.

SMTP servers are aiosmtpd on 127.0.0.1; the CLI trusts the test CA through --smtp-ca-file (or
SSL_CERT_FILE, the way a user points OpenSSL at a private CA). SES goes to moto behind the test
harness.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import pty
import subprocess
import sys
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli_runner import Result, assert_one_line_error, iamkeys
from mail_samples import EMPTY, REALISTIC, SEED, raw
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

__all__ = ["closed_port", "smtp_auth", "smtp_ca", "smtp_plain", "smtp_starttls", "smtp_tls"]

TO = "secops@example.com"
FROM = "sec@example.com"
# Nothing from the developer's environment may choose a transport or a sender for these tests.
CLEAN = {"IAMKEYS_SMTP_HOST": "", "IAMKEYS_SMTP_PORT": "", "IAMKEYS_SMTP_SECURITY": "",
         "IAMKEYS_SMTP_USER": "", "IAMKEYS_SMTP_PASSWORD": "", "IAMKEYS_OUTBOX": "",
         "IAMKEYS_FROM": "", "IAMKEYS_SMTP_EHLO_NAME": "", "IAMKEYS_SMTP_TIMEOUT": "",
         "IAMKEYS_SMTP_CA_FILE": "", "SSL_CERT_FILE": ""}


@pytest.fixture
def result_file(tmp_path: Path) -> Path:
    """The realistic result, as a user's file holds it."""
    path = tmp_path / "keys.json"
    path.write_bytes(raw(REALISTIC))
    return path


def send(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         cwd: str | None = None) -> Result:
    """Run `iamkeys send-email ARGS` with a clean mail environment."""
    return iamkeys("send-email", *args, env={**CLEAN, **(env or {})}, stdin=stdin, cwd=cwd)


def plain(server: SmtpServer, *, sender: bool = True) -> list[str]:
    """Options for a plain test server (and a sender, which SMTP needs)."""
    return ["--smtp-host", server.host, "--smtp-port", str(server.port),
            "--smtp-security", "none", *(["--from", FROM] if sender else [])]


def attachments(message: EmailMessage) -> dict[str, bytes]:
    """Attachment name -> bytes."""
    return {str(a.get_filename()): a.get_payload(decode=True)  # type: ignore[misc]
            for a in message.iter_attachments()}


def assert_sent(result: Result, server: SmtpServer, subject: str) -> None:
    """Exit 0, stdout empty, one summary line on stderr naming the server's answer."""
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == (f"iamkeys: sent {subject!r} to {TO} via SMTP: 250 2.0.0 Message "
                             f"accepted for delivery from 127.0.0.1:{server.port}\n")


def assert_failed(result: Result, *needles: str) -> None:
    """Exit 1, one line, and nothing on stderr claims the message went out."""
    assert_one_line_error(result, 1, *needles)
    assert "sent '" not in result.stderr and result.stdout == ""


# --- delivered -----------------------------------------------------------------------------


def test_stdin_to_plain_smtp(smtp_plain: SmtpServer) -> None:
    data = raw(REALISTIC).decode()
    result = send("--to", TO, *plain(smtp_plain), stdin=data)
    assert_sent(result, smtp_plain, "IAM access keys: 6 keys, 5 users")
    [got] = smtp_plain.received
    assert attachments(got.message)["access-keys.json"] == data.encode()


def test_options_from_the_environment_with_auth_over_starttls(smtp_auth: SmtpServer,
                                                               result_file: Path) -> None:
    env = {"IAMKEYS_SMTP_HOST": "127.0.0.1", "IAMKEYS_SMTP_PORT": str(smtp_auth.port),
           "IAMKEYS_SMTP_USER": SMTP_USER, "IAMKEYS_SMTP_PASSWORD": SMTP_PASSWORD,
           "IAMKEYS_SMTP_CA_FILE": str(smtp_auth.ca_file), "IAMKEYS_FROM": FROM,
           "IAMKEYS_SMTP_EHLO_NAME": "reports.example.com", "IAMKEYS_SMTP_TIMEOUT": "20"}
    result = send("--input", str(result_file), "--to", TO, "--subject", "Weekly keys", env=env)
    assert_sent(result, smtp_auth, "Weekly keys")
    [got] = smtp_auth.received
    assert got.message["Subject"] == "Weekly keys"
    assert (got.mail_from, smtp_auth.handler.ehlo_seen) == (FROM, ["reports.example.com"] * 2)
    assert attachments(got.message)["access-keys.json"] == result_file.read_bytes()


def test_private_ca_through_ssl_cert_file(smtp_starttls: SmtpServer) -> None:
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(smtp_starttls.port), stdin=json.dumps(SEED),
                  env={"SSL_CERT_FILE": str(smtp_starttls.ca_file)})
    assert_sent(result, smtp_starttls, "IAM access keys: 2 keys, 1 user")


def test_private_ca_file_and_ehlo_name_options(smtp_starttls: SmtpServer) -> None:
    result = send("--to", TO, "--from", '"IAM key report" <sec@example.com>', "--smtp-host",
                  "127.0.0.1", "--smtp-port", str(smtp_starttls.port), "--smtp-ca-file",
                  str(smtp_starttls.ca_file), "--smtp-ehlo-name", "reports.example.com",
                  stdin=json.dumps(SEED))
    assert_sent(result, smtp_starttls, "IAM access keys: 2 keys, 1 user")
    [got] = smtp_starttls.received
    assert (got.mail_from, got.message["From"]) == (FROM, "IAM key report <sec@example.com>")
    assert smtp_starttls.handler.ehlo_seen == ["reports.example.com"] * 2  # before and after TLS


def test_help_names_the_mail_options() -> None:
    result = iamkeys("send-email", "--help")
    assert result.code == 0
    text = " ".join(result.stdout.split())
    for needle in ("--smtp-ca-file FILE", "IAMKEYS_SMTP_CA_FILE", "--smtp-timeout SECONDS",
                   "IAMKEYS_SMTP_TIMEOUT", "--smtp-ehlo-name HOST", "IAMKEYS_SMTP_EHLO_NAME",
                   "IAMKEYS_FROM", "Required with SMTP and SES"):
        assert needle in text, needle


def test_addresses_and_subject(smtp_plain: SmtpServer, result_file: Path) -> None:
    result = send("--input", str(result_file), "--to", TO, "--to", "b@example.com,c@example.com",
                  "--cc", "d@example.com", "--from", "iam@example.org", "--subject",
                  "Clés d'accès", *plain(smtp_plain, sender=False))
    assert result.code == 0, result.stderr
    [got] = smtp_plain.received
    message = got.message
    assert got.mail_from == "iam@example.org"
    assert got.rcpt_tos == (TO, "b@example.com", "c@example.com", "d@example.com")
    assert (message["From"], message["To"], message["Cc"], message["Subject"]) == (
        "iam@example.org", f"{TO}, b@example.com, c@example.com", "d@example.com",
        "Clés d'accès")


def test_zero_keys_still_sends(smtp_plain: SmtpServer) -> None:
    result = send("--to", TO, *plain(smtp_plain), stdin=json.dumps(EMPTY))
    assert_sent(result, smtp_plain, "IAM access keys: no access keys found")
    html = smtp_plain.received[0].message.get_body(("html",))
    assert html is not None and "No access keys found." in html.get_content()


def test_outbox_is_the_default(tmp_path: Path) -> None:
    result = send("--to", TO, stdin=json.dumps(SEED), cwd=str(tmp_path))
    assert result.code == 0 and result.stdout == "", result.stderr
    [eml] = (tmp_path / "outbox").iterdir()
    assert result.stderr == (f"iamkeys: wrote outbox/{eml.name} (to {TO}: 'IAM access keys: "
                             "2 keys, 1 user'); not sent: no SMTP host or SES configured\n")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert sorted(attachments(message)) == ["access-keys.csv", "access-keys.json"]
    assert json.loads(attachments(message)["access-keys.json"]) == SEED
    assert message["From"] == "iamkeys@localhost"  # the outbox keeps a default sender


def test_outbox_from_the_environment(tmp_path: Path) -> None:
    result = send("--to", TO, stdin=json.dumps(SEED),
                  env={"IAMKEYS_OUTBOX": str(tmp_path / "mail")})
    assert result.code == 0, result.stderr
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


# --- refused before anything is sent ------------------------------------------------------


@pytest.mark.parametrize("args, needles", [
    ([], ["Error: --to: at least one address is required"]),
    (["--to", "Alice <a@example.com>"], ["Error: --to: 'Alice <a@example.com>' is not a plain"]),
    (["--to", '"a@b.com" <evil@x.com>'], ["Error: --to: ", "is not a plain e-mail address"]),
    (["--to", "a@example.com\r\nBcc: evil@x.com"], ["Error: --to: ", "control characters"]),
    (["--to", TO, "--cc", "c@example.com\nBcc: evil@x.com"], ["Error: --cc: "]),
    (["--to", TO, "--from", "me@example.com\r\nBcc: evil@x.com"], ["Error: --from: "]),
    (["--to", TO, "--subject", "Keys\r\nBcc: evil@x.com"],
     ["Error: --subject: must not contain control characters (CR, LF, NUL, ...)"]),
    (["--to", TO, "--subject", "Keys\nX: y"], ["Error: --subject: must not contain control"]),
    (["--to", TO, "--smtp-security", "tls", "--smtp-host", "127.0.0.1"],
     ["Error: --smtp-security: must be one of starttls, ssl, none"]),
    (["--to", TO, "--smtp-host", "127.0.0.1", "--smtp-port", "70000"],
     ["Error: --smtp-port: must be an integer from 1 to 65535"]),
    (["--to", TO, "--smtp-host", "127.0.0.1", "--ses"], ["Error: --ses: choose one transport"]),
    (["--to", TO, "--smtp-password", "x"], ["Error: No such option '--smtp-password'"]),
    (["--to", TO, "--region", "moon-1"], ["Error: --region: 'moon-1' is not a region name"]),
    (["--to", TO, "--from", '"a@b.com" <evil@x.com>'], ["Error: --from: the display name "]),
    (["--to", TO, "--smtp-timeout", "0"],
     ["Error: --smtp-timeout: must be an integer from 1 to 600"]),
    (["--to", TO, "--smtp-ehlo-name", "my laptop"],
     ["Error: --smtp-ehlo-name: 'my laptop' is not a host name"]),
    (["--to", TO, "--smtp-ca-file", "/nonexistent.pem"],
     ["Error: --smtp-ca-file: cannot use '/nonexistent.pem': No such file or directory"]),
    (["--to", TO], ["Error: --from: required to send through SMTP (or set IAMKEYS_FROM): "
                    "servers refuse a sender without a real domain, like iamkeys@localhost"]),
])
def test_input_errors(smtp_plain: SmtpServer, args: list[str], needles: list[str]) -> None:
    result = send(*args, *plain(smtp_plain)[:4] if "--smtp-host" not in args else (),
                  stdin=json.dumps(SEED))
    assert_one_line_error(result, 2, *needles)
    assert smtp_plain.handler.ehlo_seen == [] and smtp_plain.received == []  # never connected


def test_ses_needs_a_sender(aws_env: Any) -> None:
    result = send("--ses", "--to", TO, stdin=json.dumps(SEED))
    assert_one_line_error(result, 2, "Error: --from: required to send through SES (or set "
                                     "IAMKEYS_FROM)")
    assert aws_env.stats()["total"] == 0


@pytest.mark.parametrize("stdin, needle", [
    ('{"AccessKeyMetadata": [\n  {"AccessKeyId": }\n]}',
     "Error: --input: invalid JSON at line 2 column 19: Expecting value"),
    ('{"Users": []}', "Error: --input: not an iamkeys result: expected AccessKeyMetadata"),
    ('{"AccessKeyMetadata": [{"AccessKeyId": "AKIA1", "Status": "Active", '
     '"CreateDate": "yesterday"}]}',
     "Error: --input: not an iamkeys result: AccessKeyMetadata[0].CreateDate must be an ISO"),
])
def test_bad_input_documents(smtp_plain: SmtpServer, stdin: str, needle: str) -> None:
    result = send("--to", TO, *plain(smtp_plain), stdin=stdin)
    assert_one_line_error(result, 2, needle)
    assert smtp_plain.received == []


def test_no_input_on_a_terminal() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "iamkeys", "send-email", "--to", TO],
                              stdin=terminal, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **CLEAN})
    finally:
        os.close(controller)
        os.close(terminal)
    assert_one_line_error(Result(done.returncode, done.stdout, done.stderr), 2,
                          "Error: --input: no input: pass --input FILE or pipe a JSON result in")


def test_input_file_problems(tmp_path: Path) -> None:
    missing = send("--to", TO, "--input", str(tmp_path / "nope.json"))
    assert_one_line_error(missing, 2, f"Error: --input: cannot read '{tmp_path}/nope.json': "
                                      "No such file or directory")
    big = tmp_path / "big.json"
    with big.open("wb") as file:
        file.truncate(20 * 1024 * 1024 + 1)
    too_big = send("--to", TO, "--input", str(big), cwd=str(tmp_path))
    assert_one_line_error(too_big, 2, "Error: --input: larger than 20 MiB (20971520 bytes)")
    assert not (tmp_path / "outbox").exists()


def test_password_never_travels_unencrypted_off_this_machine(closed_port: int) -> None:
    result = send("--to", TO, "--smtp-host", "smtp.invalid", "--smtp-port", str(closed_port),
                  "--smtp-security", "none", "--smtp-user", "bot", stdin=json.dumps(SEED),
                  env={"IAMKEYS_SMTP_PASSWORD": "hunter2-secret"})
    assert_one_line_error(result, 2, "Error: --smtp-security: none would send the SMTP password "
                                     "unencrypted to smtp.invalid; use starttls or ssl")
    assert "hunter2-secret" not in result.stderr


# --- delivery failures ---------------------------------------------------------------------


def test_unreachable_server(closed_port: int) -> None:
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(closed_port), "--smtp-security", "none", stdin=json.dumps(SEED))
    assert_failed(result, f"Error: SMTP 127.0.0.1:{closed_port}: connect: Connection refused; "
                          "message not sent")


def test_auth_failure_is_one_attempt_and_does_not_print_the_password(
        smtp_auth: SmtpServer) -> None:
    env = {"IAMKEYS_SMTP_PASSWORD": "wrong-but-secret", "IAMKEYS_FROM": FROM}
    result = send("--to", TO, "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_auth.port),
                  "--smtp-user", SMTP_USER, "--smtp-ca-file", str(smtp_auth.ca_file),
                  stdin=json.dumps(SEED), env=env)
    assert_failed(result, "AUTH LOGIN: authentication failed for user 'mailer': 535 5.7.8")
    assert "wrong-but-secret" not in result.stderr
    assert smtp_auth.handler.auth_attempts == ["LOGIN"]  # smtplib's login() made two


def test_certificate_not_trusted(smtp_starttls: SmtpServer) -> None:
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(smtp_starttls.port), stdin=json.dumps(SEED))
    assert_failed(result, "TLS: certificate verify failed")
    assert smtp_starttls.received == []


def test_starttls_not_offered(smtp_plain: SmtpServer) -> None:
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(smtp_plain.port), stdin=json.dumps(SEED))
    assert_failed(result, "STARTTLS: the server does not offer STARTTLS")


def test_starttls_against_implicit_tls_fails_fast(smtp_tls: SmtpServer) -> None:
    started = time.monotonic()
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(smtp_tls.port), "--smtp-ca-file", str(smtp_tls.ca_file),
                  stdin=json.dumps(SEED))
    assert time.monotonic() - started < 15  # the default timeout is 30 s
    assert_failed(result, f"Error: SMTP 127.0.0.1:{smtp_tls.port}: connect: no SMTP greeting, "
                          "and port", "use --smtp-security ssl (IAMKEYS_SMTP_SECURITY=ssl)")


def test_ssl_against_starttls(smtp_starttls: SmtpServer) -> None:
    result = send("--to", TO, "--from", FROM, "--smtp-host", "127.0.0.1", "--smtp-port",
                  str(smtp_starttls.port), "--smtp-security", "ssl", stdin=json.dumps(SEED))
    assert_failed(result, "greets in plain text instead of a TLS handshake: use "
                          "--smtp-security starttls")
    assert "WRONG_VERSION_NUMBER" not in result.stderr


@pytest.mark.parametrize("command, reply, step", [
    ("MAIL", "553 5.7.1 sender rejected", f"MAIL FROM <{FROM}>"),
    ("RCPT", "550 5.1.1 no such user", f"RCPT TO <{TO}>"),
    ("DATA", "554 5.6.0 rejected", "end of DATA")])
def test_server_refuses(smtp_plain: SmtpServer, command: str, reply: str, step: str) -> None:
    smtp_plain.handler.replies[command] = reply
    result = send("--to", TO, *plain(smtp_plain), stdin=json.dumps(SEED))
    assert_failed(result, f"Error: SMTP 127.0.0.1:{smtp_plain.port}: {step}: {reply}; message "
                          "not sent")
    assert smtp_plain.received == []


def test_greylisted_then_accepted(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.script["RCPT"] = ["451 4.7.1 Greylisted, try again later"]
    result = send("--to", TO, *plain(smtp_plain), stdin=json.dumps(SEED))
    assert_sent(result, smtp_plain, "IAM access keys: 2 keys, 1 user")
    assert len(smtp_plain.received) == 1 and len(smtp_plain.handler.mail_seen) == 2


def test_greylisted_on_every_attempt_is_exit_75(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.replies["RCPT"] = "451 4.7.1 Greylisted, try again later"
    result = send("--to", TO, *plain(smtp_plain), stdin=json.dumps(SEED))  # waits 1 s, 4 s
    assert_one_line_error(result, 75, f"Error: SMTP 127.0.0.1:{smtp_plain.port}: RCPT TO <{TO}>: "
                                      "451 4.7.1 Greylisted, try again later; message not sent "
                                      "(3 attempts, each refused for now: try again later)")
    assert smtp_plain.received == [] and len(smtp_plain.handler.mail_seen) == 3


def test_connection_dropped_during_data(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.drop_before_data_reply = True
    result = send("--to", TO, *plain(smtp_plain), stdin=json.dumps(SEED))
    assert_failed(result, "DATA: connection closed by the server; the server did not confirm")


def test_outbox_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = send("--to", TO, "--outbox", str(blocker / "sub"), stdin=json.dumps(SEED))
    assert_failed(result, f"Error: outbox {blocker}/sub: cannot write: Not a directory; "
                          "message not written")


# --- SES through moto ----------------------------------------------------------------------


def moto_messages(url: str) -> list[dict[str, Any]]:
    """Every raw message moto's SES recorded, read over HTTP."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/moto-api/data.json", timeout=30) as response:
        messages: list[dict[str, Any]] = json.loads(response.read())["ses"]["RawMessage"]
    return messages


def test_ses(aws_env: Any, result_file: Path) -> None:
    boto3.client("ses", region_name="us-east-1").verify_email_identity(
        EmailAddress="iam@example.com")
    result = send("--ses", "--from", "iam@example.com", "--to", TO, "--cc", "c@example.com",
                  "--input", str(result_file))
    assert result.code == 0 and result.stdout == "", result.stderr
    [sent] = moto_messages(aws_env.url)
    assert result.stderr == (f"iamkeys: sent 'IAM access keys: 6 keys, 5 users' to {TO}, "
                             f"c@example.com via SES: MessageId {sent['id']}\n")
    assert sent["source"] == "iam@example.com"
    assert set(sent["destinations"]) == {TO, "c@example.com"}
    message = email.message_from_string(sent["raw_data"], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert attachments(message)["access-keys.json"] == result_file.read_bytes()
    assert attachments(message)["access-keys.csv"].count(b"\r\n") == 7


def test_ses_unverified_sender(aws_env: Any) -> None:
    result = send("--ses", "--region", "eu-west-1", "--from", "stranger@example.net", "--to", TO,
                  stdin=json.dumps(SEED))
    assert_failed(result, "Error: SES eu-west-1: MessageRejected: Did not have authority to "
                          "send from email stranger@example.net; message not sent")
    assert moto_messages(aws_env.url) == []
