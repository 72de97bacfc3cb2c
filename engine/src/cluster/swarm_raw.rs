//! Plain HTTP to the Docker daemon: every read, each bounded in bytes (bollard reads whole
//! bodies into memory) and read into bollard's models; a service read back as the daemon wrote
//! it (`Healthcheck`, which bollard would drop); a spec with a `cluster` mount
//! (`ClusterOptions`, which bollard has no field for); a config object with its data and
//! version; and how Docker's errors are sorted.

use std::path::Path;

use bollard::ClientVersion;
use bollard::errors::Error as DockerError;
use bollard::models::{Service, ServiceSpec};

use super::ClusterError;
use crate::cause::IoError;

/// Seconds a request may take.
pub const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The largest list read from the daemon: a list of a thousand services with their specs is
/// tens of megabytes, and a stack's configs carry their data (up to 500 KiB each); an answer
/// far bigger is not read into memory.
pub const MAX_ANSWER_BYTES: usize = 256 << 20;

/// The largest single object read from the daemon (its version and info, one service, node,
/// network, config, container or exec): each is a few kilobytes, a service with a large
/// environment some hundreds.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// Reads `response`'s body, at most `limit` bytes: a longer one is an error naming the limit,
/// and no more than the limit and one chunk is ever held.
pub async fn read_bounded(mut response: reqwest::Response, limit: usize, what: &str) -> Result<Vec<u8>, ClusterError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| ClusterError::Unavailable(format!("{what}: {e}")))? {
        if body.len() + chunk.len() > limit {
            return Err(ClusterError::Other(format!(
                "{what}: the daemon's answer is larger than {} MiB, more than planrun reads",
                limit >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why the plain HTTP client to the daemon cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawApiError {
    /// A file of `DOCKER_CERT_PATH` cannot be read.
    CertFile {
        /// `cert.pem`, `key.pem` or `ca.pem`.
        file: &'static str,
        /// Why.
        error: IoError,
    },
    /// The client identity or the CA does not read as PEM, or the client cannot be built.
    Client {
        /// What reqwest said.
        message: String,
    },
}

impl std::fmt::Display for RawApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawApiError::CertFile { file, error } => write!(f, "cannot read {file}: {error}"),
            RawApiError::Client { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for RawApiError {}

impl From<reqwest::Error> for RawApiError {
    fn from(e: reqwest::Error) -> Self {
        RawApiError::Client { message: e.to_string() }
    }
}

/// Plain HTTP to the same daemon: every read, so that each answer is bounded (bollard reads
/// whole bodies), and the writes bollard's models would alter.
#[derive(Clone)]
pub struct RawApi {
    client: reqwest::Client,
    /// Such as `http://docker`.
    origin: String,
    /// Such as `http://docker/v1.41`; the origin until [`RawApi::negotiate`].
    base: String,
}

impl RawApi {
    /// A client for `host`, not yet speaking a version: [`RawApi::negotiate`] picks it.
    pub fn new(host: &str, tls: Option<(&Path, bool)>) -> Result<RawApi, RawApiError> {
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(REQUEST_TIMEOUT_SECS));
        let origin = if let Some(path) = host.strip_prefix("unix://") {
            builder = builder.unix_socket(path);
            "http://docker".to_string()
        } else {
            let address =
                host.trim_start_matches("tcp://").trim_start_matches("https://").trim_start_matches("http://");
            match tls {
                Some((dir, _)) => {
                    let read = |file: &'static str| {
                        std::fs::read(dir.join(file)).map_err(|e| RawApiError::CertFile { file, error: e.into() })
                    };
                    let mut identity = read("cert.pem")?;
                    identity.extend(read("key.pem")?);
                    let identity = reqwest::Identity::from_pem(&identity)?;
                    let ca = reqwest::Certificate::from_pem(&read("ca.pem")?)?;
                    builder = builder.identity(identity).add_root_certificate(ca).tls_built_in_root_certs(false);
                    format!("https://{address}")
                }
                None => format!("http://{address}"),
            }
        };
        let client = builder.build()?;
        Ok(RawApi { client, base: origin.clone(), origin })
    }

    /// Asks the daemon its API version (a bounded read) and speaks the lower of it and
    /// `highest`, as the docker CLI does; returns the version spoken.
    pub async fn negotiate(&mut self, highest: &ClientVersion) -> Result<ClientVersion, ClusterError> {
        let answer: bollard::models::SystemVersion = self.get_as("/version", MAX_OBJECT_BYTES).await?;
        let daemon = answer.api_version.as_deref().and_then(|v| {
            let (major, minor) = v.split_once('.')?;
            Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
        });
        let Some(daemon) = daemon else {
            return Err(ClusterError::Other(format!(
                "the daemon's API version {:?} does not read as MAJOR.MINOR",
                answer.api_version.unwrap_or_default()
            )));
        };
        let spoken = if daemon < *highest { daemon } else { *highest };
        self.base = format!("{}/v{}.{}", self.origin, spoken.major_version, spoken.minor_version);
        Ok(spoken)
    }

    /// POSTs `body` to `path`, for what bollard's models cannot say; HTTP errors are sorted like
    /// bollard's.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, ClusterError> {
        let response = self.client.post(format!("{}{path}", self.base)).json(body).send().await.map_err(unanswered)?;
        let status = response.status().as_u16();
        let bytes = read_bounded(response, MAX_OBJECT_BYTES, &format!("POST {path}")).await?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status >= 400 {
            let message = body["message"].as_str().unwrap_or_default().to_string();
            return Err(classify(DockerError::DockerResponseServerError { status_code: status, message }));
        }
        Ok(body)
    }

    /// POSTs a tar to `path` (`/images/create?fromSrc=-`) and reads the progress it answers
    /// with; an `errorDetail` in it is an error, as are HTTP errors (sorted like bollard's).
    pub async fn post_tar(&self, path: &str, tar: Vec<u8>) -> Result<(), ClusterError> {
        let request = self.client.post(format!("{}{path}", self.base)).header("Content-Type", "application/x-tar");
        // A big root file system takes a while to unpack; the client's own timeout is per request.
        let response = request.body(tar).send().await.map_err(unanswered)?;
        let status = response.status().as_u16();
        let bytes = read_bounded(response, MAX_OBJECT_BYTES, &format!("POST {path}")).await?;
        let text = String::from_utf8_lossy(&bytes);
        let failed = text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|v| {
            let detail = v["errorDetail"]["message"].as_str();
            detail.or(if status >= 400 { v["message"].as_str() } else { None }).map(str::to_owned)
        });
        if status >= 400 || failed.is_some() {
            let message = failed.unwrap_or_else(|| text.trim().to_owned());
            return Err(classify(DockerError::DockerResponseServerError { status_code: status.max(500), message }));
        }
        Ok(())
    }

    /// GETs `path` and hands back the answer unread, for a caller that reads it within its own
    /// bounds (a log); HTTP errors are sorted like bollard's.
    pub async fn get_unread(&self, path: &str) -> Result<reqwest::Response, ClusterError> {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.map_err(unanswered)?;
        let status = response.status().as_u16();
        if status >= 400 {
            let bytes = read_bounded(response, 1 << 20, &format!("GET {path}")).await?;
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = body["message"].as_str().unwrap_or_default().to_string();
            return Err(classify(DockerError::DockerResponseServerError { status_code: status, message }));
        }
        Ok(response)
    }

    /// GETs a list at `path` as JSON, at most [`MAX_ANSWER_BYTES`]; HTTP errors are sorted like
    /// bollard's.
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, ClusterError> {
        self.get_as(path, MAX_ANSWER_BYTES).await
    }

    /// GETs `path` and reads it as `T`, at most `limit` bytes (an error naming the limit
    /// beyond); HTTP errors are sorted like bollard's.
    pub async fn get_as<T: serde::de::DeserializeOwned>(&self, path: &str, limit: usize) -> Result<T, ClusterError> {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.map_err(unanswered)?;
        let status = response.status().as_u16();
        let bytes = read_bounded(response, limit, &format!("GET {path}")).await?;
        if status >= 400 {
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = body["message"].as_str().unwrap_or_default().to_string();
            return Err(classify(DockerError::DockerResponseServerError { status_code: status, message }));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClusterError::Other(format!("unreadable answer to GET {path}: {e}")))
    }
}

/// A request the daemon did not answer, with the cause (such as `Connection refused`) that
/// reqwest's own message leaves out.
fn unanswered(e: reqwest::Error) -> ClusterError {
    ClusterError::Unavailable(crate::cause::chain(&e))
}

/// Reads a service as the daemon wrote it, fixing the health check's spelling first.
pub fn service_from_raw(mut raw: serde_json::Value) -> Result<Service, ClusterError> {
    respell_health_check(&mut raw);
    let name = raw.pointer("/Spec/Name").and_then(|n| n.as_str()).unwrap_or("?").to_owned();
    serde_json::from_value(raw).map_err(|e| ClusterError::Other(format!("unreadable service {name}: {e}")))
}

/// The spec as JSON with `ClusterOptions: {}` on each `cluster` mount, as the docker CLI sends
/// it (bollard's model has no such field); `None` when the spec has no cluster mount.
pub fn with_cluster_options(spec: &ServiceSpec) -> Option<serde_json::Value> {
    let mounts = spec.task_template.as_ref()?.container_spec.as_ref()?.mounts.as_ref()?;
    if !mounts.iter().any(|m| m.typ == Some(bollard::models::MountType::CLUSTER)) {
        return None;
    }
    let mut body = serde_json::to_value(spec).ok()?;
    for m in body.pointer_mut("/TaskTemplate/ContainerSpec/Mounts")?.as_array_mut()? {
        if m["Type"] == "cluster" {
            m["ClusterOptions"] = serde_json::json!({});
        }
    }
    Some(body)
}

/// Renames the daemon's `Healthcheck` to the `HealthCheck` bollard reads.
pub fn respell_health_check(service: &mut serde_json::Value) {
    if let Some(container) = service.pointer_mut("/Spec/TaskTemplate/ContainerSpec").and_then(|c| c.as_object_mut())
        && let Some(health) = container.remove("Healthcheck")
    {
        container.insert("HealthCheck".into(), health);
    }
}

/// Sorts a bollard error into what the engine acts on.
pub fn classify(error: DockerError) -> ClusterError {
    match error {
        DockerError::DockerResponseServerError { status_code, message } => match status_code {
            404 => ClusterError::NotFound(message),
            409 => ClusterError::Conflict(message),
            500 if message.contains("update out of sequence") => ClusterError::OutOfSequence,
            503 => ClusterError::Unavailable(message),
            _ => ClusterError::Other(format!("Docker answered {status_code}: {message}")),
        },
        DockerError::HyperLegacyError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::IOError { .. }
        | DockerError::SocketNotFoundError(_)
        | DockerError::RequestTimeoutError => ClusterError::Unavailable(error.to_string()),
        other => ClusterError::Other(other.to_string()),
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A config object as the daemon lists it, its data decoded.
pub fn config_object(c: bollard::models::Config) -> Option<super::ConfigObject> {
    let spec = c.spec?;
    let data =
        spec.data.as_deref().and_then(|d| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d).ok());
    Some(super::ConfigObject {
        id: c.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        labels: spec.labels.unwrap_or_default(),
        data: data.unwrap_or_default(),
        version: c.version.and_then(|v| v.index).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A server on 127.0.0.1 that answers one request with `bytes` zeros, written until the
    /// client stops reading.
    fn endless(bytes: u64) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ =
                write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\n\r\n");
            let chunk = vec![b'0'; 64 * 1024];
            let mut sent = 0u64;
            while sent < bytes && stream.write_all(&chunk).is_ok() {
                sent += chunk.len() as u64;
            }
        });
        format!("http://{address}/services")
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_an_error_naming_it_and_is_not_held() {
        let url = endless(1 << 30);
        let response = reqwest::get(&url).await.unwrap();
        let error = read_bounded(response, 1 << 20, "GET /services").await.unwrap_err().to_string();
        assert!(
            error.ends_with("GET /services: the daemon's answer is larger than 1 MiB, more than planrun reads"),
            "{error}"
        );
    }
}
