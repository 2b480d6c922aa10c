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

/// Where a message goes as it arrives: a spool file in the server, memory in tests.
pub trait Sink: Send {
    fn put(&mut self, bytes: &[u8]) -> impl Future<Output = std::io::Result<()>> + Send;
}

impl Sink for Vec<u8> {
    async fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl Sink for tern_store::Spool {
    async fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(bytes).await
    }
}

/// Where the decoder is in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// The start of a line after a CRLF (or of the data): a dot here is stuffing or the end.
    LineStart,
    /// The start of a line after a bare LF: a dot is stuffing, never the end (the SMTP
    /// smuggling fix, CVE-2023-51764).
    AfterLf,
    /// A dot at a line start.
    Dot,
    /// `.` CR at a line start: the end if LF follows.
    DotCr,
    /// Inside a line.
    Mid,
    /// A CR inside a line: a line end with LF, a bare CR otherwise.
    Cr,
}

/// Turns the bytes of DATA (RFC 5321 §4.5.2, dot-stuffed, ended by CRLF.CRLF) or of BDAT
/// chunks (RFC 3030, as they are) into the message: every line end CRLF, so a bare CR or a
/// bare LF means the same here and at the next hop (RFC 5321 §2.3.8; Postfix does the same
/// since the 2023 smuggling reports). Keeps at most `max` bytes and counts the header.
#[derive(Debug)]
pub struct Decoder {
    at: At,
    dot_stuffed: bool,
    max: usize,
    len: usize,
    line_len: usize,
    in_header: bool,
    header_bytes: usize,
    too_big: bool,
}

impl Decoder {
    /// For DATA: dot-stuffing undone, the lone dot ends it.
    pub fn data(max: usize) -> Decoder {
        Decoder::new(true, max)
    }

    /// For BDAT: no stuffing and no end marker, the chunk sizes frame the message.
    pub fn chunks(max: usize) -> Decoder {
        Decoder::new(false, max)
    }

    fn new(dot_stuffed: bool, max: usize) -> Decoder {
        Decoder {
            at: At::LineStart,
            dot_stuffed,
            max,
            len: 0,
            line_len: 0,
            in_header: true,
            header_bytes: 0,
            too_big: false,
        }
    }

    /// Decodes `input` into `out`; with DATA, `Some(n)` when the end marker was found after
    /// the first `n` bytes (the rest is the client's next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let mut index = 0;
        while index < input.len() {
            if self.at == At::Mid {
                // The common case: a run of ordinary bytes up to the next CR or LF, at once.
                let rest = &input[index..];
                let run = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                if run > 0 {
                    self.line_len += run;
                    self.emit(&rest[..run], out);
                    index += run;
                    continue;
                }
            }
            if self.step(input[index], out) {
                return Some(index + 1);
            }
            index += 1;
        }
        None
    }

    /// The end of BDAT's last chunk (or of the input): a CR still pending was a bare one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if matches!(self.at, At::Cr | At::DotCr) {
            self.line_end(out);
            self.at = At::Mid;
        }
    }

    /// How the message ended, once it has.
    pub fn end(&self) -> DataEnd {
        if self.header_bytes > MAX_HEADER_BYTES {
            DataEnd::HeaderTooBig
        } else if self.too_big {
            DataEnd::TooBig
        } else {
            DataEnd::Complete
        }
    }

    /// True when the byte ended the data.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> bool {
        match self.at {
            At::LineStart if self.dot_stuffed && byte == b'.' => self.at = At::Dot,
            // Stuffing after a bare LF: the dot is dropped, but it never ends the data.
            At::AfterLf if self.dot_stuffed && byte == b'.' => self.at = At::Mid,
            At::Dot if byte == b'\r' => self.at = At::DotCr,
            // The dot was stuffing (`..x`) or a line of its own after a bare LF.
            At::Dot => self.byte(byte, out),
            At::DotCr if byte == b'\n' => return true,
            At::DotCr | At::Cr => {
                if byte == b'\n' {
                    self.line_end(out);
                    self.at = At::LineStart;
                } else {
                    // A bare CR: a line end here, but not a line start a client would stuff.
                    self.line_end(out);
                    self.at = At::Mid;
                    self.byte(byte, out);
                }
            }
            At::LineStart | At::AfterLf | At::Mid => self.byte(byte, out),
        }
        false
    }

    fn byte(&mut self, byte: u8, out: &mut Vec<u8>) {
        match byte {
            b'\r' => self.at = At::Cr,
            b'\n' => {
                self.line_end(out);
                self.at = At::AfterLf;
            }
            _ => {
                self.line_len += 1;
                self.emit(&[byte], out);
                self.at = At::Mid;
            }
        }
    }

    fn line_end(&mut self, out: &mut Vec<u8>) {
        if self.in_header {
            if self.line_len == 0 {
                self.in_header = false;
            } else {
                self.header_bytes += self.line_len + 2;
            }
        }
        self.line_len = 0;
        self.emit(b"\r\n", out);
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.too_big || self.header_bytes > MAX_HEADER_BYTES {
            return;
        }
        if self.len + bytes.len() > self.max {
            self.too_big = true;
            return;
        }
        self.len += bytes.len();
        out.extend_from_slice(bytes);
    }
}

