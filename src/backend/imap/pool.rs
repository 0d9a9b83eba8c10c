//! A per-user pool of authenticated IMAP sessions: a request borrows a session and gives it back when done, so a
//! busy client costs one login per few minutes rather than one per request.
//!
//! - Sessions are keyed by (login, salted hash of the password): a changed password never reuses a session
//!   opened with the old one, and the pool keeps no password.
//! - At most `max_sessions_per_user` sessions of one user are out at once (a semaphore per user); further
//!   callers wait up to the IMAP timeout.
//! - An idle session is checked with NOOP before reuse when it has been idle a while, and closed after
//!   `idle_timeout`.
//! - A session whose command was interrupted (the caller's future was dropped mid-command) or that failed at
//!   the connection level is never returned to the pool.
//!
//! Commands go through [`PooledSession::execute`], which speaks the wire format of [`super::codec`] directly on
//! the session's stream (async-imap's parser rejects responses such as `STATUS (X-GUID ...)`). The session
//! still derefs to [`ImapSession`] for callers that want async-imap's typed methods.

use std::collections::{HashMap, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

use super::codec::{self, Command, Part, RespText, Response, Status};
use super::{ImapSession, login};
use crate::auth::Principal;
use crate::config::ImapConfig;
use crate::error::{Backend, Error, Kind, Result};

/// Pool limits.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    /// Sessions of one user that may be in use at the same time.
    pub max_sessions_per_user: usize,
    /// Idle sessions kept per user.
    pub max_idle_per_user: usize,
    /// An idle session older than this is logged out.
    pub idle_timeout: Duration,
    /// An idle session older than this is checked with NOOP before it is handed out.
    pub check_after: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_sessions_per_user: 4,
            max_idle_per_user: 2,
            idle_timeout: Duration::from_secs(300),
            check_after: Duration::from_secs(30),
        }
    }
}

type UserKey = (String, [u8; 32]);

struct Idle {
    conn: Conn,
    since: Instant,
}

struct UserSlot {
    idle: Mutex<VecDeque<Idle>>,
    permits: Arc<Semaphore>,
}

struct PoolInner {
    config: ImapConfig,
    tls: Arc<rustls::ClientConfig>,
    limits: PoolLimits,
    salt: [u8; 16],
    users: Mutex<HashMap<UserKey, Arc<UserSlot>>>,
    logins: AtomicU64,
    reused: AtomicU64,
}

/// The per-user IMAP session pool. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct ImapPool {
    inner: Arc<PoolInner>,
}

impl ImapPool {
    /// A pool with the limits named in the configuration (`[imap] pool_*`).
    pub fn new(config: ImapConfig, tls: Arc<rustls::ClientConfig>) -> ImapPool {
        let limits = PoolLimits {
            max_sessions_per_user: config.pool_max_sessions_per_user.max(1),
            max_idle_per_user: config.pool_max_idle_per_user,
            idle_timeout: Duration::from_secs(config.pool_idle_timeout_secs.max(1)),
            ..PoolLimits::default()
        };
        ImapPool::with_limits(config, tls, limits)
    }

