//! Delivery status notifications (RFC 3464): the bounce a sender gets for recipients that
//! failed for good or expired, with the original headers (or the whole message for RET=FULL).

use crate::headers::header_block;
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

/// One failed recipient in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    pub address: String,
    pub orcpt: Option<String>,
    /// The remote server's reply, or what went wrong on the way.
    pub diagnostic: String,
    /// The server that answered, if one did.
    pub remote_mta: Option<String>,
    /// RFC 3463 status, e.g. "5.1.1".
    pub status: String,
}

/// What the report is about.
pub struct Report<'a> {
    /// Our host name (Reporting-MTA, the From: address's domain).
    pub hostname: &'a str,
    /// The envelope sender of the failed message, who gets the report.
    pub to: &'a str,
    pub env_id: Option<&'a str>,
    pub arrival_date: i64,
    pub recipients: &'a [FailedRecipient],
    /// The original message.
    pub original: &'a [u8],
    /// RET=FULL: attach the whole message rather than its header.
    pub full: bool,
}

/// The RFC 3463 status code at the start of a reply text ("550 5.1.1 ..." → "5.1.1"), or a
/// generic one for the reply's class.
pub fn status_of(reply: &str) -> String {
    let mut words = reply.split_whitespace();
    let code = words.next().unwrap_or("");
    if let Some(esc) = words.next()
        && esc.split('.').count() == 3
        && esc
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && (esc.starts_with('4') || esc.starts_with('5'))
    {
        return esc.to_owned();
    }
    if code.starts_with('4') {
        "4.0.0".into()
    } else {
        "5.0.0".into()
    }
}

/// A reply as one printable ASCII line (a DSN field is one line, RFC 3464 §2.3.6).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

fn rfc822_date(unix: i64) -> String {
    mail_builder::headers::date::Date::new(unix).to_rfc822()
}

/// Builds the multipart/report message (RFC 3464 §2, RFC 6522).
pub fn build(report: &Report<'_>) -> Vec<u8> {
    let mut human = format!(
        "This is the mail system at {}.\r\n\r\n\
         Your message could not be delivered to one or more recipients.\r\n\
         It is attached below.\r\n\r\n",
        report.hostname
    );
    for r in report.recipients {
        human.push_str(&format!("<{}>: {}\r\n", r.address, one_line(&r.diagnostic)));
    }

    // RFC 3464 §2.2: per-message fields, then a block per recipient.
    let mut status = format!("Reporting-MTA: dns; {}\r\n", report.hostname);
    if let Some(env_id) = report.env_id {
        status.push_str(&format!("Original-Envelope-Id: {env_id}\r\n"));
    }
    status.push_str(&format!(
        "Arrival-Date: {}\r\n",
        rfc822_date(report.arrival_date)
    ));
    for r in report.recipients {
        status.push_str("\r\n");
        if let Some(orcpt) = &r.orcpt {
            status.push_str(&format!("Original-Recipient: {orcpt}\r\n"));
        }
        status.push_str(&format!("Final-Recipient: rfc822; {}\r\n", r.address));
        status.push_str("Action: failed\r\n");
        status.push_str(&format!("Status: {}\r\n", r.status));
        if let Some(mta) = &r.remote_mta {
            status.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
        }
        status.push_str(&format!(
            "Diagnostic-Code: smtp; {}\r\n",
            one_line(&r.diagnostic)
        ));
    }

    // RFC 2046 §5.2.1: a message/rfc822 part is never base64 or quoted-printable.
    let original = if report.full {
        MimePart::new("message/rfc822", report.original.to_vec())
    } else {
        MimePart::new(
            "text/rfc822-headers",
            header_block(report.original).to_vec(),
        )
    };
    let original = original.transfer_encoding(if report.original.is_ascii() {
        "7bit"
    } else {
        "8bit"
    });
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status.into_bytes()).transfer_encoding("7bit"),
            original,
        ],
    );
    let mailer_daemon = format!("MAILER-DAEMON@{}", report.hostname);
    MessageBuilder::new()
        .from(("Mail Delivery System", mailer_daemon.as_str()))
        .to(report.to)
        .subject("Undelivered Mail Returned to Sender")
        .message_id(
            crate::new_message_id(report.hostname)
                .trim_matches(['<', '>'])
                .to_owned(),
        )
        // RFC 3834 §5: an automatic reply, which auto-responders must not answer.
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(body)
        .write_to_vec()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_come_from_the_reply() {
        assert_eq!(status_of("550 5.1.1 no such user"), "5.1.1");
        assert_eq!(status_of("550 no such user"), "5.0.0");
        assert_eq!(status_of("452 4.2.2 full"), "4.2.2");
        assert_eq!(status_of("connection refused"), "5.0.0");
    }

    #[test]
    fn a_report_has_the_three_parts_and_the_original_headers_only() {
        let failed = [FailedRecipient {
            address: "x@remote.test".into(),
            orcpt: Some("rfc822;x@remote.test".into()),
            diagnostic: "550 5.1.1 unknown\r\nuser".into(),
            remote_mta: Some("mx.remote.test".into()),
            status: "5.1.1".into(),
        }];
        let original = b"From: a@example.test\r\nSubject: hello\r\n\r\nsecret body\r\n";
        let raw = build(&Report {
            hostname: "mail.test",
            to: "a@example.test",
            env_id: Some("ENV1"),
            arrival_date: 0,
            recipients: &failed,
            original,
            full: false,
        });
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"delivery-status\"")
                || text.contains("report-type=delivery-status")
        );
        assert!(text.contains("message/delivery-status"));
        assert!(
            text.contains("Final-Recipient: rfc822; x@remote.test"),
            "{text}"
        );
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Original-Envelope-Id: ENV1"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 unknown  user"));
        assert!(text.contains("Subject: hello"));
        assert!(!text.contains("secret body"));
        assert!(text.contains("Auto-Submitted: auto-replied"));
        assert!(text.contains("MAILER-DAEMON@mail.test"));
    }
}
