"""Helpers shared by the POP3 end-to-end tests: filling a maildrop through `tern import`, and
sample messages with the awkward parts POP3 must get right (dot lines, long bodies)."""
import pathlib
import poplib
import ssl


def sample_message(i, body_lines=3, extra=b""):
    """A CRLF message whose Message-ID and subject carry `i`; some lines start with a dot."""
    body = b"".join(b"line %d of message %d\r\n" % (n, i) for n in range(body_lines))
    return (b"From: Sender <sender@example.test>\r\n"
            b"To: user@example.test\r\n"
            b"Subject: message %d\r\n"
            b"Message-ID: <msg%d@example.test>\r\n"
            b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            b"\r\n" % (i, i)
            + b".a line that starts with a dot\r\n" + body + b".\r\n" + extra
            + b"last line\r\n")


def fill(tern, email, messages, tmp):
    """Imports `messages` (bytes, CRLF) into the account's INBOX, in order."""
    maildir = pathlib.Path(tmp) / f"maildir-{email}"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages):
        # The delivery timestamp in the name sets the import order.
        (maildir / "cur" / f"{1_700_000_000 + i}.M{i}P1.test:2,").write_bytes(raw)
    tern.cli("import", email, "--maildir", str(maildir))
    return messages


def connect(tern, timeout=10):
    return poplib.POP3("127.0.0.1", tern.port("pop3"), timeout=timeout)


def connect_tls(tern, timeout=10):
    context = ssl.create_default_context(cafile=tern.cert)
    return poplib.POP3_SSL("127.0.0.1", tern.port("pop3s"), context=context, timeout=timeout)


def login(tern, email, password, timeout=10):
    client = connect(tern, timeout)
    client.user(email)
    client.pass_(password)
    return client


def joined(lines):
    """poplib's RETR/TOP lines (dot-unstuffed, without CRLF) as the message bytes."""
    return b"".join(line + b"\r\n" for line in lines)
