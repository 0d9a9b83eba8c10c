//! Item attachments (MS-OXWSCORE 2.2.4.33 ItemAttachmentType) in GetItem, GetAttachment and CreateAttachment;
//! UniqueBody, TextBody and NormalizedBody (MS-OXWSCORE 2.2.4.24); large file attachments through GetAttachment.
//! Against the in-memory store, with the `protocol-fixtures/mime/attached-message.eml` fixture.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

fn mime_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/protocol-fixtures/mime/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The standard store with the forward holding an attached message in INBOX.
fn store_with_forward() -> MemStore {
    let mut s = store();
    s.add_message(
        "INBOX",
        MsgSummary {
            subject: Some("Fwd: Original plan".into()),
            from: Some(addr("Dave Doe", "dave@example.test")),
            to: vec![addr("User", ME)],
            internal_date: 1_700_125_200,
            has_attachments: true,
            ..Default::default()
        },
        &mime_fixture("attached-message.eml"),
    );
    s
}

async fn item_id_with_subject(s: MemStore, subject: &str) -> (String, MemStore) {
    let (ids_, s) = inbox_item_ids(s).await;
    let id = ids_.iter().find(|(_, x)| x == subject).unwrap_or_else(|| panic!("{subject} in {ids_:?}")).0.clone();
    (id, s)
}

