"""Postfix from Debian as a real peer, on loopback ports: Tern's queue delivers to Postfix
through a route, and Postfix relays into another Tern's MX."""
import os
import pathlib
import smtplib
import shutil
import socket
import subprocess
import tempfile

from smtp_support import listing, message_bytes, start_tern, wait_for

MASTER_CF = """{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    """A private Postfix relaying `domain` to `target` (host:port)."""

    def __init__(self, domain, target):
        assert shutil.which("postfix"), "postfix (Debian package) is needed"
        assert os.geteuid() == 0, "Postfix's master must start as root"
        # Postfix's daemons run as `postfix`: pytest's private tmp_path is not theirs to enter.
        root = pathlib.Path(tempfile.mkdtemp(prefix="tern-postfix-"))
        root.chmod(0o755)
        self.root = root
        self.cf = root / "etc"
        self.port = free_port()
        for d in ("etc", "queue", "data", "log"):
            (root / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(root / "data", "postfix", "postfix")
        (self.cf / "transport").write_text(f"{domain} smtp:[{target[0]}]:{target[1]}\n")
        (self.cf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test
mydomain = test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = {domain}
transport_maps = texthash:{self.cf}/transport
default_transport = error:only {domain} is relayed in this test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = may
smtpd_tls_security_level = none
biff = no
maillog_file = {root}/log/postfix.log
maillog_file_prefixes = /var, /dev/stdout, {root}/log
""")
        (self.cf / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        for d in (self.cf, root / "queue"):
            shutil.chown(d, "root", "root")
        self.postfix("check")
        self.postfix("start")
        wait_for(self.listening, timeout=30, what="postfix to listen")

    def postfix(self, *args):
        proc = subprocess.run(["postfix", "-c", str(self.cf), *args], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"postfix {args}: {proc.stdout}{proc.stderr}{self.log()}"

    def listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log(self):
        path = self.root / "log" / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        subprocess.run(["postfix", "-c", str(self.cf), "stop"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


def test_tern_queue_to_postfix_and_postfix_into_tern(tmp_path):
    b = start_tern(tmp_path, name="b")
    b.add_user("far@peer.test", "pw-far")
    postfix = Postfix("peer.test", ("127.0.0.1", b.port("smtp")))
    a = start_tern(tmp_path, name="a",
                   extra=f'\n[queue.routes]\n"peer.test" = "127.0.0.1:{postfix.port}"\n')
    a.add_user("u@example.test", "pw-u")
    body = (b"From: U <u@example.test>\r\nTo: far@peer.test\r\nSubject: via postfix\r\n\r\n"
            b".dotted line\r\nend\r\n")
    try:
        with smtplib.SMTP(a.host("submission"), a.port("submission"), timeout=20) as s:
            s.login("u@example.test", "pw-u")
            s.sendmail("u@example.test", ["far@peer.test"], body)
        wait_for(lambda: listing(b, "far@peer.test"), timeout=60,
                 what=f"delivery through postfix; its log:\n{postfix.log()}")
        [(uid, _, subject)] = listing(b, "far@peer.test")
        assert subject == "via postfix"
        stored = message_bytes(b, "far@peer.test", uid)
        assert stored.startswith(b"Return-Path: <u@example.test>\r\nReceived: from postfix.test")
        # Postfix's own Received (it got the message from Tern A, which said EHLO mail.test).
        assert b"Received: from mail.test" in stored and b"by postfix.test (Postfix)" in stored
        assert b"DKIM-Signature: v=1; a=rsa-sha256;" in stored
        assert stored.endswith(body)
        wait_for(lambda: "0 message(s) queued" in a.cli("queue", "list").stdout,
                 what="A's queue to empty")
        assert "status=sent" in postfix.log()
    finally:
        a.stop()
        postfix.stop()
        b.stop()
