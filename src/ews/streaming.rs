//! GetStreamingEvents (MS-OXWSNTIF 3.1.4.2): one long HTTP response made of successive SOAP envelopes. The
//! first says `ConnectionStatus OK`; every few seconds the subscriptions are polled against the mail store
//! ([`ops::notify::poll`]) and an envelope with `Notifications` is written when something changed; a heartbeat
//! envelope is written when nothing did for a while; at `ConnectionTimeout` (1–30 minutes) a final envelope
//! says `ConnectionStatus Closed` and the response ends.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::imap_store::ImapStore;
use super::ops::notify::{self, latest_state, remember_state};
use super::ops::{Ctx, Fail};
use super::soap::{self, ResponseMessage};
use super::xml::XmlWriter;
use crate::auth::Principal;
use crate::ids::{FolderState, IdCodec, Subscription};
use crate::server::{Body, BoxError, Gateway, full};

/// How often subscriptions are checked for changes.
pub const POLL_EVERY: Duration = Duration::from_secs(3);
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

struct State {
    cx: Ctx<ImapStore>,
    subs: Vec<(String, Subscription, Vec<FolderState>)>,
    version: String,
    deadline: Instant,
    last_sent: Instant,
    phase: u8,
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
    let cx = Ctx::new(ids, &principal.mail, &principal.display_name, version, store);
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
    let now = Instant::now();
    let state = State {
        cx,
        subs,
        version: version.to_string(),
        deadline: now + Duration::from_secs(minutes * 60),
        last_sent: now,
        phase: 0,
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
            tokio::time::sleep(POLL_EVERY.min(st.deadline.saturating_duration_since(Instant::now()))).await;
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
