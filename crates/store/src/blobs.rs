//! The content-addressed blob directory: one file per distinct message, named by the hex
//! SHA-256 of its bytes, under a two-level fan-out (`ab/cdef…`).
//!
//! A blob is written to a temporary file, fsynced, renamed into place and its directory
//! fsynced before any metadata refers to it (DESIGN.md §4), so a committed row never points
//! at a missing or partial file.

use crate::error::{Result, StoreError};
use crate::private_dir;
use crate::types::BlobId;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, ReadBuf};

pub(crate) struct BlobDir {
    root: PathBuf,
}

const TMP_DIR: &str = "tmp";

impl BlobDir {
    pub(crate) fn open(root: PathBuf) -> Result<BlobDir> {
        private_dir::create_dir_all(&root.join(TMP_DIR))?;
        Ok(BlobDir { root })
    }

    /// An unnamed file in the blob directory's `tmp/` (same file system as the blobs).
    pub(crate) fn temporary_file(&self) -> Result<File> {
        Ok(tempfile::tempfile_in(self.root.join(TMP_DIR))?)
    }

    pub(crate) fn id_of(raw: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(raw)))
    }

    pub(crate) fn path(&self, id: &BlobId) -> Result<PathBuf> {
        let hex = &id.0;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(crate::StoreError::Corrupt(format!("bad blob id {hex:?}")));
        }
        Ok(self.root.join(&hex[..2]).join(&hex[2..]))
    }

    pub(crate) fn exists(&self, id: &BlobId) -> Result<bool> {
        Ok(self.path(id)?.exists())
    }

    /// Writes `raw` durably unless a blob with that content is already there. Blocking.
    pub(crate) fn write(&self, id: &BlobId, raw: &[u8]) -> Result<()> {
        self.write_many(&[(id, raw)])
    }

    /// Writes several blobs durably. A file only ever appears under its final name complete
    /// and synced, so "it exists" always means "it is whole" (later appends of the same
    /// content rely on that).
    ///
    /// One blob: fsync the file, rename, fsync the directory. A batch (import): write every
    /// temporary file, one `syncfs` for all their data, rename them all, one more `syncfs`
    /// for the directory entries: two flushes for the batch instead of two per message.
    pub(crate) fn write_many(&self, items: &[(&BlobId, &[u8])]) -> Result<()> {
        let mut pending: Vec<(PathBuf, PathBuf)> = Vec::new();
        let batch = items.len() > 1;
        for (id, raw) in items {
            let path = self.path(id)?;
            if path.exists() || pending.iter().any(|(_, p)| p == &path) {
                continue;
            }
            let dir = path
                .parent()
                .ok_or_else(|| crate::StoreError::Corrupt("blob path has no parent".into()))?;
            if !dir.exists() {
                private_dir::create_dir_all(dir)?;
                sync_dir(&self.root)?;
            }
            let tmp = self.root.join(TMP_DIR).join(format!(
                "{}.{}.{}",
                &id.0,
                std::process::id(),
                rand::random::<u64>()
            ));
            let written = (|| -> io::Result<()> {
                let mut file = private_dir::create_new_file(&tmp)?;
                file.write_all(raw)?;
                if !batch {
                    file.sync_all()?;
                }
                Ok(())
            })();
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                for (t, _) in &pending {
                    let _ = fs::remove_file(t);
                }
                return Err(e.into());
            }
            pending.push((tmp, path));
        }
        if pending.is_empty() {
            return Ok(());
        }
        if batch {
            self.sync_filesystem()?;
        }
        let mut dirs: Vec<&Path> = Vec::new();
        for (tmp, path) in &pending {
            fs::rename(tmp, path)?;
            if let Some(dir) = path.parent()
                && !dirs.contains(&dir)
            {
                dirs.push(dir);
            }
        }
        if batch {
            self.sync_filesystem()?;
        } else {
            for dir in dirs {
                sync_dir(dir)?;
            }
        }
        Ok(())
    }

    /// syncfs(2): flushes every dirty page and inode of the blob directory's file system.
    fn sync_filesystem(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let dir = File::open(&self.root)?;
        // SAFETY: syncfs takes a valid open file descriptor, which `dir` holds for the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc != 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(())
    }

    pub(crate) fn remove(&self, id: &BlobId) -> Result<()> {
        match fs::remove_file(self.path(id)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub(crate) fn read(&self, id: &BlobId) -> Result<Vec<u8>> {
        fs::read(self.path(id)?).map_err(|e| missing_or_io(id, e))
    }

    pub(crate) fn open_file(&self, id: &BlobId) -> Result<File> {
        File::open(self.path(id)?).map_err(|e| missing_or_io(id, e))
    }

    /// Temporary files left by a crash mid-write. Only files older than `age` are removed,
    /// since another process (the CLI's import) may be writing right now.
    pub(crate) fn sweep_tmp(&self, age: Duration) -> Result<usize> {
        let mut removed = 0;
        let cutoff = SystemTime::now() - age;
        for entry in fs::read_dir(self.root.join(TMP_DIR))? {
            let entry = entry?;
            let old = entry
                .metadata()?
                .modified()
                .map(|m| m < cutoff)
                .unwrap_or(false);
            if old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every blob file present (for collecting files orphaned by a crash between blob write
    /// and metadata commit).
    pub(crate) fn list(&self) -> Result<Vec<(BlobId, SystemTime)>> {
        let mut out = Vec::new();
        for fan in fs::read_dir(&self.root)? {
            let fan = fan?;
            let name = fan.file_name().to_string_lossy().into_owned();
            if name.len() != 2 || !fan.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(fan.path())? {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                let rest = entry.file_name().to_string_lossy().into_owned();
                out.push((BlobId(format!("{name}{rest}")), modified));
            }
        }
        Ok(out)
    }
}

/// fsync a directory so a rename or create in it survives a crash.
/// A content file that is not there is [`StoreError::BlobMissing`], so a reader can tell a
/// message expunged meanwhile from a failing disk.
fn missing_or_io(id: &BlobId, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        StoreError::BlobMissing(id.0.clone())
    } else {
        StoreError::Io(e)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A message's bytes, streamed from its blob file.
pub struct BlobReader {
    file: tokio::fs::File,
    len: u64,
}

impl BlobReader {
    pub(crate) fn new(file: File) -> Result<BlobReader> {
        let len = file.metadata()?.len();
        Ok(BlobReader {
            file: tokio::fs::File::from_std(file),
            len,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The underlying file, for seeking to a part's offset.
    pub fn into_file(self) -> tokio::fs::File {
        self.file
    }

    /// Bytes `range` of the message, read into memory (a header, a part to decode).
    pub async fn read_range(&mut self, range: std::ops::Range<u64>) -> io::Result<Vec<u8>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let length = self.range_length(&range)?;
        self.file.seek(io::SeekFrom::Start(range.start)).await?;
        let mut data = vec![0; length as usize];
        self.file.read_exact(&mut data).await?;
        Ok(data)
    }

    /// Writes bytes `range` of the message to `out` through a buffer of `buffer` bytes, so a
    /// large body never sits in memory whole. Exactly `range`'s length is written, or an error
    /// (the file is shorter than its summary says) is returned.
    pub async fn copy_range<W>(
        &mut self,
        range: std::ops::Range<u64>,
        out: &mut W,
        buffer: usize,
    ) -> io::Result<()>
    where
        W: tokio::io::AsyncWrite + Unpin + ?Sized,
    {
        use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
        let mut left = self.range_length(&range)?;
        self.file.seek(io::SeekFrom::Start(range.start)).await?;
        let mut chunk = vec![0; buffer.max(1)];
        while left > 0 {
            let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.file.read_exact(&mut chunk[..want]).await?;
            out.write_all(&chunk[..want]).await?;
            left -= want as u64;
        }
        Ok(())
    }

    fn range_length(&self, range: &std::ops::Range<u64>) -> io::Result<u64> {
        if range.start > range.end || range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "bytes {range:?} are past the end of a {}-byte message",
                    self.len
                ),
            ));
        }
        Ok(range.end - range.start)
    }
}

impl AsyncRead for BlobReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_read(cx, buf)
    }
}
