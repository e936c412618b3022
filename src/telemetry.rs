//! OpenTelemetry traces. The standard variables choose where spans go:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, with
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`/`OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or `http/protobuf`), and
//! the older `OTEL_EXPORTER_JAEGER_ENDPOINT`, which is mapped onto the same Jaeger host's OTLP/HTTP
//! intake (port 4318). dirk's spans (session, GraphQL requests, solves) are exported; the trace
//! context travels to BuildKit as `traceparent` metadata so the daemon's own spans join the trace,
//! and every step of a pipeline gets a span of its own, built from the daemon's progress ([`steps`]).
//! Exporting never fails a pipeline: export errors are only logged.

pub mod steps;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// How spans are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318, path `/v1/traces`).
    HttpProtobuf,
}

/// Where traces go, as the environment says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceTarget {
    /// The full endpoint URL.
    pub endpoint: String,
    /// The wire protocol.
    pub protocol: Protocol,
    /// The variable it came from.
    pub source: &'static str,
}

/// Why traces cannot be exported as the environment asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryError {
    /// A protocol variable names a protocol dirk does not speak.
    #[error("{variable}={value:?} is not supported: use grpc or http/protobuf")]
    UnsupportedProtocol {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// An endpoint variable does not hold a URL.
    #[error("{variable}={value:?} is not a URL like {example}")]
    NotAUrl {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What one looks like.
        example: &'static str,
    },
    /// The exporter could not be built.
    #[error("{variable}: {reason}")]
    Exporter {
        /// The variable the endpoint came from.
        variable: &'static str,
        /// What the exporter said.
        reason: String,
    },
}

fn parse_protocol(value: &str, variable: &'static str) -> Result<Protocol, TelemetryError> {
    match value.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        other => Err(TelemetryError::UnsupportedProtocol {
            variable,
            value: other.to_owned(),
        }),
    }
}

/// The port of an `http://host:port/...` URL.
fn port_of(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

/// The scheme and host of a URL (`http://host`), without port and path.
fn scheme_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, _)) if !h.is_empty() => h,
        _ => authority,
    };
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Reads the trace target from the environment (`None` when tracing is not asked for).
pub fn target_from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<TraceTarget>, TelemetryError> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let protocol_var = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|k| get(k).map(|v| (k, v)));
    let explicit = protocol_var
        .map(|(k, v)| parse_protocol(&v, k))
        .transpose()?;
    let guess = |url: &str| {
        explicit.unwrap_or(if port_of(url) == Some(4318) {
            Protocol::HttpProtobuf
        } else {
            Protocol::Grpc
        })
    };
    if let Some(url) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(Some(TraceTarget {
            protocol: guess(&url),
            endpoint: url,
            source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        }));
    }
    if let Some(url) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        let protocol = guess(&url);
        // The generic endpoint is a base URL: the HTTP protocol appends the signal's path.
        let endpoint = match protocol {
            Protocol::HttpProtobuf => format!("{}/v1/traces", url.trim_end_matches('/')),
            Protocol::Grpc => url,
        };
        return Ok(Some(TraceTarget {
            endpoint,
            protocol,
            source: "OTEL_EXPORTER_OTLP_ENDPOINT",
        }));
    }
    if let Some(url) = get("OTEL_EXPORTER_JAEGER_ENDPOINT") {
        let host = scheme_host(&url).ok_or_else(|| TelemetryError::NotAUrl {
            variable: "OTEL_EXPORTER_JAEGER_ENDPOINT",
            value: url.clone(),
            example: "http://jaeger:14268/api/traces",
        })?;
        return Ok(Some(TraceTarget {
            endpoint: format!("{host}:4318/v1/traces"),
            protocol: Protocol::HttpProtobuf,
            source: "OTEL_EXPORTER_JAEGER_ENDPOINT",
        }));
    }
    Ok(None)
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports traces (so that spans made from progress are worth making).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The running exporter; [`Telemetry::shutdown`] flushes what is left.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

/// Builds the exporter for `target` (inside the async runtime) and returns it with the layer that
/// feeds it dirk's spans.
pub fn init<S>(
    target: &TraceTarget,
) -> Result<(Telemetry, impl tracing_subscriber::Layer<S> + use<S>), TelemetryError>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("dirk")
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let timeout = Duration::from_secs(5);
    let exporter_error = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
        variable: target.source,
        reason: e.to_string(),
    };
    let provider = match target.protocol {
        Protocol::Grpc => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(target.endpoint.clone())
                .with_timeout(timeout)
                .build()
                .map_err(exporter_error)?;
            let processor =
                opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                    exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .build();
            builder.with_span_processor(processor).build()
        }
        Protocol::HttpProtobuf => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(target.endpoint.clone())
                .with_timeout(timeout)
                .build()
                .map_err(exporter_error)?;
            builder.with_batch_exporter(exporter).build()
        }
    };
    let tracer = provider.tracer("dirk");
    // Step spans (see [`steps`]) are made with the global tracer: it is this exporter's.
    opentelemetry::global::set_tracer_provider(provider.clone());
    EXPORTING.store(true, Ordering::Relaxed);
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok((Telemetry { provider }, layer))
}

impl Telemetry {
    /// Sends the spans not yet exported, waiting at most a few seconds.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flush = tokio::task::spawn_blocking(move || {
            let _ = provider.force_flush();
            let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
        });
        let _ = tokio::time::timeout(Duration::from_secs(6), flush).await;
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Adds the current span's trace context (`traceparent`) to a gRPC request's metadata.
pub fn inject(metadata: &mut tonic::metadata::MetadataMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MetadataInjector(metadata));
}

/// The current span's `traceparent`, when a trace is being recorded.
pub fn traceparent() -> Option<String> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    inject(&mut metadata);
    let value = metadata.get("traceparent")?.to_str().ok()?;
    Some(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(vars: &[(&str, &str)]) -> Result<Option<TraceTarget>, TelemetryError> {
        target_from_env(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn endpoints_and_protocols_follow_the_otel_variables() {
        assert_eq!(target(&[]), Ok(None));
        let t = target(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")]);
        assert_eq!(
            t.map(|t| t.map(|t| (t.endpoint, t.protocol))),
            Ok(Some(("http://127.0.0.1:4317".into(), Protocol::Grpc)))
        );
        let t = target(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]);
        assert_eq!(
            t.map(|t| t.map(|t| (t.endpoint, t.protocol))),
            Ok(Some((
                "http://127.0.0.1:4318/v1/traces".into(),
                Protocol::HttpProtobuf
            )))
        );
        let t = target(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/traces"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert_eq!(
            t.map(|t| t.map(|t| (t.endpoint, t.protocol))),
            Ok(Some(("http://b:2/traces".into(), Protocol::HttpProtobuf)))
        );
        let e = target(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ]);
        assert_eq!(
            e.err(),
            Some(TelemetryError::UnsupportedProtocol {
                variable: "OTEL_EXPORTER_OTLP_PROTOCOL",
                value: "thrift".into()
            })
        );
    }

    #[test]
    fn the_jaeger_variable_maps_to_jaegers_otlp_intake() {
        let t = target(&[(
            "OTEL_EXPORTER_JAEGER_ENDPOINT",
            "http://jaeger:14268/api/traces",
        )]);
        assert_eq!(
            t.map(|t| t.map(|t| (t.endpoint, t.protocol, t.source))),
            Ok(Some((
                "http://jaeger:4318/v1/traces".into(),
                Protocol::HttpProtobuf,
                "OTEL_EXPORTER_JAEGER_ENDPOINT"
            )))
        );
        assert!(target(&[("OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger")]).is_err());
    }
}
