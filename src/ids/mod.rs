//! Stable, opaque, authenticated ids handed to clients, derived from back-end identifiers (no database).
//! Design and trade-offs: docs/adr/0001-ews-ids.md.
//!
//! Every id is `base64(version ‖ kind ‖ payload ‖ tag)` where `tag` is the first 16 bytes of
//! HMAC-SHA256(key, version ‖ kind ‖ payload) and `key` is the deployment's id key (`Gateway::id_key`, the same
//! on every instance). The payload always starts with the mailbox address the object belongs to, so an id names
//! its owner and cannot be replayed against another mailbox or another deployment.
//!
//! - Folder id: mailbox + folder reference ([`FolderRef`]: the two virtual roots, the IMAP server's folder
//!   object id (Dovecot `X-GUID`, RFC 8474 `MAILBOXID`) when it has one, else the IMAP mailbox name).
//! - Item id: mailbox + folder reference + UIDVALIDITY + UID (RFC 3501 2.3.1.1: the pair is unique and stable
//!   for the life of the message in that folder).
//! - Change key: the MODSEQ of the object (RFC 7162 3.1.1), so a change key changes whenever the message does.
//! - Item sync state: mailbox + folder + UIDVALIDITY + HIGHESTMODSEQ + the UIDs the client knows, as ranges.
//! - Folder-hierarchy sync state: mailbox + (folder reference, property hash) for each folder the client knows.
//! - Attachment id: the item id's fields + the attachment's index; for an attachment of an attached message
//!   (kind 14, since the nested item attachments of MS-OXWSATT were added) also the indexes inside the attached
//!   messages, outermost first. Ids of kind 6 (no nesting) keep their layout, so ids clients hold stay valid.
//! - Directory persona id (FindPeople on the Global Address List): the caller's mailbox + the entry's address.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Encoding version. Bump it when the layout changes; old versions stay decodable as long as clients may
/// hold them.
pub const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Longest id text accepted for decoding (a sync state of a large, fragmented folder is the largest).
pub const MAX_ID_LEN: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum IdKind {
    Folder = 1,
    Item = 2,
    ChangeKey = 3,
    ItemSync = 4,
    FolderSync = 5,
    Attachment = 6,
    Subscription = 7,
    Watermark = 8,
    DavItem = 9,
    DavChangeKey = 10,
    DavSync = 11,
    DavAttachment = 13,
    /// An attachment of an attached message (of an attached message ...): [`AttachmentId::nested`] not empty.
    NestedAttachment = 14,
    GalPersona = 12,
}

/// Why an id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Not base64, wrong version, truncated, wrong kind, or the tag does not verify (tampered, or issued by
    /// another deployment): `ErrorInvalidIdMalformed`.
    Malformed,
}

/// Which folder an id points to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FolderRef {
    /// The mailbox root (`root`), above the IPM subtree.
    Root,
    /// The top of the message store (`msgfolderroot`); its children are the IMAP top-level mailboxes.
    MsgFolderRoot,
    /// An IMAP mailbox by name (used when the server has no folder object id).
    Name(String),
    /// An IMAP mailbox by the server's object id (X-GUID or MAILBOXID): survives renames.
    Object(String),
    /// A CalDAV calendar or task list, or a CardDAV address book, by its collection path (the href's path,
    /// e.g. `/alice@example.test/calendar/`). DAV servers keep a collection's URL when its display name
    /// changes, so the id survives renames.
    Dav(String),
}

impl FolderRef {
    /// The collection path, for a DAV folder.
    pub fn dav_path(&self) -> Option<&str> {
        match self {
            FolderRef::Dav(p) => Some(p),
            _ => None,
        }
    }
}

/// A decoded folder id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderId {
    pub mailbox: String,
    pub folder: FolderRef,
}

/// A decoded item id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId {
    pub mailbox: String,
    pub folder: FolderRef,
    pub uid_validity: u32,
    pub uid: u32,
}

/// A decoded id of a calendar item, contact or task stored on the CalDAV/CardDAV server: the collection, the
/// object's resource name in it, and for one occurrence of a series its original start (its RECURRENCE-ID, in
/// seconds since the Unix epoch, UTC). Resource names are chosen by whoever created the object and stay the
/// same for its life (RFC 4791 5.3.2 / RFC 6352 6.3.2: a PUT to the same URL replaces the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavItemId {
    pub mailbox: String,
    pub collection: String,
    pub resource: String,
    pub occurrence: Option<i64>,
}

/// A decoded sync state of a DAV folder (SyncFolderItems on calendars, contacts and tasks): the collection,
/// the server's sync token (RFC 6578) when it has one, and what the client has been told so far, as
/// (hash of the resource name, hash of its ETag) pairs sorted by the first. The pairs tell a new object
/// (Create) from a changed one (Update) and make replaying a token after a truncated answer harmless.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DavSyncState {
    pub mailbox: String,
    pub collection: String,
    pub token: Option<String>,
    pub known: Vec<(u64, u32)>,
}

