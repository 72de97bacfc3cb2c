//! Rolling updates at run time: record the service's full spec, set the new image and the
//! plan's update config, let Swarm replace the tasks, and follow until they all run it.
//!
//! Undo writes the recorded spec back and follows the old release the same way. Apply never
//! restores anything itself: on failure the executor calls undo with the record.

use std::time::Duration;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec, Service,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
};
use plans::steps::Rolling;
use plans::steps::rolling::PublishMode;
use plans::steps::update::{FailureAction, Order, UpdatePolicy};
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterError};
use crate::convergence::{self, Baseline, Settings, Target};
use crate::events::Event;
use crate::steps::{StepEnv, StepError};

/// How many times an update is retried when Swarm moved the version index in between.
const OUT_OF_SEQUENCE_ATTEMPTS: u32 = 5;

/// What a rolling step records before changing anything: enough to put the service back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoRecord {
    /// The service's id.
    pub service_id: String,
    /// The service's name.
    pub service_name: String,
    /// The full spec before the step, as the daemon reported it.
    pub previous_spec: ServiceSpec,
    /// The version index that spec was read at.
    pub version: u64,
    /// How long undo may take to converge, in milliseconds (the step's update deadline).
    pub deadline_ms: u64,
}

/// Runs a rolling update; returns the undo record (also emitted as `StepRecorded` first).
pub async fn apply(step: &str, rolling: &Rolling, env: &StepEnv) -> Result<serde_json::Value, StepError> {
    let cluster = env.cluster.as_ref();
    let name = rolling.service.value.as_str();
    let service = cluster.service(name).await.map_err(|e| StepError(format!("cannot inspect service {name}: {e}")))?;
    let service_id = service.id.clone().unwrap_or_default();
    let previous = service.spec.clone().unwrap_or_default();
    let spec = updated_spec(&previous, rolling);
    let target = Target::of(&service_id, &spec).map_err(|f| StepError(f.to_string()))?;

    let record = UndoRecord {
        service_id: service_id.clone(),
        service_name: name.to_string(),
        previous_spec: previous.clone(),
        version: version_of(&service),
        deadline_ms: rolling.update.deadline.as_millis(),
    };
    let record = serde_json::to_value(&record).map_err(|e| StepError(format!("cannot record {name}'s spec: {e}")))?;
    env.events.emit(Event::StepRecorded { step: step.to_string(), undo: record.clone() });

    let baseline = replace_spec(cluster, name, service, &spec, Some(&previous)).await?;
    env.events.emit(Event::StepProgress {
        step: step.to_string(),
        message: format!("updating {name} to {}", target.image),
        updated: None,
    });
    let settings = Settings::new(rolling.update.deadline.to_std());
    convergence::follow(cluster, &env.events, step, &target, &baseline, settings)
        .await
        .map_err(|f| StepError(f.to_string()))?;
    Ok(record)
}

/// Puts the service back to the recorded spec and follows the old release until it runs again.
pub async fn undo(step: &str, record: &serde_json::Value, env: &StepEnv) -> Result<(), StepError> {
    let cluster = env.cluster.as_ref();
    let record: UndoRecord = serde_json::from_value(record.clone())
        .map_err(|e| StepError(format!("the rolling step's undo record is unreadable: {e}")))?;
    let name = record.service_name.as_str();
    let service = cluster
        .service(&record.service_id)
        .await
        .map_err(|e| StepError(format!("cannot inspect service {name}: {e}")))?;
    let target = Target::of(&record.service_id, &record.previous_spec).map_err(|f| StepError(f.to_string()))?;
    let deadline =
        if record.deadline_ms == 0 { Duration::from_secs(600) } else { Duration::from_millis(record.deadline_ms) };
    let current = service.spec.clone().unwrap_or_default();
    if current == record.previous_spec {
        // Swarm's own rollback already restored it: writing it again would change nothing.
        // Only verify; never force-redeploy a healthy old release.
        let baseline = Baseline::take(cluster, &service).await?;
        return restore_to(env, step, name, &target, &baseline, deadline).await;
    }
    // The old release goes back with the update config the step deployed with (start-first,
    // say), not the old spec's own, which may be Swarm's stop-first default: a rollback must
    // not cause the downtime the rollout avoided. Then the exact old spec is written; it
    // differs only in update settings, so Swarm replaces no task.
    let transition = transition_spec(&record.previous_spec, &current);
    let baseline = replace_spec(cluster, name, service, &transition, None).await?;
    restore_to(env, step, name, &target, &baseline, deadline).await?;
    if transition != record.previous_spec {
        let service = cluster
            .service(&record.service_id)
            .await
            .map_err(|e| StepError(format!("cannot inspect service {name}: {e}")))?;
        let baseline = replace_spec(cluster, name, service, &record.previous_spec, None).await?;
        restore_to(env, step, name, &target, &baseline, deadline).await?;
    }
    Ok(())
}

