//! STORE and UID STORE (RFC 9051 §6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3):
//!
//! ```text
//! store = "STORE" SP (sequence-set / "$") [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
//!         SP ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP flag)))
//! ```

use imap_codec::imap_types::flag::{StoreResponse, StoreType};

use super::Cursor;
use super::sequence::{Messages, messages, number};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCommand {
    pub uid: bool,
    pub messages: Messages,
    pub unchanged_since: Option<u64>,
    pub kind: StoreType,
    pub response: StoreResponse,
    /// The flags as written (`\Seen`, `$Label1`).
    pub flags: Vec<String>,
}

/// The arguments after `STORE`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>, uid: bool) -> Result<StoreCommand, &'static str> {
    let messages = messages(cursor)?;
    let mut unchanged_since = None;
    if cursor.open() {
        if !cursor.keyword("UNCHANGEDSINCE") {
            return Err("Unknown STORE modifier");
        }
        unchanged_since = Some(number(cursor)?);
        if !cursor.close() {
            return Err("Unterminated STORE modifier");
        }
    }
    let action = cursor.atom().ok_or("STORE needs FLAGS, +FLAGS or -FLAGS")?;
    let action = action.to_ascii_uppercase();
    let (kind, rest) = match action.split_first() {
        Some((b'+', rest)) => (StoreType::Add, rest),
        Some((b'-', rest)) => (StoreType::Remove, rest),
        _ => (StoreType::Replace, &action[..]),
    };
    let response = match rest {
        b"FLAGS" => StoreResponse::Answer,
        b"FLAGS.SILENT" => StoreResponse::Silent,
        _ => return Err("STORE needs FLAGS, +FLAGS or -FLAGS"),
    };
    let flags = if cursor.open() {
        cursor.atoms_to_close("Unterminated flag list")?
    } else {
        // `flag *(SP flag)`: the atoms to the end.
        let mut flags = Vec::new();
        while let Some(flag) = cursor.atom() {
            flags.push(String::from_utf8_lossy(flag).into_owned());
        }
        if flags.is_empty() {
            return Err("STORE needs flags");
        }
        flags
    };
    if !cursor.at_end() {
        return Err("Unexpected text after the STORE arguments");
    }
    Ok(StoreCommand {
        uid,
        messages,
        unchanged_since,
        kind,
        response,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn store(command: &[u8]) -> Result<StoreCommand, &'static str> {
        match typed(command)? {
            Typed::Store(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_form() {
        let got =
            store(b"a UID STORE 1:5 (UNCHANGEDSINCE 12) +FLAGS.SILENT (\\Seen $Work)\r\n").unwrap();
        assert!(got.uid);
        assert_eq!(got.unchanged_since, Some(12));
        assert_eq!(
            (got.kind, got.response),
            (StoreType::Add, StoreResponse::Silent)
        );
        assert_eq!(got.flags, ["\\Seen", "$Work"]);
        let bare = store(b"a STORE $ -flags \\Deleted \\Draft\r\n").unwrap();
        assert_eq!(bare.messages, Messages::Saved);
        assert_eq!(bare.kind, StoreType::Remove);
        assert_eq!(bare.flags, ["\\Deleted", "\\Draft"]);
        assert!(store(b"a STORE 1 FLAGS ()\r\n").unwrap().flags.is_empty());
        for bad in [
            &b"a STORE 1 FLAGS\r\n"[..],
            b"a STORE 1 +LABELS (x)\r\n",
            b"a STORE 1 (FOO 1) FLAGS (x)\r\n",
            b"a STORE 1 FLAGS (x\r\n",
            b"a STORE 1 FLAGS (x) y\r\n",
        ] {
            assert!(store(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
