//! Smaller operations: GetServerTimeZones (MS-OXWSGTZ), ExpandDL (MS-OXWSXPDL; personal lists in
//! [`super::people`]), GetMailTips (MS-OXWSMTGS),
//! GetServiceConfiguration (MS-OXWSCONFIG) and ArchiveItem (MS-OXWSARCH).

use chrono::{Datelike, NaiveTime, Timelike};

use super::{Ctx, Fail};
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::types::weekday_name;
use crate::ews::xml::{Element, NS_M, NS_T, XmlWriter, parse_bool};
use crate::model::directory::{DirectoryEntry, EntryKind};
use crate::model::timezone::{TimeZoneDefinition, TzGroupTransition, iana_to_windows, resolve_zone_name};

/// The largest message accepted for submission, as MailTips and the service configuration report it (Postfix's
/// default `message_size_limit`).
pub const MAX_MESSAGE_SIZE: u64 = 10_240_000;

/// Years the transitions of a full time-zone definition cover.
const TZ_FROM_YEAR: i32 = 1970;
const TZ_TO_YEAR: i32 = 2037;

/// An `xs:duration` for a number of minutes (`-PT1H`, `PT5H30M`, `PT0H`).
pub fn duration(minutes: i32) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.unsigned_abs();
    match (m / 60, m % 60) {
        (h, 0) => format!("{sign}PT{h}H"),
        (0, mm) => format!("{sign}PT{mm}M"),
        (h, mm) => format!("{sign}PT{h}H{mm}M"),
    }
}

fn time_duration(t: NaiveTime) -> String {
    let mins = (t.hour() * 60 + t.minute()) as i32;
    if t.second() != 0 {
        return format!("PT{}H{}M{}S", t.hour(), t.minute(), t.second());
    }
    duration(mins)
}

