//! TLS for `rediss://` (feature `tls`): rustls with the ring crypto provider, passed
//! explicitly, so that nothing depends on a process-wide default provider (which an
//! application may have set to another provider, or not at all while two are compiled in).
//!
//! The server is trusted if the system's roots or the configured private CA vouch for it.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A client configuration with the ring provider, trusting the system's roots and `root`
/// (PEM), if given.
pub(crate) fn client_config(root: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate); // a system root rustls cannot use is skipped
    }
    if let Some(pem) = root {
        let mut found = false;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate = certificate.map_err(|e| format!("the root certificate is not valid PEM: {e}"))?;
            roots.add(certificate).map_err(|e| format!("the root certificate is not usable: {e}"))?;
            found = true;
        }
        if !found {
            return Err("the root certificate holds no PEM certificate".to_owned());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS stream to `host:port`, the certificate checked for `host`.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    config: &Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let tcp = TcpStream::connect((host, port)).await?;
    let _ = tcp.set_nodelay(true);
    tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name, tcp).await
}

/// For a Redis Cluster over TLS, whose connections the Redis client makes itself from the
/// process-wide provider: makes sure there is one (ring), unless the application chose one.
pub(crate) fn ensure_process_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
