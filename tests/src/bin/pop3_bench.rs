//! POP3 load generator for bench/pop3.sh: CLIENTS concurrent clients loop LOGIN (USER/PASS),
//! STAT, UIDL, RETR of every message, QUIT, each session as the next of USERS users, for
//! SECONDS. Prints one line of figures: sessions, RETRs, bytes, elapsed seconds, RETR/s.
//!
//! Usage: pop3-bench HOST:PORT USERS DOMAIN PASSWORD CLIENTS SECONDS

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Default)]
struct Totals {
    sessions: AtomicU64,
    retrs: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

struct Job {
    addr: String,
    users: u64,
    domain: String,
    password: String,
    deadline: Instant,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Client {
    stream: BufReader<TcpStream>,
    line: Vec<u8>,
}

impl Client {
    async fn status(&mut self) -> Result<String> {
        self.line.clear();
        self.stream.read_until(b'\n', &mut self.line).await?;
        let line = String::from_utf8_lossy(&self.line).into_owned();
        if !line.starts_with("+OK") {
            return Err(format!("server said {line:?}").into());
        }
        Ok(line)
    }

    async fn command(&mut self, command: &str) -> Result<String> {
        self.stream
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await?;
        self.status().await
    }

    /// A multi-line response's body size in bytes.
    async fn multi_line(&mut self, command: &str) -> Result<u64> {
        self.command(command).await?;
        let mut bytes = 0;
        loop {
            self.line.clear();
            let n = self.stream.read_until(b'\n', &mut self.line).await?;
            if n == 0 {
                return Err("connection closed in a multi-line response".into());
            }
            if self.line == b".\r\n" {
                return Ok(bytes);
            }
            bytes += n as u64;
        }
    }
}

/// One LOGIN, STAT, UIDL, RETR 1..n, QUIT session; stops between RETRs at the deadline.
async fn session(job: &Job, user: u64, totals: &Totals) -> Result<()> {
    let tcp = TcpStream::connect(&job.addr).await?;
    tcp.set_nodelay(true)?;
    let mut client = Client {
        stream: BufReader::with_capacity(64 * 1024, tcp),
        line: Vec::with_capacity(1024),
    };
    client.status().await?;
    client
        .command(&format!("USER user{user}@{}", job.domain))
        .await?;
    client.command(&format!("PASS {}", job.password)).await?;
    let stat = client.command("STAT").await?;
    let count: u32 = stat
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or("bad STAT reply")?;
    client.multi_line("UIDL").await?;
    for n in 1..=count {
        if Instant::now() >= job.deadline {
            break;
        }
        let bytes = client.multi_line(&format!("RETR {n}")).await?;
        totals.retrs.fetch_add(1, Ordering::Relaxed);
        totals.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    client.command("QUIT").await?;
    totals.sessions.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, users, domain, password, clients, seconds] = args.as_slice() else {
        return Err("usage: pop3-bench HOST:PORT USERS DOMAIN PASSWORD CLIENTS SECONDS".into());
    };
    let clients: u64 = clients.parse()?;
    let started = Instant::now();
    let job = Arc::new(Job {
        addr: addr.clone(),
        users: users.parse()?,
        domain: domain.clone(),
        password: password.clone(),
        deadline: started + Duration::from_secs(seconds.parse()?),
    });
    let totals = Arc::new(Totals::default());
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (job, totals) = (Arc::clone(&job), Arc::clone(&totals));
        tasks.push(tokio::spawn(async move {
            // Client c takes users c, c+CLIENTS, c+2·CLIENTS, ... (mod USERS): with USERS a
            // multiple of CLIENTS, two clients never want one maildrop at the same time (POP3
            // allows one session per maildrop).
            let mut user = client;
            while Instant::now() < job.deadline {
                if let Err(e) = session(&job, user % job.users + 1, &totals).await {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("client {client}: {e}");
                }
                user += clients;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let retrs = totals.retrs.load(Ordering::Relaxed);
    println!(
        "sessions {} retrs {} bytes {} errors {} seconds {:.2} retr_per_s {:.1}",
        totals.sessions.load(Ordering::Relaxed),
        retrs,
        totals.bytes.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        elapsed,
        retrs as f64 / elapsed
    );
    Ok(())
}
