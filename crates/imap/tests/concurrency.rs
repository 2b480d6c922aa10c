//! Several sessions on one mailbox at once, storing keywords, appending, expunging and
//! fetching, each checked against a model of what it was told (issue 13): every keyword a
//! FETCH shows was announced by FLAGS first (RFC 9051 §7.3.5), sequence numbers and UIDs stay
//! consistent with the EXISTS and EXPUNGE responses seen (RFC 9051 §7.4.1, §7.5.1), and no
//! command is answered BAD or SERVERBUG. Bounded by a fixed number of commands, not by time.

mod common;

use common::Client;

const SESSIONS: u64 = 6;
const COMMANDS_PER_SESSION: usize = 120;

/// A small deterministic generator: the same run every time, different per session.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// What one session was told: the UID at each sequence number where known, and the
/// keywords of its last FLAGS response.
#[derive(Default)]
struct Model {
    uids: Vec<Option<u32>>,
    announced: Vec<String>,
    checked: usize,
}

impl Model {
    fn observe(&mut self, lines: &[String]) -> Result<(), String> {
        for line in lines {
            self.observe_line(line)
                .map_err(|e| format!("{e}\n  in {line:?}\n  of {lines:?}"))?;
        }
        Ok(())
    }

    fn observe_line(&mut self, line: &str) -> Result<(), String> {
        if line.contains("SERVERBUG") || line.split(' ').nth(1) == Some("BAD") {
            return Err("a server error".into());
        }
        let Some(rest) = line.strip_prefix("* ") else {
            return Ok(());
        };
        if let Some(list) = rest.strip_prefix("FLAGS (") {
            self.announced = keywords(list).map(str::to_ascii_lowercase).collect();
            return Ok(());
        }
        let Some((number, rest)) = rest.split_once(' ') else {
            return Ok(());
        };
        let Ok(n) = number.parse::<usize>() else {
            return Ok(());
        };
        self.checked += 1;
        if rest == "EXISTS" {
            if n < self.uids.len() {
                return Err(format!("EXISTS {n} below the {} known", self.uids.len()));
            }
            self.uids.resize(n, None);
        } else if rest == "EXPUNGE" {
            if n == 0 || n > self.uids.len() {
                return Err(format!("EXPUNGE {n} of {} messages", self.uids.len()));
            }
            self.uids.remove(n - 1);
        } else if let Some(items) = rest.strip_prefix("FETCH (") {
            self.observe_fetch(n, items)?;
        }
        Ok(())
    }

