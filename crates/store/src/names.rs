//! Validation and normalization of the names the store keeps: mailbox names and addresses.

use crate::error::{Result, StoreError};

/// The hierarchy delimiter of mailbox names (DESIGN.md §4).
pub const DELIMITER: char = '/';
const MAX_MAILBOX_NAME_BYTES: usize = 512;
const MAX_MAILBOX_DEPTH: usize = 32;

/// Checks and normalizes a mailbox name: `INBOX` in any case becomes `INBOX` (RFC 9051 §5.1),
/// as does an `inbox/` prefix; empty levels, control characters (NUL among them) and names
/// too long or too deep are refused. This is how a stored mailbox is looked up: names are per
/// account, so `..` or another user's name never reach outside it and an odd stored name stays
/// reachable. New names must also pass [`normalize_new_mailbox`].
pub fn normalize_mailbox(name: &str) -> Result<String> {
    let bad = |reason: &str| Err(StoreError::invalid("mailbox name", reason));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_MAILBOX_NAME_BYTES {
        return bad("too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("control characters are not allowed");
    }
    // `*` and `%` are LIST wildcards (RFC 9051 §6.3.9): a mailbox named so could never be listed alone.
    if name.contains(['*', '%']) {
        return bad("'*' and '%' are not allowed");
    }
    let levels: Vec<&str> = name.split(DELIMITER).collect();
    if levels.len() > MAX_MAILBOX_DEPTH {
        return bad("too deep");
    }
    if levels.iter().any(|l| l.is_empty()) {
        return bad("empty hierarchy level");
    }
    let mut out = String::with_capacity(name.len());
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            out.push(DELIMITER);
        }
        if i == 0 && level.eq_ignore_ascii_case("INBOX") {
            out.push_str("INBOX");
        } else {
            out.push_str(level);
        }
    }
    Ok(out)
}

/// First levels that clients show as other users' or shared folders: the prefixes of RFC 2342
/// NAMESPACE other-users and shared namespaces on the servers people move from (Cyrus,
/// Courier, Exchange), compared case-insensitively. Tern announces only a personal namespace
/// (`NAMESPACE (("" "/")) NIL NIL`), so none of these can be real here.
const OTHER_NAMESPACES: [&str; 3] = ["other users", "shared folders", "public folders"];

/// Dovecot's shared namespace is `shared/<user>/…`: a `shared` folder with children imitates it
/// (a plain `Shared` folder is common and stays allowed).
const DOVECOT_SHARED: &str = "shared";

/// Characters that change how the text around them is shown without being seen themselves:
/// Unicode bidirectional controls (UAX #9: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM,
/// RLM, ALM), which can make `Invoice<U+202E>fdp.exe` read as `Invoiceexe.pdf`, and zero-width or
/// line-breaking ones that make two different names look the same. ZWNJ and ZWJ (U+200C,
/// U+200D) are left alone: Persian and Indic spelling and emoji need them.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Checks and normalizes a name about to be given to a mailbox (CREATE, the target of RENAME,
/// a folder made in the webmail): [`normalize_mailbox`] and, on top, nothing that imitates
/// another namespace or hides text. Such names stay inside the account, but they mislead
/// people and clients: `~bob` or `#shared/bob@a.test` (RFC 2342 §4 namespace prefixes),
/// `Other Users/bob@a.test`, `.` and `..` (path look-alikes), right-to-left overrides, names
/// that differ from another only by spaces at a level's ends (` INBOX`).
///
/// Only new names are checked: mailboxes already stored with such a name (imported, or made
/// before this rule) are still found by [`normalize_mailbox`], so they can be opened, renamed
/// to a good name and deleted.
pub fn normalize_new_mailbox(name: &str) -> Result<String> {
    let normalized = normalize_mailbox(name)?;
    let bad = |reason: &str| Err(StoreError::invalid("mailbox name", reason));
    if normalized.chars().any(is_invisible_format) {
        return bad("invisible or direction-changing characters (such as U+202E) are not allowed");
    }
    if normalized.starts_with(['#', '~']) {
        return bad(
            "a name may not start with '#' or '~': they mark other users' and shared namespaces",
        );
    }
    let levels: Vec<&str> = normalized.split(DELIMITER).collect();
    if levels.iter().any(|l| *l == "." || *l == "..") {
        return bad("'.' and '..' are not allowed as a name or a level of one");
    }
    if levels.iter().any(|l| l.trim() != *l) {
        return bad("spaces at the start or end of a name or level are not allowed");
    }
    let first = levels[0].to_lowercase();
    if OTHER_NAMESPACES.contains(&first.as_str()) || (first == DOVECOT_SHARED && levels.len() > 1) {
        return bad(
            "this name would look like other users' or shared folders, which Tern does not have",
        );
    }
    Ok(normalized)
}

/// The parent names of a mailbox: `a/b/c` → `a`, `a/b`.
pub fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

/// An address split into lower-cased local part and domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub local: String,
    pub domain: String,
}

