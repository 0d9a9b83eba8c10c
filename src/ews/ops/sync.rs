//! Synchronisation (MS-OXWSSYNC): SyncFolderHierarchy (3.1.4.1) and SyncFolderItems (3.1.4.2), stateless.
//!
//! The sync state the client holds is an authenticated encoding (src/ids) of what it has seen:
//! - folders: each folder's reference and a hash of the properties the client was sent;
//! - items: the folder, its UIDVALIDITY and the HIGHESTMODSEQ up to which changes were reported (RFC 7162),
//!   and the UIDs the client has, compressed as ranges. New messages are UIDs not in that set, deletions are
//!   UIDs of the set no longer present (no QRESYNC VANISHED history is needed), changes are messages whose
//!   MODSEQ is above the state's. A UIDVALIDITY change makes every known item deleted and every current one
//!   new (a full resync).

use super::items::{ItemData, write_message};
use super::{Ctx, Fail, FolderNode, descendants, write_folder_id};
use crate::ews::ops::folders::write_folder;
use crate::ews::soap::ResponseMessage;
use crate::ews::store::{MailStore, MsgSummary};
use crate::ews::types::Shape;
use crate::ews::xml::{Element, XmlWriter};
use crate::ids::{FolderRef, FolderSyncState, ItemId, ItemSyncState, fnv32, ranges_contain, ranges_iter, uid_ranges};

fn folder_hash(n: &FolderNode) -> u32 {
    let parent = match &n.parent {
        Some(FolderRef::Name(p)) | Some(FolderRef::Object(p)) | Some(FolderRef::Dav(p)) => p.as_str(),
        Some(FolderRef::MsgFolderRoot) => "\u{1}msgfolderroot",
        Some(FolderRef::Root) => "\u{1}root",
        None => "",
    };
    fnv32(&[&n.display, parent, n.name.as_deref().unwrap_or("")])
}

fn invalid_state() -> Fail {
    Fail::new("ErrorInvalidSyncStateData", "The synchronization state data is corrupt or otherwise invalid.")
}

pub async fn sync_folder_hierarchy<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let shape = Shape::parse(op.m("FolderShape")).map_err(|e| Fail::new("ErrorInvalidRequest", e))?;
        cx.load().await?;
        let root = match op.m("SyncFolderId").and_then(|s| s.children.first()) {
            Some(el) => cx.resolve_folder(el).await?.r,
            None => FolderRef::Root,
        };
        let prev = match op.m("SyncState").map(|s| s.trimmed()).filter(|s| !s.is_empty()) {
            Some(text) => {
                let st = cx.ids.parse_folder_sync_state(text).map_err(|_| invalid_state())?;
                cx.check_mailbox(&st.mailbox)?;
                st.folders
            }
            None => Vec::new(),
        };
        let tree = cx.tree().await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?.to_vec();
        let current: Vec<&FolderNode> = descendants(&tree, &root);
        let mut w = XmlWriter::new();
        let mut changes = XmlWriter::new();
        let mut next = Vec::with_capacity(current.len());
        for n in &current {
            let h = folder_hash(n);
            next.push((n.r.clone(), h));
            match prev.iter().find(|(r, _)| *r == n.r) {
                None => {
                    changes.start("t:Create", &[]);
                    write_folder(&mut changes, cx, n, &shape);
                    changes.end();
                }
                Some((_, old)) if *old != h => {
                    changes.start("t:Update", &[]);
                    write_folder(&mut changes, cx, n, &shape);
                    changes.end();
                }
                Some(_) => {}
            }
        }
        for (r, _) in &prev {
            if !current.iter().any(|n| &n.r == r) {
                let gone = FolderNode {
                    r: r.clone(),
                    name: None,
                    display: String::new(),
                    parent: None,
                    info: None,
                    distinguished: None,
                    child_count: 0,
                    delimiter: None,
                    dav: None,
                };
                changes.start("t:Delete", &[]);
                write_folder_id(&mut changes, cx, "t:FolderId", &gone);
                changes.end();
            }
        }
        let state = cx.ids.folder_sync_state(&FolderSyncState { mailbox: cx.mailbox.clone(), folders: next });
        w.leaf("m:SyncState", &state);
        w.bool_leaf("m:IncludesLastFolderInRange", true);
        w.start("m:Changes", &[]).raw_text(&changes.finish()).end();
        Ok::<_, Fail>(w.finish())
    }
    .await;
    vec![match r {
        Ok(c) => ResponseMessage::ok(c),
        Err(f) => f.message(),
    }]
}

