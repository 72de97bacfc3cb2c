//! The plan run by the executor that deploys, against the in-memory swarm seeded with what is
//! live, on a paused tokio clock: a release that takes minutes is simulated in milliseconds and
//! its events carry the virtual times. Scenarios make a step or gate fail, as a drill.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::ServiceSpec;
use plans::PlanGraph;
use plans::gates::Outcome;
use plans::model::Plan;
use plans::steps::StepKind;
use plans::steps::pause::Wait;

use super::live::LiveState;
use crate::cluster::fake::{Behavior, FakeCluster, Timing};
use crate::commands::Script;
use crate::events::{Event, Memory, Record, Sink};
use crate::executor::{Executor, Interrupts, Report};
use crate::gates::analysis::planned_measurements;
use crate::simulation::Simulation;

/// How long what the fake swarm cannot know takes: from `planrun.toml`'s `[simulation]`, or
/// measured by an earlier run (`--calibrate-from`).
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// From a task's creation to its container running.
    pub task_start: Duration,
    /// Each gate measurement (a command gate runs a program, an HTTP gate waits on a server).
    pub measurement: Duration,
    /// Per gate, each measurement, where measured.
    pub gate_measurement: BTreeMap<String, Duration>,
    /// Each `run` step's command, unless `command` has the step.
    pub run_command: Duration,
    /// Per `run` step, its command.
    pub command: BTreeMap<String, Duration>,
    /// Each SQL statement of a migration.
    pub statement: Duration,
    /// How long a person takes to answer (a manual pause or promotion).
    pub approval: Duration,
    /// Steps running at once, at most, as `planrun apply --parallelism` runs them.
    pub parallelism: usize,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            task_start: Duration::from_secs(1),
            measurement: Duration::from_millis(200),
            gate_measurement: BTreeMap::new(),
            run_command: Duration::from_secs(1),
            command: BTreeMap::new(),
            statement: Duration::from_millis(100),
            approval: Duration::ZERO,
            parallelism: crate::executor::PARALLELISM,
        }
    }
}

/// What goes wrong in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing: every gate passes, every task is healthy.
    Nothing,
    /// The gate fails the first time it is judged, after using its whole allowance.
    Gate(String),
    /// The gate fails its judgement number `k` (from 0, in the order judgements begin, in
    /// every step that judges it), after using its whole allowance; the others pass.
    GateAt(String, u64),
    /// The check step fails at its own judgements: each (gate, judgement number) it makes when
    /// all goes well fails, after using its whole allowance (`pinned` makes it from `Step`).
    Judgements(String, Vec<(String, u64)>),
    /// The step fails: a service step's new tasks never turn healthy; a run step's command
    /// exits 1; a check step's gates fail; a manual pause is refused; a backup's dump is
    /// unreadable; a migration's first statement fails.
    Step(String),
}

/// One step as it ran in the simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    /// Its name.
    pub step: String,
    /// Virtual milliseconds from the start of the run.
    pub started_ms: u64,
    /// When it ended (`None`: it never ended, the run stopped first).
    pub finished_ms: Option<u64>,
    /// The specs of the services it changes, when it started (absent: no such service).
    pub before: BTreeMap<String, ServiceSpec>,
    /// The same when it ended.
    pub after: BTreeMap<String, ServiceSpec>,
}

/// A simulated run.
#[derive(Debug, Clone)]
pub struct Simulated {
    /// Every event a review reads ([`Reviewed`]), with virtual times.
    pub records: Vec<Record>,
    /// How it ended.
    pub report: Report,
    /// Steps in the order they started.
    pub steps: Vec<StepRun>,
    /// Every service's spec at the start.
    pub initial: BTreeMap<String, ServiceSpec>,
    /// Every service's spec at the end.
    pub last: BTreeMap<String, ServiceSpec>,
    /// Virtual milliseconds from start to end.
    pub total_ms: u64,
    /// Statements the database ran, in order.
    pub statements: Vec<String>,
}