impl Address {
    pub fn email(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// Parses `local@domain` (RFC 5321 §4.5.3.1 lengths: 64 and 255), lower-casing both halves.
pub fn parse_address(address: &str) -> Result<Address> {
    let bad = |reason: &str| Err(StoreError::invalid("address", reason));
    let address = address.trim();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return bad("missing '@'");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("local part must be 1 to 64 bytes");
    }
    let domain = normalize_domain(domain)?;
    if local.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("local part contains spaces or control characters");
    }
    Ok(Address {
        local: local.to_lowercase(),
        domain,
    })
}

/// Lower-cases a domain name and checks its shape (RFC 1035 labels).
pub fn normalize_domain(domain: &str) -> Result<String> {
    let bad = |reason: &str| Err(StoreError::invalid("domain", reason));
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty() || domain.len() > 255 {
        return bad("must be 1 to 255 bytes");
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("empty or too long label");
        }
        if !label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return bad("invalid characters");
        }
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive() {
        assert_eq!(normalize_mailbox("inbox").unwrap(), "INBOX");
        assert_eq!(normalize_mailbox("InBox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(normalize_mailbox("Inboxes").unwrap(), "Inboxes");
    }

    #[test]
    fn bad_mailbox_names_are_refused() {
        for name in [
            "",
            "/a",
            "a/",
            "a//b",
            "a\0b",
            "a\nb",
            "a*",
            "%",
            &"x".repeat(600),
        ] {
            assert!(normalize_mailbox(name).is_err(), "{name:?} accepted");
        }
        let deep = vec!["a"; 40].join("/");
        assert!(normalize_mailbox(&deep).is_err());
        // Names already in the store are looked up as they are, even odd ones (imported, or
        // created before the rules for new names): they stay openable and deletable.
        assert_eq!(normalize_mailbox("..").unwrap(), "..");
        assert_eq!(normalize_mailbox("~bob").unwrap(), "~bob");
        assert_eq!(normalize_mailbox("a\u{202e}b").unwrap(), "a\u{202e}b");
        assert_eq!(normalize_mailbox("Ünïcode/日本").unwrap(), "Ünïcode/日本");
    }

    #[test]
    fn new_names_that_imitate_other_namespaces_or_hide_text_are_refused() {
        let refused = [
            (".", "'.' and '..'"),
            ("..", "'.' and '..'"),
            ("a/../b", "'.' and '..'"),
            ("Work/.", "'.' and '..'"),
            ("~bob", "'#' or '~'"),
            ("~", "'#' or '~'"),
            ("#shared/bob@a.test", "'#' or '~'"),
            ("#news", "'#' or '~'"),
            ("Other Users/bob@a.test", "other users' or shared"),
            ("other users", "other users' or shared"),
            ("SHARED FOLDERS/x", "other users' or shared"),
            ("Public Folders", "other users' or shared"),
            ("shared/bob@a.test", "other users' or shared"),
            ("Invoice\u{202e}fdp.exe", "invisible"),
            ("a\u{202a}b", "invisible"),
            ("a\u{202d}b", "invisible"),
            ("\u{2066}x\u{2069}", "invisible"),
            ("a\u{200e}", "invisible"),
            ("\u{200f}a", "invisible"),
            ("a\u{061c}b", "invisible"),
            ("a\u{200b}b", "invisible"),
            ("a\u{feff}", "invisible"),
            ("a\u{2028}b", "invisible"),
            ("a\u{7f}b", "control"),
            ("a\u{85}b", "control"),
            ("a\u{9b}b", "control"),
            ("a\tb", "control"),
            ("a\u{1b}[31m", "control"),
            (" INBOX", "spaces"),
            ("Work/Notes ", "spaces"),
            ("Work/\u{a0}Notes", "spaces"),
        ];
        for (name, why) in refused {
            match normalize_new_mailbox(name) {
                Err(e) => assert!(e.to_string().contains(why), "{name:?}: {e}"),
                Ok(n) => panic!("{name:?} accepted as {n:?}"),
            }
        }
        for (name, normalized) in [
            ("inbox/Sub", "INBOX/Sub"),
            ("Shared", "Shared"),
            ("Work/Shared Folders", "Work/Shared Folders"),
            ("Work/.hidden", "Work/.hidden"),
            ("...", "..."),
            ("C#/notes", "C#/notes"),
            ("Bills/#42", "Bills/#42"),
            ("a~b", "a~b"),
            ("Ünïcode/日本", "Ünïcode/日本"),
            ("مكتب/عمل", "مكتب/عمل"),
            // U+200C ZERO WIDTH NON-JOINER is part of Persian spelling.
            ("می\u{200c}خواهم", "می\u{200c}خواهم"),
            ("Two words", "Two words"),
        ] {
            assert_eq!(normalize_new_mailbox(name).unwrap(), normalized, "{name:?}");
        }
    }

    #[test]
    fn parents_of_a_name() {
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(parents("a").count(), 0);
    }

    #[test]
    fn addresses() {
        let a = parse_address(" User.Name@Example.TEST ").unwrap();
        assert_eq!(a.email(), "user.name@example.test");
        assert!(parse_address("nobody").is_err());
        assert!(parse_address("@example.test").is_err());
        assert!(parse_address("a@-bad.test").is_err());
        assert!(parse_address("a b@example.test").is_err());
        assert!(parse_address(&format!("{}@x.test", "a".repeat(65))).is_err());
    }
}
