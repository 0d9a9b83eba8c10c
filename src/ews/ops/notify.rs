//! Notifications (MS-OXWSNTIF): Subscribe (3.1.4.3) for pull and streaming subscriptions, GetEvents
//! (3.1.4.1), Unsubscribe (3.1.4.4); GetStreamingEvents (3.1.4.2) is served by `ews::streaming` on top of
//! [`poll`].
//!
//! Stateless like the rest of Viaduc: a subscription id names the folders and event types; a watermark (pull)
//! holds, per folder, the same facts as a SyncFolderItems state (UIDVALIDITY, the MODSEQ reported up to, the
//! UIDs known). Events are the difference between that and the folder now: NewMail/Created for new UIDs,
//! Deleted for vanished ones, Modified for MODSEQ changes. A streaming subscription carries its initial state in
//! its id; the latest state of each is kept in a bounded in-memory cache so a reconnecting client continues
//! where it was (on a cache miss, e.g. on another instance, events since the subscription are reported again,
//! which clients treat as a resync hint). Push subscriptions (the server calling the client) are refused.

use std::num::NonZeroUsize;
use std::sync::{Mutex, OnceLock};

use lru::LruCache;

use super::sync::plan_items;
use super::{Ctx, Fail, FolderNode};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::types::format_datetime;
use crate::ews::xml::{Element, XmlWriter, parse_bool};
use crate::ids::{FolderId, FolderRef, FolderState, ItemId, Subscription, Watermark, uid_ranges};

/// Event type bits (`NotificationEventTypeType`, MS-OXWSNTIF 2.2.5.1).
pub const EV_COPIED: u16 = 1;
pub const EV_CREATED: u16 = 2;
pub const EV_DELETED: u16 = 4;
pub const EV_MODIFIED: u16 = 8;
pub const EV_MOVED: u16 = 16;
pub const EV_NEWMAIL: u16 = 32;
pub const EV_FREEBUSY: u16 = 64;

fn event_bit(name: &str) -> u16 {
    match name {
        "CopiedEvent" => EV_COPIED,
        "CreatedEvent" => EV_CREATED,
        "DeletedEvent" => EV_DELETED,
        "ModifiedEvent" => EV_MODIFIED,
        "MovedEvent" => EV_MOVED,
        "NewMailEvent" => EV_NEWMAIL,
        "FreeBusyChangedEvent" => EV_FREEBUSY,
        _ => 0,
    }
}

fn latest() -> &'static Mutex<LruCache<String, Vec<FolderState>>> {
    static LATEST: OnceLock<Mutex<LruCache<String, Vec<FolderState>>>> = OnceLock::new();
    LATEST.get_or_init(|| Mutex::new(LruCache::new(NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN))))
}

/// The latest known state of a streaming subscription (falls back to the state in its id).
pub fn latest_state(id: &str, sub: &Subscription) -> Vec<FolderState> {
    latest().lock().ok().and_then(|mut c| c.get(id).cloned()).unwrap_or_else(|| sub.initial.clone())
}

pub fn remember_state(id: &str, states: Vec<FolderState>) {
    if let Ok(mut c) = latest().lock() {
        c.put(id.to_string(), states);
    }
}

fn forget_state(id: &str) {
    if let Ok(mut c) = latest().lock() {
        c.pop(id);
    }
}

/// One item event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `NewMailEvent`, `CreatedEvent`, `DeletedEvent`, `ModifiedEvent`.
    pub kind: &'static str,
    pub item: ItemId,
    pub modseq: u64,
    pub folder: FolderRef,
}

async fn current_state<S: MailStore>(cx: &mut Ctx<S>, node: &FolderNode) -> Result<FolderState, Fail> {
    let name =
        node.name.clone().ok_or_else(|| Fail::new("ErrorInvalidSubscriptionRequest", "This folder has no items."))?;
    let ch = cx.store.changes_since(&name, 0).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    Ok(FolderState {
        folder: Some(node.r.clone()),
        uid_validity: ch.uid_validity,
        modseq: ch.highest_modseq,
        known: uid_ranges(ch.uids),
    })
}

