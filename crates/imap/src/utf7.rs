//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3) for IMAP4rev1 clients; IMAP4rev2 and
//! UTF8=ACCEPT clients use UTF-8 names as they are (RFC 9051 §5.1).

use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

const MUTF7: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

/// Encodes a UTF-8 name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |out: &mut String, pending: &mut Vec<u16>| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&MUTF7.encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Decodes a modified UTF-7 name; None when it is not valid modified UTF-7.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = MUTF7.decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            let decoded = String::from_utf16(&units).ok()?;
            // RFC 3501 §5.1.3: printable ASCII must not be encoded.
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&decoded);
        }
        rest = &after[end + 1..];
    }
    if rest.chars().any(|c| !(' '..='~').contains(&c)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (utf8, utf7) in [
            ("INBOX", "INBOX"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ] {
            assert_eq!(encode(utf8), utf7);
            assert_eq!(decode(utf7).as_deref(), Some(utf8));
        }
    }

    #[test]
    fn invalid_input() {
        assert_eq!(decode("&Jjo!"), None);
        assert_eq!(decode("&AGE-"), None, "encoded ASCII");
        assert_eq!(decode("Entwürfe"), None, "raw 8-bit");
    }
}
