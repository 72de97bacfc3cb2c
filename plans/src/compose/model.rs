//! The part of a compose file that `docker stack deploy` applies, typed, with spans.
//!
//! Everything here is already interpolated and read the way the docker CLI's loader reads it
//! (environment resolved, bind sources absolute, external objects named). Turning it into Swarm
//! specs (names with the stack's prefix, object ids) is the engine's work.

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
    /// Volumes declared at the top level, in file order.
    pub volumes: Vec<VolumeDef>,
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

    /// The top-level volume with this key.
    pub fn volume(&self, key: &str) -> Option<&VolumeDef> {
        self.volumes.iter().find(|v| v.key == key)
    }
}

/// One service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// Its name in the file (the Swarm service is `STACK_NAME`).
    pub name: Spanned<String>,
    /// The image, as written.
    pub image: Spanned<String>,
    /// `command`: the container's arguments.
    pub command: Option<Vec<String>>,
    /// `entrypoint`: the container's program.
    pub entrypoint: Option<Vec<String>>,
    /// `environment` over `env_file`, resolved as docker resolves it (an empty or bare name
    /// takes the environment's value); `None` is a bare name the environment lacks, which
    /// docker passes on as it is.
    pub environment: BTreeMap<String, Option<String>>,
    /// `env_file`: files of `KEY=VALUE` lines, relative to the compose file (read into
    /// `environment` by `check::compose::read`).
    pub env_files: Vec<Spanned<String>>,
    /// `labels`: the containers' labels.
    pub labels: BTreeMap<String, String>,
    /// `healthcheck`.
    pub healthcheck: Option<Healthcheck>,
    /// `networks`, in file order; empty means the stack's `default` network.
    pub networks: Vec<Attachment>,
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
    /// `extra_hosts`, as `IP HOST` lines the way Swarm stores them, in file order.
    pub extra_hosts: Vec<String>,
    /// `ports`, one per published port (a range is several).
    pub ports: Vec<Port>,
    /// `volumes`: mounts, in file order.
    pub volumes: Vec<Mount>,
    /// `dns`.
    pub dns: Option<Vec<String>>,
    /// `dns_search`.
    pub dns_search: Option<Vec<String>>,
    /// `cap_add`, as written.
    pub cap_add: Vec<String>,
    /// `cap_drop`, as written.
    pub cap_drop: Vec<String>,
    /// `sysctls`.
    pub sysctls: BTreeMap<String, String>,
    /// `ulimits`, by name.
    pub ulimits: BTreeMap<String, Ulimit>,
    /// `logging`.
    pub logging: Option<Logging>,
    /// `isolation`.
    pub isolation: Option<String>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i64>,
    /// `credential_spec`.
    pub credential_spec: Option<CredentialSpec>,
    /// `restart`: docker uses it when `deploy.restart_policy` is absent.
    pub restart: Option<String>,
    /// `deploy`.
    pub deploy: Deploy,
}

/// A container health check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Healthcheck {
    /// `test` as Swarm stores it (`["CMD-SHELL", "..."]`, `["CMD", ...]`, `["NONE"]`); `None`
    /// keeps the image's.
    pub test: Option<Vec<String>>,
    /// Nanoseconds.
    pub interval: Option<i64>,
    /// Nanoseconds.
    pub timeout: Option<i64>,
    /// Nanoseconds.
    pub start_period: Option<i64>,
    /// Nanoseconds.
    pub start_interval: Option<i64>,
    /// Retries.
    pub retries: Option<u64>,
}

/// A network a service joins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attachment {
    /// The network's key in the file (`default` for the stack's own).
    pub key: String,
    /// `aliases`.
    pub aliases: Vec<String>,
    /// `driver_opts`.
    pub driver_opts: BTreeMap<String, String>,
    /// Where it was written.
    pub span: Span,
}

/// A config or secret a service mounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRef {
    /// The name of the top-level config or secret.
    pub source: Spanned<String>,
    /// Where it appears in the container (default: the source's name, which for configs is
    /// relative to `/` and for secrets to `/run/secrets`).
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
    /// `tcp`, `udp` or `sctp`; `None` leaves it to Swarm (tcp).
    pub protocol: Option<String>,
    /// `ingress` or `host`; `None` leaves it to Swarm (ingress).
    pub mode: Option<String>,
}

/// What a mount is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MountKind {
    /// A named or anonymous volume.
    #[default]
    Volume,
    /// A path of the node.
    Bind,
    /// Memory.
    Tmpfs,
    /// A Windows named pipe.
    Npipe,
    /// A Swarm cluster (CSI) volume.
    Cluster,
    /// An image's filesystem.
    Image,
}

