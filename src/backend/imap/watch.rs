//! Watching mailboxes for changes on one dedicated connection, so that EWS streaming notifications follow the
//! mail store's own push instead of a timer.
//!
//! - With NOTIFY (RFC 5465) the server reports changes in any mailbox of the chosen set while the connection is
//!   otherwise idle: `* STATUS` for new and expunged messages (and, with CONDSTORE enabled, flag changes as a new
//!   HIGHESTMODSEQ; RFC 5465 section 5.2), `* LIST` for created, deleted and renamed mailboxes (section 5.4).
//! - Without it, IDLE (RFC 2177) on one EXAMINEd mailbox reports `* n EXISTS`, `* n EXPUNGE` and
//!   `* n FETCH (FLAGS ...)` for that mailbox only.
//! - Liveness: IDLE is ended and started again every 25 minutes (RFC 2177 section 3); a NOTIFY connection
//!   silent for 5 minutes gets a NOOP and is given up when that stays unanswered as long.
//!
//! The watcher only says *that* something changed; what changed is computed by the caller (EWS compares the
//! folders with its states). The wire handling is split: [`classify`], [`plan`] and [`notify_command`] are pure
//! (unit-tested); [`Watcher`] is the socket loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::codec::{self, Response, Status};
use super::{ImapSession, login};
use crate::config::ImapConfig;
use crate::error::{Backend, Error, Kind, Result};

/// Which mailboxes to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every mailbox of the user's personal namespace(s) (RFC 5465 `personal`).
    Personal,
    /// These mailboxes (UTF-8 names, as the store uses them).
    Mailboxes(Vec<String>),
}

/// How a connection watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `NOTIFY SET` over the scope; `condstore`: `ENABLE CONDSTORE` first so that flag changes are reported.
    Notify { condstore: bool },
    /// `EXAMINE mailbox` then `IDLE`.
    Idle { mailbox: String },
}

/// The watching plan for a scope and the server's capabilities: the mode, and whether it reports changes of
/// every mailbox in the scope (IDLE covers one mailbox only). `None`: the server offers neither extension.
pub fn plan(capabilities: &[String], scope: &Scope) -> Option<(Mode, bool)> {
    let has = |c: &str| capabilities.iter().any(|x| x.eq_ignore_ascii_case(c));
    let quotable = match scope {
        Scope::Personal => true,
        Scope::Mailboxes(names) => names.iter().all(|n| quote(n).is_some()),
    };
    if has("NOTIFY") && quotable && !matches!(scope, Scope::Mailboxes(n) if n.is_empty()) {
        return Some((Mode::Notify { condstore: has("CONDSTORE") }, true));
    }
    if !has("IDLE") {
        return None;
    }
    match scope {
        Scope::Personal => Some((Mode::Idle { mailbox: "INBOX".to_string() }, false)),
        Scope::Mailboxes(names) => {
            let first = names.first()?;
            if names.len() == 1 {
                return Some((Mode::Idle { mailbox: first.clone() }, true));
            }
            // Several folders: IDLE on the one that receives new mail when it is among them.
            let mailbox = names.iter().find(|n| n.eq_ignore_ascii_case("INBOX")).unwrap_or(first);
            Some((Mode::Idle { mailbox: mailbox.clone() }, false))
        }
    }
}

/// A mailbox name in modified UTF-7 (RFC 3501 5.1.3) as a quoted string; `None` when it cannot be quoted (it
/// would need a literal, which the NOTIFY line does not carry here).
fn quote(name: &str) -> Option<String> {
    let encoded = if name.eq_ignore_ascii_case("INBOX") { "INBOX".to_string() } else { super::utf7::encode(name) };
    if encoded.is_empty() || encoded.len() > 1024 || !encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return None;
    }
    let mut q = String::with_capacity(encoded.len() + 2);
    q.push('"');
    for c in encoded.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Some(q)
}

