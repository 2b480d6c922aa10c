//! One IMAP connection: the state machine of RFC 9051 §3, command dispatch, and the reporting
//! of changes made elsewhere (other sessions, delivery, POP3, webmail) to the selected mailbox.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::sequence::SequenceSet;
use tern_net::{Connection, MaybeTlsStream};
use tern_store::{Account, Change, MailboxInfo, RecentClaim, StoreError, names};
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;

use crate::reader::{CommandReader, Frame, ReadError, tag_of};
use crate::syntax::sequence::Messages;
use crate::syntax::{self, Typed};
use crate::view::View;
use crate::{ImapConfig, capabilities, utf7, wire};

/// How a command ended, for its tagged response (RFC 9051 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// The tagged response of a command.
#[derive(Debug)]
pub struct Reply {
    pub status: Status,
    pub code: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }
    pub fn no(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::No,
            code: None,
            text: text.into(),
        }
    }
    /// For an authenticated-state command without a logged-in account.
    pub fn log_in_first() -> Reply {
        Reply::bad("Log in first")
    }
    pub fn bad(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }
    pub fn code(mut self, code: impl Into<String>) -> Reply {
        self.code = Some(code.into());
        self
    }
}

/// What the loop does after a command.
pub enum Flow {
    Continue(Reply),
    Logout,
    StartTls(String),
}

/// Ends the session: the connection is gone or unusable.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("autologout after {0:?} idle")]
    Autologout(std::time::Duration),
    #[error("server shutting down")]
    Shutdown,
}

/// The connection's bytes: the stream (taken out only for the STARTTLS handshake), the
/// command reader and the output buffer, flushed after each command.
pub struct Io {
    stream: Option<MaybeTlsStream>,
    pub reader: CommandReader,
    pub out: Vec<u8>,
}

/// Output is written to the socket whenever this much is buffered (large FETCH responses).
const FLUSH_AT: usize = 64 * 1024;

impl Io {
    pub fn stream(&mut self) -> io::Result<&mut MaybeTlsStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream taken"))
    }

    pub fn untagged(&mut self, line: &str) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let stream = self.stream()?;
        stream.write_all(&out).await?;
        stream.flush().await?;
        self.out = out;
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Reads one plain line (AUTHENTICATE responses, IDLE's DONE). Cancel-safe.
    pub async fn read_line(&mut self, max_line: usize) -> Result<Vec<u8>, ReadError> {
        let Io { stream, reader, .. } = self;
        let stream = stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream taken"))?;
        reader.read_line(stream, max_line).await
    }

    /// Flushes when the buffer is large, so one big response does not sit in memory whole.
    pub async fn flush_if_large(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }
}

pub struct Session {
    pub config: Arc<ImapConfig>,
    pub peer: SocketAddr,
    pub loopback: bool,
    pub io: Io,
    pub account: Option<Account>,
    pub feed: Option<broadcast::Receiver<Change>>,
    pub selected: Option<View>,
    /// The client sent `ENABLE IMAP4rev2` (RFC 9051 §6.3.1): rev2 responses and UTF-8 names.
    pub rev2: bool,
    /// CONDSTORE is in use (RFC 7162 §3.1): MODSEQ in FETCH responses.
    pub condstore: bool,
    /// QRESYNC was enabled (RFC 7162 §3.2.3): VANISHED replaces EXPUNGE.
    pub qresync: bool,
    /// The saved search result (RFC 5182), as UIDs.
    pub saved_search: Vec<u32>,
}

pub async fn run(conn: Connection, config: Arc<ImapConfig>) {
    let Connection {
        stream,
        peer,
        guard,
        ..
    } = conn;
    let loopback = peer.ip().to_canonical().is_loopback();
    let mut session = Session {
        config,
        peer,
        loopback,
        io: Io {
            stream: Some(stream),
            reader: CommandReader::new(),
            out: Vec::new(),
        },
        account: None,
        feed: None,
        selected: None,
        rev2: false,
        condstore: false,
        qresync: false,
        saved_search: Vec::new(),
    };
    let greeting = format!(
        "OK [CAPABILITY {}] {} IMAP4rev2 server ready",
        session.capabilities(),
        session.config.hostname
    );
    session.io.untagged(&greeting);
    match session.serve().await {
        Ok(()) => {}
        Err(Fatal::Read(ReadError::Closed)) => tracing::debug!("client left"),
        Err(e) => {
            tracing::info!(error = %e, "session ended");
            let bye = match &e {
                Fatal::Read(ReadError::LineTooLong(_)) => "BYE Command line too long",
                Fatal::Read(ReadError::NonSyncLiteralTooLarge { .. }) => {
                    "BYE [TOOBIG] Literal too large, closing the connection"
                }
                Fatal::Autologout(_) => "BYE Autologout; idle for too long",
                Fatal::Shutdown => "BYE Server shutting down",
                _ => "",
            };
            if !bye.is_empty() {
                session.io.untagged(bye);
                let _ = session.io.flush().await;
            }
        }
    }
    if let Ok(stream) = session.io.stream() {
        let _ = stream.shutdown().await;
    }
    drop(guard);
}