/// The events of one folder since `st`, and its new state.
async fn folder_events<S: MailStore>(
    cx: &mut Ctx<S>,
    node: &FolderNode,
    st: &FolderState,
) -> Result<(Vec<Event>, FolderState), Fail> {
    let name = node.name.clone().ok_or_else(|| Fail::new("ErrorFolderNotFound", "This folder has no items."))?;
    let cur_uv = node.info.as_ref().map(|i| i.uid_validity).unwrap_or(0);
    let same = st.uid_validity == cur_uv;
    let ch = cx
        .store
        .changes_since(&name, if same { st.modseq } else { 0 })
        .await
        .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    let changed: Vec<(u32, u64)> = ch.changed.iter().map(|m| (m.uid, m.modseq)).collect();
    let modseq_of = |uid: u32| changed.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m).unwrap_or(0);
    let mut events = Vec::new();
    let id = |uv: u32, uid: u32| ItemId { mailbox: cx.mailbox.clone(), folder: node.r.clone(), uid_validity: uv, uid };
    let (known, base) = if same { (st.known.clone(), st.modseq) } else { (Vec::new(), 0) };
    if !same {
        for uid in crate::ids::ranges_iter(&st.known) {
            events.push(Event {
                kind: "DeletedEvent",
                item: id(st.uid_validity, uid),
                modseq: 0,
                folder: node.r.clone(),
            });
        }
    }
    let plan = plan_items(&known, base, &ch.uids, &changed, ch.highest_modseq, usize::MAX);
    for uid in &plan.deletes {
        events.push(Event { kind: "DeletedEvent", item: id(cur_uv, *uid), modseq: 0, folder: node.r.clone() });
    }
    for uid in &plan.updates {
        events.push(Event {
            kind: "ModifiedEvent",
            item: id(cur_uv, *uid),
            modseq: modseq_of(*uid),
            folder: node.r.clone(),
        });
    }
    for uid in &plan.creates {
        let m = modseq_of(*uid);
        events.push(Event { kind: "CreatedEvent", item: id(cur_uv, *uid), modseq: m, folder: node.r.clone() });
        events.push(Event { kind: "NewMailEvent", item: id(cur_uv, *uid), modseq: m, folder: node.r.clone() });
    }
    let next = FolderState {
        folder: Some(node.r.clone()),
        uid_validity: cur_uv,
        modseq: plan.next_modseq,
        known: plan.next_known,
    };
    Ok((events, next))
}

/// The folders a subscription covers, as they are now.
async fn subscribed<S: MailStore>(cx: &mut Ctx<S>, sub: &Subscription) -> Result<Vec<FolderNode>, Fail> {
    cx.load().await?;
    let tree = cx.tree().await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?.to_vec();
    Ok(if sub.all_folders {
        tree.into_iter().filter(|n| n.info.as_ref().is_some_and(|i| i.selectable)).collect()
    } else {
        sub.folders.iter().filter_map(|r| tree.iter().find(|n| &n.r == r).cloned()).collect()
    })
}

/// The IMAP names of the folders a subscription covers now, for the watcher of a streaming connection; `None`
/// for a subscription to all folders.
pub async fn folder_names<S: MailStore>(cx: &mut Ctx<S>, sub: &Subscription) -> Result<Option<Vec<String>>, Fail> {
    if sub.all_folders {
        return Ok(None);
    }
    Ok(Some(subscribed(cx, sub).await?.into_iter().filter_map(|n| n.name).collect()))
}

/// Computes the events of a subscription since `states`; returns the events it asked for and the new states.
pub async fn poll<S: MailStore>(
    cx: &mut Ctx<S>,
    sub: &Subscription,
    states: &[FolderState],
) -> Result<(Vec<Event>, Vec<FolderState>), Fail> {
    let nodes = subscribed(cx, sub).await?;
    let mut events = Vec::new();
    let mut next = Vec::with_capacity(nodes.len());
    for node in &nodes {
        match states.iter().find(|s| s.folder.as_ref() == Some(&node.r)) {
            Some(st) => {
                let (ev, st2) = folder_events(cx, node, st).await?;
                events.extend(ev.into_iter().filter(|e| sub.events & event_bit(e.kind) != 0));
                next.push(st2);
            }
            // A folder that appeared since (SubscribeToAllFolders): start watching it now.
            None => next.push(current_state(cx, node).await?),
        }
    }
    // Deleted folders: their items are gone.
    for st in states.iter().filter(|s| !nodes.iter().any(|n| Some(&n.r) == s.folder.as_ref())) {
        if let Some(f) = &st.folder {
            for uid in crate::ids::ranges_iter(&st.known) {
                if sub.events & EV_DELETED != 0 {
                    let item =
                        ItemId { mailbox: cx.mailbox.clone(), folder: f.clone(), uid_validity: st.uid_validity, uid };
                    events.push(Event { kind: "DeletedEvent", item, modseq: 0, folder: f.clone() });
                }
            }
        }
    }
    Ok((events, next))
}

