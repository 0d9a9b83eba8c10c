//! The gateway's foundation against the real stack: HTTPS only, Basic authentication verified by Dovecot,
//! throttling of failures (never of a correct password), limits, /healthz, /metrics, `viaduc check`, and a
//! graceful stop on SIGTERM.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Stack, Viaduc};

const PASSWORD: &str = "viaduc-demo";
const POX_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;

fn pox(v: &Viaduc, user: Option<(&str, &str)>) -> common::Response {
    let creds = user.map(|(u, p)| format!("{u}:{p}"));
    let mut args = vec!["-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", POX_BODY];
    if let Some(c) = &creds {
        args.extend(["-u", c.as_str()]);
    }
    v.curl("/autodiscover/autodiscover.xml", &args)
}

#[test]
fn basic_auth_is_verified_against_dovecot() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);

    // No credentials: a Basic challenge.
    let r = pox(&v, None);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("www-authenticate").unwrap_or_default().starts_with("Basic"), "{r:?}");

    // Right password, with the full address and with the bare login.
    for user in ["alice@example.test", "alice"] {
        let r = pox(&v, Some((user, PASSWORD)));
        assert_eq!(r.status, 200, "{user}: {r:?}\n{}", v.log());
    }
    // Wrong password and unknown user: 401 with a challenge.
    let r = pox(&v, Some(("alice@example.test", "wrong-password")));
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("www-authenticate").is_some());
    let r = pox(&v, Some(("nobody@example.test", PASSWORD)));
    assert_eq!(r.status, 401, "{r:?}");
    // Header injection attempts in the user name are refused like a wrong password.
    let r = pox(&v, Some(("alice\r\nx", PASSWORD)));
    assert_eq!(r.status, 401, "{r:?}");

    // The failures are counted.
    let m = v.curl("/metrics", &[]);
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains("viaduc_auth_failures_total 3") || m.body.contains("viaduc_auth_failures_total 4"),
        "{}",
        m.body
    );
    assert!(m.body.contains("viaduc_requests_total{endpoint=\"autodiscover_pox\",status=\"401\"}"), "{}", m.body);
    assert!(m.body.contains("viaduc_request_duration_seconds_bucket{endpoint=\"autodiscover_pox\""), "{}", m.body);
}

#[test]
fn plain_http_is_not_served() {
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);
    // Plain HTTP to the TLS port: no HTTP answer at all, certainly not a 200 and no credentials accepted.
    let r = common::curl(
        &format!("http://127.0.0.1:{}/autodiscover/autodiscover.xml", v.port),
        &v.ca_file,
        &["-u", "alice@example.test:viaduc-demo", "-X", "POST", "--data-binary", POX_BODY],
    );
    assert_ne!(r.status, 200, "{r:?}");
    assert_ne!(r.status, 401, "{r:?}");
}

#[test]
fn failures_are_slowed_but_a_correct_password_is_not() {
    let stack = Stack::from_env();
    let v = Viaduc::start_with(&stack, |c| {
        format!(
            "{c}\n[auth]\nfailures_before_delay = 2\nbase_delay_ms = 600\nmax_delay_ms = 1200\ncache_ttl_secs = 0\n"
        )
    });
    let mut last_failure = Duration::ZERO;
    for _ in 0..5 {
        let t = Instant::now();
        let r = pox(&v, Some(("bob@example.test", "not-his-password")));
        assert_eq!(r.status, 401);
        last_failure = t.elapsed();
    }
    assert!(last_failure >= Duration::from_millis(1100), "5th failure answered in {last_failure:?}");
    // Bob's correct password, from the same address, right after: answered without the penalty.
    let t = Instant::now();
    let r = pox(&v, Some(("bob@example.test", PASSWORD)));
    let ok_time = t.elapsed();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(ok_time < Duration::from_millis(600), "correct password took {ok_time:?}");
}

