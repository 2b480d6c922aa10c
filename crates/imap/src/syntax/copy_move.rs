//! COPY, MOVE (RFC 9051 §6.4.7, §6.4.8; RFC 6851) and UID EXPUNGE (RFC 9051 §6.4.9,
//! RFC 4315 §2.1): commands whose arguments are a message set and at most a mailbox.
//!
//! ```text
//! copy = "COPY" SP (sequence-set / "$") SP mailbox
//! move = "MOVE" SP (sequence-set / "$") SP mailbox
//! uid-expunge = "UID" SP "EXPUNGE" SP (sequence-set / "$")
//! ```

use super::Cursor;
use super::sequence::{Messages, messages};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    pub uid: bool,
    pub is_move: bool,
    pub messages: Messages,
    /// As the client wrote it (modified UTF-7 or UTF-8).
    pub mailbox: Vec<u8>,
}

/// The arguments after `COPY` or `MOVE`. Err is the text for `BAD`.
pub fn parse(
    cursor: &mut Cursor<'_>,
    uid: bool,
    is_move: bool,
) -> Result<CopyCommand, &'static str> {
    let messages = messages(cursor)?;
    let mailbox = cursor
        .astring()
        .ok_or("A mailbox name is needed")?
        .into_owned();
    if !cursor.at_end() {
        return Err("Unexpected text after the mailbox name");
    }
    Ok(CopyCommand {
        uid,
        is_move,
        messages,
        mailbox,
    })
}

/// The argument of `UID EXPUNGE`.
pub fn uid_expunge(cursor: &mut Cursor<'_>) -> Result<Messages, &'static str> {
    let messages = messages(cursor)?;
    if !cursor.at_end() {
        return Err("Unexpected text after the sequence set");
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    #[test]
    fn copy_move_and_uid_expunge() {
        let Ok(Typed::Copy(copy)) = typed(b"a UID MOVE $ \"Old Mail\"\r\n") else {
            panic!("a MOVE");
        };
        assert!(copy.uid && copy.is_move);
        assert_eq!(
            (copy.messages, copy.mailbox),
            (Messages::Saved, b"Old Mail".to_vec())
        );
        assert!(matches!(typed(b"a COPY 1:2 Trash\r\n"), Ok(Typed::Copy(c)) if !c.is_move));
        assert!(matches!(
            typed(b"a UID EXPUNGE 3,5\r\n"),
            Ok(Typed::UidExpunge(Messages::Set(_)))
        ));
        assert!(typed(b"a COPY 1\r\n").is_err());
        assert!(typed(b"a COPY 1 a b\r\n").is_err());
        assert!(typed(b"a UID EXPUNGE\r\n").is_err());
        assert!(
            super::super::parse(b"a EXPUNGE\r\n").is_none(),
            "plain EXPUNGE is imap-codec's"
        );
    }
}
