//! Maildir folders (<https://cr.yp.to/proto/maildir.html>, Maildir++ subfolders as Dovecot and
//! Courier lay them out): one file per message in cur/ and new/; tmp/ holds deliveries in progress
//! and is ignored. Files are read one at a time.

mod folders;
mod info;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{DEFAULT_MAX_SIZE, Flags, ImportError, ImportedMessage, Item, classify, to_crlf};
pub use folders::maildir_folders;
use info::{KeywordNames, delivery_timestamp, flags_from_name};

/// Reads the messages of one Maildir folder (not its subfolders: see [`maildir_folders`]) in
/// delivery order: by the timestamp leading each file name, then by name.
pub struct MaildirReader {
    entries: std::vec::IntoIter<Entry>,
    len: usize,
    keyword_names: KeywordNames,
    max_size: usize,
}

struct Entry {
    path: PathBuf,
    /// "cur/NAME" or "new/NAME", for reports.
    source: String,
    file_name: String,
    in_new: bool,
}

impl MaildirReader {
    /// Lists the message files of the folder at `dir` and reads its `dovecot-keywords`.
    pub fn open(dir: &Path) -> Result<Self, ImportError> {
        if !folders::is_maildir(dir) {
            return Err(ImportError::NotMaildir(dir.to_owned()));
        }
        let mut entries = Vec::new();
        for (subdir, in_new) in [("cur", false), ("new", true)] {
            list_messages(&dir.join(subdir), subdir, in_new, &mut entries)?;
        }
        entries.sort_by(|a, b| {
            (delivery_timestamp(&a.file_name), &a.file_name)
                .cmp(&(delivery_timestamp(&b.file_name), &b.file_name))
        });
        Ok(MaildirReader {
            len: entries.len(),
            entries: entries.into_iter(),
            keyword_names: KeywordNames::load(dir)?,
            max_size: DEFAULT_MAX_SIZE,
        })
    }

    /// Messages larger than `max_size` bytes are skipped without being read.
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Number of message files found when the folder was opened, for progress.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn read_entry(&self, entry: Entry) -> Item {
        let skipped = |reason: String| Item::Skipped {
            source: entry.source.clone(),
            reason,
        };
        let (bytes, modified) = match read_limited(&entry.path, self.max_size) {
            Ok(ReadOutcome::Read { bytes, modified }) => (bytes, modified),
            Ok(ReadOutcome::TooLarge(size)) => {
                return skipped(format!(
                    "message of {size} bytes is larger than the limit of {} bytes",
                    self.max_size
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return skipped("file vanished before it could be read".to_owned());
            }
            Err(e) => return skipped(format!("cannot read file: {e}")),
        };
        let raw = to_crlf(&bytes);
        drop(bytes);
        if let Some(reason) = classify::skip_reason(&raw) {
            return skipped(reason);
        }
        // Messages in new/ have not been seen by any client yet, so they carry no flags.
        let (flags, keywords) = if entry.in_new {
            (Flags::default(), Vec::new())
        } else {
            flags_from_name(&entry.file_name, &self.keyword_names)
        };
        Item::Message(ImportedMessage {
            raw,
            flags,
            keywords,
            // Dovecot keeps a Maildir message's INTERNALDATE in the file's mtime.
            internal_date: modified.and_then(unix_seconds),
            source: entry.source,
        })
    }
}

fn list_messages(
    dir: &Path,
    subdir: &str,
    in_new: bool,
    entries: &mut Vec<Entry>,
) -> Result<(), ImportError> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        // A Maildir may lack one of cur/ and new/ (it has at least one: checked by the caller).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ImportError::Open {
                path: dir.to_owned(),
                source,
            });
        }
    };
    for dir_entry in listing {
        let dir_entry = dir_entry.map_err(|source| ImportError::Read {
            context: dir.display().to_string(),
            source,
        })?;
        let file_name = dir_entry.file_name().to_string_lossy().into_owned();
        // Hidden files are not messages (editors' and tools' leftovers); neither are directories.
        if file_name.starts_with('.') || dir_entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        entries.push(Entry {
            path: dir_entry.path(),
            source: format!("{subdir}/{file_name}"),
            file_name,
            in_new,
        });
    }
    Ok(())
}

enum ReadOutcome {
    Read {
        bytes: Vec<u8>,
        modified: Option<SystemTime>,
    },
    TooLarge(u64),
}

/// Reads a whole file unless it is larger than `max_size`; the limit also holds if the file
/// grows while it is read.
fn read_limited(path: &Path, max_size: usize) -> io::Result<ReadOutcome> {
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let limit = u64::try_from(max_size).unwrap_or(u64::MAX);
    if metadata.len() > limit {
        return Ok(ReadOutcome::TooLarge(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() > max_size {
        return Ok(ReadOutcome::TooLarge(bytes.len() as u64));
    }
    Ok(ReadOutcome::Read {
        bytes,
        modified: metadata.modified().ok(),
    })
}

fn unix_seconds(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    }
}

impl Iterator for MaildirReader {
    type Item = Result<Item, ImportError>;

    /// Never yields an error: a file that can't be read is reported as skipped.
    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        Some(Ok(self.read_entry(entry)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

#[cfg(test)]
mod tests;
