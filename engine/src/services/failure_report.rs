//! A failure report: what a person would otherwise look up by hand when a release's tasks fail
//! (`docker service ps --no-trunc`, `docker inspect` of the container, `docker service logs`):
//! for each of the newest failed tasks (at most [`TASKS_SHOWN`], one per distinct error first),
//! its node, error and exit code, whether the kernel killed it for memory and the memory limit,
//! the health check's last output, and its last [`LOG_LINES`] log lines, read through Swarm, so
//! a task on another node is read too.
//!
//! Gathering is bounded: everything is read at once within [`BOUND`] on tokio's clock (each
//! read within its own, shorter, bound: `cluster::post_mortem`), and what cannot be read is
//! said in the report. Every text a task wrote is redacted with the task's own env values
//! (`redact::text_with_env`) and URL credentials, before it is kept.
//!
//! Whether a task was killed for memory comes from Docker's `OOMKilled` flag when its container
//! is on the node planrun talks to ([`Oom::Killed`]); elsewhere it is inferred, and said to be,
//! from exit 137 (SIGKILL) under a memory limit ([`Oom::Likely`]).

use std::sync::Arc;
use std::time::Duration;

use bollard::models::{Task, TaskState};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};

use crate::cluster::{Cluster, PostMortem, SeenTask};
use crate::services::watch::{Watch, failure_of, task_name};

/// The most failed tasks a report shows.
pub const TASKS_SHOWN: usize = 3;
/// The log lines read of each task shown.
pub const LOG_LINES: usize = 20;
/// How long gathering a report may take, at most: the rollback waits for it.
pub const BOUND: Duration = Duration::from_secs(5);

/// What the swarm says of a release's failed tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReport {
    /// The tasks shown, newest first.
    pub tasks: Vec<TaskReport>,
    /// Failed tasks seen but not shown (older ones, most often the same failure again).
    pub more: u64,
    /// Milliseconds gathering it took (the rollback waited that long for it).
    #[serde(default)]
    pub took_ms: u64,
}

/// One failed task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// As `docker service ps` names it: `shop_web.2`.
    pub task: String,
    /// The task's id.
    pub id: String,
    /// The image it ran.
    pub image: String,
    /// The node it ran on: its hostname, or its id when that cannot be read.
    pub node: Option<String>,
    /// Its state: `failed`, `complete`, `rejected`, `starting`, ...
    pub state: String,
    /// Its error, as Swarm (or planrun, for a health check) words it.
    pub error: Option<String>,
    /// Its container's exit code.
    pub exit_code: Option<i64>,
    /// Whether the kernel killed it for memory.
    pub oom: Oom,
    /// Its memory limit (`Resources.Limits.MemoryBytes`), if any.
    pub memory_limit_bytes: Option<u64>,
    /// Its health check's last run, if its container could be inspected and has one.
    pub health_check: Option<HealthCheck>,
    /// Its last log lines, oldest first.
    pub logs: Vec<String>,
    /// Whether older lines were left out (the log was longer than planrun reads).
    pub logs_cut: bool,
    /// Why its log could not be read, if it could not.
    pub logs_unread: Option<String>,
}

/// Whether the kernel killed a task for memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oom {
    /// Docker says so (`State.OOMKilled` of its container).
    Killed,
    /// Its container is not on a node planrun can inspect, and it was killed (exit 137) under
    /// a memory limit: most likely for memory.
    Likely,
    /// Docker says it was not.
    No,
    /// Nothing tells: its container could not be inspected.
    #[default]
    Unknown,
}

/// A health check's last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Its exit code (0 passes).
    pub exit_code: i64,
    /// What it printed.
    pub output: String,
}

impl FailureReport {
    /// Its text for people, each task a headline and indented details, with at most
    /// `log_lines` of each log (the last ones).
    pub fn render(&self, log_lines: usize) -> String {
        let mut out = String::new();
        for task in &self.tasks {
            task.render(&mut out, log_lines);
        }
        if self.more > 0 {
            let tasks = if self.more == 1 { "task" } else { "tasks" };
            out.push_str(&format!("({} more failed {tasks} not shown)\n", self.more));
        }
        out
    }

    /// Redacts every text in it as free text is (`redact::text`: URL credentials and queries).
    pub fn scrub(&mut self) {
        for task in &mut self.tasks {
            task.each_text(crate::redact::scrub);
        }
    }
}

