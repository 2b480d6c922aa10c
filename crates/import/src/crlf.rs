/// Normalizes line endings to CRLF, the form IMAP and RFC 5322 (§2.1, §2.3) store: a bare CR and a
/// bare LF each become CRLF; an existing CRLF is kept. The result is allocated at its exact size.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let bare_endings = count_bare_line_endings(raw);
    let mut out = Vec::with_capacity(raw.len() + bare_endings);
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"\r\n");
        let ending_len = if rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[at + ending_len..];
    }
    out.extend_from_slice(rest);
    out
}

/// How many CR or LF bytes are not part of a CRLF pair: each one needs one more byte.
fn count_bare_line_endings(raw: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => i += 1,
            b'\r' | b'\n' => count += 1,
            _ => {}
        }
        i += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::to_crlf;

    #[test]
    fn lf_becomes_crlf() {
        assert_eq!(to_crlf(b"a\nb\n"), b"a\r\nb\r\n");
    }

    #[test]
    fn existing_crlf_is_kept() {
        assert_eq!(to_crlf(b"a\r\nb\r\n"), b"a\r\nb\r\n");
    }

    #[test]
    fn bare_cr_becomes_crlf() {
        assert_eq!(to_crlf(b"a\rb"), b"a\r\nb");
    }

    #[test]
    fn cr_cr_lf_is_a_bare_cr_then_a_crlf() {
        assert_eq!(to_crlf(b"a\r\r\nb"), b"a\r\n\r\nb");
    }

    #[test]
    fn trailing_cr_becomes_crlf() {
        assert_eq!(to_crlf(b"a\r"), b"a\r\n");
    }

    #[test]
    fn lf_cr_is_two_line_endings() {
        assert_eq!(to_crlf(b"a\n\rb"), b"a\r\n\r\nb");
    }

    #[test]
    fn mixed_and_empty_inputs() {
        assert_eq!(to_crlf(b""), b"");
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(to_crlf(b"no ending"), b"no ending");
        assert_eq!(to_crlf(b"x\r\ny\nz\r"), b"x\r\ny\r\nz\r\n");
    }

    #[test]
    fn output_is_allocated_at_its_exact_size() {
        let out = to_crlf(b"a\nb\r\nc\r");
        assert_eq!(out.len(), out.capacity());
    }
}
