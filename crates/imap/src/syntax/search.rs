//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH return options (RFC 4731 §3.1,
//! RFC 9051), the saved result `$` (RFC 5182), WITHIN (RFC 5032 OLDER / YOUNGER), CONDSTORE's
//! MODSEQ key (RFC 7162 §3.1.5) and SAVEDATE's keys (RFC 8514 §4.2):
//!
//! ```text
//! search = ["UID" SP] "SEARCH" [SP "RETURN" SP "(" [ret-opt *(SP ret-opt)] ")"]
//!          SP ["CHARSET" SP charset SP] search-key *(SP search-key)
//! ```

use imap_codec::imap_types::sequence::SequenceSet;

use super::Cursor;
use super::sequence::{number, sequence_set};

/// Keys nested deeper than this are refused, which bounds the parser's recursion.
pub const MAX_DEPTH: usize = 64;

/// Keys one SEARCH may have, nested ones counted: each is evaluated for every message.
pub const MAX_KEYS: usize = 1000;

/// ESEARCH return options (RFC 4731 §3.1, RFC 5182 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCommand {
    pub uid: bool,
    /// `RETURN (...)` given: the answer is ESEARCH with these.
    pub returns: Option<SearchReturn>,
    pub charset: Option<String>,
    /// All must match.
    pub criteria: Vec<SearchKey>,
}

/// One search key. Dates are days since 1970-01-01 (RFC 9051 §6.4.4 compares dates without
/// time or zone); strings are as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    Seen,
    Recent,
    New,
    Old,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    Keyword(String),
    Unkeyword(String),
    Bcc(Vec<u8>),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    From(Vec<u8>),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Header(String, Vec<u8>),
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    /// RFC 8514 §4.2.
    SavedBefore(i64),
    SavedOn(i64),
    SavedSince(i64),
    SaveDateSupported,
    Larger(u64),
    Smaller(u64),
    /// RFC 5032: INTERNALDATE at least this many seconds ago / at most.
    Older(u32),
    Younger(u32),
    /// RFC 7162 §3.1.5: MODSEQ at least this (the entry name and type are not kept apart).
    ModSeq(u64),
    SequenceSet(SequenceSet),
    Uid(SequenceSet),
    /// `$` (RFC 5182 §2.1), as a sequence set or after UID: the messages saved last.
    Saved,
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}

/// The arguments after `SEARCH`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>, uid: bool) -> Result<SearchCommand, &'static str> {
    let returns = if cursor.keyword("RETURN") {
        Some(return_options(cursor)?)
    } else {
        None
    };
    let charset = if cursor.keyword("CHARSET") {
        let name = cursor.astring().ok_or("CHARSET needs a name")?;
        Some(String::from_utf8_lossy(&name).into_owned())
    } else {
        None
    };
    let mut criteria = Vec::new();
    let mut count = 0;
    while !cursor.at_end() {
        criteria.push(key(cursor, 0, &mut count)?);
    }
    if criteria.is_empty() {
        return Err("SEARCH needs a search key");
    }
    Ok(SearchCommand {
        uid,
        returns,
        charset,
        criteria,
    })
}

