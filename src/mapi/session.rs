//! MAPI/HTTP Session Contexts (MS-OXCMAPIHTTP 3.2.1): the only in-memory state of the MAPI front-end (ADR 0002
//! section 3). Sessions live in a bounded LRU per process; the client finds its session again through the
//! session context cookie, and the sequence cookie orders its requests (3.2.5.1). Losing a session (eviction,
//! expiry, restart, another instance) answers "Context Not Found" and Outlook reconnects.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lru::LruCache;
use rand::RngCore;

use super::nspi::Gal;

/// Which endpoint a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Emsmdb,
    Nspi,
}

impl Endpoint {
    pub fn cookie_path(self) -> &'static str {
        match self {
            Endpoint::Emsmdb => "/mapi/emsmdb/",
            Endpoint::Nspi => "/mapi/nspi/",
        }
    }
}

/// Tunables, from the `[mapi]` section of the configuration (defaults follow Exchange). An environment variable
/// overrides each one (`VIADUC_MAPI_*`, for operations and tests).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// A session unused for this long is gone (`session_idle_secs`, default 900 — the X-ExpirationInfo Exchange
    /// sends; `VIADUC_MAPI_SESSION_IDLE_SECS`).
    pub idle: Duration,
    /// Interval of PENDING keep-alives (`pending_period_ms`, default 15000 = X-PendingPeriod;
    /// `VIADUC_MAPI_PENDING_MS`).
    pub pending: Duration,
    /// How long NotificationWait is held without an event (`notification_wait_secs`, default 300;
    /// `VIADUC_MAPI_NOTIFICATION_WAIT_SECS`).
    pub notification_wait: Duration,
    /// Most sessions kept per process (`max_sessions`, default 10000; `VIADUC_MAPI_MAX_SESSIONS`).
    pub max_sessions: usize,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).filter(|v| *v > 0).unwrap_or(default)
}

static TUNING: OnceLock<Tuning> = OnceLock::new();

impl Tuning {
    fn from(config: &crate::config::MapiConfig) -> Tuning {
        Tuning {
            idle: Duration::from_secs(env_u64("VIADUC_MAPI_SESSION_IDLE_SECS", config.session_idle_secs.max(1))),
            pending: Duration::from_millis(env_u64("VIADUC_MAPI_PENDING_MS", config.pending_period_ms.max(100))),
            notification_wait: Duration::from_secs(env_u64(
                "VIADUC_MAPI_NOTIFICATION_WAIT_SECS",
                config.notification_wait_secs.max(1),
            )),
            max_sessions: env_u64("VIADUC_MAPI_MAX_SESSIONS", config.max_sessions.max(1) as u64) as usize,
        }
    }

    /// Sets the tunables from the configuration; called once at start-up, before the first MAPI request.
    pub fn init(config: &crate::config::MapiConfig) {
        let _ = TUNING.set(Tuning::from(config));
    }

    pub fn get() -> Tuning {
        *TUNING.get_or_init(|| Tuning::from(&crate::config::MapiConfig::default()))
    }
}

/// A server object in the ROP handle table (MS-OXCROPS 2.2.1, MS-OXCRPC 3.1.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A private-mailbox logon (RopLogon), by LogonId.
    Logon { logon_id: u8 },
}

/// EMSMDB state: the handle table, and the named-property map last read (a cache: the log in the mailbox is
/// the truth).
#[derive(Debug, Default)]
pub struct EmsmdbState {
    pub handles: HashMap<u32, Object>,
    next_handle: u32,
    pub code_page: u32,
    pub locale: u32,
    pub named: Option<Arc<super::named::NamedMap>>,
}

impl EmsmdbState {
    pub fn new(code_page: u32, locale: u32) -> EmsmdbState {
        EmsmdbState { code_page, locale, ..Default::default() }
    }

    /// Registers an object and returns its new server handle (never 0xFFFFFFFF).
    pub fn add(&mut self, o: Object) -> u32 {
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        if self.next_handle == u32::MAX {
            self.next_handle = 1;
        }
        self.handles.insert(self.next_handle, o);
        self.next_handle
    }
}

/// NSPI state: the GAL snapshot of this session (cached on first use).
#[derive(Default)]
pub struct NspiState {
    pub gal: Option<Arc<Gal>>,
    pub code_page: u32,
}

pub enum State {
    Emsmdb(EmsmdbState),
    Nspi(NspiState),
}

/// One Session Context.
pub struct Session {
    pub endpoint: Endpoint,
    /// The authenticated owner (primary SMTP address, lower-cased).
    pub owner: String,
    meta: Mutex<Meta>,
    /// Held for the duration of one request's work (Execute, NSPI calls); NotificationWait does not take it.
    pub state: tokio::sync::Mutex<State>,
}

struct Meta {
    /// The current value of the sequence cookie.
    sequence: String,
    last_used: Instant,
}

/// A handle on a live session.
pub type SessionRef = Arc<Session>;

/// Why a cookie does not lead to a usable session (mapped to X-ResponseCode by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The cookie value is not one this server could have issued (6 Invalid Context Cookie).
    Invalid,
    /// Unknown, expired or evicted (10 Context Not Found).
    NotFound,
    /// Belongs to another user (11 No Privilege).
    OtherUser,
    /// The sequence cookie is missing (13) or stale (15).
    MissingSequence,
    BadSequence,
}

