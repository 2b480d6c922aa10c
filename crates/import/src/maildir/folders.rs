//! Listing the folders of a Maildir++ tree: the root is INBOX and each ".Sub.Folder" directory
//! next to its cur/ and new/ is the folder "Sub/Folder".

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::ImportError;

/// RFC 3501 §5.1.3: modified BASE64 with ',' for '/' and no padding.
const MUTF7_BASE64: GeneralPurpose = GeneralPurpose::new(
    &IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

pub(super) fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// The folders of the Maildir++ tree at `root`: ("INBOX", root) first, then each subfolder sorted
/// by name, with '.' separators turned into '/' and IMAP modified UTF-7 names decoded.
pub fn maildir_folders(root: &Path) -> Result<Vec<(String, PathBuf)>, ImportError> {
    let read_error = |source| ImportError::Read {
        context: root.display().to_string(),
        source,
    };
    let mut subfolders = Vec::new();
    for entry in fs::read_dir(root).map_err(|source| ImportError::Open {
        path: root.to_owned(),
        source,
    })? {
        let entry = entry.map_err(read_error)?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let Some(dotted) = dir_name.strip_prefix('.') else {
            continue;
        };
        if dotted.is_empty() || dotted == "." || !is_maildir(&entry.path()) {
            continue;
        }
        let name = dotted
            .split('.')
            .map(|part| decode_modified_utf7(part).unwrap_or_else(|| part.to_owned()))
            .collect::<Vec<_>>()
            .join("/");
        subfolders.push((name, entry.path()));
    }
    subfolders.sort();

    let mut folders = Vec::with_capacity(subfolders.len() + 1);
    if is_maildir(root) {
        folders.push(("INBOX".to_owned(), root.to_owned()));
    }
    folders.extend(subfolders);
    if folders.is_empty() {
        return Err(ImportError::NotMaildir(root.to_owned()));
    }
    Ok(folders)
}

/// Dovecot stores folder names as IMAP mailbox names, i.e. modified UTF-7 (RFC 3501 §5.1.3):
/// "&-" is '&', "&...-" is modified BASE64 of UTF-16BE. `None` if `name` isn't valid.
fn decode_modified_utf7(name: &str) -> Option<String> {
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        let (encoded, after) = rest[amp + 1..].split_once('-')?;
        if encoded.is_empty() {
            decoded.push('&');
        } else {
            let bytes = MUTF7_BASE64.decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            decoded.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = after;
    }
    decoded.push_str(rest);
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_maildir(dir: &Path) {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
    }

    #[test]
    fn lists_inbox_and_maildirplusplus_subfolders() {
        let root = tempfile::tempdir().unwrap();
        make_maildir(root.path());
        make_maildir(&root.path().join(".Sent"));
        make_maildir(&root.path().join(".Archive.2024"));
        make_maildir(&root.path().join(".Entw&APw-rfe"));
        fs::create_dir(root.path().join(".not-a-maildir")).unwrap();
        fs::create_dir(root.path().join("cur/.ignored")).unwrap();
        fs::write(root.path().join("dovecot-uidlist"), "").unwrap();

        let folders = maildir_folders(root.path()).unwrap();
        let names: Vec<&str> = folders.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["INBOX", "Archive/2024", "Entwürfe", "Sent"]);
        assert_eq!(folders[0].1, root.path());
        assert_eq!(folders[1].1, root.path().join(".Archive.2024"));
    }

    #[test]
    fn directory_that_is_no_maildir_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            maildir_folders(root.path()),
            Err(ImportError::NotMaildir(_))
        ));
        assert!(matches!(
            maildir_folders(&root.path().join("missing")),
            Err(ImportError::Open { .. })
        ));
    }

    #[test]
    fn modified_utf7_names() {
        assert_eq!(
            decode_modified_utf7("Entw&APw-rfe").as_deref(),
            Some("Entwürfe")
        );
        assert_eq!(decode_modified_utf7("A&-B").as_deref(), Some("A&B"));
        assert_eq!(
            decode_modified_utf7("&ZeVnLIqe-").as_deref(),
            Some("日本語")
        );
        assert_eq!(decode_modified_utf7("plain").as_deref(), Some("plain"));
        assert_eq!(decode_modified_utf7("&unterminated"), None);
    }
}
