//! The NSPI endpoint (MS-OXCMAPIHTTP 2.2.5, semantics of MS-OXNSPI 3.1.4): Outlook's address book, backed by the
//! LDAP directory.
//!
//! - The Global Address List is read once per NSPI session (on first use) and kept with the session: sorted by
//!   display name (case-insensitive, then address), each entry with a Minimal Entry ID (MId) derived from a hash
//!   of its address (collisions resolved in sorted order), so the same directory gives the same MIds on every
//!   instance and in every session. Sessions bound within a minute of each other share one directory read.
//! - X.500 DNs, the mailbox "server" DN and the MAPI URLs come from the Autodiscover settings, so what NSPI says
//!   matches what Autodiscover said.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mapi_codec::Writer;
use mapi_codec::oxcdata::{
    EphemeralEntryId, Guid, NSPI_PROVIDER_UID, PermanentEntryId, PropTag, PropType, PropValue, RelOp, Restriction,
};
use sha2::Digest;
use uuid::Uuid;

use super::props::{self as p, EC_NOT_FOUND, EC_SUCCESS};
use super::session::{NspiState, SessionRef, State};
use super::wire::{self, Cell, NspiRequest, Stat, put_opt};
use super::{Ctx, store};
use crate::model::directory::{DirectoryEntry, EntryKind};

/// Special MIds (MS-OXNSPI 2.2.1.8 / 2.2.1.9).
pub const MID_BEGINNING_OF_TABLE: u32 = 0;
pub const MID_CURRENT: u32 = 1;
pub const MID_END_OF_TABLE: u32 = 2;
pub const MID_UNRESOLVED: u32 = 0;
pub const MID_AMBIGUOUS: u32 = 1;
pub const MID_RESOLVED: u32 = 2;
/// Lowest MId handed to an entry.
const FIRST_MID: u32 = 0x10;

/// Flags (MS-OXNSPI 2.2.1.x).
const F_EPH_ID: u32 = 0x0000_0002;
const NSPI_UNICODE_STRINGS: u32 = 0x0000_0004;
const NSPI_UNICODE_PROPTYPES: u32 = 0x8000_0000;
const CP_WINUNICODE: u32 = 1200;

/// Most rows one QueryRows/GetMatches answers.
const MAX_ROWS: usize = 5000;

/// One entry of the session's GAL.
#[derive(Debug, Clone)]
pub struct GalEntry {
    pub mid: u32,
    pub entry: DirectoryEntry,
    pub legacy_dn: String,
    /// Mailbox "server" DN and database DN (mailboxes only).
    pub server_dn: Option<String>,
    pub mdb_dn: Option<String>,
    pub emsmdb_url: Option<String>,
}

/// The GAL snapshot of a session.
#[derive(Debug, Default)]
pub struct Gal {
    pub entries: Vec<GalEntry>,
    by_mid: HashMap<u32, usize>,
}

impl Gal {
    /// Sorts, assigns MIds and computes DNs.
    pub fn build(ctx: &Ctx, mut list: Vec<DirectoryEntry>) -> Gal {
        list.sort_by(|a, b| {
            a.display_name.to_lowercase().cmp(&b.display_name.to_lowercase()).then_with(|| a.mail.cmp(&b.mail))
        });
        list.dedup_by(|a, b| a.mail == b.mail);
        let mut by_mid = HashMap::new();
        let mut entries = Vec::with_capacity(list.len());
        for entry in list {
            let h = sha2::Sha256::digest(entry.mail.as_bytes());
            let mut mid = (u32::from_le_bytes([h[0], h[1], h[2], h[3]]) & 0x7FFF_FFFF).max(FIRST_MID);
            while by_mid.contains_key(&mid) {
                mid = if mid >= 0x7FFF_FFFF { FIRST_MID } else { mid + 1 };
            }
            by_mid.insert(mid, entries.len());
            let s = ctx.settings_of(&entry.mail, &entry.display_name);
            let mailbox = entry.kind == EntryKind::Mailbox;
            entries.push(GalEntry {
                mid,
                legacy_dn: s.legacy_dn.clone(),
                server_dn: mailbox.then(|| s.server_dn.clone()),
                mdb_dn: mailbox.then(|| s.mdb_dn.clone()),
                emsmdb_url: mailbox.then(|| s.emsmdb_url()),
                entry,
            });
        }
        Gal { entries, by_mid }
    }

    pub fn index_of(&self, mid: u32) -> Option<usize> {
        self.by_mid.get(&mid).copied()
    }

    pub fn get(&self, mid: u32) -> Option<&GalEntry> {
        self.index_of(mid).map(|i| &self.entries[i])
    }

    fn by_dn(&self, dn: &str) -> Option<&GalEntry> {
        self.entries.iter().find(|e| e.legacy_dn.eq_ignore_ascii_case(dn))
    }

    fn by_ldap_dn(&self, dn: &str) -> Option<&GalEntry> {
        self.entries.iter().find(|e| e.entry.dn.eq_ignore_ascii_case(dn))
    }
}

/// The server GUID handed out by Bind: stable for the deployment.
pub fn server_guid(ctx: &Ctx) -> Guid {
    store::guid(Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("viaduc:nspi:{}", ctx.config.deployment_id()).as_bytes()))
}

/// Bind (MS-OXCMAPIHTTP 2.2.5.1, MS-OXNSPI 3.1.4.1.1): opens the session; the GAL is loaded on first use.
pub fn bind(ctx: &Ctx, req: &NspiRequest) -> (Vec<u8>, State) {
    let code_page = match req {
        NspiRequest::Bind { stat: Some(s), .. } => s.code_page,
        _ => 1252,
    };
    let mut w = Writer::new();
    w.u32(0);
    w.u32(EC_SUCCESS);
    w.bytes(&server_guid(ctx).0);
    w.u32(0);
    (w.into_vec(), State::Nspi(NspiState { gal: None, code_page }))
}

