//! A compose service as the spec `docker stack deploy` writes (docker CLI `convert.Service`,
//! then its API client's `:latest` tag): the update and rollback configs, restart policy, stop
//! grace period and DNS config the file leaves out are left out, so the daemon keeps the same spec
//! for both tools (`docker service inspect` fills Swarm's defaults in on reading; `compare.rs`
//! does the same before comparing). A few values docker sends empty are written as the daemon
//! keeps them (`tcp`, `ingress`, `vip`, one replica).

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum as Protocol, EndpointPortConfigPublishModeEnum as PublishMode,
    EndpointSpec, EndpointSpecModeEnum, GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, HealthConfig,
    Limit, NetworkAttachmentConfig, ResourceObject, ResourcesUlimits, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecPrivileges, TaskSpecContainerSpecPrivilegesCredentialSpec, TaskSpecContainerSpecSecrets,
    TaskSpecLogDriver, TaskSpecPlacement, TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use plans::compose::{self, ComposeFile, Mode, reference};

use super::{DEFAULT_NETWORK, IMAGE_LABEL, Ids, scoped, stack_labels};

/// The spec of `service`, as `docker stack deploy` writes it.
pub fn service_spec(stack: &str, file: &ComposeFile, service: &compose::Service, ids: &Ids) -> ServiceSpec {
    let d = &service.deploy;
    let mut labels = stack_labels(stack, &d.labels);
    labels.insert(IMAGE_LABEL.to_string(), service.image.value.clone());

    let mut environment: Vec<String> = service
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    environment.sort();
    let (cap_add, cap_drop) = capabilities(&service.cap_add, &service.cap_drop);
    let mut configs = config_refs(stack, file, service, ids);
    configs.sort_by(|a, b| a.config_name.cmp(&b.config_name));
    let mut secrets = secret_refs(stack, file, service, ids);
    secrets.sort_by(|a, b| a.secret_name.cmp(&b.secret_name));
    let credential_spec = service.credential_spec.as_ref().map(|c| TaskSpecContainerSpecPrivilegesCredentialSpec {
        // A config is named by its id, which the config reference below carries.
        config: c.config.as_ref().map(|key| {
            let def = file.configs.iter().find(|o| &o.key == key);
            let name = scoped(stack, key, def.and_then(|o| o.name.as_deref()));
            ids.configs.get(&name).cloned().unwrap_or(name)
        }),
        file: c.file.clone(),
        registry: c.registry.clone(),
    });
    let container = TaskSpecContainerSpec {
        image: Some(reference::tagged(&service.image.value)),
        labels: Some(stack_labels(stack, &service.labels)),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        hostname: service.hostname.clone().filter(|h| !h.is_empty()),
        env: Some(environment).filter(|e| !e.is_empty()),
        dir: service.working_dir.clone().filter(|d| !d.is_empty()),
        user: service.user.clone().filter(|u| !u.is_empty()),
        privileges: Some(TaskSpecContainerSpecPrivileges { credential_spec, ..Default::default() }),
        tty: Some(service.tty).filter(|t| *t),
        open_stdin: Some(service.stdin_open).filter(|t| *t),
        read_only: Some(service.read_only).filter(|t| *t),
        mounts: Some(super::mounts::mounts(stack, file, &service.volumes)).filter(|m| !m.is_empty()),
        stop_signal: service.stop_signal.clone().filter(|s| !s.is_empty()),
        stop_grace_period: service.stop_grace_period,
        health_check: service.healthcheck.as_ref().map(|h| HealthConfig {
            test: h.test.clone(),
            interval: h.interval.filter(|n| *n != 0),
            timeout: h.timeout.filter(|n| *n != 0),
            retries: h.retries.map(|r| r as i64).filter(|n| *n != 0),
            start_period: h.start_period.filter(|n| *n != 0),
            start_interval: h.start_interval.filter(|n| *n != 0),
        }),
        hosts: Some(service.extra_hosts.clone()).filter(|h| !h.is_empty()),
        dns_config: (service.dns.is_some() || service.dns_search.is_some()).then(|| TaskSpecContainerSpecDnsConfig {
            nameservers: service.dns.clone().filter(|d| !d.is_empty()),
            search: service.dns_search.clone().filter(|d| !d.is_empty()),
            options: None,
        }),
        secrets: Some(secrets).filter(|s| !s.is_empty()),
        configs: Some(configs).filter(|c| !c.is_empty()),
        isolation: service.isolation.as_deref().filter(|i| !i.is_empty()).and_then(|i| i.parse().ok()),
        init: service.init,
        sysctls: Some(service.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
            .filter(|s| !s.is_empty()),
        capability_add: Some(cap_add).filter(|c| !c.is_empty()),
        capability_drop: Some(cap_drop).filter(|c| !c.is_empty()),
        ulimits: Some(
            service
                .ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits { name: Some(name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect::<Vec<_>>(),
        )
        .filter(|u| !u.is_empty()),
        oom_score_adj: service.oom_score_adj.filter(|n| *n != 0),
        ..Default::default()
    };

    ServiceSpec {
        name: Some(format!("{stack}_{}", service.name.value)),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(resources(d)),
            restart_policy: restart_policy(service),
            placement: Some(placement(d)),
            networks: Some(attachments(stack, file, service, ids)),
            log_driver: service.logging.as_ref().map(|l| TaskSpecLogDriver {
                name: l.driver.clone().filter(|d| !d.is_empty()),
                options: Some(l.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
                    .filter(|o| !o.is_empty()),
            }),
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
        update_config: d.update_config.as_ref().map(update_config),
        rollback_config: d.rollback_config.as_ref().map(rollback_config),
        networks: None,
        endpoint_spec: Some(EndpointSpec {
            mode: Some(if d.endpoint_mode.as_deref() == Some("dnsrr") {
                EndpointSpecModeEnum::DNSRR
            } else {
                EndpointSpecModeEnum::VIP
            }),
            ports: Some(ports(&service.ports)).filter(|p| !p.is_empty()),
        }),
    }
}

fn config_refs(
    stack: &str,
    file: &ComposeFile,
    service: &compose::Service,
    ids: &Ids,
) -> Vec<TaskSpecContainerSpecConfigs> {
    let mut refs: Vec<TaskSpecContainerSpecConfigs> = service
        .configs
        .iter()
        .map(|r| {
            let def = file.configs.iter().find(|c| c.key == r.source.value);
            let name = scoped(stack, &r.source.value, def.and_then(|c| c.name.as_deref()));
            TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(r.target.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| r.source.value.clone())),
                    uid: Some(r.uid.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| "0".into())),
                    gid: Some(r.gid.clone().filter(|g| !g.is_empty()).unwrap_or_else(|| "0".into())),
                    mode: Some(r.mode.unwrap_or(0o444)),
                }),
                config_id: ids.configs.get(&name).cloned(),
                config_name: Some(name),
                runtime: None,
            }
        })
        .collect();
    // A credential spec kept in a config reaches the container runtime, not a file.
    if let Some(key) = service.credential_spec.as_ref().and_then(|c| c.config.as_ref()) {
        let def = file.configs.iter().find(|c| &c.key == key);
        let name = scoped(stack, key, def.and_then(|c| c.name.as_deref()));
        refs.push(TaskSpecContainerSpecConfigs {
            file: None,
            runtime: Some(HashMap::new()),
            config_id: ids.configs.get(&name).cloned(),
            config_name: Some(name),
        });
    }
    refs
}

