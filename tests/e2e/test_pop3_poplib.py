"""POP3 with Python's poplib: every command of RFC 1939, CAPA and response codes (RFC 2449,
RFC 3206), SASL AUTH (RFC 5034), STLS (RFC 2595) and POP3S, pipelining, the maildrop lock."""
import base64
import os
import poplib
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from conftest import Tern
from pop3_support import connect, connect_tls, fill, joined, login, sample_message

USER, PASSWORD = "user@example.test", "pop-secret"


@pytest.fixture
def mailbox(tern, tmp_path):
    """An account with three messages; returns the stored bytes."""
    tern.add_user(USER, PASSWORD)
    messages = [sample_message(1), sample_message(2, body_lines=40), sample_message(3)]
    fill(tern, USER, messages, tmp_path)
    return messages


def capabilities(client):
    return {line.split(" ")[0]: line for line in
            (c.decode() for c in client._longcmd("CAPA")[1])}


def test_greeting_and_capa_before_login(tern, mailbox):
    client = connect(tern)
    assert client.getwelcome().startswith(b"+OK mail.test")
    caps = capabilities(client)
    for cap in ("USER", "TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "STLS"):
        assert cap in caps, caps
    assert caps["SASL"] == "SASL PLAIN LOGIN"
    assert caps["EXPIRE"] == "EXPIRE NEVER"
    assert caps["IMPLEMENTATION"] == "IMPLEMENTATION Tern"
    assert "LOGIN-DELAY" not in caps
    assert "APOP" not in caps
    client.quit()


def test_user_pass_stat_list_retr_top_uidl_noop(tern, mailbox):
    client = login(tern, USER, PASSWORD)
    count, size = client.stat()
    assert count == 3
    assert size == sum(len(m) for m in mailbox)

    response, listing, _ = client.list()
    assert response.startswith(b"+OK")
    assert listing == [b"%d %d" % (n, len(m)) for n, m in enumerate(mailbox, 1)]
    assert client.list(2) == b"+OK 2 %d" % len(mailbox[1])

    for n, raw in enumerate(mailbox, 1):
        response, lines, octets = client.retr(n)
        assert response.startswith(b"+OK")
        # Byte for byte, dot-unstuffed by poplib.
        assert joined(lines) == raw

    # TOP n: the header, the blank line and n body lines.
    header, body = mailbox[1].split(b"\r\n\r\n", 1)
    _, lines, _ = client.top(2, 3)
    assert joined(lines) == header + b"\r\n\r\n" + b"".join(
        line + b"\r\n" for line in body.split(b"\r\n")[:3])
    _, lines, _ = client.top(2, 0)
    assert joined(lines) == header + b"\r\n\r\n"
    # A body shorter than asked: the whole message.
    _, lines, _ = client.top(1, 1000)
    assert joined(lines) == mailbox[0]

    _, uids, _ = client.uidl()
    assert len(uids) == 3
    ids = [u.split(b" ")[1] for u in uids]
    assert len(set(ids)) == 3
    assert all(0x21 <= c <= 0x7e for i in ids for c in i)
    assert client.uidl(2) == b"+OK 2 " + ids[1]

    assert client.noop() == b"+OK"
    assert client.quit().startswith(b"+OK")


def test_dele_rset_and_quit_removes_only_at_quit(tern, mailbox):
    first = login(tern, USER, PASSWORD)
    ids = [u.split(b" ")[1] for u in first.uidl()[1]]
    assert first.dele(2).startswith(b"+OK")
    assert first.stat() == (2, len(mailbox[0]) + len(mailbox[2]))
    # A message marked deleted can't be used (RFC 1939 §5).
    with pytest.raises(poplib.error_proto, match="deleted"):
        first.retr(2)
    with pytest.raises(poplib.error_proto, match="deleted"):
        first.dele(2)
    with pytest.raises(poplib.error_proto, match="deleted"):
        first.list(2)
    assert [line.split()[0] for line in first.list()[1]] == [b"1", b"3"]
    assert first.rset().startswith(b"+OK")
    assert first.stat()[0] == 3
    first.dele(1)
    first.dele(3)
    assert first.quit().startswith(b"+OK")

    second = login(tern, USER, PASSWORD)
    assert second.stat() == (1, len(mailbox[1]))
    assert joined(second.retr(1)[1]) == mailbox[1]
    # The survivor keeps its UIDL (stable for the life of the message).
    assert second.uidl(1).split(b" ")[2] == ids[1]
    second.quit()


def test_uidl_is_stable_across_sessions_and_restart(tern, mailbox):
    client = login(tern, USER, PASSWORD)
    before = client.uidl()[1]
    client.quit()
    tern.restart()
    client = login(tern, USER, PASSWORD)
    assert client.uidl()[1] == before
    client.quit()


def test_a_dropped_connection_deletes_nothing(tern, mailbox):
    client = login(tern, USER, PASSWORD)
    client.dele(1)
    client.dele(2)
    # No QUIT: no UPDATE state (RFC 1939 §6). poplib's file object keeps the socket open
    # after close(), so shut it down.
    client.sock.shutdown(socket.SHUT_RDWR)
    client.close()
    client = login_when_unlocked(tern)
    assert client.stat()[0] == 3
    client.quit()


def test_errors_carry_clear_text_and_codes(tern, mailbox):
    client = connect(tern)
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[AUTH\]"):
        client.user(USER)
        client.pass_("wrong password")
    # Commands of the TRANSACTION state before login.
    with pytest.raises(poplib.error_proto, match="Log in first"):
        client.stat()
    with pytest.raises(poplib.error_proto, match="Send USER first"):
        client.pass_(PASSWORD)
    with pytest.raises(poplib.error_proto, match="Unknown command"):
        client._shortcmd("XYZZY")
    with pytest.raises(poplib.error_proto, match="Unknown command"):
        client._shortcmd(f"APOP {USER} c4c9334bac560ecc979e58001b3e22fb")
    client.user(USER)
    client.pass_(PASSWORD)
    with pytest.raises(poplib.error_proto, match="no such message"):
        client.retr(4)
    with pytest.raises(poplib.error_proto, match="invalid message number"):
        client._shortcmd("RETR 0")
    with pytest.raises(poplib.error_proto, match="no such message"):
        client.top(9, 1)
    with pytest.raises(poplib.error_proto, match="Already logged in"):
        client.user(USER)
    with pytest.raises(poplib.error_proto, match="STLS is only allowed before login"):
        client._shortcmd("STLS")
    with pytest.raises(poplib.error_proto, match="Line too long"):
        client._shortcmd("NOOP " + "x" * 10000)
    # The session goes on after every error.
    assert client.stat()[0] == 3
    client.quit()


def test_too_many_bad_commands_close_the_connection(tern, mailbox):
    # A raw socket, one command at a time, each reply read before the next command: the server
    # has nothing unread when it closes, so the close arrives as a clean EOF (never a reset),
    # and what the server said can be asserted line by line.
    with socket.create_connection(("127.0.0.1", tern.port("pop3")), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")
        replies = []
        for _ in range(10):
            sock.sendall(b"BOGUS\r\n")
            replies.append(reader.readline())
        assert all(r.startswith(b"-ERR") and r.endswith(b"\r\n") for r in replies), replies
        # After the tenth bad command, one more -ERR says why, then the server closes.
        assert reader.readline() == b"-ERR Too many errors, closing\r\n"
        assert reader.readline() == b""


def test_auth_plain_and_login_with_and_without_initial_response(tern, mailbox):
    plain = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731

    client = connect(tern)
    assert client._shortcmd(f"AUTH PLAIN {plain}").startswith(b"+OK")
    assert client.stat()[0] == 3
    client.quit()

    client = connect(tern)
    assert client._shortcmd("AUTH PLAIN") == b"+ "
    assert client._shortcmd(plain).startswith(b"+OK")
    client.quit()

    client = connect(tern)
    assert client._shortcmd(f"AUTH LOGIN {b64(USER)}") == b"+ " + b64("Password:").encode()
    assert client._shortcmd(b64(PASSWORD)).startswith(b"+OK")
    client.quit()

    client = connect(tern)
    assert client._shortcmd("AUTH LOGIN") == b"+ " + b64("Username:").encode()
    assert client._shortcmd(b64(USER)) == b"+ " + b64("Password:").encode()
    assert client._shortcmd(b64(PASSWORD)).startswith(b"+OK")
    client.quit()

    client = connect(tern)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client._shortcmd("AUTH PLAIN " + base64.b64encode(
            b"\0" + USER.encode() + b"\0wrong").decode())
    assert client._shortcmd("AUTH PLAIN") == b"+ "
    with pytest.raises(poplib.error_proto, match="cancelled"):
        client._shortcmd("*")
    with pytest.raises(poplib.error_proto, match="Unsupported SASL mechanism"):
        client._shortcmd("AUTH CRAM-MD5")
    with pytest.raises(poplib.error_proto, match="Authorization identity"):
        client._shortcmd("AUTH PLAIN " + base64.b64encode(
            b"other@example.test\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode())
    response, mechanisms, _ = client._longcmd("AUTH")
    assert mechanisms == [b"PLAIN", b"LOGIN"]
    client.quit()


def test_stls_then_login(tern, mailbox):
    client = connect(tern)
    context = ssl.create_default_context(cafile=tern.cert)
    client.stls(context)
    caps = capabilities(client)
    assert "STLS" not in caps
    assert "USER" in caps
    with pytest.raises(poplib.error_proto, match="Already using TLS"):
        client._shortcmd("STLS")
    client.user(USER)
    client.pass_(PASSWORD)
    assert joined(client.retr(1)[1]) == mailbox[0]
    client.quit()


def test_pop3s(tern, mailbox):
    client = connect_tls(tern)
    assert client.getwelcome().startswith(b"+OK")
    caps = capabilities(client)
    assert "STLS" not in caps and "USER" in caps
    client.user(USER)
    client.pass_(PASSWORD)
    assert client.stat()[0] == 3
    assert joined(client.retr(3)[1]) == mailbox[2]
    client.quit()


def test_pipelined_commands_get_replies_in_order(tern, mailbox):
    with socket.create_connection(("127.0.0.1", tern.port("pop3")), timeout=10) as sock:
        sock.recv(1024)  # greeting
        batch = (f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST 1\r\nUIDL 2\r\n"
                 "RETR 1\r\nDELE 3\r\nNOOP\r\nRSET\r\nQUIT\r\n").encode()
        sock.sendall(batch)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    stuffed = mailbox[0].replace(b"\r\n.", b"\r\n..")
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"+OK")                      # USER
    assert lines[1].startswith(b"+OK Logged in")            # PASS
    assert lines[2] == b"+OK 3 %d" % sum(map(len, mailbox))  # STAT
    assert lines[3] == b"+OK 1 %d" % len(mailbox[0])        # LIST 1
    assert lines[4].startswith(b"+OK 2 ")                   # UIDL 2
    assert lines[5].startswith(b"+OK")                      # RETR 1
    body_start = data.index(lines[5]) + len(lines[5]) + 2
    assert data[body_start:].startswith(stuffed + b".\r\n")
    rest = data[body_start + len(stuffed) + 3:].split(b"\r\n")
    assert rest[0] == b"+OK message 3 deleted"
    assert rest[1] == b"+OK"
    assert rest[2].startswith(b"+OK maildrop has 3 messages")
    assert rest[3].startswith(b"+OK Bye, 0 messages deleted")


def login_when_unlocked(tern, deadline_s=20):
    """Logs in as soon as the server has noticed the previous session is gone."""
    deadline = time.monotonic() + deadline_s
    while True:
        client = connect(tern)
        client.user(USER)
        try:
            client.pass_(PASSWORD)
            return client
        except poplib.error_proto as e:
            client.close()
            if b"[IN-USE]" not in e.args[0] or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def assert_login_refused(server, pattern):
    client = connect(server)
    client.user(USER)
    with pytest.raises(poplib.error_proto, match=pattern):
        client.pass_(PASSWORD)
    client.close()


def test_only_one_session_per_maildrop(tern, mailbox):
    first = login(tern, USER, PASSWORD)
    second = connect(tern)
    second.user(USER)
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[IN-USE\]"):
        second.pass_(PASSWORD)
    # The refused session may try again once the first one is gone.
    first.quit()
    second.user(USER)
    second.pass_(PASSWORD)
    assert second.stat()[0] == 3
    second.quit()


KILLED_CLIENT = """
import poplib, sys
c = poplib.POP3("127.0.0.1", int(sys.argv[1]))
c.user(sys.argv[2]); c.pass_(sys.argv[3]); c.dele(1)
print("logged-in", flush=True)
sys.stdin.read()
"""


def test_a_killed_clients_lock_is_released(tern, mailbox):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, str(tern.port("pop3")),
                             USER, PASSWORD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"logged-in"
        assert_login_refused(tern, r"\[IN-USE\]")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    client = login_when_unlocked(tern)
    # The killed client's DELE never reached an UPDATE state.
    assert client.stat()[0] == 3
    client.quit()


def test_login_delay_and_expire_from_the_config(tmp_path):
    server = Tern(tmp_path, services=("pop3",),
                  extra_config='[pop3]\nlogin_delay_secs = 3600\nexpire = "0"\n').start()
    try:
        server.add_user(USER, PASSWORD)
        client = connect(server)
        caps = capabilities(client)
        assert caps["LOGIN-DELAY"] == "LOGIN-DELAY 3600"
        assert caps["EXPIRE"] == "EXPIRE 0"
        client.user(USER)
        client.pass_(PASSWORD)
        client.quit()
        assert_login_refused(server, r"\[LOGIN-DELAY\]")
    finally:
        server.stop()


def test_expire_zero_removes_retrieved_messages_at_quit(tmp_path):
    server = Tern(tmp_path, services=("pop3",), extra_config='[pop3]\nexpire = "0"\n').start()
    try:
        server.add_user(USER, PASSWORD)
        messages = fill(server, USER, [sample_message(i) for i in range(3)], tmp_path)
        client = login(server, USER, PASSWORD)
        assert capabilities(client)["EXPIRE"] == "EXPIRE 0"
        client.retr(2)
        client.top(3, 0)  # TOP is no retrieval
        assert client.quit().startswith(b"+OK Bye, 1 messages deleted")
        client = login(server, USER, PASSWORD)
        assert [joined(client.retr(n)[1]) for n in (1, 2)] == [messages[0], messages[2]]
        client.quit()
    finally:
        server.stop()


def test_plaintext_login_is_refused_on_a_non_loopback_connection(tmp_path, test_host):
    address = test_host.address
    server = Tern(tmp_path, services=("pop3",), netns=test_host.name)
    server.config_path.write_text(
        server.config_path.read_text().replace("127.0.0.1:0", f"{address}:0"))
    server.start()
    try:
        server.add_user(USER, PASSWORD)
        client = poplib.POP3(address, server.port("pop3"), timeout=10)
        caps = capabilities(client)
        assert "STLS" in caps
        assert "USER" not in caps and "SASL" not in caps
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext authentication.*STLS"):
            client.user(USER)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext"):
            client._shortcmd("AUTH PLAIN " + base64.b64encode(
                b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode())
        # After STLS the same connection may log in.
        context = ssl.create_default_context(cafile=server.cert)
        context.check_hostname = False  # the self-signed certificate names localhost
        client.stls(context)
        assert "USER" in capabilities(client)
        client.user(USER)
        client.pass_(PASSWORD)
        assert client.stat() == (0, 0)
        client.quit()
    finally:
        server.stop()
