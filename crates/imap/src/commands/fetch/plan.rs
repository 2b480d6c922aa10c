//! What a FETCH asks for, decided before anything is read (RFC 9051 §6.4.5): the items in
//! order, the modifiers (RFC 7162 CHANGEDSINCE and VANISHED), and what each message needs
//! from the store.

use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};

use crate::session::Reply;
use crate::syntax::fetch::Extras;

/// What the store must give for each message, beyond the view's entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The summary: MIME structure, envelope, and the blob's address.
    pub summary: bool,
    /// Only ENVELOPE of the summary: read without decoding the rest.
    pub envelope_only: bool,
}

/// One FETCH command, planned.
#[derive(Debug, Clone)]
pub struct FetchPlan<'a> {
    /// The items in the order they are written; `UID` first for UID FETCH (RFC 9051 §6.4.8),
    /// `MODSEQ` added when CONDSTORE is in use (RFC 7162 §3.1.4.1).
    pub items: Vec<MessageDataItemName<'a>>,
    /// The items with FLAGS added, for a message this FETCH marked `\Seen` (RFC 9051 §6.4.5).
    pub items_with_flags: Vec<MessageDataItemName<'a>>,
    /// SAVEDATE and PREVIEW, written after the items.
    pub extras: Extras,
    pub changed_since: Option<u64>,
    pub vanished: bool,
    /// The items turn CONDSTORE on (RFC 7162 §3.1).
    pub enables_condstore: bool,
    pub needs: Needs,
    /// BODY[...] (not PEEK), BINARY[...], RFC822 and RFC822.TEXT set `\Seen`.
    pub sets_seen: bool,
}

impl<'a> FetchPlan<'a> {
    /// Err is the BAD reply for modifiers that do not go together.
    pub fn new(
        items: &'a MacroOrMessageDataItemNames<'a>,
        by_uid: bool,
        modifiers: &[FetchModifier],
        extras: Extras,
        qresync: bool,
    ) -> Result<FetchPlan<'a>, Reply> {
        let mut items: Vec<MessageDataItemName<'a>> = match items {
            MacroOrMessageDataItemNames::Macro(m) => m.expand(),
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.clone(),
        };
        if by_uid && !items.contains(&MessageDataItemName::Uid) {
            items.insert(0, MessageDataItemName::Uid);
        }
        let mut changed_since = None;
        let mut vanished = false;
        for modifier in modifiers {
            match modifier {
                FetchModifier::ChangedSince(n) => changed_since = Some(n.get()),
                FetchModifier::Vanished => vanished = true,
            }
        }
        // RFC 7162 §3.2.6: VANISHED only with UID FETCH, CHANGEDSINCE and QRESYNC enabled.
        if vanished && !(by_uid && qresync && changed_since.is_some()) {
            return Err(Reply::bad(
                "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
            ));
        }
        let enables_condstore =
            changed_since.is_some() || items.contains(&MessageDataItemName::ModSeq);
        if enables_condstore && !items.contains(&MessageDataItemName::ModSeq) {
            items.push(MessageDataItemName::ModSeq);
        }
        let mut items_with_flags = items.clone();
        if !items.contains(&MessageDataItemName::Flags) {
            items_with_flags.push(MessageDataItemName::Flags);
        }
        let mut needs = needs(&items);
        // The preview is kept in the summary (RFC 8970 §3).
        if extras.preview {
            needs.summary = true;
            needs.envelope_only = false;
        }
        let sets_seen = items.iter().any(sets_seen);
        Ok(FetchPlan {
            items,
            items_with_flags,
            extras,
            changed_since,
            vanished,
            enables_condstore,
            needs,
            sets_seen,
        })
    }
}

fn needs(items: &[MessageDataItemName<'_>]) -> Needs {
    use MessageDataItemName as I;
    let envelope = items.contains(&I::Envelope);
    let summary = items.iter().any(|i| {
        matches!(
            i,
            I::Body
                | I::BodyStructure
                | I::BodyExt { .. }
                | I::Rfc822
                | I::Rfc822Header
                | I::Rfc822Text
                | I::Binary { .. }
                | I::BinarySize { .. }
        )
    });
    Needs {
        summary,
        envelope_only: envelope && !summary,
    }
}

/// RFC 9051 §6.4.5 (and RFC 3516 §4.2 for BINARY): reading the content sets `\Seen`.
fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Binary { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::fetch::Macro;

    #[test]
    fn uid_fetch_reports_the_uid_and_modseq_turns_condstore_on() {
        let items = MacroOrMessageDataItemNames::MessageDataItemNames(vec![
            MessageDataItemName::Flags,
            MessageDataItemName::ModSeq,
        ]);
        let plan = FetchPlan::new(&items, true, &[], Extras::default(), false).unwrap();
        assert_eq!(plan.items[0], MessageDataItemName::Uid);
        assert!(plan.enables_condstore);
        assert_eq!(plan.needs, Needs::default());
        assert!(!plan.sets_seen);
    }

    #[test]
    fn envelopes_alone_skip_the_rest_of_the_summary() {
        let plan = FetchPlan::new(
            &MacroOrMessageDataItemNames::Macro(Macro::All),
            false,
            &[],
            Extras::default(),
            false,
        )
        .unwrap();
        assert!(plan.needs.envelope_only && !plan.needs.summary);
        assert_eq!(plan.items_with_flags, plan.items, "ALL has FLAGS already");
    }

    #[test]
    fn preview_needs_the_summary() {
        let items = MacroOrMessageDataItemNames::Macro(Macro::All);
        let extras = Extras {
            preview: true,
            ..Extras::default()
        };
        let plan = FetchPlan::new(&items, false, &[], extras, false).unwrap();
        assert!(plan.needs.summary && !plan.needs.envelope_only);
    }

    #[test]
    fn vanished_needs_qresync() {
        let items = MacroOrMessageDataItemNames::Macro(Macro::Fast);
        let modifiers = [
            FetchModifier::ChangedSince(std::num::NonZeroU64::new(5).unwrap()),
            FetchModifier::Vanished,
        ];
        assert!(FetchPlan::new(&items, true, &modifiers, Extras::default(), false).is_err());
        assert!(FetchPlan::new(&items, true, &modifiers, Extras::default(), true).is_ok());
    }
}
