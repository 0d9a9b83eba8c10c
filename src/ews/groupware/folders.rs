//! DAV collections as EWS folders (MS-OXWSFOLD): calendars (`t:CalendarFolder`, IPF.Appointment), task lists
//! (`t:TasksFolder`, IPF.Task) and address books (`t:ContactsFolder`, IPF.Contact).
//!
//! Every collection of the user's calendar and address-book homes becomes a child of `msgfolderroot`; its
//! folder id is its path ([`FolderRef::Dav`]), which DAV servers keep when the display name changes. The
//! distinguished folders `calendar`, `tasks` and `contacts` are the first collection of each kind (one named
//! like the distinguished id is preferred). A mailbox without one gets it created the first time a client asks
//! for it, as every Exchange mailbox has them.

use super::Groupware;
use crate::backend::dav::client::{CalComponent, Collection, CollectionKind};
use crate::error::{Error, Kind, Result};
use crate::ews::ops::FolderNode;
use crate::ids::FolderRef;

/// What a DAV folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavKind {
    Calendar,
    Tasks,
    Contacts,
}

impl DavKind {
    /// The container class (MS-OXOSFLD 2.2.7 PidTagContainerClass values).
    pub fn folder_class(self) -> &'static str {
        match self {
            DavKind::Calendar => "IPF.Appointment",
            DavKind::Tasks => "IPF.Task",
            DavKind::Contacts => "IPF.Contact",
        }
    }

    /// The EWS element of a folder of this kind (MS-OXWSFOLD 2.2.4: CalendarFolderType, TasksFolderType,
    /// ContactsFolderType).
    pub fn element(self) -> &'static str {
        match self {
            DavKind::Calendar => "t:CalendarFolder",
            DavKind::Tasks => "t:TasksFolder",
            DavKind::Contacts => "t:ContactsFolder",
        }
    }

    pub fn distinguished(self) -> &'static str {
        match self {
            DavKind::Calendar => "calendar",
            DavKind::Tasks => "tasks",
            DavKind::Contacts => "contacts",
        }
    }

    /// The kind a distinguished folder id names.
    pub fn from_distinguished(id: &str) -> Option<DavKind> {
        match id {
            "calendar" => Some(DavKind::Calendar),
            "tasks" => Some(DavKind::Tasks),
            "contacts" => Some(DavKind::Contacts),
            _ => None,
        }
    }

    /// The kind of a folder being created, from its element name or FolderClass.
    pub fn from_new_folder(element: &str, class: Option<&str>) -> Option<DavKind> {
        match (element, class.unwrap_or("")) {
            ("CalendarFolder", _) => Some(DavKind::Calendar),
            ("TasksFolder", _) => Some(DavKind::Tasks),
            ("ContactsFolder", _) => Some(DavKind::Contacts),
            (_, c) if c.starts_with("IPF.Appointment") => Some(DavKind::Calendar),
            (_, c) if c.starts_with("IPF.Task") => Some(DavKind::Tasks),
            (_, c) if c.starts_with("IPF.Contact") => Some(DavKind::Contacts),
            _ => None,
        }
    }

    /// The kind of a collection: an address book, a calendar of events (VEVENT; also one that takes both, as
    /// a server without a component set advertises), or a task list (VTODO without VEVENT).
    pub fn of(c: &Collection) -> Option<DavKind> {
        match &c.kind {
            CollectionKind::AddressBook => Some(DavKind::Contacts),
            CollectionKind::Calendar { components } if components.contains(&CalComponent::Event) => {
                Some(DavKind::Calendar)
            }
            CollectionKind::Calendar { components } if components.contains(&CalComponent::Todo) => Some(DavKind::Tasks),
            CollectionKind::Calendar { .. } => None,
        }
    }
}