fn secret_refs(
    stack: &str,
    file: &ComposeFile,
    service: &compose::Service,
    ids: &Ids,
) -> Vec<TaskSpecContainerSpecSecrets> {
    service
        .secrets
        .iter()
        .map(|r| {
            let def = file.secrets.iter().find(|c| c.key == r.source.value);
            let name = scoped(stack, &r.source.value, def.and_then(|c| c.name.as_deref()));
            TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(r.target.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| r.source.value.clone())),
                    uid: Some(r.uid.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| "0".into())),
                    gid: Some(r.gid.clone().filter(|g| !g.is_empty()).unwrap_or_else(|| "0".into())),
                    mode: Some(r.mode.unwrap_or(0o444)),
                }),
                secret_id: ids.secrets.get(&name).cloned(),
                secret_name: Some(name),
            }
        })
        .collect()
}

/// docker's `EffectiveCapAddCapDrop`: upper case with a `CAP_` prefix (`ALL` as it is), `ALL`
/// trumps the rest of its list, an added capability is not dropped, both lists sorted.
fn capabilities(add: &[String], drop: &[String]) -> (Vec<String>, Vec<String>) {
    let normalize = |caps: &[String]| -> std::collections::BTreeSet<String> {
        let set: std::collections::BTreeSet<String> = caps
            .iter()
            .map(|c| {
                let c = c.trim().to_uppercase();
                if c == "ALL" || c == "RESET" || c.starts_with("CAP_") { c } else { format!("CAP_{c}") }
            })
            .collect();
        if set.contains("ALL") { ["ALL".to_string()].into() } else { set }
    };
    let (add, drop) = (normalize(add), normalize(drop));
    let dropped = drop.iter().filter(|c| !add.contains(*c) && *c != "RESET").cloned().collect();
    (add.into_iter().filter(|c| c != "RESET").collect(), dropped)
}

