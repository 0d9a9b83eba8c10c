//! The mail store against the real Dovecot of the test stack (`scripts/test` starts it and exports
//! `VIADUC_TEST_STACK`; without it these tests fail with a message saying so).
//!
//! Every test works in mailboxes of its own with names unique per run, and removes them at the end.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use viaduc::auth::{Authenticator, Principal};
use viaduc::backend::imap::pool::ImapPool;
use viaduc::backend::imap::store::{
    Criteria, MailStore, NamespaceKind, Sort, SortKey, SpecialUse, is_uidvalidity_changed,
};
use viaduc::config::{AuthConfig, ImapConfig, SmtpConfig, TlsMode};
use viaduc::error::{Backend, Kind};
use viaduc::model::message::{
    Date, DateTime, Message, OutgoingAttachment, OutgoingMessage, Recipient, attachment_bytes, build_mime,
};

/// The stack `scripts/test` started (tests/common), with this file's helpers on top.
struct Stack(common::Stack);

impl Stack {
    fn var(&self, k: &str) -> &str {
        self.0.var(k)
    }
    fn imap_config(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.var("IMAP_PORT").parse().unwrap(),
            tls: TlsMode::Starttls,
            ca_file: Some(PathBuf::from(self.var("CA_FILE"))),
            master_user: None,
            master_password: None,
            master_separator: "*".into(),
            timeout_secs: 20,
            pool_max_sessions_per_user: 4,
            pool_max_idle_per_user: 2,
            pool_idle_timeout_secs: 300,
            watch_max_per_user: 2,
            message_cache_mib: 0,
        }
    }
    fn smtp_config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.var("SUBMISSION_PORT").parse().unwrap(),
            tls: TlsMode::Starttls,
            ca_file: Some(PathBuf::from(self.var("CA_FILE"))),
            timeout_secs: 20,
        }
    }
    fn tls(&self) -> Arc<rustls::ClientConfig> {
        viaduc::backend::tls::client_config(Backend::Imap, Some(&PathBuf::from(self.var("CA_FILE")))).unwrap()
    }
    fn pool(&self) -> ImapPool {
        ImapPool::new(self.imap_config(), self.tls())
    }
    /// A principal as the authenticator makes it (a real IMAP login).
    async fn principal(&self, user: &str) -> Principal {
        let auth =
            Authenticator::new(self.imap_config(), self.tls(), None, "example.test".into(), AuthConfig::default());
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

macro_rules! stack {
    () => {
        Stack(common::Stack::from_env())
    };
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("vtest-{tag}-{}-{nanos}", std::process::id())
}

fn outgoing(subject: &str, body: &str, date: i64) -> OutgoingMessage {
    OutgoingMessage {
        from: Recipient::new(Some("Bob Example"), "bob@example.test"),
        to: vec![Recipient::new(Some("Alice"), "alice@example.test")],
        subject: subject.into(),
        date: Some(DateTime::from_unix(date)),
        body_text: Some(body.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn lists_inbox_and_special_use_mailboxes() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let boxes = store.list_mailboxes(&p).await.unwrap();
    let inbox = boxes.iter().find(|b| b.name == "INBOX").expect("INBOX listed");
    assert_eq!(boxes[0].name, "INBOX", "INBOX first");
    assert_eq!(inbox.special_use, Some(SpecialUse::Inbox));
    assert!(inbox.uid_validity > 0 && inbox.uid_next > 0 && inbox.highest_modseq > 0, "{inbox:?}");
    assert!(inbox.guid.as_deref().is_some_and(|g| g.len() == 32), "X-GUID: {inbox:?}");
    for role in [SpecialUse::Drafts, SpecialUse::Sent, SpecialUse::Trash] {
        let b =
            boxes.iter().find(|b| b.special_use == Some(role)).unwrap_or_else(|| panic!("{role:?} missing: {boxes:?}"));
        assert!(b.selectable);
    }
    assert!(boxes.iter().filter(|b| b.special_use.is_some()).all(|b| b.namespace == NamespaceKind::Personal));
    // Seeded sharing: the user "shared" shares its INBOX with alice (other users' namespace).
    let shared = boxes.iter().find(|b| b.name == "shared/shared").expect("shared/shared listed");
    assert_eq!(shared.namespace, NamespaceKind::OtherUsers);
    // Seeded hierarchy: Projects/Gateway.
    let projects = boxes.iter().find(|b| b.name == "Projects").expect("Projects");
    assert!(projects.has_children);
    let gw = boxes.iter().find(|b| b.name == "Projects/Gateway").expect("Projects/Gateway");
    assert_eq!(gw.parent(), Some("Projects"));
    assert_eq!(gw.delimiter, Some('/'));
    // mailbox_status agrees with the list.
    let st = store.mailbox_status(&p, "INBOX").await.unwrap();
    assert_eq!((st.uid_validity, st.guid.clone()), (inbox.uid_validity, inbox.guid.clone()));
    assert_eq!((st.messages, st.unseen, st.uid_next), (inbox.messages, inbox.unseen, inbox.uid_next));
    assert_eq!(st.special_use, Some(SpecialUse::Inbox));
    let sh = store.mailbox_status(&p, "shared/shared").await.unwrap();
    assert_eq!((sh.namespace, sh.guid.clone()), (NamespaceKind::OtherUsers, shared.guid.clone()));
    let pr = store.mailbox_status(&p, "Projects").await.unwrap();
    assert!(pr.has_children && pr.selectable);
    let drafts = store.mailbox_status(&p, "Drafts").await.unwrap();
    assert_eq!(drafts.special_use, Some(SpecialUse::Drafts));
    let err = store.mailbox_status(&p, &unique("missing")).await.unwrap_err();
    assert_eq!(err.kind, Kind::NotFound, "{err}");
}

#[tokio::test]
async fn append_list_sort_page_fetch_and_parse_back() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("list");
    store.create_mailbox(&p, &mbox).await.unwrap();

    let attachment: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut with_att = outgoing("Beta: Grüße mit Anhang", "Der Bericht ist angehängt.\nZeile 2 ünïcödé", 1_700_000_200);
    with_att.body_html = Some("<p>Der <b>Bericht</b></p>".into());
    with_att.cc = vec![Recipient::new(None, "carol@example.test")];
    with_att.attachments = vec![OutgoingAttachment {
        name: "Bericht März.bin".into(),
        content_type: "application/octet-stream".into(),
        data: attachment.clone(),
        content_id: None,
    }];
    let raw_att = build_mime(&with_att);
    let received = |t: i64| Some(DateTime { unix: t, offset_minutes: 60 });
    let (v1, uid_b) = store.append_with_date(&p, &mbox, &raw_att, &["\\Seen"], received(1_700_100_000)).await.unwrap();
    let alpha = build_mime(&outgoing("Alpha", "first body", 1_700_000_300));
    let (v2, uid_a) = store.append_with_date(&p, &mbox, &alpha, &[], received(1_700_100_100)).await.unwrap();
    let big = "x".repeat(20_000);
    let (_, uid_c) =
        store.append(&p, &mbox, &build_mime(&outgoing("Gamma", &big, 1_700_000_100)), &["$label1"]).await.unwrap();
    assert_eq!(v1, v2);
    assert!(uid_b < uid_a && uid_a < uid_c);

    // Sorting and paging.
    let by_subject = Sort { key: SortKey::Subject, descending: false };
    let (total, page) = store.list_messages(&p, &mbox, by_subject, 0, 10).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![uid_a, uid_b, uid_c]);
    let (total, page) =
        store.list_messages(&p, &mbox, Sort { key: SortKey::Subject, descending: true }, 1, 1).await.unwrap();
    assert_eq!((total, page.len(), page[0].uid), (3, 1, uid_b));
    let (_, page) =
        store.list_messages(&p, &mbox, Sort { key: SortKey::Date, descending: false }, 0, 10).await.unwrap();
    assert_eq!(page.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![uid_c, uid_b, uid_a]);
    let (_, page) = store.list_messages(&p, &mbox, Sort { key: SortKey::Size, descending: true }, 0, 1).await.unwrap();
    assert_eq!(page[0].uid, uid_c);
    let (_, page) = store.list_messages(&p, &mbox, Sort::newest_first(), 0, 10).await.unwrap();
    assert_eq!(page.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![uid_c, uid_a, uid_b]);
    let (total, page) = store.list_messages(&p, &mbox, by_subject, 5, 10).await.unwrap();
    assert_eq!((total, page.len()), (3, 0));

    // Summary fields.
    let b = store.fetch_summaries(&p, &mbox, &[uid_b]).await.unwrap().remove(0);
    assert_eq!(b.subject.as_deref(), Some("Beta: Grüße mit Anhang"));
    assert_eq!(b.from, Some(Recipient::new(Some("Bob Example"), "bob@example.test")));
    assert_eq!(b.cc, vec![Recipient::new(None, "carol@example.test")]);
    assert_eq!(b.date.unwrap().unix, 1_700_000_200);
    assert!(b.has_attachments && b.is_read() && b.modseq > 0 && b.size as usize == raw_att.len());
    assert_eq!(b.internal_date.map(|d| d.unix), Some(1_700_100_000)); // Dovecot keeps the instant, not the zone
    assert!(b.preview.as_deref().is_some_and(|t| t.contains("Bericht")), "{:?}", b.preview);
    let a = store.fetch_summaries(&p, &mbox, &[uid_a, 999_999, uid_c]).await.unwrap();
    assert_eq!(a.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![uid_a, uid_c]);
    assert!(!a[0].has_attachments && !a[0].is_read());
    assert_eq!(a[1].categories(), vec!["$label1".to_string()]);

    // Whole message, parsed back.
    let fetched = store.fetch_message(&p, &mbox, uid_b).await.unwrap().expect("message");
    assert_eq!(&fetched.raw[..], &raw_att[..]);
    // Streaming in chunks gives the same bytes.
    let mut streamed = Vec::new();
    loop {
        let chunk = store.fetch_raw_range(&p, &mbox, uid_b, streamed.len() as u64, 4096).await.unwrap().unwrap();
        if chunk.is_empty() {
            break;
        }
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(streamed, raw_att);
    assert!(store.fetch_raw_range(&p, &mbox, 999_999, 0, 10).await.unwrap().is_none());
    let m = fetched.to_message().unwrap();
    assert!(m.is_read && !m.is_flagged);
    assert_eq!(m.date_received.map(|d| d.unix), Some(1_700_100_000));
    assert_eq!(m.subject.as_deref(), Some("Beta: Grüße mit Anhang"));
    assert_eq!(m.body_text.as_deref(), Some("Der Bericht ist angehängt.\nZeile 2 ünïcödé"));
    assert!(m.body_html.as_deref().unwrap().contains("<b>Bericht</b>"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name, "Bericht März.bin");
    let (_, bytes) = attachment_bytes(&fetched.raw, 0).unwrap();
    assert_eq!(bytes, attachment);
    assert!(store.fetch_message(&p, &mbox, 999_999).await.unwrap().is_none());
    // BODY.PEEK: fetching did not mark it read.
    let a_again = store.fetch_message(&p, &mbox, uid_a).await.unwrap().unwrap();
    assert!(!a_again.summary.is_read());
    assert!(!store.fetch_summaries(&p, &mbox, &[uid_a]).await.unwrap()[0].is_read());

    // Search.
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::All).await.unwrap(), vec![uid_b, uid_a, uid_c]);
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::Seen(false)).await.unwrap(), vec![uid_a, uid_c]);
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::SubjectContains("grüße".into())).await.unwrap(), vec![uid_b]);
    let either =
        Criteria::Or(vec![Criteria::SubjectContains("alpha".into()), Criteria::Keyword("$label1".into(), true)]);
    assert_eq!(store.search_uids(&p, &mbox, &either).await.unwrap(), vec![uid_a, uid_c]);
    let not = Criteria::And(vec![Criteria::Not(Box::new(Criteria::Seen(true))), Criteria::Larger(10_000)]);
    assert_eq!(store.search_uids(&p, &mbox, &not).await.unwrap(), vec![uid_c]);
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::Since(Date::new(2000, 1, 1))).await.unwrap().len(), 3);
    // Date headers are all on 14-Nov-2023 (SENTBEFORE/SENTSINCE compare dates only).
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::SentBefore(Date::new(2023, 11, 15))).await.unwrap().len(), 3);
    assert!(store.search_uids(&p, &mbox, &Criteria::SentBefore(Date::new(2023, 11, 14))).await.unwrap().is_empty());
    assert!(store.search_uids(&p, &mbox, &Criteria::SentSince(Date::new(2023, 11, 15))).await.unwrap().is_empty());
    // Injection attempts are searched for literally and leave the session usable.
    for evil in ["\" OR ALL \"", "x\r\nV99 DELETE INBOX", "\\\"", "{5}\r\nabc"] {
        assert!(
            store.search_uids(&p, &mbox, &Criteria::SubjectContains(evil.into())).await.unwrap().is_empty(),
            "{evil:?}"
        );
    }
    let (total, filtered) =
        store.list_messages_matching(&p, &mbox, &Criteria::FromContains("bob".into()), by_subject, 0, 2).await.unwrap();
    assert_eq!((total, filtered.len()), (3, 2));
    assert!(store.list_mailboxes(&p).await.unwrap().iter().any(|b| b.name == "INBOX"));

    // Deleted messages are gone from lists.
    store.delete_messages(&p, &mbox, &[uid_a]).await.unwrap();
    let (total, _) = store.list_messages(&p, &mbox, by_subject, 0, 10).await.unwrap();
    assert_eq!(total, 2);
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

