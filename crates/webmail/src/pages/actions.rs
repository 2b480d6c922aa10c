//! Actions on selected messages: mark read/unread, flag/unflag, move, delete (to Trash; in
//! Trash, for good), and emptying Trash or Junk.

use super::{Fields, special_mailbox};
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::{App, redirect};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use tern_store::{FlagOp, Flags, MailboxId, SpecialUse};

/// More UIDs than a page can show are never sent by our forms.
const MAX_SELECTED: usize = 1000;

pub(crate) async fn apply(
    State(app): State<App>,
    user: User,
    Path(mailbox): Path<i64>,
    body: Bytes,
) -> WebResult<Response> {
    let fields = Fields::checked(&body, &user)?;
    let mailbox = MailboxId(mailbox);
    let store = &app.config.store;
    let info = store.mailbox_by_id(user.account, mailbox).await?;
    let uids: Vec<u32> = fields
        .all("uid")
        .filter_map(|u| u.parse().ok())
        .take(MAX_SELECTED)
        .collect();
    let list = format!("/folder/{}", mailbox.0);
    // Checked before anything changes: a hostile return address is refused, not acted on.
    let mut back = redirect::return_to(fields.get("return_to"), list.clone())?;
    if uids.is_empty() {
        return redirect::see_other(&back);
    }
    let flag = super::flag_change;
    match fields.get("action").unwrap_or("") {
        "read" => {
            store
                .update_flags(user.account, mailbox, &uids, flag(FlagOp::Add, Flags::SEEN))
                .await?;
        }
        "unread" => {
            store
                .update_flags(
                    user.account,
                    mailbox,
                    &uids,
                    flag(FlagOp::Remove, Flags::SEEN),
                )
                .await?;
            // Going back to the message would mark it read again.
            back = list_if_message(back, list);
        }
        "flag" => {
            store
                .update_flags(
                    user.account,
                    mailbox,
                    &uids,
                    flag(FlagOp::Add, Flags::FLAGGED),
                )
                .await?;
        }
        "unflag" => {
            store
                .update_flags(
                    user.account,
                    mailbox,
                    &uids,
                    flag(FlagOp::Remove, Flags::FLAGGED),
                )
                .await?;
        }
        "move" => {
            let target: i64 = fields
                .get("target")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| WebError::BadRequest("no target folder".into()))?;
            let target = store.mailbox_by_id(user.account, MailboxId(target)).await?;
            if target.id != mailbox {
                store
                    .move_messages(user.account, mailbox, &uids, target.id)
                    .await?;
            }
            back = list_if_message(back, list);
        }
        "delete" => {
            let trash = special_mailbox(&app, &user, SpecialUse::Trash).await?;
            match trash {
                Some(trash)
                    if trash.id != mailbox && info.special_use != Some(SpecialUse::Trash) =>
                {
                    store
                        .move_messages(user.account, mailbox, &uids, trash.id)
                        .await?;
                }
                _ => {
                    store.remove_messages(user.account, mailbox, &uids).await?;
                }
            }
            back = list_if_message(back, list);
        }
        other => return Err(WebError::BadRequest(format!("unknown action {other:?}"))),
    }
    redirect::see_other(&back)
}

/// After a message leaves the folder (or is marked unread), go back to the list instead.
fn list_if_message(back: String, list: String) -> String {
    if back.starts_with("/message/") {
        list
    } else {
        back
    }
}

/// Empties Trash or Junk for good.
pub(crate) async fn empty(
    State(app): State<App>,
    user: User,
    Path(mailbox): Path<i64>,
    body: Bytes,
) -> WebResult<Response> {
    Fields::checked(&body, &user)?;
    let store = &app.config.store;
    let mailbox = MailboxId(mailbox);
    let info = store.mailbox_by_id(user.account, mailbox).await?;
    if !matches!(info.special_use, Some(SpecialUse::Trash | SpecialUse::Junk)) {
        return Err(WebError::BadRequest(
            "only Trash and Junk can be emptied".into(),
        ));
    }
    let uids: Vec<u32> = store
        .messages(user.account, mailbox)
        .await?
        .iter()
        .map(|m| m.uid)
        .collect();
    if !uids.is_empty() {
        store.remove_messages(user.account, mailbox, &uids).await?;
    }
    redirect::see_other(&format!("/folder/{}?notice=emptied", mailbox.0))
}
