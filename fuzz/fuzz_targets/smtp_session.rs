//! The whole SMTP session on arbitrary client bytes, once as the MX and once as submission:
//! real sessions (`SmtpServer::serve`) over loopback TCP against a real SQLite store with the
//! hosted domain `example.test` (the account `u@example.test` / `pw` for AUTH). Remote
//! recipients are queued in the store; nothing delivers them. Nothing may panic, and every
//! input must end once the client half-closes.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tern_queue::{Outbound, QueueSettings};
use tern_smtp::{Kind, MemoryBudget, Settings, SmtpServer};

fn server() -> Arc<SmtpServer> {
    static SERVER: OnceLock<Arc<SmtpServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let h = tern_fuzz::harness();
            let config = tern_config::Config::default();
            let mut settings = Settings::from_config(&config);
            settings.max_message_size = 64 * 1024;
            // The client writes at once; the early-talker check would refuse every input.
            settings.greeting_delay = Duration::ZERO;
            settings.tls_handshake_timeout = Duration::from_secs(2);
            settings.command_timeout = Duration::from_secs(30);
            settings.data_timeout = Duration::from_secs(30);
            let queue = QueueSettings::from_config(&config).expect("queue settings");
            Arc::new(SmtpServer {
                store: h.store.clone(),
                auth: h.auth.clone(),
                outbound: Outbound::new(h.store.clone(), queue),
                tls: h.tls.clone(),
                hostname: "fuzz.test".into(),
                settings,
                shutdown: h.shutdown.clone(),
                verifier: None,
                memory: Arc::new(MemoryBudget::new(64 * 1024)),
            })
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let harness = tern_fuzz::harness();
    for kind in [Kind::Mx, Kind::Submission] {
        let server = server();
        harness.connect(data, |conn| server.serve(conn, kind));
    }
});