/// The outcome of planning one SyncFolderItems round (pure; tested on its own).
#[derive(Debug, PartialEq, Eq)]
pub struct ItemPlan {
    /// UIDs to report deleted (they carry the *old* UIDVALIDITY).
    pub deletes: Vec<u32>,
    /// Changed messages to report as updates.
    pub updates: Vec<u32>,
    /// UIDs to report as new.
    pub creates: Vec<u32>,
    pub next_known: Vec<(u32, u32)>,
    pub next_modseq: u64,
    pub complete: bool,
}

/// Plans one round: deletions first, then updates (ascending MODSEQ), then creations (ascending UID), at most
/// `max` changes. The next state never skips a change: when updates are cut, the state's MODSEQ stays below
/// the first update not sent (a group of updates sharing one MODSEQ is never split, even past `max`).
pub fn plan_items(
    known: &[(u32, u32)],
    state_modseq: u64,
    current: &[u32],
    changed: &[(u32, u64)],
    highest_modseq: u64,
    max: usize,
) -> ItemPlan {
    let max = max.max(1);
    let deletes_all: Vec<u32> = ranges_iter(known).filter(|u| current.binary_search(u).is_err()).collect();
    let mut updates_all: Vec<(u32, u64)> =
        changed.iter().copied().filter(|(u, m)| *m > state_modseq && ranges_contain(known, *u)).collect();
    updates_all.sort_by_key(|(u, m)| (*m, *u));
    let creates_all: Vec<u32> = current.iter().copied().filter(|u| !ranges_contain(known, *u)).collect();

    let deletes: Vec<u32> = deletes_all.iter().copied().take(max).collect();
    let left = max - deletes.len();
    let known_after_del: Vec<u32> = ranges_iter(known).filter(|u| !deletes.contains(u)).collect();
    if deletes.len() < deletes_all.len() {
        return ItemPlan {
            deletes,
            updates: Vec::new(),
            creates: Vec::new(),
            next_known: uid_ranges(known_after_del),
            next_modseq: state_modseq,
            complete: false,
        };
    }
    if updates_all.len() > left {
        if left == 0 {
            return ItemPlan {
                deletes,
                updates: Vec::new(),
                creates: Vec::new(),
                next_known: uid_ranges(known_after_del),
                next_modseq: state_modseq,
                complete: false,
            };
        }
        let mut n = left;
        let cut = updates_all[n].1;
        // Never split a group of equal MODSEQs: shrink the batch to before the group, or, when the whole batch
        // is that group (nothing else would progress), extend it to the group's end.
        if updates_all[n - 1].1 == cut {
            n = if updates_all[0].1 == cut {
                updates_all.iter().take_while(|(_, m)| *m <= cut).count()
            } else {
                updates_all.iter().take_while(|(_, m)| *m < cut).count()
            };
        }
        let sent: Vec<(u32, u64)> = updates_all[..n].to_vec();
        let next_modseq = if n < updates_all.len() { updates_all[n].1 - 1 } else { highest_modseq };
        return ItemPlan {
            deletes,
            updates: sent.iter().map(|(u, _)| *u).collect(),
            creates: Vec::new(),
            next_known: uid_ranges(known_after_del),
            next_modseq: next_modseq.max(state_modseq),
            complete: n >= updates_all.len() && creates_all.is_empty(),
        };
    }
    let left = left - updates_all.len();
    let creates: Vec<u32> = creates_all.iter().copied().take(left).collect();
    let complete = creates.len() == creates_all.len();
    ItemPlan {
        deletes,
        updates: updates_all.iter().map(|(u, _)| *u).collect(),
        next_known: uid_ranges(known_after_del.into_iter().chain(creates.iter().copied())),
        creates,
        next_modseq: highest_modseq,
        complete,
    }
}

