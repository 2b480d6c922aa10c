#!/usr/bin/env python3
"""IMAP benchmark step (5): FETCH BODY.PEEK[] of one large message by 1 session, then by
SESSIONS sessions at once, while a sampler thread reads the server's memory every 20 ms.
Prints JSON: the server's memory before, its peak with one fetcher and with many, and the
seconds each took. The client discards the literal as it arrives, so its own memory does not
grow with the message.

    imap_bigfetch.py --port P --pid PID --user U [--sessions 20] [--larger 40000000]

Memory is the sum over the server's process tree (Dovecot forks a process per session) of
VmRSS, in kB, and of Pss (which does not count shared pages twice).
"""

import argparse
import json
import os
import re
import socket
import threading
import time

from imap_load import PASSWORD


def descendants(pid):
    """pid and its descendants, from /proc/*/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_kb(pids):
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                rss += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            with open(f"/proc/{p}/smaps_rollup") as f:
                pss += int(re.search(r"\nPss:\s+(\d+)", f.read()).group(1))
        except (OSError, AttributeError):
            continue
    return rss, pss


class Sampler(threading.Thread):
    """The peak memory of the server tree while it runs."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, (0, 0), threading.Event()

    def run(self):
        pids, last_scan = descendants(self.pid), time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() - last_scan > 0.5:  # new session processes
                pids, last_scan = descendants(self.pid), time.monotonic()
            rss, pss = memory_kb(pids)
            self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))
            time.sleep(0.02)


class Session:
    def __init__(self, host, port, user):
        self.sock = socket.create_connection((host, port))
        self.buf = bytearray()
        self.line()  # greeting
        self.command(f'LOGIN "{user}" "{PASSWORD}"')
        self.command("EXAMINE INBOX")

    def fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def skip(self, n):
        """Discards n bytes of a literal as they arrive."""
        while n > 0:
            if not self.buf:
                self.fill()
            take = min(n, len(self.buf))
            del self.buf[:take]
            n -= take

    def command(self, text):
        """The response lines (literals skipped, their sizes noted) up to the tagged one."""
        self.sock.sendall(b"t " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.line()
            literal = re.search(rb"~?\{(\d+)\}$", line)
            if literal:
                self.skip(int(literal.group(1)))
                line += b" <%d bytes>" % int(literal.group(1))
            lines.append(line)
            if line.startswith(b"t "):
                if not line.startswith(b"t OK"):
                    raise RuntimeError(f"{text}: {line!r}")
                return lines


def fetch_all(args, uid, n):
    """n sessions log in, then all fetch the message at once; seconds for the fetches."""
    sessions = [Session(args.host, args.port, args.user) for _ in range(n)]
    errors = []

    def fetch(session):
        try:
            lines = session.command(f"UID FETCH {uid} BODY.PEEK[]")
            size = int(re.search(rb"<(\d+) bytes>", b"".join(lines)).group(1))
            if size < args.larger:
                errors.append(f"fetched only {size} bytes")
        except Exception as e:  # reported, not hidden
            errors.append(repr(e))

    threads = [threading.Thread(target=fetch, args=(s,)) for s in sessions]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for s in sessions:
        s.sock.close()
    if errors:
        raise RuntimeError("; ".join(errors))
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--larger", type=int, default=40_000_000)
    args = parser.parse_args()
    probe = Session(args.host, args.port, args.user)
    found = b"".join(probe.command(f"UID SEARCH LARGER {args.larger}"))
    uids = re.search(rb"\* SEARCH ([0-9 ]+)", found)
    if not uids:
        raise SystemExit(f"no message larger than {args.larger} bytes for {args.user}")
    uid = int(uids.group(1).split()[0])
    probe.sock.close()
    time.sleep(1)
    out = {}
    for label, n in (("one", 1), ("many", args.sessions)):
        before = memory_kb(descendants(args.pid))
        sampler = Sampler(args.pid)
        sampler.start()
        out[f"{label}_s"] = round(fetch_all(args, uid, n), 3)
        sampler.stop.set()
        sampler.join()
        out[f"{label}_before_rss_kb"], out[f"{label}_before_pss_kb"] = before
        out[f"{label}_peak_rss_kb"], out[f"{label}_peak_pss_kb"] = sampler.peak
        out[f"{label}_added_rss_kb"] = sampler.peak[0] - before[0]
        out[f"{label}_added_pss_kb"] = sampler.peak[1] - before[1]
        time.sleep(1)
    out["sessions"] = args.sessions
    print(json.dumps(out))


if __name__ == "__main__":
    main()
