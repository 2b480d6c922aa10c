"""The outbound queue: routes, retries after a 4xx, exactly one DSN after a 5xx, nothing lost
across a restart, and two Tern instances delivering to each other."""
import smtplib
import time


from smtp_support import Peer, listing, message_bytes, start_tern, wait_for

BODY = (b"From: U <u@example.test>\r\nTo: far@peer.test\r\nSubject: outbound\r\n\r\n"
        b".a line with a leading dot\r\n"
        b"to the world\r\n")


def routed(tmp_path, port, extra=""):
    tern = start_tern(
        tmp_path,
        f'\n[queue]\nretry_intervals_secs = [1]\n{extra}\n[queue.routes]\n"peer.test" = "127.0.0.1:{port}"\n')
    tern.add_user("u@example.test", "pw-u")
    return tern


def submit(tern, recipients, body=BODY):
    with smtplib.SMTP(tern.host("submission"), tern.port("submission"), timeout=20) as s:
        s.login("u@example.test", "pw-u")
        s.sendmail("u@example.test", recipients, body)


def queue_size(tern):
    last = tern.cli("queue", "list").stdout.strip().splitlines()[-1]
    return int(last.split()[0])


def bounces(tern):
    return [r for r in listing(tern, "u@example.test")
            if r[2] == "Undelivered Mail Returned to Sender"]


def test_a_temporary_failure_is_retried_then_delivered(tmp_path):
    peer = Peer(rcpt_replies=["451 4.3.0 try later"])
    tern = routed(tmp_path, peer.port)
    try:
        submit(tern, ["far@peer.test"])
        wait_for(lambda: peer.received, what="the retried delivery")
        [(sender, rcpts, data)] = peer.received
        assert sender == "u@example.test" and rcpts == ["far@peer.test"]
        assert data.endswith(BODY)
        assert b"DKIM-Signature:" in data
        assert peer.attempts == 2
        wait_for(lambda: queue_size(tern) == 0, what="the queue to empty")
        assert bounces(tern) == []
    finally:
        tern.stop()
        peer.stop()


def test_a_permanent_failure_gives_exactly_one_dsn(tmp_path):
    peer = Peer(rcpt_replies=["550 5.1.1 no such user here", "250 2.1.5 ok"])
    tern = routed(tmp_path, peer.port)
    try:
        submit(tern, ["gone@peer.test", "there@peer.test"])
        wait_for(lambda: bounces(tern), what="the bounce")
        wait_for(lambda: queue_size(tern) == 0, what="the queue to empty")
        time.sleep(2)  # a second bounce would have had time to arrive
        [(uid, _, _)] = bounces(tern)
        dsn = message_bytes(tern, "u@example.test", uid)
        assert b"multipart/report" in dsn and b"delivery-status" in dsn
        assert b"Final-Recipient: rfc822; gone@peer.test" in dsn
        assert b"Status: 5.1.1" in dsn
        assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user here" in dsn
        assert b"Subject: outbound" in dsn  # the original headers
        assert b"there@peer.test" not in dsn.split(b"message/delivery-status", 1)[1]
        [(_, rcpts, _)] = peer.received
        assert rcpts == ["there@peer.test"]
    finally:
        tern.stop()
        peer.stop()


def test_a_bounce_that_fails_gets_no_bounce(tmp_path):
    # A remote sender's message forwarded by an alias fails; its bounce goes to a peer that
    # refuses it too: the queue drops it without bouncing the bounce.
    peer = Peer(rcpt_replies=["550 5.1.1 forward target gone", "550 5.1.1 sender gone too"])
    tern = routed(tmp_path, peer.port)
    tern.cli("alias", "add", "fwd@example.test", "target@peer.test")
    try:
        with smtplib.SMTP(tern.host("smtp"), tern.port("smtp"), timeout=20) as s:
            s.sendmail("someone@peer.test", ["fwd@example.test"],
                       b"From: someone@peer.test\r\nSubject: fwd\r\n\r\nx\r\n")
        wait_for(lambda: peer.attempts >= 2, what="the bounce attempt")
        wait_for(lambda: queue_size(tern) == 0, what="the queue to empty")
        time.sleep(2)
        assert peer.attempts == 2
        assert peer.received == []
    finally:
        tern.stop()
        peer.stop()


def test_a_restart_loses_nothing_queued(tmp_path):
    peer = Peer()
    port = peer.port
    peer.stop()  # nobody listens: the message waits
    tern = routed(tmp_path, port)
    try:
        submit(tern, ["far@peer.test"])
        assert queue_size(tern) == 1
        tern.stop()
        peer = Peer.__new__(Peer)
        Peer.__init__(peer)  # a fresh peer, on another port
        with open(tern.config_path) as f:
            config = f.read().replace(f"127.0.0.1:{port}", f"127.0.0.1:{peer.port}")
        with open(tern.config_path, "w") as f:
            f.write(config)
        tern.start()
        queue_id = tern.cli("queue", "list").stdout.split("\t", 1)[0]
        tern.cli("queue", "retry", queue_id)
        wait_for(lambda: peer.received, what="delivery after the restart")
        assert peer.received[0][2].endswith(BODY)
        wait_for(lambda: queue_size(tern) == 0, what="the queue to empty")
    finally:
        tern.stop()
        peer.stop()


def test_queue_remove_drops_a_message(tmp_path):
    tern = routed(tmp_path, 9)
    try:
        submit(tern, ["far@peer.test"])
        queue_id = tern.cli("queue", "list").stdout.split("\t", 1)[0]
        assert "removed" in tern.cli("queue", "remove", queue_id).stdout
        assert queue_size(tern) == 0
        assert tern.cli("queue", "show", queue_id, check=False).returncode != 0
    finally:
        tern.stop()


def test_two_tern_instances_deliver_to_each_other(tmp_path):
    b = start_tern(tmp_path, name="b")
    b.add_user("far@peer.test", "pw-far")
    a = routed(tmp_path, b.port("smtp"))
    try:
        submit(a, ["far@peer.test"])
        wait_for(lambda: listing(b, "far@peer.test"), what="delivery to the other Tern")
        [(uid, _, subject)] = listing(b, "far@peer.test")
        assert subject == "outbound"
        stored = message_bytes(b, "far@peer.test", uid)
        # B's trace headers on top of A's: the hop went through A's queue over STARTTLS.
        assert stored.startswith(b"Return-Path: <u@example.test>\r\nReceived: from mail.test")
        assert b"with ESMTPS id" in stored
        assert b"DKIM-Signature: v=1; a=rsa-sha256;" in stored
        assert stored.endswith(BODY)
        wait_for(lambda: queue_size(a) == 0, what="A's queue to empty")
    finally:
        a.stop()
        b.stop()


def test_notify_never_means_no_dsn(tmp_path):
    peer = Peer(rcpt_replies=["550 5.1.1 no such user here"])
    tern = routed(tmp_path, peer.port)
    try:
        with smtplib.SMTP(tern.host("submission"), tern.port("submission"), timeout=20) as s:
            s.login("u@example.test", "pw-u")
            s.sendmail("u@example.test", ["gone@peer.test"], BODY, rcpt_options=["NOTIFY=NEVER"])
        wait_for(lambda: peer.attempts >= 1, what="the attempt")
        wait_for(lambda: queue_size(tern) == 0, what="the queue to empty")
        time.sleep(1)
        assert bounces(tern) == []
    finally:
        tern.stop()
        peer.stop()
