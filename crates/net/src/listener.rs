//! Accepting connections for one service: limits, implicit TLS, one tracked task per session.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::{ConnGuard, ConnLimiter, LimitExceeded, MaybeTlsStream, NetError, Shutdown};

/// When TLS starts on a listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP; the protocol may offer STARTTLS (RFC 3207, RFC 2595, RFC 9051 §6.2.1).
    Plain,
    /// TLS handshake right after accept (IMAPS, POP3S, submissions per RFC 8314 §3.3, HTTPS).
    Implicit,
}

/// One accepted connection, handed to the protocol's session.
#[derive(Debug)]
pub struct Connection {
    pub stream: MaybeTlsStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Holds the connection's slot in the limits until the session drops it.
    pub guard: ConnGuard,
}

impl Connection {
    /// True when the peer is on loopback, where plaintext passwords are allowed (DESIGN.md §5).
    pub fn is_loopback(&self) -> bool {
        // A dual-stack listener reports IPv4 peers as ::ffff:127.0.0.1.
        self.peer.ip().to_canonical().is_loopback()
    }

    /// True when the connection is TLS or on loopback: plaintext authentication may be offered.
    pub fn is_secure(&self) -> bool {
        self.stream.is_tls() || self.is_loopback()
    }
}

/// A bound listener for one service.
pub struct Listener {
    service: &'static str,
    tcp: TcpListener,
    local_addr: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    limiter: Arc<ConnLimiter>,
    /// What a connection over the limits is told before it is closed (plain services only).
    refusal: Option<&'static [u8]>,
}

// tokio-rustls's TlsAcceptor has no Debug; show whether TLS is on instead.
impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("service", &self.service)
            .field("local_addr", &self.local_addr)
            .field("implicit_tls", &self.acceptor.is_some())
            .finish_non_exhaustive()
    }
}

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

impl Listener {
    /// Binds `addr` now (port 0 picks an ephemeral port) so the caller can report the address
    /// before serving. Implicit TLS needs `tls`; in Plain mode it is not used by the listener.
    pub async fn bind(
        service: &'static str,
        addr: &str,
        mode: TlsMode,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: Arc<ConnLimiter>,
    ) -> Result<Listener, NetError> {
        let acceptor = match (mode, tls) {
            (TlsMode::Implicit, Some(config)) => Some(TlsAcceptor::from(config)),
            (TlsMode::Implicit, None) => return Err(NetError::TlsConfigMissing { service }),
            (TlsMode::Plain, _) => None,
        };
        let bind_error = |source| NetError::Bind {
            service,
            addr: addr.to_string(),
            source,
        };
        let tcp = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = tcp.local_addr().map_err(bind_error)?;
        Ok(Listener {
            service,
            tcp,
            local_addr,
            acceptor,
            limiter: limits,
            refusal: None,
        })
    }

    /// The line a refused connection reads before the close, in the service's own protocol:
    /// `421 4.7.0 ...` (RFC 5321 §3.8), `* BYE ...` (RFC 9051 §7.1.5), `-ERR [SYS/TEMP] ...`
    /// (RFC 3206 §4). Not sent with implicit TLS: it would cost the handshake the limit saves.
    pub fn with_refusal(mut self, line: &'static [u8]) -> Listener {
        if self.acceptor.is_none() {
            self.refusal = Some(line);
        }
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Accepts until `shutdown` fires, then closes the listening socket. Each connection within
    /// the limits (otherwise closed at once, with a warning) and, in Implicit mode, past its TLS
    /// handshake runs `handler` in its own task, tracked in `shutdown.sessions()`, inside a
    /// `conn` span carrying the service and peer.
    pub async fn serve<F, Fut>(self, shutdown: Shutdown, handler: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let sessions = shutdown.sessions();
        tracing::info!(service = self.service, addr = %self.local_addr, "listening");
        let mut refusals = RefusalLog::default();
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(service = self.service, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            };
            let guard = match self.limiter.try_acquire(peer.ip()) {
                Ok(guard) => guard,
                Err(refusal) => {
                    if let Some(line) = self.refusal {
                        // A new socket's send buffer is empty: this never waits, and a peer
                        // that reads nothing cannot hold the accept loop.
                        let _ = tcp.try_write(line);
                    }
                    refusals.refused(self.service, peer, refusal);
                    drop(tcp);
                    continue;
                }
            };
            let span = tracing::info_span!("conn", service = self.service, %peer);
            let session = start_session(
                tcp,
                peer,
                guard,
                self.acceptor.clone(),
                self.limiter.limits().tls_handshake_timeout,
                shutdown.clone(),
                Arc::clone(&handler),
            );
            sessions.tracker().spawn(session.instrument(span));
        }
        tracing::info!(service = self.service, addr = %self.local_addr, "stopped listening");
    }
}

