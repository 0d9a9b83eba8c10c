//! EWS on the user's calendars, task lists and address books, kept on the CalDAV/CardDAV server.
//!
//! The mail operations in [`super::ops`] work on IMAP. This module adds the groupware side:
//! - [`folders`]: DAV collections as EWS folders (`calendar`, `contacts`, `tasks` and any other collection),
//!   merged into the folder tree under `msgfolderroot`, and created, renamed and deleted as collections;
//! - [`items`]: FindItem (with CalendarView expanded on the server side), GetItem, CreateItem, UpdateItem and
//!   DeleteItem on calendar items, contacts, contact groups and tasks, and SyncFolderItems from the collections'
//!   sync tokens;
//! - the codecs between EWS XML and the internal model (`calendar_xml`, `contact_xml`, `task_xml`); the
//!   iCalendar and vCard side is in `backend::dav`.
//!
//! Requests are routed here by what they name: a DAV folder id, the distinguished ids `calendar`, `contacts`
//! and `tasks`, a DAV item id, or a new item of a groupware type (see [`touches_dav`]).

pub mod calendar_xml;
pub mod codec;
pub mod contact_xml;
pub mod folders;
pub mod items;
pub mod meetings;
pub mod restriction;
pub mod task_xml;

use std::sync::Arc;

use crate::auth::Principal;
use crate::backend::dav::client::DavClient;
use crate::ews::xml::Element;
use crate::ids::{FolderRef, IdCodec};

/// The DAV side of one request: the shared client and the user it acts for.
#[derive(Clone)]
pub struct Groupware {
    pub client: Arc<DavClient>,
    pub principal: Principal,
    /// The DAV service account (`[dav] service_user`), when configured: used to put meetings into other local
    /// users' calendars and to record attendees' answers in the organizer's copy (see [`meetings`]).
    pub service: Option<Principal>,
}

/// The distinguished folder ids served from DAV collections.
pub const DAV_DISTINGUISHED: &[&str] = &["calendar", "contacts", "tasks"];

/// Item element names that are groupware items (MS-OXWSCAL CalendarItem, MS-OXWSCONT Contact and
/// DistributionList, MS-OXWSTASK Task).
pub const GROUPWARE_ITEMS: &[&str] = &["CalendarItem", "Contact", "DistributionList", "Task"];

/// Response objects of CreateItem that act on meetings (MS-OXWSMTGS 2.2.4.x AcceptItemType,
/// TentativelyAcceptItemType, DeclineItemType, CancelCalendarItemType): served by [`meetings`].
pub const MEETING_RESPONSES: &[&str] = &["AcceptItem", "TentativelyAcceptItem", "DeclineItem", "CancelCalendarItem"];

/// Whether a request names anything kept on the DAV server: a DAV folder or item id, a distinguished
/// groupware folder, a new groupware item or folder. Requests that do not are served from IMAP alone, without
/// a round trip to the DAV server.
pub fn touches_dav(op: &Element, ids: &IdCodec) -> bool {
    fn walk(el: &Element, ids: &IdCodec) -> bool {
        let hit = match el.name.as_str() {
            "DistinguishedFolderId" => el.attr("Id").is_some_and(|i| DAV_DISTINGUISHED.contains(&i)),
            "FolderId" => el
                .attr("Id")
                .and_then(|i| ids.parse_folder_id(i).ok())
                .is_some_and(|f| matches!(f.folder, FolderRef::Dav(_))),
            "AttachmentId" => el.attr("Id").is_some_and(|i| ids.parse_dav_attachment_id(i).is_ok()),
            "ItemId" | "OccurrenceItemId" | "RecurringMasterItemId" | "ParentItemId" => {
                el.attr("Id").or_else(|| el.attr("RecurringMasterId")).is_some_and(|i| ids.is_dav_item_id(i))
            }
            "CalendarFolder" | "ContactsFolder" | "TasksFolder" => true,
            n if MEETING_RESPONSES.contains(&n) => true,
            "FolderClass" => {
                let c = el.trimmed();
                c.starts_with("IPF.Appointment") || c.starts_with("IPF.Contact") || c.starts_with("IPF.Task")
            }
            n => GROUPWARE_ITEMS.contains(&n) && el.children.iter().any(|c| c.name != "ItemId"),
        };
        hit || el.children.iter().any(|c| walk(c, ids))
    }
    walk(op, ids)
}
