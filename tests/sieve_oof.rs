//! Out-of-office through ManageSieve against the real Dovecot/Pigeonhole of the test stack (`VIADUC_TEST_STACK`,
//! started by `scripts/test`; these tests fail when it is not set). alice: round trips and the survival of her
//! own active script; bob: the end-to-end proof that Dovecot answers a mail from carol with bob's reply.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use chrono::{TimeZone, Utc};
use viaduc::auth::{Authenticator, Principal};
use viaduc::backend::imap::pool::ImapPool;
use viaduc::backend::imap::store::{Criteria, MailStore};
use viaduc::backend::oof::{self, ExternalAudience, OOF_SCRIPT, OofSettings, OofState, WRAPPER_SCRIPT};
use viaduc::backend::sieve_client::SieveSession;
use viaduc::config::{AuthConfig, ImapConfig, SieveConfig, SmtpConfig, TlsMode};
use viaduc::error::{Backend, Kind};

/// The stack `scripts/test` started (tests/common), with this file's helpers on top.
struct Stack(common::Stack);

impl Stack {
    fn get() -> Stack {
        Stack(common::Stack::from_env())
    }
    fn var(&self, k: &str) -> &str {
        self.0.var(k)
    }
    fn port(&self, k: &str) -> u16 {
        self.var(k).parse().unwrap_or_else(|_| panic!("{k} is not a port"))
    }
    fn ca(&self) -> PathBuf {
        PathBuf::from(self.var("CA_FILE"))
    }
    fn tls(&self) -> Arc<rustls::ClientConfig> {
        viaduc::backend::tls::client_config(Backend::Sieve, Some(&self.ca())).unwrap()
    }
    fn sieve(&self) -> SieveConfig {
        SieveConfig {
            host: "127.0.0.1".into(),
            port: self.port("SIEVE_PORT"),
            tls: TlsMode::Starttls,
            ca_file: Some(self.ca()),
            timeout_secs: 20,
        }
    }
    fn imap(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.port("IMAP_PORT"),
            tls: TlsMode::Starttls,
            ca_file: Some(self.ca()),
            master_user: None,
            master_password: None,
            master_separator: "*".into(),
            timeout_secs: 20,
            pool_max_sessions_per_user: 2,
            pool_max_idle_per_user: 1,
            pool_idle_timeout_secs: 60,
            watch_max_per_user: 2,
            message_cache_mib: 0,
        }
    }
    fn smtp(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port("SUBMISSION_PORT"),
            tls: TlsMode::Starttls,
            ca_file: Some(self.ca()),
            timeout_secs: 20,
        }
    }
    /// A principal as the authenticator makes it (a real IMAP login).
    async fn principal(&self, user: &str) -> Principal {
        let auth = Authenticator::new(self.imap(), self.tls(), None, "example.test".into(), AuthConfig::default());
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}@example.test:{}", self.var("PASSWORD")))
        );
        match auth.authenticate(Some(&header), IpAddr::V4(Ipv4Addr::LOCALHOST)).await {
            Ok(p) => p,
            Err(e) => panic!("login as {user}: {e:?}"),
        }
    }
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

fn domains() -> Vec<String> {
    vec!["example.test".to_string()]
}

async fn active_script(stack: &Stack, p: &Principal) -> Option<String> {
    let mut s = SieveSession::connect(&stack.sieve(), &stack.tls(), p).await.unwrap();
    let list = s.list_scripts().await.unwrap();
    s.logout().await.unwrap();
    list.into_iter().find(|(_, a)| *a).map(|(n, _)| n)
}

