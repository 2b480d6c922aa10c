//! Whole-message tests of `parse`: structure, offsets, envelope, text, limits.

use super::*;

/// The message with LF line endings turned into CRLF (how messages arrive over SMTP/IMAP).
fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn slice(raw: &[u8], start: u64, end: u64) -> &[u8] {
    &raw[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()]
}

/// Every part lies inside the message and inside its parent's body; returns the tree depth.
fn check_offsets(raw: &[u8], part: &Part) -> usize {
    assert!(part.header_start <= part.body_start, "{part:?}");
    assert!(part.body_start <= part.body_end, "{part:?}");
    assert!(part.body_end <= raw.len() as u64, "{part:?}");
    assert_eq!(part.body_octets, part.body_end - part.body_start);
    // The accessors are plain slices of the raw message.
    assert_eq!(
        part.header_in(raw),
        slice(raw, part.header_start, part.body_start)
    );
    assert_eq!(
        part.body_in(raw),
        slice(raw, part.body_start, part.body_end)
    );
    match &part.kind {
        PartKind::Leaf => {
            assert!(part.media_type != "multipart", "{part:?}");
            assert!(
                !(part.media_type == "message"
                    && matches!(part.media_subtype.as_str(), "rfc822" | "global")),
                "{part:?}"
            );
            1
        }
        PartKind::Multipart(children) => {
            assert!(!children.is_empty());
            let mut previous_end = part.body_start;
            let mut depth = 0;
            for child in children {
                assert!(child.header_start >= previous_end, "{child:?}");
                assert!(child.body_end <= part.body_end, "{child:?}");
                previous_end = child.body_end;
                depth = depth.max(check_offsets(raw, child));
            }
            depth + 1
        }
        PartKind::Message { body, .. } => {
            assert_eq!(body.header_start, part.body_start);
            assert_eq!(body.body_end, part.body_end);
            check_offsets(raw, body) + 1
        }
    }
}

fn parse_checked(raw: &[u8]) -> ParsedMessage {
    let parsed = parse(raw);
    check_offsets(raw, &parsed.summary.structure);
    let json = serde_json::to_string(&parsed).unwrap();
    let back: ParsedMessage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, parsed);
    parsed
}

fn param<'p>(part: &'p Part, name: &str) -> Option<&'p str> {
    part.param(name)
}

const SIMPLE: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800\n\
From: Fred Foobar <foobar@Blurdybloop.example>\n\
Subject: afternoon meeting\n\
To: mooch@owatagu.siam.edu.example\n\
Message-Id: <B27397-0100000@Blurdybloop.example>\n\
MIME-Version: 1.0\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\
\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\n";

