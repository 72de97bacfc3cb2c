//! Step kinds: one file per kind, named as users write them.

pub mod backup;
pub mod blue_green;
pub mod canary;
pub mod check;
pub mod migrate;
pub mod pause;
pub mod rolling;
pub mod run;
pub mod update;

use crate::kdl_fast::Node;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Step;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::suggest;

pub use backup::Backup;
pub use blue_green::BlueGreen;
pub use canary::Canary;
pub use check::Check;
pub use migrate::Migrate;
pub use pause::Pause;
pub use rolling::Rolling;
pub use run::Run;
pub use update::UpdatePolicy;

/// What a step does.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepKind {
    /// Replace a service's tasks a few at a time.
    Rolling(Rolling),
    /// Run the new image on a few replicas first, then promote.
    Canary(Canary),
    /// Start the new release beside the old one and switch traffic at once.
    BlueGreen(BlueGreen),
    /// Dump a database and verify the dump.
    Backup(Backup),
    /// Apply a SQL migration.
    Migrate(Migrate),
    /// Wait for named gates to pass.
    Check(Check),
    /// Run a command.
    Run(Run),
    /// Wait for a time, or for a person.
    Pause(Pause),
}

/// The step keywords, as written in a plan.
pub const KEYWORDS: &[&str] = &["rolling", "canary", "blue-green", "backup", "migrate", "check", "run", "pause"];

/// Something two steps must not change at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A Swarm service.
    Service(String),
    /// A database, by its connection target.
    Database(String),
}

impl StepKind {
    /// The keyword that introduces this kind.
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Rolling(_) => "rolling",
            StepKind::Canary(_) => "canary",
            StepKind::BlueGreen(_) => "blue-green",
            StepKind::Backup(_) => "backup",
            StepKind::Migrate(_) => "migrate",
            StepKind::Check(_) => "check",
            StepKind::Run(_) => "run",
            StepKind::Pause(_) => "pause",
        }
    }

    /// Every gate the step names.
    pub fn gates(&self) -> Vec<&Spanned<String>> {
        match self {
            StepKind::Rolling(r) => r.gates.iter().collect(),
            StepKind::Canary(c) => c.gates.iter().chain(c.stages.iter().flat_map(|s| s.gates.iter())).collect(),
            StepKind::BlueGreen(b) => b.preview_gates.iter().chain(b.gates.iter()).collect(),
            StepKind::Check(c) => c.gates.iter().collect(),
            StepKind::Backup(_) | StepKind::Migrate(_) | StepKind::Run(_) | StepKind::Pause(_) => Vec::new(),
        }
    }

    /// What the step changes; steps sharing a resource run in file order.
    pub fn resources(&self) -> Vec<Resource> {
        match self {
            StepKind::Rolling(r) => vec![Resource::Service(r.service.value.clone())],
            StepKind::Canary(c) => vec![Resource::Service(c.service.value.clone())],
            StepKind::BlueGreen(b) => {
                let mut out = vec![Resource::Service(b.blue.value.clone()), Resource::Service(b.green.value.clone())];
                if let Some(router) = b.switch.router() {
                    out.push(Resource::Service(router.to_owned()));
                }
                out
            }
            StepKind::Backup(b) => vec![Resource::Database(b.database.key())],
            StepKind::Migrate(m) => vec![Resource::Database(m.database.key())],
            StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_) => Vec::new(),
        }
    }

    /// Whether the step rolls out a new release of a service.
    pub fn is_deployment(&self) -> bool {
        matches!(self, StepKind::Rolling(_) | StepKind::Canary(_) | StepKind::BlueGreen(_))
    }
}

/// Decodes one step node; `defaults` is the matching node of the plan's `defaults` block.
pub fn decode(d: &mut Decoder<'_>, node: &Node, defaults: Option<&Node>) -> Option<Step> {
    let keyword = node.name().value();
    let keyword_span = node.name().span();
    let what = |name: &str| format!("{keyword} step `{name}`");
    let name = d.name_arg(node, "step");
    let label = name.as_ref().map(|n| what(&n.value)).unwrap_or_else(|| format!("this {keyword} step"));
    let fields = d.with_defaults(d.fields(node, label), defaults);
    decode_fields(d, fields, name, keyword_span)
}

/// Checks a `defaults` entry the way a step of that kind would read it.
pub fn decode_defaults(d: &mut Decoder<'_>, node: &Node) {
    let mut fields = d.fields(node, format!("the defaults for {} steps", node.name().value()));
    fields.is_defaults = true;
    d.no_more_args(&fields, 0);
    let keyword_span = fields.name_span();
    decode_kind(d, &mut fields, keyword_span);
    d.finish(fields);
}

fn decode_fields(
    d: &mut Decoder<'_>,
    mut fields: Fields<'_>,
    name: Option<Spanned<String>>,
    keyword_span: Span,
) -> Option<Step> {
    let extra_args = if fields.node().name().value() == "pause" { 2 } else { 1 };
    d.no_more_args(&fields, extra_args);
    let mut after = d.names(&mut fields, "after");
    after.dedup_by(|a, b| a.value == b.value);
    let kind = decode_kind(d, &mut fields, keyword_span);
    d.finish(fields);
    Some(Step { name: name?, after, kind: kind?, keyword_span })
}

fn decode_kind(d: &mut Decoder<'_>, fields: &mut Fields<'_>, keyword_span: Span) -> Option<StepKind> {
    Some(match fields.node().name().value() {
        "rolling" => StepKind::Rolling(Rolling::decode(d, fields)?),
        "canary" => StepKind::Canary(Canary::decode(d, fields)?),
        "blue-green" => StepKind::BlueGreen(BlueGreen::decode(d, fields)?),
        "backup" => StepKind::Backup(Backup::decode(d, fields)?),
        "migrate" => StepKind::Migrate(Migrate::decode(d, fields)?),
        "check" => StepKind::Check(Check::decode(d, fields)?),
        "run" => StepKind::Run(Run::decode(d, fields)?),
        "pause" => StepKind::Pause(Pause::decode(d, fields)?),
        other => {
            let help = suggest::help_for(other, "steps are", KEYWORDS);
            d.push(
                Diagnostic::error(
                    Code::UnknownNode,
                    format!("unknown step kind `{other}`"),
                    keyword_span,
                    "not a step kind",
                )
                .with_optional_help(help),
            );
            return None;
        }
    })
}
