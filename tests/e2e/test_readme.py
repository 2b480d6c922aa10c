"""The README's two set-up commands, as written there: the first (run Tern on the embedded
default with a demo account) is run from its own text, so README and code cannot drift apart;
the second is what `.ci/run` calls."""
import imaplib
import json
import os
import pathlib
import re
import shlex
import signal
import ssl
import subprocess
import tempfile
import time

from conftest import ROOT

README = ROOT / "README.md"
# A first `cargo run --release` builds everything; scripts/test has built it already.
BUILD_AND_START_SECONDS = 900


def readme_commands():
    """The commands of the README's first `sh` block, without their trailing comments."""
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c]


def wait_for(path, proc, log, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the README's command exited early:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path} after {timeout} s:\n{log.read_text()}")
        time.sleep(0.1)


def printed_password(output):
    found = re.search(r"^\s*Password:\s+(\S+)\s*$", output, re.M)
    assert found, f"the demo printed no password:\n{output}"
    return found.group(1)


def test_the_readme_starts_with_two_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == f"exec {commands[1]}", ci[-1]


def test_the_readmes_first_command_runs_tern_with_a_demo_account():
    first = readme_commands()[0]
    # Under target/ (git-ignored) so cargo finds the workspace from it; `./tern-data` is made
    # here, as it would be in a new user's checkout.
    scratch = ROOT / "target"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="readme-", dir=scratch) as cwd:
        cwd = pathlib.Path(cwd)
        log = cwd / "output.log"
        with open(log, "wb") as out:
            # Split as a shell would (it is one simple command), without a shell in between: the
            # exit status is then the server's (`cargo run` execs it). Its own process group, so
            # the stop reaches cargo or the server, whichever is running.
            proc = subprocess.Popen(shlex.split(first), cwd=cwd, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            listening = cwd / "tern-data" / "listening.json"
            wait_for(listening, proc, log, BUILD_AND_START_SECONDS)
            output = log.read_text()
            for line in ("Webmail:   http://127.0.0.1:2095/", "IMAP:      127.0.0.1:2143",
                         "User:      demo@example.test"):
                assert line in output, output
            imap_port = int(json.loads(listening.read_text())["imap"].rsplit(":", 1)[1])
            assert imap_port == 2143

            imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=10)
            context = ssl.create_default_context(cafile=str(cwd / "tern-data/tls/cert.pem"))
            context.check_hostname = False
            assert imap.starttls(ssl_context=context)[0] == "OK"
            assert imap.login("demo@example.test", printed_password(output))[0] == "OK"
            assert imap.select("INBOX") == ("OK", [b"1"])
            _, data = imap.fetch("1", "(BODY.PEEK[])")
            welcome = data[0][1]
            assert b"Subject: Welcome to Tern" in welcome
            # The welcome message names the ports the server really listens on.
            assert b"127.0.0.1:2143 (STARTTLS)" in welcome, welcome
            imap.logout()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait(30)
        assert code == 0, log.read_text()
        assert not listening.exists(), "a clean stop removes listening.json"
