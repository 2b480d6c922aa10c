//! GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208) with the STORAGE resource: the account's quota
//! and its domain's, each a quota root of its own.

use std::sync::Arc;

use imap_codec::imap_types::mailbox::Mailbox;

use crate::session::{Reply, Session, store_error};
use crate::wire;

/// The account's own quota root.
pub const ACCOUNT_ROOT: &str = "Account";
/// The quota root shared by every account of the domain.
pub const DOMAIN_ROOT: &str = "Domain";

impl Session {
    /// The roots with a limit, with usage and limit in KiB (RFC 9208 §5.1: units of 1024).
    async fn quota_roots(&self) -> Result<Vec<(&'static str, u64, u64)>, Reply> {
        let account = self.logged_in_account().ok_or_else(Reply::log_in_first)?;
        let store = Arc::clone(self.store());
        let usage = store.quota(account).await.map_err(|e| store_error(&e))?;
        let kib = |bytes: u64| bytes.div_ceil(1024);
        let mut roots = Vec::new();
        if let Some(limit) = usage.account_limit {
            roots.push((ACCOUNT_ROOT, kib(usage.account_used), limit / 1024));
        }
        if let Some(limit) = usage.domain_limit {
            roots.push((DOMAIN_ROOT, kib(usage.domain_used), limit / 1024));
        }
        Ok(roots)
    }

    fn quota_response(&mut self, root: &str, used: u64, limit: u64) {
        let mut line = b"* QUOTA ".to_vec();
        wire::string(&mut line, root.as_bytes());
        line.extend_from_slice(format!(" (STORAGE {used} {limit})\r\n").as_bytes());
        self.io.out.extend_from_slice(&line);
    }

    /// GETQUOTAROOT (RFC 9208 §4.3.2): every mailbox of the account shares the same roots.
    pub async fn get_quota_root(&mut self, mailbox: &Mailbox<'_>) -> Reply {
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        match self.store().mailbox(account, &name).await {
            Ok(Some(_)) => {}
            Ok(None) => return Reply::no("No such mailbox").code("NONEXISTENT"),
            Err(e) => return store_error(&e),
        }
        let roots = match self.quota_roots().await {
            Ok(roots) => roots,
            Err(reply) => return reply,
        };
        let mut line = b"* QUOTAROOT ".to_vec();
        self.encode_name(&mut line, &name);
        for (root, _, _) in &roots {
            line.push(b' ');
            wire::string(&mut line, root.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.io.out.extend_from_slice(&line);
        for (root, used, limit) in roots {
            self.quota_response(root, used, limit);
        }
        Reply::ok("GETQUOTAROOT completed")
    }

    /// GETQUOTA (RFC 9208 §4.2).
    pub async fn get_quota(&mut self, root: &[u8]) -> Reply {
        let roots = match self.quota_roots().await {
            Ok(roots) => roots,
            Err(reply) => return reply,
        };
        match roots
            .into_iter()
            .find(|(name, _, _)| name.as_bytes() == root)
        {
            Some((name, used, limit)) => {
                self.quota_response(name, used, limit);
                Reply::ok("GETQUOTA completed")
            }
            None => Reply::no("No such quota root").code("NONEXISTENT"),
        }
    }
}
