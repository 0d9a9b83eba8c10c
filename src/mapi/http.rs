//! The MAPI/HTTP transport (MS-OXCMAPIHTTP 2.2.2, 2.2.3, 2.2.7, 3.2.5): request header checks, the session
//! context and sequence cookies, X-ResponseCode for every transport failure (always with HTTP 200, as the spec
//! requires), and the streamed response: `PROCESSING`, `PENDING` keep-alives every X-PendingPeriod while the
//! work runs, then `DONE`, the meta headers (X-ResponseCode, X-ElapsedTime, X-StartTime), a blank line and the
//! binary response body.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::session::{Endpoint, Lookup, SessionRef, Store, Tuning};
use super::{Ctx, emsmdb, nspi, wire};
use crate::auth::Principal;
use crate::server::{Body, BoxError, Gateway, HttpRequest, full};
use mapi_codec::mapihttp::framing;

/// Largest MAPI/HTTP request body accepted (X-ResponseCode 9 beyond). An Execute carries at most a chain of
/// 64 KiB extended buffers; Outlook stays far below this.
pub const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

/// The session context cookie (MS-OXCMAPIHTTP 3.2.5.1; Exchange's name).
pub const CONTEXT_COOKIE: &str = "MapiContext";
/// The sequence cookie.
pub const SEQUENCE_COOKIE: &str = "MapiSequence";

/// X-ResponseCode values (MS-OXCMAPIHTTP 2.2.3.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ResponseCode {
    Success = 0,
    UnknownFailure = 1,
    InvalidVerb = 2,
    InvalidPath = 3,
    InvalidHeader = 4,
    InvalidRequestType = 5,
    InvalidContextCookie = 6,
    MissingHeader = 7,
    AnonymousNotAllowed = 8,
    TooLarge = 9,
    ContextNotFound = 10,
    NoPrivilege = 11,
    InvalidRequestBody = 12,
    MissingCookie = 13,
    InvalidSequence = 15,
    EndpointDisabled = 16,
    InvalidResponse = 17,
    EndpointShuttingDown = 18,
}

/// The headers echoed back on every response.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub request_type: Option<String>,
    pub request_id: Option<String>,
    pub client_info: Option<String>,
}

impl Echo {
    fn from(req: &HttpRequest) -> Echo {
        Echo {
            request_type: req.header("x-requesttype").map(str::to_string),
            request_id: req.header("x-requestid").map(str::to_string),
            client_info: req.header("x-clientinfo").map(str::to_string),
        }
    }
}

fn server_application() -> String {
    format!("Exchange/{}", crate::autodiscover::settings::server_version_string())
}

