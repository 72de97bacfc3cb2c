//! How Swarm replaces tasks: the update config shared by rolling and canary steps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::span::Span;

/// Start the new task before stopping the old one, or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// New task first: no gap in capacity (needs room for one more task).
    StartFirst,
    /// Old task first: a gap in capacity while the new one starts.
    StopFirst,
}

/// What Swarm does when an updated task fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureAction {
    /// Roll the service back to its previous spec.
    Rollback,
    /// Pause the update.
    Pause,
    /// Carry on with the next tasks.
    Continue,
}

/// When a step's gates are judged against a release Swarm is rolling out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AnalysisMode {
    /// From the first new task on: a judgement begins as each batch of new tasks runs, and the
    /// first failing verdict stops the step (its undo starts) while later batches still run
    /// the old release. The step ends once the update has converged and a judgement begun
    /// with every task on the new release has passed. The default: the safe one.
    #[default]
    PerBatch,
    /// Only once the update has converged (every task replaced): planrun before issue 22.
    After,
}

/// How the new release's tasks leave when the step is undone while old tasks still serve
/// beside them (a failing verdict on an early batch, a later step's failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnUndo {
    /// As Swarm stops any task: out of its DNS, then stopped 2 s later (its gossip delay), so
    /// clients that cached the address move on first. The new tasks answer meanwhile. The
    /// default: it asks nothing of the clients.
    #[default]
    Drain,
    /// planrun stops the new tasks' containers on its own node the moment the undo writes the
    /// old spec, while Swarm's DNS may still list them: a bad release stops answering about
    /// 3 s sooner. Clients must give up on a dead address fast and try the next one (nginx:
    /// `proxy_connect_timeout 250ms` with `proxy_next_upstream error timeout`).
    StopNow,
}

/// Reads `on-undo drain|stop-now`, when the step sets it.
pub fn decode_on_undo(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<crate::spanned::Spanned<OnUndo>> {
    d.choice(fields, "on-undo", &[("drain", OnUndo::Drain), ("stop-now", OnUndo::StopNow)])
}

/// Reads `analysis per-batch|after`, when the step sets it.
pub fn decode_analysis(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<crate::spanned::Spanned<AnalysisMode>> {
    let modes = [("per-batch", AnalysisMode::PerBatch), ("after", AnalysisMode::After)];
    d.choice(fields, "analysis", &modes)
}

/// The update config planrun applies to the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct UpdatePolicy {
    /// Tasks updated at once.
    pub parallelism: u64,
    /// Wait between batches.
    pub delay: Duration,
    /// start-first or stop-first.
    pub order: Order,
    /// What Swarm does when a new task fails.
    pub failure_action: FailureAction,
    /// How long each new task is watched for failure.
    pub monitor: Duration,
    /// Share of tasks that may fail before the failure action runs (0.0 to 1.0).
    pub max_failure_ratio: f64,
    /// The step fails when the update has not converged in this time.
    pub deadline: Duration,
    /// When the step's gates are judged: batch by batch during the update, or after it.
    pub analysis: AnalysisMode,
    /// How the new tasks leave when the step is undone half way.
    #[serde(default)]
    pub on_undo: OnUndo,
    /// Where `order` was written, for warnings.
    #[serde(skip)]
    #[schemars(skip)]
    pub order_span: Option<Span>,
    /// The settings the plan wrote (in the step or its defaults); a compose file's
    /// `update_config` fills in the others.
    #[serde(skip)]
    #[schemars(skip)]
    pub written: Vec<&'static str>,
}

impl Default for UpdatePolicy {
    /// planrun's defaults: safe for zero downtime, unlike Swarm's own (stop-first, pause).
    fn default() -> Self {
        UpdatePolicy {
            parallelism: 1,
            delay: Duration::ZERO,
            order: Order::StartFirst,
            failure_action: FailureAction::Rollback,
            monitor: Duration::from_secs(5),
            max_failure_ratio: 0.0,
            deadline: Duration::from_secs(600),
            analysis: AnalysisMode::default(),
            on_undo: OnUndo::default(),
            order_span: None,
            written: Vec::new(),
        }
    }
}

impl UpdatePolicy {
    /// Takes the settings the plan did not write from a compose file's `update_config`.
    pub fn fill_from(&mut self, c: &crate::compose::UpdateConfig) {
        let unwritten = |key: &str, p: &UpdatePolicy| !p.written.contains(&key);
        let millis = |ns: i64| Duration::from_millis((ns.max(0) / 1_000_000) as u64);
        if let Some(n) = c.parallelism.filter(|n| *n > 0 && unwritten("parallelism", self)) {
            self.parallelism = n;
        }
        if let Some(ns) = c.delay.filter(|_| unwritten("delay", self)) {
            self.delay = millis(ns);
        }
        if let Some(o) = c.order.as_deref().filter(|_| unwritten("order", self)) {
            self.order = if o == "stop-first" { Order::StopFirst } else { Order::StartFirst };
        }
        if let Some(a) = c.failure_action.as_deref().filter(|_| unwritten("failure-action", self)) {
            self.failure_action = match a {
                "pause" => FailureAction::Pause,
                "continue" => FailureAction::Continue,
                _ => FailureAction::Rollback,
            };
        }
        if let Some(ns) = c.monitor.filter(|_| unwritten("monitor", self)) {
            self.monitor = millis(ns);
        }
        if let Some(r) = c.max_failure_ratio.filter(|_| unwritten("max-failure-ratio", self)) {
            self.max_failure_ratio = r;
        }
    }

    /// Reads the update settings of a rolling or canary step.
    pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> UpdatePolicy {
        let mut p = UpdatePolicy::default();
        if let Some(n) = d.count(fields, "parallelism", false) {
            if n.value == 0 {
                d.push(Diagnostic::new(StepProblem::ZeroParallelism, n.span));
            }
            p.parallelism = n.value;
            p.written.push("parallelism");
        }
        if let Some(v) = d.duration(fields, "delay") {
            p.delay = v.value;
            p.written.push("delay");
        }
        if let Some(v) =
            d.choice(fields, "order", &[("start-first", Order::StartFirst), ("stop-first", Order::StopFirst)])
        {
            p.order = v.value;
            p.order_span = Some(v.span);
            p.written.push("order");
        }
        let actions = [
            ("rollback", FailureAction::Rollback),
            ("pause", FailureAction::Pause),
            ("continue", FailureAction::Continue),
        ];
        if let Some(v) = d.choice(fields, "failure-action", &actions) {
            p.failure_action = v.value;
            p.written.push("failure-action");
        }
        if let Some(v) = d.duration(fields, "monitor") {
            p.monitor = v.value;
            p.written.push("monitor");
        }
        if let Some(v) = d.number(fields, "max-failure-ratio") {
            if !(0.0..=1.0).contains(&v.value) {
                d.push(Diagnostic::new(StepProblem::FailureRatioOutOfRange { ratio: v.value }, v.span));
            }
            p.max_failure_ratio = v.value;
            p.written.push("max-failure-ratio");
        }
        if let Some(v) = d.duration(fields, "deadline") {
            p.deadline = v.value;
        }
        if let Some(v) = decode_analysis(d, fields) {
            p.analysis = v.value;
        }
        if let Some(v) = decode_on_undo(d, fields) {
            p.on_undo = v.value;
        }
        p
    }
}
