#!/usr/bin/env python3
"""Drives `tern serve` over HTTP for bench/webmail.sh and prints the figures."""
import argparse
import http.client
import json
import os
import pathlib
import re
import statistics
import subprocess
import tempfile
import time
import urllib.parse

ROUNDS = 30


class Client:
    """One keep-alive HTTP/1.1 connection with the session cookie."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        all_headers = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        data = response.read()
        wall = (time.perf_counter() - started) * 1000
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        timing = re.search(r"dur=([0-9.]+)", response.headers.get("Server-Timing", ""))
        server = float(timing.group(1)) if timing else float("nan")
        return response.status, response.headers, data, server, wall


def start_tern(binary, data_dir):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tern-webmail-bench-"))
    config = tmp / "tern.toml"
    config.write_text(f'data_dir = "{data_dir}"\nhostname = "bench.test"\n[listen]\n'
                      'http = "127.0.0.1:0"\n')
    listening = pathlib.Path(data_dir) / "listening.json"
    if listening.exists():
        listening.unlink()
    log = open(tmp / "tern.log", "wb")
    proc = subprocess.Popen([binary, "--config", str(config), "serve"], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not listening.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"tern serve did not start; see {tmp / 'tern.log'}")
        time.sleep(0.05)
    port = int(json.loads(listening.read_text())["http"].rsplit(":", 1)[1])
    return proc, port


def summary(name, samples, target=None, unit="ms"):
    servers = sorted(s for s, _ in samples)
    walls = sorted(w for _, w in samples)
    p95 = lambda xs: xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    line = (f"{name:<34} server median {statistics.median(servers):7.2f} {unit}  p95 "
            f"{p95(servers):7.2f} {unit}   wall median {statistics.median(walls):7.2f} {unit}")
    if target:
        line += f"   target < {target} {unit} (median/target {statistics.median(servers) / target:.2f})"
    print(line)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tern", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--stats")
    args = parser.parse_args()
    proc, port = start_tern(args.tern, args.data_dir)
    try:
        client = Client(port)
        _, _, page, _, _ = client.request("GET", "/login")
        token = re.search(rb'name="login_token" value="([0-9a-f]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"login_token": token, "email": args.user,
                                       "password": args.password})
        status, _, _, _, _ = client.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, status
        status, headers, _, _, _ = client.request("GET", "/")
        folder = headers["Location"]
        inbox = folder.rsplit("/", 1)[1]

        status, _, html, _, _ = client.request("GET", folder)
        total = int(re.search(rb"<small>(\d+) messages", html).group(1))
        weight = len(html)
        for asset in sorted(set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', html))):
            weight += len(client.request("GET", asset.decode())[2])
        print(f"folder: INBOX with {total} messages; list page {len(html) / 1024:.1f} KB HTML, "
              f"{weight / 1024:.1f} KB with CSS, script and icon (target < 100 KB)")

        for _ in range(3):  # warm caches
            client.request("GET", folder)
        samples = [client.request("GET", folder)[3:] for _ in range(ROUNDS)]
        summary("list page 1 (50 newest)", samples, 50)
        pages = max(1, total // 50)
        samples = [client.request("GET", f"{folder}?page={1 + (i * 37) % pages}")[3:]
                   for i in range(ROUNDS)]
        summary("list page, random pages", samples, 50)
        samples = [client.request("GET", f"{folder}?sort=subject")[3:] for _ in range(5)]
        summary("list page sorted by subject", samples)

        uids = [int(u) for u in re.findall(rb'data-uid="(\d+)"', html)]
        samples = [client.request("GET", f"/message/{inbox}/{uid}")[3:] for uid in uids[:ROUNDS]]
        summary("open message (first view)", samples)
        samples = [client.request("GET", f"/message/{inbox}/{uid}")[3:] for uid in uids[:ROUNDS]]
        summary("open message (again)", samples)

        words = ["quokka", "xylophone", "aardvark", "quarterly"]
        expected = {}
        if args.stats and os.path.exists(args.stats):
            expected = json.load(open(args.stats)).get("markers", {})
        for word in words:
            path = f"/search?q={word}&field=body&folder={inbox}"
            status, _, page, _, _ = client.request("GET", path)
            found = re.search(rb"<p>(\d+) found", page)
            samples = [client.request("GET", path)[3:] for _ in range(10)]
            summary(f"body search '{word}' ({found.group(1).decode() if found else '?'} found"
                    f"{', ' + str(expected[word]) + ' carry it' if word in expected else ''})",
                    samples, 200)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