    pub fn with_limits(config: ImapConfig, tls: Arc<rustls::ClientConfig>, limits: PoolLimits) -> ImapPool {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let inner = Arc::new(PoolInner {
            config,
            tls,
            limits,
            salt,
            users: Mutex::new(HashMap::new()),
            logins: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        });
        // A reaper closes sessions idle for too long; it ends when the pool is dropped.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&inner);
            let period = (inner.limits.idle_timeout / 2).max(Duration::from_secs(1));
            handle.spawn(reaper(weak, period));
        }
        ImapPool { inner }
    }

    /// The IMAP configuration the pool logs in with.
    pub fn config(&self) -> &ImapConfig {
        &self.inner.config
    }

    /// Logins performed so far (for tests and metrics).
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// Sessions handed out from the idle list so far.
    pub fn reused(&self) -> u64 {
        self.inner.reused.load(Ordering::Relaxed)
    }

    /// Idle sessions currently held (all users).
    pub fn idle_count(&self) -> usize {
        let users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        users.values().map(|s| s.idle.lock().map(|q| q.len()).unwrap_or(0)).sum()
    }

    fn key(&self, principal: &Principal) -> UserKey {
        let mut h = Sha256::new();
        h.update(self.inner.salt);
        h.update(principal.login.as_bytes());
        h.update([0u8]);
        h.update(principal.password().as_bytes());
        (principal.login.to_lowercase(), h.finalize().into())
    }

    /// Borrows a session of `principal`: an idle one (NOOP-checked when it has been idle a while) or a new login.
    pub async fn get(&self, principal: &Principal) -> Result<PooledSession> {
        self.get_preferring(principal, None).await
    }

    /// Like [`ImapPool::get`], preferring an idle session that has `mailbox` selected already (the most recently
    /// used such one), so that the store can skip selecting it again.
    pub async fn get_in(&self, principal: &Principal, mailbox: &str) -> Result<PooledSession> {
        self.get_preferring(principal, Some(mailbox)).await
    }

    async fn get_preferring(&self, principal: &Principal, mailbox: Option<&str>) -> Result<PooledSession> {
        let key = self.key(principal);
        let slot = {
            let mut users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
            users
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(UserSlot {
                        idle: Mutex::new(VecDeque::new()),
                        permits: Arc::new(Semaphore::new(self.inner.limits.max_sessions_per_user.max(1))),
                    })
                })
                .clone()
        };
        let wait = Duration::from_secs(self.inner.config.timeout_secs.max(1));
        let permit = timeout(wait, slot.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::unavailable(Backend::Imap, "too many concurrent IMAP sessions for this user"))?
            .map_err(|_| Error::internal("IMAP pool closed"))?;

        loop {
            let candidate = {
                let mut idle = slot.idle.lock().unwrap_or_else(|e| e.into_inner());
                let hit = mailbox
                    .and_then(|m| idle.iter().rposition(|i| i.conn.selected.as_ref().is_some_and(|s| s.mailbox == m)));
                match hit {
                    Some(at) => idle.remove(at),
                    None => idle.pop_back(),
                }
            };
            let Some(Idle { mut conn, since }) = candidate else { break };
            let age = since.elapsed();
            if age >= self.inner.limits.idle_timeout {
                spawn_logout(conn);
                continue;
            }
            if age >= self.inner.limits.check_after {
                let ok =
                    conn.execute(&Command::new("NOOP"), &self.inner.config).await.is_ok_and(|c| c.status == Status::Ok);
                if !ok || conn.broken {
                    spawn_logout(conn);
                    continue;
                }
            }
            self.inner.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(PooledSession {
                conn: Some(conn),
                slot,
                inner: self.inner.clone(),
                _permit: permit,
                principal: principal.clone(),
                untested: true,
            });
        }

        let conn = fresh_conn(&self.inner, principal).await?;
        Ok(PooledSession {
            conn: Some(conn),
            slot,
            inner: self.inner.clone(),
            _permit: permit,
            principal: principal.clone(),
            untested: false,
        })
    }

    /// Logs out every idle session older than the idle timeout and forgets users with nothing left.
    pub fn sweep(&self) {
        sweep(&self.inner);
    }
}

/// Logs in and prepares a new connection.
async fn fresh_conn(inner: &PoolInner, principal: &Principal) -> Result<Conn> {
    let session = login(&inner.config, &inner.tls, &principal.login, principal.password()).await?;
    inner.logins.fetch_add(1, Ordering::Relaxed);
    let mut conn = Conn::new(session);
    conn.setup(&inner.config).await?;
    Ok(conn)
}

fn sweep(inner: &PoolInner) {
    let mut users = inner.users.lock().unwrap_or_else(|e| e.into_inner());
    let max = inner.limits.max_sessions_per_user.max(1);
    users.retain(|_, slot| {
        let mut idle = slot.idle.lock().unwrap_or_else(|e| e.into_inner());
        while idle.front().is_some_and(|i| i.since.elapsed() >= inner.limits.idle_timeout) {
            if let Some(i) = idle.pop_front() {
                spawn_logout(i.conn);
            }
        }
        !idle.is_empty() || slot.permits.available_permits() < max
    });
}

async fn reaper(pool: Weak<PoolInner>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = pool.upgrade() else { return };
        sweep(&inner);
    }
}

fn spawn_logout(conn: Conn) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let mut session = conn.session;
            let _ = timeout(Duration::from_secs(2), session.logout()).await;
        });
    }
}

/// What a command produced: its untagged responses and the tagged completion.
#[derive(Debug, Clone)]
pub struct Completed {
    pub responses: Vec<Response>,
    pub status: Status,
    pub text: RespText,
}