/// The `NOTIFY SET` command line (without tag) for a scope (RFC 5465 section 3.1): message arrivals, expunges,
/// flag changes and mailbox creation/deletion/renaming. Nothing is selected on the watching connection, so no
/// `selected` filter is given. `None` when a mailbox name cannot be quoted or the list is empty.
pub fn notify_command(scope: &Scope, with_mailbox_name: bool) -> Option<String> {
    let events = if with_mailbox_name {
        "(MessageNew MessageExpunge FlagChange MailboxName)"
    } else {
        "(MessageNew MessageExpunge FlagChange)"
    };
    let filter = match scope {
        Scope::Personal => "personal".to_string(),
        Scope::Mailboxes(names) => {
            let quoted = names.iter().map(|n| quote(n)).collect::<Option<Vec<_>>>()?;
            match quoted.len() {
                0 => return None,
                1 => format!("mailboxes {}", quoted[0]),
                _ => format!("mailboxes ({})", quoted.join(" ")),
            }
        }
    };
    Some(format!("NOTIFY SET ({filter} {events})"))
}

/// What one response read on the watching connection means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Something in a watched mailbox (or the mailbox list) changed.
    Changed,
    /// The server stops reporting: `* BYE`, or `* OK [NOTIFICATIONOVERFLOW]` (RFC 5465 section 5.8: NOTIFY is
    /// off from then on). The watcher ends and its user falls back to polling.
    Lost,
    /// Nothing to act on (`* OK Still here`, `* n RECENT`, capability updates, ...).
    Ignore,
}

/// Classifies one untagged response of a NOTIFY or IDLE connection.
pub fn classify(response: &Response) -> Signal {
    match response {
        Response::UntaggedStatus(Status::Bye, _) => Signal::Lost,
        Response::UntaggedStatus(_, text)
            if text.code.as_ref().is_some_and(|c| c.name.eq_ignore_ascii_case("NOTIFICATIONOVERFLOW")) =>
        {
            Signal::Lost
        }
        Response::Data(values) => {
            let first = values.first();
            let second = values.get(1);
            // `* n EXISTS`, `* n EXPUNGE`, `* n FETCH (...)` (RFC 3501 7.3.1, 7.4.1, 7.4.2).
            if first.and_then(|v| v.as_u32()).is_some() {
                return if second.is_some_and(|v| v.is("EXISTS") || v.is("EXPUNGE") || v.is("FETCH")) {
                    Signal::Changed
                } else {
                    Signal::Ignore
                };
            }
            // `* STATUS` (RFC 5465 5.2), `* LIST` (5.4), `* VANISHED` (RFC 7162 3.2.10).
            if first.is_some_and(|v| v.is("STATUS") || v.is("LIST") || v.is("VANISHED")) {
                Signal::Changed
            } else {
                Signal::Ignore
            }
        }
        _ => Signal::Ignore,
    }
}

/// RFC 2177 section 3: clients should end IDLE and start it again at least every 29 minutes.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// A NOTIFY connection silent this long is checked with NOOP; one that stays silent as long again is given up
/// (a connection that died without a FIN or RST would otherwise be waited on for ever).
const NOTIFY_CHECK: Duration = Duration::from_secs(5 * 60);

/// One logged-in connection that watches mailboxes.
pub struct Watcher {
    session: ImapSession,
    rbuf: Vec<u8>,
    next_tag: u64,
    mode: Mode,
    /// When the current IDLE command started (IDLE mode only).
    idle_since: Instant,
    limit: Duration,
    /// When the server last sent something (or a NOOP was sent), NOTIFY mode.
    heard: Instant,
    noop_pending: bool,
}

impl Watcher {
    /// Logs in as the user (like the session pool) and starts watching `scope`. Returns the watcher and whether
    /// it covers every mailbox of the scope. `Kind::NotSupported` when the server has neither NOTIFY nor IDLE.
    pub async fn open(
        config: &ImapConfig,
        tls: &Arc<rustls::ClientConfig>,
        user: &str,
        password: &str,
        scope: &Scope,
    ) -> Result<(Watcher, bool)> {
        Watcher::open_with(config, tls, user, password, scope, true).await
    }