/// Captures the specs of the services a step changes (its own, and those it creates beside
/// them, such as a canary) when it starts and ends.
struct Snapshots {
    cluster: FakeCluster,
    /// Per step, the services it changes.
    touches: BTreeMap<String, Vec<String>>,
    steps: Mutex<Vec<StepRun>>,
}

fn specs(cluster: &FakeCluster) -> BTreeMap<String, ServiceSpec> {
    cluster.service_names().into_iter().filter_map(|n| cluster.spec(&n).map(|s| (n, s))).collect()
}

impl Snapshots {
    fn of_step(&self, step: &str) -> BTreeMap<String, ServiceSpec> {
        let Some(own) = self.touches.get(step).filter(|own| !own.is_empty()) else { return BTreeMap::new() };
        let beside =
            |n: &str| own.iter().any(|o| n == o || n.strip_prefix(o.as_str()).is_some_and(|r| r.starts_with('-')));
        let mut names: Vec<String> = own.clone();
        // Services created beside the step's own (a canary) show up under their own name.
        for o in own {
            names.extend(self.cluster.service_names_from(o).into_iter().filter(|n| beside(n)));
        }
        names.sort();
        names.dedup();
        names.into_iter().filter_map(|n| self.cluster.spec(&n).map(|s| (n, s))).collect()
    }
}

impl Sink for Arc<Snapshots> {
    fn record(&self, record: &Record) {
        match &record.event {
            Event::StepStarted { step, .. } => {
                let now = self.of_step(step);
                self.steps.lock().expect("snapshots poisoned").push(StepRun {
                    step: step.clone(),
                    started_ms: record.elapsed_ms,
                    finished_ms: None,
                    before: now,
                    // Set when it ends; one that never ends keeps `before` (see `simulate`).
                    after: BTreeMap::new(),
                });
            }
            Event::StepFinished { step, .. } => {
                let now = self.of_step(step);
                let mut steps = self.steps.lock().expect("snapshots poisoned");
                if let Some(run) = steps.iter_mut().rev().find(|s| s.step == *step) {
                    run.finished_ms = Some(record.elapsed_ms);
                    run.after = now;
                }
            }
            _ => {}
        }
    }
}

/// Keeps the events a review reads of a run: all but progress other than a batch's judgement
/// beginning (`plan::story`) and measurements other than a judgement's first
/// (`worst::Numbering`). The others are most of a large plan's events (132,000 of 158,000 for
/// 1,000 canaries of ten stages) and are dropped as they come; the sinks before this one (and
/// so the worst case's follower) hear every event.
struct Reviewed(Arc<Memory>);

impl Reviewed {
    fn reads(event: &Event) -> bool {
        !matches!(event, Event::StepProgress { message, .. } if !message.starts_with(crate::steps::batches::JUDGING))
            && !matches!(event, Event::Measurement { number, .. } if *number != 1)
    }
}

impl Sink for Reviewed {
    fn record(&self, record: &Record) {
        if Reviewed::reads(&record.event) {
            self.0.record(record);
        }
    }

    fn keep(&self, record: Record) {
        if Reviewed::reads(&record.event) {
            self.0.keep(record);
        }
    }
}

/// Runs `plan` against a fake swarm holding `live`, in virtual time, on a thread of its own
/// (a paused clock needs a runtime of its own). `plan_dir` is where the files it names are.
pub fn run(
    plan: &Plan,
    graph: &PlanGraph,
    plan_dir: &Path,
    live: &LiveState,
    knobs: &Knobs,
    failure: &Failure,
) -> Simulated {
    run_beside(plan, graph, plan_dir, live, knobs, failure, Beside::default())
}

/// What a run shares with one that runs at the same time (`plan::worst`).
#[derive(Default)]
pub struct Beside {
    /// Hears every event of the run, besides its own sinks.
    pub sink: Option<Arc<dyn Sink>>,
    /// Decides the judgements the failure does not script.
    pub decider: Option<crate::gates::probe::Decider>,
}