/// The recorded spec with the update and rollback settings of the spec being undone.
pub fn transition_spec(previous: &ServiceSpec, current: &ServiceSpec) -> ServiceSpec {
    let mut spec = previous.clone();
    if current.update_config.is_some() {
        spec.update_config = current.update_config.clone();
    }
    spec
}

async fn restore_to(
    env: &StepEnv,
    step: &str,
    name: &str,
    target: &Target,
    baseline: &Baseline,
    deadline: Duration,
) -> Result<(), StepError> {
    env.events.emit(Event::StepProgress {
        step: step.to_string(),
        message: format!("restoring {name} to {}", target.image),
        updated: None,
    });
    convergence::follow(env.cluster.as_ref(), &env.events, step, target, baseline, Settings::restoring(deadline))
        .await
        .map(|_| ())
        .map_err(|f| StepError(format!("undo of {name}: {f}")))
}

/// The spec a rolling step writes: `previous` with the plan's image, replicas, published ports
/// and update config; everything else is kept as it is.
pub fn updated_spec(previous: &ServiceSpec, rolling: &Rolling) -> ServiceSpec {
    let mut spec = previous.clone();
    let template = spec.task_template.get_or_insert_with(TaskSpec::default);
    let container = template.container_spec.get_or_insert_with(TaskSpecContainerSpec::default);
    container.image = Some(rolling.image.value.clone());
    if let Some(replicas) = &rolling.replicas {
        let mode = spec.mode.get_or_insert_with(ServiceSpecMode::default);
        mode.replicated = Some(ServiceSpecModeReplicated { replicas: Some(replicas.value as i64) });
    }
    if !rolling.publish.is_empty() {
        let endpoint = spec.endpoint_spec.get_or_insert_with(EndpointSpec::default);
        endpoint.ports = Some(
            rolling
                .publish
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
    spec.update_config = Some(update_config(&rolling.update));
    spec.rollback_config = Some(rollback_config(&rolling.update));
    spec
}

fn nanos(d: plans::duration::Duration) -> i64 {
    d.as_millis().saturating_mul(1_000_000) as i64
}

/// The plan's update policy as Swarm's UpdateConfig.
fn update_config(p: &UpdatePolicy) -> ServiceSpecUpdateConfig {
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

/// Swarm's own rollback replaces tasks the same way as the update (so a start-first update
/// also rolls back start-first), and pauses if the old release fails too.
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

fn version_of(service: &Service) -> u64 {
    service.version.as_ref().and_then(|v| v.index).unwrap_or(0)
}

/// Writes `spec` with the version of a fresh inspect, retrying when Swarm moved the index in
/// between; returns the baseline taken just before the successful write. With `expected`, a
/// spec changed by someone else since it was recorded stops the retry instead of being
/// overwritten.
async fn replace_spec(
    cluster: &dyn Cluster,
    name: &str,
    mut service: Service,
    spec: &ServiceSpec,
    expected: Option<&ServiceSpec>,
) -> Result<Baseline, StepError> {
    let id = service.id.clone().unwrap_or_default();
    for attempt in 1..=OUT_OF_SEQUENCE_ATTEMPTS {
        if let Some(expected) = expected
            && service.spec.as_ref() != Some(expected)
        {
            return Err(StepError(format!(
                "the spec of {name} was changed by someone else while planrun was updating it"
            )));
        }
        let baseline = Baseline::take(cluster, &service).await?;
        match cluster.update_service(&id, version_of(&service), spec.clone()).await {
            Ok(()) => return Ok(baseline),
            Err(ClusterError::OutOfSequence) if attempt < OUT_OF_SEQUENCE_ATTEMPTS => {
                service = cluster.service(&id).await?;
            }
            Err(e) => return Err(StepError(format!("cannot update service {name}: {e}"))),
        }
    }
    Err(StepError(format!("cannot update service {name}: update out of sequence {OUT_OF_SEQUENCE_ATTEMPTS} times")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bollard::models::{
        HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
        TaskSpecContainerSpec,
    };
    use plans::duration::Duration as PlanDuration;
    use plans::span::Span;
    use plans::spanned::Spanned;
    use plans::steps::Rolling;
    use plans::steps::update::{FailureAction, UpdatePolicy};

    use super::*;
    use crate::cluster::fake::{Behavior, FakeCluster};
    use crate::events::{Events, Memory};

    fn spec(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            labels: Some([("team".to_string(), "web".to_string())].into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(3) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(vec!["APP_VERSION=v1".into()]),
                    health_check: Some(HealthConfig {
                        test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                        interval: Some(1_000_000_000),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig { target: Some("net".into()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn rolling(service: &str, image: &str, failure_action: FailureAction, deadline_secs: u64) -> Rolling {
        Rolling {
            service: Spanned::new(service.into(), Span::default()),
            image: Spanned::new(image.into(), Span::default()),
            replicas: None,
            publish: Vec::new(),
            update: UpdatePolicy {
                delay: PlanDuration::from_secs(1),
                monitor: PlanDuration::from_secs(2),
                failure_action,
                deadline: PlanDuration::from_secs(deadline_secs),
                ..UpdatePolicy::default()
            },
            gates: Vec::new(),
        }
    }

    fn env(fake: &FakeCluster) -> (StepEnv, Arc<Memory>) {
        let memory = Arc::new(Memory::default());
        let plan = serde_json::from_value(serde_json::json!({
            "name": "t", "stack": "s", "on-failure": "rollback", "log": null,
            "variables": [], "gates": [], "steps": []
        }))
        .expect("a minimal plan");
        let env = StepEnv {
            cluster: Arc::new(fake.clone()),
            events: Events::new(vec![Box::new(memory.clone())]),
            plan: Arc::new(plan),
        };
        (env, memory)
    }

    fn events(memory: &Memory) -> Vec<Event> {
        memory.0.lock().unwrap().iter().map(|r| r.event.clone()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_image_rolls_out_and_converges() {
        let fake = FakeCluster::new();
        let before = spec("shop_web", "app:v1");
        fake.create_service(before.clone());
        let (env, memory) = env(&fake);
        let started = tokio::time::Instant::now();

        let record = apply("web", &rolling("shop_web", "app:v2", FailureAction::Rollback, 600), &env).await.unwrap();

        let after = fake.spec("shop_web").unwrap();
        assert_eq!(after, updated_spec(&before, &rolling("shop_web", "app:v2", FailureAction::Rollback, 600)));
        let record: UndoRecord = serde_json::from_value(record).unwrap();
        assert_eq!(record.previous_spec, before);
        let events = events(&memory);
        assert!(matches!(&events[0], Event::StepRecorded { step, .. } if step == "web"));
        assert!(events.iter().any(|e| matches!(e, Event::StepProgress { updated: Some((3, 3)), .. })));
        // Three batches of (1 s start + 2 s monitor + 1 s delay), then at most one poll.
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(11) && took <= Duration::from_secs(13), "took {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashing_image_fails_with_the_task_errors_and_undo_restores_the_exact_spec() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        let before = spec("shop_web", "app:v1");
        fake.create_service(before.clone());
        let (env, memory) = env(&fake);

        let error =
            apply("web", &rolling("shop_web", "app:exit", FailureAction::Rollback, 600), &env).await.unwrap_err();

        assert!(error.0.starts_with("Swarm rolled the update back: update rolled back due to failure"), "{error}");
        assert!(error.0.ends_with("; task errors: task: non-zero exit (3)"), "{error}");
        let record = events(&memory)
            .into_iter()
            .find_map(|e| match e {
                Event::StepRecorded { undo, .. } => Some(undo),
                _ => None,
            })
            .unwrap();
        undo("web", &record, &env).await.unwrap();
        assert_eq!(fake.spec("shop_web").unwrap(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_update_names_swarms_message_and_undo_replaces_the_crash_looping_task() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        let before = spec("shop_web", "app:v1");
        fake.create_service(before.clone());
        let (env, _) = env(&fake);

        let error = apply("web", &rolling("shop_web", "app:exit", FailureAction::Pause, 600), &env).await.unwrap_err();
        assert!(error.0.starts_with("Swarm paused the update: update paused due to failure"), "{error}");
        // Let the slot crash-loop a few times before undoing.
        tokio::time::sleep(Duration::from_secs(10)).await;

        let record = serde_json::to_value(UndoRecord {
            service_id: fake.service("shop_web").await.unwrap().id.unwrap(),
            service_name: "shop_web".into(),
            previous_spec: before.clone(),
            version: 0,
            deadline_ms: 60_000,
        })
        .unwrap();
        undo("web", &record, &env).await.unwrap();
        assert_eq!(fake.spec("shop_web").unwrap(), before);
        let counts = fake.counts("shop_web").await.unwrap();
        assert_eq!((counts.running, counts.desired), (3, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loops_that_swarm_calls_completed_fail_at_the_deadline() {
        let fake = FakeCluster::new();
        fake.behave("app:exit", Behavior::Crash(3));
        fake.create_service(spec("shop_web", "app:v1"));
        let (env, _) = env(&fake);
        let started = tokio::time::Instant::now();

        let error =
            apply("web", &rolling("shop_web", "app:exit", FailureAction::Continue, 30), &env).await.unwrap_err();

        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert!(
            error.0.starts_with("shop_web did not converge in 30s: 0 of 3 tasks running on image app:exit"),
            "{error}"
        );
        assert!(error.0.contains("; task errors: task: non-zero exit (3) ×"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unhealthy_image_within_the_monitor_window_is_rolled_back() {
        let fake = FakeCluster::new();
        fake.behave("app:unhealthy-later", Behavior::UnhealthyAfter(Duration::from_secs(1)));
        let before = spec("shop_web", "app:v1");
        fake.create_service(before.clone());
        let (env, _) = env(&fake);

        let step = rolling("shop_web", "app:unhealthy-later", FailureAction::Rollback, 600);
        let error = apply("web", &step, &env).await.unwrap_err();

        assert!(error.0.starts_with("Swarm rolled the update back"), "{error}");
        assert!(error.0.ends_with(&format!("task errors: {}", crate::cluster::fake::UNHEALTHY)), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_out_of_sequence_is_retried_with_a_fresh_index() {
        let fake = FakeCluster::new();
        fake.create_service(spec("shop_web", "app:v1"));
        fake.interfere(2);
        let (env, _) = env(&fake);

        apply("web", &rolling("shop_web", "app:v2", FailureAction::Rollback, 600), &env).await.unwrap();

        assert_eq!(fake.update_calls(), 3);
        let image = fake.spec("shop_web").unwrap().task_template.unwrap().container_spec.unwrap().image.unwrap();
        assert_eq!(image, "app:v2");
    }

    #[tokio::test(start_paused = true)]
    async fn endless_out_of_sequence_gives_up() {
        let fake = FakeCluster::new();
        fake.create_service(spec("shop_web", "app:v1"));
        fake.interfere(100);
        let (env, _) = env(&fake);

        let error = apply("web", &rolling("shop_web", "app:v2", FailureAction::Rollback, 600), &env).await.unwrap_err();

        assert_eq!(error.0, "cannot update service shop_web: update out of sequence");
        assert_eq!(fake.update_calls(), OUT_OF_SEQUENCE_ATTEMPTS);
    }

    #[test]
    fn the_new_spec_keeps_everything_but_image_replicas_ports_and_update_config() {
        let before = spec("shop_web", "app:v1");
        let mut step = rolling("shop_web", "app:v2", FailureAction::Pause, 600);
        step.replicas = Some(Spanned::new(5, Span::default()));
        step.publish = vec![plans::steps::rolling::Publish {
            published: 8080,
            target: 80,
            mode: PublishMode::Host,
            span: Span::default(),
        }];

        let after = updated_spec(&before, &step);

        let mut expected = serde_json::to_value(&before).unwrap();
        expected["TaskTemplate"]["ContainerSpec"]["Image"] = "app:v2".into();
        expected["Mode"]["Replicated"]["Replicas"] = 5.into();
        expected["EndpointSpec"] = serde_json::json!({
            "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]
        });
        expected["UpdateConfig"] = serde_json::json!({
            "Parallelism": 1, "Delay": 1_000_000_000i64, "FailureAction": "pause",
            "Monitor": 2_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "start-first"
        });
        expected["RollbackConfig"] = serde_json::json!({
            "Parallelism": 1, "Delay": 1_000_000_000i64, "FailureAction": "pause",
            "Monitor": 2_000_000_000i64, "MaxFailureRatio": 0.0, "Order": "start-first"
        });
        assert_eq!(serde_json::to_value(&after).unwrap(), expected);
    }
}
