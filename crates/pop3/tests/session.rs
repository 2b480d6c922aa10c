//! Sessions against a real store over TCP: what other sessions see through the change feed
//! (an IMAP IDLE session gets its EXPUNGEs from that feed), `\Seen` on RETR, UIDL stability,
//! the autologout timer and shutdown.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tern_auth::{Authenticator, ThrottleConfig, hash_password};
use tern_net::{ConnLimiter, Limits, Listener, Shutdown, ShutdownTrigger, TlsMode};
use tern_pop3::{Pop3Server, Settings};
use tern_store::{
    AccountId, AppendTarget, Change, FlagChange, FlagOp, Flags, MailboxId, SharedStore, SqliteStore,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::TryRecvError;

const EMAIL: &str = "pop@example.test";
const PASSWORD: &str = "pop-password";

struct Fixture {
    _dir: tempfile::TempDir,
    store: SharedStore,
    server: Arc<Pop3Server>,
    account: AccountId,
    inbox: MailboxId,
    addr: std::net::SocketAddr,
    trigger: ShutdownTrigger,
}

async fn fixture(settings: Settings) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.create_domain("example.test", None).await.unwrap();
    let account = store
        .create_account(EMAIL, &hash_password(PASSWORD).unwrap(), None)
        .await
        .unwrap();
    let inbox = store.mailbox(account, "INBOX").await.unwrap().unwrap().id;
    let auth = Arc::new(Authenticator::new(
        Arc::clone(&store),
        ThrottleConfig::default(),
    ));
    let (trigger, shutdown) = Shutdown::new();
    let server = Pop3Server::new(Arc::clone(&store), auth, None, settings, shutdown.clone());
    let listener = Listener::bind(
        "pop3",
        "127.0.0.1:0",
        TlsMode::Plain,
        None,
        ConnLimiter::new(Limits::default()),
    )
    .await
    .unwrap();
    let addr = listener.local_addr();
    let serving = Arc::clone(&server);
    tokio::spawn(listener.serve(shutdown, move |conn| Arc::clone(&serving).serve(conn)));
    Fixture {
        _dir: dir,
        store,
        server,
        account,
        inbox,
        addr,
        trigger,
    }
}

impl Fixture {
    async fn append(&self, raw: &[u8]) -> u32 {
        let target = AppendTarget {
            account: self.account,
            mailbox: self.inbox,
            flags: Flags::NONE,
            keywords: Vec::new(),
        };
        let appended = self
            .store
            .append(Bytes::copy_from_slice(raw), 1_700_000_000, vec![target])
            .await
            .unwrap();
        appended[0].uid
    }

    async fn flags(&self) -> Vec<(u32, Flags)> {
        let messages = self.store.messages(self.account, self.inbox).await.unwrap();
        messages.into_iter().map(|m| (m.uid, m.flags)).collect()
    }

    async fn client(&self) -> Client {
        let mut client = Client {
            stream: BufReader::new(TcpStream::connect(self.addr).await.unwrap()),
        };
        assert!(client.line().await.starts_with("+OK"));
        client
    }

    async fn logged_in(&self) -> Client {
        let mut client = self.client().await;
        assert!(
            client
                .command(&format!("USER {EMAIL}"))
                .await
                .starts_with("+OK")
        );
        let reply = client.command(&format!("PASS {PASSWORD}")).await;
        assert!(reply.starts_with("+OK"), "{reply}");
        client
    }
}

struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        line
    }

    async fn command(&mut self, command: &str) -> String {
        self.stream
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        self.line().await
    }

    /// The lines of a multi-line reply up to the terminating `.`, still dot-stuffed.
    async fn multi_line(&mut self, command: &str) -> Vec<u8> {
        let status = self.command(command).await;
        assert!(status.starts_with("+OK"), "{status}");
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            self.stream.read_until(b'\n', &mut line).await.unwrap();
            if line == b".\r\n" || line.is_empty() {
                return body;
            }
            body.extend_from_slice(&line);
        }
    }

    /// True when the server closed the connection.
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read_to_end(&mut rest)).await,
            Ok(Ok(_))
        )
    }
}