/// At most one log line per [`REFUSAL_LOG_INTERVAL`] for refused connections, with the count:
/// a client opening connections in a loop must not fill the log (one test wrote 3,900 lines).
#[derive(Default)]
struct RefusalLog {
    since: Option<tokio::time::Instant>,
    unlogged: u64,
}

const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl RefusalLog {
    fn refused(&mut self, service: &'static str, peer: SocketAddr, refusal: LimitExceeded) {
        let now = tokio::time::Instant::now();
        match self.since {
            Some(since) if now.duration_since(since) < REFUSAL_LOG_INTERVAL => {
                self.unlogged += 1;
            }
            _ => {
                let more = std::mem::take(&mut self.unlogged);
                tracing::warn!(
                    service,
                    %peer,
                    %refusal,
                    refused_since_last_line = more,
                    "connection refused"
                );
                self.since = Some(now);
            }
        }
    }
}

/// One session's task: the implicit TLS handshake if any, then the protocol's handler.
async fn start_session<F, Fut>(
    tcp: TcpStream,
    peer: SocketAddr,
    guard: ConnGuard,
    acceptor: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    shutdown: Shutdown,
    handler: Arc<F>,
) where
    F: Fn(Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let local = match tcp.local_addr() {
        Ok(local) => local,
        Err(e) => {
            tracing::debug!(error = %e, "connection gone before the session started");
            return;
        }
    };
    // Line protocols send short replies; don't let Nagle delay them.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let plain = MaybeTlsStream::Plain(tcp);
    let stream = match acceptor {
        None => plain,
        Some(acceptor) => {
            let handshake = plain.upgrade_within(&acceptor, handshake_timeout);
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return,
                outcome = handshake => outcome,
            };
            match outcome {
                Ok(stream) => stream,
                Err(e) => {
                    // Scanners and clients with the wrong port are common: not a warning.
                    tracing::info!(error = %e, "TLS handshake failed");
                    return;
                }
            }
        }
    };
    tracing::debug!(tls = stream.is_tls(), "session started");
    handler(Connection {
        stream,
        peer,
        local,
        guard,
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::test_support::{client_trusting, echo, echo_once_over_tls, tls_round_trip};
    use crate::{Limits, drain, load_or_create_tls};

    fn limiter(max_per_ip: usize, tls_handshake_timeout: Duration) -> Arc<ConnLimiter> {
        ConnLimiter::new(Limits {
            max_per_ip,
            tls_handshake_timeout,
            ..Limits::default()
        })
    }

    async fn echo_round_trip(stream: &mut TcpStream, text: &[u8]) -> Vec<u8> {
        stream.write_all(text).await.unwrap();
        let mut reply = vec![0; text.len()];
        stream.read_exact(&mut reply).await.unwrap();
        reply
    }

    /// Reads until the server closes the connection; true when it did within `within`.
    async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) | Err(_) => false,
        }
    }

    async fn wait_until(mut condition: impl FnMut() -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn binds_accepts_and_runs_the_handler() {
        let (trigger, shutdown) = Shutdown::new();
        let limits = limiter(50, Duration::from_secs(10));
        let listener = Listener::bind(
            "pop3",
            "127.0.0.1:0",
            TlsMode::Plain,
            None,
            Arc::clone(&limits),
        )
        .await
        .unwrap();
        assert_eq!(listener.service(), "pop3");
        let addr = listener.local_addr();
        assert_ne!(addr.port(), 0, "the ephemeral port is known before serving");
        let server = tokio::spawn(listener.serve(shutdown, echo));

        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            echo_round_trip(&mut client, b"hello\r\n").await,
            b"hello\r\n"
        );
        assert_eq!(limits.active(), 1);
        drop(client);
        wait_until(|| limits.active() == 0).await;

        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn connection_reports_peer_local_and_loopback() {
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "imap",
            "127.0.0.1:0",
            TlsMode::Plain,
            None,
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(listener.serve(shutdown, move |conn: Connection| {
            let _ = tx.send((
                conn.peer,
                conn.local,
                conn.is_loopback(),
                conn.is_secure(),
                conn.stream.is_tls(),
            ));
            async {}
        }));

        let client = TcpStream::connect(addr).await.unwrap();
        let mut rx = rx;
        let (peer, local, loopback, secure, tls) = rx.recv().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(local, addr);
        assert!(loopback);
        assert!(secure, "loopback counts as secure");
        assert!(!tls);
        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn per_ip_limit_closes_the_extra_connection_until_a_slot_frees() {
        let (trigger, shutdown) = Shutdown::new();
        let limits = limiter(1, Duration::from_secs(10));
        let listener = Listener::bind(
            "imap",
            "127.0.0.1:0",
            TlsMode::Plain,
            None,
            Arc::clone(&limits),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo));

        let mut first = TcpStream::connect(addr).await.unwrap();
        assert_eq!(echo_round_trip(&mut first, b"one\n").await, b"one\n");

        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(closed_by_server(&mut extra, Duration::from_secs(5)).await);
        assert_eq!(limits.active(), 1);

        drop(first);
        wait_until(|| limits.active() == 0).await;
        let mut again = TcpStream::connect(addr).await.unwrap();
        assert_eq!(echo_round_trip(&mut again, b"two\n").await, b"two\n");

        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn implicit_tls_with_the_self_signed_certificate() {
        let data = tempfile::tempdir().unwrap();
        let config = load_or_create_tls(
            Path::new(""),
            Path::new(""),
            data.path(),
            "mail.example.test",
        )
        .unwrap();
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "imaps",
            "127.0.0.1:0",
            TlsMode::Implicit,
            Some(config),
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo_once_over_tls));

        let connector = client_trusting(&data.path().join("tls/cert.pem"));
        for name in ["localhost", "mail.example.test"] {
            let reply = tls_round_trip(&connector, addr, name, b"a1 NOOP\r\n").await;
            assert_eq!(reply, b"a1 NOOP\r\n");
        }
        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn implicit_tls_without_a_config_is_refused_at_bind() {
        let err = Listener::bind(
            "pop3s",
            "127.0.0.1:0",
            TlsMode::Implicit,
            None,
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, NetError::TlsConfigMissing { service: "pop3s" }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn binding_a_bad_address_is_an_error() {
        let err = Listener::bind(
            "smtp",
            "not an address",
            TlsMode::Plain,
            None,
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, NetError::Bind { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_stalled_tls_handshake_is_dropped_after_the_timeout() {
        let data = tempfile::tempdir().unwrap();
        let config =
            load_or_create_tls(Path::new(""), Path::new(""), data.path(), "h.example.test")
                .unwrap();
        let limits = limiter(50, Duration::from_millis(200));
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "imaps",
            "127.0.0.1:0",
            TlsMode::Implicit,
            Some(config),
            Arc::clone(&limits),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let server = tokio::spawn(listener.serve(shutdown, move |_conn| {
            let _ = tx.send(());
            async {}
        }));

        // Connects but never sends a ClientHello.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert!(closed_by_server(&mut silent, Duration::from_secs(5)).await);
        wait_until(|| limits.active() == 0).await;
        assert!(
            rx.try_recv().is_err(),
            "the handler must not run without a handshake"
        );

        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_drain_waits_for_a_finishing_session() {
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "pop3",
            "127.0.0.1:0",
            TlsMode::Plain,
            None,
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo));

        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(echo_round_trip(&mut client, b"x\n").await, b"x\n");
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer accepting"
        );

        // The open session keeps running until its client leaves.
        assert_eq!(echo_round_trip(&mut client, b"y\n").await, b"y\n");
        let sessions = trigger.sessions();
        assert_eq!(sessions.active(), 1);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(client);
        });
        // Drain returns 0 (nobody cut) only once the session has really ended.
        assert_eq!(drain(&sessions, Duration::from_secs(30)).await, 0);
        assert_eq!(sessions.active(), 0);
    }

    #[tokio::test]
    async fn drain_gives_up_after_the_timeout_and_counts_the_cut_sessions() {
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "imap",
            "127.0.0.1:0",
            TlsMode::Plain,
            None,
            limiter(50, Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo));

        let mut stuck = TcpStream::connect(addr).await.unwrap();
        assert_eq!(echo_round_trip(&mut stuck, b"x\n").await, b"x\n");
        trigger.trigger();
        server.await.unwrap();

        assert_eq!(
            drain(&trigger.sessions(), Duration::from_millis(200)).await,
            1
        );
        drop(stuck);
    }

    #[tokio::test]
    async fn shutdown_aborts_a_pending_tls_handshake() {
        let data = tempfile::tempdir().unwrap();
        let config =
            load_or_create_tls(Path::new(""), Path::new(""), data.path(), "h.example.test")
                .unwrap();
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "pop3s",
            "127.0.0.1:0",
            TlsMode::Implicit,
            Some(config),
            limiter(50, Duration::from_secs(60)),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo));
        let _silent = TcpStream::connect(addr).await.unwrap();
        let sessions = trigger.sessions();
        wait_until(|| sessions.active() == 1).await;

        trigger.trigger();
        server.await.unwrap();
        assert_eq!(drain(&sessions, Duration::from_secs(5)).await, 0);
    }
}