#[test]
fn limits_health_and_routing() {
    let stack = Stack::from_env();
    let v = Viaduc::start_with(&stack, |c| c.replace("[server]\n", "[server]\nmax_body_bytes = 4096\n"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut health = v.curl("/healthz", &[]);
    while health.status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        health = v.curl("/healthz", &[]);
    }
    assert_eq!(health.status, 200, "{health:?}");
    for backend in ["imap: ok", "dav: ok", "smtp: ok", "sieve: ok", "ldap: ok"] {
        assert!(health.body.contains(backend), "{}", health.body);
    }
    // Oversized body: 413 before anything else.
    let big = "x".repeat(10_000);
    let r = v.curl("/EWS/Exchange.asmx", &["-u", "alice:viaduc-demo", "-X", "POST", "--data-binary", &big]);
    assert_eq!(r.status, 413, "{r:?}");
    // Unknown paths: 404; paths in other case: routed (401 without credentials).
    assert_eq!(v.curl("/owa/", &[]).status, 404);
    assert_eq!(v.curl("/AUTODISCOVER/AUTODISCOVER.XML", &["-X", "POST", "--data-binary", POX_BODY]).status, 401);
    assert_eq!(v.curl("/ews/exchange.asmx", &["-X", "POST"]).status, 401);
    assert_eq!(v.curl("/Mapi/Emsmdb", &["-X", "POST"]).status, 401);
    // Keep-alive: several requests over one connection (curl reuses it for repeated URLs).
    let url = format!("{}/healthz", v.url);
    let out = Command::new("curl").args(["-sv", "--cacert"]).arg(&v.ca_file).args([&url, &url]).output().expect("curl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Re-using existing connection") || err.contains("Reusing existing"), "{err}");
}

#[test]
fn sigterm_stops_gracefully() {
    let stack = Stack::from_env();
    let mut v = Viaduc::start(&stack);
    assert_eq!(v.curl("/healthz", &[]).status / 100, 2, "{}", v.log());
    assert!(v.terminate(), "viaduc did not stop on SIGTERM");
    assert!(v.log().contains("stopped"), "{}", v.log());
}

#[test]
fn check_reports_every_capability() {
    let stack = Stack::from_env();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("viaduc.toml");
    std::fs::write(&cfg, stack.config_text(common::free_port())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_viaduc"))
        .args(["check", "--config"])
        .arg(&cfg)
        .env("VIADUC_CHECK_USER", "alice@example.test")
        .env("VIADUC_CHECK_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for item in [
        "CONDSTORE",
        "QRESYNC",
        "METADATA",
        "ACL",
        "OBJECTID",
        "SPECIAL-USE",
        "IDLE",
        "MOVE",
        "UIDPLUS",
        "calendar home",
        "address-book home",
        "sync-collection",
        "scheduling",
        "AUTH PLAIN/LOGIN",
        "vacation",
        "bind",
        "search",
        "master user",
    ] {
        let line = text.lines().find(|l| l.contains(item)).unwrap_or_else(|| panic!("{item} not reported:\n{text}"));
        assert!(line.contains("required") || line.contains("optional"), "{line}");
    }
    // What the stack has is reported present; OBJECTID (Cyrus only) and scheduling (not in Radicale) are absent
    // but optional.
    for present in ["CONDSTORE", "QRESYNC", "METADATA", "ACL", "SPECIAL-USE", "MOVE", "UIDPLUS", "vacation"] {
        let line = text.lines().find(|l| l.contains(present)).unwrap();
        assert!(line.contains(" ok "), "{line}");
    }
    assert!(text.lines().find(|l| l.contains("OBJECTID")).unwrap().contains("absent"));
    assert!(text.contains("PASS"), "{text}");

    // Wrong credentials: the login line fails and the exit status says so.
    let out = Command::new(env!("CARGO_BIN_EXE_viaduc"))
        .args(["check", "--config"])
        .arg(&cfg)
        .env("VIADUC_CHECK_USER", "alice@example.test")
        .env("VIADUC_CHECK_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISSING"));
}

#[test]
fn config_errors_name_the_key() {
    let stack = Stack::from_env();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("viaduc.toml");
    let text = stack.config_text(common::free_port()).replace("[imap]\n", "[imap]\nprot = 1\n");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_viaduc")).args(["serve", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("prot"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn mapi_can_be_disabled() {
    // MS-OXCMAPIHTTP 2.2.3.3.3: a disabled endpoint answers HTTP 200 with X-ResponseCode 16.
    let stack = Stack::from_env();
    let v = Viaduc::start_with(&stack, |c| format!("{c}\n[mapi]\nenabled = false\n"));
    let r = v.curl(
        "/mapi/emsmdb/",
        &[
            "-u",
            "alice@example.test:viaduc-demo",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/mapi-http",
            "-H",
            "X-RequestType: Connect",
            "-H",
            "X-RequestId: {E2EA6C1C-E61B-49E9-9CFB-38184F907552}:1",
            "-H",
            "X-ClientInfo: {2EF33C39-49C8-421C-B876-CDF7F2AC3AA0}:1",
            "--data-binary",
            "x",
        ],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-responsecode").as_deref(), Some("16"), "{r:?}");
}
