//! What runs inside the watch service (`planrun watch STACK --run RUN`): read the watch
//! from the run state, judge its gates round after round (the same code as `apply`, waiting on
//! tokio's clock) until the window ends or a gate does not pass, then undo the run as `planrun
//! rollback` does (or only record the regression), record how the watch ended, and remove the
//! service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use plans::model::OnRegression;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::events::{Events, RunOutcome};
use crate::executor::Interrupts;
use crate::gates::{self, LiveProbe, Probe, Verdict};
use crate::run_state::{self, Entry, RunState, WatchEnd};
use crate::session::{self, RollbackRequest, Seams};

/// The least time between the starts of two rounds (gates of one quick measurement would
/// otherwise ask as fast as they answer).
const ROUND_GAP: Duration = Duration::from_secs(1);

/// How a watch ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// How.
    pub end: WatchEnd,
    /// Why, when a gate did not pass or undoing failed.
    pub reason: Option<String>,
}

/// Watches run `run_id` of `stack` as its `Entry::Watching` says, records the end and removes
/// the watch service. An error is a watch that could not run at all (its entry is missing or
/// unreadable), which the service's restart policy tries again.
pub async fn watch(
    cluster: Arc<dyn Cluster>,
    stack: &str,
    run_id: &str,
    events: Events,
    say: &(dyn Fn(String) + Send + Sync),
) -> Result<Ended, String> {
    let on = cluster.clone();
    let probe = move |prometheus: Option<String>| {
        Arc::new(LiveProbe::new(on.clone(), prometheus, Arc::new(crate::commands::LocalCommands))) as Arc<dyn Probe>
    };
    watch_with(cluster, stack, run_id, events, say, &probe).await
}

