//! Decides whether bytes read from a source are worth storing as a message.
//! Only clear non-messages are refused: a malformed but plausible message is stored as is.

/// Why `raw` (already in CRLF form) should not be stored, or `None` if it should.
pub(crate) fn skip_reason(raw: &[u8]) -> Option<String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some("empty message".to_owned());
    }
    if !first_line_looks_like_header(raw) && !has_header_body_separator(raw) {
        return Some(
            "not a message: the first line is not a header field and there is no blank line \
             separating header and body"
                .to_owned(),
        );
    }
    None
}

/// RFC 5322 §2.2: field-name = 1*ftext (printable US-ASCII except ':'), then ':'.
/// Whitespace before the colon is obsolete syntax (§4.5) but still seen, so it is accepted.
fn first_line_looks_like_header(raw: &[u8]) -> bool {
    let line_end = raw
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(raw.len());
    let line = &raw[..line_end];
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
}

/// RFC 5322 §2.1: the body is separated from the header by an empty line.
fn has_header_body_separator(raw: &[u8]) -> bool {
    raw.starts_with(b"\r\n") || raw.windows(4).any(|w| w == b"\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::skip_reason;

    #[test]
    fn ordinary_message_is_kept() {
        assert_eq!(skip_reason(b"Subject: hi\r\n\r\nbody\r\n"), None);
    }

    #[test]
    fn whitespace_only_is_empty() {
        assert_eq!(skip_reason(b""), Some("empty message".to_owned()));
        assert_eq!(
            skip_reason(b" \r\n\t\r\n"),
            Some("empty message".to_owned())
        );
    }

    #[test]
    fn headers_without_body_are_kept() {
        assert_eq!(skip_reason(b"Subject: only a header\r\n"), None);
    }

    #[test]
    fn obsolete_space_before_colon_is_a_header() {
        assert_eq!(skip_reason(b"Subject : old style\r\n"), None);
    }

    #[test]
    fn garbage_first_line_with_separator_is_kept() {
        assert_eq!(skip_reason(b"garbage line\r\n\r\nbody\r\n"), None);
    }

    #[test]
    fn plain_text_without_headers_or_separator_is_skipped() {
        let reason = skip_reason(b"just some text: with a colon\r\nmore text\r\n");
        assert!(reason.is_some_and(|r| r.starts_with("not a message")));
    }
}
