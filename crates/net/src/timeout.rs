//! Idle timeouts: every protocol bounds how long it waits for the peer
//! (DESIGN.md §5; e.g. RFC 9051 §5.4: at least 30 minutes for IMAP, RFC 5321 §4.5.3.2 for SMTP).

use std::future::Future;
use std::time::Duration;

/// The peer said nothing for longer than the allowed idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("idle for more than {after:?}")]
pub struct IdleTimeout {
    /// The limit that was exceeded.
    pub after: Duration,
}

/// Runs `fut` (typically one read of the next command) and gives up after `d`.
pub async fn with_idle_timeout<T>(
    d: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, IdleTimeout> {
    tokio::time::timeout(d, fut)
        .await
        .map_err(|_| IdleTimeout { after: d })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fast_future_yields_its_value() {
        let got = with_idle_timeout(Duration::from_secs(5), async { 42 }).await;
        assert_eq!(got, Ok(42));
    }

    #[tokio::test]
    async fn a_stalled_future_times_out() {
        let limit = Duration::from_millis(50);
        let got = with_idle_timeout(limit, std::future::pending::<()>()).await;
        assert_eq!(got, Err(IdleTimeout { after: limit }));
    }
}