/// The DAV facts of a folder node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavFolder {
    pub kind: DavKind,
    /// The collection's path, with its trailing slash.
    pub href: String,
    pub read_only: bool,
    /// Changes whenever the collection's content does (CalendarServer ctag, else the RFC 6578 sync token).
    pub version: Option<String>,
    /// How many objects it holds, when counted for this answer (see [`Groupware::count`]).
    pub count: Option<u32>,
}

/// The folder nodes of a collection listing, children of `msgfolderroot`, sorted by kind then name, with the
/// distinguished ones marked.
pub fn nodes_of(collections: &[Collection]) -> Vec<FolderNode> {
    let mut cols: Vec<(&Collection, DavKind)> =
        collections.iter().filter_map(|c| DavKind::of(c).map(|k| (c, k))).collect();
    cols.sort_by_key(|(c, k)| (*k as u8, display_of(c).to_lowercase()));
    let mut nodes = Vec::new();
    for kind in [DavKind::Calendar, DavKind::Tasks, DavKind::Contacts] {
        let of_kind: Vec<&Collection> = cols.iter().filter(|(_, k)| *k == kind).map(|(c, _)| *c).collect();
        let named = |c: &&Collection| {
            let leaf = c.href.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            leaf.eq_ignore_ascii_case(kind.distinguished()) || display_of(c).eq_ignore_ascii_case(kind.distinguished())
        };
        let default =
            of_kind.iter().position(|c| named(c) && !c.read_only).or(if of_kind.is_empty() { None } else { Some(0) });
        for (i, c) in of_kind.iter().enumerate() {
            let distinguished = (Some(i) == default).then(|| kind.distinguished());
            nodes.push(FolderNode {
                r: FolderRef::Dav(c.href.clone()),
                name: None,
                display: match distinguished {
                    // Outlook shows the distinguished folders under their usual names.
                    Some(_) if display_of(c).is_empty() => default_display(kind).to_string(),
                    _ => display_of(c),
                },
                parent: Some(FolderRef::MsgFolderRoot),
                info: None,
                distinguished,
                child_count: 0,
                delimiter: None,
                dav: Some(DavFolder {
                    kind,
                    href: c.href.clone(),
                    read_only: c.read_only,
                    version: c.ctag.clone().or_else(|| c.sync_token.clone()),
                    count: None,
                }),
            });
        }
    }
    nodes
}

fn display_of(c: &Collection) -> String {
    c.display_name
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| c.href.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string())
}

fn default_display(kind: DavKind) -> &'static str {
    match kind {
        DavKind::Calendar => "Calendar",
        DavKind::Tasks => "Tasks",
        DavKind::Contacts => "Contacts",
    }
}

/// A collection path segment for a new folder: its display name made URL-safe, made unique with a suffix.
pub fn segment_for(display: &str, existing: &[FolderNode]) -> String {
    let base: String = display
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let base = if base.is_empty() { "folder".to_string() } else { base };
    let taken = |s: &str| {
        existing
            .iter()
            .any(|n| n.dav.as_ref().is_some_and(|d| d.href.trim_end_matches('/').rsplit('/').next() == Some(s)))
    };
    if !taken(&base) {
        return base;
    }
    (2..).map(|i| format!("{base}-{i}")).find(|s| !taken(s)).unwrap_or(base)
}

impl Groupware {
    /// The user's collections as folder nodes.
    pub async fn folder_nodes(&self) -> Result<Vec<FolderNode>> {
        let cols = self.client.list_collections(&self.principal).await?;
        Ok(nodes_of(&cols))
    }

    /// Creates a collection of `kind` named `display`; returns its path.
    pub async fn create(&self, kind: DavKind, segment: &str, display: &str) -> Result<String> {
        let p = &self.principal;
        match kind {
            DavKind::Calendar => self.client.mkcalendar(p, segment, display, &[CalComponent::Event]).await,
            DavKind::Tasks => self.client.mkcalendar(p, segment, display, &[CalComponent::Todo]).await,
            DavKind::Contacts => self.client.mkaddressbook(p, segment, display).await,
        }
    }

