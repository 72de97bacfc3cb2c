//! `allow-removing`: what a step may take from a running service. A change that would remove a
//! mount, a published port, a secret, a config or a network from a service that runs is
//! refused unless the step names that kind here (`allow-removing mounts ports`): a stack
//! deployed by `docker stack deploy` and a compose file that has lost a volume must never end
//! with a database on an empty data directory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::keywords::keyword_enum;

keyword_enum! {
    /// Something a spec change can take from a running service.
    #[derive(PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    pub enum Removable {
        /// A volume, bind or tmpfs mount.
        Mounts = "mounts",
        /// A published port.
        Ports = "ports",
        /// A secret.
        Secrets = "secrets",
        /// A config.
        Configs = "configs",
        /// A network.
        Networks = "networks",
    }
}

impl Removable {
    /// One of them, in the singular: `mount`, `port`, ...
    pub fn singular(self) -> &'static str {
        self.keyword().trim_end_matches('s')
    }
}

/// Reads `allow-removing KIND...`: each word checked, with "did you mean", each kind once.
pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Vec<Removable> {
    let options: Vec<(&'static str, Removable)> = Removable::ALL.iter().map(|r| (r.keyword(), *r)).collect();
    let mut out: Vec<Removable> = d.choices(fields, "allow-removing", &options).into_iter().map(|r| r.value).collect();
    out.sort();
    out.dedup();
    out
}
