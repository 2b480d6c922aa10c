//! Reading an SMTP session's input with bounds: command lines (RFC 5321 §4.5.3.1.4 says 512
//! octets; extensions make them longer, so up to [`MAX_COMMAND_LINE`]), dot-stuffed DATA
//! (§4.5.2) and BDAT chunks (RFC 3030), and writing replies, flushed only when the client
//! waits for them (PIPELINING, RFC 2920 §3.1).

use std::time::Duration;
use tern_net::MaybeTlsStream;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Longest command line accepted, CRLF included.
pub const MAX_COMMAND_LINE: usize = 4096;
/// Largest header section accepted in a message (Postfix's header_size_limit is 100 KiB).
pub const MAX_HEADER_BYTES: usize = 256 * 1024;

/// One line read from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line with its line end.
    Complete(Vec<u8>),
    /// Longer than allowed; it was read up to its end and dropped.
    TooLong,
    /// The client closed the connection (a partial last line is dropped).
    Eof,
}

/// Reads one line of at most `max` bytes (line end included) from `reader`. A longer line is
/// consumed to its end and reported as [`Line::TooLong`], so the session stays in step.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        reader.consume(take);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete(line)
            });
        }
    }
}

/// How a DATA section ended.
#[derive(Debug, PartialEq, Eq)]
pub enum DataEnd {
    Complete,
    /// Larger than the limit; the rest was read and dropped (SMTP `552 5.3.4`).
    TooBig,
    /// The header section alone is larger than [`MAX_HEADER_BYTES`].
    HeaderTooBig,
    Eof,
}

/// Reads a DATA section up to the lone dot, undoing dot-stuffing (RFC 5321 §4.5.2) and
/// turning bare LF line ends into CRLF. The end is `CRLF.CRLF` only: a dot line after a bare
/// LF is data (the SMTP smuggling fix, CVE-2023-51764). Keeps at most `max` bytes.
pub async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
    timeout: Duration,
) -> std::io::Result<(Vec<u8>, DataEnd)> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut header_bytes = 0usize;
    let mut in_header = true;
    let mut header_too_big = false;
    let mut after_crlf = true;
    loop {
        let line = tokio::time::timeout(timeout, read_line(reader, max.saturating_add(5)))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "data timeout"))??;
        let line = match line {
            Line::Eof => return Ok((body, DataEnd::Eof)),
            Line::TooLong => {
                too_big = true;
                after_crlf = true;
                continue;
            }
            Line::Complete(line) => line,
        };
        if after_crlf && line == b".\r\n" {
            let end = if header_too_big {
                DataEnd::HeaderTooBig
            } else if too_big {
                DataEnd::TooBig
            } else {
                DataEnd::Complete
            };
            return Ok((body, end));
        }
        after_crlf = line.ends_with(b"\r\n");
        let content = line.strip_prefix(b".").unwrap_or(&line);
        let content = content.strip_suffix(b"\n").unwrap_or(content);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if in_header {
            if content.is_empty() {
                in_header = false;
            } else {
                header_bytes += content.len() + 2;
                if header_bytes > MAX_HEADER_BYTES {
                    header_too_big = true;
                }
            }
        }
        if too_big || header_too_big {
            continue;
        }
        if body.len() + content.len() + 2 > max {
            too_big = true;
            body = Vec::new();
            continue;
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
}

/// The session's connection: buffered input, and replies collected until a flush.
pub struct SmtpIo {
    pub reader: BufReader<MaybeTlsStream>,
    out: Vec<u8>,
}

impl SmtpIo {
    pub fn new(stream: MaybeTlsStream) -> SmtpIo {
        SmtpIo {
            reader: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::with_capacity(1024),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.reader.get_ref().is_tls()
    }

    /// Queues a reply; it is sent at the next flush.
    pub fn push(&mut self, reply: &[u8]) {
        self.out.extend_from_slice(reply);
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            let stream = self.reader.get_mut();
            stream.write_all(&self.out).await?;
            stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// RFC 2920 §3.1: replies may wait while the client still has commands in flight; once
    /// its input is drained, it waits for us.
    pub async fn flush_if_idle(&mut self) -> std::io::Result<()> {
        if self.reader.buffer().is_empty() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Reads exactly `size` bytes of a BDAT chunk, keeping them in `sink` when given.
    pub async fn read_chunk(
        &mut self,
        mut size: usize,
        mut sink: Option<&mut Vec<u8>>,
        timeout: Duration,
    ) -> std::io::Result<bool> {
        while size > 0 {
            let buf = tokio::time::timeout(timeout, self.reader.fill_buf())
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "data timeout"))??;
            if buf.is_empty() {
                return Ok(false);
            }
            let take = buf.len().min(size);
            if let Some(sink) = sink.as_deref_mut() {
                sink.extend_from_slice(&buf[..take]);
            }
            self.reader.consume(take);
            size -= take;
        }
        Ok(true)
    }

    /// For STARTTLS: the stream without what the client sent after the command, which is
    /// dropped (RFC 3207 §4.2, CVE-2011-0411).
    pub fn into_stream(self) -> MaybeTlsStream {
        self.reader.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn data(input: &[u8], max: usize) -> (Vec<u8>, DataEnd) {
        let mut reader = input;
        read_data(&mut reader, max, Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn lines_are_bounded_and_the_session_stays_in_step() {
        let mut input: &[u8] = b"NOOP\r\nXXXXXXXXXXXXXXXXXXXXXXXX\r\nQUIT\r\npartial";
        assert_eq!(
            read_line(&mut input, 10).await.unwrap(),
            Line::Complete(b"NOOP\r\n".to_vec())
        );
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::TooLong);
        assert_eq!(
            read_line(&mut input, 10).await.unwrap(),
            Line::Complete(b"QUIT\r\n".to_vec())
        );
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::Eof);
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_ends_only_at_crlf_dot_crlf() {
        let (body, end) = data(
            b"Subject: x\r\n\r\n..dot\r\nbare\n.\nmore\r\n.\r\nNOOP\r\n",
            1000,
        )
        .await;
        assert_eq!(end, DataEnd::Complete);
        assert_eq!(
            body,
            b"Subject: x\r\n\r\n.dot\r\nbare\r\n\r\nmore\r\n".to_vec()
        );
    }

    #[tokio::test]
    async fn too_big_data_is_read_to_its_end() {
        let mut input: &[u8] = b"0123456789\r\n0123456789\r\n.\r\nNEXT\r\n";
        let (body, end) = read_data(&mut input, 15, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(end, DataEnd::TooBig);
        assert!(body.is_empty());
        assert_eq!(input, b"NEXT\r\n");
    }

    #[tokio::test]
    async fn a_huge_header_is_refused_but_consumed() {
        let mut input = Vec::new();
        for _ in 0..(MAX_HEADER_BYTES / 10 + 10) {
            input.extend_from_slice(b"X-A: 1234\r\n");
        }
        input.extend_from_slice(b"\r\nbody\r\n.\r\n");
        let (_, end) = data(&input, 10 * MAX_HEADER_BYTES).await;
        assert_eq!(end, DataEnd::HeaderTooBig);
    }

    #[tokio::test]
    async fn eof_inside_data_is_reported() {
        assert_eq!(data(b"Subject: x\r\n", 100).await.1, DataEnd::Eof);
    }
}
