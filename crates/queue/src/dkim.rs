//! DKIM (RFC 6376) keys and signing: `tern domain add` makes a key pair, submission signs
//! with the sender domain's key, `tern domain dns` prints the public half.

use base64::Engine;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject};
use tern_store::DkimKey;

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("cannot make a DKIM key: {0}")]
    Generate(String),
    #[error("the stored DKIM key is unusable: {0}")]
    BadKey(String),
    #[error("DKIM signing failed: {0}")]
    Sign(String),
}

/// The header fields signed (RFC 6376 §5.4.1's recommendation, and those DMARC relies on).
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// A selector for a new key: `tern` and the month, so a rotated key gets a new name.
pub fn default_selector() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("tern{:04}{:02}", now.year(), u8::from(now.month()))
}

/// Makes a new RSA-2048 key pair for `domain` (RSA rather than Ed25519: RFC 8463 keys are
/// still not verified by every receiver).
pub fn generate_key(domain: &str, selector: &str) -> Result<DkimKey, DkimError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .map_err(|e| DkimError::Generate(e.to_string()))?;
    Ok(DkimKey {
        domain: domain.to_owned(),
        selector: selector.to_owned(),
        algorithm: "rsa-sha256".into(),
        private_key_pem: pair.serialize_pem(),
    })
}

/// The TXT record to publish at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1).
pub fn dns_record(key: &DkimKey) -> Result<String, DkimError> {
    let pair = rcgen::KeyPair::from_pem(&key.private_key_pem)
        .map_err(|e| DkimError::BadKey(e.to_string()))?;
    let public = base64::engine::general_purpose::STANDARD
        .encode(rcgen::PublicKeyData::subject_public_key_info(&pair));
    Ok(format!("v=DKIM1; k=rsa; p={public}"))
}

/// Returns `raw` with a DKIM-Signature header field prepended.
pub fn sign(key: &DkimKey, raw: &[u8]) -> Result<Vec<u8>, DkimError> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(key.private_key_pem.as_bytes())
        .map_err(|e| DkimError::BadKey(e.to_string()))?;
    let rsa = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der))
        .map_err(|e| DkimError::BadKey(e.to_string()))?;
    let signature = DkimSigner::from_key(rsa)
        .domain(key.domain.as_str())
        .selector(key.selector.as_str())
        .headers(SIGNED_HEADERS.iter().copied())
        .sign(raw)
        .map_err(|e| DkimError::Sign(e.to_string()))?;
    let header = signature.to_header();
    let mut out = Vec::with_capacity(header.len() + raw.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_publishes_its_public_half() {
        let key = generate_key("example.test", "s1").unwrap();
        let record = dns_record(&key).unwrap();
        assert!(record.starts_with("v=DKIM1; k=rsa; p=MII"), "{record}");
        let signed = sign(&key, b"From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n").unwrap();
        let text = String::from_utf8(signed).unwrap();
        assert!(
            text.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
            "{text}"
        );
        assert!(text.contains("d=example.test"));
        assert!(text.contains("s=s1"));
        assert!(text.ends_with("From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n"));
    }
}
