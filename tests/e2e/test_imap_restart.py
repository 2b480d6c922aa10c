"""A large mailbox across restarts. The server keeps the message list of a large mailbox on
disk as of a MODSEQ (crates/store/src/sqlite/snapshots.rs) and brings it up to date from the
changes since; a client must see exactly what is stored after a restart, changes made while
the server was down included (an import by the CLI)."""
import re
import sqlite3
import time

from imap_helpers import PASSWORD, USER, connect, login

# Above the store's snapshot threshold (2,000 messages).
COUNT = 2_100


def mbox(first, count):
    out = []
    for n in range(first, first + count):
        out.append(f"From sender@example.net Mon Oct  2 10:00:00 2023\n"
                   f"From: sender@example.net\nTo: {USER}\nSubject: message {n}\n\n"
                   f"body {n}\n\n")
    return "".join(out)


def stored(tern):
    """UID -> flag bits of the INBOX, read from the database itself."""
    db = sqlite3.connect(f"file:{tern.data_dir / 'store.sqlite'}?mode=ro", uri=True)
    try:
        return dict(db.execute(
            "SELECT m.uid, m.flags FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
            "JOIN accounts a ON a.id = b.account_id WHERE a.email = ? AND b.name = 'INBOX'",
            (USER,)).fetchall())
    finally:
        db.close()


def snapshot_modseq(tern):
    db = sqlite3.connect(f"file:{tern.data_dir / 'store.sqlite'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT max(modseq) FROM state_snapshots").fetchone()
        return row[0]
    finally:
        db.close()


def seen_by_client(tern):
    """UID -> flags as a new session sees them after SELECT."""
    imap = connect(tern)
    imap.login(USER, PASSWORD)
    typ, data = imap.select("INBOX")
    exists = int(data[0])
    typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
    imap.logout()
    flags = {}
    for line in data:
        found = re.match(rb"\d+ \(UID (\d+) FLAGS \(([^)]*)\)\)", line)
        assert found, line
        flags[int(found.group(1))] = set(found.group(2).split())
    assert exists == len(flags)
    return flags


def test_a_large_mailbox_shows_every_change_across_restarts(tern, tmp_path):
    login(tern).logout()
    first = tmp_path / "first.mbox"
    first.write_text(mbox(1, COUNT))
    tern.cli("import", USER, "--mbox", str(first))

    # The first SELECT reads every row and leaves a snapshot, written in the background.
    assert len(seen_by_client(tern)) == COUNT
    deadline = time.monotonic() + 60
    while snapshot_modseq(tern) is None:
        assert time.monotonic() < deadline, "no snapshot was written"
        time.sleep(0.05)

    # Changes after the snapshot: flags, an expunge.
    imap = connect(tern)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    imap.uid("STORE", "1:10", "+FLAGS", r"(\Seen)")
    imap.uid("STORE", "11:12", "+FLAGS", r"(\Deleted)")
    imap.expunge()
    imap.logout()

    # More mail while the server is down, then a restart: nothing cached in memory.
    tern.stop()
    more = tmp_path / "more.mbox"
    more.write_text(mbox(COUNT + 1, 5))
    tern.cli("import", USER, "--mbox", str(more))
    tern.start()

    flags = seen_by_client(tern)
    assert len(flags) == COUNT - 2 + 5
    assert 11 not in flags and 12 not in flags
    assert all(rb"\Seen" in flags[uid] for uid in range(1, 11))
    assert rb"\Seen" not in flags[13]
    assert max(flags) == COUNT + 5
    # And exactly what the database holds (bit 1 is \Seen).
    truth = stored(tern)
    assert sorted(flags) == sorted(truth)
    assert all((rb"\Seen" in flags[uid]) == bool(bits & 1) for uid, bits in truth.items())
