//! Logs with `tracing`: human-readable on a terminal, JSON for log collectors.

use anyhow::Result;
use tern_config::Config;
use tracing_subscriber::EnvFilter;

pub fn init(config: &Config, format_override: Option<&str>) -> Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .map_err(|e| anyhow::anyhow!("log.level {:?}: {e}", config.log.level))?;
    let format = format_override.unwrap_or(&config.log.format);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("initialising logs: {e}"))
}
