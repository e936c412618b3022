//! The TLS client setup dirk uses wherever it speaks TLS (BuildKit runners, registries): rustls
//! with the ring provider and its safe default protocol versions.

use std::sync::Arc;

use tokio_rustls::rustls;

/// The machine's trusted CA certificates (those it cannot read are skipped).
pub(crate) fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// A client configuration builder that trusts `roots`; the caller chooses client authentication.
pub(crate) fn client_builder(
    roots: rustls::RootCertStore,
) -> Result<
    rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
    rustls::Error,
> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots))
}