/// How long a GAL read from the directory is shared between new NSPI sessions of this process.
const GAL_SHARE_TTL: Duration = Duration::from_secs(60);

/// The most recent GAL read from the directory, shared by sessions bound within [`GAL_SHARE_TTL`] so that many
/// Outlooks starting at once cost one LDAP search. Each session keeps the snapshot it got.
type SharedGal = Mutex<Option<(Instant, Arc<Gal>)>>;

fn shared_gal() -> &'static SharedGal {
    static G: OnceLock<SharedGal> = OnceLock::new();
    G.get_or_init(|| Mutex::new(None))
}

/// Loads the GAL for the session (shared recent copy, else the directory), or synthesises one holding only the
/// caller when no directory is configured or the caller is missing from it.
async fn gal(ctx: &Ctx, ns: &mut NspiState) -> Result<Arc<Gal>, u32> {
    if let Some(g) = &ns.gal {
        return Ok(g.clone());
    }
    let mine = |g: &Gal| g.entries.iter().any(|e| e.entry.mail == ctx.principal.mail);
    if let Ok(cache) = shared_gal().lock()
        && let Some((at, g)) = cache.as_ref()
        && at.elapsed() < GAL_SHARE_TTL
        && mine(g)
    {
        ns.gal = Some(g.clone());
        return Ok(g.clone());
    }
    let mut list = match &ctx.directory {
        Some(d) => match d.global_address_list().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "GAL unavailable for NSPI");
                return Err(p::EC_GENERAL_FAILURE);
            }
        },
        None => Vec::new(),
    };
    let from_directory = ctx.directory.is_some();
    let complete = list.iter().any(|e| e.mail == ctx.principal.mail);
    if !complete {
        list.push(ctx.principal.entry.clone().unwrap_or_else(|| DirectoryEntry {
            kind: EntryKind::Mailbox,
            dn: String::new(),
            login: Some(ctx.principal.login.clone()),
            display_name: ctx.me.display_name.clone(),
            mail: ctx.principal.mail.clone(),
            given_name: None,
            surname: None,
            title: None,
            department: None,
            office: None,
            phone: None,
            mobile: None,
            manager_dn: None,
            members: Vec::new(),
        }));
    }
    let g = Arc::new(Gal::build(ctx, list));
    if from_directory
        && complete
        && let Ok(mut cache) = shared_gal().lock()
    {
        *cache = Some((Instant::now(), g.clone()));
    }
    ns.gal = Some(g.clone());
    Ok(g)
}

fn display_type(kind: EntryKind) -> u32 {
    match kind {
        EntryKind::Mailbox => p::DT_MAILUSER,
        EntryKind::DistributionList => p::DT_DISTLIST,
        EntryKind::Contact => p::DT_REMOTE_MAILUSER,
    }
}

fn permanent_entry_id(display_type: u32, dn: &str) -> Vec<u8> {
    let mut w = Writer::new();
    PermanentEntryId::new(display_type, dn).encode(&mut w);
    w.into_vec()
}

/// The tags an entry can answer (PidTagAddressBookManagerDistinguishedName and the optional ones only when set).
const ENTRY_TAGS: &[PropTag] = &[
    p::ENTRY_ID,
    p::INSTANCE_KEY,
    p::RECORD_KEY,
    p::OBJECT_TYPE,
    p::DISPLAY_NAME,
    p::ADDRESS_TYPE,
    p::EMAIL_ADDRESS,
    p::SEARCH_KEY,
    p::DISPLAY_TYPE,
    p::TEMPLATE_ID,
    p::DISPLAY_TYPE_EX,
    p::SMTP_ADDRESS,
    p::ACCOUNT,
    p::GIVEN_NAME,
    p::BUSINESS_TELEPHONE_NUMBER,
    p::SURNAME,
    p::TITLE,
    p::DEPARTMENT_NAME,
    p::OFFICE_LOCATION,
    p::MOBILE_TELEPHONE_NUMBER,
    p::TRANSMITTABLE_DISPLAY_NAME,
    p::ADDRESS_BOOK_MANAGER_DISTINGUISHED_NAME,
    p::ADDRESS_BOOK_HOME_MESSAGE_DATABASE,
    p::ADDRESS_BOOK_PROXY_ADDRESSES,
];

/// Default columns when a QueryRows/SeekEntries/GetMatches/ResolveNames request names none.
const DEFAULT_COLUMNS: &[PropTag] = &[
    p::ADDRESS_BOOK_CONTAINER_ID,
    p::OBJECT_TYPE,
    p::DISPLAY_TYPE,
    p::DISPLAY_NAME,
    p::BUSINESS_TELEPHONE_NUMBER,
    p::DEPARTMENT_NAME,
    p::OFFICE_LOCATION,
];

