//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502 §6) and literal8 (RFC 3516 §4.4):
//!
//! ```text
//! append = "APPEND" SP mailbox 1*append-message
//! append-message = SP [flag-list SP] [date-time SP] (literal / literal8)
//! ```

use super::Cursor;

/// Messages one MULTIAPPEND may carry; the reader already bounds their total size.
pub const MAX_APPEND_MESSAGES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCommand {
    /// As the client wrote it (modified UTF-7 or UTF-8).
    pub mailbox: Vec<u8>,
    pub messages: Vec<AppendMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// The flags as written (`\Seen`, `$Label1`).
    pub flags: Vec<String>,
    /// The date-time given, as unix seconds.
    pub internal_date: Option<i64>,
    pub raw: Vec<u8>,
}

/// The arguments after `APPEND`. Err is the text for `BAD`.
pub fn parse(cursor: &mut Cursor<'_>) -> Result<AppendCommand, &'static str> {
    let mailbox = cursor
        .astring()
        .ok_or("APPEND needs a mailbox name")?
        .into_owned();
    let mut messages = Vec::new();
    while !cursor.at_end() {
        if messages.len() == MAX_APPEND_MESSAGES {
            return Err("Too many messages in one APPEND");
        }
        messages.push(message(cursor)?);
    }
    if messages.is_empty() {
        return Err("APPEND needs a message");
    }
    Ok(AppendCommand { mailbox, messages })
}

fn message(cursor: &mut Cursor<'_>) -> Result<AppendMessage, &'static str> {
    let flags = if cursor.open() {
        cursor.atoms_to_close("Unterminated APPEND flag list")?
    } else {
        Vec::new()
    };
    let internal_date = match cursor.quoted() {
        Some(text) => Some(date_time(&text).ok_or("Invalid APPEND date-time")?),
        None => None,
    };
    let raw = cursor
        .literal()
        .ok_or("APPEND needs the message as a literal")?
        .to_vec();
    Ok(AppendMessage {
        flags,
        internal_date,
        raw,
    })
}

/// RFC 9051 §9 `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day space-padded or two
/// digits, the month in any case.
fn date_time(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    let format = time::macros::format_description!(
        "[day padding:none]-[month repr:short case_sensitive:false]-[year] \
         [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    let parsed = time::OffsetDateTime::parse(text, &format).ok()?;
    Some(parsed.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::super::{Typed, typed};
    use super::*;

    fn append(command: &[u8]) -> Result<AppendCommand, &'static str> {
        match typed(command)? {
            Typed::Append(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_message_with_flags_and_date() {
        let got = append(
            b"a APPEND INBOX (\\Seen $Work) \" 7-Feb-2024 10:00:00 +0100\" {5}\r\nHello\r\n",
        )
        .unwrap();
        assert_eq!(got.mailbox, b"INBOX");
        let message = &got.messages[0];
        assert_eq!(message.flags, ["\\Seen", "$Work"]);
        assert_eq!(message.internal_date, Some(1_707_296_400));
        assert_eq!(message.raw, b"Hello");
    }

    #[test]
    fn several_messages_and_literal8() {
        let got = append(b"a APPEND Box {1+}\r\nA (\\Draft) ~{2}\r\nB\0 {1}\r\nC\r\n").unwrap();
        let raws: Vec<&[u8]> = got.messages.iter().map(|m| &m.raw[..]).collect();
        assert_eq!(raws, [&b"A"[..], b"B\0", b"C"]);
        assert_eq!(got.messages[1].flags, ["\\Draft"]);
    }

    #[test]
    fn what_is_bad() {
        for bad in [
            &b"a APPEND INBOX\r\n"[..],
            b"a APPEND INBOX (\\Seen\r\n",
            b"a APPEND INBOX \"32-Jan-2024 10:00:00 +0000\" {1}\r\nx\r\n",
            b"a APPEND INBOX {1}\r\nx extra\r\n",
            b"a APPEND INBOX hello\r\n",
        ] {
            assert!(append(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            date_time(b"07-feb-2024 10:00:00 -0000"),
            Some(1_707_300_000)
        );
    }
}
