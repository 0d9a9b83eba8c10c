//! What the EWS operations need from a mail store, as a trait: the IMAP back-end implements it (see
//! `imap_store.rs`), and an in-memory store implements it for the unit tests of every operation. Keeping the
//! operations generic over this trait keeps them sans-IO and lets them be tested without a server.

use std::collections::BTreeMap;

use crate::error::{Error, Kind, Result};
use crate::model::directory::DirectoryEntry;
use crate::model::message::Importance;
use crate::model::mime_tree::{self, MimeNode};

/// RFC 6154 special-use attributes Viaduc maps to EWS distinguished folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Inbox,
    Drafts,
    Sent,
    Trash,
    Junk,
    Archive,
    All,
    Flagged,
}

/// One IMAP mailbox with its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderInfo {
    /// Full name, UTF-8 (decoded from modified UTF-7).
    pub name: String,
    pub delimiter: Option<char>,
    pub special: Option<Special>,
    /// Whether the mailbox can be selected (`\Noselect` / `\NonExistent` clear it).
    pub selectable: bool,
    pub messages: u32,
    pub unseen: u32,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    /// The server's folder object id (Dovecot `X-GUID`, RFC 8474 `MAILBOXID`), if it has one.
    pub guid: Option<String>,
}

/// A mail address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addr {
    pub name: Option<String>,
    pub email: String,
}

/// What a listing shows of one message (IMAP ENVELOPE, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ,
/// BODYSTRUCTURE-derived attachment flag).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MsgSummary {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Vec<String>,
    pub size: u32,
    /// INTERNALDATE, seconds since the Unix epoch (EWS DateTimeReceived).
    pub internal_date: i64,
    /// The Date header, seconds since the Unix epoch (EWS DateTimeSent).
    pub date: Option<i64>,
    pub subject: Option<String>,
    pub from: Option<Addr>,
    pub sender: Option<Addr>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub bcc: Vec<Addr>,
    pub reply_to: Vec<Addr>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// The References header's message ids (oldest first).
    pub references: Vec<String>,
    pub has_attachments: bool,
    /// The iTIP method (upper-case, possibly empty) of the message's `text/calendar` part: set for meeting
    /// messages (iMIP, RFC 6047), which EWS shows as MeetingRequest, MeetingResponse or MeetingCancellation.
    pub calendar_method: Option<String>,
    /// From the Importance / X-Priority / Priority headers (MS-OXCMAIL 2.2.3.2.5).
    pub importance: Importance,
}

impl MsgSummary {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// Sort keys FindItem can ask for (FieldOrder on these FieldURIs), mapped to RFC 5256 SORT keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// item:DateTimeReceived → ARRIVAL (INTERNALDATE).
    Received,
    /// item:DateTimeSent → DATE.
    Sent,
    /// item:Subject → SUBJECT.
    Subject,
    /// message:From / message:Sender → FROM.
    From,
    /// item:Size → SIZE.
    Size,
}

/// A search filter (a subset of EWS restrictions, MS-OXWSSRCH 2.2.4.x) that maps onto IMAP SEARCH keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// SEEN / UNSEEN.
    Seen(bool),
    /// FLAGGED / UNFLAGGED.
    Flagged(bool),
    /// SUBJECT "..." (substring, case-insensitive).
    Subject(String),
    /// FROM "...".
    From(String),
    /// BODY "...".
    Body(String),
    /// SINCE (received on or after, seconds since the epoch).
    ReceivedSince(i64),
    /// BEFORE.
    ReceivedBefore(i64),
    /// Matches nothing (an unsupported restriction that cannot be true, e.g. on a property IMAP lacks).
    Nothing,
}

/// Which page of which view of a folder to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub offset: u32,
    pub limit: u32,
    pub sort: SortField,
    pub descending: bool,
    pub filter: Option<Filter>,
}

