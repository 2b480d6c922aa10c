//! `tern serve`: open the store, bind every configured listener, report the addresses in
//! `<data_dir>/listening.json`, serve until SIGTERM/SIGINT, then drain sessions.

use crate::services::{self, Shared};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tern_auth::{Authenticator, ThrottleConfig};
use tern_config::Config;
use tern_net::{ConnLimiter, Limits, Listener, Shutdown, TlsAcceptor, TlsMode};
use tern_store::SharedStore;

/// Services whose clients expect TLS from the first byte.
fn tls_mode(service: &str) -> TlsMode {
    match service {
        "submissions" | "imaps" | "pop3s" | "https" => TlsMode::Implicit,
        _ => TlsMode::Plain,
    }
}

/// What a connection over the connection limits (per address or in all) reads before the
/// close, in its protocol. Implicit-TLS listeners send nothing (`Listener::with_refusal`).
fn refusal_line(service: &str) -> &'static [u8] {
    match service {
        "imap" => b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
        "pop3" => b"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
        "http" => {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        _ => b"421 4.7.0 Too many connections, try again later\r\n",
    }
}

/// How long the content of an expunged message stays readable by the IMAP sessions that
/// loaded its summary before the expunge (see the store's `blob_removal.rs`): far longer than
/// one FETCH takes to write a batch of messages, short enough that deleted mail leaves the
/// disk soon.
const EXPUNGED_CONTENT_GRACE: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn run(config: Config, demo: bool) -> Result<()> {
    tern_net::install_crypto_provider();
    let store = crate::open_store(&config)?;
    store.index_text_in_background();
    store.keep_unreferenced_blobs_for(EXPUNGED_CONTENT_GRACE);
    {
        // Blobs orphaned by a crash between blob write and commit: collected in the background.
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            match store.collect_garbage().await {
                Ok(report) if report.orphan_blobs + report.temp_files > 0 => tracing::info!(
                    orphan_blobs = report.orphan_blobs,
                    temp_files = report.temp_files,
                    "removed what an interrupted write left in the store"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "store garbage collection failed"),
            }
        });
    }
    let tls = tern_net::load_or_create_tls(
        &config.tls.cert,
        &config.tls.key,
        &config.data_dir,
        &config.hostname,
    )
    .context("setting up TLS")?;
    let limiter = ConnLimiter::new(Limits {
        max_connections: config.limits.max_connections,
        max_per_ip: config.limits.max_connections_per_ip,
        ..Limits::default()
    });

    let mut listeners = Vec::new();
    for (service, addr) in config.listeners().enabled() {
        let listener = Listener::bind(
            service,
            addr,
            tls_mode(service),
            Some(Arc::clone(&tls)),
            Arc::clone(&limiter),
        )
        .await
        .with_context(|| format!("binding {service} on {addr}"))?
        .with_refusal(refusal_line(service));
        listeners.push(listener);
    }
    let addresses: BTreeMap<&str, String> = listeners
        .iter()
        .map(|l| (l.service(), l.local_addr().to_string()))
        .collect();
    if demo {
        // After binding, so the welcome message and the terminal name the ports in use; before
        // listening.json, so whoever waits for that file finds the account made and announced.
        let account = crate::demo::seed(&store, &config.hostname, &addresses).await?;
        let data_dir = config.data_dir.display().to_string();
        println!(
            "{}",
            crate::demo::how_to_log_in(&account, &addresses, &data_dir)
        );
    }
    write_listening(&config.data_dir, &addresses)?;

    let (trigger, shutdown) = Shutdown::new();
    let queue_settings =
        tern_queue::QueueSettings::from_config(&config).context("the [queue] settings")?;
    let outbound = tern_queue::Outbound::new(Arc::clone(&store) as SharedStore, queue_settings);
    let worker = {
        let shutdown = shutdown.clone();
        tokio::spawn(
            outbound
                .worker()
                .run(async move { shutdown.cancelled().await }),
        )
    };
    let shared = Shared {
        outbound,
        store: Arc::clone(&store) as SharedStore,
        auth: Arc::new(Authenticator::new(
            Arc::clone(&store) as SharedStore,
            throttle_config(&config.auth),
        )),
        tls: TlsAcceptor::from(Arc::clone(&tls)),
        hostname: Arc::from(config.hostname.as_str()),
        shutdown,
        config: Arc::new(config.clone()),
        ports: Arc::new(
            listeners
                .iter()
                .map(|l| (l.service(), l.local_addr().port()))
                .collect(),
        ),
    };
    let servers = services::Servers::new(&shared);
    let serving: Vec<_> = listeners
        .into_iter()
        .map(|listener| services::start(listener, &servers, shared.shutdown.clone()))
        .collect();
    tracing::info!(data_dir = %config.data_dir.display(), "tern is running");

    tern_net::wait_for_signal().await;
    tracing::info!("shutting down: no new connections, sessions get a grace period");
    trigger.trigger();
    for task in serving {
        let _ = task.await;
    }
    let _ = worker.await;
    let grace = Duration::from_secs(config.limits.shutdown_grace_secs);
    tern_net::drain(&trigger.sessions(), grace).await;
    let _ = std::fs::remove_file(config.data_dir.join("listening.json"));
    store.close();
    tracing::info!("stopped");
    Ok(())
}

/// Written atomically (temp file + rename), so a reader never sees half a file.
fn write_listening(data_dir: &Path, addresses: &BTreeMap<&str, String>) -> Result<()> {
    let path = data_dir.join("listening.json");
    let tmp = data_dir.join("listening.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(addresses)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The `[auth]` settings as the throttle takes them.
fn throttle_config(auth: &tern_config::Auth) -> ThrottleConfig {
    ThrottleConfig {
        free_failures: auth.free_failures,
        base_delay: Duration::from_millis(auth.failure_delay_ms),
        max_delay: Duration::from_millis(auth.max_failure_delay_ms),
        account_ip_limit: auth.account_failure_limit,
        ip_limit: auth.ip_failure_limit,
        window: Duration::from_secs(auth.failure_window_secs),
        ..ThrottleConfig::default()
    }
}
