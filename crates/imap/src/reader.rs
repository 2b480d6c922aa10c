//! Framing of client input before imap-codec parses it: lines and literals, with limits.
//!
//! A command is one or more lines joined by literals (RFC 9051 §4.3, §7.5 command continuation
//! request; RFC 7888 LITERAL+). This reader collects one whole command, answering `+` to
//! synchronizing literals it accepts, and refuses a literal over the limit *before* reading any
//! of its bytes: a synchronizing one is answered with a tagged NO (the client then sends no
//! data), a non-synchronizing one cannot be refused politely because its bytes are already on the
//! way, so the session says BYE and closes (RFC 7888 §4).
//!
//! The reader reads only when it needs more bytes, so pipelined commands wait in the socket:
//! the input buffered here is bounded by one line plus one literal.

use bytes::{Buf, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a command may weigh.
#[derive(Debug, Clone, Copy)]
pub struct ReaderLimits {
    /// Longest line (without its literals), CRLF included.
    pub max_line: usize,
    /// Largest literal of an APPEND (the message size limit).
    pub max_append_literal: u64,
    /// Largest literal of any other command (mailbox names, search strings, passwords).
    pub max_other_literal: u64,
    /// Largest whole command, literals included.
    pub max_command: u64,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            // Dovecot's imap_max_line_length is 64 KiB too: long UID sets from clients fit.
            max_line: 64 * 1024,
            max_append_literal: 50 * 1024 * 1024,
            max_other_literal: 64 * 1024,
            max_command: 50 * 1024 * 1024 + 128 * 1024,
        }
    }
}

/// Largest literal taken before login: a user name or password as a literal (RFC 9051 §6.2.3)
/// is far smaller, and an unauthenticated peer must not make the server hold megabytes.
pub const MAX_LITERAL_BEFORE_LOGIN: u64 = 8 * 1024;

impl ReaderLimits {
    /// The limits of a session not yet authenticated: no APPEND literal at all (APPEND cannot
    /// succeed before login, so no `+` is announced for it) and small literals otherwise.
    /// RFC 9051 §7.5 lets the server refuse a literal before the continuation request.
    pub fn before_login(self) -> ReaderLimits {
        ReaderLimits {
            max_line: self.max_line.min(MAX_LITERAL_BEFORE_LOGIN as usize),
            max_append_literal: 0,
            max_other_literal: self.max_other_literal.min(MAX_LITERAL_BEFORE_LOGIN),
            max_command: self.max_command.min(4 * MAX_LITERAL_BEFORE_LOGIN),
        }
    }
}

/// One complete unit of client input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole command (lines and literals as sent), ready for imap-codec's `CommandCodec`.
    Command(Vec<u8>),
    /// The command announced a synchronizing literal over the limit; no literal byte was read
    /// and the client, having had no `+`, sends none (RFC 9051 §7.5). Answer NO and go on.
    LiteralRefused {
        tag: Option<String>,
        length: u64,
        limit: u64,
    },
}

