//! LIST and LSUB: RFC 9051 §6.3.9, RFC 3501 §6.3.9, with LIST-EXTENDED (RFC 5258 §3), its
//! selection and return options, LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154 §5.1).
//!
//! ```text
//! list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
//! mbox-or-pat = list-mailbox / "(" list-mailbox *(SP list-mailbox) ")"
//! lsub = "LSUB" SP mailbox SP list-mailbox
//! ```

use std::borrow::Cow;

use imap_codec::imap_types::status::StatusDataItemName;

use super::Cursor;

/// Patterns one LIST may carry: each is matched against every name.
pub const MAX_PATTERNS: usize = 100;

/// Selection options (RFC 5258 §3.1, RFC 6154 §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only subscribed names; implies the SUBSCRIBED return option.
    pub subscribed: bool,
    /// Only names with a special use.
    pub special_use: bool,
    /// Also names that fail the selection but have a descendant that passes it.
    pub recursive_match: bool,
}

/// Return options (RFC 5258 §3.2, RFC 5819, RFC 6154).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Returns {
    /// The `\Subscribed` attribute.
    pub subscribed: bool,
    /// A STATUS response for each selectable name (RFC 5819).
    pub status: Vec<StatusDataItemName>,
}

/// One LIST or LSUB command. Names and patterns are as the client wrote them (modified UTF-7
/// or UTF-8): the session decodes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    pub lsub: bool,
    pub selection: Selection,
    pub reference: Vec<u8>,
    pub patterns: Vec<Vec<u8>>,
    pub returns: Returns,
}

/// The arguments after `LIST` or `LSUB`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>, lsub: bool) -> Result<ListCommand, &'static str> {
    let selection = if !lsub && cursor.open() {
        selection_options(cursor)?
    } else {
        Selection::default()
    };
    let reference = cursor
        .astring()
        .ok_or("LIST needs a reference name")?
        .into_owned();
    let patterns = if !lsub && cursor.open() {
        pattern_list(cursor)?
    } else {
        vec![cursor.astring().ok_or("LIST needs a mailbox pattern")?]
    };
    let mut returns = Returns {
        subscribed: selection.subscribed,
        ..Returns::default()
    };
    if !lsub && cursor.keyword("RETURN") {
        return_options(cursor, &mut returns)?;
    }
    if !cursor.at_end() {
        return Err("Unexpected text after the LIST arguments");
    }
    // Names are UTF-8 (RFC 9051 §5.1) or 7-bit modified UTF-7 (RFC 3501 §5.1.3): other bytes
    // are not a name a client could mean.
    if std::iter::once(&reference[..])
        .chain(patterns.iter().map(|p| &p[..]))
        .any(|s| std::str::from_utf8(s).is_err())
    {
        return Err("Mailbox name or pattern is not UTF-8");
    }
    Ok(ListCommand {
        lsub,
        selection,
        reference,
        patterns: patterns.into_iter().map(Cow::into_owned).collect(),
        returns,
    })
}

/// After `(`: the selection options up to `)`.
fn selection_options(cursor: &mut Cursor<'_>) -> Result<Selection, &'static str> {
    let mut selection = Selection::default();
    let mut modifiable = false;
    while !cursor.close() {
        let option = cursor.atom().ok_or("Unterminated LIST selection options")?;
        match option.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" => selection.subscribed = true,
            b"SPECIAL-USE" => selection.special_use = true,
            b"RECURSIVEMATCH" => selection.recursive_match = true,
            // Every mailbox is local: REMOTE adds nothing (RFC 5258 §3.1).
            b"REMOTE" => continue,
            // RFC 5258 §3: unknown selection options are BAD.
            _ => return Err("Unknown LIST selection option"),
        }
        modifiable |= !option.eq_ignore_ascii_case(b"RECURSIVEMATCH");
    }
    // RFC 5258 §3: RECURSIVEMATCH alone (or with only REMOTE) is BAD.
    if selection.recursive_match && !modifiable {
        return Err("RECURSIVEMATCH needs a selection option it can modify");
    }
    Ok(selection)
}

