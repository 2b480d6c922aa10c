//! What the session fuzz targets share: one Tokio runtime, one SQLite store in a temp dir
//! with one account (`u@example.test`, password `pw`), one loopback listener, all made once
//! per process. Each input is one client connection to a real session: the bytes are sent,
//! the client half-closes, and everything the server answers is read until it hangs up.
//!
//! The store keeps what earlier inputs did (messages, mailboxes), as a long-lived account
//! would; the account's quota bounds its growth.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tern_auth::{Authenticator, ThrottleConfig};
use tern_net::{
    ConnLimiter, Connection, Limits, MaybeTlsStream, Shutdown, ShutdownTrigger, TlsAcceptor,
};
use tern_store::{SqliteStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// The account the corpora log in as.
pub const USER: &str = "u@example.test";
pub const PASSWORD: &str = "pw";
/// Bounds what the account can accumulate over a fuzz run.
const QUOTA: u64 = 1 << 20;

pub struct Harness {
    pub runtime: Runtime,
    pub store: Arc<SqliteStore>,
    pub auth: Arc<Authenticator>,
    pub tls: TlsAcceptor,
    pub shutdown: Shutdown,
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
    _trigger: ShutdownTrigger,
    _dir: tempfile::TempDir,
}

/// The process's harness, made on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

impl Harness {
    fn new() -> Harness {
        tern_net::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // On tmpfs where there is one: the store fsyncs every change, which on a disk costs
        // more than the whole session.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("temp dir");
        let (store, tls, listener) = runtime.block_on(async {
            let store = Arc::new(SqliteStore::open(dir.path()).expect("store"));
            store
                .create_domain("example.test", None)
                .await
                .expect("domain");
            let hash = tern_auth::hash_password(PASSWORD).expect("hash");
            store
                .create_account(USER, &hash, Some(QUOTA))
                .await
                .expect("account");
            let tls = tern_net::load_or_create_tls(
                std::path::Path::new(""),
                std::path::Path::new(""),
                dir.path(),
                "localhost",
            )
            .expect("tls");
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
            (store, tls, listener)
        });
        // Failed logins are expected all the time here: no growing delay, no refusal.
        let throttle = ThrottleConfig {
            free_failures: 1 << 30,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            account_ip_limit: 0,
            ip_limit: 0,
            ..ThrottleConfig::default()
        };
        let auth = Arc::new(Authenticator::new(store.clone(), throttle));
        let (trigger, shutdown) = Shutdown::new();
        Harness {
            runtime,
            store,
            auth,
            tls: TlsAcceptor::from(tls),
            shutdown,
            listener,
            limiter: ConnLimiter::new(Limits::default()),
            _trigger: trigger,
            _dir: dir,
        }
    }

    /// One connection: `serve` runs the server side of it on this thread (so a panic in the
    /// session is the fuzz target's panic), while the client sends `input`, half-closes and
    /// reads all the server says.
    pub fn connect<F, Fut>(&self, input: &[u8], serve: F)
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = ()>,
    {
        self.runtime.block_on(async {
            let addr = self.listener.local_addr().expect("listener address");
            let (client, accepted) = tokio::join!(TcpStream::connect(addr), self.listener.accept());
            let client = client.expect("connect");
            let (server, peer) = accepted.expect("accept");
            let local = server.local_addr().expect("local address");
            // As the listener does (tern_net): no Nagle delay on small replies.
            server.set_nodelay(true).expect("nodelay");
            client.set_nodelay(true).expect("nodelay");
            let guard = self
                .limiter
                .try_acquire(peer.ip())
                .expect("connection slot");
            let conn = Connection {
                stream: MaybeTlsStream::Plain(server),
                peer,
                local,
                guard,
            };
            let (mut from_server, mut to_server) = client.into_split();
            let send = async move {
                // The server may hang up before it has read everything (LOGOUT, QUIT, BYE).
                let _ = to_server.write_all(input).await;
                let _ = to_server.shutdown().await;
            };
            let drain = async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = from_server.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            tokio::join!(serve(conn), send, drain);
        });
    }
}
