"""IMAP SEARCH and UID SEARCH: flags, sizes, dates, sets, addresses, subject, header fields,
body text (decoded, case-insensitive), OR / NOT / nesting; ESEARCH for IMAP4rev2 clients."""
import imaplib
import time

import pytest

from imap_helpers import Raw, login

MESSAGES = [
    (None, '"01-Jan-2020 10:00:00 +0000"',
     b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Quarterly report\r\n"
     b"X-Priority: 1\r\n\r\nThe numbers look GOOD this quarter.\r\n"),
    ("(\\Seen \\Flagged)", '"15-Mar-2021 10:00:00 +0000"',
     b"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\nCc: dave@example.test\r\n"
     b"Subject: =?UTF-8?B?w5xiZXJzaWNodA==?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus M=C3=BCnchen\r\n"),
    ("(\\Seen $Work)", '"20-Jun-2022 10:00:00 +0000"',
     b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: lunch?\r\n\r\n"
     + b"x" * 5000 + b"\r\n"),
]


def setup(tern):
    imap = login(tern)
    for flags, date, raw in MESSAGES:
        imap.append("INBOX", flags, date, raw)
    imap.select("INBOX")
    return imap


def search(imap, *criteria, uid=False):
    typ, data = imap.uid("SEARCH", *criteria) if uid else imap.search(None, *criteria)
    assert typ == "OK", data
    return [int(n) for n in data[0].split()]


def test_flags_sizes_and_sets(tern):
    imap = setup(tern)
    assert search(imap, "ALL") == [1, 2, 3]
    assert search(imap, "SEEN") == [2, 3]
    assert search(imap, "UNSEEN") == [1]
    assert search(imap, "FLAGGED", "SEEN") == [2]
    assert search(imap, "KEYWORD", "$Work") == [3]
    assert search(imap, "UNKEYWORD", "$Work") == [1, 2]
    assert search(imap, "LARGER", "1000") == [3]
    assert search(imap, "SMALLER", "1000") == [1, 2]
    assert search(imap, "2:3", "UNFLAGGED") == [3]
    assert search(imap, "UID", "1,3") == [1, 3]
    assert search(imap, "NOT", "SEEN") == [1]
    assert search(imap, "OR", "FLAGGED", "KEYWORD", "$Work") == [2, 3]
    assert search(imap, "(OR SEEN FLAGGED)", "NOT", "(KEYWORD $Work)") == [2]


def test_dates(tern):
    imap = setup(tern)
    assert search(imap, "BEFORE", "01-Jan-2021") == [1]
    assert search(imap, "SINCE", "15-Mar-2021") == [2, 3]
    assert search(imap, "ON", "15-Mar-2021") == [2]


def test_addresses_subject_header_and_text(tern):
    imap = setup(tern)
    assert search(imap, "FROM", "carol") == [2]
    assert search(imap, "TO", "ALICE@example") == [2, 3]
    assert search(imap, "CC", "dave") == [2]
    assert search(imap, "SUBJECT", "quarterly") == [1]
    assert search(imap, "HEADER", "X-Priority", "1") == [1]
    assert search(imap, "HEADER", "X-Priority", '""') == [1]
    assert search(imap, "BODY", '"good this"') == [1]
    assert search(imap, "TEXT", "lunch") == [3]


def test_utf8_charset_and_decoded_text(tern):
    setup(tern)
    # imaplib cannot send a literal argument easily: a raw session does.
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"s", b"SELECT INBOX")
    word = "übersicht".encode()
    raw.send(b"a SEARCH CHARSET UTF-8 SUBJECT {%d}\r\n" % len(word))
    assert raw.line().startswith(b"+")
    raw.send(word + b"\r\n")
    assert raw.until_tagged(b"a") == [b"* SEARCH 2", b"a OK SEARCH completed"]
    word = "grüße aus münchen".encode()
    raw.send(b"b SEARCH CHARSET UTF-8 BODY {%d+}\r\n" % len(word) + word + b"\r\n")
    assert raw.until_tagged(b"b") == [b"* SEARCH 2", b"b OK SEARCH completed"]
    lines = raw.command(b"c", b"SEARCH CHARSET KOI8-R ALL")
    assert lines[-1].startswith(b"c NO [BADCHARSET")


def test_uid_search_and_esearch_for_rev2(tern):
    imap = setup(tern)
    imap.store("1", "+FLAGS", "\\Deleted")
    imap.expunge()
    assert search(imap, "ALL", uid=True) == [2, 3]
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"e", b"ENABLE IMAP4rev2")
    raw.command(b"s", b"SELECT INBOX")
    assert raw.command(b"t1", b"UID SEARCH ALL") == [
        b'* ESEARCH (TAG "t1") UID ALL 2:3', b"t1 OK UID SEARCH completed"]
    assert raw.command(b"t2", b"SEARCH DELETED") == [
        b'* ESEARCH (TAG "t2")', b"t2 OK SEARCH completed"]


def test_bad_search_is_bad(tern):
    imap = setup(tern)
    with pytest.raises(imaplib.IMAP4.error):
        imap.search(None, "FROBNICATE")
    assert imap.noop()[0] == "OK"


def test_saved_date_keys(tern):
    """RFC 8514 §4.2: SAVEDBEFORE / SAVEDON / SAVEDSINCE compare the day the message was saved
    (today here), not its INTERNALDATE (2020-2022); SAVEDATESUPPORTED matches every message."""
    imap = setup(tern)
    today = time.strftime("%d-%b-%Y", time.gmtime())
    tomorrow = time.strftime("%d-%b-%Y", time.gmtime(time.time() + 86400))
    assert search(imap, "SAVEDON", today) == [1, 2, 3]
    assert search(imap, "SAVEDSINCE", today) == [1, 2, 3]
    assert search(imap, "SAVEDBEFORE", today) == []
    assert search(imap, "SAVEDBEFORE", tomorrow) == [1, 2, 3]
    assert search(imap, "SAVEDSINCE", tomorrow) == []
    assert search(imap, "SAVEDSINCE", "01-Jan-2023", "BEFORE", "01-Jan-2021") == [1]
    assert search(imap, "SAVEDATESUPPORTED") == [1, 2, 3]
    assert search(imap, "OR", "SEEN", f'SAVEDON "{tomorrow}"') == [2, 3]
    assert search(imap, "NOT", "SAVEDSINCE", today, uid=True) == []
    # A saved-date word as another key's argument is that argument.
    assert search(imap, "SUBJECT", "SAVEDON") == []
    with pytest.raises(imaplib.IMAP4.error):
        imap.search(None, "SAVEDON")
    with pytest.raises(imaplib.IMAP4.error):
        imap.search(None, "SAVEDON", "32-Foo-2024")
    assert imap.noop()[0] == "OK"
