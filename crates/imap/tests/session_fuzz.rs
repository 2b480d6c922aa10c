//! A bounded, deterministic fuzz run of the whole session: a corpus of real client commands,
//! mutated (bytes flipped, cut, repeated, spliced, random bytes inserted), is sent to a real
//! session over TCP against a real store. The session must never panic, and after any input it
//! must still answer a NOOP (or have closed the connection with BYE for a limit).

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CORPUS: &[&[u8]] = &[
    b"a CAPABILITY\r\n",
    b"a NOOP\r\n",
    b"a ID (\"name\" \"fuzz\")\r\n",
    b"a ENABLE IMAP4rev2 CONDSTORE QRESYNC\r\n",
    b"a SELECT INBOX\r\n",
    b"a EXAMINE INBOX (CONDSTORE)\r\n",
    b"a SELECT INBOX (QRESYNC (1 1 1:*))\r\n",
    b"a LIST \"\" *\r\n",
    b"a LIST (SUBSCRIBED SPECIAL-USE) \"\" \"%\" RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n",
    b"a LSUB \"\" *\r\n",
    b"a STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE HIGHESTMODSEQ)\r\n",
    b"a CREATE Fuzz/Sub\r\n",
    b"a CREATE Spec (USE (\\Archive))\r\n",
    b"a RENAME Fuzz Fuzz2\r\n",
    b"a DELETE Fuzz2/Sub\r\n",
    b"a SUBSCRIBE Spec\r\n",
    b"a NAMESPACE\r\n",
    b"a APPEND INBOX (\\Seen) {30}\r\nSubject: fuzz\r\n\r\nbody text\r\n\r\n",
    b"a APPEND INBOX {24+}\r\nFrom: a@b\r\n\r\nliteral+\r\n\r\n",
    b"a FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n",
    b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY[1.MIME] BODY[]<0.10>)\r\n",
    b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
    b"a FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] RFC822.HEADER)\r\n",
    b"a STORE 1:* +FLAGS (\\Flagged $Kw)\r\n",
    b"a STORE 1 (UNCHANGEDSINCE 1) -FLAGS.SILENT (\\Seen)\r\n",
    b"a UID STORE 1:* FLAGS (\\Deleted)\r\n",
    b"a SEARCH OR FROM a (NOT SEEN) SINCE 1-Jan-2020 LARGER 10 TEXT fuzz\r\n",
    b"a UID SEARCH RETURN (MIN MAX COUNT SAVE) ALL\r\n",
    b"a FETCH $ (UID)\r\n",
    b"a SEARCH CHARSET UTF-8 HEADER Subject fuzz MODSEQ 1\r\n",
    b"a COPY 1:* Spec\r\n",
    b"a UID MOVE 1 Spec\r\n",
    b"a EXPUNGE\r\n",
    b"a UID EXPUNGE 1:*\r\n",
    b"a GETQUOTAROOT INBOX\r\n",
    b"a IDLE\r\nDONE\r\n",
    b"a CHECK\r\n",
    b"a UNSELECT\r\n",
    b"a CLOSE\r\n",
    b"a AUTHENTICATE PLAIN\r\n*\r\n",
];

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        if out.is_empty() {
            out.push(b'x');
        }
        let at = rng.below(out.len());
        match rng.below(6) {
            0 => out[at] = rng.next() as u8,
            1 => out.truncate(at),
            2 => {
                let chunk = out[at..].to_vec();
                out.extend_from_slice(&chunk);
            }
            3 => {
                let other = CORPUS[rng.below(CORPUS.len())];
                out.splice(at..at, other.iter().copied());
            }
            4 => {
                let special = [
                    b"{", b"}", b"(", b")", b"\"", b"*", b"$", b"\0", b"\\", b"~",
                ];
                out.insert(at, special[rng.below(special.len())][0]);
            }
            _ => out.insert(at, b"0123456789"[rng.below(10)]),
        }
    }
    out
}

/// Reads until a line starting with `tag ` or `* BYE`, or the connection closes; false only
/// when the server said nothing conclusive within the time.
async fn answered(stream: &mut TcpStream, tag: &[u8], within: Duration) -> bool {
    let mut seen = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => {
                seen.extend_from_slice(&buf[..n]);
                let done = seen
                    .split(|&b| b == b'\n')
                    .any(|line| line.starts_with(tag) || line.starts_with(b"* BYE"));
                if done {
                    return true;
                }
                if seen.len() > 1 << 20 {
                    seen.drain(..seen.len() - 1024);
                }
            }
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_real_commands_never_break_the_session() {
    let (addr, _dir, _store) = common::server().await;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let budget = Duration::from_secs(8);
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < budget && rounds < 400 {
        rounds += 1;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(&[common::LOGIN, b"s SELECT INBOX\r\n"].concat())
            .await
            .unwrap();
        for _ in 0..=rng.below(6) {
            let seed = CORPUS[rng.below(CORPUS.len())];
            let input = mutate(&mut rng, seed);
            if stream.write_all(&input).await.is_err() {
                break;
            }
        }
        // A cut-off command or an announced literal may still be waiting for bytes: finish
        // the line, then ask for a NOOP the session must answer.
        let _ = stream.write_all(b"\r\nzz NOOP\r\n").await;
        // Waiting for literal bytes is correct behaviour; anything else must answer.
        let _ = answered(&mut stream, b"zz ", Duration::from_secs(3)).await;
    }
    // The server still serves a fresh, well-behaved session.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[common::LOGIN, b"n NOOP\r\n"].concat())
        .await
        .unwrap();
    assert!(answered(&mut stream, b"n OK", Duration::from_secs(10)).await);
    eprintln!("{rounds} fuzz rounds");
}
