//! The real swarm over bollard: a Docker Engine that is a swarm manager.
//!
//! Connecting negotiates the API version down to the daemon's (bollard 0.21 would otherwise
//! speak 1.53, which a 20.10 daemon refuses) and checks that the node can manage the swarm.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use base64::Engine as _;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ConfigSpec, LocalNodeState, Service, ServiceSpec, Task};
use bollard::query_parameters::{
    InspectServiceOptions, ListConfigsOptions, ListServicesOptions, ListTasksOptions, UpdateServiceOptions,
};

use super::{Cluster, ClusterError, ConfigObject, ServiceCounts};

/// Where Docker listens when DOCKER_HOST is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Seconds bollard waits for one request.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// A connection to a Docker Engine that is a swarm manager.
#[derive(Clone)]
pub struct Swarm {
    docker: Docker,
    host: String,
}

impl Swarm {
    /// Connects as the docker CLI would: DOCKER_HOST (a unix socket by default), with TLS when
    /// DOCKER_TLS_VERIFY or DOCKER_CERT_PATH is set (certificates from DOCKER_CERT_PATH or
    /// `~/.docker`).
    pub async fn connect() -> Result<Swarm, ClusterError> {
        let host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
        let host = host.as_deref().unwrap_or(DEFAULT_HOST);
        let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        let cert_path = std::env::var("DOCKER_CERT_PATH").ok().filter(|p| !p.is_empty());
        let tls_dir = match (&cert_path, verify) {
            (Some(path), _) => Some(PathBuf::from(path)),
            (None, true) => Some(default_cert_dir()?),
            (None, false) => None,
        };
        Swarm::connect_to(host, tls_dir.as_deref().map(|dir| (dir, verify))).await
    }

    /// Connects to `host` (`unix://PATH`, `tcp://HOST:PORT`, `https://...`); `tls` is the
    /// directory holding `ca.pem`, `cert.pem` and `key.pem`, and whether to verify the daemon.
    ///
    /// planrun always verifies the daemon's certificate: TLS without verification is refused.
    pub async fn connect_to(host: &str, tls: Option<(&Path, bool)>) -> Result<Swarm, ClusterError> {
        let unanswered = |why: String| {
            ClusterError::Unavailable(format!(
                "no Docker daemon answers at {host}: {why} (start dockerd, or set DOCKER_HOST)"
            ))
        };
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match tls {
            _ if host.starts_with("unix://") => Docker::connect_with_unix(host, REQUEST_TIMEOUT_SECS, version),
            Some((_, false)) => {
                return Err(ClusterError::Unavailable(format!(
                    "TLS without verifying the daemon's certificate is not supported for {host}: \
                     set DOCKER_TLS_VERIFY=1 (or tls-verify = true)"
                )));
            }
            Some((dir, true)) if host.starts_with("tcp://") || host.starts_with("https://") => {
                Docker::connect_with_ssl(
                    host,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    REQUEST_TIMEOUT_SECS,
                    version,
                )
            }
            None if host.starts_with("tcp://") || host.starts_with("http://") => {
                Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, version)
            }
            _ => {
                return Err(ClusterError::Unavailable(format!(
                    "unsupported Docker host `{host}`: use unix://PATH, tcp://HOST:PORT or https://HOST:PORT"
                )));
            }
        }
        .map_err(|e| unanswered(e.to_string()))?;
        let docker = docker.negotiate_version().await.map_err(|e| unanswered(e.to_string()))?;
        let info = docker.info().await.map_err(|e| unanswered(e.to_string()))?;
        let swarm = info.swarm.unwrap_or_default();
        let state = swarm.local_node_state.unwrap_or(LocalNodeState::INACTIVE);
        if state != LocalNodeState::ACTIVE || swarm.control_available != Some(true) {
            let state = match state {
                LocalNodeState::ACTIVE => "active, but this node is a worker".to_string(),
                LocalNodeState::EMPTY => "unknown".to_string(),
                other => other.to_string(),
            };
            return Err(ClusterError::Unavailable(format!(
                "this Docker node is not a swarm manager (swarm state: {state}): run `docker swarm init` \
                 or point DOCKER_HOST at a manager"
            )));
        }
        Ok(Swarm { docker, host: host.to_string() })
    }

    /// The bollard client, for what the `Cluster` trait does not cover (tests create services).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The address connected to.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// `~/.docker`, where the docker CLI keeps its TLS certificates.
fn default_cert_dir() -> Result<PathBuf, ClusterError> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")).ok_or_else(|| {
        ClusterError::Unavailable("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is".into())
    })
}

/// Sorts a bollard error into what the engine acts on.
fn classify(error: DockerError) -> ClusterError {
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

fn filter(key: &str, value: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(key.to_string(), vec![value.to_string()])])
}

#[async_trait]
impl Cluster for Swarm {
    async fn service(&self, name: &str) -> Result<Service, ClusterError> {
        self.docker.inspect_service(name, None::<InspectServiceOptions>).await.map_err(classify)
    }

    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
        // The API takes the raft index as i32; an index beyond that cannot be sent.
        let version = i32::try_from(version).map_err(|_| {
            ClusterError::Other(format!("version index {version} does not fit the Engine API's update parameter"))
        })?;
        let options = UpdateServiceOptions { version, ..Default::default() };
        let response = self.docker.update_service(id, spec, options, None).await.map_err(classify)?;
        // Warnings (such as an image that could not be resolved) are not failures.
        let _ = response.warnings;
        Ok(())
    }

    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        let options = ListTasksOptions { filters: Some(filter("service", service_id)) };
        let tasks = self.docker.list_tasks(Some(options)).await.map_err(classify)?;
        // The service filter also matches by name prefix: keep this service's tasks only.
        Ok(tasks.into_iter().filter(|t| t.service_id.as_deref() == Some(service_id)).collect())
    }

    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        let options = ListServicesOptions { filters: Some(filter("id", service_id)), status: Some(true) };
        let services = self.docker.list_services(Some(options)).await.map_err(classify)?;
        let service = services
            .into_iter()
            .find(|s| s.id.as_deref() == Some(service_id))
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let status = service.service_status.unwrap_or_default();
        Ok(ServiceCounts { running: status.running_tasks.unwrap_or(0), desired: status.desired_tasks.unwrap_or(0) })
    }

    async fn create_config(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        data: &[u8],
    ) -> Result<String, ClusterError> {
        let spec = ConfigSpec {
            name: Some(name.to_string()),
            labels: Some(labels),
            data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            templating: None,
        };
        let created = self.docker.create_config(spec).await.map_err(|e| match classify(e) {
            ClusterError::Conflict(_) => ClusterError::Conflict(format!("config {name}")),
            other => other,
        })?;
        Ok(created.id)
    }

    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        let options = ListConfigsOptions { filters: Some(filter("name", name)) };
        let configs = self.docker.list_configs(Some(options)).await.map_err(classify)?;
        // The name filter matches prefixes too: keep the exact name.
        Ok(configs.into_iter().find_map(|c| {
            let spec = c.spec?;
            (spec.name.as_deref() == Some(name)).then(|| ConfigObject {
                id: c.id.unwrap_or_default(),
                name: name.to_string(),
                labels: spec.labels.unwrap_or_default(),
            })
        }))
    }

    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        self.docker.delete_config(id).await.map_err(classify)
    }
}