/// The value of property `id` of entry `e` (in its natural Unicode type), if it has one.
fn value(ctx: &Ctx, gal: &Gal, e: &GalEntry, id: u16, flags: u32) -> Option<PropValue> {
    let d = &e.entry;
    let dt = display_type(d.kind);
    let s = |v: &str| Some(PropValue::String(v.to_string()));
    let opt = |v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(|x| PropValue::String(x.to_string()));
    match id {
        x if x == p::ENTRY_ID.id() => {
            if flags & F_EPH_ID != 0 {
                let mut w = Writer::new();
                EphemeralEntryId {
                    id_type: 0x87,
                    r1: 0,
                    r2: 0,
                    r3: 0,
                    provider_uid: server_guid(ctx),
                    r4: 1,
                    display_type: dt,
                    mid: e.mid,
                }
                .encode(&mut w);
                Some(PropValue::Binary(w.into_vec()))
            } else {
                Some(PropValue::Binary(permanent_entry_id(dt, &e.legacy_dn)))
            }
        }
        x if x == p::RECORD_KEY.id() || x == p::TEMPLATE_ID.id() => {
            Some(PropValue::Binary(permanent_entry_id(dt, &e.legacy_dn)))
        }
        x if x == p::INSTANCE_KEY.id() => Some(PropValue::Binary(e.mid.to_le_bytes().to_vec())),
        x if x == p::OBJECT_TYPE.id() => Some(PropValue::Integer32(match d.kind {
            EntryKind::DistributionList => p::MAPI_DISTLIST,
            _ => p::MAPI_MAILUSER,
        })),
        x if x == p::DISPLAY_TYPE.id() || x == p::DISPLAY_TYPE_EX.id() => Some(PropValue::Integer32(dt as i32)),
        x if x == p::DISPLAY_NAME.id() || x == p::TRANSMITTABLE_DISPLAY_NAME.id() => s(&d.display_name),
        x if x == p::ADDRESS_TYPE.id() => s("EX"),
        x if x == p::EMAIL_ADDRESS.id() => s(&e.legacy_dn),
        x if x == p::SEARCH_KEY.id() => {
            let mut k = format!("EX:{}", e.legacy_dn.to_ascii_uppercase()).into_bytes();
            k.push(0);
            Some(PropValue::Binary(k))
        }
        x if x == p::SMTP_ADDRESS.id() => s(&d.mail),
        x if x == p::ADDRESS_BOOK_PROXY_ADDRESSES.id() => {
            Some(PropValue::MultipleString(vec![format!("SMTP:{}", d.mail)]))
        }
        x if x == p::ACCOUNT.id() => opt(&d.login).or_else(|| s(d.mail.split('@').next().unwrap_or(&d.mail))),
        x if x == p::GIVEN_NAME.id() => opt(&d.given_name),
        x if x == p::SURNAME.id() => opt(&d.surname),
        x if x == p::TITLE.id() => opt(&d.title),
        x if x == p::DEPARTMENT_NAME.id() => opt(&d.department),
        x if x == p::OFFICE_LOCATION.id() => opt(&d.office),
        x if x == p::BUSINESS_TELEPHONE_NUMBER.id() => opt(&d.phone),
        x if x == p::MOBILE_TELEPHONE_NUMBER.id() => opt(&d.mobile),
        x if x == p::ADDRESS_BOOK_MANAGER_DISTINGUISHED_NAME.id() => {
            d.manager_dn.as_deref().and_then(|m| gal.by_ldap_dn(m)).map(|m| PropValue::String(m.legacy_dn.clone()))
        }
        x if x == p::ADDRESS_BOOK_HOME_MESSAGE_DATABASE.id() => e.mdb_dn.as_deref().and_then(s),
        x if x == p::ADDRESS_BOOK_CONTAINER_ID.id() => Some(PropValue::Integer32(0)),
        _ => None,
    }
}

/// Converts a value to the requested tag's type (8-bit strings when asked), `None` when impossible.
fn coerce(v: PropValue, tag: PropTag, unicode: bool) -> Option<PropValue> {
    let raw = tag.type_raw();
    let to8 = |s: &str| s.chars().map(|c| if (c as u32) < 0x100 { c as u8 } else { b'?' }).collect::<Vec<u8>>();
    let unspecified = raw == PropType::Unspecified.as_u16();
    match v {
        PropValue::String(s) if raw == PropType::String8.as_u16() || (unspecified && !unicode) => {
            Some(PropValue::String8(to8(&s)))
        }
        PropValue::MultipleString(v) if raw == PropType::MultipleString8.as_u16() || (unspecified && !unicode) => {
            Some(PropValue::MultipleString8(v.iter().map(|s| to8(s)).collect()))
        }
        v if unspecified || raw == v.prop_type().as_u16() => Some(v),
        _ => None,
    }
}

fn cell(ctx: &Ctx, gal: &Gal, e: Option<&GalEntry>, tag: PropTag, flags: u32, unicode: bool) -> Cell {
    e.and_then(|e| value(ctx, gal, e, tag.id(), flags))
        .and_then(|v| coerce(v, tag, unicode))
        .map(Cell::Value)
        .unwrap_or(Cell::Error(EC_NOT_FOUND))
}

fn rows(ctx: &Ctx, gal: &Gal, mids: &[u32], columns: &[PropTag], flags: u32, unicode: bool) -> Vec<Vec<Cell>> {
    mids.iter()
        .map(|m| {
            let e = gal.get(*m);
            columns.iter().map(|t| cell(ctx, gal, e, *t, flags, unicode)).collect()
        })
        .collect()
}

/// The table position a STAT designates (MS-OXNSPI 3.1.4.5.2): CurrentRec (or NumPos for MID_CURRENT) + Delta,
/// clamped to 0..=n.
fn position(gal: &Gal, stat: &Stat) -> Result<usize, u32> {
    let n = gal.entries.len() as i64;
    let base = match stat.current_rec {
        MID_BEGINNING_OF_TABLE => 0,
        MID_CURRENT => i64::from(stat.num_pos).min(n),
        MID_END_OF_TABLE => n,
        mid => gal.index_of(mid).ok_or(EC_NOT_FOUND)? as i64,
    };
    Ok((base + i64::from(stat.delta)).clamp(0, n) as usize)
}

