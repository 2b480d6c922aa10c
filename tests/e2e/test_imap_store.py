"""IMAP STORE / UID STORE, COPY / MOVE with COPYUID, EXPUNGE / UID EXPUNGE / CLOSE / UNSELECT,
APPEND with APPENDUID."""
import imaplib
import re

import pytest

from imap_helpers import login


def setup(tern, count=4):
    imap = login(tern)
    for i in range(count):
        imap.append("INBOX", None, None, f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
    imap.select("INBOX")
    return imap


def test_store_flags_and_keywords(tern):
    imap = setup(tern)
    typ, data = imap.store("1:2", "+FLAGS", "(\\Seen $Label1)")
    assert typ == "OK" and len(data) == 2
    # The messages arrived before this IMAP4rev1 session selected INBOX, so they are recent
    # to it; STORE cannot change \Recent (RFC 3501 §2.3.2) and reports it.
    assert b"FLAGS (\\Recent \\Seen $Label1)" in data[0]
    typ, data = imap.store("1", "-FLAGS.SILENT", "(\\Seen)")
    assert typ == "OK" and data == [None]
    typ, data = imap.fetch("1:2", "(FLAGS)")
    assert b"FLAGS (\\Recent $Label1)" in data[0]
    assert b"FLAGS (\\Recent \\Seen $Label1)" in data[1]
    typ, data = imap.uid("STORE", "3", "FLAGS", "(\\Answered)")
    assert re.search(rb"UID 3 FLAGS \(\\Recent \\Answered\)", data[0])
    with pytest.raises(imaplib.IMAP4.error, match="Unknown system flag"):
        imap.store("1", "+FLAGS", "(\\Bogus)")
    assert imap.noop()[0] == "OK"


def test_expunge_and_uid_expunge(tern):
    imap = setup(tern)
    imap.store("1,3", "+FLAGS", "\\Deleted")
    typ, data = imap.expunge()
    assert typ == "OK" and data == [b"3", b"1"]
    typ, data = imap.fetch("1:*", "(UID)")
    assert [re.search(rb"UID (\d+)", d).group(1) for d in data] == [b"2", b"4"]
    imap.store("1:2", "+FLAGS", "\\Deleted")
    typ, data = imap.uid("EXPUNGE", "4")
    assert typ == "OK" and imap.untagged_responses.pop("EXPUNGE") == [b"2"]
    typ, data = imap.fetch("1:*", "(UID)")
    assert len(data) == 1 and b"UID 2" in data[0]


def test_close_expunges_and_unselect_does_not(tern):
    imap = setup(tern)
    imap.store("1", "+FLAGS", "\\Deleted")
    assert imap.unselect()[0] == "OK"
    imap.select("INBOX")
    assert imap.fetch("1:*", "(UID)")[1].__len__() == 4
    imap.store("1", "+FLAGS", "\\Deleted")
    assert imap.close()[0] == "OK"
    assert imap.select("INBOX")[1] == [b"3"]


def test_copy_and_move_with_copyuid(tern):
    imap = setup(tern)
    typ, data = imap.copy("1:2", "Trash")
    assert typ == "OK"
    assert re.search(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data
    typ, data = imap._simple_command("MOVE", "3", "Trash")
    assert typ == "OK"
    assert imap.untagged_responses.get("EXPUNGE") == [b"3"]
    assert re.search(rb"\[COPYUID \d+ 3 3\]", imap.untagged_responses["OK"][-1])
    assert imap.status("Trash", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
    assert imap.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
    typ, data = imap.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    typ, data = imap.uid("MOVE", "4", "Junk")
    assert typ == "OK"


def test_append_with_flags_date_and_appenduid(tern):
    imap = login(tern)
    typ, data = imap.append("Drafts", "(\\Draft \\Seen)", '"01-Jan-2020 10:00:00 +0100"',
                            b"Subject: draft\r\n\r\ntext\r\n")
    assert typ == "OK" and re.search(rb"\[APPENDUID \d+ 1\]", data[0])
    imap.select("Drafts")
    typ, data = imap.fetch("1", "(FLAGS INTERNALDATE)")
    assert b"\\Seen \\Draft" in data[0] and b"01-Jan-2020 09:00:00 +0000" in data[0]
    typ, data = imap.append("Nowhere", None, None, b"Subject: x\r\n\r\ny\r\n")
    assert typ == "NO" and b"TRYCREATE" in data[0]


def test_append_to_the_selected_mailbox_reports_exists(tern):
    imap = setup(tern, count=1)
    imap.append("INBOX", None, None, b"Subject: new\r\n\r\nnew\r\n")
    assert imap.untagged_responses.get("EXISTS")[-1] == b"2"
