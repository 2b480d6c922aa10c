"""IMAP mailbox commands: LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS, SELECT,
EXAMINE, NAMESPACE, with SPECIAL-USE attributes and modified UTF-7 names."""
import re


from imap_helpers import Raw, login, PASSWORD, USER


def names(listing):
    out = {}
    for line in listing:
        m = re.match(rb'\((.*?)\) "/" (.*)', line)
        name = m.group(2).strip(b'"').decode()
        out[name] = m.group(1).decode().split()
    return out


def test_default_mailboxes_with_special_use(tern):
    imap = login(tern)
    typ, listing = imap.list()
    assert typ == "OK"
    boxes = names(listing)
    assert set(boxes) == {"INBOX", "Sent", "Drafts", "Trash", "Junk"}
    assert "\\Sent" in boxes["Sent"] and "\\Trash" in boxes["Trash"]
    assert "\\HasNoChildren" in boxes["INBOX"]


def test_create_list_rename_delete_hierarchy(tern):
    imap = login(tern)
    assert imap.create("Projects/2024")[0] == "OK"
    assert imap.create("Projects/2025/")[0] == "OK", "trailing delimiter is allowed"
    boxes = names(imap.list('""', "Projects/%")[1])
    assert set(boxes) == {"Projects/2024", "Projects/2025"}
    top = names(imap.list('""', "%")[1])
    assert "\\HasChildren" in top["Projects"]
    assert imap.create("Projects/2024")[0] == "NO"
    assert imap.rename("Projects/2024", "Archive/2024")[0] == "OK"
    assert "Archive/2024" in names(imap.list('""', "*")[1])
    assert imap.delete("Archive/2024")[0] == "OK"
    assert imap.delete("Archive/2024")[0] == "NO"
    assert imap.delete("INBOX")[0] == "NO"


def test_list_reference_and_inbox_case(tern):
    imap = login(tern)
    imap.create("a/b/c")
    assert set(names(imap.list("a/", "%")[1])) == {"a/b"}
    assert set(names(imap.list('""', "inbox")[1])) == {"INBOX"}
    typ, data = imap.list('""', '""')
    assert data == [b'(\\Noselect) "/" ""']


def test_subscribe_and_lsub(tern):
    imap = login(tern)
    imap.create("Lists")
    assert imap.subscribe("Lists")[0] == "OK"
    assert "Lists" in names(imap.lsub('""', "*")[1])
    assert imap.unsubscribe("Lists")[0] == "OK"
    assert "Lists" not in names(imap.lsub('""', "*")[1])


def test_status_select_examine(tern):
    imap = login(tern)
    for i in range(3):
        imap.append("INBOX", "(\\Seen)" if i == 0 else None, None,
                    f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
    typ, data = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE RECENT DELETED)")
    assert typ == "OK"
    status = data[0].decode()
    assert "MESSAGES 3" in status and "UNSEEN 2" in status and "UIDNEXT 4" in status
    assert "DELETED 0" in status and re.search(r"SIZE \d+", status)
    typ, data = imap.select("INBOX")
    assert (typ, data) == ("OK", [b"3"])
    assert imap.untagged_responses["UNSEEN"] == [b"2"]
    typ, data = imap.select("Sent", readonly=True)
    assert typ == "OK"
    typ, data = imap.store("1", "+FLAGS", "\\Seen")
    assert typ == "NO" and b"READ-ONLY" in data[0]
    assert imap.select("Nope")[0] == "NO"
    assert imap.status("Nope", "(MESSAGES)")[0] == "NO"


def test_namespace(tern):
    imap = login(tern)
    typ, data = imap.namespace()
    assert typ == "OK" and data == [b'(("" "/")) NIL NIL']


def test_utf7_names_for_rev1_and_utf8_after_enable(tern):
    imap = login(tern)
    assert imap.create("Entw&APw-rfe")[0] == "OK"
    assert "Entw&APw-rfe" in names(imap.list('""', "*")[1])
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"e", b"ENABLE IMAP4rev2")
    lines = raw.command(b"x", b'LIST "" "Entw*"')
    assert lines[0] == '* LIST (\\HasNoChildren) "/" "Entwürfe"'.encode(), lines
    assert raw.command(b"b", b'CREATE "bad&name"')[-1].startswith(b"b OK"), "UTF-8 mode: & is plain"
    raw2 = Raw(tern.port("imap"))
    raw2.login()
    assert raw2.command(b"c", b'CREATE "x&Jjo!"')[-1].startswith(b"c NO"), "invalid UTF-7"
    assert raw2.command(b"d", b'CREATE "a\xffb"')[-1][:4] in (b"d NO", b"d BA")


def test_names_with_nul_or_bad_utf8_are_refused(tern):
    tern.add_user(USER, PASSWORD)
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"e", b"ENABLE IMAP4rev2")
    raw.send(b"a CREATE {3}\r\n")
    assert raw.line().startswith(b"+")
    raw.send(b"a\x00b\r\n")
    assert raw.until_tagged(b"a")[-1][:4] in (b"a NO", b"a BA")
    lines = raw.command(b"b", b'CREATE "\xff\xfe"')
    assert lines[-1].startswith(b"b NO") or lines[-1].startswith(b"b BAD"), lines
    assert raw.command(b"c", b"NOOP")[-1].startswith(b"c OK")


def test_accounts_are_isolated(tern):
    imap = login(tern)
    imap.create("Private")
    other = login(tern, "bob@example.test", "bob-pass")
    listed = names(other.list('""', "*")[1])
    assert "Private" not in listed
    for name in ["../alice@example.test/Private", "/Private", "~alice/Private", "Private"]:
        assert other.select(name)[0] == "NO"
