//! A compose file as Swarm objects, the way `docker stack deploy` makes them (the docker CLI's
//! `cli/compose/convert`): `STACK_NAME` names, the `com.docker.stack.namespace` label on
//! everything (so `docker stack ls/ps/services` list it), `com.docker.stack.image` on services,
//! the service's name as an alias on every network, a `STACK_default` network for services that
//! name none, every declared config and secret, volumes created by each node as its task starts
//! (from the mount's volume options), and the settings the daemon shows when the file leaves
//! them out. `service.rs` makes a service's spec, `mounts.rs` its mounts, `compare.rs` tells
//! whether a live spec already is the one the file asks for. `tests/compose.rs` and
//! `tests/compose_conformance.rs` compare the result field by field with what
//! `docker stack deploy` makes from the same files.

mod compare;
mod mounts;
mod service;

use std::collections::{BTreeMap, HashMap};

use plans::compose::{self, ComposeFile};

pub use compare::{same_spec, same_spec_at};
pub use service::service_spec;

use super::STACK_LABEL;
use crate::cluster::{NewIpam, NewNetwork, NewObject};

/// The label docker puts on a stack's services: the image as the file names it.
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// The network a service that names none joins.
pub const DEFAULT_NETWORK: &str = "default";

/// The Swarm name of something the file calls `key`: its own `name`, or `STACK_KEY`.
pub fn scoped(stack: &str, key: &str, name: Option<&str>) -> String {
    name.map_or_else(|| format!("{stack}_{key}"), str::to_owned)
}

/// The namespace label, plus `extra`.
pub fn stack_labels(stack: &str, extra: &BTreeMap<String, String>) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(STACK_LABEL.to_string(), stack.to_string());
    labels
}

/// The networks the stack's services use, by Swarm name: declared ones, plus `default` when a
/// service names none (as an overlay network the stack owns).
pub fn networks(stack: &str, file: &ComposeFile) -> Vec<(String, compose::NetworkDef)> {
    let mut out: Vec<(String, compose::NetworkDef)> = Vec::new();
    let used = |key: &str| {
        file.services.iter().any(|s| {
            if s.networks.is_empty() { key == DEFAULT_NETWORK } else { s.networks.iter().any(|a| a.key == key) }
        })
    };
    for n in &file.networks {
        if used(&n.key) {
            out.push((scoped(stack, &n.key, n.name.as_deref()), n.clone()));
        }
    }
    if used(DEFAULT_NETWORK) && !out.iter().any(|(_, n)| n.key == DEFAULT_NETWORK) {
        let default = compose::NetworkDef { key: DEFAULT_NETWORK.into(), ..Default::default() };
        out.push((scoped(stack, DEFAULT_NETWORK, None), default));
    }
    out
}

/// The request that creates a stack network.
pub fn new_network(stack: &str, name: &str, n: &compose::NetworkDef) -> NewNetwork {
    NewNetwork {
        name: name.to_string(),
        driver: n.driver.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| "overlay".into()),
        attachable: n.attachable,
        internal: n.internal,
        labels: stack_labels(stack, &n.labels),
        options: n.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ipam: n
            .ipam
            .as_ref()
            .filter(|i| i.driver.as_deref().is_some_and(|d| !d.is_empty()) || !i.subnets.is_empty())
            .map(|i| NewIpam { driver: i.driver.clone().filter(|d| !d.is_empty()), subnets: i.subnets.clone() }),
    }
}

/// The request that creates a stack's config or secret (with `data` read from its file): its
/// Swarm name, the namespace label and its own, and for a secret its store driver.
pub fn new_object(stack: &str, o: &compose::FileObject, data: Vec<u8>) -> NewObject {
    NewObject {
        name: scoped(stack, &o.key, o.name.as_deref()),
        labels: stack_labels(stack, &o.labels),
        data,
        templating: o.template_driver.clone().filter(|t| !t.is_empty()),
        driver: o
            .driver
            .clone()
            .filter(|d| !d.is_empty())
            .map(|d| (d, o.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect())),
    }
}

/// Swarm ids of the objects a service spec points at, by their Swarm names.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    /// Networks.
    pub networks: HashMap<String, String>,
    /// Configs.
    pub configs: HashMap<String, String>,
    /// Secrets.
    pub secrets: HashMap<String, String>,
}

#[cfg(test)]
mod tests;
