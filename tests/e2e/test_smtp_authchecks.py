"""SPF, DKIM and DMARC on the MX, against a DNS server on loopback (dnsmasq) that serves the
test domains' records: a signature made by one Tern's submission is verified by another, and
DMARC reject and quarantine are enforced."""
import pathlib
import re
import shutil
import smtplib
import socket
import subprocess

import pytest

from smtp_support import listing, message_bytes, start_tern, wait_for


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsmasqExited(Exception):
    pass


class Dns:
    """dnsmasq answering for *.test only, from the records given."""

    def __init__(self, tmp_path, txt, mx=()):
        assert shutil.which("dnsmasq"), "dnsmasq (Debian dnsmasq-base) is needed"
        self.log = pathlib.Path(tmp_path) / "dnsmasq.stderr"
        # The free port is picked, then closed, then bound by dnsmasq: another process can take
        # it in between (seen once in a full run). dnsmasq then exits at once; pick again.
        for _attempt in range(5):
            self.port = free_udp_port()
            self.proc = self._spawn(tmp_path, txt, mx)
            try:
                wait_for(self.ready, timeout=10, what="dnsmasq")
                return
            except DnsmasqExited:
                continue
        raise AssertionError(f"dnsmasq did not start: {self.log.read_text(errors='replace')}")

    def _spawn(self, tmp_path, txt, mx):
        args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--local=/test/",
                f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--pid-file=", "--user=root", "--log-queries", f"--log-facility={tmp_path}/dnsmasq.log"]
        for name, strings in txt:
            # No shell: dnsmasq would keep quotes; each comma-separated part is one string.
            assert not any("," in s for s in strings)
            args.append("--txt-record=" + ",".join([name] + list(strings)))
        for name, host in mx:
            args.append(f"--mx-host={name},{host},10")
        with open(self.log, "ab") as log:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def ready(self):
        if self.proc.poll() is not None:
            raise DnsmasqExited()
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x04test\x00\x00\x10\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                return s.recv(512)
            except OSError:
                return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def dkim_record(tern, domain):
    """(name, [strings]) of the DKIM TXT record `tern domain dns` prints."""
    out = tern.cli("domain", "dns", domain).stdout
    line = next(l for l in out.splitlines() if "._domainkey." in l)
    name = line.split()[0].rstrip(".")
    return name, re.findall(r'"([^"]*)"', line)


@pytest.fixture
def world(tmp_path):
    """Tern A (sender, example.test, signs) routes peer.test to Tern B, whose MX checks."""
    dns_dir = tmp_path / "dns"
    dns_dir.mkdir()
    # A's key must exist before the DNS server starts: make A first, without starting mail.
    a = start_tern(tmp_path, name="a")
    a.add_user("u@example.test", "pw-u")
    try:
        dns = Dns(dns_dir, txt=[
            ("example.test", ["v=spf1 ip4:127.0.0.1 -all"]),
            dkim_record(a, "example.test"),
            ("_dmarc.example.test", ["v=DMARC1; p=reject"]),
            ("spoofed.test", ["v=spf1 ip4:192.0.2.99 -all"]),
            ("_dmarc.spoofed.test", ["v=DMARC1; p=reject"]),
            ("shady.test", ["v=spf1 ip4:192.0.2.99 -all"]),
            ("_dmarc.shady.test", ["v=DMARC1; p=quarantine"]),
        ])
    except BaseException:
        a.stop()  # a failed set-up must not leave the server running
        raise
    b = start_tern(tmp_path, name="b", verify=True,
                   extra=f'\n[dns]\nserver = "127.0.0.1:{dns.port}"\n')
    b.add_user("far@peer.test", "pw-far")
    a.stop()
    config = a.config_path.read_text().replace(
        "[listen]", f'[queue.routes]\n"peer.test" = "127.0.0.1:{b.port("smtp")}"\n[listen]')
    a.config_path.write_text(config)
    a.start()
    yield a, b
    a.stop()
    b.stop()
    dns.stop()