/// `run`, with `beside`'s sink hearing it and its decider deciding judgements.
pub fn run_beside(
    plan: &Plan,
    graph: &PlanGraph,
    plan_dir: &Path,
    live: &LiveState,
    knobs: &Knobs,
    failure: &Failure,
    beside: Beside,
) -> Simulated {
    let (plan, graph, live, knobs, failure) =
        (plan.clone(), graph.clone(), live.clone(), knobs.clone(), failure.clone());
    let plan_dir = plan_dir.to_path_buf();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // Time only: nothing simulated does I/O on a socket or a child process, and with an
                // I/O driver every timer the simulation sets wrote to an eventfd to wake it (a
                // tenth of planning 1,000 canaries went to those writes: docs/benchmarks.md).
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .start_paused(true)
                    .build()
                    .expect("cannot start the simulation's runtime");
                runtime.block_on(simulate(plan, graph, plan_dir, live, knobs, failure, beside))
            })
            .join()
            .expect("the simulation panicked")
    })
}

async fn simulate(
    mut plan: Plan,
    graph: PlanGraph,
    plan_dir: PathBuf,
    live: LiveState,
    knobs: Knobs,
    failure: Failure,
    beside: Beside,
) -> Simulated {
    let mut sim = Simulation::new();
    if let Some(decider) = beside.decider {
        sim.probe.decide_judgements(decider);
    }
    sim.cluster.set_timing(Timing { start: knobs.task_start, ..Timing::default() });
    // The live daemon keeps only the fields of its API version: so does the simulated one.
    sim.cluster.set_api_version(live.api_version);
    for n in &live.networks {
        sim.cluster.add_network_with_id(&n.id, &n.name);
    }
    for c in &live.configs {
        sim.cluster.add_config(c.clone().into());
    }
    for (id, name, labels) in &live.secrets {
        sim.cluster.add_secret(crate::cluster::SecretObject {
            id: id.clone(),
            name: name.clone(),
            labels: labels.clone().into_iter().collect(),
        });
    }
    // The fake has one node unless a global service runs on more now: then as many as the most.
    let nodes = live.services.values().filter(|s| crate::services::spec::is_global(&s.spec)).map(|s| s.running).max();
    if let Some(n) = nodes.filter(|n| *n > 1) {
        let names: Vec<String> = (1..=n).map(|i| format!("node-{i}")).collect();
        sim.cluster.set_nodes(&names.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for service in live.services.values() {
        sim.cluster.add_service(service.spec.clone());
    }
    sim.probe.latency = knobs.measurement;
    for (gate, takes) in &knobs.gate_measurement {
        sim.probe.set_latency(gate, *takes);
    }
    sim.approver.after = knobs.approval;
    sim.database.statement_time(knobs.statement);
    for step in &plan.steps {
        if let StepKind::Run(r) = &step.kind {
            let argv: Vec<String> = r.command.iter().map(|a| a.value.clone()).collect();
            let takes = knobs.command.get(&step.name.value).copied().unwrap_or(knobs.run_command);
            sim.commands.script(&crate::commands::display(&argv), Script::ok(takes));
        }
    }
    // Dumps go to a directory of their own, removed at the end: planning writes nothing.
    // A fresh directory no one else can have made (0700, O_EXCL); without one, no backup runs.
    let temp = crate::private::temp_dir("planrun-plan-").ok();
    let dumps = match &temp {
        Some(t) => t.path().to_path_buf(),
        None => std::env::temp_dir().join(format!("planrun-plan-unmade-{}", std::process::id())),
    };
    let mut backups = false;
    for step in &mut plan.steps {
        if let StepKind::Backup(b) = &mut step.kind {
            b.to.value = dumps.display().to_string();
            backups = true;
        }
    }
    arrange(&mut sim, &plan, &failure, &knobs);

    let initial = specs(&sim.cluster);
    let memory = Arc::new(Memory::default());
    let touches = plan
        .steps
        .iter()
        .map(|s| {
            let own = s
                .kind
                .resources()
                .into_iter()
                .filter_map(|r| match r {
                    plans::steps::Resource::Service(name) => Some(name),
                    plans::steps::Resource::Database(_) => None,
                })
                .collect();
            (s.name.value.clone(), own)
        })
        .collect();
    let snapshots = Arc::new(Snapshots { cluster: sim.cluster.clone(), touches, steps: Mutex::new(Vec::new()) });
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(snapshots.clone())];
    sinks.extend(beside.sink.map(|s| Box::new(s) as Box<dyn Sink>));
    // Last: it keeps each record as it is handed over, without a copy (`Sink::keep`).
    sinks.push(Box::new(Reviewed(memory.clone())));
    let ctx = sim.context(&plan.stack.value, "r-plan", sinks);
    let executor = Executor { ctx, parallelism: knobs.parallelism.max(1), interrupts: Interrupts::default() };
    let started = tokio::time::Instant::now();
    let plan = Arc::new(plan);
    let report = executor.run(&plan, &graph, &Arc::new(plan_dir)).await;
    let total_ms = started.elapsed().as_millis() as u64;
    drop(temp);
    let mut steps = std::mem::take(&mut *snapshots.steps.lock().expect("snapshots poisoned"));
    for s in steps.iter_mut().filter(|s| s.finished_ms.is_none()) {
        s.after = s.before.clone();
    }
    let (mut records, mut report) = (memory.take(), report);
    if backups {
        // Dumps named in messages are in the throwaway directory, with the wall clock in
        // their names: show where the real run would put them instead.
        let scrub = |text: &str| scrub_dumps(text, &dumps.display().to_string());
        for r in &mut records {
            if let Ok(json) = serde_json::to_string(&r.event)
                && json.contains(&dumps.display().to_string())
                && let Ok(event) = serde_json::from_str(&scrub(&json))
            {
                r.event = event;
            }
        }
        report.reason = report.reason.as_deref().map(scrub);
    }
    // What the simulated swarm, gates and database say of the failures a scenario arranges is
    // put in the words of a review: nothing there failed for real.
    // Most records carry none of those words: they are looked for in the record's JSON text
    // first (one pass for all words), as a round trip through a JSON value per record was a
    // tenth of a large plan's time.
    let mut text = Vec::new();
    for r in &mut records {
        text.clear();
        if serde_json::to_writer(&mut text, &r.event).is_err() || !STAND_IN.is_match(&text) {
            continue;
        }
        if let Ok(mut json) = serde_json::to_value(&r.event) {
            reword_json(&mut json);
            if let Ok(event) = serde_json::from_value(json) {
                r.event = event;
            }
        }
    }
    report.reason = report.reason.as_deref().map(reword);
    Simulated {
        records,
        report,
        steps,
        initial,
        last: specs(&sim.cluster),
        total_ms,
        statements: sim.database.applied_statements(),
    }
}

/// `text` with every path into `dir` (up to the next space or quote) replaced by `<dump>`.
fn scrub_dumps(text: &str, dir: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(dir) {
        out.push_str(&rest[..at]);
        out.push_str("<dump>");
        rest = &rest[at..];
        let end = rest.find(|c: char| c.is_whitespace() || c == '"' || c == '\\').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every string in `value`, reworded.
fn reword_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = reword(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(reword_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(reword_json),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

/// The failure SQL statements are made to fail with (as the fake database says it).
const SQL: &str = "ERROR XX000: fake failure";

/// The stand-ins' own words, which `reword` replaces.
const STAND_IN_WORDS: [(&str, &str); 4] = [
    ("scripted fail", "made to fail"),
    ("scripted inconclusive", "made inconclusive"),
    ("scripted error", "made to error"),
    ("not approved (simulation said no)", "not approved (made to refuse)"),
];

/// Finds any of the words `reword` replaces, in one pass (none of them needs escaping in JSON).
static STAND_IN: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    let words = [crate::cluster::fake::UNHEALTHY, SQL].into_iter().chain(STAND_IN_WORDS.iter().map(|(w, _)| *w));
    // A DFA: the scan runs over the JSON of every record of a run (a hundred thousand for a
    // large plan), and for six short words it is the quickest kind.
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(words)
        .expect("a handful of short words")
});

/// What the simulation's stand-ins say when a scenario makes something fail, in a reviewer's
/// words: a task's health check, a gate's measurement, a SQL statement (whose error would
/// otherwise read like a server's, with its source excerpt).
pub fn reword(text: &str) -> String {
    if !STAND_IN.is_match(text) {
        return text.to_owned();
    }
    let mut out = text.replace(crate::cluster::fake::UNHEALTHY, "its health check fails (made to fail)");
    for (scripted, words) in STAND_IN_WORDS {
        out = out.replace(scripted, words);
    }
    if let Some(at) = out.find(SQL) {
        let rest = &out[at + SQL.len()..];
        // The SQLSTATE line and the excerpt of the file, down to the excerpt's closing line.
        let mut cut = 0;
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            offset += line.len();
            let t = line.trim();
            if t.starts_with("SQLSTATE ") {
                cut = offset;
            }
            if t.starts_with('╰') && t.chars().skip(1).all(|c| c == '─') {
                cut = offset;
                break;
            }
        }
        let rest = rest[cut..].trim_start_matches('\n');
        let joined = if rest.is_empty() { String::new() } else { format!("; {rest}") };
        out = format!("{}the statement is made to fail{joined}", &out[..at]);
    }
    out
}

/// The outcomes that make one judgement of a gate fail on its last planned measurement: it
/// uses its whole allowance (every measurement it may take) before failing.
pub fn failing_late(plan: &Plan, gate: &str) -> Vec<Outcome> {
    let Some(g) = plan.gates.iter().find(|g| g.name.value == gate) else { return vec![Outcome::Fail] };
    let planned = planned_measurements(&g.analysis);
    let passes = planned.saturating_sub(g.analysis.failure_limit + 1);
    let mut out = vec![Outcome::Pass; passes as usize];
    out.push(Outcome::Fail);
    out
}

/// `failure` made exact with the run where all goes well: a check step fails at its own
/// judgements of its gates, not at those of earlier steps that judge the same gates.
pub fn pinned(plan: &Plan, best: &Simulated, failure: Failure) -> Failure {
    let Failure::Step(name) = &failure else { return failure };
    let Some(step) = plan.steps.iter().find(|s| s.name.value == *name) else { return failure };
    if !matches!(step.kind, StepKind::Check(_)) {
        return failure;
    }
    // Its own judgements of each gate, numbered as the probe numbers them.
    let mut numbering = super::worst::Numbering::default();
    let mut own = Vec::new();
    for r in &best.records {
        if let Some(super::worst::Judged::Began { step, gate, k }) = numbering.see(&r.event)
            && step == name
        {
            own.push((gate.to_owned(), k));
        }
    }
    // A check the best run never reached keeps failing every judgement of its gates.
    if own.is_empty() { failure } else { Failure::Judgements(name.clone(), own) }
}

/// Sets the world up so that `failure` happens.
fn arrange(sim: &mut Simulation, plan: &Plan, failure: &Failure, knobs: &Knobs) {
    match failure {
        Failure::Nothing => {}
        Failure::Gate(gate) => sim.probe.script_judgement(gate, 0, &failing_late(plan, gate)),
        Failure::GateAt(gate, k) => sim.probe.script_judgement(gate, *k, &failing_late(plan, gate)),
        Failure::Judgements(_, judgements) => {
            for (gate, k) in judgements {
                sim.probe.script_judgement(gate, *k, &failing_late(plan, gate));
            }
        }
        Failure::Step(name) => {
            let Some(step) = plan.steps.iter().find(|s| s.name.value == *name) else { return };
            match &step.kind {
                StepKind::Rolling(r) => sim.cluster.behave(&r.image.value, Behavior::NeverHealthy),
                StepKind::Canary(c) => sim.cluster.behave(&c.image.value, Behavior::NeverHealthy),
                StepKind::BlueGreen(b) => sim.cluster.behave(&b.image.value, Behavior::NeverHealthy),
                StepKind::Compose(c) => {
                    for s in c.resolved.iter().flat_map(|r| r.file.services.iter()) {
                        sim.cluster.behave(&s.image.value, Behavior::NeverHealthy);
                    }
                }
                StepKind::Run(r) => {
                    // It fails at the end of the time it would take to pass.
                    let argv: Vec<String> = r.command.iter().map(|a| a.value.clone()).collect();
                    let takes = knobs.command.get(name).copied().unwrap_or(knobs.run_command);
                    sim.commands.script(&crate::commands::display(&argv), Script::fails(takes, 1, "made to fail"));
                }
                StepKind::Check(c) => {
                    for gate in &c.gates {
                        // The check's own judgement: every judgement of the gate up to and
                        // including it fails (earlier steps' judgements of it are rare).
                        sim.probe.script(&gate.value, &failing_late(plan, &gate.value));
                    }
                }
                StepKind::Pause(p) => {
                    if matches!(p.wait, Wait::Manual) {
                        sim.approver.approved = false;
                    }
                }
                StepKind::Backup(_) => sim.database.bad_dumps(),
                StepKind::Migrate(m) => {
                    // Its first statement, as the checker split it; a step not resolved is
                    // refused before it sends any.
                    let first = m.resolved.as_ref().and_then(|r| r.file.statements.first());
                    sim.database.fail(first.map_or("", |s| s.text.as_str()), "XX000", 1);
                }
            }
        }
    }
}

/// Why `--fail NAME` cannot be drilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillError {
    /// The plan has no step or gate of that name.
    Unknown {
        /// The name given.
        name: String,
        /// The steps and gates it has.
        known: Vec<String>,
    },
    /// The step's kind cannot be made to fail (a timed pause).
    CannotFail {
        /// The step.
        name: String,
        /// Why, from the step's kind.
        why: &'static str,
    },
}

impl std::fmt::Display for DrillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrillError::Unknown { name, known } => {
                write!(f, "--fail {name}: the plan has no step or gate `{name}` (it has: {})", known.join(", "))
            }
            DrillError::CannotFail { name, why } => write!(f, "--fail {name}: {why}"),
        }
    }
}

