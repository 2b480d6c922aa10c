//! Content-Transfer-Encoding decoding (RFC 2045 §6), for IMAP BINARY (RFC 3516) and for the
//! text we index. Uses mail-parser's decoders, made forgiving the way RFC 2045 asks.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The Content-Transfer-Encoding is not one we know (IMAP answers `[UNKNOWN-CTE]`).
    #[error("unknown Content-Transfer-Encoding {0:?}")]
    UnknownEncoding(String),
}

/// Decodes `body` by its Content-Transfer-Encoding: base64 and quoted-printable are decoded,
/// 7bit, 8bit, binary (and an empty value, the RFC 2045 §6.1 default) are returned as they are.
/// Damaged base64 or quoted-printable is decoded as far as it goes, never refused.
pub fn decode_transfer_encoding(encoding: &str, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let encoding = encoding.trim();
    if encoding.eq_ignore_ascii_case("base64") {
        Ok(decode_base64(body))
    } else if encoding.eq_ignore_ascii_case("quoted-printable") {
        Ok(decode_quoted_printable(body))
    } else if encoding.is_empty()
        || ["7bit", "8bit", "binary"]
            .iter()
            .any(|identity| encoding.eq_ignore_ascii_case(identity))
    {
        Ok(body.to_vec())
    } else {
        Err(DecodeError::UnknownEncoding(encoding.to_owned()))
    }
}

fn decode_base64(body: &[u8]) -> Vec<u8> {
    base64_decode(body).unwrap_or_else(|| {
        // RFC 2045 §6.8: characters outside the base64 alphabet are to be ignored.
        let alphabet_only: Vec<u8> = body
            .iter()
            .copied()
            .filter(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .collect();
        base64_decode(&alphabet_only).unwrap_or_default()
    })
}

fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    quoted_printable_decode(body).unwrap_or_else(|| {
        // RFC 2045 §6.7 note (2): an '=' that starts no valid escape is kept as a literal '='.
        quoted_printable_decode(&escape_stray_equals(body)).unwrap_or_else(|| body.to_vec())
    })
}

/// Rewrites every '=' that is not followed by two hex digits or by a (soft) line break as `=3D`.
fn escape_stray_equals(body: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(body.len() + 16);
    for (index, &byte) in body.iter().enumerate() {
        if byte == b'=' && !starts_valid_escape(&body[index + 1..]) {
            escaped.extend_from_slice(b"=3D");
        } else {
            escaped.push(byte);
        }
    }
    escaped
}

fn starts_valid_escape(after: &[u8]) -> bool {
    match after {
        [a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => true,
        _ => {
            // A soft line break may have transport padding before it (RFC 2045 §6.7 rule 3).
            let rest = after
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .map_or(&after[after.len()..], |start| &after[start..]);
            rest.is_empty() || rest.starts_with(b"\n") || rest.starts_with(b"\r\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_across_lines() {
        assert_eq!(
            decode_transfer_encoding("BASE64", b"aGVsbG8g\r\nd29ybGQ=\r\n").unwrap(),
            b"hello world"
        );
    }

    #[test]
    fn base64_ignores_characters_outside_the_alphabet() {
        assert_eq!(
            decode_transfer_encoding("base64", b"aGVs!bG8*\r\n").unwrap(),
            b"hello"
        );
    }

    #[test]
    fn quoted_printable_soft_breaks_and_escapes() {
        assert_eq!(
            decode_transfer_encoding("quoted-printable", b"caf=C3=A9 =\r\nau lait\r\n").unwrap(),
            "café au lait\r\n".as_bytes()
        );
    }

    #[test]
    fn quoted_printable_keeps_stray_equals() {
        assert_eq!(
            decode_transfer_encoding("quoted-printable", b"a=zz b=3D c").unwrap(),
            b"a=zz b= c"
        );
    }

    #[test]
    fn identity_encodings_are_returned_as_is() {
        for encoding in ["7bit", "8BIT", "binary", "", " 7bit "] {
            assert_eq!(
                decode_transfer_encoding(encoding, b"raw =41 bytes").unwrap(),
                b"raw =41 bytes"
            );
        }
    }

    #[test]
    fn unknown_encoding_is_an_error() {
        assert_eq!(
            decode_transfer_encoding("x-uuencode", b"begin 644 f"),
            Err(DecodeError::UnknownEncoding("x-uuencode".into()))
        );
    }
}
