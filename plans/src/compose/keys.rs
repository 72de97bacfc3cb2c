//! The keys of docker's compose schema for stacks (v3.13, the docker CLI's
//! `cli/compose/schema`) at the top level, in a service, its `deploy`, its long-form networks
//! and volumes, and top-level networks, volumes, configs and secrets, with what
//! `docker stack deploy` does with each: applies it, ignores it (with its "Ignoring unsupported
//! options" warning, or silently), or refuses the file. The reader warns about every ignored key
//! and refuses what docker refuses; docs/language.md's tables of compose keys are checked
//! against these lists. Keys nested deeper (`update_config`, `resources`, `healthcheck`, ...) are
//! listed where they are read.

/// What `docker stack deploy` does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Applied to the service or object, as docker applies it.
    Applied,
    /// Applied, and docker warns about it all the same (planrun says why).
    Discouraged(&'static str),
    /// Left out. `docker_warns` when docker names it in "Ignoring unsupported options" or
    /// "Ignoring deprecated options"; otherwise docker drops it without a word.
    Ignored {
        /// Why, and what to do instead.
        why: &'static str,
        /// Whether docker says so.
        docker_warns: bool,
    },
    /// Docker refuses a file that has it.
    Refused(&'static str),
}

/// A key and its treatment.
pub type Key = (&'static str, Treatment);

use Treatment::{Applied, Discouraged, Refused};

const fn unsupported(why: &'static str) -> Treatment {
    Treatment::Ignored { why, docker_warns: true }
}

const fn silent(why: &'static str) -> Treatment {
    Treatment::Ignored { why, docker_warns: false }
}

const NO_SUCH_SETTING: &str = "a Swarm service has no such setting";
const RESOURCES: &str = "set resource limits using deploy.resources";

/// The top level of the file (besides `x-` extension fields).
pub const TOP: &[Key] = &[
    ("version", Applied),
    ("services", Applied),
    ("networks", Applied),
    ("volumes", Applied),
    ("secrets", Applied),
    ("configs", Applied),
];

/// A service (besides `x-` extension fields).
pub const SERVICE: &[Key] = &[
    ("build", unsupported("Swarm does not build images: build and push it first, then name it in `image`")),
    ("cap_add", Applied),
    ("cap_drop", Applied),
    ("cgroupns_mode", unsupported(NO_SUCH_SETTING)),
    ("cgroup_parent", unsupported(NO_SUCH_SETTING)),
    ("command", Applied),
    ("configs", Applied),
    ("container_name", unsupported("Swarm names tasks itself")),
    ("credential_spec", Applied),
    ("depends_on", silent("Swarm starts services in no order: order steps with `after` in the plan")),
    ("deploy", Applied),
    ("devices", unsupported("Swarm services cannot map devices")),
    ("dns", Applied),
    ("dns_search", Applied),
    ("domainname", unsupported(NO_SUCH_SETTING)),
    ("entrypoint", Applied),
    ("env_file", Applied),
    ("environment", Applied),
    ("expose", unsupported("services on the same network reach each other on any port")),
    ("external_links", unsupported("services on one network find each other by name")),
    ("extra_hosts", Applied),
    ("healthcheck", Applied),
    ("hostname", Applied),
    ("image", Applied),
    ("init", Applied),
    ("ipc", unsupported(NO_SUCH_SETTING)),
    ("isolation", Applied),
    ("labels", Applied),
    ("links", unsupported("services on one network find each other by name")),
    ("logging", Applied),
    ("mac_address", unsupported("Swarm gives each task its addresses")),
    ("network_mode", unsupported("a service joins the networks under `networks`")),
    ("networks", Applied),
    ("oom_score_adj", Applied),
    ("pid", unsupported(NO_SUCH_SETTING)),
    ("ports", Applied),
    ("privileged", unsupported(NO_SUCH_SETTING)),
    ("read_only", Applied),
    (
        "restart",
        Discouraged(
            "docker names it among the options it ignores, yet uses it when `deploy.restart_policy` is \
             absent (`always` and `unless-stopped` restart on any exit, `on-failure[:N]` on failure, `no` \
             leaves Swarm's default); write `deploy.restart_policy` instead",
        ),
    ),
    ("secrets", Applied),
    ("security_opt", unsupported(NO_SUCH_SETTING)),
    ("shm_size", unsupported(NO_SUCH_SETTING)),
    ("stdin_open", Applied),
    ("stop_grace_period", Applied),
    ("stop_signal", Applied),
    ("sysctls", Applied),
    ("tmpfs", silent("docker stack deploy drops it: mount memory with a `volumes` entry of `type: tmpfs`")),
    ("tty", Applied),
    ("ulimits", Applied),
    ("user", Applied),
    ("userns_mode", unsupported(NO_SUCH_SETTING)),
    ("volumes", Applied),
    ("working_dir", Applied),
    ("extends", Refused("Support for `extends` is not implemented yet.")),
    (
        "volume_driver",
        Refused(
            "Instead of setting the volume driver on the service, define a volume using the top-level \
             `volumes` option and specify the driver there.",
        ),
    ),
    (
        "volumes_from",
        Refused(
            "To share a volume between services, define it using the top-level `volumes` option and \
             reference it from each service that shares it using the service-level `volumes` option.",
        ),
    ),
    ("cpu_quota", Refused(RESOURCES)),
    ("cpu_shares", Refused(RESOURCES)),
    ("cpuset", Refused(RESOURCES)),
    ("mem_limit", Refused(RESOURCES)),
    ("memswap_limit", Refused(RESOURCES)),
];

/// A service's `deploy`.
pub const DEPLOY: &[Key] = &[
    ("mode", Applied),
    ("endpoint_mode", Applied),
    ("replicas", Applied),
    ("labels", Applied),
    ("rollback_config", Applied),
    ("update_config", Applied),
    ("resources", Applied),
    ("restart_policy", Applied),
    ("placement", Applied),
];

/// An entry of a service's `networks` (the long form).
pub const ATTACHMENT: &[Key] = &[
    ("aliases", Applied),
    ("driver_opts", Applied),
    ("ipv4_address", silent("Swarm assigns each task its address")),
    ("ipv6_address", silent("Swarm assigns each task its address")),
];

/// An entry of a service's `volumes` (the long form).
pub const MOUNT: &[Key] = &[
    ("type", Applied),
    ("source", Applied),
    ("target", Applied),
    ("read_only", Applied),
    ("consistency", Applied),
    ("bind", Applied),
    ("volume", Applied),
    ("tmpfs", Applied),
];

/// A top-level network (besides `x-` extension fields).
pub const NETWORK: &[Key] = &[
    ("name", Applied),
    ("driver", Applied),
    ("driver_opts", Applied),
    ("ipam", Applied),
    ("external", Applied),
    ("internal", Applied),
    ("attachable", Applied),
    ("labels", Applied),
];

/// A top-level volume (besides `x-` extension fields).
pub const VOLUME: &[Key] =
    &[("name", Applied), ("driver", Applied), ("driver_opts", Applied), ("external", Applied), ("labels", Applied)];

/// A top-level config (besides `x-` extension fields).
pub const CONFIG: &[Key] =
    &[("name", Applied), ("file", Applied), ("external", Applied), ("labels", Applied), ("template_driver", Applied)];

/// A top-level secret (besides `x-` extension fields).
pub const SECRET: &[Key] = &[
    ("name", Applied),
    ("file", Applied),
    ("external", Applied),
    ("labels", Applied),
    ("driver", Applied),
    ("driver_opts", Applied),
    ("template_driver", Applied),
];

/// The treatment of `key` in `keys`.
pub fn lookup(keys: &[Key], key: &str) -> Option<Treatment> {
    keys.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}

/// The keys of `keys` a file may write (everything docker does not refuse).
pub fn allowed(keys: &[Key]) -> impl Iterator<Item = &'static str> + '_ {
    keys.iter().filter(|(_, t)| !matches!(t, Refused(_))).map(|(k, _)| *k)
}
