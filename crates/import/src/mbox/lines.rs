//! Reading an mbox line by line without ever buffering more than a caller-chosen limit,
//! even when a single line is longer than that.

use std::io::{self, BufRead};

/// How many leading bytes of each line are kept for inspection ("From " separators,
/// ">From " quoting, Status: headers) whatever the storage limit.
pub(super) const HEAD_LEN: usize = 1000;

/// Reads one line (through its '\n', or up to end of input) and returns the number of bytes consumed:
/// 0 means end of input. Appends the line to `dst` but never lets `dst` grow past `store_limit`
/// bytes (neither its length nor its capacity); the rest of a long line is consumed and dropped.
/// The first [`HEAD_LEN`] bytes of the line are copied into `head`.
pub(super) fn read_line_capped<R: BufRead>(
    reader: &mut R,
    dst: &mut Vec<u8>,
    store_limit: usize,
    head: &mut Vec<u8>,
) -> io::Result<usize> {
    head.clear();
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk_len, line_complete) = match available.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (available.len(), false),
        };
        let chunk = &available[..chunk_len];

        let head_room = HEAD_LEN.saturating_sub(head.len());
        head.extend_from_slice(&chunk[..chunk_len.min(head_room)]);

        let store_room = store_limit.saturating_sub(dst.len());
        let stored = &chunk[..chunk_len.min(store_room)];
        if !stored.is_empty() {
            reserve_within(dst, stored.len(), store_limit);
            dst.extend_from_slice(stored);
        }

        reader.consume(chunk_len);
        consumed += chunk_len;
        if line_complete {
            return Ok(consumed);
        }
    }
}

/// Like `Vec::reserve` (amortized doubling) but never asks for more capacity than `limit`,
/// so that a message just under the limit doesn't double the buffer past it.
fn reserve_within(dst: &mut Vec<u8>, additional: usize, limit: usize) {
    let needed = dst.len() + additional;
    if needed <= dst.capacity() {
        return;
    }
    let target = dst.capacity().saturating_mul(2).min(limit).max(needed);
    dst.reserve_exact(target - dst.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_with_their_endings() {
        let mut input: &[u8] = b"one\ntwo\r\nthree";
        let (mut dst, mut head) = (Vec::new(), Vec::new());
        assert_eq!(
            read_line_capped(&mut input, &mut dst, 100, &mut head).unwrap(),
            4
        );
        assert_eq!(head, b"one\n");
        assert_eq!(
            read_line_capped(&mut input, &mut dst, 100, &mut head).unwrap(),
            5
        );
        assert_eq!(head, b"two\r\n");
        assert_eq!(
            read_line_capped(&mut input, &mut dst, 100, &mut head).unwrap(),
            5
        );
        assert_eq!(head, b"three");
        assert_eq!(
            read_line_capped(&mut input, &mut dst, 100, &mut head).unwrap(),
            0
        );
        assert_eq!(dst, b"one\ntwo\r\nthree");
    }

    #[test]
    fn long_line_is_consumed_but_not_stored_past_the_limit() {
        let line = vec![b'x'; 100_000];
        let mut input = io::BufReader::with_capacity(16, &line[..]);
        let (mut dst, mut head) = (Vec::new(), Vec::new());
        let consumed = read_line_capped(&mut input, &mut dst, 300, &mut head).unwrap();
        assert_eq!(consumed, 100_000);
        assert_eq!(dst.len(), 300);
        assert!(dst.capacity() <= 300, "capacity {}", dst.capacity());
        assert_eq!(head.len(), HEAD_LEN);
    }

    #[test]
    fn capacity_stays_within_limit_while_growing() {
        let text = "abcdefghi\n".repeat(1000);
        let mut input = text.as_bytes();
        let (mut dst, mut head) = (Vec::new(), Vec::new());
        while read_line_capped(&mut input, &mut dst, 5_000, &mut head).unwrap() > 0 {
            assert!(dst.capacity() <= 5_000, "capacity {}", dst.capacity());
        }
        assert_eq!(dst.len(), 5_000);
    }
}
