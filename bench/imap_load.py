#!/usr/bin/env python3
"""IMAP load driver for bench/imap.sh: the same client against Tern and against Dovecot.

    imap_load.py mixed   --port P --users N --clients C --seconds T
    imap_load.py logins  --port P --users N --clients C --seconds T
    imap_load.py bigbox  --port P --user U --word W [--mailbox M]
    imap_load.py idle    --port P --users N --conns K

mixed:  C client processes with persistent sessions over N users (picked at random, so
        sessions share mailboxes now and then), each looping SELECT, FETCH (flags, envelope,
        a body), SEARCH, STORE (flags and keywords), APPEND and EXPUNGE; prints ops/s and
        the protocol errors a model of each session found (see CheckedImap).
logins: C processes looping connect, LOGIN, SELECT INBOX, LOGOUT; prints logins/s.
bigbox: SELECT (fresh connections), STATUS, `UID FETCH 1:* (UID FLAGS ENVELOPE)` and
        `SEARCH TEXT "W"` on one big mailbox, each REPEAT times; prints the medians. A raw
        socket reader times them, so the client's parsing is not in the figures.
idle:   opens K authenticated connections in IDLE on INBOX (asyncio), prints "ready K" and
        holds them until stdin closes.
Each mode prints one JSON line with its figures.
"""
import argparse
import asyncio
import imaplib
import json
import multiprocessing
import random
import re
import socket
import statistics
import sys
import time

PASSWORD = "benchpass"
DOMAIN = "bench.test"
SMALL = (b"From: bench@bench.test\r\nTo: user@bench.test\r\nSubject: bench append\r\n"
         b"\r\nA small message appended by the benchmark.\r\n")


def user(i):
    return f"user{i}@{DOMAIN}"


class CheckedImap(imaplib.IMAP4):
    """imaplib with a model of what the session was told, checked on every response line
    (RFC 9051 §7.3.5 keywords announced by FLAGS before a FETCH shows them; §7.4.1 and
    §7.5.1 sequence numbers and UIDs consistent with EXISTS and EXPUNGE; no BAD, no
    SERVERBUG). Counts what it finds in `errors` instead of stopping the load."""

    FETCH = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE|FETCH \((.*))$")

    def __init__(self, *args, **kwargs):
        self.uids = []
        self.announced = set()
        self.errors = []
        super().__init__(*args, **kwargs)

    def _get_line(self):
        line = super()._get_line()
        try:
            self.observe(line)
        except ValueError as e:
            self.errors.append(f"{e}: {line[:200]!r}")
        return line

    def observe(self, line):
        if b"SERVERBUG" in line or line.split(b" ")[1:2] == [b"BAD"]:
            raise ValueError("server error")
        if line.startswith(b"* FLAGS ("):
            self.announced = set(keywords(line[9:]))
            return
        if line.startswith(b"* OK [PERMANENTFLAGS") or line.startswith(b"* OK [CLOSED]"):
            if b"CLOSED" in line:
                self.uids = []
            return
        m = self.FETCH.match(line)
        if not m:
            return
        n, what = int(m.group(1)), m.group(2)
        if what == b"EXISTS":
            if n < len(self.uids):
                raise ValueError(f"EXISTS {n} below {len(self.uids)} known")
            self.uids += [None] * (n - len(self.uids))
        elif what == b"EXPUNGE":
            if not 1 <= n <= len(self.uids):
                raise ValueError(f"EXPUNGE {n} of {len(self.uids)}")
            del self.uids[n - 1]
        else:
            self.observe_fetch(n, m.group(3).split(b"{")[0])

    def observe_fetch(self, seq, items):
        if not 1 <= seq <= len(self.uids):
            raise ValueError(f"FETCH {seq} of {len(self.uids)}")
        at = items.find(b"FLAGS (")
        if at >= 0:
            for keyword in keywords(items[at + 7:]):
                if keyword not in self.announced:
                    raise ValueError(f"{keyword!r} shown before FLAGS announced it")
        uid = re.search(rb"UID (\d+)", items)
        if uid:
            uid, index = int(uid.group(1)), seq - 1
            if self.uids[index] not in (None, uid):
                raise ValueError(f"message {seq} was UID {self.uids[index]}, now {uid}")
            below = [u for u in self.uids[:index] if u is not None]
            above = [u for u in self.uids[index + 1:] if u is not None]
            if (below and below[-1] >= uid) or (above and above[0] <= uid):
                raise ValueError(f"UID {uid} at {seq} out of order")
            self.uids[index] = uid

    def select(self, mailbox="INBOX", readonly=False):
        # A new selection starts a new model (RFC 9051 §6.3.2).
        self.uids, self.announced = [], set()
        return super().select(mailbox, readonly)


