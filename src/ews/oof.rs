//! GetUserOofSettings and SetUserOofSettings (MS-OXWSOOF): the user's automatic replies, kept as a Sieve
//! vacation script on the ManageSieve server (`backend::oof`), so the mail server answers even when no client
//! is running.
//!
//! These two operations do not use the `ResponseMessages` list of most EWS operations: their response element
//! holds one `ResponseMessage`, then (for Get) `t:OofSettings` and `m:AllowExternalOof`
//! (MS-OXWSOOF 3.1.4.1.2.2, 3.1.4.2.2.2).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use http::{Response, StatusCode};

use super::soap::{self, Request};
use super::xml::{Element, NS_M, NS_SOAP, NS_T, XmlWriter};
use crate::auth::Principal;
use crate::backend::oof::{self, ExternalAudience, OofSettings, OofState};
use crate::backend::tls;
use crate::error::{Backend, Kind};
use crate::server::{Body, Gateway, full};

const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Whether `op` (the request element's local name) is one of the two OOF operations.
pub fn is_oof_op(op: &str) -> bool {
    matches!(op, "GetUserOofSettingsRequest" | "SetUserOofSettingsRequest")
}

/// The mailbox address a request names (`t:Mailbox/t:Address`), lower-cased.
pub fn requested_mailbox(op: &Element) -> Option<String> {
    op.t("Mailbox").and_then(|m| m.t_text("Address")).map(|a| a.trim().to_ascii_lowercase()).filter(|a| !a.is_empty())
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|d| d.with_timezone(&Utc)).or_else(|| {
        // xs:dateTime without an offset: EWS sends UTC here.
        chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
    })
}

fn reply_text(settings: &Element, name: &str) -> String {
    settings.t(name).and_then(|r| r.t_text("Message")).unwrap_or("").to_string()
}

/// Reads `t:UserOofSettings` of a SetUserOofSettings request (MS-OXWSOOF 2.2.4.2 UserOofSettings).
pub fn parse_user_oof_settings(op: &Element) -> Result<OofSettings, String> {
    let s = op.t("UserOofSettings").ok_or("UserOofSettings is missing")?;
    let state = match s.t_text("OofState").map(str::trim) {
        Some("Disabled") => OofState::Disabled,
        Some("Enabled") => OofState::Enabled,
        Some("Scheduled") => {
            let d = s.t("Duration").ok_or("a Scheduled OofState needs a Duration")?;
            let start = d.t_text("StartTime").and_then(parse_time).ok_or("Duration/StartTime is not a dateTime")?;
            let end = d.t_text("EndTime").and_then(parse_time).ok_or("Duration/EndTime is not a dateTime")?;
            if start >= end {
                return Err("Duration/StartTime must be before EndTime".into());
            }
            OofState::Scheduled { start, end }
        }
        other => return Err(format!("OofState {other:?} is not Disabled, Enabled or Scheduled")),
    };
    let external_audience = match s.t_text("ExternalAudience").map(str::trim) {
        None | Some("All") => ExternalAudience::All,
        Some("Known") => ExternalAudience::Known,
        Some("None") => ExternalAudience::None,
        Some(other) => return Err(format!("ExternalAudience {other:?} is not None, Known or All")),
    };
    Ok(OofSettings {
        state,
        external_audience,
        internal_reply: reply_text(s, "InternalReply"),
        external_reply: reply_text(s, "ExternalReply"),
    })
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `t:OofSettings` and `m:AllowExternalOof` of a GetUserOofSettings response.
pub fn write_oof_settings(w: &mut XmlWriter, s: &OofSettings, now: DateTime<Utc>) {
    let (state, start, end) = match s.state {
        OofState::Disabled => ("Disabled", now, now + Duration::days(1)),
        OofState::Enabled => ("Enabled", now, now + Duration::days(1)),
        OofState::Scheduled { start, end } => ("Scheduled", start, end),
    };
    let audience = match s.external_audience {
        ExternalAudience::None => "None",
        ExternalAudience::Known => "Known",
        ExternalAudience::All => "All",
    };
    w.start("t:OofSettings", &[]);
    w.leaf("t:OofState", state);
    w.leaf("t:ExternalAudience", audience);
    w.start("t:Duration", &[]);
    w.leaf("t:StartTime", &time(start));
    w.leaf("t:EndTime", &time(end));
    w.end();
    w.start("t:InternalReply", &[]);
    w.leaf("t:Message", &s.internal_reply);
    w.end();
    w.start("t:ExternalReply", &[]);
    w.leaf("t:Message", &s.external_reply);
    w.end();
    w.end();
    w.leaf("m:AllowExternalOof", "All");
}

/// The whole response document: `m:{op}Response` with one `m:ResponseMessage` and, on success, `extra`.
pub fn response_document(
    version: &str,
    op: &str,
    error: Option<(&str, &str)>,
    extra: impl FnOnce(&mut XmlWriter),
) -> String {
    let mut w = XmlWriter::with_decl();
    w.start("s:Envelope", &[("xmlns:s", NS_SOAP)]);
    w.start("s:Header", &[]);
    soap::write_server_version_info(&mut w, version);
    w.end();
    w.start("s:Body", &[]);
    w.start(&format!("m:{op}Response"), &[("xmlns:m", NS_M), ("xmlns:t", NS_T)]);
    match error {
        None => {
            w.start("m:ResponseMessage", &[("ResponseClass", "Success")]);
            w.leaf("m:ResponseCode", "NoError");
            w.end();
            extra(&mut w);
        }
        Some((code, text)) => {
            w.start("m:ResponseMessage", &[("ResponseClass", "Error")]);
            w.leaf("m:MessageText", text);
            w.leaf("m:ResponseCode", code);
            w.leaf("m:DescriptiveLinkKey", "0");
            w.end();
        }
    }
    w.finish()
}

fn error_code(e: &crate::error::Error) -> &'static str {
    match e.kind {
        Kind::AccessDenied | Kind::AuthFailed => "ErrorAccessDenied",
        Kind::NotSupported => "ErrorInvalidRequest",
        _ => "ErrorInternalServerError",
    }
}

