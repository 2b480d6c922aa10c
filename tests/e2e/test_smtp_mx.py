"""The MX (port `smtp`): every reply code a sending server can meet, and messages read back
from the store byte for byte."""
import signal
import smtplib
import subprocess

import pytest

from smtp_support import RawSmtp, listing, message_bytes, start_tern, tls_context

MESSAGE = (b"From: Sender <sender@remote.test>\r\nTo: u@example.test\r\n"
           b"Subject: hello\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n\r\n"
           b"first line\r\n.a line that starts with a dot\r\n\r\nlast line\r\n")


def stuffed(message):
    """RFC 5321 §4.5.2 transparency, as a client sends it."""
    return message.replace(b"\r\n.", b"\r\n..")


@pytest.fixture
def mx(tmp_path):
    tern = start_tern(tmp_path)
    tern.add_user("u@example.test", "pw-u")
    yield tern
    tern.stop()


def connect(tern):
    return smtplib.SMTP(tern.host("smtp"), tern.port("smtp"), local_hostname="client.test",
                        timeout=20)


def test_a_message_is_stored_byte_for_byte_under_return_path_and_received(mx):
    with connect(mx) as s:
        code, caps = s.ehlo()
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"SMTPUTF8", b"ENHANCEDSTATUSCODES",
                    b"CHUNKING", b"DSN", b"STARTTLS"):
            assert ext in caps
        assert b"AUTH" not in caps
        s.mail("sender@remote.test")
        assert s.rcpt("u@example.test") == (250, b"2.1.5 recipient OK")
        code, text = s.data(MESSAGE)
        assert code == 250 and text.startswith(b"2.0.0")
    [(uid, size, subject)] = listing(mx, "u@example.test")
    assert subject == "hello"
    stored = message_bytes(mx, "u@example.test", uid)
    assert len(stored) == size
    assert stored.startswith(b"Return-Path: <sender@remote.test>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby mail.test (Tern) with ESMTP id ")
    assert b"\r\n\tfor <u@example.test>;\r\n" in stored
    assert stored.endswith(b"+0000\r\n" + MESSAGE)


