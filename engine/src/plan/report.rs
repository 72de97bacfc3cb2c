//! What `planrun plan` reports, as one value: the human and markdown renderings are made from
//! it, and `--format json` prints it as it is (schema/plan-report.schema.json, versioned by
//! `format`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::diff::FieldChange;

/// The version of the JSON format; a change that removes or renames a field bumps it.
/// `/2`: `action` is a word, `on_failure` (each step's own drill) replaces `on_failure_undoes`,
/// offline `before` values are `null` with `before_unknown`, and the report names its
/// environment, irreversible steps, canary stages and traffic switches.
pub const FORMAT: &str = "planrun-plan/2";

/// How text says a value planrun could not read (offline): JSON says `null`.
pub const UNKNOWN: &str = "(unknown)";

/// The plan, for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanReport {
    /// `planrun-plan/2`.
    pub format: String,
    /// The plan's name.
    pub plan: String,
    /// The stack.
    pub stack: String,
    /// The plan file.
    pub file: String,
    /// The environment of planrun.toml the plan was read with (`--env`, or its
    /// `default-environment`); `null` without one.
    pub environment: Option<String>,
    /// What was live, or why nothing live was read.
    pub live: LiveView,
    /// Every step, in the order it starts when all goes well.
    pub steps: Vec<StepPlan>,
    /// Counts of what changes.
    pub summary: Summary,
    /// Steps that may run together, wave by wave: a step waits for the waves before it.
    pub order: Vec<Vec<String>>,
    /// Every step's undo record (its newest), newest first, as recorded when all goes well.
    /// What a failure of each step undoes is that step's `on_failure`.
    pub rollback: Vec<UndoEntry>,
    /// Steps a rollback cannot undo (a migration without a down file, a command without an
    /// undo), in plan order.
    pub irreversible: Vec<Irreversible>,
    /// How long it takes, simulated.
    pub timeline: Timeline,
    /// The failure drill asked for with `--fail`.
    pub drill: Option<Drill>,
    /// What the estimate assumed.
    pub assumptions: Vec<String>,
    /// Who `apply` tells, about what (the plan's `notify`); `planrun plan` sends nothing.
    #[serde(default)]
    pub notifications: Vec<String>,
    /// What watches the release after it succeeds (the plan's `watch`), in words; not part of
    /// the timeline (`apply` exits as it starts).
    #[serde(default)]
    pub watch: Option<String>,
}

/// What is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveView {
    /// `live` (read from the swarm) or `offline` (from the plan alone).
    pub mode: String,
    /// Why offline: `--offline`, or why the swarm could not be reached.
    pub offline_because: Option<String>,
    /// When the swarm was read, RFC 3339.
    pub read_at: Option<String>,
    /// Who holds the deploy lock: `alice@ci-7 (run r-..., since ...)`.
    pub lock: Option<String>,
    /// A run waiting for a person: `run r-... waits at step \`promote\`: ...`.
    pub waiting: Option<String>,
    /// The live colour of each blue-green step.
    pub colours: Vec<Colour>,
    /// Canaries left on the swarm: `shop_web-canary (canary of shop_web, stage 1)`.
    pub canaries: Vec<String>,
    /// Services Swarm is updating, rolling back or has paused (apply refuses them):
    /// `shop_web (updating)`.
    pub busy: Vec<String>,
}

/// A blue-green step's colours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Colour {
    /// The step.
    pub step: String,
    /// The live colour's service, when it can be told.
    pub live: Option<String>,
    /// Why it cannot be told.
    pub unknown_because: Option<String>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepPlan {
    /// Its name.
    pub step: String,
    /// Its kind keyword.
    pub kind: String,
    /// The steps it waits for.
    pub after: Vec<String>,
    /// The gates it judges, in the order it judges them (a gate judged at several points is
    /// listed each time).
    pub gates: Vec<String>,
    /// What it changes on services.
    pub changes: Vec<ServiceChange>,
    /// What it does to databases and elsewhere: `runs migrations/001_expand.sql`.
    pub actions: Vec<String>,
    /// Whether it changes nothing live.
    pub unchanged: bool,
    /// A canary step's stages and promotion.
    pub canary: Option<CanaryPlan>,
    /// A blue-green step's traffic switch.
    pub switch: Option<SwitchPlan>,
    /// Why apply refuses the step before anything changes: it would take from running services
    /// what the plan does not allow. `changes` then shows what it would change if allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// What its undo puts back (its newest record).
    pub undo: Vec<String>,
    /// If it fails: what `planrun plan --fail STEP` shows, from the same drill.
    pub on_failure: OnFailure,
    /// Simulated start, milliseconds from the start of the run (all going well).
    pub start_ms: u64,
    /// Simulated end.
    pub end_ms: u64,
}

