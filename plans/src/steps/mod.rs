//! Step kinds: one file per kind, named as users write them.

pub mod allow_removing;
pub mod backup;
pub mod blue_green;
pub mod canary;
pub mod check;
pub mod compose;
pub mod migrate;
pub mod pause;
pub mod rolling;
pub mod run;
pub mod update;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::kdl_fast::Node;
use crate::keywords::keyword_enum;
use crate::span::Span;
use crate::spanned::Spanned;

pub use backup::Backup;
pub use blue_green::BlueGreen;
pub use canary::Canary;
pub use check::Check;
pub use compose::Compose;
pub use migrate::Migrate;
pub use pause::Pause;
pub use rolling::Rolling;
pub use run::Run;
pub use update::UpdatePolicy;

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
    /// Deploy a compose file as a stack.
    Compose(Compose),
}

keyword_enum! {
    /// A step kind as written in a plan: one variant per [`StepKind`].
    pub enum StepKeyword {
        /// `rolling`
        Rolling = "rolling",
        /// `canary`
        Canary = "canary",
        /// `blue-green`
        BlueGreen = "blue-green",
        /// `backup`
        Backup = "backup",
        /// `migrate`
        Migrate = "migrate",
        /// `check`
        Check = "check",
        /// `run`
        Run = "run",
        /// `pause`
        Pause = "pause",
        /// `compose`
        Compose = "compose",
    }
}

/// The step keywords, as written in a plan.
pub const KEYWORDS: &[&str] = StepKeyword::NAMES;

impl StepKeyword {
    /// How many positional arguments the step node takes: its name, and for `pause` the wait.
    pub fn arguments(self) -> usize {
        match self {
            StepKeyword::Pause => 2,
            StepKeyword::Rolling
            | StepKeyword::Canary
            | StepKeyword::BlueGreen
            | StepKeyword::Backup
            | StepKeyword::Migrate
            | StepKeyword::Check
            | StepKeyword::Run
            | StepKeyword::Compose => 1,
        }
    }
}

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
        self.kind().keyword()
    }

    /// The kind, without its settings.
    pub fn kind(&self) -> StepKeyword {
        match self {
            StepKind::Rolling(_) => StepKeyword::Rolling,
            StepKind::Canary(_) => StepKeyword::Canary,
            StepKind::BlueGreen(_) => StepKeyword::BlueGreen,
            StepKind::Backup(_) => StepKeyword::Backup,
            StepKind::Migrate(_) => StepKeyword::Migrate,
            StepKind::Check(_) => StepKeyword::Check,
            StepKind::Run(_) => StepKeyword::Run,
            StepKind::Pause(_) => StepKeyword::Pause,
            StepKind::Compose(_) => StepKeyword::Compose,
        }
    }

    /// Every gate the step names.
    pub fn gates(&self) -> Vec<&Spanned<String>> {
        match self {
            StepKind::Rolling(r) => r.gates.iter().collect(),
            StepKind::Canary(c) => c.gates.iter().chain(c.stages.iter().flat_map(|s| s.gates.iter())).collect(),
            StepKind::BlueGreen(b) => b.preview_gates.iter().chain(b.gates.iter()).collect(),
            StepKind::Check(c) => c.gates.iter().collect(),
            StepKind::Compose(c) => c.gates.iter().collect(),
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
            StepKind::Compose(c) => c.services.iter().map(|s| Resource::Service(s.clone())).collect(),
            StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_) => Vec::new(),
        }
    }

    /// Whether the step rolls out a new release of a service.
    pub fn is_deployment(&self) -> bool {
        match self {
            StepKind::Rolling(_) | StepKind::Canary(_) | StepKind::BlueGreen(_) | StepKind::Compose(_) => true,
            StepKind::Backup(_) | StepKind::Migrate(_) | StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_) => {
                false
            }
        }
    }
}

/// Decodes one step node of kind `keyword`; `defaults` is the matching node of the plan's
/// `defaults` block.
pub fn decode(d: &mut Decoder<'_>, keyword: StepKeyword, node: &Node, defaults: Option<&Node>) -> Option<Step> {
    let keyword_span = node.name().span();
    let what = |name: &str| format!("{} step `{name}`", keyword.keyword());
    let name = d.name_arg(node, "step");
    let label = name.as_ref().map(|n| what(&n.value)).unwrap_or_else(|| format!("this {} step", keyword.keyword()));
    let mut fields = d.with_defaults(d.fields(node, label), defaults);
    d.no_more_args(&fields, keyword.arguments());
    let mut after = d.step_names(&mut fields, "after", keyword_span);
    after.dedup_by(|a, b| a.value == b.value);
    let kind = decode_kind(d, keyword, &mut fields);
    d.finish(fields);
    Some(Step { name: name?, after, kind: kind?, keyword_span })
}

/// Checks a `defaults` entry the way a step of that kind would read it.
pub fn decode_defaults(d: &mut Decoder<'_>, keyword: StepKeyword, node: &Node) {
    let mut fields = d.fields(node, format!("the defaults for {} steps", keyword.keyword()));
    fields.is_defaults = true;
    d.no_more_args(&fields, 0);
    decode_kind(d, keyword, &mut fields);
    d.finish(fields);
}

fn decode_kind(d: &mut Decoder<'_>, keyword: StepKeyword, fields: &mut Fields<'_>) -> Option<StepKind> {
    Some(match keyword {
        StepKeyword::Rolling => StepKind::Rolling(Rolling::decode(d, fields)?),
        StepKeyword::Canary => StepKind::Canary(Canary::decode(d, fields)?),
        StepKeyword::BlueGreen => StepKind::BlueGreen(BlueGreen::decode(d, fields)?),
        StepKeyword::Backup => StepKind::Backup(Backup::decode(d, fields)?),
        StepKeyword::Migrate => StepKind::Migrate(Migrate::decode(d, fields)?),
        StepKeyword::Check => StepKind::Check(Check::decode(d, fields)?),
        StepKeyword::Run => StepKind::Run(Run::decode(d, fields)?),
        StepKeyword::Pause => StepKind::Pause(Pause::decode(d, fields)?),
        StepKeyword::Compose => StepKind::Compose(Compose::decode(d, fields)?),
    })
}
