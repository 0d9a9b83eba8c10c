//! The HTTPS server: the only part of Viaduc that knows hyper and TLS. It accepts connections (rustls),
//! speaks HTTP/1.1 with keep-alive, enforces header and body limits, authenticates, routes the Exchange paths
//! case-insensitively to the front-ends, records metrics and drains connections on SIGTERM/SIGINT.

pub mod health;
pub mod metrics;
pub mod router;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::Authenticator;
use crate::backend::{ldap::Directory, tls};
use crate::config::Config;
use crate::error::{Backend, Error, Result};

/// Errors a streamed response body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every response.
pub type Body = BoxBody<Bytes, BoxError>;

/// Everything a request handler may use: configuration, the authenticator, back-end handles, metrics.
/// One per process, shared by every connection; it holds no per-user state except caches.
pub struct Gateway {
    pub config: Config,
    pub auth: Authenticator,
    pub directory: Option<Directory>,
    pub metrics: metrics::Metrics,
    pub health: health::Health,
    pub imap_tls: Arc<rustls::ClientConfig>,
    /// Key for authenticating opaque ids and sync states handed to clients (derived from the deployment id
    /// unless configured), so every instance of a deployment accepts the others' ids.
    pub id_key: [u8; 32],
    /// The CalDAV/CardDAV client (one HTTP connection pool for every user), when `[dav]` is configured.
    pub dav: Option<Arc<crate::backend::dav::client::DavClient>>,
    /// Set when a shutdown signal arrived: requests still coming in on kept-alive connections are told so
    /// (MAPI answers X-ResponseCode 18) while in-flight work drains.
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Gateway {
    /// Whether a shutdown signal has arrived.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn new(config: Config) -> Result<Gateway> {
        let imap_tls = tls::client_config(Backend::Imap, config.imap.ca_file.as_deref())?;
        let directory = match &config.ldap {
            Some(l) => Some(Directory::new(l.clone(), tls::client_config(Backend::Ldap, l.ca_file.as_deref())?)),
            None => None,
        };
        let auth = Authenticator::new(
            config.imap.clone(),
            imap_tls.clone(),
            directory.clone(),
            config.mail.domains[0].clone(),
            config.auth.clone(),
        );
        crate::mapi::session::Tuning::init(&config.mapi);
        let id_key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"viaduc id key v1\0");
            h.update(config.deployment_id().as_bytes());
            h.finalize().into()
        };
        let dav = match &config.dav {
            Some(d) => Some(Arc::new(crate::backend::dav::client::DavClient::new(d)?)),
            None => None,
        };
        Ok(Gateway {
            dav,
            health: health::Health::new(&config)?,
            auth,
            directory,
            metrics: metrics::Metrics::default(),
            imap_tls,
            id_key,
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            config,
        })
    }
}

/// A request whose body has been read (within the configured limit), as the front-ends receive it.
pub struct HttpRequest {
    pub method: Method,
    /// The path as sent (original case), without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
}

impl HttpRequest {
    /// A header's value as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A complete response with a body and content type.
pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", body)
}

fn load_tls(config: &Config) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.server.tls_cert)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::internal(format!("cannot read certificate {}: {e}", config.server.tls_cert.display())))?;
    if certs.is_empty() {
        return Err(Error::internal(format!("no certificate in {}", config.server.tls_cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&config.server.tls_key)
        .map_err(|e| Error::internal(format!("cannot read key {}: {e}", config.server.tls_key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::internal(format!("certificate and key do not fit: {e}")))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

/// Runs the server until SIGTERM or SIGINT, then drains in-flight requests for the configured grace period.
pub async fn serve(gateway: Arc<Gateway>) -> Result<()> {
    let config = &gateway.config.server;
    let acceptor = if config.plain_http_behind_proxy { None } else { Some(load_tls(&gateway.config)?) };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::internal(format!("cannot listen on {}: {e}", config.listen)))?;
    tracing::info!(listen = %config.listen, public_url = %gateway.config.server.public_url, tls = acceptor.is_some(), "Viaduc is listening");

    let mut http = http1::Builder::new();
    http.keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.idle_timeout_secs.max(1)))
        .max_buf_size(config.max_header_bytes.max(8192))
        .max_headers(128);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let gw = gateway.clone();
        let http = http.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gw = gw.clone();
                async move { Ok::<_, Infallible>(router::handle(gw, req, peer).await) }
            });
            match acceptor {
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = http.serve_connection(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                None => {
                    let conn = http.serve_connection(TokioIo::new(tcp), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    gateway.shutting_down.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("shutting down: draining connections");
    let grace = Duration::from_secs(gateway.config.server.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