fn get_item(id: &str, shape: &str) -> String {
    envelope(&format!(
        r#"<m:GetItem><m:ItemShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    ))
}

#[tokio::test]
async fn attached_message_is_an_item_attachment() {
    let (id, s) = item_id_with_subject(store_with_forward(), "Fwd: Original plan").await;
    let (status, root, s) = run(s, &get_item(&id, "<t:BaseShape>Default</t:BaseShape>")).await;
    assert_eq!(status, 200);
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let msg = m.m("Items").unwrap().t("Message").unwrap();
    let atts = msg.t("Attachments").unwrap();
    let kinds: Vec<&str> = atts.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(kinds, ["ItemAttachment", "FileAttachment"]);
    let ia = atts.t("ItemAttachment").unwrap();
    assert_eq!(ia.t_text("Name"), Some("Original plan"));
    assert_eq!(ia.t_text("ContentType"), Some("message/rfc822"));
    assert_eq!(ia.t_text("LastModifiedTime"), Some("2023-11-15T07:30:00Z"));
    assert_eq!(ia.t_text("IsInline"), Some("false"));
    assert!(ia.t_text("Size").unwrap().parse::<usize>().unwrap() > 500);
    assert!(ia.t("IsContactPhoto").is_none(), "IsContactPhoto belongs to FileAttachmentType only");
    let names: Vec<&str> = ia.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["AttachmentId", "Name", "ContentType", "Size", "LastModifiedTime", "IsInline"]);
    assert_eq!(msg.t_text("HasAttachments"), Some("true"));
    let aid = ia.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();

    // GetAttachment: the embedded message, with the body in the shape's BodyType and its MIME.
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:BodyType>Text</t:BodyType><t:AdditionalProperties><t:FieldURI FieldURI="item:UniqueBody"/><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:AttachmentShape><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (status, root, s) = run(s, &req).await;
    assert_eq!(status, 200);
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    let ia = m.m("Attachments").unwrap().t("ItemAttachment").unwrap();
    assert_eq!(ia.t("AttachmentId").unwrap().attr("Id"), Some(aid.as_str()));
    assert_eq!(ia.t_text("Name"), Some("Original plan"));
    let item = ia.t("Message").unwrap();
    assert!(item.t("ItemId").is_none(), "an embedded item has no id of its own");
    assert_eq!(item.t_text("ItemClass"), Some("IPM.Note"));
    assert_eq!(item.t_text("Subject"), Some("Original plan"));
    let body = item.t("Body").unwrap();
    assert_eq!(body.attr("BodyType"), Some("Text"));
    assert!(body.text.contains("The plan: ship on Friday.") && body.text.contains("> When do we ship?"));
    let unique = item.t("UniqueBody").unwrap();
    assert_eq!(unique.attr("BodyType"), Some("HTML"));
    assert_eq!(unique.text, "<html><body><p>The plan: ship on <b>Friday</b>.</p></body></html>");
    let from = item.t("From").unwrap().t("Mailbox").unwrap();
    assert_eq!(from.t_text("EmailAddress"), Some("erin@example.test"));
    assert_eq!(from.t_text("Name"), Some("Erin Example"));
    let to: Vec<&str> =
        item.t("ToRecipients").unwrap().children.iter().filter_map(|m| m.t_text("EmailAddress")).collect();
    assert_eq!(to, ["dave@example.test", "frank@example.test"]);
    assert_eq!(
        item.t("CcRecipients").unwrap().t("Mailbox").unwrap().t_text("EmailAddress"),
        Some("grace@example.test")
    );
    assert_eq!(item.t_text("DateTimeSent"), Some("2023-11-15T07:30:00Z"));
    assert_eq!(item.t_text("InternetMessageId"), Some("<plan-1@example.test>"));
    assert_eq!(item.t_text("InReplyTo"), Some("<plan-0@example.test>"));
    assert_eq!(item.t_text("HasAttachments"), Some("true"));
    // Its own attachments have ids of their own; the nested message is an item attachment.
    let inner = item.t("Attachments").unwrap();
    let kinds: Vec<&str> = inner.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(kinds, ["FileAttachment", "ItemAttachment"]);
    assert!(inner.children.iter().all(|c| c.t("AttachmentId").is_some()));
    let inner_names: Vec<&str> = inner.children.iter().filter_map(|c| c.t_text("Name")).collect();
    assert_eq!(inner_names, ["notes.txt", "Nested note"]);
    assert_eq!(inner.children[1].t_text("ContentType"), Some("message/rfc822"));
    let notes_id = inner.children[0].t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    let nested_id = inner.children[1].t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    let mime = STANDARD.decode(item.t_text("MimeContent").unwrap()).unwrap();
    let parsed = crate::model::message::Message::from_mime(&mime).unwrap();
    assert_eq!(parsed.subject.as_deref(), Some("Original plan"));
    // Element order of ItemType, then MessageType.
    let order: Vec<&str> = item.children.iter().map(|c| c.name.as_str()).collect();
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap_or_else(|| panic!("{n} in {order:?}"));
    assert!(pos("MimeContent") < pos("ItemClass") && pos("Body") < pos("Attachments"));
    assert!(pos("HasAttachments") < pos("UniqueBody") && pos("UniqueBody") < pos("Sender"));
    assert!(pos("ToRecipients") < pos("From") && pos("From") < pos("InternetMessageId"));

    // Best (no AttachmentShape): the HTML body, no MIME.
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let item = messages(&root)[0].m("Attachments").unwrap().t("ItemAttachment").unwrap().t("Message").unwrap().clone();
    assert_eq!(item.t("Body").unwrap().attr("BodyType"), Some("HTML"));
    assert!(item.t("MimeContent").is_none() && item.t("UniqueBody").is_none());

    // The file attachment next to it is still a file.
    let (_, root, s) = run(s, &get_item(&id, "<t:BaseShape>Default</t:BaseShape>")).await;
    let fa = named(&root, "FileAttachment")[0].clone();
    let fid = fa.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{fid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let fa = messages(&root)[0].m("Attachments").unwrap().t("FileAttachment").unwrap().clone();
    assert_eq!(fa.t_text("Name"), Some("data.bin"));
    assert_eq!(STANDARD.decode(fa.t_text("Content").unwrap()).unwrap(), [0u8, 1, 2, 3, 4, 5]);

    // The message attached inside the attached message opens through its own id (MS-OXWSATT 3.1.4.3), and so
    // does the file next to it; both in one request, in order.
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{nested_id}"/><t:AttachmentId Id="{notes_id}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "NoError", "{:?}", msgs[0]);
    let ia = msgs[0].m("Attachments").unwrap().t("ItemAttachment").unwrap();
    assert_eq!(ia.t("AttachmentId").unwrap().attr("Id"), Some(nested_id.as_str()));
    assert_eq!(ia.t_text("Name"), Some("Nested note"));
    assert_eq!(ia.t("Message").unwrap().t_text("Subject"), Some("Nested note"));
    let fa = msgs[1].m("Attachments").unwrap().t("FileAttachment").unwrap();
    assert_eq!(fa.t_text("Name"), Some("notes.txt"));
    let (_, expected) =
        crate::model::message::nested_attachment_bytes(&mime_fixture("attached-message.eml"), &[0, 0]).unwrap();
    assert_eq!(STANDARD.decode(fa.t_text("Content").unwrap()).unwrap(), expected);

    // A tampered nested id is malformed; a well-formed one past the end names no attachment (HTTP 200 both).
    let mut raw = crate::ids::IdCodec::raw(&nested_id).unwrap();
    let at = raw.len() - 20;
    raw[at] ^= 0x40;
    let aid = ids().parse_attachment_id(&nested_id).unwrap();
    let missing = ids().attachment_id(&aid.child(7));
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{}"/><t:AttachmentId Id="{missing}"/></m:AttachmentIds></m:GetAttachment>"#,
        STANDARD.encode(&raw)
    ));
    let (status, root, _) = run(s, &req).await;
    assert_eq!(status, 200);
    let msgs = messages(&root);
    assert_eq!(code(&msgs[0]), "ErrorInvalidIdMalformed");
    assert_eq!(code(&msgs[1]), "ErrorInvalidAttachmentId");
}