fn set_position(gal: &Gal, stat: &mut Stat, pos: usize) {
    stat.current_rec = gal.entries.get(pos).map(|e| e.mid).unwrap_or(MID_END_OF_TABLE);
    stat.num_pos = pos as u32;
    stat.delta = 0;
    stat.total_recs = gal.entries.len() as u32;
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Ambiguous name resolution (MS-OXNSPI 3.1.4.7, matching rules implementation-specific): the term matches the
/// start of the display name or of any of its words, of the address, given name, surname or login, or the
/// legacy DN exactly. `SMTP:` and `=` prefixes are accepted.
pub fn anr_match(e: &GalEntry, term: &str) -> bool {
    let t = term.trim();
    let t = t.strip_prefix("SMTP:").or_else(|| t.strip_prefix("smtp:")).unwrap_or(t);
    let exact = t.starts_with('=');
    let t = fold(t.trim_start_matches('=').trim());
    if t.is_empty() {
        return false;
    }
    let d = &e.entry;
    if exact {
        return fold(&d.mail) == t || fold(&d.display_name) == t || d.login.as_deref().is_some_and(|l| fold(l) == t);
    }
    let name = fold(&d.display_name);
    name.starts_with(&t)
        || name.split_whitespace().any(|w| w.starts_with(&t))
        || fold(&d.mail).starts_with(&t)
        || d.given_name.as_deref().is_some_and(|g| fold(g).starts_with(&t))
        || d.surname.as_deref().is_some_and(|g| fold(g).starts_with(&t))
        || d.login.as_deref().is_some_and(|l| fold(l).starts_with(&t))
        || e.legacy_dn.eq_ignore_ascii_case(&t)
}

fn text_of(v: &PropValue) -> Option<String> {
    match v {
        PropValue::String(s) => Some(s.clone()),
        PropValue::String8(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Evaluates a restriction against an entry (MS-OXCDATA 2.12). Unsupported forms are `Err` (ecTooComplex).
fn matches(ctx: &Ctx, gal: &Gal, e: &GalEntry, r: &Restriction) -> Result<bool, u32> {
    Ok(match r {
        Restriction::And(v) => {
            for x in v {
                if !matches(ctx, gal, e, x)? {
                    return Ok(false);
                }
            }
            true
        }
        Restriction::Or(v) => {
            for x in v {
                if matches(ctx, gal, e, x)? {
                    return Ok(true);
                }
            }
            false
        }
        Restriction::Not(x) => !matches(ctx, gal, e, x)?,
        Restriction::Exist { tag } => value(ctx, gal, e, tag.id(), 0).is_some(),
        Restriction::Content { fuzzy_level_low, tag, value: v, .. } => {
            let Some(needle) = text_of(&v.value) else { return Err(p::EC_TOO_COMPLEX) };
            let needle = fold(&needle);
            let hay: Vec<String> = match value(ctx, gal, e, tag.id(), 0) {
                Some(PropValue::String(s)) => vec![fold(&s)],
                Some(PropValue::MultipleString(v)) => v.iter().map(|s| fold(s)).collect(),
                _ => return Ok(false),
            };
            hay.iter().any(|h| match fuzzy_level_low & 0x3 {
                0 => *h == needle,
                1 => h.contains(&needle),
                _ => h.starts_with(&needle),
            })
        }
        Restriction::Property { relop, tag, value: v } => {
            if tag.id() == p::ANR.id() {
                let Some(term) = text_of(&v.value) else { return Err(p::EC_TOO_COMPLEX) };
                return Ok(anr_match(e, &term));
            }
            let Some(have) = value(ctx, gal, e, tag.id(), 0) else { return Ok(false) };
            let ord = match (&have, &v.value) {
                (PropValue::Integer32(a), PropValue::Integer32(b)) => a.cmp(b),
                _ => match (text_of(&have), text_of(&v.value)) {
                    (Some(a), Some(b)) => fold(&a).cmp(&fold(&b)),
                    _ => return Ok(false),
                },
            };
            use std::cmp::Ordering::*;
            match relop {
                RelOp::LessThan => ord == Less,
                RelOp::LessThanOrEqual => ord != Greater,
                RelOp::GreaterThan => ord == Greater,
                RelOp::GreaterThanOrEqual => ord != Less,
                RelOp::Equal => ord == Equal,
                RelOp::NotEqual => ord != Equal,
                _ => return Err(p::EC_TOO_COMPLEX),
            }
        }
        Restriction::BitMask { bmr, tag, mask } => match value(ctx, gal, e, tag.id(), 0) {
            Some(PropValue::Integer32(v)) => ((v as u32 & mask) == 0) == (*bmr == 0),
            _ => false,
        },
        _ => return Err(p::EC_TOO_COMPLEX),
    })
}

/// The entries a link property of `mid` points at: PidTagAddressBookMember (a list's members),
/// PidTagAddressBookReports (whose manager is `mid`), PidTagAddressBookIsMemberOfDistributionList (the lists
/// containing `mid`). `None` for any other property.
fn link_table(g: &Gal, prop: u32, mid: u32) -> Option<Vec<&GalEntry>> {
    let e = g.get(mid)?;
    let id = (prop >> 16) as u16;
    let dn = e.entry.dn.as_str();
    let linked = |list: &GalEntry| list.entry.members.iter().any(|m| m.eq_ignore_ascii_case(dn));
    Some(match id {
        x if x == p::ADDRESS_BOOK_MEMBER.id() => e.entry.members.iter().filter_map(|m| g.by_ldap_dn(m)).collect(),
        x if x == p::ADDRESS_BOOK_REPORTS.id() => g
            .entries
            .iter()
            .filter(|r| !dn.is_empty() && r.entry.manager_dn.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(dn)))
            .collect(),
        x if x == p::ADDRESS_BOOK_IS_MEMBER_OF_DL.id() => g
            .entries
            .iter()
            .filter(|l| l.entry.kind == EntryKind::DistributionList && !dn.is_empty() && linked(l))
            .collect(),
        _ => return None,
    })
}

fn header(w: &mut Writer, ec: u32) {
    w.u32(0);
    w.u32(ec);
}

fn stat_out(w: &mut Writer, s: Option<Stat>) {
    let _ = put_opt(w, s, |w, s| {
        s.encode(w);
        Ok(())
    });
}

/// Runs one NSPI request (other than Bind) on its session and returns the response body.
pub async fn run(ctx: Arc<Ctx>, session: SessionRef, req: NspiRequest) -> Vec<u8> {
    let mut state = session.state.lock().await;
    let State::Nspi(ns) = &mut *state else {
        let mut w = Writer::new();
        header(&mut w, p::EC_GENERAL_FAILURE);
        w.u32(0);
        return w.into_vec();
    };
    match dispatch(&ctx, ns, req).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode an NSPI response");
            let mut w = Writer::new();
            header(&mut w, p::EC_GENERAL_FAILURE);
            w.u32(0);
            w.into_vec()
        }
    }
}

fn unicode_of(ns: &NspiState, stat: Option<&Stat>) -> bool {
    stat.map(|s| s.code_page).unwrap_or(ns.code_page) == CP_WINUNICODE
}

/// A response body for `ec` whose optional parts are all absent, for error paths. `leading` are fixed u32
/// fields after ErrorCode; `absent` the count of HasX bytes.
fn failure(ec: u32, leading: &[u32], absent: usize) -> Vec<u8> {
    let mut w = Writer::new();
    header(&mut w, ec);
    for x in leading {
        w.u32(*x);
    }
    for _ in 0..absent {
        w.u8(0);
    }
    w.u32(0);
    w.into_vec()
}

async fn dispatch(ctx: &Ctx, ns: &mut NspiState, req: NspiRequest) -> mapi_codec::Result<Vec<u8>> {
    let mut w = Writer::new();
    macro_rules! gal_or {
        ($leading:expr, $absent:expr) => {
            match gal(ctx, ns).await {
                Ok(g) => g,
                Err(ec) => return Ok(failure(ec, $leading, $absent)),
            }
        };
    }
    match req {
        NspiRequest::Bind { .. } => {
            // Handled by the transport; a second Bind on a session is refused.
            return Ok(failure(p::EC_INVALID_PARAM, &[0, 0, 0, 0], 0));
        }
        NspiRequest::Unbind => {
            header(&mut w, EC_SUCCESS);
        }
        NspiRequest::GetSpecialTable { flags, stat, version } => {
            let unicode = flags & NSPI_UNICODE_STRINGS != 0 || unicode_of(ns, stat.as_ref());
            header(&mut w, EC_SUCCESS);
            w.u32(stat.map(|s| s.code_page).unwrap_or(ns.code_page));
            put_opt(&mut w, Some(version.unwrap_or(1).max(1)), |w, v| {
                w.u32(v);
                Ok(())
            })?;
            if flags & 0x0000_0002 != 0 {
                // NspiAddressCreationTemplates: no templates are offered.
                w.u8(0);
            } else {
                let name = "Global Address List";
                let mut row: Vec<(PropTag, PropValue)> = vec![
                    (p::ENTRY_ID, PropValue::Binary(permanent_entry_id(p::DT_CONTAINER, "/"))),
                    (p::CONTAINER_FLAGS, PropValue::Integer32(0x1 | 0x8)), // AB_RECIPIENTS | AB_UNMODIFIABLE
                    (p::DEPTH, PropValue::Integer32(0)),
                    (p::ADDRESS_BOOK_CONTAINER_ID, PropValue::Integer32(0)),
                    (p::DISPLAY_NAME, PropValue::String(name.into())),
                    (p::ADDRESS_BOOK_IS_MASTER, PropValue::Boolean(false)),
                ];
                if !unicode {
                    row[4] = (p::DISPLAY_NAME.with_type(0x1E), PropValue::String8(name.as_bytes().to_vec()));
                }
                w.u8(0xFF);
                w.u32(1);
                wire::encode_abk_value_list(&mut w, &row)?;
            }
        }
        NspiRequest::DnToMId { names } => {
            let g = gal_or!(&[], 1);
            let mids: Vec<u32> = names.iter().map(|n| g.by_dn(n).map(|e| e.mid).unwrap_or(MID_UNRESOLVED)).collect();
            header(&mut w, EC_SUCCESS);
            w.u8(0xFF);
            wire::encode_mids(&mut w, &mids)?;
        }
        NspiRequest::GetProps { flags, stat, tags } => {
            let code_page = stat.map(|s| s.code_page).unwrap_or(ns.code_page);
            let g = gal_or!(&[code_page], 1);
            let unicode = unicode_of(ns, stat.as_ref());
            let mid = stat.map(|s| s.current_rec).unwrap_or(0);
            let Some(e) = g.get(mid) else {
                return Ok(failure(EC_NOT_FOUND, &[code_page], 1));
            };
            let tags: Vec<PropTag> = tags.unwrap_or_else(|| {
                ENTRY_TAGS.iter().copied().filter(|t| value(ctx, &g, e, t.id(), flags).is_some()).collect()
            });
            let mut values = Vec::new();
            let mut missing = false;
            for t in &tags {
                match value(ctx, &g, e, t.id(), flags).and_then(|v| coerce(v, *t, unicode)) {
                    Some(v) => values.push((t.with_type(v.prop_type().as_u16()), v)),
                    None => {
                        missing = true;
                        values.push((t.with_type(PropType::ErrorCode.as_u16()), PropValue::ErrorCode(EC_NOT_FOUND)));
                    }
                }
            }
            header(&mut w, if missing { p::EC_WARN_WITH_ERRORS } else { EC_SUCCESS });
            w.u32(code_page);
            w.u8(0xFF);
            wire::encode_abk_value_list(&mut w, &values)?;
        }
        NspiRequest::GetPropList { flags, mid, code_page } => {
            let g = gal_or!(&[], 1);
            let Some(e) = g.get(mid) else {
                return Ok(failure(EC_NOT_FOUND, &[], 1));
            };
            let unicode = code_page == CP_WINUNICODE || code_page == 0;
            let tags: Vec<PropTag> = ENTRY_TAGS
                .iter()
                .copied()
                .filter(|t| value(ctx, &g, e, t.id(), flags).is_some())
                .map(|t| match (t.type_raw(), unicode) {
                    (0x001F, false) => t.with_type(0x001E),
                    (0x101F, false) => t.with_type(0x101E),
                    _ => t,
                })
                .collect();
            header(&mut w, EC_SUCCESS);
            w.u8(0xFF);
            wire::encode_tags(&mut w, &tags)?;
        }
        NspiRequest::QueryColumns { flags } => {
            let unicode = flags & NSPI_UNICODE_PROPTYPES != 0;
            let tags: Vec<PropTag> = ENTRY_TAGS
                .iter()
                .map(|t| match (t.type_raw(), unicode) {
                    (0x001F, false) => t.with_type(0x001E),
                    (0x101F, false) => t.with_type(0x101E),
                    _ => *t,
                })
                .collect();
            header(&mut w, EC_SUCCESS);
            w.u8(0xFF);
            wire::encode_tags(&mut w, &tags)?;
        }
        NspiRequest::QueryRows { flags, stat, explicit_table, count, columns } => {
            let g = gal_or!(&[], 2);
            let unicode = unicode_of(ns, stat.as_ref());
            let mut stat = stat.unwrap_or(Stat { code_page: ns.code_page, ..Default::default() });
            let columns = columns.unwrap_or_else(|| DEFAULT_COLUMNS.to_vec());
            let mids: Vec<u32> = if !explicit_table.is_empty() {
                explicit_table.into_iter().take(MAX_ROWS).collect()
            } else {
                let pos = match position(&g, &stat) {
                    Ok(p) => p,
                    Err(ec) => return Ok(failure(ec, &[], 2)),
                };
                let end = (pos + (count as usize).min(MAX_ROWS)).min(g.entries.len());
                let mids = g.entries[pos..end].iter().map(|e| e.mid).collect();
                set_position(&g, &mut stat, end);
                mids
            };
            header(&mut w, EC_SUCCESS);
            stat_out(&mut w, Some(stat));
            w.u8(0xFF);
            wire::encode_rowset(&mut w, &columns, &rows(ctx, &g, &mids, &columns, flags, unicode))?;
        }
        NspiRequest::SeekEntries { stat, target, explicit_table, columns } => {
            let g = gal_or!(&[], 2);
            let unicode = unicode_of(ns, stat.as_ref());
            let mut stat = stat.unwrap_or(Stat { code_page: ns.code_page, ..Default::default() });
            let Some((tag, Some(v))) = target else {
                return Ok(failure(p::EC_INVALID_PARAM, &[], 2));
            };
            if tag.id() != p::DISPLAY_NAME.id() {
                return Ok(failure(p::EC_TOO_COMPLEX, &[], 2));
            }
            let Some(needle) = text_of(&v) else { return Ok(failure(p::EC_INVALID_PARAM, &[], 2)) };
            let needle = fold(&needle);
            let candidates: Vec<usize> = match &explicit_table {
                Some(t) => t.iter().filter_map(|m| g.index_of(*m)).collect(),
                None => (0..g.entries.len()).collect(),
            };
            let found = candidates.iter().copied().find(|i| fold(&g.entries[*i].entry.display_name) >= needle);
            let Some(i) = found else {
                set_position(&g, &mut stat, g.entries.len());
                let mut w = Writer::new();
                header(&mut w, EC_NOT_FOUND);
                stat_out(&mut w, Some(stat));
                w.u8(0);
                w.u32(0);
                return Ok(w.into_vec());
            };
            set_position(&g, &mut stat, i);
            header(&mut w, EC_SUCCESS);
            stat_out(&mut w, Some(stat));
            w.u8(0xFF);
            let columns = columns.unwrap_or_else(|| DEFAULT_COLUMNS.to_vec());
            let mids = [g.entries[i].mid];
            wire::encode_rowset(&mut w, &columns, &rows(ctx, &g, &mids, &columns, 0, unicode))?;
        }
        NspiRequest::GetMatches { stat, in_mids, filter, prop_name, row_count, columns } => {
            let g = gal_or!(&[], 3);
            let unicode = unicode_of(ns, stat.as_ref());
            let mut stat = stat.unwrap_or(Stat { code_page: ns.code_page, ..Default::default() });
            if prop_name.is_some() {
                // Named-property link tables are not served.
                return Ok(failure(p::EC_NOT_SUPPORTED, &[], 3));
            }
            let candidates: Vec<&GalEntry> = match (&in_mids, &filter) {
                (Some(m), _) => m.iter().filter_map(|m| g.get(*m)).collect(),
                // Without a filter the request names a link table (MS-OXNSPI 3.1.4.1.10): ContainerID holds the
                // link property, CurrentRec the object whose links are listed.
                (None, None) => match link_table(&g, stat.container_id, stat.current_rec) {
                    Some(v) => v,
                    None => return Ok(failure(p::EC_NOT_SUPPORTED, &[], 3)),
                },
                (None, Some(_)) => g.entries.iter().collect(),
            };
            let mut found = Vec::new();
            for e in candidates {
                let ok = match &filter {
                    Some(f) => match matches(ctx, &g, e, f) {
                        Ok(b) => b,
                        Err(ec) => return Ok(failure(ec, &[], 3)),
                    },
                    None => true,
                };
                if ok {
                    found.push(e.mid);
                }
            }
            let limit = if row_count == 0 { MAX_ROWS } else { (row_count as usize).min(MAX_ROWS) };
            if found.len() > limit {
                return Ok(failure(p::EC_TABLE_TOO_BIG, &[], 3));
            }
            stat.current_rec = MID_BEGINNING_OF_TABLE;
            stat.delta = 0;
            stat.num_pos = 0;
            stat.total_recs = found.len() as u32;
            let columns = columns.unwrap_or_default();
            header(&mut w, EC_SUCCESS);
            stat_out(&mut w, Some(stat));
            w.u8(0xFF);
            wire::encode_mids(&mut w, &found)?;
            w.u8(0xFF);
            let r = if columns.is_empty() { Vec::new() } else { rows(ctx, &g, &found, &columns, 0, unicode) };
            wire::encode_rowset(&mut w, &columns, &r)?;
        }
        NspiRequest::ResolveNames { stat, tags, names } => {
            let code_page = stat.map(|s| s.code_page).unwrap_or(ns.code_page);
            let g = gal_or!(&[code_page], 2);
            let unicode = unicode_of(ns, stat.as_ref());
            let mut mids = Vec::with_capacity(names.len());
            let mut resolved = Vec::new();
            for n in &names {
                let hits: Vec<&GalEntry> = g.entries.iter().filter(|e| anr_match(e, n)).collect();
                let term = fold(n.trim().trim_start_matches("SMTP:").trim_start_matches('='));
                let exact: Vec<&&GalEntry> = hits
                    .iter()
                    .filter(|e| fold(&e.entry.mail) == term || fold(&e.entry.display_name) == term)
                    .collect();
                let mid = match (hits.len(), exact.len()) {
                    (0, _) => MID_UNRESOLVED,
                    (1, _) => hits[0].mid,
                    (_, 1) => exact[0].mid,
                    _ => MID_AMBIGUOUS,
                };
                if mid != MID_UNRESOLVED && mid != MID_AMBIGUOUS {
                    resolved.push(mid);
                }
                mids.push(mid);
            }
            let columns = tags.unwrap_or_else(|| DEFAULT_COLUMNS.to_vec());
            header(&mut w, EC_SUCCESS);
            w.u32(code_page);
            w.u8(0xFF);
            wire::encode_mids(&mut w, &mids)?;
            w.u8(0xFF);
            wire::encode_rowset(&mut w, &columns, &rows(ctx, &g, &resolved, &columns, 0, unicode))?;
        }
        NspiRequest::CompareMIds { stat, mid1, mid2 } => {
            let g = gal_or!(&[0], 0);
            let _ = stat;
            let pos = |m: u32| match m {
                MID_BEGINNING_OF_TABLE => Some(-1i64),
                MID_END_OF_TABLE => Some(g.entries.len() as i64),
                m => g.index_of(m).map(|i| i as i64),
            };
            match (pos(mid1), pos(mid2)) {
                (Some(a), Some(b)) => {
                    header(&mut w, EC_SUCCESS);
                    w.i32((a - b).clamp(-1, 1) as i32);
                }
                _ => return Ok(failure(p::EC_GENERAL_FAILURE, &[0], 0)),
            }
        }
        NspiRequest::UpdateStat { stat, delta_requested } => {
            let g = gal_or!(&[], 2);
            let mut stat = stat.unwrap_or(Stat { code_page: ns.code_page, ..Default::default() });
            let before = match stat.current_rec {
                MID_BEGINNING_OF_TABLE => 0,
                MID_END_OF_TABLE => g.entries.len(),
                MID_CURRENT => stat.num_pos as usize,
                m => g.index_of(m).unwrap_or(0),
            };
            let pos = match position(&g, &stat) {
                Ok(p) => p,
                Err(ec) => return Ok(failure(ec, &[], 2)),
            };
            set_position(&g, &mut stat, pos);
            header(&mut w, EC_SUCCESS);
            stat_out(&mut w, Some(stat));
            put_opt(&mut w, delta_requested.then_some(pos as i64 - before as i64), |w, d| {
                w.i32(d as i32);
                Ok(())
            })?;
        }
        NspiRequest::ResortRestriction { stat, in_mids } => {
            let g = gal_or!(&[], 2);
            let mut stat = stat.unwrap_or(Stat { code_page: ns.code_page, ..Default::default() });
            let mut idx: Vec<usize> = in_mids.unwrap_or_default().iter().filter_map(|m| g.index_of(*m)).collect();
            idx.sort_unstable();
            idx.dedup();
            let mids: Vec<u32> = idx.iter().map(|i| g.entries[*i].mid).collect();
            stat.current_rec = mids.first().copied().unwrap_or(MID_END_OF_TABLE);
            stat.num_pos = 0;
            stat.delta = 0;
            stat.total_recs = mids.len() as u32;
            header(&mut w, EC_SUCCESS);
            stat_out(&mut w, Some(stat));
            w.u8(0xFF);
            wire::encode_mids(&mut w, &mids)?;
        }
        NspiRequest::GetTemplateInfo { code_page, .. } => {
            // No display templates are served: Outlook falls back to its built-in dialogs.
            return Ok(failure(EC_NOT_FOUND, &[code_page], 1));
        }
        NspiRequest::ModProps | NspiRequest::ModLinkAtt => {
            return Ok(failure(p::EC_NOT_SUPPORTED, &[], 0));
        }
        NspiRequest::GetMailboxUrl { user_dn, .. } => {
            let g = gal(ctx, ns).await.unwrap_or_default();
            let url = g
                .entries
                .iter()
                .find(|e| {
                    e.server_dn.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&user_dn))
                        || e.mdb_dn.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&user_dn))
                        || e.legacy_dn.eq_ignore_ascii_case(&user_dn)
                })
                .and_then(|e| e.emsmdb_url.clone())
                .unwrap_or_else(|| ctx.me.emsmdb_url());
            header(&mut w, EC_SUCCESS);
            w.utf16z(&url);
        }
        NspiRequest::GetAddressBookUrl { .. } => {
            header(&mut w, EC_SUCCESS);
            w.utf16z(&ctx.me.nspi_url());
        }
    }
    w.u32(0);
    Ok(w.into_vec())
}