/// Every Windows time-zone id Viaduc can map, with the IANA zone it stands for (CLDR's "001" zone), sorted by id.
pub fn windows_zones() -> Vec<(&'static str, chrono_tz::Tz)> {
    let mut out: Vec<(&'static str, chrono_tz::Tz)> = Vec::new();
    for tz in chrono_tz::TZ_VARIANTS {
        if let Some(w) = iana_to_windows(tz.name())
            && !out.iter().any(|(x, _)| *x == w)
            && let Some(golden) = crate::model::timezone::windows_to_iana(w).and_then(resolve_zone_name)
        {
            out.push((w, golden));
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// Writes a `t:TimeZoneDefinition` (MS-OXWSGTZ 2.2.4.12), with Periods/TransitionsGroups/Transitions when `full`.
pub fn write_tz_definition(w: &mut XmlWriter, def: &TimeZoneDefinition, full: bool) {
    w.start("t:TimeZoneDefinition", &[("Id", &def.id), ("Name", &def.name)]);
    if full {
        w.start("t:Periods", &[]);
        for p in &def.periods {
            w.empty("t:Period", &[("Bias", &duration(p.bias)), ("Name", &p.name), ("Id", &p.id)]);
        }
        w.end();
        w.start("t:TransitionsGroups", &[]);
        for g in &def.groups {
            w.start("t:TransitionsGroup", &[("Id", &g.id)]);
            for t in &g.transitions {
                match t {
                    TzGroupTransition::RecurringDay { to_period, time_offset, month, day_of_week, occurrence } => {
                        w.start("t:RecurringDayTransition", &[]);
                        w.leaf_with("t:To", &[("Kind", "Period")], to_period);
                        w.leaf("t:TimeOffset", &time_duration(*time_offset));
                        w.leaf("t:Month", &month.to_string());
                        w.leaf("t:DayOfWeek", weekday_name(*day_of_week));
                        w.leaf("t:Occurrence", &occurrence.to_string());
                        w.end();
                    }
                    TzGroupTransition::Period { to_period } => {
                        w.start("t:Transition", &[]);
                        w.leaf_with("t:To", &[("Kind", "Period")], to_period);
                        w.end();
                    }
                }
            }
            w.end();
        }
        w.end();
        w.start("t:Transitions", &[]);
        for t in &def.transitions {
            match t.from {
                None => {
                    w.start("t:Transition", &[]);
                    w.leaf_with("t:To", &[("Kind", "Group")], &t.to_group);
                    w.end();
                }
                Some(at) => {
                    w.start("t:AbsoluteDateTransition", &[]);
                    w.leaf_with("t:To", &[("Kind", "Group")], &t.to_group);
                    w.leaf(
                        "t:DateTime",
                        &format!(
                            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                            at.year(),
                            at.month(),
                            at.day(),
                            at.hour(),
                            at.minute(),
                            at.second()
                        ),
                    );
                    w.end();
                }
            }
        }
        w.end();
    }
    w.end();
}

/// GetServerTimeZones: every Windows zone (or those in `m:Ids`), full definitions unless
/// `ReturnFullTimeZoneData="false"`. Unknown ids are left out (Exchange does the same).
pub async fn get_server_time_zones<S: MailStore>(_cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let full = op.attr("ReturnFullTimeZoneData").and_then(parse_bool).unwrap_or(true);
    let wanted: Option<Vec<String>> =
        op.m("Ids").map(|ids| ids.children.iter().map(|c| c.trimmed().to_string()).collect());
    let all = windows_zones();
    let mut w = XmlWriter::new();
    w.start("m:TimeZoneDefinitions", &[]);
    let mut write = |id: &str, tz: chrono_tz::Tz| {
        let mut def = TimeZoneDefinition::for_zone(tz, TZ_FROM_YEAR, TZ_TO_YEAR);
        def.id = id.to_string();
        write_tz_definition(&mut w, &def, full);
    };
    match &wanted {
        None => {
            for (id, tz) in &all {
                write(id, *tz);
            }
        }
        Some(ids) => {
            for id in ids {
                if let Some((wid, tz)) = all.iter().find(|(x, _)| x.eq_ignore_ascii_case(id)) {
                    write(wid, *tz);
                }
            }
        }
    }
    w.end();
    vec![ResponseMessage::ok(w.finish())]
}

fn write_dl_mailbox(w: &mut XmlWriter, e: &DirectoryEntry) {
    w.start("t:Mailbox", &[]);
    w.leaf("t:Name", &e.display_name);
    w.leaf("t:EmailAddress", &e.mail);
    w.leaf("t:RoutingType", "SMTP");
    w.leaf(
        "t:MailboxType",
        match e.kind {
            EntryKind::Mailbox => "Mailbox",
            EntryKind::DistributionList => "PublicDL",
            _ => "Contact",
        },
    );
    w.end();
}

/// The members of a distribution list, looked up by DN in the directory.
fn members<'a>(gal: &'a [DirectoryEntry], dl: &DirectoryEntry) -> Vec<&'a DirectoryEntry> {
    dl.members.iter().filter_map(|dn| gal.iter().find(|e| e.dn.eq_ignore_ascii_case(dn))).collect()
}

/// ExpandDL: the members of a distribution list of the directory (one level, as Exchange), or of a personal
/// distribution list (a contact group) named by its `ItemId` (MS-OXWSXPDL 3.1.4.1.2.1).
pub async fn expand_dl<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    if let Some(id) = op.m("Mailbox").and_then(|m| m.t("ItemId")).and_then(|i| i.attr("Id")) {
        return vec![super::people::expand_private_dl(cx, id).await];
    }
    let addr = op.m("Mailbox").and_then(|m| m.t_text("EmailAddress")).unwrap_or("").trim().to_lowercase();
    let addr = addr.strip_prefix("smtp:").unwrap_or(&addr).to_string();
    if addr.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Mailbox/EmailAddress is required.")];
    }
    let gal = match cx.store.directory_entries().await {
        Ok(g) => g,
        Err(e) => return vec![Fail::from_error(&e, "ErrorNameResolutionNoResults").message()],
    };
    let Some(dl) = gal.iter().find(|e| e.mail.eq_ignore_ascii_case(&addr) && e.kind == EntryKind::DistributionList)
    else {
        return vec![ResponseMessage::error(
            "ErrorNameResolutionNoResults",
            "No results were found for the distribution list.",
        )];
    };
    let mut found = members(&gal, dl);
    found.sort_by_key(|e| e.display_name.to_lowercase());
    let mut w = XmlWriter::new();
    let n = found.len().to_string();
    w.start("m:DLExpansion", &[("TotalItemsInView", &n), ("IncludesLastItemInRange", "true")]);
    for e in found {
        write_dl_mailbox(&mut w, e);
    }
    w.end();
    vec![ResponseMessage::ok(w.finish())]
}

