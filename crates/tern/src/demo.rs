//! `tern serve --demo`: a domain, an account and a welcome message on an empty store, so a
//! newcomer can log in with a mail client at once, and what to type into that client.

use anyhow::Result;
use bytes::Bytes;
use std::collections::BTreeMap;
use tern_store::{AppendTarget, Flags, SqliteStore, Store};

pub const DEMO_DOMAIN: &str = "example.test";
pub const DEMO_ACCOUNT: &str = "demo@example.test";

/// The addresses the services listen on, by service name (as in `listening.json`).
pub type Addresses<'a> = BTreeMap<&'a str, String>;

/// What `--demo` found or made.
pub enum DemoAccount {
    /// Made now; the password is shown this once.
    Created { password: String },
    /// Made by an earlier start.
    Existed,
    /// The store held other data, so no demo account was added to it.
    NotMade,
}

/// Makes the demo account on an empty store; its welcome message names `addresses`.
pub async fn seed(
    store: &SqliteStore,
    hostname: &str,
    addresses: &Addresses<'_>,
) -> Result<DemoAccount> {
    if !store.domains().await?.is_empty() {
        return Ok(match store.account_by_email(DEMO_ACCOUNT).await? {
            Some(_) => DemoAccount::Existed,
            None => DemoAccount::NotMade,
        });
    }
    let password = crate::admin::generate_password();
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || tern_auth::hash_password(&p)).await??
    };
    store.create_domain(DEMO_DOMAIN, None).await?;
    let account = store.create_account(DEMO_ACCOUNT, &hash, None).await?;
    let inbox = store
        .mailbox(account, "INBOX")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the new account has no INBOX"))?;
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let how = connection_lines(addresses).join("\r\n");
    let welcome = format!(
        "From: Tern <postmaster@{DEMO_DOMAIN}>\r\n\
         To: {DEMO_ACCOUNT}\r\n\
         Subject: Welcome to Tern\r\n\
         Date: {date}\r\n\
         Message-ID: <welcome.{}@{hostname}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello!\r\n\
         \r\n\
         This mailbox lives on a Tern server. Point any mail client at it:\r\n\
         \r\n\
         {how}\r\n\
         \r\n\
         User name: {DEMO_ACCOUNT}\r\n",
        now.unix_timestamp()
    );
    store
        .append(
            Bytes::from(welcome),
            now.unix_timestamp(),
            vec![AppendTarget {
                account,
                mailbox: inbox.id,
                flags: Flags::NONE,
                keywords: vec![],
            }],
        )
        .await?;
    Ok(DemoAccount::Created { password })
}

/// What a newcomer needs on the terminal: where each service is and how to log in.
pub fn how_to_log_in(account: &DemoAccount, addresses: &Addresses<'_>, data_dir: &str) -> String {
    let mut out = format!("\nTern is running. Data: {data_dir}/  Stop: Ctrl-C\n\n");
    for line in connection_lines(addresses) {
        out += &format!("  {line}\n");
    }
    out += "\n  TLS uses a self-signed certificate until [tls] in the config names one:\n";
    out += "  a client asks once whether to trust it.\n\n";
    // The program as it was started (`target/release/tern` under `cargo run`), so the
    // command shown works as typed.
    let tern = std::env::args().next().unwrap_or_else(|| "tern".into());
    let passwd = format!("{tern} --data-dir {data_dir} user passwd {DEMO_ACCOUNT}");
    match account {
        DemoAccount::Created { password } => {
            out += &format!("  User:      {DEMO_ACCOUNT}\n  Password:  {password}\n");
            out += &format!("  (shown only now; a new one: {passwd})\n");
        }
        DemoAccount::Existed => {
            out += &format!("  User:      {DEMO_ACCOUNT}\n");
            out += "  Password:  as shown when the account was made; a new one:\n";
            out += &format!("             {passwd}\n");
        }
        DemoAccount::NotMade => {
            out += "  The store has data already, so no demo account was made.\n";
            out += &format!("  Its accounts: {tern} --data-dir {data_dir} user list\n");
        }
    }
    out
}

/// One line per kind of client, from the addresses actually bound (a port set to 0 in the
/// config shows the port the system chose). TLS uses the certificate of `[tls]`, on a first
/// start a self-signed one, which a client asks to accept once.
fn connection_lines(addresses: &Addresses<'_>) -> Vec<String> {
    let at =
        |service: &str, how: &str| addresses.get(service).map(|addr| format!("{addr} ({how})"));
    let web =
        |service: &str, scheme: &str| addresses.get(service).map(|a| format!("{scheme}://{a}/"));
    let rows = [
        ("Webmail:", vec![web("http", "http"), web("https", "https")]),
        ("IMAP:", vec![at("imap", "STARTTLS"), at("imaps", "TLS")]),
        ("POP3:", vec![at("pop3", "STARTTLS"), at("pop3s", "TLS")]),
        (
            "SMTP:",
            vec![
                at("submission", "STARTTLS, log in to send"),
                at("submissions", "TLS"),
            ],
        ),
        ("MX:", vec![at("smtp", "mail from other servers")]),
    ];
    rows.into_iter()
        .filter_map(|(label, ways)| {
            let ways: Vec<String> = ways.into_iter().flatten().collect();
            (!ways.is_empty()).then(|| format!("{label:<10} {}", ways.join(", ")))
        })
        .collect()
}
