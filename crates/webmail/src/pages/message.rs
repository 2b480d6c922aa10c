//! Reading a message: headers, the text or sanitized HTML body (in a sandboxed frame),
//! inline `cid:` images, attachments (always downloaded, never rendered in our origin), and
//! the raw source. Opening a message marks it `\Seen`.

use super::{human_size, long_date, nav, special_mailbox};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::render::{self, Leaf};
use crate::session::User;
use crate::templates::{Attachment, MessagePage};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use tern_store::{FlagOp, Flags, MailboxId, MessageSummary, SpecialUse};

/// The message body frame's policy: no script at all, inline styles, images only inline
/// (`data:` URLs we made from cid parts; ammonia drops the mail's own) unless the user asked for remote ones, never a form or a plugin. `sandbox`
/// repeats the iframe's sandbox for anyone opening the frame's URL directly.
fn body_csp(allow_remote: bool) -> String {
    let images = if allow_remote {
        "data: https: http:"
    } else {
        "data:"
    };
    format!(
        "default-src 'none'; img-src {images}; style-src 'unsafe-inline'; form-action 'none'; \
         base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
    )
}

/// A message of the user's, with its bytes. The store checks the mailbox is theirs.
pub(crate) async fn load(
    app: &App,
    user: &User,
    mailbox: MailboxId,
    uid: u32,
) -> WebResult<(MessageSummary, Bytes)> {
    let store = &app.config.store;
    let summary = store
        .summaries(user.account, mailbox, &[uid])
        .await?
        .into_iter()
        .next()
        .ok_or(WebError::NotFound)?;
    let raw = store.read_blob(&summary.meta.blob).await?;
    Ok((summary, raw))
}

/// Decoded address list of header `name`, as `Name <addr>, …`.
pub(crate) fn addresses(
    header: &mail_parser::Message<'_>,
    name: mail_parser::HeaderName<'_>,
) -> String {
    header
        .header(name)
        .and_then(|h| h.as_address())
        .map(|list| {
            list.iter()
                .map(|a| match (a.name(), a.address()) {
                    (Some(n), Some(addr)) if !n.is_empty() => format!("{n} <{addr}>"),
                    (_, Some(addr)) => addr.to_owned(),
                    (Some(n), None) => n.to_owned(),
                    (None, None) => String::new(),
                })
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The message header parsed for display (only the top header: no deep MIME parsing).
pub(crate) fn parse_header(
    summary: &MessageSummary,
    raw: &[u8],
) -> Option<mail_parser::Message<'static>> {
    // mail-parser reads the last of repeated fields; ENVELOPE and the sender check read the
    // first, so it is given only the first (RFC 5322 §3.6 allows one From, Subject...).
    let header =
        tern_message::submission::first_occurrences(summary.summary.structure.header_in(raw))
            .into_owned();
    mail_parser::MessageParser::default()
        .parse_headers(&header[..])
        .map(|m| m.into_owned())
}

pub(crate) fn attachment_list(leaves: &[Leaf<'_>], bodies: &render::Bodies<'_>) -> Vec<Attachment> {
    render::attachments(leaves, bodies)
        .into_iter()
        .map(|leaf| Attachment {
            section: leaf.section.clone(),
            name: render::file_name(leaf.part).unwrap_or_else(|| {
                if leaf.part.media_type == "message" {
                    "message.eml".into()
                } else {
                    format!("part-{}", leaf.section)
                }
            }),
            media_type: format!("{}/{}", leaf.part.media_type, leaf.part.media_subtype),
            size: human_size(leaf.part.body_octets),
        })
        .collect()
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ShowQuery {
    images: Option<String>,
}

pub(crate) async fn show(
    State(app): State<App>,
    user: User,
    Path((mailbox, uid)): Path<(i64, u32)>,
    Query(query): Query<ShowQuery>,
) -> WebResult<Response> {
    let mailbox = MailboxId(mailbox);
    let (summary, raw) = load(&app, &user, mailbox, uid).await?;
    if !summary.meta.flags.contains(Flags::SEEN) {
        app.config
            .store
            .update_flags(
                user.account,
                mailbox,
                &[uid],
                super::flag_change(FlagOp::Add, Flags::SEEN),
            )
            .await?;
    }
    let header = parse_header(&summary, &raw);
    let leaves = render::leaves(&summary.summary.structure);
    let bodies = render::bodies(&leaves);
    let show_images = query.images.is_some();
    let remote_blocked = bodies.html.is_some_and(|part| {
        let html = render::decoded_text(part, &raw);
        render::sanitize_html(&html, render::InlineImages::new(), false).remote_found
    });
    let text = match (bodies.html, bodies.text) {
        (None, Some(part)) => Some(render::decoded_text(part, &raw)),
        (None, None) => Some(String::new()),
        _ => None,
    };
    let trash = special_mailbox(&app, &user, SpecialUse::Trash).await?;
    let (from, to, cc) = match &header {
        Some(h) => (
            addresses(h, mail_parser::HeaderName::From),
            addresses(h, mail_parser::HeaderName::To),
            addresses(h, mail_parser::HeaderName::Cc),
        ),
        None => (
            summary.summary.from_display.clone(),
            String::new(),
            String::new(),
        ),
    };
    let page = MessagePage {
        nav: nav(&app, &user, Some(mailbox)).await?,
        mailbox: mailbox.0,
        uid,
        subject: summary.summary.subject.clone(),
        from,
        to,
        cc,
        date: long_date(
            summary
                .summary
                .sent_date
                .unwrap_or(summary.meta.internal_date),
        ),
        text,
        has_html: bodies.html.is_some(),
        show_images,
        remote_blocked,
        attachments: attachment_list(&leaves, &bodies),
        flagged: summary.meta.flags.contains(Flags::FLAGGED),
        is_draft: summary.meta.flags.contains(Flags::DRAFT),
        in_trash: trash.is_some_and(|t| t.id == mailbox),
        return_to: format!("/folder/{}", mailbox.0),
    };
    Ok(Html(page.render()?).into_response())
}

/// The HTML body, sanitized, for the sandboxed frame.
pub(crate) async fn body(
    State(app): State<App>,
    user: User,
    Path((mailbox, uid)): Path<(i64, u32)>,
    Query(query): Query<ShowQuery>,
) -> WebResult<Response> {
    let (summary, raw) = load(&app, &user, MailboxId(mailbox), uid).await?;
    let leaves = render::leaves(&summary.summary.structure);
    let bodies = render::bodies(&leaves);
    let allow_remote = query.images.is_some();
    let inner = match bodies.html {
        Some(part) => {
            let inline = render::inline_images(&leaves, &raw);
            render::sanitize_html(&render::decoded_text(part, &raw), inline, allow_remote).html
        }
        None => String::new(),
    };
    let document = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>body{{font-family:system-ui,sans-serif;\
         margin:0.5rem;word-wrap:break-word}}img{{max-width:100%;height:auto}}</style></head><body>{inner}</body></html>"
    );
    let mut response = Html(document).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&body_csp(allow_remote)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    Ok(response)
}

/// The raw message as plain text (never interpreted by the browser).
pub(crate) async fn source(
    State(app): State<App>,
    user: User,
    Path((mailbox, uid)): Path<(i64, u32)>,
) -> WebResult<Response> {
    let (_, raw) = load(&app, &user, MailboxId(mailbox), uid).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox; frame-ancestors 'none'",
            ),
        ],
        Body::from(raw),
    )
        .into_response())
}

