"""Security of accounts against strangers: a stranger's failed logins cannot lock an account out
from elsewhere (yet guessing stays slow), the data directory is private to the server's user,
and new mailbox names cannot imitate other namespaces or hide text."""
import base64
import html
import http.client
import imaplib
import os
import pathlib
import poplib
import re
import smtplib
import socket
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import Tern
from imap_helpers import THROTTLE
from webmail_client import WebClient

BOB = "bob@example.test"
BOB_PASSWORD = "bob-right-pass"
ATTACKER = "127.0.0.2"
ELSEWHERE = "127.0.0.3"


class FromSource:
    """A client (imaplib, poplib) whose socket is bound to a chosen loopback source address:
    all of 127.0.0.0/8 is loopback, so each address is another client to the server."""

    def __init__(self, host, port, source):
        self.source = source
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))


class SourceIMAP(FromSource, imaplib.IMAP4):
    pass


class SourcePOP3(FromSource, poplib.POP3):
    pass


def imap_from(server, source):
    return SourceIMAP("127.0.0.1", server.port("imap"), source)


def imap_login(server, source, user, password):
    """The tagged reply's text for LOGIN from `source` (b"OK" on success)."""
    imap = imap_from(server, source)
    try:
        imap.login(user, password)
        imap.logout()
        return "OK"
    except imaplib.IMAP4.error as e:
        return str(e)