/// [`watch`], measuring with the probe `probe` makes for the environment's Prometheus.
pub async fn watch_with(
    cluster: Arc<dyn Cluster>,
    stack: &str,
    run_id: &str,
    events: Events,
    say: &(dyn Fn(String) + Send + Sync),
    probe: &(dyn Fn(Option<String>) -> Arc<dyn Probe> + Send + Sync),
) -> Result<Ended, String> {
    let run = run_state::run(cluster.as_ref(), stack, run_id)
        .await
        .map_err(|e| format!("cannot read run {run_id} of {stack}: {e}"))?
        .ok_or_else(|| format!("the swarm keeps no run {run_id} of stack {stack}"))?;
    let watching = run.entries.iter().rev().find_map(|e| match e {
        Entry::Watching { until, gates, on_regression, prometheus } => {
            Some((until.clone(), gates.0.clone(), *on_regression, prometheus.clone()))
        }
        _ => None,
    });
    let Some((until, gates, on_regression, prometheus)) = watching else {
        return Err(format!("run {run_id} of {stack} records no watch"));
    };
    // A task started again after the watch recorded its end (it died while removing itself).
    if let Some(ended) = run.entries.iter().find_map(|e| match e {
        Entry::Watched { end, reason, .. } => Some(Ended { end: *end, reason: reason.clone() }),
        _ => None,
    }) {
        remove_self(cluster.as_ref(), stack, say).await;
        return Ok(ended);
    }
    let until_at = humantime::parse_rfc3339_weak(&until).map_err(|e| format!("the watch's end {until:?}: {e}"))?;
    let left = until_at.duration_since(SystemTime::now()).unwrap_or_default();
    let deadline = Instant::now() + left;
    say(format!("watching run {run_id} of {stack} until {until}: gates {}", names(&gates)));

    let probe = probe(prometheus);
    let declared: Vec<&plans::model::Gate> = gates.iter().collect();
    let mut rounds = 0u64;
    let regression = loop {
        let started = Instant::now();
        if started >= deadline {
            break None;
        }
        let judged = tokio::time::timeout_at(
            deadline,
            gates::judge_until_failure(&declared, "watch", Path::new("/"), probe.as_ref(), &events),
        )
        .await;
        // The window ended during the round: nothing failed within it.
        let Ok(reports) = judged else { break None };
        rounds += 1;
        let bad: Vec<&gates::GateReport> = reports.iter().filter(|r| r.verdict != Verdict::Passed).collect();
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let summary = reports.iter().map(|r| format!("{}: {} ({})", r.gate, r.verdict, r.summary)).collect::<Vec<_>>();
        let last = super::verdict::Last {
            verdict: bad.first().map_or(Verdict::Passed, |r| r.verdict).to_string(),
            at: at.clone(),
            summary: summary.join("; "),
            rounds,
        };
        if let Err(e) = super::verdict::write(cluster.as_ref(), stack, &last).await {
            say(format!("warning: cannot record the watch's last verdict: {e}"));
        }
        if !bad.is_empty() {
            let reason = bad.iter().map(|r| format!("gate `{}` {}: {}", r.gate, r.verdict, r.summary)).collect();
            break Some((reason, at));
        }
        say(format!("round {rounds}: every gate passed"));
        tokio::time::sleep_until((started + ROUND_GAP).min(deadline)).await;
    };
    // A gate measured from a network keeps its probe container from round to round: end it.
    crate::services::job::settle(std::time::Duration::from_secs(5)).await;

    let (ended, regression_at) = match regression {
        None => {
            say("the window ended: every gate kept passing".to_string());
            (Ended { end: WatchEnd::Passed, reason: None }, None)
        }
        Some((reasons, at)) => {
            let reasons: Vec<String> = reasons;
            let reason = reasons.join("; ");
            say(format!("regression at {at}: {reason}"));
            let ended = match on_regression {
                OnRegression::Notify => Ended { end: WatchEnd::Regressed, reason: Some(reason) },
                OnRegression::Rollback => undo(cluster.clone(), stack, run_id, reason, events.clone()).await,
            };
            (ended, Some(at))
        }
    };
    // Read again: the rollback added entries to the run.
    let next = match run_state::run(cluster.as_ref(), stack, run_id).await {
        Ok(Some(run)) => run.next_seq,
        _ => run.next_seq,
    };
    let entry = Entry::Watched {
        end: ended.end,
        reason: ended.reason.clone(),
        regression_at,
        at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    };
    if let Err(e) = RunState::new(cluster.clone(), stack, run_id, next).write(&entry).await {
        say(format!("warning: cannot record in the swarm how the watch ended: {e}"));
    }
    say(format!("watch ended: {}", ended.end.as_str()));
    remove_self(cluster.as_ref(), stack, say).await;
    Ok(ended)
}

/// Undoes the run as `planrun rollback STACK --run RUN` does.
async fn undo(cluster: Arc<dyn Cluster>, stack: &str, run_id: &str, reason: String, events: Events) -> Ended {
    let request = RollbackRequest {
        stack: stack.to_owned(),
        journal: None,
        run: Some(run_id.to_owned()),
        // No journal of the run is on this node; none is looked for or written here.
        state_dir: PathBuf::from("/tmp/planrun"),
    };
    let seams = Seams::live(cluster, None, None, None);
    match session::rollback(request, seams, events, Interrupts::default()).await {
        Ok(done) if done.outcome == RunOutcome::RolledBack => Ended { end: WatchEnd::RolledBack, reason: Some(reason) },
        Ok(done) => {
            let why = done.reason.unwrap_or_else(|| format!("the rollback ended {:?}", done.outcome));
            Ended { end: WatchEnd::RollbackFailed, reason: Some(format!("{reason}; undoing: {why}")) }
        }
        Err(refused) => {
            Ended { end: WatchEnd::RollbackFailed, reason: Some(format!("{reason}; undoing: {}", refused.message)) }
        }
    }
}

