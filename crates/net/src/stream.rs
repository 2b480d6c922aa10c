//! A stream that is plain TCP or TLS over TCP, so a session can upgrade in place (STARTTLS).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::NetError;

/// Either plain TCP or server-side TLS over TCP.
pub enum MaybeTlsStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTlsStream::Tls(_))
    }

    /// STARTTLS (RFC 3207 §4, RFC 2595 §3.1, RFC 9051 §6.2.1): runs the server side of the TLS
    /// handshake on this connection.
    ///
    /// The caller must discard any plaintext it has buffered but not yet processed before calling
    /// this: anything the client sent after the STARTTLS command arrived unprotected, and executing
    /// it after the upgrade is the command-injection flaw of CVE-2011-0411 (RFC 3207 §4.2 and
    /// RFC 9051 §6.2.1 both require discarding it).
    ///
    /// The handshake has no time limit here; use [`MaybeTlsStream::upgrade_within`] (with
    /// [`crate::Limits::tls_handshake_timeout`]) so a silent client cannot hold a session.
    pub async fn upgrade(self, acceptor: &TlsAcceptor) -> Result<MaybeTlsStream, NetError> {
        match self {
            MaybeTlsStream::Plain(tcp) => {
                let tls = acceptor.accept(tcp).await.map_err(NetError::Handshake)?;
                Ok(MaybeTlsStream::Tls(Box::new(tls)))
            }
            MaybeTlsStream::Tls(_) => Err(NetError::AlreadyTls),
        }
    }

    /// [`MaybeTlsStream::upgrade`] bounded by `timeout`.
    pub async fn upgrade_within(
        self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> Result<MaybeTlsStream, NetError> {
        tokio::time::timeout(timeout, self.upgrade(acceptor))
            .await
            .map_err(|_| NetError::HandshakeTimeout(timeout))?
    }

    /// The TCP stream underneath, e.g. for socket options.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            MaybeTlsStream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl fmt::Debug for MaybeTlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaybeTlsStream::Plain(tcp) => f.debug_tuple("Plain").field(tcp).finish(),
            MaybeTlsStream::Tls(tls) => f.debug_tuple("Tls").field(tls.get_ref().0).finish(),
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            MaybeTlsStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            MaybeTlsStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.is_write_vectored(),
            MaybeTlsStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            MaybeTlsStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            MaybeTlsStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::*;
    use crate::test_support::client_trusting;
    use crate::{ConnLimiter, Connection, Limits, Listener, Shutdown, TlsMode, load_or_create_tls};

    /// A toy line protocol: "STARTTLS" upgrades, anything else is echoed with whether TLS is on.
    async fn starttls_session(conn: Connection, acceptor: TlsAcceptor) {
        let mut stream = conn.stream;
        loop {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            // Whatever the client sent after STARTTLS is dropped with the reader (CVE-2011-0411).
            stream = reader.into_inner();
            if line.trim_end() == "STARTTLS" {
                stream.write_all(b"OK begin TLS\r\n").await.unwrap();
                stream = stream
                    .upgrade_within(&acceptor, Duration::from_secs(5))
                    .await
                    .unwrap();
            } else {
                let reply = format!("{} tls={}\r\n", line.trim_end(), stream.is_tls());
                stream.write_all(reply.as_bytes()).await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn starttls_upgrades_in_the_middle_of_a_plain_conversation() {
        let data = tempfile::tempdir().unwrap();
        let config =
            load_or_create_tls(Path::new(""), Path::new(""), data.path(), "mx.example.test")
                .unwrap();
        let acceptor = TlsAcceptor::from(Arc::clone(&config));
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "smtp",
            "127.0.0.1:0",
            TlsMode::Plain,
            Some(config),
            ConnLimiter::new(Limits::default()),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, move |conn| {
            starttls_session(conn, acceptor.clone())
        }));

        let mut plain = BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        plain.write_all(b"HELLO\r\n").await.unwrap();
        let mut line = String::new();
        plain.read_line(&mut line).await.unwrap();
        assert_eq!(line, "HELLO tls=false\r\n");

        plain.write_all(b"STARTTLS\r\n").await.unwrap();
        line.clear();
        plain.read_line(&mut line).await.unwrap();
        assert_eq!(line, "OK begin TLS\r\n");
        assert!(plain.buffer().is_empty());

        let connector = client_trusting(&data.path().join("tls/cert.pem"));
        // The IP address SAN of the self-signed certificate is checked here.
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, plain.into_inner()).await.unwrap();
        tls.write_all(b"HELLO\r\n").await.unwrap();
        let mut reply = [0u8; 16];
        tls.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"HELLO tls=true\r\n");

        drop(tls);
        trigger.trigger();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn upgrading_a_tls_stream_again_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let config =
            load_or_create_tls(Path::new(""), Path::new(""), data.path(), "h.example.test")
                .unwrap();
        let acceptor = TlsAcceptor::from(Arc::clone(&config));
        let (trigger, shutdown) = Shutdown::new();
        let listener = Listener::bind(
            "imaps",
            "127.0.0.1:0",
            TlsMode::Implicit,
            Some(config),
            ConnLimiter::new(Limits::default()),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let server = tokio::spawn(listener.serve(shutdown, move |conn: Connection| {
            let outcome = tx.lock().unwrap().take();
            let acceptor = acceptor.clone();
            async move {
                let result = conn.stream.upgrade(&acceptor).await;
                if let Some(outcome) = outcome {
                    let _ = outcome.send(matches!(result, Err(NetError::AlreadyTls)));
                }
            }
        }));

        let connector = client_trusting(&data.path().join("tls/cert.pem"));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let _tls = connector.connect(name, tcp).await.unwrap();
        assert!(rx.await.unwrap(), "a second handshake must be refused");
        trigger.trigger();
        server.await.unwrap();
    }
}
