//! The outbound queue's data model (DESIGN.md §4): messages waiting to leave, each recipient
//! with its own state, and the domains' DKIM signing keys.

use serde::{Deserialize, Serialize};

/// A queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueueId(pub i64);

/// RFC 3461 §4.1 NOTIFY of one recipient, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify(pub u8);

impl Notify {
    pub const SUCCESS: Notify = Notify(1);
    pub const FAILURE: Notify = Notify(2);
    pub const DELAY: Notify = Notify(4);
    pub const NEVER: Notify = Notify(8);

    pub fn contains(self, other: Notify) -> bool {
        self.0 & other.0 == other.0
    }

    /// No NOTIFY given: failures are reported (RFC 3461 §4.1 leaves the default to the MTA).
    pub fn wants_failure(self) -> bool {
        !self.contains(Notify::NEVER) && (self.0 == 0 || self.contains(Notify::FAILURE))
    }
}

/// A recipient of a message about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    pub address: String,
    /// RFC 3461 §4.2 ORCPT, kept for the DSN.
    pub orcpt: Option<String>,
    pub notify: Notify,
}

impl NewRecipient {
    pub fn plain(address: impl Into<String>) -> NewRecipient {
        NewRecipient {
            address: address.into(),
            orcpt: None,
            notify: Notify::default(),
        }
    }
}

/// The envelope of a message about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQueued {
    /// The envelope sender; empty for the null sender (a bounce, which never gets a bounce).
    pub sender: String,
    pub recipients: Vec<NewRecipient>,
    /// RFC 3461 §4.4 ENVID.
    pub env_id: Option<String>,
    /// RFC 3461 §4.3 RET=FULL: a bounce carries the whole message, not only its headers.
    pub ret_full: bool,
    /// When the first attempt is due (seconds since the epoch).
    pub first_attempt: i64,
}

/// Where one recipient of a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    Pending,
    Delivered,
    Failed,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<RecipientState> {
        match s {
            "pending" => Some(RecipientState::Pending),
            "delivered" => Some(RecipientState::Delivered),
            "failed" => Some(RecipientState::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub address: String,
    pub orcpt: Option<String>,
    pub notify: Notify,
    pub state: RecipientState,
    pub attempts: u32,
    pub next_attempt: i64,
    /// The last reply of the receiving server (or why no server could be reached).
    pub last_reply: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: QueueId,
    pub blob: crate::BlobId,
    pub size: u64,
    pub sender: String,
    pub env_id: Option<String>,
    pub ret_full: bool,
    pub created: i64,
    pub recipients: Vec<QueuedRecipient>,
}

/// The outcome of one delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientUpdate {
    pub address: String,
    pub state: RecipientState,
    /// For a pending recipient: when to try again.
    pub next_attempt: i64,
    pub last_reply: Option<String>,
}

/// A domain's DKIM signing key (RFC 6376 §3.1 selector, PKCS#8 PEM private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    /// "rsa-sha256" or "ed25519-sha256".
    pub algorithm: String,
    pub private_key_pem: String,
}
