//! Reading one client line with a length bound. A longer line is read to its end and thrown
//! away, so the session can answer `-ERR` and go on with the next command.

use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug)]
pub enum Line {
    /// The line without its CRLF (or bare LF).
    Text(Vec<u8>),
    /// The line was longer than allowed; it has been skipped.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// Reads up to and including the next LF; returns at most `max` bytes of content.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            // EOF in the middle of a line: the command was never completed.
            return Ok(Line::Eof);
        }
        let (taken, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if line.len() + taken > max + 2 {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&available[..taken]);
            }
        }
        reader.consume(taken);
        if complete {
            if too_long {
                return Ok(Line::TooLong);
            }
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > max {
                return Ok(Line::TooLong);
            }
            return Ok(Line::Text(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_long_lines_and_eof() {
        let input: &[u8] = b"STAT\r\nLIST 1\nXXXXXXXXXXXXXXXXXXXX\r\nNOOP\r\npartial";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut next = async || read_line(&mut reader, 10).await.unwrap();
        assert!(matches!(next().await, Line::Text(l) if l == b"STAT"));
        assert!(matches!(next().await, Line::Text(l) if l == b"LIST 1"));
        assert!(matches!(next().await, Line::TooLong));
        assert!(matches!(next().await, Line::Text(l) if l == b"NOOP"));
        assert!(matches!(next().await, Line::Eof));
    }

    #[tokio::test]
    async fn the_limit_is_on_content_not_line_ending() {
        let input: &[u8] = b"0123456789\r\n01234567890\r\n";
        let mut reader = tokio::io::BufReader::new(input);
        assert!(
            matches!(read_line(&mut reader, 10).await.unwrap(), Line::Text(l) if l.len() == 10)
        );
        assert!(matches!(
            read_line(&mut reader, 10).await.unwrap(),
            Line::TooLong
        ));
    }
}
