//! Exchange Web Services front-end (`/EWS/Exchange.asmx`). (Being written.)

use http::{Response, StatusCode};

use crate::auth::Principal;
use crate::server::{Body, Gateway, HttpRequest, text};

/// Handles one EWS SOAP request.
pub async fn handle(_gw: &Gateway, _req: &HttpRequest, _principal: &Principal) -> Response<Body> {
    text(StatusCode::NOT_IMPLEMENTED, "not yet\n")
}
