//! Backend outages: with Dovecot stopped, `viaduc check` fails cleanly, authentication answers 503 (not 401:
//! the password may be right) and /healthz says unavailable; when Dovecot is back, everything recovers without
//! restarting Viaduc. With Radicale stopped, mail keeps working through EWS, groupware requests get EWS errors
//! (HTTP 200), and the calendar is back when Radicale is. Kept in its own test binary because it stops shared
//! servers for a moment (the two tests take turns).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stack, Viaduc};

/// The outages take turns: each stops a server the other needs.
static OUTAGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn stop_dovecot(stack: &Stack) {
    let pidfile = stack.dir.join("dovecot/run/master.pid");
    let pid = std::fs::read_to_string(&pidfile).expect("dovecot pid").trim().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", stack.port("IMAP_PORT"))).is_err()
            && !Command::new("kill").args(["-0", &pid]).stderr(Stdio::null()).status().unwrap().success()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("dovecot did not stop");
}

fn start_dovecot(stack: &Stack) {
    let log = std::fs::OpenOptions::new().append(true).create(true).open(stack.dir.join("log/dovecot.log")).unwrap();
    let status = Command::new("dovecot")
        .arg("-c")
        .arg(stack.dir.join("dovecot/dovecot.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(status.success(), "dovecot did not start again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", stack.port("IMAP_PORT"))).is_err() {
        assert!(Instant::now() < deadline, "dovecot not listening again");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dovecot_down_then_back() {
    let _turn = OUTAGE.lock().unwrap_or_else(|e| e.into_inner());
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("viaduc.toml");
    std::fs::write(&cfg, stack.config_text(common::free_port())).unwrap();
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_viaduc"))
            .args(["check", "--config"])
            .arg(&cfg)
            .env("VIADUC_CHECK_USER", "carol@example.test")
            .env("VIADUC_CHECK_PASSWORD", "viaduc-demo")
            .output()
            .unwrap()
    };

    stop_dovecot(&stack);
    let result = std::panic::catch_unwind(|| {
        let out = check();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!out.status.success(), "{text}");
        let line = text.lines().find(|l| l.starts_with("imap") && l.contains("reachable")).expect(&text);
        assert!(line.contains("MISSING"), "{line}");
        assert!(text.contains("FAIL"), "{text}");

        // Authentication cannot be decided: 503 with Retry-After, never 401 and never 500.
        let r = v.curl(
            "/autodiscover/autodiscover.xml",
            &["-u", "carol@example.test:viaduc-demo", "-X", "POST", "--data-binary", "<x/>"],
        );
        assert_eq!(r.status, 503, "{r:?}");
        assert!(r.header("retry-after").is_some());
        let h = v.curl("/healthz", &[]);
        assert_eq!(h.status, 503, "{h:?}");
        assert!(h.body.contains("imap:") && !h.body.contains("imap: ok"), "{}", h.body);
    });
    start_dovecot(&stack);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }

    // Recovery without restarting Viaduc.
    let out = check();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    std::thread::sleep(Duration::from_millis(2100)); // the health answer is cached for 2 s
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = v.curl(
            "/autodiscover/autodiscover.xml",
            &["-u", "carol@example.test:viaduc-demo", "-X", "POST", "--data-binary", "<x/>"],
        );
        if r.status != 503 {
            assert_ne!(r.status, 401, "{r:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {r:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(v.curl("/healthz", &[]).status, 200);
}

fn stop_radicale(stack: &Stack) -> String {
    let pid =
        std::fs::read_to_string(stack.dir.join("radicale/radicale.pid")).expect("radicale pid").trim().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", stack.port("DAV_PORT"))).is_ok() {
        assert!(Instant::now() < deadline, "radicale did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    pid
}

fn start_radicale(stack: &Stack) {
    let log = std::fs::OpenOptions::new().append(true).create(true).open(stack.dir.join("log/radicale.log")).unwrap();
    let child = Command::new("/opt/radicale-venv/bin/python")
        .args(["-m", "radicale", "--config"])
        .arg(stack.dir.join("radicale/config"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("radicale starts");
    std::fs::write(stack.dir.join("radicale/radicale.pid"), child.id().to_string()).unwrap();
    std::mem::forget(child); // it outlives the test, as the stack's own start does
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", stack.port("DAV_PORT"))).is_err() {
        assert!(Instant::now() < deadline, "radicale not listening again");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ews(v: &Viaduc, op: &str) -> common::Response {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{op}</s:Body></s:Envelope>"#
    );
    v.curl(
        "/EWS/Exchange.asmx",
        &[
            "-u",
            "carol@example.test:viaduc-demo",
            "-H",
            "Content-Type: text/xml; charset=utf-8",
            "--data-binary",
            &body,
        ],
    )
}

#[test]
fn radicale_down_then_back() {
    let _turn = OUTAGE.lock().unwrap_or_else(|e| e.into_inner());
    let stack = Stack::from_env();
    let v = Viaduc::start(&stack);
    let get = |id: &str| {
        ews(
            &v,
            &format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
            ),
        )
    };
    let tree = || {
        ews(
            &v,
            r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#,
        )
    };
    let r = get("calendar");
    assert!(r.body.contains("NoError") && r.body.contains("CalendarFolder"), "{r:?}");

    stop_radicale(&stack);
    let result = std::panic::catch_unwind(|| {
        // Mail is untouched: the inbox answers, the folder tree lists the mail folders without the DAV ones.
        let r = get("inbox");
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body.contains("NoError"), "{}", r.body);
        let t = tree();
        assert_eq!(t.status, 200, "{t:?}");
        assert!(t.body.contains("NoError") && t.body.contains("Inbox"), "{}", t.body);
        assert!(!t.body.contains("CalendarFolder"), "{}", t.body);
        // The calendar is an EWS error in the response message, not an HTTP failure.
        let r = get("calendar");
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body.contains(r#"ResponseClass="Error""#), "{}", r.body);
    });
    start_radicale(&stack);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    // Back without restarting Viaduc.
    let r = get("calendar");
    assert!(r.body.contains("NoError") && r.body.contains("CalendarFolder"), "{r:?}");
    assert!(tree().body.contains("CalendarFolder"));
}
