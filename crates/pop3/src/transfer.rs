//! Sending a message as a POP3 multi-line response (RFC 1939 §3): CRLF line endings, a `.`
//! doubled at the start of every line that begins with one, and a final `.` line. TOP sends
//! the header, the blank line and the first n body lines (RFC 1939 §7).
//!
//! The message is streamed from the store in fixed chunks, so a large message never sits in
//! memory whole: the buffers are a read chunk and at most about twice that after stuffing.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read from the blob at a time.
const CHUNK: usize = 16 * 1024;

/// Which part of the message is still to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// RETR: everything.
    Whole,
    /// TOP: still in the header; then this many body lines.
    Header {
        body_lines: u32,
    },
    Body {
        lines_left: u32,
    },
    Done,
}

/// The byte-stream transformation, fed chunk by chunk (chunk borders fall anywhere).
#[derive(Debug)]
pub struct DotStuffer {
    section: Section,
    at_line_start: bool,
    /// The current line's last byte so far was CR (a CRLF split across chunks).
    prev_cr: bool,
    /// The current line has something besides its line ending (header/body border).
    line_has_text: bool,
}

impl DotStuffer {
    /// `top`: `None` for the whole message (RETR), `Some(n)` for TOP's n body lines.
    pub fn new(top: Option<u32>) -> DotStuffer {
        DotStuffer {
            section: match top {
                None => Section::Whole,
                Some(body_lines) => Section::Header { body_lines },
            },
            at_line_start: true,
            prev_cr: false,
            line_has_text: false,
        }
    }

    /// True once TOP has sent all it should: the rest of the blob need not be read.
    pub fn is_done(&self) -> bool {
        self.section == Section::Done
    }

    /// Appends the wire form of `input` to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() && !self.is_done() {
            if self.at_line_start {
                // RFC 1939 §3: byte-stuff a line that starts with the termination octet.
                if input[0] == b'.' {
                    out.push(b'.');
                }
                self.at_line_start = false;
                self.line_has_text = false;
            }
            match input.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let line = &input[..end];
                    let ends_with_cr = match line.last() {
                        Some(&last) => last == b'\r',
                        None => self.prev_cr,
                    };
                    out.extend_from_slice(line);
                    // A bare LF becomes CRLF.
                    if !ends_with_cr {
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                    if !line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
                        self.line_has_text = true;
                    }
                    self.end_line();
                    input = &input[end + 1..];
                }
                None => {
                    out.extend_from_slice(input);
                    self.prev_cr = input.last() == Some(&b'\r');
                    let text = input.len() - usize::from(self.prev_cr);
                    if text > 0 {
                        self.line_has_text = true;
                    }
                    input = &[];
                }
            }
        }
    }

    fn end_line(&mut self) {
        self.at_line_start = true;
        self.prev_cr = false;
        self.section = match self.section {
            // The first empty line ends the header (RFC 5322 §2.1).
            Section::Header { body_lines } if !self.line_has_text => match body_lines {
                0 => Section::Done,
                n => Section::Body { lines_left: n },
            },
            Section::Body { lines_left } if lines_left <= 1 => Section::Done,
            Section::Body { lines_left } => Section::Body {
                lines_left: lines_left - 1,
            },
            other => other,
        };
    }

    /// Ends the response: a CRLF if the message did not end with one, then `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.section = Section::Done;
    }
}

/// Streams `message` to `out` as a multi-line response body (after the `+OK` line). Each write
/// must make progress within `stall`, so a client that stops reading cannot hold the session.
pub async fn send_message<R, W>(
    mut message: R,
    top: Option<u32>,
    out: &mut W,
    stall: Duration,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut stuffer = DotStuffer::new(top);
    let mut chunk = vec![0u8; CHUNK];
    let mut wire = Vec::with_capacity(CHUNK * 2 + 8);
    while !stuffer.is_done() {
        let read = message.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        wire.clear();
        stuffer.feed(&chunk[..read], &mut wire);
        write_within(out, &wire, stall).await?;
    }
    wire.clear();
    stuffer.finish(&mut wire);
    write_within(out, &wire, stall).await
}