/// Why the connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("client closed the connection")]
    Closed,
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    /// A non-synchronizing literal over the limit: its bytes are already on the way.
    #[error("non-synchronizing literal of {length} bytes exceeds the limit of {limit}")]
    NonSyncLiteralTooLarge { length: u64, limit: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How big a read we ask for at once.
const READ_CHUNK: usize = 8 * 1024;

/// Buffered reading of lines and literals from the client.
#[derive(Debug, Default)]
pub struct CommandReader {
    buf: BytesMut,
    /// Bytes of `buf` already searched for a line feed.
    scanned: usize,
}

impl CommandReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the client sent bytes not consumed yet (pipelining).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Drops input received but not processed yet: after STARTTLS, anything sent before the
    /// handshake is untrusted (RFC 9051 §6.2.1, the CVE-2011-0411 injection).
    pub fn discard_buffered(&mut self) {
        self.buf = BytesMut::new();
        self.scanned = 0;
    }

    /// Gives back memory between commands so idle sessions stay small: an empty buffer is
    /// freed (the next read allocates again), a large one with little left is shrunk.
    fn shrink(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        } else if self.buf.capacity() > 4 * READ_CHUNK && self.buf.len() < READ_CHUNK {
            let rest = BytesMut::from(&self.buf[..]);
            self.buf = rest;
        }
    }

    /// Reads one line (with its line ending) without any literal handling: AUTHENTICATE
    /// responses and IDLE's DONE. Cancel-safe: nothing is lost when the future is dropped.
    pub async fn read_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        max_line: usize,
    ) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(end) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + end + 1;
                if end > max_line {
                    return Err(ReadError::LineTooLong(max_line));
                }
                self.scanned = 0;
                let line = self.buf.split_to(end).to_vec();
                self.shrink();
                return Ok(line);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > max_line {
                return Err(ReadError::LineTooLong(max_line));
            }
            self.fill(stream).await?;
        }
    }

    async fn fill<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> Result<(), ReadError> {
        self.buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut self.buf).await? == 0 {
            return Err(ReadError::Closed);
        }
        Ok(())
    }

    /// Reads one whole command. Sends `+` continuation requests for the synchronizing
    /// literals it accepts.
    pub async fn read_command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        limits: &ReaderLimits,
    ) -> Result<Frame, ReadError> {
        let mut command = Vec::new();
        loop {
            let line = self.read_line(stream, limits.max_line).await?;
            command.extend_from_slice(&line);
            let Some(literal) = literal_announcement(&line) else {
                return Ok(Frame::Command(command));
            };
            let limit = if is_append(&command) {
                limits.max_append_literal
            } else {
                limits.max_other_literal
            };
            let limit = limit.min(limits.max_command.saturating_sub(command.len() as u64));
            if literal.length > limit {
                if literal.synchronizing {
                    return Ok(Frame::LiteralRefused {
                        tag: tag_of(&command),
                        length: literal.length,
                        limit,
                    });
                }
                return Err(ReadError::NonSyncLiteralTooLarge {
                    length: literal.length,
                    limit,
                });
            }
            if literal.synchronizing {
                stream.write_all(b"+ Ready for literal data\r\n").await?;
                stream.flush().await?;
            }
            // The limit above keeps this within usize on every platform we build for.
            let length =
                usize::try_from(literal.length).map_err(|_| ReadError::NonSyncLiteralTooLarge {
                    length: literal.length,
                    limit,
                })?;
            self.read_literal(stream, length, &mut command).await?;
        }
    }

    async fn read_literal<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        length: usize,
        into: &mut Vec<u8>,
    ) -> Result<(), ReadError> {
        into.reserve(length);
        let mut remaining = length;
        loop {
            let take = remaining.min(self.buf.len());
            into.extend_from_slice(&self.buf[..take]);
            self.buf.advance(take);
            remaining -= take;
            if remaining == 0 {
                self.scanned = 0;
                return Ok(());
            }
            self.fill(stream).await?;
        }
    }
}

/// A literal announced at the end of a line: `{N}`, `{N+}` (RFC 7888) or `~{N}` (RFC 3516).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announcement {
    length: u64,
    synchronizing: bool,
}

fn literal_announcement(line: &[u8]) -> Option<Announcement> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let inner = &inner[open + 1..];
    let (digits, synchronizing) = match inner.strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (inner, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(Announcement {
        length,
        synchronizing,
    })
}

/// The tag: the first word of a command, if it looks like one (RFC 9051 §9 `tag`).
pub fn tag_of(command: &[u8]) -> Option<String> {
    let end = command
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(command.len());
    let tag = &command[..end];
    let valid = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|&b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    valid.then(|| String::from_utf8_lossy(tag).into_owned())
}

