//! Admin commands: domains, accounts, aliases. They write to the store directly, so they
//! work while `tern serve` runs, and the server reads the change on its next look-up.

use crate::cli::{AliasCommand, DomainCommand, PasswordArgs, UserCommand};
use anyhow::{Context, Result, bail};
use std::io::BufRead;
use tern_config::{Config, format_size, parse_size};
use tern_store::{SqliteStore, Store};

/// `"none"` or a size like `500M`.
fn quota_arg(text: &str) -> Result<Option<u64>> {
    if text.eq_ignore_ascii_case("none") || text == "0" {
        return Ok(None);
    }
    Ok(Some(parse_size(text)?))
}

fn show_quota(used: u64, limit: Option<u64>) -> String {
    match limit {
        Some(limit) => format!("{} / {}", format_size(used), format_size(limit)),
        None => format!("{} / unlimited", format_size(used)),
    }
}

pub async fn domain(store: &SqliteStore, config: &Config, command: DomainCommand) -> Result<()> {
    match command {
        DomainCommand::Add { name, quota } => {
            let quota = quota.as_deref().map(quota_arg).transpose()?.flatten();
            store.create_domain(&name, quota).await?;
            let name = name.to_lowercase();
            // Every hosted domain signs its mail (DKIM) from the start.
            let key = tern_queue::dkim::generate_key(&name, &tern_queue::dkim::default_selector())?;
            store.set_dkim_key(key).await?;
            println!("domain {name} added; publish its records: tern domain dns {name}");
        }
        DomainCommand::Dns { name } => {
            print!(
                "{}",
                crate::dns_records::records(store, config, &name).await?
            );
        }
        DomainCommand::DkimRotate { name, selector } => {
            let name = name.to_lowercase();
            if store.domain(&name).await?.is_none() {
                bail!("domain {name} is not hosted here");
            }
            let selector = selector.unwrap_or_else(tern_queue::dkim::default_selector);
            let key = tern_queue::dkim::generate_key(&name, &selector)?;
            store.set_dkim_key(key).await?;
            println!("new DKIM key {selector} for {name}; publish it: tern domain dns {name}");
        }
        DomainCommand::List => {
            for d in store.domains().await? {
                println!("{}\t{}", d.name, show_quota(d.bytes_used, d.quota));
            }
        }
        DomainCommand::Remove { name } => {
            store.remove_domain(&name).await?;
            println!(
                "domain {} removed with its accounts and mail",
                name.to_lowercase()
            );
        }
        DomainCommand::Quota { name, size } => {
            store.set_domain_quota(&name, quota_arg(&size)?).await?;
            println!("quota of {} set to {size}", name.to_lowercase());
        }
    }
    Ok(())
}

/// The password from the options, or a generated one (printed, since nobody else knows it).
fn password(args: &PasswordArgs, generate: bool) -> Result<(String, bool)> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("empty password on standard input");
        }
        return Ok((password, false));
    }
    match &args.password {
        Some(p) if p.is_empty() => bail!("empty password"),
        Some(p) => Ok((p.clone(), false)),
        None if generate => Ok((generate_password(), true)),
        None => bail!("give --password-stdin or --password"),
    }
}

/// 16 characters from an alphabet without look-alikes (0/O, 1/l).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn hash(password: String) -> Result<String> {
    Ok(tokio::task::spawn_blocking(move || tern_auth::hash_password(&password)).await??)
}

pub async fn user(store: &SqliteStore, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add {
            email,
            password: args,
            quota,
        } => {
            let quota = quota.as_deref().map(quota_arg).transpose()?.flatten();
            let (password, generated) = password(&args, true)?;
            store
                .create_account(&email, &hash(password.clone()).await?, quota)
                .await?;
            println!("account {} added", email.to_lowercase());
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List { domain } => {
            for a in store.accounts(domain.as_deref()).await? {
                println!(
                    "{}\t{} messages\t{}",
                    a.email,
                    a.messages,
                    show_quota(a.bytes_used, a.quota)
                );
            }
        }
        UserCommand::Remove { email } => {
            store.remove_account(&email).await?;
            println!("account {} removed with its mail", email.to_lowercase());
        }
        UserCommand::Passwd {
            email,
            password: args,
        } => {
            let (password, _) = password(&args, false)?;
            store
                .set_password_hash(&email, &hash(password).await?)
                .await?;
            println!("password of {} changed", email.to_lowercase());
        }
        UserCommand::Quota { email, size } => {
            store.set_account_quota(&email, quota_arg(&size)?).await?;
            println!("quota of {} set to {size}", email.to_lowercase());
        }
    }
    Ok(())
}

pub async fn alias(store: &SqliteStore, command: AliasCommand) -> Result<()> {
    match command {
        AliasCommand::Add { source, targets } => {
            store.add_alias(&source, &targets).await?;
            println!("alias {} -> {}", source.to_lowercase(), targets.join(", "));
        }
        AliasCommand::List => {
            for a in store.aliases().await? {
                println!("{}\t{}", a.source, a.target);
            }
        }
        AliasCommand::Remove { source, target } => {
            store.remove_alias(&source, target.as_deref()).await?;
            println!("alias {} removed", source.to_lowercase());
        }
    }
    Ok(())
}
