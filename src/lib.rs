//! Viaduc: a gateway that lets Outlook and other Exchange clients (Autodiscover, EWS, MAPI over HTTP) work
//! against the open mail and groupware servers an organisation already runs (IMAP, CalDAV/CardDAV, SMTP
//! submission, ManageSieve, LDAP). See docs/architecture.md for how the parts fit together.

pub mod auth;
pub mod autodiscover;
pub mod backend;
pub mod check;
pub mod config;
pub mod error;
pub mod ews;
pub mod ids;
pub mod mapi;
pub mod model;
pub mod server;
pub mod xml;
