"""Submission (`submission` with STARTTLS, `submissions` with implicit TLS): AUTH only over
TLS, the sender must be the account's, headers completed, DKIM-signed, local recipients
delivered at once and remote ones queued."""
import base64
import json
import smtplib
import socket

import pytest

from smtp_support import RawSmtp, listing, message_bytes, start_tern, tls_context

BODY = b"From: U <u@example.test>\r\nTo: v@example.test\r\nSubject: from u\r\n\r\nhi v\r\n"


@pytest.fixture
def sub(tmp_path):
    tern = start_tern(tmp_path)
    tern.add_user("u@example.test", "pw-u")
    tern.add_user("v@example.test", "pw-v")
    yield tern
    tern.stop()


def connect(tern):
    return smtplib.SMTP(tern.host("submission"), tern.port("submission"),
                        local_hostname="laptop.test", timeout=20)


def test_mail_without_auth_is_refused_with_530(sub):
    with connect(sub) as s:
        s.ehlo()
        code, text = s.mail("u@example.test")
        assert (code, text[:5]) == (530, b"5.7.0")


def test_auth_is_offered_and_accepted_only_after_starttls_on_a_remote_connection(tmp_path,
                                                                                 test_host):
    address = test_host.address
    tern = start_tern(tmp_path, services=(), netns=test_host.name)
    tern.stop()
    with open(tern.config_path, "a") as f:
        f.write(f'submission = "{address}:0"\n')
    tern.start()
    tern.add_user("u@example.test", "pw-u")
    try:
        port = int(json.loads((tern.data_dir / "listening.json").read_text())["submission"]
                   .rsplit(":", 1)[1])
        c = RawSmtp(address, port)
        code, lines = c.cmd("EHLO laptop.test")
        assert not any("AUTH" in l for l in lines)
        plain = base64.b64encode(b"\0u@example.test\0pw-u").decode()
        code, lines = c.cmd(f"AUTH PLAIN {plain}")
        assert (code, lines[0][4:10]) == (538, "5.7.11")
        c.close()
        with smtplib.SMTP(address, port, local_hostname="laptop.test", timeout=20) as s:
            context = tls_context(tern)
            context.check_hostname = False  # the certificate names loopback, not this address
            s.starttls(context=context)
            _, caps = s.ehlo()
            assert b"AUTH PLAIN LOGIN" in caps
            with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
                s.login("u@example.test", "wrong")
            assert bad.value.smtp_code == 535
            assert s.login("u@example.test", "pw-u")[0] == 235
            s.sendmail("u@example.test", ["u@example.test"], BODY.replace(b"v@", b"u@"))
        [(uid, _, _)] = listing(tern, "u@example.test")
        assert b"with ESMTPSA id" in message_bytes(tern, "u@example.test", uid)
    finally:
        tern.stop()


def test_auth_login_and_plain_on_loopback(sub):
    with connect(sub) as s:
        s.ehlo()
        s.user, s.password = "u@example.test", "pw-u"
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
    with connect(sub) as s:
        assert s.login("v@example.test", "pw-v")[0] == 235


def test_a_foreign_envelope_sender_or_from_header_is_refused_with_553(sub):
    with connect(sub) as s:
        s.login("u@example.test", "pw-u")
        code, text = s.mail("v@example.test")
        assert (code, text[:5]) == (553, b"5.7.1")
        s.rset()
        s.mail("u@example.test")
        s.rcpt("v@example.test")
        spoofed = BODY.replace(b"From: U <u@example.test>", b"From: Boss <ceo@example.test>")
        code, text = s.data(spoofed)
        assert (code, text[:5]) == (553, b"5.7.1")
    assert listing(sub, "v@example.test") == []


def test_an_alias_of_the_account_may_be_the_sender(sub):
    sub.cli("alias", "add", "sales@example.test", "u@example.test")
    with connect(sub) as s:
        s.login("u@example.test", "pw-u")
        as_alias = BODY.replace(b"From: U <u@example.test>", b"From: Sales <sales@example.test>")
        s.sendmail("sales@example.test", ["v@example.test"], as_alias)
    assert [r[2] for r in listing(sub, "v@example.test")] == ["from u"]


def test_local_delivery_is_immediate_with_date_message_id_and_dkim(sub):
    with connect(sub) as s:
        s.login("u@example.test", "pw-u")
        s.sendmail("u@example.test", ["v@example.test"], BODY)
    [(uid, _, subject)] = listing(sub, "v@example.test")
    assert subject == "from u"
    stored = message_bytes(sub, "v@example.test", uid)
    head = stored.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nDate: " in head and b"\r\nMessage-ID: <" in head
    assert b"DKIM-Signature: v=1; a=rsa-sha256;" in head
    assert b"d=example.test" in head
    assert stored.endswith(BODY)


def test_submissions_is_implicit_tls(sub):
    with smtplib.SMTP_SSL(sub.host("submissions"), sub.port("submissions"),
                          context=tls_context(sub), local_hostname="laptop.test") as s:
        _, caps = s.ehlo()
        assert b"AUTH PLAIN LOGIN" in caps and b"STARTTLS" not in caps
        s.login("u@example.test", "pw-u")
        s.sendmail("u@example.test", ["v@example.test"], BODY)
    assert len(listing(sub, "v@example.test")) == 1


def test_unknown_local_recipient_is_refused_and_remote_ones_are_queued(tmp_path):
    # remote.test is routed to a port where nobody listens: the message waits in the queue.
    sub = start_tern(tmp_path, '\n[queue.routes]\n"remote.test" = "127.0.0.1:9"\n')
    sub.add_user("u@example.test", "pw-u")
    sub.add_user("v@example.test", "pw-v")
    with connect(sub) as s:
        s.login("u@example.test", "pw-u")
        s.mail("u@example.test")
        code, text = s.rcpt("nobody@example.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        assert s.rcpt("friend@remote.test")[0] == 250
        assert s.rcpt("v@example.test")[0] == 250
        assert s.data(BODY)[0] == 250
    assert len(listing(sub, "v@example.test")) == 1
    queue = sub.cli("queue", "list").stdout
    assert "1 message(s) queued" in queue
    queue_id = queue.split("\t", 1)[0]
    shown = sub.cli("queue", "show", queue_id).stdout
    assert "to: friend@remote.test\tpending" in shown
    assert "from: u@example.test" in shown
    sub.stop()
