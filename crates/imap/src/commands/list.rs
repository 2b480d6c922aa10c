//! LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9) with LIST-EXTENDED (RFC 5258),
//! LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348). The syntax is
//! `syntax/list.rs`; this is what a parsed command lists.

use std::collections::{BTreeMap, BTreeSet};

use tern_store::{MailboxInfo, names};

use crate::session::{Reply, Session, store_error};
use crate::syntax::list::{ListCommand, Selection};

impl Session {
    pub async fn list(&mut self, command: ListCommand) -> Reply {
        let verb = if command.lsub { "LSUB" } else { "LIST" };
        let done = Reply::ok(format!("{verb} completed"));
        // A reference or pattern that is not a name this client could write (invalid
        // modified UTF-7, say) matches nothing; a pattern is not a name, so no NO [CANNOT].
        let Ok(reference) = self.decode_name(&command.reference) else {
            return done;
        };
        let patterns: Vec<Vec<u8>> = command
            .patterns
            .iter()
            .filter_map(|p| self.decode_name(p).ok())
            .map(|p| compact_wildcards(&canonical_inbox(&format!("{reference}{p}"))))
            .collect();
        if !command.lsub && command.patterns.iter().all(|p| p.is_empty()) {
            // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
            self.io.untagged("LIST (\\Noselect) \"/\" \"\"");
            return done;
        }
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        let mailboxes = match self.store().mailboxes(account).await {
            Ok(mailboxes) => mailboxes,
            Err(e) => return store_error(&e),
        };
        let selecting = Selecting::new(&command);
        let hierarchy = hierarchy(&mailboxes);
        let listed = selecting.listed(&hierarchy, &patterns);
        let mut statuses = Vec::new();
        for (name, entry, childinfo) in listed {
            let line = self.list_line(verb, &command, name, entry, childinfo);
            self.io.out.extend_from_slice(&line);
            if let (false, Some(info)) = (command.returns.status.is_empty(), entry.info) {
                statuses.push(info.clone());
            }
        }
        // RFC 5819 §2: a STATUS response for each selectable name listed.
        for info in statuses {
            if let Err(reply) = self.status_response(&info, &command.returns.status).await {
                return reply;
            }
        }
        done
    }

    /// One `* LIST` or `* LSUB` line.
    fn list_line(
        &self,
        verb: &str,
        command: &ListCommand,
        name: &str,
        entry: &Entry<'_>,
        childinfo: Option<&str>,
    ) -> Vec<u8> {
        let mut attributes: Vec<&str> = Vec::new();
        let subscribed = entry.subscribed();
        match entry.info {
            None => attributes.push("\\Noselect"),
            // LSUB (RFC 3501 §6.3.9): \Noselect marks a name listed only for its children.
            Some(_) if command.lsub && !subscribed => attributes.push("\\Noselect"),
            Some(info) => attributes.extend(info.special_use.map(|s| s.attribute())),
        }
        if command.returns.subscribed && subscribed {
            attributes.push("\\Subscribed");
        }
        if !command.lsub {
            attributes.push(if entry.has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            });
        }
        let mut line = format!("* {verb} ({}) \"/\" ", attributes.join(" ")).into_bytes();
        self.encode_name(&mut line, name);
        if let (Some(criterion), false) = (childinfo, command.lsub) {
            // RFC 5258 §3.5: which selection criteria a descendant met.
            line.extend_from_slice(format!(" (\"CHILDINFO\" (\"{criterion}\"))").as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// What a LIST or LSUB selects, and whether parents of selected names are added.
struct Selecting {
    selection: Selection,
    /// LSUB and RECURSIVEMATCH: a name that fails the selection but has a selected descendant
    /// the patterns do not reach is listed too (RFC 3501 §6.3.9, RFC 5258 §3).
    with_parents: bool,
    /// The CHILDINFO criterion of RECURSIVEMATCH (RFC 5258 §3.5, RFC 6154 §5.1).
    childinfo: Option<&'static str>,
}

impl Selecting {
    fn new(command: &ListCommand) -> Selecting {
        let mut selection = command.selection;
        selection.subscribed |= command.lsub;
        let recursive = selection.recursive_match && !command.lsub;
        let childinfo = match (recursive, selection.subscribed) {
            (false, _) => None,
            (true, true) => Some("SUBSCRIBED"),
            (true, false) => Some("SPECIAL-USE"),
        };
        Selecting {
            selection,
            with_parents: command.lsub || recursive,
            childinfo,
        }
    }

    fn selects(&self, entry: &Entry<'_>) -> bool {
        (!self.selection.subscribed || entry.subscribed())
            && (!self.selection.special_use || entry.info.is_some_and(|i| i.special_use.is_some()))
    }

    /// The names to list, in order, each with its CHILDINFO criterion when it has one.
    fn listed<'h, 'a>(
        &self,
        hierarchy: &'h BTreeMap<&'a str, Entry<'a>>,
        patterns: &[Vec<u8>],
    ) -> Vec<(&'a str, &'h Entry<'a>, Option<&'static str>)> {
        let matched = |name: &str| patterns.iter().any(|p| matches(p, name.as_bytes()));
        // Names with a selected descendant that no pattern reaches.
        let mut parents_of_unreached: BTreeSet<&str> = BTreeSet::new();
        if self.with_parents {
            for (name, entry) in hierarchy {
                if self.selects(entry) && !matched(name) {
                    parents_of_unreached.extend(names::parents(name));
                }
            }
        }
        let mut listed = Vec::new();
        for (&name, entry) in hierarchy {
            if !matched(name) {
                continue;
            }
            let has_unreached = parents_of_unreached.contains(name);
            if self.selects(entry) || has_unreached {
                listed.push((name, entry, self.childinfo.filter(|_| has_unreached)));
            }
        }
        listed
    }
}

/// A name in the hierarchy: an existing mailbox, or a parent implied by a child's name.
pub(crate) struct Entry<'a> {
    info: Option<&'a MailboxInfo>,
    has_children: bool,
}

impl Entry<'_> {
    fn subscribed(&self) -> bool {
        self.info.is_some_and(|i| i.subscribed)
    }
}

/// Every mailbox and every implied parent, by name.
fn hierarchy(mailboxes: &[MailboxInfo]) -> BTreeMap<&str, Entry<'_>> {
    let mut map: BTreeMap<&str, Entry<'_>> = BTreeMap::new();
    let blank = || Entry {
        info: None,
        has_children: false,
    };
    for info in mailboxes {
        map.entry(info.name.as_str()).or_insert_with(blank).info = Some(info);
        for parent in names::parents(&info.name) {
            map.entry(parent).or_insert_with(blank).has_children = true;
        }
    }
    map
}