/// The provider UID of permanent entry ids (re-exported for tests).
pub const PROVIDER_UID: Guid = NSPI_PROVIDER_UID;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mid: u32, name: &str, mail: &str, kind: EntryKind) -> GalEntry {
        GalEntry {
            mid,
            entry: DirectoryEntry {
                kind,
                dn: format!("uid={},dc=x", mail.split('@').next().unwrap()),
                login: (kind == EntryKind::Mailbox).then(|| mail.split('@').next().unwrap().to_string()),
                display_name: name.into(),
                mail: mail.into(),
                given_name: name.split(' ').next().map(str::to_string),
                surname: name.split(' ').nth(1).map(str::to_string),
                title: None,
                department: None,
                office: None,
                phone: None,
                mobile: None,
                manager_dn: None,
                members: vec![],
            },
            legacy_dn: format!("/o=X/cn=Recipients/cn={}", mail.split('@').next().unwrap()),
            server_dn: None,
            mdb_dn: None,
            emsmdb_url: None,
        }
    }

    fn gal() -> Gal {
        let mut entries = vec![
            entry(0x100, "Alice Anderson", "alice@x", EntryKind::Mailbox),
            entry(0x200, "Bob Brown", "bob@x", EntryKind::Mailbox),
            entry(0x300, "Engineering Team", "team@x", EntryKind::DistributionList),
        ];
        entries[1].entry.manager_dn = Some("UID=alice,dc=x".into());
        entries[2].entry.members = vec!["uid=alice,dc=x".into(), "uid=bob,dc=x".into(), "uid=gone,dc=x".into()];
        let by_mid = entries.iter().enumerate().map(|(i, e)| (e.mid, i)).collect();
        Gal { entries, by_mid }
    }

    #[test]
    fn positions() {
        let g = gal();
        let s = |current_rec, delta, num_pos| Stat { current_rec, delta, num_pos, ..Default::default() };
        assert_eq!(position(&g, &s(MID_BEGINNING_OF_TABLE, 0, 0)), Ok(0));
        assert_eq!(position(&g, &s(MID_BEGINNING_OF_TABLE, 2, 0)), Ok(2));
        assert_eq!(position(&g, &s(MID_BEGINNING_OF_TABLE, 9, 0)), Ok(3));
        assert_eq!(position(&g, &s(MID_END_OF_TABLE, -1, 0)), Ok(2));
        assert_eq!(position(&g, &s(MID_CURRENT, 1, 1)), Ok(2));
        assert_eq!(position(&g, &s(0x200, -5, 0)), Ok(0));
        assert_eq!(position(&g, &s(0x999, 0, 0)), Err(EC_NOT_FOUND));
        let mut st = s(0, 0, 0);
        set_position(&g, &mut st, 1);
        assert_eq!((st.current_rec, st.num_pos, st.total_recs), (0x200, 1, 3));
        set_position(&g, &mut st, 3);
        assert_eq!(st.current_rec, MID_END_OF_TABLE);
    }

    #[test]
    fn link_tables() {
        let g = gal();
        let mids =
            |prop: PropTag, mid| link_table(&g, prop.0, mid).map(|v| v.iter().map(|e| e.mid).collect::<Vec<_>>());
        assert_eq!(mids(p::ADDRESS_BOOK_MEMBER, 0x300), Some(vec![0x100, 0x200]));
        assert_eq!(mids(p::ADDRESS_BOOK_MEMBER.with_type(0x101E), 0x300), Some(vec![0x100, 0x200]));
        assert_eq!(mids(p::ADDRESS_BOOK_REPORTS, 0x100), Some(vec![0x200]));
        assert_eq!(mids(p::ADDRESS_BOOK_IS_MEMBER_OF_DL, 0x200), Some(vec![0x300]));
        assert_eq!(mids(p::ADDRESS_BOOK_MEMBER, 0x100), Some(vec![]));
        assert_eq!(mids(p::DISPLAY_NAME, 0x300), None);
        assert_eq!(mids(p::ADDRESS_BOOK_MEMBER, 0x999), None);
    }

    #[test]
    fn anr() {
        let g = gal();
        let hits = |t: &str| g.entries.iter().filter(|e| anr_match(e, t)).map(|e| e.mid).collect::<Vec<_>>();
        assert_eq!(hits("ali"), [0x100]);
        assert_eq!(hits("BROWN"), [0x200]);
        assert_eq!(hits("team"), [0x300]);
        assert_eq!(hits("SMTP:bob@x"), [0x200]);
        assert_eq!(hits("=bob"), [0x200]);
        assert_eq!(hits("=bo"), Vec::<u32>::new());
        assert_eq!(hits(""), Vec::<u32>::new());
        assert_eq!(hits("/o=X/cn=Recipients/cn=alice"), [0x100]);
        assert_eq!(hits("zzz"), Vec::<u32>::new());
    }

    #[test]
    fn coercion() {
        let v = PropValue::String("Zoë Ω".into());
        assert_eq!(coerce(v.clone(), p::DISPLAY_NAME, true), Some(v.clone()));
        assert_eq!(
            coerce(v.clone(), p::DISPLAY_NAME.with_type(0x1E), true),
            Some(PropValue::String8(b"Zo\xeb ?".to_vec()))
        );
        assert_eq!(
            coerce(v.clone(), p::DISPLAY_NAME.with_type(0), false),
            Some(PropValue::String8(b"Zo\xeb ?".to_vec()))
        );
        assert_eq!(coerce(v, p::DISPLAY_NAME.with_type(0x03), true), None);
        let mv = PropValue::MultipleString(vec!["SMTP:a@x".into()]);
        assert_eq!(
            coerce(mv, p::ADDRESS_BOOK_PROXY_ADDRESSES.with_type(0x101E), true),
            Some(PropValue::MultipleString8(vec![b"SMTP:a@x".to_vec()]))
        );
    }
}