async fn write_within<W: AsyncWrite + Unpin>(
    out: &mut W,
    bytes: &[u8],
    stall: Duration,
) -> io::Result<()> {
    tokio::time::timeout(stall, out.write_all(bytes))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the stuffer over `input` cut into pieces of every size from 1 to 7, and checks all
    /// cuts give the same output.
    fn wire(input: &[u8], top: Option<u32>) -> Vec<u8> {
        let mut reference = None;
        for piece in 1..=7 {
            let mut stuffer = DotStuffer::new(top);
            let mut out = Vec::new();
            for chunk in input.chunks(piece) {
                stuffer.feed(chunk, &mut out);
            }
            stuffer.finish(&mut out);
            match &reference {
                None => reference = Some(out),
                Some(r) => assert_eq!(
                    String::from_utf8_lossy(r),
                    String::from_utf8_lossy(&out),
                    "piece {piece}"
                ),
            }
        }
        reference.unwrap_or_default()
    }

    #[test]
    fn retr_stuffs_dots_and_terminates() {
        let msg = b"Subject: x\r\n\r\n.hidden\r\nplain\r\n..two\r\n.\r\nend\r\n";
        assert_eq!(
            wire(msg, None),
            b"Subject: x\r\n\r\n..hidden\r\nplain\r\n...two\r\n..\r\nend\r\n.\r\n"
        );
    }

    #[test]
    fn bare_lf_becomes_crlf_and_a_missing_final_newline_is_added() {
        assert_eq!(
            wire(b"A: b\n\nbody\n.x", None),
            b"A: b\r\n\r\nbody\r\n..x\r\n.\r\n"
        );
        assert_eq!(wire(b"", None), b".\r\n");
        // A bare CR inside a line stays as it is.
        assert_eq!(wire(b"a\rb\r\n", None), b"a\rb\r\n.\r\n");
    }

    #[test]
    fn top_sends_header_blank_line_and_n_body_lines() {
        let msg = b"From: a\r\nTo: b\r\n\r\nline1\r\n.line2\r\nline3\r\n";
        assert_eq!(wire(msg, Some(0)), b"From: a\r\nTo: b\r\n\r\n.\r\n");
        assert_eq!(
            wire(msg, Some(2)),
            b"From: a\r\nTo: b\r\n\r\nline1\r\n..line2\r\n.\r\n"
        );
        // Fewer body lines than asked: the whole message.
        assert_eq!(wire(msg, Some(10)), wire(msg, None));
        // No body at all.
        assert_eq!(wire(b"From: a\r\n", Some(3)), b"From: a\r\n.\r\n");
        // LF-only header border.
        assert_eq!(wire(b"A: 1\n\nx\ny\n", Some(1)), b"A: 1\r\n\r\nx\r\n.\r\n");
    }

    #[tokio::test]
    async fn send_message_streams_a_large_message_in_chunks() {
        let mut msg = b"Subject: big\r\n\r\n".to_vec();
        for i in 0..20_000 {
            msg.extend_from_slice(format!(".line {i}\r\n").as_bytes());
        }
        let mut out = Vec::new();
        send_message(&msg[..], None, &mut out, Duration::from_secs(5))
            .await
            .unwrap();
        let mut expected = b"Subject: big\r\n\r\n".to_vec();
        for i in 0..20_000 {
            expected.extend_from_slice(format!("..line {i}\r\n").as_bytes());
        }
        expected.extend_from_slice(b".\r\n");
        assert_eq!(out, expected);

        let mut top = Vec::new();
        send_message(&msg[..], Some(1), &mut top, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(top, b"Subject: big\r\n\r\n..line 0\r\n.\r\n");
    }
}
