//! Routing: matches the Exchange paths case-insensitively (Outlook and IIS vary the case), reads the body within
//! the size limit, authenticates where the endpoint needs it, calls the front-end and records metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::{Body, Gateway, HttpRequest, text};
use crate::auth::AuthFailure;

/// The endpoints Viaduc answers, as named in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    AutodiscoverPox,
    AutodiscoverSoap,
    AutodiscoverJson,
    Ews,
    MapiEmsmdb,
    MapiNspi,
    Health,
    Metrics,
    NotFound,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::AutodiscoverPox => "autodiscover_pox",
            Endpoint::AutodiscoverSoap => "autodiscover_soap",
            Endpoint::AutodiscoverJson => "autodiscover_json",
            Endpoint::Ews => "ews",
            Endpoint::MapiEmsmdb => "mapi_emsmdb",
            Endpoint::MapiNspi => "mapi_nspi",
            Endpoint::Health => "healthz",
            Endpoint::Metrics => "metrics",
            Endpoint::NotFound => "not_found",
        }
    }

    /// Whether the endpoint requires an authenticated user. Autodiscover JSON is anonymous, as in Exchange.
    fn needs_auth(self) -> bool {
        matches!(
            self,
            Endpoint::AutodiscoverPox
                | Endpoint::AutodiscoverSoap
                | Endpoint::Ews
                | Endpoint::MapiEmsmdb
                | Endpoint::MapiNspi
        )
    }
}

/// Maps a request path to an endpoint, ignoring case and a trailing slash.
pub fn route(path: &str) -> Endpoint {
    let p = path.to_ascii_lowercase();
    let p = p.trim_end_matches('/');
    match p {
        "/autodiscover/autodiscover.xml" => Endpoint::AutodiscoverPox,
        "/autodiscover/autodiscover.svc" | "/autodiscover/autodiscover.svc/wssecurity" => Endpoint::AutodiscoverSoap,
        "/ews/exchange.asmx" => Endpoint::Ews,
        "/mapi/emsmdb" => Endpoint::MapiEmsmdb,
        "/mapi/nspi" => Endpoint::MapiNspi,
        "/healthz" => Endpoint::Health,
        "/metrics" => Endpoint::Metrics,
        _ if p.starts_with("/autodiscover/autodiscover.json") => Endpoint::AutodiscoverJson,
        _ => Endpoint::NotFound,
    }
}

/// Handles one HTTP request end to end. Never fails: every problem becomes a response.
pub async fn handle(gw: Arc<Gateway>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let started = Instant::now();
    let endpoint = route(req.uri().path());
    let span = tracing::info_span!("request", endpoint = endpoint.label(), method = %req.method(), %peer);
    let _enter = span.enter();
    drop(_enter);
    let response = dispatch(&gw, endpoint, req, peer).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    gw.metrics.request(endpoint.label(), status, elapsed);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "done"));
    response
}

async fn dispatch(gw: &Arc<Gateway>, endpoint: Endpoint, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    match endpoint {
        Endpoint::Health => return gw.health.respond(gw).await,
        Endpoint::Metrics => return text(StatusCode::OK, gw.metrics.render()),
        Endpoint::NotFound => return text(StatusCode::NOT_FOUND, "not found\n"),
        _ => {}
    }

    let (parts, body) = req.into_parts();
    let limit = gw.config.server.max_body_bytes;
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
            }
            return text(StatusCode::BAD_REQUEST, "could not read the request body\n");
        }
    };
    let request = HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        peer,
    };

    if !endpoint.needs_auth() {
        return crate::autodiscover::json(gw, &request).await;
    }

    let principal = match gw.auth.authenticate(request.header("authorization"), peer.ip()).await {
        Ok(p) => p,
        Err(AuthFailure::Missing) => return unauthorized(),
        Err(AuthFailure::Rejected) => {
            gw.metrics.auth_failure();
            return unauthorized();
        }
        Err(AuthFailure::Unavailable(e)) => {
            if let crate::error::Source::Backend(b) = e.source {
                gw.metrics.backend_error(b.name());
            }
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "the mail server cannot be reached; try again\n");
            r.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("5"));
            return r;
        }
    };
    tracing::debug!(user = %principal.mail, "authenticated");

    match endpoint {
        Endpoint::AutodiscoverPox => crate::autodiscover::pox(gw, &request, &principal).await,
        Endpoint::AutodiscoverSoap => crate::autodiscover::soap(gw, &request, &principal).await,
        Endpoint::Ews => crate::ews::handle(gw, &request, &principal).await,
        Endpoint::MapiEmsmdb => crate::mapi::emsmdb(gw, &request, &principal).await,
        Endpoint::MapiNspi => crate::mapi::nspi(gw, &request, &principal).await,
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// 401 with a Basic challenge (RFC 7617 section 2).
pub fn unauthorized() -> Response<Body> {
    let mut r = text(StatusCode::UNAUTHORIZED, "authentication required\n");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic realm=\"Viaduc\", charset=\"UTF-8\""));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_ignore_case_and_trailing_slash() {
        assert_eq!(route("/AutoDiscover/AutoDiscover.xml"), Endpoint::AutodiscoverPox);
        assert_eq!(route("/autodiscover/autodiscover.svc"), Endpoint::AutodiscoverSoap);
        assert_eq!(route("/ews/EXCHANGE.ASMX"), Endpoint::Ews);
        assert_eq!(route("/mapi/emsmdb/"), Endpoint::MapiEmsmdb);
        assert_eq!(route("/MAPI/NSPI"), Endpoint::MapiNspi);
        assert_eq!(route("/autodiscover/autodiscover.json/v1.0/alice@example.test"), Endpoint::AutodiscoverJson);
        assert_eq!(route("/healthz"), Endpoint::Health);
        assert_eq!(route("/metrics"), Endpoint::Metrics);
        assert_eq!(route("/owa"), Endpoint::NotFound);
    }
}