impl Session {
    pub fn store(&self) -> &tern_store::SharedStore {
        &self.config.store
    }

    pub fn secure(&self) -> bool {
        self.loopback || self.io.stream.as_ref().is_some_and(|s| s.is_tls())
    }

    pub fn capabilities(&self) -> String {
        if self.account.is_some() {
            capabilities::after_login(self.config.limits.max_append_literal)
        } else {
            let tls = self.io.stream.as_ref().is_some_and(|s| s.is_tls());
            capabilities::before_login(!tls, self.secure())
        }
    }

    async fn serve(&mut self) -> Result<(), Fatal> {
        loop {
            self.io.flush().await?;
            let frame = self.next_frame().await?;
            let command = match frame {
                Frame::LiteralRefused { tag, length, limit } => {
                    let tag = tag.as_deref().unwrap_or("*").to_owned();
                    if self.account.is_none() {
                        // RFC 9051 §7.5: refused before the `+`, so no byte of it is read.
                        let text = format!(
                            "Log in first: a literal over {limit} bytes is refused before login"
                        );
                        self.tagged(&tag, Status::Bad, &text);
                        continue;
                    }
                    // RFC 7888 §4 / RFC 4469 §4.2: TOOBIG for a literal we will not take.
                    let text = format!("[TOOBIG] Literal of {length} bytes exceeds {limit}");
                    self.tagged(&tag, Status::No, &text);
                    continue;
                }
                Frame::Command(bytes) => bytes,
            };
            let flow = match syntax::parse(&command) {
                Some(Ok(parsed)) => {
                    let syntax::Parsed { tag, command } = parsed;
                    tracing::debug!(tag, "typed command");
                    let flow = self.dispatch_typed(&tag, command).await?;
                    (tag, flow)
                }
                Some(Err(malformed)) => {
                    self.tagged(&malformed.tag, Status::Bad, malformed.text);
                    continue;
                }
                None => match self.parse_and_dispatch(&command).await? {
                    Some(flow) => flow,
                    None => continue,
                },
            };
            match flow {
                (tag, Flow::Continue(reply)) => {
                    let text = match &reply.code {
                        Some(code) => format!("[{code}] {}", reply.text),
                        None => reply.text,
                    };
                    self.tagged(&tag, reply.status, &text);
                }
                (tag, Flow::Logout) => {
                    self.io.untagged("BYE Logging out");
                    self.tagged(&tag, Status::Ok, "LOGOUT completed");
                    self.io.flush().await?;
                    return Ok(());
                }
                (_, Flow::StartTls(tag)) => self.start_tls(&tag).await?,
            }
        }
    }

    /// A command for imap-codec. None when imap-codec could not parse it and it was answered
    /// BAD.
    async fn parse_and_dispatch(
        &mut self,
        command: &[u8],
    ) -> Result<Option<(String, Flow)>, Fatal> {
        let codec = CommandCodec::default();
        let parsed = match codec.decode(command) {
            Ok(([], parsed)) => parsed,
            _ => {
                let tag = tag_of(command);
                self.tagged(
                    tag.as_deref().unwrap_or("*"),
                    Status::Bad,
                    "Unknown command or invalid arguments",
                );
                return Ok(None);
            }
        };
        let tag = parsed.tag.inner().to_owned();
        tracing::debug!(tag, command = parsed.body.name(), "command");
        let flow = self.dispatch(parsed).await?;
        Ok(Some((tag, flow)))
    }