/// A decoded attachment id: the item and the attachment's position among its attachments (0-based); for an
/// attachment inside an attached message, `index` is the attached message's position and `nested` the
/// positions inside it (and inside messages attached to it), outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentId {
    pub item: ItemId,
    pub index: u32,
    pub nested: Vec<u32>,
}

/// Most levels of attached messages an attachment id may go down.
pub const MAX_ATTACHMENT_NESTING: usize = 16;

impl AttachmentId {
    /// The whole path of indexes, outermost first.
    pub fn path(&self) -> Vec<u32> {
        std::iter::once(self.index).chain(self.nested.iter().copied()).collect()
    }
    /// The id of the `index`-th attachment of the attached message this id names.
    pub fn child(&self, index: u32) -> AttachmentId {
        let mut nested = self.nested.clone();
        nested.push(index);
        AttachmentId { item: self.item.clone(), index: self.index, nested }
    }
}

/// A decoded item sync state (SyncFolderItems).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemSyncState {
    pub mailbox: String,
    pub folder: Option<FolderRef>,
    pub uid_validity: u32,
    pub modseq: u64,
    /// The UIDs the client has, as sorted, non-overlapping, non-adjacent inclusive ranges.
    pub known: Vec<(u32, u32)>,
    /// The flags the client was sent of each known item, when they fit ([`FlagState::MAX_RANGES`]): lets the
    /// next round tell a read-state-only change (ReadFlagChange) from others. An optional trailing extension of
    /// the encoding: states issued without it (before it existed, or too large) decode with `None`.
    pub flags: Option<FlagState>,
}

/// The flags of the known items as last sent to the client, compressed: the `\Seen` ones as UID ranges, and
/// the others grouped by a hash of their other flags ([`other_flags_hash`]); an item in no group has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagState {
    pub seen: Vec<(u32, u32)>,
    /// (hash of the other flags, UIDs having exactly those), hashes distinct and non-zero.
    pub others: Vec<(u32, Vec<(u32, u32)>)>,
}

impl FlagState {
    /// Largest number of ranges (all lists together) kept in a sync state; beyond it the extension is left out
    /// and changes are reported as Update.
    pub const MAX_RANGES: usize = 512;

    /// Builds the state from each known UID's flags (ascending UIDs); `None` when it would exceed
    /// [`FlagState::MAX_RANGES`].
    pub fn build(items: impl IntoIterator<Item = (u32, bool, u32)>) -> Option<FlagState> {
        let mut seen = Vec::new();
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        for (uid, is_seen, other) in items {
            if is_seen {
                seen.push(uid);
            }
            if other != 0 {
                match groups.iter().position(|(h, _)| *h == other) {
                    Some(i) => groups[i].1.push(uid),
                    None if groups.len() >= Self::MAX_RANGES => return None,
                    None => groups.push((other, vec![uid])),
                }
            }
        }
        let st =
            FlagState { seen: uid_ranges(seen), others: groups.into_iter().map(|(h, v)| (h, uid_ranges(v))).collect() };
        let n = st.seen.len() + st.others.iter().map(|(_, r)| r.len() + 1).sum::<usize>();
        (n <= Self::MAX_RANGES).then_some(st)
    }

    /// What the state records for `uid`: whether it was `\Seen`, and the hash of its other flags (0: none).
    pub fn of(&self, uid: u32) -> (bool, u32) {
        let other = self.others.iter().find(|(_, r)| ranges_contain(r, uid)).map(|(h, _)| *h).unwrap_or(0);
        (ranges_contain(&self.seen, uid), other)
    }
}

/// A hash of a message's flags other than `\Seen` and `\Recent` (case-insensitive, order-independent); 0 when
/// it has none. Messages are immutable in IMAP (RFC 3501 2.3.1): what a MODSEQ change (RFC 7162) can change is
/// the flags, so equal hashes mean only `\Seen` changed (but for a 1-in-2^32 collision).
pub fn other_flags_hash(flags: &[String]) -> u32 {
    let mut v: Vec<String> = flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Seen") && !f.eq_ignore_ascii_case("\\Recent"))
        .map(|f| f.to_ascii_lowercase())
        .collect();
    if v.is_empty() {
        return 0;
    }
    v.sort();
    v.dedup();
    let parts: Vec<&str> = v.iter().map(String::as_str).collect();
    fnv32(&parts).max(1)
}

/// A decoded folder-hierarchy sync state (SyncFolderHierarchy): each known folder and a hash of the
/// properties the client saw (display name, parent, class).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderSyncState {
    pub mailbox: String,
    pub folders: Vec<(FolderRef, u32)>,
}

/// What a notification watermark or subscription remembers of one folder: the same facts as an item sync
/// state (UIDVALIDITY, the MODSEQ changes were reported up to, the UIDs known).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderState {
    pub folder: Option<FolderRef>,
    pub uid_validity: u32,
    pub modseq: u64,
    pub known: Vec<(u32, u32)>,
}

/// A notification watermark (GetEvents): the state of every subscribed folder after the events reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watermark {
    pub mailbox: String,
    pub folders: Vec<FolderState>,
}

