//! The real swarm over bollard: a Docker Engine that is a swarm manager.
//!
//! Connecting negotiates the API version down to the daemon's (bollard 0.21 would otherwise
//! speak 1.53, which a 20.10 daemon refuses) and checks that the node can manage the swarm.
//!
//! Services are inspected as raw JSON, not through bollard: the daemon writes a container
//! spec's health check as `Healthcheck` while bollard reads only `HealthCheck`, so a spec read
//! through bollard and written back would silently lose its health check. (The daemon reads
//! field names case-insensitively, so writing through bollard is safe.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    Config, ConfigSpec, ContainerInspectResponse, HealthStatusEnum, LocalNodeState, Service, ServiceSpec, SystemInfo,
    Task, TaskState,
};
use bollard::query_parameters::{LogsOptions, RemoveContainerOptions, UpdateServiceOptions};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::swarm_changes::Changes;
use super::swarm_exec::io_error;
use super::swarm_raw::{
    MAX_ANSWER_BYTES, MAX_OBJECT_BYTES, REQUEST_TIMEOUT_SECS, RawApi, classify, config_object, percent_encode,
    service_from_raw, with_cluster_options,
};
use super::{
    Cluster, ClusterError, ConfigObject, Exec, Executed, Network, NewNetwork, NewObject, Revision, SecretObject,
    ServiceCounts,
};

/// Where Docker listens when DOCKER_HOST is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

pub use super::swarm_exec::MAX_CAPTURED;
/// How much of a service's last log lines is kept: their end.
pub const LOGS_KEPT: usize = 1 << 20;

/// A connection to a Docker Engine that is a swarm manager.
#[derive(Clone)]
pub struct Swarm {
    docker: Docker,
    raw: RawApi,
    host: String,
    /// Why ended tasks' containers were unhealthy, by task id (it no longer changes).
    unhealthy: Arc<Mutex<HashMap<String, Option<String>>>>,
    /// Changes heard on the event stream (opened when a loop first asks).
    changes: Arc<Changes>,
}

/// How long a loop following or watching a service goes without looking when the event
/// stream says nothing: what no event tells (a task on another node) is seen this late.
const QUIET_LIMIT: Duration = Duration::from_secs(1);

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
        // bollard's own message ("Error in the hyper legacy client: client error (Connect)")
        // hides the cause; the innermost one says what happened.
        let cause = |e: DockerError| {
            let root = crate::cause::root(&e);
            if root.contains("Connection refused") {
                format!("connection refused at {host}")
            } else {
                crate::cause::chain(&e)
            }
        };
        // The version is asked through the raw client, whose reads are bounded; bollard's own
        // negotiation would read the answer whole.
        let mut raw = RawApi::new(host, tls).map_err(|e| unanswered(e.to_string()))?;
        let refused = |e: ClusterError| match e {
            ClusterError::Unavailable(why) if why.contains("Connection refused") => {
                unanswered(format!("connection refused at {host}"))
            }
            ClusterError::Unavailable(why)
                if why.contains("No such file or directory") && host.starts_with("unix://") =>
            {
                unanswered(format!("Socket not found: {}", host.trim_start_matches("unix://")))
            }
            ClusterError::Unavailable(why) => unanswered(why),
            other => other,
        };
        let version = &raw.negotiate(bollard::API_DEFAULT_VERSION).await.map_err(refused)?;
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
        .map_err(|e| unanswered(cause(e)))?;
        let info: SystemInfo = raw.get_as("/info", MAX_OBJECT_BYTES).await.map_err(refused)?;
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
        Ok(Swarm { docker, raw, host: host.to_string(), unhealthy: Arc::default(), changes: Arc::default() })
    }

    /// The secrets a list filter (`name`, `label`) matches.
    async fn secrets_by(&self, key: &str, value: &str) -> Result<Vec<SecretObject>, ClusterError> {
        let secrets: Vec<bollard::models::Secret> =
            self.raw.get_as(&list_path("/secrets", key, value), MAX_ANSWER_BYTES).await?;
        Ok(secrets
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec?;
                Some(SecretObject { id: s.id?, name: spec.name?, labels: spec.labels.unwrap_or_default() })
            })
            .collect())
    }

    /// The bollard client, for what the `Cluster` trait does not cover (tests create services).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The address connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A container on this node, inspected.
    async fn container(&self, id: &str) -> Result<ContainerInspectResponse, ClusterError> {
        self.raw.get_as(&format!("/containers/{}/json", percent_encode(id)), MAX_OBJECT_BYTES).await
    }

    /// This node's swarm node id, when it is in a swarm.
    async fn node_here(&self) -> Result<Option<String>, ClusterError> {
        let info: SystemInfo = self.raw.get_as("/info", MAX_OBJECT_BYTES).await?;
        Ok(info.swarm.and_then(|s| s.node_id).filter(|n| !n.is_empty()))
    }

    /// The last health check's exit code and output of a container, as a failure message.
    async fn health_output(&self, container: &str) -> Option<String> {
        let inspect = self.container(container).await.ok()?;
        let health = inspect.state.and_then(|s| s.health)?;
        let last = health.log.unwrap_or_default().pop().unwrap_or_default();
        let output = last.output.unwrap_or_default();
        let output = output.trim().lines().last().unwrap_or("no output").chars().take(200).collect::<String>();
        Some(format!("container unhealthy: health check exited {}: {output}", last.exit_code.unwrap_or(-1)))
    }

    /// Why an ended task's container was unhealthy, from its last health check. Swarm stops an
    /// unhealthy task, and an app that exits 0 on SIGTERM then ends `complete` with no error:
    /// the container's health log is the only place the cause is written. Only containers on
    /// this node can be inspected.
    async fn unhealthy_because(&self, task: &Task) -> Option<String> {
        let status = task.status.as_ref()?;
        if status.err.as_deref().is_some_and(|e| !e.is_empty())
            || !matches!(status.state, Some(TaskState::COMPLETE | TaskState::FAILED))
        {
            return None;
        }
        let task_id = task.id.clone()?;
        if let Some(known) = self.unhealthy.lock().ok()?.get(&task_id) {
            return known.clone();
        }
        let container = status.container_status.as_ref()?.container_id.clone()?;
        let inspect = self.container(&container).await.ok()?;
        let unhealthy =
            inspect.state.and_then(|s| s.health).is_some_and(|h| h.status == Some(HealthStatusEnum::UNHEALTHY));
        let why = if unhealthy { self.health_output(&container).await } else { None };
        self.unhealthy.lock().ok()?.insert(task_id, why.clone());
        why
    }
}