#[test]
fn simple_text_message() {
    let raw = crlf(SIMPLE);
    let parsed = parse_checked(&raw);
    let summary = &parsed.summary;
    let root = &summary.structure;

    let header_len = SIMPLE.find("\n\n").unwrap() + 2;
    let header_lines = SIMPLE[..header_len].matches('\n').count();
    assert_eq!(root.header_start, 0);
    assert_eq!(root.body_start, (header_len + header_lines) as u64);
    assert_eq!(root.body_end, raw.len() as u64);
    assert!(root.header_in(&raw).ends_with(b"CHARSET=US-ASCII\r\n\r\n"));
    assert_eq!(
        root.body_in(&raw),
        b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    );
    assert_eq!(
        (root.media_type.as_str(), root.media_subtype.as_str()),
        ("text", "plain")
    );
    assert_eq!(root.params, [("charset".to_owned(), "US-ASCII".to_owned())]);
    assert_eq!(root.encoding, "7bit");
    assert_eq!(root.body_octets, 55);
    assert_eq!(root.body_lines, 1);
    assert_eq!(root.kind, PartKind::Leaf);

    assert_eq!(summary.sent_date, Some(760_686_745));
    assert_eq!(summary.subject, "afternoon meeting");
    assert_eq!(summary.from_display, "Fred Foobar");
    assert_eq!(
        summary.preview,
        "Hello Joe, do you think we can meet at 3:30 tomorrow?"
    );
    assert!(!summary.has_attachments);

    let envelope = &summary.envelope;
    assert_eq!(
        envelope.date.as_deref(),
        Some("Mon, 7 Feb 1994 21:52:25 -0800")
    );
    assert_eq!(envelope.subject.as_deref(), Some("afternoon meeting"));
    assert_eq!(
        envelope.message_id.as_deref(),
        Some("<B27397-0100000@Blurdybloop.example>")
    );
    assert_eq!(envelope.from[0].name.as_deref(), Some("Fred Foobar"));
    assert_eq!(envelope.from[0].mailbox.as_deref(), Some("foobar"));
    assert_eq!(
        envelope.from[0].host.as_deref(),
        Some("Blurdybloop.example")
    );
    assert_eq!(
        envelope.to[0].host.as_deref(),
        Some("owatagu.siam.edu.example")
    );

    // The body's search text holds the body only (SEARCH BODY, RFC 9051 §6.4.4); the
    // addresses are searched on their own.
    assert!(!parsed.search_text.contains("afternoon meeting"));
    assert!(!parsed.search_text.contains("Foobar"));
    assert_eq!(
        parsed.search_sender,
        "Fred Foobar <foobar@Blurdybloop.example>"
    );
    assert!(
        parsed
            .search_recipients
            .contains("mooch@owatagu.siam.edu.example")
    );
    assert!(parsed.search_text.contains("3:30 tomorrow"));

    // RFC 9051 §6.4.5: part 1 of a non-multipart message is its body.
    assert_eq!(root.section(&[]), Some(root));
    assert_eq!(root.section(&[1]), Some(root));
    assert_eq!(root.section(&[2]), None);
    assert_eq!(root.section(&[1, 1]), None);
    assert_eq!(root.section(&[0]), None);
}

const MIXED: &str = "From: a@example.org\n\
To: b@example.org\n\
Subject: report\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"==outer==\"\n\
\n\
This is a multi-part message in MIME format.\n\
--==outer==\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Here is the report, caf=C3=A9 included.\n\
--==outer==\n\
Content-Type: application/pdf; name=\"report.pdf\"\n\
Content-Transfer-Encoding: base64\n\
Content-Disposition: attachment; filename=\"report.pdf\"\n\
Content-ID: <pdf1@example.org>\n\
Content-Description: The report\n\
\n\
JVBERi0x\n\
LjQKJWZha2UK\n\
--==outer==--\n\
epilogue\n";

#[test]
fn multipart_mixed_with_base64_attachment() {
    let raw = crlf(MIXED);
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    assert_eq!(
        (root.media_type.as_str(), root.media_subtype.as_str()),
        ("multipart", "mixed")
    );
    assert_eq!(param(root, "boundary"), Some("==outer=="));
    let PartKind::Multipart(children) = &root.kind else {
        panic!("not multipart: {root:?}")
    };
    assert_eq!(children.len(), 2);

    let text = root.section(&[1]).unwrap();
    assert_eq!(
        text.header_in(&raw),
        crlf(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        )
    );
    // RFC 2046 §5.1.1: the line break before the boundary is not part of the body.
    assert_eq!(
        text.body_in(&raw),
        b"Here is the report, caf=C3=A9 included."
    );
    assert_eq!(text.encoding, "quoted-printable");
    assert_eq!(text.body_lines, 1);

    let pdf = root.section(&[2]).unwrap();
    assert_eq!(
        (pdf.media_type.as_str(), pdf.media_subtype.as_str()),
        ("application", "pdf")
    );
    assert_eq!(param(pdf, "name"), Some("report.pdf"));
    assert_eq!(pdf.encoding, "base64");
    assert_eq!(
        pdf.disposition,
        Some((
            "attachment".to_owned(),
            vec![("filename".to_owned(), "report.pdf".to_owned())]
        ))
    );
    assert_eq!(pdf.id.as_deref(), Some("<pdf1@example.org>"));
    assert_eq!(pdf.description.as_deref(), Some("The report"));
    assert_eq!(pdf.body_in(&raw), b"JVBERi0x\r\nLjQKJWZha2UK");
    assert_eq!(pdf.body_lines, 2);
    assert_eq!(
        decode_transfer_encoding(&pdf.encoding, pdf.body_in(&raw)).unwrap(),
        b"%PDF-1.4\n%fake\n"
    );
    assert_eq!(root.section(&[3]), None);
    assert_eq!(root.section(&[2, 1]), None);

    let summary = &parsed.summary;
    assert!(summary.has_attachments);
    assert_eq!(summary.preview, "Here is the report, café included.");
    assert!(parsed.search_text.contains("café included"));
    assert!(!parsed.search_text.contains("JVBERi0x"));
}

