//! Request/response tests of every EWS operation against the in-memory store. Requests come from
//! `protocol-fixtures/ews/` (exchangelib 5.6 captures) or are built here after the MS-OXWS* examples.

use super::*;
use crate::ews::store::{Addr, MemStore, MsgSummary};
use crate::ews::xml::{Element, NS_M, NS_SOAP, NS_T, parse};

const ME: &str = "user@example.com";

fn ids() -> IdCodec {
    IdCodec::new([42u8; 32])
}

fn fixture(name: &str) -> String {
    let path = format!("{}/protocol-fixtures/ews/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const PLAIN: &str = "From: Bob Brown <bob@example.test>\r\nTo: user@example.com\r\nSubject: Welcome to the test stack\r\nDate: Mon, 13 Nov 2023 10:00:00 +0000\r\nMessage-ID: <welcome@example.test>\r\nImportance: high\r\n\r\nHello!\r\n\r\nThis is a plain text message.\r\n";

const WITH_ATTACHMENT: &str = "From: Carol Clark <carol@example.test>\r\nTo: user@example.com\r\nCc: bob@example.test\r\nSubject: Quarterly report (with attachment)\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <report@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Please find the <b>quarterly report</b> attached.</p></body></html>\r\n--b1\r\nContent-Type: text/csv; name=\"numbers.csv\"\r\nContent-Disposition: attachment; filename=\"numbers.csv\"\r\n\r\nid,value\r\n1,42\r\n--b1--\r\n";

const REPLY: &str = "From: Bob Brown <bob@example.test>\r\nTo: user@example.com\r\nSubject: Re: Welcome to the test stack\r\nDate: Wed, 15 Nov 2023 10:00:00 +0000\r\nMessage-ID: <reply@example.test>\r\n\r\nA reply.\r\n";

fn addr(name: &str, email: &str) -> Addr {
    Addr { name: Some(name.into()), email: email.into() }
}

/// INBOX with three messages (the first read and flagged), the special-use folders, Projects/Gateway.
fn store() -> MemStore {
    let mut s = MemStore::standard();
    s.add_folder("Projects", None);
    s.add_folder("Projects/Gateway", None);
    let base = MsgSummary { to: vec![addr("User", ME)], ..Default::default() };
    s.add_message(
        "INBOX",
        MsgSummary {
            subject: Some("Welcome to the test stack".into()),
            from: Some(addr("Bob Brown", "bob@example.test")),
            flags: vec!["\\Seen".into(), "\\Flagged".into()],
            internal_date: 1_699_869_600,
            date: Some(1_699_869_600),
            message_id: Some("<welcome@example.test>".into()),
            ..base.clone()
        },
        PLAIN.as_bytes(),
    );
    s.add_message(
        "INBOX",
        MsgSummary {
            subject: Some("Quarterly report (with attachment)".into()),
            from: Some(addr("Carol Clark", "carol@example.test")),
            cc: vec![Addr { name: None, email: "bob@example.test".into() }],
            internal_date: 1_699_956_000,
            has_attachments: true,
            ..base.clone()
        },
        WITH_ATTACHMENT.as_bytes(),
    );
    s.add_message(
        "INBOX",
        MsgSummary {
            subject: Some("Re: Welcome to the test stack".into()),
            from: Some(addr("Bob Brown", "bob@example.test")),
            internal_date: 1_700_042_400,
            ..base
        },
        REPLY.as_bytes(),
    );
    s
}

async fn run(store: MemStore, body: &str) -> (u16, Element, MemStore) {
    let (status, xml, store) = process(ids(), ME, body.as_bytes(), store).await;
    let root = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("response is not XML ({e}): {xml}"));
    (status, root, store)
}

/// The response messages of a response envelope.
fn messages(root: &Element) -> Vec<Element> {
    let body = root.child(NS_SOAP, "Body").expect("Body");
    let resp = body.children.first().expect("response element");
    resp.m("ResponseMessages").expect("ResponseMessages").children.clone()
}

fn code(m: &Element) -> &str {
    m.m("ResponseCode").map(|c| c.text.as_str()).unwrap_or("")
}

fn envelope(op: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{NS_M}" xmlns:t="{NS_T}"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

fn svi(root: &Element) -> &Element {
    root.child(NS_SOAP, "Header").and_then(|h| h.t("ServerVersionInfo")).expect("ServerVersionInfo in every response")
}

/// Every `t:Message` under an element, depth-first.
fn all_named<'a>(el: &'a Element, name: &str, out: &mut Vec<&'a Element>) {
    for c in &el.children {
        if c.name == name {
            out.push(c);
        }
        all_named(c, name, out);
    }
}

fn named<'a>(el: &'a Element, name: &str) -> Vec<&'a Element> {
    let mut v = Vec::new();
    all_named(el, name, &mut v);
    v
}

async fn inbox_item_ids(s: MemStore) -> (Vec<(String, String)>, MemStore) {
    let req = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (_, root, s) = run(s, &req).await;
    let ids = named(&root, "Message")
        .iter()
        .map(|m| {
            let id = m.t("ItemId").unwrap();
            (id.attr("Id").unwrap().to_string(), m.t_text("Subject").unwrap_or("").to_string())
        })
        .collect();
    (ids, s)
}

#[tokio::test]
async fn convert_id_probe_answers_with_version_even_on_error() {
    let (status, root, _) = run(MemStore::default(), &fixture("convertid-probe.exchangelib.request.xml")).await;
    assert_eq!(status, 200);
    assert_eq!(svi(&root).attr("Version"), Some("Exchange2016"));
    assert_eq!(svi(&root).attr("MajorVersion"), Some("15"));
    let msgs = messages(&root);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].name, "ConvertIdResponseMessage");
    assert_eq!(msgs[0].attr("ResponseClass"), Some("Error"));
    assert_eq!(code(&msgs[0]), "ErrorInvalidIdMalformed");
}