#[tokio::test]
async fn oof_round_trips_and_keeps_the_users_own_script() {
    let stack = Stack::get();
    let (cfg, tls) = (stack.sieve(), stack.tls());
    let alice = stack.principal("alice").await;

    // alice's own rules, active before Viaduc touches anything.
    let user_script = "require [\"fileinto\"];\r\n# alice's own rule\r\nif header :contains \"subject\" \"viaduc-test-never\" {\r\n    fileinto \"Junk\";\r\n}\r\n";
    let mut s = SieveSession::connect(&cfg, &tls, &alice).await.unwrap();
    assert!(s.has_extension("vacation") && s.has_extension("include"));
    let before = s.list_scripts().await.unwrap();
    let previously_active = before.iter().find(|(_, a)| *a).map(|(n, _)| n.clone());
    s.check_script(user_script).await.unwrap();
    let e = s.check_script("if foo {").await.unwrap_err();
    assert_eq!(e.kind, Kind::Refused, "{e}");
    s.put_script("alice-rules", user_script).await.unwrap();
    s.set_active("alice-rules").await.unwrap();
    assert_eq!(s.get_script("alice-rules").await.unwrap().as_deref(), Some(user_script));
    assert_eq!(s.get_script("no-such-script").await.unwrap(), None);
    s.logout().await.unwrap();

    let enabled = OofSettings {
        state: OofState::Enabled,
        external_audience: ExternalAudience::Known,
        internal_reply: "Away until Monday.\nAsk \"Bob\".".into(),
        external_reply: "<p>I am out of the office &amp; back on <b>Monday</b>.</p>".into(),
    };
    oof::set_oof(&cfg, &tls, &alice, &enabled, &domains()).await.unwrap();
    assert_eq!(oof::get_oof(&cfg, &tls, &alice).await.unwrap(), enabled);
    assert_eq!(active_script(&stack, &alice).await.as_deref(), Some(WRAPPER_SCRIPT));

    let scheduled = OofSettings {
        state: OofState::Scheduled {
            start: Utc.with_ymd_and_hms(2030, 7, 1, 7, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2030, 7, 20, 16, 30, 0).unwrap(),
        },
        external_audience: ExternalAudience::All,
        internal_reply: "Summer holidays — back on the 20th.".into(),
        external_reply: "On holiday.".into(),
    };
    oof::set_oof(&cfg, &tls, &alice, &scheduled, &domains()).await.unwrap();
    assert_eq!(oof::get_oof(&cfg, &tls, &alice).await.unwrap(), scheduled);

    // The user's script is untouched and still runs (the wrapper includes it).
    let mut s = SieveSession::connect(&cfg, &tls, &alice).await.unwrap();
    assert_eq!(s.get_script("alice-rules").await.unwrap().as_deref(), Some(user_script));
    let wrapper = s.get_script(WRAPPER_SCRIPT).await.unwrap().expect("wrapper");
    assert!(wrapper.contains("include :personal \"alice-rules\";"), "{wrapper}");
    assert!(wrapper.contains(&format!("include :personal \"{OOF_SCRIPT}\";")), "{wrapper}");
    let ours = s.get_script(OOF_SCRIPT).await.unwrap().unwrap();
    assert!(ours.contains("currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" \"2030-07-01T07:00:00\""), "{ours}");
    s.logout().await.unwrap();

    let disabled = OofSettings { state: OofState::Disabled, ..scheduled.clone() };
    oof::set_oof(&cfg, &tls, &alice, &disabled, &domains()).await.unwrap();
    assert_eq!(oof::get_oof(&cfg, &tls, &alice).await.unwrap(), disabled, "texts are kept while disabled");
    assert_eq!(
        active_script(&stack, &alice).await.as_deref(),
        Some("alice-rules"),
        "the user's script is active again"
    );

    // Someone activates another script elsewhere: Viaduc's rules are no longer reachable, so it reads disabled.
    oof::set_oof(&cfg, &tls, &alice, &enabled, &domains()).await.unwrap();
    let mut s = SieveSession::connect(&cfg, &tls, &alice).await.unwrap();
    s.set_active("alice-rules").await.unwrap();
    s.logout().await.unwrap();
    let read = oof::get_oof(&cfg, &tls, &alice).await.unwrap();
    assert_eq!(read, OofSettings { state: OofState::Disabled, ..enabled.clone() });

    // Restore alice's scripts as they were.
    let mut s = SieveSession::connect(&cfg, &tls, &alice).await.unwrap();
    s.set_active(previously_active.as_deref().unwrap_or("")).await.unwrap();
    for name in ["alice-rules", WRAPPER_SCRIPT, OOF_SCRIPT] {
        if s.list_scripts().await.unwrap().iter().any(|(n, _)| n == name) {
            s.delete_script(name).await.unwrap();
        }
    }
    s.logout().await.unwrap();
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let stack = Stack::get();
    let e = match SieveSession::connect_as(&stack.sieve(), &stack.tls(), "bob", "wrong-password").await {
        Ok(_) => panic!("a wrong password logged in"),
        Err(e) => e,
    };
    assert_eq!(e.kind, Kind::AuthFailed, "{e}");
}

