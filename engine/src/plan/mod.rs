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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bollard::models::{ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec};
use plans::PlanGraph;
use plans::model::Plan;
use plans::steps::StepKind;
use plans::steps::pause::Wait;

use crate::clock;
use crate::events::{Event, Record};
use live::LiveState;
use report::{
    Colour, Drill, FinalState, LiveView, Moment, PlanReport, ServiceChange, StepPlan, Summary, Timeline, UndoEntry,
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
    pub live: Result<LiveState, String>,
    /// How long what the swarm cannot tell takes.
    pub knobs: Knobs,
    /// Where the knobs came from, in words.
    pub knob_sources: Vec<String>,
    /// Replicas of a service when nothing live says (offline).
    pub offline_replicas: u64,
    /// `--fail`: the step or gate to fail in a drill.
    pub fail: Option<Failure>,
}

/// The plan, simulated and compared with what is live.
pub fn build(request: &Request) -> PlanReport {
    let plan = request.plan;
    let live = match &request.live {
        Ok(state) => state.clone(),
        Err(_) => offline_state(plan, request.offline_replicas),
    };
    let run = |failure: &Failure| simulate::run(plan, request.graph, request.plan_dir, &live, &request.knobs, failure);
    let best = run(&Failure::Nothing);
    let worst_failure = worst_case(plan, &best);
    let worst = worst_failure.as_ref().map(run);
    let drill = request.fail.as_ref().map(|f| drill(plan, &live, &run(f), f));
    let networks: BTreeMap<String, String> = live.networks.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
    let (steps, rollback) = step_plans(plan, request.graph, &best, &networks);
    let summary = summarize(plan, &steps);
    let order = request
        .graph
        .layers()
        .into_iter()
        .map(|layer| layer.into_iter().map(|i| plan.steps[i].name.value.clone()).collect())
        .collect();
    let timeline = Timeline {
        best_outcome: best.report.outcome.to_string(),
        best_failure: best.report.reason.clone(),
        best_ms: best.total_ms,
        worst_ms: worst.as_ref().map_or(best.total_ms, |w| w.total_ms),
        worst_failing: worst_failure.as_ref().map(describe_failure),
        worst_rollback_ms: worst.as_ref().map_or(0, rollback_ms),
        worst_outcome: worst.as_ref().unwrap_or(&best).report.outcome.to_string(),
        worst_reason: worst
            .as_ref()
            .filter(|w| w.report.outcome != crate::events::RunOutcome::RolledBack)
            .and_then(|w| w.report.reason.clone()),
    };
    let mut assumptions = request.knob_sources.clone();
    if request.live.is_err() {
        assumptions.push(format!(
            "offline: every service is assumed to have {} replicas and no health check; images and settings live now are unknown",
            request.offline_replicas
        ));
    } else {
        assumptions.push("task start and health-check timing from the live services' specs".into());
    }
    if plan.steps.iter().any(|s| match &s.kind {
        StepKind::Pause(p) => p.wait == Wait::Manual,
        StepKind::Canary(c) => c.promote == plans::steps::canary::Promote::Manual,
        _ => false,
    }) {
        assumptions.push(format!("a person answers approvals after {}", clock::seconds(request.knobs.approval)));
    }
    PlanReport {
        format: report::FORMAT.into(),
        plan: plan.name.value.clone(),
        stack: plan.stack.value.clone(),
        file: request.file.clone(),
        live: live_view(&request.live),
        steps,
        summary,
        order,
        rollback,
        timeline,
        drill,
        assumptions,
    }
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
        lock: None,
        waiting: None,
        colours: BTreeMap::new(),
        canaries: Vec::new(),
    };
    for (name, _) in live::named_services(plan) {
        let own = plan.steps.iter().find_map(|s| match &s.kind {
            StepKind::Rolling(r) if r.service.value == name => r.replicas.as_ref().map(|r| r.value),
            StepKind::Canary(c) if c.service.value == name => c.replicas.as_ref().map(|r| r.value),
            _ => None,
        });
        let spec = ServiceSpec {
            name: Some(name.clone()),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(own.unwrap_or(replicas) as i64) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some("(live image)".into()),
                    ..Default::default()
                }),
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
            plans::steps::blue_green::Switch::Alias { network, alias } => {
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
            plans::steps::blue_green::Switch::Nginx { router, template, target, .. } => {
                let name = format!("planrun-offline-{router}");
                state.configs.push(live::LiveConfig {
                    id: name.clone(),
                    name: name.clone(),
                    labels: [(crate::steps::blue_green::UPSTREAM.to_owned(), b.blue.value.clone())].into(),
                    data: crate::steps::blue_green::render(template, &b.blue.value),
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

fn live_view(live: &Result<LiveState, String>) -> LiveView {
    match live {
        Err(why) => LiveView {
            mode: "offline".into(),
            offline_because: Some(why.clone()),
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
    // Judgements of a gate in the order they began (their first measurement), and which of
    // them finished last.
    let mut begun: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
    let mut count: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last: Option<(&str, u64)> = None;
    for r in &best.records {
        match &r.event {
            Event::Measurement { step, gate, number: 1, .. } => {
                let k = count.entry(gate).or_default();
                begun.entry((step, gate)).or_default().push(*k);
                *k += 1;
            }
            Event::GateFinished { step, gate, .. } => {
                let k =
                    begun.get_mut(&(step.as_str(), gate.as_str())).and_then(|v| (!v.is_empty()).then(|| v.remove(0)));
                last = Some((gate, k.unwrap_or(0)));
            }
            _ => {}
        }
    }
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
        Failure::Step(s) => format!("step `{s}`"),
    }
}

fn rollback_ms(sim: &Simulated) -> u64 {
    sim.records
        .iter()
        .find(|r| matches!(r.event, Event::RollbackStarted { .. }))
        .map_or(0, |r| sim.total_ms.saturating_sub(r.elapsed_ms))
}

fn step_plans(
    plan: &Plan,
    graph: &PlanGraph,
    best: &Simulated,
    networks: &BTreeMap<String, String>,
) -> (Vec<StepPlan>, Vec<UndoEntry>) {
    let index: BTreeMap<&str, usize> = plan.steps.iter().enumerate().map(|(i, s)| (s.name.value.as_str(), i)).collect();
    let ran: BTreeMap<&str, &simulate::StepRun> = best.steps.iter().map(|s| (s.step.as_str(), s)).collect();
    // Undo records in the order they were made, and the gates each step judged, in one pass.
    let mut records: Vec<UndoEntry> = Vec::new();
    let mut gates: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // Per step, how many undo records exist when it ends (what its failure would undo).
    let mut undone_at_end: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &best.records {
        match &r.event {
            Event::StepRecorded { step, undo } => {
                records.push(UndoEntry { step: step.clone(), undo: undo.describe(), recorded_ms: r.elapsed_ms })
            }
            Event::GateFinished { step, gate, .. } => gates.entry(step.as_str()).or_default().push(gate.clone()),
            Event::StepFinished { step, .. } => {
                undone_at_end.insert(step.as_str(), records.len());
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
                    (None, Some(_)) => {
                        changes.push(ServiceChange { service: service.clone(), action: "+".into(), fields: Vec::new() })
                    }
                    (Some(_), None) => {
                        changes.push(ServiceChange { service: service.clone(), action: "-".into(), fields: Vec::new() })
                    }
                    (Some(a), Some(b)) => {
                        let fields = diff::changes(a, b, networks);
                        if !fields.is_empty() {
                            changes.push(ServiceChange { service: service.clone(), action: "~".into(), fields });
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
            changes,
            actions: actions(&step.kind),
            undo: records.iter().filter(|r| r.step == name).map(|r| r.undo.clone()).collect(),
            on_failure_undoes: undone_at_end.get(name).copied().unwrap_or(records.len()),
            start_ms: ran.map_or(best.total_ms, |r| r.started_ms),
            end_ms: finished,
        });
    }
    records.reverse();
    (out, records)
}

/// What a step does besides changing services.
fn actions(kind: &StepKind) -> Vec<String> {
    match kind {
        StepKind::Backup(b) => vec![format!(
            "dumps {} into {}{}",
            b.database.key(),
            b.to.value,
            if b.verify { ", then reads the dump back" } else { "" }
        )],
        StepKind::Migrate(m) => vec![format!(
            "runs {} on {} ({} phase{})",
            m.file.value,
            m.database.key(),
            format!("{:?}", m.phase).to_lowercase(),
            m.down.as_ref().map(|d| format!("; undo runs {}", d.value)).unwrap_or_else(|| "; no down file".into())
        )],
        StepKind::Run(r) => {
            let argv: Vec<String> = r.command.iter().map(|a| a.value.clone()).collect();
            vec![format!("runs `{}`", crate::commands::display(&argv))]
        }
        StepKind::Pause(p) => vec![match &p.wait {
            Wait::Duration(d) => format!("waits {d}"),
            Wait::Manual => "waits for a person to approve".into(),
        }],
        StepKind::Check(_) | StepKind::Rolling(_) | StepKind::Canary(_) | StepKind::BlueGreen(_) => Vec::new(),
    }
}

fn summarize(plan: &Plan, steps: &[StepPlan]) -> Summary {
    let count = |a: &str| steps.iter().flat_map(|s| &s.changes).filter(|c| c.action == a).count();
    let other_changes =
        plan.steps.iter().any(|s| matches!(s.kind, StepKind::Backup(_) | StepKind::Migrate(_) | StepKind::Run(_)));
    let (create, change, remove) = (count("+"), count("~"), count("-"));
    Summary {
        create,
        change,
        remove,
        unchanged_steps: steps.iter().filter(|s| s.unchanged).count(),
        changes_present: create + change + remove > 0 || other_changes,
    }
}

fn drill(plan: &Plan, live: &LiveState, sim: &Simulated, failure: &Failure) -> Drill {
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
                if changed.is_empty() {
                    format!("{image} (as before)")
                } else {
                    let fields: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
                    format!("{image} (changed: {})", fields.join(", "))
                }
            }
            (None, Some(b)) => format!("{} (created)", live::image_parts(b).0),
            (Some(_), None) => "removed".into(),
            (None, None) => continue,
        };
        final_state.push(FinalState { name: name.clone(), state });
    }
    for step in &plan.steps {
        let (StepKind::Migrate(_) | StepKind::Backup(_)) = &step.kind else { continue };
        let name = &step.name.value;
        let finished = sim.records.iter().find_map(|r| match &r.event {
            Event::StepFinished { step, outcome, .. } if step == name => Some(*outcome),
            _ => None,
        });
        let undone = sim.records.iter().find_map(|r| match &r.event {
            Event::StepUndone { step, outcome, .. } if step == name => Some(*outcome),
            _ => None,
        });
        let state = match (&step.kind, finished, undone) {
            (_, None, _) => "not reached".to_owned(),
            (StepKind::Backup(_), Some(o), _) => format!("dump {o}"),
            (_, Some(o), None) => format!("migration {o}, left applied"),
            (_, Some(o), Some(u)) => format!("migration {o}, then undone ({u})"),
        };
        let target = match &step.kind {
            StepKind::Migrate(m) => m.database.key(),
            StepKind::Backup(b) => b.database.key(),
            _ => unreachable!("only database steps"),
        };
        final_state.push(FinalState { name: format!("{target} (step `{name}`)"), state });
    }
    Drill { failing: describe_failure(failure), outcome, story, rollback_order, final_state, total_ms: sim.total_ms }
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
                Event::GateFinished { step, gate, verdict, .. } if verdict != "passed" => {
                    format!("gate `{gate}` {verdict} (step `{step}`)")
                }
                Event::RollbackStarted { .. } => "rollback starts".into(),
                Event::StepUndone { step, outcome, reason, .. } => match reason {
                    Some(why) => format!("undo of `{step}` {outcome}: {why}"),
                    None => format!("undo of `{step}` {outcome}"),
                },
                Event::RunFinished { outcome, .. } => format!("run {outcome}"),
                _ => return None,
            };
            Some(Moment { at_ms: r.elapsed_ms, what })
        })
        .collect()
}

#[cfg(test)]
mod debug_tests {
    #[test]
    #[ignore]
    fn print_story() {
        let saved: super::saved::SavedPlan =
            serde_json::from_str(&std::fs::read_to_string("/tmp/q.plan").unwrap()).unwrap();
        let (plan, graph) = crate::simulation::Simulation::plan(&saved.text.replace("app:v2\"", "app:v1\""));
        let sim = super::simulate::run(
            &plan,
            &graph,
            std::path::Path::new("."),
            &saved.live,
            &Default::default(),
            &super::simulate::Failure::Nothing,
        );
        for r in &sim.records {
            println!(
                "{:>7} {}",
                r.elapsed_ms,
                serde_json::to_string(&r.event).unwrap().chars().take(200).collect::<String>()
            );
        }
    }
}
