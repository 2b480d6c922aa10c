"""`tern import` with mbox files and Maildirs that the tests generate: multipart, attachments,
non-ASCII headers, a malformed message, flags, dates, re-runs, and bounded memory."""
import base64
import hashlib
import os
import resource
import sqlite3
import subprocess

import pytest

SIMPLE = (b"From: Ann <ann@example.net>\nTo: alice@example.test\nSubject: plain\n"
          b"Date: Mon, 02 Oct 2023 10:00:00 +0000\nStatus: RO\n\nHello Alice.\n"
          b"From the desk of Ann.\n")
ATTACHMENT = (b"From: bob@example.net\nTo: alice@example.test\nSubject: report\n"
              b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n"
              b"--XYZ\nContent-Type: text/plain\n\nSee attached.\n--XYZ\n"
              b"Content-Type: application/pdf; name=\"r.pdf\"\nContent-Transfer-Encoding: base64\n"
              b"Content-Disposition: attachment; filename=\"r.pdf\"\n\n"
              + base64.encodebytes(bytes(range(256)) * 4) + b"--XYZ--\n")
NON_ASCII = ("From: Jörg Müller <joerg@example.net>\nTo: alice@example.test\n"
             "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nX-Note: 日本語のヘッダー\n\n"
             "Grüße!\n").encode()
MALFORMED = (b"From: broken\nContent-Type: multipart/mixed; boundary=\"nope\"\n"
             b"this line is not a header\n\n--wrong\n\x00\xff\xfe binary garbage\n")


def mbox_bytes(messages):
    """mboxrd: a From_ line before each message, '>'-quoting of body lines starting 'From '."""
    out = b""
    for i, msg in enumerate(messages):
        out += b"From sender@example.net Mon Oct  2 10:00:%02d 2023\n" % i
        for line in msg.split(b"\n")[:-1]:
            if line.lstrip(b">").startswith(b"From "):
                line = b">" + line
            out += line + b"\n"
        out += b"\n"
    return out


def crlf(raw):
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def blob(data_dir, raw):
    digest = hashlib.sha256(raw).hexdigest()
    path = data_dir / "blobs" / digest[:2] / digest[2:]
    return path.read_bytes() if path.exists() else None


def rows(data_dir, sql, *args):
    db = sqlite3.connect(data_dir / "store.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_mbox_import_keeps_every_message_byte_for_byte_and_does_not_duplicate(tern_cli, tmp_path):
    tern_cli.add_user("alice@example.test")
    messages = [SIMPLE, ATTACHMENT, NON_ASCII, MALFORMED]
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(mbox_bytes(messages))
    out = tern_cli.cli("import", "alice@example.test", "--mbox", mbox).stdout
    assert "imported 4, skipped 0" in out
    for msg in messages:
        assert blob(tern_cli.data_dir, crlf(msg)) == crlf(msg), msg[:40]
    flags = rows(tern_cli.data_dir,
                 "SELECT m.uid, m.flags, m.internal_date FROM messages m "
                 "JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'INBOX' ORDER BY uid")
    assert [f[0] for f in flags] == [1, 2, 3, 4]
    assert flags[0][1] & 1 == 1, "Status: RO means seen"
    assert flags[1][1] == 0
    assert flags[0][2] == 1696240800, "INTERNALDATE from the From_ line"
    # The summary parsed at import: the encoded subject decoded.
    summary = rows(tern_cli.data_dir, "SELECT summary FROM blobs")
    assert any("Grüße aus Köln" in s[0].decode() for s in summary)

    again = tern_cli.cli("import", "alice@example.test", "--mbox", mbox).stdout
    assert "imported 0, skipped 4 (4 already present, 0 unreadable)" in again
    assert "alice@example.test\t4 messages" in tern_cli.cli("user", "list").stdout


def test_mbox_import_into_a_named_folder(tern_cli, tmp_path):
    tern_cli.add_user("alice@example.test")
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(mbox_bytes([SIMPLE, NON_ASCII]))
    tern_cli.cli("import", "alice@example.test", "--mbox", mbox, "--folder", "Archive/2023")
    names = [r[0] for r in rows(tern_cli.data_dir, "SELECT name FROM mailboxes b JOIN messages m "
                                "ON m.mailbox_id = b.id")]
    assert names == ["Archive/2023", "Archive/2023"]


def write_maildir_message(folder, sub, name, raw, mtime):
    path = folder / sub / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    os.utime(path, (mtime, mtime))


def test_maildir_import_keeps_flags_dates_and_subfolders(tern_cli, tmp_path):
    tern_cli.add_user("alice@example.test")
    root = tmp_path / "Maildir"
    (root / "tmp").mkdir(parents=True)
    write_maildir_message(root, "cur", "1700000000.1.host:2,S", SIMPLE, 1700000000)
    write_maildir_message(root, "cur", "1700000001.2.host:2,FR", ATTACHMENT, 1700000001)
    write_maildir_message(root, "new", "1700000002.3.host", NON_ASCII, 1700000002)
    write_maildir_message(root, "cur", "1700000003.4.host:2,", b"", 1700000003)
    write_maildir_message(root / ".Work", "cur", "1700000004.5.host:2,T", MALFORMED, 1700000004)
    (root / ".Work" / "new").mkdir()
    out = tern_cli.cli("import", "alice@example.test", "--maildir", root).stdout
    assert "imported 4, skipped 1 (0 already present, 1 unreadable)" in out
    assert "skipped cur/1700000003.4.host:2,: " in out
    got = rows(tern_cli.data_dir,
               "SELECT b.name, m.uid, m.flags, m.internal_date FROM messages m "
               "JOIN mailboxes b ON b.id = m.mailbox_id ORDER BY b.name, m.uid")
    seen, answered, flagged, deleted = 1, 2, 4, 8
    assert got == [
        ("INBOX", 1, seen, 1700000000),
        ("INBOX", 2, answered | flagged, 1700000001),
        ("INBOX", 3, 0, 1700000002),
        ("Work", 1, deleted, 1700000004),
    ]
    for msg in (SIMPLE, ATTACHMENT, NON_ASCII, MALFORMED):
        assert blob(tern_cli.data_dir, crlf(msg)) == crlf(msg)


def test_an_unknown_account_or_missing_file_is_a_clear_error(tern_cli, tmp_path):
    tern_cli.add_user("alice@example.test")
    proc = tern_cli.cli("import", "nobody@example.test", "--mbox", tmp_path / "x", check=False)
    assert proc.returncode == 1 and "no account nobody@example.test" in proc.stderr
    proc = tern_cli.cli("import", "alice@example.test", "--mbox", tmp_path / "x", check=False)
    assert proc.returncode == 1 and "x" in proc.stderr


def test_a_large_mbox_imports_in_bounded_memory(tern_cli, tmp_path):
    """20,000 messages, a few of them 2 MB: the importer streams, so its peak RSS stays far
    below the 200 MB budget that a 100,000-message mbox must meet (measured in bench/)."""
    tern_cli.add_user("alice@example.test")
    mbox = tmp_path / "big.mbox"
    count = 20_000
    with open(mbox, "wb") as f:
        for i in range(count):
            body = (b"x" * 2_000_000 + b"\n") if i % 5000 == 0 else (b"line %d\n" % i) * 20
            f.write(b"From a@example.net Mon Oct  2 10:00:00 2023\n"
                    b"From: a@example.net\nSubject: number %d\n\n" % i + body + b"\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(tern_cli.argv("import", "alice@example.test", "--mbox", mbox),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert f"imported {count}, skipped 0" in proc.stdout
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib >= before
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"
