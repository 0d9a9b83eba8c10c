//! ResolveNames (MS-OXWSRSLNM 3.1.4.1) against the directory (LDAP): ambiguous name resolution over display
//! name, given name, surname, address and login. Contacts folders are not searched yet (no CardDAV mapping).

use super::Ctx;
use crate::ews::soap::{ResponseClass, ResponseMessage};
use crate::ews::store::MailStore;
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

pub async fn resolve_names<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let full = op.attr("ReturnFullContactData").and_then(parse_bool).unwrap_or(false);
    let Some(q) = op.m("UnresolvedEntry").map(|u| query_text(&u.text).to_string()).filter(|q| !q.is_empty()) else {
        return vec![ResponseMessage::error("ErrorNameResolutionNoResults", "No results were found.")];
    };
    let mut found = match cx.store.resolve_names(&q).await {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "ResolveNames: directory search failed");
            return vec![ResponseMessage::error("ErrorNameResolutionNoResults", "No results were found.")];
        }
    };
    // An exact address match resolves uniquely.
    if let Some(i) = found.iter().position(|e| e.mail.eq_ignore_ascii_case(&q)) {
        found = vec![found.swap_remove(i)];
    }
    found.truncate(MAX_RESOLUTIONS);
    if found.is_empty() {
        return vec![ResponseMessage::error("ErrorNameResolutionNoResults", "No results were found.")];
    }
    found.sort_by_key(|a| a.display_name.to_lowercase());
    let mut w = XmlWriter::new();
    let n = found.len().to_string();
    w.start("m:ResolutionSet", &[("TotalItemsInView", &n), ("IncludesLastItemInRange", "true")]);
    for e in &found {
        w.start("t:Resolution", &[]);
        w.start("t:Mailbox", &[]);
        w.leaf("t:Name", &e.display_name);
        w.leaf("t:EmailAddress", &e.mail);
        w.leaf("t:RoutingType", "SMTP");
        w.leaf("t:MailboxType", if e.kind == EntryKind::DistributionList { "PublicDL" } else { "Mailbox" });
        w.end();
        if full {
            write_contact(&mut w, e);
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
