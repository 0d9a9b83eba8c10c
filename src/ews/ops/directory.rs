//! ResolveNames (MS-OXWSRSLNM 3.1.4.1) against the directory (LDAP: ambiguous name resolution over display
//! name, given name, surname, address and login) and the user's contacts folders (CardDAV; matching and
//! ordering in [`super::people`]), as `SearchScope` and `ParentFolderIds` ask.

use super::Ctx;
use super::people::{self, Resolution, SearchScope, Source};
use crate::ews::groupware::contact_xml;
use crate::ews::soap::{ResponseClass, ResponseMessage};
use crate::ews::store::MailStore;
use crate::ews::types::{BaseShape, Shape};
use crate::ews::xml::{Element, XmlWriter, parse_bool};
use crate::model::directory::{DirectoryEntry, EntryKind};

/// Most resolutions returned (Exchange returns at most 100).
pub const MAX_RESOLUTIONS: usize = 100;

/// The text to search for: `SMTP:`/`smtp:` prefixes removed, trimmed.
pub fn query_text(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix("SMTP:").or_else(|| s.strip_prefix("smtp:")).unwrap_or(s).trim()
}

fn write_contact(w: &mut XmlWriter, e: &DirectoryEntry) {
    // ContactItemType element order (MS-OXWSCDATA / types.xsd).
    w.start("t:Contact", &[]);
    w.leaf("t:DisplayName", &e.display_name);
    if let Some(g) = &e.given_name {
        w.leaf("t:GivenName", g);
    }
    w.start("t:EmailAddresses", &[]);
    w.leaf_with("t:Entry", &[("Key", "EmailAddress1")], &format!("SMTP:{}", e.mail));
    w.end();
    if e.phone.is_some() || e.mobile.is_some() {
        w.start("t:PhoneNumbers", &[]);
        if let Some(p) = &e.phone {
            w.leaf_with("t:Entry", &[("Key", "BusinessPhone")], p);
        }
        if let Some(p) = &e.mobile {
            w.leaf_with("t:Entry", &[("Key", "MobilePhone")], p);
        }
        w.end();
    }
    w.leaf("t:ContactSource", "ActiveDirectory");
    if let Some(d) = &e.department {
        w.leaf("t:Department", d);
    }
    if let Some(t) = &e.title {
        w.leaf("t:JobTitle", t);
    }
    if let Some(o) = &e.office {
        w.leaf("t:OfficeLocation", o);
    }
    if let Some(s) = &e.surname {
        w.leaf("t:Surname", s);
    }
    w.end();
}

/// The `ContactDataShape` attribute (MS-OXWSRSLNM 3.1.4.1.2.1; a `DefaultShapeNamesType`) for contacts of the
/// store; `Default` when absent.
fn contact_shape(op: &Element) -> Shape {
    let base = match op.attr("ContactDataShape").map(str::trim) {
        Some("IdOnly") => BaseShape::IdOnly,
        Some("AllProperties") => BaseShape::AllProperties,
        _ => BaseShape::Default,
    };
    Shape { base, ..Shape::default() }
}

pub async fn resolve_names<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let full = op.attr("ReturnFullContactData").and_then(parse_bool).unwrap_or(false);
    let scope = match SearchScope::parse(op.attr("SearchScope")) {
        Ok(s) => s,
        Err(f) => return vec![f.message()],
    };
    let Some(q) = op.m("UnresolvedEntry").map(|u| query_text(&u.text).to_string()).filter(|q| !q.is_empty()) else {
        return vec![ResponseMessage::error("ErrorNameResolutionNoResults", "No results were found.")];
    };
    let directory = if scope.includes(Source::Directory) {
        match cx.store.resolve_names(&q).await {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "ResolveNames: directory search failed");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let cards = if scope.includes(Source::Contacts) {
        let parents = op.m("ParentFolderIds").map(|p| p.children.clone()).unwrap_or_default();
        match people::load_cards(cx, &parents).await {
            Ok(c) => c,
            Err(f) if people::is_request_error(&f) => return vec![f.message()],
            // The DAV server being down must not take the directory with it.
            Err(f) => {
                tracing::warn!(code = f.code, error = %f.text, "ResolveNames: contacts unavailable");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let found = people::resolve(scope, &q, directory, &cards);
    if found.is_empty() {
        return vec![ResponseMessage::error("ErrorNameResolutionNoResults", "No results were found.")];
    }
    let shape = contact_shape(op);
    let mut w = XmlWriter::new();
    let n = found.len().to_string();
    w.start("m:ResolutionSet", &[("TotalItemsInView", &n), ("IncludesLastItemInRange", "true")]);
    for r in &found {
        w.start("t:Resolution", &[]);
        match r {
            Resolution::Directory(e) => {
                w.start("t:Mailbox", &[]);
                w.leaf("t:Name", &e.display_name);
                w.leaf("t:EmailAddress", &e.mail);
                w.leaf("t:RoutingType", "SMTP");
                w.leaf("t:MailboxType", if e.kind == EntryKind::DistributionList { "PublicDL" } else { "Mailbox" });
                w.end();
                if full {
                    write_contact(&mut w, e);
                }
            }
            Resolution::Contact { card, contact, address } => {
                let ids = card.render_ids(&cx.ids, &cx.mailbox);
                // EmailAddressType (MS-OXWSCDATA 2.2.4.31): Name, EmailAddress, RoutingType, MailboxType, ItemId.
                w.start("t:Mailbox", &[]);
                w.leaf("t:Name", if contact.display_name.is_empty() { address } else { &contact.display_name });
                w.leaf("t:EmailAddress", address);
                w.leaf("t:RoutingType", "SMTP");
                w.leaf("t:MailboxType", "Contact");
                w.empty("t:ItemId", &[("Id", &ids.item_id), ("ChangeKey", &ids.change_key)]);
                w.end();
                if full {
                    contact_xml::write_contact_with_source(&mut w, contact, &shape, &ids, false, Some("Store"));
                }
            }
            Resolution::Group { card, group } => {
                let ids = card.render_ids(&cx.ids, &cx.mailbox);
                w.start("t:Mailbox", &[]);
                w.leaf("t:Name", &group.display_name);
                w.leaf("t:RoutingType", "MAPIPDL");
                w.leaf("t:MailboxType", "PrivateDL");
                w.empty("t:ItemId", &[("Id", &ids.item_id), ("ChangeKey", &ids.change_key)]);
                w.end();
            }
        }
        w.end();
    }
    w.end();
    let content = w.finish();
    if found.len() == 1 {
        vec![ResponseMessage::ok(content)]
    } else {
        vec![ResponseMessage {
            class: ResponseClass::Warning,
            code: "ErrorNameResolutionMultipleResults",
            text: Some("Multiple results were found.".into()),
            attrs: Vec::new(),
            content,
        }]
    }
}