/// What changed in a folder since a MODSEQ (RFC 7162 CHANGEDSINCE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    pub uid_validity: u32,
    pub highest_modseq: u64,
    /// Every UID currently in the folder, ascending.
    pub uids: Vec<u32>,
    /// Messages whose MODSEQ is above the given one (new and changed), ascending by UID.
    pub changed: Vec<MsgSummary>,
}

/// The mail operations EWS needs, on the authenticated user's mailbox.
#[allow(async_fn_in_trait)]
pub trait MailStore {
    async fn list_folders(&mut self) -> Result<Vec<FolderInfo>>;
    /// The folder list, possibly from a short-lived per-user cache: for resolving ids, never for counts (the
    /// item operations take counts and MODSEQs from a fresh STATUS/SELECT of the folder they touch).
    async fn list_folders_cached(&mut self) -> Result<Vec<FolderInfo>> {
        self.list_folders().await
    }
    /// The mail folder tree built from [`MailStore::list_folders_cached`]. A store that caches the list keeps
    /// the built tree with it, so the requests within the cache's lifetime share one tree instead of each
    /// sorting and linking the list again (every EWS item operation starts here).
    async fn folder_tree_cached(&mut self) -> Result<std::sync::Arc<Vec<crate::ews::ops::FolderNode>>> {
        Ok(std::sync::Arc::new(crate::ews::ops::build_tree(self.list_folders_cached().await?)))
    }
    async fn create_folder(&mut self, name: &str) -> Result<()>;
    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()>;
    async fn delete_folder(&mut self, name: &str) -> Result<()>;
    /// A page of a folder's messages, sorted and filtered, with the total number matching.
    async fn list_messages(&mut self, folder: &str, query: &ListQuery) -> Result<(u32, Vec<MsgSummary>)>;
    /// Summaries of the given UIDs (those that exist), ascending by UID.
    async fn summaries(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<MsgSummary>>;
    /// The whole RFC 5322 message, if the UID exists.
    async fn fetch_raw(&mut self, folder: &str, uid: u32) -> Result<Option<Vec<u8>>>;
    /// The summary and the whole message together (one `UID FETCH` on IMAP), if the UID exists.
    async fn fetch_full(&mut self, folder: &str, uid: u32) -> Result<Option<(MsgSummary, Vec<u8>)>> {
        let Some(s) = self.summaries(folder, &[uid]).await?.pop() else { return Ok(None) };
        Ok(self.fetch_raw(folder, uid).await?.map(|r| (s, r)))
    }
    /// [`MailStore::fetch_full`] of many UIDs of one folder (one or a few `UID FETCH` on IMAP); missing UIDs are
    /// left out.
    async fn fetch_full_many(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<(MsgSummary, Vec<u8>)>> {
        let mut out = Vec::new();
        for u in uids {
            if let Some(x) = self.fetch_full(folder, *u).await? {
                out.push(x);
            }
        }
        Ok(out)
    }
    /// [`MailStore::summaries`] in a folder whose UIDVALIDITY the caller has checked to be `uid_validity`;
    /// with `ids_only`, only `uid`, `modseq`, `flags` and `calendar_method` need to be filled in (ids, change
    /// keys, the item's kind). The IMAP store uses both to avoid re-selecting the folder and fetching headers.
    async fn summaries_in(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
        ids_only: bool,
    ) -> Result<Vec<MsgSummary>> {
        let _ = (uid_validity, ids_only);
        self.summaries(folder, uids).await
    }
    /// [`MailStore::fetch_full_many`] with what the caller knows, as for [`MailStore::summaries_in`].
    async fn fetch_full_many_in(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
        ids_only: bool,
    ) -> Result<Vec<(MsgSummary, Vec<u8>)>> {
        let _ = (uid_validity, ids_only);
        self.fetch_full_many(folder, uids).await
    }
    /// Adds and removes flags. With `unchanged_since` (RFC 7162 UNCHANGEDSINCE), returns the UIDs that were not
    /// changed because they were modified after it.
    async fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[String],
        remove: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<Vec<u32>>;
    /// Appends a message; returns (UIDVALIDITY, UID) of the new message (RFC 4315 APPENDUID).
    async fn append(&mut self, folder: &str, raw: &[u8], flags: &[String]) -> Result<(u32, u32)>;
    /// Moves messages; returns (old UID, new UID) pairs and the target's UIDVALIDITY (RFC 4315 COPYUID).
    async fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)>;
    async fn copy_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)>;
    /// Deletes messages for good (\Deleted + UID EXPUNGE).
    async fn delete_messages(&mut self, folder: &str, uids: &[u32]) -> Result<()>;
    /// With `modseq == 0` every message is new to the caller and `changed` may be left empty.
    async fn changes_since(&mut self, folder: &str, modseq: u64) -> Result<Changes>;
    /// Every UID in the folder, ascending.
    async fn uids(&mut self, folder: &str) -> Result<Vec<u32>>;
    /// Submits a message for delivery as the user (SMTP submission, RFC 6409).
    async fn submit(&mut self, from: &str, recipients: &[String], raw: &[u8]) -> Result<()>;
    /// Another user's folders that the caller may see (IMAP ACL, RFC 4314) through the server's "other users"
    /// namespace (RFC 2342): the prefix of that user's folders in the caller's session (e.g. `shared/bob/`) and
    /// the folders with their full names. `None` when the server has no such namespace.
    async fn other_user_folders(&mut self, owner: &str) -> Result<Option<(String, Vec<FolderInfo>)>>;
    /// UIDs of messages whose header `name` contains `value` (IMAP SEARCH HEADER), ascending.
    async fn find_header(&mut self, folder: &str, name: &str, value: &str) -> Result<Vec<u32>>;
    /// Directory entries matching an ambiguous name (display name, given name, surname, address, login).
    async fn resolve_names(&mut self, query: &str) -> Result<Vec<DirectoryEntry>>;
    /// Every entry of the Global Address List (users and distribution lists); empty without a directory.
    /// The automatic reply a colleague's mailbox would send the caller now: (reply text, and for a scheduled
    /// reply its [start, end) in Unix seconds), or `None` when replies are off or cannot be read (no ManageSieve
    /// server or no master credentials configured). For GetMailTips' OutOfOffice tip.
    async fn automatic_reply(&mut self, _entry: &DirectoryEntry) -> Result<Option<(String, Option<(i64, i64)>)>> {
        Ok(None)
    }
    async fn directory_entries(&mut self) -> Result<Vec<DirectoryEntry>> {
        Ok(Vec::new())
    }
    /// Whether a directory is configured (so that unknown addresses can be told apart from unknowable ones).
    fn has_directory(&self) -> bool {
        false
    }
    /// The MIME structure of a message without its content (IMAP `BODYSTRUCTURE`), in a folder whose
    /// UIDVALIDITY the caller checked to be `uid_validity`. `None` when the UID does not exist or the store
    /// cannot tell without fetching the message: callers then use [`MailStore::fetch_raw`].
    async fn mime_structure(&mut self, _folder: &str, _uid_validity: u32, _uid: u32) -> Result<Option<MimeNode>> {
        Ok(None)
    }
    /// The decoded size of the part at `section` and its MIME header block (IMAP `BINARY.SIZE[section]` and
    /// `BODY[section.MIME]`); `None` when there is no such part or the store cannot tell.
    async fn part_meta(
        &mut self,
        _folder: &str,
        _uid_validity: u32,
        _uid: u32,
        _section: &[u32],
    ) -> Result<Option<PartMeta>> {
        Ok(None)
    }
    /// File attachments whose encoded part is at least this large are streamed by GetAttachment rather than
    /// read with the whole message.
    fn stream_threshold(&self) -> u64 {
        crate::ews::attachment_stream::STREAM_THRESHOLD
    }
    /// `len` bytes of the decoded content of the part at `section` from `offset` (IMAP
    /// `BINARY.PEEK[section]<offset.len>`): fewer at its end, `None` when the message or part does not exist.
    async fn fetch_part_range(
        &mut self,
        _folder: &str,
        _uid_validity: u32,
        _uid: u32,
        _section: &[u32],
        _offset: u64,
        _len: u32,
    ) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// What [`MailStore::part_meta`] tells of one part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    /// Size of the content with the transfer encoding undone.
    pub size: u64,
    /// The part's MIME header block (Content-Type, Content-Disposition, ...), ending with the empty line.
    pub mime_headers: Vec<u8>,
}

