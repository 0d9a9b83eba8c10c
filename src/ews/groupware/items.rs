//! Item operations on DAV folders: calendar items (MS-OXWSCAL), contacts and contact groups (MS-OXWSCONT) and
//! tasks (MS-OXWSTASK), each stored as one CalDAV or CardDAV object.
//!
//! - FindItem: every object of the collection, or with a `CalendarView` the occurrences within the window,
//!   expanded here from the stored RRULE, EXDATEs and RECURRENCE-ID overrides (MS-OXWSCAL 3.1.4.x; the server
//!   only narrows the objects with a time-range query);
//! - GetItem: by item id, by `OccurrenceItemId` (master + instance index) or `RecurringMasterItemId`;
//! - CreateItem: a new object (`If-None-Match: *`), its resource named after the UID;
//! - UpdateItem: read, change, write back with `If-Match` on the ETag the change key carries (or the current
//!   one with AlwaysOverwrite / AutoResolve); changes to one occurrence become a RECURRENCE-ID override;
//! - DeleteItem: the object, or for one occurrence an EXDATE on the master;
//! - SyncFolderItems: from the collection's RFC 6578 sync token, or by comparing ETags (see
//!   [`crate::ids::DavSyncState`]).
//!
//! Requests that mix DAV ids with mail ids are split, each part served by its side, and the answers put back
//! in the order asked.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Groupware;
use super::codec::{self, EventView, Gw, RenderIds};
use super::folders::DavKind;
use crate::backend::dav::client::{CalComponent, IfMatch, split_href};
use crate::error::Kind;
use crate::ews::ops::{Ctx, Fail, FolderNode, parse_paging};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::types::{Shape, parse_datetime};
use crate::ews::xml::{Element, XmlWriter};
use crate::ids::{DavItemId, DavSyncState, FolderId, FolderRef, fnv32, fnv64};

/// The most objects one FindItem page or CalendarView returns (a larger view is cut, with
/// `IncludesLastItemInRange="false"`).
const MAX_PAGE: usize = 1000;

/// Serves the request here when it concerns DAV objects; `None` leaves it to the mail operations.
pub async fn dispatch<S: MailStore>(cx: &mut Ctx<S>, name: &str, op: &Element) -> Option<Vec<ResponseMessage>> {
    cx.groupware.as_ref()?;
    match name {
        "FindItem" => {
            let parent = op.m("ParentFolderIds")?.children.first()?.clone();
            let node = cx.resolve_folder(&parent).await.ok()?;
            node.dav.as_ref()?;
            Some(find_item(cx, op).await)
        }
        "SyncFolderItems" => {
            let el = op.m("SyncFolderId")?.children.first()?.clone();
            let node = cx.resolve_folder(&el).await.ok()?;
            node.dav.as_ref()?;
            Some(sync_folder_items(cx, op, &node).await)
        }
        "CreateItem" => {
            let items = op.m("Items")?;
            let target_dav = match op.m("SavedItemFolderId").and_then(|s| s.children.first()) {
                Some(el) => cx.resolve_folder(&el.clone()).await.ok().is_some_and(|n| n.dav.is_some()),
                None => false,
            };
            let groupware_items = items.children.iter().any(|c| super::GROUPWARE_ITEMS.contains(&c.name.as_str()));
            (target_dav || groupware_items).then_some(())?;
            Some(create_item(cx, op).await)
        }
        "GetItem" | "DeleteItem" => Some(split(cx, name, op, "ItemIds").await).filter(|v| !v.is_empty()),
        "UpdateItem" => Some(split(cx, name, op, "ItemChanges").await).filter(|v| !v.is_empty()),
        "MoveItem" | "CopyItem" => Some(split(cx, name, op, "ItemIds").await).filter(|v| !v.is_empty()),
        "CreateAttachment" => {
            let parent = op.m("ParentItemId")?.attr("Id")?;
            cx.ids.is_dav_item_id(parent).then_some(())?;
            Some(create_photo(cx, op).await)
        }
        "GetAttachment" | "DeleteAttachment" => {
            let ids = op.m("AttachmentIds")?;
            let dav = |c: &Element| c.attr("Id").is_some_and(|i| cx.ids.parse_dav_attachment_id(i).is_ok());
            ids.children.iter().any(dav).then_some(())?;
            Some(photo_attachments(cx, op, name == "DeleteAttachment").await)
        }
        _ => None,
    }
}

/// Whether an id element (or an `ItemChange` holding one) names a DAV object.
fn is_dav_id<S: MailStore>(cx: &Ctx<S>, el: &Element) -> bool {
    let el = if el.name == "ItemChange" {
        match el.children.iter().find(|c| c.name.ends_with("ItemId")) {
            Some(e) => e,
            None => return false,
        }
    } else {
        el
    };
    match el.name.as_str() {
        "ItemId" => el.attr("Id").is_some_and(|i| cx.ids.is_dav_item_id(i)),
        "OccurrenceItemId" => el.attr("RecurringMasterId").is_some_and(|i| cx.ids.is_dav_item_id(i)),
        "RecurringMasterItemId" => el.attr("OccurrenceId").is_some_and(|i| cx.ids.is_dav_item_id(i)),
        _ => false,
    }
}

