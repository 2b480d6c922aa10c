//! TLS server configuration: the operator's certificate, or a self-signed one made on first start
//! (DESIGN.md §2) so that every service works out of the box.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::aws_lc_rs;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::NetError;

/// Installs aws-lc-rs as rustls's process-wide crypto provider (DESIGN.md §5a). Idempotent.
pub fn install_crypto_provider() {
    // `install_default` fails only when a provider is already installed, which is what we want.
    let _ = aws_lc_rs::default_provider().install_default();
}

/// Builds the TLS server configuration.
///
/// With both `cert` and `key` non-empty, reads the PEM certificate chain and private key from
/// them. Otherwise uses `data_dir/tls/cert.pem` + `key.pem`, generating a self-signed certificate
/// there on the first call (SANs: `hostname`, `localhost`, 127.0.0.1, ::1) and reusing it later.
/// No ALPN protocols are set.
pub fn load_or_create_tls(
    cert: &Path,
    key: &Path,
    data_dir: &Path,
    hostname: &str,
) -> Result<Arc<ServerConfig>, NetError> {
    let (cert_path, key_path) = if cert.as_os_str().is_empty() || key.as_os_str().is_empty() {
        if !cert.as_os_str().is_empty() || !key.as_os_str().is_empty() {
            tracing::warn!(
                cert = %cert.display(),
                key = %key.display(),
                "only one of the TLS certificate and key is set; using the self-signed certificate"
            );
        }
        ensure_self_signed(data_dir, hostname)?
    } else {
        (cert.to_path_buf(), key.to_path_buf())
    };
    let chain = read_cert_chain(&cert_path)?;
    let private_key = read_private_key(&key_path)?;
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)?;
    Ok(Arc::new(config))
}

fn read_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let pem_error = |source| NetError::Pem {
        path: path.to_path_buf(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if chain.is_empty() {
        return Err(NetError::NoCertificate(path.to_path_buf()));
    }
    Ok(chain)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| NetError::Pem {
        path: path.to_path_buf(),
        source,
    })
}

/// Returns the paths of the self-signed certificate and key, generating them if either is missing.
fn ensure_self_signed(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), NetError> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }

    create_private_dir(&dir)?;
    let (cert_pem, key_pem) = generate_self_signed(hostname)?;
    // The key goes first and the certificate last: a crash in between leaves no certificate, so
    // the next start generates a fresh pair instead of pairing a certificate with the wrong key.
    write_atomically(&key_path, key_pem.as_bytes(), 0o600)?;
    write_atomically(&cert_path, cert_pem.as_bytes(), 0o644)?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