/// GetMailTips: for each recipient, MailboxFull (false), OutOfOffice (a colleague's current automatic reply, read
/// from their Sieve out-of-office script; empty when off or not readable), MaxMessageSize, TotalMemberCount for a distribution list, InvalidRecipient for an
/// address of one of our domains that the directory does not know.
pub async fn get_mail_tips<S: MailStore>(cx: &mut Ctx<S>, op: &Element, domains: &[String]) -> Vec<ResponseMessage> {
    let Some(rcpts) = op.m("Recipients") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Recipients is required.")];
    };
    let gal = if cx.store.has_directory() { cx.store.directory_entries().await.ok() } else { None };
    // MailTipsRequested (MS-OXWSMTGS 2.2.5.x MailTipTypes, a list): the OutOfOffice tip costs a ManageSieve
    // session per colleague, so it is only fetched when asked for.
    let wanted = op.m("MailTipsRequested").map(|m| m.trimmed().to_string()).unwrap_or_else(|| "All".into());
    let want_oof = wanted.split_whitespace().any(|t| t == "All" || t == "OutOfOfficeMessage");
    let mut out = Vec::new();
    for m in rcpts.children.iter().filter(|c| c.name == "Mailbox") {
        let addr = m.t_text("EmailAddress").unwrap_or("").trim().to_lowercase();
        let entry = gal.as_ref().and_then(|g| g.iter().find(|e| e.mail.eq_ignore_ascii_case(&addr)));
        let ours = addr.rsplit_once('@').is_some_and(|(_, d)| domains.iter().any(|x| x.eq_ignore_ascii_case(d)));
        let invalid = addr.is_empty() || !addr.contains('@') || (gal.is_some() && ours && entry.is_none());
        let mut w = XmlWriter::new();
        w.start("m:MailTips", &[]);
        w.start("t:RecipientAddress", &[]);
        w.leaf("t:EmailAddress", &addr);
        w.leaf("t:RoutingType", "SMTP");
        w.end();
        w.empty("t:PendingMailTips", &[]);
        let reply = match entry.filter(|e| want_oof && ours && e.kind != EntryKind::DistributionList) {
            Some(e) => match cx.store.automatic_reply(e).await {
                Ok(r) => r,
                Err(err) => {
                    tracing::debug!(error = %err, recipient = %addr, "MailTips: automatic reply not readable");
                    None
                }
            },
            None => None,
        };
        w.start("t:OutOfOffice", &[]);
        w.start("t:ReplyBody", &[]);
        w.leaf("t:Message", reply.as_ref().map(|(t, _)| t.as_str()).unwrap_or(""));
        w.end();
        if let Some((start, end)) = reply.as_ref().and_then(|(_, d)| *d) {
            w.start("t:Duration", &[]);
            w.leaf("t:StartTime", &crate::ews::types::format_datetime(start));
            w.leaf("t:EndTime", &crate::ews::types::format_datetime(end));
            w.end();
        }
        w.end();
        w.leaf("t:MailboxFull", "false");
        if let Some(dl) = entry.filter(|e| e.kind == EntryKind::DistributionList) {
            let n = gal.as_deref().map(|g| members(g, dl).len()).unwrap_or(0);
            w.leaf("t:TotalMemberCount", &n.to_string());
        } else if entry.is_some() {
            w.leaf("t:TotalMemberCount", "1");
        }
        w.leaf("t:MaxMessageSize", &MAX_MESSAGE_SIZE.to_string());
        w.leaf("t:InvalidRecipient", if invalid { "true" } else { "false" });
        w.end();
        out.push(ResponseMessage::ok(w.finish()));
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "Recipients is empty."));
    }
    out
}

