//! MAPI over HTTP front-end (`/mapi/emsmdb`, `/mapi/nspi`, MS-OXCMAPIHTTP).
//!
//! - [`http`]: the transport (headers, cookies, X-ResponseCode, streamed PROCESSING/PENDING/DONE responses).
//! - [`session`]: Session Contexts in a bounded LRU (the only in-memory state, ADR 0002 §3).
//! - [`emsmdb`]: Connect, Execute (ROP buffers), Disconnect, NotificationWait.
//! - [`nspi`]: the address book (MS-OXNSPI over MS-OXCMAPIHTTP) backed by the LDAP directory.
//! - [`store`]: the mailbox as a MAPI store (special folders, store properties).
//! - [`ids`]: the FID/MID/CN, SourceKey/ChangeKey encodings and folder-slot claim resolution of ADR 0002.
//! - [`wire`]: MS-OXCMAPIHTTP bodies and NSPI structures (to move into `crates/mapi-codec`).

pub mod emsmdb;
pub mod http;
pub mod ids;
pub mod named;
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

/// The caller, as MAPI needs it (no credentials: MAPI work never logs in to a back-end as the user yet, and
/// nothing secret should travel into spawned work).
#[derive(Debug, Clone)]
pub struct Caller {
    pub login: String,
    /// Primary SMTP address, lower-cased.
    pub mail: String,
    pub display_name: String,
    pub entry: Option<crate::model::directory::DirectoryEntry>,
}

/// What a MAPI request needs after the HTTP layer, owned so streamed work can outlive the request borrow.
pub struct Ctx {
    pub config: Arc<Config>,
    pub directory: Option<Directory>,
    pub principal: Caller,
    /// The caller's Autodiscover settings: the X.500 DNs and URLs MAPI must repeat exactly.
    pub me: UserSettings,
    /// Back-end access as the caller, for the duration of this request only (never kept in the session):
    /// the IMAP store and the credentials it logs in with.
    pub(crate) imap: Option<(&'static crate::backend::imap::store::MailStore, Principal)>,
}

impl Ctx {
    pub fn new(gw: &Gateway, principal: &Principal) -> Ctx {
        let caller = Caller {
            login: principal.login.clone(),
            mail: principal.mail.clone(),
            display_name: principal.display_name.clone(),
            entry: principal.entry.clone(),
        };
        let mut ctx = Ctx::for_caller(Arc::new(gw.config.clone()), gw.directory.clone(), caller);
        ctx.imap = Some((named::store(&gw.config.imap, &gw.imap_tls), principal.clone()));
        ctx
    }

    pub fn for_caller(config: Arc<Config>, directory: Option<Directory>, caller: Caller) -> Ctx {
        let me = UserSettings::new(&config, &caller.mail, &caller.display_name);
        Ctx { config, directory, principal: caller, me, imap: None }
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