    /// Creates the default collection of a distinguished folder the user lacks.
    pub async fn provision(&self, kind: DavKind) -> Result<()> {
        tracing::info!(user = %self.principal.mail, folder = kind.distinguished(), "creating missing DAV collection");
        match self.create(kind, kind.distinguished(), default_display(kind)).await {
            Ok(_) => Ok(()),
            // Another request created it meanwhile.
            Err(e) if e.kind == Kind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn rename(&self, href: &str, display: &str) -> Result<()> {
        self.client.proppatch_displayname(&self.principal, href, display).await
    }

    pub async fn delete(&self, href: &str) -> Result<()> {
        self.client.delete_collection(&self.principal, href).await
    }

    /// Deletes every object of a collection (EmptyFolder), keeping the collection.
    pub async fn empty(&self, href: &str) -> Result<()> {
        for (obj, etag) in self.client.list_etags(&self.principal, href).await? {
            match self.client.delete(&self.principal, &obj, Some(&etag)).await {
                Ok(()) => {}
                Err(e) if e.kind == Kind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Fills in the object count of DAV folder nodes (one PROPFIND of ETags per collection).
    pub async fn count(&self, nodes: &mut [FolderNode]) {
        for n in nodes.iter_mut() {
            if let Some(d) = n.dav.as_mut()
                && d.count.is_none()
            {
                match self.client.list_etags(&self.principal, &d.href).await {
                    Ok(list) => d.count = Some(list.len() as u32),
                    Err(e) => tracing::debug!(error = %e, href = %d.href, "DAV folder count failed"),
                }
            }
        }
    }
}

/// An error for a DAV folder operation that EWS cannot express more precisely.
pub fn unsupported(what: &str) -> Error {
    Error::client(Kind::NotSupported, format!("{what} is not supported on calendar, contact and task folders"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(href: &str, name: &str, kind: CollectionKind) -> Collection {
        Collection {
            href: href.into(),
            display_name: Some(name.into()),
            kind,
            ctag: Some("c1".into()),
            sync_token: None,
            color: None,
            read_only: false,
        }
    }

    #[test]
    fn collections_become_distinguished_folders() {
        let cols = vec![
            col("/a/work/", "Work", CollectionKind::Calendar { components: vec![CalComponent::Event] }),
            col("/a/calendar/", "Calendar", CollectionKind::Calendar { components: vec![CalComponent::Event] }),
            col("/a/tasks/", "Tasks", CollectionKind::Calendar { components: vec![CalComponent::Todo] }),
            col("/a/contacts/", "", CollectionKind::AddressBook),
            col("/a/journal/", "J", CollectionKind::Calendar { components: vec![CalComponent::Journal] }),
        ];
        let nodes = nodes_of(&cols);
        assert_eq!(nodes.len(), 4, "the journal-only collection is not shown");
        let cal = nodes.iter().find(|n| n.distinguished == Some("calendar")).unwrap();
        assert_eq!(cal.r, FolderRef::Dav("/a/calendar/".into()));
        assert_eq!(nodes.iter().filter(|n| n.dav.as_ref().unwrap().kind == DavKind::Calendar).count(), 2);
        let contacts = nodes.iter().find(|n| n.distinguished == Some("contacts")).unwrap();
        assert_eq!(contacts.display, "contacts", "a nameless collection shows its path segment");
        assert!(nodes.iter().any(|n| n.distinguished == Some("tasks")));
        assert!(nodes.iter().all(|n| n.parent == Some(FolderRef::MsgFolderRoot)));
    }

    #[test]
    fn new_segments_are_safe_and_unique() {
        let nodes =
            nodes_of(&[col("/a/team-plans/", "x", CollectionKind::Calendar { components: vec![CalComponent::Event] })]);
        assert_eq!(segment_for("Team Plans", &nodes), "team-plans-2");
        assert_eq!(segment_for("../..", &[]), "folder");
        assert_eq!(segment_for("Été", &[]), "t");
    }
}