    /// A command parsed by [`syntax`]: APPEND, CREATE, LIST and LSUB, valid in the
    /// authenticated and selected states (RFC 9051 §6.3); SEARCH, FETCH, STORE, COPY, MOVE and
    /// UID EXPUNGE, valid when a mailbox is selected (§6.4).
    async fn dispatch_typed(&mut self, tag: &str, command: Typed) -> Result<Flow, Fatal> {
        if self.account.is_none() {
            return Ok(Flow::Continue(Reply::log_in_first()));
        }
        // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence number.
        let expunges_allowed = match &command {
            Typed::Search(search) => search.uid,
            Typed::Fetch(fetch) => fetch.uid,
            Typed::Store(store) => store.uid,
            _ => true,
        };
        let reply = match command {
            Typed::Append(append) => self.append(append).await,
            Typed::Create(create) => self.create(create).await,
            Typed::List(list) => self.list(list).await,
            _ if self.selected.is_none() => Reply::bad("No mailbox selected"),
            selected => self.dispatch_selected(tag, selected).await?,
        };
        self.report_updates(expunges_allowed).await?;
        Ok(Flow::Continue(reply))
    }

    /// The selected-state commands parsed by [`syntax`], `$` resolved (RFC 5182 §2.1).
    async fn dispatch_selected(&mut self, tag: &str, command: Typed) -> Result<Reply, Fatal> {
        Ok(match command {
            Typed::Search(search) => self.search(search, tag).await?,
            Typed::Fetch(fetch) => {
                let set = self.message_set(&fetch.messages, fetch.uid);
                self.fetch(
                    &set,
                    &fetch.items,
                    fetch.uid,
                    &fetch.modifiers,
                    fetch.extras,
                )
                .await?
            }
            Typed::Store(store) => {
                let set = self.message_set(&store.messages, store.uid);
                self.store_flags(
                    &set,
                    &store.kind,
                    &store.response,
                    &store.flags,
                    store.uid,
                    store.unchanged_since,
                )
                .await
            }
            Typed::Copy(copy) => {
                let set = self.message_set(&copy.messages, copy.uid);
                self.copy_or_move(&set, &copy.mailbox, copy.uid, copy.is_move)
                    .await
            }
            Typed::UidExpunge(messages) => {
                let set = self.message_set(&messages, true);
                self.expunge(Some(&set)).await
            }
            Typed::Append(_) | Typed::Create(_) | Typed::List(_) => {
                Reply::bad("Not a selected-state command")
            }
        })
    }

    /// The sequence set a command names; `$` is the saved result (RFC 5182 §2.1) as UIDs or
    /// as the sequence numbers of those UIDs. An empty result names a number no message has.
    fn message_set(&self, messages: &Messages, uid: bool) -> SequenceSet {
        use imap_codec::imap_types::core::Vec1;
        use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
        let Messages::Set(set) = messages else {
            let numbers: Vec<u32> = match (&self.selected, uid) {
                (_, true) => self.saved_search.clone(),
                (Some(view), false) => self
                    .saved_search
                    .iter()
                    .filter_map(|&u| view.index_of_uid(u).map(|i| i as u32 + 1))
                    .collect(),
                (None, false) => Vec::new(),
            };
            let single = |n| Sequence::Single(SeqOrUid::Value(n));
            let sequences: Vec<Sequence> = numbers
                .into_iter()
                .filter_map(std::num::NonZeroU32::new)
                .map(single)
                .collect();
            return SequenceSet(
                Vec1::try_from(sequences)
                    .unwrap_or_else(|_| Vec1::from(single(std::num::NonZeroU32::MAX))),
            );
        };
        set.clone()
    }
    async fn next_frame(&mut self) -> Result<Frame, Fatal> {
        let timeout = self.config.idle_timeout;
        let limits = if self.account.is_some() {
            self.config.limits
        } else {
            self.config.limits.before_login()
        };
        let shutdown = self.config.shutdown.clone();
        let Io { stream, reader, .. } = &mut self.io;
        let stream = stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream taken"))?;
        tokio::select! {
            () = shutdown.cancelled() => Err(Fatal::Shutdown),
            read = tern_net::with_idle_timeout(timeout, reader.read_command(stream, &limits)) => {
                match read {
                    Ok(frame) => Ok(frame?),
                    Err(_) => Err(Fatal::Autologout(timeout)),
                }
            }
        }
    }