fn set(r: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn common_headers(r: &mut Response<Body>, echo: &Echo, code: ResponseCode) {
    if let Some(v) = &echo.request_type {
        set(r, "x-requesttype", v);
    }
    if let Some(v) = &echo.request_id {
        set(r, "x-requestid", v);
    }
    if let Some(v) = &echo.client_info {
        set(r, "x-clientinfo", v);
    }
    set(r, "x-responsecode", &(code as u32).to_string());
    set(r, "x-serverapplication", &server_application());
    set(r, "cache-control", "private");
}

/// A transport failure: HTTP 200, X-ResponseCode, a short diagnostic body (MS-OXCMAPIHTTP 2.2.3.3.3).
pub fn fail(echo: &Echo, code: ResponseCode, why: &str) -> Response<Body> {
    tracing::debug!(code = code as u32, why, "MAPI/HTTP request refused");
    let body = format!(
        "<html><head><title>MAPI/HTTP</title></head><body>X-ResponseCode {} ({:?}): {}</body></html>\r\n",
        code as u32, code, why
    );
    let mut r = full(StatusCode::OK, "text/html", body);
    common_headers(&mut r, echo, code);
    r
}

/// Cookies to set on a successful response.
#[derive(Debug, Clone, Default)]
pub struct Cookies {
    pub context: Option<String>,
    pub sequence: Option<String>,
}

/// A successful response whose body `work` computes; PENDING lines go out every `pending` until it is done.
pub fn streamed<F>(echo: &Echo, endpoint: Endpoint, cookies: &Cookies, secure: bool, work: F) -> Response<Body>
where
    F: Future<Output = Vec<u8>> + Send + 'static,
{
    let tuning = Tuning::get();
    let started = Instant::now();
    let start_date = SystemTime::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(8);
    let pending = tuning.pending;
    tokio::spawn(async move {
        if tx.send(Ok(Frame::data(Bytes::from_static(framing::processing())))).await.is_err() {
            return;
        }
        // A panic in the work must not leave the client with a truncated stream: it ends the response with
        // X-ResponseCode 1 (Unknown Failure) in the meta headers instead.
        let work = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work));
        tokio::pin!(work);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + pending, pending);
        let result = loop {
            tokio::select! {
                b = &mut work => break b,
                _ = tick.tick() => {
                    if tx.send(Ok(Frame::data(Bytes::from_static(framing::pending())))).await.is_err() {
                        return;
                    }
                }
            }
        };
        let (code, body) = match result {
            Ok(b) => (ResponseCode::Success, b),
            Err(_) => {
                tracing::error!("MAPI request handler panicked");
                (ResponseCode::UnknownFailure, Vec::new())
            }
        };
        let code = (code as u32).to_string();
        let elapsed = started.elapsed().as_millis().to_string();
        let start = httpdate::fmt_http_date(start_date);
        let mut out = framing::done(&[("X-ResponseCode", &code), ("X-ElapsedTime", &elapsed), ("X-StartTime", &start)])
            .unwrap_or_else(|_| b"DONE\r\n\r\n".to_vec());
        out.extend_from_slice(&body);
        let _ = tx.send(Ok(Frame::data(Bytes::from(out)))).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    *r.status_mut() = StatusCode::OK;
    set(&mut r, "content-type", "application/mapi-http");
    common_headers(&mut r, echo, ResponseCode::Success);
    set(&mut r, "x-pendingperiod", &pending.as_millis().to_string());
    set(&mut r, "x-expirationinfo", &tuning.idle.as_millis().to_string());
    let flags = if secure { "; Secure; HttpOnly" } else { "; HttpOnly" };
    for (name, value) in [(CONTEXT_COOKIE, &cookies.context), (SEQUENCE_COOKIE, &cookies.sequence)] {
        if let Some(v) = value {
            let c = format!("{name}={v}; Path={}{flags}", endpoint.cookie_path());
            if let Ok(h) = HeaderValue::from_str(&c) {
                r.headers_mut().append(http::header::SET_COOKIE, h);
            }
        }
    }
    r
}

/// The value of cookie `name` from the request's Cookie headers.
pub fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
}

/// The request types of an endpoint (MS-OXCMAPIHTTP 2.2.3.3.1, matched without regard to case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ping,
    Connect,
    Execute,
    Disconnect,
    NotificationWait,
    /// An NSPI request type, in its canonical spelling.
    Nspi(&'static str),
}

fn kind(endpoint: Endpoint, request_type: &str) -> Option<Kind> {
    if request_type.eq_ignore_ascii_case("PING") {
        return Some(Kind::Ping);
    }
    match endpoint {
        Endpoint::Emsmdb => [
            ("Connect", Kind::Connect),
            ("Execute", Kind::Execute),
            ("Disconnect", Kind::Disconnect),
            ("NotificationWait", Kind::NotificationWait),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(request_type))
        .map(|(_, k)| k),
        Endpoint::Nspi => {
            wire::NSPI_REQUEST_TYPES.iter().find(|n| n.eq_ignore_ascii_case(request_type)).map(|n| Kind::Nspi(n))
        }
    }
}

/// Finds the session of the request's cookies, checking and advancing the sequence cookie unless `no_sequence`.
fn session(
    req: &HttpRequest,
    echo: &Echo,
    endpoint: Endpoint,
    principal: &Principal,
    no_sequence: bool,
) -> Result<(String, SessionRef, Option<String>), Box<Response<Body>>> {
    let Some(ctx_cookie) = cookie(req, CONTEXT_COOKIE) else {
        return Err(Box::new(fail(echo, ResponseCode::MissingCookie, "no session context cookie")));
    };
    let seq = if no_sequence { None } else { Some(cookie(req, SEQUENCE_COOKIE)) };
    match Store::global().find(endpoint, &principal.mail, ctx_cookie, seq, Tuning::get().idle) {
        Ok((s, next)) => Ok((ctx_cookie.to_string(), s, next)),
        Err(e) => {
            let (code, why) = match e {
                Lookup::Invalid => (ResponseCode::InvalidContextCookie, "malformed session context cookie"),
                Lookup::NotFound => (ResponseCode::ContextNotFound, "session context not found or expired"),
                Lookup::OtherUser => (ResponseCode::NoPrivilege, "the session belongs to another user"),
                Lookup::MissingSequence => (ResponseCode::MissingCookie, "no sequence cookie"),
                Lookup::BadSequence => (ResponseCode::InvalidSequence, "out-of-sequence request"),
            };
            Err(Box::new(fail(echo, code, why)))
        }
    }
}

