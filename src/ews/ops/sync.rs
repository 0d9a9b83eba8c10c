//! Synchronisation (MS-OXWSSYNC): SyncFolderHierarchy (3.1.4.1) and SyncFolderItems (3.1.4.2), stateless.
//!
//! The sync state the client holds is an authenticated encoding (src/ids) of what it has seen:
//! - folders: each folder's reference and a hash of the properties the client was sent;
//! - items: the folder, its UIDVALIDITY and the HIGHESTMODSEQ up to which changes were reported (RFC 7162),
//!   and the UIDs the client has, compressed as ranges. New messages are UIDs not in that set, deletions are
//!   UIDs of the set no longer present (no QRESYNC VANISHED history is needed), changes are messages whose
//!   MODSEQ is above the state's. A UIDVALIDITY change makes every known item deleted and every current one
//!   new (a full resync).
//! - optionally, the flags the client was sent of its items (`ids::FlagState`: `\Seen` UIDs as ranges, other
//!   flags as a hash per group of UIDs, left out when over 512 ranges). A changed message whose `\Seen` flag
//!   differs from the recorded one while its other flags hash the same is reported as `t:ReadFlagChange`
//!   (MS-OXWSSYNC 2.2.4.5, Exchange 2007 SP1 and later); any other change, or a state without the extension
//!   (issued before it existed, or too large), gives `t:Update` as before.

use super::items::{ItemData, write_message};
use super::{Ctx, Fail, FolderNode, descendants, write_folder_id};
use crate::ews::ops::folders::write_folder;
use crate::ews::soap::ResponseMessage;
use crate::ews::store::{MailStore, MsgSummary};
use crate::ews::types::Shape;
use crate::ews::xml::{Element, XmlWriter};
use crate::ids::{
    FlagState, FolderRef, FolderSyncState, ItemId, ItemSyncState, fnv32, other_flags_hash, ranges_contain, ranges_iter,
    uid_ranges,
};

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

fn is_seen(flags: &[String]) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"))
}

/// Whether a change of `uid` is of its read state only: `Some(is_read)` when `prev` recorded its flags and
/// only `\Seen` differs from them now (then `t:ReadFlagChange`, else `t:Update`).
pub fn read_flag_only(prev: Option<&FlagState>, uid: u32, flags: &[String]) -> Option<bool> {
    let (was_seen, other) = prev?.of(uid);
    let seen = is_seen(flags);
    (seen != was_seen && other == other_flags_hash(flags)).then_some(seen)
}

/// The flags part of the next state: each UID of `next_known` with its current flags when it was reported this
/// round (`sent`: uid, seen, other-flags hash, ascending by UID), else what `prev` recorded (the client has not
/// seen a newer version). `None` when neither knows a UID (no previous record) or the result is too large.
pub fn next_flags(prev: Option<&FlagState>, next_known: &[(u32, u32)], sent: &[(u32, bool, u32)]) -> Option<FlagState> {
    let mut items = Vec::new();
    for uid in ranges_iter(next_known) {
        match sent.binary_search_by_key(&uid, |(u, _, _)| *u) {
            Ok(i) => items.push(sent[i]),
            Err(_) => {
                let (seen, other) = prev?.of(uid);
                items.push((uid, seen, other));
            }
        }
    }
    FlagState::build(items)
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
        // The recorded flags are about the UIDs of this UIDVALIDITY only.
        let prev_flags = if same_uv { st.flags.as_ref() } else { None };
        // ReadFlagChange exists from Exchange 2007 SP1 on (MS-OXWSSYNC 2.2.4.5).
        let read_flag_changes = cx.version != "Exchange2007";
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
                if let Some(is_read) =
                    read_flag_only(prev_flags, *uid, &s.flags).filter(|_| kind == "t:Update" && read_flag_changes)
                {
                    let id =
                        ItemId { mailbox: cx.mailbox.clone(), folder: node.r.clone(), uid_validity: cur_uv, uid: *uid };
                    ch.start("t:ReadFlagChange", &[]);
                    ch.empty("t:ItemId", &[("Id", &cx.ids.item_id(&id)), ("ChangeKey", &cx.ids.change_key(s.modseq))]);
                    ch.bool_leaf("t:IsRead", is_read);
                    ch.end();
                    continue;
                }
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
            flags: {
                let mut sent: Vec<(u32, bool, u32)> =
                    sums.iter().map(|s| (s.uid, is_seen(&s.flags), other_flags_hash(&s.flags))).collect();
                sent.sort_unstable_by_key(|(u, _, _)| *u);
                next_flags(prev_flags, &plan.next_known, &sent)
            },
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
    fn read_flag_changes_only_when_nothing_else_changed() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let h = |v: &[&str]| other_flags_hash(&f(v));
        let prev = FlagState::build([(1, false, 0), (2, true, h(&["\\Flagged"])), (3, false, 0)]).unwrap();
        // Read, unread: only \Seen differs.
        assert_eq!(read_flag_only(Some(&prev), 1, &f(&["\\Seen"])), Some(true));
        assert_eq!(read_flag_only(Some(&prev), 2, &f(&["\\Flagged"])), Some(false));
        // Read and flagged at once, or only flagged: an Update.
        assert_eq!(read_flag_only(Some(&prev), 3, &f(&["\\Seen", "\\Flagged"])), None);
        assert_eq!(read_flag_only(Some(&prev), 1, &f(&["\\Answered"])), None);
        // \Seen unchanged (a keyword set and cleared again): an Update.
        assert_eq!(read_flag_only(Some(&prev), 2, &f(&["\\Seen", "\\Flagged"])), None);
        // No record (old state): an Update.
        assert_eq!(read_flag_only(None, 1, &f(&["\\Seen"])), None);
    }

    #[test]
    fn next_flags_keep_what_the_client_has() {
        let prev = FlagState::build([(1, false, 0), (2, false, 0), (3, true, 5)]).unwrap();
        // 2 was reported (now seen), 3 was not (its change cut by MaxChangesReturned): its old record stays;
        // 1 was deleted; 4 is new.
        let next = next_flags(Some(&prev), &uid_ranges([2, 3, 4]), &[(2, true, 0), (4, false, 9)]).unwrap();
        assert_eq!(next.of(2), (true, 0));
        assert_eq!(next.of(3), (true, 5));
        assert_eq!(next.of(4), (false, 9));
        // Without a previous record, only a round that reported every known item gives one.
        assert!(next_flags(None, &uid_ranges([2, 3]), &[(2, true, 0)]).is_none());
        assert!(next_flags(None, &uid_ranges([2, 3]), &[(2, true, 0), (3, false, 0)]).is_some());
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
