//! The crate's one error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while setting up listeners and TLS or upgrading a stream.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot bind {service} on {addr}: {source}")]
    Bind {
        service: &'static str,
        addr: String,
        source: io::Error,
    },

    #[error("{service} uses implicit TLS but no TLS configuration was given")]
    TlsConfigMissing { service: &'static str },

    #[error("cannot read or write {path}: {source}")]
    TlsFile { path: PathBuf, source: io::Error },

    #[error("cannot parse PEM in {path}: {source}")]
    Pem {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },

    #[error("no certificate found in {0}")]
    NoCertificate(PathBuf),

    #[error("cannot generate a self-signed certificate: {0}")]
    CertificateGeneration(#[from] rcgen::Error),

    #[error("invalid TLS configuration: {0}")]
    TlsConfig(#[from] rustls::Error),

    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),

    #[error("TLS handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),

    #[error("the connection already uses TLS")]
    AlreadyTls,
}
