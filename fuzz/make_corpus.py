#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: real client commands and transcripts, as
Thunderbird, mbsync, curl, Python's imaplib/smtplib, swaks and Postfix send them.

    python3 fuzz/make_corpus.py    # rewrites fuzz/corpus/{imap_command,imap_session,smtp_reader}

The account is u@example.test with password pw (what the session targets create).
smtp_session uses the smtp_reader corpus (the same transcripts).
"""

import base64
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
USER, PASSWORD = "u@example.test", "pw"
PLAIN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()

MULTIPART = (
    "From: Alice <alice@example.org>\r\n"
    "To: u@example.test\r\n"
    "Cc: Bob <bob@example.net>\r\n"
    "Subject: =?UTF-8?B?UsOpc3Vtw6kgcmVwb3J0?=\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <report.1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n'
    "\r\n"
    "--b1\r\n"
    'Content-Type: multipart/alternative; boundary="b2"\r\n'
    "\r\n"
    "--b2\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hello w=C3=B6rld, the quarterly report is attached.\r\n"
    "--b2\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Hello w&ouml;rld</p>\r\n"
    "--b2--\r\n"
    "--b1\r\n"
    'Content-Type: application/pdf; name="report.pdf"\r\n'
    'Content-Disposition: attachment; filename="report.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJeLjz9MK\r\n"
    "--b1--\r\n"
)
SIMPLE = (
    "From: bob@example.net\r\n"
    "To: u@example.test\r\n"
    "Subject: lunch\r\n"
    "Date: Tue, 2 Jan 2024 12:30:00 +0100\r\n"
    "Message-ID: <lunch.2@example.net>\r\n"
    "In-Reply-To: <report.1@example.org>\r\n"
    "\r\n"
    "Noon at the usual place?\r\n"
)
DRAFT = "From: u@example.test\r\nTo: carol@example.org\r\nSubject: draft\r\n\r\nunfinished\r\n"


def lit(text, plus=False):
    """An IMAP literal announcement and its bytes (synchronizing, or LITERAL+)."""
    data = text.encode()
    return f"{{{len(data)}{'+' if plus else ''}}}\r\n".encode() + data


def b(s):
    return s.encode() if isinstance(s, str) else s


def lines(*parts):
    """Joins commands, adding CRLF after each that is text (bytes are taken as they are)."""
    out = b""
    for p in parts:
        out += (p + "\r\n").encode() if isinstance(p, str) else p
    return out


# --- IMAP: single commands, as clients send them -------------------------------------------
IMAP_COMMANDS = {
    "capability": "a001 CAPABILITY",
    "noop": "a002 NOOP",
    "logout": "a003 LOGOUT",
    "starttls": "a004 STARTTLS",
    "login": f"a LOGIN {USER} {PASSWORD}",
    "login-quoted": f'a LOGIN "{USER}" "{PASSWORD}"',
    "login-literal": b"a LOGIN {14}\r\n" + USER.encode() + b" {2}\r\npw\r\n",
    "authenticate-plain-ir": f"a AUTHENTICATE PLAIN {PLAIN}",
    "authenticate-plain": f"a AUTHENTICATE PLAIN\r\n{PLAIN}",
    "authenticate-login": "a AUTHENTICATE LOGIN\r\n"
    + base64.b64encode(USER.encode()).decode()
    + "\r\n"
    + base64.b64encode(PASSWORD.encode()).decode(),
    "authenticate-cancel": "a AUTHENTICATE PLAIN\r\n*",
    "enable": "a ENABLE IMAP4rev2 CONDSTORE QRESYNC UTF8=ACCEPT",
    "id": 'a ID ("name" "Thunderbird" "version" "128.5.0" "os" "Linux")',
    "id-nil": "a ID NIL",
    "namespace": "a NAMESPACE",
    "list": 'a LIST "" "*"',
    "list-percent": 'a LIST "" "INBOX/%"',
    "list-extended": 'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" "Archive/%") '
    "RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))",
    "list-special-use": 'a LIST (SPECIAL-USE) "" "*"',
    "lsub": 'a LSUB "" "*"',
    "status": "a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)",
    "select": "a SELECT INBOX",
    "select-condstore": 'a SELECT "INBOX" (CONDSTORE)',
    "select-qresync": "a SELECT INBOX (QRESYNC (1700000000 12 1:20 (1,5,9 3,11,17)))",
    "examine": 'a EXAMINE "Sent"',
    "create": 'a CREATE "Archive/2024"',
    "create-special-use": "a CREATE Receipts (USE (\\Archive))",
    "create-utf7": 'a CREATE "&ZeVnLIqe-/R&AOk-sum&AOk-"',
    "create-utf8": 'a CREATE "Résumé/日本語"',
    "rename": 'a RENAME "Archive/2024" "Archive/Old"',
    "rename-inbox": "a RENAME INBOX Saved",
    "delete": 'a DELETE "Archive/Old"',
    "subscribe": "a SUBSCRIBE Archive",
    "unsubscribe": "a UNSUBSCRIBE Archive",
    "fetch-flags": "a FETCH 1:* (FLAGS)",
    "fetch-fast": "a FETCH 1:* FAST",
    "fetch-all-macro": "a FETCH 1 ALL",
    "fetch-full": "a FETCH 1:2 FULL",
    "uid-fetch-thunderbird": "a UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS "
    "(From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
    "In-Reply-To Content-Type Reply-To)])",
    "uid-fetch-body": "a UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[])",
    "fetch-sections": "a FETCH 1 (BODY[1.1] BODY.PEEK[1.2.MIME] BODY[1.TEXT]<0.2048> BODY[2]<10.5>)",
    "fetch-header-not": "a FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)])",
    "fetch-binary": "a FETCH 1 (BINARY.PEEK[1.1] BINARY[2]<0.100> BINARY.SIZE[1.1])",
    "fetch-structure": "a FETCH 1:3 (ENVELOPE BODYSTRUCTURE BODY INTERNALDATE)",
    "fetch-rfc822": "a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT)",
    "fetch-modseq": "a FETCH 1:* (MODSEQ SAVEDATE) (CHANGEDSINCE 1)",
    "uid-fetch-vanished": "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3 VANISHED)",
    "search-unseen": "a SEARCH UNSEEN",
    "search-nested": 'a UID SEARCH CHARSET UTF-8 OR (FROM "alice" SUBJECT "report") '
    "(NOT (OR SEEN FLAGGED)) SINCE 1-Jan-2024 BEFORE 31-Dec-2024",
    "search-literal": b"a SEARCH CHARSET UTF-8 BODY {8}\r\nr\xc3\xa9sum\xc3\xa9\r\n",
    "search-esearch": "a UID SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED",
    "search-save": "a SEARCH RETURN (SAVE) FLAGGED",
    "fetch-saved": "a FETCH $ (FLAGS UID)",
    "search-header": 'a SEARCH HEADER Message-ID "<report.1@example.org>"',
    "search-size": "a SEARCH LARGER 100 SMALLER 100000 NOT DELETED",
    "search-sets": "a SEARCH 1:5,7,9:* UID 1:100",
    "search-within": "a SEARCH YOUNGER 3600 OLDER 10",
    "search-modseq": 'a SEARCH MODSEQ "/flags/\\\\draft" all 5',
    "search-keyword": "a SEARCH KEYWORD $Junk UNKEYWORD $NotJunk",
    "search-dates": "a SEARCH SENTSINCE 1-Feb-2020 SENTON 2-Feb-2020 ON 3-Mar-2021 SENTBEFORE 4-Apr-2030",
    "search-text": 'a SEARCH TEXT "hello world" TO u@example.test CC bob BCC x',
    "search-flags": "a SEARCH NEW OLD RECENT ANSWERED DRAFT UNANSWERED UNDRAFT",
    "store-add": "a STORE 1 +FLAGS (\\Seen)",
    "store-silent": "a UID STORE 1:5 -FLAGS.SILENT (\\Flagged)",
    "store-replace": "a STORE 1:* FLAGS ($Forwarded \\Answered $Label1)",
    "store-unchangedsince": "a UID STORE 3 (UNCHANGEDSINCE 12) +FLAGS (\\Deleted)",
    "uid-copy": "a UID COPY 1:3 Archive",
    "uid-move": "a UID MOVE 4 Trash",
    "move": "a MOVE 1 Junk",
    "copy-missing": 'a COPY 2 "Nonexistent"',
    "append": b'a APPEND INBOX (\\Seen) "01-Jan-2024 10:00:00 +0000" ' + lit(MULTIPART) + b"\r\n",
    "append-literal-plus": b"a APPEND Sent (\\Seen) " + lit(SIMPLE, plus=True) + b"\r\n",
    "multiappend": b"a APPEND Drafts (\\Draft) "
    + lit(DRAFT)
    + b" (\\Seen) "
    + lit(SIMPLE)
    + b"\r\n",
    "append-binary": b"a APPEND INBOX ~{12}\r\nSubject: \x00\xff\r\n\r\n\r\n",
    "idle": "a IDLE\r\nDONE",
    "check": "a CHECK",
    "close": "a CLOSE",
    "unselect": "a UNSELECT",
    "expunge": "a EXPUNGE",
    "uid-expunge": "a UID EXPUNGE 1:3",
    "getquotaroot": "a GETQUOTAROOT INBOX",
    "getquota": 'a GETQUOTA ""',
    "huge-literal": "a APPEND INBOX {4294967295}",
    "huge-nonsync-literal": "a APPEND INBOX {99999999+}",
    "bad-command": "a FROBNICATE 1 2 3",
    "untagged": "* OK hi",
    "empty-line": "",
    "nul-name": b"a CREATE \"bad\x00name\"\r\n",
}

IMAP_LOGIN = f"l LOGIN {USER} {PASSWORD}"

IMAP_SESSIONS = {
    "thunderbird-startup": lines(
        "1 CAPABILITY",
        f'2 AUTHENTICATE PLAIN {PLAIN}',
        '3 ID ("name" "Thunderbird" "version" "128.5.0")',
        "4 ENABLE CONDSTORE",
        "5 NAMESPACE",
        '6 LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN SPECIAL-USE)',
        '7 SELECT "INBOX" (CONDSTORE)',
        "8 UID FETCH 1:* (FLAGS)",
        "9 IDLE",
        "DONE",
        "10 LOGOUT",
    ),
    "append-then-fetch-sections": lines(
        IMAP_LOGIN,
        b"a APPEND INBOX (\\Seen $Work) \"01-Jan-2024 10:00:00 +0000\" " + lit(MULTIPART) + b"\r\n",
        "b SELECT INBOX",
        "c FETCH * (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)",
        "d FETCH * (BODY.PEEK[HEADER] BODY.PEEK[1.1] BODY.PEEK[1.2.MIME] BODY.PEEK[2]<0.8>)",
        "e FETCH * (BINARY.PEEK[1.1] BINARY.SIZE[1.1] BINARY.PEEK[2])",
        "f FETCH * (BODY[HEADER.FIELDS (SUBJECT FROM)] BODY[TEXT]<0.100>)",
        "g LOGOUT",
    ),
    "search-nested": lines(
        IMAP_LOGIN,
        b"a APPEND INBOX " + lit(SIMPLE) + b"\r\n",
        b"a APPEND INBOX (\\Flagged) " + lit(MULTIPART) + b"\r\n",
        "b SELECT INBOX",
        'c SEARCH OR (FROM "alice" SUBJECT "report") (NOT (OR SEEN FLAGGED))',
        'd UID SEARCH CHARSET UTF-8 TEXT "wörld" SINCE 1-Jan-2020 NOT DELETED',
        "e SEARCH RETURN (MIN MAX COUNT) OR OR LARGER 10 SMALLER 5 HEADER In-Reply-To report",
        "f SEARCH RETURN (SAVE) BODY quarterly",
        "g FETCH $ (UID FLAGS)",
        "h UID SEARCH UID $",
        "i LOGOUT",
    ),
    "store-expunge": lines(
        IMAP_LOGIN,
        b"a APPEND INBOX " + lit(SIMPLE) + b"\r\n",
        b"a APPEND INBOX " + lit(SIMPLE) + b"\r\n",
        "b ENABLE CONDSTORE",
        "c SELECT INBOX",
        "d STORE 1:* +FLAGS (\\Seen $Forwarded)",
        "e UID STORE 1:* (UNCHANGEDSINCE 1) -FLAGS.SILENT (\\Seen)",
        "f STORE 1 +FLAGS.SILENT (\\Deleted)",
        "g EXPUNGE",
        "h UID STORE * +FLAGS (\\Deleted)",
        "i UID EXPUNGE 1:*",
        "j CLOSE",
        "k LOGOUT",
    ),
    "uid-move-copy": lines(
        IMAP_LOGIN,
        "a CREATE Archive",
        b"a APPEND INBOX " + lit(SIMPLE) + b"\r\n",
        "b SELECT INBOX",
        "c UID COPY 1:* Archive",
        "d UID MOVE 1:* Trash",
        "e MOVE 1 Junk",
        "f EXAMINE Archive",
        "g FETCH 1:* (UID FLAGS)",
        "h UNSELECT",
        "i LOGOUT",
    ),
    "qresync-resync": lines(
        IMAP_LOGIN,
        "a ENABLE QRESYNC",
        "b SELECT INBOX (QRESYNC (1 1))",
        "c UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        "d SELECT INBOX (QRESYNC (1700000000 12 1:20 (1,5,9 3,11,17)))",
        "e STATUS INBOX (HIGHESTMODSEQ UIDNEXT)",
        "f LOGOUT",
    ),
    "mailbox-management": lines(
        IMAP_LOGIN,
        'a CREATE "Projects/2024/Q1"',
        'b CREATE "Receipts" (USE (\\Archive))',
        'c RENAME "Projects/2024" "Projects/Old"',
        'd SUBSCRIBE "Projects/Old/Q1"',
        'e LIST "" "Projects/*"',
        'f LSUB "" "*"',
        'g LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES UIDNEXT SIZE))',
        'h UNSUBSCRIBE "Projects/Old/Q1"',
        'i DELETE "Projects/Old/Q1"',
        'j DELETE "Projects/Old"',
        'k DELETE "Projects"',
        "l DELETE INBOX",
        "m LOGOUT",
    ),
    "utf8-names": lines(
        IMAP_LOGIN,
        'a CREATE "&ZeVnLIqe-"',
        "b ENABLE IMAP4rev2 UTF8=ACCEPT",
        'c CREATE "Résumé"',
        'd LIST "" "R*"',
        'e RENAME "Résumé" "日本語"',
        'f DELETE "日本語"',
        "g LOGOUT",
    ),
    "literal-plus-multiappend": lines(
        IMAP_LOGIN,
        b"a APPEND Drafts (\\Draft) " + lit(DRAFT, plus=True) + b" (\\Seen) " + lit(SIMPLE, plus=True) + b"\r\n",
        "b STATUS Drafts (MESSAGES SIZE)",
        "c SELECT Drafts",
        "d FETCH 1:* (FLAGS RFC822.HEADER)",
        "e LOGOUT",
    ),
    "imaplib": lines(
        "ABCD1 CAPABILITY",
        f'ABCD2 LOGIN {USER} "{PASSWORD}"',
        'ABCD3 SELECT "INBOX"',
        "ABCD4 SEARCH ALL",
        "ABCD5 FETCH 1 (RFC822)",
        "ABCD6 STORE 1 +FLAGS \\Deleted",
        "ABCD7 EXPUNGE",
        "ABCD8 CLOSE",
        "ABCD9 LOGOUT",
    ),
    "mbsync": lines(
        "1 CAPABILITY",
        f'2 LOGIN "{USER}" "{PASSWORD}"',
        "3 NAMESPACE",
        '4 LIST "" "*"',
        '5 SELECT "INBOX"',
        "6 UID FETCH 1:1000000000 (UID FLAGS)",
        "7 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-TUID)])",
        b"8 APPEND \"INBOX\" (\\Seen) " + lit(SIMPLE, plus=True) + b"\r\n",
        "9 UID STORE 1 +FLAGS.SILENT (\\Flagged)",
        "10 UID FETCH 1:* (UID BODY.PEEK[])",
        "11 UID STORE 1 +FLAGS.SILENT (\\Deleted)",
        "12 UID EXPUNGE 1",
        "13 LOGOUT",
    ),
    "curl": lines(
        "A001 CAPABILITY",
        f"A002 LOGIN {USER} {PASSWORD}",
        "A003 EXAMINE INBOX",
        "A004 UID SEARCH SUBJECT lunch",
        "A005 UID FETCH 1 BODY[]",
        "A006 FETCH 1 BODY[TEXT]",
        "A007 LOGOUT",
    ),
    "rev1-client": lines(
        IMAP_LOGIN,
        "a STATUS INBOX (MESSAGES RECENT UNSEEN)",
        "b SELECT INBOX",
        "c FETCH 1:* (RFC822.SIZE RFC822.HEADER FLAGS)",
        "d FETCH 1 RFC822.TEXT",
        "e SEARCH RECENT NEW",
        "f CHECK",
        "g LOGOUT",
    ),
    "rev2-client": lines(
        IMAP_LOGIN,
        "a ENABLE IMAP4rev2",
        "b SELECT INBOX",
        "c FETCH 1:* (FLAGS BINARY.SIZE[1] SAVEDATE)",
        "d SEARCH RETURN () UNSEEN",
        "e NOOP",
        "f LOGOUT",
    ),
    "idle-twice": lines(
        IMAP_LOGIN, "a SELECT INBOX", "b IDLE", "DONE", "c NOOP", "d IDLE", "DONE", "e LOGOUT"
    ),
    "quota": lines(IMAP_LOGIN, "a GETQUOTAROOT INBOX", 'b GETQUOTA ""', "c LOGOUT"),
    "pipelined": lines(
        IMAP_LOGIN,
        "a SELECT INBOX",
        "b FETCH 1:* (FLAGS)",
        "c STATUS Sent (MESSAGES)",
        "d NOOP",
        "e SEARCH ALL",
        "f UID FETCH 1:* (UID)",
        "g LOGOUT",
    ),
    "limits": lines(
        IMAP_LOGIN,
        "a APPEND INBOX {4294967295}",
        "b NOOP",
        "c SELECT {9999999}",
        "d FROBNICATE",
        "e FETCH 1 (BODY[",
        "f LOGOUT",
    ),
    "nonsync-too-large": lines(IMAP_LOGIN, "a APPEND INBOX {99999999+}", "xxxx"),
    "preauth": lines(
        "a CAPABILITY",
        "b SELECT INBOX",
        "c LOGIN nobody@example.test wrong",
        f"d AUTHENTICATE PLAIN {PLAIN}",
        "e LIST \"\" *",
        "f LOGOUT",
    ),
    "authenticate-login": lines(
        "a AUTHENTICATE LOGIN",
        base64.b64encode(USER.encode()).decode(),
        base64.b64encode(PASSWORD.encode()).decode(),
        "b SELECT INBOX",
        "c LOGOUT",
    ),
    "starttls-then-garbage": lines("a STARTTLS", b"\x16\x03\x01\x00\x05hello"),
    "no-logout": lines(IMAP_LOGIN, "a SELECT INBOX", "b FETCH 1:* (FLAGS)"),
}

# Every single command also as a session: logged in, a message in INBOX, INBOX selected.
for name, command in IMAP_COMMANDS.items():
    IMAP_SESSIONS["cmd-" + name] = lines(
        IMAP_LOGIN,
        b"p APPEND INBOX " + lit(MULTIPART) + b"\r\n",
        "s SELECT INBOX",
        b(command) + (b"" if isinstance(command, bytes) else b"\r\n"),
        "z LOGOUT",
    )

# --- SMTP transcripts -----------------------------------------------------------------------
MAIL = (
    "From: Alice <alice@example.org>\r\n"
    "To: u@example.test\r\n"
    "Subject: dots\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <dots.1@example.org>\r\n"
    "\r\n"
    "A line.\r\n"
    "..a line that starts with a dot (stuffed)\r\n"
    "..\r\n"
    "last line\r\n"
)
SUBMITTED = MAIL.replace("From: Alice <alice@example.org>", f"From: {USER}")


def bdat(chunk, last=False):
    chunk = b(chunk)
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def data(body):
    return "DATA\r\n" + body + ".\r\n"


SMTP = {
    "mx-basic": lines("EHLO mail.example.org", "MAIL FROM:<alice@example.org>",
                      "RCPT TO:<u@example.test>", b(data(MAIL)), "QUIT"),
    "mx-helo": lines("HELO mail.example.org", "MAIL FROM:<alice@example.org>",
                     "RCPT TO:<u@example.test>", b(data(MAIL)), "QUIT"),
    "mx-pipelined": b(
        "EHLO mail.example.org\r\nMAIL FROM:<alice@example.org> SIZE=400 BODY=8BITMIME\r\n"
        "RCPT TO:<u@example.test>\r\nRCPT TO:<u+lists@example.test>\r\nDATA\r\n" + MAIL + ".\r\nQUIT\r\n"
    ),
    "mx-dsn": lines("EHLO mail.example.org",
                    "MAIL FROM:<alice@example.org> RET=HDRS ENVID=QQ314159",
                    "RCPT TO:<u@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@example.test",
                    b(data(MAIL)), "QUIT"),
    "mx-smtputf8": lines("EHLO mail.example.org", "MAIL FROM:<jöran@example.org> SMTPUTF8 BODY=8BITMIME",
                         "RCPT TO:<u@example.test>",
                         b(data("From: jöran@example.org\r\nSubject: grüße\r\n\r\nnaïve\r\n")), "QUIT"),
    "mx-null-sender": lines("EHLO mailer-daemon.example.org", "MAIL FROM:<>", "RCPT TO:<u@example.test>",
                            b(data("Subject: Undelivered Mail Returned to Sender\r\n\r\nbounce\r\n")), "QUIT"),
    "mx-unknown-and-relay": lines("EHLO x.example.org", "MAIL FROM:<a@example.org>",
                                  "RCPT TO:<nobody@example.test>", "RCPT TO:<victim@elsewhere.example>",
                                  "RCPT TO:<Postmaster>", "RCPT TO:<@relay.example:u@example.test>",
                                  "RSET", "QUIT"),
    "mx-bdat": lines("EHLO mail.example.org", "MAIL FROM:<alice@example.org> BODY=BINARYMIME",
                     "RCPT TO:<u@example.test>",
                     bdat("Subject: chunked\r\n\r\nhi"), bdat(" there\r\n", last=True), "QUIT"),
    "mx-bdat-zero-last": lines("EHLO m.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<u@example.test>",
                               bdat("Subject: x\r\n\r\n"), "BDAT 0 LAST", "QUIT"),
    "mx-rset-noop-vrfy": lines("EHLO m.example.org", "NOOP", "VRFY u", "EXPN list", "HELP",
                               "MAIL FROM:<a@example.org>", "RSET", "MAIL FROM:<a@example.org>",
                               "RCPT TO:<u@example.test>", "RSET", "QUIT"),
    "mx-two-messages": lines("EHLO m.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<u@example.test>",
                             b(data(MAIL)), "MAIL FROM:<b@example.org>", "RCPT TO:<u@example.test>",
                             b(data(SIMPLE)), "QUIT"),
    "mx-bare-lf": b("EHLO m.example.org\nMAIL FROM:<a@example.org>\nRCPT TO:<u@example.test>\nDATA\n"
                    "Subject: bare\n\nline\n.\n.\r\nQUIT\r\n"),
    "mx-size-too-big": lines("EHLO m.example.org", "MAIL FROM:<a@example.org> SIZE=999999999", "QUIT"),
    "mx-bad-syntax": lines("EHLO", "MAIL FROM: <a@example.org>", "MAIL FROM:a@example.org",
                           "RCPT TO:<u@example.test>", "DATA", "mail from:<A@EXAMPLE.ORG>",
                           "rcpt to:<U@EXAMPLE.TEST>", "BDAT x", "FROB", "QUIT"),
    "mx-data-without-rcpt": lines("EHLO m.example.org", "DATA", "MAIL FROM:<a@example.org>", "DATA", "QUIT"),
    "mx-starttls": lines("EHLO m.example.org", "STARTTLS", b"\x16\x03\x01\x00\x05hello"),
    "mx-long-line": lines("EHLO m.example.org", "MAIL FROM:<" + "a" * 1100 + "@example.org>", "QUIT"),
    "mx-auth-refused": lines("EHLO m.example.org", f"AUTH PLAIN {PLAIN}", "QUIT"),
    "postfix-client": lines("EHLO postfix.example.org",
                            "MAIL FROM:<alice@example.org> SIZE=300 BODY=8BITMIME",
                            "RCPT TO:<u@example.test> ORCPT=rfc822;u@example.test",
                            b(data("Received: from a by b; Mon, 1 Jan 2024 10:00:00 +0000\r\n" + MAIL)),
                            "QUIT"),
    "submission-plain": lines("EHLO laptop", f"AUTH PLAIN {PLAIN}", f"MAIL FROM:<{USER}>",
                              "RCPT TO:<friend@example.org>", "RCPT TO:<u@example.test>",
                              b(data(SUBMITTED)), "QUIT"),
    "submission-plain-continuation": lines("EHLO laptop", "AUTH PLAIN", PLAIN, f"MAIL FROM:<{USER}>",
                                           "RCPT TO:<u@example.test>", b(data(SUBMITTED)), "QUIT"),
    "submission-login": lines("EHLO laptop", "AUTH LOGIN", base64.b64encode(USER.encode()).decode(),
                              base64.b64encode(PASSWORD.encode()).decode(), f"MAIL FROM:<{USER}>",
                              "RCPT TO:<friend@example.org>", b(data(SUBMITTED)), "QUIT"),
    "submission-login-ir": lines("EHLO laptop", "AUTH LOGIN " + base64.b64encode(USER.encode()).decode(),
                                 base64.b64encode(PASSWORD.encode()).decode(), "QUIT"),
    "submission-cancel": lines("EHLO laptop", "AUTH PLAIN", "*", "AUTH LOGIN", "*", "QUIT"),
    "submission-wrong-password": lines("EHLO laptop",
                                       "AUTH PLAIN " + base64.b64encode(f"\0{USER}\0nope".encode()).decode(),
                                       "AUTH PLAIN !!!notbase64", "QUIT"),
    "submission-no-auth": lines("EHLO laptop", f"MAIL FROM:<{USER}>", "QUIT"),
    "submission-spoofed-from": lines("EHLO laptop", f"AUTH PLAIN {PLAIN}", "MAIL FROM:<ceo@example.test>",
                                     f"MAIL FROM:<{USER}>", "RCPT TO:<friend@example.org>",
                                     b(data(MAIL)), "QUIT"),
    "submission-bdat": lines("EHLO laptop", f"AUTH PLAIN {PLAIN}", f"MAIL FROM:<{USER}>",
                             "RCPT TO:<friend@example.org>",
                             bdat(SUBMITTED, last=True), "QUIT"),
    "submission-no-date": lines("EHLO laptop", f"AUTH PLAIN {PLAIN}", f"MAIL FROM:<{USER}>",
                                "RCPT TO:<u@example.test>",
                                b(data(f"From: {USER}\r\nTo: u@example.test\r\nSubject: x\r\n\r\nno date\r\n")),
                                "QUIT"),
    "swaks": lines("EHLO swaks.example", "MAIL FROM:<swaks@example.org>", "RCPT TO:<u@example.test>",
                   b(data("Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nTo: u@example.test\r\n"
                          "From: swaks@example.org\r\nSubject: test Mon, 01 Jan 2024 10:00:00 +0000\r\n"
                          "Message-Id: <20240101100000.1@swaks.example>\r\nX-Mailer: swaks v20240103.0\r\n"
                          "\r\nThis is a test mailing\r\n\r\n")), "QUIT"),
    "smtplib": lines("ehlo [127.0.1.1]", "mail FROM:<alice@example.org> size=200",
                     "rcpt TO:<u@example.test>", b(data(MAIL)), "quit"),
    "too-many-errors": lines(*["BOGUS"] * 30),
}


def write(target, files):
    folder = ROOT / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, content in files.items():
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        content = b(content)
        if not content.endswith(b"\n") and name != "empty-line":
            content += b"\r\n"
        (folder / name).write_bytes(content)
    print(f"{target}: {len(files)} files")


imap_command = dict(IMAP_COMMANDS)
imap_command.update({"session-" + k: v for k, v in IMAP_SESSIONS.items() if not k.startswith("cmd-")})
write("imap_command", imap_command)
write("imap_session", IMAP_SESSIONS)
write("smtp_reader", SMTP)
