//! Compose, reply, reply-all, forward and drafts. Sending goes through the [`Submitter`]
//! (the shared submission path); a copy lands in Sent, the original of a reply gets
//! `\Answered`, and a draft that was being edited is replaced.
//!
//! [`Submitter`]: crate::Submitter

use super::message::{addresses, attachment_list, load, parse_header};
use super::{human_size, long_date, message_ref, nav, special_mailbox};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::outgoing::{self, Outgoing};
use crate::render;
use crate::session::User;
use crate::submit::{Submission, SubmitError};
use crate::templates::{Attachment, ComposePage};
use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use mail_parser::HeaderName;
use serde::Deserialize;
use tern_store::{AppendTarget, FlagOp, Flags, MailboxId, SpecialUse};

/// More recipients than this in one message is not everyday mail.
const MAX_RECIPIENTS: usize = 100;
const MAX_FIELD: usize = 8 * 1024;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ComposeQuery {
    reply: Option<String>,
    replyall: Option<String>,
    forward: Option<String>,
    draft: Option<String>,
    to: Option<String>,
}

fn empty_page(nav: crate::templates::Nav, max_size: String) -> ComposePage {
    ComposePage {
        nav,
        to: String::new(),
        cc: String::new(),
        bcc: String::new(),
        subject: String::new(),
        body: String::new(),
        in_reply_to: String::new(),
        references: String::new(),
        source: String::new(),
        mode: "new".into(),
        carried: Vec::new(),
        draft: String::new(),
        error: None,
        max_size,
    }
}

fn prefixed(prefix: &str, subject: &str) -> String {
    if subject.len() >= prefix.len() && subject[..prefix.len()].eq_ignore_ascii_case(prefix) {
        subject.to_owned()
    } else {
        format!("{prefix} {subject}")
    }
}

fn quoted(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn bracketed(id: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') {
        id.to_owned()
    } else {
        format!("<{id}>")
    }
}

