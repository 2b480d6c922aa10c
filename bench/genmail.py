#!/usr/bin/env python3
"""Deterministic generator of realistic mail for benchmarks.

    genmail.py --count N --out FILE --format mbox|maildir [--size-kb K] [--seed S]
               [--to ADDR] [--stats FILE.json]

The same arguments always produce the same bytes. The mix: about 60 % text/plain,
25 % multipart/alternative (plain + HTML), 15 % multipart/mixed with a small base64
attachment; a quarter of the subjects and some sender names are non-ASCII (RFC 2047
encoded words); a fifth of the messages are replies (Re:, In-Reply-To, References) to
an earlier one; dates ascend with realistic gaps and time zones.

Body words follow a Zipf distribution over a fixed vocabulary, and a few marker words
appear in a fixed share of messages (see MARKERS), so a later `SEARCH TEXT "quokka"` has
a known number of hits: --stats writes those counts as JSON.

Only the standard library is used. Throughput is ~5,000+ messages/s on one core, so
100,000 messages take well under a minute.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import datetime as dt
import itertools
import json
import os
import random
import re
import sys
import unicodedata

# Words that appear in a known share of messages, and nowhere else: a body line with the
# word is added to the message with this probability.
MARKERS = {
    "quarterly": 0.20,
    "aardvark": 0.05,
    "quokka": 0.01,
    "xylophone": 0.001,
}

VOCABULARY = """
the of and to a in is it you that he was for on are with as his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big high
such follow act why ask men change went light kind off need house picture try us again animal
point mother world near build self earth father head stand own page should country found
answer school grow study still learn plant cover food sun four between state keep eye never
last let thought city tree cross farm hard start might story saw far sea draw left late run
while press close night real life few north open seem together next white children begin got
walk example ease paper group always music those both mark often letter until mile river car
feet care second book carry took science eat room friend began idea fish mountain stop once
base hear horse cut sure watch color face wood main enough plain girl usual young ready above
ever red list though feel talk bird soon body dog family direct pose leave song measure door
product black short numeral class wind question happen complete ship area half rock order
fire south problem piece told knew pass since top whole king space heard best hour better
true during hundred five remember step early hold west ground interest reach fast verb sing
listen six table travel less morning ten simple several vowel toward war lay against pattern
slow center love person money serve appear road map rain rule govern pull cold notice voice
unit power town fine certain fly fall lead cry dark machine note wait plan figure star box
noun field rest correct able pound done beauty drive stood contain front teach week final
gave green oh quick develop ocean warm free minute strong special mind behind clear tail
produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead
dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring
yes distant fill east paint language among meeting invoice budget report deadline schedule
project customer server backup release contract review draft agenda proposal account payment
shipment delivery ticket support update password network invoice storage meeting office
""".split()

UTF8_WORDS = [
    "Grüße", "café", "naïve", "Überweisung", "résumé", "Zürich", "smörgåsbord", "façade",
    "Ångström", "jalapeño", "Straße", "Kraków", "日本語", "東京", "Привет", "Москва",
    "δοκιμή", "Ελλάδα", "مرحبا", "שלום", "🎉", "☕", "€100", "Prüfung", "Größe",
]

FIRST_NAMES = [
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
    "José", "Zoë", "Søren", "Françoise", "Jürgen", "Małgorzata", "Ólafur", "Yūki",
]
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Miller",
    "Müller", "García", "Novák", "Østergaard", "Lefèvre", "Kowalski", "Tanaka", "Rossi",
]
DOMAINS = [
    "example.com", "example.org", "example.net", "mail.example.com", "corp.example",
    "lists.example.org", "shop.example", "university.example.edu",
]
TIMEZONES = [0, 0, 60, 60, 120, -300, -240, -420, 330, 540, 600]
ATTACHMENTS = [
    ("application/pdf", "report-{n}.pdf", b"%PDF-1.4\n"),
    ("image/png", "photo-{n}.png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", "scan-{n}.jpg", b"\xff\xd8\xff\xe0"),
    ("application/zip", "archive-{n}.zip", b"PK\x03\x04"),
    ("text/csv", "data-{n}.csv", b"id,name,amount\n"),
]

LINE_POOL_SIZE = 1 << 15
START_DATE = dt.datetime(2021, 1, 4, 8, 30, tzinfo=dt.timezone.utc)


def zipf_cum_weights(n: int) -> list[float]:
    """Cumulative Zipf(s=1) weights for ranks 1..n: a few words very common, most rare."""
    return list(itertools.accumulate(1.0 / rank for rank in range(1, n + 1)))


def make_line_pool(rng: random.Random, vocab: list[str]) -> list[str]:
    """Pre-wrapped body lines (≤ 76 chars): bodies are built from these for speed."""
    cum = zipf_cum_weights(len(vocab))
    pool = []
    for _ in range(LINE_POOL_SIZE):
        words = rng.choices(vocab, cum_weights=cum, k=16)
        line, length = [], 0
        for word in words:
            if length + len(word) + 1 > 72:
                break
            line.append(word)
            length += len(word) + 1
        text = " ".join(line)
        pool.append(text[0].upper() + text[1:] + ("." if rng.random() < 0.3 else ""))
    return pool


def encode_word(text: str, rng: random.Random) -> str:
    """RFC 2047 §4 encoded words for a non-ASCII header value, folded per RFC 5322 §2.2.3."""
    if text.isascii():
        return text
    raw = text.encode("utf-8")
    chunks, start = [], 0
    while start < len(raw):
        end = min(start + 42, len(raw))
        # Never split a UTF-8 sequence across two encoded words (RFC 2047 §5 (3)).
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(raw[start:end])
        start = end
    if rng.random() < 0.7:
        words = ["=?UTF-8?B?" + base64.b64encode(c).decode() + "?=" for c in chunks]
    else:
        words = ["=?UTF-8?Q?" + q_encode(c) + "?=" for c in chunks]
    return "\n ".join(words)


def q_encode(raw: bytes) -> str:
    """RFC 2047 §4.2 "Q" encoding."""
    out = []
    for byte in raw:
        ch = chr(byte)
        if ch == " ":
            out.append("_")
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def format_date(when: dt.datetime, offset_minutes: int) -> str:
    """RFC 5322 §3.3 date-time in the sender's time zone."""
    local = when.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return local.strftime("%a, %d %b %Y %H:%M:%S ") + f"{sign}{hours:02d}{minutes:02d}"