#[tokio::test]
async fn large_messages_round_trip() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("large");
    store.create_mailbox(&p, &mbox).await.unwrap();
    // 3 MB of incompressible-looking bytes: a synchronizing literal on APPEND, a large literal on FETCH.
    let mut x: u32 = 12345;
    let data: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let mut msg = outgoing("large", "see attachment", 1_700_000_000);
    msg.attachments = vec![OutgoingAttachment {
        name: "big.bin".into(),
        content_type: "application/octet-stream".into(),
        data: data.clone(),
        content_id: None,
    }];
    let raw = build_mime(&msg);
    let (_, uid) = store.append(&p, &mbox, &raw, &[]).await.unwrap();
    let fetched = store.fetch_message(&p, &mbox, uid).await.unwrap().unwrap();
    assert_eq!(fetched.raw.len(), raw.len());
    assert_eq!(attachment_bytes(&fetched.raw, 0).unwrap().1, data);
    let tail = store.fetch_raw_range(&p, &mbox, uid, raw.len() as u64 - 100, 1000).await.unwrap().unwrap();
    assert_eq!(&tail[..], &raw[raw.len() - 100..]);
    // A large APPEND to a missing mailbox is refused before the upload (synchronizing literal).
    let err = store.append(&p, &unique("missing"), &raw, &[]).await.unwrap_err();
    assert_eq!(err.kind, Kind::NotFound, "{err}");
    // The session is still fine afterwards.
    assert_eq!(store.search_uids(&p, &mbox, &Criteria::All).await.unwrap(), vec![uid]);
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

