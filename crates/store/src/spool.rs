//! A message being received, kept in an unnamed temporary file rather than in memory, so a
//! peer sending tens of megabytes costs the server a small buffer, not the message (a crash
//! leaves nothing behind: the file has no name).

use std::io::{self, SeekFrom};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes gathered in memory before one write to the file.
const BUFFER: usize = 64 * 1024;

pub struct Spool {
    file: tokio::fs::File,
    buffer: Vec<u8>,
    len: u64,
}

impl Spool {
    pub(crate) fn new(file: std::fs::File) -> Spool {
        Spool {
            file: tokio::fs::File::from_std(file),
            buffer: Vec::new(),
            len: 0,
        }
    }

    /// Appends `bytes`; at most [`BUFFER`] bytes stay in memory.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if self.buffer.len() + bytes.len() <= BUFFER {
            self.buffer.extend_from_slice(bytes);
            return Ok(());
        }
        self.flush_buffer().await?;
        if bytes.len() >= BUFFER {
            self.file.write_all(bytes).await
        } else {
            self.buffer.extend_from_slice(bytes);
            Ok(())
        }
    }

    async fn flush_buffer(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            self.file.write_all(&self.buffer).await?;
            self.buffer = Vec::new();
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Everything written, read back into memory (the caller bounds how many are at once).
    pub async fn into_vec(mut self) -> io::Result<Vec<u8>> {
        if self.len <= self.buffer.len() as u64 {
            return Ok(self.buffer);
        }
        self.flush_buffer().await?;
        self.file.flush().await?;
        self.file.seek(SeekFrom::Start(0)).await?;
        let capacity = usize::try_from(self.len).unwrap_or(0);
        let mut out = Vec::with_capacity(capacity);
        self.file.read_to_end(&mut out).await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_written_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        for sizes in [vec![10, 20], vec![BUFFER - 1, 2, BUFFER * 3, 5], vec![]] {
            let mut spool = Spool::new(tempfile::tempfile_in(dir.path()).unwrap());
            let mut expected = Vec::new();
            for (i, size) in sizes.iter().enumerate() {
                let chunk = vec![i as u8; *size];
                spool.write(&chunk).await.unwrap();
                expected.extend_from_slice(&chunk);
            }
            assert_eq!(spool.len(), expected.len() as u64);
            assert_eq!(spool.into_vec().await.unwrap(), expected);
        }
        // Unnamed: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