const ALTERNATIVE: &str = "From: a@example.org\n\
Subject: nested\n\
Content-Type: multipart/mixed; boundary=outer\n\
\n\
--outer\n\
Content-Type: multipart/alternative; boundary=inner\n\
\n\
--inner\n\
Content-Type: text/plain; charset=iso-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Gr=FC=DFe, plain\n\
--inner\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<html><head><style>p {color: red}</style></head><body><p>Hello <b>HTML</b> world</p></body></html>\n\
--inner--\n\
\n\
--outer\n\
Content-Type: image/png\n\
Content-Transfer-Encoding: base64\n\
\n\
iVBORw0KGgo=\n\
--outer--\n";

#[test]
fn alternative_nested_in_mixed() {
    let raw = crlf(ALTERNATIVE);
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;

    let alternative = root.section(&[1]).unwrap();
    assert_eq!(alternative.media_subtype, "alternative");
    assert_eq!(param(alternative, "boundary"), Some("inner"));
    // The alternative's body runs from after its header to before the outer boundary's CRLF,
    // including the inner boundaries and the empty epilogue line.
    assert!(alternative.body_in(&raw).starts_with(b"--inner\r\n"));
    assert!(alternative.body_in(&raw).ends_with(b"--inner--\r\n"));

    let plain = root.section(&[1, 1]).unwrap();
    assert_eq!(plain.media_subtype, "plain");
    assert_eq!(plain.body_in(&raw), b"Gr=FC=DFe, plain");
    let html = root.section(&[1, 2]).unwrap();
    assert_eq!(html.media_subtype, "html");
    assert!(html.body_in(&raw).starts_with(b"<html>"));
    assert!(html.body_in(&raw).ends_with(b"</html>"));
    let image = root.section(&[2]).unwrap();
    assert_eq!(image.media_type, "image");
    assert_eq!(image.body_in(&raw), b"iVBORw0KGgo=");
    assert_eq!(root.section(&[1, 3]), None);
    assert_eq!(root.section(&[1, 1, 1]), None);

    let summary = &parsed.summary;
    // The plain alternative is the preview, decoded from its charset.
    assert_eq!(summary.preview, "Grüße, plain");
    // A non-text leaf without a disposition counts as an attachment.
    assert!(summary.has_attachments);
    // HTML is indexed as text: no tags, no style sheet.
    assert!(parsed.search_text.contains("Hello HTML world"));
    assert!(!parsed.search_text.contains("<b>"));
    assert!(!parsed.search_text.contains("color: red"));
    assert!(parsed.search_text.contains("Grüße, plain"));
}

const FORWARD: &str = "From: outer@example.org\n\
Subject: Fwd: inner\n\
Content-Type: multipart/mixed; boundary=b1\n\
\n\
--b1\n\
Content-Type: text/plain\n\
\n\
See the forwarded message.\n\
--b1\n\
Content-Type: message/rfc822\n\
Content-Disposition: attachment\n\
\n\
From: Inner Sender <inner@example.net>\n\
Subject: inner\n\
Date: Tue, 1 Apr 2025 10:00:00 +0000\n\
Content-Type: multipart/mixed; boundary=b2\n\
\n\
--b2\n\
Content-Type: text/plain\n\
\n\
Inner text.\n\
--b2\n\
Content-Type: message/rfc822\n\
\n\
From: deep@example.com\n\
Subject: deepest\n\
\n\
Deepest body.\n\
--b2--\n\
--b1--\n";

