//! The whole IMAP session on arbitrary client bytes: a real session (`tern_imap::serve`) over
//! loopback TCP against a real SQLite store, logged in or not as the input says (the corpus
//! logs in as `u@example.test` / `pw`). Nothing may panic, and every input must end: the
//! client half-closes after its bytes, so a session that waits for more is a hang.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tern_imap::{ImapConfig, ReaderLimits};

fn config() -> Arc<ImapConfig> {
    static CONFIG: OnceLock<Arc<ImapConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let h = tern_fuzz::harness();
            Arc::new(ImapConfig {
                hostname: "fuzz.test".into(),
                store: h.store.clone(),
                auth: h.auth.clone(),
                tls: h.tls.clone(),
                tls_handshake_timeout: Duration::from_secs(2),
                shutdown: h.shutdown.clone(),
                idle_timeout: Duration::from_secs(30),
                limits: ReaderLimits {
                    max_line: 8 * 1024,
                    max_append_literal: 64 * 1024,
                    max_other_literal: 4 * 1024,
                    max_command: 128 * 1024,
                },
                views: tern_imap::ViewCache::default(),
            })
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    tern_fuzz::harness().connect(data, |conn| tern_imap::serve(conn, config));
});