/// Runs a batch operation whose elements may be DAV or mail ids: each part on its side, answers in request
/// order. Returns an empty list when no element is a DAV id (the mail operation then serves it all).
async fn split<S: MailStore>(cx: &mut Ctx<S>, name: &str, op: &Element, container: &str) -> Vec<ResponseMessage> {
    let Some(list) = op.m(container) else { return Vec::new() };
    let flags: Vec<bool> = list.children.iter().map(|c| is_dav_id(cx, c)).collect();
    if !flags.iter().any(|f| *f) {
        return Vec::new();
    }
    let part = |dav: bool| {
        let mut sub = op.clone();
        if let Some(c) = sub.children.iter_mut().find(|c| c.name == container) {
            c.children = list.children.iter().zip(&flags).filter(|(_, f)| **f == dav).map(|(e, _)| e.clone()).collect();
        }
        sub
    };
    let dav_part = part(true);
    let dav_out = match name {
        "GetItem" => get_item(cx, &dav_part).await,
        "DeleteItem" => delete_item(cx, &dav_part).await,
        "MoveItem" => move_or_copy(cx, &dav_part, false).await,
        "CopyItem" => move_or_copy(cx, &dav_part, true).await,
        _ => update_item(cx, &dav_part).await,
    };
    if flags.iter().all(|f| *f) {
        return dav_out;
    }
    let mail_part = part(false);
    let mail_out = match name {
        "GetItem" => crate::ews::ops::items::get_item(cx, &mail_part).await,
        "DeleteItem" => crate::ews::ops::items::delete_item(cx, &mail_part).await,
        "MoveItem" => crate::ews::ops::items::move_or_copy_item(cx, &mail_part, false).await,
        "CopyItem" => crate::ews::ops::items::move_or_copy_item(cx, &mail_part, true).await,
        _ => crate::ews::ops::items::update_item(cx, &mail_part).await,
    };
    let (n_dav, n_mail) = (flags.iter().filter(|f| **f).count(), flags.iter().filter(|f| !**f).count());
    let widen = |v: Vec<ResponseMessage>, n: usize| if v.len() == 1 && n > 1 { vec![v[0].clone(); n] } else { v };
    let (mut d, mut m) = (widen(dav_out, n_dav).into_iter(), widen(mail_out, n_mail).into_iter());
    flags
        .iter()
        .map(|f| {
            let next = if *f { d.next() } else { m.next() };
            next.unwrap_or_else(|| ResponseMessage::error("ErrorInternalServerError", "No answer for this item."))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------ objects

/// One object read from the DAV server.
pub(super) struct Object {
    pub(super) collection: String,
    pub(super) resource: String,
    pub(super) etag: String,
    pub(super) item: Gw,
}

fn not_found() -> Fail {
    Fail::new("ErrorItemNotFound", "The specified object was not found in the store.")
}

pub(super) fn groupware<S: MailStore>(cx: &Ctx<S>) -> Result<Groupware, Fail> {
    cx.groupware.clone().ok_or_else(|| Fail::new("ErrorInvalidOperation", "No CalDAV/CardDAV server is configured."))
}

/// The zone floating times and all-day items are read in: the request's `TimeZoneContext`, else UTC.
fn viewer_tz<S: MailStore>(cx: &Ctx<S>) -> Tz {
    cx.time_zone
        .as_deref()
        .and_then(crate::model::timezone::windows_to_iana)
        .and_then(|n| n.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

pub(super) async fn read_object(g: &Groupware, collection: &str, resource: &str) -> Result<Object, Fail> {
    let href = format!("{collection}{resource}");
    let obj = g.client.get(&g.principal, &href).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
    let Some(obj) = obj else { return Err(not_found()) };
    let item = codec::parse_object(&obj.data).map_err(|e| {
        tracing::warn!(href = %href, error = %e, "DAV object cannot be read");
        Fail::new("ErrorCorruptData", format!("The stored object cannot be read: {e}"))
    })?;
    Ok(Object {
        collection: collection.to_string(),
        resource: resource.to_string(),
        etag: obj.etag.unwrap_or_default(),
        item,
    })
}

/// Writes a changed object back over the version that was read (If-Match on its ETag) and keeps the new ETag.
/// Someone else's write in between is ErrorIrresolvableConflict: the client reads again and retries.
async fn write_back(g: &Groupware, o: &mut Object) -> Result<(), Fail> {
    let (data, ctype, _) = codec::serialize(&o.item);
    let href = format!("{}{}", o.collection, o.resource);
    o.etag =
        g.client.put(&g.principal, &href, &data, ctype, IfMatch::Etag(o.etag.clone())).await.map_err(|e| {
            match e.kind {
                Kind::Conflict => Fail::new("ErrorIrresolvableConflict", "The item was changed meanwhile; retry."),
                _ => Fail::from_error(&e, "ErrorItemSave"),
            }
        })?;
    Ok(())
}

/// The objects of a collection; for a calendar with a window, only those with occurrences in it.
async fn list_objects(
    g: &Groupware,
    node: &FolderNode,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<Vec<Object>, Fail> {
    let Some(d) = &node.dav else { return Err(not_found()) };
    let p = &g.principal;
    let objs = match d.kind {
        DavKind::Calendar => g.client.calendar_query(p, &d.href, CalComponent::Event, window).await,
        DavKind::Tasks => g.client.calendar_query(p, &d.href, CalComponent::Todo, None).await,
        DavKind::Contacts => g.client.addressbook_query(p, &d.href).await,
    }
    .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    let mut out = Vec::with_capacity(objs.len());
    for o in objs {
        let (collection, resource) = split_href(&o.href);
        match codec::parse_object(&o.data) {
            // Only what the folder is for: a calendar holding a stray VTODO shows its events.
            Ok(item) if item.kind() == d.kind || (d.kind == DavKind::Contacts && item.kind() == DavKind::Contacts) => {
                out.push(Object { collection, resource, etag: o.etag.unwrap_or_default(), item })
            }
            Ok(_) => {}
            // One unreadable object must not hide the others: it is logged and left out.
            Err(e) => tracing::warn!(href = %o.href, error = %e, "DAV object skipped"),
        }
    }
    Ok(out)
}

impl<S: MailStore> Ctx<S> {
    fn dav_ids(&self, o: &Object, occurrence: Option<DateTime<Utc>>) -> RenderIds {
        let id = DavItemId {
            mailbox: self.mailbox.clone(),
            collection: o.collection.clone(),
            resource: o.resource.clone(),
            occurrence: occurrence.map(|t| t.timestamp()),
        };
        let master = occurrence.map(|_| self.ids.dav_item_id(&DavItemId { occurrence: None, ..id.clone() }));
        RenderIds {
            item_id: self.ids.dav_item_id(&id),
            change_key: self.ids.dav_change_key(&o.etag),
            parent_id: self
                .ids
                .folder_id(&FolderId { mailbox: self.mailbox.clone(), folder: FolderRef::Dav(o.collection.clone()) }),
            parent_change_key: self.ids.dav_change_key(""),
            master_id: master,
            photo_attachment_id: match &o.item {
                Gw::Contact(c) if c.photo.is_some() => Some(self.ids.dav_attachment_id(&id, 0)),
                _ => None,
            },
        }
    }

    /// The id of each modified occurrence of a series (for `ModifiedOccurrences`).
    fn occurrence_id(&self, o: &Object, original_start: DateTime<Utc>) -> String {
        self.ids.dav_item_id(&DavItemId {
            mailbox: self.mailbox.clone(),
            collection: o.collection.clone(),
            resource: o.resource.clone(),
            occurrence: Some(original_start.timestamp()),
        })
    }
}

/// Writes one object (or one occurrence of a series).
pub(super) fn render<S: MailStore>(
    w: &mut XmlWriter,
    cx: &Ctx<S>,
    o: &Object,
    view: EventView,
    shape: &Shape,
    full: bool,
) {
    let occurrence = match &view {
        EventView::Whole => None,
        EventView::Instance(occ) => Some(occ.original_start),
    };
    let ids = cx.dav_ids(o, occurrence);
    let occ_id = |t: DateTime<Utc>| (cx.occurrence_id(o, t), cx.ids.dav_change_key(&o.etag));
    codec::write_item(w, &o.item, view, shape, &ids, &cx.mailbox, &cx.version, viewer_tz(cx), full, &occ_id);
}

/// The `m:Items` element with one rendered object: the content of a GetItem, CreateItem, UpdateItem, MoveItem or
/// CopyItem response message (the last four answer with the id only).
fn items_content<S: MailStore>(cx: &Ctx<S>, o: &Object, view: EventView, shape: &Shape, full: bool) -> XmlWriter {
    let mut w = XmlWriter::new();
    w.start("m:Items", &[]);
    render(&mut w, cx, o, view, shape, full);
    w.end();
    w
}

// ------------------------------------------------------------------------------------------------ FindItem

pub async fn find_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("ItemShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    let restriction = match op.m("Restriction").map(super::restriction::parse).transpose() {
        Ok(r) => r,
        Err(f) => return vec![f.message()],
    };
    if restriction.is_some() && op.m("CalendarView").is_some() {
        // MS-OXWSSRCH: a CalendarView cannot be combined with a restriction.
        return vec![ResponseMessage::error(
            "ErrorInvalidRestriction",
            "A restriction cannot be combined with a CalendarView.",
        )];
    }
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let mut out = Vec::new();
    for parent in op.m("ParentFolderIds").map(|p| p.children.clone()).unwrap_or_default() {
        let node = match cx.resolve_folder(&parent).await {
            Ok(n) if n.dav.is_some() => n,
            Ok(_) => {
                out.push(ResponseMessage::error(
                    "ErrorInvalidRequest",
                    "Mail and groupware folders cannot be searched in one request.",
                ));
                continue;
            }
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        let r = match op.m("CalendarView") {
            Some(view) => calendar_view(cx, &g, &node, view, &shape).await,
            None => list_view(cx, &g, &node, op, &shape, restriction.as_ref()).await,
        };
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

/// A CalendarView (MS-OXWSCDATA 2.2.4.7 CalendarViewType): occurrences overlapping [StartDate, EndDate).
async fn calendar_view<S: MailStore>(
    cx: &Ctx<S>,
    g: &Groupware,
    node: &FolderNode,
    view: &Element,
    shape: &Shape,
) -> Result<ResponseMessage, Fail> {
    let time = |name: &str| {
        view.attr(name)
            .and_then(parse_datetime)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or_else(|| Fail::new("ErrorInvalidRequest", format!("CalendarView {name} is missing or not a date.")))
    };
    let (from, to) = (time("StartDate")?, time("EndDate")?);
    if to <= from {
        return Err(Fail::new("ErrorInvalidRequest", "CalendarView EndDate is not after StartDate."));
    }
    // Exchange refuses views longer than two years (ErrorCalendarViewRangeTooBig); so does Viaduc, which
    // expands series in memory.
    if to - from > chrono::Duration::days(2 * 366) {
        return Err(Fail::new("ErrorCalendarViewRangeTooBig", "The calendar view range is longer than two years."));
    }
    let max = match view.attr("MaxEntriesReturned") {
        Some(m) => {
            m.trim().parse::<usize>().map_err(|_| Fail::new("ErrorInvalidRequest", "Bad MaxEntriesReturned."))?
        }
        None => MAX_PAGE,
    };
    if node.dav.as_ref().is_some_and(|d| d.kind != DavKind::Calendar) {
        return Err(Fail::new("ErrorInvalidRequest", "CalendarView is only for calendar folders."));
    }
    let tz = viewer_tz(cx);
    let objects = list_objects(g, node, Some((from, to))).await?;
    let mut rows: Vec<(DateTime<Utc>, usize, crate::model::recurrence::Occurrence)> = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if let Gw::Event(ev) = &o.item {
            for occ in ev.occurrences(tz, from, to) {
                rows.push((occ.start, i, occ));
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let total = rows.len();
    let shown = total.min(max).min(MAX_PAGE);
    let mut w = XmlWriter::new();
    let t = total.to_string();
    w.start(
        "m:RootFolder",
        &[("TotalItemsInView", &t), ("IncludesLastItemInRange", if shown == total { "true" } else { "false" })],
    );
    w.start("t:Items", &[]);
    for (_, i, occ) in rows.iter().take(shown) {
        let o = &objects[*i];
        let is_series = matches!(&o.item, Gw::Event(ev) if ev.recurrence.is_some());
        let view = if is_series { EventView::Instance(occ.clone()) } else { EventView::Whole };
        render(&mut w, cx, o, view, shape, false);
    }
    w.end().end();
    Ok(ResponseMessage::ok(w.finish()))
}

/// Every object of the folder (series as their masters), sorted and paged (IndexedPageItemView).
async fn list_view<S: MailStore>(
    cx: &Ctx<S>,
    g: &Groupware,
    node: &FolderNode,
    op: &Element,
    shape: &Shape,
    restriction: Option<&super::restriction::Restriction>,
) -> Result<ResponseMessage, Fail> {
    if op.m("FractionalPageItemView").is_some() || op.m("ContactsView").is_some() {
        return Err(Fail::new("ErrorInvalidRequest", "Only IndexedPageItemView or CalendarView is supported here."));
    }
    let (max, offset, from_end) = parse_paging(op.m("IndexedPageItemView"))?;
    let mut objects = list_objects(g, node, None).await?;
    let tz = viewer_tz(cx);
    if let Some(r) = restriction {
        // Evaluated here, on each object's model: DAV REPORTs cannot express EWS restrictions.
        super::restriction::check_paths(r)?;
        objects.retain(|o| super::restriction::matches(r, &o.item, tz));
    }
    objects.sort_by_key(|o| codec::sort_key(&o.item, tz));
    let total = objects.len();
    let max = (max.unwrap_or(MAX_PAGE as u32) as usize).min(MAX_PAGE);
    let offset = (offset as usize).min(total);
    let (start, end) = if from_end {
        let end = total - offset;
        (end.saturating_sub(max), end)
    } else {
        (offset, (offset + max).min(total))
    };
    let mut w = XmlWriter::new();
    let (o, t) = (end.to_string(), total.to_string());
    w.start(
        "m:RootFolder",
        &[
            ("IndexedPagingOffset", &o),
            ("TotalItemsInView", &t),
            ("IncludesLastItemInRange", if end >= total { "true" } else { "false" }),
        ],
    );
    w.start("t:Items", &[]);
    for obj in &objects[start..end] {
        render(&mut w, cx, obj, EventView::Whole, shape, false);
    }
    w.end().end();
    Ok(ResponseMessage::ok(w.finish()))
}

// ------------------------------------------------------------------------------------------------ GetItem

/// What an id element names: an object, and for one occurrence its original start.
pub(super) struct Target {
    pub(super) collection: String,
    pub(super) resource: String,
    pub(super) occurrence: Option<OccurrenceRef>,
}

pub(super) enum OccurrenceRef {
    /// The occurrence starting (as the pattern placed it) at this time.
    At(DateTime<Utc>),
    /// The n-th occurrence of the series (1-based; MS-OXWSCORE 2.2.4.40 OccurrenceItemIdType InstanceIndex).
    Index(u32),
}

pub(super) fn parse_target<S: MailStore>(cx: &Ctx<S>, el: &Element) -> Result<Target, Fail> {
    let decode = |text: &str| -> Result<DavItemId, Fail> {
        let id = cx.ids.parse_dav_item_id(text).map_err(Fail::id)?;
        cx.check_mailbox(&id.mailbox)?;
        Ok(id)
    };
    let at = |t: Option<i64>| t.and_then(|s| DateTime::from_timestamp(s, 0)).map(OccurrenceRef::At);
    match el.name.as_str() {
        "ItemId" => {
            let id = decode(el.attr("Id").unwrap_or(""))?;
            Ok(Target { collection: id.collection, resource: id.resource, occurrence: at(id.occurrence) })
        }
        "OccurrenceItemId" => {
            let id = decode(el.attr("RecurringMasterId").unwrap_or(""))?;
            let index = el
                .attr("InstanceIndex")
                .and_then(|i| i.trim().parse::<u32>().ok())
                .filter(|i| *i >= 1)
                .ok_or_else(|| Fail::new("ErrorInvalidRequest", "InstanceIndex must be a number from 1."))?;
            Ok(Target {
                collection: id.collection,
                resource: id.resource,
                occurrence: Some(OccurrenceRef::Index(index)),
            })
        }
        "RecurringMasterItemId" => {
            let id = decode(el.attr("OccurrenceId").unwrap_or(""))?;
            Ok(Target { collection: id.collection, resource: id.resource, occurrence: None })
        }
        other => Err(Fail::new("ErrorInvalidIdMalformed", format!("'{other}' ids are not supported."))),
    }
}

/// The occurrence an [`OccurrenceRef`] names in a series.
fn find_occurrence(item: &Gw, r: &OccurrenceRef, tz: Tz) -> Result<crate::model::recurrence::Occurrence, Fail> {
    let Gw::Event(ev) = item else { return Err(not_found()) };
    if ev.recurrence.is_none() {
        return Err(Fail::new("ErrorItemNotFound", "The item is not a recurring series."));
    }
    let first = ev.start.to_utc(tz);
    match r {
        OccurrenceRef::At(t) => {
            // Look in a window around the original start: enough for an override moved within a year.
            let from = *t - chrono::Duration::days(366);
            let to = *t + chrono::Duration::days(366);
            ev.occurrences(tz, from, to).into_iter().find(|o| o.original_start == *t).ok_or_else(|| {
                Fail::new("ErrorCalendarOccurrenceIsDeletedFromRecurrence", "The occurrence was deleted.")
            })
        }
        OccurrenceRef::Index(n) => {
            // The index counts every occurrence the pattern makes, deleted ones included (a deleted one is an
            // error, not the next one): expand without the deletions, year by year from the first occurrence.
            let mut all = ev.clone();
            all.deleted_occurrences.clear();
            let mut count = 0u32;
            let mut from = first;
            for _ in 0..50 {
                let to = from + chrono::Duration::days(366);
                // A margin on both sides catches occurrences an override moved out of their original window.
                let margin = chrono::Duration::days(62);
                let mut occ = all.occurrences(tz, from - margin, to + margin);
                occ.retain(|o| o.original_start >= from && o.original_start < to);
                occ.sort_by_key(|o| o.original_start);
                for o in occ {
                    count += 1;
                    if count == *n {
                        let deleted = ev.deleted_occurrences.iter().any(|d| d.to_utc(tz) == o.original_start);
                        if deleted {
                            return Err(Fail::new(
                                "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                                "The occurrence was deleted from the series.",
                            ));
                        }
                        return Ok(o);
                    }
                }
                from = to;
            }
            Err(Fail::new("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "The series has no such occurrence."))
        }
    }
}

pub async fn get_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("ItemShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let tz = viewer_tz(cx);
    let mut out = Vec::new();
    for el in op.m("ItemIds").map(|c| c.children.clone()).unwrap_or_default() {
        let r = async {
            let t = parse_target(cx, &el)?;
            let o = read_object(&g, &t.collection, &t.resource).await?;
            let view = match &t.occurrence {
                Some(r) => EventView::Instance(find_occurrence(&o.item, r, tz)?),
                None => EventView::Whole,
            };
            Ok::<_, Fail>(ResponseMessage::ok(items_content(cx, &o, view, &shape, true).finish()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

// ------------------------------------------------------------------------------------------------ CreateItem

/// The collection new items of `kind` go to: the SavedItemFolderId when it is a folder of that kind, else
/// the distinguished folder of that kind.
pub(super) async fn target_collection<S: MailStore>(
    cx: &mut Ctx<S>,
    op: &Element,
    kind: DavKind,
) -> Result<String, Fail> {
    if let Some(el) = op.m("SavedItemFolderId").and_then(|s| s.children.first()).cloned() {
        let node = cx.resolve_folder(&el).await?;
        return match node.dav {
            Some(d) if d.kind == kind && !d.read_only => Ok(d.href),
            Some(d) if d.read_only => Err(Fail::new("ErrorAccessDenied", "The folder is read-only.")),
            _ => Err(Fail::new(
                "ErrorInvalidRequest",
                format!("A {} item cannot be saved in this folder.", kind.folder_class()),
            )),
        };
    }
    let el = Element {
        name: "DistinguishedFolderId".into(),
        ns: Some(crate::ews::xml::NS_T.into()),
        attrs: vec![(None, "Id".into(), kind.distinguished().into())],
        ..Default::default()
    };
    let node = cx.resolve_folder(&el).await?;
    node.dav.map(|d| d.href).ok_or_else(|| Fail::new("ErrorFolderNotFound", "The default folder cannot be found."))
}

/// A resource name for a new object: its UID when that is URL-safe, else a hash of it.
pub(super) fn resource_name(uid: &str, ext: &str) -> String {
    let safe = !uid.is_empty()
        && uid.len() <= 200
        && uid.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if safe { format!("{uid}.{ext}") } else { format!("{:016x}.{ext}", fnv64(uid)) }
}

pub async fn create_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let send = op.attr("SendMeetingInvitations").unwrap_or("SendToNone").to_string();
    let tz_context = cx.time_zone.clone();
    let mut out = Vec::new();
    for el in op.m("Items").map(|c| c.children.clone()).unwrap_or_default() {
        let r = async {
            let mut item =
                codec::parse_new(&el, tz_context.as_deref()).map_err(|e| Fail::new("ErrorInvalidRequest", e))?;
            item.ensure_uid();
            let kind = item.kind();
            let collection = target_collection(cx, op, kind).await?;
            if let Gw::Event(ev) = &mut item {
                codec::prepare_new_event(ev, &cx.mailbox, &cx.display_name, &send);
            }
            let (data, ctype, ext) = codec::serialize(&item);
            let resource = resource_name(item.uid(), ext);
            let href = format!("{collection}{resource}");
            let etag =
                g.client.put(&g.principal, &href, &data, ctype, IfMatch::None).await.map_err(|e| match e.kind {
                    Kind::Conflict => Fail::new("ErrorItemSave", "An item with the same UID already exists."),
                    _ => Fail::from_error(&e, "ErrorItemSave"),
                })?;
            let o = Object { collection, resource, etag, item };
            if let Gw::Event(ev) = &o.item
                && ev.is_meeting
                && send != "SendToNone"
            {
                super::meetings::send_invitations(cx, ev).await?;
                super::meetings::deliver_to_local_attendees(cx, ev, false).await;
            }
            Ok::<_, Fail>(ResponseMessage::ok(items_content(cx, &o, EventView::Whole, &id_only(), false).finish()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

pub(super) fn id_only() -> Shape {
    Shape { base: crate::ews::types::BaseShape::IdOnly, ..Shape::default() }
}

// ------------------------------------------------------------------------------------------------ UpdateItem

pub async fn update_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    // MS-OXWSCORE 3.1.4.9.3.2: AutoResolve is the default.
    let resolution = op.attr("ConflictResolution").unwrap_or("AutoResolve").to_string();
    let send = op.attr("SendMeetingInvitationsOrCancellations").unwrap_or("SendToNone").to_string();
    let tz_context = cx.time_zone.clone();
    let tz = viewer_tz(cx);
    let mut out = Vec::new();
    for ch in op.m("ItemChanges").map(|c| c.children.clone()).unwrap_or_default() {
        let r = async {
            let id_el = ch
                .children
                .iter()
                .find(|c| c.name.ends_with("ItemId"))
                .ok_or_else(|| Fail::new("ErrorInvalidRequest", "ItemChange without an item id."))?;
            let t = parse_target(cx, id_el)?;
            let mut o = read_object(&g, &t.collection, &t.resource).await?;
            if resolution == "NeverOverwrite"
                && let Some(ck) = id_el.attr("ChangeKey")
            {
                let wanted = cx.ids.parse_dav_change_key(ck).map_err(Fail::id)?;
                if wanted != o.etag {
                    return Err(Fail::new(
                        "ErrorIrresolvableConflict",
                        "The item was changed by another client since it was read.",
                    ));
                }
            }
            let updates = ch.t("Updates").cloned().unwrap_or_default();
            let occurrence = match &t.occurrence {
                Some(r) => Some(find_occurrence(&o.item, r, tz)?),
                None => None,
            };
            match &occurrence {
                Some(occ) => codec::update_occurrence(&mut o.item, occ.original_start, &updates, tz_context.as_deref()),
                None => codec::update(&mut o.item, &updates, tz_context.as_deref()),
            }
            .map_err(|e| Fail::new("ErrorInvalidPropertySet", e))?;
            if let Gw::Event(ev) = &mut o.item {
                ev.sequence += 1;
                ev.stamp(now());
            }
            write_back(&g, &mut o).await?;
            if let Gw::Event(ev) = &o.item
                && ev.is_meeting
                && send != "SendToNone"
            {
                super::meetings::send_invitations(cx, ev).await?;
                super::meetings::deliver_to_local_attendees(cx, ev, false).await;
            }
            let view = match occurrence {
                Some(occ) => EventView::Instance(occ),
                None => EventView::Whole,
            };
            let mut w = items_content(cx, &o, view, &id_only(), false);
            // The EWS Managed API requires ConflictResults (MS-OXWSCORE 2.2.4.38 UpdateItemResponseMessageType).
            w.start("m:ConflictResults", &[]).leaf("t:Count", "0").end();
            Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

// ------------------------------------------------------------------------------------------------ DeleteItem

pub async fn delete_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let tz = viewer_tz(cx);
    let cancel = op.attr("SendMeetingCancellations").unwrap_or("SendToNone").to_string();
    let mut out = Vec::new();
    for el in op.m("ItemIds").map(|c| c.children.clone()).unwrap_or_default() {
        let r = async {
            let t = parse_target(cx, &el)?;
            let mut o = read_object(&g, &t.collection, &t.resource).await?;
            let href = format!("{}{}", o.collection, o.resource);
            match &t.occurrence {
                Some(r) => {
                    // One occurrence: an EXDATE on the master (RFC 5545 3.8.5.1), written back with If-Match.
                    let occ = find_occurrence(&o.item, r, tz)?;
                    if let Gw::Event(ev) = &mut o.item {
                        codec::delete_occurrence(ev, occ.original_start, cx.time_zone.as_deref())
                            .map_err(|e| Fail::new("ErrorInvalidRequest", e))?;
                        ev.sequence += 1;
                        ev.stamp(now());
                    }
                    write_back(&g, &mut o).await?;
                }
                None => {
                    g.client
                        .delete(&g.principal, &href, None)
                        .await
                        .map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
                    if let Gw::Event(ev) = &o.item
                        && ev.is_meeting
                        && cancel != "SendToNone"
                    {
                        super::meetings::send_cancellation(cx, ev).await?;
                        super::meetings::deliver_to_local_attendees(cx, ev, true).await;
                    }
                }
            }
            Ok::<_, Fail>(ResponseMessage::ok(String::new()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

// ------------------------------------------------------------------------------------------------ contact photos

/// CreateAttachment on a contact: a FileAttachment becomes the contact's photo (vCard PHOTO), as Outlook and
/// the EWS Managed API set one (`IsContactPhoto`, MS-OXWSCONT 3.1.4.x); a contact has one photo, so a new one
/// replaces the old. Other items of DAV folders take no attachments (ErrorInvalidOperation).
async fn create_photo<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let atts: Vec<Element> = op.m("Attachments").map(|a| a.children.clone()).unwrap_or_default();
    let r = async {
        let g = groupware(cx)?;
        let parent =
            op.m("ParentItemId").ok_or_else(|| Fail::new("ErrorInvalidRequest", "ParentItemId is required."))?;
        let id = cx.ids.parse_dav_item_id(parent.attr("Id").unwrap_or("")).map_err(Fail::id)?;
        cx.check_mailbox(&id.mailbox)?;
        let mut o = read_object(&g, &id.collection, &id.resource).await?;
        let Gw::Contact(c) = &mut o.item else {
            return Err(Fail::new(
                "ErrorInvalidOperation",
                "Only a contact's photo can be attached to items of calendar, contacts and tasks folders.",
            ));
        };
        let [att] = atts.as_slice() else {
            return Err(Fail::new("ErrorInvalidRequest", "A contact takes one photo per request."));
        };
        if att.name != "FileAttachment" {
            return Err(Fail::new("ErrorInvalidOperation", "A contact photo is a FileAttachment."));
        }
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode(att.t_text("Content").unwrap_or("").split_whitespace().collect::<String>())
            .map_err(|_| Fail::new("ErrorInvalidRequest", "The attachment content is not base64."))?;
        if data.is_empty() {
            return Err(Fail::new("ErrorInvalidRequest", "The photo is empty."));
        }
        let media_type = att
            .t_text("ContentType")
            .filter(|t| t.starts_with("image/"))
            .map(str::to_string)
            .unwrap_or_else(|| if data.starts_with(b"\x89PNG") { "image/png".into() } else { "image/jpeg".into() });
        c.photo = Some(crate::model::contact::Photo { media_type, data });
        write_back(&g, &mut o).await?;
        let ids = cx.dav_ids(&o, None);
        let att_id = ids.photo_attachment_id.clone().unwrap_or_default();
        let mut w = XmlWriter::new();
        w.start("m:Attachments", &[]).start("t:FileAttachment", &[]);
        w.empty(
            "t:AttachmentId",
            &[("Id", &att_id), ("RootItemId", &ids.item_id), ("RootItemChangeKey", &ids.change_key)],
        );
        w.end().end();
        Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
    }
    .await;
    let one = r.unwrap_or_else(|f| f.message());
    vec![one; atts.len().max(1)]
}

/// GetAttachment / DeleteAttachment of a contact's photo.
async fn photo_attachments<S: MailStore>(cx: &mut Ctx<S>, op: &Element, delete: bool) -> Vec<ResponseMessage> {
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let mut out = Vec::new();
    for el in op.m("AttachmentIds").map(|a| a.children.clone()).unwrap_or_default() {
        let r = async {
            let (id, index) = cx.ids.parse_dav_attachment_id(el.attr("Id").unwrap_or("")).map_err(Fail::id)?;
            cx.check_mailbox(&id.mailbox)?;
            let mut o = read_object(&g, &id.collection, &id.resource).await?;
            let Gw::Contact(c) = &mut o.item else {
                return Err(Fail::new("ErrorAttachmentNotFound", "No such attachment."));
            };
            let Some(photo) = c.photo.clone().filter(|_| index == 0) else {
                return Err(Fail::new("ErrorAttachmentNotFound", "The contact has no photo."));
            };
            if delete {
                c.photo = None;
                write_back(&g, &mut o).await?;
                let ids = cx.dav_ids(&o, None);
                let mut w = XmlWriter::new();
                w.empty("m:RootItemId", &[("RootItemId", &ids.item_id), ("RootItemChangeKey", &ids.change_key)]);
                return Ok(ResponseMessage::ok(w.finish()));
            }
            use base64::Engine;
            let att_id = el.attr("Id").unwrap_or("").to_string();
            let mut w = XmlWriter::new();
            w.start("m:Attachments", &[]).start("t:FileAttachment", &[]);
            w.empty("t:AttachmentId", &[("Id", &att_id)]);
            w.leaf("t:Name", super::contact_xml::PHOTO_NAME).leaf("t:ContentType", &photo.media_type);
            w.leaf("t:Size", &photo.data.len().to_string()).bool_leaf("t:IsInline", false);
            w.bool_leaf("t:IsContactPhoto", true);
            w.leaf("t:Content", &base64::engine::general_purpose::STANDARD.encode(&photo.data));
            w.end().end();
            Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

// ------------------------------------------------------------------------------------------------ MoveItem, CopyItem

/// MoveItem / CopyItem of calendar items, contacts and tasks into another folder of the same kind
/// (MS-OXWSCORE 3.1.4.7 / 3.1.4.2). A move writes the object into the target collection under the same
/// resource name and UID, then deletes the source (If-Match on the ETag read); a copy is a new object with a
/// new UID (two objects with one UID would be one event to every scheduling client). Occurrences cannot be moved
/// or copied on their own (ErrorCalendarCannotMoveOrCopyOccurrence), and a mail folder is not a target for them.
async fn move_or_copy<S: MailStore>(cx: &mut Ctx<S>, op: &Element, copy: bool) -> Vec<ResponseMessage> {
    let g = match groupware(cx) {
        Ok(g) => g,
        Err(f) => return vec![f.message()],
    };
    let Some(to_el) = op.m("ToFolderId").and_then(|t| t.children.first()).cloned() else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ToFolderId is required.")];
    };
    let target = match cx.resolve_folder(&to_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let mut out = Vec::new();
    for el in op.m("ItemIds").map(|c| c.children.clone()).unwrap_or_default() {
        let r = async {
            let t = parse_target(cx, &el)?;
            if t.occurrence.is_some() {
                return Err(Fail::new(
                    "ErrorCalendarCannotMoveOrCopyOccurrence",
                    "An occurrence cannot be moved or copied on its own; move the series.",
                ));
            }
            let mut o = read_object(&g, &t.collection, &t.resource).await?;
            let dest = match &target.dav {
                Some(d) if d.kind == o.item.kind() && !d.read_only => d.href.clone(),
                Some(d) if d.read_only => {
                    return Err(Fail::new("ErrorAccessDenied", "The target folder is read-only."));
                }
                _ => {
                    return Err(Fail::new(
                        "ErrorInvalidOperation",
                        format!(
                            "An item of a {} folder can only go to a folder of the same kind.",
                            o.item.kind().folder_class()
                        ),
                    ));
                }
            };
            if dest == o.collection && !copy {
                // Moving into its own folder changes nothing (Exchange answers with the same item).
                return Ok(ResponseMessage::ok(items_content(cx, &o, EventView::Whole, &id_only(), false).finish()));
            }
            let (source_href, source_etag) = (format!("{}{}", o.collection, o.resource), o.etag.clone());
            if copy {
                match &mut o.item {
                    Gw::Event(e) => e.uid = String::new(),
                    Gw::Task(x) => x.uid = String::new(),
                    Gw::Contact(c) => c.uid = String::new(),
                    Gw::Group(x) => x.uid = String::new(),
                }
                o.item.ensure_uid();
            }
            let (data, ctype, ext) = codec::serialize(&o.item);
            let resource = if copy { resource_name(o.item.uid(), ext) } else { o.resource.clone() };
            let href = format!("{dest}{resource}");
            let etag =
                g.client.put(&g.principal, &href, &data, ctype, IfMatch::None).await.map_err(|e| match e.kind {
                    Kind::Conflict => Fail::new("ErrorMoveCopyFailed", "The target folder already holds this item."),
                    _ => Fail::from_error(&e, "ErrorMoveCopyFailed"),
                })?;
            if !copy {
                if let Err(e) = g.client.delete(&g.principal, &source_href, Some(&source_etag)).await {
                    // The source changed or vanished meanwhile: undo the new copy rather than leave two.
                    let _ = g.client.delete(&g.principal, &href, Some(&etag)).await;
                    return Err(Fail::from_error(&e, "ErrorMoveCopyFailed"));
                }
            }
            let moved = Object { collection: dest, resource, etag, item: o.item };
            Ok::<_, Fail>(ResponseMessage::ok(items_content(cx, &moved, EventView::Whole, &id_only(), false).finish()))
        }
        .await;
        out.push(r.unwrap_or_else(|f| f.message()));
    }
    out
}

// ------------------------------------------------------------------------------------------------ SyncFolderItems

/// SyncFolderItems on a DAV folder (MS-OXWSSYNC 3.1.4.2). The state names the collection, the sync token the
/// last answer was computed from, and what the client was told (resource hash → ETag hash). Each round asks the
/// server what changed since the token (RFC 6578 sync-collection) — or lists every ETag when there is no token
/// or the server refuses it — and reports the differences from what the client has: new resource → Create,
/// changed ETag → Update, gone → Delete. When more changed than `MaxChangesReturned`, the answer keeps the old
/// token; the known set makes the next round skip what was already reported.
async fn sync_folder_items<S: MailStore>(cx: &mut Ctx<S>, op: &Element, node: &FolderNode) -> Vec<ResponseMessage> {
    let r = async {
        let g = groupware(cx)?;
        let Some(d) = &node.dav else { return Err(not_found()) };
        let shape = Shape::parse(op.m("ItemShape")).map_err(|e| Fail::new("ErrorInvalidRequest", e))?;
        let max = op
            .m("MaxChangesReturned")
            .map(|m| m.trimmed().parse::<usize>())
            .transpose()
            .map_err(|_| Fail::new("ErrorInvalidRequest", "MaxChangesReturned is not a number."))?
            .unwrap_or(512)
            .clamp(1, 512);
        let state_text = op.m("SyncState").map(|s| s.trimmed().to_string()).filter(|s| !s.is_empty());
        let mut state = match state_text {
            Some(t) => {
                let s = cx.ids.parse_dav_sync_state(&t).map_err(|_| invalid_state())?;
                if s.mailbox != cx.mailbox || s.collection != d.href {
                    return Err(invalid_state());
                }
                s
            }
            None => DavSyncState { mailbox: cx.mailbox.clone(), collection: d.href.clone(), ..Default::default() },
        };
        let p = &g.principal;
        // (resource, etag) of changed objects, and the resources gone; `complete` when `changed` lists the whole
        // collection (then anything known and not listed is gone).
        let sync = match g.client.sync_collection(p, &d.href, state.token.as_deref()).await {
            Ok(r) => r,
            // RFC 6578 3.8: the token is no longer valid; start again from a full listing.
            Err(e) if e.kind == Kind::Conflict && state.token.is_some() => g
                .client
                .sync_collection(p, &d.href, None)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?,
            Err(e) => return Err(Fail::from_error(&e, "ErrorFolderNotFound")),
        };
        let (changed, removed, new_token, complete) = (sync.changed, sync.deleted, sync.new_token, sync.full);
        let known: std::collections::HashMap<u64, u32> = state.known.iter().copied().collect();
        enum Change {
            Create(String, String),
            Update(String, String),
            Delete(u64, String),
        }
        let mut changes = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for (href, etag) in &changed {
            let (_, res) = split_href(href);
            let h = fnv64(&res);
            listed.insert(h);
            match known.get(&h) {
                Some(e) if *e == fnv32(&[etag]) => {}
                Some(_) => changes.push(Change::Update(res, etag.clone())),
                None => changes.push(Change::Create(res, etag.clone())),
            }
        }
        for href in &removed {
            let (_, res) = split_href(href);
            let h = fnv64(&res);
            if known.contains_key(&h) {
                changes.push(Change::Delete(h, res));
            }
        }
        if complete && known.keys().any(|h| !listed.contains(h)) {
            // Objects went away while the token was unusable: the state keeps only hashes of their names, so
            // their ids cannot be rebuilt. The client must start over (MS-OXWSSYNC: ErrorInvalidSyncStateData
            // makes it sync the folder from scratch).
            return Err(invalid_state());
        }
        let all_fit = changes.len() <= max && !sync.truncated;
        changes.truncate(max);
        // The objects to show for creates and updates, in one multiget.
        let wanted: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Create(r, _) | Change::Update(r, _) => Some(format!("{}{r}", d.href)),
                Change::Delete(..) => None,
            })
            .collect();
        let kind = match d.kind {
            DavKind::Contacts => crate::backend::dav::client::ObjectKind::AddressBook,
            _ => crate::backend::dav::client::ObjectKind::Calendar,
        };
        let objects = if wanted.is_empty() {
            Vec::new()
        } else {
            g.client
                .multiget(p, &d.href, kind, &wanted)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?
        };
        let mut known = known;
        let mut w = XmlWriter::new();
        let mut body = XmlWriter::new();
        body.start("m:Changes", &[]);
        for c in &changes {
            match c {
                Change::Create(res, etag) | Change::Update(res, etag) => {
                    let Some(obj) = objects.iter().find(|o| split_href(&o.href).1 == *res) else { continue };
                    let Ok(item) = codec::parse_object(&obj.data) else {
                        tracing::warn!(href = %obj.href, "DAV object skipped in sync");
                        continue;
                    };
                    let etag = obj.etag.clone().unwrap_or_else(|| etag.clone());
                    known.insert(fnv64(res), fnv32(&[&etag]));
                    let o = Object { collection: d.href.clone(), resource: res.clone(), etag, item };
                    body.start(if matches!(c, Change::Create(..)) { "t:Create" } else { "t:Update" }, &[]);
                    render(&mut body, cx, &o, EventView::Whole, &shape, false);
                    body.end();
                }
                Change::Delete(h, res) => {
                    known.remove(h);
                    let id = cx.ids.dav_item_id(&DavItemId {
                        mailbox: cx.mailbox.clone(),
                        collection: d.href.clone(),
                        resource: res.clone(),
                        occurrence: None,
                    });
                    body.start("t:Delete", &[]).empty("t:ItemId", &[("Id", &id)]).end();
                }
            }
        }
        body.end();
        if all_fit {
            state.token = new_token.or(state.token.take());
        }
        state.known = known.into_iter().collect();
        state.known.sort_unstable();
        let st = cx.ids.dav_sync_state(&state);
        w.leaf("m:SyncState", &st);
        w.leaf("m:IncludesLastItemInRange", if all_fit { "true" } else { "false" });
        w.raw_text(&body.finish());
        Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
    }
    .await;
    vec![r.unwrap_or_else(|f| f.message())]
}

/// The current time.
pub fn now() -> DateTime<Utc> {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    DateTime::from_timestamp(secs as i64, 0).unwrap_or_default()
}

fn invalid_state() -> Fail {
    Fail::new("ErrorInvalidSyncStateData", "The sync state is not valid for this folder.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_hrefs_split_into_collection_and_resource() {
        assert_eq!(split_href("/alice/calendar/a.ics"), ("/alice/calendar/".into(), "a.ics".into()));
        assert_eq!(
            split_href("http://127.0.0.1:5232/alice/calendar/a%20b.ics"),
            ("/alice/calendar/".into(), "a%20b.ics".into())
        );
    }

    #[test]
    fn resource_names_come_from_safe_uids_only() {
        assert_eq!(resource_name("abc-123@example.test", "ics"), "abc-123@example.test.ics");
        let odd = resource_name("../../etc/passwd", "ics");
        assert!(odd.ends_with(".ics") && !odd.contains('/'));
        assert_ne!(resource_name("a b", "vcf"), resource_name("a  b", "vcf"));
        assert!(!resource_name("", "ics").is_empty());
    }
}