/// Types a browser may show as they are; everything else downloads as octets.
const SAFE_TYPES: [&str; 5] = [
    render::INLINE_IMAGE_TYPES[0],
    render::INLINE_IMAGE_TYPES[1],
    render::INLINE_IMAGE_TYPES[2],
    render::INLINE_IMAGE_TYPES[3],
    "application/pdf",
];

/// An attachment download: `Content-Disposition: attachment` and a safe type, so an HTML or
/// SVG file is never rendered in the webmail's origin.
pub(crate) async fn part(
    State(app): State<App>,
    user: User,
    Path((mailbox, uid, section)): Path<(i64, u32, String)>,
) -> WebResult<Response> {
    let (summary, raw) = load(&app, &user, MailboxId(mailbox), uid).await?;
    let leaves = render::leaves(&summary.summary.structure);
    let leaf = leaves
        .iter()
        .find(|l| l.section == section)
        .ok_or(WebError::NotFound)?;
    let media = format!("{}/{}", leaf.part.media_type, leaf.part.media_subtype);
    let content_type = if SAFE_TYPES.contains(&media.as_str()) {
        media
    } else {
        "application/octet-stream".to_owned()
    };
    let name = render::file_name(leaf.part).unwrap_or_else(|| format!("part-{section}"));
    let bytes = if leaf.part.media_type == "message" {
        leaf.part.body_in(&raw).to_vec()
    } else {
        render::decoded_bytes(leaf.part, &raw)
    };
    Ok(download(bytes, &content_type, &name))
}

pub(crate) fn download(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 6266 §4.3: a plain ASCII fallback plus the exact UTF-8 name (RFC 8187).
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox; frame-ancestors 'none'"),
    );
    response
}
