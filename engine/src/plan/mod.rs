//! `planrun plan`: what applying a plan would do, for review. It reads what is live (read-only
//! calls only, `live.rs`), then runs the plan with the executor and steps that deploy, against
//! the in-memory swarm seeded with that state, on a paused clock (`simulate.rs`): the changes
//! per step (`diff.rs`), the order, the undo, the timeline best and worst case and failure
//! drills all come from that run. `report.rs` is the result; `saved.rs` the `-o` file that
//! `apply` takes.

pub mod calibrate;
pub mod diff;
pub mod live;
pub mod report;
pub mod saved;
pub mod simulate;
mod worst;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bollard::models::{ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec};
use plans::PlanGraph;
use plans::model::Plan;
use plans::steps::StepKind;

use crate::clock;
use crate::cluster::ClusterError;
use crate::events::{Event, Record};
use live::LiveState;
use report::{
    CanaryPlan, CanaryStage, Colour, Drill, FinalState, Irreversible, LiveView, Moment, OnFailure, PlanReport,
    ServiceChange, StepPlan, Summary, SwitchPlan, Timeline, UNKNOWN, UndoEntry,
};
use simulate::{Failure, Knobs, Simulated};

/// What to plan.
pub struct Request<'a> {
    /// The checked plan.
    pub plan: &'a Plan,
    /// Its graph.
    pub graph: &'a PlanGraph,
    /// The plan file, as named in messages.
    pub file: String,
    /// Its directory (SQL files are beside it).
    pub plan_dir: &'a Path,
    /// What is live, or why it was not read (`--offline`, no daemon).
    pub live: Result<LiveState, Offline>,
    /// How long what the swarm cannot tell takes.
    pub knobs: Knobs,
    /// Where the knobs came from, in words.
    pub knob_sources: Vec<String>,
    /// Replicas of a service when nothing live says (offline).
    pub offline_replicas: u64,
    /// `--fail`: the step or gate to fail in a drill.
    pub fail: Option<Failure>,
    /// The environment of planrun.toml it was read with.
    pub environment: Option<String>,
}

/// Why `planrun plan` did not read what is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offline {
    /// `--offline` said not to.
    Asked,
    /// No Docker daemon answers, or it is not a swarm manager.
    Docker(ClusterError),
    /// The swarm answered, then a read failed.
    Swarm(ClusterError),
}

impl std::fmt::Display for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Offline::Asked => f.write_str("--offline"),
            Offline::Docker(e) => write!(f, "Docker cannot be reached: {e}"),
            Offline::Swarm(e) => write!(f, "cannot read the swarm: {e}"),
        }
    }
}

impl std::error::Error for Offline {}

/// Plans of more steps than this are not drilled step by step (each drill is a whole run):
/// their steps' `on_failure` says how to drill one.
pub const DRILL_LIMIT: usize = 64;

