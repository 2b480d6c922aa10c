"""Harness for end-to-end tests: the real `tern` binary, a temporary data directory, every
service on an ephemeral loopback port, driven by real clients (imaplib, poplib, smtplib, curl...).

Fixtures:
  tern      -- a running server (function scope); tern.port("imap"), tern.cli("user", "add", ...)
  tern_cli  -- a data directory and the CLI only, no server (for admin and import tests)
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALL_SERVICES = ("smtp", "submission", "submissions", "imap", "imaps",
                "pop3", "pop3s", "http", "https")


def tern_bin():
    path = os.environ.get("TERN_BIN") or str(ROOT / "target" / "release" / "tern")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo build --release` (scripts/test does), "
                    "or point TERN_BIN at a build")
    return path


class TernCli:
    """The admin CLI over one data directory."""

    def __init__(self, data_dir, config_path=None, global_args=(), netns=None):
        self.data_dir = pathlib.Path(data_dir)
        self.config_path = config_path
        self.global_args = list(global_args)
        self.netns = netns

    def argv(self, *args):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        argv = [*prefix, tern_bin(), *self.global_args, "--data-dir", str(self.data_dir)]
        if self.config_path:
            argv += ["--config", str(self.config_path)]
        return argv + [str(a) for a in args]

    def cli(self, *args, input=None, check=True, timeout=600):
        """Runs `tern ARGS`; returns the CompletedProcess (text mode)."""
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"tern {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def add_user(self, email, password="secret-pass", quota=None):
        domain = email.split("@", 1)[1]
        listed = self.cli("domain", "list").stdout.split()
        if domain not in listed:
            self.cli("domain", "add", domain)
        args = ["user", "add", email, "--password-stdin"]
        if quota:
            args += ["--quota", quota]
        self.cli(*args, input=password + "\n")
        return email, password


class Tern(TernCli):
    """A running `tern serve` with its own data directory and ephemeral ports."""

    def __init__(self, tmp, services=ALL_SERVICES, extra_config="", args=(), global_args=(),
                 netns=None):
        pathlib.Path(tmp).mkdir(parents=True, exist_ok=True)
        data_dir = pathlib.Path(tmp) / "data"
        config = pathlib.Path(tmp) / "tern.toml"
        listen = "\n".join(f'{s} = "127.0.0.1:0"' for s in services)
        # Tests talk to loopback only: unless a test brings its own DNS server, look-ups go
        # to a closed loopback port and fail at once, never to the machine's resolver.
        if "[dns]" not in extra_config:
            extra_config += '\n[dns]\nserver = "127.0.0.1:9"\n'
        # ... and the MX does not check SPF/DKIM/DMARC (test_smtp_authchecks does, with dnsmasq).
        if "[smtp]" not in extra_config:
            extra_config += "\n[smtp]\nverify = false\ngreeting_delay_ms = 0\n"
        config.write_text(
            f'data_dir = "{data_dir}"\nhostname = "mail.test"\n'
            f"{extra_config}\n[listen]\n{listen}\n")
        super().__init__(data_dir, config, global_args, netns)
        self.args = list(args)
        self.log_path = pathlib.Path(tmp) / "tern.log"
        self.proc = None
        self.addresses = {}

    def start(self, timeout=30):
        listening = self.data_dir / "listening.json"
        if listening.exists():
            listening.unlink()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv("serve", *self.args), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not listening.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"tern serve exited early:\n{self.read_log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"tern serve did not listen:\n{self.read_log()}")
            time.sleep(0.02)
        self.addresses = json.loads(listening.read_text())
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def restart(self):
        self.stop()
        return self.start()

    def read_log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def port(self, service):
        return int(self.addresses[service].rsplit(":", 1)[1])

    def host(self, service):
        return self.addresses[service].rsplit(":", 1)[0]

    @property
    def cert(self):
        """The self-signed certificate, for clients that verify it."""
        return str(self.data_dir / "tls" / "cert.pem")


class TestHost:
    """A network namespace this test run makes, joined to ours by a veth pair: a host that is
    not loopback, for the rules that differ there (no plaintext password before TLS). A server
    started in it (`Tern(..., netns=host.name)`, listening on `host.address`) sees the test's
    clients arrive from `host.peer_address`, never from loopback. Nothing leaves the machine."""

    count = 0

    def __init__(self):
        TestHost.count += 1
        pid, n = os.getpid(), TestHost.count
        subnet = (pid * 7 + n) % 250 + 1
        self.name = f"tern-{pid}-{n}"
        self.veth = f"tv{pid % 100000}x{n}"[:14]
        self.address = f"10.253.{subnet}.2"
        self.peer_address = f"10.253.{subnet}.1"
        inner = self.veth + "p"
        for command in (
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", inner],
            ["ip", "link", "set", inner, "netns", self.name],
            ["ip", "addr", "add", f"{self.peer_address}/30", "dev", self.veth],
            ["ip", "link", "set", self.veth, "up"],
            ["ip", "-n", self.name, "addr", "add", f"{self.address}/30", "dev", inner],
            ["ip", "-n", self.name, "link", "set", inner, "up"],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
        ):
            subprocess.run(command, check=True, capture_output=True)

    def close(self):
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def test_host():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the non-loopback tests need root and iproute2 (ip netns)")
        pytest.skip("needs root and iproute2 to make a network namespace")
    host = TestHost()
    yield host
    host.close()


@pytest.fixture
def tern(tmp_path):
    server = Tern(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def tern_cli(tmp_path):
    return TernCli(tmp_path / "data")
