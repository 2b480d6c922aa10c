//! Turning a stored message into what the reader sees: which part is the body, which parts are
//! attachments, decoded text, and HTML sanitized with ammonia.
//!
//! HTML mail is hostile until proven otherwise. ammonia keeps only an allow-list of tags and
//! attributes (no script, style element, form, iframe, object, meta, base, SVG), only http(s),
//! mailto and cid URLs, and no relative URLs except our own rewritten `cid:` links. Remote
//! images are dropped unless the user asked for them. The result is served in a sandboxed
//! frame with its own Content-Security-Policy, so even a sanitizer miss can neither run script
//! nor load anything remote (see `pages::message::body`).

use ammonia::{Builder, UrlRelative};
use base64::Engine;
use mail_parser::decoders::charsets::map::charset_decoder;
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tern_message::{Part, PartKind, decode_transfer_encoding};

/// A leaf part with its IMAP section number (RFC 9051 §6.4.5), e.g. `1.2`.
#[derive(Debug)]
pub(crate) struct Leaf<'p> {
    pub section: String,
    pub part: &'p Part,
}

/// Every leaf of the message, in order, with section numbers. Encapsulated messages
/// (message/rfc822) are one leaf each: they are shown as attachments, not opened inline.
pub(crate) fn leaves(root: &Part) -> Vec<Leaf<'_>> {
    fn walk<'p>(part: &'p Part, section: String, out: &mut Vec<Leaf<'p>>) {
        match &part.kind {
            PartKind::Multipart(children) => {
                for (i, child) in children.iter().enumerate() {
                    let number = if section.is_empty() {
                        format!("{}", i + 1)
                    } else {
                        format!("{section}.{}", i + 1)
                    };
                    walk(child, number, out);
                }
            }
            PartKind::Leaf | PartKind::Message { .. } => out.push(Leaf {
                section: if section.is_empty() {
                    "1".into()
                } else {
                    section
                },
                part,
            }),
        }
    }
    let mut out = Vec::new();
    walk(root, String::new(), &mut out);
    out
}

/// The part's file name, from Content-Disposition or the Content-Type `name` (RFC 2183 §2.3).
pub(crate) fn file_name(part: &Part) -> Option<String> {
    part.disposition
        .as_ref()
        .and_then(|(_, params)| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("filename"))
                .map(|(_, v)| v.clone())
        })
        .or_else(|| part.param("name").map(str::to_owned))
        .map(|name| {
            // Never a path: only the last segment, no control characters.
            let last = name.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
            last.chars().filter(|c| !c.is_control()).collect::<String>()
        })
        .filter(|name| !name.trim().is_empty())
}

fn is_attachment(part: &Part) -> bool {
    matches!(&part.disposition, Some((kind, _)) if kind == "attachment")
}

/// The message's readable bodies: the first plain-text and the first HTML part that are not
/// attachments.
pub(crate) struct Bodies<'p> {
    pub text: Option<&'p Part>,
    pub html: Option<&'p Part>,
}

pub(crate) fn bodies<'p>(leaves: &[Leaf<'p>]) -> Bodies<'p> {
    let find = |subtype: &str| {
        leaves
            .iter()
            .find(|l| {
                l.part.media_type == "text"
                    && l.part.media_subtype == subtype
                    && !is_attachment(l.part)
                    && file_name(l.part).is_none()
            })
            .map(|l| l.part)
    };
    Bodies {
        text: find("plain"),
        html: find("html"),
    }
}

/// The parts listed as attachments: everything that is not a body and not an inline image
/// that the HTML body refers to by Content-ID.
pub(crate) fn attachments<'a, 'p>(
    leaves: &'a [Leaf<'p>],
    bodies: &Bodies<'p>,
) -> Vec<&'a Leaf<'p>> {
    let is_body = |part: &Part| {
        bodies.text.is_some_and(|b| std::ptr::eq(b, part))
            || bodies.html.is_some_and(|b| std::ptr::eq(b, part))
    };
    leaves
        .iter()
        .filter(|l| !is_body(l.part))
        .filter(|l| {
            let inline_image =
                l.part.id.is_some() && !is_attachment(l.part) && bodies.html.is_some();
            !inline_image && l.part.body_octets > 0
        })
        .collect()
}