// ------------------------------------------------------------------------------------------------ in memory

/// A message of the in-memory store.
#[derive(Debug, Clone)]
pub struct MemMessage {
    pub summary: MsgSummary,
    pub raw: Vec<u8>,
}

/// A folder of the in-memory store.
#[derive(Debug, Clone, Default)]
pub struct MemFolder {
    pub info: FolderInfo,
    pub messages: BTreeMap<u32, MemMessage>,
}

/// An in-memory mail store with IMAP semantics (UIDs, UIDVALIDITY, MODSEQ), for tests.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub folders: BTreeMap<String, MemFolder>,
    /// Messages submitted for sending: (envelope from, recipients, MIME).
    pub submitted: Vec<(String, Vec<String>, Vec<u8>)>,
    /// The directory ResolveNames searches.
    pub directory: Vec<DirectoryEntry>,
    /// The "other users" namespace prefix (e.g. `shared/`); folders under it belong to other users.
    pub other_users: Option<String>,
    /// How many [`MailStore::fetch_part_range`] calls were made (tests check that large parts are streamed).
    pub range_calls: usize,
    /// Overrides [`MailStore::stream_threshold`] (tests stream small parts to cover every layout).
    pub stream_threshold: Option<u64>,
    modseq: u64,
    next_validity: u32,
}

