//! Tern's network layer: listeners, TLS (rustls with aws-lc-rs), implicit TLS and STARTTLS,
//! connection limits, idle timeouts and graceful shutdown (DESIGN.md §3, §5).
//!
//! Every protocol crate accepts its connections through [`Listener::serve`] and gets a
//! [`Connection`]; this crate knows nothing about any protocol.

mod error;
mod limits;
mod listener;
mod shutdown;
mod stream;
mod timeout;
mod tls;

#[cfg(test)]
mod test_support;

pub use error::NetError;
pub use limits::{ConnGuard, ConnLimiter, LimitExceeded, Limits};
pub use listener::{Connection, Listener, TlsMode};
pub use shutdown::{Sessions, Shutdown, ShutdownTrigger, drain, wait_for_signal};
pub use stream::MaybeTlsStream;
pub use timeout::{IdleTimeout, with_idle_timeout};
pub use tls::{install_crypto_provider, load_or_create_tls};

/// Re-exported so protocol crates can build a STARTTLS acceptor without naming the dependency.
pub use tokio_rustls::TlsAcceptor;