/// Writes the events (each with the watermark after them).
pub fn write_events<S>(w: &mut XmlWriter, cx: &Ctx<S>, events: &[Event], watermark: &str, now: i64) {
    let ts = format_datetime(now);
    for e in events {
        w.start(&format!("t:{}", e.kind), &[]);
        w.leaf("t:Watermark", watermark);
        w.leaf("t:TimeStamp", &ts);
        if e.kind == "DeletedEvent" {
            w.empty("t:ItemId", &[("Id", &cx.ids.item_id(&e.item))]);
        } else {
            w.empty("t:ItemId", &[("Id", &cx.ids.item_id(&e.item)), ("ChangeKey", &cx.ids.change_key(e.modseq))]);
        }
        let fid = cx.ids.folder_id(&FolderId { mailbox: cx.mailbox.clone(), folder: e.folder.clone() });
        w.empty("t:ParentFolderId", &[("Id", &fid), ("ChangeKey", &cx.ids.change_key(0))]);
        w.end();
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub async fn subscribe<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let (req, streaming) = if let Some(r) = op.m("PullSubscriptionRequest") {
            (r, false)
        } else if let Some(r) = op.m("StreamingSubscriptionRequest") {
            (r, true)
        } else {
            return Err(Fail::new(
                "ErrorInvalidSubscriptionRequest",
                "Push subscriptions are not supported; use pull or streaming subscriptions.",
            ));
        };
        let all = req.attr("SubscribeToAllFolders").and_then(parse_bool).unwrap_or(false);
        let mut events = 0u16;
        for e in req.t("EventTypes").map(|e| e.children.as_slice()).unwrap_or(&[]) {
            events |= event_bit(e.trimmed());
        }
        if events == 0 {
            return Err(Fail::new("ErrorInvalidSubscriptionRequest", "EventTypes names no known event type."));
        }
        let mut folders = Vec::new();
        if !all {
            for el in req.t("FolderIds").map(|f| f.children.as_slice()).unwrap_or(&[]) {
                let node = cx.resolve_folder(el).await?;
                if node.is_virtual() {
                    return Err(Fail::new(
                        "ErrorInvalidSubscriptionRequest",
                        "Only mail folders can be subscribed to.",
                    ));
                }
                folders.push(node.r);
            }
            if folders.is_empty() {
                return Err(Fail::new("ErrorInvalidSubscriptionRequest", "FolderIds is empty."));
            }
        }
        let mut sub = Subscription {
            mailbox: cx.mailbox.clone(),
            streaming,
            events,
            all_folders: all,
            folders,
            initial: Vec::new(),
        };
        let nodes = subscribed(cx, &sub).await?;
        let states = match req.t_text("Watermark").filter(|w| !w.is_empty() && !streaming) {
            Some(w) => {
                let wm = cx
                    .ids
                    .parse_watermark(w)
                    .map_err(|_| Fail::new("ErrorInvalidWatermark", "The watermark is invalid."))?;
                cx.check_mailbox(&wm.mailbox)?;
                wm.folders
            }
            None => {
                let mut v = Vec::with_capacity(nodes.len());
                for n in &nodes {
                    v.push(current_state(cx, n).await?);
                }
                v
            }
        };
        let mut w = XmlWriter::new();
        if streaming {
            sub.initial = states;
            w.leaf("m:SubscriptionId", &cx.ids.subscription(&sub));
        } else {
            w.leaf("m:SubscriptionId", &cx.ids.subscription(&sub));
            w.leaf("m:Watermark", &cx.ids.watermark(&Watermark { mailbox: cx.mailbox.clone(), folders: states }));
        }
        Ok(w.finish())
    }
    .await;
    vec![match r {
        Ok(c) => ResponseMessage::ok(c),
        Err(f) => f.message(),
    }]
}

/// Parses and checks a subscription id.
pub fn parse_subscription<S: MailStore>(cx: &Ctx<S>, text: &str) -> Result<Subscription, Fail> {
    let sub = cx
        .ids
        .parse_subscription(text)
        .map_err(|_| Fail::new("ErrorInvalidSubscription", "The subscription id is invalid."))?;
    cx.check_mailbox(&sub.mailbox)?;
    Ok(sub)
}

pub async fn get_events<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let sid = op.m("SubscriptionId").map(|s| s.trimmed().to_string()).unwrap_or_default();
        let sub = parse_subscription(cx, &sid)?;
        if sub.streaming {
            return Err(Fail::new(
                "ErrorInvalidPullSubscriptionId",
                "This is a streaming subscription; use GetStreamingEvents.",
            ));
        }
        let wm_text = op.m("Watermark").map(|s| s.trimmed().to_string()).unwrap_or_default();
        let wm = cx
            .ids
            .parse_watermark(&wm_text)
            .map_err(|_| Fail::new("ErrorInvalidWatermark", "The watermark is invalid."))?;
        cx.check_mailbox(&wm.mailbox)?;
        let (events, next) = poll(cx, &sub, &wm.folders).await?;
        let next_text = cx.ids.watermark(&Watermark { mailbox: cx.mailbox.clone(), folders: next });
        let mut w = XmlWriter::new();
        w.start("m:Notification", &[]);
        w.leaf("t:SubscriptionId", &sid);
        w.leaf("t:PreviousWatermark", &wm_text);
        w.bool_leaf("t:MoreEvents", false);
        if events.is_empty() {
            w.start("t:StatusEvent", &[]).leaf("t:Watermark", &next_text).end();
        } else {
            write_events(&mut w, cx, &events, &next_text, now());
        }
        w.end();
        Ok::<_, Fail>(w.finish())
    }
    .await;
    vec![match r {
        Ok(c) => ResponseMessage::ok(c),
        Err(f) => f.message(),
    }]
}

pub async fn unsubscribe<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let sid = op.m("SubscriptionId").map(|s| s.trimmed().to_string()).unwrap_or_default();
    match parse_subscription(cx, &sid) {
        Ok(_) => {
            forget_state(&sid);
            vec![ResponseMessage::ok(String::new())]
        }
        Err(f) => vec![f.message()],
    }
}