#[test]
fn message_rfc822_attachment_numbers_into_the_encapsulated_message() {
    let raw = crlf(FORWARD);
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;

    let forwarded = root.section(&[2]).unwrap();
    assert_eq!(
        (
            forwarded.media_type.as_str(),
            forwarded.media_subtype.as_str()
        ),
        ("message", "rfc822")
    );
    let PartKind::Message { envelope, body } = &forwarded.kind else {
        panic!("not a message: {forwarded:?}")
    };
    assert_eq!(envelope.subject.as_deref(), Some("inner"));
    assert_eq!(envelope.from[0].name.as_deref(), Some("Inner Sender"));
    assert_eq!(envelope.sender, envelope.from);
    // The encapsulated message's header is what BODY[2.HEADER] returns.
    assert!(body.header_in(&raw).starts_with(b"From: Inner Sender"));
    assert!(body.header_in(&raw).ends_with(b"boundary=b2\r\n\r\n"));
    assert!(forwarded.body_in(&raw).starts_with(b"From: Inner Sender"));
    assert!(forwarded.body_in(&raw).ends_with(b"--b2--"));

    // RFC 9051 §6.4.5: 2.1 and 2.2 are the encapsulated multipart's parts.
    assert_eq!(root.section(&[2, 1]).unwrap().body_in(&raw), b"Inner text.");
    let deep = root.section(&[2, 2]).unwrap();
    assert!(matches!(deep.kind, PartKind::Message { .. }));
    // 2.2.1 is the body of the non-multipart message in 2.2.
    let deepest = root.section(&[2, 2, 1]).unwrap();
    assert_eq!(deepest.body_in(&raw), b"Deepest body.");
    assert!(
        deepest
            .header_in(&raw)
            .starts_with(b"From: deep@example.com")
    );
    assert_eq!(root.section(&[2, 2, 2]), None);
    assert_eq!(root.section(&[2, 3]), None);

    assert!(parsed.summary.has_attachments);
    assert_eq!(parsed.summary.preview, "See the forwarded message.");
    assert!(parsed.search_text.contains("Deepest body."));
}

#[test]
fn a_message_whose_root_is_message_rfc822() {
    let raw = crlf("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n");
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    // Part 1 is the root's body (the encapsulated message), 1.1 that message's body.
    assert_eq!(root.section(&[1]), Some(root));
    assert_eq!(root.section(&[1, 1]).unwrap().body_in(&raw), b"body\r\n");
    assert!(!parsed.summary.has_attachments);
}

#[test]
fn non_ascii_subject_and_names_decoded_in_summary_raw_in_envelope() {
    let raw = crlf(
        "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>\n\
To: \"=?ISO-8859-1?Q?Ren=E9?=\" <rene@example.fr>\n\
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n\
\n\
Hallo\n",
    );
    let parsed = parse_checked(&raw);
    let summary = &parsed.summary;
    assert_eq!(summary.subject, "Grüße aus Köln");
    assert_eq!(summary.from_display, "Jörg Müller");
    assert_eq!(
        summary.envelope.subject.as_deref(),
        Some("=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=")
    );
    assert_eq!(
        summary.envelope.from[0].name.as_deref(),
        Some("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=")
    );
    assert_eq!(
        summary.envelope.to[0].name.as_deref(),
        Some("=?ISO-8859-1?Q?Ren=E9?=")
    );
    assert!(parsed.search_text.contains("Hallo") && !parsed.search_text.contains("Grüße"));
    assert_eq!(parsed.search_sender, "Jörg Müller <joerg@example.de>");
    assert_eq!(parsed.search_recipients, "René <rene@example.fr>");
}

#[test]
fn group_addresses() {
    let raw = crlf(
        "From: a@example.org\n\
To: Friends: b@example.org, \"C\" <c@example.org>;, d@example.org\n\
Cc: undisclosed-recipients:;\n\
\n\
hi\n",
    );
    let envelope = parse_checked(&raw).summary.envelope;
    let to: Vec<(Option<&str>, Option<&str>, Option<&str>)> = envelope
        .to
        .iter()
        .map(|a| (a.name.as_deref(), a.mailbox.as_deref(), a.host.as_deref()))
        .collect();
    assert_eq!(
        to,
        [
            (None, Some("Friends"), None),
            (None, Some("b"), Some("example.org")),
            (Some("C"), Some("c"), Some("example.org")),
            (None, None, None),
            (None, Some("d"), Some("example.org")),
        ]
    );
    assert_eq!(
        envelope.cc,
        [
            Address {
                mailbox: Some("undisclosed-recipients".into()),
                ..Address::default()
            },
            Address::default()
        ]
    );
}

