//! Autodiscover: tells Outlook, Thunderbird and EWS clients where the mailbox services are.
//! (Being written: POX, SOAP and JSON flavours.)

use http::{Response, StatusCode};

use crate::auth::Principal;
use crate::server::{Body, Gateway, HttpRequest, text};

/// POX Autodiscover (MS-OXDSCLI), `/autodiscover/autodiscover.xml`.
pub async fn pox(_gw: &Gateway, _req: &HttpRequest, _principal: &Principal) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}

/// SOAP Autodiscover (MS-OXWSADISC), `/autodiscover/autodiscover.svc`.
pub async fn soap(_gw: &Gateway, _req: &HttpRequest, _principal: &Principal) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}

/// JSON Autodiscover v2, `/autodiscover/autodiscover.json/v1.0/{address}?Protocol=...` (anonymous).
pub async fn json(_gw: &Gateway, _req: &HttpRequest) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}
