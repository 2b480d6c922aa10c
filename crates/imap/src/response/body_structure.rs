//! BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2), written from the MIME tree the
//! store keeps in each message's summary: no message is read or parsed again.

use tern_message::{Part, PartKind};

use crate::wire;

fn upper(out: &mut Vec<u8>, s: &str) {
    wire::string(out, s.to_ascii_uppercase().as_bytes());
}

fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        upper(out, name);
        out.push(b' ');
        wire::string(out, value.as_bytes());
    }
    out.push(b')');
}

/// BODY / BODYSTRUCTURE (RFC 9051 §7.5.2 `body`), with the extension data when `extended`.
pub fn body_structure(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.push(b'(');
    match &part.kind {
        PartKind::Multipart(children) => {
            for child in children {
                body_structure(out, child, extended);
            }
            out.push(b' ');
            upper(out, &part.media_subtype);
            if extended {
                out.push(b' ');
                params(out, &part.params);
                disposition_language_location(out, part);
            }
        }
        kind => {
            upper(out, &part.media_type);
            out.push(b' ');
            upper(out, &part.media_subtype);
            out.push(b' ');
            params(out, &part.params);
            out.push(b' ');
            wire::nstring(out, part.id.as_deref());
            out.push(b' ');
            wire::nstring(out, part.description.as_deref());
            out.push(b' ');
            // A part holding NUL is served as base64 (tern_message::literal_safe): described so.
            let (encoding, octets, lines) = match part.reencoded {
                Some(size) => ("base64", size.octets, size.lines),
                None => (part.encoding.as_str(), part.body_octets, part.body_lines),
            };
            upper(out, encoding);
            out.extend_from_slice(format!(" {octets}").as_bytes());
            if let PartKind::Message {
                envelope: env,
                body,
            } = kind
            {
                out.push(b' ');
                crate::response::envelope::write(out, env);
                out.push(b' ');
                body_structure(out, body, extended);
                out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
            } else if part.media_type == "text" {
                out.extend_from_slice(format!(" {lines}").as_bytes());
            }
            if extended {
                out.push(b' ');
                wire::nstring(out, part.md5.as_deref());
                disposition_language_location(out, part);
            }
        }
    }
    out.push(b')');
}

fn disposition_language_location(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some((kind, disposition_params)) => {
            out.push(b'(');
            upper(out, kind);
            out.push(b' ');
            params(out, disposition_params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match part.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        languages => {
            out.push(b'(');
            for (i, language) in languages.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                wire::string(out, language.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    wire::nstring(out, part.location.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_of_a_multipart_message() {
        let raw = b"From: a@x\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\nAAAA\r\n--b--\r\n";
        let parsed = tern_message::parse(raw);
        let mut out = Vec::new();
        body_structure(&mut out, &parsed.summary.structure, true);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 1"),
            "{text}"
        );
        assert!(
            text.contains("(\"ATTACHMENT\" (\"FILENAME\" \"x.pdf\"))"),
            "{text}"
        );
        assert!(text.contains(" \"MIXED\" (\"BOUNDARY\" \"b\")"), "{text}");
    }
}
