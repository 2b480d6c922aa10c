"""mbsync (isync) against Tern: a full two-way sync of a 2,000-message mailbox with folders
and flags, then changes on both sides, then a resync that converges with nothing lost or
duplicated."""
import os
import subprocess

from conftest import Tern
from imap_helpers import PASSWORD, USER

COUNT = 2000


def write_mbox(path, count, prefix):
    with open(path, "wb") as f:
        for i in range(count):
            status = b"Status: RO\n" if i % 3 == 0 else b""
            f.write(b"From sender@example.test Mon Jan  1 00:00:00 2024\n")
            f.write(b"From: sender@example.test\nTo: %s\nSubject: %s %d\n%sMessage-ID: <%s-%d@test>\n\n"
                    % (USER.encode(), prefix, i, status, prefix, i))
            f.write(b"Body of message %d\n\n" % i)


def mbsync(config):
    proc = subprocess.run(["mbsync", "-c", str(config), "-a"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"mbsync failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def maildir_messages(folder):
    files = []
    for sub in ("cur", "new"):
        directory = folder / sub
        if directory.exists():
            files += [p for p in directory.iterdir() if p.is_file()]
    return files


def subjects(files):
    out = []
    for path in files:
        for line in path.read_bytes().split(b"\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].strip())
                break
    return sorted(out)


def test_two_way_sync_converges(tmp_path):
    server = Tern(tmp_path, services=("imap",))
    server.add_user(USER, PASSWORD)
    write_mbox(tmp_path / "inbox.mbox", COUNT, b"inbox")
    write_mbox(tmp_path / "work.mbox", 50, b"work")
    server.cli("import", USER, "--mbox", tmp_path / "inbox.mbox")
    server.cli("import", USER, "--mbox", tmp_path / "work.mbox", "--folder", "Work/Projects")
    server.start()
    try:
        local = tmp_path / "mail"
        local.mkdir()
        config = tmp_path / "mbsyncrc"
        config.write_text(f"""
IMAPAccount tern
Host 127.0.0.1
Port {server.port("imap")}
User {USER}
Pass {PASSWORD}
SSLType None
AuthMechs PLAIN

IMAPStore remote
Account tern

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
        mbsync(config)
        inbox = local / "INBOX"
        files = maildir_messages(inbox)
        assert len(files) == COUNT
        seen = [p for p in files if "S" in p.name.rsplit(":2,", 1)[-1]]
        assert len(seen) == (COUNT + 2) // 3
        assert len(maildir_messages(local / "Work" / "Projects")) == 50

        # Local changes: flag one, delete one, add one.
        unseen = sorted(p for p in files if p.name.endswith(":2,"))
        os.rename(unseen[10], str(unseen[10]) + "F")
        deleted = unseen[20]
        deleted.unlink()
        new = inbox / "new" / "1700000000.local.host"
        new.write_bytes(b"From: me@example.test\nSubject: written locally\n\nhi\n")
        # Server changes: append and expunge through IMAP.
        import imaplib
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap"))
        imap.login(USER, PASSWORD)
        imap.append("INBOX", None, None, b"Subject: written on the server\r\n\r\nhello\r\n")
        imap.select("INBOX")
        imap.store("5", "+FLAGS", "\\Deleted")
        imap.expunge()
        imap.logout()

        mbsync(config)
        mbsync(config)  # a second run changes nothing
        local_subjects = subjects(maildir_messages(inbox))
        assert len(local_subjects) == len(set(local_subjects)), "no duplicates"
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap"))
        imap.login(USER, PASSWORD)
        imap.select("INBOX", readonly=True)
        typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        server_subjects = sorted(item[1].split(b":", 1)[1].strip()
                                 for item in data if isinstance(item, tuple))
        assert server_subjects == local_subjects
        assert b"written locally" in server_subjects
        assert b"written on the server" in server_subjects
        assert len(server_subjects) == COUNT  # +2 new, -2 removed
        typ, data = imap.search(None, "FLAGGED")
        assert len(data[0].split()) == 1
    finally:
        server.stop()