/// After `(`: one or more patterns up to `)` (RFC 5258 §3).
fn pattern_list<'a>(cursor: &mut Cursor<'a>) -> Result<Vec<Cow<'a, [u8]>>, &'static str> {
    let mut patterns = Vec::new();
    while !cursor.close() {
        patterns.push(cursor.astring().ok_or("Unterminated LIST pattern list")?);
        if patterns.len() > MAX_PATTERNS {
            return Err("Too many LIST patterns");
        }
    }
    if patterns.is_empty() {
        return Err("An empty LIST pattern list");
    }
    Ok(patterns)
}

/// After `RETURN`: `(` options `)`.
fn return_options(cursor: &mut Cursor<'_>, returns: &mut Returns) -> Result<(), &'static str> {
    if !cursor.open() {
        return Err("RETURN needs a parenthesized list");
    }
    while !cursor.close() {
        let option = cursor.atom().ok_or("Unterminated LIST RETURN options")?;
        match option.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" => returns.subscribed = true,
            // Always returned: \HasChildren / \HasNoChildren and special-use attributes.
            b"CHILDREN" | b"SPECIAL-USE" => {}
            b"STATUS" => returns.status = status_items(cursor)?,
            _ => return Err("Unknown LIST RETURN option"),
        }
    }
    Ok(())
}

/// `STATUS (item ...)` of LIST-STATUS (RFC 5819 §2).
fn status_items(cursor: &mut Cursor<'_>) -> Result<Vec<StatusDataItemName>, &'static str> {
    if !cursor.open() {
        return Err("STATUS needs a list");
    }
    let mut items = Vec::new();
    while !cursor.close() {
        let item = cursor.atom().ok_or("Unterminated STATUS list")?;
        items.push(match item.to_ascii_uppercase().as_slice() {
            b"MESSAGES" => StatusDataItemName::Messages,
            b"RECENT" => StatusDataItemName::Recent,
            b"UIDNEXT" => StatusDataItemName::UidNext,
            b"UIDVALIDITY" => StatusDataItemName::UidValidity,
            b"UNSEEN" => StatusDataItemName::Unseen,
            b"DELETED" => StatusDataItemName::Deleted,
            b"SIZE" => StatusDataItemName::Size,
            b"HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
            _ => return Err("Unknown STATUS item"),
        });
    }
    if items.is_empty() {
        return Err("STATUS needs at least one item");
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn list(command: &str) -> Result<ListCommand, &'static str> {
        match typed(command.as_bytes())? {
            Typed::List(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_basic_form() {
        let got = list("a LIST \"\" *\r\n").unwrap();
        assert_eq!(got.reference, b"");
        assert_eq!(got.patterns, [b"*".to_vec()]);
        assert_eq!(got.selection, Selection::default());
        assert!(!got.lsub);
    }

    #[test]
    fn every_extended_part() {
        let got = list(
            "a list (subscribed recursivematch) \"\" (a/% \"b c\") \
             return (children status (messages unseen))\r\n",
        )
        .unwrap();
        assert!(got.selection.subscribed && got.selection.recursive_match);
        assert_eq!(got.patterns, [b"a/%".to_vec(), b"b c".to_vec()]);
        assert!(
            got.returns.subscribed,
            "implied by the SUBSCRIBED selection"
        );
        assert_eq!(
            got.returns.status,
            [StatusDataItemName::Messages, StatusDataItemName::Unseen]
        );
    }

    #[test]
    fn what_is_bad() {
        for bad in [
            "a LIST (RECURSIVEMATCH) \"\" \"\"\r\n",
            "a LIST (RECURSIVEMATCH REMOTE) \"\" \"\"\r\n",
            "a LIST (imaptest) \"\" \"\"\r\n",
            "a LIST \"\" \"\" RETURN (imaptest)\r\n",
            "a LIST \"\" ()\r\n",
            "a LIST \"\"\r\n",
            "a LIST \"\" * extra\r\n",
            "a LSUB \"\" (a b)\r\n",
            "a LIST \"\" * RETURN (STATUS ())\r\n",
        ] {
            assert!(list(bad).is_err(), "{bad}");
        }
        assert!(typed(b"a LIST \"\" \"\xff\"\r\n").is_err());
        assert!(list("a LIST (REMOTE RECURSIVEMATCH SPECIAL-USE) \"\" *\r\n").is_ok());
        assert!(list("a LIST () \"\" * RETURN ()\r\n").is_ok());
    }
}
