//! Out-of-office (EWS Get/SetUserOofSettings, MS-OXWSOOF) stored as Sieve (RFC 5228) with the vacation
//! extension (RFC 5230), scheduled with `currentdate` (RFC 5260), through ManageSieve.
//!
//! Layout on the server, chosen so that the user's own Sieve rules are never edited:
//!
//! - Viaduc's rules live in their own script [`OOF_SCRIPT`] (`viaduc-oof`). It carries the settings as one
//!   JSON line in a comment (`# viaduc:oof-settings {...}`), so they read back exactly, even when disabled.
//! - When the user has no active script, `viaduc-oof` itself becomes the active script.
//! - When another script of the user is active, Viaduc activates a small wrapper [`WRAPPER_SCRIPT`] (`viaduc`)
//!   that includes (RFC 6609 `include :personal`) `viaduc-oof` and then the user's script, unchanged. A server
//!   without `include` refuses this case (`Kind::NotSupported`) rather than touching the user's script.
//! - Disabling re-activates the user's script the wrapper named (or deactivates `viaduc-oof`), and removes the
//!   wrapper.
//!
//! Internal senders (their From domain is one of the served domains) get the internal reply; others get the
//! external reply when the audience is `All`. `Known` (only senders in the user's contacts) cannot be expressed
//! without the contact list: such senders get no reply on the server, like `None`, but the setting reads back.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::backend::sieve_client::SieveSession;
use crate::config::SieveConfig;
use crate::error::{Backend, Error, Kind, Result};

/// The script holding Viaduc's out-of-office rules.
pub const OOF_SCRIPT: &str = "viaduc-oof";
/// The active wrapper that includes [`OOF_SCRIPT`] and the user's own active script.
pub const WRAPPER_SCRIPT: &str = "viaduc";

const BEGIN: &str = "# viaduc:oof begin";
const END: &str = "# viaduc:oof end";
const SETTINGS: &str = "# viaduc:oof-settings ";
const WRAPS: &str = "# viaduc:wraps ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OofState {
    #[default]
    Disabled,
    Enabled,
    /// Replies only in `[start, end)`.
    Scheduled {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// Who outside the organisation gets the external reply (EWS `ExternalAudience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalAudience {
    None,
    /// Senders in the user's contacts (see the module notes).
    Known,
    #[default]
    All,
}

/// What EWS Get/SetUserOofSettings carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OofSettings {
    pub state: OofState,
    pub external_audience: ExternalAudience,
    /// Reply to senders of the served domains (text or HTML; HTML is sent as text).
    pub internal_reply: String,
    pub external_reply: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    external_audience: String,
    internal_reply: String,
    external_reply: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn settings_json(s: &OofSettings) -> String {
    let (state, start, end) = match s.state {
        OofState::Disabled => ("disabled", None, None),
        OofState::Enabled => ("enabled", None, None),
        OofState::Scheduled { start, end } => ("scheduled", Some(rfc3339(start)), Some(rfc3339(end))),
    };
    let stored = Stored {
        v: 1,
        state: state.into(),
        start,
        end,
        external_audience: match s.external_audience {
            ExternalAudience::None => "none",
            ExternalAudience::Known => "known",
            ExternalAudience::All => "all",
        }
        .into(),
        internal_reply: s.internal_reply.clone(),
        external_reply: s.external_reply.clone(),
    };
    // One line: serde_json escapes every control character, so the comment cannot end early.
    serde_json::to_string(&stored).unwrap_or_default()
}

/// The settings kept in a script Viaduc wrote; `None` when the script has no (readable) settings line.
pub fn parse_oof_script(script: &str) -> Option<OofSettings> {
    let line = script.lines().find_map(|l| l.trim_end_matches('\r').strip_prefix(SETTINGS))?;
    let st: Stored = serde_json::from_str(line).ok()?;
    let state = match st.state.as_str() {
        "disabled" => OofState::Disabled,
        "enabled" => OofState::Enabled,
        "scheduled" => {
            OofState::Scheduled { start: parse_time(st.start.as_deref()?)?, end: parse_time(st.end.as_deref()?)? }
        }
        _ => return None,
    };
    let external_audience = match st.external_audience.as_str() {
        "none" => ExternalAudience::None,
        "known" => ExternalAudience::Known,
        _ => ExternalAudience::All,
    };
    Some(OofSettings { state, external_audience, internal_reply: st.internal_reply, external_reply: st.external_reply })
}

/// A Sieve quoted string (RFC 5228 2.4.2: `"` and `\` escaped; line breaks allowed, written as CRLF).
pub fn sieve_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in crlf(s).chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n")
}

