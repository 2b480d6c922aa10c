//! Streaming readers for existing mail: mbox files and Maildir folders.
//!
//! This crate only reads. Each reader is an iterator of [`Item`]s: a message ready to be stored
//! ([`ImportedMessage`], bytes already in CRLF form) or a message that was skipped, with the reason,
//! so that an import can report it and go on. Readers hold at most one message in memory.

mod classify;
mod crlf;
mod error;
mod maildir;
mod mbox;

pub use crlf::to_crlf;
pub use error::ImportError;
pub use maildir::{MaildirReader, maildir_folders};
pub use mbox::{MboxReader, open_mbox};

/// Messages larger than this are skipped unless a reader is given another limit with `with_max_size`.
pub const DEFAULT_MAX_SIZE: usize = 64 * 1024 * 1024;

/// One message read from the source, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMessage {
    /// The message bytes as they should be stored: CRLF line endings (RFC 5322 §2.1), otherwise as read.
    pub raw: Vec<u8>,
    /// System flags known from the source.
    pub flags: Flags,
    /// Keyword names (Maildir lowercase letters mapped through `dovecot-keywords`).
    pub keywords: Vec<String>,
    /// Unix seconds: the mbox "From " line date; for Maildir the file's mtime (Dovecot's convention).
    pub internal_date: Option<i64>,
    /// Where the message came from, for reports: "mbox message #12 (line 3456)" or `cur/FILE_NAME` / `new/FILE_NAME`.
    pub source: String,
}

/// IMAP system flags (RFC 9051 §2.3.2), without `\Recent`.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
}

/// What a reader yields for each message in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Message(ImportedMessage),
    Skipped { source: String, reason: String },
}
