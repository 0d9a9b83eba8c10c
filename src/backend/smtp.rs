//! The SMTP submission back-end (RFC 6409): the reply codec, the capability probe used by `viaduc check`, and
//! sending as the user (STARTTLS, AUTH PLAIN with the user's credentials, MAIL/RCPT/DATA with dot-stuffing).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use base64::Engine;

use crate::auth::Principal;
use crate::backend::imap::BackendStream;
use crate::config::{SmtpConfig, TlsMode};
use crate::error::{Backend, Error, Kind, Result};

/// One complete SMTP reply: the code and its text lines (RFC 5321 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

/// Feeds reply lines one at a time; returns the reply when its last line (`NNN ` rather than `NNN-`) arrives.
#[derive(Default)]
pub struct ReplyParser {
    lines: Vec<String>,
}

impl ReplyParser {
    pub fn push(&mut self, line: &str) -> Result<Option<Reply>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let bad = || Error::backend(Backend::Smtp, Kind::Refused, format!("malformed reply line {line:?}"));
        if line.len() < 3 || !line.is_char_boundary(3) {
            return Err(bad());
        }
        let code: u16 = line[..3].parse().map_err(|_| bad())?;
        let sep = line.as_bytes().get(3).copied();
        let text = line.get(4..).unwrap_or("").to_string();
        self.lines.push(text);
        if self.lines.len() > 1000 {
            return Err(bad());
        }
        match sep {
            Some(b'-') => Ok(None),
            None | Some(b' ') => Ok(Some(Reply { code, lines: std::mem::take(&mut self.lines) })),
            _ => Err(bad()),
        }
    }
}

/// EHLO keywords (upper-cased, first word of each line after the greeting line).
pub fn ehlo_keywords(reply: &Reply) -> Vec<String> {
    reply.lines.iter().skip(1).map(|l| l.to_ascii_uppercase()).collect()
}

/// What the submission server offers.
#[derive(Debug, Clone)]
pub struct SmtpProbe {
    pub greeting: String,
    /// EHLO keywords after TLS was established (when configured).
    pub extensions: Vec<String>,
    pub tls: bool,
}

impl SmtpProbe {
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.extensions
            .iter()
            .filter_map(|e| e.strip_prefix("AUTH ").or_else(|| e.strip_prefix("AUTH=")))
            .flat_map(|m| m.split_whitespace().map(str::to_string))
            .collect()
    }
}

struct Conn {
    io: BufReader<BackendStream>,
}

impl Conn {
    async fn reply(&mut self) -> Result<Reply> {
        let mut parser = ReplyParser::default();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| Error::unavailable(Backend::Smtp, format!("read: {e}")))?;
            if n == 0 {
                return Err(Error::unavailable(Backend::Smtp, "connection closed"));
            }
            if let Some(r) = parser.push(&line)? {
                return Ok(r);
            }
        }
    }
    async fn command(&mut self, line: &str) -> Result<Reply> {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| Error::unavailable(Backend::Smtp, format!("write: {e}")))?;
        self.reply().await
    }
}

/// Connects, reads the greeting, says EHLO (and STARTTLS when configured) and reports the extensions.
pub async fn probe(config: &SmtpConfig, tls: &Arc<rustls::ClientConfig>) -> Result<SmtpProbe> {
    let work = async {
        let tcp = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| Error::unavailable(Backend::Smtp, format!("connect {}:{}: {e}", config.host, config.port)))?;
        let stream = match config.tls {
            TlsMode::Tls => BackendStream::tls(Backend::Smtp, tcp, &config.host, tls).await?,
            _ => BackendStream::Plain(tcp),
        };
        let mut conn = Conn { io: BufReader::new(stream) };
        let greeting = conn.reply().await?;
        if greeting.code != 220 {
            return Err(Error::backend(Backend::Smtp, Kind::Refused, format!("greeting {}", greeting.code)));
        }
        let mut ehlo = conn.command("EHLO viaduc.check").await?;
        if config.tls == TlsMode::Starttls {
            let r = conn.command("STARTTLS").await?;
            if r.code != 220 {
                return Err(Error::backend(Backend::Smtp, Kind::Refused, format!("STARTTLS refused: {}", r.code)));
            }
            let BackendStream::Plain(tcp) = conn.io.into_inner() else {
                return Err(Error::internal("STARTTLS on TLS"));
            };
            conn = Conn { io: BufReader::new(BackendStream::tls(Backend::Smtp, tcp, &config.host, tls).await?) };
            ehlo = conn.command("EHLO viaduc.check").await?;
        }
        let _ = conn.command("QUIT").await;
        Ok(SmtpProbe {
            greeting: greeting.lines.join(" "),
            extensions: ehlo_keywords(&ehlo),
            tls: config.tls != TlsMode::None,
        })
    };
    timeout(Duration::from_secs(config.timeout_secs.max(1)), work)
        .await
        .map_err(|_| Error::unavailable(Backend::Smtp, "timed out"))?
}

