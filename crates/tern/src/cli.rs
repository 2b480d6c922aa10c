//! The command line (clap): `tern serve`, admin commands, import, config.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tern",
    version,
    about = "A hosting provider's whole mail service in one program",
    after_help = "To try it: `tern serve --demo` runs every service on loopback ports with a demo \
                  account and prints how to log in.\n\
                  Every setting, with comments: `tern config default`."
)]
pub struct Cli {
    /// Configuration file (TOML); without it, the embedded default (`tern config default`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory; overrides `data_dir` of the config.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: text (default) or json.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every service (SMTP, submission, IMAP, POP3, webmail) in this process.
    Serve {
        /// On an empty store, create domain example.test and account demo@example.test
        /// (its password is printed) with a welcome message.
        #[arg(long)]
        demo: bool,
    },
    /// Hosted domains.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Mail accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Aliases and catch-alls (`@domain`).
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// Import existing mail from an mbox file or a Maildir.
    Import(ImportArgs),
    /// Read stored mail (for scripts and checks): list a folder, print a message's bytes.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// The outbound queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Host a domain.
    Add {
        name: String,
        /// Quota for the whole domain, e.g. 10G.
        #[arg(long)]
        quota: Option<String>,
    },
    /// List hosted domains with usage.
    List,
    /// Remove a domain with all its accounts, mail and aliases.
    Remove { name: String },
    /// Set the domain quota ("none" removes it).
    Quota { name: String, size: String },
    /// Print the DNS records to publish for a domain: MX, SPF, DKIM, DMARC, autoconfig, SRV.
    Dns { name: String },
    /// Make a new DKIM key for the domain (the old one stops signing at once).
    DkimRotate {
        name: String,
        /// The selector; default `tern` and the year and month.
        #[arg(long)]
        selector: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum MailCommand {
    /// The messages of a folder: UID, size, flags, subject.
    List {
        email: String,
        #[arg(long, default_value = "INBOX")]
        folder: String,
    },
    /// A message's exact bytes, on standard output.
    Cat {
        email: String,
        uid: u32,
        #[arg(long, default_value = "INBOX")]
        folder: String,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Messages waiting to leave, with their recipients' state.
    List,
    /// One message: envelope, recipients, last replies.
    Show { id: i64 },
    /// Try the message's pending recipients now.
    Retry { id: i64 },
    /// Drop a message from the queue without a bounce.
    Remove { id: i64 },
}

#[derive(Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// The password (visible in the process list: prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account; without a password option, one is generated and printed.
    Add {
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Mailbox quota, e.g. 500M.
        #[arg(long)]
        quota: Option<String>,
    },
    /// List accounts (of one domain, or all).
    List { domain: Option<String> },
    /// Remove an account and all its mail.
    Remove { email: String },
    /// Set a new password.
    Passwd {
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set the account quota ("none" removes it).
    Quota { email: String, size: String },
}

#[derive(Subcommand)]
pub enum AliasCommand {
    /// Deliver mail for SOURCE (an address, or @domain for a catch-all) to TARGET...
    Add {
        source: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    List,
    /// Remove one target of an alias, or the whole alias.
    Remove {
        source: String,
        target: Option<String>,
    },
}

#[derive(Args)]
pub struct ImportArgs {
    /// The account to import into.
    pub email: String,
    /// An mbox file.
    #[arg(long, conflicts_with = "maildir", required_unless_present = "maildir")]
    pub mbox: Option<PathBuf>,
    /// A Maildir (its Maildir++ subfolders become folders).
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    /// Target folder (created if missing); default INBOX.
    #[arg(long)]
    pub folder: Option<String>,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the full default configuration with comments.
    Default,
}
