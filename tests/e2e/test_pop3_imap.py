"""POP3 and IMAP on one mailbox: a POP3 QUIT expunges, and an IMAP session in IDLE hears of it
then, not before (RFC 1939 §6: nothing is deleted until the UPDATE state)."""
import poplib
import select
import smtplib
import socket

USER, PASSWORD = "pat@example.test", "pop-and-imap"


def deliver(tern, count):
    """Through the MX, as mail from the world arrives."""
    with smtplib.SMTP("127.0.0.1", tern.port("smtp"), timeout=30) as smtp:
        for i in range(count):
            raw = f"From: a@example.net\r\nTo: {USER}\r\nSubject: n{i}\r\n\r\nbody {i}\r\n"
            smtp.sendmail("a@example.net", [USER], raw)


class RawImap:
    """A line-level IMAP client, so the test can wait for untagged lines with a time limit."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        assert self.line(10).startswith("* OK")

    def line(self, seconds):
        """The next line, or None after `seconds` of silence."""
        while b"\r\n" not in self.buffer:
            if not select.select([self.sock], [], [], seconds)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def command(self, tag, text):
        """Sends a command; returns its untagged lines once the tagged OK arrives."""
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while (line := self.line(10)) is not None:
            if line.startswith(f"{tag} "):
                assert line.startswith(f"{tag} OK"), line
                return lines
            lines.append(line)
        raise AssertionError(f"no answer to {text}: {lines}")

    def quiet_lines(self, seconds):
        lines = []
        while (line := self.line(seconds)) is not None:
            lines.append(line)
        return lines


def test_imap_idle_sees_the_pop3_deletions_after_quit_not_before(tern):
    tern.add_user(USER, PASSWORD)
    deliver(tern, 3)
    imap = RawImap(tern.port("imap"))
    imap.command("a", f'LOGIN "{USER}" "{PASSWORD}"')
    assert "* 3 EXISTS" in imap.command("b", "SELECT INBOX")
    imap.sock.sendall(b"c IDLE\r\n")
    assert imap.line(10).startswith("+")

    pop = poplib.POP3("127.0.0.1", tern.port("pop3"), timeout=10)
    pop.user(USER)
    pop.pass_(PASSWORD)
    pop.dele(1)
    pop.dele(3)
    assert imap.quiet_lines(2) == [], "nothing is expunged before QUIT"
    pop.quit()
    expunges = [line for line in imap.quiet_lines(3) if line.endswith("EXPUNGE")]
    # Sequence numbers shift after each EXPUNGE (RFC 9051 §7.5.1): 3 then 1, or 1 then 2.
    assert expunges in (["* 3 EXPUNGE", "* 1 EXPUNGE"], ["* 1 EXPUNGE", "* 2 EXPUNGE"]), expunges
    imap.sock.sendall(b"DONE\r\n")
    assert imap.line(10).startswith("c OK")
    assert imap.command("d", "UID SEARCH ALL") == ["* SEARCH 2"]
    imap.command("e", "LOGOUT")