    /// Like [`Watcher::open`]; without `use_notify`, NOTIFY is ignored even when offered (IDLE is used), as with
    /// a server that lacks it (tests).
    pub async fn open_with(
        config: &ImapConfig,
        tls: &Arc<rustls::ClientConfig>,
        user: &str,
        password: &str,
        scope: &Scope,
        use_notify: bool,
    ) -> Result<(Watcher, bool)> {
        let session = login(config, tls, user, password).await?;
        let limit = Duration::from_secs(config.timeout_secs.max(1));
        let mut w = Watcher {
            session,
            rbuf: Vec::new(),
            next_tag: 1,
            mode: Mode::Notify { condstore: false },
            idle_since: Instant::now(),
            limit,
            heard: Instant::now(),
            noop_pending: false,
        };
        let mut caps = Vec::new();
        for r in w.command("CAPABILITY").await? {
            if let Response::Data(v) = r
                && v.first().is_some_and(|x| x.is("CAPABILITY"))
            {
                caps.extend(v[1..].iter().filter_map(|x| x.as_atom()).map(|a| a.to_ascii_uppercase()));
            }
        }
        if !use_notify {
            caps.retain(|c| c != "NOTIFY");
        }
        let Some((mode, mut full)) = plan(&caps, scope) else {
            w.close().await;
            return Err(Error::backend(Backend::Imap, Kind::NotSupported, "the server has neither NOTIFY nor IDLE"));
        };
        w.mode = mode.clone();
        match mode {
            Mode::Notify { condstore } => {
                if condstore {
                    w.command("ENABLE CONDSTORE").await?;
                }
                let line = notify_command(scope, true).ok_or_else(|| Error::internal("unquotable mailbox"))?;
                if w.command(&line).await.is_err() {
                    // Some servers refuse MailboxName with a mailboxes filter: without it, only a deletion or
                    // renaming of a watched folder waits for the next poll.
                    let line = notify_command(scope, false).ok_or_else(|| Error::internal("unquotable mailbox"))?;
                    w.command(&line).await?;
                    full = false;
                }
            }
            Mode::Idle { mailbox } => {
                let examine = match quote(&mailbox) {
                    Some(q) => format!("EXAMINE {q}"),
                    None => "EXAMINE INBOX".to_string(),
                };
                w.command(&examine).await?;
                w.start_idle().await?;
            }
        }
        Ok((w, full))
    }