/// Answers GetUserOofSettingsRequest / SetUserOofSettingsRequest for the caller's own mailbox.
pub async fn respond(gw: &Gateway, principal: &Principal, request: &Request) -> Response<Body> {
    let version = request.echo_version();
    let op = request.op_name().trim_end_matches("Request").to_string();
    let answer = |error: Option<(&str, &str)>, settings: Option<&OofSettings>| {
        let body = response_document(version, &op, error, |w| {
            if let Some(s) = settings {
                write_oof_settings(w, s, DateTime::<Utc>::from(std::time::SystemTime::now()));
            }
        });
        full(StatusCode::OK, CONTENT_TYPE, body)
    };
    match requested_mailbox(&request.op) {
        None => return answer(Some(("ErrorInvalidRequest", "Mailbox/Address is missing.")), None),
        Some(m) if m != principal.mail => {
            return answer(
                Some(("ErrorAccessDenied", "Automatic replies of another mailbox cannot be read or set.")),
                None,
            );
        }
        Some(_) => {}
    }
    let Some(sieve) = &gw.config.sieve else {
        return answer(Some(("ErrorInvalidRequest", "Automatic replies need a ManageSieve server ([sieve]).")), None);
    };
    let tls = match tls::client_config(Backend::Sieve, sieve.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return answer(Some(("ErrorInternalServerError", &e.message)), None),
    };
    if op == "GetUserOofSettings" {
        match oof::get_oof(sieve, &tls, principal).await {
            Ok(s) => answer(None, Some(&s)),
            Err(e) => {
                gw.metrics.backend_error("sieve");
                tracing::warn!(error = %e, "GetUserOofSettings");
                answer(Some((error_code(&e), &e.message)), None)
            }
        }
    } else {
        let settings = match parse_user_oof_settings(&request.op) {
            Ok(s) => s,
            Err(why) => return answer(Some(("ErrorInvalidRequest", &why)), None),
        };
        match oof::set_oof(sieve, &tls, principal, &settings, &gw.config.mail.domains).await {
            Ok(()) => answer(None, None),
            Err(e) => {
                gw.metrics.backend_error("sieve");
                tracing::warn!(error = %e, "SetUserOofSettings");
                answer(Some((error_code(&e), &e.message)), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:SetUserOofSettingsRequest><t:Mailbox><t:Address>Alice@Example.Test</t:Address></t:Mailbox><t:UserOofSettings><t:OofState>Scheduled</t:OofState><t:ExternalAudience>Known</t:ExternalAudience><t:Duration><t:StartTime>2026-12-01T08:00:00Z</t:StartTime><t:EndTime>2026-12-05T18:00:00Z</t:EndTime></t:Duration><t:InternalReply><t:Message>Away &amp; back Friday</t:Message></t:InternalReply><t:ExternalReply><t:Message>Out of office</t:Message></t:ExternalReply></t:UserOofSettings></m:SetUserOofSettingsRequest></s:Body></s:Envelope>"#;

    #[test]
    fn parses_a_scheduled_set_request() {
        let r = soap::parse_request(SET.as_bytes()).unwrap();
        assert!(is_oof_op(r.op_name()));
        assert_eq!(requested_mailbox(&r.op).as_deref(), Some("alice@example.test"));
        let s = parse_user_oof_settings(&r.op).unwrap();
        assert_eq!(s.external_audience, ExternalAudience::Known);
        assert_eq!(s.internal_reply, "Away & back Friday");
        assert_eq!(s.external_reply, "Out of office");
        match s.state {
            OofState::Scheduled { start, end } => {
                assert_eq!(time(start), "2026-12-01T08:00:00Z");
                assert_eq!(time(end), "2026-12-05T18:00:00Z");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_bad_settings() {
        let bad_state = SET.replace(">Scheduled<", ">Sometimes<");
        let r = soap::parse_request(bad_state.as_bytes()).unwrap();
        assert!(parse_user_oof_settings(&r.op).is_err());
        let backwards = SET.replace("2026-12-05T18:00:00Z", "2026-11-01T18:00:00Z");
        let r = soap::parse_request(backwards.as_bytes()).unwrap();
        assert!(parse_user_oof_settings(&r.op).is_err());
    }

    #[test]
    fn get_response_round_trips_through_the_set_parser() {
        let s = OofSettings {
            state: OofState::Enabled,
            external_audience: ExternalAudience::All,
            internal_reply: "In <b>Lisbon</b>".into(),
            external_reply: "Away".into(),
        };
        let doc = response_document("Exchange2016", "GetUserOofSettings", None, |w| {
            write_oof_settings(w, &s, DateTime::<Utc>::from(std::time::SystemTime::now()))
        });
        assert!(doc.contains("<h:ServerVersionInfo") || doc.contains("ServerVersionInfo"), "{doc}");
        assert!(
            doc.contains(r#"<m:ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>"#),
            "{doc}"
        );
        assert!(doc.contains("<m:AllowExternalOof>All</m:AllowExternalOof>"), "{doc}");
        // Parse the settings back as if a client had sent them in a Set request.
        let inner = doc.split("<t:OofSettings>").nth(1).unwrap().split("</t:OofSettings>").next().unwrap();
        let set = SET.replace(
            SET.split("<t:UserOofSettings>").nth(1).unwrap().split("</t:UserOofSettings>").next().unwrap(),
            inner,
        );
        let r = soap::parse_request(set.as_bytes()).unwrap();
        assert_eq!(parse_user_oof_settings(&r.op).unwrap(), s);
    }

    #[test]
    fn error_document_has_the_code() {
        let doc = response_document("Exchange2013", "SetUserOofSettings", Some(("ErrorAccessDenied", "no")), |_| {});
        assert!(doc.contains(r#"<m:SetUserOofSettingsResponse"#));
        assert!(doc.contains("<m:ResponseCode>ErrorAccessDenied</m:ResponseCode>"));
        assert!(!doc.contains("OofSettings>"));
    }
}
