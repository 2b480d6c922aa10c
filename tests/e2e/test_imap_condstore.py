"""CONDSTORE and QRESYNC (RFC 7162): MODSEQ rises on every change; FETCH CHANGEDSINCE, STORE
UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ, and a client that was offline resynchronising
with SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE ... VANISHED)."""
import re

from imap_helpers import PASSWORD, USER, Raw, login


def session(tern, enable=b"CONDSTORE"):
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"e", b"ENABLE " + enable)
    return raw


def modseq_of(line):
    return int(re.search(rb"MODSEQ \((\d+)\)", line).group(1))


def test_modseq_rises_and_changedsince(tern):
    imap = login(tern)
    for i in range(3):
        imap.append("INBOX", None, None, f"Subject: {i}\r\n\r\n{i}\r\n".encode())
    raw = session(tern)
    lines = raw.command(b"s", b"SELECT INBOX")
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(lines)).group(1))
    lines = raw.command(b"f", b"FETCH 1:* (MODSEQ)")
    seqs = [modseq_of(line) for line in lines[:-1]]
    assert seqs == sorted(seqs) and max(seqs) == highest
    lines = raw.command(b"st", b"STORE 2 +FLAGS (\\Seen)")
    assert modseq_of(lines[0]) > highest
    lines = raw.command(b"c", b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % highest)
    assert len(lines) == 2 and lines[0].startswith(b"* 2 FETCH") and b"MODSEQ" in lines[0]
    lines = raw.command(b"q", b"SEARCH MODSEQ %d" % (highest + 1))
    assert re.match(rb"\* SEARCH 2 \(MODSEQ \d+\)", lines[0]), lines


def test_unchangedsince_reports_modified(tern):
    imap = login(tern)
    imap.append("INBOX", None, None, b"Subject: a\r\n\r\na\r\n")
    imap.append("INBOX", None, None, b"Subject: b\r\n\r\nb\r\n")
    raw = session(tern)
    raw.command(b"s", b"SELECT INBOX")
    first = modseq_of(raw.command(b"f", b"FETCH 2 (MODSEQ)")[0])
    raw.command(b"x", b"STORE 1 +FLAGS (\\Flagged)")
    lines = raw.command(b"u", b"STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % first)
    assert lines[-1].startswith(b"u OK [MODIFIED 1]"), lines
    assert any(line.startswith(b"* 2 FETCH") for line in lines)


def test_qresync_after_being_offline(tern):
    imap = login(tern)
    for i in range(5):
        imap.append("INBOX", None, None, f"Subject: {i}\r\n\r\n{i}\r\n".encode())
    raw = session(tern, b"QRESYNC")
    lines = raw.command(b"s", b"SELECT INBOX")
    joined = b"\n".join(lines)
    validity = int(re.search(rb"UIDVALIDITY (\d+)", joined).group(1))
    known = int(re.search(rb"HIGHESTMODSEQ (\d+)", joined).group(1))
    raw.command(b"o", b"LOGOUT")
    # Offline: another device flags one message and expunges two.
    imap.select("INBOX")
    imap.store("2", "+FLAGS", "\\Answered")
    imap.store("4:5", "+FLAGS", "\\Deleted")
    imap.expunge()
    raw = session(tern, b"QRESYNC")
    lines = raw.command(b"s", b"SELECT INBOX (QRESYNC (%d %d 1:5))" % (validity, known))
    assert b"* VANISHED (EARLIER) 4:5" in lines, lines
    assert any(re.match(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)", l)
               for l in lines), lines
    assert b"* 3 EXISTS" in lines
    lines = raw.command(b"u", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % known)
    assert lines[0] == b"* VANISHED (EARLIER) 4:5", lines
    # Expunges in this session come as VANISHED, not EXPUNGE.
    raw.command(b"d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = raw.command(b"x", b"EXPUNGE")
    assert lines == [b"* VANISHED 1", b"x OK EXPUNGE completed"]


def test_qresync_parameter_needs_enable(tern):
    tern.add_user(USER, PASSWORD)
    raw = Raw(tern.port("imap"))
    raw.login()
    assert raw.command(b"s", b"SELECT INBOX (QRESYNC (1 1))")[-1].startswith(b"s BAD")
