"""IDLE and updates from other sessions: one session idles on INBOX while another appends,
changes flags and expunges; the idling session sees each change, in order."""
from imap_helpers import PASSWORD, USER, Raw, login


def idle_session(tern):
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.command(b"s", b"SELECT INBOX")
    raw.send(b"i IDLE\r\n")
    assert raw.line() == b"+ idling"
    return raw


def test_idle_sees_appends_flags_and_expunges_in_order(tern):
    other = login(tern)
    watcher = idle_session(tern)
    other.append("INBOX", None, None, b"Subject: one\r\n\r\n1\r\n")
    # The watcher is an IMAP4rev1 session and the first to be told of each new message, so
    # each is recent to it (RFC 3501 §7.3.2: RECENT follows EXISTS).
    assert watcher.line() == b"* 1 EXISTS"
    assert watcher.line() == b"* 1 RECENT"
    other.append("INBOX", None, None, b"Subject: two\r\n\r\n2\r\n")
    assert watcher.line() == b"* 2 EXISTS"
    assert watcher.line() == b"* 2 RECENT"
    other.select("INBOX")
    other.store("1", "+FLAGS.SILENT", "\\Deleted")
    assert watcher.line() == b"* 1 FETCH (FLAGS (\\Recent \\Deleted))"
    other.expunge()
    assert watcher.line() == b"* 1 EXPUNGE"
    watcher.send(b"DONE\r\n")
    assert watcher.line() == b"i OK IDLE terminated"
    lines = watcher.command(b"f", b"FETCH 1:* (UID)")
    assert lines == [b"* 1 FETCH (UID 2)", b"f OK FETCH completed"]


def test_changes_wait_for_a_command_that_may_report_them(tern):
    watcher = Raw(tern.port("imap"))
    other = login(tern)
    for i in range(2):
        other.append("INBOX", None, None, f"Subject: {i}\r\n\r\n{i}\r\n".encode())
    watcher.login()
    watcher.command(b"s", b"SELECT INBOX")
    other.select("INBOX")
    other.store("1", "+FLAGS.SILENT", "\\Deleted")
    other.expunge()
    # RFC 9051 §7.5.1: no EXPUNGE during FETCH by sequence number.
    lines = watcher.command(b"f", b"FETCH 2 (UID)")
    assert not any(b"EXPUNGE" in line for line in lines), lines
    lines = watcher.command(b"n", b"NOOP")
    assert lines == [b"* 1 EXPUNGE", b"n OK NOOP completed"]


def test_idle_without_a_selected_mailbox_and_bad_continuation(tern):
    tern.add_user(USER, PASSWORD)
    raw = Raw(tern.port("imap"))
    raw.login()
    raw.send(b"i IDLE\r\n")
    assert raw.line() == b"+ idling"
    raw.send(b"NOPE\r\n")
    assert raw.line().startswith(b"i BAD")
    assert raw.command(b"n", b"NOOP")[-1] == b"n OK NOOP completed"