impl Completed {
    /// The untagged data responses (`* ...`) in order.
    pub fn data(&self) -> impl Iterator<Item = &[codec::Value]> {
        self.responses.iter().filter_map(|r| match r {
            Response::Data(v) => Some(v.as_slice()),
            _ => None,
        })
    }
    /// The response code of the tagged completion, if any.
    pub fn code(&self) -> Option<&codec::Code> {
        self.text.code.as_ref()
    }
    /// The untagged `* OK [CODE ...]` responses' codes.
    pub fn untagged_codes(&self) -> impl Iterator<Item = &codec::Code> {
        self.responses.iter().filter_map(|r| match r {
            Response::UntaggedStatus(_, t) => t.code.as_ref(),
            _ => None,
        })
    }
}

/// The connection state kept with a pooled session.
struct Conn {
    session: ImapSession,
    capabilities: Vec<String>,
    rbuf: Vec<u8>,
    /// Start of the unparsed bytes in `rbuf` (parsed responses are not shifted out one by one: a FETCH of
    /// many messages would move the rest of the buffer once per response).
    rpos: usize,
    next_tag: u64,
    /// A command was written and its completion not yet read: the connection state is unknown.
    in_flight: bool,
    broken: bool,
    /// The mailbox selected on this connection, as recorded by the store after a successful SELECT/EXAMINE.
    selected: Option<SelectedState>,
}

/// The mailbox a pooled connection has selected (RFC 3501 6.3.1/6.3.2), so that the next borrower of the
/// connection can skip selecting it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedState {
    /// The name as the store passed it to SELECT/EXAMINE (UTF-8).
    pub mailbox: String,
    /// UIDVALIDITY reported by that SELECT/EXAMINE. A mailbox renamed away and re-created under the same name
    /// while this connection had it selected has another UIDVALIDITY (RFC 3501 2.3.1.1).
    pub uid_validity: u32,
    /// Selected with SELECT (read-write) rather than EXAMINE.
    pub writable: bool,
}

/// Commands after which (or during which) the connection's selected mailbox is no longer known: SELECT and
/// EXAMINE deselect first and leave nothing selected when they fail (RFC 3501 6.3.1), UNSELECT (RFC 3691) and
/// CLOSE deselect, and RENAME/DELETE may touch the selected mailbox.
fn changes_selection(cmd: &Command) -> bool {
    let Some(Part::Text(t)) = cmd.parts.first() else { return true };
    let verb = t.split(' ').next().unwrap_or("");
    ["SELECT", "EXAMINE", "UNSELECT", "CLOSE", "DELETE", "RENAME", "LOGOUT"]
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v))
}

/// Whether sending `cmd` a second time, after the connection died under the first one, does no harm: not for
/// commands whose effect would be doubled or turned into an error (a second APPEND stores the message twice).
fn safe_to_repeat(cmd: &Command) -> bool {
    let Some(Part::Text(t)) = cmd.parts.first() else { return false };
    let mut words = t.split(' ');
    let mut verb = words.next().unwrap_or("");
    if verb.eq_ignore_ascii_case("UID") {
        verb = words.next().unwrap_or("");
    }
    !["APPEND", "COPY", "MOVE", "CREATE", "DELETE", "RENAME"].iter().any(|v| verb.eq_ignore_ascii_case(v))
}

impl Conn {
    fn new(session: ImapSession) -> Conn {
        Conn {
            session,
            capabilities: Vec::new(),
            rbuf: Vec::new(),
            rpos: 0,
            next_tag: 1,
            in_flight: false,
            broken: false,
            selected: None,
        }
    }

    /// Reads capabilities and enables QRESYNC (RFC 7162 3.2.3) when offered, so that expunges are reported as
    /// VANISHED and `SELECT ... (QRESYNC ...)` works.
    async fn setup(&mut self, config: &ImapConfig) -> Result<()> {
        let caps = self.run(&Command::new("CAPABILITY"), config).await?;
        let mut list = Vec::new();
        for data in caps.data() {
            if data.first().is_some_and(|v| v.is("CAPABILITY")) {
                list.extend(data[1..].iter().filter_map(|v| v.as_atom()).map(|a| a.to_ascii_uppercase()));
            }
        }
        self.capabilities = list;
        if self.has("QRESYNC") {
            self.run(&Command::new("ENABLE QRESYNC"), config).await?;
        }
        Ok(())
    }

