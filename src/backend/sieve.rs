//! The ManageSieve back-end (RFC 5804). This part holds the capability codec and probe used by `viaduc check`;
//! script management for out-of-office and rules lives here as that work is added.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::backend::imap::BackendStream;
use crate::config::{SieveConfig, TlsMode};
use crate::error::{Backend, Error, Kind, Result};

/// The server's capabilities (RFC 5804 1.7): each `"NAME" "value"` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub entries: Vec<(String, String)>,
}

impl Capabilities {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The Sieve extensions the server implements.
    pub fn sieve_extensions(&self) -> Vec<String> {
        self.get("SIEVE").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
    }
}

/// Parses the capability lines up to and including the final `OK`/`NO`/`BYE` response line.
/// Returns `Ok(None)` until that line arrives.
#[derive(Default)]
pub struct CapabilityParser {
    caps: Capabilities,
}

/// Splits a line into its quoted strings (`"a" "b c"`), handling `\"` and `\\` escapes.
fn quoted_strings(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => s.push(chars.next()?),
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            Some(_) => return None,
        }
    }
}

impl CapabilityParser {
    pub fn push(&mut self, line: &str) -> Result<Option<Capabilities>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("OK") {
            return Ok(Some(std::mem::take(&mut self.caps)));
        }
        if upper.starts_with("NO") || upper.starts_with("BYE") {
            return Err(Error::backend(Backend::Sieve, Kind::Refused, format!("server said {line:?}")));
        }
        let parts = quoted_strings(line)
            .filter(|p| !p.is_empty() && p.len() <= 2)
            .ok_or_else(|| Error::backend(Backend::Sieve, Kind::Refused, format!("malformed line {line:?}")))?;
        if self.caps.entries.len() > 200 {
            return Err(Error::backend(Backend::Sieve, Kind::Refused, "too many capability lines"));
        }
        let name = parts[0].clone();
        let value = parts.get(1).cloned().unwrap_or_default();
        self.caps.entries.push((name, value));
        Ok(None)
    }
}

async fn read_caps(io: &mut BufReader<BackendStream>) -> Result<Capabilities> {
    let mut parser = CapabilityParser::default();
    loop {
        let mut line = String::new();
        let n = io.read_line(&mut line).await.map_err(|e| Error::unavailable(Backend::Sieve, format!("read: {e}")))?;
        if n == 0 {
            return Err(Error::unavailable(Backend::Sieve, "connection closed"));
        }
        if let Some(c) = parser.push(&line)? {
            return Ok(c);
        }
    }
}

/// Connects, reads the capabilities (after STARTTLS when configured) and says LOGOUT.
pub async fn probe(config: &SieveConfig, tls: &Arc<rustls::ClientConfig>) -> Result<Capabilities> {
    let work = async {
        let tcp = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| Error::unavailable(Backend::Sieve, format!("connect {}:{}: {e}", config.host, config.port)))?;
        let stream = match config.tls {
            TlsMode::Tls => BackendStream::tls(Backend::Sieve, tcp, &config.host, tls).await?,
            _ => BackendStream::Plain(tcp),
        };
        let mut io = BufReader::new(stream);
        let mut caps = read_caps(&mut io).await?;
        if config.tls == TlsMode::Starttls {
            if caps.get("STARTTLS").is_none() {
                return Err(Error::backend(Backend::Sieve, Kind::NotSupported, "server does not offer STARTTLS"));
            }
            io.get_mut()
                .write_all(b"STARTTLS\r\n")
                .await
                .map_err(|e| Error::unavailable(Backend::Sieve, e.to_string()))?;
            let mut line = String::new();
            io.read_line(&mut line).await.map_err(|e| Error::unavailable(Backend::Sieve, e.to_string()))?;
            if !line.to_ascii_uppercase().starts_with("OK") {
                return Err(Error::backend(
                    Backend::Sieve,
                    Kind::Refused,
                    format!("STARTTLS refused: {}", line.trim()),
                ));
            }
            let BackendStream::Plain(tcp) = io.into_inner() else {
                return Err(Error::internal("STARTTLS on TLS"));
            };
            io = BufReader::new(BackendStream::tls(Backend::Sieve, tcp, &config.host, tls).await?);
            // RFC 5804 2.2: the server sends its capabilities again after the TLS negotiation.
            caps = read_caps(&mut io).await?;
        }
        let _ = io.get_mut().write_all(b"LOGOUT\r\n").await;
        Ok(caps)
    };
    timeout(Duration::from_secs(config.timeout_secs.max(1)), work)
        .await
        .map_err(|_| Error::unavailable(Backend::Sieve, "timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecot_capabilities() {
        let text = include_str!("../../protocol-fixtures/sieve/capability-dovecot.txt");
        let mut p = CapabilityParser::default();
        let mut caps = None;
        for line in text.lines() {
            if let Some(c) = p.push(line).unwrap() {
                caps = Some(c);
            }
        }
        let caps = caps.unwrap();
        assert_eq!(caps.get("IMPLEMENTATION"), Some("Dovecot (Debian) Pigeonhole"));
        assert!(caps.sieve_extensions().iter().any(|e| e == "vacation"));
        assert!(caps.get("STARTTLS").is_some());
    }

    #[test]
    fn rejects_garbage() {
        let mut p = CapabilityParser::default();
        assert!(p.push("garbage").is_err());
        assert!(p.push("\"unterminated").is_err());
        assert!(p.push("NO \"bad\"").is_err());
    }
}
