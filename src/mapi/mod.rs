//! MAPI over HTTP front-end (`/mapi/emsmdb`, `/mapi/nspi`, MS-OXCMAPIHTTP).
//!
//! - [`http`]: the transport (headers, cookies, X-ResponseCode, streamed PROCESSING/PENDING/DONE responses).
//! - [`session`]: Session Contexts in a bounded LRU (the only in-memory state, ADR 0002 §3).
//! - [`emsmdb`]: Connect, Execute (ROP buffers), Disconnect, NotificationWait.
//! - [`nspi`]: the address book (MS-OXNSPI over MS-OXCMAPIHTTP) backed by the LDAP directory.
//! - [`store`]: the mailbox as a MAPI store (ids per ADR 0002, store properties).
//! - [`wire`]: MS-OXCMAPIHTTP bodies and NSPI structures (to move into `crates/mapi-codec`).

pub mod emsmdb;
pub mod http;
pub mod nspi;
pub mod props;
pub mod session;
pub mod store;
pub mod wire;

use std::sync::Arc;

use ::http::Response;

use crate::auth::Principal;
use crate::autodiscover::settings::UserSettings;
use crate::backend::ldap::Directory;
use crate::config::Config;
use crate::server::{Body, Gateway, HttpRequest};

/// What a MAPI request needs after the HTTP layer, owned so streamed work can outlive the request borrow.
pub struct Ctx {
    pub config: Arc<Config>,
    pub directory: Option<Directory>,
    pub principal: Principal,
    /// The caller's Autodiscover settings: the X.500 DNs and URLs MAPI must repeat exactly.
    pub me: UserSettings,
}

impl Ctx {
    pub fn new(gw: &Gateway, principal: &Principal) -> Ctx {
        let me = UserSettings::new(&gw.config, &principal.mail, &principal.display_name);
        Ctx { config: Arc::new(gw.config.clone()), directory: gw.directory.clone(), principal: principal.clone(), me }
    }

    /// Autodiscover settings of any mailbox of this deployment.
    pub fn settings_of(&self, mail: &str, display_name: &str) -> UserSettings {
        UserSettings::new(&self.config, mail, display_name)
    }
}

/// The mailbox endpoint.
pub async fn emsmdb(gw: &Gateway, req: &HttpRequest, principal: &Principal) -> Response<Body> {
    http::handle(gw, req, principal, session::Endpoint::Emsmdb).await
}

/// The address book endpoint.
pub async fn nspi(gw: &Gateway, req: &HttpRequest, principal: &Principal) -> Response<Body> {
    http::handle(gw, req, principal, session::Endpoint::Nspi).await
}