/// GetServiceConfiguration: MailTips configuration (enabled, size limit, the accepted domains as internal),
/// Unified Messaging disabled, no protection rules; other requested configurations are left out.
pub fn get_service_configuration(op: &Element, domains: &[String]) -> Vec<ResponseMessage> {
    let wanted: Vec<String> = op
        .m("RequestedConfiguration")
        .map(|r| r.children.iter().map(|c| c.trimmed().to_string()).collect())
        .unwrap_or_else(|| vec!["MailTips".into(), "UnifiedMessagingConfiguration".into(), "ProtectionRules".into()]);
    let mut w = XmlWriter::new();
    for c in &wanted {
        match c.as_str() {
            "MailTips" => {
                w.start("m:MailTipsConfiguration", &[]);
                w.leaf("t:MailTipsEnabled", "true");
                w.leaf("t:MaxRecipientsPerGetMailTipsRequest", "50");
                w.leaf("t:MaxMessageSize", &MAX_MESSAGE_SIZE.to_string());
                w.leaf("t:LargeAudienceThreshold", "25");
                w.leaf("t:ShowExternalRecipientCount", "false");
                w.start("t:InternalDomains", &[]);
                for d in domains {
                    w.empty("t:Domain", &[("Name", d), ("IncludeSubdomains", "false")]);
                }
                w.end();
                w.leaf("t:PolicyTipsEnabled", "false");
                w.leaf("t:LargeAudienceCap", "1000");
                w.end();
            }
            "UnifiedMessagingConfiguration" => {
                w.start("m:UnifiedMessagingConfiguration", &[]);
                w.leaf("t:UmEnabled", "false");
                w.leaf("t:PlayOnPhoneDialString", "");
                w.leaf("t:PlayOnPhoneEnabled", "false");
                w.end();
            }
            "ProtectionRules" => {
                w.start("m:ProtectionRulesConfiguration", &[("RefreshInterval", "24")]);
                w.empty("t:Rules", &[]);
                w.start("t:InternalDomains", &[]);
                for d in domains {
                    w.empty("t:Domain", &[("Name", d), ("IncludeSubdomains", "false")]);
                }
                w.end();
                w.end();
            }
            _ => {}
        }
    }
    vec![ResponseMessage::ok(w.finish())]
}

/// ArchiveItem: moves the items to the mailbox's Archive folder (RFC 6154 `\Archive`), as MoveItem does.
pub async fn archive_item<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let mut mv = op.clone();
    mv.name = "MoveItem".into();
    mv.children.retain(|c| c.name == "ItemIds");
    let dist = Element {
        ns: Some(NS_T.to_string()),
        name: "DistinguishedFolderId".into(),
        attrs: vec![(None, "Id".into(), "archive".into())],
        ..Default::default()
    };
    mv.children.push(Element {
        ns: Some(NS_M.to_string()),
        name: "ToFolderId".into(),
        children: vec![dist],
        ..Default::default()
    });
    let out = super::items::move_or_copy_item(cx, &mv, false).await;
    out.into_iter()
        .map(|m| {
            if m.code == "ErrorFolderNotFound" && m.text.as_deref().is_some_and(|t| t.contains("archive")) {
                ResponseMessage::error("ErrorArchiveMailboxNotEnabled", "This mailbox has no Archive folder.")
            } else {
                m
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(-60), "-PT1H");
        assert_eq!(duration(480), "PT8H");
        assert_eq!(duration(-330), "-PT5H30M");
        assert_eq!(duration(0), "PT0H");
        assert_eq!(duration(30), "PT30M");
    }

    #[test]
    fn windows_zone_list_has_the_usual_ids() {
        let all = windows_zones();
        for id in ["Pacific Standard Time", "W. Europe Standard Time", "UTC", "Tokyo Standard Time"] {
            assert!(all.iter().any(|(w, _)| *w == id), "{id}");
        }
    }
}