impl TaskReport {
    fn render(&self, out: &mut String, log_lines: usize) {
        let node = self.node.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
        let id: String = self.id.chars().take(12).collect();
        out.push_str(&format!("{}{node} (task {id}, {}): {}\n", self.task, self.image, self.verdict()));
        if let Some(error) = &self.error {
            out.push_str(&format!("  error: {error}\n"));
        }
        if let Some(check) = &self.health_check {
            let output = if check.output.is_empty() { "no output" } else { &check.output };
            out.push_str(&format!("  last health check: exit {}: {output}\n", check.exit_code));
        }
        match &self.logs_unread {
            Some(why) => out.push_str(&format!("  log: not read: {why}\n")),
            None if self.logs.is_empty() => out.push_str("  log: empty\n"),
            None => {
                let from = self.logs.len().saturating_sub(log_lines);
                let shown = &self.logs[from..];
                let earlier = if from > 0 || self.logs_cut { ", earlier ones left out" } else { "" };
                let lines = if shown.len() == 1 { "line" } else { "lines" };
                out.push_str(&format!("  last {} log {lines}{earlier}:\n", shown.len()));
                for line in shown {
                    out.push_str(&format!("    | {line}\n"));
                }
            }
        }
    }

    /// What became of it, in one clause: killed for memory (with the limit), its exit code, or
    /// its state.
    pub fn verdict(&self) -> String {
        let limit = self.memory_limit_bytes.map(bytes);
        let exit = self.exit_code.map(|c| format!("exit {c}")).unwrap_or_else(|| self.state.clone());
        match (self.oom, limit) {
            (Oom::Killed, Some(limit)) => {
                format!("out of memory: killed by the kernel at its {limit} memory limit (Docker: OOMKilled; {exit})")
            }
            (Oom::Killed, None) => format!(
                "out of memory: killed by the kernel (Docker: OOMKilled; {exit}); it has no memory limit, so the \
                 node ran short"
            ),
            (Oom::Likely, Some(limit)) => format!(
                "probably out of memory: killed ({exit}) under a {limit} memory limit; planrun cannot read Docker's \
                 OOMKilled flag (its container is on another node, or gone)"
            ),
            (Oom::Likely, None) => format!("killed ({exit})"),
            (Oom::No | Oom::Unknown, _) => {
                // planrun words the error of a task stopped for its health check so (`watch.rs`).
                let stopped_unhealthy = self.error.as_deref().is_some_and(|e| e.starts_with("container unhealthy"));
                let failing_check = self.health_check.as_ref().is_some_and(|c| c.exit_code != 0);
                match (self.state.as_str(), self.exit_code) {
                    ("starting" | "running", _) if failing_check || stopped_unhealthy => {
                        format!("unhealthy: its health check fails (Swarm still says {})", self.state)
                    }
                    ("starting" | "pending" | "assigned" | "accepted" | "preparing" | "ready", _) => {
                        format!("{}, not running yet", self.state)
                    }
                    (_, _) if stopped_unhealthy => format!("stopped as unhealthy: its health check failed ({exit})"),
                    (_, Some(_)) => format!("{} ({exit})", self.state),
                    (_, None) => self.state.clone(),
                }
            }
        }
    }

    fn each_text(&mut self, mut f: impl FnMut(&mut String)) {
        if let Some(e) = self.error.as_mut() {
            f(e);
        }
        if let Some(c) = self.health_check.as_mut() {
            f(&mut c.output);
        }
        if let Some(w) = self.logs_unread.as_mut() {
            f(w);
        }
        self.logs.iter_mut().for_each(f);
    }
}

/// A byte count as people read a memory limit: `64 MiB`, `1.5 GiB`, `512 KiB`, `100 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) {
                format!("{} {unit}", n / size)
            } else {
                format!("{:.1} {unit}", n as f64 / size as f64)
            };
        }
    }
    format!("{n} B")
}

/// A task worth reporting: its service's name, the task, and why it counts against the release.
struct Candidate {
    service: String,
    task: Arc<SeenTask>,
    why: Option<String>,
}