fn return_options(cursor: &mut Cursor<'_>) -> Result<SearchReturn, &'static str> {
    if !cursor.open() {
        return Err("RETURN needs a parenthesized list");
    }
    let mut ret = SearchReturn::default();
    while !cursor.close() {
        let option = cursor.atom().ok_or("Unterminated SEARCH RETURN options")?;
        match option.to_ascii_uppercase().as_slice() {
            b"MIN" => ret.min = true,
            b"MAX" => ret.max = true,
            b"ALL" => ret.all = true,
            b"COUNT" => ret.count = true,
            b"SAVE" => ret.save = true,
            _ => return Err("Unknown SEARCH RETURN option"),
        }
    }
    // RFC 4731 §3.1: RETURN () means ALL.
    if !(ret.min || ret.max || ret.count || ret.save) {
        ret.all = true;
    }
    Ok(ret)
}

/// One key; `count` is the keys read so far.
fn key(
    cursor: &mut Cursor<'_>,
    depth: usize,
    count: &mut usize,
) -> Result<SearchKey, &'static str> {
    use SearchKey as K;
    if depth > MAX_DEPTH {
        return Err("Search criteria nested too deeply");
    }
    *count += 1;
    if *count > MAX_KEYS {
        return Err("Too many search keys");
    }
    if cursor.open() {
        let mut keys = Vec::new();
        while !cursor.close() {
            if cursor.at_end() {
                return Err("Unterminated search key list");
            }
            keys.push(key(cursor, depth + 1, count)?);
        }
        if keys.is_empty() {
            return Err("An empty search key list");
        }
        return Ok(K::And(keys));
    }
    let word = cursor.atom().ok_or("Invalid search key")?;
    let string = |cursor: &mut Cursor<'_>| -> Result<Vec<u8>, &'static str> {
        Ok(cursor
            .astring()
            .ok_or("Search key needs a string")?
            .into_owned())
    };
    Ok(match word.to_ascii_uppercase().as_slice() {
        b"ALL" => K::All,
        b"ANSWERED" => K::Answered,
        b"DELETED" => K::Deleted,
        b"DRAFT" => K::Draft,
        b"FLAGGED" => K::Flagged,
        b"SEEN" => K::Seen,
        b"RECENT" => K::Recent,
        b"NEW" => K::New,
        b"OLD" => K::Old,
        b"UNANSWERED" => K::Unanswered,
        b"UNDELETED" => K::Undeleted,
        b"UNDRAFT" => K::Undraft,
        b"UNFLAGGED" => K::Unflagged,
        b"UNSEEN" => K::Unseen,
        b"KEYWORD" => K::Keyword(flag_keyword(cursor)?),
        b"UNKEYWORD" => K::Unkeyword(flag_keyword(cursor)?),
        b"BCC" => K::Bcc(string(cursor)?),
        b"BODY" => K::Body(string(cursor)?),
        b"CC" => K::Cc(string(cursor)?),
        b"FROM" => K::From(string(cursor)?),
        b"SUBJECT" => K::Subject(string(cursor)?),
        b"TEXT" => K::Text(string(cursor)?),
        b"TO" => K::To(string(cursor)?),
        b"HEADER" => {
            let name = string(cursor)?;
            let name = String::from_utf8(name).map_err(|_| "Invalid header field name")?;
            K::Header(name, string(cursor)?)
        }
        b"BEFORE" => K::Before(date(cursor)?),
        b"ON" => K::On(date(cursor)?),
        b"SINCE" => K::Since(date(cursor)?),
        b"SENTBEFORE" => K::SentBefore(date(cursor)?),
        b"SENTON" => K::SentOn(date(cursor)?),
        b"SENTSINCE" => K::SentSince(date(cursor)?),
        b"SAVEDBEFORE" => K::SavedBefore(date(cursor)?),
        b"SAVEDON" => K::SavedOn(date(cursor)?),
        b"SAVEDSINCE" => K::SavedSince(date(cursor)?),
        b"SAVEDATESUPPORTED" => K::SaveDateSupported,
        b"LARGER" => K::Larger(number(cursor)?),
        b"SMALLER" => K::Smaller(number(cursor)?),
        b"OLDER" => K::Older(nz_number(cursor)?),
        b"YOUNGER" => K::Younger(nz_number(cursor)?),
        b"MODSEQ" => {
            // `MODSEQ [entry-name entry-type-req] mod-sequence-valzer` (RFC 7162 §3.1.5).
            if cursor.quoted().is_some() {
                cursor.atom().ok_or("MODSEQ needs an entry type")?;
            }
            K::ModSeq(number(cursor)?)
        }
        b"UID" => match cursor.atom() {
            Some(b"$") => K::Saved,
            Some(set) => K::Uid(sequence_set(set)?),
            None => return Err("UID needs a sequence set"),
        },
        b"NOT" => K::Not(Box::new(key(cursor, depth + 1, count)?)),
        b"OR" => {
            let a = key(cursor, depth + 1, count)?;
            K::Or(Box::new(a), Box::new(key(cursor, depth + 1, count)?))
        }
        b"$" => K::Saved,
        _ => K::SequenceSet(sequence_set(word).map_err(|_| "Unknown search key")?),
    })
}

