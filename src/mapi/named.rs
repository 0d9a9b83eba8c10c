//! The per-mailbox named-property map (PropIds 0x8000–0xFFFE ↔ GUID + LID/name), persisted as ADR 0002 §2
//! decides: an append-only log of text messages in the hidden IMAP folder `Viaduc`. Entries are applied in IMAP
//! UID order; the first mapping of a name and the first use of an id win, so every gateway instance reading the
//! same log computes the same map, and concurrent allocations resolve deterministically (the loser allocates
//! again). Ids are never reassigned: Outlook caches them in its OST.
//!
//! PS_MAPI names map to the LID itself (MS-OXCPRPT 3.1.5.x): they are never stored.

use std::collections::HashMap;
use std::sync::Arc;

use mapi_codec::oxcdata::{Guid, NameKind, PS_MAPI, PropertyName};

use crate::auth::Principal;
use crate::backend::imap::store::{Criteria, MailStore};
use crate::error::{Error, Result};

/// The hidden folder of ADR 0002.
pub const HIDDEN_FOLDER: &str = "Viaduc";
/// First line of a named-property log message.
const MAGIC: &str = "viaduc-namedprops v1";
/// Lowest and highest named-property ids.
pub const FIRST_ID: u16 = 0x8001;
pub const LAST_ID: u16 = 0xFFFE;
/// Largest log message read.
const MAX_ENTRY_BYTES: u32 = 4 * 1024 * 1024;

/// A name as a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Lid(Guid, u32),
    Name(Guid, String),
}

impl Key {
    pub fn of(n: &PropertyName) -> Option<Key> {
        match &n.kind {
            NameKind::Lid(l) => Some(Key::Lid(n.guid, *l)),
            NameKind::Name(s) => Some(Key::Name(n.guid, s.clone())),
            NameKind::None => None,
        }
    }
    pub fn name(&self) -> PropertyName {
        match self {
            Key::Lid(g, l) => PropertyName { guid: *g, kind: NameKind::Lid(*l) },
            Key::Name(g, s) => PropertyName { guid: *g, kind: NameKind::Name(s.clone()) },
        }
    }
}

/// The resolved map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamedMap {
    by_key: HashMap<Key, u16>,
    by_id: HashMap<u16, Key>,
}