def keywords(flag_list):
    """The keywords (not \\system flags) of a parenthesised flag list, lower-cased."""
    return [f.lower() for f in flag_list.split(b")")[0].split() if not f.startswith(b"\\")]


def mixed_client(args, index, deadline, counter, errors):
    rng = random.Random(index)
    ops = 0
    found = []
    while time.monotonic() < deadline:
        # Persistent sessions, a user picked at random every 200 operations: now and then
        # two sessions share a mailbox, as a user's phone and desktop do.
        who = user(rng.randint(1, args.users))
        imap = CheckedImap(args.host, args.port)
        imap.login(who, PASSWORD)
        start_ops = ops
        while time.monotonic() < deadline and ops - start_ops < 200:
            typ, data = imap.select("INBOX")
            exists = int(data[0])
            ops += 1
            if exists == 0:
                imap.append("INBOX", None, None, SMALL)
                ops += 1
                continue
            lo = rng.randint(1, exists)
            imap.fetch(f"{lo}:{min(exists, lo + 19)}", "(UID FLAGS)")
            imap.fetch(str(rng.randint(1, exists)), "(ENVELOPE)")
            imap.fetch(str(rng.randint(1, exists)), "(BODY.PEEK[])")
            imap.search(None, "UNSEEN")
            imap.store(str(rng.randint(1, exists)), "+FLAGS", f"(\\Seen $Label{rng.randint(1, 5)})")
            typ, data = imap.append("INBOX", None, None, SMALL)
            # Another session on the mailbox may have expunged meanwhile: the last message
            # is at the new EXISTS, not necessarily at exists + 1.
            typ, data = imap.select("INBOX")
            imap.store(data[0].decode(), "+FLAGS", "(\\Deleted)")
            imap.expunge()
            ops += 9
        imap.logout()
        found += imap.errors
    with counter.get_lock():
        counter.value += ops
    with errors.get_lock():
        errors.value += len(found)
    for e in found[:5]:
        print(f"client {index}: {e}", file=sys.stderr)


def login_client(args, index, deadline, counter, _errors):
    n = 0
    i = index
    while time.monotonic() < deadline:
        imap = imaplib.IMAP4(args.host, args.port)
        imap.login(user(i % args.users + 1), PASSWORD)
        imap.select("INBOX")
        imap.logout()
        n += 1
        i += args.clients
    with counter.get_lock():
        counter.value += n


