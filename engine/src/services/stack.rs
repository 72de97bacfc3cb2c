//! A compose file as Swarm objects, the way `docker stack deploy` makes them: `STACK_NAME`
//! names, the `com.docker.stack.namespace` label on everything (so `docker stack ls/ps/services`
//! list it), `com.docker.stack.image` on services, the service's name as an alias on every
//! network, a `STACK_default` network for services that name none, and the settings the docker
//! CLI fills in when the file leaves them out (restart policy any/5s, stop grace period 10s,
//! Swarm's update and rollback defaults). `tests/compose.rs` compares the result field by field
//! with what `docker stack deploy` makes from the same file.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum as Protocol, EndpointPortConfigPublishModeEnum as PublishMode,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, NetworkAttachmentConfig, ResourceObject, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecPrivileges, TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use plans::compose::{self, ComposeFile, Mode};

use super::STACK_LABEL;
use crate::cluster::NewNetwork;

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

/// The networks the stack's services use, by key: declared ones, plus `default` when a service
/// names none (as an overlay network the stack owns).
pub fn networks(stack: &str, file: &ComposeFile) -> Vec<(String, compose::NetworkDef)> {
    let mut out: Vec<(String, compose::NetworkDef)> = Vec::new();
    let used = |key: &str| {
        file.services.iter().any(|s| {
            if s.networks.is_empty() { key == DEFAULT_NETWORK } else { s.networks.iter().any(|(n, _)| n == key) }
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
        driver: n.driver.clone().unwrap_or_else(|| "overlay".into()),
        attachable: n.attachable,
        internal: n.internal,
        labels: stack_labels(stack, &n.labels),
        options: n.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
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

/// The spec of `service`, as `docker stack deploy` writes it. `env` resolves a bare
/// `environment` name the way docker does (from the environment, left out when unset).
pub fn service_spec(
    stack: &str,
    file: &ComposeFile,
    service: &compose::Service,
    ids: &Ids,
    env: &dyn Fn(&str) -> Option<String>,
) -> ServiceSpec {
    let d = &service.deploy;
    let mut labels = stack_labels(stack, &d.labels);
    labels.insert(IMAGE_LABEL.to_string(), service.image.value.clone());

    let environment: Vec<String> = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.clone().or_else(|| env(k)).map(|v| format!("{k}={v}")))
        .collect();
    let configs: Vec<TaskSpecContainerSpecConfigs> = service
        .configs
        .iter()
        .map(|r| {
            let def = file.configs.iter().find(|c| c.key == r.source.value);
            let name = scoped(stack, &r.source.value, def.and_then(|c| c.name.as_deref()));
            TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(r.target.clone().unwrap_or_else(|| format!("/{}", r.source.value))),
                    uid: Some(r.uid.clone().unwrap_or_else(|| "0".into())),
                    gid: Some(r.gid.clone().unwrap_or_else(|| "0".into())),
                    mode: Some(r.mode.unwrap_or(0o444)),
                }),
                config_id: ids.configs.get(&name).cloned(),
                config_name: Some(name),
                runtime: None,
            }
        })
        .collect();
    let secrets: Vec<TaskSpecContainerSpecSecrets> = service
        .secrets
        .iter()
        .map(|r| {
            let def = file.secrets.iter().find(|c| c.key == r.source.value);
            let name = scoped(stack, &r.source.value, def.and_then(|c| c.name.as_deref()));
            TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(r.target.clone().unwrap_or_else(|| r.source.value.clone())),
                    uid: Some(r.uid.clone().unwrap_or_else(|| "0".into())),
                    gid: Some(r.gid.clone().unwrap_or_else(|| "0".into())),
                    mode: Some(r.mode.unwrap_or(0o444)),
                }),
                secret_id: ids.secrets.get(&name).cloned(),
                secret_name: Some(name),
            }
        })
        .collect();
    let container = TaskSpecContainerSpec {
        image: Some(service.image.value.clone()),
        labels: Some(stack_labels(stack, &service.labels)),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        hostname: service.hostname.clone(),
        env: Some(environment).filter(|e| !e.is_empty()),
        dir: service.working_dir.clone(),
        user: service.user.clone(),
        privileges: Some(TaskSpecContainerSpecPrivileges { no_new_privileges: Some(false), ..Default::default() }),
        tty: Some(service.tty).filter(|t| *t),
        open_stdin: Some(service.stdin_open).filter(|t| *t),
        read_only: Some(service.read_only).filter(|t| *t),
        stop_signal: service.stop_signal.clone(),
        stop_grace_period: Some(service.stop_grace_period.unwrap_or(10_000_000_000)),
        health_check: service.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval.filter(|n| *n != 0),
            timeout: h.timeout.filter(|n| *n != 0),
            retries: h.retries.map(|r| r as i64).filter(|n| *n != 0),
            start_period: h.start_period.filter(|n| *n != 0),
            start_interval: None,
        }),
        hosts: Some(service.extra_hosts.clone()).filter(|h| !h.is_empty()),
        dns_config: Some(TaskSpecContainerSpecDnsConfig::default()),
        secrets: Some(secrets).filter(|s| !s.is_empty()),
        configs: Some(configs).filter(|c| !c.is_empty()),
        init: service.init,
        ..Default::default()
    };

    let mut attachments: Vec<(String, Vec<String>)> = if service.networks.is_empty() {
        vec![(DEFAULT_NETWORK.to_string(), Vec::new())]
    } else {
        service.networks.clone()
    };
    let network_name = |key: &str| {
        let def = file.networks.iter().find(|n| n.key == key);
        scoped(stack, key, def.and_then(|n| n.name.as_deref()))
    };
    // The docker CLI orders attachments by network name.
    attachments.sort_by_key(|(key, _)| network_name(key));
    let networks: Vec<NetworkAttachmentConfig> = attachments
        .iter()
        .map(|(key, aliases)| {
            let name = network_name(key);
            let mut aliases = aliases.clone();
            aliases.push(service.name.value.clone());
            NetworkAttachmentConfig {
                target: Some(ids.networks.get(&name).cloned().unwrap_or(name)),
                aliases: Some(aliases),
                driver_opts: None,
            }
        })
        .collect();

    let restart = d.restart_policy.clone().unwrap_or_default();
    let restart_policy = TaskSpecRestartPolicy {
        condition: Some(match restart.condition.as_deref() {
            Some("none") => TaskSpecRestartPolicyConditionEnum::NONE,
            Some("on-failure") => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            _ => TaskSpecRestartPolicyConditionEnum::ANY,
        }),
        delay: Some(restart.delay.unwrap_or(5_000_000_000)),
        max_attempts: Some(restart.max_attempts.unwrap_or(0) as i64),
        window: restart.window,
    };
    let limits = (d.limits != compose::Resources::default()).then_some(Limit {
        nano_cpus: d.limits.nano_cpus,
        memory_bytes: d.limits.memory,
        pids: None,
    });
    let reservations = (d.reservations != compose::Resources::default()).then_some(ResourceObject {
        nano_cpus: d.reservations.nano_cpus,
        memory_bytes: d.reservations.memory,
        generic_resources: None,
    });
    let placement = TaskSpecPlacement {
        constraints: Some(d.constraints.clone()).filter(|c| !c.is_empty()),
        preferences: Some(
            d.preferences
                .iter()
                .map(|p| TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread { spread_descriptor: Some(p.clone()) }),
                })
                .collect::<Vec<_>>(),
        )
        .filter(|p| !p.is_empty()),
        max_replicas: d.max_replicas_per_node.map(|n| n as i64),
        platforms: None,
    };

    let ports: Vec<EndpointPortConfig> = service
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            name: None,
            protocol: Some(match p.protocol.as_str() {
                "udp" => Protocol::UDP,
                "sctp" => Protocol::SCTP,
                _ => Protocol::TCP,
            }),
            target_port: Some(i64::from(p.target)),
            published_port: p.published.map(i64::from),
            publish_mode: Some(if p.mode == "host" { PublishMode::HOST } else { PublishMode::INGRESS }),
        })
        .collect();

    ServiceSpec {
        name: Some(format!("{stack}_{}", service.name.value)),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(TaskSpecResources { limits, reservations, ..Default::default() }),
            restart_policy: Some(restart_policy),
            placement: Some(placement),
            networks: Some(networks),
            force_update: None,
            ..Default::default()
        }),
        mode: Some(match d.mode {
            Mode::Replicated(n) => ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(n as i64) }),
                ..Default::default()
            },
            Mode::Global => ServiceSpecMode { global: Some(HashMap::new()), ..Default::default() },
        }),
        update_config: Some(update_config(d.update_config.as_ref())),
        rollback_config: Some(rollback_config(d.rollback_config.as_ref())),
        networks: None,
        endpoint_spec: Some(EndpointSpec {
            mode: Some(if d.endpoint_mode.as_deref() == Some("dnsrr") {
                EndpointSpecModeEnum::DNSRR
            } else {
                EndpointSpecModeEnum::VIP
            }),
            ports: Some(ports).filter(|p| !p.is_empty()),
        }),
    }
}

