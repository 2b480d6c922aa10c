//! The one place the webmail writes a message. Every value that reaches a header — form
//! fields, the display-name setting, the ids of the message replied to, attachment names and
//! types — is cleaned or checked here, and what is written must pass the same header check as
//! submission (`tern_message::submission`), so no caller can add a field, a second From or a
//! body of its own through a line break in a value.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as BuilderAddress;
use tern_message::submission::{self, HeaderError};

/// One (display name, address) of an address field, as the compose form parsed it.
pub type Recipient = (Option<String>, String);

/// A file attached to the message.
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message as the compose form describes it.
pub struct Outgoing<'a> {
    pub from_name: Option<String>,
    pub from_email: &'a str,
    pub to: &'a [Recipient],
    pub cc: &'a [Recipient],
    /// Written only in drafts (RFC 5322 §3.6.3: the sent message never carries Bcc).
    pub bcc: &'a [Recipient],
    pub subject: &'a str,
    pub date: i64,
    /// Without angle brackets; made by the caller from a random token.
    pub message_id: String,
    /// As posted: the id of the message replied to (brackets optional).
    pub in_reply_to: &'a str,
    /// As posted: ids separated by white space.
    pub references: &'a str,
    pub body: &'a str,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutgoingError {
    #[error("the address {0:?} cannot be written in a header")]
    BadAddress(String),
    #[error("the message would have a header the server refuses: {0}")]
    Header(#[from] HeaderError),
    #[error("the message could not be written: {0}")]
    Write(#[from] std::io::Error),
}

/// At most this many ids in References (older ones matter least for threading).
const MAX_REFERENCES: usize = 50;

impl Outgoing<'_> {
    /// The message, or why it cannot be written. `with_bcc` for a draft.
    pub fn write(self, with_bcc: bool) -> Result<Vec<u8>, OutgoingError> {
        let from = address(self.from_name.as_deref(), self.from_email)?;
        let mut builder = MessageBuilder::new()
            .from(from)
            .subject(submission::header_text(self.subject))
            .date(self.date)
            .message_id(self.message_id)
            .text_body(self.body.replace("\r\n", "\n"));
        if !self.to.is_empty() {
            builder = builder.to(list(self.to)?);
        }
        if !self.cc.is_empty() {
            builder = builder.cc(list(self.cc)?);
        }
        if with_bcc && !self.bcc.is_empty() {
            builder = builder.bcc(list(self.bcc)?);
        }
        // An id that is not an RFC 5322 §3.6.4 msg-id is left out: the reply goes without
        // that threading hint rather than with whatever the value would add to the header.
        if let Some(id) = submission::msg_id(self.in_reply_to) {
            builder = builder.in_reply_to(id);
        }
        let references: Vec<String> = self
            .references
            .split_whitespace()
            .filter_map(submission::msg_id)
            .take(MAX_REFERENCES)
            .collect();
        if !references.is_empty() {
            builder = builder.references(references);
        }
        for file in self.attachments {
            builder = builder.attachment(
                content_type(&file.content_type),
                submission::header_text(&file.name),
                file.bytes,
            );
        }
        let raw = builder.write_to_vec()?;
        submission::check_submission(&raw)?;
        Ok(raw)
    }
}

fn address<'x>(name: Option<&str>, email: &str) -> Result<BuilderAddress<'x>, OutgoingError> {
    if email.is_empty() || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(OutgoingError::BadAddress(email.to_owned()));
    }
    let name = name
        .map(submission::header_text)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    Ok(BuilderAddress::new_address(name, email.to_owned()))
}

fn list<'x>(recipients: &[Recipient]) -> Result<BuilderAddress<'x>, OutgoingError> {
    let addresses: Result<Vec<_>, _> = recipients
        .iter()
        .map(|(name, email)| address(name.as_deref(), email))
        .collect();
    Ok(BuilderAddress::new_list(addresses?))
}

/// A browser-supplied attachment type, if it is a plain `type/subtype` (RFC 2045 §5.1
/// tokens); anything else is sent as application/octet-stream.
fn content_type(value: &str) -> String {
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match value.trim().split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => value.trim().to_ascii_lowercase(),
        _ => "application/octet-stream".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing<'a>(to: &'a [Recipient]) -> Outgoing<'a> {
        Outgoing {
            from_name: Some("Alice".into()),
            from_email: "alice@a.test",
            to,
            cc: &[],
            bcc: &[],
            subject: "Hello",
            date: 0,
            message_id: "id1@a.test".into(),
            in_reply_to: "",
            references: "",
            body: "the body",
            attachments: Vec::new(),
        }
    }

    fn written(o: Outgoing<'_>) -> String {
        String::from_utf8(o.write(false).unwrap()).unwrap()
    }

    fn header_of(raw: &str) -> &str {
        raw.split("\r\n\r\n").next().unwrap()
    }

    /// Item 1 of the security review: a line break in In-Reply-To added a From and a body.
    #[test]
    fn a_line_break_in_a_value_adds_no_field_and_no_body() {
        let to = [(None, "bob@b.test".to_owned())];
        let mut o = outgoing(&to);
        o.in_reply_to = "x@y>\r\nFrom: Bob <bob@a.test";
        o.references = "<r@y>\r\nFrom: bob@a.test <a@b>\r\n\r\n<h1>x";
        let raw = written(o);
        let header = header_of(&raw);
        assert_eq!(header.matches("From:").count(), 1, "{header}");
        assert!(
            !header
                .lines()
                .any(|l| l.starts_with("From:") && l.contains("bob")),
            "{header}"
        );
        assert!(!raw.contains("<h1>"), "{raw}");
        // Each white-space-separated piece that is a msg-id stays a reference, nothing more.
        assert!(
            header.contains("References: <r@y> <bob@a.test> <a@b>\r\n"),
            "{header}"
        );
        assert!(!header.contains("In-Reply-To"), "{header}");

        let mut o = outgoing(&to);
        o.in_reply_to = "<orig@b.test>";
        o.subject = "s\r\nFrom: bob@a.test\r\n\r\nbody";
        o.from_name = Some("A\r\nFrom: bob@a.test".into());
        o.attachments.push(Attachment {
            name: "f\r\nFrom: bob@a.test.txt".into(),
            content_type: "text/plain\r\nFrom: bob@a.test".into(),
            bytes: b"data".to_vec(),
        });
        let raw = written(o);
        assert!(header_of(&raw).contains("In-Reply-To: <orig@b.test>"));
        assert!(!raw.lines().any(|l| l.starts_with("From: bob")), "{raw}");
        assert!(raw.contains("application/octet-stream"), "{raw}");
    }

    #[test]
    fn addresses_with_line_breaks_are_refused() {
        let to = [(None, "bob@b.test\r\nFrom: x@a.test".to_owned())];
        assert!(matches!(
            outgoing(&to).write(false),
            Err(OutgoingError::BadAddress(_))
        ));
    }

    #[test]
    fn bcc_only_in_drafts() {
        let to = [(None, "bob@b.test".to_owned())];
        let bcc = [(None, "hidden@b.test".to_owned())];
        let mut o = outgoing(&to);
        o.bcc = &bcc;
        assert!(!written(o).contains("hidden@b.test"));
        let mut o = outgoing(&to);
        o.bcc = &bcc;
        let draft = String::from_utf8(o.write(true).unwrap()).unwrap();
        assert!(draft.contains("hidden@b.test"));
    }
}
