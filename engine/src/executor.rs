//! The executor: walks the plan's graph with tokio, running every step whose dependencies are
//! done (at most `parallelism` at once), and undoes what the run changed when a step fails and
//! the plan says roll back: in the reverse of the plan's dependency order, independent branches
//! at once, newest first among those ready.
//!
//! Stopping: when a step fails (and the plan says roll back) or on the first Ctrl-C/SIGTERM,
//! the steps still running are stopped at once (their futures are dropped: gates, waits and
//! commands end there) and everything recorded is undone. A second interrupt stops the
//! rollback itself at once, leaving what is not undone as it is.
//!
//! It knows the outside world only through `RunContext` and waits only on tokio's clock, so
//! the same code runs against the fake cluster in virtual time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use plans::PlanGraph;
use plans::model::{OnFailure, Plan};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::{RunContext, StepContext};
use crate::events::{Event, RunOutcome, StepOutcome, UndoOutcome};
use crate::services::failure_report::FailureReport;
use crate::steps::{self, StepError};
use crate::undo::Undo;

/// Ctrl-C and SIGTERM, as the run sees them.
#[derive(Clone, Default)]
pub struct Interrupts {
    /// The first: stop what runs and roll back (or pause, as the plan says).
    pub first: CancellationToken,
    /// The second: stop at once, even a rollback.
    pub second: CancellationToken,
}

/// How a run ended, with what is still changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Why, when it did not succeed.
    pub reason: Option<String>,
    /// Changes still in place, newest first: the whole release after a success, what was
    /// not (or could not be) undone otherwise.
    pub left: Vec<(String, Undo)>,
}

/// How undoing went.
#[derive(Debug, Clone, PartialEq)]
pub struct Undone {
    /// Steps whose undo failed, with why.
    pub failed: Vec<(String, String)>,
    /// Whether a second interrupt stopped it.
    pub stopped: bool,
    /// Records not undone, newest first.
    pub left: Vec<(String, Undo)>,
}

/// Steps `planrun apply` runs at once unless `--parallelism` says otherwise (and so `planrun
/// plan` simulates them).
pub const PARALLELISM: usize = 4;

/// Runs plans.
pub struct Executor {
    /// What steps use.
    pub ctx: Arc<RunContext>,
    /// Steps running at once, at most.
    pub parallelism: usize,
    /// Ctrl-C and SIGTERM.
    pub interrupts: Interrupts,
}

/// How one step's task ended.
enum Ended {
    Done(Result<(), StepError>),
    Stopped,
}

/// What the forward walk left: the first failure, if any.
struct Forward {
    failure: Option<String>,
}

impl Executor {
    /// Runs the plan to the end, rolling back on failure if the plan says so; emits
    /// `RunFinished`.
    pub async fn run(&self, plan: &Arc<Plan>, graph: &PlanGraph, plan_dir: &Arc<PathBuf>) -> Report {
        let watcher = self.announce_interrupts();
        let forward = self.forward(plan, graph, plan_dir).await;
        let report = match forward.failure {
            None => Report { outcome: RunOutcome::Succeeded, reason: None, left: self.ctx.recorded.newest_first() },
            Some(reason) if plan.on_failure == OnFailure::Pause => {
                Report { outcome: RunOutcome::Paused, reason: Some(reason), left: self.ctx.recorded.newest_first() }
            }
            Some(reason) if self.interrupts.second.is_cancelled() => Report {
                outcome: RunOutcome::Stopped,
                reason: Some(format!("{reason}; stopped before rolling back (second interrupt)")),
                left: self.ctx.recorded.newest_first(),
            },
            Some(reason) => {
                self.ctx.events.emit(Event::RollbackStarted { reason: reason.clone(), undoing: None });
                let undone = self.undo_in_reverse(self.ctx.recorded.newest_first(), plan, graph).await;
                if undone.stopped {
                    Report {
                        outcome: RunOutcome::Stopped,
                        reason: Some(format!("{reason}; rollback stopped by a second interrupt")),
                        left: undone.left,
                    }
                } else if !undone.failed.is_empty() {
                    let failed: Vec<String> =
                        undone.failed.iter().map(|(s, e)| format!("undo of `{s}`: {e}")).collect();
                    Report {
                        outcome: RunOutcome::RollbackFailed,
                        reason: Some(format!("{reason}; then rollback failed: {}", failed.join("; "))),
                        left: undone.left,
                    }
                } else {
                    Report { outcome: RunOutcome::RolledBack, reason: Some(reason), left: Vec::new() }
                }
            }
        };
        watcher.abort();
        self.ctx.events.emit(Event::RunFinished { outcome: report.outcome, reason: report.reason.clone() });
        report
    }