/// The plan, simulated and compared with what is live.
pub fn build(request: &Request) -> PlanReport {
    let plan = request.plan;
    let offline = request.live.is_err();
    let live = match &request.live {
        Ok(state) => state.clone(),
        Err(_) => offline_state(plan, request.offline_replicas),
    };
    let run = |failure: &Failure| simulate::run(plan, request.graph, request.plan_dir, &live, &request.knobs, failure);
    let (best, beside) = best_and_worst(plan, request, &live);
    // Every step's own drill: what `--fail STEP` shows is what its row of the rollback table
    // says, because it is the same run.
    let drillable: Vec<(String, Result<Failure, String>)> = plan
        .steps
        .iter()
        .map(|s| {
            let name = s.name.value.clone();
            let failure = if plan.steps.len() > DRILL_LIMIT {
                Err(format!(
                    "not drilled: the plan has more than {DRILL_LIMIT} steps; `planrun plan --fail {name}` drills it"
                ))
            } else {
                simulate::can_fail(plan, &name).map_err(|e| match e {
                    simulate::DrillError::CannotFail { why, .. } => why.to_owned(),
                    simulate::DrillError::Unknown { .. } => e.to_string(),
                })
            };
            (name, failure)
        })
        .collect();
    let worst_failure = worst_case(plan, &best);
    // The worst case that ran beside the best is that failure's run when it failed that
    // judgement; otherwise it runs now with the drills.
    let beside = beside.filter(
        |(failed, _)| matches!(&worst_failure, Some(Failure::GateAt(gate, k)) if failed == &(gate.clone(), *k)),
    );
    let mut failures: Vec<Failure> =
        drillable.iter().filter_map(|(_, f)| f.clone().ok()).map(|f| simulate::pinned(plan, &best, f)).collect();
    failures.extend(worst_failure.clone().filter(|_| beside.is_none()));
    let mut runs = run_all(&failures, &run).into_iter();
    let step_drills: BTreeMap<String, Result<Simulated, String>> = drillable
        .into_iter()
        .map(|(name, failure)| (name, failure.map(|_| runs.next().expect("a run per failure"))))
        .collect();
    let gate_worst = match beside {
        Some((_, sim)) => Some(sim),
        None => worst_failure.as_ref().map(|_| runs.next().expect("a run per failure")),
    };
    let drill = request.fail.clone().map(|f| {
        let f = simulate::pinned(plan, &best, f);
        drill(plan, request.graph, &live, &run(&f), &f)
    });
    let networks: BTreeMap<String, String> = live.networks.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
    // A step refused for what it would remove changes nothing; what it would change, were it
    // allowed, comes from a run that allows it.
    // Each such run may reach a later step refused in turn: it is allowed too, and so on.
    let mut refused = refusals(&best);
    let mut allowed: Option<Simulated> = None;
    while !refused.is_empty() {
        let mut allowing = plan.clone();
        allow_removals(&mut allowing, &refused);
        let run = simulate::run(&allowing, request.graph, request.plan_dir, &live, &request.knobs, &Failure::Nothing);
        let more: BTreeMap<String, String> =
            refusals(&run).into_iter().filter(|(step, _)| !refused.contains_key(step)).collect();
        allowed = Some(run);
        if more.is_empty() {
            break;
        }
        refused.extend(more);
    }
    let (mut steps, rollback) = step_plans(plan, request.graph, &best, &networks, offline);
    if let Some(allowed) = &allowed {
        // Every step's changes as they would be once allowed (those after a refused one never
        // started in the refused run).
        let (would, _) = step_plans(plan, request.graph, allowed, &networks, offline);
        for s in &mut steps {
            s.refused = refused.get(&s.step).cloned();
            if let Some(w) = would.iter().find(|w| w.step == s.step) {
                s.changes = w.changes.clone();
                s.unchanged = w.unchanged;
            }
        }
    }
    for s in &mut steps {
        s.on_failure = match step_drills.get(&s.step) {
            Some(Ok(sim)) => on_failure(plan, request.graph, sim, &s.step),
            Some(Err(why)) => OnFailure {
                outcome: None,
                stopped: Vec::new(),
                undone: Vec::new(),
                undone_turns: Vec::new(),
                reason: None,
                not_drilled: Some(why.clone()),
            },
            None => s.on_failure.clone(),
        };
        s.switch = switch_plan(plan, &s.step, &request.live);
    }
    let summary = summarize(plan, &steps);
    let order = request
        .graph
        .layers()
        .into_iter()
        .map(|layer| layer.into_iter().map(|i| plan.steps[i].name.value.clone()).collect())
        .collect();
    // The worst case is the longest of the runs where something fails: the last gate judged
    // failing late, and each step's drill. None is shorter than all going well: when every
    // failure ends the run sooner, the worst case is the best.
    let mut scenarios: Vec<(String, &Simulated)> = Vec::new();
    if let (Some(f), Some(sim)) = (&worst_failure, &gate_worst) {
        scenarios.push((describe_failure(f), sim));
    }
    for (name, sim) in &step_drills {
        if let Ok(sim) = sim {
            scenarios.push((format!("step `{name}`"), sim));
        }
    }
    // The longest; among equals, the gate's (listed first), then the first step in name order.
    let worst = scenarios
        .iter()
        .enumerate()
        .max_by_key(|(i, (_, sim))| (sim.total_ms, std::cmp::Reverse(*i)))
        .map(|(_, w)| w)
        .filter(|(_, sim)| sim.total_ms >= best.total_ms);
    let timeline = Timeline {
        best_outcome: best.report.outcome.to_string(),
        best_failure: best.report.reason.clone(),
        best_ms: best.total_ms,
        worst_ms: worst.map_or(best.total_ms, |(_, w)| w.total_ms),
        worst_failing: worst.map(|(what, _)| what.clone()),
        worst_rollback_ms: worst.map_or(0, |(_, w)| rollback_ms(w)),
        worst_outcome: worst.map_or(&best, |(_, w)| w).report.outcome.to_string(),
        worst_reason: worst
            .filter(|(_, w)| w.report.outcome != crate::events::RunOutcome::RolledBack)
            .and_then(|(_, w)| w.report.reason.clone()),
    };
    let mut assumptions = request.knob_sources.clone();
    let parallelism = request.knobs.parallelism;
    if request.graph.layers().iter().any(|layer| layer.len() > parallelism) {
        assumptions.push(format!(
            "at most {parallelism} steps at once, as `planrun apply --parallelism {parallelism}` runs them \
             (more can run at once here: plan with the --parallelism you apply with)"
        ));
    }
    if offline {
        assumptions.push(format!(
            "offline: every service is assumed to have {} replicas and no health check; images and settings live now are unknown",
            request.offline_replicas
        ));
        if plan.steps.iter().any(|s| matches!(s.kind, StepKind::BlueGreen(_))) {
            assumptions.push("offline: blue-green steps are simulated with their blue colour live".into());
        }
    } else {
        assumptions.push("task start and health-check timing from the live services' specs".into());
    }
    if plan.steps.iter().any(|s| s.kind.asks_a_person()) {
        assumptions.push(format!("a person answers approvals after {}", clock::seconds(request.knobs.approval)));
    }
    PlanReport {
        format: report::FORMAT.into(),
        plan: plan.name.value.clone(),
        stack: plan.stack.value.clone(),
        file: request.file.clone(),
        environment: request.environment.clone(),
        live: live_view(&request.live),
        steps,
        summary,
        order,
        rollback,
        irreversible: irreversible(plan),
        timeline,
        drill,
        assumptions,
        notifications: plan.notify.iter().map(crate::notify::describe).collect(),
        watch: plan.watch.as_ref().map(|w| describe_watch(&plan.stack.value, w)),
    }
}

/// The plan's watch in words: who judges what, for how long, and what a regression does.
fn describe_watch(stack: &str, watch: &plans::watch::Watch) -> String {
    let gates: Vec<String> = watch.gates.iter().map(|g| format!("`{}`", g.value)).collect();
    let then = match watch.on_regression {
        plans::watch::OnRegression::Rollback => format!("undoes the release (as `planrun rollback {stack}`)"),
        plans::watch::OnRegression::Notify => {
            "records the regression (shown by `planrun status`) and changes nothing".into()
        }
    };
    format!(
        "after a successful apply, the service planrun-watch-{stack} (inside the swarm; apply exits as it starts) \
         judges {} again and again for {}; the first that does not pass {then}. `planrun watch {stack} --stop` ends it",
        gates.join(", "),
        humantime::format_duration(watch.window.value.to_std())
    )
}

/// The worst case run beside the best: the judgement (gate, number) it failed, and the run.
type WorstBeside = ((String, u64), Simulated);

/// The run where all goes well and, on a thread beside it, the worst case where the last
/// judgement it finishes fails (`worst.rs`): with the judgement that failed, when one did.
fn best_and_worst(plan: &Plan, request: &Request, live: &LiveState) -> (Simulated, Option<WorstBeside>) {
    let failing =
        plan.gates.iter().map(|g| (g.name.value.clone(), simulate::failing_late(plan, &g.name.value))).collect();
    let follower = worst::Follower::new(failing);
    let simulate = |failure: &Failure, beside: simulate::Beside| {
        simulate::run_beside(plan, request.graph, request.plan_dir, live, &request.knobs, failure, beside)
    };
    std::thread::scope(|scope| {
        let worst = scope.spawn(|| {
            let beside = simulate::Beside { sink: None, decider: Some(follower.decider()) };
            simulate(&Failure::Nothing, beside)
        });
        let best = {
            // Ended also if the best run panics: the worst case's thread never waits for it.
            let _ended = worst::Ended(follower.clone());
            simulate(&Failure::Nothing, simulate::Beside { sink: Some(follower.clone()), decider: None })
        };
        let worst = worst.join().expect("the worst case's simulation panicked");
        (best, follower.failed().map(|failed| (failed, worst)))
    })
}

