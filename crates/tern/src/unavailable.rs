//! What a listener answers for a protocol that is not built yet: the protocol's own clear
//! "service not available" reply, then the connection closes. Every listener binds (so ports,
//! TLS and `listening.json` are real), but no client is led to think the service works.

use tern_net::Connection;
use tokio::io::AsyncWriteExt;

pub fn greeting(service: &str, hostname: &str) -> String {
    match service {
        // RFC 5321 §3.8: 421 closes the transmission channel.
        "smtp" | "submission" | "submissions" => {
            format!("421 4.3.2 {hostname} {service} is not available in this Tern build yet\r\n")
        }
        // RFC 9051 §7.1.5: BYE as greeting, the server is closing the connection.
        "imap" | "imaps" => {
            format!("* BYE {hostname} IMAP is not available in this Tern build yet\r\n")
        }
        // RFC 2449 §8.1.2 / RFC 3206: SYS/PERM, not worth retrying soon.
        "pop3" | "pop3s" => {
            format!("-ERR [SYS/PERM] {hostname} POP3 is not available in this Tern build yet\r\n")
        }
        _ => {
            let body = "The Tern webmail is not available in this build yet.\n";
            format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    }
}

pub async fn answer(mut conn: Connection, service: &'static str, hostname: std::sync::Arc<str>) {
    let text = greeting(service, &hostname);
    if let Err(e) = conn.stream.write_all(text.as_bytes()).await {
        tracing::debug!(error = %e, "client left before the greeting");
    }
    let _ = conn.stream.shutdown().await;
}