    /// How this connection watches.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    async fn write(&mut self, data: &[u8]) -> Result<()> {
        let stream = self.session.get_mut();
        match timeout(self.limit, async {
            stream.write_all(data).await?;
            stream.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::unavailable(Backend::Imap, format!("watch write: {e}"))),
            Err(_) => Err(Error::unavailable(Backend::Imap, "watch: timed out writing")),
        }
    }

    /// Reads one response; `wait` bounds the time (`None`: no bound). `Ok(None)` when `wait` passed.
    async fn read(&mut self, wait: Option<Duration>) -> Result<Option<Response>> {
        loop {
            if let Some(n) = codec::frame(&self.rbuf)? {
                let parsed = codec::parse_response(&self.rbuf[..n]);
                self.rbuf.drain(..n);
                return parsed.map(Some);
            }
            let stream = self.session.get_mut();
            let got = match wait {
                Some(d) => match timeout(d, stream.read_buf(&mut self.rbuf)).await {
                    Ok(r) => r,
                    Err(_) => return Ok(None),
                },
                None => stream.read_buf(&mut self.rbuf).await,
            };
            match got {
                Ok(0) => return Err(Error::unavailable(Backend::Imap, "watch connection closed by the server")),
                Ok(_) => {}
                Err(e) => return Err(Error::unavailable(Backend::Imap, format!("watch read: {e}"))),
            }
        }
    }

    /// Sends a command (Viaduc's own syntax only) and reads to its completion; NO/BAD are errors.
    async fn command(&mut self, line: &str) -> Result<Vec<Response>> {
        let tag = format!("W{}", self.next_tag);
        self.next_tag += 1;
        self.write(format!("{tag} {line}\r\n").as_bytes()).await?;
        let mut out = Vec::new();
        loop {
            match self.read(Some(self.limit)).await? {
                None => return Err(Error::unavailable(Backend::Imap, "watch: timed out waiting for the server")),
                Some(Response::Tagged { tag: t, status, text }) if t == tag => {
                    if status == Status::Ok {
                        return Ok(out);
                    }
                    let verb = line.split(' ').next().unwrap_or("");
                    return Err(Error::backend(Backend::Imap, Kind::Refused, format!("{verb}: {}", text.text.trim())));
                }
                Some(Response::UntaggedStatus(Status::Bye, t)) => {
                    return Err(Error::unavailable(Backend::Imap, format!("watch: BYE {}", t.text.trim())));
                }
                Some(r) => out.push(r),
            }
        }
    }

    async fn start_idle(&mut self) -> Result<()> {
        let tag = format!("W{}", self.next_tag);
        self.next_tag += 1;
        self.write(format!("{tag} IDLE\r\n").as_bytes()).await?;
        loop {
            match self.read(Some(self.limit)).await? {
                Some(Response::Continue(_)) => {
                    self.idle_since = Instant::now();
                    return Ok(());
                }
                Some(Response::Tagged { text, .. }) => {
                    return Err(Error::backend(Backend::Imap, Kind::Refused, format!("IDLE: {}", text.text.trim())));
                }
                Some(r) if classify(&r) == Signal::Lost => {
                    return Err(Error::unavailable(Backend::Imap, "watch: server ended the connection"));
                }
                Some(_) => {}
                None => return Err(Error::unavailable(Backend::Imap, "watch: timed out starting IDLE")),
            }
        }
    }

    /// Ends IDLE (`DONE`, RFC 2177) and reads to its completion, then starts it again.
    async fn renew_idle(&mut self) -> Result<()> {
        self.write(b"DONE\r\n").await?;
        loop {
            match self.read(Some(self.limit)).await? {
                Some(Response::Tagged { .. }) => break,
                Some(r) if classify(&r) == Signal::Lost => {
                    return Err(Error::unavailable(Backend::Imap, "watch: server ended the connection"));
                }
                Some(_) => {}
                None => return Err(Error::unavailable(Backend::Imap, "watch: timed out ending IDLE")),
            }
        }
        self.start_idle().await
    }

    /// Waits until the server reports a change. An error means the connection is of no further use (closed,
    /// `BYE`, overflow): the caller falls back to polling. Cancel-safe between responses (bytes read are kept).
    pub async fn changed(&mut self) -> Result<()> {
        loop {
            let wait = match self.mode {
                Mode::Idle { .. } => Some(IDLE_RENEW.saturating_sub(self.idle_since.elapsed())),
                Mode::Notify { .. } => Some(NOTIFY_CHECK.saturating_sub(self.heard.elapsed())),
            };
            match self.read(wait).await? {
                None if matches!(self.mode, Mode::Idle { .. }) => self.renew_idle().await?,
                None if self.noop_pending => {
                    return Err(Error::unavailable(Backend::Imap, "watch: no answer to NOOP"));
                }
                None => {
                    let noop = format!("W{} NOOP\r\n", self.next_tag);
                    self.next_tag += 1;
                    self.write(noop.as_bytes()).await?;
                    self.noop_pending = true;
                    self.heard = Instant::now();
                }
                Some(r) => match classify(&r) {
                    Signal::Changed => return Ok(()),
                    Signal::Lost => {
                        return Err(Error::unavailable(Backend::Imap, "watch: the server stopped reporting changes"));
                    }
                    // Its tagged completion, `* OK Still here`, ...: the connection is alive.
                    Signal::Ignore => {
                        self.heard = Instant::now();
                        self.noop_pending = false;
                    }
                },
            }
        }
    }

    /// Ends the session politely (`DONE` when idling, `LOGOUT`), without waiting for more than a moment.
    pub async fn close(mut self) {
        let mut bye = Vec::new();
        if matches!(self.mode, Mode::Idle { .. }) {
            bye.extend_from_slice(b"DONE\r\n");
        }
        bye.extend_from_slice(format!("W{} LOGOUT\r\n", self.next_tag).as_bytes());
        let stream = self.session.get_mut();
        let _ = timeout(Duration::from_secs(2), async {
            stream.write_all(&bye).await?;
            stream.flush().await
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Response {
        codec::parse_response(line.as_bytes()).unwrap()
    }

    #[test]
    fn classifies_untagged_responses() {
        for line in [
            "* 5 EXISTS\r\n",
            "* 3 EXPUNGE\r\n",
            "* 5 FETCH (FLAGS (\\Seen))\r\n",
            "* 5 FETCH (UID 9 FLAGS (\\Seen) MODSEQ (26))\r\n",
            "* STATUS INBOX (MESSAGES 5 UIDNEXT 7 UNSEEN 4)\r\n",
            "* STATUS \"Sent Items\" (HIGHESTMODSEQ 26)\r\n",
            "* LIST () \"/\" ProbeF\r\n",
            "* LIST (\\NonExistent) \"/\" ProbeF\r\n",
            "* VANISHED 4:7\r\n",
        ] {
            assert_eq!(classify(&parse(line)), Signal::Changed, "{line}");
        }
        for line in [
            "* OK Still here\r\n",
            "* 2 RECENT\r\n",
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
            "* OK [HIGHESTMODSEQ 30] Highest\r\n",
            "* CAPABILITY IMAP4rev1 IDLE\r\n",
            "+ idling\r\n",
            "W3 OK Idle completed.\r\n",
        ] {
            assert_eq!(classify(&parse(line)), Signal::Ignore, "{line}");
        }
        for line in ["* BYE Disconnected for inactivity.\r\n", "* OK [NOTIFICATIONOVERFLOW] Too many\r\n"] {
            assert_eq!(classify(&parse(line)), Signal::Lost, "{line}");
        }
    }

    #[test]
    fn notify_command_lines() {
        assert_eq!(
            notify_command(&Scope::Personal, true).unwrap(),
            "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName))"
        );
        assert_eq!(
            notify_command(&Scope::Mailboxes(vec!["inbox".into()]), false).unwrap(),
            "NOTIFY SET (mailboxes \"INBOX\" (MessageNew MessageExpunge FlagChange))"
        );
        assert_eq!(
            notify_command(&Scope::Mailboxes(vec!["INBOX".into(), "Über \"x\"".into()]), true).unwrap(),
            "NOTIFY SET (mailboxes (\"INBOX\" \"&ANw-ber \\\"x\\\"\") (MessageNew MessageExpunge FlagChange MailboxName))"
        );
        assert_eq!(notify_command(&Scope::Mailboxes(vec![]), true), None);
        // Control characters are encoded by modified UTF-7; only overlong names cannot be quoted.
        assert!(notify_command(&Scope::Mailboxes(vec!["a\r\nb".into()]), true).unwrap().contains("\"a&AA0ACg-b\""));
        assert_eq!(notify_command(&Scope::Mailboxes(vec!["x".repeat(2000)]), true), None);
    }

    #[test]
    fn plans_by_capability() {
        let caps = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let one = Scope::Mailboxes(vec!["Archive".into()]);
        let two = Scope::Mailboxes(vec!["Archive".into(), "INBOX".into()]);
        assert_eq!(
            plan(&caps("IMAP4REV1 IDLE NOTIFY CONDSTORE"), &Scope::Personal),
            Some((Mode::Notify { condstore: true }, true))
        );
        assert_eq!(plan(&caps("IMAP4REV1 NOTIFY"), &two), Some((Mode::Notify { condstore: false }, true)));
        assert_eq!(plan(&caps("IMAP4REV1 IDLE"), &one), Some((Mode::Idle { mailbox: "Archive".into() }, true)));
        assert_eq!(plan(&caps("IMAP4REV1 IDLE"), &two), Some((Mode::Idle { mailbox: "INBOX".into() }, false)));
        assert_eq!(
            plan(&caps("IMAP4REV1 IDLE"), &Scope::Personal),
            Some((Mode::Idle { mailbox: "INBOX".into() }, false))
        );
        assert_eq!(plan(&caps("IMAP4REV1"), &Scope::Personal), None);
        assert_eq!(plan(&caps("IMAP4REV1 IDLE NOTIFY"), &Scope::Mailboxes(vec![])), None);
    }
}