/// Handles one request to `/mapi/emsmdb` or `/mapi/nspi` from an authenticated principal.
pub async fn handle(gw: &Gateway, req: &HttpRequest, principal: &Principal, endpoint: Endpoint) -> Response<Body> {
    let echo = Echo::from(req);
    // MS-OXCMAPIHTTP 2.2.3.3.3: 16 when the endpoint is turned off, 18 while this instance drains before
    // stopping (the client then reconnects, through the load balancer to another instance).
    if !gw.config.mapi.enabled {
        return fail(&echo, ResponseCode::EndpointDisabled, "MAPI over HTTP is disabled on this server");
    }
    if gw.is_shutting_down() {
        return fail(&echo, ResponseCode::EndpointShuttingDown, "this server is shutting down");
    }
    if req.method != Method::POST {
        return fail(&echo, ResponseCode::InvalidVerb, "only POST is allowed");
    }
    let Some(request_type) = echo.request_type.clone() else {
        return fail(&echo, ResponseCode::MissingHeader, "X-RequestType is missing");
    };
    if echo.request_id.is_none() {
        return fail(&echo, ResponseCode::MissingHeader, "X-RequestId is missing");
    }
    if echo.client_info.is_none() {
        return fail(&echo, ResponseCode::MissingHeader, "X-ClientInfo is missing");
    }
    let Some(kind) = kind(endpoint, &request_type) else {
        return fail(&echo, ResponseCode::InvalidRequestType, "unknown X-RequestType");
    };
    if kind != Kind::Ping {
        let ct = req.header("content-type").unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/mapi-http")
            && !media.eq_ignore_ascii_case("application/octet-stream")
        {
            return fail(&echo, ResponseCode::InvalidHeader, "Content-Type must be application/mapi-http");
        }
    }
    if req.body.len() > MAX_REQUEST_BODY {
        return fail(&echo, ResponseCode::TooLarge, "request body too large");
    }
    let secure = gw.config.server.public_url.starts_with("https://");
    let ctx = Arc::new(Ctx::new(gw, principal));
    let store = Store::global();

    match kind {
        Kind::Ping => streamed(&echo, endpoint, &Cookies::default(), secure, async { Vec::new() }),
        Kind::Connect => {
            let Ok(request) = wire::ConnectRequest::from_bytes(&req.body) else {
                return fail(&echo, ResponseCode::InvalidRequestBody, "malformed Connect request body");
            };
            let (response, state) = emsmdb::connect(&ctx, &request);
            let mut cookies = Cookies::default();
            if let Some(state) = state {
                if let Some(old) = cookie(req, CONTEXT_COOKIE)
                    && store.find(endpoint, &principal.mail, old, None, Tuning::get().idle).is_ok()
                {
                    store.remove(old);
                }
                let (id, seq, _) = store.create(endpoint, &principal.mail, state);
                cookies = Cookies { context: Some(id), sequence: Some(seq) };
            }
            streamed(&echo, endpoint, &cookies, secure, async move { response })
        }
        Kind::Nspi("Bind") => {
            let Ok(request) = wire::NspiRequest::decode("Bind", &req.body) else {
                return fail(&echo, ResponseCode::InvalidRequestBody, "malformed Bind request body");
            };
            let (response, state) = nspi::bind(&ctx, &request);
            let (id, seq, _) = store.create(endpoint, &principal.mail, state);
            let cookies = Cookies { context: Some(id), sequence: Some(seq) };
            streamed(&echo, endpoint, &cookies, secure, async move { response })
        }
        Kind::Execute => {
            let Ok(prepared) = emsmdb::prepare_execute(&req.body) else {
                return fail(&echo, ResponseCode::InvalidRequestBody, "malformed Execute request body or ROP buffer");
            };
            let (_, sess, next) = match session(req, &echo, endpoint, principal, false) {
                Ok(s) => s,
                Err(r) => return *r,
            };
            let cookies = Cookies { context: None, sequence: next };
            streamed(&echo, endpoint, &cookies, secure, async move { emsmdb::execute(ctx, sess, prepared).await })
        }
        Kind::Disconnect => {
            if wire::DisconnectRequest::from_bytes(&req.body).is_err() {
                return fail(&echo, ResponseCode::InvalidRequestBody, "malformed Disconnect request body");
            }
            let (id, _, next) = match session(req, &echo, endpoint, principal, false) {
                Ok(s) => s,
                Err(r) => return *r,
            };
            store.remove(&id);
            let cookies = Cookies { context: None, sequence: next };
            streamed(&echo, endpoint, &cookies, secure, async { wire::encode_simple_response(0, 0, &[]) })
        }
        Kind::NotificationWait => {
            if wire::NotificationWaitRequest::from_bytes(&req.body).is_err() {
                return fail(&echo, ResponseCode::InvalidRequestBody, "malformed NotificationWait request body");
            }
            // NotificationWait runs beside Execute on the same session: it neither checks nor advances the
            // sequence cookie.
            let (_, _sess, _) = match session(req, &echo, endpoint, principal, true) {
                Ok(s) => s,
                Err(r) => return *r,
            };
            let wait = Tuning::get().notification_wait;
            streamed(&echo, endpoint, &Cookies::default(), secure, async move {
                // No event source yet: hold the request until its timeout, then report no event pending
                // (MS-OXCMAPIHTTP 2.2.4.4.2 EventPending = 0).
                tokio::time::sleep(wait).await;
                wire::encode_simple_response(0, 0, &[0])
            })
        }
        Kind::Nspi(name) => {
            let request = match wire::NspiRequest::decode(name, &req.body) {
                Ok(r) => r,
                Err(_) => return fail(&echo, ResponseCode::InvalidRequestBody, "malformed NSPI request body"),
            };
            let (id, sess, next) = match session(req, &echo, endpoint, principal, false) {
                Ok(s) => s,
                Err(r) => return *r,
            };
            if name == "Unbind" {
                store.remove(&id);
            }
            let cookies = Cookies { context: None, sequence: next };
            streamed(&echo, endpoint, &cookies, secure, async move { nspi::run(ctx, sess, request).await })
        }
    }
}

