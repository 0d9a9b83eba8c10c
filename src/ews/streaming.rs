//! GetStreamingEvents (MS-OXWSNTIF 3.1.4.2): one long HTTP response made of successive SOAP envelopes. The
//! first says `ConnectionStatus OK`; the subscriptions are then checked against the mail store
//! ([`ops::notify::poll`]) whenever the IMAP server reports a change, and an envelope with `Notifications` is
//! written when something changed; a heartbeat envelope is written when nothing did for a while; at
//! `ConnectionTimeout` (1–30 minutes) a final envelope says `ConnectionStatus Closed` and the response ends.
//!
//! While the response is open, one dedicated IMAP connection (not a pooled one) watches the subscribed folders
//! ([`crate::backend::imap::watch`]: NOTIFY, RFC 5465, or else IDLE, RFC 2177, on one folder). Its wake-ups only
//! trigger the same `poll` as before, so events, watermarks and subscription ids do not depend on it. The timer
//! stays as a fallback: every [`POLL_FALLBACK`] while the watcher covers every subscribed folder, every
//! [`POLL_EVERY`] when it covers only some of them, could not be opened (no extension, more than
//! `[imap] watch_max_per_user` streams of one user) or was lost (`BYE`, connection closed): a broken watcher never
//! ends the stream. The watcher task ends, with `DONE`/`LOGOUT`, as soon as the response is dropped (stream
//! over or client gone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::imap_store::ImapStore;
use super::ops::notify::{self, latest_state, remember_state};
use super::ops::{Ctx, Fail};
use super::soap::{self, ResponseMessage};
use super::xml::XmlWriter;
use crate::auth::Principal;
use crate::backend::imap::watch::{Scope, Watcher};
use crate::config::ImapConfig;
use crate::ids::{FolderState, IdCodec, Subscription};
use crate::server::{Body, BoxError, Gateway, full};

/// How often subscriptions are checked for changes when no watcher reports changes of every subscribed folder.
pub const POLL_EVERY: Duration = Duration::from_secs(3);
/// How often subscriptions are checked anyway while a watcher covers them (a missed notification costs this much).
pub const POLL_FALLBACK: Duration = Duration::from_secs(30);
/// How long a connection may stay silent before a heartbeat envelope is sent.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

fn envelope(version: &str, msg: ResponseMessage) -> Bytes {
    let xml = soap::response_xml(version, "GetStreamingEvents", "GetStreamingEventsResponseMessage", &[msg]);
    // Successive documents in one body: no XML declaration in front of each (clients split on Envelope).
    let xml = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>").unwrap_or(&xml).to_string();
    Bytes::from(xml)
}

fn status(version: &str, s: &str) -> Bytes {
    let mut w = XmlWriter::new();
    w.leaf("m:ConnectionStatus", s);
    envelope(version, ResponseMessage::ok(w.finish()))
}

/// What the watcher task tells the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Watching; `full`: every subscribed folder is covered.
    Ready { full: bool },
    /// The server reported a change.
    Changed,
}

fn watcher_counts() -> &'static Mutex<HashMap<String, usize>> {
    static COUNTS: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    COUNTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// One of a user's watch connections (at most `[imap] watch_max_per_user`), given back when dropped.
struct WatchSlot(String);

impl WatchSlot {
    fn take(login: &str, max: usize) -> Option<WatchSlot> {
        let key = login.to_lowercase();
        let mut counts = watcher_counts().lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(WatchSlot(key))
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut counts = watcher_counts().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.0);
            }
        }
    }
}