#[tokio::test]
async fn unknown_operation_is_an_ews_error_not_a_fault() {
    let (status, root, _) = run(MemStore::default(), &envelope("<m:GetUserOofSettingsRequest/>")).await;
    assert_eq!(status, 200);
    let msgs = messages(&root);
    assert_eq!(msgs[0].name, "GetUserOofSettingsRequestResponseMessage");
    assert_eq!(code(&msgs[0]), "ErrorInvalidRequest");
    assert!(svi(&root).attr("Version").is_some());
}

#[tokio::test]
async fn malformed_requests_get_a_soap_fault() {
    for body in [
        "<not xml",
        "<a/>",
        "",
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><x/></s:Body></s:Envelope>",
    ] {
        let (status, xml, _) = process(ids(), ME, body.as_bytes(), MemStore::default()).await;
        assert_eq!(status, 500, "{body}");
        let root = parse(xml.as_bytes()).unwrap();
        let fault = root.child(NS_SOAP, "Body").unwrap().child(NS_SOAP, "Fault").unwrap();
        assert_eq!(fault.child_local("faultcode").unwrap().text, "a:ErrorSchemaValidation");
        assert!(svi(&root).attr("Version").is_some());
    }
}

#[tokio::test]
async fn get_folder_root_and_inbox() {
    let (status, root, _) = run(store(), &fixture("getfolder-root.exchangelib.request.xml")).await;
    assert_eq!(status, 200);
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "NoError");
    let f = msgs[0].m("Folders").unwrap().t("Folder").unwrap();
    assert!(f.t("FolderId").unwrap().attr("Id").is_some());
    assert_eq!(f.t_text("DistinguishedFolderId"), Some("root"));
    assert_eq!(f.t_text("ChildFolderCount"), Some("1"));
    assert!(f.t("EffectiveRights").is_some());

    let (_, root, _) = run(store(), &fixture("getfolder-inbox.exchangelib.request.xml")).await;
    let f = messages(&root)[0].m("Folders").unwrap().t("Folder").unwrap().clone();
    assert_eq!(f.t_text("DisplayName"), Some("Inbox"));
    assert_eq!(f.t_text("FolderClass"), Some("IPF.Note"));
    assert_eq!(f.t_text("TotalCount"), Some("3"));
    assert_eq!(f.t_text("UnreadCount"), Some("2"));
    assert_eq!(f.t_text("DistinguishedFolderId"), Some("inbox"));
    assert!(f.t("ParentFolderId").is_some());
}

#[tokio::test]
async fn get_folder_31_distinguished_gives_per_folder_errors() {
    let (status, root, _) = run(store(), &fixture("getfolder-distinguished-31.exchangelib.request.xml")).await;
    assert_eq!(status, 200);
    let msgs = messages(&root);
    assert_eq!(msgs.len(), 31);
    let req = parse(fixture("getfolder-distinguished-31.exchangelib.request.xml").as_bytes()).unwrap();
    let asked: Vec<String> =
        named(&req, "DistinguishedFolderId").iter().map(|d| d.attr("Id").unwrap().to_string()).collect();
    for (name, m) in asked.iter().zip(&msgs) {
        let expect_ok =
            ["inbox", "drafts", "sentitems", "deleteditems", "junkemail", "msgfolderroot"].contains(&name.as_str());
        assert_eq!(code(m) == "NoError", expect_ok, "{name}: {}", code(m));
        if !expect_ok {
            assert_eq!(code(m), "ErrorFolderNotFound", "{name}");
        }
    }
}

