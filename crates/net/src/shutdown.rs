//! Graceful shutdown: stop accepting, let running sessions finish for a while, then cut them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The sessions of every listener that shares one [`Shutdown`]: what [`drain`] waits for.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    tracker: TaskTracker,
}

impl Sessions {
    /// Sessions (including ones still in their TLS handshake) running now.
    pub fn active(&self) -> usize {
        self.tracker.len()
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }
}

/// Fires the shutdown signal. Held by whoever decides when to stop (the binary).
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    token: CancellationToken,
    sessions: Sessions,
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// The sessions to [`drain`] after triggering.
    pub fn sessions(&self) -> Sessions {
        self.sessions.clone()
    }
}

/// The shutdown signal, cloned into every listener and into sessions that want to say goodbye
/// (IMAP `* BYE`, SMTP `421`) before the drain timeout cuts them.
#[derive(Debug, Clone)]
pub struct Shutdown {
    token: CancellationToken,
    sessions: Sessions,
}

impl Shutdown {
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let token = CancellationToken::new();
        let sessions = Sessions::default();
        (
            ShutdownTrigger {
                token: token.clone(),
                sessions: sessions.clone(),
            },
            Shutdown { token, sessions },
        )
    }

    /// Resolves once the shutdown has been triggered.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The sessions spawned by listeners serving under this signal.
    pub fn sessions(&self) -> Sessions {
        self.sessions.clone()
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C elsewhere than Unix).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
                return;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM/SIGINT; waiting for Ctrl-C only");
            }
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => tracing::info!("Ctrl-C received"),
        Err(e) => {
            // Without any signal source, never resolve rather than shutting down at once.
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// Waits at most `timeout` for the running sessions to finish and returns how many were still
/// running (and are cut when the runtime stops). Call after the shutdown was triggered, so the
/// listeners have stopped adding sessions.
pub async fn drain(sessions: &Sessions, timeout: Duration) -> usize {
    let tracker = sessions.tracker();
    tracker.close();
    let running = tracker.len();
    if running > 0 {
        tracing::info!(
            sessions = running,
            ?timeout,
            "waiting for sessions to finish"
        );
    }
    match tokio::time::timeout(timeout, tracker.wait()).await {
        Ok(()) => {
            tracing::info!("all sessions finished");
            0
        }
        Err(_) => {
            let cut = tracker.len();
            tracing::warn!(
                sessions = cut,
                ?timeout,
                "sessions still running after the drain timeout are cut"
            );
            cut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_every_clone() {
        let (trigger, shutdown) = Shutdown::new();
        let other = shutdown.clone();
        assert!(!shutdown.is_cancelled());
        let waiter = tokio::spawn(async move { other.cancelled().await });
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn drain_returns_at_once_without_sessions() {
        let (trigger, _shutdown) = Shutdown::new();
        assert_eq!(drain(&trigger.sessions(), Duration::from_secs(5)).await, 0);
    }
}