/// The watcher task: opens the watch connection, forwards its wake-ups, and closes it when the stream (the
/// receiver) is gone. Returning drops `tx`, which tells the stream to poll on its own.
async fn watch(
    config: ImapConfig,
    tls: Arc<rustls::ClientConfig>,
    principal: Principal,
    scope: Scope,
    tx: mpsc::Sender<Wake>,
) {
    let Some(_slot) = WatchSlot::take(&principal.login, config.watch_max_per_user) else {
        tracing::debug!(user = %principal.login, "streaming: watch connections per user reached; polling");
        return;
    };
    let opened = tokio::select! {
        r = Watcher::open(&config, &tls, &principal.login, principal.password(), &scope) => r,
        _ = tx.closed() => return,
    };
    let (mut watcher, full) = match opened {
        Ok(w) => w,
        Err(e) => {
            tracing::info!(user = %principal.login, error = %e, "streaming: cannot watch the mailbox; polling");
            return;
        }
    };
    tracing::debug!(user = %principal.login, full, "streaming: watching the mailbox");
    if tx.send(Wake::Ready { full }).await.is_err() {
        watcher.close().await;
        return;
    }
    loop {
        tokio::select! {
            r = watcher.changed() => match r {
                // A full channel already holds a wake-up: this change is seen by the poll it triggers.
                Ok(()) => { let _ = tx.try_send(Wake::Changed); }
                Err(e) => {
                    tracing::info!(user = %principal.login, error = %e, "streaming: watch connection lost; polling");
                    return;
                }
            },
            _ = tx.closed() => {
                watcher.close().await;
                tracing::info!(user = %principal.login, "streaming: stream over; watch connection closed");
                return;
            }
        }
    }
}

/// The next wake-up of a watcher; pending for ever without one.
async fn next_wake(rx: &mut Option<mpsc::Receiver<Wake>>) -> Option<Wake> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

struct State {
    cx: Ctx<ImapStore>,
    subs: Vec<(String, Subscription, Vec<FolderState>)>,
    version: String,
    deadline: Instant,
    last_sent: Instant,
    phase: u8,
    /// Wake-ups from the watcher task (`None` once it has ended).
    watch: Option<mpsc::Receiver<Wake>>,
    /// The watcher reports changes of every subscribed folder.
    watch_full: bool,
}