/// Every attachment of a message with nested multiparts (alternative with related inside mixed, a mixed inside
/// the mixed, an attached message with an attachment of its own) reads back through GetAttachment as the parser
/// extracts it, through the structure-based lookup the IMAP store uses (MemStore answers BODYSTRUCTURE-like
/// questions from the same MIME).
#[tokio::test]
async fn nested_multipart_attachments_read_back() {
    let raw = mime_fixture("nested-multipart.eml");
    let mut s = store();
    s.add_message(
        "INBOX",
        MsgSummary { subject: Some("Nested multiparts".into()), internal_date: 1_700_300_000, ..Default::default() },
        &raw,
    );
    let (id, s) = item_id_with_subject(s, "Nested multiparts").await;
    let (_, root, mut s) = run(s, &get_item(&id, "<t:BaseShape>Default</t:BaseShape>")).await;
    let atts = named(&root, "Attachments")[0].clone();
    assert_eq!(atts.children.len(), 6);
    // First from the whole message (small parts), then with every file part streamed.
    for (round, (i, a)) in
        [None, Some(0)].into_iter().flat_map(|t| atts.children.iter().enumerate().map(move |x| (t, x)))
    {
        s.stream_threshold = round;
        let aid = a.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
        let req = envelope(&format!(
            r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
        ));
        let (_, root, s2) = run(s, &req).await;
        s = s2;
        let m = &messages(&root)[0];
        assert_eq!(code(m), "NoError", "{i}: {m:?}");
        let (info, bytes) = crate::model::message::attachment_bytes(&raw, i).unwrap();
        let got = m.m("Attachments").unwrap();
        if info.is_message {
            let inner = got.t("ItemAttachment").unwrap().t("Message").unwrap();
            assert_eq!(inner.t_text("Subject"), Some("Inner nested"));
            // inner.bin inside the attached message, by its nested id.
            let inner_att = inner.t("Attachments").unwrap().t("FileAttachment").unwrap();
            let nid = inner_att.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
            let req = envelope(&format!(
                r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{nid}"/></m:AttachmentIds></m:GetAttachment>"#
            ));
            let (_, root, s3) = run(s, &req).await;
            s = s3;
            let fa = messages(&root)[0].m("Attachments").unwrap().t("FileAttachment").unwrap().clone();
            assert_eq!(fa.t_text("Name"), Some("inner.bin"));
            assert_eq!(STANDARD.decode(fa.t_text("Content").unwrap()).unwrap(), (1u8..=255).rev().collect::<Vec<_>>());
        } else {
            let fa = got.t("FileAttachment").unwrap();
            assert_eq!(fa.t_text("Name"), Some(info.name.as_str()), "{i}");
            assert_eq!(STANDARD.decode(fa.t_text("Content").unwrap()).unwrap(), bytes, "{i}");
            assert_eq!(fa.t_text("Size"), Some(bytes.len().to_string().as_str()), "{i}");
            assert_eq!(fa.t_text("IsInline"), Some(if info.is_inline { "true" } else { "false" }), "{i}");
        }
    }
    // The second round read the five file parts and inner.bin in chunks.
    assert_eq!(s.range_calls, 6);
}

