//! Authentication for every protocol (IMAP, POP3, SMTP submission, webmail): password hashing and
//! verification, a cache of recently verified credentials, server-side SASL PLAIN and LOGIN, and
//! throttling of failed logins.
//!
//! The hashing, SASL and throttling pieces know nothing about the store; [`Authenticator`]
//! joins them with the store's account look-up into the one login path every protocol uses.

mod authenticator;
mod cache;
mod password;
mod sasl;
mod throttle;

pub use authenticator::{Authenticator, LoginError};
pub use cache::VerifiedCache;
pub use password::{hash_password, verify_password};
pub use sasl::{Credentials, Mechanism, SaslError, SaslServer, SaslStep, decode_base64_line};
pub use throttle::{Throttle, ThrottleConfig, Verdict};

/// Errors from password hashing.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Argon2 refused the parameters or the input (e.g. a password over its maximum length).
    #[error("password hashing failed: {0}")]
    Hashing(#[from] argon2::password_hash::Error),
    /// The Argon2 parameters were rejected.
    #[error("invalid Argon2 parameters: {0}")]
    Parameters(#[from] argon2::Error),
}