/// The part fetches GetAttachment streams with: BODYSTRUCTURE → the section of every attachment (mail-parser's
/// numbering), `BINARY.SIZE` + `BODY[section.MIME]`, and `BINARY[section]<offset.len>` ranges that concatenate to
/// what the parser extracts from the whole message; inside the attached message too.
#[tokio::test]
async fn attachment_parts_by_section_in_ranges() {
    use viaduc::backend::imap::bodystructure::mime_tree;
    use viaduc::model::mime_tree::{resolve, section_text};
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("parts");
    store.create_mailbox(&p, &mbox).await.unwrap();
    let path = format!("{}/protocol-fixtures/mime/nested-multipart.eml", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(path).unwrap();
    let (uv, uid) = store.append(&p, &mbox, &raw, &[]).await.unwrap();
    let bs = store.fetch_bodystructure(&p, &mbox, uv, uid).await.unwrap().unwrap();
    let tree = mime_tree(&bs).unwrap();
    let parsed = Message::from_mime(&raw).unwrap();
    // File attachments (attached messages are never streamed: GetAttachment reads them with the whole message).
    let mut paths: Vec<Vec<u32>> =
        parsed.attachments.iter().filter(|a| !a.is_message).map(|a| vec![a.index as u32]).collect();
    assert_eq!(paths.len(), 5);
    paths.push(vec![3, 0]); // inner.bin inside the attached message
    for path in paths {
        let (section, _) = resolve(&tree, &path).unwrap();
        let section = section_text(&section);
        let expected = viaduc::model::message::nested_attachment_bytes(&raw, &path).unwrap().1;
        let (size, mime) = store.fetch_part_meta(&p, &mbox, uv, uid, &section).await.unwrap().unwrap();
        assert_eq!(size, expected.len() as u64, "{section}");
        assert!(String::from_utf8_lossy(&mime).to_ascii_lowercase().contains("content-type:"), "{section}");
        let mut got = Vec::new();
        loop {
            let chunk = store.fetch_binary_range(&p, &mbox, uv, uid, &section, got.len() as u64, 7).await.unwrap();
            let chunk = chunk.unwrap();
            if chunk.is_empty() {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, expected, "{section}");
    }
    // A UID that does not exist, a section that is not one, a UIDVALIDITY that is not the folder's.
    assert!(store.fetch_bodystructure(&p, &mbox, uv, uid + 5).await.unwrap().is_none());
    assert!(store.fetch_binary_range(&p, &mbox, uv, uid, "1 BODY[]", 0, 10).await.unwrap().is_none());
    assert!(store.fetch_bodystructure(&p, &mbox, uv.wrapping_add(1), uid).await.is_err());
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

#[tokio::test]
async fn conditional_flag_changes() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("flags");
    store.create_mailbox(&p, &mbox).await.unwrap();
    let (_, uid) = store.append(&p, &mbox, &build_mime(&outgoing("Flags", "x", 1_700_000_000)), &[]).await.unwrap();
    let m0 = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap()[0].modseq;

    let m1 = store.set_flags(&p, &mbox, uid, &["\\Seen", "Project-X"], &[], Some(m0)).await.unwrap();
    assert!(m1 > m0);
    let s = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap().remove(0);
    assert!(s.is_read() && s.has_flag("Project-X"));
    assert_eq!(s.modseq, m1);

    // A second change based on the old modseq conflicts and changes nothing.
    let err = store.set_flags(&p, &mbox, uid, &["\\Flagged"], &[], Some(m0)).await.unwrap_err();
    assert_eq!(err.kind, Kind::Conflict, "{err}");
    let s = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap().remove(0);
    assert!(!s.is_flagged());
    assert_eq!(s.modseq, m1);

    // With the current modseq it goes through; removing works too.
    let m2 = store.set_flags(&p, &mbox, uid, &["\\Flagged"], &["\\Seen"], Some(m1)).await.unwrap();
    assert!(m2 > m1);
    let s = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap().remove(0);
    assert!(s.is_flagged() && !s.is_read() && s.has_flag("Project-X"));
    // Unconditional.
    let m3 = store.set_flags(&p, &mbox, uid, &[], &["Project-X", "\\Flagged"], None).await.unwrap();
    assert!(m3 > m2);
    let s = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap().remove(0);
    assert!(!s.is_flagged() && s.categories().is_empty());
    // Categories with spaces and non-ASCII go through as keywords and read back.
    let cats = ["Red Category", "Grün & Blau"];
    let kws: Vec<String> = cats.iter().map(|c| viaduc::backend::imap::utf7::category_to_keyword(c)).collect();
    let kw_refs: Vec<&str> = kws.iter().map(String::as_str).collect();
    let m3 = store.set_flags(&p, &mbox, uid, &kw_refs, &[], None).await.unwrap();
    let s = store.fetch_summaries(&p, &mbox, &[uid]).await.unwrap().remove(0);
    assert_eq!(s.categories(), cats.to_vec());
    let m3 = m3.max(store.set_flags(&p, &mbox, uid, &[], &kw_refs, None).await.unwrap());
    // A no-op keeps the modseq.
    assert_eq!(store.set_flags(&p, &mbox, uid, &[], &["\\Flagged"], Some(m3)).await.unwrap(), m3);

    // Many messages at once, with a conflict on the one changed after the given modseq.
    let mut many = Vec::new();
    for i in 0..4 {
        many.push(
            store
                .append(&p, &mbox, &build_mime(&outgoing(&format!("bulk {i}"), "x", 1_700_000_000)), &[])
                .await
                .unwrap()
                .1,
        );
    }
    let base = store.mailbox_status(&p, &mbox).await.unwrap().highest_modseq;
    store.set_flags(&p, &mbox, many[1], &["$changed"], &[], None).await.unwrap();
    let mut with_missing = many.clone();
    with_missing.push(999_999);
    let r =
        store.set_flags_many(&p, &mbox, &with_missing, &["\\Seen", "Bulk"], &["$changed"], Some(base)).await.unwrap();
    assert_eq!(r.conflicts, vec![many[1]]);
    assert_eq!(r.modseqs.iter().map(|(u, _)| *u).collect::<Vec<_>>(), vec![many[0], many[2], many[3]]);
    let now = store.fetch_summaries(&p, &mbox, &many).await.unwrap();
    for m in &now {
        let expect = m.uid != many[1];
        assert_eq!((m.is_read(), m.has_flag("Bulk")), (expect, expect), "{m:?}");
        assert_eq!(m.has_flag("$changed"), !expect);
        if let Some((_, ms)) = r.modseqs.iter().find(|(u, _)| *u == m.uid) {
            assert_eq!(*ms, m.modseq);
        }
    }
    let r = store.set_flags_many(&p, &mbox, &many, &[], &["\\Seen"], None).await.unwrap();
    assert!(r.conflicts.is_empty() && r.modseqs.len() == 3, "only the three read ones changed: {r:?}");
    assert!(store.fetch_summaries(&p, &mbox, &many).await.unwrap().iter().all(|m| !m.is_read()));
    assert_eq!(store.set_flags_many(&p, &mbox, &many, &["a b"], &[], None).await.unwrap_err().kind, Kind::Malformed);

    // Bad flags never reach the server; missing messages are NotFound.
    let err = store.set_flags(&p, &mbox, uid, &["a b"], &[], None).await.unwrap_err();
    assert_eq!(err.kind, Kind::Malformed);
    let err = store.set_flags(&p, &mbox, uid, &["\\Bogus"], &[], None).await.unwrap_err();
    assert_eq!(err.kind, Kind::Malformed);
    let err = store.set_flags(&p, &mbox, 999_999, &["\\Seen"], &[], Some(m3)).await.unwrap_err();
    assert_eq!(err.kind, Kind::NotFound, "{err}");
    let err = store.set_flags(&p, &mbox, 999_999, &["\\Seen"], &[], None).await.unwrap_err();
    assert_eq!(err.kind, Kind::NotFound, "{err}");
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

#[tokio::test]
async fn move_and_copy_map_uids() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let (src, dst) = (unique("src"), unique("dst"));
    store.create_mailbox(&p, &src).await.unwrap();
    store.create_mailbox(&p, &dst).await.unwrap();
    let mut uids = Vec::new();
    for i in 0..3 {
        let (_, uid) = store
            .append(&p, &src, &build_mime(&outgoing(&format!("msg {i}"), "b", 1_700_000_000 + i)), &[])
            .await
            .unwrap();
        uids.push(uid);
    }
    let copied = store.copy_messages(&p, &src, &uids[..2], &dst).await.unwrap();
    assert_eq!(copied.iter().map(|(o, _)| *o).collect::<Vec<_>>(), uids[..2].to_vec());
    for (old, new) in &copied {
        let a = store.fetch_summaries(&p, &src, &[*old]).await.unwrap().remove(0);
        let b = store.fetch_summaries(&p, &dst, &[*new]).await.unwrap().remove(0);
        assert_eq!(a.subject, b.subject);
    }
    let dst_validity = store.mailbox_status(&p, &dst).await.unwrap().uid_validity;
    let (v, again) = store.copy_messages_with_validity(&p, &src, &uids[1..2], &dst).await.unwrap();
    assert_eq!((v, again.len(), again[0].0), (dst_validity, 1, uids[1]));
    store.delete_messages(&p, &dst, &[again[0].1]).await.unwrap();
    assert_eq!(store.copy_messages_with_validity(&p, &src, &[], &dst).await.unwrap(), (0, vec![]));
    let moved = store.move_messages(&p, &src, &[uids[2], uids[0]], &dst).await.unwrap();
    assert_eq!(moved.len(), 2);
    let m = moved.iter().find(|(o, _)| *o == uids[2]).unwrap();
    assert_eq!(store.fetch_summaries(&p, &dst, &[m.1]).await.unwrap()[0].subject.as_deref(), Some("msg 2"));
    assert_eq!(store.search_uids(&p, &src, &Criteria::All).await.unwrap(), vec![uids[1]]);
    assert_eq!(store.search_uids(&p, &dst, &Criteria::All).await.unwrap().len(), 4);
    // A huge sparse UID list (mostly UIDs that do not exist) is split over several commands.
    let sparse: Vec<u32> = std::iter::once(uids[1]).chain((0..30_000).map(|i| 1_000_001 + 2 * i)).collect();
    let (_, pairs) = store.copy_messages_with_validity(&p, &src, &sparse, &dst).await.unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].0, uids[1]);
    store.delete_messages(&p, &dst, &[pairs[0].1]).await.unwrap();
    let err = store.copy_messages(&p, &src, &[uids[1]], &unique("nowhere")).await.unwrap_err();
    assert_eq!(err.kind, Kind::NotFound, "{err}");
    store.delete_mailbox(&p, &src).await.unwrap();
    store.delete_mailbox(&p, &dst).await.unwrap();
}