def test_unknown_user_and_relay_are_refused_and_the_session_goes_on(mx):
    with connect(mx) as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, text = s.rcpt("nobody@example.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = s.rcpt("someone@elsewhere.test")
        assert (code, text[:5]) == (554, b"5.7.1")
        assert b"relay access denied" in text
        assert s.rcpt("U@Example.TEST")[0] == 250
        assert s.data(MESSAGE)[0] == 250
    assert len(listing(mx, "u@example.test")) == 1


def test_aliases_catch_all_and_subaddresses_are_accepted(mx):
    mx.cli("alias", "add", "team@example.test", "u@example.test")
    with connect(mx) as s:
        s.ehlo()
        s.mail("sender@remote.test")
        assert s.rcpt("team@example.test")[0] == 250
        assert s.rcpt("u+news@example.test")[0] == 250
        assert s.rcpt("x@example.test")[0] == 550
        mx.cli("alias", "add", "@example.test", "u@example.test")
        assert s.rcpt("x@example.test")[0] == 250
        assert s.data(MESSAGE)[0] == 250
    # Four addresses, one account: one copy.
    assert len(listing(mx, "u@example.test")) == 1


def test_over_quota_is_temporary_at_rcpt_and_too_big_for_quota_is_permanent(mx):
    mx.add_user("small@example.test", "pw", quota="2K")
    with connect(mx) as s:
        s.ehlo()
        # SIZE announced beyond what is left: 552 5.2.2 at RCPT.
        s.mail("sender@remote.test", ["SIZE=5000"])
        code, text = s.rcpt("small@example.test")
        assert (code, text[:5]) == (552, b"5.2.2")
        s.rset()
        # Without SIZE the store's check answers at the end of DATA.
        s.mail("sender@remote.test")
        assert s.rcpt("small@example.test")[0] == 250
        code, text = s.data(b"Subject: big\r\n\r\n" + b"x" * 3000 + b"\r\n")
        assert (code, text[:5]) == (552, b"5.2.2")
        s.mail("sender@remote.test")
        assert s.rcpt("small@example.test")[0] == 250
        assert s.data(b"Subject: fits\r\n\r\n" + b"x" * 1000 + b"\r\n")[0] == 250
    mx.cli("user", "quota", "small@example.test", "1K")
    with connect(mx) as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, text = s.rcpt("small@example.test")
        assert (code, text[:5]) == (452, b"4.2.2")
    assert [r[2] for r in listing(mx, "small@example.test")] == ["fits"]


def test_domain_quota_counts_too(mx):
    mx.cli("domain", "quota", "example.test", "1")
    with connect(mx) as s:
        s.ehlo()
        s.mail("sender@remote.test")
        # The domain already holds nothing but a limit of one byte: the message can't fit.
        code, text = s.rcpt("u@example.test")
        assert code == 250
        code, text = s.data(MESSAGE)
        assert (code, text[:5]) == (552, b"5.2.2")


def test_size_limit_is_advertised_and_enforced_while_streaming(tmp_path):
    tern = start_tern(tmp_path, '\n[limits]\nmax_message_size = "10K"\n')
    tern.add_user("u@example.test")
    try:
        with connect(tern) as s:
            _, caps = s.ehlo()
            assert b"SIZE 10240" in caps
            code, text = s.mail("sender@remote.test", ["SIZE=20000"])
            assert (code, text[:5]) == (552, b"5.3.4")
            s.mail("sender@remote.test")
            s.rcpt("u@example.test")
            code, text = s.data(b"Subject: huge\r\n\r\n" + (b"y" * 998 + b"\r\n") * 30)
            assert (code, text[:5]) == (552, b"5.3.4")
            assert s.noop()[0] == 250
            s.mail("sender@remote.test")
            s.rcpt("u@example.test")
            assert s.data(MESSAGE)[0] == 250
        # BDAT: the chunk that crosses the limit is refused, read to its end, and so is the rest.
        c = RawSmtp(tern.host("smtp"), tern.port("smtp"))
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<sender@remote.test>")
        c.cmd("RCPT TO:<u@example.test>")
        c.send(b"BDAT 8000\r\n" + b"a" * 8000)
        assert c.reply()[0] == 250
        c.send(b"BDAT 8000\r\n" + b"b" * 8000)
        assert c.reply()[0] == 552
        c.send(b"BDAT 10 LAST\r\n" + b"c" * 10)
        assert c.reply()[0] == 552
        assert c.cmd("NOOP")[0] == 250
        c.close()
        assert [r[2] for r in listing(tern, "u@example.test")] == ["hello"]
    finally:
        tern.stop()


def test_pipelined_transaction_gets_every_reply_in_order(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    c.send("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<nobody@example.test>\r\n"
           "RCPT TO:<u@example.test>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 550, 250, 354]
    c.send(stuffed(MESSAGE) + b".\r\nNOOP\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221
    c.close()
    [(uid, _, _)] = listing(mx, "u@example.test")
    assert message_bytes(mx, "u@example.test", uid).endswith(MESSAGE)


def test_bdat_chunks_are_joined_exactly(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<sender@remote.test> BODY=8BITMIME")[0] == 250
    assert c.cmd("RCPT TO:<u@example.test>")[0] == 250
    first, second = MESSAGE[:40], MESSAGE[40:] + "Ünïcode\r\n".encode()
    c.send(f"BDAT {len(first)}\r\n".encode() + first)
    assert c.reply()[0] == 250
    c.send(f"BDAT {len(second)} LAST\r\n".encode() + second)
    code, lines = c.reply()
    assert code == 250 and "2.0.0" in lines[0]
    # A BDAT without a transaction still has its bytes read, not taken for commands.
    c.send(b"BDAT 6 LAST\r\nQUIT\r\n")
    assert c.reply()[0] == 503
    assert c.cmd("NOOP")[0] == 250
    c.close()
    [(uid, _, _)] = listing(mx, "u@example.test")
    assert message_bytes(mx, "u@example.test", uid).endswith(first + second)


def test_starttls_then_delivery_is_recorded_as_esmtps(mx):
    with connect(mx) as s:
        s.ehlo()
        assert s.starttls(context=tls_context(mx))[0] == 220
        _, caps = s.ehlo()
        assert b"STARTTLS" not in caps
        s.sendmail("sender@remote.test", ["u@example.test"], MESSAGE)
    [(uid, _, _)] = listing(mx, "u@example.test")
    assert b"with ESMTPS id" in message_bytes(mx, "u@example.test", uid)


def test_commands_sent_with_starttls_are_discarded(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    # The injected RSET travels in clear before the handshake and must not be executed.
    c.send("STARTTLS\r\nRSET\r\n")
    assert c.reply()[0] == 220
    tls = tls_context(mx).wrap_socket(c.sock, server_hostname="localhost")
    f = tls.makefile("rb")
    tls.sendall(b"NOOP\r\n")
    assert f.readline().startswith(b"250 2.0.0 OK")
    tls.close()


def test_early_talker_is_refused(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"), wait_greeting=False)
    c.send("EHLO hasty.test\r\n")
    code, lines = c.reply()
    assert code == 554 and "talked before" in lines[0]
    c.close()


def test_vrfy_noop_rset_help_and_unknown_commands(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    assert c.cmd("VRFY u@example.test")[0] == 252
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 503
    c.cmd("HELO client.test")
    assert c.cmd("NOOP")[0] == 250
    assert c.cmd("HELP")[0] == 214
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 250
    assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 503
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("RCPT TO:<u@example.test>")[0] == 503
    assert c.cmd("DATA")[0] == 503
    assert c.cmd("XYZZY")[0] == 500
    assert c.cmd("MAIL FROM:<not an address")[0] == 501
    assert c.cmd("AUTH PLAIN AGFhAGI=")[0] == 503
    assert c.cmd("QUIT")[0] == 221
    c.close()


def test_long_lines_and_too_many_errors(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    code, lines = c.cmd("NOOP " + "x" * 5000)
    assert (code, lines[0][4:9]) == (500, "5.5.6")
    assert c.cmd("NOOP")[0] == 250
    codes = [c.cmd("BOGUS")[0] for _ in range(9)]
    assert codes[:8] == [500] * 8
    # The tenth error (the long line counted too) closes the session with 421.
    assert codes[8] == 500
    code, _ = c.reply()
    assert code == 421
    c.close()


def test_recipient_and_message_limits(tmp_path):
    tern = start_tern(tmp_path, "max_recipients = 2\nmax_messages_per_connection = 1\n")
    tern.add_user("u@example.test")
    tern.cli("alias", "add", "@example.test", "u@example.test")
    try:
        c = RawSmtp(tern.host("smtp"), tern.port("smtp"))
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<a@remote.test>")
        assert c.cmd("RCPT TO:<a@example.test>")[0] == 250
        assert c.cmd("RCPT TO:<b@example.test>")[0] == 250
        code, lines = c.cmd("RCPT TO:<c@example.test>")
        assert (code, lines[0][4:9]) == (452, "4.5.3")
        assert c.cmd("DATA")[0] == 354
        c.send(stuffed(MESSAGE) + b".\r\n")
        assert c.reply()[0] == 250
        assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 421
        c.close()
    finally:
        tern.stop()


def test_forged_authentication_results_for_our_name_are_removed(mx):
    forged = (b"Authentication-Results: mail.test; spf=pass; dkim=pass; dmarc=pass\r\n"
              b"Authentication-Results: other.test; spf=fail\r\n" + MESSAGE)
    with connect(mx) as s:
        s.sendmail("sender@remote.test", ["u@example.test"], forged)
    [(uid, _, _)] = listing(mx, "u@example.test")
    stored = message_bytes(mx, "u@example.test", uid)
    assert b"Authentication-Results: mail.test" not in stored
    assert stored.endswith(b"Authentication-Results: other.test; spf=fail\r\n" + MESSAGE)


def test_bare_lf_dot_does_not_end_the_data(mx):
    """SMTP smuggling (CVE-2023-51764): only CRLF.CRLF ends the message."""
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<u@example.test>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<evil@remote.test>\r\n.\r\n")
    assert c.reply()[0] == 250
    assert c.cmd("QUIT")[0] == 221
    assert [r[2] for r in listing(mx, "u@example.test")] == ["one"]


def test_swaks_delivers_and_sees_the_reply_codes(mx):
    base = ["swaks", "--server", mx.host("smtp"), "--port", str(mx.port("smtp")),
            "--from", "sender@remote.test", "--helo", "swaks.test", "--timeout", "20"]
    ok = subprocess.run(base + ["--to", "u@example.test", "--header", "Subject: via swaks",
                                "--body", "swaks body"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    assert "<-  250 2.0.0 ok: delivered" in ok.stdout
    unknown = subprocess.run(base + ["--to", "nobody@example.test"], capture_output=True,
                             text=True)
    assert "<** 550 5.1.1" in unknown.stdout
    relay = subprocess.run(base + ["--to", "x@remote.test"], capture_output=True, text=True)
    assert "<** 554 5.7.1" in relay.stdout
    tls = subprocess.run(base + ["--to", "u@example.test", "--tls", "--header",
                                 "Subject: via swaks tls"], capture_output=True, text=True)
    assert tls.returncode == 0, tls.stdout
    assert "<~  250 2.0.0 ok: delivered" in tls.stdout
    assert sorted(r[2] for r in listing(mx, "u@example.test")) == ["via swaks", "via swaks tls"]
    [uid] = [r[0] for r in listing(mx, "u@example.test") if r[2] == "via swaks"]
    stored = message_bytes(mx, "u@example.test", uid)
    assert b"swaks body" in stored and b"Received: from swaks.test" in stored


def test_a_recipient_that_fails_after_data_gets_the_sender_a_dsn(mx):
    """One recipient over quota must not stop the others: 250, and the sender (local here)
    gets a DSN for the one that failed."""
    mx.add_user("small@example.test", "pw", quota="1K")
    mx.add_user("sender@example.test", "pw")
    big = b"From: sender@example.test\r\nSubject: big one\r\n\r\n" + b"z" * 2000 + b"\r\n"
    with connect(mx) as s:
        s.ehlo()
        s.mail("sender@example.test")
        assert s.rcpt("small@example.test")[0] == 250
        assert s.rcpt("u@example.test")[0] == 250
        assert s.data(big)[0] == 250
    assert [r[2] for r in listing(mx, "u@example.test")] == ["big one"]
    assert listing(mx, "small@example.test") == []
    [(uid, _, subject)] = listing(mx, "sender@example.test")
    assert subject == "Undelivered Mail Returned to Sender"
    dsn = message_bytes(mx, "sender@example.test", uid)
    assert b"Final-Recipient: rfc822; small@example.test" in dsn
    assert b"Status: 5.2.2" in dsn
    assert b"u@example.test" not in dsn.split(b"message/delivery-status", 1)[1].split(b"\r\n--", 1)[0]


def test_a_silent_client_is_closed_with_421_after_the_command_timeout(tmp_path):
    tern = start_tern(tmp_path, "command_timeout_secs = 1\n")
    try:
        c = RawSmtp(tern.host("smtp"), tern.port("smtp"))
        c.cmd("EHLO client.test")
        code, lines = c.reply()  # nothing sent: the server gives up first
        assert (code, lines[0][4:9]) == (421, "4.4.2")
        c.close()
    finally:
        tern.stop()


def test_shutdown_says_421_to_open_sessions(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    mx.proc.send_signal(signal.SIGTERM)
    code, lines = c.reply()
    assert (code, lines[0][4:9]) == (421, "4.3.2")
    c.close()
    assert mx.stop() == 0


def test_smtputf8_and_8bitmime_are_accepted(mx):
    c = RawSmtp(mx.host("smtp"), mx.port("smtp"))
    c.cmd("EHLO client.test")
    c.send("MAIL FROM:<jürgen@müller.test> SMTPUTF8 BODY=8BITMIME\r\n".encode())
    assert c.reply()[0] == 250
    assert c.cmd("RCPT TO:<u@example.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    body = "From: Jürgen <jürgen@müller.test>\r\nSubject: Grüße\r\n\r\nÄÖÜ\r\n".encode()
    c.send(body + b".\r\n")
    assert c.reply()[0] == 250
    c.close()
    [(uid, _, subject)] = listing(mx, "u@example.test")
    assert subject == "Grüße"
    stored = message_bytes(mx, "u@example.test", uid)
    assert stored.startswith("Return-Path: <jürgen@müller.test>\r\n".encode())
    assert stored.endswith(body)