class Generator:
    def __init__(self, seed: int, to_addr: str, size_kb: float | None):
        self.rng = random.Random(seed)
        self.to_addr = to_addr
        self.size_kb = size_kb
        self.vocab = [w for w in dict.fromkeys(VOCABULARY) if w not in MARKERS]
        self.pool = make_line_pool(self.rng, self.vocab)
        self.subject_cum = zipf_cum_weights(len(self.vocab))
        self.people = [self._person(i) for i in range(400)]
        self.when = START_DATE
        self.recent: list[tuple[str, str, str]] = []  # (message-id, subject, references)
        self.marker_hits = dict.fromkeys(MARKERS, 0)
        self.kind_counts = {"plain": 0, "alternative": 0, "mixed": 0}
        self.bytes_total = 0

    def _person(self, i: int) -> tuple[str, str]:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        # Addresses are ASCII (no SMTPUTF8): drop the accents, keep the letters.
        ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore")
        local = ascii_name.decode().lower()
        local = re.sub(r"[^a-z.]", "", local) or f"user{i}"
        return f"{first} {last}", f"{local}{i % 7 or ''}@{rng.choice(DOMAINS)}"

    def _address(self, person: tuple[str, str]) -> str:
        name, addr = person
        if name.isascii():
            return f'"{name}" <{addr}>'
        return f"{encode_word(name, self.rng)} <{addr}>"

    def _subject(self) -> str:
        rng = self.rng
        words = rng.choices(self.vocab, cum_weights=self.subject_cum, k=rng.randint(2, 8))
        if rng.random() < 0.25:
            words.insert(rng.randrange(len(words) + 1), rng.choice(UTF8_WORDS))
        text = " ".join(words)
        return text[0].upper() + text[1:]

    def _body_lines(self) -> list[str]:
        rng = self.rng
        if self.size_kb:
            mean_lines = max(1.0, self.size_kb * 1024 / 62)
            count = max(1, int(rng.gauss(mean_lines, mean_lines / 4)))
        else:
            # Log-normal length: most mails short, a few long (median ~25 lines ≈ 1.5 KB).
            count = max(2, min(2000, int(rng.lognormvariate(3.2, 0.8))))
        lines = [self.pool[i] for i in rng.choices(range(LINE_POOL_SIZE), k=count)]
        # Paragraph breaks every few lines.
        step = rng.randint(3, 7)
        for pos in range(len(lines) - step, 0, -step):
            lines.insert(pos, "")
        for word, share in MARKERS.items():
            if rng.random() < share:
                self.marker_hits[word] += 1
                lines.insert(rng.randrange(len(lines) + 1), f"Notes on the {word} item follow.")
        if rng.random() < 0.2:
            lines.append("")
            lines.append(" ".join(rng.choices(UTF8_WORDS, k=rng.randint(2, 6))))
        return lines

    def _text_part(self, lines: list[str], subtype: str) -> str:
        if subtype == "html":
            paragraphs = "\n".join(lines).split("\n\n")
            body = "<html><body>\n" + "\n".join(
                "<p>" + p.replace("\n", "<br>\n") + "</p>" for p in paragraphs
            ) + "\n</body></html>"
        else:
            body = "\n".join(lines)
        if body.isascii():
            cte = "7bit"
        else:
            # Quoted-printable for UTF-8 text (RFC 2045 §6.7); b2a_qp is C-speed.
            body = binascii.b2a_qp(body.encode("utf-8")).decode("ascii")
            cte = "quoted-printable"
        return (
            f"Content-Type: text/{subtype}; charset=UTF-8\n"
            f"Content-Transfer-Encoding: {cte}\n\n{body}\n"
        )

    def _attachment(self, n: int) -> str:
        rng = self.rng
        ctype, name, magic = rng.choice(ATTACHMENTS)
        size = int(rng.uniform(1, 12) * 1024)
        payload = magic + rng.randbytes(size)
        encoded = base64.encodebytes(payload).decode("ascii")
        filename = name.format(n=n)
        return (
            f'Content-Type: {ctype}; name="{filename}"\n'
            f'Content-Disposition: attachment; filename="{filename}"\n'
            f"Content-Transfer-Encoding: base64\n\n{encoded}"
        )

    def message(self, n: int) -> tuple[str, str, dt.datetime]:
        """Returns (envelope sender, message text with LF line ends, date)."""
        rng = self.rng
        self.when += dt.timedelta(seconds=rng.expovariate(1 / 900))
        sender = rng.choice(self.people)
        sender_domain = sender[1].rsplit("@", 1)[1]
        msg_id = f"<{n:08x}.{rng.getrandbits(48):012x}@{sender_domain}>"
        headers = [
            "Return-Path: <" + sender[1] + ">",
            "From: " + self._address(sender),
            "To: " + self.to_addr,
        ]
        if rng.random() < 0.15:
            headers.append("Cc: " + ", ".join(self._address(rng.choice(self.people)) for _ in range(rng.randint(1, 3))))
        if self.recent and rng.random() < 0.2:
            parent_id, parent_subject, parent_refs = rng.choice(self.recent)
            subject = parent_subject if parent_subject.startswith("Re: ") else "Re: " + parent_subject
            refs = (parent_refs + " " + parent_id).strip()
            headers.append("In-Reply-To: " + parent_id)
            headers.append("References: " + refs)
        else:
            subject, refs = self._subject(), ""
        headers += [
            "Subject: " + encode_word(subject, rng),
            "Date: " + format_date(self.when, rng.choice(TIMEZONES)),
            "Message-ID: " + msg_id,
            "MIME-Version: 1.0",
        ]
        self.recent.append((msg_id, subject, refs))
        if len(self.recent) > 200:
            self.recent.pop(0)

        lines = self._body_lines()
        roll = rng.random()
        if roll < 0.60:
            self.kind_counts["plain"] += 1
            body = self._text_part(lines, "plain")
        else:
            boundary = f"=_bench_{n:08x}_{rng.getrandbits(32):08x}"
            if roll < 0.85:
                self.kind_counts["alternative"] += 1
                body = (
                    f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
                    "This is a multi-part message in MIME format.\n\n"
                    f"--{boundary}\n{self._text_part(lines, 'plain')}\n"
                    f"--{boundary}\n{self._text_part(lines, 'html')}\n"
                    f"--{boundary}--\n"
                )
            else:
                self.kind_counts["mixed"] += 1
                body = (
                    f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
                    "This is a multi-part message in MIME format.\n\n"
                    f"--{boundary}\n{self._text_part(lines, 'plain')}\n"
                    f"--{boundary}\n{self._attachment(n)}\n"
                    f"--{boundary}--\n"
                )
        text = "\n".join(headers) + "\n" + body
        return sender[1], text, self.when


FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)


def write_mbox(gen: Generator, count: int, out: str) -> None:
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        for n in range(1, count + 1):
            sender, text, when = gen.message(n)
            # mboxrd: quote body lines that look like separators (and already-quoted ones).
            text = FROM_LINE.sub(r">\1", text)
            stamp = when.strftime("%a %b %d %H:%M:%S %Y")
            fh.write(f"From {sender} {stamp}\n{text}\n")
            gen.bytes_total += len(text)
    os.replace(tmp, out)


def write_maildir(gen: Generator, count: int, out: str) -> None:
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for n in range(1, count + 1):
        _, text, when = gen.message(n)
        # Most old mail has been read: about 70 % carry the Seen flag (maildir "S").
        flags = "S" if gen.rng.random() < 0.7 else ""
        name = f"{int(when.timestamp())}.M{n}P0.genmail:2,{flags}"
        data = text.encode("utf-8")
        with open(os.path.join(out, "cur", name), "wb") as fh:
            fh.write(data)
        gen.bytes_total += len(data)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True, help="mbox file or maildir directory")
    parser.add_argument("--format", choices=("mbox", "maildir"), default="mbox")
    parser.add_argument("--size-kb", type=float, help="average text size per message, in KiB")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--to", default="user1@bench.test", help="To: address of every message")
    parser.add_argument("--stats", help="write counts (marker words, kinds, bytes) as JSON here")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be positive")

    gen = Generator(args.seed, args.to, args.size_kb)
    if args.format == "mbox":
        write_mbox(gen, args.count, args.out)
    else:
        write_maildir(gen, args.count, args.out)
    stats = {
        "count": args.count,
        "seed": args.seed,
        "bytes": gen.bytes_total,
        "kinds": gen.kind_counts,
        "markers": gen.marker_hits,
    }
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as fh:
            json.dump(stats, fh, indent=2)
            fh.write("\n")
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