#[tokio::test]
async fn create_attachment_embeds_a_message_in_a_draft() {
    let save = envelope(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>with item</t:Subject><t:Body BodyType="Text">see attached</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#,
    );
    let (_, root, s) = run(store(), &save).await;
    let draft_id = named(&root, "ItemId")[0].attr("Id").unwrap().to_string();
    // As exchangelib sends ItemAttachment(name=..., item=Message(...)).
    let att = envelope(&format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{draft_id}"/><m:Attachments><t:ItemAttachment><t:Name>The agenda</t:Name><t:IsInline>false</t:IsInline><t:Message><t:Subject>Agenda ünïcode</t:Subject><t:Body BodyType="HTML">&lt;p&gt;1. Budget&lt;/p&gt;</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>carol@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients><t:BccRecipients><t:Mailbox><t:EmailAddress>hidden@example.test</t:EmailAddress></t:Mailbox></t:BccRecipients></t:Message></t:ItemAttachment><t:ItemAttachment><t:Name>x</t:Name><t:Contact><t:GivenName>No</t:GivenName></t:Contact></t:ItemAttachment></m:Attachments></m:CreateAttachment>"#
    ));
    let (status, root, s) = run(s, &att).await;
    assert_eq!(status, 200);
    let msgs = messages(&root);
    assert_eq!(msgs.len(), 2);
    assert_eq!(code(&msgs[0]), "NoError", "{:?}", msgs[0]);
    assert_eq!(code(&msgs[1]), "ErrorInvalidRequest", "only messages can be embedded");
    let ia = msgs[0].m("Attachments").unwrap().t("ItemAttachment").unwrap();
    assert!(ia.t("AttachmentId").unwrap().attr("RootItemChangeKey").is_some());
    let aid = ia.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    // The draft holds a message/rfc822 part, unencoded (RFC 2046 5.2.1), without the embedded Bcc.
    let draft = s.folders["Drafts"].messages.values().next().unwrap().clone();
    let text = String::from_utf8_lossy(&draft.raw).to_string();
    assert!(text.contains("Content-Type: message/rfc822"), "{text}");
    assert!(!text.contains("hidden@example.test"), "{text}");
    let parsed = crate::model::message::Message::from_mime(&draft.raw).unwrap();
    assert_eq!(parsed.subject.as_deref(), Some("with item"));
    assert_eq!(parsed.attachments.len(), 1);
    assert!(parsed.attachments[0].is_message);
    assert_eq!(parsed.attachments[0].name, "The agenda");

    // Read back through the id CreateAttachment returned.
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError", "{m:?}");
    let item = m.m("Attachments").unwrap().t("ItemAttachment").unwrap().t("Message").unwrap();
    assert_eq!(item.t_text("Subject"), Some("Agenda ünïcode"));
    assert!(item.t("Body").unwrap().text.contains("1. Budget"));
    assert_eq!(item.t("From").unwrap().t("Mailbox").unwrap().t_text("EmailAddress"), Some(ME));
    assert_eq!(
        item.t("ToRecipients").unwrap().t("Mailbox").unwrap().t_text("EmailAddress"),
        Some("carol@example.test")
    );

    // A later edit of the draft keeps the embedded message an embedded message.
    let upd = envelope(&format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{draft_id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>with item v2</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let (_, root, s) = run(s, &upd).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let draft = s.folders["Drafts"].messages.values().next().unwrap().clone();
    let parsed = crate::model::message::Message::from_mime(&draft.raw).unwrap();
    assert_eq!(parsed.subject.as_deref(), Some("with item v2"));
    assert!(parsed.attachments[0].is_message);
    let (_, inner) = crate::model::message::attachment_bytes(&draft.raw, 0).unwrap();
    let inner = crate::model::message::Message::from_mime(&inner).unwrap();
    assert_eq!(inner.subject.as_deref(), Some("Agenda ünïcode"));

    // Sent: the recipient gets the embedded message.
    let send = envelope(&format!(
        r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds><t:ItemId Id="{draft_id}"/></m:ItemIds></m:SendItem>"#
    ));
    let (_, root, s) = run(s, &send).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let wire = crate::model::message::Message::from_mime(&s.submitted[0].2).unwrap();
    assert!(wire.attachments[0].is_message);
}

#[tokio::test]
async fn create_item_with_an_item_attachment() {
    let req = envelope(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>outer</t:Subject><t:Body BodyType="Text">b</t:Body><t:Attachments><t:ItemAttachment><t:Name>inner</t:Name><t:Message><t:Subject>inner subject</t:Subject><t:Body BodyType="Text">inner body</t:Body></t:Message></t:ItemAttachment></t:Attachments></t:Message></m:Items></m:CreateItem>"#,
    );
    let (_, root, s) = run(store(), &req).await;
    assert_eq!(code(&messages(&root)[0]), "NoError");
    let draft = s.folders["Drafts"].messages.values().next().unwrap().clone();
    let parsed = crate::model::message::Message::from_mime(&draft.raw).unwrap();
    assert_eq!(parsed.attachments.len(), 1);
    assert!(parsed.attachments[0].is_message);
    assert_eq!(parsed.attachments[0].name, "inner");
}

const QUOTED_REPLY: &str = "From: Bob Brown <bob@example.test>\r\nTo: user@example.com\r\nSubject: Re: Lunch\r\nDate: Thu, 16 Nov 2023 12:00:00 +0000\r\nMessage-ID: <lunch-2@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNoon works.\r\n\r\nOn Wed, 15 Nov 2023 at 09:00, User <user@example.com> wrote:\r\n> Lunch tomorrow?\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><div>Noon <i>works</i>.</div><div class=\"gmail_quote\">On Wed wrote:<blockquote>Lunch tomorrow?</blockquote></div></body></html>\r\n--a--\r\n";

#[tokio::test]
async fn unique_text_and_normalized_bodies() {
    let mut s = store();
    s.add_message(
        "INBOX",
        MsgSummary { subject: Some("Re: Lunch".into()), internal_date: 1_700_136_000, ..Default::default() },
        QUOTED_REPLY.as_bytes(),
    );
    let (id, s) = item_id_with_subject(s, "Re: Lunch").await;
    let shape = r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:UniqueBody"/><t:FieldURI FieldURI="item:TextBody"/><t:FieldURI FieldURI="item:NormalizedBody"/><t:FieldURI FieldURI="item:ConversationId"/><t:FieldURI FieldURI="item:Flag"/></t:AdditionalProperties>"#;
    let (_, root, s) = run(s, &get_item(&id, shape)).await;
    let m = &messages(&root)[0];
    assert_eq!(code(m), "NoError");
    let msg = m.m("Items").unwrap().t("Message").unwrap();
    let ub = msg.t("UniqueBody").unwrap();
    assert_eq!(ub.attr("BodyType"), Some("HTML"));
    assert_eq!(ub.text, "<html><body><div>Noon <i>works</i>.</div></body></html>");
    let tb = msg.t("TextBody").unwrap();
    assert_eq!(tb.attr("BodyType"), Some("Text"));
    assert!(tb.text.contains("Noon works.") && tb.text.contains("> Lunch tomorrow?"));
    let nb = msg.t("NormalizedBody").unwrap();
    assert_eq!(nb.attr("BodyType"), Some("HTML"));
    assert!(nb.text.contains("<blockquote>"));
    // ItemType order: ConversationId, UniqueBody, Flag, NormalizedBody, TextBody.
    let order: Vec<&str> = msg.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["ItemId", "ConversationId", "UniqueBody", "Flag", "NormalizedBody", "TextBody"]);

    // UniqueBodyType Text: the text body cut at the attribution line.
    let shape = r#"<t:BaseShape>IdOnly</t:BaseShape><t:UniqueBodyType>Text</t:UniqueBodyType><t:AdditionalProperties><t:FieldURI FieldURI="item:UniqueBody"/></t:AdditionalProperties>"#;
    let (_, root, s) = run(s, &get_item(&id, shape)).await;
    let ub = named(&root, "UniqueBody")[0].clone();
    assert_eq!(ub.attr("BodyType"), Some("Text"));
    assert_eq!(ub.text, "Noon works.");

    // A message without quotes: the whole body; a text-only message's NormalizedBody is HTML.
    let (plain, s) = item_id_with_subject(s, "Welcome to the test stack").await;
    let shape = r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:UniqueBody"/><t:FieldURI FieldURI="item:NormalizedBody"/></t:AdditionalProperties>"#;
    let (_, root, _) = run(s, &get_item(&plain, shape)).await;
    let ub = named(&root, "UniqueBody")[0].clone();
    assert_eq!(ub.attr("BodyType"), Some("Text"));
    assert_eq!(ub.text, "Hello!\r\n\r\nThis is a plain text message.");
    let nb = named(&root, "NormalizedBody")[0].clone();
    assert_eq!(nb.attr("BodyType"), Some("HTML"));
    assert!(nb.text.contains("<pre>Hello!"));
}