fn flag_keyword(cursor: &mut Cursor<'_>) -> Result<String, &'static str> {
    let atom = cursor.atom().ok_or("KEYWORD needs a flag keyword")?;
    if atom.starts_with(b"\\") {
        return Err("KEYWORD takes a keyword, not a system flag");
    }
    String::from_utf8(atom.to_vec()).map_err(|_| "Invalid flag keyword")
}

fn nz_number(cursor: &mut Cursor<'_>) -> Result<u32, &'static str> {
    u32::try_from(number(cursor)?)
        .ok()
        .filter(|&n| n > 0)
        .ok_or("Invalid number")
}

/// RFC 9051 §9 `date`: `d-Mon-yyyy`, bare or quoted, the month in any case.
fn date(cursor: &mut Cursor<'_>) -> Result<i64, &'static str> {
    let text = match cursor.quoted() {
        Some(quoted) => quoted.into_owned(),
        None => cursor.atom().ok_or("Search key needs a date")?.to_vec(),
    };
    let text = std::str::from_utf8(&text).map_err(|_| "Invalid date")?;
    let format = time::macros::format_description!(
        "[day padding:none]-[month repr:short case_sensitive:false]-[year]"
    );
    let date = time::Date::parse(text, &format).map_err(|_| "Invalid date")?;
    /// The Julian day of 1970-01-01.
    const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
    Ok(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY)
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn search(command: &[u8]) -> Result<SearchCommand, &'static str> {
        match typed(command)? {
            Typed::Search(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_of_every_kind() {
        let got = search(
            b"a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR SEEN NOT FLAGGED \
              (SINCE 1-Feb-2024 SAVEDON \"2-feb-2024\") HEADER Subject {3}\r\nabc \
              1:3,7 UID $ MODSEQ \"/flags/\\\\draft\" all 620162338 KEYWORD $Work\r\n",
        )
        .unwrap();
        assert!(got.uid);
        let returns = got.returns.unwrap();
        assert!(returns.min && returns.count && !returns.all);
        assert_eq!(got.charset.as_deref(), Some("UTF-8"));
        use SearchKey as K;
        assert_eq!(
            got.criteria,
            [
                K::Or(Box::new(K::Seen), Box::new(K::Not(Box::new(K::Flagged)))),
                K::And(vec![K::Since(19754), K::SavedOn(19755)]),
                K::Header("Subject".into(), b"abc".to_vec()),
                K::SequenceSet(SequenceSet::try_from("1:3,7").unwrap()),
                K::Saved,
                K::ModSeq(620162338),
                K::Keyword("$Work".into()),
            ]
        );
    }

    #[test]
    fn a_keys_argument_is_not_a_key() {
        let got = search(b"a SEARCH SUBJECT SAVEDON TEXT {7}\r\nSAVEDON\r\n").unwrap();
        assert_eq!(
            got.criteria,
            [
                SearchKey::Subject(b"SAVEDON".to_vec()),
                SearchKey::Text(b"SAVEDON".to_vec())
            ]
        );
        let returns = search(b"a SEARCH RETURN () ALL\r\n").unwrap().returns;
        assert!(returns.unwrap().all);
    }

    #[test]
    fn what_is_bad() {
        for bad in [
            &b"a SEARCH\r\n"[..],
            b"a SEARCH SAVEDON\r\n",
            b"a SEARCH BEFORE 32-Jan-2024\r\n",
            b"a SEARCH RETURN (FOO) ALL\r\n",
            b"a SEARCH FOO\r\n",
            b"a SEARCH (SEEN\r\n",
            b"a SEARCH ()\r\n",
            b"a SEARCH OR SEEN\r\n",
            b"a SEARCH LARGER x\r\n",
            b"a SEARCH KEYWORD \\Seen\r\n",
        ] {
            assert!(search(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("a SEARCH {}ALL\r\n", "NOT ".repeat(MAX_DEPTH + 2));
        assert!(search(deep.as_bytes()).is_err());
        let many = format!("a SEARCH {}\r\n", "SEEN ".repeat(MAX_KEYS + 1));
        assert_eq!(search(many.as_bytes()), Err("Too many search keys"));
        let enough = format!("a SEARCH {}\r\n", "SEEN ".repeat(MAX_KEYS));
        assert!(search(enough.as_bytes()).is_ok());
    }
}
