"""Helpers for the SMTP end-to-end tests: a Tern with SMTP settings fit for tests, reading
mail back from the store byte for byte (`tern mail cat`), and a scriptable SMTP peer."""
import pathlib
import socket
import socketserver
import ssl
import subprocess
import threading
import time

from conftest import Tern

# No DNS checks unless a test brings its own DNS server; a short early-talker window.
TEST_SMTP = """
[smtp]
verify = {verify}
greeting_delay_ms = 200
"""


def start_tern(tmp_path, extra="", services=("smtp", "submission", "submissions"), name="a",
               verify=False, netns=None):
    path = pathlib.Path(tmp_path) / name
    path.mkdir(parents=True, exist_ok=True)
    smtp = TEST_SMTP.format(verify="true" if verify else "false")
    return Tern(path, services=services, extra_config=smtp + extra, netns=netns).start()


def listing(tern, email, folder="INBOX"):
    """[(uid, size, subject)] of a folder."""
    out = tern.cli("mail", "list", email, "--folder", folder).stdout
    rows = []
    for line in out.splitlines():
        uid, size, _flags, subject = line.split("\t", 3)
        rows.append((int(uid), int(size), subject))
    return rows


def message_bytes(tern, email, uid, folder="INBOX"):
    proc = subprocess.run(tern.argv("mail", "cat", email, str(uid), "--folder", folder),
                          capture_output=True, timeout=60, check=True)
    return proc.stdout


def wait_for(predicate, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class RawSmtp:
    """A line-level SMTP client for what smtplib can't do (pipelining, BDAT, bad input)."""

    def __init__(self, host, port, wait_greeting=True):
        self.sock = socket.create_connection((host, port), timeout=20)
        self.file = self.sock.makefile("rb")
        if wait_greeting:
            self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("closed")
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


class PeerHandler(socketserver.StreamRequestHandler):
    """A scripted SMTP server: `server.rcpt_replies` (a list, consumed per RCPT) says what
    RCPT gets; every accepted message is recorded in `server.received`."""

    def write(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        server = self.server
        self.write("220 peer.test ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.write("250-peer.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000")
            elif verb == "HELO":
                self.write("250 peer.test")
            elif verb == "MAIL":
                mail_from, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                self.write("250 2.1.0 ok")
            elif verb == "RCPT":
                with server.lock:
                    reply = server.rcpt_replies.pop(0) if server.rcpt_replies else "250 2.1.5 ok"
                    server.attempts += 1
                if reply.startswith("250"):
                    rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                self.write(reply)
            elif verb == "DATA":
                self.write("354 go ahead")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    data += chunk[1:] if chunk.startswith(b".") else chunk
                with server.lock:
                    server.received.append((mail_from, rcpts, data))
                self.write("250 2.0.0 queued")
            elif verb == "RSET":
                self.write("250 ok")
            elif verb == "QUIT":
                self.write("221 bye")
                return
            else:
                self.write("502 5.5.1 not here")


class Peer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, rcpt_replies=()):
        super().__init__(("127.0.0.1", 0), PeerHandler)
        self.lock = threading.Lock()
        self.rcpt_replies = list(rcpt_replies)
        self.received = []
        self.attempts = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


def tls_context(tern):
    return ssl.create_default_context(cafile=tern.cert)