/// Swarm's defaults where the file says nothing: parallelism 1, failure action pause, monitor
/// 5 s, order stop-first.
fn update_config(c: Option<&compose::UpdateConfig>) -> ServiceSpecUpdateConfig {
    let c = c.cloned().unwrap_or_default();
    ServiceSpecUpdateConfig {
        parallelism: Some(c.parallelism.unwrap_or(1) as i64),
        delay: c.delay.filter(|d| *d != 0),
        failure_action: Some(match c.failure_action.as_deref() {
            Some("rollback") => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            Some("continue") => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
        }),
        monitor: Some(c.monitor.filter(|m| *m != 0).unwrap_or(5_000_000_000)),
        max_failure_ratio: Some(c.max_failure_ratio.unwrap_or(0.0)),
        order: Some(if c.order.as_deref() == Some("start-first") {
            ServiceSpecUpdateConfigOrderEnum::START_FIRST
        } else {
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST
        }),
    }
}

fn rollback_config(c: Option<&compose::UpdateConfig>) -> ServiceSpecRollbackConfig {
    let c = c.cloned().unwrap_or_default();
    ServiceSpecRollbackConfig {
        parallelism: Some(c.parallelism.unwrap_or(1) as i64),
        delay: c.delay.filter(|d| *d != 0),
        failure_action: Some(if c.failure_action.as_deref() == Some("continue") {
            ServiceSpecRollbackConfigFailureActionEnum::CONTINUE
        } else {
            ServiceSpecRollbackConfigFailureActionEnum::PAUSE
        }),
        monitor: Some(c.monitor.filter(|m| *m != 0).unwrap_or(5_000_000_000)),
        max_failure_ratio: Some(c.max_failure_ratio.unwrap_or(0.0)),
        order: Some(if c.order.as_deref() == Some("start-first") {
            ServiceSpecRollbackConfigOrderEnum::START_FIRST
        } else {
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST
        }),
    }
}

