"""IMAP FETCH and UID FETCH: flags, dates, sizes, ENVELOPE, BODYSTRUCTURE, body sections with
PEEK, HEADER.FIELDS, MIME, TEXT and partial ranges; RFC822 forms for rev1."""
import re
import time

from imap_helpers import login

SIMPLE = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
          b"Subject: Hello there\r\nMessage-ID: <m1@example.test>\r\n"
          b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nHello Bob,\r\nsee you.\r\n")
MULTI = (b"From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
         b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
         b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
         b"Content-Disposition: attachment; filename=a.bin\r\n\r\nAAEC\r\n--XX--\r\n")


def setup(tern):
    """Two messages appended before this IMAP4rev1 session selects INBOX: the session is the
    first to see them, so both carry \\Recent for it (RFC 3501 §2.3.2)."""
    imap = login(tern)
    imap.append("INBOX", None, '"07-Feb-1994 21:52:25 -0800"', SIMPLE)
    imap.append("INBOX", "(\\Flagged $Work)", None, MULTI)
    imap.select("INBOX")
    return imap


def test_fast_items_and_uid(tern):
    imap = setup(tern)
    typ, data = imap.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
    assert typ == "OK"
    first, second = data
    assert b"UID 1" in first and b"FLAGS (\\Recent)" in first
    assert b'INTERNALDATE "08-Feb-1994 05:52:25 +0000"' in first
    assert f"RFC822.SIZE {len(SIMPLE)}".encode() in first
    assert b"FLAGS (\\Recent \\Flagged $Work)" in second
    typ, data = imap.uid("FETCH", "2", "(FLAGS)")
    assert re.match(rb"2 \(UID 2 FLAGS \(\\Recent \\Flagged \$Work\)\)", data[0]), data


def test_envelope_and_bodystructure(tern):
    imap = setup(tern)
    typ, data = imap.fetch("1", "(ENVELOPE)")
    envelope = data[0]
    assert b'"Mon, 7 Feb 1994 21:52:25 -0800" "Hello there"' in envelope
    assert b'(("Alice" NIL "alice" "example.test"))' in envelope
    assert b'"<m1@example.test>"' in envelope
    typ, data = imap.fetch("2", "(BODYSTRUCTURE)")
    structure = data[0]
    assert b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1' in structure
    assert b'"MIXED" ("BOUNDARY" "XX")' in structure
    assert b'("ATTACHMENT" ("FILENAME" "a.bin"))' in structure


def test_body_sections_and_seen(tern):
    imap = setup(tern)
    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
    assert data[0][1] == b"From: Alice <alice@example.test>\r\nSubject: Hello there\r\n\r\n"
    assert b"\\Seen" not in imap.fetch("1", "(FLAGS)")[1][0]
    typ, data = imap.fetch("1", "(BODY[TEXT])")
    assert data[0][1] == b"Hello Bob,\r\nsee you.\r\n"
    assert b"FLAGS (\\Recent \\Seen)" in data[1], "the implicit \\Seen is reported with the FETCH"
    assert b"\\Seen" in imap.fetch("1", "(FLAGS)")[1][0], "BODY[] sets \\Seen"
    typ, data = imap.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[]<0.4>)")
    flat = [part for item in data if isinstance(item, tuple) for part in item]
    assert b"first part" in flat
    assert any(p.startswith(b"Content-Type: application/octet-stream") for p in flat)
    assert b"From" in flat
    typ, data = imap.fetch("2", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT MIME-VERSION CONTENT-TYPE)])")
    assert data[0][1] == b"From: a@example.test\r\n\r\n"
    typ, data = imap.fetch("1", "(BODY.PEEK[9])")
    assert typ == "OK"


def test_rfc822_forms(tern):
    imap = setup(tern)
    typ, data = imap.fetch("1", "(RFC822.HEADER)")
    assert data[0][1].endswith(b"\r\n\r\n") and b"Subject: Hello there" in data[0][1]
    typ, data = imap.fetch("1", "(RFC822)")
    assert data[0][1] == SIMPLE


def test_fetch_outside_the_mailbox_is_empty(tern):
    imap = setup(tern)
    typ, data = imap.uid("FETCH", "100:200", "(FLAGS)")
    assert typ == "OK" and data == [None]


def test_binary_decodes_the_transfer_encoding(tern):
    from imap_helpers import Raw
    setup(tern)
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"s", b"SELECT INBOX")
    lines = raw.command(b"b", b"FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1]<0.5>)")
    assert lines[0] == b"* 2 FETCH (BINARY[2] ~{3}"
    assert lines[1] == b"\x00\x01\x02 BINARY.SIZE[2] 3 BINARY[1]<0> {5}"
    assert lines[2] == b"first)"
    assert lines[-1] == b"b OK FETCH completed"
    lines = raw.command(b"c", b"FETCH 2 (FLAGS)")
    assert b"\\Seen" not in lines[0], "BINARY.PEEK leaves \\Seen alone"


def test_savedate_is_when_the_message_entered_this_mailbox(tern):
    """RFC 8514: SAVEDATE is advertised; FETCH SAVEDATE gives the save date (not the
    INTERNALDATE), which a COPY sets anew in the destination."""
    imap = setup(tern)
    assert "SAVEDATE" in imap.capability()[1][0].decode().split()
    today = time.strftime("%d-%b-%Y", time.gmtime())
    typ, data = imap.fetch("1:*", "(SAVEDATE)")
    assert typ == "OK", data
    assert len(data) == 2
    for line in data:
        date = re.search(rb'SAVEDATE "([^"]+)"', line)
        assert date, line
        # The message says 1994; it was saved today.
        assert date.group(1).decode().lstrip("0").startswith(today.lstrip("0")), line
        assert b"UID" not in line, "only what was asked for"
    typ, data = imap.uid("FETCH", "1", "(FLAGS SAVEDATE INTERNALDATE)")
    assert re.match(rb'1 \(UID 1 FLAGS \(\\Recent\) INTERNALDATE "08-Feb-1994 05:52:25 \+0000" '
                    rb'SAVEDATE "[^"]+"\)', data[0]), data
    typ, data = imap.fetch("2", "SAVEDATE")
    assert typ == "OK" and b"SAVEDATE" in data[0], data
    typ, data = imap.copy("1", "Trash")
    assert typ == "OK"
    imap.select("Trash")
    typ, data = imap.fetch("1", "(SAVEDATE)")
    assert re.search(rb'SAVEDATE "[^"]+"', data[0]), data
