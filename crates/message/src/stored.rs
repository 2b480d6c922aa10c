//! Envelopes read back from a stored summary without building them. A FETCH ENVELOPE of a
//! large mailbox reads hundreds of thousands of them, and decoding each into owned strings
//! and vectors cost more than the rest of the command (perf, 100,000 envelopes: malloc and
//! free a quarter of the server's time, JSON decoding another fifth). Walking the JSON hands
//! each string, borrowed from the stored bytes, straight to the writer.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

use crate::{Envelope, Summary};

/// Receives an envelope's parts in RFC 9051 §7.5.2 order: date, subject, the six address
/// lists (from, sender, reply-to, to, cc, bcc), in-reply-to, message-id. Each address is its
/// four strings: name, adl (source route), mailbox, host.
pub trait EnvelopeSink {
    /// A string, or its absence (NIL).
    fn nstring(&mut self, value: Option<&str>);
    fn list_start(&mut self);
    fn address_start(&mut self);
    fn address_end(&mut self);
    fn list_end(&mut self);
}

impl Envelope {
    /// Hands this envelope to `sink`, part by part.
    pub fn walk(&self, sink: &mut impl EnvelopeSink) {
        sink.nstring(self.date.as_deref());
        sink.nstring(self.subject.as_deref());
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            sink.list_start();
            for address in list {
                sink.address_start();
                sink.nstring(address.name.as_deref());
                sink.nstring(address.adl.as_deref());
                sink.nstring(address.mailbox.as_deref());
                sink.nstring(address.host.as_deref());
                sink.address_end();
            }
            sink.list_end();
        }
        sink.nstring(self.in_reply_to.as_deref());
        sink.nstring(self.message_id.as_deref());
    }
}

/// A message's summary as stored (the JSON of [`Summary`]), kept for its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnvelope(Vec<u8>);

/// How a stored summary starts: serde writes `Summary`'s fields in order, envelope first.
const ENVELOPE_FIRST: &[u8] = b"{\"envelope\":";

/// The JSON names of the envelope's fields, in the order serde writes them, which is the
/// order of RFC 9051 §7.5.2; `true` marks an address list.
const ENVELOPE_FIELDS: [(&str, bool); 10] = [
    ("date", false),
    ("subject", false),
    ("from", true),
    ("sender", true),
    ("reply_to", true),
    ("to", true),
    ("cc", true),
    ("bcc", true),
    ("in_reply_to", false),
    ("message_id", false),
];
const ADDRESS_FIELDS: [&str; 4] = ["name", "adl", "mailbox", "host"];

impl StoredEnvelope {
    /// `json` is a summary as the store wrote it: `serde_json` of a [`Summary`].
    pub fn from_summary_json(json: Vec<u8>) -> StoredEnvelope {
        StoredEnvelope(json)
    }

    /// Hands the envelope to `sink` straight from the JSON. An error means the summary is laid
    /// out otherwise (an older or hand-made one) or damaged; `sink` may have received part of
    /// it by then, and [`StoredEnvelope::decode`] is the way to read it.
    pub fn walk(&self, sink: &mut impl EnvelopeSink) -> serde_json::Result<()> {
        let Some(rest) = self.0.strip_prefix(ENVELOPE_FIRST) else {
            return Err(de::Error::custom(
                "the summary does not start with the envelope",
            ));
        };
        let mut json = serde_json::Deserializer::from_slice(rest);
        EnvelopeSeed(sink).deserialize(&mut json)
    }

    /// The envelope, decoded whole (whatever the order of the summary's fields).
    pub fn decode(&self) -> serde_json::Result<Envelope> {
        #[derive(serde::Deserialize)]
        struct EnvelopeOnly {
            envelope: Envelope,
        }
        Ok(serde_json::from_slice::<EnvelopeOnly>(&self.0)?.envelope)
    }

    /// Hands the envelope to `sink` straight from the JSON, or from its decoded form if the
    /// JSON is laid out otherwise; `restart` undoes what a failed first attempt gave `sink`.
    pub fn write_to<S: EnvelopeSink>(
        &self,
        sink: &mut S,
        restart: impl FnOnce(&mut S),
    ) -> serde_json::Result<()> {
        if self.walk(sink).is_ok() {
            return Ok(());
        }
        restart(sink);
        self.decode()?.walk(sink);
        Ok(())
    }
}

impl From<&Summary> for StoredEnvelope {
    fn from(summary: &Summary) -> StoredEnvelope {
        // A Summary is plain data: serializing it cannot fail.
        StoredEnvelope(serde_json::to_vec(summary).unwrap_or_default())
    }
}

