//! SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489) checks on the MX, with mail-auth,
//! recorded in an `Authentication-Results:` field (RFC 8601).

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DmarcResult, MessageAuthenticator};
use std::net::IpAddr;
use std::time::Duration;

/// What the DMARC policy asks for a message that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcAction {
    None,
    Quarantine,
    Reject,
}

pub struct Verdict {
    /// The `Authentication-Results:` field, CRLF-terminated.
    pub header: String,
    pub dmarc: DmarcAction,
}

/// The MX's checker, sharing one resolver.
pub struct Verifier {
    dns: MessageAuthenticator,
    /// All look-ups of one message together (RFC 7208 §4.6.4 bounds SPF's count; this bounds
    /// the time, which a dead resolver would otherwise multiply).
    budget: Duration,
}

impl Verifier {
    pub fn new(dns: MessageAuthenticator, budget: Duration) -> Verifier {
        Verifier { dns, budget }
    }

    /// The checks within the budget; past it, temperror for all three (RFC 7208 §2.6.6,
    /// RFC 7489 §6.6.2): the message is accepted and no DMARC policy is applied.
    pub async fn check(
        &self,
        raw: &[u8],
        ip: IpAddr,
        helo: &str,
        sender: &str,
        hostname: &str,
    ) -> Verdict {
        match tokio::time::timeout(self.budget, self.check_all(raw, ip, helo, sender, hostname))
            .await
        {
            Ok(verdict) => verdict,
            Err(_) => {
                tracing::warn!(
                    budget_ms = self.budget.as_millis() as u64,
                    "DNS checks over budget: temperror"
                );
                Verdict {
                    header: format!(
                        "Authentication-Results: {hostname};\r\n\tdkim=temperror (DNS time budget exceeded);\r\n\tspf=temperror;\r\n\tdmarc=temperror\r\n"
                    ),
                    dmarc: DmarcAction::None,
                }
            }
        }
    }

    async fn check_all(
        &self,
        raw: &[u8],
        ip: IpAddr,
        helo: &str,
        sender: &str,
        hostname: &str,
    ) -> Verdict {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Verdict {
                header: format!(
                    "Authentication-Results: {hostname}; none (unparseable message)\r\n"
                ),
                dmarc: DmarcAction::None,
            };
        };
        let ip = ip.to_canonical();
        // RFC 7208 §2.4: with a null sender, the HELO identity is checked.
        let spf_params = if sender.is_empty() {
            SpfParameters::verify_ehlo(ip, helo, hostname)
        } else {
            SpfParameters::verify_mail_from(ip, helo, hostname, sender)
        };
        // DKIM and SPF look up different names: at the same time.
        let (dkim, spf) = tokio::join!(
            self.dns.verify_dkim(&message),
            self.dns.verify_spf(spf_params)
        );
        let mail_from_domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or(helo);
        let dmarc = self
            .dns
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim,
                mail_from_domain,
                &spf,
            ))
            .await;
        let from_domain = message
            .from()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("");
        let results = AuthenticationResults::new(hostname)
            .with_dkim_results(&dkim, from_domain)
            .with_spf_mailfrom_result(&spf, ip, sender, helo)
            .with_dmarc_result(&dmarc);
        let passed = matches!(dmarc.dkim_result(), DmarcResult::Pass)
            || matches!(dmarc.spf_result(), DmarcResult::Pass);
        let failed = !passed && matches!(dmarc.result(), DmarcResult::Fail(_));
        let action = match (failed, dmarc.policy()) {
            (true, Policy::Reject) => DmarcAction::Reject,
            (true, Policy::Quarantine) => DmarcAction::Quarantine,
            _ => DmarcAction::None,
        };
        Verdict {
            header: results.to_header(),
            dmarc: action,
        }
    }
}