/// Whether the live spec already is `desired`: every field `desired` sets is equal, and every
/// field it leaves out is empty in `live` or one the daemon fills in itself (isolation,
/// runtime). Comparing so keeps an unchanged service untouched (its version index does not
/// move), while a field the file stopped setting still counts as a change.
pub fn same_spec(desired: &ServiceSpec, live: &ServiceSpec) -> bool {
    let d = serde_json::to_value(desired).unwrap_or_default();
    let l = serde_json::to_value(live).unwrap_or_default();
    covers(&d, &l)
}

fn empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(empty),
    }
}

fn daemon_fills(key: &str, value: &serde_json::Value) -> bool {
    matches!((key, value.as_str()), ("Isolation", Some("default")) | ("Runtime", Some("container")))
}

fn covers(desired: &serde_json::Value, live: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            d.iter().all(|(k, dv)| match l.get(k) {
                Some(lv) => covers(dv, lv),
                None => empty(dv),
            }) && l.iter().all(|(k, lv)| d.contains_key(k) || empty(lv) || daemon_fills(k, lv))
        }
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(a, b)| covers(a, b)),
        (d, l) if empty(d) && empty(l) => true,
        (d, l) => d == l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ComposeFile {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/compose/docker-compose.yml"))
                .unwrap();
        let (file, d) = compose::load(&text, &|_| None);
        assert!(d.is_empty(), "{d:?}");
        file.unwrap()
    }

    #[test]
    fn names_labels_networks_and_defaults_follow_the_docker_cli() {
        let file = example();
        let nets = networks("shop", &file);
        let names: Vec<&str> = nets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["shop_frontend", "shop_backend"]);
        let ids = Ids {
            networks: [("shop_frontend".into(), "F".into()), ("shop_backend".into(), "B".into())].into(),
            configs: [("shop_app-config".into(), "C".into())].into(),
            secrets: [("shop_api-token".into(), "S".into())].into(),
        };
        let web = service_spec("shop", &file, file.service("web").unwrap(), &ids, &|_| None);
        assert_eq!(web.name.as_deref(), Some("shop_web"));
        let labels = web.labels.as_ref().unwrap();
        assert_eq!(labels[STACK_LABEL], "shop");
        assert_eq!(labels[IMAGE_LABEL], "planrun-test/app:v1");
        assert_eq!(labels["shop.tier"], "front");
        let t = web.task_template.as_ref().unwrap();
        let targets: Vec<&str> = t.networks.as_ref().unwrap().iter().map(|n| n.target.as_deref().unwrap()).collect();
        assert_eq!(targets, ["B", "F"], "ordered by network name, as the docker CLI does");
        let c = t.container_spec.as_ref().unwrap();
        assert_eq!(c.env.as_deref(), Some(&["APP_VERSION=web-v1".to_string()][..]));
        assert_eq!(c.configs.as_ref().unwrap()[0].config_id.as_deref(), Some("C"));
        assert_eq!(c.stop_grace_period, Some(10_000_000_000));
        let api = service_spec("shop", &file, file.service("api").unwrap(), &ids, &|_| None);
        let t = api.task_template.unwrap();
        assert_eq!(
            t.networks.unwrap()[0].aliases.as_deref(),
            Some(&["api-internal".to_string(), "api".to_string()][..])
        );
        let secret = &t.container_spec.unwrap().secrets.unwrap()[0];
        assert_eq!(secret.file.as_ref().unwrap().name.as_deref(), Some("api-token"));
        assert_eq!(secret.file.as_ref().unwrap().mode, Some(0o444));
    }

    #[test]
    fn an_unchanged_spec_is_the_same_and_any_change_is_not() {
        let file = example();
        let ids = Ids::default();
        let web = file.service("web").unwrap();
        let desired = service_spec("shop", &file, web, &ids, &|_| None);
        let mut live = desired.clone();
        // What the daemon fills in does not count.
        let t = live.task_template.as_mut().unwrap();
        t.force_update = Some(0);
        t.runtime = Some("container".into());
        assert!(same_spec(&desired, &live));
        let mut changed = web.clone();
        changed.image.value = "planrun-test/app:v2".into();
        assert!(!same_spec(&service_spec("shop", &file, &changed, &ids, &|_| None), &live));
        let mut no_health = web.clone();
        no_health.healthcheck = None;
        assert!(
            !same_spec(&service_spec("shop", &file, &no_health, &ids, &|_| None), &live),
            "a removed health check is a change"
        );
    }
}