def auth_results(stored):
    head = stored.split(b"\r\n\r\n", 1)[0].decode()
    m = re.search(r"Authentication-Results: mail\.test;(.*?)\r\n(?=\S)", head, re.S)
    assert m, head
    return m.group(1)


def send_to_b(b, sender, body):
    with smtplib.SMTP(b.host("smtp"), b.port("smtp"), local_hostname="client.test",
                      timeout=30) as s:
        return s.sendmail(sender, ["far@peer.test"], body)


def test_a_signature_made_by_one_tern_passes_at_the_other(world):
    a, b = world
    body = b"From: U <u@example.test>\r\nTo: far@peer.test\r\nSubject: signed\r\n\r\nhello\r\n"
    with smtplib.SMTP(a.host("submission"), a.port("submission"), timeout=20) as s:
        s.login("u@example.test", "pw-u")
        s.sendmail("u@example.test", ["far@peer.test"], body)
    wait_for(lambda: listing(b, "far@peer.test"), what="delivery from A to B")
    [(uid, _, _)] = listing(b, "far@peer.test")
    results = auth_results(message_bytes(b, "far@peer.test", uid))
    assert "dkim=pass" in results and "header.d=example.test" in results
    assert "spf=pass" in results
    assert "dmarc=pass" in results


def test_a_tampered_signature_fails_dkim(world):
    a, b = world
    body = b"From: U <u@example.test>\r\nTo: far@peer.test\r\nSubject: signed\r\n\r\noriginal\r\n"
    with smtplib.SMTP(a.host("submission"), a.port("submission"), timeout=20) as s:
        s.login("u@example.test", "pw-u")
        s.sendmail("u@example.test", ["far@peer.test"], body)
    wait_for(lambda: listing(b, "far@peer.test"), what="delivery from A to B")
    [(uid, _, _)] = listing(b, "far@peer.test")
    stored = message_bytes(b, "far@peer.test", uid)
    signed = stored[stored.index(b"DKIM-Signature:"):]
    # A signed header changed: the signature itself fails.
    send_to_b(b, "u@example.test", signed.replace(b"Subject: signed", b"Subject: changed"))
    uid2 = max(r[0] for r in listing(b, "far@peer.test"))
    results = auth_results(message_bytes(b, "far@peer.test", uid2))
    assert "dkim=fail" in results
    # The body changed: the body hash no longer matches (mail-auth says neutral).
    send_to_b(b, "u@example.test", signed.replace(b"original", b"tampered"))
    uid3 = max(r[0] for r in listing(b, "far@peer.test"))
    results = auth_results(message_bytes(b, "far@peer.test", uid3))
    assert "dkim=neutral (body hash did not verify)" in results
    # SPF still passes (sent from 127.0.0.1), so DMARC passes through SPF alignment.
    assert "spf=pass" in results and "dmarc=pass" in results


def test_spf_fail_with_dmarc_reject_is_refused(world):
    _, b = world
    body = b"From: boss@spoofed.test\r\nTo: far@peer.test\r\nSubject: wire money\r\n\r\nnow\r\n"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_to_b(b, "boss@spoofed.test", body)
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1")
    assert listing(b, "far@peer.test") == []


def test_dmarc_quarantine_goes_to_junk_with_spf_fail_recorded(world):
    _, b = world
    body = b"From: x@shady.test\r\nTo: far@peer.test\r\nSubject: maybe\r\n\r\nhm\r\n"
    send_to_b(b, "x@shady.test", body)
    assert listing(b, "far@peer.test") == []
    [(uid, _, subject)] = listing(b, "far@peer.test", folder="Junk")
    assert subject == "maybe"
    results = auth_results(message_bytes(b, "far@peer.test", uid, folder="Junk"))
    assert "spf=fail" in results and "dmarc=fail" in results
    assert "policy.dmarc=quarantine" in results
