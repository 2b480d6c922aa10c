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

/// Serves IMAP on an ephemeral loopback port; a session that panics aborts the test binary.
pub async fn server() -> (SocketAddr, tempfile::TempDir, Arc<SqliteStore>) {
    tern_net::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
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