/// A text part's body decoded: transfer encoding, then charset (unknown ones read as UTF-8).
pub(crate) fn decoded_text(part: &Part, raw: &[u8]) -> String {
    let bytes = decoded_bytes(part, raw);
    match part
        .param("charset")
        .and_then(|c| charset_decoder(c.trim().as_bytes()))
    {
        Some(decode) => decode(&bytes),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A part's body without its transfer encoding (unknown encodings as they are).
pub(crate) fn decoded_bytes(part: &Part, raw: &[u8]) -> Vec<u8> {
    let body = part.body_in(raw);
    decode_transfer_encoding(&part.encoding, body).unwrap_or_else(|_| body.to_vec())
}

/// Sanitized HTML, and whether remote content was found (and, unless allowed, removed).
pub(crate) struct Sanitized {
    pub html: String,
    pub remote_found: bool,
}

/// Inline images of a message by Content-ID, as `data:` URLs. The sandboxed frame has an
/// opaque origin, so it gets no session cookie (SameSite=Strict) and could not fetch them.
pub(crate) type InlineImages = HashMap<String, String>;

/// Only raster types a browser shows without running anything (no SVG).
pub(crate) const INLINE_IMAGE_TYPES: [&str; 4] =
    ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Inline images larger than this are not embedded (their cid: reference shows nothing).
const MAX_INLINE_IMAGES: usize = 8 * 1024 * 1024;

pub(crate) fn inline_images(leaves: &[Leaf<'_>], raw: &[u8]) -> InlineImages {
    let mut images = InlineImages::new();
    let mut total = 0;
    for leaf in leaves {
        let media = format!("{}/{}", leaf.part.media_type, leaf.part.media_subtype);
        let Some(id) = leaf.part.id.as_deref() else {
            continue;
        };
        if !INLINE_IMAGE_TYPES.contains(&media.as_str()) {
            continue;
        }
        let bytes = decoded_bytes(leaf.part, raw);
        total += bytes.len();
        if total > MAX_INLINE_IMAGES {
            break;
        }
        let cid = id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        images.insert(cid, format!("data:{media};base64,{data}"));
    }
    images
}

/// Sanitizes `html`: `cid:` images become the message's inline images; remote images stay
/// only when `allow_remote`.
pub(crate) fn sanitize_html(html: &str, inline: InlineImages, allow_remote: bool) -> Sanitized {
    let remote_found = Arc::new(AtomicBool::new(false));
    let seen_remote = Arc::clone(&remote_found);
    let mut builder = Builder::default();
    builder
        .add_tags(["font", "center"])
        .add_generic_attributes([
            "style",
            "align",
            "valign",
            "bgcolor",
            "width",
            "height",
            "border",
            "cellpadding",
            "cellspacing",
            "color",
            "face",
            "size",
            "dir",
        ])
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid"]))
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        // Relative URLs would point into the webmail itself.
        .url_relative(UrlRelative::Deny)
        .attribute_filter(move |element, attribute, value| {
            let lower = value.trim_start().to_ascii_lowercase();
            if attribute == "style" && lower.contains("url(") {
                // CSS images are remote content too (the frame's CSP blocks them unless allowed).
                seen_remote.store(true, Ordering::Relaxed);
                if !allow_remote {
                    return None;
                }
            }
            if element == "img" && attribute == "src" {
                if lower.starts_with("cid:") {
                    let cid = value.trim_start()[4..].trim();
                    return inline.get(cid).map(|data| Cow::Owned(data.clone()));
                }
                if lower.starts_with("http:") || lower.starts_with("https:") {
                    seen_remote.store(true, Ordering::Relaxed);
                    return allow_remote.then(|| Cow::Owned(value.to_owned()));
                }
                return None;
            }
            if element != "a" && lower.starts_with("cid:") {
                return None;
            }
            Some(Cow::Owned(value.to_owned()))
        });
    let html = builder.clean(html).to_string();
    Sanitized {
        html,
        remote_found: remote_found.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitize_html(html, InlineImages::new(), false).html
    }

    #[test]
    fn scripts_and_handlers_go() {
        let out = clean(
            r#"<p onclick="alert(1)">hi</p><script>alert(2)</script><img src=x onerror=alert(3)>"#,
        );
        assert!(!out.contains("alert"), "{out}");
        assert!(out.contains("hi"));
    }

    #[test]
    fn dangerous_urls_go() {
        for html in [
            r#"<a href="javascript:alert(1)">x</a>"#,
            r#"<a href="data:text/html,<script>alert(1)</script>">x</a>"#,
            r#"<img src="data:image/svg+xml,<svg onload=alert(1)>">"#,
            r#"<a href="/logout">x</a>"#,
        ] {
            let out = clean(html);
            assert!(
                !out.contains("javascript") && !out.contains("data:") && !out.contains("/logout"),
                "{out}"
            );
        }
    }

    #[test]
    fn forms_frames_meta_base_and_svg_go() {
        let out = clean(
            r#"<meta http-equiv="refresh" content="0;url=http://evil.test/"><base href="http://evil.test/">
            <form action="http://evil.test/"><input name=a></form><iframe src="http://evil.test/"></iframe>
            <object data="http://evil.test/x"></object><svg><script>alert(1)</script></svg><style>@import url(http://evil.test/x.css);</style>"#,
        );
        assert!(!out.contains("evil.test"), "{out}");
        assert!(!out.contains("alert"), "{out}");
    }

    #[test]
    fn remote_images_are_blocked_until_allowed() {
        let html = r#"<img src="https://tracker.test/p.gif"><p style="background:url(http://tracker.test/b.png)">x</p>"#;
        let blocked = sanitize_html(html, InlineImages::new(), false);
        assert!(blocked.remote_found);
        assert!(!blocked.html.contains("tracker.test"), "{}", blocked.html);
        let allowed = sanitize_html(html, InlineImages::new(), true);
        assert!(allowed.html.contains("https://tracker.test/p.gif"));
    }

    #[test]
    fn cid_images_become_the_inline_image() {
        let inline =
            InlineImages::from([("logo@x".to_owned(), "data:image/gif;base64,R0lG".to_owned())]);
        let out = sanitize_html(
            r#"<img src="cid:logo@x"><img src="cid:other">"#,
            inline,
            false,
        )
        .html;
        assert!(
            out.contains(r#"<img src="data:image/gif;base64,R0lG">"#),
            "{out}"
        );
        assert_eq!(out.matches("<img").count(), 2);
        assert_eq!(out.matches("src=").count(), 1, "{out}");
    }

    #[test]
    fn links_open_outside_the_frame_without_referrer() {
        let out = clean(r#"<a href="https://example.test/">x</a>"#);
        assert!(
            out.contains(r#"target="_blank""#) && out.contains("noopener noreferrer"),
            "{out}"
        );
    }
}
