//! Problems with a compose file's services (`compose/service.rs`, `deploy.rs`, `ports.rs`): what
//! docker's loader, converter or the daemon would refuse in a service, in their words where they
//! have some. Texts carried in a variant (`why`, `error`) come from the reader's parsers of
//! docker's formats.

use super::Words;
use super::compose::error_;
use crate::diagnostic::Code;

/// A problem with a service of a compose file. `what` names a value in the user's words.
#[derive(Debug, Clone, PartialEq)]
pub enum ComposeServiceProblem<'a> {
    /// An image reference docker refuses, and why.
    BadImage { service: &'a str, error: &'a str },
    /// A service without `image`.
    NoImage { service: &'a str },
    /// An ingress port on a dnsrr service.
    IngressWithDnsrr { port: u32 },
    /// A restart policy Swarm cannot take, and why.
    BadRestartPolicy { why: &'a str },
    /// Two configs or secrets (`kind`) at one target; `name` is the second one.
    DuplicateTarget { kind: &'a str, name: &'a str },
    /// An isolation Swarm does not know.
    UnknownIsolation { service: &'a str, isolation: &'a str },
    /// An env_file item without `path`.
    EnvFileWithoutPath { what: &'a str },
    /// An env_file that is neither a path nor a list.
    EnvFileNotPaths { what: &'a str },
    /// A healthcheck with both `test` and `disable`.
    TestAndDisable,
    /// `networks` that is not a list or a mapping.
    NetworksNotAList { what: &'a str },
    /// Config or secret references that are not a list.
    ReferencesNotAList { what: &'a str },
    /// A config or secret reference without `source`.
    ReferenceWithoutSource { what: &'a str },
    /// A config or secret reference that is a list.
    ReferenceNotNameOrMapping { what: &'a str },
    /// A file mode that is not one.
    NotAFileMode { value: &'a str },
    /// An extra_hosts entry without an address.
    HostWithoutAddress { what: &'a str, entry: &'a str },
    /// extra_hosts that is a single value.
    HostsNotListOrMapping { what: &'a str },
    /// A ulimit with only one of `soft` and `hard`.
    UlimitIncomplete { what: &'a str },
    /// A credential_spec with more than one of `set`.
    CredentialSpecConflict { set: &'a [&'a str] },
    /// `replicas` on a global service.
    ReplicasWithGlobal,
    /// A job mode, which the compose step does not run.
    JobMode { mode: &'a str },
    /// A mode Swarm does not know.
    UnknownMode { mode: &'a str },
    /// `failure_action: rollback` in a `rollback_config`.
    RollbackOfRollback,
    /// A `max_failure_ratio` outside 0 to 1.
    FailureRatioOutOfRange { value: &'a str },
    /// A placement constraint Swarm does not read, and why.
    BadConstraint { constraint: &'a str, why: &'a str },
    /// Placement preferences that are not a list.
    PreferencesNotAList { what: &'a str },
    /// Fewer CPUs than Swarm takes.
    CpusBelowLeast { value: &'a str },
    /// Not a number of CPUs, and why.
    NotCpus { value: &'a str, why: &'a str },
    /// `generic_resources` that is not a list.
    GenericResourcesNotAList,
    /// Ports that are not a list.
    PortsNotAList { what: &'a str },
    /// A long-form port without `target`.
    PortWithoutTarget,
    /// A port outside 1 to 65535.
    PortOutOfRange,
    /// A port's address, which docker ignores.
    PortAddressIgnored { address: &'a str, port: &'a str },
    /// A port docker does not read, and why.
    NotAPort { port: &'a str, why: &'a str },
}

impl ComposeServiceProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use ComposeServiceProblem::*;
        match *self {
            BadImage { service, error } => {
                error_(format!("invalid image reference for service {service}: {error}"), "not an image reference")
                    .help("write `NAME[:TAG]`, in lowercase, such as `registry.example.com/shop/web:1.4`")
            }
            NoImage { service } => error_(format!("service `{service}` has no `image`"), "no image")
                .help("a stack runs images: add `image: NAME:TAG`"),
            IngressWithDnsrr { port } => error_(
                format!(
                    "port {port} is published with ingress mode, which can't be used with dnsrr mode (the daemon's words)"
                ),
                "ingress ports",
            )
            .help("publish it with `mode: host` (long form), or use `endpoint_mode: vip`"),
            BadRestartPolicy { why } => error_(why, "not a restart policy")
                .help("write `deploy.restart_policy` with a `condition` of none, on-failure or any"),
            DuplicateTarget { kind, name } => {
                error_(format!("duplicate {kind} target for {name} not allowed"), "a second one at this path")
                    .help(format!("give each {kind} its own `target` (docker refuses two at one path)"))
            }
            UnknownIsolation { service, isolation } => {
                error_(format!("service `{service}` has the isolation `{isolation}`, which Swarm does not know"), "here")
                    .help("write `default` (Linux), or `process` or `hyperv` (Windows)")
            }
            EnvFileWithoutPath { what } => {
                error_(format!("an item of {what} has no `path`"), "no path").help("write `- path: ./app.env`")
            }
            EnvFileNotPaths { what } => error_(format!("{what} must be a path or a list of paths"), "a mapping")
                .help("write `env_file: ./app.env`"),
            TestAndDisable => error_("test and disable can't be set at the same time", "disable")
                .help("remove `test`, or remove `disable`"),
            NetworksNotAList { what } => error_(format!("{what} must be a list of network names"), "not a list")
                .help("write `networks: [front, back]`"),
            ReferencesNotAList { what } => {
                error_(format!("{what} must be a list"), "not a list").help("write `- name` items")
            }
            ReferenceWithoutSource { what } => {
                error_(format!("an item of {what} has no `source`"), "no source").help("add `source: NAME`")
            }
            ReferenceNotNameOrMapping { what } => {
                error_(format!("an item of {what} must be a name or a mapping"), "a list").help("write `- source: NAME`")
            }
            NotAFileMode { value } => error_(format!("`mode` must be a file mode such as 0440, not `{value}`"), "not a mode")
                .help("write an octal mode such as 0440"),
            HostWithoutAddress { what, entry } => Words::warning(
                Code::ComposeFile,
                format!("docker stack deploy silently drops the entry `{entry}` of {what}: it names no address"),
                "no address",
            )
            .help(format!("write `{entry}:ADDRESS`")),
            HostsNotListOrMapping { what } => error_(format!("{what} must be a list or a mapping"), "a value")
                .help("write `- \"host:10.0.0.1\"`"),
            UlimitIncomplete { what } => error_(format!("{what} needs both `soft` and `hard`"), "incomplete")
                .help("write `{soft: 20000, hard: 40000}`, or one number for both"),
            CredentialSpecConflict { set } => {
                error_(format!("invalid credential spec: cannot specify both {}", set.join(" and ")), "more than one")
                    .help("keep one of `config`, `file` and `registry`")
            }
            ReplicasWithGlobal => error_(
                "replicas can only be used with replicated or replicated-job mode",
                "global services have no replica count",
            )
            .help("remove `replicas`, or write `mode: replicated`"),
            JobMode { mode } => error_(format!("planrun's compose step does not run jobs yet (`mode: {mode}`)"), "a job")
                .help("run a one-off task with a `run` step in the plan, or deploy this service with `docker stack deploy`"),
            UnknownMode { mode } => error_(format!("Unknown mode: {mode}"), "unknown mode")
                .help("write `mode: replicated` or `mode: global`"),
            RollbackOfRollback => error_(
                "`failure_action: rollback` in a `rollback_config`: a rollback that fails cannot roll back",
                "not for a rollback",
            )
            .help("the Engine API takes `pause` or `continue` here: write one of them"),
            FailureRatioOutOfRange { value } => {
                error_(format!("`max_failure_ratio` must be a fraction from 0 to 1, not `{value}`"), "out of range")
                    .help("write a fraction such as 0.2")
            }
            BadConstraint { constraint, why } => {
                error_(format!("the constraint `{constraint}` is not one Swarm reads: {why}"), "not a constraint").help(
                    "write `KEY==VALUE` or `KEY!=VALUE`, such as `node.role==manager` or `node.labels.zone!=b`",
                )
            }
            PreferencesNotAList { what } => {
                error_(format!("{what} must be a list"), "not a list").help("write `- spread: node.labels.zone`")
            }
            CpusBelowLeast { value } => {
                error_(format!("invalid cpu value {value}: Must be at least 0.001"), "below Swarm's least")
                    .help("Swarm refuses less than 0.001 CPUs (the daemon's words): write `cpus: \"0.001\"` or more")
            }
            NotCpus { value, why } => {
                error_(format!("`cpus` must be a number of CPUs such as 0.5, not `{value}`: {why}"), "not a number of CPUs")
                    .help("write `cpus: \"0.5\"`")
            }
            GenericResourcesNotAList => error_("`generic_resources` must be a list", "not a list")
                .help("write `- discrete_resource_spec: {kind: gpu, value: 1}`"),
            PortsNotAList { what } => {
                error_(format!("{what} must be a list"), "not a list").help("write `- \"8080:80\"`")
            }
            PortWithoutTarget => error_("a port in the long form needs `target`: the container's port", "no target")
                .help("add `target: 80`"),
            PortOutOfRange => {
                error_("a port must be from 1 to 65535", "out of range").help("write a port such as `target: 80`")
            }
            PortAddressIgnored { address, port } => Words::warning(
                Code::ComposeFile,
                format!(
                    "docker stack deploy ignores the address {address} of `{port}`, and so does planrun: the port listens on every address"
                ),
                "address ignored",
            )
            .help("write the port without the address; to listen on one address only, put a proxy in front"),
            NotAPort { port, why } => error_(format!("`{port}` is not a port docker reads: {why}"), "not a port").help(
                "write `PUBLISHED:TARGET[/udp]`, such as `8080:80`, a range such as `9090-9091:8080-8081`, or the long form with `target`",
            ),
        }
    }
}