    pub fn tagged(&mut self, tag: &str, status: Status, text: &str) {
        let status = match status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        let out = &mut self.io.out;
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.as_bytes());
        out.push(b' ');
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// RFC 9051 §6.2.1: OK, then the handshake; input the client pipelined after STARTTLS is
    /// discarded, and the session starts over in the not-authenticated state.
    async fn start_tls(&mut self, tag: &str) -> Result<(), Fatal> {
        self.tagged(tag, Status::Ok, "Begin TLS negotiation now");
        self.io.flush().await?;
        self.io.reader.discard_buffered();
        let stream = self
            .io
            .stream
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream taken"))?;
        match stream
            .upgrade_within(&self.config.tls, self.config.tls_handshake_timeout)
            .await
        {
            Ok(tls) => {
                self.io.stream = Some(tls);
                Ok(())
            }
            Err(e) => Err(Fatal::Io(io::Error::other(e.to_string()))),
        }
    }

    async fn dispatch(&mut self, command: Command<'_>) -> Result<Flow, Fatal> {
        use CommandBody as C;
        let authenticated = self.account.is_some();
        let selected = self.selected.is_some();
        let tag = command.tag.inner().to_owned();
        let reply = match command.body {
            // Any state (RFC 9051 §6.1).
            C::Capability => {
                let caps = self.capabilities();
                self.io.untagged(&format!("CAPABILITY {caps}"));
                Reply::ok("CAPABILITY completed")
            }
            C::Noop => {
                self.report_updates(true).await?;
                Reply::ok("NOOP completed")
            }
            C::Logout => return Ok(Flow::Logout),
            C::Id { .. } => self.id(),
            // Not authenticated (RFC 9051 §6.2).
            C::StartTLS if !authenticated => {
                if self.io.stream.as_ref().is_some_and(|s| s.is_tls()) {
                    Reply::bad("TLS is already active")
                } else {
                    return Ok(Flow::StartTls(tag));
                }
            }
            C::Login { username, password } if !authenticated => {
                self.login(username.as_ref(), password.declassify().as_ref())
                    .await
            }
            C::Authenticate {
                mechanism,
                initial_response,
            } if !authenticated => {
                let initial = initial_response.as_ref().map(|s| s.declassify().to_vec());
                self.authenticate(mechanism.as_ref(), initial).await?
            }
            C::StartTLS | C::Login { .. } | C::Authenticate { .. } => {
                Reply::bad("Already authenticated")
            }
            _ if !authenticated => Reply::bad("Log in first"),
            // Authenticated (RFC 9051 §6.3).
            C::Enable { capabilities } => {
                let names: Vec<String> = capabilities
                    .as_ref()
                    .iter()
                    .map(|c| c.to_string())
                    .collect();
                self.enable(&names)
            }
            C::Select {
                mailbox,
                parameters,
            } => self.select(&mailbox, false, &parameters).await?,
            C::Examine {
                mailbox,
                parameters,
            } => self.select(&mailbox, true, &parameters).await?,
            C::Delete { mailbox } => self.delete(&mailbox).await,
            C::Rename { from, to } => self.rename(&from, &to).await,
            C::Subscribe { mailbox } => self.subscribe(&mailbox, true).await,
            C::Unsubscribe { mailbox } => self.subscribe(&mailbox, false).await,
            C::Namespace => {
                // RFC 2342: one personal namespace, no other users' or shared ones.
                self.io.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                Reply::ok("NAMESPACE completed")
            }
            C::Status {
                mailbox,
                item_names,
            } => self.status(&mailbox, &item_names).await,
            C::Idle => self.idle(&tag).await?,
            C::GetQuotaRoot { mailbox } => self.get_quota_root(&mailbox).await,
            C::GetQuota { root } => self.get_quota(root.as_ref()).await,
            // RFC 9208 §4.1.3: limits are the administrator's to set.
            C::SetQuota { .. } => Reply::no("Quotas are set by the administrator").code("NOPERM"),
            _ if !selected => Reply::bad("No mailbox selected"),
            // Selected (RFC 9051 §6.4).
            C::Check => {
                self.report_updates(true).await?;
                Reply::ok("CHECK completed")
            }
            C::Close => self.close(true).await,
            C::Unselect => self.close(false).await,
            C::Expunge => self.expunge(None).await,
            _ => Reply::bad("Command not supported"),
        };
        self.report_updates(true).await?;
        Ok(Flow::Continue(reply))
    }

