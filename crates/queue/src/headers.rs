//! Header fields submission adds: RFC 6409 §8.2 `Date:` and §8.3 `Message-ID:` when missing.

use rand::Rng;

/// A fresh RFC 5322 §3.6.4 msg-id: `<random@hostname>`.
pub fn new_message_id(hostname: &str) -> String {
    let mut rng = rand::rng();
    let a: u64 = rng.random();
    let b: u32 = rng.random();
    format!("<{a:016x}.{b:08x}@{hostname}>")
}

/// The current time as an RFC 5322 §3.3 date.
pub fn rfc5322_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    now.format(&format)
        .unwrap_or_else(|_| "Thu, 1 Jan 1970 00:00:00 +0000".into())
}

/// The header block of `raw` (up to and including the empty line), or all of it.
pub(crate) fn header_block(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"\r\n") {
        return &raw[..2];
    }
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &raw[..i + 4],
        None => raw,
    }
}

/// True when the header block has a field named `name` (case-insensitive).
pub(crate) fn has_field(header: &[u8], name: &str) -> bool {
    header
        .split(|b| *b == b'\n')
        .filter(|line| !line.starts_with(b" ") && !line.starts_with(b"\t"))
        .any(|line| {
            line.len() > name.len()
                && line[name.len()] == b':'
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        })
}

/// Prepends `Date:` and `Message-ID:` where the message lacks them; returns the message and
/// its Message-ID (found or made).
pub fn add_missing_headers(raw: &[u8], hostname: &str) -> Vec<u8> {
    let header = header_block(raw);
    let mut added = String::new();
    if !has_field(header, "Date") {
        added.push_str(&format!("Date: {}\r\n", rfc5322_now()));
    }
    if !has_field(header, "Message-ID") {
        added.push_str(&format!("Message-ID: {}\r\n", new_message_id(hostname)));
    }
    let mut out = Vec::with_capacity(added.len() + raw.len());
    out.extend_from_slice(added.as_bytes());
    out.extend_from_slice(raw);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_only_what_is_missing() {
        let raw = b"From: a@x.test\r\nmessage-id: <1@x>\r\n\r\nDate: in the body\r\n";
        let out = String::from_utf8(add_missing_headers(raw, "mail.test")).unwrap();
        assert!(out.starts_with("Date: "));
        assert_eq!(out.matches("essage-").count(), 1);
        assert!(out.ends_with("\r\n\r\nDate: in the body\r\n"));

        let raw = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nx";
        let out = String::from_utf8(add_missing_headers(raw, "mail.test")).unwrap();
        assert!(out.starts_with("Message-ID: <"));
        assert!(out.contains("@mail.test>\r\nDate: Mon"));
    }

    #[test]
    fn folded_lines_are_not_fields() {
        assert!(!has_field(b"Subject: a\r\n Date: no\r\n\r\n", "Date"));
        assert!(has_field(b"Subject: a\r\nDATE: yes\r\n\r\n", "Date"));
    }
}