#[tokio::test]
async fn changes_since_sees_other_sessions() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let other = MailStore::new(stack.pool()); // a second pool: a different IMAP session
    let mbox = unique("sync");
    store.create_mailbox(&p, &mbox).await.unwrap();
    let (_, u1) = store.append(&p, &mbox, &build_mime(&outgoing("one", "1", 1_700_000_001)), &[]).await.unwrap();
    let (_, u2) = store.append(&p, &mbox, &build_mime(&outgoing("two", "2", 1_700_000_002)), &[]).await.unwrap();
    let (_, u3) = store.append(&p, &mbox, &build_mime(&outgoing("three", "3", 1_700_000_003)), &[]).await.unwrap();
    let st = store.mailbox_status(&p, &mbox).await.unwrap();
    let base = st.highest_modseq;

    let nothing = store.changes_since(&p, &mbox, st.uid_validity, base).await.unwrap();
    assert!(nothing.changed.is_empty() && nothing.vanished.is_empty());
    assert_eq!(nothing.highest_modseq, base);

    other.set_flags(&p, &mbox, u1, &["\\Flagged"], &[], None).await.unwrap();
    other.delete_messages(&p, &mbox, &[u2]).await.unwrap();
    let (_, u4) = other.append(&p, &mbox, &build_mime(&outgoing("four", "4", 1_700_000_004)), &[]).await.unwrap();

    let ch = store.changes_since(&p, &mbox, st.uid_validity, base).await.unwrap();
    assert_eq!(ch.uid_validity, st.uid_validity);
    assert!(ch.highest_modseq > base);
    let changed: Vec<u32> = ch.changed.iter().map(|m| m.uid).collect();
    assert_eq!(changed, vec![u1, u4], "{ch:?}");
    assert!(ch.changed[0].is_flagged());
    assert_eq!(ch.changed[1].subject.as_deref(), Some("four"));
    assert!(ch.vanished.contains(&u2), "{ch:?}");
    assert!(!ch.vanished.contains(&u3));

    // The same in one round of a stateless sync.
    let snap = store.sync_snapshot(&p, &mbox, base).await.unwrap();
    assert_eq!(snap.selected.uid_validity, st.uid_validity);
    assert_eq!(snap.selected.highest_modseq, ch.highest_modseq);
    assert_eq!(snap.uids, vec![u1, u3, u4]);
    assert_eq!(snap.changed.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![u1, u4]);
    assert!(snap.vanished.contains(&u2));
    let full = store.sync_snapshot(&p, &mbox, 0).await.unwrap();
    assert!(full.changed.is_empty() && full.vanished.is_empty() && full.uids == snap.uids);

    // Syncing from the new point: nothing more.
    let again = store.changes_since(&p, &mbox, st.uid_validity, ch.highest_modseq).await.unwrap();
    assert!(again.changed.is_empty() && again.vanished.is_empty(), "{again:?}");

    let err = store.changes_since(&p, &mbox, st.uid_validity.wrapping_add(1), base).await.unwrap_err();
    assert!(is_uidvalidity_changed(&err), "{err}");
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

