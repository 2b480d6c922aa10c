//! Shared pieces of the Rust end-to-end tests.

pub const CRASH_DOMAIN: &str = "crash.test";
pub const CRASH_ACCOUNT: &str = "victim@crash.test";

/// The message the crash appender stores as number `i`: its size varies from about 100 bytes
/// to about 200 KiB so that kills land inside blob writes of every length.
pub fn crash_message(i: u64) -> Vec<u8> {
    let mut raw = format!(
        "From: appender@crash.test\r\nTo: {CRASH_ACCOUNT}\r\nSubject: crash test {i}\r\n\r\n"
    )
    .into_bytes();
    let body_len = 64 + (i.wrapping_mul(7919) % 200_000) as usize;
    let line = format!("message {i} line\r\n");
    while raw.len() < body_len {
        raw.extend_from_slice(line.as_bytes());
    }
    raw
}

/// The number in a crash test message's subject.
pub fn crash_index(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw.get(..200.min(raw.len()))?).ok()?;
    let rest = text.split("Subject: crash test ").nth(1)?;
    rest.split("\r\n").next()?.parse().ok()
}
