//! What a spec change takes from a running service: mounts, published ports, secrets, configs
//! and networks the live spec has and the new one lacks. A step refuses such a change (before
//! anything changes) unless the plan allows it (`allow-removing`), since a service updated to
//! a spec without its volume starts on an empty data directory and the run would still look
//! successful.
//!
//! What counts as the same: a mount by its type, source and target; a port by its protocol,
//! published port (or target, when Swarm picks the published one) and publish mode; a secret or
//! config by where it appears in the container (a new config at the same path replaces the old
//! one, as a router switch and a renamed compose config do); a network by its id.

use std::collections::BTreeSet;
use std::fmt;

use bollard::models::{EndpointPortConfig, Mount, ServiceSpec};
use plans::compose::values::clean;
use plans::steps::allow_removing::Removable;

use crate::cluster::Cluster;

/// One thing a change takes from a running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The service.
    pub service: String,
    /// What kind of thing.
    pub kind: Removable,
    /// The thing, in words: `volume shop_data at /var/lib/postgresql/data`.
    pub item: String,
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} {} of {}", self.kind.singular(), self.item, self.service)
    }
}

/// How every refusal of a removal starts (`planrun plan` finds them by it).
pub const REFUSED: &str = "it would remove ";

/// The refusal of a change that removes what the plan does not allow, in words that name each
/// thing and the setting that allows it.
pub fn refusal(removals: &[Removal], step: &str) -> String {
    let things: Vec<String> = removals.iter().map(ToString::to_string).collect();
    let kinds: BTreeSet<&str> = removals.iter().map(|r| r.kind.keyword()).collect();
    format!(
        "{REFUSED}{} from a running service; nothing was changed. If the plan means it, \
         add `allow-removing {}` to step `{step}`; if not, keep it in what the step deploys (the \
         compose file, or the step's `publish`)",
        things.join(", "),
        kinds.into_iter().collect::<Vec<_>>().join(" ")
    )
}

/// Whether the service runs tasks: a replicated service with replicas, or a global one.
pub fn runs(spec: &ServiceSpec) -> bool {
    crate::services::spec::replicas(spec).is_none_or(|n| n > 0)
}

/// What `new` takes from `live` (nothing when neither runs a task: a service at 0 replicas
/// that the change starts counts, as its tasks would start without what they had), network
/// ids named by `network_name`.
pub fn removals(
    service: &str,
    live: &ServiceSpec,
    new: &ServiceSpec,
    network_name: &dyn Fn(&str) -> String,
) -> Vec<Removal> {
    if !runs(live) && !runs(new) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut push = |kind: Removable, item: String| out.push(Removal { service: service.to_owned(), kind, item });
    let container = |s: &ServiceSpec| s.task_template.clone().unwrap_or_default().container_spec.unwrap_or_default();
    let (old_c, new_c) = (container(live), container(new));

    let mount_key =
        |m: &Mount| (m.typ, m.source.clone().unwrap_or_default(), clean(m.target.as_deref().unwrap_or_default()));
    let kept: BTreeSet<_> = new_c.mounts.iter().flatten().map(|m| format!("{:?}", mount_key(m))).collect();
    for m in old_c.mounts.iter().flatten() {
        if !kept.contains(&format!("{:?}", mount_key(m))) {
            push(Removable::Mounts, describe_mount(m));
        }
    }

    let ports = |s: &ServiceSpec| s.endpoint_spec.as_ref().and_then(|e| e.ports.clone()).unwrap_or_default();
    let kept: BTreeSet<String> = ports(new).iter().map(port_key).collect();
    for p in ports(live) {
        if !kept.contains(&port_key(&p)) {
            push(Removable::Ports, port_key(&p));
        }
    }

    let secret_at = |s: &bollard::models::TaskSpecContainerSpecSecrets| {
        secret_path(&s.file.as_ref().and_then(|f| f.name.clone()).unwrap_or_default())
    };
    let kept: BTreeSet<String> = new_c.secrets.iter().flatten().map(secret_at).collect();
    for s in old_c.secrets.iter().flatten() {
        if !kept.contains(&secret_at(s)) {
            let name = s.secret_name.clone().unwrap_or_default();
            push(Removable::Secrets, format!("{name} at {}", secret_at(s)));
        }
    }

    // A relative config target is under `/`, a relative secret one under `/run/secrets`: the
    // same file however it is written (an older planrun wrote `/settings`, docker `settings`).
    let config_at =
        |c: &bollard::models::TaskSpecContainerSpecConfigs| match c.file.as_ref().and_then(|f| f.name.clone()) {
            Some(n) if n.starts_with('/') => clean(&n),
            Some(n) => clean(&format!("/{n}")),
            None => "(runtime)".into(),
        };
    let kept: BTreeSet<String> = new_c.configs.iter().flatten().map(config_at).collect();
    for c in old_c.configs.iter().flatten() {
        if !kept.contains(&config_at(c)) {
            let name = c.config_name.clone().unwrap_or_default();
            push(Removable::Configs, format!("{name} at {}", config_at(c)));
        }
    }

    let networks = |s: &ServiceSpec| -> Vec<String> {
        s.task_template
            .as_ref()
            .and_then(|t| t.networks.clone())
            .or_else(|| s.networks.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.target)
            .collect()
    };
    let kept: BTreeSet<String> = networks(new).into_iter().collect();
    for n in networks(live) {
        if !kept.contains(&n) {
            push(Removable::Networks, network_name(&n));
        }
    }
    out
}