#[tokio::test]
async fn find_folder_deep_and_shallow() {
    let (_, root, _) = run(store(), &fixture("findfolder-deep-root.exchangelib.request.xml")).await;
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "NoError");
    let rf = msgs[0].m("RootFolder").unwrap();
    // msgfolderroot + 6 special + Projects + Projects/Gateway
    assert_eq!(rf.attr("TotalItemsInView"), Some("9"));
    assert_eq!(rf.attr("IncludesLastItemInRange"), Some("true"));
    let names: Vec<String> = named(rf, "DisplayName").iter().map(|d| d.text.clone()).collect();
    assert_eq!(names[0], "Top of Information Store");
    assert_eq!(names[1], "Inbox");
    assert!(names.contains(&"Gateway".to_string()));

    let req = envelope(
        r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned="3" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    let (_, root, _) = run(store(), &req).await;
    let rf = messages(&root)[0].m("RootFolder").unwrap().clone();
    assert_eq!(rf.attr("TotalItemsInView"), Some("7"));
    assert_eq!(rf.attr("IndexedPagingOffset"), Some("3"));
    assert_eq!(rf.attr("IncludesLastItemInRange"), Some("false"));
    assert_eq!(named(&rf, "Folder").len(), 3);

    let req = envelope(
        r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:Restriction><t:And><t:IsEqualTo><t:FieldURI FieldURI="folder:FolderClass"/><t:FieldURIOrConstant><t:Constant Value="IPF.Note"/></t:FieldURIOrConstant></t:IsEqualTo><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="folder:DisplayName"/><t:Constant Value="gate"/></t:Contains></t:And></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    let (_, root, _) = run(store(), &req).await;
    let names: Vec<String> = named(&root, "DisplayName").iter().map(|d| d.text.clone()).collect();
    assert_eq!(names, vec!["Gateway"]);
    let req = envelope(
        r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:Restriction><t:IsGreaterThan><t:FieldURI FieldURI="folder:TotalCount"/><t:FieldURIOrConstant><t:Constant Value="1"/></t:FieldURIOrConstant></t:IsGreaterThan></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    let (_, root, _) = run(store(), &req).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorUnsupportedQueryFilter");
}

#[tokio::test]
async fn find_item_paging_sort_and_restriction() {
    let (status, root, _) = run(store(), &fixture("finditem-inbox.exchangelib.request.xml")).await;
    assert_eq!(status, 200);
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let rf = m.m("RootFolder").unwrap();
    assert_eq!(rf.attr("TotalItemsInView"), Some("3"));
    let subjects: Vec<String> = named(rf, "Subject").iter().map(|s| s.text.clone()).collect();
    // Default order: newest first.
    assert_eq!(
        subjects,
        vec!["Re: Welcome to the test stack", "Quarterly report (with attachment)", "Welcome to the test stack"]
    );
    assert!(named(rf, "IsRead").is_empty(), "IdOnly + Subject only");

    let req = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="1" Offset="1" BasePoint="Beginning"/><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:Subject"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (_, root, _) = run(store(), &req).await;
    let rf = messages(&root)[0].m("RootFolder").unwrap().clone();
    assert_eq!(rf.attr("TotalItemsInView"), Some("2"));
    assert_eq!(rf.attr("IndexedPagingOffset"), Some("2"));
    assert_eq!(rf.attr("IncludesLastItemInRange"), Some("true"));
    let msg = named(&rf, "Message")[0].clone();
    assert_eq!(msg.t_text("Subject"), Some("Re: Welcome to the test stack"));
    assert_eq!(msg.t_text("IsRead"), Some("false"));
    assert_eq!(msg.t_text("ItemClass"), Some("IPM.Note"));
    assert_eq!(msg.t("From").unwrap().t("Mailbox").unwrap().t_text("EmailAddress"), Some("bob@example.test"));

    let req = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:Restriction><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="item:Subject"/><t:Constant Value="quarterly"/></t:Contains></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (_, root, _) = run(store(), &req).await;
    assert_eq!(messages(&root)[0].m("RootFolder").unwrap().attr("TotalItemsInView"), Some("1"));

    let req = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:Restriction><t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (status, root, _) = run(store(), &req).await;
    assert_eq!(status, 200);
    assert_eq!(code(&messages(&root)[0]), "ErrorUnsupportedQueryFilter");
}

#[tokio::test]
async fn find_item_fractional_paging() {
    // Three messages, newest first; 1/3 of the view starts at the second one.
    let req = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:FractionalPageItemView MaxEntriesReturned="1" Numerator="1" Denominator="3"/><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (status, root, _) = run(store(), &req).await;
    assert_eq!(status, 200);
    let rf = messages(&root)[0].m("RootFolder").unwrap().clone();
    assert_eq!(rf.attr("NumeratorOffset"), Some("2"));
    assert_eq!(rf.attr("AbsoluteDenominator"), Some("3"));
    assert_eq!(rf.attr("IncludesLastItemInRange"), Some("false"));
    assert!(rf.attr("IndexedPagingOffset").is_none());
    let subjects: Vec<String> = named(&rf, "Subject").iter().map(|s| s.text.clone()).collect();
    assert_eq!(subjects, vec!["Quarterly report (with attachment)"]);

    let bad = envelope(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:FractionalPageItemView MaxEntriesReturned="1" Numerator="4" Denominator="3"/><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let (status, root, _) = run(store(), &bad).await;
    assert_eq!(status, 200);
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidRequest");
}

#[tokio::test]
async fn get_item_body_attachments_and_mime() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let report = &ids_.iter().find(|(_, s)| s.starts_with("Quarterly")).unwrap().0;
    let req = envelope(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:BodyType>Text</t:BodyType><t:AdditionalProperties><t:FieldURI FieldURI="item:MimeContent"/><t:FieldURI FieldURI="message:InternetMessageId"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{report}"/></m:ItemIds></m:GetItem>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let msg = m.m("Items").unwrap().t("Message").unwrap();
    let body = msg.t("Body").unwrap();
    assert_eq!(body.attr("BodyType"), Some("Text"));
    assert!(body.text.contains("Please find the quarterly report attached."), "{}", body.text);
    let att = msg.t("Attachments").unwrap().t("FileAttachment").unwrap();
    assert_eq!(att.t_text("Name"), Some("numbers.csv"));
    assert_eq!(msg.t_text("HasAttachments"), Some("true"));
    assert_eq!(msg.t("CcRecipients").unwrap().t("Mailbox").unwrap().t_text("EmailAddress"), Some("bob@example.test"));
    let mime =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, msg.t_text("MimeContent").unwrap()).unwrap();
    assert_eq!(mime, WITH_ATTACHMENT.as_bytes());

    // GetAttachment returns the content.
    let aid = att.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let fa = m.m("Attachments").unwrap().t("FileAttachment").unwrap();
    let content =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, fa.t_text("Content").unwrap()).unwrap();
    assert_eq!(String::from_utf8_lossy(&content).replace("\r\n", "\n"), "id,value\n1,42");

    // HTML body for Best.
    let req = envelope(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{report}"/></m:ItemIds></m:GetItem>"#
    ));
    let (_, root, _) = run(s, &req).await;
    let body = named(&root, "Body").into_iter().find(|b| b.ns.as_deref() == Some(NS_T)).unwrap().clone();
    assert_eq!(body.attr("BodyType"), Some("HTML"));
    assert!(body.text.contains("<b>quarterly report</b>"));
}

#[tokio::test]
async fn tampered_and_foreign_ids() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let mut raw = crate::ids::IdCodec::raw(&ids_[0].0).unwrap();
    let n = raw.len();
    raw[n - 1] ^= 0x55;
    let bad = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw);
    let foreign = ids().item_id(&crate::ids::ItemId {
        mailbox: "other@example.com".into(),
        folder: crate::ids::FolderRef::Name("INBOX".into()),
        uid_validity: 1,
        uid: 1,
    });
    let req = envelope(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{bad}"/><t:ItemId Id="garbage!"/><t:ItemId Id="{foreign}"/><t:ItemId Id="{}"/></m:ItemIds></m:GetItem>"#,
        ids_[0].0
    ));
    let (status, root, _) = run(s, &req).await;
    assert_eq!(status, 200);
    let codes: Vec<String> = messages(&root).iter().map(|m| code(m).to_string()).collect();
    assert_eq!(codes, vec!["ErrorInvalidIdMalformed", "ErrorInvalidIdMalformed", "ErrorAccessDenied", "NoError"]);
}