/// A reply code class as an error kind: 5xx is a refusal, 4xx a temporary failure (retryable).
fn reply_error(what: &str, r: &Reply) -> Error {
    let text = format!("{what}: {} {}", r.code, r.lines.join(" ").trim());
    if (400..500).contains(&r.code) {
        Error::unavailable(Backend::Smtp, text)
    } else {
        Error::backend(Backend::Smtp, Kind::Refused, text)
    }
}

/// An address usable in `MAIL FROM:<...>` / `RCPT TO:<...>`: no spaces, angle brackets or control characters.
fn valid_path(addr: &str) -> bool {
    addr.len() <= 320 && !addr.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
}

/// The DATA payload of `raw` (RFC 5321 4.5.2): every line ending is CRLF (bare LF and CR become CRLF), a line
/// starting with `.` gets one more, and the terminating `.` line follows.
pub fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 50 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Connects, reads the greeting, says EHLO, upgrades with STARTTLS when configured; returns the connection
/// and the EHLO keywords valid on it.
async fn open(config: &SmtpConfig, tls: &Arc<rustls::ClientConfig>) -> Result<(Conn, Vec<String>)> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| Error::unavailable(Backend::Smtp, format!("connect {}:{}: {e}", config.host, config.port)))?;
    // EHLO with our address literal (RFC 5321 4.1.3): valid everywhere, unlike a bare host name.
    let helo = match tcp.local_addr() {
        Ok(std::net::SocketAddr::V4(a)) => format!("[{}]", a.ip()),
        Ok(std::net::SocketAddr::V6(a)) => format!("[IPv6:{}]", a.ip()),
        Err(_) => "[127.0.0.1]".to_string(),
    };
    let stream = match config.tls {
        TlsMode::Tls => BackendStream::tls(Backend::Smtp, tcp, &config.host, tls).await?,
        _ => BackendStream::Plain(tcp),
    };
    let mut conn = Conn { io: BufReader::new(stream) };
    let greeting = conn.reply().await?;
    if greeting.code != 220 {
        return Err(reply_error("greeting", &greeting));
    }
    let mut ehlo = conn.command(&format!("EHLO {helo}")).await?;
    if ehlo.code != 250 {
        return Err(reply_error("EHLO", &ehlo));
    }
    if config.tls == TlsMode::Starttls {
        let r = conn.command("STARTTLS").await?;
        if r.code != 220 {
            return Err(reply_error("STARTTLS", &r));
        }
        let BackendStream::Plain(tcp) = conn.io.into_inner() else {
            return Err(Error::internal("STARTTLS on TLS"));
        };
        conn = Conn { io: BufReader::new(BackendStream::tls(Backend::Smtp, tcp, &config.host, tls).await?) };
        ehlo = conn.command(&format!("EHLO {helo}")).await?;
        if ehlo.code != 250 {
            return Err(reply_error("EHLO", &ehlo));
        }
    }
    Ok((conn, ehlo_keywords(&ehlo)))
}