fn generate_self_signed(hostname: &str) -> Result<(String, String), NetError> {
    let mut names = Vec::new();
    let hostname = hostname.trim();
    if !hostname.is_empty() && hostname != "localhost" {
        names.push(hostname.to_string());
    }
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));

    let mut params = rcgen::CertificateParams::new(names)?;
    let common_name = if hostname.is_empty() {
        "localhost"
    } else {
        hostname
    };
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn create_private_dir(dir: &Path) -> Result<(), NetError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| NetError::TlsFile {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to a temporary file with `mode`, syncs it, then renames it over `path`, so a
/// reader never sees a half-written file and the key is never readable by others, even briefly.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), NetError> {
    let tmp = path.with_extension("pem.tmp");
    let io_error = |source| NetError::TlsFile {
        path: path.to_path_buf(),
        source,
    };
    // The mode applies only when the file is created, so never reuse a left-over temporary file.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(e)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io_error)?;
    file.write_all(bytes).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error)?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = fs::File::open(parent)
    {
        // Best effort: make the rename itself durable.
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{client_trusting, echo_once_over_tls};
    use crate::{ConnLimiter, Limits, Listener, Shutdown, TlsMode};

    #[test]
    fn self_signed_certificate_is_created_once_and_reused() {
        let data = tempfile::tempdir().unwrap();
        load_or_create_tls(
            Path::new(""),
            Path::new(""),
            data.path(),
            "mail.example.test",
        )
        .unwrap();
        let cert_path = data.path().join("tls/cert.pem");
        let key_path = data.path().join("tls/key.pem");
        let first_cert = fs::read(&cert_path).unwrap();
        let first_key = fs::read(&key_path).unwrap();
        assert!(first_cert.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(first_key.starts_with(b"-----BEGIN PRIVATE KEY-----"));

        load_or_create_tls(
            Path::new(""),
            Path::new(""),
            data.path(),
            "mail.example.test",
        )
        .unwrap();
        assert_eq!(fs::read(&cert_path).unwrap(), first_cert);
        assert_eq!(fs::read(&key_path).unwrap(), first_key);
    }

    #[cfg(unix)]
    #[test]
    fn self_signed_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        load_or_create_tls(
            Path::new(""),
            Path::new(""),
            data.path(),
            "mail.example.test",
        )
        .unwrap();
        let mode = fs::metadata(data.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_lone_key_without_certificate_is_replaced() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("tls");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("key.pem"), b"left over from a crash").unwrap();
        load_or_create_tls(Path::new(""), Path::new(""), data.path(), "mx.example.test").unwrap();
        assert!(dir.join("cert.pem").is_file());
        assert!(
            fs::read(dir.join("key.pem"))
                .unwrap()
                .starts_with(b"-----BEGIN PRIVATE KEY-----")
        );
    }

    #[test]
    fn self_signed_certificate_names_the_host_and_loopback() {
        let data = tempfile::tempdir().unwrap();
        load_or_create_tls(
            Path::new(""),
            Path::new(""),
            data.path(),
            "mail.example.test",
        )
        .unwrap();
        let der = CertificateDer::from_pem_file(data.path().join("tls/cert.pem")).unwrap();
        let cert = rustls::server::ParsedCertificate::try_from(&der).unwrap();
        for name in ["mail.example.test", "localhost", "127.0.0.1", "::1"] {
            let server_name = rustls_pki_types::ServerName::try_from(name).unwrap();
            assert!(
                rustls::client::verify_server_name(&cert, &server_name).is_ok(),
                "{name} missing from the certificate"
            );
        }
        let other = rustls_pki_types::ServerName::try_from("other.example.test").unwrap();
        assert!(rustls::client::verify_server_name(&cert, &other).is_err());
    }

    #[tokio::test]
    async fn pem_files_are_loaded_and_served() {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["imap.example.test".into()]).unwrap();
        let cert_path = dir.path().join("chain.pem");
        let key_path = dir.path().join("private.pem");
        fs::write(&cert_path, made.cert.pem()).unwrap();
        fs::write(&key_path, made.signing_key.serialize_pem()).unwrap();
        let data_dir = dir.path().join("data");

        let config = load_or_create_tls(&cert_path, &key_path, &data_dir, "ignored").unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert!(
            !data_dir.join("tls").exists(),
            "no self-signed certificate when files are given"
        );

        let (trigger, shutdown) = Shutdown::new();
        let limiter = ConnLimiter::new(Limits::default());
        let listener = Listener::bind(
            "imaps",
            "127.0.0.1:0",
            TlsMode::Implicit,
            Some(config),
            limiter,
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = tokio::spawn(listener.serve(shutdown, echo_once_over_tls));

        let connector = client_trusting(&cert_path);
        let reply =
            crate::test_support::tls_round_trip(&connector, addr, "imap.example.test", b"ping\n")
                .await;
        assert_eq!(reply, b"ping\n");
        trigger.trigger();
        server.await.unwrap();
    }

    #[test]
    fn missing_or_empty_pem_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = load_or_create_tls(&missing, &missing, dir.path(), "h").unwrap_err();
        assert!(matches!(err, NetError::Pem { .. }), "{err:?}");

        let empty = dir.path().join("empty.pem");
        fs::write(&empty, b"").unwrap();
        let err = load_or_create_tls(&empty, &empty, dir.path(), "h").unwrap_err();
        assert!(matches!(err, NetError::NoCertificate(_)), "{err:?}");
    }

    #[test]
    fn installing_the_provider_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
