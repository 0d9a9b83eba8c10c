//! A TCP stream that is either plain or wrapped in TLS, so one connection type serves every TLS mode and
//! STARTTLS can upgrade in place.
//!
//! Under TLS the socket is read through a buffer of [`TLS_READ_BUFFER`] bytes: rustls asks its transport for at
//! most 4 KiB at a time, so a 50 KB message arriving at once would otherwise take a dozen `recv` calls (and as
//! many wake-ups); with the buffer it takes one or two (docs/performance.md, fifth round).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::backend::tls::server_name;
use crate::error::{Backend, Error, Result};

#[derive(Debug)]
pub enum BackendStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<BufReader<TcpStream>>>),
}

/// Bytes read from the socket at once under TLS (per connection, allocated with it).
pub const TLS_READ_BUFFER: usize = 32 * 1024;

impl BackendStream {
    /// Runs the TLS handshake over `tcp`, verifying the certificate against `host`.
    pub async fn tls(
        backend: Backend,
        tcp: TcpStream,
        host: &str,
        config: &Arc<rustls::ClientConfig>,
    ) -> Result<BackendStream> {
        let name = server_name(backend, host)?;
        let stream = TlsConnector::from(config.clone())
            .connect(name, BufReader::with_capacity(TLS_READ_BUFFER, tcp))
            .await
            .map_err(|e| Error::unavailable(backend, format!("TLS handshake with {host}: {e}")))?;
        Ok(BackendStream::Tls(Box::new(stream)))
    }
}

impl AsyncRead for BackendStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            BackendStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for BackendStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            BackendStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_flush(cx),
            BackendStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            BackendStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