/// Runs each failure's simulation, several at once (each is a thread of its own).
fn run_all(failures: &[Failure], run: &(dyn Fn(&Failure) -> Simulated + Sync)) -> Vec<Simulated> {
    let width = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let mut out = Vec::with_capacity(failures.len());
    for chunk in failures.chunks(width) {
        let done: Vec<Simulated> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk.iter().map(|f| scope.spawn(move || run(f))).collect();
            handles.into_iter().map(|h| h.join().expect("a simulation panicked")).collect()
        });
        out.extend(done);
    }
    out
}

/// The undos of a simulation in turns, as the executor orders them: an undo waits for those of
/// the undone steps that depend on it, so its turn is one past the latest of theirs (first
/// turn: no undone step depends on it). Undos of one turn run at once (independent branches);
/// within a turn, in the order they end.
fn undo_turns(plan: &Plan, graph: &PlanGraph, records: &[crate::events::Record]) -> Vec<Vec<String>> {
    let undone: Vec<&String> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepUndone { step, .. } => Some(step),
            _ => None,
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> =
        plan.steps.iter().enumerate().map(|(i, s)| (s.name.value.as_str(), i)).collect();
    let at: Vec<Option<usize>> = undone.iter().map(|step| index.get(step.as_str()).copied()).collect();
    let mut turn: Vec<usize> = vec![0; undone.len()];
    // Dependents run after their dependencies, so they are undone (and end) first: one pass
    // over the end order, latest first, sees every dependent's turn before its dependency's.
    for k in 0..undone.len() {
        let Some(later) = at[k].map(|mine| graph.runs_after(mine)) else { continue };
        let after = (0..k).filter(|&m| at[m].is_some_and(|theirs| later[theirs])).map(|m| turn[m] + 1).max();
        turn[k] = after.unwrap_or(0);
    }
    let mut turns: Vec<Vec<String>> = vec![Vec::new(); turn.iter().max().map_or(0, |t| t + 1)];
    for (k, step) in undone.into_iter().enumerate() {
        turns[turn[k]].push(step.clone());
    }
    turns
}

/// What a step's drill did: the steps it stopped, those it undid, how the run ended.
fn on_failure(plan: &Plan, graph: &PlanGraph, sim: &Simulated, step: &str) -> OnFailure {
    let mut stopped = Vec::new();
    let mut undone = Vec::new();
    for r in &sim.records {
        match &r.event {
            Event::StepFinished { step: s, outcome: crate::events::StepOutcome::Cancelled, .. } if s != step => {
                stopped.push(s.clone())
            }
            Event::StepUndone { step: s, .. } => undone.push(s.clone()),
            _ => {}
        }
    }
    use crate::events::RunOutcome;
    let reason = match sim.report.outcome {
        RunOutcome::Succeeded | RunOutcome::RolledBack => None,
        RunOutcome::Stopped => sim.report.reason.clone(),
        // The undo that stopped the rollback says why, and what a person does.
        RunOutcome::RollbackFailed => sim
            .records
            .iter()
            .find_map(|r| match &r.event {
                Event::StepUndone { step, outcome: crate::events::UndoOutcome::Failed, reason, .. } => {
                    Some(format!("undo of `{step}` failed: {}", reason.as_deref().unwrap_or("")))
                }
                _ => None,
            })
            .or_else(|| sim.report.reason.clone()),
        RunOutcome::Paused => {
            Some("on-failure pause: nothing is undone until a person runs `planrun rollback`".to_owned())
        }
    };
    let undone_turns = undo_turns(plan, graph, &sim.records);
    OnFailure {
        outcome: Some(sim.report.outcome.to_string()),
        stopped,
        undone,
        undone_turns,
        reason,
        not_drilled: None,
    }
}

/// A blue-green step's switch: how, from which colour to which (unknown offline, or when the
/// swarm cannot tell), and how long the old colour is kept.
fn switch_plan(plan: &Plan, step: &str, live: &Result<LiveState, Offline>) -> Option<SwitchPlan> {
    let s = plan.steps.iter().find(|s| s.name.value == step)?;
    let StepKind::BlueGreen(b) = &s.kind else { return None };
    let how = match &b.switch {
        plans::steps::switch::Switch::Alias(a) => format!("alias `{}` on network `{}`", a.alias, a.network),
        plans::steps::switch::Switch::Nginx(n) => format!("nginx router `{}` ({})", n.router, n.target),
        plans::steps::switch::Switch::Caddy(c) => {
            format!("caddy router `{}` ({}, loaded through its admin API, then rolled)", c.router, c.target)
        }
    };
    let from = live.as_ref().ok().and_then(|l| l.colours.get(step)).and_then(|c| c.as_ref().ok()).cloned();
    let to = from.as_ref().map(|f| if *f == b.blue.value { b.green.value.clone() } else { b.blue.value.clone() });
    Some(SwitchPlan { how, from, to, keep_old: b.keep_old.to_string() })
}

/// A canary step's stages.
fn canary_plan(kind: &StepKind) -> Option<CanaryPlan> {
    let StepKind::Canary(c) = kind else { return None };
    let stages = c
        .stages
        .iter()
        .map(|stage| CanaryStage {
            share: match stage.weight {
                plans::steps::canary::Weight::Replicas(n) => {
                    format!("{n} replica{}", if n == 1 { "" } else { "s" })
                }
                plans::steps::canary::Weight::Traffic(p) => p.to_string(),
            },
            pause: stage.pause.as_ref().map(|w| match w {
                plans::steps::pause::Wait::Duration(d) => d.to_string(),
                plans::steps::pause::Wait::Manual => "manual".into(),
            }),
            gates: stage.gates.iter().map(|g| g.value.clone()).collect(),
        })
        .collect();
    let promote = match c.promote {
        plans::steps::canary::Promote::Auto => "auto",
        plans::steps::canary::Promote::Manual => "manual",
    };
    Some(CanaryPlan { canary: crate::steps::canary::canary_name(&c.service.value), stages, promote: promote.into() })
}