/// True when the command's name (the second word) is APPEND.
fn is_append(command: &[u8]) -> bool {
    command
        .split(|&b| b == b' ')
        .nth(1)
        .is_some_and(|word| word.eq_ignore_ascii_case(b"APPEND"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn limits() -> ReaderLimits {
        ReaderLimits {
            max_line: 100,
            max_append_literal: 1000,
            max_other_literal: 10,
            max_command: 2000,
        }
    }

    async fn frames(input: &[u8]) -> (Vec<Result<Frame, String>>, Vec<u8>) {
        let (mut client, mut server) = duplex(1 << 16);
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut reader = CommandReader::new();
        let mut out = Vec::new();
        loop {
            match reader.read_command(&mut server, &limits()).await {
                Ok(frame) => out.push(Ok(frame)),
                Err(ReadError::Closed) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        drop(server);
        let mut sent = Vec::new();
        client.read_to_end(&mut sent).await.unwrap();
        (out, sent)
    }

    #[tokio::test]
    async fn lines_and_literals() {
        let (got, sent) =
            frames(b"a NOOP\r\nb LOGIN {3}\r\nbob {2+}\r\npw\r\nc APPEND INBOX {5}\r\nhello\r\n")
                .await;
        assert_eq!(
            got,
            vec![
                Ok(Frame::Command(b"a NOOP\r\n".to_vec())),
                Ok(Frame::Command(
                    b"b LOGIN {3}\r\nbob {2+}\r\npw\r\n".to_vec()
                )),
                Ok(Frame::Command(b"c APPEND INBOX {5}\r\nhello\r\n".to_vec())),
            ]
        );
        // One `+` for each synchronizing literal, none for LITERAL+.
        assert_eq!(sent, b"+ Ready for literal data\r\n".repeat(2));
    }

    #[tokio::test]
    async fn a_huge_synchronizing_literal_is_refused_before_any_byte() {
        let (got, sent) = frames(b"x1 LOGIN {4294967295}\r\nx2 NOOP\r\n").await;
        assert_eq!(
            got,
            vec![
                Ok(Frame::LiteralRefused {
                    tag: Some("x1".into()),
                    length: 4_294_967_295,
                    limit: 10
                }),
                Ok(Frame::Command(b"x2 NOOP\r\n".to_vec())),
            ]
        );
        assert!(sent.is_empty(), "no continuation for a refused literal");
    }

    #[tokio::test]
    async fn append_gets_the_larger_limit_and_nonsync_overflow_is_fatal() {
        let (got, _) = frames(b"a APPEND INBOX {1001+}\r\n").await;
        assert!(got[0].is_err(), "{got:?}");
        let (got, _) = frames(b"a APPEND INBOX {1001}\r\n").await;
        assert!(matches!(
            got[0],
            Ok(Frame::LiteralRefused { limit: 1000, .. })
        ));
    }

    #[tokio::test]
    async fn a_multiappend_is_bounded_per_message_and_in_total() {
        // RFC 3502: each message is a literal of its own; each gets the APPEND limit, and all
        // of them together the command limit, checked before each literal's bytes are read.
        let message = vec![b'x'; 900];
        let mut input = b"a APPEND INBOX {900}\r\n".to_vec();
        input.extend_from_slice(&message);
        input.extend_from_slice(b" {900}\r\n");
        input.extend_from_slice(&message);
        input.extend_from_slice(b" {900}\r\n");
        input.extend_from_slice(&message);
        input.extend_from_slice(b"\r\nb NOOP\r\n");
        let (got, sent) = frames(&input).await;
        assert!(
            matches!(got[0], Ok(Frame::LiteralRefused { length: 900, limit, .. }) if limit < 900),
            "{:?}",
            got[0]
        );
        assert_eq!(
            sent,
            b"+ Ready for literal data\r\n".repeat(2),
            "no `+` for the third"
        );
    }

    #[tokio::test]
    async fn long_lines_are_fatal() {
        let mut input = b"a NOOP ".to_vec();
        input.extend(vec![b'x'; 200]);
        let (got, _) = frames(&input).await;
        assert_eq!(got, vec![Err("line longer than 100 bytes".into())]);
    }

    #[test]
    fn announcements() {
        let a = |s: &[u8]| literal_announcement(s);
        assert_eq!(
            a(b"a {12}\r\n"),
            Some(Announcement {
                length: 12,
                synchronizing: true
            })
        );
        assert_eq!(
            a(b"a ~{3+}\n"),
            Some(Announcement {
                length: 3,
                synchronizing: false
            })
        );
        assert_eq!(a(b"a {}\r\n"), None);
        assert_eq!(a(b"a {1a}\r\n"), None);
        assert_eq!(a(b"a {99999999999999999999}\r\n"), None);
        assert_eq!(a(b"a NOOP\r\n"), None);
    }

    #[test]
    fn tags() {
        assert_eq!(tag_of(b"a1 NOOP\r\n").as_deref(), Some("a1"));
        assert_eq!(tag_of(b"* NOOP\r\n"), None);
        assert_eq!(tag_of(b"\r\n"), None);
    }
}