impl MountKind {
    /// The Engine API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Npipe => "npipe",
            MountKind::Cluster => "cluster",
            MountKind::Image => "image",
        }
    }
}

/// One entry of a service's `volumes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mount {
    /// Its type.
    pub kind: MountKind,
    /// A named volume's key in the file, a bind's absolute path (`~` and relative paths
    /// resolved), a cluster volume's key or `group:NAME`; `None` for an anonymous volume or a
    /// tmpfs.
    pub source: Option<String>,
    /// The path in the container.
    pub target: String,
    /// `read_only` (`:ro`).
    pub read_only: bool,
    /// `consistency`.
    pub consistency: Option<String>,
    /// `bind` options: the propagation, when written.
    pub bind: Option<BindOptions>,
    /// `volume` options: `nocopy`.
    pub volume: Option<VolumeOptions>,
    /// `tmpfs` options: the size.
    pub tmpfs: Option<TmpfsOptions>,
    /// Where the entry was written.
    pub span: Span,
    /// Where its source was written (the entry itself for the short syntax).
    pub source_span: Span,
    /// A bind source written relative (or with `~`): docker resolved it against the machine
    /// that read the file, so it names a path of the compose file's checkout (which the nodes
    /// must have too); that checkout must have it.
    pub relative: bool,
}

/// A bind mount's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindOptions {
    /// `rprivate`, `private`, `rshared`, `shared`, `rslave` or `slave`.
    pub propagation: Option<String>,
}

/// A volume mount's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeOptions {
    /// Do not copy the image's files into a new volume.
    pub nocopy: bool,
}

/// A tmpfs mount's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// Bytes.
    pub size: Option<i64>,
}

/// A `ulimits` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ulimit {
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// `logging`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logging {
    /// The log driver.
    pub driver: Option<String>,
    /// Its options.
    pub options: BTreeMap<String, String>,
}

/// `credential_spec` (Windows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CredentialSpec {
    /// A config of the file holding it.
    pub config: Option<String>,
    /// A file on the node.
    pub file: Option<String>,
    /// A registry value.
    pub registry: Option<String>,
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
    /// `resources.limits`, when written.
    pub limits: Option<Resources>,
    /// `resources.reservations`, when written.
    pub reservations: Option<Resources>,
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

/// CPU, memory, processes and generic resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPUs in units of 1e-9.
    pub nano_cpus: Option<i64>,
    /// Bytes.
    pub memory: Option<i64>,
    /// `pids` (limits only).
    pub pids: Option<i64>,
    /// `generic_resources` (reservations only): kind and count.
    pub generic: Vec<(String, i64)>,
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
    /// `name`: the Swarm name when it is not `STACK_KEY` (for an external network, its key
    /// when it has no name, as docker reads it).
    pub name: Option<String>,
    /// `external`: planrun only looks it up.
    pub external: bool,
    /// `driver` (default overlay).
    pub driver: Option<String>,
    /// `driver_opts`.
    pub driver_opts: BTreeMap<String, String>,
    /// `ipam`.
    pub ipam: Option<Ipam>,
    /// `attachable`.
    pub attachable: bool,
    /// `internal`.
    pub internal: bool,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// Where its key was written.
    pub span: Span,
}

/// A network's `ipam`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ipam {
    /// The IPAM driver.
    pub driver: Option<String>,
    /// `config[].subnet`.
    pub subnets: Vec<String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeDef {
    /// Its key in the file.
    pub key: String,
    /// `name`: the volume's name when it is not `STACK_KEY` (for an external volume, its
    /// key when it has no name).
    pub name: Option<String>,
    /// `external`: Swarm mounts it by name and creates nothing.
    pub external: bool,
    /// `driver`.
    pub driver: Option<String>,
    /// `driver_opts`; `Some` when written, even empty (docker then sends a driver config).
    pub driver_opts: Option<BTreeMap<String, String>>,
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
    /// `name`: the Swarm name when it is not `STACK_KEY` (for an external object, its key
    /// when it has no name).
    pub name: Option<String>,
    /// `external`: planrun only looks it up.
    pub external: bool,
    /// `file`, relative to the compose file's directory.
    pub file: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `driver` (secrets): a secret store plugin holds the value.
    pub driver: Option<String>,
    /// `driver_opts` (secrets).
    pub driver_opts: BTreeMap<String, String>,
    /// `template_driver`.
    pub template_driver: Option<String>,
    /// Where its key was written.
    pub span: Span,
}
