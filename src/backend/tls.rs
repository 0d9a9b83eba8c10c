//! TLS client configuration shared by every backend connection (IMAP, SMTP, ManageSieve, LDAP, DAV):
//! the system's trusted roots plus, optionally, a CA file named in the configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::error::{Backend, Error, Kind, Result};

/// Builds a rustls client configuration trusting the system roots and the certificates in `ca_file`.
pub fn client_config(backend: Backend, ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            Error::backend(backend, Kind::Other, format!("cannot read CA file {}: {e}", path.display()))
        })?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| {
                Error::backend(backend, Kind::Other, format!("bad certificate in {}: {e}", path.display()))
            })?;
            roots
                .add(cert)
                .map_err(|e| Error::backend(backend, Kind::Other, format!("unusable CA in {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::backend(backend, Kind::Other, format!("no certificate in {}", path.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The server name to verify a backend's certificate against.
pub fn server_name(backend: Backend, host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string())
        .map_err(|_| Error::backend(backend, Kind::Other, format!("{host:?} is not a valid TLS server name")))
}