/// carol sends bob a message with `token` as its subject (submission, STARTTLS, AUTH as carol).
async fn carol_writes_to_bob(stack: &Stack, carol: &Principal, token: &str) {
    let raw = format!(
        "From: Carol Clark <carol@example.test>\r\nTo: Bob Brown <bob@example.test>\r\nSubject: {token}\r\n\
         Message-ID: <{token}@example.test>\r\nDate: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Are you there?\r\n",
        chrono::DateTime::<Utc>::from(SystemTime::now()).to_rfc2822()
    );
    let to = ["bob@example.test".to_string()];
    viaduc::backend::smtp::send(&stack.smtp(), &stack.tls(), carol, "carol@example.test", &to, raw.as_bytes())
        .await
        .unwrap();
}

/// The messages of `mailbox` whose subject contains `token`, polling up to `secs` seconds for at least one.
async fn wait_for(store: &MailStore, p: &Principal, mailbox: &str, token: &str, secs: u64) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let uids = store.search_uids(p, mailbox, &Criteria::SubjectContains(token.to_string())).await.unwrap();
        if !uids.is_empty() || Instant::now() > deadline {
            return uids;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn dovecot_sends_the_internal_reply() {
    let stack = Stack::get();
    let (cfg, tls) = (stack.sieve(), stack.tls());
    let bob = stack.principal("bob").await;
    let carol = stack.principal("carol").await;
    let token = unique("oof-probe");

    // bob's own active rule files the probe into Archive; it must keep working next to the reply.
    let bob_rules = format!(
        "require [\"fileinto\"];\r\nif header :contains \"subject\" \"{token}\" {{\r\n    fileinto \"Archive\";\r\n}}\r\n"
    );
    let mut s = SieveSession::connect(&cfg, &tls, &bob).await.unwrap();
    let previously_active = s.list_scripts().await.unwrap().into_iter().find(|(_, a)| *a).map(|(n, _)| n);
    s.put_script("bob-rules", &bob_rules).await.unwrap();
    s.set_active("bob-rules").await.unwrap();
    s.logout().await.unwrap();

    let settings = OofSettings {
        state: OofState::Enabled,
        external_audience: ExternalAudience::None,
        internal_reply: format!("Bob is away ({token})."),
        external_reply: String::new(),
    };
    oof::set_oof(&cfg, &tls, &bob, &settings, &domains()).await.unwrap();

    carol_writes_to_bob(&stack, &carol, &token).await;
    let store = MailStore::new(ImapPool::new(stack.imap(), tls.clone()));
    let uids = wait_for(&store, &carol, "INBOX", &token, 15).await;
    let filed = store.search_uids(&bob, "Archive", &Criteria::SubjectContains(token.clone())).await.unwrap();
    let in_inbox = store.search_uids(&bob, "INBOX", &Criteria::SubjectContains(token.clone())).await.unwrap();
    // Switch bob's reply off and restore his scripts before asserting, so a failure leaves nothing behind.
    oof::set_oof(&cfg, &tls, &bob, &OofSettings { state: OofState::Disabled, ..settings.clone() }, &domains())
        .await
        .unwrap();
    assert_eq!(active_script(&stack, &bob).await.as_deref(), Some("bob-rules"));
    let mut s = SieveSession::connect(&cfg, &tls, &bob).await.unwrap();
    assert_eq!(
        s.get_script("bob-rules").await.unwrap().as_deref(),
        Some(bob_rules.as_str()),
        "bob's script is untouched"
    );
    s.set_active(previously_active.as_deref().unwrap_or("")).await.unwrap();
    s.delete_script("bob-rules").await.unwrap();
    s.logout().await.unwrap();
    assert_eq!((filed.len(), in_inbox.len()), (1, 0), "bob's own fileinto rule still ran while the reply was on");
    store.delete_messages(&bob, "Archive", &filed).await.unwrap();
    assert_eq!(
        uids.len(),
        1,
        "no auto-reply with {token} in carol's INBOX within 15 s (see the stack's log/dovecot.log)"
    );
    let msg = store.fetch_message(&carol, "INBOX", uids[0]).await.unwrap().expect("the reply");
    let text = String::from_utf8_lossy(&msg.raw).into_owned();
    assert!(text.contains(&format!("Bob is away ({token}).")), "{text}");
    assert!(text.to_ascii_lowercase().contains("auto-submitted: auto-replied"), "{text}");
    store.delete_messages(&carol, "INBOX", &uids).await.unwrap();

    // Scheduled (bob has no script of his own now, so viaduc-oof itself is active): a window that has not
    // begun gets no reply, a window around now does (Pigeonhole's currentdate against our iso8601 bounds).
    let now = chrono::DateTime::<Utc>::from(SystemTime::now());
    let later = unique("oof-later");
    let future = OofSettings {
        state: OofState::Scheduled { start: now + chrono::Duration::hours(1), end: now + chrono::Duration::hours(2) },
        external_audience: ExternalAudience::None,
        internal_reply: format!("Not yet ({later})."),
        external_reply: String::new(),
    };
    oof::set_oof(&cfg, &tls, &bob, &future, &domains()).await.unwrap();
    assert_eq!(active_script(&stack, &bob).await.as_deref(), Some(OOF_SCRIPT));
    carol_writes_to_bob(&stack, &carol, &later).await;
    let delivered = wait_for(&store, &bob, "INBOX", &later, 15).await;
    assert_eq!(delivered.len(), 1, "the probe reached bob");
    let now_token = unique("oof-now");
    let current = OofSettings {
        state: OofState::Scheduled { start: now - chrono::Duration::hours(1), end: now + chrono::Duration::hours(1) },
        internal_reply: format!("Away right now ({now_token})."),
        ..future.clone()
    };
    oof::set_oof(&cfg, &tls, &bob, &current, &domains()).await.unwrap();
    carol_writes_to_bob(&stack, &carol, &now_token).await;
    let replies_now = wait_for(&store, &carol, "INBOX", &now_token, 15).await;
    let replies_later = store.search_uids(&carol, "INBOX", &Criteria::SubjectContains(later.clone())).await.unwrap();
    oof::set_oof(&cfg, &tls, &bob, &OofSettings { state: OofState::Disabled, ..current.clone() }, &domains())
        .await
        .unwrap();
    assert_eq!(active_script(&stack, &bob).await, previously_active);
    assert_eq!(replies_now.len(), 1, "a window around now answers");
    assert!(replies_later.is_empty(), "a window that has not begun does not answer");
    store.delete_messages(&carol, "INBOX", &replies_now).await.unwrap();
    for t in [&later, &now_token] {
        let probes = store.search_uids(&bob, "INBOX", &Criteria::SubjectContains(t.to_string())).await.unwrap();
        store.delete_messages(&bob, "INBOX", &probes).await.unwrap();
    }
}