/// Reads a DATA section up to the lone dot into `sink` (see [`Decoder`]); only one read
/// buffer of the message is in memory at a time. `timeout` bounds each wait for input.
pub async fn read_data<R: AsyncBufRead + Unpin, S: Sink>(
    reader: &mut R,
    sink: &mut S,
    max: usize,
    timeout: Duration,
) -> std::io::Result<DataEnd> {
    let mut decoder = Decoder::data(max);
    let mut out = Vec::new();
    loop {
        let buf = tokio::time::timeout(timeout, reader.fill_buf())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "data timeout"))??;
        if buf.is_empty() {
            return Ok(DataEnd::Eof);
        }
        let found = decoder.feed(buf, &mut out);
        let used = found.unwrap_or(buf.len());
        reader.consume(used);
        if !out.is_empty() {
            sink.put(&out).await?;
            out.clear();
        }
        if found.is_some() {
            return Ok(decoder.end());
        }
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

    /// Reads exactly `size` bytes of a BDAT chunk, decoded into `sink` when given.
    pub async fn read_chunk<S: Sink>(
        &mut self,
        mut size: usize,
        mut sink: Option<(&mut Decoder, &mut S)>,
        timeout: Duration,
    ) -> std::io::Result<bool> {
        let mut out = Vec::new();
        while size > 0 {
            let buf = tokio::time::timeout(timeout, self.reader.fill_buf())
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "data timeout"))??;
            if buf.is_empty() {
                return Ok(false);
            }
            let take = buf.len().min(size);
            if let Some((decoder, _)) = sink.as_mut() {
                decoder.feed(&buf[..take], &mut out);
            }
            self.reader.consume(take);
            size -= take;
            if let Some((_, spool)) = sink.as_mut()
                && !out.is_empty()
            {
                spool.put(&out).await?;
                out.clear();
            }
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
        let mut body = Vec::new();
        let end = read_data(&mut reader, &mut body, max, Duration::from_secs(5))
            .await
            .unwrap();
        (body, end)
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
        let mut body = Vec::new();
        let end = read_data(&mut input, &mut body, 15, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(end, DataEnd::TooBig);
        assert!(body.len() <= 15);
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

    /// The SMTP smuggling variants with bare CR (item 7 of the security review): none ends
    /// the data, and each bare CR becomes a CRLF, so the next hop dot-stuffs the dot line.
    #[tokio::test]
    async fn a_bare_cr_never_ends_data_and_becomes_crlf() {
        let (body, end) = data(
            b"Subject: s\r\n\r\nbefore\r.\rMAIL FROM:<ceo@sink.example>\r\nx\r.\r\ny\r\n.\r\n",
            1000,
        )
        .await;
        assert_eq!(end, DataEnd::Complete);
        assert_eq!(
            body,
            b"Subject: s\r\n\r\nbefore\r\n.\r\nMAIL FROM:<ceo@sink.example>\r\nx\r\n.\r\ny\r\n"
                .to_vec()
        );
        assert!(!body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
        // A CR before the header's line end splits the field: both halves are seen.
        let (body, _) = data(b"Subject: s17\rFrom: bob@a.test\r\n\r\nx\r\n.\r\n", 1000).await;
        assert_eq!(
            body,
            b"Subject: s17\r\nFrom: bob@a.test\r\n\r\nx\r\n".to_vec()
        );
    }

    #[test]
    fn chunks_are_normalized_across_their_boundaries() {
        let mut decoder = Decoder::chunks(1000);
        let mut out = Vec::new();
        for piece in [&b"a\r"[..], b"\nb\r", b"c\n.\r\n", b"d\r"] {
            assert_eq!(decoder.feed(piece, &mut out), None);
        }
        decoder.finish(&mut out);
        assert_eq!(out, b"a\r\nb\r\nc\r\n.\r\nd\r\n".to_vec());
        assert_eq!(decoder.end(), DataEnd::Complete);
    }

    #[tokio::test]
    async fn eof_inside_data_is_reported() {
        assert_eq!(data(b"Subject: x\r\n", 100).await.1, DataEnd::Eof);
    }
}