pub async fn sync_folder_items<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let shape = Shape::parse(op.m("ItemShape")).map_err(|e| Fail::new("ErrorInvalidRequest", e))?;
        let max: usize = match op.m("MaxChangesReturned").map(|m| m.trimmed().parse::<usize>()) {
            Some(Ok(n)) if (1..=512).contains(&n) => n,
            Some(_) => return Err(Fail::new("ErrorInvalidRequest", "MaxChangesReturned must be between 1 and 512.")),
            None => 512,
        };
        let el = op
            .m("SyncFolderId")
            .and_then(|s| s.children.first())
            .ok_or_else(|| Fail::new("ErrorInvalidRequest", "SyncFolderId is required."))?;
        let node = cx.resolve_folder(el).await?;
        let name = node.name.clone();
        let state = match op.m("SyncState").map(|s| s.trimmed()).filter(|s| !s.is_empty()) {
            Some(text) => {
                let st = cx.ids.parse_item_sync_state(text).map_err(|_| invalid_state())?;
                cx.check_mailbox(&st.mailbox)?;
                if st.folder.as_ref() != Some(&node.r) {
                    return Err(invalid_state());
                }
                Some(st)
            }
            None => None,
        };
        let mut w = XmlWriter::new();
        let Some(name) = name.filter(|_| node.info.as_ref().is_some_and(|i| i.selectable)) else {
            // The virtual roots hold no items.
            let st = ItemSyncState { mailbox: cx.mailbox.clone(), folder: Some(node.r.clone()), ..Default::default() };
            w.leaf("m:SyncState", &cx.ids.item_sync_state(&st));
            w.bool_leaf("m:IncludesLastItemInRange", true);
            w.empty("m:Changes", &[]);
            return Ok(w.finish());
        };
        let st = state.unwrap_or_default();
        let cur_uv = node.info.as_ref().map(|i| i.uid_validity).unwrap_or(0);
        let same_uv = st.uid_validity == cur_uv;
        let changes = cx
            .store
            .changes_since(&name, if same_uv { st.modseq } else { 0 })
            .await
            .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
        let (known, old_uv, modseq) = if same_uv || st.known.is_empty() {
            (st.known.clone(), st.uid_validity, if same_uv { st.modseq } else { 0 })
        } else {
            (st.known.clone(), st.uid_validity, 0)
        };
        let changed: Vec<(u32, u64)> = changes.changed.iter().map(|m| (m.uid, m.modseq)).collect();
        let plan = if same_uv || known.is_empty() {
            plan_items(&known, modseq, &changes.uids, &changed, changes.highest_modseq, max)
        } else {
            // UIDVALIDITY changed: every known item is gone, every current one is new.
            let mut p = plan_items(&known, 0, &[], &[], changes.highest_modseq, max);
            if p.complete {
                let rest = max - p.deletes.len();
                let creates: Vec<u32> = changes.uids.iter().copied().take(rest).collect();
                p.complete = creates.len() == changes.uids.len();
                p.next_known = uid_ranges(creates.iter().copied());
                p.creates = creates;
                p.next_modseq = changes.highest_modseq;
            }
            p
        };
        // Deletions carry the old UIDVALIDITY while the known set still refers to it.
        let deleted_uv = if same_uv { cur_uv } else { old_uv };
        let next_uv =
            if same_uv || plan.complete || !plan.creates.is_empty() || known.is_empty() { cur_uv } else { old_uv };
        let mut need: Vec<u32> = plan.updates.iter().chain(&plan.creates).copied().collect();
        need.sort_unstable();
        let sums: Vec<MsgSummary> = if need.is_empty() {
            Vec::new()
        } else {
            cx.store
                .summaries_in(&name, cur_uv, &need, shape.ids_only())
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?
        };
        let mut ch = XmlWriter::new();
        for uid in &plan.deletes {
            let id =
                ItemId { mailbox: cx.mailbox.clone(), folder: node.r.clone(), uid_validity: deleted_uv, uid: *uid };
            ch.start("t:Delete", &[]).empty("t:ItemId", &[("Id", &cx.ids.item_id(&id))]).end();
        }
        // Ignore (MS-OXWSSYNC 2.2.3.3): changes to these items are not reported (they still count as known).
        let ignored: Vec<u32> = op
            .m("Ignore")
            .map(|i| i.children.iter().filter_map(|e| cx.ids.parse_item_id(e.attr("Id")?).ok()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.folder == node.r && i.uid_validity == cur_uv)
            .map(|i| i.uid)
            .collect();
        for (kind, uids) in [("t:Update", &plan.updates), ("t:Create", &plan.creates)] {
            for uid in uids.iter().filter(|u| !ignored.contains(u)) {
                let Some(s) = sums.iter().find(|s| s.uid == *uid) else { continue };
                ch.start(kind, &[]);
                let d = ItemData { node: &node, uid_validity: cur_uv, summary: s, msg: None, raw: None };
                write_message(&mut ch, cx, &d, &shape, false);
                ch.end();
            }
        }
        let next = ItemSyncState {
            mailbox: cx.mailbox.clone(),
            folder: Some(node.r.clone()),
            uid_validity: next_uv,
            modseq: plan.next_modseq,
            known: plan.next_known.clone(),
        };
        w.leaf("m:SyncState", &cx.ids.item_sync_state(&next));
        w.bool_leaf("m:IncludesLastItemInRange", plan.complete);
        w.start("m:Changes", &[]).raw_text(&ch.finish()).end();
        Ok::<_, Fail>(w.finish())
    }
    .await;
    vec![match r {
        Ok(c) => ResponseMessage::ok(c),
        Err(f) => f.message(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_sync_pages_creates() {
        let cur: Vec<u32> = (1..=5).collect();
        let p = plan_items(&[], 0, &cur, &[], 50, 2);
        assert_eq!(p.creates, vec![1, 2]);
        assert!(!p.complete);
        assert_eq!(p.next_modseq, 50);
        let p2 = plan_items(&p.next_known, p.next_modseq, &cur, &[], 50, 2);
        assert_eq!(p2.creates, vec![3, 4]);
        let p3 = plan_items(&p2.next_known, p2.next_modseq, &cur, &[], 50, 2);
        assert_eq!(p3.creates, vec![5]);
        assert!(p3.complete);
        let p4 = plan_items(&p3.next_known, p3.next_modseq, &cur, &[], 50, 2);
        assert!(p4.creates.is_empty() && p4.updates.is_empty() && p4.deletes.is_empty() && p4.complete);
    }

    #[test]
    fn deletes_updates_and_modseq_groups() {
        let known = uid_ranges([1, 2, 3, 4]);
        let cur = vec![1, 3, 4, 6];
        let changed = vec![(3, 60), (4, 61), (6, 62)];
        let p = plan_items(&known, 50, &cur, &changed, 62, 10);
        assert_eq!(p.deletes, vec![2]);
        assert_eq!(p.updates, vec![3, 4]);
        assert_eq!(p.creates, vec![6]);
        assert!(p.complete);
        assert_eq!(p.next_known, uid_ranges([1, 3, 4, 6]));
        // Cut inside updates: state stays below the first unsent update.
        let p = plan_items(&known, 50, &[1, 2, 3, 4], &[(1, 55), (3, 60), (4, 61)], 61, 2);
        assert_eq!(p.updates, vec![1, 3]);
        assert_eq!(p.next_modseq, 60);
        assert!(!p.complete);
        let p2 = plan_items(&p.next_known, p.next_modseq, &[1, 2, 3, 4], &[(1, 55), (3, 60), (4, 61)], 61, 2);
        assert_eq!(p2.updates, vec![4]);
        assert!(p2.complete);
        // A group of equal MODSEQs larger than max is sent whole (progress guaranteed).
        let p = plan_items(&known, 50, &[1, 2, 3, 4], &[(1, 70), (2, 70), (3, 70), (4, 71)], 71, 2);
        assert_eq!(p.updates, vec![1, 2, 3]);
        assert_eq!(p.next_modseq, 70);
    }
}
