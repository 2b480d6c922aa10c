//! The body of the fuzz target for the submission header checks
//! (`fuzz/fuzz_targets/submission_header.rs`), also run on generated inputs by `cargo test`.

use crate::submission::{self, check_submission, has_bare_line_end, header_text, msg_id};

/// Feeds `input` to the checks a submitted message meets. Panics only when an invariant
/// breaks: what passes has one From, CRLF line ends, and the addresses checked are the ones
/// IMAP's ENVELOPE shows; a cleaned value or an accepted message id cannot end a field.
pub fn submission_header(input: &[u8]) {
    let normalized = submission::normalize_line_ends(input);
    assert!(!has_bare_line_end(&normalized));
    if let Ok(originators) = check_submission(input) {
        let end = crate::header::header_end(input, 0, input.len());
        let header = &input[..end];
        assert!(!has_bare_line_end(header));
        let fields = crate::header::fields(header);
        let froms = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(b"From"))
            .count();
        assert_eq!(froms, 1);
        let envelope = crate::parse(input).summary.envelope;
        let shown: Vec<String> = envelope
            .from
            .iter()
            .map(|a| {
                format!(
                    "{}@{}",
                    a.mailbox.as_deref().unwrap_or(""),
                    a.host.as_deref().unwrap_or("")
                )
            })
            .collect();
        let checked: Vec<String> = originators.from.iter().map(|m| m.email()).collect();
        assert_eq!(shown, checked);
    }
    let text = String::from_utf8_lossy(input);
    assert!(!header_text(&text).chars().any(|c| c.is_control()));
    if let Some(id) = msg_id(&text) {
        assert!(
            !id.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>".contains(c))
        );
    }
}

/// A small deterministic generator (xorshift) for the tests that fuzz on generated input, so
/// a failure reproduces.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: &[&[u8]] = &[
        b"From: alice@a.test\r\nSubject: x\r\n\r\nbody\r\n",
        b"From: \"A, B\" <a@a.test>, b@a.test (c)\r\nSender: a@a.test\r\n\r\n",
        b"From: alice@a.test\r\nFrom: bob@a.test\r\n\r\n",
        b"Subject: s17\rFrom: bob@a.test\r\nFrom: alice@a.test\r\n\r\n",
        b"From: <alice@a.test> <bob@a.test>\r\nResent-From: x@[1.2.3.4]\r\n\r\n",
        b"From: =?utf-8?q?bob=40a=2Etest?=\r\nIn-Reply-To: <x@y>\r\n\r\n",
        b"x@y>\r\nFrom: Bob <bob@a.test",
    ];

    #[test]
    fn the_checks_hold_on_mutated_headers() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
            for _ in 0..rng.below(6) {
                let at = rng.below(input.len() + 1);
                const BYTES: &[u8] = b"\r\n:<>@,;\"()[]\\ .aZ\t\0\xc3";
                let byte = BYTES[rng.below(BYTES.len())];
                match rng.below(3) {
                    0 if at < input.len() => input[at] = byte,
                    1 if at < input.len() => {
                        input.remove(at);
                    }
                    _ => input.insert(at, byte),
                }
            }
            submission_header(&input);
        }
    }
}
