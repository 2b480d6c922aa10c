//! The CAPABILITY list (RFC 9051 §7.2.2): only what this server implements and honours.

/// Offered in every state.
const ALWAYS: [&str; 6] = [
    "IMAP4rev1",
    "IMAP4rev2",
    "SASL-IR",
    "LITERAL+",
    "ENABLE",
    "ID",
];

/// Before login: what a client needs to choose how to authenticate.
pub fn before_login(tls_offered: bool, plaintext_allowed: bool) -> String {
    let mut caps = ALWAYS.to_vec();
    if tls_offered {
        caps.push("STARTTLS");
    }
    if plaintext_allowed {
        caps.extend(["AUTH=PLAIN", "AUTH=LOGIN"]);
    } else {
        // RFC 9051 §6.2.3 / §7.2.2: no LOGIN and no plaintext mechanism until TLS.
        caps.push("LOGINDISABLED");
    }
    caps.join(" ")
}

/// After login; APPENDLIMIT (RFC 7889) is the largest message APPEND accepts.
pub fn after_login(append_limit: u64) -> String {
    let mut caps = ALWAYS.to_vec();
    caps.extend([
        "IDLE",
        "NAMESPACE",
        "UNSELECT",
        "UIDPLUS",
        "MOVE",
        "CHILDREN",
        "SPECIAL-USE",
        "CREATE-SPECIAL-USE",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "STATUS=SIZE",
        "ESEARCH",
        "SEARCHRES",
        "WITHIN",
        "CONDSTORE",
        "QRESYNC",
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "BINARY",
        "SAVEDATE",
        "MULTIAPPEND",
        // RFC 8970: the store keeps every message's preview.
        "PREVIEW",
    ]);
    format!("{} APPENDLIMIT={append_limit}", caps.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_mechanisms_only_when_allowed() {
        let insecure = before_login(true, false);
        assert!(insecure.contains("LOGINDISABLED") && insecure.contains("STARTTLS"));
        assert!(!insecure.contains("AUTH="));
        let secure = before_login(false, true);
        assert!(secure.contains("AUTH=PLAIN AUTH=LOGIN"));
        assert!(!secure.contains("LOGINDISABLED") && !secure.contains("STARTTLS"));
    }
}