    /// Emits `Interrupted` as the interrupts arrive.
    fn announce_interrupts(&self) -> tokio::task::JoinHandle<()> {
        let (events, interrupts) = (self.ctx.events.clone(), self.interrupts.clone());
        tokio::spawn(async move {
            interrupts.first.cancelled().await;
            events.emit(Event::Interrupted { second: false });
            interrupts.second.cancelled().await;
            events.emit(Event::Interrupted { second: true });
        })
    }

    /// Runs steps in dependency order (file order among those ready) until all are done, one
    /// fails, or an interrupt arrives.
    async fn forward(&self, plan: &Arc<Plan>, graph: &PlanGraph, plan_dir: &Arc<PathBuf>) -> Forward {
        let n = plan.steps.len();
        let mut waiting_on: Vec<usize> = (0..n).map(|i| graph.dependencies(i).len()).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        let mut running: JoinSet<(usize, Ended, u64)> = JoinSet::new();
        let stop = CancellationToken::new();
        let mut failure: Option<String> = None;
        let mut stopped_because = String::new();
        let mut interrupted = false;
        loop {
            while failure.is_none() && !interrupted && running.len() < self.parallelism.max(1) {
                let Some(i) = ready.pop_first() else { break };
                let step = &plan.steps[i];
                self.ctx
                    .events
                    .emit(Event::StepStarted { step: step.name.value.clone(), kind: step.kind.keyword().to_owned() });
                let ctx = StepContext {
                    run: self.ctx.clone(),
                    plan: plan.clone(),
                    plan_dir: plan_dir.clone(),
                    step: step.name.value.clone(),
                };
                let (plan, stop) = (plan.clone(), stop.clone());
                running.spawn(async move {
                    let started = tokio::time::Instant::now();
                    let ended = tokio::select! {
                        biased;
                        _ = stop.cancelled() => Ended::Stopped,
                        result = steps::behavior(&plan.steps[i].kind).apply(&ctx) => Ended::Done(result),
                    };
                    (i, ended, started.elapsed().as_millis() as u64)
                });
            }
            if running.is_empty() {
                break;
            }
            let joined = tokio::select! {
                j = running.join_next() => j,
                _ = self.interrupts.first.cancelled(), if !interrupted => {
                    interrupted = true;
                    failure.get_or_insert_with(|| "interrupted (Ctrl-C or SIGTERM)".into());
                    stopped_because = "interrupted (Ctrl-C or SIGTERM)".into();
                    stop.cancel();
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let (i, ended, took_ms) = match joined {
                Ok(r) => r,
                Err(e) => {
                    failure.get_or_insert(format!("a step task crashed: {e}"));
                    stop.cancel();
                    continue;
                }
            };
            let step = plan.steps[i].name.value.clone();
            match ended {
                Ended::Done(Ok(())) => {
                    self.finished(&step, StepOutcome::Succeeded, None, None, took_ms);
                    for dep in graph.graph.neighbors(graph.nodes[i]) {
                        let j = graph.graph[dep];
                        waiting_on[j] -= 1;
                        if waiting_on[j] == 0 {
                            ready.insert(j);
                        }
                    }
                }
                Ended::Done(Err(e)) => {
                    let why = e.to_string();
                    let report = e.report().cloned().map(Box::new);
                    self.finished(&step, StepOutcome::Failed, Some(why.clone()), report, took_ms);
                    if failure.is_none() {
                        failure = Some(format!("step `{step}` failed: {why}"));
                        stopped_because = format!("step `{step}` failed");
                    }
                    // Rolling back: what still runs is undone anyway, so it stops now. Pausing:
                    // it finishes, so every step ends in a state a person can read.
                    if plan.on_failure == OnFailure::Rollback {
                        stop.cancel();
                    }
                }
                Ended::Stopped => {
                    let why = format!("stopped: {stopped_because}");
                    self.finished(&step, StepOutcome::Cancelled, Some(why), None, took_ms)
                }
            }
        }
        Forward { failure }
    }

    fn finished(
        &self,
        step: &str,
        outcome: StepOutcome,
        reason: Option<String>,
        report: Option<Box<FailureReport>>,
        took_ms: u64,
    ) {
        self.ctx.events.emit(Event::StepFinished { step: step.to_owned(), outcome, reason, report, took_ms });
    }

    /// Undoes `pending` in order (newest first), one at a time: what `planrun rollback` does,
    /// which has the run's records but not its plan. A failed undo does not stop the rest: a
    /// partial rollback is better than none, and the journal says exactly which step still
    /// needs a person. An undo that cannot be done at all (`StepError::Irreversible`, a
    /// migration without `down`) stops the rollback there: undoing older steps under a schema
    /// that stays migrated could break what still runs. A second interrupt stops at once.
    pub async fn undo_all(&self, pending: Vec<(String, Undo)>) -> Undone {
        let after: Vec<Vec<usize>> = (0..pending.len()).map(|k| k.checked_sub(1).into_iter().collect()).collect();
        self.undo_ordered(pending, after, 1).await
    }

    /// Undoes `pending` (newest first) in the reverse of the plan's dependency order, as
    /// Terraform destroys: a step's undo waits for the undos of the pending steps that depend on
    /// it (directly or not); the undos of independent branches run at once, at most
    /// `parallelism`, newest first among those ready. So a canary on one branch is removed
    /// while a rolling update on another is being put back, not after it. Otherwise as
    /// [`Executor::undo_all`]; an irreversible undo starts no more undos and lets the running
    /// ones end.
    pub async fn undo_in_reverse(&self, pending: Vec<(String, Undo)>, plan: &Plan, graph: &PlanGraph) -> Undone {
        let index: std::collections::HashMap<&str, usize> =
            plan.steps.iter().enumerate().map(|(i, s)| (s.name.value.as_str(), i)).collect();
        let at: Vec<Option<usize>> = pending.iter().map(|(step, _)| index.get(step.as_str()).copied()).collect();
        let after: Vec<Vec<usize>> = (0..pending.len())
            .map(|k| {
                let later = at[k].map(|mine| graph.runs_after(mine));
                (0..pending.len())
                    .filter(|&m| m != k)
                    .filter(|&m| match (&later, at[m]) {
                        (Some(later), Some(theirs)) => later[theirs],
                        // Not in the plan (cannot be, but then): the recorded order.
                        _ => m < k,
                    })
                    .collect()
            })
            .collect();
        self.undo_ordered(pending, after, self.parallelism).await
    }

    /// Undoes `pending`, entry `k` once every entry in `after[k]` has been undone (or failed),
    /// at most `parallelism` at once, the lowest index first among those ready.
    async fn undo_ordered(&self, pending: Vec<(String, Undo)>, after: Vec<Vec<usize>>, parallelism: usize) -> Undone {
        use futures_util::StreamExt;
        use futures_util::stream::FuturesUnordered;

        let n = pending.len();
        let mut waiting: Vec<usize> = after.iter().map(Vec::len).collect();
        let mut then: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (k, before) in after.iter().enumerate() {
            for &m in before {
                then[m].push(k);
            }
        }
        let mut ready: BTreeSet<usize> = (0..n).filter(|&k| waiting[k] == 0).collect();
        let mut ended = vec![false; n];
        let mut failed = Vec::new();
        let mut irreversible = false;
        let mut running = FuturesUnordered::new();
        loop {
            while !irreversible && running.len() < parallelism.max(1) {
                let Some(k) = ready.pop_first() else { break };
                let (step, record) = &pending[k];
                running.push(async move {
                    let started = tokio::time::Instant::now();
                    let result = steps::undo(step, record, &self.ctx).await;
                    (k, result, started.elapsed().as_millis() as u64)
                });
            }
            let next = tokio::select! {
                biased;
                _ = self.interrupts.second.cancelled() => None,
                next = running.next() => Some(next),
            };
            let Some(next) = next else {
                drop(running);
                let left = (0..n).filter(|&k| !ended[k]).map(|k| pending[k].clone()).collect();
                return Undone { failed, stopped: true, left };
            };
            let Some((k, result, took_ms)) = next else { break };
            let step = &pending[k].0;
            let (outcome, reason) = match &result {
                Ok(()) => (UndoOutcome::Succeeded, None),
                Err(e) => (UndoOutcome::Failed, Some(e.to_string())),
            };
            self.ctx.events.emit(Event::StepUndone { step: step.clone(), outcome, reason, took_ms });
            ended[k] = true;
            match result {
                Ok(()) => {
                    self.ctx.recorded.remove(step);
                    self.remember_undone(step).await;
                }
                Err(e @ steps::StepError::Irreversible(_)) => {
                    failed.push((step.clone(), e.to_string()));
                    irreversible = true;
                }
                Err(e) => failed.push((step.clone(), e.to_string())),
            }
            for &t in &then[k] {
                waiting[t] -= 1;
                if waiting[t] == 0 {
                    ready.insert(t);
                }
            }
        }
        Undone { failed, stopped: false, left: self.ctx.recorded.newest_first() }
    }

    /// Tells the swarm `step` is undone. Failing to is a warning: the undo happened, and a later
    /// rollback that undoes it again finds the service already as recorded.
    async fn remember_undone(&self, step: &str) {
        let Some(state) = &self.ctx.state else { return };
        let entry = crate::run_state::Entry::Undone { step: step.to_owned(), by_run: self.ctx.run_id.clone() };
        if let Err(e) = state.write(&entry).await {
            let message = format!("cannot record in the swarm that `{step}` is undone: {e}");
            self.ctx.events.emit(Event::Warning { problem: crate::events::Problem { step: None, at: None, message } });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bollard::models::{
        HealthConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
    };
    use plans::gates::Outcome;

    use super::*;
    use crate::cluster::fake::Behavior;
    use crate::commands::Script;
    use crate::events::{Event, Memory};
    use crate::simulation::Simulation;

    fn spec(name: &str, image: &str, replicas: i64, health: bool) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    health_check: health.then(|| HealthConfig {
                        test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                        interval: Some(1_000_000_000),
                        retries: Some(1),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    struct Run {
        sim: Simulation,
        memory: Arc<Memory>,
        executor: Executor,
    }

    fn run_on(sim: Simulation, parallelism: usize) -> Run {
        let memory = Arc::new(Memory::default());
        let ctx = sim.context("shop", "r-test", vec![Box::new(memory.clone())]);
        Run { sim, memory, executor: Executor { ctx, parallelism, interrupts: Interrupts::default() } }
    }

    impl Run {
        async fn plan(&self, text: &str) -> Report {
            let (plan, graph) = Simulation::plan(text);
            self.executor.run(&plan, &graph, &Arc::new(".".into())).await
        }

        /// `(virtual second, event)` for the events that say what the run did.
        fn story(&self) -> Vec<(f64, String)> {
            self.memory
                .records()
                .iter()
                .filter_map(|r| {
                    let what = match &r.event {
                        Event::StepStarted { step, .. } => format!("start {step}"),
                        Event::StepFinished { step, outcome, .. } => format!("{outcome} {step}"),
                        Event::RollbackStarted { .. } => "rollback".into(),
                        Event::StepUndone { step, outcome, .. } => format!("undo {outcome} {step}"),
                        Event::Interrupted { second } => format!("interrupted{}", if *second { " again" } else { "" }),
                        Event::RunFinished { outcome, .. } => format!("run {outcome}"),
                        _ => return None,
                    };
                    Some((r.elapsed_ms as f64 / 1000.0, what))
                })
                .collect()
        }
    }

    fn at(events: &[(f64, &str)]) -> Vec<(f64, String)> {
        events.iter().map(|(t, e)| (*t, e.to_string())).collect()
    }

    const TWO_BRANCHES: &str = r#"
plan two-branches {
    stack shop
    on-failure rollback
    gate web-ok { swarm shop_web }
    gate api-ok {
        http "http://shop_api:8080/health"
        interval "5s"
        count 3
    }
    rolling web {
        service shop_web
        image "app:v2"
        delay "1s"
        monitor "2s"
        gates web-ok
    }
    run warm-cache after=web {
        command "cache" "warm"
        undo "cache" "drop"
    }
    rolling api {
        service shop_api
        image "api:v2"
        monitor "2s"
        gates api-ok
    }
    check final {
        after warm-cache api
        gates web-ok api-ok
    }
    pause soak "30s" after=final
}
"#;

    /// rolling, run, check and pause steps on two branches, entirely in virtual time.
    #[tokio::test(start_paused = true)]
    async fn a_two_branch_plan_runs_in_virtual_time_with_the_expected_story() {
        let real = std::time::Instant::now();
        let sim = Simulation::new();
        sim.cluster.add_service(spec("shop_web", "app:v1", 3, true));
        sim.cluster.add_service(spec("shop_api", "api:v1", 2, false));
        sim.commands.script("cache warm", Script::ok(Duration::from_secs(3)));
        let run = run_on(sim, 4);

        let report = run.plan(TWO_BRANCHES).await;

        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        // web: three slots of 2 s start (1 s + the first 1 s health check) and 1 s delay, each
        // monitored while the next goes on; done one monitor window (2 s) after its third task is
        // up (8 s), gate at once: 10 s. api: two slots of 1 s start, judged batch by batch:
        // the first up at 1 s, its gate measures at 1, 6 and 11 s; the second up at 2 s, the
        // whole release measured at 2, 7 and 12 s (the update converged at 4 s). warm-cache
        // 10 → 13 s; final's api-ok gate 13 → 23 s; soak 30 s.
        // Swarm's updater starts 20 ms after each write, which the 100 ms poll sees 0.1 s later.
        assert_eq!(
            run.story(),
            at(&[
                (0.0, "start web"),
                (0.0, "start api"),
                (10.1, "succeeded web"),
                (10.1, "start warm-cache"),
                (12.1, "succeeded api"),
                (13.1, "succeeded warm-cache"),
                (13.1, "start final"),
                (23.1, "succeeded final"),
                (23.1, "start soak"),
                (53.1, "succeeded soak"),
                (53.1, "run succeeded"),
            ])
        );
        assert_eq!(run.sim.commands.ran(), ["cache warm"]);
        assert_eq!(
            report.left.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            ["warm-cache", "api", "web"],
            "newest record first"
        );
        assert!(real.elapsed() < Duration::from_secs(1), "took {:?} of real time", real.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_in_one_branch_stops_the_other_at_once_and_undoes_both_at_once() {
        let sim = Simulation::new();
        let (web, api) = (spec("shop_web", "app:v1", 3, true), spec("shop_api", "api:v1", 2, false));
        sim.cluster.add_service(web.clone());
        sim.cluster.add_service(api.clone());
        sim.cluster.behave("api:v2", Behavior::Crash(3));
        let run = run_on(sim, 4);

        let report = run.plan(TWO_BRANCHES).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let story = run.story();
        assert_eq!(
            story[..5],
            at(&[
                (0.0, "start web"),
                (0.0, "start api"),
                (1.1, "failed api"),
                (1.1, "cancelled web"),
                (1.1, "rollback"),
            ])[..],
            "web stops the moment api fails: {story:?}"
        );
        // Two independent branches: both undos start at the rollback, so web (the quicker) is
        // back first, and the rollback takes as long as api's undo alone.
        assert_eq!(
            story[5..],
            at(&[(3.2, "undo succeeded web"), (7.1, "undo succeeded api"), (7.1, "run rolled-back")])[..],
            "{story:?}"
        );
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), web);
        assert_eq!(run.sim.cluster.spec("shop_api").unwrap(), api);
        assert_eq!(report.left, Vec::new());
    }

    #[test]
    fn one_walk_of_the_graph_finds_the_steps_that_run_after_as_the_walk_per_pair_does() {
        let (plan, graph) = Simulation::plan(TWO_BRANCHES);
        for a in 0..plan.steps.len() {
            let after = graph.runs_after(a);
            for (b, later) in after.iter().enumerate() {
                assert_eq!(
                    *later,
                    graph.runs_before(a, b),
                    "{} before {}",
                    plan.steps[a].name.value,
                    plan.steps[b].name.value
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_undo_of_a_step_waits_for_the_steps_after_it_and_other_branches_undo_beside() {
        let sim = Simulation::new();
        sim.commands.script("boom do", Script::fails(Duration::from_secs(1), 1, "no"));
        sim.commands.script("a2 undo", Script::ok(Duration::from_secs(3)));
        sim.commands.script("a1 undo", Script::ok(Duration::from_secs(1)));
        sim.commands.script("b undo", Script::ok(Duration::from_secs(2)));
        let run = run_on(sim, 4);
        let step = |name: &str, after: &str| {
            format!(
                "    run {name}{after} {{\n        command \"{name}\" \"do\"\n        undo \"{name}\" \"undo\"\n    }}\n"
            )
        };
        let text = format!(
            "plan p {{\n    stack shop\n    on-failure rollback\n{}{}{}{}}}\n",
            step("a1", ""),
            step("a2", " after=a1"),
            step("b", ""),
            step("boom", "").replace("    run boom {", "    run boom {\n        after a2 b"),
        );

        let report = run.plan(&text).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack, "{report:?}");
        let story = run.story();
        let from: Vec<(f64, String)> = story.iter().skip_while(|(_, e)| e != "rollback").cloned().collect();
        // b (its own branch) beside a2; a1 only once a2, which ran after it, is undone.
        assert_eq!(
            from,
            at(&[
                (1.0, "rollback"),
                // boom records its undo before its command runs, as every step does.
                (1.0, "undo succeeded boom"),
                (3.0, "undo succeeded b"),
                (4.0, "undo succeeded a2"),
                (5.0, "undo succeeded a1"),
                (5.0, "run rolled-back"),
            ]),
            "{story:?}"
        );
        let undos: Vec<String> = run.sim.commands.ran().into_iter().filter(|c| c.ends_with("undo")).collect();
        assert_eq!(undos.last().map(String::as_str), Some("a1 undo"), "a1's undo starts last: {undos:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn migrations_retry_lock_timeouts_and_one_without_down_stops_the_rollback() {
        let dir = std::env::temp_dir().join(format!("planrun-exec-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.sql"), "CREATE TABLE a (id int);\nALTER TABLE t ADD x int;\n").unwrap();
        std::fs::write(dir.join("a_down.sql"), "DROP TABLE a;\n").unwrap();
        std::fs::write(dir.join("b.sql"), "ALTER TABLE t ADD y int;\nSELECT broken;\n").unwrap();
        let sim = Simulation::new();
        sim.database.statement_time(Duration::from_millis(100));
        sim.database.fail("ADD x", crate::database::LOCK_NOT_AVAILABLE, 2);
        sim.database.fail("SELECT broken", "42703", usize::MAX);
        let run = run_on(sim, 4);
        let text = format!(
            "plan p {{\n    stack shop\n    backup db {{\n        to \"{0}\"\n    }}\n    \
             migrate a {{\n        phase expand\n        file \"a.sql\"\n        down \"a_down.sql\"\n    }}\n    \
             migrate b after=a {{\n        phase expand\n        file \"b.sql\"\n        transactional #false\n    }}\n}}\n",
            dir.join("backups").display()
        );
        let (plan, graph) = Simulation::plan_with_files(&text, &dir);
        let report = run.executor.run(&plan, &graph, &Arc::new(dir.clone())).await;

        assert_eq!(report.outcome, RunOutcome::RollbackFailed, "{report:?}");
        let story = run.story();
        // a: two lock timeouts, retried after 0.5 s and 1 s; each of the three tries runs its
        // 2 statements of 0.1 s in one transaction (the failing ones fail at the second).
        assert!(story.contains(&(2.1, "succeeded a".to_string())), "{story:?}");
        let undone: Vec<&str> = story.iter().filter(|(_, e)| e.starts_with("undo")).map(|(_, e)| e.as_str()).collect();
        assert_eq!(undone, ["undo failed b"], "b has no down: the rollback stops there and a stays: {story:?}");
        assert_eq!(report.left.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        let applied = run.sim.database.applied_statements();
        assert_eq!(applied, ["CREATE TABLE a (id int)", "ALTER TABLE t ADD x int", "ALTER TABLE t ADD y int"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_steps_run_at_once_than_the_parallelism() {
        let run = run_on(Simulation::new(), 2);
        let report = run
            .plan("plan p {\n    stack shop\n    pause a \"10s\"\n    pause b \"10s\"\n    pause c \"10s\"\n    pause d \"10s\"\n}\n")
            .await;
        assert_eq!(report.outcome, RunOutcome::Succeeded);
        assert_eq!(
            run.story(),
            at(&[
                (0.0, "start a"),
                (0.0, "start b"),
                (10.0, "succeeded a"),
                (10.0, "start c"),
                (10.0, "succeeded b"),
                (10.0, "start d"),
                (20.0, "succeeded c"),
                (20.0, "succeeded d"),
                (20.0, "run succeeded"),
            ])
        );
    }

    const COMMANDS: &str = r#"
plan p {
    stack shop
    run first {
        command "first" "do"
        undo "first" "undo"
    }
    run second after=first {
        command "second" "do"
        undo "second" "undo"
    }
}
"#;

    #[tokio::test(start_paused = true)]
    async fn ctrl_c_stops_the_running_step_at_once_and_undoes_everything_recorded() {
        let sim = Simulation::new();
        sim.commands.script("first do", Script::ok(Duration::from_secs(5)));
        sim.commands.script("second do", Script::ok(Duration::from_secs(600)));
        let run = run_on(sim, 4);
        let first = run.executor.interrupts.first.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(8)).await;
            first.cancel();
        });

        let report = run.plan(COMMANDS).await;

        assert_eq!(report.outcome, RunOutcome::RolledBack);
        assert_eq!(report.reason.as_deref(), Some("interrupted (Ctrl-C or SIGTERM)"));
        assert_eq!(
            run.story(),
            at(&[
                (0.0, "start first"),
                (5.0, "succeeded first"),
                (5.0, "start second"),
                (8.0, "interrupted"),
                (8.0, "cancelled second"),
                (8.0, "rollback"),
                (8.0, "undo succeeded second"),
                (8.0, "undo succeeded first"),
                (8.0, "run rolled-back"),
            ])
        );
        assert_eq!(run.sim.commands.ran(), ["first do", "second do", "second undo", "first undo"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_interrupt_stops_the_rollback_and_says_what_is_left() {
        let sim = Simulation::new();
        sim.commands.script("second do", Script::fails(Duration::from_secs(1), 2, "boom"));
        sim.commands.script("second undo", Script::ok(Duration::from_secs(20)));
        let run = run_on(sim, 4);
        let interrupts = run.executor.interrupts.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            interrupts.first.cancel();
            tokio::time::sleep(Duration::from_secs(1)).await;
            interrupts.second.cancel();
        });

        let report = run.plan(COMMANDS).await;

        assert_eq!(report.outcome, RunOutcome::Stopped, "{report:?}");
        let left: Vec<&str> = report.left.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(left, ["second", "first"], "the undo under way and the one after it are left");
        assert_eq!(run.sim.commands.ran(), ["first do", "second do", "second undo"]);
        let story = run.story();
        assert_eq!(story.last(), Some(&(6.0, "run stopped".to_string())), "{story:?}");
        assert!(story.contains(&(6.0, "interrupted again".to_string())), "{story:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn on_failure_pause_undoes_nothing_and_lets_the_other_branch_finish() {
        let sim = Simulation::new();
        sim.commands.script("slow do", Script::ok(Duration::from_secs(10)));
        sim.commands.script("bad do", Script::fails(Duration::from_secs(2), 1, "no"));
        let run = run_on(sim, 4);
        let report = run
            .plan(
                "plan p {\n    stack shop\n    on-failure pause\n    run slow { command \"slow\" \"do\"; undo \"slow\" \"undo\" }\n    \
                 run bad { command \"bad\" \"do\" }\n    pause later \"5s\" { after slow bad; }\n}\n",
            )
            .await;
        assert_eq!(report.outcome, RunOutcome::Paused);
        assert_eq!(report.reason.as_deref(), Some("step `bad` failed: `bad do` exited with 1: stderr: no"));
        assert_eq!(
            run.story(),
            at(&[
                (0.0, "start slow"),
                (0.0, "start bad"),
                (2.0, "failed bad"),
                (10.0, "succeeded slow"),
                (10.0, "run paused"),
            ])
        );
        assert_eq!(run.sim.commands.ran(), ["slow do", "bad do"], "nothing undone");
        assert_eq!(report.left.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_that_fails_later_in_its_window_fails_the_step_and_rolls_back() {
        let sim = Simulation::new();
        let web = spec("shop_web", "app:v1", 2, false);
        sim.cluster.add_service(web.clone());
        sim.probe.script("errors", &[Outcome::Pass, Outcome::Pass, Outcome::Fail]);
        let run = run_on(sim, 4);
        let report = run
            .plan(
                "plan p {\n    stack shop\n    gate errors {\n        http \"http://shop_web/health\"\n        interval \"10s\"\n        \
                 count 5\n    }\n    rolling web {\n        service shop_web\n        image \"app:v2\"\n        monitor \"1s\"\n        \
                 gates errors\n    }\n}\n",
            )
            .await;
        assert_eq!(report.outcome, RunOutcome::RolledBack);
        assert!(report.reason.as_deref().unwrap().contains("gate `errors` failed: 1 failed (limit 0)"), "{report:?}");
        assert_eq!(run.sim.cluster.spec("shop_web").unwrap(), web);
    }
}