fn message(i: u32) -> Vec<u8> {
    format!("Subject: {i}\r\nMessage-ID: <{i}@example.test>\r\n\r\nbody {i}\r\n").into_bytes()
}

#[tokio::test]
async fn other_sessions_learn_of_pop3_deletions_at_quit_not_before() {
    let f = fixture(Settings::default()).await;
    let uids = [
        f.append(&message(1)).await,
        f.append(&message(2)).await,
        f.append(&message(3)).await,
    ];
    let used_before = f.store.quota(f.account).await.unwrap().account_used;
    // What an IMAP IDLE session of the same account listens to.
    let mut feed = f.store.subscribe(f.account);

    let mut client = f.logged_in().await;
    assert!(client.command("DELE 1").await.starts_with("+OK"));
    assert!(client.command("DELE 3").await.starts_with("+OK"));
    assert!(client.command("NOOP").await.starts_with("+OK"));
    assert_eq!(
        feed.try_recv(),
        Err(TryRecvError::Empty),
        "nothing before QUIT"
    );

    let bye = client.command("QUIT").await;
    assert!(bye.starts_with("+OK Bye, 2 messages deleted"), "{bye}");
    let change = tokio::time::timeout(Duration::from_secs(10), feed.recv())
        .await
        .unwrap()
        .unwrap();
    match change {
        Change::Expunged {
            mailbox,
            uids: expunged,
            ..
        } => {
            assert_eq!(mailbox, f.inbox);
            assert_eq!(
                expunged,
                vec![uids[0], uids[2]],
                "one change, one transaction"
            );
        }
        other => panic!("expected Expunged, got {other:?}"),
    }
    let used_after = f.store.quota(f.account).await.unwrap().account_used;
    let freed = (message(1).len() + message(3).len()) as u64;
    assert_eq!(used_before - used_after, freed, "quota freed");
    assert_eq!(f.flags().await.len(), 1);
}

#[tokio::test]
async fn retrieved_messages_are_marked_seen_at_quit_when_configured() {
    let f = fixture(Settings {
        mark_seen_on_retr: true,
        ..Settings::default()
    })
    .await;
    let (a, b, c) = (
        f.append(&message(1)).await,
        f.append(&message(2)).await,
        f.append(&message(3)).await,
    );
    let mut client = f.logged_in().await;
    client.multi_line("RETR 1").await;
    client.multi_line("TOP 2 0").await; // TOP is no retrieval
    client.multi_line("RETR 3").await;
    assert!(client.command("DELE 3").await.starts_with("+OK"));
    assert_eq!(
        f.flags()
            .await
            .iter()
            .filter(|(_, fl)| fl.contains(Flags::SEEN))
            .count(),
        0
    );
    assert!(client.command("QUIT").await.starts_with("+OK"));
    let flags = f.flags().await;
    assert_eq!(flags, vec![(a, Flags::SEEN), (b, Flags::NONE)]);
    assert!(!flags.iter().any(|(uid, _)| *uid == c));
}

#[tokio::test]
async fn retrieval_leaves_flags_alone_by_default() {
    let f = fixture(Settings::default()).await;
    let a = f.append(&message(1)).await;
    let mut client = f.logged_in().await;
    assert_eq!(client.multi_line("RETR 1").await, message(1));
    assert!(client.command("QUIT").await.starts_with("+OK"));
    assert_eq!(f.flags().await, vec![(a, Flags::NONE)]);
}

