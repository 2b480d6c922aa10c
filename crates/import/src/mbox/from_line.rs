//! The date on an mbox "From " separator line, which becomes the message's internal date.
//!
//! Writers put an asctime(3) date after the envelope sender: "From alice@example.com Tue Jan  2
//! 15:04:05 2024" (mutt, Dovecot, formail, Python), "From - Tue Jan 02 ..." (Thunderbird), sometimes
//! with a zone before or after the year ("... 15:04:05 +0000 2024" from Google Takeout). A few tools
//! write an RFC 5322 date instead, which mail-parser reads.

use mail_parser::DateTime;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Unix seconds of the date on a "From " line, or `None` if it carries no date we can read.
/// An asctime date has no zone: it is taken as UTC unless a numeric zone follows the time.
pub(super) fn from_line_date(line: &[u8]) -> Option<i64> {
    let text = String::from_utf8_lossy(line);
    let rest = text.strip_prefix("From ")?.trim();
    let tokens: Vec<&str> = rest.split_ascii_whitespace().collect();
    let asctime = tokens.iter().enumerate().find_map(|(i, token)| {
        let month = month_number(token)?;
        asctime_after_month(month, &tokens[i + 1..])
    });
    let date = asctime.or_else(|| {
        // Skip the envelope sender, then try RFC 5322 §3.3 syntax.
        let (_sender, date) = rest.split_once(char::is_whitespace)?;
        DateTime::parse_rfc822(date.trim())
    })?;
    date.is_valid().then(|| date.to_timestamp())
}

fn month_number(token: &str) -> Option<u8> {
    let index = MONTHS
        .iter()
        .position(|month| token.eq_ignore_ascii_case(month))?;
    u8::try_from(index + 1).ok()
}

/// Reads "DD HH:MM[:SS] [ZONE] YYYY [ZONE]" following the month token.
fn asctime_after_month(month: u8, tokens: &[&str]) -> Option<DateTime> {
    let [day, time, rest @ ..] = tokens else {
        return None;
    };
    let day: u8 = day.parse().ok()?;
    let mut time_parts = time.split(':');
    let hour: u8 = time_parts.next()?.parse().ok()?;
    let minute: u8 = time_parts.next()?.parse().ok()?;
    let second: u8 = match time_parts.next() {
        Some(second) => second.parse().ok()?,
        None => 0,
    };
    let mut date = DateTime {
        year: 0,
        month,
        day,
        hour,
        minute,
        second,
        tz_before_gmt: false,
        tz_hour: 0,
        tz_minute: 0,
    };
    for token in rest.iter().take(3) {
        if token.len() == 4 && token.bytes().all(|b| b.is_ascii_digit()) {
            date.year = token.parse().ok()?;
        } else if let Some((before_gmt, hours, minutes)) = numeric_zone(token) {
            date.tz_before_gmt = before_gmt;
            date.tz_hour = hours;
            date.tz_minute = minutes;
        }
        // Zone names ("PST") are ambiguous and ignored.
    }
    (date.year != 0).then_some(date)
}

/// "+hhmm" / "-hhmm" (RFC 5322 §3.3 zone syntax).
fn numeric_zone(token: &str) -> Option<(bool, u8, u8)> {
    let (sign, digits) = token.split_at_checked(1)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let before_gmt = match sign {
        "-" => true,
        "+" => false,
        _ => return None,
    };
    Some((
        before_gmt,
        digits[..2].parse().ok()?,
        digits[2..].parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::from_line_date;

    // 2024-01-02T15:04:05Z
    const JAN_2_2024: i64 = 1_704_207_845;

    #[test]
    fn asctime_with_padded_day() {
        let line = b"From alice@example.com Tue Jan  2 15:04:05 2024\n";
        assert_eq!(from_line_date(line), Some(JAN_2_2024));
    }

    #[test]
    fn thunderbird_dash_sender() {
        assert_eq!(
            from_line_date(b"From - Tue Jan 02 15:04:05 2024\r\n"),
            Some(JAN_2_2024)
        );
    }

    #[test]
    fn zone_before_year_as_google_takeout_writes() {
        let line = b"From 1234@xxx Tue Jan 02 16:04:05 +0100 2024";
        assert_eq!(from_line_date(line), Some(JAN_2_2024));
    }

    #[test]
    fn zone_after_year() {
        let line = b"From bob Tue Jan  2 10:04:05 2024 -0500";
        assert_eq!(from_line_date(line), Some(JAN_2_2024));
    }

    #[test]
    fn rfc5322_date() {
        let line = b"From bob Tue, 2 Jan 2024 15:04:05 +0000";
        assert_eq!(from_line_date(line), Some(JAN_2_2024));
    }

    #[test]
    fn missing_or_bad_date() {
        assert_eq!(from_line_date(b"From bob"), None);
        assert_eq!(from_line_date(b"From bob Tue Jan 45 15:04:05 2024"), None);
        assert_eq!(from_line_date(b"Subject: Jan 2 15:04:05 2024"), None);
    }
}