#[tokio::test]
async fn update_item_read_flag_categories() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let (reply_id, _) = ids_.iter().find(|(_, s)| s.starts_with("Re:")).unwrap().clone();
    let req = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="AutoResolve" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{reply_id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>1</t:IsRead></t:Message></t:SetItemField><t:SetItemField><t:ExtendedFieldURI PropertyTag="0x1090" PropertyType="Integer"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1090" PropertyType="Integer"/><t:Value>2</t:Value></t:ExtendedProperty></t:Message></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="item:Categories"/><t:Message><t:Categories><t:String>Work</t:String></t:Categories></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    assert_eq!(m.m("ConflictResults").unwrap().t_text("Count"), Some("0"));
    let flags = &s.folders["INBOX"].messages[&3].summary.flags;
    assert!(
        flags.contains(&"\\Seen".to_string())
            && flags.contains(&"\\Flagged".to_string())
            && flags.contains(&"Work".to_string()),
        "{flags:?}"
    );
    let new_ck =
        m.m("Items").unwrap().t("Message").unwrap().t("ItemId").unwrap().attr("ChangeKey").unwrap().to_string();

    // Flag via item:Flag (Exchange 2013+) off again, and a stale change key with NeverOverwrite conflicts.
    let req = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="NeverOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{reply_id}" ChangeKey="{new_ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Flag"/><t:Message><t:Flag><t:FlagStatus>NotFlagged</t:FlagStatus></t:Flag></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert!(!s.folders["INBOX"].messages[&3].summary.has_flag("\\Flagged"));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorIrresolvableConflict");

    // Unsupported field: per-item error.
    let req = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="AutoResolve"><m:ItemChanges><t:ItemChange><t:ItemId Id="{reply_id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>x</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let (_, root, _) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidPropertyUpdateSentMessage");
}

#[tokio::test]
async fn delete_move_copy_and_mark_all_read() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let projects = {
        let (_, root, _) = run(
            store(),
            &envelope(r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#),
        )
        .await;
        named(&root, "Folder")
            .iter()
            .find(|f| f.t_text("DisplayName") == Some("Projects"))
            .unwrap()
            .t("FolderId")
            .unwrap()
            .attr("Id")
            .unwrap()
            .to_string()
    };
    let req = envelope(&format!(
        r#"<m:CopyItem><m:ToFolderId><t:FolderId Id="{projects}"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:CopyItem>"#,
        ids_[0].0
    ));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.folders["Projects"].messages.len(), 1);
    assert!(named(&root, "ItemId").len() == 1);

    let req = envelope(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="archive"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:MoveItem>"#,
        ids_[1].0
    ));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.folders["Archive"].messages.len(), 1);
    assert_eq!(s.folders["INBOX"].messages.len(), 2);

    // The moved item's old id is gone.
    let req = envelope(&format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems"><m:ItemIds><t:ItemId Id="{}"/><t:ItemId Id="{}"/></m:ItemIds></m:DeleteItem>"#,
        ids_[1].0, ids_[2].0
    ));
    let (_, root, s) = run(s, &req).await;
    let codes: Vec<String> = messages(&root).iter().map(|m| code(m).to_string()).collect();
    assert_eq!(codes, vec!["ErrorItemNotFound", "NoError"]);
    assert_eq!(s.folders["Trash"].messages.len(), 1);
    assert_eq!(s.folders["INBOX"].messages.len(), 1);

    let req = envelope(
        r#"<m:MarkAllItemsAsRead><m:ReadFlag>true</m:ReadFlag><m:SuppressReadReceipts>true</m:SuppressReadReceipts><m:FolderIds><t:DistinguishedFolderId Id="deleteditems"/></m:FolderIds></m:MarkAllItemsAsRead>"#,
    );
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.folders["Trash"].info.unseen, 0);

    let req = envelope(
        r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="false"><m:FolderIds><t:DistinguishedFolderId Id="deleteditems"/></m:FolderIds></m:EmptyFolder>"#,
    );
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert!(s.folders["Trash"].messages.is_empty());

    let req = envelope(
        r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:EmptyFolder>"#,
    );
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorCannotEmptyFolder");
    assert!(s.folders.contains_key("Projects"));
}