fn guid_text(g: &Guid) -> String {
    g.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_guid(s: &str) -> Option<Guid> {
    if s.len() != 32 {
        return None;
    }
    let mut g = [0u8; 16];
    for (i, b) in g.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Guid(g))
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// One log line: `<id hex> lid <guid hex> <lid hex>` or `<id hex> name <guid hex> <utf-8 hex>`.
fn line(id: u16, key: &Key) -> String {
    match key {
        Key::Lid(g, l) => format!("{id:04x} lid {} {l:08x}", guid_text(g)),
        Key::Name(g, n) => format!("{id:04x} name {} {}", guid_text(g), hex(n)),
    }
}

fn parse_line(l: &str) -> Option<(u16, Key)> {
    let mut it = l.split_ascii_whitespace();
    let id = u16::from_str_radix(it.next()?, 16).ok()?;
    let kind = it.next()?;
    let guid = parse_guid(it.next()?)?;
    let v = it.next()?;
    let key = match kind {
        "lid" => Key::Lid(guid, u32::from_str_radix(v, 16).ok()?),
        "name" => Key::Name(guid, unhex(v)?),
        _ => return None,
    };
    (FIRST_ID..=LAST_ID).contains(&id).then_some((id, key))
}

impl NamedMap {
    /// Applies log messages (UID, raw RFC 5322 text) in UID order.
    pub fn from_log(mut entries: Vec<(u32, Vec<u8>)>) -> NamedMap {
        entries.sort_by_key(|(uid, _)| *uid);
        let mut m = NamedMap::default();
        for (_, raw) in entries {
            let text = String::from_utf8_lossy(&raw);
            let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n")).map(|(_, b)| b).unwrap_or("");
            let mut lines = body.lines();
            if lines.next().map(str::trim) != Some(MAGIC) {
                continue;
            }
            for (id, key) in lines.filter_map(|l| parse_line(l.trim())) {
                if m.by_key.contains_key(&key) || m.by_id.contains_key(&id) {
                    continue;
                }
                m.by_id.insert(id, key.clone());
                m.by_key.insert(key, id);
            }
        }
        m
    }

    /// The id of a name, PS_MAPI LIDs included.
    pub fn id_of(&self, n: &PropertyName) -> Option<u16> {
        if n.guid == PS_MAPI
            && let NameKind::Lid(l) = n.kind
        {
            return u16::try_from(l).ok().filter(|l| *l < 0x8000);
        }
        Key::of(n).and_then(|k| self.by_key.get(&k).copied())
    }

    /// The name of an id.
    pub fn name_of(&self, id: u16) -> Option<PropertyName> {
        self.by_id.get(&id).map(Key::name)
    }

    /// Every mapping, by id.
    pub fn all(&self) -> Vec<(u16, PropertyName)> {
        let mut v: Vec<(u16, PropertyName)> = self.by_id.iter().map(|(i, k)| (*i, k.name())).collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }

    /// Proposes ids for `keys` (not yet mapped) after the highest id in use. `None` when the id space is full.
    pub fn propose(&self, keys: &[Key]) -> Option<Vec<(u16, Key)>> {
        let mut next = self.by_id.keys().max().map(|m| m + 1).unwrap_or(FIRST_ID).max(FIRST_ID);
        let mut out = Vec::new();
        for k in keys {
            if self.by_key.contains_key(k) || out.iter().any(|(_, x)| x == k) {
                continue;
            }
            if !(FIRST_ID..=LAST_ID).contains(&next) {
                return None;
            }
            out.push((next, k.clone()));
            next = next.wrapping_add(1);
        }
        Some(out)
    }
}

/// A log message holding `entries`.
pub fn log_message(entries: &[(u16, Key)]) -> Vec<u8> {
    let mut body = format!(
        "From: Viaduc <viaduc@localhost>\r\nSubject: viaduc named properties\r\nX-Viaduc-Kind: namedprops\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{MAGIC}\r\n"
    );
    for (id, k) in entries {
        body.push_str(&line(*id, k));
        body.push_str("\r\n");
    }
    body.into_bytes()
}

/// Reads the whole log of the caller's mailbox.
pub async fn load(store: &MailStore, p: &Principal) -> Result<NamedMap> {
    let uids = match store.search_uids(p, HIDDEN_FOLDER, &Criteria::All).await {
        Ok(u) => u,
        Err(_) => {
            // The hidden folder does not exist yet (or vanished): an empty map.
            return Ok(NamedMap::default());
        }
    };
    let mut entries = Vec::with_capacity(uids.len());
    for uid in uids {
        if let Some(raw) = store.fetch_raw_range(p, HIDDEN_FOLDER, uid, 0, MAX_ENTRY_BYTES).await? {
            entries.push((uid, raw.to_vec()));
        }
    }
    Ok(NamedMap::from_log(entries))
}

/// Maps `names` to ids; with `create`, unknown names get new ids persisted in the log. Unknown names without
/// `create` (and kind-less names) are 0.
pub async fn resolve(
    store: &MailStore,
    p: &Principal,
    cached: Option<Arc<NamedMap>>,
    names: &[PropertyName],
    create: bool,
) -> Result<(Arc<NamedMap>, Vec<u16>)> {
    let mut map = match cached {
        Some(m) if names.iter().all(|n| m.id_of(n).is_some() || Key::of(n).is_none()) => m,
        _ => Arc::new(load(store, p).await?),
    };
    for _attempt in 0..4 {
        let missing: Vec<Key> =
            names.iter().filter(|n| map.id_of(n).is_none()).filter_map(Key::of).filter(|k| !is_ps_mapi(k)).collect();
        if missing.is_empty() || !create {
            break;
        }
        let Some(proposal) = map.propose(&missing) else {
            return Err(Error::internal("the named-property id space of this mailbox is full"));
        };
        let _ = store.create_mailbox(p, HIDDEN_FOLDER).await;
        store.append(p, HIDDEN_FOLDER, &log_message(&proposal), &["\\Seen"]).await?;
        // Re-read: a concurrent instance may have won some ids; the loop re-proposes for the losers.
        map = Arc::new(load(store, p).await?);
    }
    let ids = names.iter().map(|n| map.id_of(n).unwrap_or(0)).collect();
    Ok((map, ids))
}

fn is_ps_mapi(k: &Key) -> bool {
    matches!(k, Key::Lid(g, _) | Key::Name(g, _) if *g == PS_MAPI)
}

/// The IMAP store for MAPI requests of this process.
pub fn store(gw_imap: &crate::config::ImapConfig, tls: &Arc<rustls::ClientConfig>) -> &'static MailStore {
    crate::backend::imap::store::shared(gw_imap, tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapi_codec::oxcdata::PS_PUBLIC_STRINGS;

    fn lid(g: Guid, l: u32) -> PropertyName {
        PropertyName { guid: g, kind: NameKind::Lid(l) }
    }
    fn name(g: Guid, s: &str) -> PropertyName {
        PropertyName { guid: g, kind: NameKind::Name(s.into()) }
    }

    #[test]
    fn log_round_trip_and_races() {
        let appt = Guid([2; 16]);
        let a = Key::of(&lid(appt, 0x8205)).unwrap();
        let b = Key::of(&name(PS_PUBLIC_STRINGS, "Keywords ünï")).unwrap();
        let c = Key::of(&name(PS_PUBLIC_STRINGS, "Other")).unwrap();
        // Instance 1 wrote a and b; instance 2, racing, wrote c with the id of a, and b with another id.
        let log = vec![
            (7, log_message(&[(0x8001, a.clone()), (0x8002, b.clone())])),
            (8, log_message(&[(0x8001, c.clone()), (0x8003, b.clone())])),
            (9, b"garbage".to_vec()),
        ];
        let m = NamedMap::from_log(log.clone());
        assert_eq!(m.id_of(&a.name()), Some(0x8001));
        assert_eq!(m.id_of(&b.name()), Some(0x8002), "the first mapping of a name wins");
        assert_eq!(m.id_of(&c.name()), None, "its id was taken: it must be proposed again");
        assert_eq!(m.name_of(0x8002), Some(b.name()));
        // Order of reading does not matter.
        let mut rev = log;
        rev.reverse();
        assert_eq!(NamedMap::from_log(rev), m);
        // The loser gets the next free id.
        assert_eq!(m.propose(&[c.clone(), a.clone()]), Some(vec![(0x8003, c)]));
        // PS_MAPI LIDs are the ids themselves, never stored.
        assert_eq!(m.id_of(&lid(PS_MAPI, 0x3001)), Some(0x3001));
        assert_eq!(m.id_of(&lid(PS_MAPI, 0x9000)), None);
        assert_eq!(m.id_of(&PropertyName { guid: appt, kind: NameKind::None }), None);
    }

    #[test]
    fn full_id_space() {
        let mut m = NamedMap::default();
        m.by_id.insert(LAST_ID, Key::Lid(Guid([1; 16]), 1));
        assert_eq!(m.propose(&[Key::Lid(Guid([1; 16]), 2)]), None);
        assert_eq!(parse_line("ffff lid 00000000000000000000000000000000 1"), None);
        assert_eq!(parse_line("8001 name 0101 41"), None);
    }
}
