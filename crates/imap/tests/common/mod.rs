//! A real IMAP session over TCP against a real store, for the integration tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tern_auth::{Authenticator, ThrottleConfig};
use tern_imap::{ImapConfig, ReaderLimits};
use tern_net::{ConnLimiter, Connection, Limits, MaybeTlsStream, Shutdown, TlsAcceptor};
use tern_store::{SqliteStore, Store};
use tokio::net::TcpListener;

/// The account every test logs in as: `u@example.test`, password `pw`.
#[allow(dead_code)]
pub const LOGIN: &[u8] = b"l LOGIN u@example.test pw\r\n";

/// The test account (see [`LOGIN`]) and its INBOX.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn account_and_inbox(
    store: &SqliteStore,
) -> (tern_store::Account, tern_store::MailboxInfo) {
    let account = store
        .account_by_email("u@example.test")
        .await
        .unwrap()
        .unwrap();
    let inbox = store.mailbox(account.id, "INBOX").await.unwrap().unwrap();
    (account, inbox)
}

/// Delivers `raw` to the test account's INBOX, as the MX would.
#[allow(dead_code)]
pub async fn deliver_to_inbox(store: &SqliteStore, raw: impl Into<bytes::Bytes>) {
    let (account, inbox) = account_and_inbox(store).await;
    let target = tern_store::AppendTarget {
        account: account.id,
        mailbox: inbox.id,
        flags: tern_store::Flags::NONE,
        keywords: Vec::new(),
    };
    let delivered = store
        .deliver(raw.into(), 1_700_000_000, vec![target])
        .await
        .unwrap();
    assert!(delivered[0].is_ok());
}

/// Serves IMAP on an ephemeral loopback port; a session that panics aborts the test binary.
pub async fn server() -> (SocketAddr, tempfile::TempDir, Arc<SqliteStore>) {
    tern_net::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    // As `tern serve` runs it: expunged content outlives its last reference a while.
    store.keep_unreferenced_blobs_for(Duration::from_secs(300));
    store.create_domain("example.test", None).await.unwrap();
    let hash = tern_auth::hash_password("pw").unwrap();
    store
        .create_account("u@example.test", &hash, None)
        .await
        .unwrap();
    let tls = tern_net::load_or_create_tls(
        std::path::Path::new(""),
        std::path::Path::new(""),
        dir.path(),
        "localhost",
    )
    .unwrap();
    let (_trigger, shutdown) = Shutdown::new();
    std::mem::forget(_trigger);
    let config = Arc::new(ImapConfig {
        hostname: "fuzz.test".into(),
        store: store.clone(),
        auth: Arc::new(Authenticator::new(store.clone(), ThrottleConfig::default())),
        tls: TlsAcceptor::from(tls),
        tls_handshake_timeout: Duration::from_secs(5),
        shutdown,
        idle_timeout: Duration::from_secs(60),
        limits: ReaderLimits {
            max_line: 8 * 1024,
            max_append_literal: 64 * 1024,
            max_other_literal: 4 * 1024,
            max_command: 128 * 1024,
        },
        views: tern_imap::ViewCache::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limiter = ConnLimiter::new(Limits::default());
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = listener.accept().await.unwrap();
            let local = tcp.local_addr().unwrap();
            let guard = limiter.try_acquire(peer.ip()).unwrap();
            let conn = Connection {
                stream: MaybeTlsStream::Plain(tcp),
                peer,
                local,
                guard,
            };
            let session = tokio::spawn(tern_imap::serve(conn, config.clone()));
            // A panic in a session fails the test through this task.
            tokio::spawn(async move {
                if let Err(e) = session.await
                    && e.is_panic()
                {
                    eprintln!("SESSION PANICKED");
                    std::process::abort();
                }
            });
        }
    });
    (addr, dir, store)
}

