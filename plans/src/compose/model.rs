//! The part of a compose file that `docker stack deploy` applies, typed, with spans.
//!
//! Everything here is already interpolated. Values keep compose's meaning; turning them into
//! Swarm specs (names with the stack's prefix, network and config ids) is the engine's work.

use std::collections::BTreeMap;

use crate::span::Span;
use crate::spanned::Spanned;

/// A compose file, as far as a Swarm stack goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComposeFile {
    /// Services, in file order.
    pub services: Vec<Service>,
    /// Networks declared at the top level, in file order.
    pub networks: Vec<NetworkDef>,
    /// Configs declared at the top level.
    pub configs: Vec<FileObject>,
    /// Secrets declared at the top level.
    pub secrets: Vec<FileObject>,
}

impl ComposeFile {
    /// The service with this (unprefixed) name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.value == name)
    }
}

/// One service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// Its name in the file (the Swarm service is `STACK_NAME`).
    pub name: Spanned<String>,
    /// The image.
    pub image: Spanned<String>,
    /// `command`: the container's arguments.
    pub command: Option<Vec<String>>,
    /// `entrypoint`: the container's program.
    pub entrypoint: Option<Vec<String>>,
    /// `environment` (and `env_file`), by name; `None` for a bare name the environment lacks.
    pub environment: BTreeMap<String, Option<String>>,
    /// `env_file`: files of `KEY=VALUE` lines, relative to the compose file; `environment`
    /// wins over them (`check::compose::read` reads them into `environment`).
    pub env_files: Vec<Spanned<String>>,
    /// `labels`: the containers' labels.
    pub labels: BTreeMap<String, String>,
    /// `healthcheck`.
    pub healthcheck: Option<Healthcheck>,
    /// `networks`: (network name in the file, extra aliases), in file order; empty means the
    /// stack's `default` network.
    pub networks: Vec<(String, Vec<String>)>,
    /// `configs`.
    pub configs: Vec<FileRef>,
    /// `secrets`.
    pub secrets: Vec<FileRef>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `working_dir`.
    pub working_dir: Option<String>,
    /// `stop_grace_period`, in nanoseconds.
    pub stop_grace_period: Option<i64>,
    /// `stop_signal`.
    pub stop_signal: Option<String>,
    /// `read_only`.
    pub read_only: bool,
    /// `init`.
    pub init: Option<bool>,
    /// `tty`.
    pub tty: bool,
    /// `stdin_open`.
    pub stdin_open: bool,
    /// `extra_hosts`, as `IP HOST` lines the way Swarm stores them.
    pub extra_hosts: Vec<String>,
    /// `ports`.
    pub ports: Vec<Port>,
    /// `deploy`.
    pub deploy: Deploy,
}

/// A container health check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Healthcheck {
    /// `test` as Swarm stores it (`["CMD-SHELL", "..."]`, `["CMD", ...]`, `["NONE"]`).
    pub test: Vec<String>,
    /// Nanoseconds.
    pub interval: Option<i64>,
    /// Nanoseconds.
    pub timeout: Option<i64>,
    /// Nanoseconds.
    pub start_period: Option<i64>,
    /// Retries.
    pub retries: Option<u64>,
}

/// A config or secret a service mounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRef {
    /// The name of the top-level config or secret.
    pub source: Spanned<String>,
    /// Where it appears in the container (default: `/<source>` for configs, `<source>` under
    /// `/run/secrets` for secrets).
    pub target: Option<String>,
    /// Owner.
    pub uid: Option<String>,
    /// Group.
    pub gid: Option<String>,
    /// File mode.
    pub mode: Option<u32>,
}

/// A published port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    /// The container's port.
    pub target: u32,
    /// The published port, if any.
    pub published: Option<u32>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// `ingress` or `host`.
    pub mode: String,
}

/// `deploy`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deploy {
    /// `mode` and `replicas`.
    pub mode: Mode,
    /// `deploy.labels`: the service's labels.
    pub labels: BTreeMap<String, String>,
    /// `update_config`.
    pub update_config: Option<UpdateConfig>,
    /// `rollback_config`.
    pub rollback_config: Option<UpdateConfig>,
    /// `restart_policy`.
    pub restart_policy: Option<RestartPolicy>,
    /// `endpoint_mode`: `vip` or `dnsrr`.
    pub endpoint_mode: Option<String>,
    /// `placement.constraints`.
    pub constraints: Vec<String>,
    /// `placement.preferences` (spread descriptors).
    pub preferences: Vec<String>,
    /// `placement.max_replicas_per_node`.
    pub max_replicas_per_node: Option<u64>,
    /// `resources.limits`.
    pub limits: Resources,
    /// `resources.reservations`.
    pub reservations: Resources,
}

/// How many tasks a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// This many replicas.
    Replicated(u64),
    /// One task per eligible node.
    Global,
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Replicated(1)
    }
}

/// CPU and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPUs in units of 1e-9.
    pub nano_cpus: Option<i64>,
    /// Bytes.
    pub memory: Option<i64>,
}

/// `update_config` or `rollback_config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateConfig {
    /// Tasks at once (0: all).
    pub parallelism: Option<u64>,
    /// Nanoseconds between batches.
    pub delay: Option<i64>,
    /// `continue`, `rollback` or `pause`.
    pub failure_action: Option<String>,
    /// Nanoseconds each new task is watched.
    pub monitor: Option<i64>,
    /// Failures tolerated, as a fraction.
    pub max_failure_ratio: Option<f64>,
    /// `start-first` or `stop-first`.
    pub order: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// `restart_policy`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    /// Nanoseconds.
    pub delay: Option<i64>,
    /// Attempts.
    pub max_attempts: Option<u64>,
    /// Nanoseconds.
    pub window: Option<i64>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkDef {
    /// Its key in the file.
    pub key: String,
    /// `name`: the Swarm name when it is not `STACK_KEY`.
    pub name: Option<String>,
    /// `external`: planrun only looks it up.
    pub external: bool,
    /// `driver` (default overlay).
    pub driver: Option<String>,
    /// `driver_opts`.
    pub driver_opts: BTreeMap<String, String>,
    /// `attachable`.
    pub attachable: bool,
    /// `internal`.
    pub internal: bool,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// Where its key was written.
    pub span: Span,
}

/// A top-level config or secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileObject {
    /// Its key in the file.
    pub key: String,
    /// `name`: the Swarm name when it is not `STACK_KEY`.
    pub name: Option<String>,
    /// `external`: planrun only looks it up.
    pub external: bool,
    /// `file`, relative to the compose file's directory.
    pub file: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// Where its key was written.
    pub span: Span,
}
