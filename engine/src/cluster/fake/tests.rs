//! The fake swarm's own behaviour: task timing, rollouts, rollbacks, jobs, labels.

use bollard::models::{
    HealthConfig, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpecContainerSpec,
};

use std::time::Duration;

use super::*;
use crate::cluster::{Cluster, ClusterError, Revision, ServiceCounts};

fn spec(name: &str, image: &str, health_interval_s: Option<i64>) -> ServiceSpec {
    ServiceSpec {
        name: Some(name.into()),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.into()),
                health_check: health_interval_s.map(|s| HealthConfig {
                    test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                    interval: Some(s * 1_000_000_000),
                    retries: Some(2),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn states(fake: &FakeCluster, name: &str) -> Vec<(i64, TaskState)> {
    let mut out: Vec<(i64, TaskState)> = fake
        .tasks(name)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .map(|t| (t.slot.unwrap(), t.status.as_ref().unwrap().state.unwrap()))
        .collect();
    out.sort();
    out
}

#[tokio::test(start_paused = true)]
async fn a_new_task_is_up_after_its_start_and_first_health_check() {
    let fake = FakeCluster::new();
    fake.create_service(spec("web", "app:v1", Some(3))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3_900)).await;
    assert_eq!(states(&fake, "web").await, [(1, TaskState::STARTING), (2, TaskState::STARTING)]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_turns_unhealthy_later_dies_and_is_restarted() {
    let fake = FakeCluster::new();
    fake.behave("app:late", Behavior::UnhealthyAfter(Duration::from_secs(10)));
    fake.create_service(spec("web", "app:late", Some(1))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
    // Dies 11 s after creation (1 s start + 10 s), restarted 2 s later.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let tasks = fake.tasks("web").await.unwrap();
    let dead = tasks.iter().filter(|t| t.status.as_ref().unwrap().err.as_deref() == Some(UNHEALTHY)).count();
    assert_eq!(dead, 2);
    assert_eq!(states(&fake, "web").await, [], "nothing runs between death and restart");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
}

#[tokio::test(start_paused = true)]
async fn a_job_runs_to_completion_and_leaves_its_output() {
    let fake = FakeCluster::new();
    fake.job_output("pg:15", "dumped 3 tables");
    let mut job = spec("dump", "pg:15", None);
    job.mode = Some(ServiceSpecMode {
        replicated_job: Some(bollard::models::ServiceSpecModeReplicatedJob {
            max_concurrent: Some(1),
            total_completions: Some(1),
        }),
        ..Default::default()
    });
    let id = fake.create_service(job).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tasks = fake.tasks(&id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status.as_ref().unwrap().state, Some(TaskState::COMPLETE));
    assert_eq!(fake.logs(&id, 10).await.unwrap(), "dumped 3 tables\n");
    fake.remove_service(&id).await.unwrap();
    assert!(matches!(fake.service(&id).await, Err(ClusterError::NotFound(_))));
}

/// A global service with a 1 s health check, updated and rolled back one node at a time
/// in `order` with a 1 s monitor.
fn global(name: &str, image: &str, order: ServiceSpecUpdateConfigOrderEnum) -> ServiceSpec {
    use bollard::models::{ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig};
    let mut s = spec(name, image, Some(1));
    s.mode = Some(ServiceSpecMode { global: Some(Default::default()), ..Default::default() });
    s.update_config = Some(ServiceSpecUpdateConfig {
        parallelism: Some(1),
        order: Some(order),
        monitor: Some(1_000_000_000),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
        ..Default::default()
    });
    s.rollback_config = Some(ServiceSpecRollbackConfig {
        parallelism: Some(1),
        order: Some(match order {
            ServiceSpecUpdateConfigOrderEnum::START_FIRST => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
        monitor: Some(1_000_000_000),
        ..Default::default()
    });
    s
}

/// (node, image, state) of every task that wants to run, sorted; panics on a task with a slot.
async fn by_node(fake: &FakeCluster, name: &str) -> Vec<(String, String, TaskState)> {
    let mut out: Vec<(String, String, TaskState)> = fake
        .tasks(name)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .map(|t| {
            assert_eq!(t.slot, None, "a global task has no slot");
            (t.node_id.clone().unwrap(), image_of(t.spec.as_ref().unwrap()), t.status.as_ref().unwrap().state.unwrap())
        })
        .collect();
    out.sort();
    out
}

fn on_every_node(image: &str) -> Vec<(String, String, TaskState)> {
    ["n1", "n2", "n3"].iter().map(|n| (n.to_string(), image.to_string(), TaskState::RUNNING)).collect()
}

/// Samples the service every 10 ms until dropped: the fewest running tasks and the most
/// tasks wanting to run on one node.
struct Sampler {
    fewest_running: Arc<Mutex<usize>>,
    most_on_a_node: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(fake: &FakeCluster, name: &str) -> Sampler {
        let (fewest_running, most_on_a_node) = (Arc::new(Mutex::new(usize::MAX)), Arc::new(Mutex::new(0)));
        let (fake, name) = (fake.clone(), name.to_owned());
        let (fewest, most) = (fewest_running.clone(), most_on_a_node.clone());
        let task = tokio::spawn(async move {
            loop {
                let tasks = by_node(&fake, &name).await;
                let running = tasks.iter().filter(|(_, _, s)| *s == TaskState::RUNNING).count();
                let crowded = ["n1", "n2", "n3"].iter().map(|n| tasks.iter().filter(|t| t.0 == *n).count()).max();
                {
                    let mut fewest = fewest.lock().unwrap();
                    *fewest = (*fewest).min(running);
                    let mut most = most.lock().unwrap();
                    *most = (*most).max(crowded.unwrap_or(0));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Sampler { fewest_running, most_on_a_node, task }
    }

    /// (fewest running, most on a node), and stops sampling.
    fn stop(self) -> (usize, usize) {
        self.task.abort();
        (*self.fewest_running.lock().unwrap(), *self.most_on_a_node.lock().unwrap())
    }
}

/// Writes `image` into the service's spec as a client would, then waits (bounded) until
/// Swarm's update status is `until`; returns how long that took.
async fn update_until(fake: &FakeCluster, name: &str, image: &str, until: ServiceUpdateStatusStateEnum) -> Duration {
    let service = fake.service(name).await.unwrap();
    let mut next = service.spec.clone().unwrap();
    next.task_template.as_mut().unwrap().container_spec.as_mut().unwrap().image = Some(image.into());
    let started = tokio::time::Instant::now();
    fake.update_service(name, service.version.unwrap().index.unwrap(), next).await.unwrap();
    loop {
        let state = fake.service(name).await.unwrap().update_status.and_then(|u| u.state);
        if state == Some(until) {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(120), "still {state:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_global_service_runs_one_task_per_node_and_desires_as_many_as_there_are_nodes() {
    let fake = FakeCluster::new();
    fake.set_nodes(&["n1", "n2", "n3"]);
    let id = fake.create_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST)).await;
    let id = id.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v1"));
    assert_eq!(fake.counts(&id).await.unwrap(), ServiceCounts { running: 3, desired: 3 });

    // No node: nothing to run, and nothing desired.
    let none = FakeCluster::new();
    none.set_nodes(&[]);
    let id = none.create_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(none.counts(&id.unwrap()).await.unwrap(), ServiceCounts { running: 0, desired: 0 });
}

#[tokio::test(start_paused = true)]
async fn a_global_service_rolls_out_start_first_one_node_at_a_time_without_losing_a_task() {
    let fake = FakeCluster::new();
    fake.set_nodes(&["n1", "n2", "n3"]);
    fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST));
    let sampler = Sampler::start(&fake, "agent");

    let took = update_until(&fake, "agent", "app:v2", ServiceUpdateStatusStateEnum::COMPLETED).await;

    let (fewest_running, most_on_a_node) = sampler.stop();
    assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v2"));
    assert_eq!(fewest_running, 3, "start-first: every node keeps a running task");
    assert_eq!(most_on_a_node, 2, "the old task stays until its replacement is up");
    // Per node 1 s start + 1 s to the first check, then one more monitor window.
    assert!(took >= Duration::from_secs(7) && took <= Duration::from_millis(7_100), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_global_service_rolls_out_stop_first_one_node_at_a_time() {
    let fake = FakeCluster::new();
    fake.set_nodes(&["n1", "n2", "n3"]);
    fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
    let sampler = Sampler::start(&fake, "agent");

    update_until(&fake, "agent", "app:v2", ServiceUpdateStatusStateEnum::COMPLETED).await;

    let (fewest_running, most_on_a_node) = sampler.stop();
    assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v2"));
    assert_eq!(fewest_running, 2, "stop-first, parallelism 1: one node at a time runs nothing");
    assert_eq!(most_on_a_node, 1);
}

#[tokio::test(start_paused = true)]
async fn a_global_release_that_crashes_is_rolled_back_on_every_node() {
    let fake = FakeCluster::new();
    fake.set_nodes(&["n1", "n2", "n3"]);
    fake.behave("app:exit", Behavior::Crash(3));
    let id = fake.add_service(global("agent", "app:v1", ServiceSpecUpdateConfigOrderEnum::START_FIRST));
    let sampler = Sampler::start(&fake, "agent");

    update_until(&fake, "agent", "app:exit", ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED).await;

    let (fewest_running, _) = sampler.stop();
    assert_eq!(image_of(&template(&fake.spec("agent").unwrap())), "app:v1");
    assert_eq!(by_node(&fake, "agent").await, on_every_node("app:v1"));
    assert_eq!(fewest_running, 3, "start-first: the old tasks never stopped");
    let crashed =
        fake.tasks(&id).await.unwrap().into_iter().filter(|t| image_of(t.spec.as_ref().unwrap()) == "app:exit");
    assert_eq!(crashed.map(|t| t.status.unwrap().err.unwrap()).collect::<Vec<_>>(), ["task: non-zero exit (3)"]);
}

#[tokio::test(start_paused = true)]
async fn services_are_found_by_label() {
    let fake = FakeCluster::new();
    let mut a = spec("shop_web", "app:v1", None);
    a.labels = Some([("com.docker.stack.namespace".to_string(), "shop".to_string())].into());
    fake.add_service(a);
    fake.add_service(spec("other", "app:v1", None));
    let found = fake.services("com.docker.stack.namespace=shop").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].spec.as_ref().unwrap().name.as_deref(), Some("shop_web"));
    assert_eq!(fake.services("com.docker.stack.namespace").await.unwrap().len(), 1);
    assert_eq!(fake.services("com.docker.stack.namespace=else").await.unwrap().len(), 0);
}

/// The revision of `name` now.
async fn revision(fake: &FakeCluster, name: &str) -> Revision {
    let id = fake.service(name).await.unwrap().id.unwrap();
    fake.revision(&id).await
}

#[tokio::test(start_paused = true)]
async fn a_waiter_wakes_at_the_instant_a_task_changes_and_not_before() {
    let fake = FakeCluster::new();
    let id = fake.create_service(spec("web", "app:v1", Some(3))).await.unwrap();
    let started = tokio::time::Instant::now();
    let seen = fake.revision(&id).await;
    let far = started + Duration::from_secs(60);

    fake.changed(&[(id.clone(), seen)], far).await;

    // Created starting at 0; the first change after is both tasks up, 1 s start + 3 s check.
    assert_eq!(started.elapsed(), Duration::from_secs(4));
    assert_ne!(fake.revision(&id).await, seen);
    assert_eq!(states(&fake, "web").await, [(1, TaskState::RUNNING), (2, TaskState::RUNNING)]);
}

#[tokio::test(start_paused = true)]
async fn a_quiet_service_lets_its_waiter_sleep_until_the_end() {
    let fake = FakeCluster::new();
    let id = fake.add_service(spec("web", "app:v1", Some(1)));
    let seen = fake.revision(&id).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(30);

    fake.changed(&[(id.clone(), seen)], until).await;

    assert_eq!(tokio::time::Instant::now(), until);
    assert_eq!(fake.revision(&id).await, seen, "reads are not changes");
    assert!(fake.quiet_limit().is_none(), "the fake hears of every change");
}

#[tokio::test(start_paused = true)]
async fn a_change_already_made_or_a_removed_service_ends_the_wait_at_once() {
    let fake = FakeCluster::new();
    let (a, b) = (fake.add_service(spec("a", "app:v1", None)), fake.add_service(spec("b", "app:v1", None)));
    let (seen_a, seen_b) = (fake.revision(&a).await, fake.revision(&b).await);
    fake.duplicate_slot("b", 1);
    let started = tokio::time::Instant::now();
    let far = started + Duration::from_secs(60);

    fake.changed(&[(a.clone(), seen_a), (b.clone(), seen_b)], far).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "b changed before the wait");

    let waiting = {
        let fake = fake.clone();
        tokio::spawn(async move { fake.changed(&[(a, seen_a)], far).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    fake.remove_service("a").await.unwrap();
    waiting.await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn shared_tasks_are_handed_out_without_copies_and_a_change_leaves_old_readers_alone() {
    let fake = FakeCluster::new();
    let id = fake.add_service(spec("web", "app:v1", None));
    let first = fake.shared_tasks(&id).await.unwrap();
    let again = fake.shared_tasks(&id).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the same list, not a copy of it");
    assert_eq!(first.len(), 2);

    let service = fake.service("web").await.unwrap();
    let mut next = service.spec.clone().unwrap();
    next.mode.as_mut().unwrap().replicated.as_mut().unwrap().replicas = Some(1);
    fake.update_service(&id, service.version.unwrap().index.unwrap(), next).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let after = fake.shared_tasks(&id).await.unwrap();
    assert_eq!(first[1].desired_state, Some(TaskState::RUNNING), "a reader keeps what it read");
    assert_eq!(after[1].desired_state, Some(TaskState::SHUTDOWN), "slot 2 is scaled away");
    assert!(!Arc::ptr_eq(&first, &after), "a change makes a new list while a reader holds the old");
    assert!(Arc::ptr_eq(&first[0], &after[0]), "slot 1 did not change");
    // What `tasks` shows is what a daemon shows: no health check in a task's spec.
    let read = fake.tasks(&id).await.unwrap();
    assert!(read.iter().all(|t| t.spec.as_ref().unwrap().container_spec.as_ref().unwrap().health_check.is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_stale_version_is_out_of_sequence_and_so_is_one_another_writer_overtook() {
    let fake = FakeCluster::new();
    let id = fake.add_service(spec("web", "app:v1", None));
    let service = fake.service(&id).await.unwrap();
    let version = service.version.unwrap().index.unwrap();
    let spec = service.spec.unwrap();

    assert_eq!(fake.update_service(&id, version - 1, spec.clone()).await, Err(ClusterError::OutOfSequence));
    fake.interfere(1);
    assert_eq!(fake.update_service(&id, version, spec.clone()).await, Err(ClusterError::OutOfSequence));
    let fresh = fake.service(&id).await.unwrap().version.unwrap().index.unwrap();
    assert!(fresh > version, "the other writer bumped the index");
    assert_eq!(fake.update_service(&id, fresh, spec).await, Ok(()));
    assert_eq!(fake.update_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_release_that_crashes_under_failure_action_pause_pauses_and_its_task_restarts() {
    let fake = FakeCluster::new();
    fake.behave("app:exit", Behavior::Crash(2));
    let mut web = spec("web", "app:v1", Some(1));
    web.update_config = Some(bollard::models::ServiceSpecUpdateConfig {
        parallelism: Some(1),
        monitor: Some(1_000_000_000),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        ..Default::default()
    });
    fake.add_service(web);
    let revision_before = revision(&fake, "web").await;

    let took = update_until(&fake, "web", "app:exit", ServiceUpdateStatusStateEnum::PAUSED).await;

    // Updater after 20 ms, stop-first, the new task dies 1 s after it was created (seen by the
    // next 10 ms poll, or the one at that instant).
    assert!(took >= Duration::from_millis(1_020) && took <= Duration::from_millis(1_030), "{took:?}");
    assert!(revision(&fake, "web").await > revision_before);
    let status = fake.service("web").await.unwrap().update_status.unwrap();
    assert!(status.message.unwrap().starts_with("update paused due to failure or early termination of task"));
    // Slot 2 still runs v1; slot 1 is restarted on the new spec after the 2 s restart delay.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let starting: Vec<String> = fake
        .tasks("web")
        .await
        .unwrap()
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .map(|t| format!("{} {}", t.slot.unwrap(), image_of(t.spec.as_ref().unwrap())))
        .collect();
    assert_eq!(starting, ["2 app:v1", "1 app:exit"]);
}
