//! Validation and normalization of the names the store keeps: mailbox names and addresses.

use crate::error::{Result, StoreError};

/// The hierarchy delimiter of mailbox names (DESIGN.md §4).
pub const DELIMITER: char = '/';
const MAX_MAILBOX_NAME_BYTES: usize = 512;
const MAX_MAILBOX_DEPTH: usize = 32;

/// Checks and normalizes a mailbox name: `INBOX` in any case becomes `INBOX` (RFC 9051 §5.1),
/// as does an `inbox/` prefix; empty levels, control characters (NUL among them) and names
/// too long or too deep are refused. Names are per account, so `..`, `*` or another user's
/// name can never reach outside the account: they are plain (if odd) names here.
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
        // Odd but harmless: names are scoped to the account.
        assert_eq!(normalize_mailbox("..").unwrap(), "..");
        assert_eq!(normalize_mailbox("Ünïcode/日本").unwrap(), "Ünïcode/日本");
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
