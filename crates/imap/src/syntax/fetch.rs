//! FETCH and UID FETCH (RFC 9051 §6.4.5) with BINARY (RFC 3516 §4.2), CONDSTORE/QRESYNC's
//! MODSEQ item and modifiers (RFC 7162 §3.1.4, §3.2.6), SAVEDATE (RFC 8514 §4.3) and PREVIEW
//! (RFC 8970 §3, with its LAZY modifier):
//!
//! ```text
//! fetch = "FETCH" SP (sequence-set / "$") SP ("ALL" / "FULL" / "FAST" / fetch-att /
//!         "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP fetch-modifier) ")"]
//! ```
//!
//! The items are imap-types' values, which `commands/fetch` takes; SAVEDATE and PREVIEW, which
//! imap-types lacks, are [`Extras`].

use std::num::{NonZeroU32, NonZeroU64};

use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Part, Section,
};

use super::Cursor;
use super::sequence::{Messages, messages, number, parse_number};

/// Items one FETCH may ask for.
pub const MAX_ITEMS: usize = 100;

/// The items imap-types has no value for; they are written after the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// SAVEDATE (RFC 8514 §4.3).
    pub save_date: bool,
    /// PREVIEW (RFC 8970 §3); LAZY changes nothing here, as every preview is kept ready.
    pub preview: bool,
}

