use std::io;
use std::path::PathBuf;

/// Errors that stop an import. Problems with single messages are not errors: they are
/// reported as [`crate::Item::Skipped`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("read error in {context}: {source}")]
    Read { context: String, source: io::Error },
    #[error("{0} is not a Maildir: it has neither a cur/ nor a new/ directory")]
    NotMaildir(PathBuf),
}
