//! One HTTP/1.1 request per connection, over TCP or TLS: all the registry client needs.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio_rustls::rustls;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {host}: {source}")]
    Connect {
        host: String,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("{method} {url}: {reason}")]
    Exchange {
        method: String,
        url: String,
        reason: String,
    },
}

/// An absolute `http(s)://host[:port]/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Url {
    https: bool,
    pub(super) host: String,
    path: String,
}

impl Url {
    /// The root of `host` (`host[:port]`).
    pub(super) fn new(https: bool, host: &str) -> Url {
        Url {
            https,
            host: host.to_owned(),
            path: "/".to_owned(),
        }
    }

    /// Parses an absolute http or https URL.
    pub(super) fn parse(text: &str) -> Option<Url> {
        let (https, rest) = if let Some(r) = text.strip_prefix("https://") {
            (true, r)
        } else {
            (false, text.strip_prefix("http://")?)
        };
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        (!host.is_empty()).then(|| Url {
            https,
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }

    /// `reference` resolved against this URL: absolute URLs as they are, paths on this host.
    pub(super) fn join(&self, reference: &str) -> Url {
        if let Some(url) = Url::parse(reference) {
            return url;
        }
        Url {
            path: if reference.starts_with('/') {
                reference.to_owned()
            } else {
                format!("/{reference}")
            },
            ..self.clone()
        }
    }

    /// This URL with `params` appended to its query.
    pub(super) fn with_query(&self, params: &[(&str, String)]) -> Url {
        let extra = serde_urlencoded::to_string(params).unwrap_or_default();
        let sep = if self.path.contains('?') { '&' } else { '?' };
        Url {
            path: format!("{}{sep}{extra}", self.path),
            ..self.clone()
        }
    }

    fn host_and_port(&self) -> (String, u16) {
        let default = if self.https { 443 } else { 80 };
        match self.host.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || self.host.starts_with('[') => {
                match p.parse::<u16>() {
                    Ok(port) => (h.trim_matches(['[', ']']).to_owned(), port),
                    Err(_) => (self.host.clone(), default),
                }
            }
            _ => (self.host.trim_matches(['[', ']']).to_owned(), default),
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host, self.path)
    }
}

/// A request body: nothing, bytes in memory, or a file streamed in chunks.
pub(super) struct Body(UnsyncBoxBody<Bytes, std::io::Error>);

impl Body {
    pub(super) fn empty() -> Body {
        Body(Empty::new().map_err(|never| match never {}).boxed_unsync())
    }

    pub(super) fn bytes(bytes: Bytes) -> Body {
        Body(
            Full::new(bytes)
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
    }

    /// The contents of the file at `path`, read as the request is sent.
    pub(super) fn file(path: &Path) -> std::io::Result<Body> {
        let file = std::fs::File::open(path)?;
        let file = tokio::fs::File::from_std(file);
        let stream = futures::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Frame::data(Bytes::from(buf))), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Body(BodyExt::boxed_unsync(StreamBody::new(stream.boxed()))))
    }
}

/// A complete response.
pub(super) struct Response {
    pub status: u16,
    headers: http::HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The value of header `name`, when present and text.
    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// The client configuration for registries: the system's CAs, no client certificate. Built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            crate::tls::client_builder(crate::tls::system_roots())
                .map(|b| Arc::new(b.with_no_client_auth()))
        })
        .clone()
}

/// Sends one request and reads the whole response.
pub(super) async fn request(
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
    body: Body,
) -> Result<Response, HttpError> {
    send(method, url, headers, body, None).await
}

/// Sends a GET and, when it answers 200, streams the body into the file at `into` (the response's
/// `body` stays empty); other answers are read whole, as [`request`] does. Returns the response
/// and the SHA-256 digest of what was written.
pub(super) async fn download(
    url: &Url,
    headers: &[(&str, String)],
    into: &Path,
) -> Result<(Response, String), HttpError> {
    let mut sink = Sink {
        path: into.to_owned(),
        digest: String::new(),
    };
    let response = send("GET", url, headers, Body::empty(), Some(&mut sink)).await?;
    Ok((response, sink.digest))
}

/// Where a downloaded body goes.
struct Sink {
    path: std::path::PathBuf,
    digest: String,
}

async fn send(
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
    body: Body,
    sink: Option<&mut Sink>,
) -> Result<Response, HttpError> {
    let (host, port) = url.host_and_port();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|source| HttpError::Connect {
            host: url.host.clone(),
            source,
        })?;
    if url.https {
        let name =
            rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
        let config = tls_config().map_err(|e| HttpError::Tls {
            host: url.host.clone(),
            reason: e.to_string(),
        })?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
        exchange(TokioIo::new(tls), method, url, headers, body, sink).await
    } else {
        exchange(TokioIo::new(tcp), method, url, headers, body, sink).await
    }
}

async fn exchange<IO>(
    io: IO,
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
    body: Body,
    sink: Option<&mut Sink>,
) -> Result<Response, HttpError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let failed = |reason: String| HttpError::Exchange {
        method: method.to_owned(),
        url: url.to_string(),
        reason,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(&url.path)
        .header("host", &url.host)
        .header("user-agent", concat!("dirk/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let request = builder.body(body.0).map_err(|e| failed(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if method == "HEAD" {
        Bytes::new()
    } else if let Some(sink) = sink.filter(|_| status == 200) {
        use sha2::Digest as _;
        use tokio::io::AsyncWriteExt as _;
        let write_failed =
            |e: std::io::Error| failed(format!("writing {}: {e}", sink.path.display()));
        let mut file = tokio::fs::File::create(&sink.path)
            .await
            .map_err(write_failed)?;
        let mut hasher = sha2::Sha256::new();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| failed(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                hasher.update(data);
                file.write_all(data).await.map_err(write_failed)?;
            }
        }
        file.flush().await.map_err(write_failed)?;
        sink.digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        Bytes::new()
    } else {
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes()
    };
    driver.abort();
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_and_take_queries() {
        let base = Url::new(false, "127.0.0.1:5000");
        assert_eq!(
            base.join("/v2/a/blobs/uploads/x?_state=1")
                .with_query(&[("digest", "sha256:ab".into())])
                .to_string(),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=1&digest=sha256%3Aab"
        );
        assert_eq!(
            base.join("https://other.example/up").to_string(),
            "https://other.example/up"
        );
        assert_eq!(base.host_and_port(), ("127.0.0.1".into(), 5000));
        assert_eq!(
            Url::new(true, "r.example").host_and_port(),
            ("r.example".into(), 443)
        );
        assert_eq!(Url::parse("ftp://x"), None);
    }
}