/// The service's networks, ordered by name as the docker CLI orders them, each with the
/// service's name as an alias (on networks that take aliases).
fn attachments(stack: &str, file: &ComposeFile, service: &compose::Service, ids: &Ids) -> Vec<NetworkAttachmentConfig> {
    let mut attachments: Vec<compose::Attachment> = if service.networks.is_empty() {
        vec![compose::Attachment { key: DEFAULT_NETWORK.to_string(), ..Default::default() }]
    } else {
        service.networks.clone()
    };
    let network_name = |key: &str| {
        let def = file.networks.iter().find(|n| n.key == key);
        scoped(stack, key, def.and_then(|n| n.name.as_deref()))
    };
    attachments.sort_by_key(|a| network_name(&a.key));
    attachments
        .iter()
        .map(|a| {
            let name = network_name(&a.key);
            let mut aliases = a.aliases.clone();
            let user_defined =
                !matches!(name.as_str(), "default" | "bridge" | "host" | "none") && !name.starts_with("container:");
            if user_defined {
                aliases.push(service.name.value.clone());
            }
            NetworkAttachmentConfig {
                target: Some(ids.networks.get(&name).cloned().unwrap_or(name)),
                aliases: Some(aliases).filter(|a| !a.is_empty()),
                driver_opts: Some(a.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
                    .filter(|o| !o.is_empty()),
            }
        })
        .collect()
}

/// `deploy.restart_policy`, or else docker's reading of `restart` (`always` and
/// `unless-stopped`: any exit; `on-failure[:N]`: on failure, N attempts; `no` or nothing: none,
/// so Swarm's default applies: any exit, 5 s apart).
fn restart_policy(service: &compose::Service) -> Option<TaskSpecRestartPolicy> {
    let condition = |c: &str| match c {
        "none" => TaskSpecRestartPolicyConditionEnum::NONE,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        _ => TaskSpecRestartPolicyConditionEnum::ANY,
    };
    if let Some(p) = &service.deploy.restart_policy {
        return Some(TaskSpecRestartPolicy {
            condition: p.condition.as_deref().map(condition),
            delay: p.delay,
            max_attempts: p.max_attempts.map(|n| n as i64),
            window: p.window,
        });
    }
    let restart = service.restart.as_deref()?;
    let (name, count) = restart.split_once(':').unwrap_or((restart, ""));
    match name {
        "always" | "unless-stopped" => {
            Some(TaskSpecRestartPolicy { condition: Some(condition("any")), ..Default::default() })
        }
        "on-failure" => Some(TaskSpecRestartPolicy {
            condition: Some(condition("on-failure")),
            max_attempts: Some(count.parse().unwrap_or(0)),
            ..Default::default()
        }),
        _ => None,
    }
}

fn resources(d: &compose::Deploy) -> TaskSpecResources {
    TaskSpecResources {
        limits: d.limits.as_ref().map(|l| Limit {
            nano_cpus: l.nano_cpus.filter(|n| *n != 0),
            memory_bytes: l.memory.filter(|n| *n != 0),
            pids: l.pids.filter(|n| *n != 0),
        }),
        reservations: d.reservations.as_ref().map(|r| ResourceObject {
            nano_cpus: r.nano_cpus.filter(|n| *n != 0),
            memory_bytes: r.memory.filter(|n| *n != 0),
            generic_resources: Some(
                r.generic
                    .iter()
                    .map(|(kind, value)| GenericResourcesInner {
                        discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                            kind: Some(kind.clone()),
                            value: Some(*value),
                        }),
                        named_resource_spec: None,
                    })
                    .collect::<Vec<_>>(),
            )
            .filter(|g| !g.is_empty()),
        }),
        ..Default::default()
    }
}

