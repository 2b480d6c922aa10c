"""Shared helpers for the IMAP end-to-end tests (imported by tests/e2e/test_imap_*.py)."""
import imaplib
import socket

USER = "alice@example.test"
PASSWORD = "alice-pass"

# Login throttling made small enough to reach in a test (the auth tests of every protocol).
THROTTLE = """
[auth]
free_failures = 1
failure_delay_ms = 10
max_failure_delay_ms = 20
account_failure_limit = 3
ip_failure_limit = 6
failure_window_secs = 600
"""


def connect(tern):
    return imaplib.IMAP4("127.0.0.1", tern.port("imap"), timeout=10)


def login(tern, user=USER, password=PASSWORD):
    tern.add_user(user, password)
    imap = connect(tern)
    imap.login(user, password)
    return imap


class Raw:
    """A bare socket client for what imaplib cannot send (bad input, literals, pipelining)."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag):
        """Lines up to and including the tagged response of `tag`."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def login(self, user=USER, password=PASSWORD):
        assert self.command(b"l", f"LOGIN {user} {password}".encode())[-1].startswith(b"l OK")
        return self

    def command(self, tag, text):
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def closed(self):
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, socket.timeout):
            return False
