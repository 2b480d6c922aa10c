#!/usr/bin/env python3
"""Checks that the private reference servers started by bench/reference.sh really work,
the way a client sees them:

- IMAP (Dovecot, 3143): log in as user1@bench.test, select INBOX, read a message header;
  with --expect-min N, INBOX holds at least N messages (e.g. after bench/import.sh); with
  --stats FILE (genmail.py's counts for the imported mbox), SEARCH TEXT for each marker
  word finds exactly that many messages;
- POP3 (Dovecot, 3110): log in, STAT agrees with IMAP's message count;
- SMTP (Postfix, 3025): a message to user1 is accepted, delivered over LMTP into Dovecot,
  and shows up over IMAP; an unknown local user and a foreign domain are refused at RCPT.

    bench/users.sh 1 && python3 bench/check-reference.py [--expect-min N]

Exits non-zero if any check fails; the last line is "N passed, N failed".
"""

from __future__ import annotations

import argparse
import imaplib
import json
import poplib
import smtplib
import sys
import time
import uuid
from email.message import EmailMessage


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def record(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok   - {what}" + (f" ({detail})" if detail else ""))
        else:
            self.failed += 1
            print(f"FAIL - {what}" + (f": {detail}" if detail else ""))
        return ok


def imap_login(args: argparse.Namespace) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(args.host, args.imap_port, timeout=args.timeout)
    imap.login(args.user, args.password)
    return imap


def check_imap(args: argparse.Namespace, checks: Checks) -> int | None:
    try:
        imap = imap_login(args)
    except (OSError, imaplib.IMAP4.error) as err:
        checks.record(False, f"IMAP login on {args.host}:{args.imap_port}", str(err))
        return None
    checks.record(True, f"IMAP login as {args.user}")
    try:
        typ, data = imap.select("INBOX", readonly=True)
        exists = int(data[0]) if typ == "OK" else -1
        checks.record(typ == "OK", "IMAP SELECT INBOX", f"{exists} messages")
        if args.expect_min:
            checks.record(exists >= args.expect_min, f"INBOX holds at least {args.expect_min} messages",
                          f"{exists} messages")
        if args.stats:
            check_marker_search(imap, args.stats, checks)
        if exists > 0:
            typ, data = imap.fetch(str(exists), "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            ok = typ == "OK" and isinstance(data[0], tuple) and data[0][1].lower().startswith(b"subject:")
            checks.record(ok, "IMAP FETCH of the newest message's Subject")
        imap.logout()
        return exists
    except (OSError, imaplib.IMAP4.error, ValueError) as err:
        checks.record(False, "IMAP session", str(err))
        return None


def check_marker_search(imap: imaplib.IMAP4, stats_path: str, checks: Checks) -> None:
    """SEARCH TEXT for genmail.py's marker words finds exactly the messages that carry them."""
    with open(stats_path, encoding="utf-8") as fh:
        stats = json.load(fh)
    for word, expected in stats["markers"].items():
        typ, data = imap.uid("SEARCH", "TEXT", word)
        found = len(data[0].split()) if typ == "OK" else -1
        checks.record(found == expected, f'IMAP SEARCH TEXT "{word}"', f"{found} hits, expected {expected}")


def check_pop3(args: argparse.Namespace, checks: Checks, imap_count: int | None) -> None:
    try:
        pop = poplib.POP3(args.host, args.pop3_port, timeout=args.timeout)
        pop.user(args.user)
        pop.pass_(args.password)
        count, size = pop.stat()
        pop.quit()
    except (OSError, poplib.error_proto) as err:
        checks.record(False, f"POP3 login on {args.host}:{args.pop3_port}", str(err))
        return
    checks.record(True, f"POP3 login as {args.user}", f"STAT {count} messages, {size} octets")
    if imap_count is not None:
        checks.record(count == imap_count, "POP3 and IMAP see the same number of messages",
                      f"POP3 {count}, IMAP {imap_count}")


def check_smtp_delivery(args: argparse.Namespace, checks: Checks) -> None:
    msg_id = f"<check-{uuid.uuid4().hex}@bench.test>"
    msg = EmailMessage()
    msg["From"] = "Checker <checker@example.org>"
    msg["To"] = args.user
    msg["Subject"] = "reference check Grüße"
    msg["Message-ID"] = msg_id
    msg.set_content("Delivered by Postfix over LMTP into Dovecot.\n")
    try:
        with smtplib.SMTP(args.host, args.smtp_port, timeout=args.timeout) as smtp:
            refused = smtp.send_message(msg, from_addr="checker@example.org", to_addrs=[args.user])
        checks.record(not refused, f"SMTP accepts mail for {args.user}")
    except (OSError, smtplib.SMTPException) as err:
        checks.record(False, f"SMTP delivery on {args.host}:{args.smtp_port}", str(err))
        return

    # Delivery is asynchronous (queue manager -> lmtp client -> Dovecot LMTP): poll IMAP.
    deadline = time.monotonic() + args.timeout
    found = False
    try:
        imap = imap_login(args)
        while not found and time.monotonic() < deadline:
            imap.select("INBOX", readonly=True)
            typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", msg_id)
            found = typ == "OK" and bool(data[0].split())
            if not found:
                time.sleep(0.2)
        imap.logout()
    except (OSError, imaplib.IMAP4.error) as err:
        checks.record(False, "IMAP search for the delivered message", str(err))
        return
    checks.record(found, "SMTP -> LMTP -> IMAP: the message is in INBOX", msg_id)


def check_smtp_refusals(args: argparse.Namespace, checks: Checks) -> None:
    domain = args.user.rsplit("@", 1)[1]
    for rcpt, why in ((f"nobody-{uuid.uuid4().hex[:8]}@{domain}", "unknown user"),
                      ("someone@example.net", "foreign domain (no relaying)")):
        try:
            with smtplib.SMTP(args.host, args.smtp_port, timeout=args.timeout) as smtp:
                smtp.ehlo()
                smtp.mail("checker@example.org")
                code, reply = smtp.rcpt(rcpt)
            checks.record(500 <= code < 600, f"SMTP refuses RCPT: {why}",
                          f"{code} {reply.decode(errors='replace')}")
        except (OSError, smtplib.SMTPException) as err:
            checks.record(False, f"SMTP RCPT: {why}", str(err))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--imap-port", type=int, default=3143)
    parser.add_argument("--pop3-port", type=int, default=3110)
    parser.add_argument("--smtp-port", type=int, default=3025)
    parser.add_argument("--user", default="user1@bench.test")
    parser.add_argument("--password", default="benchpass")
    parser.add_argument("--expect-min", type=int, default=0, help="INBOX must hold at least this many")
    parser.add_argument("--stats", help="genmail.py --stats JSON of the imported mbox: check SEARCH TEXT")
    parser.add_argument("--no-smtp", action="store_true", help="skip the SMTP checks (Dovecot only)")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)

    checks = Checks()
    count = check_imap(args, checks)
    check_pop3(args, checks, count)
    if not args.no_smtp:
        check_smtp_delivery(args, checks)
        check_smtp_refusals(args, checks)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