fn string_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| sieve_string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Whether a reply looks like HTML rather than plain text.
fn looks_like_html(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    ["<html", "<body", "<p>", "<p ", "<div", "<br", "<span", "<table", "<b>", "<i>", "<font", "<ul", "<a "]
        .iter()
        .any(|t| l.contains(t))
}

/// A plain-text rendering of simple HTML: tags dropped (block ends and `<br>` become line breaks), `<style>`,
/// `<script>` and `<head>` content dropped, the common entities decoded, blank lines collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..gt].trim().to_ascii_lowercase();
        rest = &after[gt + 1..];
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if let Some(end) = skip_until {
            if tag.starts_with('/') && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "style" | "script" | "head" | "title" if !tag.starts_with('/') && !tag.ends_with('/') => {
                skip_until = Some(match name.as_str() {
                    "style" => "style",
                    "script" => "script",
                    "head" => "head",
                    _ => "title",
                })
            }
            "br" => out.push('\n'),
            "p" | "div" | "li" => out.push('\n'),
            "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "ul" | "ol" | "blockquote"
                if tag.starts_with('/') =>
            {
                out.push('\n')
            }
            _ => {}
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    // Trim each line's trailing blanks and collapse runs of blank lines.
    let mut text = String::new();
    let mut blank = 0;
    for line in out.lines() {
        let line = line.trim_end().replace('\u{a0}', " ");
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 || text.is_empty() {
                continue;
            }
            text.push('\n');
        } else {
            blank = 0;
            text.push_str(line.trim_start_matches([' ', '\t']));
            text.push('\n');
        }
    }
    text.trim().to_string()
}

