//! mbox files (mboxrd and mboxo, as written by mutt, Thunderbird, Dovecot, formail): one file, each
//! message introduced by a "From " separator line (RFC 4155 §2). The file is read line by line and
//! at most one message is held in memory.

mod from_line;
mod lines;
mod status;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::{DEFAULT_MAX_SIZE, Flags, ImportError, ImportedMessage, Item, classify, to_crlf};
use from_line::from_line_date;
use lines::read_line_capped;
use status::apply_status_header;

/// The blank line an mbox writer adds after each message belongs to the file format, not to the
/// message; the buffer may hold it (up to CRLF) on top of the size limit until it is recognized.
const SEPARATOR_ALLOWANCE: usize = 2;

/// Reads the messages of an mbox one at a time.
///
/// A message starts at a line beginning with "From " that follows a blank line (or opens the file);
/// `Content-Length:` is ignored, as mutt and Dovecot do. Lines matching `^>+From ` lose one '>'
/// (mboxrd quoting; for mboxo this un-quotes the lines that were quoted). Status headers become
/// flags and keywords (`Status:`, `X-Status:`, `X-Mozilla-Status:`, `X-Keywords:`); every header is kept as it is in the stored bytes.
pub struct MboxReader<R: BufRead> {
    reader: R,
    max_size: usize,
    /// The current message as read, after un-quoting; never longer than the size limit allows.
    buf: Vec<u8>,
    /// The first bytes of the line just read.
    head: Vec<u8>,
    current: MessageState,
    lines_read: u64,
    bytes_read: u64,
    messages_reported: u64,
    at_end: bool,
    failed: bool,
}

/// What is known about the message being read, besides its bytes.
struct MessageState {
    /// Line number of its "From " line; `None` for text before the first separator.
    from_line: Option<u64>,
    internal_date: Option<i64>,
    in_header: bool,
    flags: Flags,
    keywords: Vec<String>,
    /// Message size in bytes as read (after un-quoting), whether stored or not.
    size: usize,
    oversized: bool,
    /// Length of the previous line if it was blank: a "From " line may follow it.
    previous_blank: Option<usize>,
}

impl MessageState {
    fn new(from_line: Option<u64>, internal_date: Option<i64>) -> Self {
        MessageState {
            from_line,
            internal_date,
            in_header: true,
            flags: Flags::default(),
            keywords: Vec::new(),
            size: 0,
            oversized: false,
            previous_blank: None,
        }
    }
}

/// Opens an mbox file for reading. Its size (from the file's metadata) is what progress is measured
/// against; see [`MboxReader::bytes_read`].
pub fn open_mbox(path: &Path) -> Result<MboxReader<BufReader<File>>, ImportError> {
    let file = File::open(path).map_err(|source| ImportError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(MboxReader::new(BufReader::with_capacity(64 * 1024, file)))
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(reader: R) -> Self {
        MboxReader {
            reader,
            max_size: DEFAULT_MAX_SIZE,
            buf: Vec::new(),
            head: Vec::new(),
            current: MessageState::new(None, None),
            lines_read: 0,
            bytes_read: 0,
            messages_reported: 0,
            at_end: false,
            failed: false,
        }
    }

    /// Messages larger than `max_size` bytes are skipped; the reader goes on to the next one
    /// without buffering more than the limit.
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Bytes consumed from the input so far, for progress against the file size.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn read_next(&mut self) -> Result<Option<Item>, ImportError> {
        while !self.at_end {
            let line_start = self.buf.len();
            let store_limit = if self.current.oversized {
                0
            } else {
                self.max_size.saturating_add(SEPARATOR_ALLOWANCE)
            };
            let line_len =
                read_line_capped(&mut self.reader, &mut self.buf, store_limit, &mut self.head)
                    .map_err(|source| ImportError::Read {
                        context: format!("mbox after line {}", self.lines_read),
                        source,
                    })?;
            if line_len == 0 {
                self.at_end = true;
                let finished = std::mem::replace(&mut self.current, MessageState::new(None, None));
                return Ok(self.finish(finished));
            }
            self.lines_read += 1;
            self.bytes_read += line_len as u64;

            if self.is_separator() {
                self.buf.truncate(line_start);
                let next = MessageState::new(Some(self.lines_read), from_line_date(&self.head));
                let finished = std::mem::replace(&mut self.current, next);
                if let Some(item) = self.finish(finished) {
                    return Ok(Some(item));
                }
            } else {
                self.add_line(line_start, line_len);
            }
        }
        Ok(None)
    }

    /// RFC 4155 §2: a "From " line at the start of the file or after a blank line opens a message.
    fn is_separator(&self) -> bool {
        self.head.starts_with(b"From ")
            && (self.lines_read == 1 || self.current.previous_blank.is_some())
    }

    /// Accounts for a content line already appended to `buf` at `line_start`.
    fn add_line(&mut self, line_start: usize, mut line_len: usize) {
        let quotes = self.head.iter().take_while(|&&b| b == b'>').count();
        if quotes > 0 && self.head[quotes..].starts_with(b"From ") {
            // mboxrd: writers add one '>' to every line matching ^>*From , so remove one.
            if self.buf.len() > line_start {
                self.buf.remove(line_start);
            }
            line_len -= 1;
        }

        let is_blank = self.head == b"\n" || self.head == b"\r\n";
        let current = &mut self.current;
        if current.in_header {
            if is_blank {
                current.in_header = false;
            } else {
                apply_status_header(&self.head, &mut current.flags, &mut current.keywords);
            }
        }
        current.previous_blank = is_blank.then_some(line_len);
        current.size = current.size.saturating_add(line_len);
        if !current.oversized && current.size > self.max_size.saturating_add(SEPARATOR_ALLOWANCE) {
            current.oversized = true;
            self.buf.clear();
        }
    }

    /// Turns a fully read message into an item, leaving `buf` empty for the next one.
    /// Returns `None` for blank text before the first separator, which is not a message.
    fn finish(&mut self, mut state: MessageState) -> Option<Item> {
        // The blank line that ends each message in an mbox is not part of the message.
        if let Some(blank_len) = state.previous_blank {
            let kept = self.buf.len().saturating_sub(blank_len);
            self.buf.truncate(kept);
            state.size -= blank_len;
        }
        let is_preamble = state.from_line.is_none();
        if is_preamble && !state.oversized && self.buf.iter().all(u8::is_ascii_whitespace) {
            self.buf.clear();
            return None;
        }

        self.messages_reported += 1;
        let source = format!(
            "mbox message #{} (line {})",
            self.messages_reported,
            state.from_line.unwrap_or(1)
        );
        let item = if state.oversized || state.size > self.max_size {
            Item::Skipped {
                source,
                reason: format!(
                    "message of {} bytes is larger than the limit of {} bytes",
                    state.size, self.max_size
                ),
            }
        } else {
            let raw = to_crlf(&self.buf);
            match classify::skip_reason(&raw) {
                Some(reason) => Item::Skipped { source, reason },
                None => Item::Message(ImportedMessage {
                    raw,
                    flags: state.flags,
                    keywords: state.keywords,
                    internal_date: state.internal_date,
                    source,
                }),
            }
        };
        self.buf.clear();
        Some(item)
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = Result<Item, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.read_next() {
            Ok(item) => item.map(Ok),
            Err(error) => {
                // An I/O error leaves the position unknown: stop rather than guess.
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests;
