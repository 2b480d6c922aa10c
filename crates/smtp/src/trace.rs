//! Trace header fields (RFC 5321 §4.4): `Return-Path:` and `Received:`, and removal of
//! `Authentication-Results:` fields that claim to come from us (RFC 8601 §5).

use std::net::IpAddr;

/// RFC 3848 "with" protocol names.
pub fn protocol(esmtp: bool, tls: bool, authenticated: bool) -> &'static str {
    match (esmtp, tls, authenticated) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    }
}

pub struct Received<'a> {
    pub helo: &'a str,
    pub ip: IpAddr,
    pub hostname: &'a str,
    pub protocol: &'static str,
    pub id: &'a str,
    /// The recipient, named only when there is exactly one (RFC 5321 §4.4 privacy note).
    pub for_rcpt: Option<&'a str>,
}

fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '(' | ')' | ';'))
        .take(255)
        .collect()
}

impl Received<'_> {
    pub fn header(&self) -> String {
        let date = tern_queue_date();
        let mut h = format!(
            "Received: from {} ([{}])\r\n\tby {} (Tern) with {} id {}",
            clean(self.helo),
            self.ip.to_canonical(),
            self.hostname,
            self.protocol,
            self.id
        );
        if let Some(rcpt) = self.for_rcpt {
            h.push_str(&format!("\r\n\tfor <{}>", clean(rcpt)));
        }
        h.push_str(&format!(";\r\n\t{date}\r\n"));
        h
    }
}

fn tern_queue_date() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    now.format(&format).unwrap_or_default()
}

pub fn return_path(sender: &str) -> String {
    format!("Return-Path: <{}>\r\n", clean(sender))
}

/// Removes `Authentication-Results:` fields whose authserv-id is `hostname`: only we may
/// vouch for our own checks (RFC 8601 §5).
pub fn strip_our_auth_results(raw: &[u8], hostname: &str) -> Vec<u8> {
    let header_end = if raw.starts_with(b"\r\n") {
        0
    } else {
        raw.windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 2)
            .unwrap_or(raw.len())
    };
    let (header, body) = raw.split_at(header_end);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        let continuation = line.starts_with(b" ") || line.starts_with(b"\t");
        if !continuation {
            skipping = is_our_auth_results(line, hostname);
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}

fn is_our_auth_results(line: &[u8], hostname: &str) -> bool {
    const NAME: &[u8] = b"authentication-results:";
    if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return false;
    }
    let value = String::from_utf8_lossy(&line[NAME.len()..]);
    let id = value
        .trim_start()
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()
        .unwrap_or("");
    id.eq_ignore_ascii_case(hostname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_results_for_us_go_and_others_stay() {
        let raw = b"Authentication-Results: mail.test; spf=pass\r\n\tdkim=pass\r\n\
Authentication-Results: other.test; spf=fail\r\nSubject: x\r\n\r\n\
Authentication-Results: mail.test; in the body\r\n";
        let out = String::from_utf8(strip_our_auth_results(raw, "MAIL.test")).unwrap();
        assert_eq!(
            out,
            "Authentication-Results: other.test; spf=fail\r\nSubject: x\r\n\r\n\
Authentication-Results: mail.test; in the body\r\n"
        );
    }

    #[test]
    fn received_names_one_recipient_only() {
        let r = Received {
            helo: "client(evil)",
            ip: "192.0.2.1".parse().unwrap(),
            hostname: "mail.test",
            protocol: protocol(true, true, false),
            id: "abc",
            for_rcpt: Some("u@mail.test"),
        };
        let h = r.header();
        assert!(h.starts_with("Received: from clientevil ([192.0.2.1])\r\n\tby mail.test (Tern) with ESMTPS id abc\r\n\tfor <u@mail.test>;\r\n\t"));
        assert!(h.ends_with("+0000\r\n"));
    }
}