/// `inbox` at the start of a pattern matches INBOX in any case (RFC 9051 §5.1).
fn canonical_inbox(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    if bytes.len() >= 5
        && bytes[..5].eq_ignore_ascii_case(b"INBOX")
        && (bytes.len() == 5 || bytes[5] == b'/')
    {
        format!("INBOX{}", &pattern[5..])
    } else {
        pattern.to_string()
    }
}

/// A run of wildcards is one wildcard: `*` if the run has one, else `%`.
fn compact_wildcards(pattern: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(pattern.len());
    for &b in pattern.as_bytes() {
        match (out.last_mut(), b) {
            (Some(last @ (b'*' | b'%')), b'*' | b'%') => {
                if b == b'*' {
                    *last = b'*';
                }
            }
            _ => out.push(b),
        }
    }
    out
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches any run, `%` any run without the
/// delimiter. A set of reachable name positions is carried through the pattern, so the work
/// is length(pattern) × length(name) whatever the wildcards.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    // reach[i]: the pattern so far can match name[..i].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        match p {
            b'*' => {
                let mut any = false;
                for r in reach.iter_mut() {
                    any |= *r;
                    *r = any;
                }
            }
            b'%' => {
                let mut run = false;
                for i in 0..reach.len() {
                    if i > 0 && name[i - 1] == names::DELIMITER as u8 {
                        run = false;
                    }
                    run |= reach[i];
                    reach[i] = run;
                }
            }
            literal => {
                for i in (1..reach.len()).rev() {
                    reach[i] = reach[i - 1] && name[i - 1] == literal;
                }
                reach[0] = false;
            }
        }
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"*", b"a/b/c"));
        assert!(matches(b"%", b"abc"));
        assert!(!matches(b"%", b"a/b"));
        assert!(matches(b"a/%", b"a/b"));
        assert!(!matches(b"a/%", b"a/b/c"));
        assert!(matches(b"a*c", b"a/b/c"));
        assert!(matches(b"a%c", b"abbc"));
        assert!(!matches(b"a%c", b"ab/c"));
        assert!(matches(b"%/%", b"a/b"));
        assert!(matches(b"", b""));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"INBOX", b"INBOX"));
        assert!(!matches(b"INBOX", b"INBOXES"));
        assert_eq!(canonical_inbox("inbox/x"), "INBOX/x");
        assert_eq!(canonical_inbox("inboxes"), "inboxes");
    }

    #[test]
    fn many_wildcards_cost_no_more_than_their_length() {
        // With backtracking this pattern would try every split of the name.
        let pattern = "%a".repeat(2000) + "b";
        let name = vec![b'a'; 200];
        assert!(!matches(&compact_wildcards(&pattern), &name));
        assert_eq!(compact_wildcards("a%*%b%%c"), b"a*b%c");
    }
}
