//! Message state that mbox writers keep in header fields, since an mbox has no other place for it.
//! The fields stay in the stored bytes; this only reads them.

use crate::Flags;

/// Reads one header line (only its first line: these fields are never folded in practice):
/// - `Status: RO` and `X-Status: AFDT` (mutt, Dovecot, Thunderbird): R seen, A answered,
///   F flagged, D deleted, T draft; O ("old", i.e. not \Recent) has no stored counterpart;
/// - `X-Mozilla-Status: 0005` (Thunderbird, 4 hex digits): 0x1 read, 0x2 replied, 0x4 marked,
///   0x8 expunged;
/// - `X-Keywords: $Label1 Work` (Dovecot): keyword names separated by spaces.
pub(super) fn apply_status_header(line: &[u8], flags: &mut Flags, keywords: &mut Vec<String>) {
    if let Some(letters) = field_value(line, b"Status:").or_else(|| field_value(line, b"X-Status:"))
    {
        for letter in letters {
            match letter {
                b'R' => flags.seen = true,
                b'A' => flags.answered = true,
                b'F' => flags.flagged = true,
                b'D' => flags.deleted = true,
                b'T' => flags.draft = true,
                _ => {}
            }
        }
    } else if let Some(hex) = field_value(line, b"X-Mozilla-Status:") {
        let Some(bits) = std::str::from_utf8(hex)
            .ok()
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        else {
            return;
        };
        flags.seen |= bits & 0x0001 != 0;
        flags.answered |= bits & 0x0002 != 0;
        flags.flagged |= bits & 0x0004 != 0;
        flags.deleted |= bits & 0x0008 != 0;
    } else if let Some(names) = field_value(line, b"X-Keywords:") {
        for name in String::from_utf8_lossy(names).split_ascii_whitespace() {
            if !keywords.iter().any(|known| known == name) {
                keywords.push(name.to_owned());
            }
        }
    }
}

/// The trimmed value of `line` if it is the header field `name` (given with its colon).
/// Field names are case-insensitive (RFC 5322 §1.2.2).
fn field_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let (start, value) = line.split_at_checked(name.len())?;
    start.eq_ignore_ascii_case(name).then(|| value.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> (Flags, Vec<String>) {
        let (mut flags, mut keywords) = (Flags::default(), Vec::new());
        for line in lines {
            apply_status_header(line.as_bytes(), &mut flags, &mut keywords);
        }
        (flags, keywords)
    }

    #[test]
    fn status_and_x_status_letters() {
        let (flags, _) = read(&["Status: RO\n", "X-Status: AFT\r\n"]);
        assert_eq!(
            flags,
            Flags {
                seen: true,
                answered: true,
                flagged: true,
                deleted: false,
                draft: true
            }
        );
        assert!(read(&["x-status: D\n"]).0.deleted);
        assert_eq!(read(&["Status: O\n"]).0, Flags::default());
    }

    #[test]
    fn other_fields_are_ignored() {
        assert_eq!(
            read(&["Subject: RAFDT\n", "X-Status-Foo: R\n"]).0,
            Flags::default()
        );
    }

    #[test]
    fn thunderbird_status_bits() {
        let (flags, _) = read(&["X-Mozilla-Status: 0005\r\n"]);
        assert_eq!(
            flags,
            Flags {
                seen: true,
                flagged: true,
                ..Flags::default()
            }
        );
        assert!(read(&["X-Mozilla-Status: 000a\n"]).0.deleted);
        assert_eq!(read(&["X-Mozilla-Status: zz\n"]).0, Flags::default());
    }

    #[test]
    fn dovecot_keywords() {
        let (_, keywords) = read(&["X-Keywords: $Forwarded Work\n", "X-Keywords: Work Later\n"]);
        assert_eq!(keywords, ["$Forwarded", "Work", "Later"]);
    }
}
