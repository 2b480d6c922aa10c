"""IMAP APPEND with MULTIAPPEND (RFC 3502): several messages in one command, stored all or
none, with one APPENDUID (RFC 4315) for all. imaplib cannot send it: a raw socket does."""
import re

from imap_helpers import PASSWORD, USER, Raw, connect, login

ONE = b"Subject: one\r\n\r\nfirst\r\n"
TWO = b"Subject: two\r\n\r\nsecond\r\n"
THREE = b"Subject: three\r\n\r\nthird\r\n"


def logged_in(tern):
    tern.add_user(USER, PASSWORD)
    return Raw(tern.port("imap")).login()


def literal(data, sync=True):
    return b"{%d%s}\r\n" % (len(data), b"" if sync else b"+") + data


def multiappend(raw, tag, mailbox, parts):
    """Sends an APPEND of several messages, answering each `+` continuation, and returns the
    lines up to the tagged response."""
    raw.send(tag + b" APPEND " + mailbox)
    for opts, data in parts:
        raw.send(b" " + opts + (b" " if opts else b"") + b"{%d}\r\n" % len(data))
        line = raw.line()
        if not line.startswith(b"+"):
            return [line] + ([] if line.startswith(tag + b" ") else raw.until_tagged(tag))
        raw.send(data)
    raw.send(b"\r\n")
    return raw.until_tagged(tag)


def test_capability_is_advertised(tern):
    imap = login(tern)
    assert "MULTIAPPEND" in imap.capability()[1][0].decode().split()


def test_multiappend_stores_every_message_with_its_flags_and_date(tern):
    raw = logged_in(tern)
    lines = multiappend(raw, b"a1", b"INBOX", [
        (b"(\\Seen)", ONE),
        (b'(\\Flagged $Work) "01-Feb-2024 10:00:00 +0000"', TWO),
        (b"", THREE),
    ])
    match = re.match(rb"a1 OK \[APPENDUID (\d+) 1:3\]", lines[-1])
    assert match, lines
    # LITERAL+ for all of them, sent at once, works too (RFC 7888).
    raw.send(b"a2 APPEND INBOX " + literal(ONE, sync=False) + b" () "
             + literal(TWO, sync=False) + b"\r\n")
    assert re.match(rb"a2 OK \[APPENDUID \d+ 4:5\]", raw.until_tagged(b"a2")[-1])
    imap = connect(tern)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    typ, data = imap.fetch("1:5", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    text = b"".join(part if isinstance(part, bytes) else part[0] + part[1] for part in data)
    assert text.count(b"(FLAGS") == 5, data
    # This session is the first to select INBOX since the appends: all five are recent to it.
    assert re.search(rb"1 \(FLAGS \(\\Recent \\Seen\)", text), text
    assert re.search(rb'2 \(FLAGS \(\\Recent \\Flagged \$Work\) INTERNALDATE "01-Feb-2024 10:00:00', text)
    assert [s.decode() for s in re.findall(rb"Subject: (\w+)", text)] == [
        "one", "two", "three", "one", "two"]


def test_multiappend_is_all_or_none(tern):
    raw = logged_in(tern)
    # An invalid flag in the third message: nothing is stored.
    lines = multiappend(raw, b"a1", b"INBOX", [
        (b"", ONE), (b"", TWO), (b"(\\Bogus)", THREE)])
    assert re.match(rb"a1 (NO|BAD) ", lines[-1]), lines
    # An empty third message: nothing stored either.
    lines = multiappend(raw, b"a2", b"INBOX", [(b"", ONE), (b"", TWO), (b"", b"")])
    assert lines[-1].startswith(b"a2 NO"), lines
    # A mailbox that does not exist: TRYCREATE, nothing anywhere.
    lines = raw.command(b"a3", b"STATUS INBOX (MESSAGES)")
    assert b"(MESSAGES 0)" in lines[0], lines
    lines = multiappend(raw, b"a4", b"Nope", [(b"", ONE), (b"", TWO)])
    assert lines[-1].startswith(b"a4 NO [TRYCREATE]"), lines
    assert raw.command(b"a5", b"NOOP")[-1].startswith(b"a5 OK")


def test_multiappend_over_quota_stores_nothing(tern):
    tern.add_user(USER, PASSWORD, quota=str(len(ONE) + len(TWO)))
    raw = Raw(tern.port("imap")).login()
    lines = multiappend(raw, b"a1", b"INBOX", [(b"", ONE), (b"", TWO), (b"", THREE)])
    assert lines[-1].startswith(b"a1 NO [OVERQUOTA]"), lines
    assert b"(MESSAGES 0)" in raw.command(b"a2", b"STATUS INBOX (MESSAGES)")[0]
    lines = multiappend(raw, b"a3", b"INBOX", [(b"", ONE), (b"", TWO)])
    assert re.match(rb"a3 OK \[APPENDUID \d+ 1:2\]", lines[-1]), lines


def test_a_huge_second_literal_is_refused_before_its_bytes(tern):
    raw = logged_in(tern)
    raw.send(b"a1 APPEND INBOX {%d}\r\n" % len(ONE))
    assert raw.line().startswith(b"+")
    raw.send(ONE + b" {4294967295}\r\n")
    line = raw.line()
    assert line.startswith(b"a1 NO [TOOBIG]"), line
    assert raw.command(b"a2", b"STATUS INBOX (MESSAGES)")[0].endswith(b"(MESSAGES 0)")