#[test]
fn missing_headers() {
    let raw = crlf("From: Only From <only@example.org>\n\nno subject, no date\n");
    let summary = parse_checked(&raw).summary;
    assert_eq!(summary.envelope.sender, summary.envelope.from);
    assert_eq!(summary.envelope.reply_to, summary.envelope.from);
    assert_eq!(summary.envelope.from.len(), 1);
    assert_eq!(summary.envelope.subject, None);
    assert_eq!(summary.envelope.date, None);
    assert_eq!(summary.envelope.message_id, None);
    assert!(summary.envelope.to.is_empty());
    assert_eq!(summary.sent_date, None);
    assert_eq!(summary.subject, "");

    let nothing = parse_checked(b"");
    assert_eq!(nothing.summary.from_display, "");
    assert!(nothing.summary.envelope.from.is_empty());
    assert_eq!(nothing.summary.structure.body_end, 0);

    let bad_date = parse_checked(b"Date: not a date at all\r\n\r\nx");
    assert_eq!(bad_date.summary.sent_date, None);
    assert_eq!(
        bad_date.summary.envelope.date.as_deref(),
        Some("not a date at all")
    );
}

#[test]
fn lf_only_line_endings() {
    let raw = MIXED.as_bytes();
    let parsed = parse_checked(raw);
    let root = &parsed.summary.structure;
    assert_eq!(root.body_start as usize, MIXED.find("\n\n").unwrap() + 2);
    let text = root.section(&[1]).unwrap();
    assert_eq!(
        text.body_in(raw),
        b"Here is the report, caf=C3=A9 included."
    );
    assert!(text.header_in(raw).ends_with(b"quoted-printable\n\n"));
    let pdf = root.section(&[2]).unwrap();
    assert_eq!(pdf.body_in(raw), b"JVBERi0x\nLjQKJWZha2UK");
    assert_eq!(pdf.body_lines, 2);
    assert_eq!(parsed.summary.preview, "Here is the report, café included.");
}

#[test]
fn boundary_that_never_appears_gives_one_text_part() {
    let raw = crlf(
        "Subject: broken\n\
Content-Type: multipart/mixed; boundary=\"nowhere\"\n\
\n\
--elsewhere\n\
Content-Type: text/plain\n\
\n\
still searchable\n",
    );
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    assert_eq!(root.kind, PartKind::Leaf);
    assert_eq!(
        (root.media_type.as_str(), root.media_subtype.as_str()),
        ("text", "plain")
    );
    assert_eq!(root.body_end, raw.len() as u64);
    assert!(parsed.search_text.contains("still searchable"));
    assert_eq!(parsed.summary.subject, "broken");
}

#[test]
fn malformed_messages_still_give_a_summary() {
    let missing_close = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\n\nsecond, never closed\n",
    );
    let parsed = parse_checked(&missing_close);
    let root = &parsed.summary.structure;
    assert_eq!(
        root.section(&[1]).unwrap().body_in(&missing_close),
        b"first"
    );
    // The open last part runs to the end of the message.
    assert_eq!(
        root.section(&[2]).unwrap().body_in(&missing_close),
        b"second, never closed\r\n"
    );

    let no_boundary_param = parse_checked(b"Content-Type: multipart/mixed\r\n\r\nbody");
    assert_eq!(no_boundary_param.summary.structure.kind, PartKind::Leaf);

    let bad_content_type = parse_checked(b"Content-Type: ;;;===\r\n\r\nbody");
    let root = &bad_content_type.summary.structure;
    assert_eq!(
        (root.media_type.as_str(), root.media_subtype.as_str()),
        ("text", "plain")
    );
    assert_eq!(param(root, "charset"), Some("us-ascii"));

    let garbage: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let parsed = parse_checked(&garbage);
    assert_eq!(parsed.summary.structure.body_end, garbage.len() as u64);

    let header_only = parse_checked(b"Subject: no body at all");
    assert_eq!(header_only.summary.subject, "no body at all");
    assert_eq!(header_only.summary.structure.body_start, 23);

    let base64_message = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n--b--\n",
    );
    let parsed = parse_checked(&base64_message);
    let part = parsed.summary.structure.section(&[1]).unwrap();
    assert_eq!(part.kind, PartKind::Leaf);
    assert_eq!(part.encoding, "base64");
}

