//! The internal model that sits between the front-ends (EWS, MAPI, Autodiscover) and the back-ends (IMAP, DAV,
//! SMTP, Sieve, LDAP). Front-ends translate their wire types into these and back; back-ends fill them from
//! their servers. Nothing here knows a wire format.

pub mod calendar;
pub mod contact;
pub mod directory;
pub mod folder;
pub mod freebusy;
pub mod message;
pub mod mime_tree;
pub mod recurrence;
pub mod task;
pub mod timezone;
pub mod unique_body;
