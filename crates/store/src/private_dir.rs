//! The data directory holds password hashes, DKIM private keys and everyone's mail: only the
//! server's own user may enter it. Directories are made 0700 and files 0600 whatever the
//! umask, and a directory left readable by others (an older Tern, a copy, a restore) is fixed
//! when the store opens.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(crate) const DIR_MODE: u32 = 0o700;
pub(crate) const FILE_MODE: u32 = 0o600;

/// Group and others: any of these bits makes an entry readable, writable or enterable by them.
const OTHERS: u32 = 0o077;

/// The files inside a private data directory that matter most, checked by themselves because
/// they are what a loose directory would expose (password hashes and keys).
const SECRETS: [&str; 4] = [
    "store.sqlite",
    "store.sqlite-wal",
    "store.sqlite-shm",
    "tls/key.pem",
];

/// `mkdir -p` with mode 0700 for every directory it makes.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// A new file, mode 0600, that must not exist yet.
pub(crate) fn create_new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path` empty with mode 0600 unless it exists, so that SQLite (which gives its
/// `-wal` and `-shm` files the database's mode) never makes it with the umask's mode.
pub(crate) fn create_file_if_missing(path: &Path) -> io::Result<()> {
    match create_new_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes `data_dir` private when it is not: every directory 0700, every file 0600, symbolic
/// links neither changed nor followed. Returns how many entries were fixed.
///
/// Cheap when all is well: only the directory itself and [`SECRETS`] are looked at. While the
/// directory is 0700 nobody else can reach anything under it, so a blob tree of millions of
/// files is walked only once, the first time a loose directory is found.
pub fn make_private(data_dir: &Path) -> io::Result<usize> {
    if !needs_fixing(data_dir)? {
        return Ok(0);
    }
    let mut fixed = 0;
    let mut pending: Vec<PathBuf> = vec![data_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        fixed += usize::from(restrict(&dir, DIR_MODE)?);
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                fixed += usize::from(restrict(&entry.path(), FILE_MODE)?);
            }
        }
    }
    Ok(fixed)
}

fn needs_fixing(data_dir: &Path) -> io::Result<bool> {
    if is_loose(&fs::metadata(data_dir)?) {
        return Ok(true);
    }
    for name in SECRETS {
        match fs::symlink_metadata(data_dir.join(name)) {
            Ok(meta) if meta.is_file() && is_loose(&meta) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

fn is_loose(meta: &fs::Metadata) -> bool {
    meta.permissions().mode() & OTHERS != 0
}

/// Sets `mode` on `path` if group or others have any access; says whether it did.
fn restrict(path: &Path, mode: u32) -> io::Result<bool> {
    let meta = fs::symlink_metadata(path)?;
    if !is_loose(&meta) {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A data directory as an older Tern left it under umask 022.
    fn loose_tree(root: &Path) {
        fs::create_dir_all(root.join("blobs/ab")).unwrap();
        fs::write(root.join("store.sqlite"), b"").unwrap();
        fs::write(root.join("blobs/ab/cdef"), b"mail").unwrap();
        for (path, mode) in [
            ("", 0o755),
            ("blobs", 0o755),
            ("blobs/ab", 0o775),
            ("store.sqlite", 0o644),
            ("blobs/ab/cdef", 0o640),
        ] {
            chmod(&root.join(path), mode);
        }
    }

    #[test]
    fn a_loose_tree_is_made_private_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        loose_tree(&root);
        assert_eq!(make_private(&root).unwrap(), 5);
        for dir in ["", "blobs", "blobs/ab"] {
            assert_eq!(mode_of(&root.join(dir)), 0o700, "{dir}");
        }
        for file in ["store.sqlite", "blobs/ab/cdef"] {
            assert_eq!(mode_of(&root.join(file)), 0o600, "{file}");
        }
        assert_eq!(make_private(&root).unwrap(), 0, "nothing left to fix");
    }

    #[test]
    fn a_loose_store_file_in_a_private_directory_is_fixed_too() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        loose_tree(&root);
        chmod(&root, 0o700);
        assert_eq!(make_private(&root).unwrap(), 4);
        assert_eq!(mode_of(&root.join("store.sqlite")), 0o600);
    }

    #[test]
    fn a_private_directory_is_not_walked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        loose_tree(&root);
        chmod(&root, 0o700);
        chmod(&root.join("store.sqlite"), 0o600);
        // Unreachable by others behind the 0700 directory, so left as it is: that is what
        // keeps every start cheap with a large blob tree.
        assert_eq!(make_private(&root).unwrap(), 0);
        assert_eq!(mode_of(&root.join("blobs/ab/cdef")), 0o640);
    }

    #[test]
    fn symbolic_links_are_neither_changed_nor_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        loose_tree(&root);
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("file"), b"").unwrap();
        chmod(&outside, 0o755);
        chmod(&outside.join("file"), 0o644);
        std::os::unix::fs::symlink(&outside, root.join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("file"), root.join("linked-file")).unwrap();
        assert_eq!(make_private(&root).unwrap(), 5);
        assert_eq!(mode_of(&outside), 0o755);
        assert_eq!(mode_of(&outside.join("file")), 0o644);
    }

    #[test]
    fn new_directories_and_files_are_private_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        create_file_if_missing(&dir.join("f")).unwrap();
        create_file_if_missing(&dir.join("f")).unwrap();
        assert_eq!(mode_of(&tmp.path().join("a")), 0o700);
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&dir.join("f")), 0o600);
    }
}
