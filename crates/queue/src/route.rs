//! Where mail for a domain goes: a configured route, the relay, or the domain's MX hosts
//! (RFC 5321 §5.1: MX by preference, else the domain's own address; a null MX, RFC 7505,
//! means the domain takes no mail).

use crate::settings::{HostPort, QueueSettings};
use mail_auth::MessageAuthenticator;
use std::net::{IpAddr, SocketAddr};

/// One host to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The name for TLS and logs.
    pub host: String,
    pub port: u16,
    /// The relay: AUTH and (if configured) TLS required.
    pub is_relay: bool,
}

/// The hosts for a domain, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Hops(Vec<Hop>),
    /// Retrying may help (DNS timeout, SERVFAIL).
    TempFail(String),
    /// It never will (null MX, no such domain).
    PermFail(String),
}

/// Builds the resolver for MX look-ups and the MX's SPF/DKIM/DMARC checks.
pub fn resolver(server: Option<SocketAddr>) -> Result<MessageAuthenticator, String> {
    resolver_with(server, std::time::Duration::from_secs(5), 2)
}

/// A resolver whose every look-up waits at most `timeout` per attempt, `attempts` times (the
/// MX's checks use a short one: they run while the sender waits for its reply).
pub fn resolver_with(
    server: Option<SocketAddr>,
    timeout: std::time::Duration,
    attempts: usize,
) -> Result<MessageAuthenticator, String> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    let (config, mut opts) = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            (
                ResolverConfig::from_name_servers(vec![ns]),
                ResolverOpts::default(),
            )
        }
        None => hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string())?,
    };
    opts.timeout = timeout;
    opts.attempts = attempts;
    MessageAuthenticator::new(config, opts).map_err(|e| e.to_string())
}

type MxCache = mail_auth::common::cache::NoCache<Box<str>, mail_auth::RecordSet<mail_auth::MX>>;
const NO_MX_CACHE: Option<&MxCache> = None;

fn hop(target: &HostPort, is_relay: bool) -> Hop {
    Hop {
        host: target.host.clone(),
        port: target.port,
        is_relay,
    }
}

/// The route for `domain`: routes first (like transport maps), then the relay, then DNS.
pub async fn route(
    settings: &QueueSettings,
    dns: Option<&MessageAuthenticator>,
    domain: &str,
) -> Route {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if let Some(target) = settings.routes.get(&domain) {
        return Route::Hops(vec![hop(target, false)]);
    }
    if let Some(relay) = &settings.relay {
        return Route::Hops(vec![hop(&relay.target, true)]);
    }
    // An address literal, user@[192.0.2.1] (RFC 5321 §4.1.3).
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let ip = literal.strip_prefix("ipv6:").unwrap_or(literal);
        return match ip.parse::<IpAddr>() {
            Ok(ip) => Route::Hops(vec![Hop {
                host: ip.to_string(),
                port: 25,
                is_relay: false,
            }]),
            Err(_) => Route::PermFail(format!("bad address literal {domain}")),
        };
    }
    let Some(dns) = dns else {
        return Route::TempFail("no DNS resolver available".into());
    };
    match dns.mx_lookup(domain.as_str(), NO_MX_CACHE).await {
        Ok(set) if !set.rrset.is_empty() => {
            // RFC 7505 §3: a single MX with the root as exchange means "no mail here".
            if set.rrset.len() == 1
                && set.rrset[0].exchanges.len() == 1
                && matches!(&*set.rrset[0].exchanges[0], "" | ".")
            {
                return Route::PermFail(format!("{domain} does not accept mail (null MX)"));
            }
            let hops = set
                .rrset
                .iter()
                .flat_map(|mx| mx.exchanges.iter())
                .map(|host| Hop {
                    host: host.trim_end_matches('.').to_owned(),
                    port: 25,
                    is_relay: false,
                })
                .collect();
            Route::Hops(hops)
        }
        Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(
            hickory_resolver::proto::op::ResponseCode::NXDomain,
        ))) => Route::PermFail(format!("{domain} does not exist (NXDOMAIN)")),
        Ok(_) | Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_))) => {
            // RFC 5321 §5.1: no MX, the domain itself is the host (if it has an address).
            Route::Hops(vec![Hop {
                host: domain.clone(),
                port: 25,
                is_relay: false,
            }])
        }
        Err(e) => Route::TempFail(format!("MX look-up for {domain} failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routes_win_over_the_relay_and_literals_need_no_dns() {
        let mut config = tern_config::Config::default();
        config.queue.relay = "relay.test:587".into();
        config
            .queue
            .routes
            .insert("routed.test".into(), "127.0.0.1:2626".into());
        let settings = QueueSettings::from_config(&config).unwrap();
        assert_eq!(
            route(&settings, None, "Routed.test").await,
            Route::Hops(vec![Hop {
                host: "127.0.0.1".into(),
                port: 2626,
                is_relay: false
            }])
        );
        let Route::Hops(hops) = route(&settings, None, "other.test").await else {
            panic!("relay");
        };
        assert!(hops[0].is_relay);
        let settings = QueueSettings::from_config(&tern_config::Config::default()).unwrap();
        let Route::Hops(hops) = route(&settings, None, "[127.0.0.1]").await else {
            panic!("literal");
        };
        assert_eq!(hops[0].host, "127.0.0.1");
        assert!(matches!(
            route(&settings, None, "example.test").await,
            Route::TempFail(_)
        ));
    }
}