    /// The UTF-8 name a client meant: modified UTF-7 from IMAP4rev1 clients, UTF-8 from
    /// IMAP4rev2 ones (RFC 9051 §5.1), normalized (INBOX in any case). Invalid names get NO.
    pub fn mailbox_name(&self, mailbox: &Mailbox<'_>) -> Result<String, Reply> {
        match mailbox {
            Mailbox::Inbox => Ok("INBOX".into()),
            Mailbox::Other(other) => self.mailbox_name_of(other.as_ref()),
        }
    }

    /// [`Self::mailbox_name`] of a name as the client wrote it.
    pub fn mailbox_name_of(&self, raw: &[u8]) -> Result<String, Reply> {
        let name = self.decode_name(raw)?;
        names::normalize_mailbox(&name).map_err(|e| Reply::no(e.to_string()).code("CANNOT"))
    }

    /// Decodes a name or pattern as sent (UTF-8 or modified UTF-7).
    pub fn decode_name(&self, raw: &[u8]) -> Result<String, Reply> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| Reply::no("Mailbox name is not valid UTF-8").code("CANNOT"))?;
        if text.contains('\0') {
            return Err(Reply::no("NUL in mailbox name").code("CANNOT"));
        }
        if self.rev2 || !text.is_ascii() {
            // UTF-8 as sent; 8-bit names from rev1 clients are taken as UTF-8 too.
            return Ok(text.to_owned());
        }
        utf7::decode(text)
            .ok_or_else(|| Reply::no("Invalid modified UTF-7 mailbox name").code("CANNOT"))
    }

    /// A mailbox name as this client expects it, as an IMAP string.
    pub fn encode_name(&self, out: &mut Vec<u8>, name: &str) {
        if self.rev2 {
            wire::astring(out, name.as_bytes());
        } else {
            wire::astring(out, utf7::encode(name).as_bytes());
        }
    }

    /// Reports what changed in the selected mailbox since the client last heard. Without
    /// `expunges_allowed` (during FETCH, STORE and SEARCH by sequence number, RFC 9051 §7.5.1)
    /// nothing is reported: the changes wait for the next command.
    pub async fn report_updates(&mut self, expunges_allowed: bool) -> Result<(), Fatal> {
        self.drain_feed();
        if !expunges_allowed {
            return Ok(());
        }
        match self.sync_view().await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the selected mailbox");
                Ok(())
            }
        }
    }

    /// Sends FLAGS and PERMANENTFLAGS first when the keywords of these messages of the view
    /// hold one the client was not told of (RFC 9051 §7.3.5): before any FETCH shows it.
    pub fn announce_keywords_of(&mut self, indexes: &[usize]) {
        let Some(View {
            messages,
            announced,
            read_only,
            ..
        }) = self.selected.as_mut()
        else {
            return;
        };
        let keywords = indexes
            .iter()
            .filter_map(|&i| messages.get(i))
            .flat_map(|m| &m.keywords);
        if announced.learn(keywords) {
            wire::flags_announcement(&mut self.io.out, announced.keywords(), *read_only);
        }
    }

    /// Marks the view dirty for every change to the selected mailbox the feed announced.
    pub fn drain_feed(&mut self) {
        let Some(feed) = self.feed.as_mut() else {
            return;
        };
        loop {
            match feed.try_recv() {
                Ok(change) => {
                    if let Some(view) = self.selected.as_mut()
                        && change.mailbox() == view.mailbox
                    {
                        view.dirty = true;
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    if let Some(view) = self.selected.as_mut() {
                        view.dirty = true;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// The `\\Recent` UIDs this IMAP4rev1 session gets when a sync finds messages up to UID
    /// `newest` (RFC 3501 §2.3.2): claimed from the store unless another session has them,
    /// only looked at under EXAMINE. `None` when there is nothing new to claim.
    async fn recent_claim_for(
        &self,
        info: &MailboxInfo,
        newest: u32,
    ) -> Result<Option<RecentClaim>, StoreError> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(None);
        };
        let known = view.messages.last().map_or(0, |m| m.uid);
        let claimed = view.recent.through().max(known);
        if self.rev2 || newest <= claimed || newest <= info.recent_uid {
            return Ok(None);
        }
        if view.read_only {
            let through = info.uid_next.saturating_sub(1).max(newest);
            return Ok(Some(RecentClaim {
                after: info.recent_uid,
                through,
            }));
        }
        Ok(Some(
            self.config
                .store
                .claim_recent(info.account, info.id)
                .await?,
        ))
    }

    /// Brings the view up to date: EXPUNGE for messages gone, EXISTS for new ones, FETCH FLAGS
    /// for flags changed by others (RFC 9051 §7.4.1, §7.3.1, §7.5.2).
    pub async fn sync_view(&mut self) -> Result<(), StoreError> {
        let Some(account) = self.account.as_ref().map(|a| a.id) else {
            return Ok(());
        };
        let Some(view) = self.selected.as_ref() else {
            return Ok(());
        };
        if !view.dirty {
            return Ok(());
        }
        let (mailbox, since) = (view.mailbox, view.synced_modseq);
        let store = Arc::clone(&self.config.store);
        let info = store.mailbox_by_id(account, mailbox).await?;
        let vanished = store.vanished_since(account, mailbox, since).await?;
        let changed = store.changed_since(account, mailbox, since).await?;
        let (rev2, condstore, qresync) = (self.rev2, self.condstore, self.qresync);
        let newest = changed.iter().map(|m| m.uid).max().unwrap_or(0);
        let claim = self.recent_claim_for(&info, newest).await?;
        self.report_expunged(&vanished);
        let Some(view) = self.selected.as_mut() else {
            return Ok(());
        };
        if let Some(claim) = claim {
            view.recent.add(claim);
        }
        // New keywords (set by another session, or on a message delivered, appended, copied
        // or moved in) are announced before the FETCH that shows them (RFC 9051 §7.3.5).
        if view
            .announced
            .learn(changed.iter().flat_map(|m| &m.keywords))
        {
            let keywords = view.announced.keywords();
            wire::flags_announcement(&mut self.io.out, keywords, view.read_only);
        }
        let out = &mut self.io.out;
        let mut added = false;
        let mut highest = info.highest_modseq.max(since);
        for meta in changed {
            highest = highest.max(meta.modseq);
            match view.index_of_uid(meta.uid) {
                Some(index) => {
                    if view.messages[index].modseq == meta.modseq {
                        continue; // our own change, already reported
                    }
                    Arc::make_mut(&mut view.messages)[index] = meta;
                    // RFC 7162 §3.2.4: with QRESYNC, unsolicited FETCH carries the UID.
                    wire::fetch_flags(out, view, index, rev2 || qresync, condstore);
                }
                None if view.messages.last().is_none_or(|last| meta.uid > last.uid) => {
                    Arc::make_mut(&mut view.messages).push(meta);
                    added = true;
                }
                None => {} // expunged again before we saw it
            }
        }
        if added {
            out.extend_from_slice(format!("* {} EXISTS\r\n", view.messages.len()).as_bytes());
            if !rev2 {
                // RFC 3501 §7.3.2: the number of recent messages changes with them.
                out.extend_from_slice(format!("* {} RECENT\r\n", view.recent_count()).as_bytes());
            }
        }
        view.uid_next = view.uid_next.max(info.uid_next);
        view.synced_modseq = highest;
        view.dirty = false;
        Ok(())
    }
}

/// The NO a store error deserves (RFC 5530 response codes).
pub fn store_error(e: &StoreError) -> Reply {
    match e {
        StoreError::NotFound { what } => Reply::no(format!("No such {what}")).code("NONEXISTENT"),
        StoreError::AlreadyExists { what } => {
            Reply::no(format!("The {what} already exists")).code("ALREADYEXISTS")
        }
        StoreError::Invalid { .. } => Reply::no(e.to_string()).code("CANNOT"),
        StoreError::OverQuota { .. } | StoreError::TooLargeForQuota { .. } => {
            Reply::no(e.to_string()).code("OVERQUOTA")
        }
        StoreError::HasChildren => {
            Reply::no("The mailbox has children; delete them first").code("INUSE")
        }
        StoreError::Forbidden(_) => Reply::no(e.to_string()).code("CANNOT"),
        _ => {
            tracing::error!(error = %e, "store error");
            Reply::no("Internal error, try again later").code("SERVERBUG")
        }
    }
}
