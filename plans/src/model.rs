//! The resolved model of a plan: what `planrun show --json` prints and the engine runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::gates::Gate;
pub use crate::gates::analysis::{Analysis, Sampling};
pub use crate::notify::Notify;
use crate::spanned::Spanned;
pub use crate::steps::Step;
pub use crate::watch::{OnRegression, Watch};

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
    /// Where to tell the team what a run does (`notify`), in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<Notify>,
    /// How long to keep judging gates after the release succeeded (`watch`), if at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
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
