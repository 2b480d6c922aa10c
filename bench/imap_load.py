#!/usr/bin/env python3
"""IMAP load driver for bench/imap.sh: the same client against Tern and against Dovecot.

    imap_load.py mixed   --port P --users N --clients C --seconds T
    imap_load.py logins  --port P --users N --clients C --seconds T
    imap_load.py bigbox  --port P --user U --word W [--mailbox M]
    imap_load.py idle    --port P --users N --conns K

mixed:  C client processes with persistent sessions over N users, each looping SELECT,
        FETCH (flags, envelope, a body), SEARCH, STORE, APPEND and EXPUNGE; prints ops/s.
logins: C processes looping connect, LOGIN, SELECT INBOX, LOGOUT; prints logins/s.
bigbox: SELECT, `UID FETCH 1:* (UID FLAGS ENVELOPE)` and `SEARCH TEXT "W"` on one big
        mailbox; prints the seconds of each step.
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


def bigbox(args):
    out = {}
    imap = imaplib.IMAP4(args.host, args.port)
    imap.login(args.user, PASSWORD)
    t = time.monotonic()
    typ, data = imap.select(args.mailbox)
    out["select_s"] = round(time.monotonic() - t, 3)
    out["messages"] = int(data[0])
    # A second SELECT of the unchanged mailbox (a client reconnecting, another device).
    t = time.monotonic()
    imap.select(args.mailbox)
    out["reselect_s"] = round(time.monotonic() - t, 3)
    t = time.monotonic()
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS ENVELOPE)")
    out["fetch_s"] = round(time.monotonic() - t, 3)
    out["fetched"] = sum(1 for d in data if d)
    t = time.monotonic()
    typ, data = imap.search(None, "TEXT", f'"{args.word}"')
    out["search_s"] = round(time.monotonic() - t, 3)
    out["hits"] = len(data[0].split()) if data and data[0] else 0
    imap.logout()
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
