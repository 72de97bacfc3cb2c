//! The resolved model of a plan: what `planrun show --json` prints and the engine runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::gates::GateKind;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::steps::StepKind;

/// A checked plan with every variable resolved.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// The plan's name.
    pub name: Spanned<String>,
    /// The stack the plan deploys; the deploy lock is per stack.
    pub stack: Spanned<String>,
    /// What happens when a step or gate fails.
    pub on_failure: OnFailure,
    /// A file to append one line per run to.
    pub log: Option<Spanned<String>>,
    /// Variables and the values they resolved to.
    pub variables: Vec<Variable>,
    /// Gates, declared once and used by name.
    pub gates: Vec<Gate>,
    /// Steps in file order.
    pub steps: Vec<Step>,
}

/// What happens when a step or gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Undo every completed step in reverse order, then verify the old release.
    #[default]
    Rollback,
    /// Stop where it failed and say how to resume or roll back.
    Pause,
}

/// A variable and where its value came from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Variable {
    /// The name used in `${name}`.
    pub name: Spanned<String>,
    /// The resolved value.
    pub value: String,
    /// Where the value came from.
    pub source: VariableSource,
}

/// Where a variable's value came from, in order of precedence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VariableSource {
    /// `--var name=value` on the command line.
    Override,
    /// The environment variable named by `env=`.
    Environment(String),
    /// The selected environment in `planrun.toml`.
    Project(String),
    /// The plan's `default=`.
    Default,
}

/// A named health gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Gate {
    /// The name steps use.
    pub name: Spanned<String>,
    /// What is measured.
    pub kind: GateKind,
    /// How measurements are taken and judged.
    pub analysis: Analysis,
}

/// How a gate takes measurements and turns them into a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Analysis {
    /// Wait this long before the first measurement.
    pub initial_delay: Duration,
    /// Time between measurements.
    pub interval: Duration,
    /// How many measurements, or for how long.
    pub sampling: Sampling,
    /// The gate fails when more measurements than this fail.
    pub failure_limit: u64,
    /// The gate is inconclusive when more measurements than this are inconclusive.
    pub inconclusive_limit: u64,
    /// The gate errors when more consecutive measurements than this error.
    pub error_limit: u64,
    /// Time allowed for one measurement.
    pub timeout: Duration,
}

/// How many measurements a gate takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Exactly this many measurements.
    Count(u64),
    /// Measurements every interval until this much time has passed.
    Window(Duration),
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            initial_delay: Duration::ZERO,
            interval: Duration::from_secs(10),
            sampling: Sampling::Count(1),
            failure_limit: 0,
            inconclusive_limit: 0,
            error_limit: 4,
            timeout: Duration::from_secs(5),
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    /// Unique name.
    pub name: Spanned<String>,
    /// Steps that must finish first, as written.
    pub after: Vec<Spanned<String>>,
    /// What the step does.
    #[serde(flatten)]
    pub kind: StepKind,
    /// The span of the step's node name (`rolling`).
    #[serde(skip)]
    #[schemars(skip)]
    pub keyword_span: Span,
}

impl Plan {
    /// The gate with this name.
    pub fn gate(&self, name: &str) -> Option<&Gate> {
        self.gates.iter().find(|g| g.name.value == name)
    }

    /// The step with this name.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name.value == name)
    }
}