/// The failure report of the releases `watches` follow: their new tasks that failed (or, when
/// none did, those of the release that are not running), the newest [`TASKS_SHOWN`]. `None`
/// when there is no such task. Takes at most [`BOUND`].
pub async fn gather(cluster: &dyn Cluster, watches: &[&Watch]) -> Option<FailureReport> {
    let started = Instant::now();
    let deadline = started + BOUND;
    let mut failed = Vec::new();
    let mut stuck = Vec::new();
    for watch in watches {
        let target = watch.target();
        let Ok(Ok(tasks)) = timeout_at(deadline, cluster.shared_tasks(&target.service_id)).await else { continue };
        let unhealthy = match timeout_at(deadline, cluster.unhealthy(&target.service_id)).await {
            Ok(Ok(unhealthy)) => unhealthy,
            Ok(Err(_)) | Err(_) => Vec::new(),
        };
        for task in tasks.iter() {
            let id = task.id.as_deref().unwrap_or_default();
            if !watch.is_new(id) {
                continue;
            }
            let sick = unhealthy.iter().find(|(t, _)| t == id).map(|(_, why)| why.clone());
            let candidate = |why| Candidate { service: target.service_name.clone(), task: task.clone(), why };
            if let Some(why) = failure_of(task).or(sick) {
                failed.push(candidate(Some(why)));
            } else if target.runs_on(task) && waits_to_run(task) {
                stuck.push(candidate(None));
            }
        }
    }
    let pool = if failed.is_empty() { stuck } else { failed };
    if pool.is_empty() {
        return None;
    }
    // Newest first: a task's version index grows with each change of its state; the list's
    // order (creation) breaks ties.
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((pool[i].task.version.as_ref().and_then(|v| v.index), i)));
    let chosen = choose(&order, |i| pool[i].why.clone());
    let more = (pool.len() - chosen.len()) as u64;
    let picked: Vec<&Candidate> = chosen.iter().map(|&i| &pool[i]).collect();
    let picked: Vec<(&Candidate, Task)> = picked.into_iter().map(|c| (c, c.task.to_task())).collect();
    let ends = picked.iter().map(|(_, task)| async {
        match timeout_at(deadline, cluster.post_mortem(task, LOG_LINES)).await {
            Ok(end) => end,
            Err(_) => PostMortem {
                logs: Err(format!("not read within {}", crate::clock::seconds(BOUND))),
                ..PostMortem::unknown()
            },
        }
    });
    let ends = futures_util::future::join_all(ends).await;
    let tasks =
        picked.iter().zip(ends).map(|((c, task), end)| task_report(&c.service, task, c.why.clone(), end)).collect();
    Some(FailureReport { tasks, more, took_ms: started.elapsed().as_millis() as u64 })
}

/// Which of `order` (newest first) to show: the newest task of each distinct error, at most
/// [`TASKS_SHOWN`], newest first. A task that crash-loops fails the same way again and again:
/// once is enough.
fn choose(order: &[usize], why: impl Fn(usize) -> Option<String>) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    for &i in order {
        if chosen.len() < TASKS_SHOWN && !errors.contains(&why(i)) {
            errors.push(why(i));
            chosen.push(i);
        }
    }
    chosen
}

/// Whether a task wants to run and does not yet.
fn waits_to_run(task: &SeenTask) -> bool {
    task.desired_state == Some(TaskState::RUNNING)
        && task.status.as_ref().and_then(|s| s.state) != Some(TaskState::RUNNING)
}