fn not_found(what: &str) -> Error {
    Error::client(Kind::NotFound, format!("no such mailbox: {what}"))
}

impl MemStore {
    /// The MIME bytes of a message, when the folder has that UIDVALIDITY and the UID exists.
    fn raw_in(&self, folder: &str, uid_validity: u32, uid: u32) -> Option<&[u8]> {
        let f = self.folders.get(folder).filter(|f| f.info.uid_validity == uid_validity)?;
        f.messages.get(&uid).map(|m| m.raw.as_slice())
    }

    /// A store with INBOX, Drafts, Sent, Trash, Junk and Archive (special-use), like the test stack.
    pub fn standard() -> MemStore {
        let mut s = MemStore { modseq: 1, next_validity: 1000, ..Default::default() };
        for (name, sp) in [
            ("INBOX", Some(Special::Inbox)),
            ("Drafts", Some(Special::Drafts)),
            ("Sent", Some(Special::Sent)),
            ("Trash", Some(Special::Trash)),
            ("Junk", Some(Special::Junk)),
            ("Archive", Some(Special::Archive)),
        ] {
            s.add_folder(name, sp);
        }
        s
    }

    pub fn add_folder(&mut self, name: &str, special: Option<Special>) {
        self.next_validity += 1;
        let info = FolderInfo {
            name: name.to_string(),
            delimiter: Some('/'),
            special,
            selectable: true,
            uid_validity: self.next_validity,
            uid_next: 1,
            highest_modseq: 1,
            guid: None,
            ..Default::default()
        };
        self.folders.insert(name.to_string(), MemFolder { info, messages: BTreeMap::new() });
    }

    fn bump(&mut self) -> u64 {
        self.modseq += 1;
        self.modseq
    }