#[tokio::test]
async fn mailbox_lifecycle_with_non_ascii_names() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let base = unique("utf7");
    let parent = format!("Entwürfe & Pläne {base}");
    let child = format!("{parent}/日本語 ✓");
    store.create_mailbox(&p, &parent).await.unwrap();
    store.create_mailbox(&p, &child).await.unwrap();
    let boxes = store.list_mailboxes(&p).await.unwrap();
    let pa = boxes.iter().find(|b| b.name == parent).unwrap_or_else(|| panic!("{parent} not in {boxes:?}"));
    let ch = boxes.iter().find(|b| b.name == child).expect("child listed");
    assert!(pa.has_children);
    assert_eq!(ch.parent(), Some(parent.as_str()));
    assert_eq!(ch.leaf_name(), "日本語 ✓");
    let guid = ch.guid.clone().expect("guid");
    let (_, _) =
        store.append(&p, &child, &build_mime(&outgoing("in a UTF-7 box", "x", 1_700_000_000)), &[]).await.unwrap();
    assert_eq!(store.mailbox_status(&p, &child).await.unwrap().messages, 1);

    let renamed = format!("Корзина {base}");
    store.rename_mailbox(&p, &parent, &renamed).await.unwrap();
    let moved_child = format!("{renamed}/日本語 ✓");
    let st = store.mailbox_status(&p, &moved_child).await.unwrap();
    assert_eq!(st.guid.as_deref(), Some(guid.as_str()), "X-GUID survives a rename");
    assert_eq!(st.messages, 1);
    assert_eq!(store.mailbox_status(&p, &parent).await.unwrap_err().kind, Kind::NotFound);
    assert_eq!(store.create_mailbox(&p, &renamed).await.unwrap_err().kind, Kind::Conflict);

    store.delete_mailbox(&p, &moved_child).await.unwrap();
    store.delete_mailbox(&p, &renamed).await.unwrap();
    let boxes = store.list_mailboxes(&p).await.unwrap();
    assert!(!boxes.iter().any(|b| b.name.contains(&base)), "{boxes:?}");
    assert_eq!(store.delete_mailbox(&p, "INBOX").await.unwrap_err().kind, Kind::AccessDenied);
}

#[tokio::test]
async fn metadata_round_trip() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let key = format!("/private/vendor/viaduc/{}", unique("md"));
    assert_eq!(store.get_metadata(&p, "", &key).await.unwrap(), None);
    let value = "{\"named\": [1, 2]}\r\nline 2 \u{e4}".as_bytes();
    store.set_metadata(&p, "", &key, Some(value)).await.unwrap();
    assert_eq!(store.get_metadata(&p, "", &key).await.unwrap().as_deref(), Some(value));
    store.set_metadata(&p, "INBOX", &key, Some(b"inbox value")).await.unwrap();
    assert_eq!(store.get_metadata(&p, "INBOX", &key).await.unwrap().as_deref(), Some(&b"inbox value"[..]));
    store.set_metadata(&p, "", &key, None).await.unwrap();
    store.set_metadata(&p, "INBOX", &key, None).await.unwrap();
    assert_eq!(store.get_metadata(&p, "", &key).await.unwrap(), None);
    assert_eq!(store.get_metadata(&p, "", "/private/bad key").await.unwrap_err().kind, Kind::Malformed);
}

