//! The IMAP ENVELOPE of a message (RFC 9051 §7.5.2), from its raw header.

use serde::{Deserialize, Serialize};

use crate::address::{Address, parse_address_list};
use crate::header::{RawField, fields, first, unfold};

/// RFC 9051 §7.5.2 ENVELOPE: header values as written (not RFC 2047 decoded), unfolded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

impl Envelope {
    /// Builds the envelope from a raw header block (the first occurrence of each field counts).
    pub(crate) fn from_header(header: &[u8]) -> Envelope {
        let fields = fields(header);
        let text = |name: &str| first(&fields, name).map(|field| unfold(field.value));
        let addresses = |name: &str| {
            first(&fields, name)
                .map(|field: RawField<'_>| parse_address_list(&unfold(field.value)))
                .unwrap_or_default()
        };
        let from = addresses("From");
        let mut sender = addresses("Sender");
        let mut reply_to = addresses("Reply-To");
        // RFC 9051 §7.5.2: an absent or empty Sender or Reply-To takes the value of From.
        if sender.is_empty() {
            sender.clone_from(&from);
        }
        if reply_to.is_empty() {
            reply_to.clone_from(&from);
        }
        Envelope {
            date: text("Date"),
            subject: text("Subject"),
            from,
            sender,
            reply_to,
            to: addresses("To"),
            cc: addresses("Cc"),
            bcc: addresses("Bcc"),
            in_reply_to: text("In-Reply-To"),
            message_id: text("Message-ID"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_raw_and_unfolded() {
        let envelope = Envelope::from_header(
            b"Date: Mon, 7 Feb 1994 21:52:25\r\n -0800\r\nSubject: =?UTF-8?B?w6k=?=\r\nMessage-ID: <1@x>\r\nIn-Reply-To: <0@x>\r\nFrom: A <a@x>\r\n\r\n",
        );
        assert_eq!(
            envelope.date.as_deref(),
            Some("Mon, 7 Feb 1994 21:52:25 -0800")
        );
        assert_eq!(envelope.subject.as_deref(), Some("=?UTF-8?B?w6k=?="));
        assert_eq!(envelope.message_id.as_deref(), Some("<1@x>"));
        assert_eq!(envelope.in_reply_to.as_deref(), Some("<0@x>"));
        assert!(envelope.to.is_empty() && envelope.cc.is_empty() && envelope.bcc.is_empty());
    }

    #[test]
    fn sender_and_reply_to_default_to_from() {
        let envelope = Envelope::from_header(b"From: A <a@x>\r\nSender:\r\n\r\n");
        assert_eq!(envelope.from.len(), 1);
        assert_eq!(envelope.sender, envelope.from);
        assert_eq!(envelope.reply_to, envelope.from);

        let envelope = Envelope::from_header(b"From: a@x\r\nReply-To: r@y\r\n\r\n");
        assert_eq!(envelope.reply_to[0].mailbox.as_deref(), Some("r"));
        assert_eq!(envelope.sender, envelope.from);
    }

    #[test]
    fn first_occurrence_wins() {
        let envelope = Envelope::from_header(b"Subject: one\r\nSubject: two\r\n\r\n");
        assert_eq!(envelope.subject.as_deref(), Some("one"));
    }
}