    /// Adds a message with the given summary fields (uid and modseq are assigned) and raw text.
    pub fn add_message(&mut self, folder: &str, mut summary: MsgSummary, raw: &[u8]) -> u32 {
        let m = self.bump();
        let f = self.folders.get_mut(folder).expect("folder exists");
        let uid = f.info.uid_next;
        f.info.uid_next += 1;
        summary.uid = uid;
        summary.modseq = m;
        summary.size = raw.len() as u32;
        f.info.highest_modseq = m;
        f.messages.insert(uid, MemMessage { summary, raw: raw.to_vec() });
        Self::recount(f);
        uid
    }

    fn recount(f: &mut MemFolder) {
        f.info.messages = f.messages.len() as u32;
        f.info.unseen = f.messages.values().filter(|m| !m.summary.has_flag("\\Seen")).count() as u32;
    }

    fn matches(m: &MsgSummary, raw: &[u8], f: &Filter) -> bool {
        let has = |h: &Option<String>, s: &str| h.as_deref().unwrap_or("").to_lowercase().contains(&s.to_lowercase());
        match f {
            Filter::And(v) => v.iter().all(|x| Self::matches(m, raw, x)),
            Filter::Or(v) => v.iter().any(|x| Self::matches(m, raw, x)),
            Filter::Not(x) => !Self::matches(m, raw, x),
            Filter::Seen(b) => m.has_flag("\\Seen") == *b,
            Filter::Flagged(b) => m.has_flag("\\Flagged") == *b,
            Filter::Subject(s) => has(&m.subject, s),
            Filter::From(s) => {
                m.from.as_ref().is_some_and(|a| a.email.to_lowercase().contains(&s.to_lowercase()) || has(&a.name, s))
            }
            Filter::Body(s) => String::from_utf8_lossy(raw).to_lowercase().contains(&s.to_lowercase()),
            Filter::ReceivedSince(t) => m.internal_date >= *t,
            Filter::ReceivedBefore(t) => m.internal_date < *t,
            Filter::Nothing => false,
        }
    }
}

impl MailStore for MemStore {
    async fn list_folders(&mut self) -> Result<Vec<FolderInfo>> {
        let foreign =
            |n: &str| self.other_users.as_deref().is_some_and(|p| n.starts_with(p) || n == p.trim_end_matches('/'));
        Ok(self.folders.values().filter(|f| !foreign(&f.info.name)).map(|f| f.info.clone()).collect())
    }

    async fn other_user_folders(&mut self, owner: &str) -> Result<Option<(String, Vec<FolderInfo>)>> {
        let Some(ns) = &self.other_users else { return Ok(None) };
        let prefix = format!("{ns}{owner}/");
        let root = format!("{ns}{owner}");
        let list = self.folders.values().filter(|f| f.info.name.starts_with(&prefix) || f.info.name == root);
        Ok(Some((prefix.clone(), list.map(|f| f.info.clone()).collect())))
    }

    async fn create_folder(&mut self, name: &str) -> Result<()> {
        if self.folders.contains_key(name) {
            return Err(Error::client(Kind::Conflict, "mailbox exists"));
        }
        self.add_folder(name, None);
        Ok(())
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        if self.folders.contains_key(to) {
            return Err(Error::client(Kind::Conflict, "mailbox exists"));
        }
        let names: Vec<String> =
            self.folders.keys().filter(|n| *n == from || n.starts_with(&format!("{from}/"))).cloned().collect();
        if names.is_empty() {
            return Err(not_found(from));
        }
        for n in names {
            let mut f = self.folders.remove(&n).expect("listed");
            let new = format!("{to}{}", &n[from.len()..]);
            f.info.name = new.clone();
            self.folders.insert(new, f);
        }
        Ok(())
    }

    async fn delete_folder(&mut self, name: &str) -> Result<()> {
        self.folders.remove(name).map(|_| ()).ok_or_else(|| not_found(name))
    }