def plain(log):
    """The log without its terminal colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", log)


def failed_logins_logged(server, ip):
    """The delay (ms) the server gave each failed login from `ip`, as its log says."""
    delays = []
    for line in plain(server.read_log()).splitlines():
        if "login failed" in line and f"ip={ip}" in line:
            match = re.search(r"delay_ms=(\d+)", line)
            assert match, line
            delays.append(int(match.group(1)))
    return delays


@pytest.fixture
def throttled(tmp_path):
    server = Tern(tmp_path, extra_config=THROTTLE).start()
    server.add_user(BOB, BOB_PASSWORD)
    yield server
    server.stop()


def test_imap_a_strangers_failures_lock_out_only_the_stranger(throttled):
    replies = [imap_login(throttled, ATTACKER, BOB, f"guess{n}") for n in range(6)]
    failed = [r for r in replies if "[AUTHENTICATIONFAILED]" in r]
    refused = [r for r in replies if "[UNAVAILABLE] too many failed logins" in r]
    # Three guesses are checked, every further one is refused unchecked ...
    assert (len(failed), len(refused)) == (3, 3), replies
    # ... even with the right password, from the guessing address.
    assert "[UNAVAILABLE]" in imap_login(throttled, ATTACKER, BOB, BOB_PASSWORD)
    # Bob, from an address that has not failed, logs in.
    assert imap_login(throttled, ELSEWHERE, BOB, BOB_PASSWORD) == "OK"
    # Guessing from there stays slow: its first failure is answered after the account's full
    # delay (the cap, 20 ms here), where a fresh account would get none.
    assert "[AUTHENTICATIONFAILED]" in imap_login(throttled, ELSEWHERE, BOB, "guess-again")
    assert failed_logins_logged(throttled, ELSEWHERE) == [20]
    assert failed_logins_logged(throttled, ATTACKER) == [0, 10, 20]
    assert "login refused" in throttled.read_log()


def test_imap_an_address_failing_for_many_accounts_is_refused(throttled):
    for n in range(6):
        assert "[AUTHENTICATIONFAILED]" in imap_login(throttled, ATTACKER, f"u{n}@example.test", "x")
    # The address is refused whoever it tries, the others are not.
    assert "[UNAVAILABLE]" in imap_login(throttled, ATTACKER, BOB, BOB_PASSWORD)
    assert imap_login(throttled, ELSEWHERE, BOB, BOB_PASSWORD) == "OK"


def pop3_login(server, source, user, password):
    client = SourcePOP3("127.0.0.1", server.port("pop3"), source)
    try:
        client.user(user)
        client.pass_(password)
        client.quit()
        return "OK"
    except poplib.error_proto as e:
        return e.args[0].decode()


def test_pop3_a_strangers_failures_lock_out_only_the_stranger(throttled):
    replies = [pop3_login(throttled, ATTACKER, BOB, f"guess{n}") for n in range(5)]
    refused = [r for r in replies if "Too many failed logins" in r]
    assert len(refused) == 2, replies
    assert "Too many failed logins" in pop3_login(throttled, ATTACKER, BOB, BOB_PASSWORD)
    assert pop3_login(throttled, ELSEWHERE, BOB, BOB_PASSWORD) == "OK"


def submission_login(server, source, user, password):
    with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=10,
                      source_address=(source, 0)) as smtp:
        # One AUTH PLAIN: smtplib's login() would go on to AUTH LOGIN after a failure.
        smtp.ehlo()
        smtp.user, smtp.password = user, password
        try:
            return smtp.auth("PLAIN", smtp.auth_plain)[0]
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code


def test_submission_a_strangers_failures_lock_out_only_the_stranger(throttled):
    codes = [submission_login(throttled, ATTACKER, BOB, f"guess{n}") for n in range(5)]
    assert codes == [535, 535, 535, 454, 454]
    assert submission_login(throttled, ATTACKER, BOB, BOB_PASSWORD) == 454
    assert submission_login(throttled, ELSEWHERE, BOB, BOB_PASSWORD) == 235


class SourceWebClient(WebClient):
    """The webmail client from a chosen loopback source address."""

    def __init__(self, tern, source):
        super().__init__(tern)
        self.source = source

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=30,
                                          source_address=(self.source, 0))


def webmail_login(server, source, user, password):
    return SourceWebClient(server, source).login(user, password).status


def test_webmail_a_strangers_failures_lock_out_only_the_stranger(throttled):
    statuses = [webmail_login(throttled, ATTACKER, BOB, f"guess{n}") for n in range(5)]
    # 401 "Wrong address or password" while checked, then 429 unchecked.
    assert statuses == [401, 401, 401, 429, 429], statuses
    assert webmail_login(throttled, ATTACKER, BOB, BOB_PASSWORD) == 429
    assert webmail_login(throttled, ELSEWHERE, BOB, BOB_PASSWORD) == 303


# --- The data directory is private to the server's user ---------------------------------------

def modes(root):
    """{relative path: permission bits} of every directory and file under `root`, itself too."""
    root = pathlib.Path(root)
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = pathlib.Path(dirpath) / name
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def loose(found):
    """Entries that anyone but the owner may read, write or enter."""
    return {path: oct(mode) for path, mode in found.items() if mode & 0o077}


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def deliver(server, to, subject):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=30) as smtp:
        smtp.sendmail("someone@example.net", [to],
                      f"From: someone@example.net\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n"
                      "Hello.\r\n")


def wait_for_a_blob(server):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        root = server.data_dir / "blobs"
        blobs = [p for p in root.rglob("*")
                 if p.is_file() and p.relative_to(root).parts[0] != "tmp"]
        if blobs:
            return blobs
        time.sleep(0.05)
    raise AssertionError("no blob was written")


def test_cli_and_serve_keep_the_data_dir_private_under_umask_022(tmp_path, umask_022):
    server = Tern(tmp_path)
    server.add_user(BOB, BOB_PASSWORD)
    found = modes(server.data_dir)
    assert found["."] == 0o700 and found["store.sqlite"] == 0o600, found
    assert not loose(found), found
    server.start()
    try:
        deliver(server, BOB, "first")
        blobs = wait_for_a_blob(server)
        found = modes(server.data_dir)
        assert found["tls/key.pem"] == 0o600 and found["tls"] == 0o700, found
        assert stat.S_IMODE(blobs[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(blobs[0].parent.stat().st_mode) == 0o700
        assert not loose(found), found
    finally:
        server.stop()
    assert not loose(modes(server.data_dir))


def loosen(root):
    """What an older Tern or a careless copy leaves: directories 0755, files 0644."""
    count = 0
    for path in [pathlib.Path(root), *pathlib.Path(root).rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)
        count += 1
    return count


def fixed_counts(log):
    return [int(n) for n in re.findall(r"made the data directory private.*?fixed=(\d+)", plain(log))]


def test_an_existing_world_readable_data_dir_is_fixed_at_start(tmp_path):
    server = Tern(tmp_path).start()
    try:
        server.add_user(BOB, BOB_PASSWORD)
        deliver(server, BOB, "kept")
        wait_for_a_blob(server)
    finally:
        server.stop()
    entries = loosen(server.data_dir)
    assert loose(modes(server.data_dir))
    server.start()
    try:
        assert fixed_counts(server.read_log()) == [entries], server.read_log()
        assert not loose(modes(server.data_dir)), modes(server.data_dir)
        # The mail is still there and readable.
        imap = imap_from(server, "127.0.0.1")
        imap.login(BOB, BOB_PASSWORD)
        assert imap.select("INBOX")[1] == [b"1"]
        imap.logout()
    finally:
        server.stop()
    # Once private, starting again fixes nothing and says nothing.
    server.start()
    server.stop()
    assert fixed_counts(server.read_log()) == [entries]


def test_a_cli_command_fixes_a_loose_data_dir_too(tern_cli):
    tern_cli.add_user(BOB, BOB_PASSWORD)
    entries = loosen(tern_cli.data_dir)
    result = tern_cli.cli("user", "list")
    assert fixed_counts(result.stderr) == [entries], result.stderr
    assert not loose(modes(tern_cli.data_dir))


# --- New mailbox names cannot imitate other namespaces or hide text -----------------------------

HOSTILE_NAMES = [
    ".",
    "..",
    "Work/../Other",
    "~bob",
    "#shared/bob@a.test",
    "Other Users/bob@a.test",
    "shared folders",
    "shared/bob@a.test",
    "Invoice\u202efdp.exe",
    "\u2066Inbox\u2069",
    "a\u200fb",
    "a\u061cb",
    "a\u0085b",
    " INBOX",
]


def mutf7(name):
    """RFC 3501 §5.1.3 modified UTF-7, how an IMAP4rev1 client (imaplib) sends a name."""
    out, pending = [], ""

    def flush():
        nonlocal pending
        if pending:
            encoded = base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending += ch
    flush()
    return "".join(out)


def quoted(name):
    return '"' + mutf7(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def refusal(reply):
    typ, data = reply
    return typ, data[0].decode()


@pytest.fixture
def bob_imap(tern):
    tern.add_user(BOB, BOB_PASSWORD)
    imap = imap_from(tern, "127.0.0.1")
    imap.login(BOB, BOB_PASSWORD)
    yield imap
    imap.logout()


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=ascii)
def test_imap_create_and_rename_refuse_a_hostile_name(bob_imap, name):
    typ, text = refusal(bob_imap.create(quoted(name)))
    assert typ == "NO" and text.startswith("[CANNOT] invalid mailbox name: "), text
    assert bob_imap.create("Good")[0] == "OK"
    typ, text = refusal(bob_imap.rename("Good", quoted(name)))
    assert typ == "NO" and text.startswith("[CANNOT] invalid mailbox name: "), text
    listed = {line.decode().split(' "/" ', 1)[1] for line in bob_imap.list('""', "*")[1]}
    assert listed == {"INBOX", "Drafts", "Sent", "Junk", "Trash", "Good"}, listed
    assert bob_imap.select("Good")[0] == "OK", "the session goes on"


def test_imap_mailboxes_stored_with_hostile_names_stay_usable(tern):
    tern.add_user(BOB, BOB_PASSWORD)
    imap = imap_from(tern, "127.0.0.1")
    imap.login(BOB, BOB_PASSWORD)
    for name in ("Legacy1", "Legacy2"):
        assert imap.create(name)[0] == "OK"
    imap.logout()
    tern.stop()
    # As an import or an older Tern may have left them.
    with sqlite3.connect(tern.data_dir / "store.sqlite") as db:
        db.execute("UPDATE mailboxes SET name = '~bob' WHERE name = 'Legacy1'")
        db.execute("UPDATE mailboxes SET name = ? WHERE name = 'Legacy2'", ("x\u202ey",))
    db.close()
    tern.start()
    imap = imap_from(tern, "127.0.0.1")
    imap.login(BOB, BOB_PASSWORD)
    assert imap.select("~bob")[0] == "OK"
    assert imap.rename("~bob", "Bob's")[0] == "OK"
    assert imap.select(quoted("x\u202ey"))[0] == "OK"
    assert imap.delete(quoted("x\u202ey"))[0] == "OK"
    listed = b"\n".join(imap.list('""', "*")[1]).decode()
    assert "Bob's" in listed and "~bob" not in listed and "&IC4-" not in listed, listed
    imap.logout()


def test_webmail_shows_why_a_folder_name_is_refused(tern):
    tern.add_user(BOB, BOB_PASSWORD)
    client = WebClient(tern)
    assert client.login(BOB, BOB_PASSWORD).status == 303
    token = client.get("/folders").csrf()
    for name in ("~bob", "Other Users/alice@example.test", "a\u202eb"):
        response = client.post("/folders", {"csrf": token, "op": "create", "name": name})
        assert response.status == 400, (name, response.status)
        text = html.unescape(response.text)
        assert "Invalid mailbox name: " in text, text[:2000]
    assert "~bob" not in html.unescape(client.get("/folders").text)
