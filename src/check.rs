//! `viaduc check`: connects to every configured back-end and reports what it found — reachable or not, and
//! each capability Viaduc relies on, marked required or optional. The exit status is non-zero when something
//! required is missing, so the command can gate a deployment.

use std::fmt::Write;

use crate::backend::{dav, imap, sieve, smtp, tls};
use crate::config::Config;
use crate::error::Backend;

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    pub backend: &'static str,
    pub item: String,
    pub ok: bool,
    pub required: bool,
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(
        &mut self,
        backend: &'static str,
        item: impl Into<String>,
        ok: bool,
        required: bool,
        detail: impl Into<String>,
    ) {
        self.findings.push(Finding { backend, item: item.into(), ok, required, detail: detail.into() });
    }

    /// True when every required item is present.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.ok || !f.required)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let mark = if f.ok {
                "ok     "
            } else if f.required {
                "MISSING"
            } else {
                "absent "
            };
            let need = if f.required { "required" } else { "optional" };
            let _ = writeln!(out, "{:<6} {:<28} {mark} ({need}) {}", f.backend, f.item, f.detail);
        }
        let missing = self.findings.iter().filter(|f| f.required && !f.ok).count();
        let _ = writeln!(
            out,
            "{}: {} checks, {} required missing",
            if self.passed() { "PASS" } else { "FAIL" },
            self.findings.len(),
            missing
        );
        out
    }
}

/// Runs every check. `credentials` (a user's login and password) enable the checks that need a login: IMAP
/// capabilities after login, and the DAV principal and homes.
pub async fn run(config: &Config, credentials: Option<(&str, &str)>) -> Report {
    let mut r = Report::default();
    check_imap(config, credentials, &mut r).await;
    check_dav(config, credentials, &mut r).await;
    check_smtp(config, &mut r).await;
    check_sieve(config, &mut r).await;
    check_ldap(config, &mut r).await;
    r
}

async fn check_imap(config: &Config, credentials: Option<(&str, &str)>, r: &mut Report) {
    let where_ = format!("{}:{} ({:?})", config.imap.host, config.imap.port, config.imap.tls);
    let tls = match tls::client_config(Backend::Imap, config.imap.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return r.add("imap", "tls setup", false, true, e.message),
    };
    let session = match credentials {
        Some((u, p)) => imap::login(&config.imap, &tls, u, p).await,
        None if config.imap.master_user.is_some() => {
            // Without a user's credentials, the master user can still show the post-login capabilities if the
            // server lets it in as itself; otherwise only reachability is checked.
            match imap::connect(&config.imap, &tls).await {
                Ok(_) => {
                    r.add("imap", "reachable", true, true, where_);
                    r.add("imap", "capabilities", true, false, "not checked: give --user and --password");
                    return;
                }
                Err(e) => Err(e),
            }
        }
        None => match imap::connect(&config.imap, &tls).await {
            Ok(_) => {
                r.add("imap", "reachable", true, true, where_);
                r.add("imap", "capabilities", true, false, "not checked: give --user and --password");
                return;
            }
            Err(e) => Err(e),
        },
    };
    let mut session = match session {
        Ok(s) => s,
        Err(e) if e.kind == crate::error::Kind::AuthFailed => {
            r.add("imap", "reachable", true, true, where_);
            r.add("imap", "login", false, true, e.message);
            return;
        }
        Err(e) => return r.add("imap", "reachable", false, true, format!("{where_}: {}", e.message)),
    };
    r.add("imap", "reachable", true, true, where_);
    r.add("imap", "login", true, true, "credentials accepted");
    match imap::capabilities(&mut session).await {
        Ok(caps) => {
            for (cap, required) in imap::WANTED_CAPABILITIES {
                let ok = caps.iter().any(|c| c == cap);
                r.add("imap", *cap, ok, *required, "");
            }
        }
        Err(e) => r.add("imap", "capabilities", false, true, e.message),
    }
    if config.imap.master_user.is_some() {
        let user = credentials.map(|(u, _)| u).unwrap_or("");
        match imap::login_as_master(&config.imap, &tls, user).await {
            Ok(s) => {
                imap::logout(s).await;
                r.add("imap", "master user", true, false, "delegated login works");
            }
            Err(e) => r.add("imap", "master user", false, false, e.message),
        }
    }
    imap::logout(session).await;
}