#[tokio::test]
async fn pool_reuses_sessions() {
    let stack = stack!();
    let alice = stack.principal("alice").await;
    let bob = stack.principal("bob").await;
    let pool = stack.pool();
    let store = MailStore::new(pool.clone());
    for _ in 0..5 {
        store.mailbox_status(&alice, "INBOX").await.unwrap();
    }
    assert_eq!(pool.logins(), 1, "sequential requests share one session");
    assert_eq!(pool.reused(), 4);
    // Concurrent requests get concurrent sessions (at most the per-user limit).
    let (a, b, c) = tokio::join!(
        store.list_mailboxes(&alice),
        store.search_uids(&alice, "INBOX", &Criteria::All),
        store.mailbox_status(&alice, "INBOX")
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert!(pool.logins() <= 3, "{}", pool.logins());
    // Another user never gets alice's session.
    let before = pool.logins();
    let bob_inbox = store.mailbox_status(&bob, "INBOX").await.unwrap();
    assert_eq!(pool.logins(), before + 1);
    assert_ne!(bob_inbox.guid, store.mailbox_status(&alice, "INBOX").await.unwrap().guid);
    // A command abandoned half-way (the caller's future dropped) leaves the session out of the pool.
    let idle_before = pool.idle_count();
    {
        let mut s = pool.get(&alice).await.unwrap();
        let cmd = viaduc::backend::imap::codec::Command::new("NOOP");
        // Polled once: the command is written, the answer cannot be there yet.
        let r = futures_util::FutureExt::now_or_never(s.execute(&cmd));
        assert!(r.is_none(), "the command cannot have completed");
    }
    assert_eq!(pool.idle_count(), idle_before - 1, "an interrupted session is not returned");
    let logins = pool.logins();
    let idle_before = pool.idle_count();
    {
        let s = pool.get(&alice).await.unwrap();
        assert!(s.has_capability("QRESYNC"));
        let mut s = s;
        s.discard();
    }
    assert_eq!(pool.idle_count(), idle_before - 1, "a discarded session is not returned");
    // alice had two idle sessions (the per-user idle limit): both are gone now, the next request logs in.
    store.mailbox_status(&alice, "INBOX").await.unwrap();
    assert_eq!(pool.logins(), logins + 1);
}

#[tokio::test]
async fn smtp_send_delivers_and_refusals_are_errors() {
    let stack = stack!();
    let alice = stack.principal("alice").await;
    let bob = stack.principal("bob").await;
    let subject = unique("smtp");
    let msg = OutgoingMessage {
        from: Recipient::new(Some("Alice"), "alice@example.test"),
        to: vec![Recipient::new(Some("Bob"), "bob@example.test")],
        bcc: vec![Recipient::new(None, "carol@example.test")],
        subject: subject.clone(),
        body_text: Some("line one\r\n.\r\n.leading dot\r\nend".into()),
        ..Default::default()
    };
    let raw = build_mime(&msg);
    let smtp = stack.smtp_config();
    let tls = viaduc::backend::tls::client_config(Backend::Smtp, Some(&PathBuf::from(stack.var("CA_FILE")))).unwrap();
    viaduc::backend::smtp::send(&smtp, &tls, &alice, &alice.mail, &msg.envelope_recipients(), &raw).await.unwrap();

    let store = MailStore::new(stack.pool());
    let mut found = Vec::new();
    for _ in 0..50 {
        found = store.search_uids(&bob, "INBOX", &Criteria::SubjectContains(subject.clone())).await.unwrap();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(found.len(), 1, "delivered to bob");
    let m = store.fetch_message(&bob, "INBOX", found[0]).await.unwrap().unwrap();
    let parsed = Message::from_mime(&m.raw).unwrap();
    assert_eq!(
        parsed.body_text.as_deref().map(|b| b.replace("\r\n", "\n").trim_end().to_string()),
        Some("line one\n.\n.leading dot\nend".to_string())
    );
    assert!(parsed.bcc.is_empty());
    store.delete_messages(&bob, "INBOX", &found).await.unwrap();

    // A recipient the server refuses (550 5.1.1): Refused with the server's text, nothing is sent.
    let rcpts = vec!["bob@example.test".to_string(), "nosuchuser@example.test".to_string()];
    let err = viaduc::backend::smtp::send(&smtp, &tls, &alice, &alice.mail, &rcpts, &raw).await.unwrap_err();
    assert_eq!(err.kind, Kind::Refused, "{err}");
    assert!(err.message.contains("550") && err.message.contains("nosuchuser@example.test"), "{err}");
    // Bad requests never reach the server.
    let err = viaduc::backend::smtp::send(&smtp, &tls, &alice, &alice.mail, &[], &raw).await.unwrap_err();
    assert_eq!(err.kind, Kind::Malformed, "{err}");
    let err = viaduc::backend::smtp::send(&smtp, &tls, &alice, &alice.mail, &["not an address".into()], &raw)
        .await
        .unwrap_err();
    assert!(matches!(err.kind, Kind::Refused | Kind::Malformed), "{err}");
}

#[tokio::test]
async fn dead_pooled_sessions_are_replaced() {
    let stack = stack!();
    // carol: no other test uses her, so kicking her sessions disturbs nobody.
    let p = stack.principal("carol").await;
    let pool = stack.pool();
    let store = MailStore::new(pool.clone());
    store.mailbox_status(&p, "INBOX").await.unwrap();
    assert_eq!((pool.logins(), pool.idle_count()), (1, 1));
    // The server drops the idle connection (as on a restart or an admin kick).
    let conf = format!("{}/dovecot/dovecot.conf", stack.var("STATE_DIR"));
    let kicked = std::process::Command::new("doveadm").args(["-c", &conf, "kick", "carol"]).output();
    match kicked {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!("doveadm kick unavailable ({other:?}): skipping");
            return;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let inbox = store.mailbox_status(&p, "INBOX").await.unwrap();
    assert!(inbox.uid_validity > 0);
    assert_eq!(pool.logins(), 2, "the dead session was replaced by a new login");
    assert_eq!(pool.idle_count(), 1);
    store.mailbox_status(&p, "INBOX").await.unwrap();
    assert_eq!(pool.logins(), 2);
}

/// Dovecot ends a session whose selected mailbox another client deleted (`* BYE Selected mailbox was deleted`) only
/// after carrying out the next command: an APPEND sent on such a pooled session is stored although the session
/// dies before its tagged answer. It must not be sent a second time on the new session (the draft was saved twice).
#[tokio::test]
async fn append_on_a_session_whose_mailbox_was_deleted_is_not_repeated() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let other = MailStore::new(stack.pool());
    let (doomed, target) = (unique("doomed"), unique("append-target"));
    other.create_mailbox(&p, &doomed).await.unwrap();
    other.create_mailbox(&p, &target).await.unwrap();
    let raw = build_mime(&outgoing("appended once", "x", 1_700_000_000));
    other.append(&p, &doomed, &raw, &[]).await.unwrap();
    // The pooled session of `store` selects `doomed`, then another client deletes it.
    store.search_uids(&p, &doomed, &Criteria::All).await.unwrap();
    other.delete_mailbox(&p, &doomed).await.unwrap();
    store.append(&p, &target, &raw, &[]).await.unwrap();
    let uids = other.search_uids(&p, &target, &Criteria::All).await.unwrap();
    other.delete_mailbox(&p, &target).await.unwrap();
    assert_eq!(uids.len(), 1, "the message was appended {} times", uids.len());
}

#[tokio::test]
async fn acl_sharing_between_users() {
    let stack = stack!();
    let alice = stack.principal("alice").await;
    let bob = stack.principal("bob").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("acl");
    store.create_mailbox(&alice, &mbox).await.unwrap();
    store.append(&alice, &mbox, &build_mime(&outgoing("shared item", "x", 1_700_000_000)), &[]).await.unwrap();
    assert!(store.my_rights(&alice, &mbox).await.unwrap().contains('a'));
    store.set_acl(&alice, &mbox, "bob", "lrs").await.unwrap();
    let acl = store.get_acl(&alice, &mbox).await.unwrap();
    assert!(acl.iter().any(|(id, r)| id == "bob" && r == "lrs"), "{acl:?}");
    // bob sees it in the other users' namespace and can read it, not change it.
    let shared_name = format!("shared/alice/{mbox}");
    let boxes = store.list_mailboxes(&bob).await.unwrap();
    let seen = boxes.iter().find(|b| b.name == shared_name).unwrap_or_else(|| panic!("{shared_name} not in {boxes:?}"));
    assert_eq!(seen.namespace, NamespaceKind::OtherUsers);
    assert_eq!(store.my_rights(&bob, &shared_name).await.unwrap(), "lrs");
    let uids = store.search_uids(&bob, &shared_name, &Criteria::All).await.unwrap();
    assert_eq!(uids.len(), 1);
    // Without the rights the server would ignore these silently; the store says so.
    let err = store.delete_messages(&bob, &shared_name, &uids).await.unwrap_err();
    assert_eq!(err.kind, Kind::AccessDenied, "{err}");
    let err = store.set_flags(&bob, &shared_name, uids[0], &["\\Flagged"], &[], None).await.unwrap_err();
    assert_eq!(err.kind, Kind::AccessDenied, "{err}");
    let err = store.set_flags_many(&bob, &shared_name, &uids, &["Work"], &[], None).await.unwrap_err();
    assert_eq!(err.kind, Kind::AccessDenied, "{err}");
    // \Seen is allowed with the s right.
    store.set_flags(&bob, &shared_name, uids[0], &["\\Seen"], &[], None).await.unwrap();
    // With t (delete flag) but no e (expunge): the flag is set, the expunge silently skipped; reported.
    store.set_acl(&alice, &mbox, "bob", "lrst").await.unwrap();
    // (A new session: Dovecot caches rights per session for acl_cache_secs.)
    let fresh = MailStore::new(stack.pool());
    let err = fresh.delete_messages(&bob, &shared_name, &uids).await.unwrap_err();
    assert_eq!(err.kind, Kind::AccessDenied, "{err}");
    assert!(err.message.contains("could not be deleted"), "{err}");
    assert_eq!(store.search_uids(&alice, &mbox, &Criteria::All).await.unwrap().len(), 1);
    assert!(store.set_acl(&alice, &mbox, "bob", "l r").await.is_err());
    store.delete_acl(&alice, &mbox, "bob").await.unwrap();
    assert!(!store.get_acl(&alice, &mbox).await.unwrap().iter().any(|(id, _)| id == "bob"));
    store.delete_mailbox(&alice, &mbox).await.unwrap();
}

/// A pooled session keeps its mailbox selected between requests and the next read skips SELECT/EXAMINE; what
/// other sessions did meanwhile must still show: new messages (not yet in that session's view), flag changes,
/// expunges, and a mailbox renamed away and re-created under the same name (another UIDVALIDITY).
#[tokio::test]
async fn reads_on_a_kept_selection_see_other_sessions() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let other = MailStore::new(stack.pool()); // a second pool: a different IMAP session
    let mbox = unique("keep");
    store.create_mailbox(&p, &mbox).await.unwrap();
    let (uv, u1) = store.append(&p, &mbox, &build_mime(&outgoing("one", "1", 1_700_000_001)), &[]).await.unwrap();
    let (_, u2) = store.append(&p, &mbox, &build_mime(&outgoing("two", "2", 1_700_000_002)), &[]).await.unwrap();

    // First read selects the mailbox; the session goes back to the pool with it selected.
    let first = store.fetch_messages_in(&p, &mbox, Some(uv), &[u1], true).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(String::from_utf8_lossy(&first[0].raw).contains("Subject: one"));
    let logins = store.pool().logins();

    // Changes through another session, then reads through the kept selection.
    let (_, u3) = other.append(&p, &mbox, &build_mime(&outgoing("three", "3", 1_700_000_003)), &[]).await.unwrap();
    let new = store.fetch_messages_in(&p, &mbox, Some(uv), &[u3], true).await.unwrap();
    assert_eq!(new.len(), 1, "a message appended by another session must be found");
    assert!(String::from_utf8_lossy(&new[0].raw).contains("Subject: three"));
    let m = other.set_flags(&p, &mbox, u1, &["\\Flagged"], &[], None).await.unwrap();
    let sums = store.fetch_summaries_in(&p, &mbox, Some(uv), &[u1, u3], false).await.unwrap();
    assert_eq!(sums.iter().map(|s| s.uid).collect::<Vec<_>>(), vec![u1, u3]);
    assert!(sums[0].is_flagged() && sums[0].modseq == m, "{sums:?}");
    assert_eq!(sums[1].subject.as_deref(), Some("three"));
    let light = store.fetch_summaries_in(&p, &mbox, Some(uv), &[u1], true).await.unwrap();
    assert!(light[0].is_flagged() && light[0].modseq == m && light[0].subject.is_none());
    other.delete_messages(&p, &mbox, &[u2]).await.unwrap();
    let gone = store.fetch_messages_in(&p, &mbox, Some(uv), &[u2, u3], true).await.unwrap();
    assert_eq!(gone.iter().map(|m| m.summary.uid).collect::<Vec<_>>(), vec![u3], "an expunged message is gone");
    assert_eq!(store.pool().logins(), logins, "the pooled session is reused throughout");

    // Renamed away and re-created: the kept selection is the old mailbox, with the old UIDVALIDITY.
    let moved = unique("keep-moved");
    other.rename_mailbox(&p, &mbox, &moved).await.unwrap();
    other.create_mailbox(&p, &mbox).await.unwrap();
    let (uv2, n1) = other.append(&p, &mbox, &build_mime(&outgoing("fresh", "f", 1_700_000_005)), &[]).await.unwrap();
    assert_ne!(uv2, uv);
    let fresh = store.fetch_messages_in(&p, &mbox, Some(uv2), &[n1], true).await.unwrap();
    assert_eq!(fresh.len(), 1);
    assert!(String::from_utf8_lossy(&fresh[0].raw).contains("Subject: fresh"));
    store.delete_mailbox(&p, &mbox).await.unwrap();
    store.delete_mailbox(&p, &moved).await.unwrap();
}

/// The watch connection of EWS streaming (NOTIFY, and IDLE as with a server without NOTIFY) wakes up for a
/// message appended, flagged and expunged by another connection, and not otherwise.
#[tokio::test]
async fn watcher_reports_changes_with_notify_and_idle() {
    use std::time::Duration;
    use viaduc::backend::imap::watch::{Mode, Scope, Watcher};
    let stack = stack!();
    let p = stack.principal("alice").await;
    let store = MailStore::new(stack.pool());
    let mbox = unique("watch");
    store.create_mailbox(&p, &mbox).await.unwrap();
    let config = stack.imap_config();
    for (use_notify, scope) in [
        (true, Scope::Mailboxes(vec![mbox.clone(), "INBOX".into()])),
        (true, Scope::Personal),
        (false, Scope::Mailboxes(vec![mbox.clone()])),
    ] {
        let (mut w, full) =
            Watcher::open_with(&config, &stack.tls(), &p.login, p.password(), &scope, use_notify).await.unwrap();
        assert_eq!(matches!(w.mode(), Mode::Notify { .. }), use_notify, "{scope:?}");
        assert!(full, "{scope:?}: every folder covered");
        // Nothing happens: no wake-up.
        assert!(tokio::time::timeout(Duration::from_millis(700), w.changed()).await.is_err(), "{scope:?}");
        let (_, uid) =
            store.append(&p, &mbox, &build_mime(&outgoing("Watched", "x", 1_700_000_000)), &[]).await.unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(5), w.changed()).await;
        assert!(matches!(woke, Ok(Ok(()))), "{scope:?}: append not reported: {woke:?}");
        // Drain what the append caused (Dovecot may report it in more than one response).
        while tokio::time::timeout(Duration::from_millis(700), w.changed()).await.is_ok() {}
        store.set_flags(&p, &mbox, uid, &["\\Flagged"], &[], None).await.unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(5), w.changed()).await;
        assert!(matches!(woke, Ok(Ok(()))), "{scope:?}: flag change not reported: {woke:?}");
        while tokio::time::timeout(Duration::from_millis(700), w.changed()).await.is_ok() {}
        store.delete_messages(&p, &mbox, &[uid]).await.unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(5), w.changed()).await;
        assert!(matches!(woke, Ok(Ok(()))), "{scope:?}: expunge not reported: {woke:?}");
        w.close().await;
    }
    store.delete_mailbox(&p, &mbox).await.unwrap();
}