/// Expects the next key of `map` to be `name`.
fn expect_key<'de, A: MapAccess<'de>>(map: &mut A, name: &str) -> Result<(), A::Error> {
    match map.next_key::<&'de str>()? {
        Some(key) if key == name => Ok(()),
        found => Err(de::Error::custom(format_args!(
            "expected {name}, found {found:?}"
        ))),
    }
}

/// Expects `map` to have no more keys.
fn expect_end<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    match map.next_key::<IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::custom("unexpected field")),
    }
}

struct EnvelopeSeed<'s, S>(&'s mut S);

impl<'de, S: EnvelopeSink> DeserializeSeed<'de> for EnvelopeSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: EnvelopeSink> Visitor<'de> for EnvelopeSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        for (name, is_list) in ENVELOPE_FIELDS {
            expect_key(&mut map, name)?;
            if is_list {
                map.next_value_seed(ListSeed(&mut *self.0))?;
            } else {
                map.next_value_seed(NStringSeed(&mut *self.0))?;
            }
        }
        expect_end(&mut map)
    }
}

struct ListSeed<'s, S>(&'s mut S);

impl<'de, S: EnvelopeSink> DeserializeSeed<'de> for ListSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: EnvelopeSink> Visitor<'de> for ListSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of addresses")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.list_start();
        while seq.next_element_seed(AddressSeed(&mut *self.0))?.is_some() {}
        self.0.list_end();
        Ok(())
    }
}

struct AddressSeed<'s, S>(&'s mut S);

impl<'de, S: EnvelopeSink> DeserializeSeed<'de> for AddressSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: EnvelopeSink> Visitor<'de> for AddressSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an address")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.address_start();
        for name in ADDRESS_FIELDS {
            expect_key(&mut map, name)?;
            map.next_value_seed(NStringSeed(&mut *self.0))?;
        }
        expect_end(&mut map)?;
        self.0.address_end();
        Ok(())
    }
}

struct NStringSeed<'s, S>(&'s mut S);

impl<'de, S: EnvelopeSink> DeserializeSeed<'de> for NStringSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: EnvelopeSink> Visitor<'de> for NStringSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.nstring(None);
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.0.nstring(Some(value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes what it receives as a string, to compare the two ways of walking.
    #[derive(Default)]
    struct Trace(String);

    impl EnvelopeSink for Trace {
        fn nstring(&mut self, value: Option<&str>) {
            self.0.push_str(&format!("{value:?},"));
        }
        fn list_start(&mut self) {
            self.0.push('[');
        }
        fn address_start(&mut self) {
            self.0.push('(');
        }
        fn address_end(&mut self) {
            self.0.push(')');
        }
        fn list_end(&mut self) {
            self.0.push(']');
        }
    }

    fn traced(envelope: &Envelope) -> String {
        let mut trace = Trace::default();
        envelope.walk(&mut trace);
        trace.0
    }

    #[test]
    fn the_stored_envelope_walks_as_the_decoded_one() {
        for raw in [
            &b"From: Ann <ann@example.test>\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n"[..],
            b"From: \"Quote \\\" Back\\\\slash\" <a@b>, c@d\r\nTo: undisclosed-recipients:;\r\n\
              Cc: Group: e@f, g@h;\r\nSubject: =?UTF-8?Q?caf=C3=A9?= \xc3\xa9t\xc3\xa9 \t tab\r\n\
              In-Reply-To: <0@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n",
            b"\r\nno header at all\r\n",
        ] {
            let summary = crate::parse(raw).summary;
            let stored = StoredEnvelope::from(&summary);
            let mut trace = Trace::default();
            stored.walk(&mut trace).unwrap();
            assert_eq!(trace.0, traced(&summary.envelope));
            assert_eq!(stored.decode().unwrap(), summary.envelope);
        }
    }

    #[test]
    fn a_summary_laid_out_otherwise_is_decoded_whole() {
        let summary = crate::parse(b"From: Ann <ann@example.test>\r\nSubject: hi\r\n\r\n").summary;
        let json = serde_json::to_vec(&summary).unwrap();
        // Another field order (an older or hand-made summary).
        let reordered = StoredEnvelope([&b"{\"added\":0,"[..], &json[1..]].concat());
        assert!(reordered.walk(&mut Trace::default()).is_err());
        let mut trace = Trace::default();
        reordered.write_to(&mut trace, |t| t.0.clear()).unwrap();
        assert_eq!(trace.0, traced(&summary.envelope));
        let broken = StoredEnvelope(b"{\"envelope\": nonsense".to_vec());
        assert!(broken.write_to(&mut Trace::default(), |_| {}).is_err());
    }
}