pub(crate) async fn form(
    State(app): State<App>,
    user: User,
    Query(query): Query<ComposeQuery>,
) -> WebResult<Response> {
    let mut page = empty_page(
        nav(&app, &user, None).await?,
        human_size(app.config.max_message_size),
    );
    let (mode, reference) = if let Some(r) = &query.reply {
        ("reply", Some(r))
    } else if let Some(r) = &query.replyall {
        ("replyall", Some(r))
    } else if let Some(r) = &query.forward {
        ("forward", Some(r))
    } else if let Some(r) = &query.draft {
        ("draft", Some(r))
    } else {
        ("new", None)
    };
    if let Some(to) = &query.to {
        page.to = to.chars().take(MAX_FIELD).collect();
    }
    if let Some(reference) = reference {
        let (mailbox, uid) = message_ref(reference)?;
        let (summary, raw) = load(&app, &user, mailbox, uid).await?;
        let header = parse_header(&summary, &raw).ok_or(WebError::NotFound)?;
        let leaves = render::leaves(&summary.summary.structure);
        let bodies = render::bodies(&leaves);
        let text = match (bodies.text, bodies.html) {
            (Some(part), _) => render::decoded_text(part, &raw),
            (None, Some(part)) => {
                mail_parser::decoders::html::html_to_text(&render::decoded_text(part, &raw))
            }
            (None, None) => String::new(),
        };
        let subject = summary.summary.subject.clone();
        let message_id = header.message_id().map(bracketed);
        let from = addresses(&header, HeaderName::From);
        let date = long_date(
            summary
                .summary
                .sent_date
                .unwrap_or(summary.meta.internal_date),
        );
        page.source = reference.clone();
        page.mode = if mode == "replyall" {
            "reply".into()
        } else {
            mode.into()
        };
        match mode {
            "reply" | "replyall" => {
                let reply_to = addresses(&header, HeaderName::ReplyTo);
                page.to = if reply_to.is_empty() {
                    from.clone()
                } else {
                    reply_to
                };
                if mode == "replyall" {
                    let me = user.email.to_lowercase();
                    let others: Vec<String> = [
                        addresses(&header, HeaderName::To),
                        addresses(&header, HeaderName::Cc),
                    ]
                    .iter()
                    .flat_map(|list| split_addresses(list))
                    .filter(|a| !address_of(a).eq_ignore_ascii_case(&me))
                    .filter(|a| {
                        !page
                            .to
                            .to_lowercase()
                            .contains(&address_of(a).to_lowercase())
                    })
                    .collect();
                    page.cc = others.join(", ");
                }
                page.subject = prefixed("Re:", &subject);
                page.body = format!("\n\nOn {date}, {from} wrote:\n{}\n", quoted(&text));
                if let Some(id) = &message_id {
                    page.in_reply_to = id.clone();
                    let mut references: Vec<String> = header
                        .references()
                        .as_text_list()
                        .map(|list| list.iter().map(|r| bracketed(r)).collect())
                        .unwrap_or_default();
                    references.push(id.clone());
                    page.references = references.join(" ");
                }
            }
            "forward" => {
                page.subject = prefixed("Fwd:", &subject);
                page.body = format!(
                    "\n\n---------- Forwarded message ----------\nFrom: {from}\nDate: {date}\nSubject: {subject}\nTo: {}\n\n{text}\n",
                    addresses(&header, HeaderName::To)
                );
                page.carried = attachment_list(&leaves, &bodies);
            }
            _ => {
                // Reopening a draft: its fields as they were saved.
                page.to = addresses(&header, HeaderName::To);
                page.cc = addresses(&header, HeaderName::Cc);
                page.bcc = addresses(&header, HeaderName::Bcc);
                page.subject = subject;
                page.body = text;
                page.in_reply_to = header
                    .in_reply_to()
                    .as_text()
                    .map(bracketed)
                    .unwrap_or_default();
                page.references = header
                    .references()
                    .as_text_list()
                    .map(|list| {
                        list.iter()
                            .map(|r| bracketed(r))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                page.carried = attachment_list(&leaves, &bodies);
                page.draft = reference.clone();
                page.mode = "new".into();
            }
        }
    }
    // The signature from the settings, under the cursor and above any quote (RFC 3676 §4.3
    // "-- " delimiter); a reopened draft already has it.
    if mode != "draft"
        && let Some(signature) = app
            .config
            .store
            .account_setting(user.account, super::settings::SIGNATURE)
            .await?
    {
        page.body = format!("\n\n-- \n{signature}{}", page.body);
    }
    Ok(Html(page.render()?).into_response())
}

/// Splits an address list on commas outside quotes and angle brackets.
pub(crate) fn split_addresses(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut current, mut quoted, mut angle) = (String::new(), false, false);
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The address part of `Name <addr>` or a bare `addr`.
fn address_of(item: &str) -> String {
    match (item.rfind('<'), item.rfind('>')) {
        (Some(start), Some(end)) if start < end => item[start + 1..end].trim().to_owned(),
        _ => item.trim().to_owned(),
    }
}

/// A plausible mailbox address (RFC 5321 §4.1.2 shape, §4.5.3.1 lengths): one `@`, a local
/// part and a dotted domain, no spaces or control characters.
pub(crate) fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && address.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:@\"".contains(c))
}

/// Parses one address field into (display name, address) pairs, or says which item is wrong.
fn parse_field(label: &str, value: &str) -> Result<Vec<(Option<String>, String)>, String> {
    split_addresses(value)
        .into_iter()
        .map(|item| {
            let address = address_of(&item);
            if !valid_address(&address) {
                return Err(format!("{label}: \"{item}\" is not a valid email address."));
            }
            let name = item
                .rfind('<')
                .map(|start| item[..start].trim().trim_matches('"').trim().to_owned())
                .filter(|n| !n.is_empty());
            Ok((name, address))
        })
        .collect()
}

/// The compose form as posted.
#[derive(Debug, Default)]
struct Posted {
    fields: Vec<(String, String)>,
    files: Vec<(String, String, Bytes)>,
}

