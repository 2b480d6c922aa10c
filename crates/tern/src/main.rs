//! `tern`: the whole mail service in one program. This file only parses the command line and
//! dispatches; each command family lives in its own module.

mod admin;
mod cli;
mod demo;
mod dns_records;
mod import;
mod logging;
mod mail_cli;
mod queue_cli;
mod serve;
mod services;
mod webmail_submit;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, ConfigCommand};
use std::sync::Arc;
use tern_config::Config;
use tern_store::SqliteStore;

fn main() -> std::process::ExitCode {
    make_new_files_private();
    return_large_allocations_to_the_system();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Everything `tern` writes (the store with password hashes and DKIM keys, blobs, TLS keys,
/// listening.json) is for the server's user alone: umask 077, for `serve` and every command,
/// whatever the shell or service manager set. The store also sets its modes itself.
fn make_new_files_private() {
    // SAFETY: umask only sets this process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// glibc serves allocations below its mmap threshold from per-thread arenas and keeps them
/// when freed; the threshold also grows by itself up to 32 MiB. Each Argon2id check takes
/// 19 MiB (64 MiB for Dovecot hashes) on a blocking-pool thread, so a burst of logins left
/// hundreds of MiB resident for good. A fixed 1 MiB threshold sends every large buffer
/// (Argon2 memory, message literals, big responses) to mmap, returned on free.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first thing in main, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Command::Config {
        command: ConfigCommand::Default,
    } = cli.command
    {
        print!("{}", tern_config::DEFAULT_CONFIG);
        return Ok(());
    }
    let config = load_config(&cli)?;
    logging::init(&config, cli.log_format.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { demo } => serve::run(config, demo).await,
            Command::Config { .. } => Ok(()),
            command => {
                let store = open_store(&config)?;
                let result = match command {
                    Command::Domain { command } => admin::domain(&store, &config, command).await,
                    Command::Mail { command } => mail_cli::run(&store, command).await,
                    Command::Queue { command } => queue_cli::run(&store, command).await,
                    Command::User { command } => admin::user(&store, command).await,
                    Command::Alias { command } => admin::alias(&store, command).await,
                    Command::Import(args) => import::run(&store, args).await,
                    Command::Serve { .. } | Command::Config { .. } => Ok(()),
                };
                store.close();
                result
            }
        }
    })
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

pub(crate) fn open_store(config: &Config) -> Result<Arc<SqliteStore>> {
    let store = SqliteStore::open(&config.data_dir)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
}
