//! Helpers shared by this crate's tests: echo handlers and a TLS client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::Connection;

/// Echoes everything back until the client closes.
pub async fn echo(conn: Connection) {
    let mut stream = conn.stream;
    let (mut reader, mut writer) = tokio::io::split(&mut stream);
    let _ = tokio::io::copy(&mut reader, &mut writer).await;
}

/// Echoes back, but only over TLS: a plain connection is closed without a word.
pub async fn echo_once_over_tls(conn: Connection) {
    if conn.stream.is_tls() {
        echo(conn).await;
    }
}

/// A TLS client that trusts exactly the certificate in `cert_pem`.
pub fn client_trusting(cert_pem: &Path) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Connects with TLS as `server_name`, sends `text` and reads the same number of bytes back.
pub async fn tls_round_trip(
    connector: &TlsConnector,
    addr: SocketAddr,
    server_name: &str,
    text: &[u8],
) -> Vec<u8> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(text).await.unwrap();
    let mut reply = vec![0; text.len()];
    tls.read_exact(&mut reply).await.unwrap();
    reply
}