/// Removes the watch service (this process's own container goes with it) and its verdict.
async fn remove_self(cluster: &dyn Cluster, stack: &str, say: &(dyn Fn(String) + Send + Sync)) {
    if let Err(e) = super::stop(cluster, stack).await {
        say(format!("warning: cannot remove the watch service: {e}"));
    }
}

fn names(gates: &[plans::model::Gate]) -> String {
    gates.iter().map(|g| g.name.value.as_str()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bollard::models::{ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec};
    use plans::gates::Outcome;

    use super::*;
    use crate::context::RunContext;
    use crate::events::Memory;
    use crate::executor::Executor;
    use crate::simulation::Simulation;
    use crate::undo::Recorded;

    const PLAN: &str = r#"
plan shop {
    stack shop
    gate api-ok {
        http "http://shop_api:8080/health"
        interval "5s"
        count 3
    }
    rolling api {
        service shop_api
        image "api:v2"
        monitor "2s"
        gates api-ok
    }
    watch "10m" gates=api-ok
}
"#;

    fn spec(image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some("shop_api".into()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The release of api:v2 run to success with its records in the fake swarm's run state,
    /// then the watch's entry as `watch::start` writes it (without the image and the service).
    async fn released(sim: &Simulation, on_regression: OnRegression) -> Arc<dyn Cluster> {
        let cluster = Arc::new(sim.cluster.clone()) as Arc<dyn Cluster>;
        cluster.create_service(spec("api:v1")).await.unwrap();
        let state = Arc::new(RunState::new(cluster.clone(), "shop", "r-1", 0));
        let ctx = Arc::new(RunContext {
            state: Some(state),
            recorded: Arc::new(Recorded::default()),
            ..Arc::try_unwrap(sim.context("shop", "r-1", Vec::new())).ok().unwrap()
        });
        let (plan, graph) = Simulation::plan(PLAN);
        let executor = Executor { ctx, parallelism: 1, interrupts: Interrupts::default() };
        let report = executor.run(&plan, &graph, &Arc::new(".".into())).await;
        assert_eq!(report.outcome, RunOutcome::Succeeded, "{report:?}");
        let next = run_state::run(cluster.as_ref(), "shop", "r-1").await.unwrap().unwrap().next_seq;
        let until = SystemTime::now() + plan.watch.as_ref().unwrap().window.value.to_std();
        let entry = Entry::Watching {
            until: humantime::format_rfc3339_seconds(until).to_string(),
            gates: run_state::Gates(plan.gates.clone()),
            on_regression,
            prometheus: None,
        };
        RunState::new(cluster.clone(), "shop", "r-1", next).write(&entry).await.unwrap();
        cluster
    }

    async fn watched(sim: &Simulation, cluster: Arc<dyn Cluster>) -> (Ended, Vec<String>) {
        let said = Arc::new(Mutex::new(Vec::new()));
        let lines = said.clone();
        let say = move |line: String| lines.lock().unwrap().push(line);
        let probe = sim.probe.clone();
        let make = move |_: Option<String>| Arc::new(probe.clone()) as Arc<dyn Probe>;
        let events = Events::new(vec![Box::new(Memory::default())]);
        let ended = watch_with(cluster, "shop", "r-1", events, &say, &make).await.unwrap();
        let said = said.lock().unwrap().clone();
        (ended, said)
    }

    async fn image(cluster: &dyn Cluster) -> String {
        let service = cluster.service("shop_api").await.unwrap();
        crate::services::spec::image(&service.spec.unwrap()).to_owned()
    }

    async fn entries(cluster: &dyn Cluster) -> Vec<Entry> {
        run_state::run(cluster, "shop", "r-1").await.unwrap().unwrap().entries
    }

    #[tokio::test(start_paused = true)]
    async fn a_gate_failing_during_the_window_undoes_the_release_and_records_both_ends() {
        let sim = Simulation::new();
        let cluster = released(&sim, OnRegression::Rollback).await;
        assert_eq!(image(cluster.as_ref()).await, "api:v2");
        // Two rounds of three passes, then a failure: at the first measurement of the third round.
        sim.probe.script("api-ok", &[Outcome::Pass; 6].iter().copied().chain([Outcome::Fail]).collect::<Vec<_>>());
        let started = Instant::now();
        let (ended, said) = watched(&sim, cluster.clone()).await;
        assert_eq!(ended.end, WatchEnd::RolledBack, "{said:#?}");
        assert!(ended.reason.as_deref().unwrap_or("").contains("gate `api-ok` failed"), "{ended:?}");
        // Each round: measurements at 0, 5 and 10 s, the next round 1 s later at the earliest.
        assert!(started.elapsed() < Duration::from_secs(40), "caught in the third round: {:?}", started.elapsed());
        assert_eq!(image(cluster.as_ref()).await, "api:v1", "undone as `planrun rollback` does");
        let entries = entries(cluster.as_ref()).await;
        assert!(
            entries.iter().any(|e| matches!(e, Entry::Finished { outcome: RunOutcome::RolledBack, .. })),
            "{entries:#?}"
        );
        let watched = entries.iter().find_map(|e| match e {
            Entry::Watched { end, regression_at, .. } => Some((*end, regression_at.is_some())),
            _ => None,
        });
        assert_eq!(watched, Some((WatchEnd::RolledBack, true)));
        assert!(said.iter().any(|l| l.starts_with("round 2: every gate passed")), "{said:#?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gates_that_keep_passing_end_the_watch_with_the_window_and_change_nothing() {
        let sim = Simulation::new();
        let cluster = released(&sim, OnRegression::Rollback).await;
        sim.probe.script("api-ok", &[Outcome::Pass]);
        let started = Instant::now();
        let (ended, said) = watched(&sim, cluster.clone()).await;
        assert_eq!(ended, Ended { end: WatchEnd::Passed, reason: None });
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(590) && took <= Duration::from_secs(601), "the 10 m window: {took:?}");
        assert_eq!(image(cluster.as_ref()).await, "api:v2");
        assert!(said.iter().any(|l| l == "the window ended: every gate kept passing"), "{said:#?}");
        assert!(
            entries(cluster.as_ref()).await.iter().any(|e| matches!(e, Entry::Watched { end: WatchEnd::Passed, .. }))
        );
        assert!(
            super::super::verdict::read(cluster.as_ref(), "shop").await.unwrap().is_none(),
            "its verdict is removed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn on_regression_notify_records_the_regression_and_changes_nothing() {
        let sim = Simulation::new();
        let cluster = released(&sim, OnRegression::Notify).await;
        sim.probe.script("api-ok", &[Outcome::Fail]);
        let (ended, _) = watched(&sim, cluster.clone()).await;
        assert_eq!(ended.end, WatchEnd::Regressed);
        assert_eq!(image(cluster.as_ref()).await, "api:v2", "nothing undone");
        assert!(
            !entries(cluster.as_ref())
                .await
                .iter()
                .any(|e| matches!(e, Entry::Finished { outcome: RunOutcome::RolledBack, .. }))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_without_a_watch_entry_is_an_error_the_restart_policy_retries() {
        let sim = Simulation::new();
        let cluster = Arc::new(sim.cluster.clone()) as Arc<dyn Cluster>;
        RunState::new(cluster.clone(), "shop", "r-1", 0)
            .write(&Entry::Undone { step: "x".into(), by_run: "r-1".into() })
            .await
            .unwrap();
        let make = |_: Option<String>| Arc::new(crate::gates::ScriptedProbe::new()) as Arc<dyn Probe>;
        let events = Events::new(Vec::new());
        let e = watch_with(cluster, "shop", "r-1", events, &|_| {}, &make).await.unwrap_err();
        assert_eq!(e, "run r-1 of shop records no watch");
    }
}