/// The report of one task from what its status and its post-mortem say, redacted.
fn task_report(service: &str, task: &Task, why: Option<String>, end: PostMortem) -> TaskReport {
    let status = task.status.clone().unwrap_or_default();
    let spec = task.spec.clone().unwrap_or_default();
    let container = spec.container_spec.clone().unwrap_or_default();
    let limit = spec.resources.and_then(|r| r.limits).and_then(|l| l.memory_bytes).filter(|b| *b > 0);
    let exit_code = end
        .container
        .as_ref()
        .and_then(|c| c.exit_code)
        .or_else(|| status.container_status.as_ref().and_then(|c| c.exit_code));
    let oom = match &end.container {
        Some(c) if c.oom_killed => Oom::Killed,
        Some(_) => Oom::No,
        None if exit_code == Some(137) && limit.is_some() => Oom::Likely,
        None => Oom::Unknown,
    };
    let (logs, logs_cut, logs_unread) = match end.logs {
        Ok(tail) => (tail.lines, tail.cut, None),
        Err(why) => (Vec::new(), false, Some(why)),
    };
    let mut report = TaskReport {
        task: task_name(service, task),
        id: task.id.clone().unwrap_or_default(),
        image: container.image.clone().unwrap_or_default().split('@').next().unwrap_or_default().to_owned(),
        node: end.node.or_else(|| task.node_id.clone()).filter(|n| !n.is_empty()),
        state: status.state.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
        error: why.or(status.err).filter(|e| !e.is_empty()),
        exit_code,
        oom,
        memory_limit_bytes: limit.map(|b| b as u64),
        health_check: end
            .container
            .and_then(|c| c.health)
            .map(|h| HealthCheck { exit_code: h.exit_code, output: h.output }),
        logs,
        logs_cut,
        logs_unread,
    };
    let env = container.env.unwrap_or_default();
    report.each_text(|t| *t = crate::redact::text_with_env(t, &env));
    report
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        Limit, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
        TaskSpecResources,
    };

    use super::*;
    use crate::cluster::fake::{Behavior, FakeCluster};
    use crate::cluster::post_mortem::{ContainerEnd, HealthCheckRun};
    use crate::services::target::{Baseline, Target};

    #[test]
    fn memory_sizes_read_as_people_write_them() {
        assert_eq!(bytes(64 << 20), "64 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(512 << 10), "512 KiB");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(bytes(33_554_432 + 1_048_576 / 2), "32.5 MiB");
    }

    fn oom_task() -> TaskReport {
        TaskReport {
            task: "shop_web.1".into(),
            id: "s3frn4mtizirtk1x835ygraz1".into(),
            image: "app:oom".into(),
            node: Some("vm".into()),
            state: "failed".into(),
            error: Some("task: non-zero exit (137)".into()),
            exit_code: Some(137),
            oom: Oom::Killed,
            memory_limit_bytes: Some(32 << 20),
            health_check: None,
            logs: vec!["allocating".into()],
            logs_cut: false,
            logs_unread: None,
        }
    }

    #[test]
    fn a_task_killed_for_memory_names_it_with_its_limit_and_its_log() {
        let report = FailureReport { tasks: vec![oom_task()], more: 2, took_ms: 0 };
        assert_eq!(
            report.render(20),
            "shop_web.1 on vm (task s3frn4mtizir, app:oom): out of memory: killed by the kernel at its 32 MiB \
             memory limit (Docker: OOMKilled; exit 137)\n  \
             error: task: non-zero exit (137)\n  \
             last 1 log line:\n    | allocating\n\
             (2 more failed tasks not shown)\n"
        );
        let mut inferred = oom_task();
        inferred.oom = Oom::Likely;
        assert_eq!(
            inferred.verdict(),
            "probably out of memory: killed (exit 137) under a 32 MiB memory limit; planrun cannot read Docker's \
             OOMKilled flag (its container is on another node, or gone)"
        );
        let mut unlimited = oom_task();
        unlimited.memory_limit_bytes = None;
        assert!(
            unlimited.verdict().contains("it has no memory limit, so the node ran short"),
            "{}",
            unlimited.verdict()
        );
    }

    #[test]
    fn a_crash_shows_its_exit_the_health_check_and_only_the_last_lines_asked_for() {
        let task = TaskReport {
            oom: Oom::No,
            exit_code: Some(4),
            error: Some("task: non-zero exit (4)".into()),
            health_check: Some(HealthCheck { exit_code: 1, output: "HTTP/1.0 500".into() }),
            logs: (1..=20).map(|n| format!("line {n}")).collect(),
            ..oom_task()
        };
        let text = FailureReport { tasks: vec![task], more: 0, took_ms: 0 }.render(2);
        assert_eq!(
            text,
            "shop_web.1 on vm (task s3frn4mtizir, app:oom): failed (exit 4)\n  \
             error: task: non-zero exit (4)\n  \
             last health check: exit 1: HTTP/1.0 500\n  \
             last 2 log lines, earlier ones left out:\n    | line 19\n    | line 20\n"
        );
        let unread =
            TaskReport { logs: Vec::new(), logs_unread: Some("Docker sent no log within 3s".into()), ..oom_task() };
        assert!(unread.clone().render_text().contains("  log: not read: Docker sent no log within 3s\n"));
        let starting = TaskReport { state: "starting".into(), exit_code: None, oom: Oom::Unknown, ..oom_task() };
        assert_eq!(starting.verdict(), "starting, not running yet");
        let failing = HealthCheck { exit_code: 1, output: "no answer".into() };
        let sick = TaskReport { health_check: Some(failing), ..starting };
        assert_eq!(sick.verdict(), "unhealthy: its health check fails (Swarm still says starting)");
        let error = Some("container unhealthy: health check exited 1: no answer".into());
        let stopped = TaskReport { state: "complete".into(), exit_code: Some(0), error, ..sick };
        assert_eq!(stopped.verdict(), "stopped as unhealthy: its health check failed (exit 0)");
    }

    impl TaskReport {
        fn render_text(self) -> String {
            FailureReport { tasks: vec![self], more: 0, took_ms: 0 }.render(20)
        }
    }

    fn spec(name: &str, image: &str, replicas: i64, memory: Option<i64>, env: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(env.iter().map(|e| (*e).to_owned()).collect()),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: memory.map(|m| Limit { memory_bytes: Some(m), ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Rolls `shop_web` (3 replicas of v1, 32 MiB, a secret in its env) to `image`, waits for
    /// failures to pile up, and reports.
    async fn report_of(fake: &FakeCluster, image: &str) -> Option<FailureReport> {
        let env = ["API_TOKEN=tok-hunter2-secret"];
        let id = fake.add_service(spec("shop_web", "app:v1", 3, Some(32 << 20), &env));
        let service = fake.service(&id).await.unwrap();
        let baseline = Baseline::take(fake, &service).await.unwrap();
        let new = spec("shop_web", image, 3, Some(32 << 20), &env);
        let target = Target::of(&id, &new).unwrap();
        let version = service.version.and_then(|v| v.index).unwrap();
        fake.update_service(&id, version, new).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        let watch = Watch::new(&target, &baseline, 0);
        gather(fake, &[&watch]).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_newest_failures_are_reported_once_each_redacted_with_the_tasks_env() {
        let fake = FakeCluster::new();
        fake.behave("app:oom", Behavior::Crash(137));
        fake.ends_as(
            "app:oom",
            Some(ContainerEnd {
                oom_killed: true,
                exit_code: Some(137),
                health: Some(HealthCheckRun { exit_code: 1, output: "token tok-hunter2-secret".into() }),
            }),
            &["allocating with tok-hunter2-secret", "see https://u:pw@example.com/x?k=v"],
        );
        let report = report_of(&fake, "app:oom").await.expect("a report");
        // Swarm's update config (pause by default) stopped after the first failure; a crashed
        // task is restarted meanwhile: several failures, all the same, one shown.
        assert_eq!(report.tasks.len(), 1, "{report:#?}");
        assert!(report.more >= 1, "{report:#?}");
        let task = &report.tasks[0];
        assert_eq!(task.oom, Oom::Killed);
        assert_eq!(task.memory_limit_bytes, Some(32 << 20));
        assert_eq!(task.image, "app:oom");
        let text = report.render(20);
        assert!(text.contains("out of memory: killed by the kernel at its 32 MiB memory limit"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains(":pw@"), "redacted: {text}");
        assert!(text.contains("| allocating with <redacted:"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_container_on_another_node_killed_under_a_limit_is_probably_out_of_memory() {
        let fake = FakeCluster::new();
        fake.behave("app:oom", Behavior::Crash(137));
        let report = report_of(&fake, "app:oom").await.expect("a report");
        assert_eq!(report.tasks[0].oom, Oom::Likely, "{report:#?}");
        assert!(report.render(20).contains("probably out of memory"), "{}", report.render(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_release_whose_tasks_did_not_fail_has_no_report() {
        let fake = FakeCluster::new();
        assert_eq!(report_of(&fake, "app:v2").await, None);
    }

    #[test]
    fn the_newest_task_of_each_distinct_error_is_shown_at_most_three() {
        let why = |i: usize| Some(["a", "a", "b", "a", "c", "d"][i].to_owned());
        // Newest first: 5, 4, ..., 0.
        assert_eq!(choose(&[5, 4, 3, 2, 1, 0], why), [5, 4, 3]);
        assert_eq!(choose(&[3, 2, 1, 0], why), [3, 2]);
        let same = |_: usize| Some("a".to_owned());
        assert_eq!(choose(&[4, 3, 2, 1, 0], same), [4]);
        assert_eq!(choose(&[0, 1, 2], same), [0], "in the order given");
    }
}