fn placement(d: &compose::Deploy) -> TaskSpecPlacement {
    TaskSpecPlacement {
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
        max_replicas: d.max_replicas_per_node.map(|n| n as i64).filter(|n| *n != 0),
        platforms: None,
    }
}

/// The ports, ordered by published port as the docker CLI orders them (stably).
fn ports(ports: &[compose::Port]) -> Vec<EndpointPortConfig> {
    let mut out: Vec<EndpointPortConfig> = ports
        .iter()
        .map(|p| EndpointPortConfig {
            name: None,
            protocol: Some(match p.protocol.as_deref() {
                Some("udp") => Protocol::UDP,
                Some("sctp") => Protocol::SCTP,
                _ => Protocol::TCP,
            }),
            target_port: Some(i64::from(p.target)),
            published_port: p.published.map(i64::from),
            publish_mode: Some(if p.mode.as_deref() == Some("host") {
                PublishMode::HOST
            } else {
                PublishMode::INGRESS
            }),
        })
        .collect();
    out.sort_by_key(|p| p.published_port.unwrap_or(0));
    out
}

/// `update_config` as the docker CLI sends it: parallelism 1 unless written, the rest as written
/// (Swarm fills in failure action pause, monitor 5 s and order stop-first).
fn update_config(c: &compose::UpdateConfig) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(c.parallelism.unwrap_or(1) as i64),
        delay: c.delay.filter(|d| *d != 0),
        failure_action: c.failure_action.as_deref().map(|a| match a {
            "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
        }),
        monitor: c.monitor.filter(|m| *m != 0),
        max_failure_ratio: c.max_failure_ratio.filter(|r| *r != 0.0),
        order: c.order.as_deref().map(|o| match o {
            "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            _ => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    }
}

/// `rollback_config`, the same way.
fn rollback_config(c: &compose::UpdateConfig) -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(c.parallelism.unwrap_or(1) as i64),
        delay: c.delay.filter(|d| *d != 0),
        failure_action: c.failure_action.as_deref().map(|a| match a {
            "continue" => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecRollbackConfigFailureActionEnum::PAUSE,
        }),
        monitor: c.monitor.filter(|m| *m != 0),
        max_failure_ratio: c.max_failure_ratio.filter(|r| *r != 0.0),
        order: c.order.as_deref().map(|o| match o {
            "start-first" => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_as_docker_reduces_them() {
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            capabilities(&s(&["ALL"]), &s(&["NET_ADMIN", "sys_admin"])),
            (s(&["ALL"]), s(&["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]))
        );
        assert_eq!(
            capabilities(&s(&["net_admin", "CAP_CHOWN"]), &s(&["NET_ADMIN", "MKNOD"])),
            (s(&["CAP_CHOWN", "CAP_NET_ADMIN"]), s(&["CAP_MKNOD"]))
        );
        assert_eq!(capabilities(&[], &s(&["ALL", "CHOWN"])), (vec![], s(&["ALL"])));
    }
}
