//! ENVELOPE (RFC 9051 §7.5.2), written from a decoded envelope or straight from the stored
//! summary (tern_message::StoredEnvelope) without decoding it.

use tern_message::{Envelope, EnvelopeSink, StoredEnvelope};

use crate::wire;

/// `env-from` and the other address lists are NIL or `(` addresses `)`; each address is
/// `(` name SP adl SP mailbox SP host `)`; the envelope's own fields are separated by SP.
struct EnvelopeWriter<'o> {
    out: &'o mut Vec<u8>,
    /// Where the envelope starts in `out`.
    start: usize,
    /// The next string or list needs a space before it.
    separate: bool,
    /// Addresses written in the current list.
    in_list: usize,
}

impl<'o> EnvelopeWriter<'o> {
    fn start(out: &'o mut Vec<u8>) -> EnvelopeWriter<'o> {
        let start = out.len();
        out.push(b'(');
        EnvelopeWriter {
            out,
            start,
            separate: false,
            in_list: 0,
        }
    }

    /// Takes back everything written, to start again.
    fn restart(&mut self) {
        self.out.truncate(self.start);
        self.out.push(b'(');
        self.separate = false;
        self.in_list = 0;
    }

    fn finish(self) {
        self.out.push(b')');
    }

    fn space(&mut self) {
        if self.separate {
            self.out.push(b' ');
        }
    }
}

impl EnvelopeSink for EnvelopeWriter<'_> {
    fn nstring(&mut self, value: Option<&str>) {
        self.space();
        wire::nstring(self.out, value);
        self.separate = true;
    }
    fn list_start(&mut self) {
        self.space();
        self.in_list = 0;
    }
    fn address_start(&mut self) {
        if self.in_list == 0 {
            self.out.push(b'(');
        }
        self.in_list += 1;
        self.out.push(b'(');
        self.separate = false;
    }
    fn address_end(&mut self) {
        self.out.push(b')');
    }
    fn list_end(&mut self) {
        self.out
            .extend_from_slice(if self.in_list == 0 { b"NIL" } else { b")" });
        self.separate = true;
    }
}

/// Appends a decoded envelope.
pub fn write(out: &mut Vec<u8>, envelope: &Envelope) {
    let mut writer = EnvelopeWriter::start(out);
    envelope.walk(&mut writer);
    writer.finish();
}

/// Appends a stored envelope, walked straight from the stored summary. A summary that can't
/// be read at all (a damaged store) is logged and written as an envelope of NILs, so the
/// client still gets a well-formed response.
pub fn write_stored(out: &mut Vec<u8>, stored: &StoredEnvelope) {
    let mut writer = EnvelopeWriter::start(out);
    if let Err(e) = stored.write_to(&mut writer, EnvelopeWriter::restart) {
        tracing::warn!(error = %e, "a stored envelope cannot be read");
        writer.restart();
        Envelope::default().walk(&mut writer);
    }
    writer.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(raw: &[u8]) -> (String, String) {
        let summary = tern_message::parse(raw).summary;
        let mut decoded = Vec::new();
        write(&mut decoded, &summary.envelope);
        let mut stored = Vec::new();
        write_stored(&mut stored, &StoredEnvelope::from(&summary));
        (
            String::from_utf8(decoded).unwrap(),
            String::from_utf8(stored).unwrap(),
        )
    }

    #[test]
    fn an_envelope_is_written_as_rfc_9051_says() {
        let (decoded, stored) = written(
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: \"Ann \\\"A\\\"\" <ann@example.test>\r\n\
              To: b@example.test, Group: c@example.test;\r\nSubject: hi\r\n\
              Message-ID: <1@x>\r\n\r\nbody\r\n",
        );
        assert_eq!(
            decoded,
            "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"hi\" ((\"Ann \\\"A\\\"\" NIL \"ann\" \"example.test\")) \
             ((\"Ann \\\"A\\\"\" NIL \"ann\" \"example.test\")) ((\"Ann \\\"A\\\"\" NIL \"ann\" \"example.test\")) \
             ((NIL NIL \"b\" \"example.test\")(NIL NIL \"Group\" NIL)(NIL NIL \"c\" \"example.test\")(NIL NIL NIL NIL)) \
             NIL NIL NIL \"<1@x>\")"
        );
        assert_eq!(stored, decoded);
    }

    #[test]
    fn an_empty_or_unreadable_envelope_is_all_nil() {
        let (decoded, stored) = written(b"\r\nno header\r\n");
        assert_eq!(decoded, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        assert_eq!(stored, decoded);
        let mut out = b"x".to_vec();
        write_stored(
            &mut out,
            &StoredEnvelope::from_summary_json(b"{\"envelope\": [".to_vec()),
        );
        assert_eq!(out, b"x(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    }
}