/// Random 128-bit token in hex.
fn token() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn well_formed(cookie: &str) -> bool {
    cookie.len() == 32 && cookie.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The process-wide session table.
pub struct Store {
    sessions: Mutex<LruCache<String, SessionRef>>,
}

impl Store {
    pub fn new(capacity: usize) -> Store {
        Store { sessions: Mutex::new(LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN))) }
    }

    /// The store of this process.
    pub fn global() -> &'static Store {
        static S: OnceLock<Store> = OnceLock::new();
        S.get_or_init(|| Store::new(Tuning::get().max_sessions))
    }

    /// Creates a session; returns (context cookie, sequence cookie, session).
    pub fn create(&self, endpoint: Endpoint, owner: &str, state: State) -> (String, String, SessionRef) {
        let id = token();
        let sequence = token();
        let s = Arc::new(Session {
            endpoint,
            owner: owner.to_string(),
            meta: Mutex::new(Meta { sequence: sequence.clone(), last_used: Instant::now() }),
            state: tokio::sync::Mutex::new(state),
        });
        if let Ok(mut m) = self.sessions.lock() {
            m.put(id.clone(), s.clone());
        }
        (id, sequence, s)
    }

    /// Finds the session of `cookie` for `owner` on `endpoint`. When `sequence` is `Some`, the sequence cookie is
    /// checked and replaced: the new value is returned. Expired sessions are removed.
    pub fn find(
        &self,
        endpoint: Endpoint,
        owner: &str,
        cookie: &str,
        sequence: Option<Option<&str>>,
        idle: Duration,
    ) -> Result<(SessionRef, Option<String>), Lookup> {
        if !well_formed(cookie) {
            return Err(Lookup::Invalid);
        }
        let mut map = self.sessions.lock().map_err(|_| Lookup::NotFound)?;
        let Some(s) = map.get(cookie).cloned() else { return Err(Lookup::NotFound) };
        let mut meta = s.meta.lock().map_err(|_| Lookup::NotFound)?;
        if meta.last_used.elapsed() > idle {
            drop(meta);
            map.pop(cookie);
            return Err(Lookup::NotFound);
        }
        if s.endpoint != endpoint {
            return Err(Lookup::NotFound);
        }
        if s.owner != owner {
            return Err(Lookup::OtherUser);
        }
        let mut next = None;
        if let Some(seq) = sequence {
            match seq {
                None => return Err(Lookup::MissingSequence),
                Some(v) if v != meta.sequence => return Err(Lookup::BadSequence),
                Some(_) => {
                    let n = token();
                    meta.sequence = n.clone();
                    next = Some(n);
                }
            }
        }
        meta.last_used = Instant::now();
        drop(meta);
        Ok((s, next))
    }

    /// Ends a session (Disconnect, Unbind).
    pub fn remove(&self, cookie: &str) {
        if let Ok(mut m) = self.sessions.lock() {
            m.pop(cookie);
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st() -> State {
        State::Emsmdb(EmsmdbState::default())
    }

    #[test]
    fn lifecycle() {
        let store = Store::new(2);
        let idle = Duration::from_secs(60);
        let (id, seq, _) = store.create(Endpoint::Emsmdb, "alice@x", st());
        assert_eq!(store.find(Endpoint::Emsmdb, "alice@x", "zz", None, idle).err(), Some(Lookup::Invalid));
        assert_eq!(store.find(Endpoint::Nspi, "alice@x", &id, None, idle).err(), Some(Lookup::NotFound));
        assert_eq!(store.find(Endpoint::Emsmdb, "bob@x", &id, None, idle).err(), Some(Lookup::OtherUser));
        assert_eq!(store.find(Endpoint::Emsmdb, "alice@x", &id, Some(None), idle).err(), Some(Lookup::MissingSequence));
        assert_eq!(
            store.find(Endpoint::Emsmdb, "alice@x", &id, Some(Some("x")), idle).err(),
            Some(Lookup::BadSequence)
        );
        let (_, next) = store.find(Endpoint::Emsmdb, "alice@x", &id, Some(Some(&seq)), idle).unwrap();
        let next = next.unwrap();
        assert_ne!(next, seq);
        // The old sequence value is now stale.
        assert_eq!(
            store.find(Endpoint::Emsmdb, "alice@x", &id, Some(Some(&seq)), idle).err(),
            Some(Lookup::BadSequence)
        );
        assert!(store.find(Endpoint::Emsmdb, "alice@x", &id, Some(Some(&next)), idle).is_ok());
        // Expiry.
        assert_eq!(store.find(Endpoint::Emsmdb, "alice@x", &id, None, Duration::ZERO).err(), Some(Lookup::NotFound));
        assert_eq!(store.find(Endpoint::Emsmdb, "alice@x", &id, None, idle).err(), Some(Lookup::NotFound));
    }

    #[test]
    fn bounded() {
        let store = Store::new(2);
        let idle = Duration::from_secs(60);
        let (a, _, _) = store.create(Endpoint::Nspi, "a", st());
        let (b, _, _) = store.create(Endpoint::Nspi, "a", st());
        let (c, _, _) = store.create(Endpoint::Nspi, "a", st());
        assert_eq!(store.len(), 2);
        assert_eq!(store.find(Endpoint::Nspi, "a", &a, None, idle).err(), Some(Lookup::NotFound));
        assert!(store.find(Endpoint::Nspi, "a", &b, None, idle).is_ok());
        assert!(store.find(Endpoint::Nspi, "a", &c, None, idle).is_ok());
        store.remove(&c);
        assert_eq!(store.find(Endpoint::Nspi, "a", &c, None, idle).err(), Some(Lookup::NotFound));
    }
}
