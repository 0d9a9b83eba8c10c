//! MAPI over HTTP front-end (`/mapi/emsmdb`, `/mapi/nspi`, MS-OXCMAPIHTTP). (Being written.)

use http::{Response, StatusCode};

use crate::auth::Principal;
use crate::server::{Body, Gateway, HttpRequest, text};

/// The mailbox endpoint.
pub async fn emsmdb(_gw: &Gateway, _req: &HttpRequest, _principal: &Principal) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}

/// The address book endpoint.
pub async fn nspi(_gw: &Gateway, _req: &HttpRequest, _principal: &Principal) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}