/// Answers a GetStreamingEvents request (`op` is its operation element).
pub async fn respond(
    gw: &Gateway,
    principal: &Principal,
    op: &super::xml::Element,
    ids: IdCodec,
    version: &str,
) -> Response<Body> {
    let single = |f: Fail| {
        let body =
            soap::response_xml(version, "GetStreamingEvents", "GetStreamingEventsResponseMessage", &[f.message()]);
        full(StatusCode::OK, "text/xml; charset=utf-8", body)
    };
    let store = match ImapStore::open(gw, principal).await {
        Ok(s) => s,
        Err(e) => return single(Fail::from_error(&e, "ErrorMailboxStoreUnavailable")),
    };
    let mut cx = Ctx::new(ids, &principal.mail, &principal.display_name, version, store);
    let minutes: u64 = match op.m("ConnectionTimeout").map(|c| c.trimmed().parse::<u64>()) {
        Some(Ok(m)) if (1..=30).contains(&m) => m,
        _ => return single(Fail::new("ErrorInvalidRequest", "ConnectionTimeout must be 1 to 30 minutes.")),
    };
    let mut subs = Vec::new();
    for el in op.m("SubscriptionIds").map(|s| s.children.as_slice()).unwrap_or(&[]) {
        let text = el.trimmed().to_string();
        let sub = match notify::parse_subscription(&cx, &text) {
            Ok(s) if s.streaming => s,
            Ok(_) => {
                return single(Fail::new("ErrorInvalidSubscription", "This is a pull subscription; use GetEvents."));
            }
            Err(f) => return single(f),
        };
        let states = latest_state(&text, &sub);
        subs.push((text, sub, states));
    }
    if subs.is_empty() {
        return single(Fail::new("ErrorInvalidRequest", "SubscriptionIds is empty."));
    }
    // What to watch: every personal folder when a subscription covers all folders, else the union of theirs.
    let mut names: Option<Vec<String>> = Some(Vec::new());
    for (_, sub, _) in &subs {
        match notify::folder_names(&mut cx, sub).await {
            Ok(None) => names = None,
            Ok(Some(list)) => {
                if let Some(all) = names.as_mut() {
                    all.extend(list.into_iter().filter(|n| !all.contains(n)).collect::<Vec<_>>());
                }
            }
            // The polls report such failures; the stream then relies on polling alone.
            Err(f) => tracing::debug!(code = f.code, text = %f.text, "streaming: subscribed folders unknown"),
        }
    }
    let scope = match names {
        None => Some(Scope::Personal),
        Some(list) if list.is_empty() => None,
        Some(list) => Some(Scope::Mailboxes(list)),
    };
    let watch_rx = scope.map(|scope| {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(watch(gw.config.imap.clone(), gw.imap_tls.clone(), principal.clone(), scope, tx));
        rx
    });
    let now = Instant::now();
    let state = State {
        cx,
        subs,
        version: version.to_string(),
        deadline: now + Duration::from_secs(minutes * 60),
        last_sent: now,
        phase: 0,
        watch: watch_rx,
        watch_full: false,
    };
    let frames = stream::unfold(state, |mut st| async move {
        loop {
            match st.phase {
                0 => {
                    st.phase = 1;
                    let b = status(&st.version, "OK");
                    st.last_sent = Instant::now();
                    return Some((b, st));
                }
                2 => return None,
                _ => {}
            }
            if Instant::now() >= st.deadline {
                st.phase = 2;
                return Some((status(&st.version, "Closed"), st));
            }
            let every = if st.watch.is_some() && st.watch_full { POLL_FALLBACK } else { POLL_EVERY };
            let wait = every.min(st.deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                wake = next_wake(&mut st.watch) => match wake {
                    Some(Wake::Ready { full }) => st.watch_full = full,
                    Some(Wake::Changed) => {}
                    None => {
                        st.watch = None;
                        st.watch_full = false;
                    }
                },
            }
            st.cx.invalidate();
            let mut w = XmlWriter::new();
            let mut any = false;
            for i in 0..st.subs.len() {
                let (id, sub, states) = st.subs[i].clone();
                match notify::poll(&mut st.cx, &sub, &states).await {
                    Ok((events, next)) => {
                        if !events.is_empty() {
                            if !any {
                                w.start("m:Notifications", &[]);
                                any = true;
                            }
                            w.start("m:Notification", &[]);
                            w.leaf("t:SubscriptionId", &id);
                            let wm = st.cx.ids.watermark(&crate::ids::Watermark {
                                mailbox: st.cx.mailbox.clone(),
                                folders: next.clone(),
                            });
                            notify::write_events(&mut w, &st.cx, &events, &wm, notify::now());
                            w.end();
                        }
                        remember_state(&id, next.clone());
                        st.subs[i].2 = next;
                    }
                    Err(f) => tracing::debug!(code = f.code, text = %f.text, "streaming poll failed"),
                }
            }
            if any {
                w.end();
                st.last_sent = Instant::now();
                return Some((envelope(&st.version, ResponseMessage::ok(w.finish())), st));
            }
            if st.last_sent.elapsed() >= HEARTBEAT_EVERY {
                st.last_sent = Instant::now();
                return Some((status(&st.version, "OK"), st));
            }
        }
    });
    let body = StreamBody::new(futures_util::StreamExt::map(frames, |b| Ok::<_, BoxError>(Frame::data(b))));
    let mut r = Response::new(BodyExt::boxed(body));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/xml; charset=utf-8"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_slots_are_capped_per_user() {
        let a = WatchSlot::take("Cap-Test@example.test", 2);
        let b = WatchSlot::take("cap-test@example.test", 2);
        assert!(a.is_some() && b.is_some());
        assert!(WatchSlot::take("cap-test@example.test", 2).is_none());
        assert!(WatchSlot::take("other-cap-test@example.test", 2).is_some());
        drop(a);
        assert!(WatchSlot::take("cap-test@example.test", 2).is_some());
        assert!(WatchSlot::take("zero-cap-test@example.test", 0).is_none());
    }
}