#[tokio::test]
async fn large_file_attachment_content_is_exact() {
    // 3 MB of every byte value (the 25 MB round trip runs end to end in tests/python/test_ews_attachments.py).
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let out = crate::model::message::OutgoingMessage {
        from: crate::model::message::Recipient::new(None, "bob@example.test"),
        subject: "big".into(),
        body_text: Some("big file".into()),
        attachments: vec![crate::model::message::OutgoingAttachment {
            name: "big.bin".into(),
            content_type: "application/octet-stream".into(),
            data: data.clone(),
            content_id: None,
        }],
        ..Default::default()
    };
    let mut s = store();
    s.add_message(
        "INBOX",
        MsgSummary { subject: Some("big".into()), internal_date: 1_700_200_000, ..Default::default() },
        &crate::model::message::build_mime(&out),
    );
    let (id, s) = item_id_with_subject(s, "big").await;
    let (_, root, s) = run(s, &get_item(&id, "<t:BaseShape>Default</t:BaseShape>")).await;
    let fa = named(&root, "FileAttachment")[0].clone();
    assert_eq!(fa.t_text("Size"), Some(data.len().to_string().as_str()));
    let aid = fa.t("AttachmentId").unwrap().attr("Id").unwrap().to_string();
    let req = envelope(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{aid}"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    let (_, root, s) = run(s, &req).await;
    let fa = messages(&root)[0].m("Attachments").unwrap().t("FileAttachment").unwrap().clone();
    assert_eq!(fa.t_text("Name"), Some("big.bin"));
    assert_eq!(fa.t_text("Size"), Some(data.len().to_string().as_str()));
    assert_eq!(STANDARD.decode(fa.t_text("Content").unwrap()).unwrap(), data);
    // It was streamed: read in chunks of attachment_stream::CHUNK, not as a whole message.
    let chunks = data.len().div_ceil(crate::ews::attachment_stream::CHUNK as usize);
    assert_eq!(s.range_calls, chunks);
}
