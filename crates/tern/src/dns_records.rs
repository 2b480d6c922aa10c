//! `tern domain dns NAME`: the records a domain needs in DNS, in zone-file syntax: MX, SPF
//! (RFC 7208), DKIM (RFC 6376 §3.6.1), DMARC (RFC 7489), autoconfig, and the RFC 6186 SRV
//! records that let mail clients find IMAP, POP3 and submission.

use anyhow::{Result, bail};
use tern_config::Config;
use tern_store::{SqliteStore, Store};

/// The port a service listens on in `config`, or its standard one.
fn port(config: &Config, service: &str, standard: u16) -> u16 {
    let Some(listen) = &config.listen else {
        return standard;
    };
    listen
        .enabled()
        .into_iter()
        .find(|(name, _)| *name == service)
        .and_then(|(_, addr)| addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .filter(|p| *p != 0)
        .unwrap_or(standard)
}

/// A TXT value in quoted strings of at most 255 bytes (RFC 1035 §3.3.14).
fn txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn records(store: &SqliteStore, config: &Config, name: &str) -> Result<String> {
    let domain = name.trim().trim_end_matches('.').to_lowercase();
    if store.domain(&domain).await?.is_none() {
        bail!("domain {domain} is not hosted here");
    }
    let host = config.hostname.trim_end_matches('.');
    let mut out = format!("; DNS records for {domain} (mail server {host})\n");
    out.push_str(&format!("{domain}.\t\tIN MX\t10 {host}.\n"));
    out.push_str(&format!("{domain}.\t\tIN TXT\t{}\n", txt("v=spf1 mx ~all")));
    match store.dkim_key(&domain).await? {
        Some(key) => {
            let record = tern_queue::dkim::dns_record(&key)?;
            out.push_str(&format!(
                "{}._domainkey.{domain}.\tIN TXT\t{}\n",
                key.selector,
                txt(&record)
            ));
        }
        None => out.push_str("; no DKIM key: make one with `tern domain dkim-rotate`\n"),
    }
    out.push_str(&format!(
        "_dmarc.{domain}.\t\tIN TXT\t{}\n",
        txt(&format!(
            "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
        ))
    ));
    out.push_str(&format!("autoconfig.{domain}.\tIN CNAME\t{host}.\n"));
    for (service, name, standard) in [
        ("submissions", "_submissions._tcp", 465),
        ("submission", "_submission._tcp", 587),
        ("imaps", "_imaps._tcp", 993),
        ("imap", "_imap._tcp", 143),
        ("pop3s", "_pop3s._tcp", 995),
        ("pop3", "_pop3._tcp", 110),
    ] {
        let port = port(config, service, standard);
        out.push_str(&format!("{name}.{domain}.\tIN SRV\t0 1 {port} {host}.\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_txt_values_are_split() {
        let long = "a".repeat(300);
        let split = txt(&long);
        assert_eq!(
            split,
            format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45))
        );
    }

    #[test]
    fn ports_come_from_the_config_or_the_standard() {
        let mut config = Config::default();
        assert_eq!(port(&config, "submission", 587), 587);
        config.listen = Some(tern_config::Listen {
            submission: Some("0.0.0.0:10587".into()),
            ..Default::default()
        });
        assert_eq!(port(&config, "submission", 587), 10587);
        assert_eq!(port(&config, "imap", 143), 143);
    }
}