    async fn list_messages(&mut self, folder: &str, q: &ListQuery) -> Result<(u32, Vec<MsgSummary>)> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        let mut v: Vec<&MemMessage> = f
            .messages
            .values()
            .filter(|m| q.filter.as_ref().is_none_or(|x| Self::matches(&m.summary, &m.raw, x)))
            .collect();
        v.sort_by(|a, b| {
            let (a, b) = (&a.summary, &b.summary);
            let o = match q.sort {
                SortField::Received => a.internal_date.cmp(&b.internal_date),
                SortField::Sent => a.date.cmp(&b.date),
                SortField::Subject => a.subject.cmp(&b.subject),
                SortField::From => a.from.as_ref().map(|x| &x.email).cmp(&b.from.as_ref().map(|x| &x.email)),
                SortField::Size => a.size.cmp(&b.size),
            };
            o.then(a.uid.cmp(&b.uid))
        });
        if q.descending {
            v.reverse();
        }
        let total = v.len() as u32;
        let page = v.into_iter().skip(q.offset as usize).take(q.limit as usize).map(|m| m.summary.clone()).collect();
        Ok((total, page))
    }

    async fn summaries(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<MsgSummary>> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        let mut v: Vec<MsgSummary> = uids.iter().filter_map(|u| f.messages.get(u)).map(|m| m.summary.clone()).collect();
        v.sort_by_key(|m| m.uid);
        v.dedup_by_key(|m| m.uid);
        Ok(v)
    }

    async fn fetch_raw(&mut self, folder: &str, uid: u32) -> Result<Option<Vec<u8>>> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        Ok(f.messages.get(&uid).map(|m| m.raw.clone()))
    }

    async fn mime_structure(&mut self, folder: &str, uid_validity: u32, uid: u32) -> Result<Option<MimeNode>> {
        Ok(self.raw_in(folder, uid_validity, uid).and_then(mime_tree::from_mime))
    }

    async fn part_meta(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        section: &[u32],
    ) -> Result<Option<PartMeta>> {
        let Some(raw) = self.raw_in(folder, uid_validity, uid) else { return Ok(None) };
        let (Some(content), Some(mime_headers)) =
            (mime_tree::part_content(raw, section), mime_tree::part_headers(raw, section))
        else {
            return Ok(None);
        };
        Ok(Some(PartMeta { size: content.len() as u64, mime_headers }))
    }

    fn stream_threshold(&self) -> u64 {
        self.stream_threshold.unwrap_or(crate::ews::attachment_stream::STREAM_THRESHOLD)
    }

    async fn fetch_part_range(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        section: &[u32],
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        self.range_calls += 1;
        let Some(content) = self.raw_in(folder, uid_validity, uid).and_then(|r| mime_tree::part_content(r, section))
        else {
            return Ok(None);
        };
        let start = (offset.min(content.len() as u64)) as usize;
        let end = start.saturating_add(len as usize).min(content.len());
        Ok(Some(content[start..end].to_vec()))
    }

    async fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[String],
        remove: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<Vec<u32>> {
        let mut failed = Vec::new();
        for uid in uids {
            let m = self.bump();
            let f = self.folders.get_mut(folder).ok_or_else(|| not_found(folder))?;
            let Some(msg) = f.messages.get_mut(uid) else { continue };
            if unchanged_since.is_some_and(|u| msg.summary.modseq > u) {
                failed.push(*uid);
                continue;
            }
            let before = msg.summary.flags.clone();
            msg.summary.flags.retain(|x| !remove.iter().any(|r| r.eq_ignore_ascii_case(x)));
            for a in add {
                if !msg.summary.has_flag(a) {
                    msg.summary.flags.push(a.clone());
                }
            }
            if before != msg.summary.flags {
                msg.summary.modseq = m;
                f.info.highest_modseq = m;
            }
            Self::recount(f);
        }
        Ok(failed)
    }

    async fn append(&mut self, folder: &str, raw: &[u8], flags: &[String]) -> Result<(u32, u32)> {
        if !self.folders.contains_key(folder) {
            return Err(not_found(folder));
        }
        let mut summary = MsgSummary { flags: flags.to_vec(), internal_date: 1_700_000_000, ..Default::default() };
        if let Ok(m) = crate::model::message::Message::from_mime(raw) {
            let addr = |r: &crate::model::message::Recipient| Addr { name: r.name.clone(), email: r.address.clone() };
            summary.subject = m.subject.clone();
            summary.from = m.from.as_ref().map(addr);
            summary.to = m.to.iter().map(addr).collect();
            summary.cc = m.cc.iter().map(addr).collect();
            summary.message_id = m.message_id.clone();
            summary.has_attachments = m.attachments.iter().any(|a| !a.is_inline);
            summary.importance = m.importance;
        }
        summary.calendar_method = crate::ews::groupware::meetings::calendar_part(raw).map(|(m, _)| m);
        let uid = self.add_message(folder, summary, raw);
        Ok((self.folders[folder].info.uid_validity, uid))
    }

    async fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        let r = self.copy_messages(from, uids, to).await?;
        let moved: Vec<u32> = r.1.iter().map(|(o, _)| *o).collect();
        self.delete_messages(from, &moved).await?;
        Ok(r)
    }

    async fn copy_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        if !self.folders.contains_key(to) {
            return Err(not_found(to));
        }
        let src = self.folders.get(from).ok_or_else(|| not_found(from))?;
        let msgs: Vec<MemMessage> = uids.iter().filter_map(|u| src.messages.get(u).cloned()).collect();
        let mut map = Vec::new();
        for m in msgs {
            let new = self.add_message(to, m.summary.clone(), &m.raw);
            map.push((m.summary.uid, new));
        }
        Ok((self.folders[to].info.uid_validity, map))
    }

    async fn delete_messages(&mut self, folder: &str, uids: &[u32]) -> Result<()> {
        let m = self.bump();
        let f = self.folders.get_mut(folder).ok_or_else(|| not_found(folder))?;
        for u in uids {
            f.messages.remove(u);
        }
        f.info.highest_modseq = m;
        Self::recount(f);
        Ok(())
    }

    async fn changes_since(&mut self, folder: &str, modseq: u64) -> Result<Changes> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        Ok(Changes {
            uid_validity: f.info.uid_validity,
            highest_modseq: f.info.highest_modseq,
            uids: f.messages.keys().copied().collect(),
            changed: f.messages.values().filter(|m| m.summary.modseq > modseq).map(|m| m.summary.clone()).collect(),
        })
    }

    async fn uids(&mut self, folder: &str) -> Result<Vec<u32>> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        Ok(f.messages.keys().copied().collect())
    }

    async fn submit(&mut self, from: &str, recipients: &[String], raw: &[u8]) -> Result<()> {
        self.submitted.push((from.to_string(), recipients.to_vec(), raw.to_vec()));
        Ok(())
    }

    async fn find_header(&mut self, folder: &str, name: &str, value: &str) -> Result<Vec<u32>> {
        let f = self.folders.get(folder).ok_or_else(|| not_found(folder))?;
        let prefix = format!("{}:", name.to_lowercase());
        Ok(f.messages
            .values()
            .filter(|m| {
                let text = String::from_utf8_lossy(&m.raw);
                let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
                head.lines().any(|l| l.to_lowercase().starts_with(&prefix) && l.contains(value))
            })
            .map(|m| m.summary.uid)
            .collect())
    }

    async fn directory_entries(&mut self) -> Result<Vec<DirectoryEntry>> {
        Ok(self.directory.clone())
    }

    async fn resolve_names(&mut self, query: &str) -> Result<Vec<DirectoryEntry>> {
        let q = query.to_lowercase();
        let hit = |s: &Option<String>| s.as_deref().is_some_and(|v| v.to_lowercase().starts_with(&q));
        Ok(self
            .directory
            .iter()
            .filter(|e| {
                e.display_name.to_lowercase().contains(&q)
                    || e.mail.starts_with(&q)
                    || hit(&e.given_name)
                    || hit(&e.surname)
                    || e.login.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(query))
            })
            .cloned()
            .collect())
    }
}
