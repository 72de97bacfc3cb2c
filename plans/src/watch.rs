//! `watch "2h" { gates a b; on-regression rollback }`: keep judging gates for a while after a
//! release succeeded, and undo the release (or only record the regression) when one fails.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::Decoder;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::PlanProblem;
use crate::duration::Duration;
use crate::kdl_fast::Node;
use crate::spanned::Spanned;

/// How long to keep watching a release after it succeeded, with which gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Watch {
    /// How long after the release the gates keep being judged.
    pub window: Spanned<Duration>,
    /// The gates judged, again and again, until the window ends or one does not pass.
    pub gates: Vec<Spanned<String>>,
    /// What a gate that does not pass does.
    #[serde(default)]
    pub on_regression: OnRegression,
}

/// What a watch does when a gate does not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnRegression {
    /// Undo the release, as `planrun rollback STACK` does.
    #[default]
    Rollback,
    /// Record the regression (in the swarm, shown by `planrun status`) and change nothing.
    Notify,
}

impl OnRegression {
    /// The word users write.
    pub fn word(self) -> &'static str {
        match self {
            OnRegression::Rollback => "rollback",
            OnRegression::Notify => "notify",
        }
    }
}

/// Decodes the `watch` node; `declared_gates` is how many gates the plan declares.
pub fn decode(d: &mut Decoder<'_>, node: &Node, declared_gates: usize) -> Option<Watch> {
    let mut fields = d.fields(node, "`watch`");
    d.no_more_args(&fields, 1);
    let args = d.args(node);
    let window = match args.first() {
        Some(value) => d.as_duration("watch", *value),
        None => {
            d.push(Diagnostic::new(PlanProblem::WatchWithoutWindow, node.name().span()));
            None
        }
    };
    if let Some(w) = &window
        && w.value == Duration::ZERO
    {
        d.push(Diagnostic::new(PlanProblem::WatchOfNothing, w.span));
    }
    let named = fields.sets("gates");
    let gates = d.gate_names(&mut fields, "gates");
    if !named {
        d.push(Diagnostic::new(PlanProblem::WatchWithoutGates { declared: declared_gates }, node.name().span()));
    }
    let options = [("rollback", OnRegression::Rollback), ("notify", OnRegression::Notify)];
    let on_regression = d.choice(&mut fields, "on-regression", &options).map(|c| c.value).unwrap_or_default();
    d.finish(fields);
    let window = window?;
    if gates.is_empty() || window.value == Duration::ZERO {
        return None;
    }
    Some(Watch { window, gates, on_regression })
}