#[tokio::test]
async fn folder_create_rename_move_delete() {
    let req = envelope(
        r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Receipts</t:DisplayName></t:Folder><t:Folder><t:DisplayName>a/b</t:DisplayName></t:Folder><t:CalendarFolder><t:DisplayName>Cal</t:DisplayName></t:CalendarFolder></m:Folders></m:CreateFolder>"#,
    );
    let (_, root, s) = run(store(), &req).await;
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "NoError");
    assert_eq!(code(&msgs[1]), "ErrorInvalidRequest");
    assert_eq!(code(&msgs[2]), "ErrorInvalidFolderTypeForOperation");
    assert!(s.folders.contains_key("INBOX/Receipts"));
    let fid = msgs[0].m("Folders").unwrap().t("Folder").unwrap().t("FolderId").unwrap().attr("Id").unwrap().to_string();

    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorFolderExists");

    let req = envelope(&format!(
        r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id="{fid}"/><t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Bills</t:DisplayName></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    assert!(s.folders.contains_key("INBOX/Bills") && !s.folders.contains_key("INBOX/Receipts"));
    let fid = m.m("Folders").unwrap().t("Folder").unwrap().t("FolderId").unwrap().attr("Id").unwrap().to_string();

    let req = envelope(&format!(
        r#"<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="msgfolderroot"/></m:ToFolderId><m:FolderIds><t:FolderId Id="{fid}"/></m:FolderIds></m:MoveFolder>"#
    ));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert!(s.folders.contains_key("Bills"));
    let fid = messages(&root)[0]
        .m("Folders")
        .unwrap()
        .t("Folder")
        .unwrap()
        .t("FolderId")
        .unwrap()
        .attr("Id")
        .unwrap()
        .to_string();

    let req = envelope(&format!(
        r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="{fid}"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:DeleteFolder>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let codes: Vec<String> = messages(&root).iter().map(|m| code(m).to_string()).collect();
    assert_eq!(codes, vec!["NoError", "ErrorDeleteDistinguishedFolder"]);
    assert!(!s.folders.contains_key("Bills"));
}

#[tokio::test]
async fn convert_id_round_trip() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let req = envelope(&format!(
        r#"<m:ConvertId DestinationFormat="HexEntryId"><m:SourceIds><t:AlternateId Format="EwsId" Id="{}" Mailbox="{ME}"/></m:SourceIds></m:ConvertId>"#,
        ids_[0].0
    ));
    let (_, root, s) = run(s, &req).await;
    let alt = messages(&root)[0].m("AlternateId").unwrap().clone();
    assert_eq!(alt.attr("Format"), Some("HexEntryId"));
    let hex = alt.attr("Id").unwrap();
    let req = envelope(&format!(
        r#"<m:ConvertId DestinationFormat="EwsId"><m:SourceIds><t:AlternateId Format="HexEntryId" Id="{hex}" Mailbox="{ME}"/></m:SourceIds></m:ConvertId>"#
    ));
    let (_, root, _) = run(s, &req).await;
    assert_eq!(messages(&root)[0].m("AlternateId").unwrap().attr("Id"), Some(ids_[0].0.as_str()));
}

#[tokio::test]
async fn sync_folder_items_and_hierarchy() {
    let sync = |state: &str, max: u32| {
        envelope(&format!(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>{}<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"#,
            if state.is_empty() { String::new() } else { format!("<m:SyncState>{state}</m:SyncState>") }
        ))
    };
    let (_, root, s) = run(store(), &sync("", 2)).await;
    let m = messages(&root)[0].clone();
    assert_eq!(code(&m), "NoError");
    assert_eq!(m.m("IncludesLastItemInRange").unwrap().text, "false");
    assert_eq!(named(&m, "Create").len(), 2);
    let st = m.m("SyncState").unwrap().text.clone();
    let (_, root, mut s) = run(s, &sync(&st, 2)).await;
    let m = messages(&root)[0].clone();
    assert_eq!(named(&m, "Create").len(), 1);
    assert_eq!(m.m("IncludesLastItemInRange").unwrap().text, "true");
    let st = m.m("SyncState").unwrap().text.clone();
    // Change: mark #2 read, delete #1, add one.
    crate::ews::store::MailStore::set_flags(&mut s, "INBOX", &[2], &["\\Seen".into()], &[], None).await.unwrap();
    crate::ews::store::MailStore::delete_messages(&mut s, "INBOX", &[1]).await.unwrap();
    s.add_message(
        "INBOX",
        MsgSummary { subject: Some("new".into()), ..Default::default() },
        b"Subject: new\r\n\r\nx\r\n",
    );
    let (_, root, mut s) = run(s, &sync(&st, 10)).await;
    let m = messages(&root)[0].clone();
    assert_eq!(named(&m, "Delete").len(), 1);
    assert_eq!(named(&m, "Create").len(), 1);
    // Only the read state of #2 changed: ReadFlagChange (MS-OXWSSYNC), not Update.
    assert_eq!(named(&m, "Update").len(), 0);
    let rf = named(&m, "ReadFlagChange");
    assert_eq!(rf.len(), 1);
    assert_eq!(rf[0].t_text("IsRead"), Some("true"));
    assert!(rf[0].t("ItemId").unwrap().attr("ChangeKey").is_some());
    let st = m.m("SyncState").unwrap().text.clone();
    let (_, root, mut s2) = run(s.clone(), &sync(&st, 10)).await;
    let m = messages(&root)[0].clone();
    assert!(m.m("Changes").unwrap().children.is_empty());
    let st2 = m.m("SyncState").unwrap().text.clone();
    // Unread again: ReadFlagChange with IsRead false; read and flagged at once: Update.
    crate::ews::store::MailStore::set_flags(&mut s2, "INBOX", &[2], &[], &["\\Seen".into()], None).await.unwrap();
    crate::ews::store::MailStore::set_flags(&mut s2, "INBOX", &[3], &["\\Seen".into(), "\\Flagged".into()], &[], None)
        .await
        .unwrap();
    let (_, root, _) = run(s2, &sync(&st2, 10)).await;
    let m = messages(&root)[0].clone();
    let rf = named(&m, "ReadFlagChange");
    assert_eq!(rf.len(), 1);
    assert_eq!(rf[0].t_text("IsRead"), Some("false"));
    assert_eq!(named(&m, "Update").len(), 1);
    // A state without the flags extension (as issued before it existed) is accepted and gives Update.
    let old = {
        let ids = ids();
        let mut parsed = ids.parse_item_sync_state(&st).unwrap();
        assert!(parsed.flags.is_some());
        parsed.flags = None;
        ids.item_sync_state(&parsed)
    };
    crate::ews::store::MailStore::set_flags(&mut s, "INBOX", &[2], &[], &["\\Seen".into()], None).await.unwrap();
    let (_, root, s) = run(s, &sync(&old, 10)).await;
    let m = messages(&root)[0].clone();
    assert_eq!(code(&m), "NoError");
    assert_eq!(named(&m, "Update").len(), 1);
    assert_eq!(named(&m, "ReadFlagChange").len(), 0);
    // A bad state is refused per message.
    let (_, root, s) = run(s, &sync("AAAA", 10)).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidSyncStateData");

    let hier = |state: &str| {
        envelope(&format!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>{}</m:SyncFolderHierarchy>"#,
            if state.is_empty() { String::new() } else { format!("<m:SyncState>{state}</m:SyncState>") }
        ))
    };
    let (_, root, mut s) = run(s, &hier("")).await;
    let m = messages(&root)[0].clone();
    assert_eq!(named(&m, "Create").len(), 9);
    let st = m.m("SyncState").unwrap().text.clone();
    crate::ews::store::MailStore::rename_folder(&mut s, "Projects/Gateway", "Projects/Bridge").await.unwrap();
    s.add_folder("Later", None);
    let (_, root, _) = run(s, &hier(&st)).await;
    let m = messages(&root)[0].clone();
    // Name-based ids: a rename is a delete + create.
    assert_eq!(named(&m, "Create").len(), 2);
    assert_eq!(named(&m, "Delete").len(), 1);
}

#[tokio::test]
async fn versions_are_echoed() {
    let body = fixture("convertid-probe.exchangelib.request.xml").replace("Exchange2016", "Exchange2010_SP2");
    let (_, root, _) = run(MemStore::default(), &body).await;
    assert_eq!(svi(&root).attr("Version"), Some("Exchange2010_SP2"));
    let body = fixture("convertid-probe.exchangelib.request.xml")
        .replace("<t:RequestServerVersion Version=\"Exchange2016\"/>", "");
    let (_, root, _) = run(MemStore::default(), &body).await;
    assert_eq!(svi(&root).attr("Version"), Some("Exchange2016"));
}

#[tokio::test]
async fn create_item_save_send_and_send_item() {
    let save = envelope(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Draft from EWS</t:Subject><t:Body BodyType="HTML">&lt;p&gt;Hi &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients><t:Attachments><t:FileAttachment><t:Name>a.txt</t:Name><t:ContentType>text/plain</t:ContentType><t:Content>aGVsbG8=</t:Content></t:FileAttachment></t:Attachments></t:Message></m:Items></m:CreateItem>"#,
    );
    let (_, root, s) = run(store(), &save).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    let id = m.m("Items").unwrap().t("Message").unwrap().t("ItemId").unwrap().attr("Id").unwrap().to_string();
    let draft = s.folders["Drafts"].messages.values().next().unwrap();
    assert!(draft.summary.has_flag("\\Draft"));
    let parsed = crate::model::message::Message::from_mime(&draft.raw).unwrap();
    assert_eq!(parsed.subject.as_deref(), Some("Draft from EWS"));
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.from.unwrap().address, ME);

    let send = envelope(&format!(
        r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId></m:SendItem>"#
    ));
    let (_, root, s) = run(s, &send).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.submitted.len(), 1);
    assert_eq!(s.submitted[0].1, vec!["bob@example.test".to_string()]);
    assert!(s.folders["Drafts"].messages.is_empty());
    assert_eq!(s.folders["Sent"].messages.len(), 1);

    let mime = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        PLAIN.replace("To: user@example.com", "To: carol@example.test"),
    );
    let send_copy = envelope(&format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent></t:Message></m:Items></m:CreateItem>"#
    ));
    let (_, root, s) = run(s, &send_copy).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.submitted.len(), 2);
    assert_eq!(s.submitted[1].1, vec!["carol@example.test".to_string()]);
    assert_eq!(s.folders["Sent"].messages.len(), 2);

    let no_rcpt = envelope(
        r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#,
    );
    let (_, root, _) = run(s, &no_rcpt).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidRecipients");
}