def run_clients(target, args):
    counter = multiprocessing.Value("l", 0)
    errors = multiprocessing.Value("l", 0)
    deadline = time.monotonic() + args.seconds
    start = time.monotonic()
    procs = [multiprocessing.Process(target=target, args=(args, i, deadline, counter, errors))
             for i in range(args.clients)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    failed = sum(1 for p in procs if p.exitcode != 0)
    return counter.value, elapsed, failed, errors.value


class RawImap:
    """A minimal IMAP client for timing the server: it sends a command and reads the raw
    response up to its tagged line without parsing it, so the client's own parsing
    (imaplib's is slow, about a second for 100,000 envelopes) is not in the figure."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tags = 0
        self.buf = bytearray()
        self.read_until(b"\r\n")  # the greeting

    def read_until(self, end):
        """The bytes up to and including the first `end`, reading as needed."""
        start = 0
        while True:
            i = self.buf.find(end, start)
            if i >= 0:
                data = bytes(self.buf[:i + len(end)])
                del self.buf[:i + len(end)]
                return data
            start = max(0, len(self.buf) - len(end) + 1)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def command(self, text):
        """Seconds until the tagged reply, and the whole response."""
        self.tags += 1
        tag = f"r{self.tags}".encode()
        started = time.perf_counter()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        # A CRLF in front, so a tagged line first in the response is found like any other.
        self.buf[:0] = b"\r\n"
        data = self.read_until(b"\r\n" + tag + b" ") + self.read_until(b"\r\n")
        elapsed = time.perf_counter() - started
        status = data.rsplit(tag + b" ", 1)[1]
        if not status.startswith(b"OK"):
            raise RuntimeError(f"{text}: {status!r}")
        return elapsed, data[2:]

    def close(self):
        try:
            self.command("LOGOUT")
        except (OSError, RuntimeError):
            pass
        self.sock.close()


def bigbox(args):
    """(3): each step timed several times, the median reported. SELECT runs on a fresh
    connection each time (a client or a device reconnecting)."""
    out = {}
    selects = []
    for _ in range(args.repeat):
        imap = RawImap(args.host, args.port)
        imap.command(f'LOGIN "{args.user}" "{PASSWORD}"')
        elapsed, data = imap.command(f"SELECT {args.mailbox}")
        selects.append(elapsed)
        imap.close()
    out["select_ms"] = round(statistics.median(selects) * 1000, 2)
    out["select_first_ms"] = round(selects[0] * 1000, 2)
    out["messages"] = int(re.search(rb"\* (\d+) EXISTS", data).group(1))
    imap = RawImap(args.host, args.port)
    imap.command(f'LOGIN "{args.user}" "{PASSWORD}"')
    # STATUS, which clients send for every folder on a timer, before anything is selected.
    statuses = [imap.command(f"STATUS {args.mailbox} (MESSAGES UNSEEN SIZE)")[0]
                for _ in range(args.repeat)]
    out["status_ms"] = round(statistics.median(statuses) * 1000, 2)
    imap.command(f"SELECT {args.mailbox}")
    fetches = []
    for _ in range(args.repeat):
        elapsed, data = imap.command("UID FETCH 1:* (UID FLAGS ENVELOPE)")
        fetches.append(elapsed)
    out["fetch_s"] = round(statistics.median(fetches), 3)
    out["fetched"] = data.count(b" FETCH (")
    out["fetch_mb"] = round(len(data) / 1e6, 1)
    searches = []
    for _ in range(args.repeat):
        elapsed, data = imap.command(f'SEARCH TEXT "{args.word}"')
        searches.append(elapsed)
    out["search_s"] = round(statistics.median(searches), 3)
    found = re.search(rb"\* SEARCH([ 0-9]*)\r\n", data)
    out["hits"] = len(found.group(1).split()) if found else 0
    imap.close()
    return out


async def idle_one(args, i, ready):
    reader, writer = await asyncio.open_connection(args.host, args.port, limit=1 << 16)
    await reader.readline()
    writer.write(f"a LOGIN {user(i % args.users + 1)} {PASSWORD}\r\nb SELECT INBOX\r\n"
                 "c IDLE\r\n".encode())
    await writer.drain()
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line.startswith(b"+"):
            break
        if line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD")):
            raise ConnectionError(line)
    ready.append(writer)
    return reader, writer


async def idle(args):
    ready = []
    # Bounded concurrency for the logins (Argon2 on the reference side is slow).
    gate = asyncio.Semaphore(64)

    async def guarded(i):
        async with gate:
            return await idle_one(args, i, ready)

    results = await asyncio.gather(*(guarded(i) for i in range(args.conns)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(json.dumps({"ready": len(ready), "failed": len(errors),
                      "first_error": repr(errors[0]) if errors else None}), flush=True)
    # Hold until the caller closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["mixed", "logins", "bigbox", "idle"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--user", default=user(1))
    parser.add_argument("--word", default="aardvark")
    parser.add_argument("--mailbox", default="INBOX")
    parser.add_argument("--conns", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "mixed":
        ops, elapsed, failed, errors = run_clients(mixed_client, args)
        print(json.dumps({"ops": ops, "seconds": round(elapsed, 2),
                          "ops_per_s": round(ops / elapsed, 1), "failed_clients": failed,
                          "protocol_errors": errors}))
    elif args.mode == "logins":
        n, elapsed, failed, _ = run_clients(login_client, args)
        print(json.dumps({"logins": n, "seconds": round(elapsed, 2),
                          "logins_per_s": round(n / elapsed, 1), "failed_clients": failed}))
    elif args.mode == "bigbox":
        print(json.dumps(bigbox(args)))
    else:
        asyncio.run(idle(args))


if __name__ == "__main__":
    main()
