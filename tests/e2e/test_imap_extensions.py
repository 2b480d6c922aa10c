"""ESEARCH return options and SEARCHRES `$` (RFC 4731, RFC 5182), LIST-EXTENDED and
LIST-STATUS (RFC 5258, RFC 5819), CREATE-SPECIAL-USE (RFC 6154)."""
from imap_helpers import Raw, login


def session(tern, count=5):
    imap = login(tern)
    for i in range(count):
        imap.append("INBOX", "(\\Seen)" if i % 2 else None, None,
                    f"Subject: m{i}\r\n\r\n{i}\r\n".encode())
    raw = Raw(tern.port("imap"))
    raw.login()
    return raw


def test_esearch_return_options(tern):
    raw = session(tern)
    raw.command(b"s", b"SELECT INBOX")
    assert raw.command(b"a", b"SEARCH RETURN (MIN MAX COUNT) UNSEEN") == [
        b'* ESEARCH (TAG "a") MIN 1 MAX 5 COUNT 3', b"a OK SEARCH completed"]
    assert raw.command(b"b", b"UID SEARCH RETURN () SEEN") == [
        b'* ESEARCH (TAG "b") UID ALL 2,4', b"b OK UID SEARCH completed"]
    assert raw.command(b"c", b"SEARCH RETURN (COUNT) DELETED") == [
        b'* ESEARCH (TAG "c") COUNT 0', b"c OK SEARCH completed"]
    assert raw.command(b"d", b"SEARCH RETURN (FOO) ALL")[-1].startswith(b"d BAD")


def test_searchres_saves_and_reuses_the_result(tern):
    raw = session(tern)
    raw.command(b"s", b"SELECT INBOX")
    assert raw.command(b"a", b"UID SEARCH RETURN (SAVE) SEEN") == [b"a OK UID SEARCH completed"]
    lines = raw.command(b"b", b"FETCH $ (UID)")
    assert lines == [b"* 2 FETCH (UID 2)", b"* 4 FETCH (UID 4)", b"b OK FETCH completed"]
    lines = raw.command(b"c", b"UID SEARCH UID $ SUBJECT m3")
    assert lines[0] == b"* SEARCH 4"
    assert raw.command(b"d", b"UID COPY $ Trash")[-1].startswith(b"d OK [COPYUID")


def test_list_extended_and_list_status(tern):
    raw = session(tern)
    raw.command(b"c", b"CREATE Lists")
    raw.command(b"u", b"SUBSCRIBE Lists")
    raw.command(b"v", b"UNSUBSCRIBE Junk")
    lines = raw.command(b"a", b'LIST (SUBSCRIBED) "" "*"')
    assert b'* LIST (\\Subscribed \\HasNoChildren) "/" Lists' in lines
    assert all(b"\\Subscribed" in line for line in lines[:-1])
    assert not any(line.endswith(b" Junk") for line in lines)
    lines = raw.command(b"b", b'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
    assert len(lines) == 5 and all(b"\\HasNoChildren" in l for l in lines[:-1])
    lines = raw.command(b"d", b'LIST "" "INBOX" RETURN (CHILDREN STATUS (MESSAGES UNSEEN))')
    assert lines == [b'* LIST (\\HasNoChildren) "/" INBOX',
                     b"* STATUS INBOX (MESSAGES 5 UNSEEN 3)", b"d OK LIST completed"]


def test_create_special_use(tern):
    raw = session(tern, count=0)
    assert raw.command(b"a", b"CREATE Archive2 (USE (\\Archive))")[-1].startswith(b"a OK")
    lines = raw.command(b"b", b'LIST "" Archive2')
    assert lines[0] == b'* LIST (\\Archive \\HasNoChildren) "/" Archive2'
    assert raw.command(b"c", b"CREATE X (USE (\\Bogus))")[-1].startswith(b"c NO [USEATTR]")