/// `~/.docker`, where the docker CLI keeps its TLS certificates.
fn default_cert_dir() -> Result<PathBuf, ClusterError> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")).ok_or_else(|| {
        ClusterError::Unavailable("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is".into())
    })
}

/// `path` with a list filter `key=value`, as the Engine API takes it.
fn list_path(path: &str, key: &str, value: &str) -> String {
    let filters = serde_json::json!({ key: [value] }).to_string();
    format!("{path}?filters={}", percent_encode(&filters))
}

#[async_trait]
impl Cluster for Swarm {
    async fn service(&self, name: &str) -> Result<Service, ClusterError> {
        service_from_raw(self.raw.get(&format!("/services/{name}")).await?)
    }

    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
        // The API takes the raft index as i32; an index beyond that cannot be sent.
        let version = i32::try_from(version).map_err(|_| {
            ClusterError::Other(format!("version index {version} does not fit the Engine API's update parameter"))
        })?;
        if let Some(body) = with_cluster_options(&spec) {
            self.raw.post(&format!("/services/{id}/update?version={version}"), &body).await?;
            return Ok(());
        }
        let options = UpdateServiceOptions { version, ..Default::default() };
        let response = self.docker.update_service(id, spec, options, None).await.map_err(classify)?;
        // Warnings (such as an image that could not be resolved) are not failures.
        let _ = response.warnings;
        Ok(())
    }

    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        // Through the raw client, whose answers are bounded (a service's task history on a
        // large swarm is the largest answer planrun reads often); bollard reads whole bodies.
        let filters = serde_json::json!({ "service": [service_id] }).to_string();
        let raw = self.raw.get(&format!("/tasks?filters={}", percent_encode(&filters))).await?;
        let tasks: Vec<Task> = serde_json::from_value(raw)
            .map_err(|e| ClusterError::Other(format!("unreadable task list of service {service_id}: {e}")))?;
        // The service filter also matches by name prefix: keep this service's tasks only.
        let mut tasks: Vec<Task> = tasks.into_iter().filter(|t| t.service_id.as_deref() == Some(service_id)).collect();
        for task in &mut tasks {
            if let Some(why) = self.unhealthy_because(task).await
                && let Some(status) = task.status.as_mut()
            {
                status.err = Some(why);
            }
        }
        Ok(tasks)
    }

    async fn revision(&self, service_id: &str) -> Revision {
        self.changes.revision(&self.docker, service_id)
    }

    async fn changed(&self, services: &[(String, Revision)], until: Instant) {
        self.changes.changed(&self.docker, services, until).await
    }

    fn quiet_limit(&self) -> Option<Duration> {
        Some(QUIET_LIMIT)
    }

    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        let filters = serde_json::json!({ "id": [service_id] }).to_string();
        let raw = self.raw.get(&format!("/services?status=true&filters={}", percent_encode(&filters))).await?;
        let services: Vec<Service> =
            raw.as_array().cloned().unwrap_or_default().into_iter().map(service_from_raw).collect::<Result<_, _>>()?;
        let service = services
            .into_iter()
            .find(|s| s.id.as_deref() == Some(service_id))
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let status = service.service_status.unwrap_or_default();
        Ok(ServiceCounts { running: status.running_tasks.unwrap_or(0), desired: status.desired_tasks.unwrap_or(0) })
    }

    async fn create_config(&self, config: NewObject) -> Result<String, ClusterError> {
        let name = config.name.clone();
        let spec = ConfigSpec {
            name: Some(config.name),
            labels: Some(config.labels),
            data: Some(base64::engine::general_purpose::STANDARD.encode(&config.data)),
            templating: config.templating.map(|t| bollard::models::Driver { name: t, options: None }),
        };
        let created = self.docker.create_config(spec).await.map_err(|e| match classify(e) {
            ClusterError::Conflict(_) => ClusterError::Conflict(format!("config {name}")),
            other => other,
        })?;
        Ok(created.id)
    }

    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        let configs: Vec<Config> = self.raw.get_as(&list_path("/configs", "name", name), MAX_ANSWER_BYTES).await?;
        // The name filter matches prefixes too: keep the exact name.
        Ok(configs.into_iter().filter_map(config_object).find(|c| c.name == name))
    }

    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
        let configs: Vec<Config> = self.raw.get_as(&list_path("/configs", "label", label), MAX_ANSWER_BYTES).await?;
        Ok(configs.into_iter().filter_map(config_object).collect())
    }

    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
        let path = format!("/networks/{}", percent_encode(name_or_id));
        match self.raw.get_as::<bollard::models::NetworkInspect>(&path, MAX_OBJECT_BYTES).await {
            Ok(n) => Ok(Some(Network { id: n.id.unwrap_or_default(), name: n.name.unwrap_or_default() })),
            Err(ClusterError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        self.docker.delete_config(id).await.map_err(classify)
    }

    async fn update_config_labels(
        &self,
        id: &str,
        version: u64,
        labels: HashMap<String, String>,
    ) -> Result<(), ClusterError> {
        // Swarm takes the whole spec back with only the labels changed.
        let config: Config = self.raw.get_as(&format!("/configs/{}", percent_encode(id)), MAX_OBJECT_BYTES).await?;
        let spec = config.spec.unwrap_or_default();
        let spec = ConfigSpec { labels: Some(labels), ..spec };
        let options = bollard::query_parameters::UpdateConfigOptions { version: version as i64 };
        self.docker.update_config(id, spec, options).await.map_err(classify)
    }

    async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError> {
        let name = network.name.clone();
        let request = bollard::models::NetworkCreateRequest {
            name: network.name,
            driver: Some(network.driver),
            attachable: Some(network.attachable),
            internal: Some(network.internal),
            labels: Some(network.labels),
            options: Some(network.options),
            ipam: network.ipam.map(|i| bollard::models::Ipam {
                driver: i.driver,
                config: Some(
                    i.subnets
                        .into_iter()
                        .map(|subnet| bollard::models::IpamConfig { subnet: Some(subnet), ..Default::default() })
                        .collect(),
                )
                .filter(|c: &Vec<_>| !c.is_empty()),
                options: None,
            }),
            ..Default::default()
        };
        let created = self.docker.create_network(request).await.map_err(|e| match classify(e) {
            ClusterError::Conflict(_) => ClusterError::Conflict(format!("network {name}")),
            other => other,
        })?;
        Ok(created.id)
    }

    async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
        self.docker.remove_network(id).await.map_err(classify)
    }

    async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError> {
        // The name filter matches prefixes too: keep the exact name.
        Ok(self.secrets_by("name", name).await?.into_iter().find(|s| s.name == name))
    }

    async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError> {
        let name = secret.name.clone();
        let spec = bollard::models::SecretSpec {
            name: Some(secret.name),
            labels: Some(secret.labels),
            data: Some(base64::engine::general_purpose::STANDARD.encode(&secret.data)),
            driver: secret.driver.map(|(name, options)| bollard::models::Driver { name, options: Some(options) }),
            templating: secret.templating.map(|t| bollard::models::Driver { name: t, options: None }),
        };
        let created = self.docker.create_secret(spec).await.map_err(|e| match classify(e) {
            ClusterError::Conflict(_) => ClusterError::Conflict(format!("secret {name}")),
            other => other,
        })?;
        Ok(created.id)
    }

    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
        self.docker.delete_secret(id).await.map_err(classify)
    }

    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
        let name = spec.name.clone().unwrap_or_default();
        if let Some(body) = with_cluster_options(&spec) {
            let created = self.raw.post("/services/create", &body).await.map_err(|e| match e {
                ClusterError::Conflict(_) => ClusterError::Conflict(format!("service {name}")),
                other => other,
            })?;
            return created["ID"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ClusterError::Other(format!("the daemon created service {name} without an id")));
        }
        let created = self.docker.create_service(spec, None).await.map_err(|e| match classify(e) {
            ClusterError::Conflict(_) => ClusterError::Conflict(format!("service {name}")),
            other => other,
        })?;
        created.id.ok_or_else(|| ClusterError::Other(format!("the daemon created service {name} without an id")))
    }

    async fn has_image(&self, reference: &str) -> Result<bool, ClusterError> {
        match self.docker.inspect_image(reference).await.map_err(classify) {
            Ok(_) => Ok(true),
            Err(ClusterError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn import_image(&self, reference: &str, rootfs: Vec<u8>) -> Result<(), ClusterError> {
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let path = format!("/images/create?fromSrc=-&repo={}&tag={}", percent_encode(repo), percent_encode(tag));
        self.raw.post_tar(&path, rootfs).await
    }

    async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
        let tasks = self.tasks(id).await.unwrap_or_default();
        self.docker.delete_service(id).await.map_err(classify)?;
        // dockerd 20.10 leaves the exited containers of a removed job service behind: remove the
        // ones on this node that have ended (running ones Swarm stops and removes itself).
        for task in tasks {
            let ended = matches!(
                task.status.as_ref().and_then(|s| s.state),
                Some(TaskState::COMPLETE | TaskState::FAILED | TaskState::REJECTED | TaskState::SHUTDOWN)
            );
            let container = task.status.and_then(|s| s.container_status).and_then(|c| c.container_id);
            if let (true, Some(container)) = (ended, container) {
                let _ = self.docker.remove_container(&container, None::<RemoveContainerOptions>).await;
            }
        }
        Ok(())
    }

    async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError> {
        let filters = serde_json::json!({ "label": [label] }).to_string();
        let path = format!("/services?filters={}", percent_encode(&filters));
        let raw = self.raw.get(&path).await?;
        let list = raw.as_array().cloned().unwrap_or_default();
        list.into_iter().map(service_from_raw).collect()
    }

    async fn unhealthy(&self, service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
        let filters = serde_json::json!({
            "label": [format!("com.docker.swarm.service.id={service_id}")],
            "health": ["unhealthy"],
        })
        .to_string();
        let path = format!("/containers/json?filters={}", percent_encode(&filters));
        let containers: Vec<bollard::models::ContainerSummary> = self.raw.get_as(&path, MAX_ANSWER_BYTES).await?;
        let mut found = Vec::new();
        for container in containers {
            let task = container.labels.as_ref().and_then(|l| l.get("com.docker.swarm.task.id")).cloned();
            let (Some(task), Some(id)) = (task, container.id) else { continue };
            let why = self.health_output(&id).await.unwrap_or_else(|| "container unhealthy".into());
            found.push((task, why));
        }
        Ok(found)
    }

    async fn post_mortem(&self, task: &Task, log_lines: usize) -> super::PostMortem {
        super::swarm_post_mortem::post_mortem(&self.raw, task, log_lines).await
    }

    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
        let options = LogsOptions { stdout: true, stderr: true, tail: tail.to_string(), ..Default::default() };
        let mut stream = self.docker.service_logs(service_id, Some(options));
        // Only the end is kept: `tail` counts lines, and a line can be of any length.
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            text.extend_from_slice(&chunk.map_err(classify)?.into_bytes());
            if text.len() > 2 * LOGS_KEPT {
                text.drain(..text.len() - LOGS_KEPT);
            }
        }
        let text = String::from_utf8_lossy(&text[text.len().saturating_sub(LOGS_KEPT)..]);
        Ok(text.into_owned())
    }

    async fn api_version(&self) -> Option<(u32, u32)> {
        let v = self.docker.client_version();
        Some((v.major_version as u32, v.minor_version as u32))
    }

    async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError> {
        self.secrets_by("label", label).await
    }

    async fn only_node_is_here(&self) -> bool {
        let local = self.host.starts_with("unix://");
        let info = self.raw.get_as::<SystemInfo>("/info", MAX_OBJECT_BYTES).await;
        let nodes = info.ok().and_then(|i| i.swarm).and_then(|s| s.nodes);
        local && nodes == Some(1)
    }

    async fn node_taking_tasks_here(&self) -> Option<String> {
        let node = self.node_here().await.ok()??;
        let path = format!("/nodes/{}", percent_encode(&node));
        let inspected: bollard::models::Node = self.raw.get_as(&path, MAX_OBJECT_BYTES).await.ok()?;
        let active =
            inspected.spec.and_then(|s| s.availability) == Some(bollard::models::NodeSpecAvailabilityEnum::ACTIVE);
        active.then_some(node)
    }

    async fn nodes_down(&self) -> Vec<(String, String)> {
        use bollard::models::NodeState;
        let nodes: Vec<bollard::models::Node> = self.raw.get_as("/nodes", MAX_ANSWER_BYTES).await.unwrap_or_default();
        nodes
            .into_iter()
            .filter(|n| {
                matches!(n.status.as_ref().and_then(|s| s.state), Some(NodeState::DOWN | NodeState::DISCONNECTED))
            })
            .filter_map(|n| {
                let id = n.id?;
                let host = n.description.and_then(|d| d.hostname).unwrap_or_else(|| id.clone());
                Some((id, host))
            })
            .collect()
    }

    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
        let Some(node) = self.node_here().await? else {
            return Ok(None);
        };
        // A task whose container passed its health check a moment ago may still read
        // `starting` here (the node reports to the manager a little later): its container runs.
        let tasks = self.tasks(service_id).await?;
        let container = |wanted: TaskState| {
            tasks.iter().find_map(|t| {
                let status = t.status.as_ref()?;
                (t.node_id.as_deref() == Some(node.as_str())
                    && t.desired_state == Some(TaskState::RUNNING)
                    && status.state == Some(wanted))
                .then_some(())?;
                status.container_status.as_ref()?.container_id.clone()
            })
        };
        Ok(container(TaskState::RUNNING).or_else(|| container(TaskState::STARTING)))
    }

    async fn exec(&self, exec: Exec) -> Result<Executed, ClusterError> {
        super::swarm_exec::exec(&self.docker, &self.raw, exec).await
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<(), ClusterError> {
        // Whole seconds, rounded up: a grace of 500 ms must not become an immediate SIGKILL.
        let seconds = i32::try_from(grace.as_millis().div_ceil(1000)).unwrap_or(i32::MAX);
        let options = bollard::query_parameters::StopContainerOptionsBuilder::new().t(seconds).build();
        match self.docker.stop_container(id, Some(options)).await {
            // 304: it had stopped already; 404: it is gone (Swarm removed it meanwhile).
            Err(DockerError::DockerResponseServerError { status_code: 304 | 404, .. }) => Ok(()),
            answer => answer.map_err(classify),
        }
    }

    async fn logs_to(&self, service_id: &str, to: &Path) -> Result<u64, ClusterError> {
        use tokio::io::AsyncWriteExt;
        let options = LogsOptions { stdout: true, stderr: false, tail: "all".into(), ..Default::default() };
        let mut stream = self.docker.service_logs(service_id, Some(options));
        let mut file = crate::private::create_async(to).await.map_err(io_error)?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let bytes = chunk.map_err(classify)?.into_bytes();
            written += bytes.len() as u64;
            if written > MAX_CAPTURED as u64 {
                return Err(ClusterError::Other(format!(
                    "service {service_id} printed more than {} MiB, more than planrun reads of a job's output",
                    MAX_CAPTURED >> 20
                )));
            }
            file.write_all(&bytes).await.map_err(io_error)?;
        }
        file.flush().await.map_err(io_error)?;
        Ok(written)
    }
}