#[test]
fn a_longer_boundary_is_not_ours() {
    // RFC 2046 §5.1.1: "--b" followed by more than white space is not a delimiter of "b".
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=bb\n\n--bb\n\none\n--bb--\n--b--\n",
    );
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    assert_eq!(root.section(&[1]).unwrap().media_subtype, "alternative");
    assert_eq!(root.section(&[1, 1]).unwrap().body_in(&raw), b"one");
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let raw = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nplain\n--d--\n",
    );
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    let first = root.section(&[1]).unwrap();
    assert_eq!(
        (first.media_type.as_str(), first.media_subtype.as_str()),
        ("message", "rfc822")
    );
    assert_eq!(root.section(&[1, 1]).unwrap().body_in(&raw), b"first");
    assert_eq!(root.section(&[2]).unwrap().media_type, "text");
}

fn nested_multiparts(depth: usize) -> Vec<u8> {
    let mut raw = String::from("Subject: deep\r\n");
    for level in 0..depth {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"level{level}\"\r\n\r\n--level{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nbottom\r\n");
    for level in (0..depth).rev() {
        raw.push_str(&format!("--level{level}--\r\n"));
    }
    raw.into_bytes()
}

#[test]
fn thousand_deep_multipart_nesting_is_cut_at_max_depth() {
    let raw = nested_multiparts(1000);
    let parsed = parse_checked(&raw);
    let depth = check_offsets(&raw, &parsed.summary.structure);
    assert_eq!(depth, MAX_DEPTH + 1);
    assert_eq!(parsed.summary.subject, "deep");
    // The innermost structured part is an opaque text/plain holding the rest.
    let mut part = &parsed.summary.structure;
    while let PartKind::Multipart(children) = &part.kind {
        part = &children[0];
    }
    assert_eq!(part.media_type, "text");
    assert!(
        part.header_in(&raw)
            .starts_with(b"Content-Type: multipart/mixed; boundary=\"level24\"")
    );
    assert!(part.body_in(&raw).ends_with(b"--level24--"));
}

#[test]
fn thousand_deep_message_nesting_is_cut_at_max_depth() {
    let mut raw = Vec::new();
    for _ in 0..1000 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: x\r\n\r\nbottom\r\n");
    let parsed = parse_checked(&raw);
    let depth = check_offsets(&raw, &parsed.summary.structure);
    assert_eq!(depth, MAX_DEPTH + 1);
}