/// A raw IMAP client for the tests: sends a command and returns every line up to its tagged
/// answer, each literal (`{n}` at a line's end) read in place as text.
#[allow(dead_code)]
pub struct Client {
    reader: tokio::io::BufReader<tokio::net::TcpStream>,
    next_tag: u32,
}

#[allow(dead_code)]
impl Client {
    /// Connected and logged in as [`LOGIN`], the greeting and LOGIN answer read.
    pub async fn login(addr: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut client = Client {
            reader: tokio::io::BufReader::new(stream),
            next_tag: 0,
        };
        let greeting = client.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let answer = client.command("LOGIN u@example.test pw").await;
        assert!(answer.last().unwrap().contains(" OK"), "{answer:?}");
        client
    }

    /// One response line (with its literals), without the final CRLF.
    pub async fn line(&mut self) -> String {
        String::from_utf8_lossy(&self.line_bytes().await).into_owned()
    }

    /// One response line (with its literals) as sent, without the final CRLF.
    pub async fn line_bytes(&mut self) -> Vec<u8> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let mut whole = Vec::new();
        loop {
            let mut line = Vec::new();
            tokio::time::timeout(
                Duration::from_secs(30),
                self.reader.read_until(b'\n', &mut line),
            )
            .await
            .expect("the server answered in time")
            .expect("read");
            assert!(
                line.ends_with(b"\r\n"),
                "connection closed: {whole:?}{line:?}"
            );
            line.truncate(line.len() - 2);
            whole.extend_from_slice(&line);
            let Some(size) = literal_size(&line) else {
                return whole;
            };
            let mut literal = vec![0; size];
            self.reader.read_exact(&mut literal).await.expect("literal");
            whole.extend_from_slice(b"\r\n");
            whole.extend_from_slice(&literal);
        }
    }

    /// Sends `text` with a new tag and returns the lines up to and including the tagged one.
    pub async fn command(&mut self, text: &str) -> Vec<String> {
        self.next_tag += 1;
        let tag = format!("t{}", self.next_tag);
        self.send(format!("{tag} {text}\r\n").as_bytes()).await;
        self.until_tagged(&tag).await
    }

    /// Sends `text` and splits the answer: the untagged lines, and the tagged line without
    /// its tag (`OK ...`, `NO ...`, `BAD ...`).
    pub async fn exchange(&mut self, text: &str) -> (Vec<String>, String) {
        let mut lines = self.command(text).await;
        let tagged = lines.pop().expect("a tagged line");
        let status = tagged
            .split_once(' ')
            .map_or("", |(_, rest)| rest)
            .to_owned();
        (lines, status)
    }

    /// Sends `text`, asserts the tagged status is `status` (`OK`, `NO`, `BAD`), and returns the
    /// untagged lines.
    pub async fn expect(&mut self, status: &str, text: &str) -> Vec<String> {
        let (untagged, tagged) = self.exchange(text).await;
        assert!(
            tagged.starts_with(&format!("{status} ")) || tagged == status,
            "{text}: expected {status}, got {tagged:?} after {untagged:?}"
        );
        untagged
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.reader.get_mut().write_all(bytes).await.unwrap();
    }

    /// Sends `text` with a new tag and returns the lines as sent, up to the tagged one.
    pub async fn command_bytes(&mut self, text: &str) -> Vec<Vec<u8>> {
        self.next_tag += 1;
        let tag = format!("t{} ", self.next_tag);
        self.send(format!("{tag}{text}\r\n").as_bytes()).await;
        let mut lines = Vec::new();
        loop {
            let line = self.line_bytes().await;
            let done = line.starts_with(tag.as_bytes());
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    pub async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

/// `n` when a line ends with a literal's announcement `{n}` (or `~{n}`, `{n+}`).
fn literal_size(line: &[u8]) -> Option<usize> {
    let open = line.strip_suffix(b"}")?;
    let start = open.iter().rposition(|&b| b == b'{')?;
    let digits = std::str::from_utf8(&open[start + 1..]).ok()?;
    digits.trim_end_matches('+').parse().ok()
}