    fn has(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    async fn write(&mut self, data: &[u8], config: &ImapConfig) -> Result<()> {
        let limit = Duration::from_secs(config.timeout_secs.max(1));
        let stream = self.session.get_mut();
        let res = timeout(limit, async {
            stream.write_all(data).await?;
            stream.flush().await
        })
        .await;
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.broken = true;
                Err(Error::unavailable(Backend::Imap, format!("write: {e}")))
            }
            Err(_) => {
                self.broken = true;
                Err(Error::unavailable(Backend::Imap, "timed out writing a command"))
            }
        }
    }

    async fn read_response(&mut self, config: &ImapConfig) -> Result<Response> {
        let limit = Duration::from_secs(config.timeout_secs.max(1));
        loop {
            match codec::frame(&self.rbuf[self.rpos..]) {
                Ok(Some(n)) => {
                    let parsed = codec::parse_response(&self.rbuf[self.rpos..self.rpos + n]);
                    self.rpos += n;
                    if self.rpos == self.rbuf.len() {
                        self.rbuf.clear();
                        self.rpos = 0;
                        if self.rbuf.capacity() > 1024 * 1024 {
                            self.rbuf = Vec::new();
                        }
                    }
                    if parsed.is_err() {
                        self.broken = true;
                    }
                    return parsed;
                }
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
            // More bytes are needed: drop the parsed ones first (one move per read, not per response).
            if self.rpos > 0 {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
                self.rbuf.reserve(64 * 1024);
            }
            let stream = self.session.get_mut();
            match timeout(limit, stream.read_buf(&mut self.rbuf)).await {
                Err(_) => {
                    self.broken = true;
                    return Err(Error::unavailable(Backend::Imap, "timed out waiting for the server"));
                }
                Ok(Err(e)) => {
                    self.broken = true;
                    return Err(Error::unavailable(Backend::Imap, format!("read: {e}")));
                }
                Ok(Ok(0)) => {
                    self.broken = true;
                    return Err(Error::unavailable(Backend::Imap, "connection closed by the server"));
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Sends `cmd` and reads everything up to its tagged completion, whatever its status.
    async fn execute(&mut self, cmd: &Command, config: &ImapConfig) -> Result<Completed> {
        if self.broken {
            return Err(Error::unavailable(Backend::Imap, "session is broken"));
        }
        if changes_selection(cmd) {
            self.selected = None;
        }
        let tag = format!("V{}", self.next_tag);
        self.next_tag += 1;
        // Non-synchronizing literals (RFC 7888) for small data; large data waits for the server's "+" so a
        // refusal (quota, size limit, missing mailbox) comes before the upload.
        let literal_plus = self.has("LITERAL+");
        let literal_minus = self.has("LITERAL-");
        let non_sync = |len: usize| len <= 64 * 1024 && (literal_plus || (literal_minus && len <= 4096));
        self.in_flight = true;
        tracing::trace!(tag = %tag, command = %cmd.describe(), "imap command");
        let mut responses = Vec::new();
        let mut out = format!("{tag} ").into_bytes();
        for part in &cmd.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Literal(data) if non_sync(data.len()) => {
                    out.extend_from_slice(format!("{{{}+}}\r\n", data.len()).as_bytes());
                    out.extend_from_slice(data);
                }
                Part::Literal(data) => {
                    // Synchronizing literal (RFC 3501 7.5): wait for the continuation request.
                    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
                    self.write(&out, config).await?;
                    out.clear();
                    loop {
                        match self.read_response(config).await? {
                            Response::Continue(_) => break,
                            Response::Tagged { tag: t, status, text } if t == tag => {
                                self.in_flight = false;
                                return Ok(Completed { responses, status, text });
                            }
                            other => self.note(other, &mut responses),
                        }
                    }
                    out.extend_from_slice(data);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.write(&out, config).await?;
        loop {
            match self.read_response(config).await? {
                Response::Tagged { tag: t, status, text } if t == tag => {
                    self.in_flight = false;
                    return Ok(Completed { responses, status, text });
                }
                Response::Tagged { tag: t, .. } => {
                    self.broken = true;
                    return Err(Error::backend(Backend::Imap, Kind::Refused, format!("unexpected tag {t}")));
                }
                Response::Continue(_) => {
                    self.broken = true;
                    return Err(Error::backend(Backend::Imap, Kind::Refused, "unexpected continuation request"));
                }
                other => self.note(other, &mut responses),
            }
        }
    }

    fn note(&mut self, response: Response, responses: &mut Vec<Response>) {
        if let Response::UntaggedStatus(Status::Bye, _) = &response {
            self.broken = true;
        }
        // `* OK [CLOSED]`: the previously selected mailbox was closed (RFC 7162 3.2.11).
        if let Response::UntaggedStatus(_, t) = &response
            && t.code.as_ref().is_some_and(|c| c.name.eq_ignore_ascii_case("CLOSED"))
        {
            self.selected = None;
        }
        responses.push(response);
    }

    /// Like [`Conn::execute`], with NO and BAD turned into errors.
    async fn run(&mut self, cmd: &Command, config: &ImapConfig) -> Result<Completed> {
        let done = self.execute(cmd, config).await?;
        check(&done, cmd)?;
        Ok(done)
    }
}

/// Maps a NO/BAD completion to an error: response codes (RFC 5530) give the kind.
pub fn check(done: &Completed, cmd: &Command) -> Result<()> {
    let kind = match done.status {
        Status::Ok => return Ok(()),
        Status::Bad => Kind::Refused,
        _ => match done.code().map(|c| c.name.as_str()) {
            Some("NONEXISTENT") | Some("TRYCREATE") => Kind::NotFound,
            Some("ALREADYEXISTS") => Kind::Conflict,
            Some("NOPERM") => Kind::AccessDenied,
            Some("OVERQUOTA") | Some("LIMIT") | Some("TOOBIG") => Kind::TooLarge,
            Some("AUTHENTICATIONFAILED") | Some("AUTHORIZATIONFAILED") => Kind::AuthFailed,
            Some("UNAVAILABLE") | Some("INUSE") => Kind::Unavailable,
            Some("CANNOT") => Kind::Refused,
            _ => Kind::Refused,
        },
    };
    let verb = cmd.describe();
    let verb: String = verb.split(' ').take(2).collect::<Vec<_>>().join(" ");
    Err(Error::backend(Backend::Imap, kind, format!("{verb}: {:?} {}", done.status, done.text.text.trim())))
}

/// A session borrowed from the pool. Returned to the pool when dropped, unless [`PooledSession::discard`] was
/// called or the connection failed.
pub struct PooledSession {
    conn: Option<Conn>,
    slot: Arc<UserSlot>,
    inner: Arc<PoolInner>,
    _permit: OwnedSemaphorePermit,
    /// Whose session this is (to log in again when a reused connection turns out dead).
    principal: Principal,
    /// Taken from the idle list and no command completed on it yet in this checkout.
    untested: bool,
}

impl PooledSession {
    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("session present until drop")
    }

    /// Marks the session as unusable: it is logged out instead of being returned to the pool.
    pub fn discard(&mut self) {
        self.conn().broken = true;
    }

    /// Whether the connection failed (it will not go back to the pool).
    pub fn is_broken(&self) -> bool {
        self.conn.as_ref().is_none_or(|c| c.broken)
    }

    /// Whether the server announced `cap` (after login), ignoring case.
    pub fn has_capability(&self, cap: &str) -> bool {
        self.conn.as_ref().is_some_and(|c| c.has(cap))
    }

    /// The mailbox this connection has selected, if the store recorded one (see [`PooledSession::set_selected`]).
    pub fn selected(&self) -> Option<&SelectedState> {
        self.conn.as_ref().and_then(|c| c.selected.as_ref())
    }

    /// Records the mailbox a successful SELECT/EXAMINE just selected (`None`: forget it). Any later SELECT,
    /// EXAMINE, UNSELECT, CLOSE, RENAME or DELETE on the connection forgets it again, as does a reconnection.
    pub fn set_selected(&mut self, state: Option<SelectedState>) {
        if let Some(c) = self.conn.as_mut() {
            c.selected = state;
        }
    }

    /// The capabilities the server announced after login, upper-cased.
    pub fn capabilities(&self) -> &[String] {
        self.conn.as_ref().map(|c| c.capabilities.as_slice()).unwrap_or(&[])
    }

    /// Sends a command and reads up to its tagged completion (whatever the status). Connection-level failures
    /// are errors and mark the session broken.
    ///
    /// A connection taken from the idle list can have died meanwhile (the server's `BYE` after another session
    /// deleted the selected mailbox, a server restart): when its first command fails at the connection level,
    /// the session logs in again and sends the command once more. A command that must not be carried out twice
    /// (APPEND, COPY, MOVE, mailbox changes) is never sent again: the server may have carried it out before
    /// closing (Dovecot runs the next command, then says `BYE` to a session whose selected mailbox another client
    /// deleted), so such a command is preceded by a NOOP on a connection not yet tried.
    pub async fn execute(&mut self, cmd: &Command) -> Result<Completed> {
        if self.untested && !safe_to_repeat(cmd) {
            self.execute_or_reconnect(&Command::new("NOOP")).await?;
        }
        self.execute_or_reconnect(cmd).await
    }

    /// Sends `cmd`; on a connection not yet tried whose first command fails at the connection level, logs in again
    /// and sends it once more.
    async fn execute_or_reconnect(&mut self, cmd: &Command) -> Result<Completed> {
        let conn = self.conn.as_mut().expect("session present until drop");
        let result = conn.execute(cmd, &self.inner.config).await;
        let result = match result {
            Err(e) if self.untested && conn.broken => {
                tracing::debug!(error = %e, "pooled IMAP connection was dead; logging in again");
                let fresh = fresh_conn(&self.inner, &self.principal).await?;
                let dead = self.conn.replace(fresh);
                drop(dead); // closing the socket is all a dead connection needs
                let conn = self.conn.as_mut().expect("just replaced");
                conn.execute(cmd, &self.inner.config).await
            }
            other => other,
        };
        self.untested = false;
        result
    }

    /// Sends a command; a NO or BAD completion is an error (see [`check`]).
    pub async fn run(&mut self, cmd: &Command) -> Result<Completed> {
        let done = self.execute(cmd).await?;
        check(&done, cmd)?;
        Ok(done)
    }
}

impl Deref for PooledSession {
    type Target = ImapSession;
    fn deref(&self) -> &ImapSession {
        &self.conn.as_ref().expect("session present until drop").session
    }
}

impl DerefMut for PooledSession {
    fn deref_mut(&mut self) -> &mut ImapSession {
        &mut self.conn().session
    }
}

impl Drop for PooledSession {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A command interrupted half-way leaves responses on the wire: such a session is never reused.
        if conn.broken || conn.in_flight || conn.rpos < conn.rbuf.len() {
            spawn_logout(conn);
            return;
        }
        let mut idle = self.slot.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= self.inner.limits.max_idle_per_user {
            drop(idle);
            spawn_logout(conn);
            return;
        }
        idle.push_back(Idle { conn, since: Instant::now() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_not_sent_twice() {
        for c in [
            Command::new("APPEND").mailbox("Drafts").literal(b"x"),
            Command::new("UID COPY").raw(" 1 ").mailbox("Archive"),
            Command::new("uid move").raw(" 1 ").mailbox("Archive"),
            Command::new("CREATE").mailbox("a"),
            Command::new("RENAME").mailbox("a").mailbox("b"),
            Command::new("DELETE").mailbox("a"),
        ] {
            assert!(!safe_to_repeat(&c), "{}", c.describe());
        }
        for c in [
            Command::new("NOOP"),
            Command::new("SELECT").mailbox("APPEND"),
            Command::new("UID FETCH").raw(" 1:5 (UID FLAGS)"),
            Command::new("UID STORE").raw(" 1 +FLAGS.SILENT (\\Seen)"),
            Command::new("STATUS").mailbox("INBOX").raw(" (MESSAGES)"),
        ] {
            assert!(safe_to_repeat(&c), "{}", c.describe());
        }
    }

    #[test]
    fn commands_that_change_the_selection() {
        for c in [
            Command::new("SELECT").mailbox("INBOX"),
            Command::new("examine").mailbox("Sent"),
            Command::new("UNSELECT"),
            Command::new("CLOSE"),
            Command::new("RENAME").mailbox("a").mailbox("b"),
            Command::new("DELETE").mailbox("a"),
        ] {
            assert!(changes_selection(&c), "{}", c.describe());
        }
        for c in [
            Command::new("UID FETCH").raw(" 1:5 (UID FLAGS)"),
            Command::new("NOOP"),
            Command::new("UID SEARCH").raw(" ALL"),
            Command::new("STATUS").mailbox("INBOX").raw(" (MESSAGES)"),
            // A mailbox named like a command is an argument, not the verb.
            Command::new("LIST \"\"").mailbox("SELECT"),
        ] {
            assert!(!changes_selection(&c), "{}", c.describe());
        }
    }
}