#[tokio::test]
async fn uidl_survives_flag_changes_and_new_mail_waits_for_the_next_session() {
    let f = fixture(Settings::default()).await;
    let a = f.append(&message(1)).await;
    let b = f.append(&message(2)).await;
    let mut client = f.logged_in().await;
    let before = client.multi_line("UIDL").await;
    assert!(client.command("QUIT").await.starts_with("+OK"));

    // An IMAP client flags the messages.
    let change = FlagChange {
        op: FlagOp::Add,
        flags: Flags::SEEN.union(Flags::FLAGGED),
        keywords: vec!["$Label1".into()],
        unchanged_since: None,
    };
    f.store
        .update_flags(f.account, f.inbox, &[a, b], change)
        .await
        .unwrap();
    let mut client = f.logged_in().await;
    assert_eq!(client.multi_line("UIDL").await, before);

    // RFC 1939 §4: the list is fixed at login.
    f.append(&message(3)).await;
    assert!(client.command("STAT").await.starts_with("+OK 2 "));
    assert!(
        client
            .command("RETR 3")
            .await
            .starts_with("-ERR no such message")
    );
    assert!(client.command("QUIT").await.starts_with("+OK"));
    let mut client = f.logged_in().await;
    assert!(client.command("STAT").await.starts_with("+OK 3 "));
}

#[tokio::test]
async fn a_large_message_is_streamed_intact() {
    let f = fixture(Settings::default()).await;
    let mut raw = b"Subject: large\r\n\r\n".to_vec();
    let mut n = 0;
    while raw.len() < 8 * 1024 * 1024 {
        raw.extend_from_slice(format!(".{n} a line of the large message body\r\n").as_bytes());
        n += 1;
    }
    f.append(&raw).await;
    let mut client = f.logged_in().await;
    let size = raw.len();
    assert_eq!(client.command("LIST 1").await, format!("+OK 1 {size}\r\n"));
    let wire = client.multi_line("RETR 1").await;
    let stuffed = String::from_utf8(raw).unwrap().replace("\r\n.", "\r\n..");
    assert!(
        wire == stuffed.as_bytes(),
        "RETR differs from the stored bytes"
    );
}

#[tokio::test]
async fn the_autologout_timer_closes_the_session_and_frees_the_lock() {
    let f = fixture(Settings {
        idle_timeout: Duration::from_millis(300),
        ..Settings::default()
    })
    .await;
    f.append(&message(1)).await;
    let mut client = f.logged_in().await;
    assert!(client.command("DELE 1").await.starts_with("+OK"));
    assert!(f.server.locks().is_locked(f.account));
    let reply = client.line().await;
    assert!(reply.starts_with("-ERR Autologout"), "{reply}");
    assert!(client.closed().await);
    // RFC 1939 §3: no UPDATE state after the timer.
    assert_eq!(f.flags().await.len(), 1);
    let mut again = f.logged_in().await;
    assert!(again.command("STAT").await.starts_with("+OK 1 "));
}

#[tokio::test]
async fn shutdown_says_goodbye_with_sys_temp() {
    let f = fixture(Settings::default()).await;
    let mut client = f.logged_in().await;
    f.trigger.trigger();
    let reply = client.line().await;
    assert_eq!(
        reply,
        "-ERR [SYS/TEMP] Server shutting down, try again later\r\n"
    );
    assert!(client.closed().await);
}

#[tokio::test]
async fn a_session_has_a_bounded_number_of_commands() {
    let f = fixture(Settings::default()).await;
    f.append(&message(1)).await;
    let mut client = f.logged_in().await;
    // Pipelined. After login: 1,000 commands, and 5 more per message.
    let allowed = 1_000 + 5;
    let batch = "NOOP\r\n".repeat(allowed + 5);
    client
        .stream
        .get_mut()
        .write_all(batch.as_bytes())
        .await
        .unwrap();
    for _ in 0..allowed {
        assert_eq!(client.line().await, "+OK\r\n");
    }
    assert_eq!(
        client.line().await,
        "-ERR Too many commands in this session, closing\r\n"
    );
    assert!(client.closed().await);
}
