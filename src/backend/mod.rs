//! Back-ends: one module per protocol Viaduc speaks to the servers that hold the data. Each has its codec
//! (pure), its connection handling and its mapping to the internal model.

pub mod dav;
pub mod imap;
pub mod ldap;
pub mod oof;
pub mod sieve;
pub mod sieve_client;
pub mod smtp;
pub mod tls;