/// What `new` takes from `live` that `allow` does not allow, networks named by the swarm.
pub async fn refused(
    cluster: &dyn Cluster,
    service: &str,
    live: &ServiceSpec,
    new: &ServiceSpec,
    allow: &[Removable],
) -> Vec<Removal> {
    let found = removals(service, live, new, &|id| id.to_owned());
    let mut out = Vec::new();
    for mut r in found.into_iter().filter(|r| !allow.contains(&r.kind)) {
        if r.kind == Removable::Networks
            && let Ok(Some(n)) = cluster.network(&r.item).await
        {
            r.item = n.name;
        }
        out.push(r);
    }
    out
}

fn describe_mount(m: &Mount) -> String {
    let kind = m.typ.map(|t| t.to_string()).unwrap_or_else(|| "volume".into());
    let target = m.target.clone().unwrap_or_default();
    match m.source.as_deref().filter(|s| !s.is_empty()) {
        Some(source) => format!("{kind} {source} at {target}"),
        None => format!("{kind} at {target}"),
    }
}

fn port_key(p: &EndpointPortConfig) -> String {
    let protocol = p.protocol.map(|x| x.to_string()).filter(|x| !x.is_empty()).unwrap_or_else(|| "tcp".into());
    let mode = p.publish_mode.map(|x| x.to_string()).filter(|x| !x.is_empty()).unwrap_or_else(|| "ingress".into());
    let target = p.target_port.unwrap_or(0);
    match p.published_port.filter(|n| *n != 0) {
        Some(published) => format!("{published}:{target}/{protocol} ({mode})"),
        None => format!("{target}/{protocol} ({mode})"),
    }
}

/// A secret's path in the container: relative names are under `/run/secrets`.
fn secret_path(name: &str) -> String {
    if name.starts_with('/') { clean(name) } else { clean(&format!("/run/secrets/{name}")) }
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        EndpointPortConfigPublishModeEnum, EndpointSpec, MountType, NetworkAttachmentConfig, TaskSpec,
        TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1,
    };

    use super::*;

    fn spec(mounts: &[(&str, &str)], ports: &[i64], configs: &[(&str, &str)], networks: &[&str]) -> ServiceSpec {
        ServiceSpec {
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    mounts: Some(
                        mounts
                            .iter()
                            .map(|(s, t)| Mount {
                                typ: Some(MountType::VOLUME),
                                source: Some(s.to_string()),
                                target: Some(t.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    configs: Some(
                        configs
                            .iter()
                            .map(|(name, at)| TaskSpecContainerSpecConfigs {
                                config_name: Some(name.to_string()),
                                file: Some(TaskSpecContainerSpecFile1 {
                                    name: Some(at.to_string()),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                }),
                networks: Some(
                    networks
                        .iter()
                        .map(|n| NetworkAttachmentConfig { target: Some(n.to_string()), ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|p| EndpointPortConfig {
                            target_port: Some(80),
                            published_port: Some(*p),
                            publish_mode: Some(EndpointPortConfigPublishModeEnum::INGRESS),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn what_a_change_takes_from_a_running_service() {
        let live = spec(
            &[("shop_data", "/data"), ("shop_logs", "/logs")],
            &[8080, 8443],
            &[("router-a", "/etc/nginx.conf")],
            &["n1", "n2"],
        );
        let new = spec(&[("shop_logs", "/logs")], &[8443], &[("router-b", "/etc/nginx.conf")], &["n2"]);
        let found: Vec<(Removable, String)> =
            removals("shop_db", &live, &new, &|id| format!("net-{id}")).into_iter().map(|r| (r.kind, r.item)).collect();
        assert_eq!(
            found,
            [
                (Removable::Mounts, "volume shop_data at /data".to_string()),
                (Removable::Ports, "8080:80/tcp (ingress)".to_string()),
                (Removable::Networks, "net-n1".to_string()),
            ],
            "a config replaced at the same path is not a removal"
        );
        assert!(removals("x", &live, &live, &|id| id.to_owned()).is_empty());
        let mut idle = live.clone();
        crate::services::spec::set_replicas(&mut idle, 0);
        let mut idle_new = new.clone();
        crate::services::spec::set_replicas(&mut idle_new, 0);
        assert!(removals("x", &idle, &idle_new, &|id| id.to_owned()).is_empty(), "nothing runs before or after");
        assert_eq!(removals("x", &idle, &new, &|id| id.to_owned()).len(), 3, "the tasks it starts would lack them");
        let relative = spec(
            &[("shop_data", "/data/"), ("shop_logs", "/logs")],
            &[8080, 8443],
            &[("router-a", "etc/nginx.conf")],
            &["n1", "n2"],
        );
        let same = spec(
            &[("shop_data", "/data"), ("shop_logs", "/logs")],
            &[8080, 8443],
            &[("router-a", "/etc/nginx.conf")],
            &["n1", "n2"],
        );
        assert!(removals("x", &same, &relative, &|id| id.to_owned()).is_empty(), "the same paths, written otherwise");
        let text = refusal(&removals("shop_db", &live, &new, &|id| id.to_owned()), "stack");
        assert!(text.contains("the mount volume shop_data at /data of shop_db"), "{text}");
        assert!(text.contains("`allow-removing mounts networks ports` to step `stack`"), "{text}");
    }
}