#[tokio::test]
async fn object_ids_survive_renames() {
    let mut s = store();
    for (i, f) in s.folders.values_mut().enumerate() {
        f.info.guid = Some(format!("{i:032x}"));
    }
    let hier = |state: &str| {
        envelope(&format!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>{}</m:SyncFolderHierarchy>"#,
            if state.is_empty() { String::new() } else { format!("<m:SyncState>{state}</m:SyncState>") }
        ))
    };
    let (_, root, mut s) = run(s, &hier("")).await;
    let m = messages(&root)[0].clone();
    let st = m.m("SyncState").unwrap().text.clone();
    let before: Vec<String> = named(&m, "FolderId").iter().map(|f| f.attr("Id").unwrap().to_string()).collect();
    crate::ews::store::MailStore::rename_folder(&mut s, "Projects/Gateway", "Projects/Bridge").await.unwrap();
    let (_, root, _) = run(s, &hier(&st)).await;
    let m = messages(&root)[0].clone();
    assert_eq!(named(&m, "Create").len(), 0);
    assert_eq!(named(&m, "Delete").len(), 0);
    let updated = named(&m, "Update");
    assert_eq!(updated.len(), 1);
    let id = updated[0].t("Folder").unwrap().t("FolderId").unwrap().attr("Id").unwrap().to_string();
    assert!(before.contains(&id), "the renamed folder keeps its id");
}