#[test]
fn deep_nesting_inside_an_encoded_message_is_opaque() {
    // This shape overflows mail-parser's whole-message parser (see structure.rs).
    let mut inner = String::new();
    for _ in 0..3000 {
        inner.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    let encoded = base64_lines(inner.as_bytes());
    let raw = crlf(&format!(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{encoded}\n--b--\n"
    ));
    let parsed = parse_checked(&raw);
    assert_eq!(
        parsed.summary.structure.section(&[1]).unwrap().kind,
        PartKind::Leaf
    );
}

fn base64_lines(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (index, chunk) in bytes.chunks(3).enumerate() {
        if index > 0 && index % 19 == 0 {
            out.push('\n');
        }
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(ALPHABET[(bits >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn many_parts_are_bounded() {
    let mut raw = String::from("Content-Type: multipart/mixed; boundary=p\r\n\r\n");
    for _ in 0..(MAX_PARTS + 500) {
        raw.push_str("--p\r\n\r\nx\r\n");
    }
    raw.push_str("--p--\r\n");
    let raw = raw.into_bytes();
    let parsed = parse_checked(&raw);
    let PartKind::Multipart(children) = &parsed.summary.structure.kind else {
        panic!("not multipart")
    };
    assert!(children.len() < MAX_PARTS);
    // The last part takes the rest of the body.
    let last = children.last().unwrap();
    assert!(last.body_in(&raw).ends_with(b"--p\r\n\r\nx"));
}

#[test]
fn header_fields_of_a_parsed_part() {
    let raw = crlf(MIXED);
    let pdf = parse(&raw)
        .summary
        .structure
        .section(&[2])
        .cloned()
        .unwrap();
    let fields = header_fields(pdf.header_in(&raw), &["content-id", "Content-Type"], false);
    assert_eq!(
        fields,
        crlf(
            "Content-Type: application/pdf; name=\"report.pdf\"\nContent-ID: <pdf1@example.org>\n\n"
        )
    );
}

#[test]
fn search_text_is_capped() {
    let body = "abcdefgh ".repeat(300_000);
    let raw = format!("Subject: big\r\n\r\n{body}");
    let parsed = parse(raw.as_bytes());
    assert_eq!(parsed.search_text.len(), SEARCH_TEXT_LIMIT);
    assert!(parsed.search_text.starts_with("abcdefgh abcdefgh"));
    assert!(parsed.summary.preview.starts_with("abcdefgh abcdefgh"));
}

#[test]
fn inline_images_of_related_html_are_not_attachments() {
    let raw = crlf(
        "Content-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<img src=\"cid:logo\">\n--r\nContent-Type: image/png\nContent-ID: <logo>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--r--\n",
    );
    assert!(!parse_checked(&raw).summary.has_attachments);
}

/// A small deterministic fuzz: mutated samples and random bytes never panic and always give
/// offsets inside the message and a summary that survives serde_json.
#[test]
fn mutated_messages_never_panic() {
    let samples = [
        crlf(SIMPLE),
        crlf(MIXED),
        crlf(ALTERNATIVE),
        crlf(FORWARD),
        nested_multiparts(40),
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let interesting = b"\r\n-:;<>\"=?()@,\\\t ";
    for round in 0..600 {
        let mut raw = samples[round % samples.len()].clone();
        let mutations = 1 + next() % 12;
        for _ in 0..mutations {
            if raw.is_empty() {
                break;
            }
            let at = (next() % raw.len() as u64) as usize;
            match next() % 4 {
                0 => raw[at] = interesting[(next() % interesting.len() as u64) as usize],
                1 => raw[at] = next() as u8,
                2 => {
                    raw.remove(at);
                }
                _ => {
                    let len = (next() % 64) as usize;
                    let end = (at + len).min(raw.len());
                    let copy = raw[at..end].to_vec();
                    let to = (next() % raw.len() as u64) as usize;
                    raw.splice(to..to, copy);
                }
            }
        }
        parse_checked(&raw);
    }
    for length in [0, 1, 2, 7, 100, 4096] {
        let random: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        parse_checked(&random);
    }
}

#[test]
fn html_only_preview_and_optional_part_fields() {
    let raw = crlf(
        "Subject: html\n\
Content-Type: multipart/mixed; boundary=m\n\
\n\
--m\n\
Content-Type: text/html; charset=utf-8\n\
Content-Language: en, de\n\
Content-Location: https://example.org/page\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\
\n\
<html><head><title>t</title></head><body><h1>Big   news</h1><p>today</p></body></html>\n\
--m\n\
Content-Type: application/octet-stream; name*=utf-8''%E2%82%AC%20rates.xls\n\
Content-Disposition: inline\n\
\n\
data\n\
--m--\n",
    );
    let parsed = parse_checked(&raw);
    let root = &parsed.summary.structure;
    let html = root.section(&[1]).unwrap();
    assert_eq!(html.language, ["en", "de"]);
    assert_eq!(html.location.as_deref(), Some("https://example.org/page"));
    assert_eq!(html.md5.as_deref(), Some("Q2hlY2sgSW50ZWdyaXR5IQ=="));
    assert_eq!(parsed.summary.preview, "Big news today");
    // RFC 2231 parameters arrive decoded.
    let file = root.section(&[2]).unwrap();
    assert_eq!(param(file, "name"), Some("€ rates.xls"));
    // An inline non-text leaf is not an attachment.
    assert!(!parsed.summary.has_attachments);
}

#[test]
fn written_day_is_the_day_in_the_dates_own_zone() {
    // 21:52 at -0800 is 05:52 on the 8th in UTC; the day as written is the 7th.
    let seventh = 8_803; // 1994-02-07
    assert_eq!(
        crate::written_day("Mon, 7 Feb 1994 21:52:25 -0800"),
        Some(seventh)
    );
    assert_eq!(
        crate::written_day("Tue, 8 Feb 1994 00:30:00 +0200"),
        Some(seventh + 1)
    );
    assert_eq!(crate::written_day("not a date"), None);
}