/// The steps a rollback cannot undo, with what is left and what to do.
fn irreversible(plan: &Plan) -> Vec<Irreversible> {
    plan.steps
        .iter()
        .filter_map(|s| {
            let why = if let StepKind::Migrate(m) = &s.kind
                && m.down.is_none()
            {
                format!(
                    "{} has no down file: a rollback stops here and leaves it applied; restore needed (`planrun restore`)",
                    m.file.value
                )
            } else if let StepKind::Run(r) = &s.kind
                && r.undo.is_empty()
            {
                let argv: Vec<String> = r.command.iter().map(|a| a.value.clone()).collect();
                format!("runs `{}` with no `undo`: a rollback leaves it done", crate::commands::display(&argv))
            } else {
                return None;
            };
            Some(Irreversible { step: s.name.value.clone(), why })
        })
        .collect()
}

/// A swarm made from the plan alone: each service it names, at `replicas` replicas (a step's
/// own `replicas` where it sets one), running an unknown image.
pub fn offline_state(plan: &Plan, replicas: u64) -> LiveState {
    let mut state = LiveState {
        read_at: String::new(),
        services: BTreeMap::new(),
        missing: Vec::new(),
        networks: Vec::new(),
        configs: Vec::new(),
        secrets: Vec::new(),
        lock: None,
        waiting: None,
        colours: BTreeMap::new(),
        canaries: Vec::new(),
        api_version: None,
    };
    // What a compose step defines is taken not to exist yet: the step creates it.
    let composed: Vec<&String> = plan
        .steps
        .iter()
        .filter_map(|s| if let StepKind::Compose(c) = &s.kind { Some(&c.services) } else { None })
        .flatten()
        .collect();
    for (name, _) in live::named_services(plan) {
        if composed.contains(&&name) {
            continue;
        }
        let own = plan.steps.iter().find_map(|s| s.kind.replicas_of(&name));
        let spec = ServiceSpec {
            name: Some(name.clone()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(own.unwrap_or(replicas) as i64) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(UNKNOWN.into()), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        state.services.insert(
            name.clone(),
            live::LiveService { id: name, version: 0, spec, running: own.unwrap_or(replicas), update: None },
        );
    }
    // Blue-green: offline, blue is taken to be live.
    for step in &plan.steps {
        let StepKind::BlueGreen(b) = &step.kind else { continue };
        match &b.switch {
            plans::steps::switch::Switch::Alias(plans::steps::switch::Alias { network, alias }) => {
                if !state.networks.iter().any(|n| n.name == *network) {
                    state.networks.push(live::LiveNetwork { id: network.clone(), name: network.clone() });
                }
                if let Some(blue) = state.services.get_mut(&b.blue.value) {
                    let template = blue.spec.task_template.get_or_insert_with(Default::default);
                    template.networks.get_or_insert_with(Vec::new).push(bollard::models::NetworkAttachmentConfig {
                        target: Some(network.clone()),
                        aliases: Some(vec![alias.clone()]),
                        ..Default::default()
                    });
                }
            }
            plans::steps::switch::Switch::Nginx(plans::steps::switch::Nginx { router, template, target, .. })
            | plans::steps::switch::Switch::Caddy(plans::steps::switch::Caddy { router, template, target, .. }) => {
                let name = format!("{UNKNOWN} config of {router}");
                state.configs.push(live::LiveConfig {
                    id: name.clone(),
                    name: name.clone(),
                    labels: [(crate::steps::switch::rendered::UPSTREAM.to_owned(), b.blue.value.clone())].into(),
                    data: crate::steps::switch::rendered::render(template, &b.blue.value),
                });
                if let Some(r) = state.services.get_mut(router) {
                    let container = r
                        .spec
                        .task_template
                        .get_or_insert_with(Default::default)
                        .container_spec
                        .get_or_insert_with(Default::default);
                    container.configs.get_or_insert_with(Vec::new).push(
                        bollard::models::TaskSpecContainerSpecConfigs {
                            file: Some(bollard::models::TaskSpecContainerSpecFile1 {
                                name: Some(target.clone()),
                                ..Default::default()
                            }),
                            config_id: Some(name.clone()),
                            config_name: Some(name),
                            ..Default::default()
                        },
                    );
                }
            }
        }
    }
    state
}

fn live_view(live: &Result<LiveState, Offline>) -> LiveView {
    match live {
        Err(why) => LiveView {
            mode: "offline".into(),
            offline_because: Some(why.to_string()),
            read_at: None,
            lock: None,
            waiting: None,
            colours: Vec::new(),
            canaries: Vec::new(),
            busy: Vec::new(),
        },
        Ok(state) => LiveView {
            mode: "live".into(),
            offline_because: None,
            read_at: Some(state.read_at.clone()),
            lock: state
                .lock
                .as_ref()
                .map(|h| format!("{} (run {}, pid {} on {}, since {})", h.holder, h.run_id, h.pid, h.host, h.started)),
            waiting: state
                .waiting
                .as_ref()
                .map(|(run, step, question)| format!("run {run} waits at step `{step}`: {question}")),
            colours: state
                .colours
                .iter()
                .map(|(step, c)| Colour {
                    step: step.clone(),
                    live: c.as_ref().ok().cloned(),
                    unknown_because: c.as_ref().err().cloned(),
                })
                .collect(),
            canaries: state
                .canaries
                .iter()
                .map(|(name, of, stage)| match stage {
                    Some(stage) => format!("{name} (canary of {of}, stage {stage})"),
                    None => format!("{name} (canary of {of})"),
                })
                .collect(),
            busy: state
                .services
                .iter()
                .filter_map(|(name, s)| {
                    let u = s.update.as_deref()?;
                    matches!(u, "updating" | "paused" | "rollback_started" | "rollback_paused")
                        .then(|| format!("{name} ({u})"))
                })
                .collect(),
        },
    }
}

/// The worst case: the last gate judged when all goes well fails on its last measurement; a
/// plan without gates fails at its last service step (its new tasks never turn healthy).
fn worst_case(plan: &Plan, best: &Simulated) -> Option<Failure> {
    // The judgement of a gate that finished last.
    let mut numbering = worst::Numbering::default();
    let last = best.records.iter().fold(None, |last, r| match numbering.see(&r.event) {
        Some(worst::Judged::Finished { gate, k }) => Some((gate, k)),
        _ => last,
    });
    if let Some((gate, k)) = last {
        return Some(Failure::GateAt(gate.to_owned(), k));
    }
    let last_service_step = best
        .steps
        .iter()
        .rev()
        .find(|s| plan.steps.iter().any(|p| p.name.value == s.step && p.kind.is_deployment()))?;
    Some(Failure::Step(last_service_step.step.clone()))
}

fn describe_failure(failure: &Failure) -> String {
    match failure {
        Failure::Nothing => "nothing".into(),
        Failure::Gate(g) | Failure::GateAt(g, _) => format!("gate `{g}`"),
        Failure::Step(s) | Failure::Judgements(s, _) => format!("step `{s}`"),
    }
}

fn rollback_ms(sim: &Simulated) -> u64 {
    sim.records
        .iter()
        .find(|r| matches!(r.event, Event::RollbackStarted { .. }))
        .map_or(0, |r| sim.total_ms.saturating_sub(r.elapsed_ms))
}

/// The steps of a run refused for what they would remove, with the refusal.
fn refusals(run: &Simulated) -> BTreeMap<String, String> {
    run.records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepFinished { step, reason: Some(why), .. }
                if why.starts_with(crate::services::removal::REFUSED) =>
            {
                Some((step.clone(), why.clone()))
            }
            _ => None,
        })
        .collect()
}