/// A successful MAPI/HTTP response body taken apart (MS-OXCMAPIHTTP 2.2.2.2, 2.2.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitResponse {
    /// PROCESSING, PENDING…, DONE.
    pub tags: Vec<String>,
    /// The meta headers after DONE (X-ResponseCode, X-ElapsedTime, X-StartTime).
    pub meta: Vec<(String, String)>,
    /// The binary response body.
    pub body: Vec<u8>,
}

/// Splits a streamed MAPI/HTTP response body into its meta-tags, meta headers and binary body (the codec's
/// `framing::split_response`, owned; used by tests and tools).
pub fn split_response(raw: &[u8]) -> Option<SplitResponse> {
    let (prelude, body) = framing::split_response(raw).ok()?;
    Some(SplitResponse { tags: prelude.meta_tags, meta: prelude.headers, body: body.to_vec() })
}

/// How long a streamed response may wait before its first PENDING (for documentation and tests).
pub fn pending_period() -> Duration {
    Tuning::get().pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(Endpoint::Emsmdb, "connect"), Some(Kind::Connect));
        assert_eq!(kind(Endpoint::Emsmdb, "PING"), Some(Kind::Ping));
        assert_eq!(kind(Endpoint::Emsmdb, "Bind"), None);
        assert_eq!(kind(Endpoint::Nspi, "dntomid"), Some(Kind::Nspi("DNToMId")));
        assert_eq!(kind(Endpoint::Nspi, "Execute"), None);
    }

    #[test]
    fn split() {
        let raw = b"PROCESSING\r\nPENDING\r\nDONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: 3\r\n\r\n\x01\x02";
        let s = split_response(raw).unwrap();
        assert_eq!(s.tags, ["PROCESSING", "PENDING", "DONE"]);
        assert_eq!(s.meta[0], ("X-ResponseCode".to_string(), "0".to_string()));
        assert_eq!(s.body, [1, 2]);
        assert!(split_response(b"PROCESSING\r\nDONE").is_none());
    }
}