impl Posted {
    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

async fn read_form(mut multipart: Multipart) -> WebResult<Posted> {
    let mut posted = Posted::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        WebError::BadRequest(format!("bad form: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "attachment" {
            let file_name = field.file_name().unwrap_or("").to_owned();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let data = field.bytes().await.map_err(bad)?;
            if !file_name.is_empty() && !data.is_empty() {
                posted.files.push((file_name, content_type, data));
            }
        } else {
            let text = field.text().await.map_err(bad)?;
            // The body is bounded by the request limit; other fields are short.
            let text = if name == "body" {
                text
            } else {
                text.chars().take(MAX_FIELD).collect()
            };
            posted.fields.push((name, text));
        }
    }
    Ok(posted)
}

pub(crate) async fn submit(
    State(app): State<App>,
    user: User,
    multipart: Multipart,
) -> WebResult<Response> {
    let posted = read_form(multipart).await?;
    user.check_csrf(posted.get("csrf"))?;
    match build_and_act(&app, &user, &posted).await {
        Ok(redirect) => crate::redirect::see_other(&redirect),
        Err(Refusal(message)) => {
            let mut page = empty_page(
                nav(&app, &user, None).await?,
                human_size(app.config.max_message_size),
            );
            page.to = posted.get("to").into();
            page.cc = posted.get("cc").into();
            page.bcc = posted.get("bcc").into();
            page.subject = posted.get("subject").into();
            page.body = posted.get("body").into();
            page.in_reply_to = posted.get("in_reply_to").into();
            page.references = posted.get("references").into();
            page.source = posted.get("source").into();
            page.mode = posted.get("mode").into();
            page.draft = posted.get("draft").into();
            page.error = Some(if posted.files.is_empty() {
                message
            } else {
                format!("{message} Please attach your files again.")
            });
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
    }
}

/// Why a message was not sent or saved, in words for the user.
struct Refusal(String);

impl From<WebError> for Refusal {
    fn from(e: WebError) -> Refusal {
        Refusal(e.to_string())
    }
}

impl From<tern_store::StoreError> for Refusal {
    fn from(e: tern_store::StoreError) -> Refusal {
        Refusal(match e {
            tern_store::StoreError::OverQuota { .. }
            | tern_store::StoreError::TooLargeForQuota { .. } => {
                "Your mailbox is full: delete some mail and try again.".into()
            }
            other => format!("The message could not be stored: {other}"),
        })
    }
}

async fn build_and_act(app: &App, user: &User, posted: &Posted) -> Result<String, Refusal> {
    let sending = posted.get("intent") != "draft";
    let to = parse_field("To", posted.get("to")).map_err(Refusal)?;
    let cc = parse_field("Cc", posted.get("cc")).map_err(Refusal)?;
    let bcc = parse_field("Bcc", posted.get("bcc")).map_err(Refusal)?;
    let count = to.len() + cc.len() + bcc.len();
    if sending && count == 0 {
        return Err(Refusal("Add at least one recipient.".into()));
    }
    if count > MAX_RECIPIENTS {
        return Err(Refusal(format!(
            "At most {MAX_RECIPIENTS} recipients per message."
        )));
    }
    let store = &app.config.store;

    // Attachments carried over from the forwarded message or the draft being edited.
    let mut carried: Vec<(String, String, Vec<u8>)> = Vec::new();
    let carry = posted.all("carry");
    let origin = if !posted.get("draft").is_empty() {
        Some(posted.get("draft"))
    } else if posted.get("mode") == "forward" {
        Some(posted.get("source"))
    } else {
        None
    };
    if let Some(origin) = origin.filter(|_| !carry.is_empty()) {
        let (mailbox, uid) = message_ref(origin)?;
        let (summary, raw) = load(app, user, mailbox, uid).await?;
        let leaves = render::leaves(&summary.summary.structure);
        let bodies = render::bodies(&leaves);
        let listed: Vec<Attachment> = attachment_list(&leaves, &bodies);
        for attachment in listed
            .into_iter()
            .filter(|a| carry.contains(&a.section.as_str()))
        {
            if let Some(leaf) = leaves.iter().find(|l| l.section == attachment.section) {
                let bytes = if leaf.part.media_type == "message" {
                    leaf.part.body_in(&raw).to_vec()
                } else {
                    render::decoded_bytes(leaf.part, &raw)
                };
                carried.push((attachment.name, attachment.media_type, bytes));
            }
        }
    }
    let attached: u64 = posted.files.iter().map(|f| f.2.len() as u64).sum::<u64>()
        + carried.iter().map(|c| c.2.len() as u64).sum::<u64>();
    if attached + posted.get("body").len() as u64 > app.config.max_message_size {
        return Err(Refusal(format!(
            "The message is too large: at most {} in all.",
            human_size(app.config.max_message_size)
        )));
    }

    let domain = user.email.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let message_id = format!("{}@{domain}", crate::session::random_token());
    let display_name = app
        .config
        .store
        .account_setting(user.account, super::settings::DISPLAY_NAME)
        .await?;
    let mut attachments: Vec<outgoing::Attachment> = carried
        .into_iter()
        .map(|(name, content_type, bytes)| outgoing::Attachment {
            name,
            content_type,
            bytes,
        })
        .collect();
    attachments.extend(posted.files.iter().map(|(name, content_type, bytes)| {
        outgoing::Attachment {
            name: name.clone(),
            content_type: content_type.clone(),
            bytes: bytes.to_vec(),
        }
    }));
    let now = super::now();
    let outgoing = Outgoing {
        from_name: display_name,
        from_email: &user.email,
        to: &to,
        cc: &cc,
        bcc: &bcc,
        subject: posted.get("subject"),
        date: now,
        message_id,
        in_reply_to: posted.get("in_reply_to"),
        references: posted.get("references"),
        body: posted.get("body"),
        attachments,
    };
    let old_draft = match posted.get("draft") {
        "" => None,
        reference => Some(message_ref(reference)?),
    };

    if !sending {
        // A draft keeps its Bcc so it can be reopened as it was.
        let raw = outgoing
            .write(true)
            .map_err(|e| Refusal(capital(&e.to_string())))?;
        let drafts = special_mailbox(app, user, SpecialUse::Drafts)
            .await?
            .ok_or_else(|| Refusal("You have no Drafts folder.".into()))?;
        store
            .append(
                Bytes::from(raw),
                now,
                vec![target(user, drafts.id, Flags::DRAFT.union(Flags::SEEN))],
            )
            .await?;
        remove_draft(app, user, old_draft).await?;
        return Ok(format!("/folder/{}?notice=draft", drafts.id.0));
    }

    // The sent message never carries Bcc (RFC 5322 §3.6.3).
    let raw = Bytes::from(
        outgoing
            .write(false)
            .map_err(|e| Refusal(capital(&e.to_string())))?,
    );
    let mut recipients: Vec<String> = Vec::new();
    for (_, address) in to.iter().chain(&cc).chain(&bcc) {
        let address = address.to_lowercase();
        if !recipients.contains(&address) {
            recipients.push(address);
        }
    }
    let submission = Submission {
        sender: user.email.clone(),
        recipients,
        raw: raw.clone(),
    };
    app.config.submitter.submit(submission).await.map_err(|e| {
        Refusal(match e {
            SubmitError::UnknownRecipient(_) => {
                format!("Not sent. {}", capital(&e.to_string()))
            }
            other => format!("Not sent: {other}"),
        })
    })?;
    tracing::info!(user = %user.email, "webmail message sent");
    if let Some(sent) = special_mailbox(app, user, SpecialUse::Sent).await? {
        store
            .append(raw, now, vec![target(user, sent.id, Flags::SEEN)])
            .await?;
    }
    if posted.get("mode") == "reply"
        && let Ok((mailbox, uid)) = message_ref(posted.get("source"))
    {
        // The original may have been moved meanwhile: then there is nothing to mark.
        let _ = store
            .update_flags(
                user.account,
                mailbox,
                &[uid],
                super::flag_change(FlagOp::Add, Flags::ANSWERED),
            )
            .await;
    }
    remove_draft(app, user, old_draft).await?;
    let inbox = store
        .mailbox(user.account, "INBOX")
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(format!("/folder/{}?notice=sent", inbox.id.0))
}

fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn target(user: &User, mailbox: MailboxId, flags: Flags) -> AppendTarget {
    AppendTarget {
        account: user.account,
        mailbox,
        flags,
        keywords: Vec::new(),
    }
}

async fn remove_draft(
    app: &App,
    user: &User,
    draft: Option<(MailboxId, u32)>,
) -> Result<(), Refusal> {
    if let Some((mailbox, uid)) = draft {
        let drafts = special_mailbox(app, user, SpecialUse::Drafts).await?;
        // Only ever a message of the Drafts folder.
        if drafts.is_some_and(|d| d.id == mailbox) {
            app.config
                .store
                .remove_messages(user.account, mailbox, &[uid])
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_split_outside_quotes() {
        assert_eq!(
            split_addresses(r#""Doe, Jane" <jane@example.test>, bob@example.test"#),
            vec![r#""Doe, Jane" <jane@example.test>"#, "bob@example.test"]
        );
    }

    #[test]
    fn addresses_are_validated() {
        assert!(valid_address("a.b+c@example.test"));
        for bad in [
            "",
            "no-at",
            "@example.test",
            "a@nodot",
            "a b@example.test",
            "a@exa mple.test",
            "a@.test",
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
        assert!(parse_field("To", "x@y").is_err());
        assert_eq!(
            parse_field("To", "Jane <jane@example.test>").unwrap(),
            vec![(Some("Jane".to_owned()), "jane@example.test".to_owned())]
        );
    }

    #[test]
    fn quoting_and_subjects() {
        assert_eq!(quoted("a\n\nb"), "> a\n>\n> b");
        assert_eq!(prefixed("Re:", "RE: x"), "RE: x");
        assert_eq!(prefixed("Re:", "x"), "Re: x");
    }
}
