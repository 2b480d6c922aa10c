//! The message set of FETCH, STORE, COPY, MOVE and UID EXPUNGE: a sequence set (RFC 9051 §9
//! `sequence-set`) or `$`, the saved search result (RFC 5182 §2.1).

use imap_codec::imap_types::sequence::SequenceSet;

use super::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Messages {
    Set(SequenceSet),
    /// `$`: the session resolves it from the saved result.
    Saved,
}

pub fn messages(cursor: &mut Cursor<'_>) -> Result<Messages, &'static str> {
    match cursor.atom() {
        Some(b"$") => Ok(Messages::Saved),
        Some(atom) => sequence_set(atom).map(Messages::Set),
        None => Err("A sequence set is needed"),
    }
}

pub fn sequence_set(atom: &[u8]) -> Result<SequenceSet, &'static str> {
    std::str::from_utf8(atom)
        .ok()
        .and_then(|s| SequenceSet::try_from(s).ok())
        .ok_or("Invalid sequence set")
}

/// A decimal number (RFC 9051 §9 `number64`).
pub fn number(cursor: &mut Cursor<'_>) -> Result<u64, &'static str> {
    let atom = cursor.atom().ok_or("A number is needed")?;
    parse_number(atom).ok_or("Invalid number")
}

pub fn parse_number(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
}