    fn observe_fetch(&mut self, seq: usize, items: &str) -> Result<(), String> {
        if seq == 0 || seq > self.uids.len() {
            return Err(format!("FETCH {seq} of {} messages", self.uids.len()));
        }
        // Only the items before any literal: message text is not parsed as items.
        let items = items.split('{').next().unwrap_or_default();
        if let Some(at) = items.find("FLAGS (") {
            let list = &items[at + 7..];
            let list = &list[..list.find(')').unwrap_or(list.len())];
            for keyword in keywords(list) {
                if !self.announced.contains(&keyword.to_ascii_lowercase()) {
                    return Err(format!("{keyword} shown before FLAGS announced it"));
                }
            }
        }
        if let Some(at) = items.find("UID ") {
            let digits: String = items[at + 4..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let uid: u32 = digits.parse().map_err(|_| "a UID that is no number")?;
            self.learn_uid(seq, uid)?;
        }
        Ok(())
    }

    /// The UID at `seq` may be new to the model, never different, and ascending.
    fn learn_uid(&mut self, seq: usize, uid: u32) -> Result<(), String> {
        let index = seq - 1;
        if let Some(known) = self.uids[index]
            && known != uid
        {
            return Err(format!("message {seq} was UID {known}, now {uid}"));
        }
        let below = self.uids[..index].iter().rev().find_map(|u| *u);
        let above = self.uids[index + 1..].iter().find_map(|u| *u);
        if below.is_some_and(|b| b >= uid) || above.is_some_and(|a| a <= uid) {
            return Err(format!("UID {uid} at {seq} out of order: {:?}", self.uids));
        }
        self.uids[index] = Some(uid);
        Ok(())
    }
}

fn keywords(list: &str) -> impl Iterator<Item = &str> {
    list.trim_end_matches(')')
        .split(' ')
        .filter(|f| !f.is_empty() && !f.starts_with('\\'))
}

/// A tagged answer the model accepts: OK, or NO for messages another session expunged.
fn check_tagged(lines: &[String]) -> Result<(), String> {
    let tagged = lines.last().map(String::as_str).unwrap_or_default();
    let status = tagged.split(' ').nth(1);
    if status == Some("OK") || tagged.contains("NO [EXPUNGEISSUED]") {
        return Ok(());
    }
    Err(format!("unexpected answer {tagged:?} in {lines:?}"))
}

async fn one_command(client: &mut Client, dice: &mut Dice, model: &Model, n: usize) -> Vec<String> {
    let exists = model.uids.len() as u64;
    let seq = 1 + dice.below(exists);
    match dice.below(10) {
        0..=2 if exists > 0 => {
            let keyword =
                ["$Kw1", "$Kw2", "$Kw3", "NIL", "Junk", "$Label9"][dice.below(6) as usize];
            let op = if dice.below(3) == 0 {
                "-FLAGS"
            } else {
                "+FLAGS"
            };
            client
                .command(&format!("STORE {seq} {op} ({keyword})"))
                .await
        }
        3 | 4 => {
            let keyword = ["$New1", "$New2", "$Kw2", "nil"][dice.below(4) as usize];
            let text = format!("Subject: m{n}\r\n\r\nbody of {n}\r\n");
            let command = format!("APPEND INBOX ({keyword}) {{{}}}\r\n{text}", text.len());
            client.command(&command).await
        }
        5 if exists > 0 => {
            let mut lines = client
                .command(&format!("STORE {seq} +FLAGS.SILENT (\\Deleted)"))
                .await;
            lines.extend(client.command("EXPUNGE").await);
            lines
        }
        6 | 7 if exists > 0 => client.command("FETCH 1:* (UID FLAGS)").await,
        8 if exists > 0 => {
            client
                .command(&format!("FETCH {seq}:* (UID FLAGS BODY.PEEK[])"))
                .await
        }
        _ => client.command("NOOP").await,
    }
}

async fn run_session(addr: std::net::SocketAddr, seed: u64) -> Result<usize, String> {
    let mut client = Client::login(addr).await;
    let mut model = Model::default();
    let mut dice = Dice(seed);
    let select = client.command("SELECT INBOX").await;
    model.observe(&select)?;
    for n in 0..COMMANDS_PER_SESSION {
        let lines = one_command(&mut client, &mut dice, &model, n).await;
        model.observe(&lines)?;
        // Each command's own answer counts too, e.g. a STORE's tagged NO.
        for part in lines.split_inclusive(|l| l.starts_with('t')) {
            check_tagged(part)?;
        }
    }
    Ok(model.checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_one_mailbox_see_consistent_state() {
    let (addr, _dir, _store) = common::server().await;
    let runs: Vec<_> = (0..SESSIONS)
        .map(|s| tokio::spawn(run_session(addr, 0x9E37_79B9_7F4A_7C15 ^ ((s + 1) * 7919))))
        .collect();
    let mut checked = 0;
    for run in runs {
        match run.await.expect("session task") {
            Ok(n) => checked += n,
            Err(e) => panic!("{e}"),
        }
    }
    // The model saw real traffic: not a test that passes by checking nothing.
    assert!(
        checked > SESSIONS as usize * COMMANDS_PER_SESSION,
        "{checked} responses checked"
    );
}
