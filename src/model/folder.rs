//! Folders as the front-ends see them: a kind (what items it holds), a display name and its place in the tree.
//! Mail folders come from IMAP mailboxes (see `backend::imap::store::MailboxInfo`), calendars, contacts and
//! tasks from DAV collections.

/// What a folder holds (MS-OXOSFLD: the container class, `IPF.Note`, `IPF.Appointment`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FolderKind {
    Mail,
    Calendar,
    Contacts,
    Tasks,
    Notes,
    Journal,
    /// Search folders and anything else.
    Other,
}

impl FolderKind {
    /// The PidTagContainerClass / EWS FolderClass value.
    pub fn container_class(self) -> &'static str {
        match self {
            FolderKind::Mail => "IPF.Note",
            FolderKind::Calendar => "IPF.Appointment",
            FolderKind::Contacts => "IPF.Contact",
            FolderKind::Tasks => "IPF.Task",
            FolderKind::Notes => "IPF.StickyNote",
            FolderKind::Journal => "IPF.Journal",
            FolderKind::Other => "IPF",
        }
    }

    /// The kind for a container class (prefix match: `IPF.Note.OutlookHomepage` is mail).
    pub fn from_container_class(class: &str) -> FolderKind {
        let c = class.to_ascii_lowercase();
        let is = |p: &str| c == p || c.starts_with(&format!("{p}."));
        if is("ipf.note") || c == "ipf.imap" {
            FolderKind::Mail
        } else if is("ipf.appointment") {
            FolderKind::Calendar
        } else if is("ipf.contact") {
            FolderKind::Contacts
        } else if is("ipf.task") {
            FolderKind::Tasks
        } else if is("ipf.stickynote") {
            FolderKind::Notes
        } else if is("ipf.journal") {
            FolderKind::Journal
        } else {
            FolderKind::Other
        }
    }
}

/// A well-known folder (EWS DistinguishedFolderId, MAPI special folders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WellKnown {
    Inbox,
    Drafts,
    SentItems,
    DeletedItems,
    JunkEmail,
    Archive,
    Outbox,
    Calendar,
    Contacts,
    Tasks,
}

/// A folder of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub kind: FolderKind,
    /// The last path segment, as shown to the user.
    pub display_name: String,
    /// The backend path of the parent (`None` at the top level). For IMAP, the full mailbox name of the parent.
    pub parent_path: Option<String>,
    /// The backend path of the folder itself (IMAP full mailbox name, DAV href).
    pub path: String,
    pub well_known: Option<WellKnown>,
    pub total_count: u32,
    pub unread_count: u32,
    pub child_count: u32,
}

impl Folder {
    /// Splits an IMAP-style full name into (parent path, display name) with the hierarchy delimiter.
    pub fn split_path(full: &str, delimiter: Option<char>) -> (Option<String>, String) {
        match delimiter.and_then(|d| full.rsplit_once(d)) {
            Some((parent, name)) if !parent.is_empty() => (Some(parent.to_string()), name.to_string()),
            _ => (None, full.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_paths() {
        assert_eq!(FolderKind::from_container_class("IPF.Note.OutlookHomepage"), FolderKind::Mail);
        assert_eq!(FolderKind::from_container_class("IPF.Appointment"), FolderKind::Calendar);
        assert_eq!(FolderKind::from_container_class("IPF.Notebook"), FolderKind::Other);
        assert_eq!(FolderKind::Tasks.container_class(), "IPF.Task");
        assert_eq!(Folder::split_path("Projects/Gateway", Some('/')), (Some("Projects".into()), "Gateway".into()));
        assert_eq!(Folder::split_path("INBOX", Some('/')), (None, "INBOX".into()));
        assert_eq!(Folder::split_path("a.b", None), (None, "a.b".into()));
    }
}