/// A notification subscription (Subscribe): which folders and events, and (for streaming subscriptions, which
/// have no watermark on the wire) the folders' state when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub mailbox: String,
    pub streaming: bool,
    /// Bit set of event types (see `ews::ops::notify`).
    pub events: u16,
    /// SubscribeToAllFolders: every mail folder, as listed when events are computed.
    pub all_folders: bool,
    pub folders: Vec<FolderRef>,
    pub initial: Vec<FolderState>,
}

/// Encodes and verifies ids with one deployment key.
#[derive(Clone)]
pub struct IdCodec {
    key: [u8; 32],
}

impl std::fmt::Debug for IdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdCodec(..)")
    }
}

// ---------------------------------------------------------------- byte helpers

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn folder(&mut self, f: &FolderRef) {
        match f {
            FolderRef::Root => self.u8(0),
            FolderRef::MsgFolderRoot => self.u8(1),
            FolderRef::Name(n) => {
                self.u8(2);
                self.str(n);
            }
            FolderRef::Object(o) => {
                self.u8(3);
                self.str(o);
            }
            FolderRef::Dav(p) => {
                self.u8(4);
                self.str(p);
            }
        }
    }
}

impl Out {
    fn ranges(&mut self, known: &[(u32, u32)]) {
        // Ranges as deltas: gap from the previous range's end, then length.
        self.varint(known.len() as u64);
        let mut prev = 0u32;
        for (lo, hi) in known {
            self.varint(u64::from(lo.wrapping_sub(prev)));
            self.varint(u64::from(hi - lo));
            prev = *hi;
        }
    }
    fn folder_state(&mut self, f: &FolderState) {
        match &f.folder {
            Some(r) => {
                self.u8(1);
                self.folder(r);
            }
            None => self.u8(0),
        }
        self.u32(f.uid_validity);
        self.u64(f.modseq);
        self.ranges(&f.known);
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IdError> {
        if self.0.len() < n {
            return Err(IdError::Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, IdError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, IdError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| IdError::Malformed)?))
    }
    fn u64(&mut self) -> Result<u64, IdError> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| IdError::Malformed)?))
    }
    fn varint(&mut self) -> Result<u64, IdError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(IdError::Malformed)
    }
    fn str(&mut self) -> Result<String, IdError> {
        let n = self.varint()?;
        if n > 4096 {
            return Err(IdError::Malformed);
        }
        String::from_utf8(self.take(n as usize)?.to_vec()).map_err(|_| IdError::Malformed)
    }
    fn folder(&mut self) -> Result<FolderRef, IdError> {
        Ok(match self.u8()? {
            0 => FolderRef::Root,
            1 => FolderRef::MsgFolderRoot,
            2 => FolderRef::Name(self.str()?),
            3 => FolderRef::Object(self.str()?),
            4 => FolderRef::Dav(self.str()?),
            _ => return Err(IdError::Malformed),
        })
    }
    fn ranges(&mut self) -> Result<Vec<(u32, u32)>, IdError> {
        let n = self.varint()?;
        if n > 1 << 22 {
            return Err(IdError::Malformed);
        }
        let mut known = Vec::with_capacity((n as usize).min(4096));
        let mut prev = 0u32;
        for _ in 0..n {
            let lo = u32::try_from(u64::from(prev) + self.varint()?).map_err(|_| IdError::Malformed)?;
            let hi = u32::try_from(u64::from(lo) + self.varint()?).map_err(|_| IdError::Malformed)?;
            known.push((lo, hi));
            prev = hi;
        }
        Ok(known)
    }
    fn folder_state(&mut self) -> Result<FolderState, IdError> {
        let folder = match self.u8()? {
            0 => None,
            1 => Some(self.folder()?),
            _ => return Err(IdError::Malformed),
        };
        Ok(FolderState { folder, uid_validity: self.u32()?, modseq: self.u64()?, known: self.ranges()? })
    }
    fn end(&self) -> Result<(), IdError> {
        if self.0.is_empty() { Ok(()) } else { Err(IdError::Malformed) }
    }
}

/// Normalises a set of UIDs into sorted, merged inclusive ranges.
pub fn uid_ranges(uids: impl IntoIterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut v: Vec<u32> = uids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for u in v {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(u) => *hi = u,
            _ => out.push((u, u)),
        }
    }
    out
}