impl std::error::Error for DrillError {}

/// Whether `failure` names something the plan can make fail; why not otherwise.
pub fn can_fail(plan: &Plan, name: &str) -> Result<Failure, DrillError> {
    if plan.gates.iter().any(|g| g.name.value == name) {
        return Ok(Failure::Gate(name.to_owned()));
    }
    let Some(step) = plan.steps.iter().find(|s| s.name.value == name) else {
        let steps = plan.steps.iter().map(|s| s.name.value.clone());
        let known = steps.chain(plan.gates.iter().map(|g| g.name.value.clone())).collect();
        return Err(DrillError::Unknown { name: name.to_owned(), known });
    };
    match crate::steps::behavior(&step.kind).drill() {
        Ok(()) => Ok(Failure::Step(name.to_owned())),
        Err(why) => Err(DrillError::CannotFail { name: name.to_owned(), why }),
    }
}

#[cfg(test)]
mod tests {
    use super::reword;

    #[test]
    fn a_stand_ins_words_become_a_reviewers() {
        assert_eq!(
            reword("gate `g` failed: 1 failed (limit 0): scripted fail at #3"),
            "gate `g` failed: 1 failed (limit 0): made to fail at #3"
        );
        let sql = "f.sql:5:1: ERROR XX000: fake failure\nSQLSTATE XX000\n\n  × fake failure\n   ╭─[f.sql:5:1]\n 5 │ ALTER TABLE t;\n   · ──┬──\n   ·   ╰── the server stopped here\n   ╰────\nthen more";
        assert_eq!(reword(sql), "f.sql:5:1: the statement is made to fail; then more");
        assert_eq!(
            reword(&format!("1 task failed: {}", crate::cluster::fake::UNHEALTHY)),
            "1 task failed: its health check fails (made to fail)"
        );
    }
}
