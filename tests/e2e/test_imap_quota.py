"""IMAP QUOTA (RFC 9208): account and domain quotas through GETQUOTAROOT / GETQUOTA, and
[OVERQUOTA] when an APPEND does not fit; APPENDLIMIT and TOOBIG."""
import imaplib

from imap_helpers import PASSWORD, USER, connect


def test_account_and_domain_quota_roots(tern):
    tern.add_user(USER, PASSWORD, quota="10K")
    tern.cli("domain", "quota", "example.test", "1M")
    imap = connect(tern)
    imap.login(USER, PASSWORD)
    imap.append("INBOX", None, None, b"Subject: x\r\n\r\n" + b"y" * 3000 + b"\r\n")
    typ, data = imap.getquotaroot("INBOX")
    assert typ == "OK"
    assert data[0] == [b'INBOX "Account" "Domain"']
    assert data[1] == [b'"Account" (STORAGE 3 10)', b'"Domain" (STORAGE 3 1024)']
    typ, data = imap.getquota('"Domain"')
    assert data == [b'"Domain" (STORAGE 3 1024)']
    typ, data = imap.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"z" * 9000 + b"\r\n")
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    assert imap.setquota('"Account"', "(STORAGE 100)")[0] == "NO"


def test_no_quota_no_roots(tern):
    tern.add_user(USER, PASSWORD)
    imap = connect(tern)
    imap.login(USER, PASSWORD)
    typ, data = imap.getquotaroot("INBOX")
    assert typ == "OK" and data[0] == [b"INBOX"]


def test_appendlimit_is_advertised_and_enforced(tmp_path):
    from conftest import Tern
    server = Tern(tmp_path, services=("imap",),
                  extra_config='[limits]\nmax_message_size = "4K"\n').start()
    try:
        server.add_user(USER, PASSWORD)
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=10)
        imap.login(USER, PASSWORD)
        caps = imap.capability()[1][0].decode().split()
        assert "APPENDLIMIT=4096" in caps
        typ, data = imap.append("INBOX", None, None, b"Subject: x\r\n\r\n" + b"a" * 5000)
        assert typ == "NO" and b"TOOBIG" in data[0]
        assert imap.append("INBOX", None, None, b"Subject: x\r\n\r\nsmall\r\n")[0] == "OK"
    finally:
        server.stop()
