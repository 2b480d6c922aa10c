//! Flags and keywords encoded in Maildir file names, and Dovecot's keyword list.
//!
//! A file in cur/ is named "UNIQUE:2,FLAGS" (<https://cr.yp.to/proto/maildir.html>): uppercase letters
//! are the standard flags, lowercase letters a..z are keywords numbered 0..25 in the folder's
//! `dovecot-keywords` file (lines "N name").

use std::fs;
use std::io;
use std::path::Path;

use crate::{Flags, ImportError};

/// Keyword names by letter index (a = 0 … z = 25), as listed in `dovecot-keywords`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct KeywordNames(Vec<Option<String>>);

const KEYWORD_LETTERS: usize = 26;

impl KeywordNames {
    /// Reads `dovecot-keywords` in the Maildir folder; a folder without one has no names.
    pub(super) fn load(folder: &Path) -> Result<Self, ImportError> {
        let path = folder.join("dovecot-keywords");
        match fs::read(&path) {
            Ok(text) => Ok(Self::parse(&String::from_utf8_lossy(&text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ImportError::Open { path, source }),
        }
    }

    /// Lines are "N name"; malformed lines and numbers beyond 'z' are ignored.
    fn parse(text: &str) -> Self {
        let mut names = vec![None; KEYWORD_LETTERS];
        for line in text.lines() {
            let Some((number, name)) = line.trim().split_once(char::is_whitespace) else {
                continue;
            };
            let (Ok(index), name) = (number.parse::<usize>(), name.trim()) else {
                continue;
            };
            if index < KEYWORD_LETTERS && !name.is_empty() {
                names[index] = Some(name.to_owned());
            }
        }
        KeywordNames(names)
    }

    fn name_of(&self, letter: u8) -> Option<&str> {
        let index = usize::from(letter.checked_sub(b'a')?);
        self.0.get(index)?.as_deref()
    }
}

/// The flags and keyword names in a cur/ file name. Letters we can't map (a keyword letter not
/// listed in `dovecot-keywords`, an unknown uppercase letter) are ignored.
pub(super) fn flags_from_name(
    file_name: &str,
    keyword_names: &KeywordNames,
) -> (Flags, Vec<String>) {
    let mut flags = Flags::default();
    let mut keywords: Vec<String> = Vec::new();
    let Some(letters) = info_flags(file_name) else {
        return (flags, keywords);
    };
    for letter in letters.bytes() {
        match letter {
            b'R' => flags.answered = true,
            b'S' => flags.seen = true,
            b'T' => flags.deleted = true,
            b'D' => flags.draft = true,
            b'F' => flags.flagged = true,
            // P (passed: resent/forwarded) has no IMAP system flag.
            b'a'..=b'z' => {
                if let Some(name) = keyword_names.name_of(letter)
                    && !keywords.iter().any(|known| known == name)
                {
                    keywords.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    (flags, keywords)
}

/// The FLAGS part of "UNIQUE:2,FLAGS". Systems whose file names can't hold ':' use ';' or '!'
/// instead (mbsync's InfoDelimiter, Thunderbird on Windows).
fn info_flags(file_name: &str) -> Option<&str> {
    let at = file_name.rfind([':', ';', '!'])?;
    file_name[at + 1..].strip_prefix("2,")
}

/// Leading delivery timestamp of a Maildir unique name ("1700000000.M1P2.host"), used to import
/// in delivery order. Names without one sort after all others.
pub(super) fn delivery_timestamp(file_name: &str) -> u64 {
    let digits = file_name
        .find(|c: char| !c.is_ascii_digit())
        .map_or(file_name, |end| &file_name[..end]);
    digits.parse().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> KeywordNames {
        KeywordNames::parse("0 $Forwarded\n1 Work\nbad line\n3\t$Junk\n30 beyond-z\n")
    }

    #[test]
    fn parses_dovecot_keywords() {
        let names = names();
        assert_eq!(names.name_of(b'a'), Some("$Forwarded"));
        assert_eq!(names.name_of(b'b'), Some("Work"));
        assert_eq!(names.name_of(b'c'), None);
        assert_eq!(names.name_of(b'd'), Some("$Junk"));
        assert_eq!(names.name_of(b'z'), None);
    }

    #[test]
    fn standard_flags() {
        let (flags, keywords) = flags_from_name("1700000000.M1P2.host,S=123:2,DFPRST", &names());
        assert_eq!(
            flags,
            Flags {
                seen: true,
                answered: true,
                flagged: true,
                deleted: true,
                draft: true
            }
        );
        assert!(keywords.is_empty());
    }

    #[test]
    fn keyword_letters_are_mapped_and_unknown_ones_dropped() {
        let (flags, keywords) = flags_from_name("1.M1.host:2,Sabcb", &names());
        assert!(flags.seen);
        assert_eq!(keywords, ["$Forwarded", "Work"]);
    }

    #[test]
    fn names_without_info_have_no_flags() {
        let (flags, keywords) = flags_from_name("1700000000.M1P2.host", &names());
        assert_eq!(flags, Flags::default());
        assert!(keywords.is_empty());
        // Experimental "1," info carries no flags.
        assert_eq!(flags_from_name("1.x:1,S", &names()).0, Flags::default());
    }

    #[test]
    fn alternative_info_delimiters() {
        assert!(flags_from_name("1.M1.host;2,S", &names()).0.seen);
        assert!(flags_from_name("1.M1.host!2,F", &names()).0.flagged);
    }

    #[test]
    fn delivery_timestamps() {
        assert_eq!(
            delivery_timestamp("1700000000.M1P2.host:2,S"),
            1_700_000_000
        );
        assert_eq!(delivery_timestamp("42"), 42);
        assert_eq!(delivery_timestamp("msg.eml"), u64::MAX);
    }
}
