//! The HTTP client of the timed EWS loop: one HTTP/1.1 keep-alive connection per simulated client, made of
//! hyper's connection-level client over rustls over a read buffer on the socket.
//!
//! Why not reqwest (used for the untimed set-up calls): the load generator runs on the machine it measures, so
//! its own CPU time counts against whichever side it drives. rustls reads at most 4 KiB per call from its
//! transport, so reqwest takes a `recv` (and a wake-up) per 4 KiB of a 70 KB GetItem answer, where the direct
//! IMAP clients (Viaduc's own IMAP transport, which buffers under TLS) take one or two. Measured with per-process
//! CPU accounting, reqwest cost 0.26 ms per GetItem against the IMAP client's 0.10 ms (docs/performance.md,
//! fifth round); this client reads through the same 32 KiB buffer as the IMAP side, so both load generators do
//! the same kind of work per byte.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::BufReader;
use tokio::net::TcpStream;

/// Bytes read from the socket at once (as `viaduc::backend::imap::stream::TLS_READ_BUFFER`).
const READ_BUFFER: usize = 32 * 1024;

/// One keep-alive connection to Viaduc's EWS endpoint.
pub struct LeanEws {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    path: String,
    authorization: String,
}

impl LeanEws {
    /// Connects to `base` (`https://host:port` or `http://host:port`), trusting the CA of `tls`.
    pub async fn connect(
        base: &str,
        tls: &Arc<rustls::ClientConfig>,
        user: &str,
        password: &str,
    ) -> Result<LeanEws, String> {
        let (scheme, rest) = base.split_once("://").ok_or_else(|| format!("not a URL: {base}"))?;
        let host = rest.trim_end_matches('/').to_string();
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h).trim_matches(['[', ']']).to_string();
        let tcp = TcpStream::connect(&host).await.map_err(|e| format!("connect {host}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let buffered = BufReader::with_capacity(READ_BUFFER, tcp);
        let sender = if scheme == "https" {
            let server = rustls::pki_types::ServerName::try_from(name).map_err(|e| e.to_string())?;
            let stream = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(server, buffered)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            handshake(TokioIo::new(stream)).await?
        } else {
            handshake(TokioIo::new(buffered)).await?
        };
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(LeanEws {
            sender,
            host,
            path: "/EWS/Exchange.asmx".to_string(),
            authorization: format!("Basic {credentials}"),
        })
    }

    /// Posts one SOAP envelope and reads the whole answer (checked to be UTF-8, as a client decoding it would);
    /// returns its length. An HTTP error or an EWS error response is an error.
    pub async fn call(&mut self, envelope: String) -> Result<usize, String> {
        let request = http::Request::post(&self.path)
            .header(http::header::HOST, &self.host)
            .header(http::header::AUTHORIZATION, &self.authorization)
            .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(Full::new(Bytes::from(envelope)))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let text = std::str::from_utf8(&body).map_err(|e| e.to_string())?;
        if !status.is_success() || text.contains("ResponseClass=\"Error\"") {
            return Err(format!("HTTP {status}: {}", &text[..text.len().min(400)]));
        }
        Ok(text.len())
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