/// `plan` with the steps named in `refused` allowing every removal.
fn allow_removals(plan: &mut Plan, refused: &BTreeMap<String, String>) {
    use plans::steps::allow_removing::Removable;
    let all: Vec<Removable> = Removable::ALL.to_vec();
    for s in plan.steps.iter_mut().filter(|s| refused.contains_key(&s.name.value)) {
        if let Some(allowed) = s.kind.allow_removing_mut() {
            *allowed = all.clone();
        }
    }
}

fn step_plans(
    plan: &Plan,
    graph: &PlanGraph,
    best: &Simulated,
    networks: &BTreeMap<String, String>,
    offline: bool,
) -> (Vec<StepPlan>, Vec<UndoEntry>) {
    let index: BTreeMap<&str, usize> = plan.steps.iter().enumerate().map(|(i, s)| (s.name.value.as_str(), i)).collect();
    let ran: BTreeMap<&str, &simulate::StepRun> = best.steps.iter().map(|s| (s.step.as_str(), s)).collect();
    // Undo records in the order they were made, and the gates each step judged, in one pass.
    let mut records: Vec<UndoEntry> = Vec::new();
    let mut gates: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &best.records {
        match &r.event {
            // A step's newer record replaces its earlier one and becomes the newest, as in
            // `undo::Recorded`.
            Event::StepRecorded { step, undo } => {
                records.retain(|u| u.step != *step);
                records.push(UndoEntry { step: step.clone(), undo: undo.describe(), recorded_ms: r.elapsed_ms })
            }
            // Each gate once, though a step judges it batch by batch or stage by stage.
            Event::GateFinished { step, gate, .. } => {
                let named = gates.entry(step.as_str()).or_default();
                if !named.contains(gate) {
                    named.push(gate.clone());
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut order: Vec<&str> = best.steps.iter().map(|s| s.step.as_str()).collect();
    // Steps that never started (a plan that failed even when all goes well) come last.
    let started: BTreeSet<&str> = order.iter().copied().collect();
    for s in &plan.steps {
        if !started.contains(s.name.value.as_str()) {
            order.push(&s.name.value);
        }
    }
    for name in order {
        let Some(&i) = index.get(name) else { continue };
        let step = &plan.steps[i];
        let ran = ran.get(name).copied();
        let mut changes = Vec::new();
        if let Some(ran) = ran {
            let names: BTreeSet<&String> = ran.before.keys().chain(ran.after.keys()).collect();
            for service in names {
                match (ran.before.get(service), ran.after.get(service)) {
                    (None, Some(_)) => changes.push(ServiceChange {
                        service: service.clone(),
                        action: "create".into(),
                        fields: Vec::new(),
                    }),
                    (Some(_), None) => changes.push(ServiceChange {
                        service: service.clone(),
                        action: "remove".into(),
                        fields: Vec::new(),
                    }),
                    (Some(a), Some(b)) => {
                        let mut fields = diff::changes(a, b, networks);
                        // Offline, what a service runs now was not read: the fields the step sets
                        // are known, what they were is not.
                        if offline && ran.before.get(service).is_some_and(|_| live_now(&best.initial, service)) {
                            for f in &mut fields {
                                f.before = None;
                                f.before_unknown = true;
                            }
                        }
                        if !fields.is_empty() {
                            changes.push(ServiceChange { service: service.clone(), action: "update".into(), fields });
                        }
                    }
                    (None, None) => {}
                }
            }
        }
        let finished = ran.and_then(|r| r.finished_ms).unwrap_or(best.total_ms);
        out.push(StepPlan {
            step: name.to_owned(),
            kind: step.kind.keyword().to_owned(),
            after: graph.dependencies(i).into_iter().map(|d| plan.steps[d].name.value.clone()).collect(),
            gates: gates.remove(name).unwrap_or_default(),
            unchanged: step.kind.is_deployment() && changes.is_empty(),
            refused: None,
            changes,
            canary: canary_plan(&step.kind),
            switch: None,
            actions: crate::steps::behavior(&step.kind).preview(),
            undo: records.iter().filter(|r| r.step == name).map(|r| r.undo.clone()).collect(),
            on_failure: OnFailure {
                outcome: None,
                stopped: Vec::new(),
                undone: Vec::new(),
                undone_turns: Vec::new(),
                reason: None,
                not_drilled: Some("not drilled".into()),
            },
            start_ms: ran.map_or(best.total_ms, |r| r.started_ms),
            end_ms: finished,
        });
    }
    records.reverse();
    (out, records)
}

/// Whether `service` was on the swarm when the run began (offline: made up from the plan, so
/// unknown), not made by an earlier step.
fn live_now(initial: &BTreeMap<String, ServiceSpec>, service: &str) -> bool {
    initial.contains_key(service)
}

fn summarize(plan: &Plan, steps: &[StepPlan]) -> Summary {
    let count = |a: &str| steps.iter().flat_map(|s| &s.changes).filter(|c| c.action == a).count();
    let other_changes = plan.steps.iter().any(|s| s.kind.changes_elsewhere());
    let (create, change, remove) = (count("create"), count("update"), count("remove"));
    Summary {
        create,
        change,
        remove,
        unchanged_steps: steps.iter().filter(|s| s.unchanged).count(),
        changes_present: create + change + remove > 0 || other_changes,
    }
}

fn drill(plan: &Plan, graph: &PlanGraph, live: &LiveState, sim: &Simulated, failure: &Failure) -> Drill {
    let story = story(&sim.records);
    let rollback_order = sim
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepUndone { step, .. } => Some(step.clone()),
            _ => None,
        })
        .collect();
    let outcome = sim.report.outcome.to_string();
    let networks: BTreeMap<String, String> = live.networks.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
    let mut final_state = Vec::new();
    let names: BTreeSet<&String> = sim.initial.keys().chain(sim.last.keys()).collect();
    for name in names {
        let state = match (sim.initial.get(name), sim.last.get(name)) {
            (Some(a), Some(b)) => {
                let image = live::image_parts(b).0;
                let changed = diff::changes(a, b, &networks);
                let fields: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
                match (image == UNKNOWN, changed.is_empty()) {
                    (true, true) => "as before".into(),
                    (false, true) => format!("{image} (as before)"),
                    (true, false) => format!("changed: {}", fields.join(", ")),
                    (false, false) => format!("{image} (changed: {})", fields.join(", ")),
                }
            }
            (None, Some(b)) => format!("{} (created)", live::image_parts(b).0),
            (Some(_), None) => "removed".into(),
            (None, None) => continue,
        };
        final_state.push(FinalState { name: name.clone(), state });
    }
    for step in &plan.steps {
        let name = &step.name.value;
        let finished = sim.records.iter().find_map(|r| match &r.event {
            Event::StepFinished { step, outcome, .. } if step == name => Some(*outcome),
            _ => None,
        });
        let undone = sim.records.iter().find_map(|r| match &r.event {
            Event::StepUndone { step, outcome, .. } if step == name => Some(*outcome),
            _ => None,
        });
        if let Some((target, state)) = crate::steps::behavior(&step.kind).drilled(finished, undone) {
            final_state.push(FinalState { name: format!("{target} (step `{name}`)"), state });
        }
    }
    let rollback_turns = undo_turns(plan, graph, &sim.records);
    Drill {
        failing: describe_failure(failure),
        outcome,
        story,
        rollback_order,
        rollback_turns,
        final_state,
        total_ms: sim.total_ms,
    }
}

/// How a run ends, in words.
fn ends(outcome: crate::events::RunOutcome) -> String {
    outcome.to_string().replace('-', " ")
}

/// The events that say what a run did, in words.
pub fn story(records: &[Record]) -> Vec<Moment> {
    records
        .iter()
        .filter_map(|r| {
            let what = match &r.event {
                Event::StepStarted { step, kind } => format!("{kind} `{step}` starts"),
                Event::StepFinished { step, outcome, reason, .. } => match reason {
                    Some(why) => format!("`{step}` {outcome}: {why}"),
                    None => format!("`{step}` {outcome}"),
                },
                // Analysis during a rollout: when each batch's judgement began.
                Event::StepProgress { step, message, .. } if message.starts_with(crate::steps::batches::JUDGING) => {
                    format!("`{step}` {message}")
                }
                Event::GateFinished { step, gate, verdict, .. } if verdict != "passed" => {
                    format!("gate `{gate}` {verdict} (step `{step}`)")
                }
                Event::RollbackStarted { .. } => "rollback starts".into(),
                Event::StepUndone { step, outcome, reason, .. } => match reason {
                    Some(why) => format!("undo of `{step}` {outcome}: {why}"),
                    None => format!("undo of `{step}` {outcome}"),
                },
                Event::RunFinished { outcome, .. } => format!("the release ends {}", ends(*outcome)),
                _ => return None,
            };
            Some(Moment { at_ms: r.elapsed_ms, what })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::simulation::Simulation;

    const PLAN: &str = r#"
plan shop {
    stack shop
    on-failure rollback
    gate web-ok {
        http "http://shop_web:8080/health"
        interval "5s"
        count 3
    }
    gate api-ok {
        http "http://shop_api:8080/health"
        interval "2s"
        count 2
        failure-limit 1
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
        image "api:v1"
        monitor "2s"
    }
    check final {
        after warm-cache api
        gates api-ok
    }
}
"#;

    fn live(plan: &Plan) -> LiveState {
        let mut state = offline_state(plan, 3);
        // shop_api already runs what the plan asks, with the plan's update settings.
        let api = state.services.get_mut("shop_api").unwrap();
        crate::services::spec::set_image(&mut api.spec, "api:v1");
        let StepKind::Rolling(r) = &plan.steps.iter().find(|s| s.name.value == "api").unwrap().kind else {
            unreachable!()
        };
        crate::services::spec::set_update_policy(&mut api.spec, &r.update);
        state
    }

    fn request<'a>(plan: &'a Plan, graph: &'a PlanGraph, fail: Option<Failure>) -> Request<'a> {
        Request { live: Ok(live(plan)), fail, ..request_offline(plan, graph) }
    }

    fn request_offline<'a>(plan: &'a Plan, graph: &'a PlanGraph) -> Request<'a> {
        Request {
            plan,
            graph,
            file: "plan.kdl".into(),
            plan_dir: Path::new("."),
            live: Err(Offline::Asked),
            knobs: Knobs::default(),
            knob_sources: Vec::new(),
            offline_replicas: 3,
            fail: None,
            environment: None,
        }
    }

    #[test]
    fn a_simulation_keeps_every_event_the_report_reads() {
        let (plan, graph) = Simulation::plan(PLAN);
        let live = live(&plan);
        let best = simulate::run(&plan, &graph, Path::new("."), &live, &Knobs::default(), &Failure::Nothing);
        let worst = worst_case(&plan, &best).expect("a gate judged last");
        for failure in [Failure::Nothing, worst] {
            // `Beside::sink` hears every event; the run keeps those `Reviewed` lets through.
            let all = std::sync::Arc::new(crate::events::Memory::default());
            let beside = simulate::Beside { sink: Some(all.clone()), decider: None };
            let sim = simulate::run_beside(&plan, &graph, Path::new("."), &live, &Knobs::default(), &failure, beside);
            let every = all.take();
            assert!(sim.records.len() < every.len(), "{failure:?}: some events are dropped");
            // The run's own records are put in a reviewer's words; the sink beside hears the stand-ins'.
            let reworded: Vec<Moment> =
                story(&every).into_iter().map(|m| Moment { what: simulate::reword(&m.what), ..m }).collect();
            assert_eq!(story(&sim.records), reworded, "{failure:?}");
            let judged = |records: &[Record]| {
                let mut numbering = worst::Numbering::default();
                records.iter().filter_map(|r| numbering.see(&r.event).map(|j| format!("{j:?}"))).collect::<Vec<_>>()
            };
            assert_eq!(judged(&sim.records), judged(&every), "{failure:?}");
        }
    }

    #[test]
    fn steps_run_at_most_as_many_at_once_as_apply_runs_them() {
        let mut text = String::from("plan wide {\n    stack wide\n");
        for i in 0..6 {
            text.push_str(&format!(
                "    rolling s{i} {{\n        service wide_s{i}\n        image \"app:v2\"\n    }}\n"
            ));
        }
        text.push_str("}\n");
        let (plan, graph) = Simulation::plan(&text);
        let with = |parallelism: usize| {
            build(&Request { knobs: Knobs { parallelism, ..Knobs::default() }, ..request_offline(&plan, &graph) })
        };
        let (four, six) = (with(4), with(6));
        // Six equal steps: four at once, then two, take two steps' time; six at once, one.
        assert_eq!(four.timeline.best_ms, 2 * six.timeline.best_ms, "{:?} {:?}", four.timeline, six.timeline);
        let said = |r: &PlanReport| r.assumptions.iter().any(|a| a.contains("at most 4 steps at once"));
        assert!(said(&four), "{:?}", four.assumptions);
        assert!(!said(&six), "{:?}", six.assumptions);
    }

    #[test]
    fn a_plan_with_a_watch_says_who_judges_what_after_the_release() {
        let text = PLAN.replacen(
            "    on-failure rollback\n",
            "    on-failure rollback\n    watch \"2h\" {\n        gates web-ok\n        on-regression notify\n    }\n",
            1,
        );
        let (plan, graph) = Simulation::plan(&text);
        let with = build(&request(&plan, &graph, None));
        assert_eq!(
            with.watch.as_deref(),
            Some(
                "after a successful apply, the service planrun-watch-shop (inside the swarm; apply exits as it starts) \
                 judges `web-ok` again and again for 2h; the first that does not pass records the regression (shown by \
                 `planrun status`) and changes nothing. `planrun watch shop --stop` ends it"
            )
        );
        let (plan, graph) = Simulation::plan(PLAN);
        assert_eq!(build(&request(&plan, &graph, None)).watch, None);
    }

    #[test]
    fn changes_are_what_differs_from_live_and_a_step_that_changes_nothing_says_so() {
        let (plan, graph) = Simulation::plan(PLAN);
        let report = build(&request(&plan, &graph, None));
        let step = |n: &str| report.steps.iter().find(|s| s.step == n).unwrap();
        assert_eq!(step("web").changes.len(), 1);
        assert_eq!(step("web").changes[0].service, "shop_web");
        assert_eq!(step("web").changes[0].fields[0].after.as_deref(), Some("app:v2"));
        assert!(step("api").unchanged && step("api").changes.is_empty(), "{:?}", step("api"));
        assert_eq!(step("warm-cache").actions, ["runs `cache warm`"]);
        assert_eq!(step("final").gates, ["api-ok"]);
        assert_eq!(report.summary.change, 1);
        assert_eq!(
            report.order,
            vec![vec!["web".to_owned(), "api".to_owned()], vec!["warm-cache".to_owned()], vec!["final".to_owned()]]
        );
        // If `final` fails, everything recorded is undone, newest first: its drill says so.
        let undone: Vec<&str> = report.rollback.iter().map(|u| u.step.as_str()).collect();
        assert_eq!(undone, ["warm-cache", "api", "web"]);
        assert_eq!(step("final").on_failure.undone, ["warm-cache", "api", "web"]);
        // warm-cache (after web) and api (its own branch) are undone at once; web once
        // warm-cache, which ran after it, is undone.
        let turns =
            |t: &[&[&str]]| t.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect::<Vec<Vec<_>>>();
        assert_eq!(step("final").on_failure.undone_turns, turns(&[&["warm-cache", "api"], &["web"]]));
        assert_eq!(step("final").on_failure.outcome.as_deref(), Some("rolled-back"));
        // `web` fails after `api`, beside it, finished: `api` is undone before `web`, and
        // `warm-cache`, after `web`, never ran.
        assert!(step("web").on_failure.stopped.is_empty());
        assert_eq!(step("web").on_failure.undone, ["api", "web"]);
        assert_eq!(report.timeline.best_failure, None);
    }

    /// The events of a run as a review sees them: without the wall clock.
    fn timeline(sim: &Simulated) -> Vec<(u64, String)> {
        sim.records.iter().map(|r| (r.elapsed_ms, serde_json::to_string(&r.event).unwrap())).collect()
    }

    #[test]
    fn the_worst_case_beside_the_best_is_the_run_its_failure_makes_alone() {
        let (plan, graph) = Simulation::plan(PLAN);
        let request = request(&plan, &graph, None);
        let live = live(&plan);
        let (best, beside) = best_and_worst(&plan, &request, &live);
        let alone = simulate::run(&plan, &graph, Path::new("."), &live, &Knobs::default(), &Failure::Nothing);
        assert_eq!(timeline(&best), timeline(&alone), "the best run is the same as run alone");
        let Some(Failure::GateAt(gate, k)) = worst_case(&plan, &best) else { panic!("a gate judged last") };
        let (failed, worst) = beside.expect("the worst case failed a judgement beside the best");
        assert_eq!(failed, (gate.clone(), k));
        let alone = simulate::run(&plan, &graph, Path::new("."), &live, &Knobs::default(), &Failure::GateAt(gate, k));
        assert_eq!(timeline(&worst), timeline(&alone));
        assert_eq!((worst.total_ms, &worst.report.outcome), (alone.total_ms, &alone.report.outcome));
        assert_eq!(worst.report.outcome, crate::events::RunOutcome::RolledBack);
    }

    #[test]
    fn a_plan_without_gates_has_no_worst_case_beside_the_best() {
        let (plan, graph) = Simulation::plan(
            "plan p {\n    stack s\n    rolling web {\n        service s_web\n        image \"app:v2\"\n    }\n}\n",
        );
        let request = Request {
            plan: &plan,
            graph: &graph,
            file: "plan.kdl".into(),
            plan_dir: Path::new("."),
            live: Err(Offline::Asked),
            knobs: Knobs::default(),
            knob_sources: Vec::new(),
            offline_replicas: 2,
            fail: None,
            environment: None,
        };
        let (best, beside) = best_and_worst(&plan, &request, &offline_state(&plan, 2));
        assert!(beside.is_none());
        assert_eq!(worst_case(&plan, &best), Some(Failure::Step("web".into())));
    }

    #[test]
    fn the_worst_case_fails_the_last_gate_judged_on_its_last_measurement_then_rolls_back() {
        let (plan, graph) = Simulation::plan(PLAN);
        let report = build(&request(&plan, &graph, None));
        assert_eq!(report.timeline.worst_failing.as_deref(), Some("gate `api-ok`"));
        assert_eq!(report.timeline.worst_outcome, "rolled-back");
        // api-ok: two planned measurements, one failure allowed: it fails at the second, 2 s
        // after the first, where the best case passes; then the rollback.
        let final_step = report.steps.iter().find(|s| s.step == "final").unwrap();
        assert_eq!(report.timeline.worst_ms - report.timeline.worst_rollback_ms, final_step.end_ms);
        assert!(report.timeline.worst_rollback_ms > 0);
        assert!(report.timeline.worst_ms > report.timeline.best_ms);
    }

    #[test]
    fn every_steps_row_is_its_drill_and_the_worst_case_is_never_shorter_than_the_best() {
        let (plan, graph) = Simulation::plan(PLAN);
        let report = build(&request(&plan, &graph, None));
        for s in &report.steps {
            let drilled = build(&request(&plan, &graph, Some(Failure::Step(s.step.clone())))).drill.unwrap();
            assert_eq!(s.on_failure.undone, drilled.rollback_order, "step {}", s.step);
            assert_eq!(s.on_failure.outcome.as_deref(), Some(drilled.outcome.as_str()), "step {}", s.step);
        }
        assert!(report.timeline.worst_ms >= report.timeline.best_ms);
    }

    #[test]
    fn a_failing_check_fails_its_own_judgement_not_an_earlier_steps() {
        // `web` judges `web-ok` first; the check `final` judges it again: failing `final` must
        // let `web` pass.
        let text = PLAN.replace("gates api-ok\n    }\n}", "gates web-ok\n    }\n}");
        let (plan, graph) = Simulation::plan(&text);
        let report = build(&request(&plan, &graph, Some(Failure::Step("final".into()))));
        let drill = report.drill.unwrap();
        assert!(drill.story.iter().any(|m| m.what == "`web` succeeded"), "{:?}", drill.story);
        assert!(drill.story.iter().any(|m| m.what == "gate `web-ok` failed (step `final`)"), "{:?}", drill.story);
        assert_eq!(drill.rollback_order, ["warm-cache", "api", "web"]);
    }

    #[test]
    fn offline_every_before_is_unknown_and_no_stand_in_reaches_the_report() {
        let (plan, graph) = Simulation::plan(PLAN);
        let mut req = request(&plan, &graph, Some(Failure::Step("web".into())));
        req.live = Err(Offline::Asked);
        let report = build(&req);
        let web = report.steps.iter().find(|s| s.step == "web").unwrap();
        assert_eq!(web.changes[0].action, "update");
        for f in &web.changes[0].fields {
            assert!(f.before.is_none() && f.before_unknown, "{f:?}");
        }
        let json = serde_json::to_string(&report).unwrap();
        for word in ["scripted", "fake", "(live image)", "planrun-offline", "XX000"] {
            assert!(!json.contains(word), "`{word}` in {json}");
        }
        let drill = report.drill.unwrap();
        assert!(
            drill.story.iter().any(|m| m.what.contains("its health check fails (made to fail)")),
            "{:?}",
            drill.story
        );
    }

    #[test]
    fn a_drill_of_a_gate_rolls_back_newest_first_and_leaves_every_service_as_before() {
        let (plan, graph) = Simulation::plan(PLAN);
        let report = build(&request(&plan, &graph, Some(Failure::Gate("web-ok".into()))));
        let drill = report.drill.unwrap();
        assert_eq!(drill.outcome, "rolled-back");
        assert_eq!(drill.rollback_order, ["api", "web"], "warm-cache never ran");
        let state: Vec<(&str, &str)> = drill.final_state.iter().map(|f| (f.name.as_str(), f.state.as_str())).collect();
        assert_eq!(state, [("shop_api", "api:v1 (as before)"), ("shop_web", "as before")]);
        assert!(drill.story.iter().any(|m| m.what == "gate `web-ok` failed (step `web`)"), "{:?}", drill.story);
    }

    #[test]
    fn a_drill_of_a_run_step_fails_its_command() {
        let (plan, graph) = Simulation::plan(PLAN);
        let report = build(&request(&plan, &graph, Some(Failure::Step("warm-cache".into()))));
        let drill = report.drill.unwrap();
        assert_eq!(drill.rollback_order, ["warm-cache", "api", "web"]);
        assert!(drill.story.iter().any(|m| m.what.starts_with("`warm-cache` failed")), "{:?}", drill.story);
    }

    #[test]
    fn what_cannot_fail_is_refused_by_name() {
        let (plan, _) = Simulation::plan(PLAN);
        assert_eq!(simulate::can_fail(&plan, "api-ok"), Ok(Failure::Gate("api-ok".into())));
        assert_eq!(simulate::can_fail(&plan, "web"), Ok(Failure::Step("web".into())));
        let unknown = simulate::can_fail(&plan, "wbe").unwrap_err();
        assert!(
            matches!(&unknown, simulate::DrillError::Unknown { name, known } if name == "wbe" && known.contains(&"web".to_string()))
        );
        let unknown = unknown.to_string();
        assert!(unknown.contains("no step or gate `wbe`") && unknown.contains("web, warm-cache"), "{unknown}");
    }
}