/// Whether `uid` is in the ranges.
pub fn ranges_contain(ranges: &[(u32, u32)], uid: u32) -> bool {
    ranges
        .binary_search_by(|(lo, hi)| {
            if *hi < uid {
                std::cmp::Ordering::Less
            } else if *lo > uid {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Iterates the UIDs in the ranges.
pub fn ranges_iter(ranges: &[(u32, u32)]) -> impl Iterator<Item = u32> + '_ {
    ranges.iter().flat_map(|(lo, hi)| *lo..=*hi)
}

impl IdCodec {
    pub fn new(key: [u8; 32]) -> IdCodec {
        IdCodec { key }
    }

    fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&full[..TAG_LEN]);
        t
    }

    fn seal(&self, kind: IdKind, payload: impl FnOnce(&mut Out)) -> Vec<u8> {
        let mut out = Out(vec![VERSION, kind as u8]);
        payload(&mut out);
        let tag = self.tag(&out.0);
        out.0.extend_from_slice(&tag);
        out.0
    }

    fn text(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Verifies raw id bytes and returns the payload reader for the expected kind.
    fn open_bytes<'a>(&self, raw: &'a [u8], kind: IdKind) -> Result<In<'a>, IdError> {
        if raw.len() < 2 + TAG_LEN || raw[0] != VERSION || raw[1] != kind as u8 {
            return Err(IdError::Malformed);
        }
        let (data, tag) = raw.split_at(raw.len() - TAG_LEN);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(data);
        mac.verify_truncated_left(tag).map_err(|_| IdError::Malformed)?;
        Ok(In(&data[2..]))
    }

    /// Decodes the text form of an id (standard base64; URL-safe base64 is accepted too, for OwaId).
    pub fn raw(text: &str) -> Result<Vec<u8>, IdError> {
        let t = text.trim();
        if t.is_empty() || t.len() > MAX_ID_LEN {
            return Err(IdError::Malformed);
        }
        STANDARD.decode(t).or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))).map_err(|_| IdError::Malformed)
    }

    fn open<'a>(&self, raw: &'a [u8], kind: IdKind) -> Result<In<'a>, IdError> {
        self.open_bytes(raw, kind)
    }

    // ------------------------------------------------------------ folders

    pub fn folder_id(&self, id: &FolderId) -> String {
        Self::text(&self.seal(IdKind::Folder, |o| {
            o.str(&id.mailbox);
            o.folder(&id.folder);
        }))
    }

    pub fn parse_folder_id(&self, text: &str) -> Result<FolderId, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::Folder)?;
        let mailbox = r.str()?;
        let folder = r.folder()?;
        r.end()?;
        Ok(FolderId { mailbox, folder })
    }

    // ------------------------------------------------------------ items

    pub fn item_id(&self, id: &ItemId) -> String {
        Self::text(&self.seal(IdKind::Item, |o| {
            o.str(&id.mailbox);
            o.folder(&id.folder);
            o.u32(id.uid_validity);
            o.u32(id.uid);
        }))
    }

    pub fn parse_item_id(&self, text: &str) -> Result<ItemId, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::Item)?;
        let id = ItemId { mailbox: r.str()?, folder: r.folder()?, uid_validity: r.u32()?, uid: r.u32()? };
        r.end()?;
        Ok(id)
    }

    /// An attachment id: kind 6 for an attachment of the item itself (the layout ids always had), kind 14 with
    /// the nested indexes (a count, then each) for one inside an attached message.
    pub fn attachment_id(&self, id: &AttachmentId) -> String {
        let kind = if id.nested.is_empty() { IdKind::Attachment } else { IdKind::NestedAttachment };
        Self::text(&self.seal(kind, |o| {
            o.str(&id.item.mailbox);
            o.folder(&id.item.folder);
            o.u32(id.item.uid_validity);
            o.u32(id.item.uid);
            o.u32(id.index);
            if !id.nested.is_empty() {
                o.varint(id.nested.len() as u64);
                for i in &id.nested {
                    o.u32(*i);
                }
            }
        }))
    }

    /// Decodes an attachment id of either layout (kind 6 or 14).
    pub fn parse_attachment_id(&self, text: &str) -> Result<AttachmentId, IdError> {
        let raw = Self::raw(text)?;
        let nested_kind = raw.get(1) == Some(&(IdKind::NestedAttachment as u8));
        let mut r = self.open(&raw, if nested_kind { IdKind::NestedAttachment } else { IdKind::Attachment })?;
        let item = ItemId { mailbox: r.str()?, folder: r.folder()?, uid_validity: r.u32()?, uid: r.u32()? };
        let index = r.u32()?;
        let mut nested = Vec::new();
        if nested_kind {
            let n = r.varint()?;
            if n == 0 || n as usize > MAX_ATTACHMENT_NESTING {
                return Err(IdError::Malformed);
            }
            for _ in 0..n {
                nested.push(r.u32()?);
            }
        }
        r.end()?;
        Ok(AttachmentId { item, index, nested })
    }

    // ------------------------------------------------------------ DAV objects

    pub fn dav_item_id(&self, id: &DavItemId) -> String {
        Self::text(&self.seal(IdKind::DavItem, |o| {
            o.str(&id.mailbox);
            o.str(&id.collection);
            o.str(&id.resource);
            match id.occurrence {
                Some(t) => {
                    o.u8(1);
                    o.u64(t as u64);
                }
                None => o.u8(0),
            }
        }))
    }

    pub fn parse_dav_item_id(&self, text: &str) -> Result<DavItemId, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::DavItem)?;
        let (mailbox, collection, resource) = (r.str()?, r.str()?, r.str()?);
        let occurrence = match r.u8()? {
            0 => None,
            1 => Some(r.u64()? as i64),
            _ => return Err(IdError::Malformed),
        };
        r.end()?;
        Ok(DavItemId { mailbox, collection, resource, occurrence })
    }

    /// The id of an attachment of a DAV object (a contact's photo): the object's id and the attachment's index.
    pub fn dav_attachment_id(&self, id: &DavItemId, index: u32) -> String {
        Self::text(&self.seal(IdKind::DavAttachment, |o| {
            o.str(&id.mailbox);
            o.str(&id.collection);
            o.str(&id.resource);
            o.u32(index);
        }))
    }

    pub fn parse_dav_attachment_id(&self, text: &str) -> Result<(DavItemId, u32), IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::DavAttachment)?;
        let (mailbox, collection, resource) = (r.str()?, r.str()?, r.str()?);
        let index = r.u32()?;
        r.end()?;
        Ok((DavItemId { mailbox, collection, resource, occurrence: None }, index))
    }

    /// Whether an id's text names a DAV object (verified), without decoding it further.
    pub fn is_dav_item_id(&self, text: &str) -> bool {
        self.parse_dav_item_id(text).is_ok()
    }

    /// A change key from a DAV object's ETag (RFC 4918 8.6: it changes whenever the object does).
    pub fn dav_change_key(&self, etag: &str) -> String {
        Self::text(&self.seal(IdKind::DavChangeKey, |o| o.str(etag)))
    }

    pub fn parse_dav_change_key(&self, text: &str) -> Result<String, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::DavChangeKey)?;
        let etag = r.str()?;
        r.end()?;
        Ok(etag)
    }

    pub fn dav_sync_state(&self, s: &DavSyncState) -> String {
        Self::text(&self.seal(IdKind::DavSync, |o| {
            o.str(&s.mailbox);
            o.str(&s.collection);
            match &s.token {
                Some(t) => {
                    o.u8(1);
                    o.str(t);
                }
                None => o.u8(0),
            }
            o.varint(s.known.len() as u64);
            for (r, e) in &s.known {
                o.u64(*r);
                o.u32(*e);
            }
        }))
    }

    pub fn parse_dav_sync_state(&self, text: &str) -> Result<DavSyncState, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::DavSync)?;
        let (mailbox, collection) = (r.str()?, r.str()?);
        let token = match r.u8()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return Err(IdError::Malformed),
        };
        let n = r.varint()?;
        if n > 100_000 {
            return Err(IdError::Malformed);
        }
        let mut known = Vec::with_capacity(n as usize);
        for _ in 0..n {
            known.push((r.u64()?, r.u32()?));
        }
        r.end()?;
        Ok(DavSyncState { mailbox, collection, token, known })
    }

    // ------------------------------------------------------------ directory personas

    /// The `PersonaId` of a Global Address List entry (MS-OXWSPERS 2.2.4.19: an `ItemIdType`) for `mailbox`'s
    /// view of the directory: the entry's address, which the directory keeps unique.
    pub fn gal_persona_id(&self, mailbox: &str, address: &str) -> String {
        Self::text(&self.seal(IdKind::GalPersona, |o| {
            o.str(mailbox);
            o.str(address);
        }))
    }

    /// (mailbox, address) of a directory persona id.
    pub fn parse_gal_persona_id(&self, text: &str) -> Result<(String, String), IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::GalPersona)?;
        let (mailbox, address) = (r.str()?, r.str()?);
        r.end()?;
        Ok((mailbox, address))
    }

    // ------------------------------------------------------------ change keys

    /// A change key from a MODSEQ (the message's, or a folder's HIGHESTMODSEQ).
    pub fn change_key(&self, modseq: u64) -> String {
        Self::text(&self.seal(IdKind::ChangeKey, |o| o.u64(modseq)))
    }

    pub fn parse_change_key(&self, text: &str) -> Result<u64, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::ChangeKey)?;
        let m = r.u64()?;
        r.end()?;
        Ok(m)
    }

    // ------------------------------------------------------------ sync states

    pub fn item_sync_state(&self, s: &ItemSyncState) -> String {
        Self::text(&self.seal(IdKind::ItemSync, |o| {
            o.str(&s.mailbox);
            match &s.folder {
                Some(f) => {
                    o.u8(1);
                    o.folder(f);
                }
                None => o.u8(0),
            }
            o.u32(s.uid_validity);
            o.u64(s.modseq);
            // Ranges as deltas: gap from the previous range's end, then length.
            o.varint(s.known.len() as u64);
            let mut prev = 0u32;
            for (lo, hi) in &s.known {
                o.varint(u64::from(lo.wrapping_sub(prev)));
                o.varint(u64::from(hi - lo));
                prev = *hi;
            }
            // Trailing extensions, each behind its tag byte: 1 = flags (v1).
            if let Some(f) = &s.flags {
                o.u8(1);
                o.ranges(&f.seen);
                o.varint(f.others.len() as u64);
                for (h, r) in &f.others {
                    o.u32(*h);
                    o.ranges(r);
                }
            }
        }))
    }

    pub fn parse_item_sync_state(&self, text: &str) -> Result<ItemSyncState, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::ItemSync)?;
        let mailbox = r.str()?;
        let folder = match r.u8()? {
            0 => None,
            1 => Some(r.folder()?),
            _ => return Err(IdError::Malformed),
        };
        let uid_validity = r.u32()?;
        let modseq = r.u64()?;
        let n = r.varint()?;
        if n > 1 << 22 {
            return Err(IdError::Malformed);
        }
        let mut known = Vec::with_capacity(n as usize);
        let mut prev = 0u32;
        for _ in 0..n {
            let lo = u32::try_from(u64::from(prev) + r.varint()?).map_err(|_| IdError::Malformed)?;
            let hi = u32::try_from(u64::from(lo) + r.varint()?).map_err(|_| IdError::Malformed)?;
            known.push((lo, hi));
            prev = hi;
        }
        let mut flags = None;
        if !r.0.is_empty() {
            if r.u8()? != 1 {
                return Err(IdError::Malformed);
            }
            let seen = r.ranges()?;
            let n = r.varint()?;
            if n > FlagState::MAX_RANGES as u64 {
                return Err(IdError::Malformed);
            }
            let mut others = Vec::with_capacity(n as usize);
            for _ in 0..n {
                others.push((r.u32()?, r.ranges()?));
            }
            flags = Some(FlagState { seen, others });
        }
        r.end()?;
        Ok(ItemSyncState { mailbox, folder, uid_validity, modseq, known, flags })
    }

    pub fn folder_sync_state(&self, s: &FolderSyncState) -> String {
        Self::text(&self.seal(IdKind::FolderSync, |o| {
            o.str(&s.mailbox);
            o.varint(s.folders.len() as u64);
            for (f, h) in &s.folders {
                o.folder(f);
                o.u32(*h);
            }
        }))
    }

    pub fn parse_folder_sync_state(&self, text: &str) -> Result<FolderSyncState, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::FolderSync)?;
        let mailbox = r.str()?;
        let n = r.varint()?;
        if n > 100_000 {
            return Err(IdError::Malformed);
        }
        let mut folders = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let f = r.folder()?;
            let h = r.u32()?;
            folders.push((f, h));
        }
        r.end()?;
        Ok(FolderSyncState { mailbox, folders })
    }

    pub fn watermark(&self, w: &Watermark) -> String {
        Self::text(&self.seal(IdKind::Watermark, |o| {
            o.str(&w.mailbox);
            o.varint(w.folders.len() as u64);
            for f in &w.folders {
                o.folder_state(f);
            }
        }))
    }

    pub fn parse_watermark(&self, text: &str) -> Result<Watermark, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::Watermark)?;
        let mailbox = r.str()?;
        let n = r.varint()?;
        if n > 10_000 {
            return Err(IdError::Malformed);
        }
        let mut folders = Vec::with_capacity(n as usize);
        for _ in 0..n {
            folders.push(r.folder_state()?);
        }
        r.end()?;
        Ok(Watermark { mailbox, folders })
    }

    pub fn subscription(&self, s: &Subscription) -> String {
        Self::text(&self.seal(IdKind::Subscription, |o| {
            o.str(&s.mailbox);
            o.u8(u8::from(s.streaming) | (u8::from(s.all_folders) << 1));
            o.varint(u64::from(s.events));
            o.varint(s.folders.len() as u64);
            for f in &s.folders {
                o.folder(f);
            }
            o.varint(s.initial.len() as u64);
            for f in &s.initial {
                o.folder_state(f);
            }
        }))
    }

    pub fn parse_subscription(&self, text: &str) -> Result<Subscription, IdError> {
        let raw = Self::raw(text)?;
        let mut r = self.open(&raw, IdKind::Subscription)?;
        let mailbox = r.str()?;
        let flags = r.u8()?;
        let events = u16::try_from(r.varint()?).map_err(|_| IdError::Malformed)?;
        let n = r.varint()?;
        if n > 10_000 {
            return Err(IdError::Malformed);
        }
        let mut folders = Vec::with_capacity(n as usize);
        for _ in 0..n {
            folders.push(r.folder()?);
        }
        let m = r.varint()?;
        if m > 10_000 {
            return Err(IdError::Malformed);
        }
        let mut initial = Vec::with_capacity(m as usize);
        for _ in 0..m {
            initial.push(r.folder_state()?);
        }
        r.end()?;
        Ok(Subscription { mailbox, streaming: flags & 1 != 0, all_folders: flags & 2 != 0, events, folders, initial })
    }

    /// What kind of object an id's text names, if it verifies: used by ConvertId, which accepts any id.
    pub fn classify(&self, raw: &[u8]) -> Option<AnyId> {
        if raw.len() < 2 {
            return None;
        }
        let text = STANDARD.encode(raw);
        match raw[1] {
            1 => self.parse_folder_id(&text).ok().map(AnyId::Folder),
            2 => self.parse_item_id(&text).ok().map(AnyId::Item),
            6 | 14 => self.parse_attachment_id(&text).ok().map(AnyId::Attachment),
            9 => self.parse_dav_item_id(&text).ok().map(AnyId::DavItem),
            _ => None,
        }
    }
}