/// Sends `raw` (a complete MIME message) as `principal`: AUTH PLAIN with the user's credentials (after
/// STARTTLS when configured), `MAIL FROM:<envelope_from>`, one `RCPT TO` per recipient, DATA with
/// dot-stuffing. A 5xx reply is `Kind::Refused` carrying the server's text; 4xx is `Kind::Unavailable`
/// (retryable). The password is never logged.
pub async fn send(
    config: &SmtpConfig,
    tls: &Arc<rustls::ClientConfig>,
    principal: &Principal,
    envelope_from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Result<()> {
    if recipients.is_empty() {
        return Err(Error::client(Kind::Malformed, "a message needs at least one recipient"));
    }
    if let Some(bad) =
        std::iter::once(envelope_from).chain(recipients.iter().map(String::as_str)).find(|a| !valid_path(a))
    {
        return Err(Error::client(Kind::Malformed, format!("invalid address {bad:?}")));
    }
    if recipients.iter().any(|r| r.is_empty()) {
        return Err(Error::client(Kind::Malformed, "empty recipient address"));
    }
    let step = Duration::from_secs(config.timeout_secs.max(1));
    // The whole exchange: a step per command plus time for the data (at least 1 MB/s).
    let limit = step * (6 + recipients.len() as u32) + Duration::from_secs(raw.len() as u64 / 1_000_000);
    let work = async {
        let (mut conn, ext) = open(config, tls).await?;
        let has = |k: &str| ext.iter().any(|e| e.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(k)));
        let mechanisms: Vec<String> = ext
            .iter()
            .filter_map(|e| e.strip_prefix("AUTH ").or_else(|| e.strip_prefix("AUTH=")))
            .flat_map(|m| m.split_whitespace().map(str::to_ascii_uppercase))
            .collect();
        if mechanisms.iter().any(|m| m == "PLAIN") {
            let mut token = Vec::with_capacity(principal.login.len() + principal.password().len() + 2);
            token.push(0);
            token.extend_from_slice(principal.login.as_bytes());
            token.push(0);
            token.extend_from_slice(principal.password().as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
            let r = conn.command(&format!("AUTH PLAIN {b64}")).await?;
            if r.code == 535 || r.code == 534 {
                return Err(Error::backend(
                    Backend::Smtp,
                    Kind::AuthFailed,
                    format!("AUTH refused: {} {}", r.code, r.lines.join(" ")),
                ));
            }
            if r.code != 235 {
                return Err(reply_error("AUTH", &r));
            }
        } else if !mechanisms.is_empty() {
            return Err(Error::backend(
                Backend::Smtp,
                Kind::NotSupported,
                format!("no AUTH PLAIN (offered: {})", mechanisms.join(" ")),
            ));
        }
        let mut mail = format!("MAIL FROM:<{envelope_from}>");
        if has("SIZE") {
            mail.push_str(&format!(" SIZE={}", raw.len()));
        }
        if has("8BITMIME") && raw.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let r = conn.command(&mail).await?;
        if r.code != 250 {
            return Err(reply_error(&format!("MAIL FROM:<{envelope_from}>"), &r));
        }
        for rcpt in recipients {
            let r = conn.command(&format!("RCPT TO:<{rcpt}>")).await?;
            if r.code != 250 && r.code != 251 {
                return Err(reply_error(&format!("RCPT TO:<{rcpt}>"), &r));
            }
        }
        let r = conn.command("DATA").await?;
        if r.code != 354 {
            return Err(reply_error("DATA", &r));
        }
        let data = dot_stuff(raw);
        conn.io
            .get_mut()
            .write_all(&data)
            .await
            .map_err(|e| Error::unavailable(Backend::Smtp, format!("write: {e}")))?;
        conn.io.get_mut().flush().await.map_err(|e| Error::unavailable(Backend::Smtp, format!("write: {e}")))?;
        let r = conn.reply().await?;
        if r.code != 250 {
            return Err(reply_error("end of DATA", &r));
        }
        let _ = conn.command("QUIT").await;
        tracing::info!(user = %principal.login, recipients = recipients.len(), bytes = raw.len(), "message submitted");
        Ok(())
    };
    timeout(limit, work).await.map_err(|_| Error::unavailable(Backend::Smtp, "timed out sending"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_ehlo_reply() {
        // Recorded from Dovecot submission (protocol-fixtures/smtp/ehlo-dovecot.txt).
        let text = include_str!("../../protocol-fixtures/smtp/ehlo-dovecot.txt");
        let mut p = ReplyParser::default();
        let mut reply = None;
        for line in text.lines() {
            if let Some(r) = p.push(line).unwrap() {
                reply = Some(r);
            }
        }
        let r = reply.expect("complete reply");
        assert_eq!(r.code, 250);
        let probe = SmtpProbe { greeting: String::new(), extensions: ehlo_keywords(&r), tls: true };
        assert_eq!(probe.auth_mechanisms(), vec!["PLAIN".to_string(), "LOGIN".to_string()]);
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..c\r\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b".\nx\ry"), b"..\r\nx\r\ny\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"end.\r\n.\r\n"), b"end.\r\n..\r\n.\r\n");
        assert!(valid_path("") && valid_path("a@b.c"));
        assert!(!valid_path("a b@c") && !valid_path("a>@b") && !valid_path("a\r\n@b"));
    }

    #[test]
    fn reply_classes() {
        let r = Reply { code: 550, lines: vec!["5.1.1 no such user".into()] };
        let e = reply_error("RCPT TO:<x@y>", &r);
        assert_eq!(e.kind, Kind::Refused);
        assert!(e.message.contains("550 5.1.1 no such user"));
        assert!(reply_error("MAIL", &Reply { code: 451, lines: vec![] }).retryable);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let mut p = ReplyParser::default();
        assert!(p.push("xx").is_err());
        assert!(p.push("abc hello").is_err());
        assert!(p.push("250*x").is_err());
    }
}