#[tokio::test]
async fn mark_as_junk_and_copy_folder() {
    let (ids_, s) = inbox_item_ids(store()).await;
    let req = envelope(&format!(
        r#"<m:MarkAsJunk IsJunk="true" MoveItem="true"><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:MarkAsJunk>"#,
        ids_[0].0
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    assert!(m.m("MovedItemId").unwrap().attr("Id").is_some());
    let junk: Vec<_> = s.folders["Junk"].messages.values().collect();
    assert_eq!(junk.len(), 1);
    assert!(junk[0].summary.has_flag("$Junk"));

    let req = envelope(
        r#"<m:CopyFolder><m:ToFolderId><t:DistinguishedFolderId Id="archive"/></m:ToFolderId><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:CopyFolder>"#,
    );
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    assert_eq!(s.folders["Archive/Inbox"].messages.len(), 2);
}

#[tokio::test]
async fn resolve_names_from_the_directory() {
    use crate::model::directory::{DirectoryEntry, EntryKind};
    let entry = |name: &str, mail: &str, given: &str| DirectoryEntry {
        kind: EntryKind::Mailbox,
        dn: format!("uid={given},dc=example"),
        login: Some(given.to_lowercase()),
        display_name: name.into(),
        mail: mail.into(),
        given_name: Some(given.into()),
        surname: None,
        title: Some("Engineer".into()),
        department: None,
        office: None,
        phone: Some("+1 555".into()),
        mobile: None,
        manager_dn: None,
        members: Vec::new(),
    };
    let mut s = store();
    s.directory =
        vec![entry("Bob Brown", "bob@example.test", "Bob"), entry("Bobby Tables", "bobby@example.test", "Bobby")];
    let req = |q: &str| {
        envelope(&format!(
            r#"<m:ResolveNames ReturnFullContactData="true"><m:UnresolvedEntry>{q}</m:UnresolvedEntry></m:ResolveNames>"#
        ))
    };
    let (_, root, s) = run(s, &req("SMTP:bob@example.test")).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let res = m.m("ResolutionSet").unwrap();
    assert_eq!(res.attr("TotalItemsInView"), Some("1"));
    let r = res.t("Resolution").unwrap();
    assert_eq!(r.t("Mailbox").unwrap().t_text("Name"), Some("Bob Brown"));
    assert_eq!(r.t("Contact").unwrap().t_text("JobTitle"), Some("Engineer"));
    let (_, root, s) = run(s, &req("bob")).await;
    let m = &messages(&root)[0];
    assert_eq!(m.attr("ResponseClass"), Some("Warning"));
    assert_eq!(code(m), "ErrorNameResolutionMultipleResults");
    assert_eq!(m.m("ResolutionSet").unwrap().attr("TotalItemsInView"), Some("2"));
    let (_, root, _) = run(s, &req("nobody")).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorNameResolutionNoResults");
}

#[tokio::test]
async fn draft_edits_attachments_and_stale_ids() {
    let save = envelope(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>v1</t:Subject><t:Body BodyType="Text">first</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients><t:BccRecipients><t:Mailbox><t:EmailAddress>secret@example.test</t:EmailAddress></t:Mailbox></t:BccRecipients></t:Message></m:Items></m:CreateItem>"#,
    );
    let (_, root, s) = run(store(), &save).await;
    let id1 = named(&root, "ItemId")[0].attr("Id").unwrap().to_string();
    // Edit subject and body.
    let upd = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id1}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>v2</t:Subject></t:Message></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="item:Body"/><t:Message><t:Body BodyType="HTML">&lt;p&gt;second&lt;/p&gt;</t:Body></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let (_, root, s) = run(s, &upd).await;
    assert_eq!(code(&messages(&root)[0]), "NoError", "{:?}", messages(&root));
    let id2 = named(&root, "ItemId")[0].attr("Id").unwrap().to_string();
    assert_eq!(id1, id2, "UpdateItem returns the id the client sent");
    assert_eq!(s.folders["Drafts"].messages.len(), 1);
    // Attach a file using the *old* id, as exchangelib does.
    let att = envelope(&format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{id1}"/><m:Attachments><t:FileAttachment><t:Name>n.txt</t:Name><t:ContentType>text/plain</t:ContentType><t:Content>aGVsbG8=</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>"#
    ));
    let (_, root, s) = run(s, &att).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    let aid = m.m("Attachments").unwrap().t("FileAttachment").unwrap().t("AttachmentId").unwrap().clone();
    assert!(aid.attr("RootItemChangeKey").is_some());
    let draft = s.folders["Drafts"].messages.values().next().unwrap().clone();
    let parsed = crate::model::message::Message::from_mime(&draft.raw).unwrap();
    assert_eq!(parsed.subject.as_deref(), Some("v2"));
    assert!(parsed.body_html.as_deref().unwrap().contains("second"));
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.bcc.len(), 1, "drafts keep Bcc");
    // GetItem with the first id still works.
    let get = envelope(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{id1}"/></m:ItemIds></m:GetItem>"#
    ));
    let (_, root, s) = run(s, &get).await;
    assert_eq!(named(&root, "Subject")[0].text, "v2");
    // Delete the attachment.
    let del = envelope(&format!(
        r#"<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="{}"/></m:AttachmentIds></m:DeleteAttachment>"#,
        aid.attr("Id").unwrap()
    ));
    let (_, root, s) = run(s, &del).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let draft = s.folders["Drafts"].messages.values().next().unwrap().clone();
    assert!(crate::model::message::Message::from_mime(&draft.raw).unwrap().attachments.is_empty());
    // Send it: Bcc reaches the envelope, not the headers.
    let send = envelope(&format!(
        r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds><t:ItemId Id="{id2}"/></m:ItemIds></m:SendItem>"#
    ));
    let (_, root, s) = run(s, &send).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let (_, rcpts, wire) = &s.submitted[0];
    assert!(rcpts.contains(&"secret@example.test".to_string()));
    let text = String::from_utf8_lossy(wire);
    assert!(!text.contains("secret@example.test") && !text.contains("X-Viaduc-Supersedes"), "{text}");
    // Received mail cannot be edited.
    let (ids_, s) = inbox_item_ids(s).await;
    let upd = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>x</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
        ids_[0].0
    ));
    let (_, root, _) = run(s, &upd).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidPropertyUpdateSentMessage");
}

