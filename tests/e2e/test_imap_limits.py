"""IMAP bounds and bad input: literal and line limits, pipelining, malformed commands,
autologout, and plaintext login refused before STARTTLS on a non-loopback address."""
import imaplib
import socket
import ssl

import pytest

from conftest import Tern
from imap_helpers import PASSWORD, USER, Raw


def logged_in(tern):
    tern.add_user(USER, PASSWORD)
    raw = Raw(tern.port("imap"))
    raw.login()
    return raw


def test_huge_synchronizing_literal_is_refused_before_any_byte(tern):
    raw = logged_in(tern)
    raw.send(b"a1 APPEND INBOX {4294967295}\r\n")
    line = raw.line()
    assert line.startswith(b"a1 NO [TOOBIG]"), line
    assert raw.command(b"a2", b"NOOP")[-1] == b"a2 OK NOOP completed"
    raw.send(b"a3 LOGIN {100000}\r\n")
    assert raw.line().startswith(b"a3 NO [TOOBIG]")


def test_oversized_nonsync_literal_closes_with_bye(tern):
    raw = logged_in(tern)
    raw.send(b"a1 CREATE {100000+}\r\n" + b"x" * 1000)
    line = raw.line()
    assert line.startswith(b"* BYE [TOOBIG]"), line
    assert raw.closed()


def test_too_long_line_closes_with_bye(tern):
    raw = logged_in(tern)
    raw.send(b"a1 NOOP " + b"x" * 70000 + b"\r\n")
    assert raw.line().startswith(b"* BYE")
    assert raw.closed()


def test_pipelined_commands_are_all_answered(tern):
    raw = logged_in(tern)
    count = 2000
    raw.send(b"".join(b"p%d NOOP\r\n" % i for i in range(count)))
    tagged = [line for line in raw.until_tagged(b"p%d" % (count - 1)) if line.startswith(b"p")]
    assert len(tagged) == count and all(b" OK " in t for t in tagged)


def test_bad_input_gets_bad_and_the_session_goes_on(tern):
    raw = logged_in(tern)
    for bad in [b"a1 SELECT", b"a2 FETCH x:y FLAGS", b"a3 STORE 1 +FLAGS (\\Seen",
                b"a4 \x00\x01\x02", b"a5 LIST \"\" \"\xff\"", b"a6 UID FOO"]:
        tag = bad.split(b" ")[0]
        last = raw.command(tag, bad[len(tag) + 1:])[-1]
        assert last.startswith(tag + b" BAD") or last.startswith(tag + b" NO"), last
    assert raw.command(b"z", b"NOOP")[-1] == b"z OK NOOP completed"


def test_autologout_after_the_idle_timeout(tmp_path):
    server = Tern(tmp_path, services=("imap",),
                  extra_config="[limits]\nidle_timeout_secs = 1\n").start()
    try:
        raw = Raw(server.port("imap"))
        assert raw.line().startswith(b"* BYE Autologout")
        assert raw.closed()
    finally:
        server.stop()


def test_login_before_starttls_is_refused_on_a_non_loopback_address(tmp_path, test_host):
    address = test_host.address
    server = Tern(tmp_path, services=("imap",), netns=test_host.name)
    config = server.config_path.read_text().replace('imap = "127.0.0.1:0"', f'imap = "{address}:0"')
    server.config_path.write_text(config)
    server.start()
    try:
        server.add_user(USER, PASSWORD)
        imap = imaplib.IMAP4(address, server.port("imap"), timeout=10)
        assert "LOGINDISABLED" in imap.capabilities
        assert "AUTH=PLAIN" not in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            imap.login(USER, PASSWORD)
        context = ssl.create_default_context(cafile=server.cert)
        context.check_hostname = False
        imap.starttls(ssl_context=context)
        caps = imap.capability()[1][0].decode().split()
        assert "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
        assert imap.login(USER, PASSWORD)[0] == "OK"
    finally:
        server.stop()


def test_no_literal_is_announced_for_append_before_login(tern):
    """An unauthenticated APPEND gets BAD before any `+` (RFC 9051 §7.5): the server never
    reads megabytes for a command that cannot succeed (20 such peers once cost 1 GB RSS)."""
    tern.add_user(USER, PASSWORD)
    raw = Raw(tern.port("imap"))
    raw.send(b"a1 APPEND INBOX {52428800}\r\n")
    line = raw.line()
    assert line.startswith(b"a1 BAD Log in first"), line
    # Not read as data: the next line is a command again.
    raw.send(b"a2 APPEND INBOX {10}\r\n")
    assert raw.line().startswith(b"a2 BAD Log in first")
    raw.send(b"a3 CAPABILITY {20000}\r\n")
    assert raw.line().startswith(b"a3 BAD Log in first")
    # A password as a small literal still logs in (RFC 9051 §6.2.3).
    raw.send(b'a4 LOGIN "%s" {%d}\r\n' % (USER.encode(), len(PASSWORD)))
    assert raw.line().startswith(b"+ ")
    raw.send(PASSWORD.encode() + b"\r\n")
    assert raw.until_tagged(b"a4")[-1].startswith(b"a4 OK")
    # Logged in, the same APPEND literal is announced.
    raw.send(b"a5 APPEND INBOX {10}\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"Subject: x\r\n")
    assert raw.until_tagged(b"a5")[-1].startswith(b"a5 OK")