#[tokio::test]
async fn message_cache_serves_bodies_but_never_stale_flags_or_expunged_messages() {
    let stack = stack!();
    let p = stack.principal("alice").await;
    let cached = MailStore::new(ImapPool::new(ImapConfig { message_cache_mib: 8, ..stack.imap_config() }, stack.tls()));
    // Another client of the same mailbox (no cache), changing it behind the cached store's back.
    let other = MailStore::new(stack.pool());
    let mbox = unique("cache");
    other.create_mailbox(&p, &mbox).await.unwrap();
    let raw = build_mime(&outgoing("Cached", "the body", 1_700_000_000));
    let (uv, uid) = other.append(&p, &mbox, &raw, &[]).await.unwrap();

    let first = cached.fetch_messages_in(&p, &mbox, Some(uv), &[uid], true).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(&first[0].raw[..], &raw[..]);
    assert!(cached.cached_message_bytes() >= raw.len(), "the message was kept");

    // A flag set by the other client shows at once, with its new MODSEQ; the body comes from the cache.
    let modseq = other.set_flags(&p, &mbox, uid, &["\\Flagged"], &[], None).await.unwrap();
    let second = cached.fetch_messages_in(&p, &mbox, Some(uv), &[uid], true).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(second[0].summary.is_flagged());
    assert_eq!(second[0].summary.modseq, modseq);
    assert_eq!(&second[0].raw[..], &raw[..]);

    // Another UIDVALIDITY is another message: nothing is served for it.
    assert!(cached.fetch_messages_in(&p, &mbox, Some(uv.wrapping_add(1)), &[uid], true).await.unwrap().is_empty());

    // Expunged by the other client: gone, although its bytes are still cached.
    other.delete_messages(&p, &mbox, &[uid]).await.unwrap();
    let third = cached.fetch_messages_in(&p, &mbox, Some(uv), &[uid], true).await.unwrap();
    assert!(third.is_empty(), "an expunged message is not served from the cache");
    other.delete_mailbox(&p, &mbox).await.unwrap();
}
