#!/usr/bin/env python3
"""IMAP load driver for bench/imap.sh: the same client against Tern and against Dovecot.

    imap_load.py mixed   --port P --users N --clients C --seconds T
    imap_load.py logins  --port P --users N --clients C --seconds T
    imap_load.py bigbox  --port P --user U --word W [--mailbox M]
    imap_load.py idle    --port P --users N --conns K

mixed:  C client processes with persistent sessions over N users, each looping SELECT,
        FETCH (flags, envelope, a body), SEARCH, STORE, APPEND and EXPUNGE; prints ops/s.
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


def mixed_client(args, index, deadline, counter):
    rng = random.Random(index)
    ops = 0
    round_ = 0
    while time.monotonic() < deadline:
        # Persistent sessions, rotating over the users: a new user every 200 operations.
        who = user((index + round_ * args.clients) % args.users + 1)
        round_ += 1
        imap = imaplib.IMAP4(args.host, args.port)
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
            imap.store(str(rng.randint(1, exists)), "+FLAGS", "(\\Seen)")
            typ, data = imap.append("INBOX", None, None, SMALL)
            imap.select("INBOX")
            imap.store(str(exists + 1), "+FLAGS", "(\\Deleted)")
            imap.expunge()
            ops += 9
        imap.logout()
    with counter.get_lock():
        counter.value += ops


def login_client(args, index, deadline, counter):
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
    deadline = time.monotonic() + args.seconds
    start = time.monotonic()
    procs = [multiprocessing.Process(target=target, args=(args, i, deadline, counter))
             for i in range(args.clients)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    failed = sum(1 for p in procs if p.exitcode != 0)
    return counter.value, elapsed, failed


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
        ops, elapsed, failed = run_clients(mixed_client, args)
        print(json.dumps({"ops": ops, "seconds": round(elapsed, 2),
                          "ops_per_s": round(ops / elapsed, 1), "failed_clients": failed}))
    elif args.mode == "logins":
        n, elapsed, failed = run_clients(login_client, args)
        print(json.dumps({"logins": n, "seconds": round(elapsed, 2),
                          "logins_per_s": round(n / elapsed, 1), "failed_clients": failed}))
    elif args.mode == "bigbox":
        print(json.dumps(bigbox(args)))
    else:
        asyncio.run(idle(args))


if __name__ == "__main__":
    main()