impl Extras {
    fn any(self) -> bool {
        self.save_date || self.preview
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCommand {
    pub uid: bool,
    pub messages: Messages,
    pub items: MacroOrMessageDataItemNames<'static>,
    pub extras: Extras,
    pub modifiers: Vec<FetchModifier>,
}

/// The arguments after `FETCH`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>, uid: bool) -> Result<FetchCommand, &'static str> {
    let messages = messages(cursor)?;
    let mut extras = Extras::default();
    let items = if cursor.open() {
        let mut items = Vec::new();
        while !cursor.close() {
            let atom = cursor.atom().ok_or("Unterminated FETCH item list")?;
            items.extend(item(cursor, atom, &mut extras)?);
            if items.len() > MAX_ITEMS {
                return Err("Too many FETCH items");
            }
        }
        if items.is_empty() && !extras.any() {
            return Err("An empty FETCH item list");
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(items)
    } else {
        let atom = cursor.atom().ok_or("FETCH needs items")?;
        match atom.to_ascii_uppercase().as_slice() {
            b"ALL" => MacroOrMessageDataItemNames::Macro(Macro::All),
            b"FAST" => MacroOrMessageDataItemNames::Macro(Macro::Fast),
            b"FULL" => MacroOrMessageDataItemNames::Macro(Macro::Full),
            _ => {
                let item = item(cursor, atom, &mut extras)?;
                MacroOrMessageDataItemNames::MessageDataItemNames(item.into_iter().collect())
            }
        }
    };
    let modifiers = if cursor.open() {
        modifiers(cursor)?
    } else {
        Vec::new()
    };
    if !cursor.at_end() {
        return Err("Unexpected text after the FETCH arguments");
    }
    Ok(FetchCommand {
        uid,
        messages,
        items,
        extras,
        modifiers,
    })
}

/// After `(`: `CHANGEDSINCE n` and `VANISHED` up to `)`.
fn modifiers(cursor: &mut Cursor<'_>) -> Result<Vec<FetchModifier>, &'static str> {
    let mut out = Vec::new();
    while !cursor.close() {
        if cursor.keyword("CHANGEDSINCE") {
            let n = NonZeroU64::new(number(cursor)?).ok_or("CHANGEDSINCE needs a mod-sequence")?;
            out.push(FetchModifier::ChangedSince(n));
        } else if cursor.keyword("VANISHED") {
            out.push(FetchModifier::Vanished);
        } else {
            return Err("Unknown FETCH modifier");
        }
    }
    Ok(out)
}

/// One fetch-att; None for the [`Extras`], which it sets.
fn item(
    cursor: &mut Cursor<'_>,
    atom: &[u8],
    extras: &mut Extras,
) -> Result<Option<MessageDataItemName<'static>>, &'static str> {
    use MessageDataItemName as I;
    let upper = atom.to_ascii_uppercase();
    let simple = match upper.as_slice() {
        b"SAVEDATE" => {
            extras.save_date = true;
            return Ok(None);
        }
        b"PREVIEW" => {
            extras.preview = true;
            // RFC 8970 §3: `PREVIEW (LAZY)`.
            if cursor.opens_with("LAZY") {
                cursor.open();
                while cursor.keyword("LAZY") {}
                if !cursor.close() {
                    return Err("Unknown PREVIEW modifier");
                }
            }
            return Ok(None);
        }
        b"UID" => Some(I::Uid),
        b"FLAGS" => Some(I::Flags),
        b"INTERNALDATE" => Some(I::InternalDate),
        b"RFC822" => Some(I::Rfc822),
        b"RFC822.HEADER" => Some(I::Rfc822Header),
        b"RFC822.SIZE" => Some(I::Rfc822Size),
        b"RFC822.TEXT" => Some(I::Rfc822Text),
        b"ENVELOPE" => Some(I::Envelope),
        b"BODY" => Some(I::Body),
        b"BODYSTRUCTURE" => Some(I::BodyStructure),
        b"MODSEQ" => Some(I::ModSeq),
        _ => None,
    };
    if let Some(simple) = simple {
        return Ok(Some(simple));
    }
    let open = atom
        .iter()
        .position(|&b| b == b'[')
        .ok_or("Unknown FETCH item")?;
    let close = atom
        .iter()
        .rposition(|&b| b == b']')
        .ok_or("Unterminated section")?;
    if close < open {
        return Err("Unterminated section");
    }
    let (name, inside, after) = (&upper[..open], &atom[open + 1..close], &atom[close + 1..]);
    let partial = partial(after)?;
    Ok(Some(match name {
        b"BODY" | b"BODY.PEEK" => I::BodyExt {
            section: section(inside)?,
            partial,
            peek: name == b"BODY.PEEK",
        },
        b"BINARY" | b"BINARY.PEEK" => I::Binary {
            section: part_numbers(inside)?,
            partial,
            peek: name == b"BINARY.PEEK",
        },
        b"BINARY.SIZE" if partial.is_none() => I::BinarySize {
            section: part_numbers(inside)?,
        },
        _ => return Err("Unknown FETCH item"),
    }))
}

/// `<origin.length>` after a section (RFC 9051 §9 `partial`), or nothing.
fn partial(text: &[u8]) -> Result<Option<(u32, NonZeroU32)>, &'static str> {
    if text.is_empty() {
        return Ok(None);
    }
    let inner = text
        .strip_prefix(b"<")
        .and_then(|t| t.strip_suffix(b">"))
        .ok_or("Invalid partial")?;
    let dot = inner
        .iter()
        .position(|&b| b == b'.')
        .ok_or("Invalid partial")?;
    let origin = parse_number(&inner[..dot]).and_then(|n| u32::try_from(n).ok());
    let length = parse_number(&inner[dot + 1..])
        .and_then(|n| u32::try_from(n).ok())
        .and_then(NonZeroU32::new);
    match (origin, length) {
        (Some(origin), Some(length)) => Ok(Some((origin, length))),
        _ => Err("Invalid partial"),
    }
}

/// `1.2.3` (RFC 3516 `section-binary`): part numbers only.
fn part_numbers(text: &[u8]) -> Result<Vec<NonZeroU32>, &'static str> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(|&b| b == b'.')
        .map(|n| {
            parse_number(n)
                .and_then(|n| u32::try_from(n).ok())
                .and_then(NonZeroU32::new)
                .ok_or("Invalid section part number")
        })
        .collect()
}

/// The inside of `BODY[...]` (RFC 9051 §9 `section-spec`): part numbers, then HEADER,
/// HEADER.FIELDS[.NOT] (names), TEXT or MIME.
fn section(text: &[u8]) -> Result<Option<Section<'static>>, &'static str> {
    if text.is_empty() {
        return Ok(None);
    }
    // The part numbers run up to the first word that is not a number.
    let (spec, names) = match text.iter().position(|&b| b == b' ') {
        Some(space) => (&text[..space], Some(&text[space + 1..])),
        None => (text, None),
    };
    let mut numbers = Vec::new();
    let mut rest: &[u8] = spec;
    while rest.first().is_some_and(u8::is_ascii_digit) {
        let end = rest.iter().position(|&b| b == b'.').unwrap_or(rest.len());
        numbers.extend(part_numbers(&rest[..end])?);
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    let part = Vec1::try_from(numbers).ok().map(Part);
    let field_names = || -> Result<Vec1<AString<'static>>, &'static str> {
        header_names(names.ok_or("HEADER.FIELDS needs field names")?)
    };
    let section = match (rest.to_ascii_uppercase().as_slice(), names.is_some()) {
        (b"", false) => Section::Part(part.ok_or("Invalid section")?),
        (b"HEADER", false) => Section::Header(part),
        (b"TEXT", false) => Section::Text(part),
        (b"MIME", false) => Section::Mime(part.ok_or("MIME needs a part number")?),
        (b"HEADER.FIELDS", true) => Section::HeaderFields(part, field_names()?),
        (b"HEADER.FIELDS.NOT", true) => Section::HeaderFieldsNot(part, field_names()?),
        _ => return Err("Invalid section"),
    };
    Ok(Some(section))
}

/// `(name name ...)` of HEADER.FIELDS: atoms or quoted strings.
fn header_names(text: &[u8]) -> Result<Vec1<AString<'static>>, &'static str> {
    let inner = text
        .trim_ascii()
        .strip_prefix(b"(")
        .and_then(|t| t.strip_suffix(b")"))
        .ok_or("HEADER.FIELDS needs a parenthesized list")?;
    let mut names = Vec::new();
    for word in inner.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word = word
            .strip_prefix(b"\"")
            .and_then(|w| w.strip_suffix(b"\""))
            .unwrap_or(word);
        let name = AString::try_from(word.to_vec()).map_err(|_| "Invalid header field name")?;
        names.push(name);
    }
    Vec1::try_from(names).map_err(|_| "HEADER.FIELDS needs field names")
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn fetch(command: &[u8]) -> Result<FetchCommand, &'static str> {
        match typed(command)? {
            Typed::Fetch(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    fn items(command: &[u8]) -> Vec<MessageDataItemName<'static>> {
        match fetch(command).unwrap().items {
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
            other => panic!("{other:?}"),
        }
    }

    fn one(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn sections_and_partials() {
        let got = items(
            b"a FETCH 1:* (UID BODY.PEEK[1.2.HEADER.FIELDS (From \"X-Y\")]<0.100> \
              BODY[] BINARY[2]<5.10> BINARY.SIZE[1] body[3.mime] BODY[TEXT])\r\n",
        );
        use MessageDataItemName as I;
        let part = |ns: &[u32]| {
            Part(Vec1::try_from(ns.iter().map(|&n| one(n)).collect::<Vec<_>>()).unwrap())
        };
        let names = Vec1::try_from(vec![
            AString::try_from("From").unwrap(),
            AString::try_from("X-Y").unwrap(),
        ])
        .unwrap();
        assert_eq!(
            got,
            [
                I::Uid,
                I::BodyExt {
                    section: Some(Section::HeaderFields(Some(part(&[1, 2])), names)),
                    partial: Some((0, one(100))),
                    peek: true
                },
                I::BodyExt {
                    section: None,
                    partial: None,
                    peek: false
                },
                I::Binary {
                    section: vec![one(2)],
                    partial: Some((5, one(10))),
                    peek: false
                },
                I::BinarySize {
                    section: vec![one(1)]
                },
                I::BodyExt {
                    section: Some(Section::Mime(part(&[3]))),
                    partial: None,
                    peek: false
                },
                I::BodyExt {
                    section: Some(Section::Text(None)),
                    partial: None,
                    peek: false
                },
            ]
        );
    }

    #[test]
    fn savedate_saved_result_macros_and_modifiers() {
        let got = fetch(b"a UID FETCH $ (FLAGS SAVEDATE) (CHANGEDSINCE 4 VANISHED)\r\n").unwrap();
        assert!(got.uid && got.extras.save_date && !got.extras.preview);
        assert_eq!(got.messages, Messages::Saved);
        assert_eq!(got.modifiers.len(), 2);
        let alone = fetch(b"a FETCH 1 SAVEDATE\r\n").unwrap();
        assert!(alone.extras.save_date);
        assert_eq!(
            alone.items,
            MacroOrMessageDataItemNames::MessageDataItemNames(vec![])
        );
        let all = fetch(b"a FETCH 1,3 all\r\n").unwrap();
        assert_eq!(all.items, MacroOrMessageDataItemNames::Macro(Macro::All));
        // A header named SAVEDATE is a header name.
        assert_eq!(
            items(b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (SAVEDATE)])\r\n").len(),
            1
        );
    }

    #[test]
    fn preview_with_and_without_lazy() {
        for command in [
            &b"a FETCH 1 (UID PREVIEW (LAZY) FLAGS)\r\n"[..],
            b"a FETCH 1 PREVIEW (lazy)\r\n",
            b"a FETCH 1 (PREVIEW)\r\n",
        ] {
            let got = fetch(command).unwrap();
            assert!(got.extras.preview, "{}", String::from_utf8_lossy(command));
            assert!(got.modifiers.is_empty());
        }
        // After a lone PREVIEW, a list that does not start with LAZY is the FETCH modifiers.
        let got = fetch(b"a FETCH 1 PREVIEW (CHANGEDSINCE 3)\r\n").unwrap();
        assert_eq!(got.modifiers.len(), 1);
        assert!(fetch(b"a FETCH 1 (PREVIEW (LAZY FOO))\r\n").is_err());
    }

    #[test]
    fn what_is_bad() {
        for bad in [
            &b"a FETCH 1\r\n"[..],
            b"a FETCH x FLAGS\r\n",
            b"a FETCH 1 (FLAGS\r\n",
            b"a FETCH 1 ()\r\n",
            b"a FETCH 1 FOO\r\n",
            b"a FETCH 1 BODY[0]\r\n",
            b"a FETCH 1 BODY[1.FOO]\r\n",
            b"a FETCH 1 BODY[]<5>\r\n",
            b"a FETCH 1 BODY[]<5.0>\r\n",
            b"a FETCH 1 BODY[MIME]\r\n",
            b"a FETCH 1 BODY[HEADER.FIELDS]\r\n",
            b"a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
            b"a FETCH 1 FLAGS (FOO 1)\r\n",
            b"a FETCH 1 FLAGS extra\r\n",
        ] {
            assert!(fetch(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
