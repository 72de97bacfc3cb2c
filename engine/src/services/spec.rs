//! Spec changes: each takes the live spec and changes one thing, keeping everything else as the
//! daemon reported it (an update replaces the whole spec, so starting from anything less
//! would silently drop settings).

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec, HealthConfig,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
};
use plans::steps::rolling::{Publish, PublishMode};
use plans::steps::update::{FailureAction, Order, UpdatePolicy};

/// The container spec of a service spec, created if missing.
fn container(spec: &mut ServiceSpec) -> &mut TaskSpecContainerSpec {
    spec.task_template.get_or_insert_with(TaskSpec::default).container_spec.get_or_insert_with(Default::default)
}

/// The image a spec runs.
pub fn image(spec: &ServiceSpec) -> &str {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.as_deref())
        .unwrap_or_default()
}

/// The replica count of a replicated service, if it is one.
pub fn replicas(spec: &ServiceSpec) -> Option<u64> {
    let mode = spec.mode.as_ref();
    match mode.and_then(|m| m.replicated.as_ref()) {
        Some(r) => Some(r.replicas.unwrap_or(1).max(0) as u64),
        None if mode.is_none_or(|m| m.global.is_none() && m.replicated_job.is_none() && m.global_job.is_none()) => {
            Some(1)
        }
        None => None,
    }
}

/// Whether the spec is a global service's: one task on every node that may run it.
pub fn is_global(spec: &ServiceSpec) -> bool {
    spec.mode.as_ref().is_some_and(|m| m.global.is_some())
}

/// The service's health check, if it has one that runs.
pub fn health_check(spec: &ServiceSpec) -> Option<&HealthConfig> {
    let check = spec.task_template.as_ref()?.container_spec.as_ref()?.health_check.as_ref()?;
    let test = check.test.as_deref().unwrap_or_default();
    (!test.is_empty() && test[0] != "NONE").then_some(check)
}

/// Runs `image`.
pub fn set_image(spec: &mut ServiceSpec, image: &str) {
    container(spec).image = Some(image.to_owned());
}

/// Runs `replicas` tasks.
pub fn set_replicas(spec: &mut ServiceSpec, replicas: u64) {
    let mode = spec.mode.get_or_insert_with(ServiceSpecMode::default);
    mode.replicated = Some(ServiceSpecModeReplicated { replicas: Some(replicas as i64) });
}

/// Publishes exactly `ports`.
pub fn set_ports(spec: &mut ServiceSpec, ports: &[Publish]) {
    let endpoint = spec.endpoint_spec.get_or_insert_with(EndpointSpec::default);
    endpoint.ports = Some(
        ports
            .iter()
            .map(|p| EndpointPortConfig {
                name: None,
                protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                target_port: Some(p.target as i64),
                published_port: Some(p.published as i64),
                publish_mode: Some(match p.mode {
                    PublishMode::Host => EndpointPortConfigPublishModeEnum::HOST,
                    PublishMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
                }),
            })
            .collect(),
    );
}

/// Replaces tasks as `policy` says; Swarm's own rollback replaces them the same way (so a
/// start-first update also rolls back start-first) and pauses if the old release fails too.
pub fn set_update_policy(spec: &mut ServiceSpec, policy: &UpdatePolicy) {
    spec.update_config = Some(update_config(policy));
    spec.rollback_config = Some(rollback_config(policy));
}

fn nanos(d: plans::duration::Duration) -> i64 {
    d.as_millis().saturating_mul(1_000_000) as i64
}

/// Swarm's update config for a service that names none, as `docker service inspect` shows it
/// (the daemon's `insertDefaults`); its rollback config is the same.
pub fn swarm_update_default() -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(1),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        monitor: Some(5_000_000_000),
        max_failure_ratio: Some(0.0),
        order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
        ..Default::default()
    }
}

/// The plan's update policy as Swarm's UpdateConfig.
pub fn update_config(p: &UpdatePolicy) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(p.parallelism as i64),
        delay: Some(nanos(p.delay)),
        failure_action: Some(match p.failure_action {
            FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
        }),
        monitor: Some(nanos(p.monitor)),
        max_failure_ratio: Some(p.max_failure_ratio),
        order: Some(match p.order {
            Order::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            Order::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    }
}

fn rollback_config(p: &UpdatePolicy) -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(p.parallelism as i64),
        delay: Some(nanos(p.delay)),
        failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
        monitor: Some(nanos(p.monitor)),
        max_failure_ratio: Some(p.max_failure_ratio),
        order: Some(match p.order {
            Order::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            Order::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    }
}

/// The recorded spec with the update settings of the spec being undone: the old release goes
/// back the way the new one came (start-first, say), not with the old spec's own settings,
/// which may be Swarm's stop-first default.
pub fn transition(previous: &ServiceSpec, current: &ServiceSpec) -> ServiceSpec {
    let mut spec = previous.clone();
    if current.update_config.is_some() {
        spec.update_config = current.update_config.clone();
    }
    spec
}

/// `spec` with update settings that take the tasks off their template out first: stop-first,
/// all at once, no delay (its monitor window and failure action kept). The undo of a rollout
/// stopped half way writes it while the old release still serves beside the new: a release
/// being undone is not trusted with more requests while its replacements start, and the old
/// tasks left (which run the template already) carry the traffic.
pub fn out_first(spec: &ServiceSpec) -> ServiceSpec {
    let mut spec = spec.clone();
    let update = spec.update_config.get_or_insert_with(Default::default);
    update.order = Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST);
    update.parallelism = Some(0);
    update.delay = Some(0);
    spec
}

/// How long the service's health check needs to call a task unhealthy: start period, then
/// `retries` failed checks `interval` apart, each allowed `timeout` (Docker's defaults
/// 30 s, 3 and 30 s where unset).
pub fn detection_time(check: &HealthConfig) -> std::time::Duration {
    let nanos = |n: Option<i64>, default_s: u64| match n {
        Some(n) if n > 0 => std::time::Duration::from_nanos(n as u64),
        _ => std::time::Duration::from_secs(default_s),
    };
    let interval = nanos(check.interval, 30);
    let timeout = nanos(check.timeout, 30);
    let retries = check.retries.filter(|r| *r > 0).unwrap_or(3) as u32;
    nanos(check.start_period, 0) + interval * retries + timeout.min(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_time_counts_start_period_retries_and_one_timeout() {
        let check = HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
            interval: Some(5_000_000_000),
            timeout: Some(2_000_000_000),
            retries: Some(3),
            start_period: Some(10_000_000_000),
            ..Default::default()
        };
        assert_eq!(detection_time(&check), std::time::Duration::from_secs(27));
        let defaults = HealthConfig { test: check.test.clone(), ..Default::default() };
        assert_eq!(detection_time(&defaults), std::time::Duration::from_secs(120));
    }

    #[test]
    fn replicas_of_each_mode() {
        let mut spec = ServiceSpec::default();
        assert_eq!(replicas(&spec), Some(1));
        set_replicas(&mut spec, 4);
        assert_eq!(replicas(&spec), Some(4));
        assert!(!is_global(&spec));
        spec.mode = Some(ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
        assert_eq!(replicas(&spec), None);
        assert!(is_global(&spec));
    }
}
