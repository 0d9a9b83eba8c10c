//! The SMTP submission back-end (RFC 6409). This part holds the EHLO reply codec and the capability probe used
//! by `viaduc check`; sending lives here too as the EWS mail work adds it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

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
    fn malformed_lines_are_errors() {
        let mut p = ReplyParser::default();
        assert!(p.push("xx").is_err());
        assert!(p.push("abc hello").is_err());
        assert!(p.push("250*x").is_err());
    }
}