/// Any id that names an object of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyId {
    Folder(FolderId),
    Item(ItemId),
    Attachment(AttachmentId),
    DavItem(DavItemId),
}

impl AnyId {
    pub fn mailbox(&self) -> &str {
        match self {
            AnyId::Folder(f) => &f.mailbox,
            AnyId::Item(i) => &i.mailbox,
            AnyId::Attachment(a) => &a.item.mailbox,
            AnyId::DavItem(d) => &d.mailbox,
        }
    }
}

/// A 32-bit FNV-1a hash, used for the property hashes of folder sync states (not a security boundary: the
/// whole state is authenticated).
pub fn fnv32(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in p.as_bytes().iter().chain(std::iter::once(&0u8)) {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// A 64-bit FNV-1a hash (resource names in DAV sync states; not a security boundary either).
pub fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> IdCodec {
        IdCodec::new([7u8; 32])
    }

    #[test]
    fn gal_persona_ids_round_trip() {
        let c = codec();
        let text = c.gal_persona_id("alice@example.test", "bob@example.test");
        assert_eq!(c.parse_gal_persona_id(&text), Ok(("alice@example.test".into(), "bob@example.test".into())));
        assert!(c.parse_dav_item_id(&text).is_err() && c.parse_item_id(&text).is_err());
        assert!(IdCodec::new([8u8; 32]).parse_gal_persona_id(&text).is_err(), "another deployment's id");
    }

    #[test]
    fn dav_ids_round_trip_and_refuse_tampering() {
        let c = codec();
        let id = DavItemId {
            mailbox: "alice@example.test".into(),
            collection: "/alice@example.test/calendar/".into(),
            resource: "abc.ics".into(),
            occurrence: Some(1_700_000_000),
        };
        let text = c.dav_item_id(&id);
        assert_eq!(c.parse_dav_item_id(&text), Ok(id.clone()));
        assert_eq!(text, codec().dav_item_id(&id), "stable across instances");
        assert!(c.parse_item_id(&text).is_err(), "a DAV id is not a mail item id");
        let mut raw = IdCodec::raw(&text).unwrap();
        raw[5] ^= 1;
        assert!(c.parse_dav_item_id(&STANDARD.encode(&raw)).is_err());
        let folder = FolderId { mailbox: "alice@example.test".into(), folder: FolderRef::Dav("/a/cal/".into()) };
        assert_eq!(c.parse_folder_id(&c.folder_id(&folder)), Ok(folder));
        assert_eq!(c.parse_dav_change_key(&c.dav_change_key("\"e1\"")), Ok("\"e1\"".to_string()));
        let st = DavSyncState {
            mailbox: "alice@example.test".into(),
            collection: "/a/cal/".into(),
            token: Some("http://radicale.org/ns/sync/abc".into()),
            known: vec![(1, 2), (u64::MAX, 7)],
        };
        assert_eq!(c.parse_dav_sync_state(&c.dav_sync_state(&st)), Ok(st));
        assert!(matches!(c.classify(&IdCodec::raw(&text).unwrap()), Some(AnyId::DavItem(_))));
        let att = c.dav_attachment_id(&DavItemId { occurrence: None, ..id.clone() }, 0);
        assert_eq!(c.parse_dav_attachment_id(&att), Ok((DavItemId { occurrence: None, ..id }, 0)));
        assert!(c.parse_attachment_id(&att).is_err());
    }

    #[test]
    fn folder_ids_round_trip_and_are_stable() {
        let c = codec();
        for f in [
            FolderRef::Root,
            FolderRef::MsgFolderRoot,
            FolderRef::Name("INBOX/Über".into()),
            FolderRef::Object("0f3c2a".into()),
        ] {
            let id = FolderId { mailbox: "alice@example.test".into(), folder: f };
            let text = c.folder_id(&id);
            assert_eq!(text, codec().folder_id(&id), "same key, same id (every instance agrees)");
            assert_eq!(c.parse_folder_id(&text).unwrap(), id);
            assert!(c.parse_item_id(&text).is_err(), "a folder id is not an item id");
        }
    }

    #[test]
    fn item_ids_and_change_keys() {
        let c = codec();
        let id = ItemId {
            mailbox: "alice@example.test".into(),
            folder: FolderRef::Name("INBOX".into()),
            uid_validity: 1700000000,
            uid: 42,
        };
        let t = c.item_id(&id);
        assert_eq!(c.parse_item_id(&t).unwrap(), id);
        let ck = c.change_key(123456789);
        assert_eq!(c.parse_change_key(&ck).unwrap(), 123456789);
        let a = AttachmentId { item: id.clone(), index: 2, nested: Vec::new() };
        assert_eq!(c.parse_attachment_id(&c.attachment_id(&a)).unwrap(), a);
        // An attachment of an attached message of an attached message: its own kind, the path round-trips, and
        // the plain layout (kind 6) is unchanged by the addition.
        let deep = a.child(1).child(0);
        assert_eq!(deep.path(), vec![2, 1, 0]);
        let text = c.attachment_id(&deep);
        assert_eq!(IdCodec::raw(&text).unwrap()[1], 14);
        assert_eq!(c.parse_attachment_id(&text).unwrap(), deep);
        assert_eq!(IdCodec::raw(&c.attachment_id(&a)).unwrap()[1], 6);
        assert!(matches!(c.classify(&IdCodec::raw(&text).unwrap()), Some(AnyId::Attachment(x)) if x == deep));
        // Tampered: a flipped bit in the path fails the tag.
        let mut raw = IdCodec::raw(&text).unwrap();
        let at = raw.len() - 17;
        raw[at] ^= 1;
        assert_eq!(c.parse_attachment_id(&STANDARD.encode(&raw)), Err(IdError::Malformed));
        // Another key's nested id does not verify.
        assert!(IdCodec::new([9; 32]).parse_attachment_id(&text).is_err());
        assert_eq!(c.classify(&IdCodec::raw(&t).unwrap()), Some(AnyId::Item(id)));
    }

    #[test]
    fn tampering_garbage_and_foreign_keys_are_refused() {
        let c = codec();
        let id = FolderId { mailbox: "alice@example.test".into(), folder: FolderRef::Name("INBOX".into()) };
        let text = c.folder_id(&id);
        let mut raw = IdCodec::raw(&text).unwrap();
        raw[5] ^= 1;
        assert_eq!(c.parse_folder_id(&STANDARD.encode(&raw)), Err(IdError::Malformed));
        assert_eq!(c.parse_folder_id("DUMMY"), Err(IdError::Malformed));
        assert_eq!(c.parse_folder_id(""), Err(IdError::Malformed));
        assert_eq!(c.parse_folder_id("!!!!"), Err(IdError::Malformed));
        assert_eq!(IdCodec::new([8u8; 32]).parse_folder_id(&text), Err(IdError::Malformed));
        // Truncation
        let raw = IdCodec::raw(&text).unwrap();
        for n in 0..raw.len() {
            assert!(c.parse_folder_id(&STANDARD.encode(&raw[..n])).is_err());
        }
    }

    #[test]
    fn sync_states_compress_ranges() {
        let c = codec();
        let known = uid_ranges([5, 1, 2, 3, 9, 10, 11, 12, 100, 4]);
        assert_eq!(known, vec![(1, 5), (9, 12), (100, 100)]);
        assert!(ranges_contain(&known, 10));
        assert!(!ranges_contain(&known, 13));
        assert_eq!(ranges_iter(&known).count(), 10);
        let s = ItemSyncState {
            mailbox: "bob@example.test".into(),
            folder: Some(FolderRef::Name("INBOX".into())),
            uid_validity: 9,
            modseq: 77,
            known,
            flags: None,
        };
        let t = c.item_sync_state(&s);
        assert_eq!(c.parse_item_sync_state(&t).unwrap(), s);
        // The flags extension round-trips; a state without it (as issued before it existed) still decodes.
        let flagged = |f: &[&str]| other_flags_hash(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(flagged(&["\\Seen", "\\Recent"]), 0);
        assert_eq!(flagged(&["\\Flagged", "$label1"]), flagged(&["$Label1", "\\Seen", "\\flagged"]));
        assert_ne!(flagged(&["\\Flagged"]), flagged(&["\\Answered"]));
        let fs = FlagState::build([(1, true, 0), (2, true, 0), (3, false, 7), (4, true, 7), (9, false, 0)]).unwrap();
        assert_eq!(fs.seen, vec![(1, 2), (4, 4)]);
        assert_eq!(fs.others, vec![(7, vec![(3, 4)])]);
        assert_eq!((fs.of(3), fs.of(4), fs.of(9)), ((false, 7), (true, 7), (false, 0)));
        let with = ItemSyncState { flags: Some(fs), ..s.clone() };
        assert_eq!(c.parse_item_sync_state(&c.item_sync_state(&with)).unwrap(), with);
        assert!(FlagState::build((1..2000u32).map(|u| (u, u % 2 == 0, 0))).is_none());
        let big = ItemSyncState { known: uid_ranges((1..100_000u32).filter(|u| u % 2 == 0)), ..s.clone() };
        assert!(c.item_sync_state(&big).len() < 200_000);
        let w = Watermark {
            mailbox: "bob@example.test".into(),
            folders: vec![FolderState {
                folder: Some(FolderRef::Name("INBOX".into())),
                uid_validity: 3,
                modseq: 9,
                known: uid_ranges([1, 2, 5]),
            }],
        };
        assert_eq!(c.parse_watermark(&c.watermark(&w)).unwrap(), w);
        let sub = Subscription {
            mailbox: "bob@example.test".into(),
            streaming: true,
            events: 0b1011,
            all_folders: false,
            folders: vec![FolderRef::Name("INBOX".into())],
            initial: w.folders.clone(),
        };
        assert_eq!(c.parse_subscription(&c.subscription(&sub)).unwrap(), sub);
        assert!(c.parse_watermark(&c.subscription(&sub)).is_err());
        let fs = FolderSyncState {
            mailbox: "bob@example.test".into(),
            folders: vec![(FolderRef::MsgFolderRoot, 1), (FolderRef::Name("INBOX".into()), fnv32(&["Inbox"]))],
        };
        assert_eq!(c.parse_folder_sync_state(&c.folder_sync_state(&fs)).unwrap(), fs);
    }
}