async fn check_dav(config: &Config, credentials: Option<(&str, &str)>, r: &mut Report) {
    let Some(dav_config) = &config.dav else {
        return r.add("dav", "configured", false, false, "no [dav] section: calendars and contacts are off");
    };
    match dav::probe(dav_config, credentials).await {
        Err(e) => r.add("dav", "reachable", false, true, format!("{}: {}", dav_config.base_url, e.message)),
        Ok(p) => {
            r.add("dav", "reachable", true, true, dav_config.base_url.clone());
            let classes = p.dav_header.to_ascii_lowercase();
            r.add("dav", "calendar-access", classes.contains("calendar-access"), true, p.dav_header.clone());
            r.add("dav", "addressbook", classes.contains("addressbook"), true, "");
            match p.principal {
                None => r.add("dav", "homes", true, false, "not checked: give --user and --password"),
                Some(i) => {
                    r.add(
                        "dav",
                        "calendar home",
                        i.calendar_home.is_some(),
                        true,
                        i.calendar_home.clone().unwrap_or_default(),
                    );
                    r.add(
                        "dav",
                        "address-book home",
                        i.addressbook_home.is_some(),
                        true,
                        i.addressbook_home.clone().unwrap_or_default(),
                    );
                    r.add("dav", "sync-collection", i.sync_collection, false, "RFC 6578; ETag comparison otherwise");
                    r.add(
                        "dav",
                        "scheduling",
                        i.schedule_outbox.is_some(),
                        false,
                        if i.schedule_outbox.is_some() {
                            "RFC 6638"
                        } else {
                            "none: Viaduc sends iMIP and computes free/busy"
                        },
                    );
                }
            }
        }
    }
}

async fn check_smtp(config: &Config, r: &mut Report) {
    let Some(c) = &config.smtp else {
        return r.add("smtp", "configured", false, true, "no [smtp] section: sending is impossible");
    };
    let tls = match tls::client_config(Backend::Smtp, c.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return r.add("smtp", "tls setup", false, true, e.message),
    };
    match smtp::probe(c, &tls).await {
        Err(e) => r.add("smtp", "reachable", false, true, format!("{}:{}: {}", c.host, c.port, e.message)),
        Ok(p) => {
            r.add("smtp", "reachable", true, true, format!("{}:{} {}", c.host, c.port, p.greeting));
            let mechs = p.auth_mechanisms();
            r.add(
                "smtp",
                "AUTH PLAIN/LOGIN",
                mechs.iter().any(|m| m == "PLAIN" || m == "LOGIN"),
                true,
                mechs.join(" "),
            );
            r.add("smtp", "8BITMIME", p.extensions.iter().any(|e| e == "8BITMIME"), false, "");
        }
    }
}

async fn check_sieve(config: &Config, r: &mut Report) {
    let Some(c) = &config.sieve else {
        return r.add("sieve", "configured", false, false, "no [sieve] section: out-of-office is off");
    };
    let tls = match tls::client_config(Backend::Sieve, c.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return r.add("sieve", "tls setup", false, false, e.message),
    };
    match sieve::probe(c, &tls).await {
        Err(e) => r.add("sieve", "reachable", false, false, format!("{}:{}: {}", c.host, c.port, e.message)),
        Ok(caps) => {
            r.add("sieve", "reachable", true, false, caps.get("IMPLEMENTATION").unwrap_or("").to_string());
            let ext = caps.sieve_extensions();
            r.add("sieve", "vacation", ext.iter().any(|e| e == "vacation"), false, "");
            r.add("sieve", "fileinto", ext.iter().any(|e| e == "fileinto"), false, "");
        }
    }
}

async fn check_ldap(config: &Config, r: &mut Report) {
    let Some(c) = &config.ldap else {
        return r.add("ldap", "configured", false, false, "no [ldap] section: no Global Address List");
    };
    let tls = match tls::client_config(Backend::Ldap, c.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return r.add("ldap", "tls setup", false, true, e.message),
    };
    let dir = crate::backend::ldap::Directory::new(c.clone(), tls);
    match dir.probe().await {
        Ok(n) => {
            r.add(
                "ldap",
                "bind",
                true,
                true,
                if c.bind_dn.is_empty() { "anonymous".to_string() } else { c.bind_dn.clone() },
            );
            r.add("ldap", "search", n > 0, true, format!("{n} address-list entries under {}", c.base_dn));
        }
        Err(e) => r.add("ldap", "bind", false, true, format!("{}: {}", c.url, e.message)),
    }
}
