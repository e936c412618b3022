//! TLS for `tcp://` runners, from the files buildctl users already pass: the CA that signed the
//! daemon's certificate (else the system's CAs), and for mutual TLS a client certificate and key.
//! The daemon is verified against `tlsservername` when given, else the address's host.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types};

use super::address::TlsFiles;
use pki_types::pem::PemObject;

/// Why TLS to a daemon could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("reading the {what} {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Config(String),
}

fn file_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        what,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// What a TLS connection to one daemon needs: the client configuration and the name to verify.
#[derive(Clone)]
pub(crate) struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    server_name: pki_types::ServerName<'static>,
}

impl TlsClient {
    /// Reads the files in `tls` for a daemon at `host` that speaks `protocol` (ALPN: `h2` for
    /// BuildKit's gRPC, `http/1.1` for Docker's API).
    pub(crate) fn new(host: &str, tls: &TlsFiles, protocol: &[u8]) -> Result<TlsClient, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca {
            Some(path) => {
                let certs = pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| file_error("CA certificate", path, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| file_error("CA certificate", path, e))?;
                if certs.is_empty() {
                    return Err(file_error(
                        "CA certificate",
                        path,
                        "no PEM certificate in it",
                    ));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| file_error("CA certificate", path, e))?;
                }
            }
            None => roots = crate::tls::system_roots(),
        }
        let builder =
            crate::tls::client_builder(roots).map_err(|e| TlsError::Config(e.to_string()))?;
        let mut config = match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                let chain = pki_types::CertificateDer::pem_file_iter(cert)
                    .map_err(|e| file_error("client certificate", cert, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| file_error("client certificate", cert, e))?;
                let key_der = pki_types::PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| file_error("client key", key, e))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| file_error("client certificate", cert, e))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![protocol.to_vec()];
        let name = tls.server_name.clone().unwrap_or_else(|| host.to_owned());
        let server_name = pki_types::ServerName::try_from(name.clone())
            .map_err(|e| TlsError::Config(format!("invalid TLS server name {name:?}: {e}")))?;
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }

    /// Runs the TLS handshake over `tcp`.
    pub(crate) async fn connect(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| std::io::Error::other(format!("TLS handshake failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = TlsFiles {
            ca: Some(dir.path().join("nope.pem")),
            ..Default::default()
        };
        let e = TlsClient::new("h", &missing, b"h2")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("CA certificate") && m.contains("nope.pem")),
            "{e:?}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap_or_else(|e| panic!("{e}"));
        let e = TlsClient::new(
            "h",
            &TlsFiles {
                ca: Some(empty),
                ..Default::default()
            },
            b"h2",
        )
        .err()
        .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("no PEM certificate")),
            "{e:?}"
        );
    }
}