fn decode_entities(s: &str) -> String {
    // HTML whitespace: every run is one space (edges kept: they separate words across tags).
    let mut collapsed = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_whitespace() {
            if !collapsed.ends_with(' ') {
                collapsed.push(' ');
            }
        } else {
            collapsed.push(c);
        }
    }
    let s = collapsed;
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&i| i <= 10);
        let decoded = semi.and_then(|i| {
            let name = &after[..i];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" | "#39" => '\'',
                "nbsp" => '\u{a0}',
                n if n.starts_with("#x") || n.starts_with("#X") => {
                    char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?
                }
                n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?,
                _ => return None,
            };
            Some((c, i))
        });
        match decoded {
            Some((c, i)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The reply body as sent: text as given, HTML rendered as text.
pub fn reply_text(reply: &str) -> String {
    if looks_like_html(reply) { html_to_text(reply) } else { reply.trim().to_string() }
}

fn sieve_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The `viaduc-oof` script for `settings`. `served_domains` decide who is internal; `addresses` are the user's
/// own addresses (vacation's `:addresses`).
pub fn render_oof_script(settings: &OofSettings, served_domains: &[String], addresses: &[String]) -> Result<String> {
    if let OofState::Scheduled { start, end } = settings.state
        && end <= start
    {
        return Err(Error::client(Kind::Malformed, "out-of-office end is not after its start"));
    }
    let json = settings_json(settings);
    let handle = {
        let h = Sha256::digest(json.as_bytes());
        h.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()
    };
    let mut s = String::new();
    s.push_str(BEGIN);
    s.push_str("\r\n# Out-of-office reply managed by Viaduc (Outlook, EWS); it rewrites this script when the settings change.\r\n");
    s.push_str(SETTINGS);
    s.push_str(&json);
    s.push_str("\r\n");
    let internal = reply_text(&settings.internal_reply);
    let external = reply_text(&settings.external_reply);
    let external_too = settings.external_audience == ExternalAudience::All && !external.is_empty();
    let active = settings.state != OofState::Disabled && (!internal.is_empty() || external_too);
    if active {
        let scheduled = matches!(settings.state, OofState::Scheduled { .. });
        let require = if scheduled { r#"["vacation", "date", "relational"]"# } else { r#"["vacation"]"# };
        s.push_str(&format!("require {require};\r\n"));
        let vacation = |text: &str, which: &str| {
            let mut v = format!("vacation :days 1 :handle \"viaduc-oof-{which}-{handle}\"");
            if !addresses.is_empty() {
                v.push_str(&format!(" :addresses {}", string_list(addresses)));
            }
            v.push_str(&format!(" {};", sieve_string(text)));
            v
        };
        let mut body = String::new();
        let domains: Vec<String> =
            served_domains.iter().map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()).collect();
        if domains.is_empty() {
            // Nobody can be told apart: everyone is internal.
            if !internal.is_empty() {
                body.push_str(&format!("    {}\r\n", vacation(&internal, "int")));
            }
        } else {
            body.push_str(&format!("    if address :domain :is \"from\" {} {{\r\n", string_list(&domains)));
            if !internal.is_empty() {
                body.push_str(&format!("        {}\r\n", vacation(&internal, "int")));
            }
            body.push_str("    }");
            if external_too {
                body.push_str(&format!(" else {{\r\n        {}\r\n    }}", vacation(&external, "ext")));
            }
            body.push_str("\r\n");
        }
        match settings.state {
            OofState::Scheduled { start, end } => {
                s.push_str(&format!(
                    "if allof (currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" \"{}\",\r\n          currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" \"{}\") {{\r\n",
                    sieve_time(start),
                    sieve_time(end)
                ));
            }
            _ => s.push_str("if true {\r\n"),
        }
        s.push_str(&body);
        s.push_str("}\r\n");
    }
    s.push_str(END);
    s.push_str("\r\n");
    Ok(s)
}

/// The wrapper that runs Viaduc's rules and then the user's own script `user_script`.
pub fn render_wrapper(user_script: &str) -> String {
    format!(
        "# Generated by Viaduc: runs the out-of-office rules, then the user's own script, which stays unchanged.\r\n\
         {WRAPS}{}\r\n\
         require [\"include\"];\r\n\
         include :personal {};\r\n\
         include :personal {};\r\n",
        serde_json::to_string(user_script).unwrap_or_default(),
        sieve_string(OOF_SCRIPT),
        sieve_string(user_script)
    )
}

/// The user's script a wrapper includes.
pub fn wrapped_script(wrapper: &str) -> Option<String> {
    let line = wrapper.lines().find_map(|l| l.trim_end_matches('\r').strip_prefix(WRAPS))?;
    serde_json::from_str(line).ok()
}

fn sieve_error(msg: impl Into<String>) -> Error {
    Error::backend(Backend::Sieve, Kind::NotSupported, msg)
}

/// Reads the out-of-office settings. The state is `Disabled` when Viaduc's rules are not reachable from the
/// active script (the user activated another script elsewhere); the texts are kept.
pub async fn get_oof(
    config: &SieveConfig,
    tls: &Arc<rustls::ClientConfig>,
    principal: &Principal,
) -> Result<OofSettings> {
    let mut s = SieveSession::connect(config, tls, principal).await?;
    let result = async {
        let scripts = s.list_scripts().await?;
        let Some(script) = s.get_script(OOF_SCRIPT).await? else { return Ok(OofSettings::default()) };
        let mut settings = parse_oof_script(&script).unwrap_or_default();
        let active = scripts.iter().find(|(_, a)| *a).map(|(n, _)| n.as_str());
        let reachable = match active {
            Some(OOF_SCRIPT) => true,
            Some(WRAPPER_SCRIPT) => {
                s.get_script(WRAPPER_SCRIPT).await?.is_some_and(|w| w.contains(&sieve_string(OOF_SCRIPT)))
            }
            _ => false,
        };
        if !reachable {
            settings.state = OofState::Disabled;
        }
        Ok(settings)
    }
    .await;
    let _ = s.logout().await;
    result
}

/// Writes the out-of-office settings (see the module notes for the layout). `served_domains`: the mail domains
/// whose senders count as internal (the principal's own domain when empty).
pub async fn set_oof(
    config: &SieveConfig,
    tls: &Arc<rustls::ClientConfig>,
    principal: &Principal,
    settings: &OofSettings,
    served_domains: &[String],
) -> Result<()> {
    let mut domains: Vec<String> = served_domains.to_vec();
    if domains.is_empty()
        && let Some((_, d)) = principal.mail.rsplit_once('@')
    {
        domains.push(d.to_string());
    }
    let addresses: Vec<String> = if principal.mail.contains('@') { vec![principal.mail.clone()] } else { Vec::new() };
    let script = render_oof_script(settings, &domains, &addresses)?;
    let mut s = SieveSession::connect(config, tls, principal).await?;
    let result = async {
        let scripts = s.list_scripts().await?;
        let active = scripts.iter().find(|(_, a)| *a).map(|(n, _)| n.clone());
        let exists = |name: &str| scripts.iter().any(|(n, _)| n == name);
        s.put_script(OOF_SCRIPT, &script).await?;
        let wrapped = if active.as_deref() == Some(WRAPPER_SCRIPT) {
            s.get_script(WRAPPER_SCRIPT).await?.as_deref().and_then(wrapped_script).filter(|w| exists(w))
        } else {
            None
        };
        if settings.state == OofState::Disabled {
            match active.as_deref() {
                Some(WRAPPER_SCRIPT) => {
                    s.set_active(wrapped.as_deref().unwrap_or("")).await?;
                    s.delete_script(WRAPPER_SCRIPT).await?;
                }
                Some(OOF_SCRIPT) => s.set_active("").await?,
                _ => {}
            }
            return Ok(());
        }
        let user_script = match active.as_deref() {
            Some(OOF_SCRIPT) => return Ok(()),
            Some(WRAPPER_SCRIPT) => wrapped,
            Some(other) => Some(other.to_string()),
            None => None,
        };
        match user_script {
            None => {
                s.set_active(OOF_SCRIPT).await?;
                if exists(WRAPPER_SCRIPT) {
                    let _ = s.delete_script(WRAPPER_SCRIPT).await;
                }
            }
            Some(user) => {
                if !s.has_extension("include") {
                    return Err(sieve_error(format!(
                        "the Sieve server lacks the include extension: cannot add out-of-office rules next to the active script {user:?}"
                    )));
                }
                s.put_script(WRAPPER_SCRIPT, &render_wrapper(&user)).await?;
                s.set_active(WRAPPER_SCRIPT).await?;
            }
        }
        Ok(())
    }
    .await;
    let _ = s.logout().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn settings(state: OofState) -> OofSettings {
        OofSettings {
            state,
            external_audience: ExternalAudience::All,
            internal_reply: "Back on Monday.\nAsk \"Bob\" \\ Carol.".into(),
            external_reply: "<html><body><p>I am away &amp; back <b>Monday</b>.</p><p>Regards</p></body></html>".into(),
        }
    }

    #[test]
    fn round_trips_every_state() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 24, 17, 30, 0).unwrap();
        for st in [OofState::Disabled, OofState::Enabled, OofState::Scheduled { start, end }] {
            for aud in [ExternalAudience::None, ExternalAudience::Known, ExternalAudience::All] {
                let mut s = settings(st);
                s.external_audience = aud;
                let script = render_oof_script(&s, &["example.test".into()], &["bob@example.test".into()]).unwrap();
                assert_eq!(parse_oof_script(&script), Some(s), "{script}");
            }
        }
    }

    #[test]
    fn fixtures_match() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 24, 17, 30, 0).unwrap();
        for (name, st) in [
            ("oof-enabled.sieve", OofState::Enabled),
            ("oof-scheduled.sieve", OofState::Scheduled { start, end }),
            ("oof-disabled.sieve", OofState::Disabled),
        ] {
            let script = render_oof_script(
                &settings(st),
                &["example.test".into(), "example.org".into()],
                &["bob@example.test".into()],
            )
            .unwrap();
            let path = format!("{}/protocol-fixtures/sieve/{name}", env!("CARGO_MANIFEST_DIR"));
            if std::env::var_os("VIADUC_UPDATE_FIXTURES").is_some() {
                std::fs::write(&path, &script).unwrap();
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(script, want, "{name} (VIADUC_UPDATE_FIXTURES=1 rewrites it)");
        }
        let w = render_wrapper("my \"rules\"");
        assert_eq!(wrapped_script(&w).as_deref(), Some("my \"rules\""));
        assert!(w.contains("include :personal \"my \\\"rules\\\"\";"));
    }

    #[test]
    fn script_shape() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 24, 17, 30, 0).unwrap();
        let s =
            render_oof_script(&settings(OofState::Scheduled { start, end }), &["Example.TEST".into()], &[]).unwrap();
        assert!(s.contains(r#"require ["vacation", "date", "relational"];"#));
        assert!(s.contains(r#"currentdate :zone "+0000" :value "ge" "iso8601" "2026-12-01T08:00:00""#));
        assert!(s.contains(r#"currentdate :zone "+0000" :value "lt" "iso8601" "2026-12-24T17:30:00""#));
        assert!(s.contains(r#"if address :domain :is "from" ["example.test"]"#));
        assert!(s.contains("\"Back on Monday.\r\nAsk \\\"Bob\\\" \\\\ Carol.\""));
        assert!(s.contains("\"I am away & back Monday.\r\n\r\nRegards\""), "{s}");
        let mut none = settings(OofState::Enabled);
        none.external_audience = ExternalAudience::None;
        let s = render_oof_script(&none, &["example.test".into()], &[]).unwrap();
        assert!(!s.contains("else") && s.contains("require [\"vacation\"];"));
        let off = render_oof_script(&settings(OofState::Disabled), &[], &[]).unwrap();
        assert!(!off.contains("vacation :days") && !off.contains("require"));
        assert!(render_oof_script(&settings(OofState::Scheduled { start: end, end: start }), &[], &[]).is_err());
        assert_eq!(parse_oof_script("keep;\r\n"), None);
    }

    #[test]
    fn html_rendering() {
        assert_eq!(
            html_to_text(
                "<html><head><style>p{x:1}</style></head><body><div>Hi&nbsp;there,</div><br><p>A &lt;b&gt; &#233;t&#xE9;</p><script>x</script></body></html>"
            ),
            "Hi there,\n\nA <b> été"
        );
        assert_eq!(reply_text("  plain < text  "), "plain < text");
        assert_eq!(html_to_text("a &unknown; b"), "a &unknown; b");
    }
}