/// A deterministic xorshift generator for the robustness test (no extra dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn mutated_requests_never_panic_and_always_answer() {
    let mut seeds: Vec<String> = [
        "convertid-probe.exchangelib.request.xml",
        "getfolder-root.exchangelib.request.xml",
        "getfolder-distinguished-31.exchangelib.request.xml",
        "finditem-inbox.exchangelib.request.xml",
        "findfolder-deep-root.exchangelib.request.xml",
    ]
    .iter()
    .map(|f| fixture(f))
    .collect();
    seeds.push(envelope(r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderItems>"#));
    seeds.push(envelope(r#"<m:UpdateItem><m:ItemChanges><t:ItemChange><t:ItemId Id="x"/><t:Updates/></t:ItemChange></m:ItemChanges></m:UpdateItem>"#));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut count = 0;
    for seed in &seeds {
        for _ in 0..60 {
            let mut b = seed.as_bytes().to_vec();
            for _ in 0..(1 + rng.next() % 4) {
                let i = (rng.next() as usize) % b.len();
                match rng.next() % 4 {
                    0 => b[i] = (rng.next() & 0xff) as u8,
                    1 => {
                        b.remove(i);
                    }
                    2 => b.truncate(i),
                    _ => {
                        let j = (rng.next() as usize) % b.len();
                        let chunk: Vec<u8> = b[i.min(j)..i.max(j)].to_vec();
                        b.splice(i..i, chunk);
                    }
                }
                if b.is_empty() {
                    b.push(b'<');
                }
            }
            let (status, xml, _) = process(ids(), ME, &b, store()).await;
            assert!(status == 200 || status == 500);
            let root = parse(xml.as_bytes()).expect("every answer is well-formed XML");
            assert!(root.child(NS_SOAP, "Header").and_then(|h| h.t("ServerVersionInfo")).is_some());
            count += 1;
        }
    }
    assert_eq!(count, seeds.len() * 60);
}

#[tokio::test]
async fn pull_subscription_events() {
    let sub = envelope(
        r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>DeletedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#,
    );
    let (_, root, mut s) = run(store(), &sub).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    let sid = m.m("SubscriptionId").unwrap().text.clone();
    let wm = m.m("Watermark").unwrap().text.clone();
    let get = |wm: &str| {
        envelope(&format!(
            r#"<m:GetEvents><m:SubscriptionId>{sid}</m:SubscriptionId><m:Watermark>{wm}</m:Watermark></m:GetEvents>"#
        ))
    };
    // Nothing happened: a status event.
    let (_, root, s2) = run(s.clone(), &get(&wm)).await;
    let n = messages(&root)[0].m("Notification").unwrap().clone();
    assert!(n.t("StatusEvent").is_some());
    // New mail, a flag change and a deletion.
    s = s2;
    s.add_message(
        "INBOX",
        MsgSummary { subject: Some("fresh".into()), ..Default::default() },
        b"Subject: fresh\r\n\r\nx\r\n",
    );
    crate::ews::store::MailStore::set_flags(&mut s, "INBOX", &[2], &["\\Seen".into()], &[], None).await.unwrap();
    crate::ews::store::MailStore::delete_messages(&mut s, "INBOX", &[1]).await.unwrap();
    let (_, root, s) = run(s, &get(&wm)).await;
    let n = messages(&root)[0].m("Notification").unwrap().clone();
    assert_eq!(n.t_text("PreviousWatermark"), Some(wm.as_str()));
    assert_eq!(named(&n, "NewMailEvent").len(), 1);
    assert_eq!(named(&n, "ModifiedEvent").len(), 1);
    assert_eq!(named(&n, "DeletedEvent").len(), 1);
    assert!(named(&n, "CreatedEvent").is_empty(), "not subscribed");
    let next = named(&n, "NewMailEvent")[0].t_text("Watermark").unwrap().to_string();
    let (_, root, s) = run(s, &get(&next)).await;
    assert!(messages(&root)[0].m("Notification").unwrap().t("StatusEvent").is_some());
    // Unsubscribe; bad ids.
    let (_, root, s) =
        run(s, &envelope(&format!("<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>"))).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let (_, root, s) = run(s, &get("garbage")).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidWatermark");
    let push = envelope(
        r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:StatusFrequency>1</t:StatusFrequency><t:URL>https://x/</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#,
    );
    let (_, root, _) = run(s, &push).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorInvalidSubscriptionRequest");
}

/// Known-answer tests: the response to each captured exchangelib request (against the in-memory store of
/// [`store`], id key `[42; 32]`) is stored next to the request as `*.response.xml`. Set
/// `VIADUC_UPDATE_FIXTURES=1` to rewrite them after an intended change, and review the diff.
#[tokio::test]
async fn golden_responses_for_exchangelib_requests() {
    let dir = format!("{}/protocol-fixtures/ews", env!("CARGO_MANIFEST_DIR"));
    for name in [
        "convertid-probe.exchangelib",
        "getfolder-root.exchangelib",
        "getfolder-inbox.exchangelib",
        "getfolder-distinguished-31.exchangelib",
        "finditem-inbox.exchangelib",
        "findfolder-deep-root.exchangelib",
    ] {
        let req = fixture(&format!("{name}.request.xml"));
        let (status, xml, _) = process(ids(), ME, req.as_bytes(), store()).await;
        assert_eq!(status, 200);
        let path = format!("{dir}/{name}.response.xml");
        if std::env::var_os("VIADUC_UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, &xml).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (run with VIADUC_UPDATE_FIXTURES=1)"));
        assert_eq!(xml, expected, "{name}: response differs from {path}");
    }
}

#[tokio::test]
async fn delegate_access_through_the_other_users_namespace() {
    let mut s = store();
    s.other_users = Some("shared/".into());
    s.add_folder("shared/bob", None);
    s.add_folder("shared/bob/Projects", None);
    s.add_message(
        "shared/bob",
        MsgSummary { subject: Some("for bob".into()), ..Default::default() },
        b"Subject: for bob\r\n\r\nx\r\n",
    );
    let bob = r#"<t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox>"#;
    // The owner's own tree does not show other users' folders.
    let (_, root, s) = run(s, &fixture("findfolder-deep-root.exchangelib.request.xml")).await;
    assert!(!named(&root, "DisplayName").iter().any(|d| d.text == "bob" || d.text == "shared"));
    // Bob's inbox and folders, as the IMAP ACL lets the caller see them.
    let req = envelope(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox">{bob}</t:DistinguishedFolderId><t:DistinguishedFolderId Id="drafts">{bob}</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "NoError");
    assert_eq!(code(&msgs[1]), "ErrorAccessDenied", "not visible: missing or not shared");
    let f = msgs[0].m("Folders").unwrap().t("Folder").unwrap();
    assert_eq!(f.t_text("DisplayName"), Some("Inbox"));
    assert_eq!(f.t_text("TotalCount"), Some("1"));
    assert_eq!(f.t_text("ChildFolderCount"), Some("0"), "bob's Projects is top-level in bob's own terms");
    let fid = ids().parse_folder_id(f.t("FolderId").unwrap().attr("Id").unwrap()).unwrap();
    assert_eq!(fid.mailbox, "bob@example.test");
    let req = envelope(&format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox">{bob}</t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let item = named(&root, "Message")[0].clone();
    assert_eq!(item.t_text("Subject"), Some("for bob"));
    let item_id = item.t("ItemId").unwrap().attr("Id").unwrap().to_string();
    // The item id alone leads back to bob's mailbox.
    let req = envelope(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>"#
    ));
    let (_, root, s) = run(s, &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    // Sending as bob is refused; carol shares nothing.
    let send = envelope(&format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox">{bob}</t:DistinguishedFolderId></m:SavedItemFolderId><m:Items><t:Message><t:Subject>x</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>z@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
    ));
    let (_, root, s) = run(s, &send).await;
    assert_eq!(code(&messages(&root)[0]), "ErrorAccessDenied");
    let carol = envelope(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>carol@example.test</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#,
    );
    let (_, root, _) = run(s, &carol.replace("</m:FolderIds>", "<t:DistinguishedFolderId Id=\"sentitems\"><t:Mailbox><t:EmailAddress>carol@example.test</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds>")).await;
    let codes: Vec<String> = messages(&root).iter().map(|m| code(m).to_string()).collect();
    assert_eq!(codes, vec!["ErrorAccessDenied", "ErrorAccessDenied"], "one answer per folder asked for");
}

mod attachments;
mod fixtures;
