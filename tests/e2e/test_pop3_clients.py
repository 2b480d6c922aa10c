"""POP3 with the real clients users run: fetchmail downloading and deleting a 500-message
maildrop, and curl's pop3s:// URLs (LIST, RETR, UIDL, TOP)."""
import imaplib
import pathlib
import poplib
import subprocess
import sys

import pytest

from pop3_support import connect, fill, joined, login, sample_message

USER, PASSWORD = "fetch@example.test", "fetch-secret"

# fetchmail hands each message to this MDA on stdin; it stores it in its own numbered file.
MDA = """
import pathlib, sys
out = pathlib.Path(sys.argv[1])
n = len(list(out.iterdir()))
(out / f"{n:05d}.eml").write_bytes(sys.stdin.buffer.read())
"""


def without_fetchmail_trace(raw):
    """The message as stored: fetchmail prepends its own Received header and passes LF lines."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = raw.split(b"\r\n")
    assert lines[0].startswith(b"Received: from"), lines[0]
    end = 1
    while lines[end][:1] in (b" ", b"\t"):
        end += 1
    assert b"fetchmail" in b"\r\n".join(lines[:end])
    return b"\r\n".join(lines[end:])


def test_fetchmail_downloads_500_messages_and_deletes_them(tern, tmp_path):
    tern.add_user(USER, PASSWORD)
    messages = [sample_message(i, body_lines=i % 17, extra=b"." * (i % 3) + b"\r\n")
                for i in range(500)]
    fill(tern, USER, messages, tmp_path)

    out = tmp_path / "delivered"
    out.mkdir()
    mda = tmp_path / "mda.py"
    mda.write_text(MDA)
    rcfile = tmp_path / "fetchmailrc"
    rcfile.write_text(
        f'poll 127.0.0.1 service {tern.port("pop3")} protocol pop3 auth password\n'
        f'  user "{USER}" password "{PASSWORD}"\n'
        f'  sslproto "tls1.2+" sslcertck sslcertfile "{tern.cert}"\n'
        # The self-signed certificate names the configured hostname, not 127.0.0.1.
        f'  sslcommonname "mail.test"\n'
        f'  mda "{sys.executable} {mda} {out}"\n'
        f'  nokeep fetchall\n')
    rcfile.chmod(0o600)
    proc = subprocess.run(
        ["fetchmail", "--fetchmailrc", str(rcfile), "--nosyslog", "--pidfile",
         str(tmp_path / "fetchmail.pid"), "-v"],
        capture_output=True, text=True, timeout=600,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "FETCHMAILHOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # fetchmail upgraded the plain connection with STLS and verified the certificate.
    assert "POP3> STLS" in proc.stdout + proc.stderr

    delivered = sorted(out.iterdir())
    assert len(delivered) == 500
    got = [without_fetchmail_trace(p.read_bytes()) for p in delivered]
    assert got == messages

    # --nokeep: the maildrop is empty now, for the next POP3 session and over IMAP too.
    client = login(tern, USER, PASSWORD)
    assert client.stat() == (0, 0)
    client.quit()
    imap = imaplib.IMAP4("127.0.0.1", tern.port("imap"))
    imap.login(USER, PASSWORD)
    status, data = imap.status("INBOX", "(MESSAGES)")
    assert status == "OK" and b"(MESSAGES 0)" in data[0], data
    imap.logout()


def curl(tern, url_path, *args):
    proc = subprocess.run(
        ["curl", "--silent", "--show-error", "--cacert", tern.cert,
         "--user", f"{USER}:{PASSWORD}", *args,
         f"pop3s://localhost:{tern.port('pop3s')}/{url_path}"],
        capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_curl_pop3s_list_retr_uidl_top(tern, tmp_path):
    tern.add_user(USER, PASSWORD)
    messages = fill(tern, USER, [sample_message(1), sample_message(2, body_lines=30)], tmp_path)

    listing = curl(tern, "")
    assert listing.split(b"\r\n")[:2] == [b"1 %d" % len(messages[0]), b"2 %d" % len(messages[1])]

    # curl un-stuffs dots and drops the terminator.
    assert curl(tern, "2") == messages[1]

    uidl = curl(tern, "", "--request", "UIDL")
    ids = [line.split(b" ")[1] for line in uidl.split(b"\r\n") if line]
    assert len(ids) == 2 and ids[0] != ids[1]

    header = messages[1].split(b"\r\n\r\n", 1)[0]
    top = curl(tern, "", "--request", "TOP 2 2")
    assert top.startswith(header + b"\r\n\r\n")
    assert top.count(b"\r\n") == header.count(b"\r\n") + 2 + 2

    client = login(tern, USER, PASSWORD)
    assert client.stat()[0] == 2  # curl deleted nothing
    client.quit()