/// What undoing one step puts back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UndoEntry {
    /// The step.
    pub step: String,
    /// What its undo does: `shop_web back to app:v1`, `run down.sql on ...`.
    pub undo: String,
    /// When the step recorded it, simulated milliseconds from the start.
    pub recorded_ms: u64,
}

/// A service a step creates, changes or removes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceChange {
    /// The service.
    pub service: String,
    /// `create`, `update` or `remove`.
    pub action: String,
    /// The fields that differ (for a change).
    pub fields: Vec<FieldChange>,
}

/// Counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Services created.
    pub create: usize,
    /// Services changed.
    pub change: usize,
    /// Services removed.
    pub remove: usize,
    /// Steps that change nothing live.
    pub unchanged_steps: usize,
    /// Whether applying would change anything (`--detailed-exitcode` exits 2 when it would).
    pub changes_present: bool,
}

/// How long it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timeline {
    /// How the simulated release ends when nothing is made to fail: `succeeded`, or how it
    /// failed on its own (a service that cannot be told apart, an approval refused).
    pub best_outcome: String,
    /// Why it did not succeed.
    pub best_failure: Option<String>,
    /// Every gate passes the first time.
    pub best_ms: u64,
    /// The last gate judged uses its whole allowance and fails, then everything rolls back.
    pub worst_ms: u64,
    /// What fails in the worst case.
    pub worst_failing: Option<String>,
    /// Of the worst case, the rollback.
    pub worst_rollback_ms: u64,
    /// How the worst case ends: `rolled-back`, or `rollback-failed` when an undo cannot run
    /// (a migration without a down file).
    pub worst_outcome: String,
    /// Why, when it does not end rolled back.
    pub worst_reason: Option<String>,
}

/// A failure drill: what planrun does when one step or gate fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Drill {
    /// The step or gate made to fail.
    pub failing: String,
    /// How the run ends: `rolled-back`, `paused`, `rollback-failed`.
    pub outcome: String,
    /// What happens, in order.
    pub story: Vec<Moment>,
    /// The steps undone, in the order their undos end.
    pub rollback_order: Vec<String>,
    /// The same steps in turns: the undos of one turn run at once (independent branches),
    /// each turn's start after the one before has ended.
    pub rollback_turns: Vec<Vec<String>>,
    /// Every service and database at the end.
    pub final_state: Vec<FinalState>,
    /// Simulated time to the end.
    pub total_ms: u64,
}

/// One thing that happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Moment {
    /// Milliseconds from the start.
    pub at_ms: u64,
    /// What.
    pub what: String,
}

/// A service or database at the end of a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FinalState {
    /// Its name.
    pub name: String,
    /// How it is: `app:v1 (as before)`, `app:v2 (changed)`.
    pub state: String,
}

/// What happens when one step fails: the drill `planrun plan --fail STEP` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OnFailure {
    /// How the run ends: `rolled-back`, `paused`, `rollback-failed`; `null` when not drilled.
    pub outcome: Option<String>,
    /// Steps running beside it that are stopped, in the order they stop.
    pub stopped: Vec<String>,
    /// The steps undone, in the order their undos end (the drill's rollback order).
    pub undone: Vec<String>,
    /// The same steps in turns: the undos of one turn run at once (independent branches).
    pub undone_turns: Vec<Vec<String>>,
    /// Why the run does not end rolled back, when it does not (a rollback stopped at a migration
    /// without a down file; a plan that pauses on failure).
    pub reason: Option<String>,
    /// Why there is no drill: a step that cannot be made to fail, or a plan too large to drill
    /// step by step.
    pub not_drilled: Option<String>,
}

/// A step a rollback cannot undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Irreversible {
    /// The step.
    pub step: String,
    /// What is left done and what a person does about it.
    pub why: String,
}

/// A canary step, stage by stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryPlan {
    /// The canary service planrun creates beside the service.
    pub canary: String,
    /// Its stages, in order.
    pub stages: Vec<CanaryStage>,
    /// `auto` (when the last stage passes) or `manual` (a person approves).
    pub promote: String,
}

/// One stage of a canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryStage {
    /// The canary's share: `10%` of the traffic or `2 replicas`.
    pub share: String,
    /// The wait after it: `5m`, `manual`; `null` without one.
    pub pause: Option<String>,
    /// The gates judged at this stage.
    pub gates: Vec<String>,
}

/// A blue-green step's traffic switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SwitchPlan {
    /// How traffic moves: `alias app on network shop`, `nginx router shop_nginx`.
    pub how: String,
    /// The colour live now, which traffic leaves; `null` when unknown (offline, or the swarm
    /// cannot tell).
    pub from: Option<String>,
    /// The colour the step deploys and traffic moves to; `null` when unknown.
    pub to: Option<String>,
    /// How long the old colour is kept running after the switch (`keep-old`).
    pub keep_old: String,
}
