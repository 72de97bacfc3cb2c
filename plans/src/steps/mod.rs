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
pub mod switch;
pub mod update;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::kdl_fast::Node;
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

/// What a step kind is, defined once, in its own file (`steps/<kind>.rs`). `step_kinds!` below
/// derives [`StepKind`], [`StepKeyword`] and every dispatch over kinds from the implementations,
/// so a new kind is one file and one line there, and the compiler asks for everything else.
/// No method has a default: a kind says what it does, or does not compile.
pub trait Definition: Sized {
    /// The keyword users write: `rolling`, `blue-green`.
    const KEYWORD: &'static str;
    /// How many positional arguments the step's node takes: its name, and for `pause` the wait.
    const ARGUMENTS: usize;
    /// Whether `defaults { KEYWORD ... }` may set this kind's settings.
    const DEFAULTS: bool;
    /// Whether the step rolls out a new release of a service.
    const DEPLOYS: bool;
    /// Whether the step changes something besides Swarm services (a database, whatever a
    /// command does), which a plan's service diff does not show.
    const CHANGES_ELSEWHERE: bool;
    /// Reads the step's settings (a `defaults` entry too, with `fields.is_defaults` set).
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Self>;
    /// Every gate the step names.
    fn gates(&self) -> Vec<&Spanned<String>>;
    /// What the step changes; steps sharing a resource run in file order.
    fn resources(&self) -> Vec<Resource>;
    /// Whether the step waits for a person's answer.
    fn asks_a_person(&self) -> bool;
    /// The image the step deploys, when it deploys one.
    fn image(&self) -> Option<&str>;
    /// The replicas the step gives `service`, when it sets them.
    fn replicas_of(&self, service: &str) -> Option<u64>;
    /// What the step may take from running services, for kinds that have the setting
    /// (`allow-removing`).
    fn allow_removing_mut(&mut self) -> Option<&mut Vec<allow_removing::Removable>>;
}

/// The step kinds: one line each, the variant and its model. Everything else about a kind is
/// in its [`Definition`].
macro_rules! step_kinds {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// What a step does.
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum StepKind {
            $( $(#[$doc])* $variant($ty), )*
        }

        /// A step kind as written in a plan: one variant per [`StepKind`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StepKeyword {
            $( $(#[$doc])* $variant, )*
        }

        impl StepKeyword {
            /// Every kind, in the order the language reference lists them.
            pub const ALL: &'static [StepKeyword] = &[$(StepKeyword::$variant,)*];

            /// Every keyword, in the same order.
            pub const NAMES: &'static [&'static str] = &[$(<$ty as Definition>::KEYWORD,)*];

            /// The keyword as written in a plan.
            pub fn keyword(self) -> &'static str {
                match self { $( StepKeyword::$variant => <$ty as Definition>::KEYWORD, )* }
            }

            /// The kind a keyword names.
            pub fn from_keyword(word: &str) -> Option<StepKeyword> {
                Self::ALL.iter().copied().find(|k| k.keyword() == word)
            }

            /// How many positional arguments the step node takes.
            pub fn arguments(self) -> usize {
                match self { $( StepKeyword::$variant => <$ty as Definition>::ARGUMENTS, )* }
            }

            /// Whether `defaults` may set this kind's settings.
            pub fn takes_defaults(self) -> bool {
                match self { $( StepKeyword::$variant => <$ty as Definition>::DEFAULTS, )* }
            }
        }

        impl StepKind {
            /// The kind, without its settings.
            pub fn kind(&self) -> StepKeyword {
                match self { $( StepKind::$variant(_) => StepKeyword::$variant, )* }
            }

            /// Every gate the step names.
            pub fn gates(&self) -> Vec<&Spanned<String>> {
                match self { $( StepKind::$variant(k) => k.gates(), )* }
            }

            /// What the step changes; steps sharing a resource run in file order.
            pub fn resources(&self) -> Vec<Resource> {
                match self { $( StepKind::$variant(k) => k.resources(), )* }
            }

            /// Whether the step rolls out a new release of a service.
            pub fn is_deployment(&self) -> bool {
                match self { $( StepKind::$variant(_) => <$ty as Definition>::DEPLOYS, )* }
            }

            /// Whether the step changes something besides Swarm services.
            pub fn changes_elsewhere(&self) -> bool {
                match self { $( StepKind::$variant(_) => <$ty as Definition>::CHANGES_ELSEWHERE, )* }
            }

            /// Whether the step waits for a person's answer.
            pub fn asks_a_person(&self) -> bool {
                match self { $( StepKind::$variant(k) => k.asks_a_person(), )* }
            }

            /// The image the step deploys, when it deploys one.
            pub fn image(&self) -> Option<&str> {
                match self { $( StepKind::$variant(k) => k.image(), )* }
            }

            /// The replicas the step gives `service`, when it sets them.
            pub fn replicas_of(&self, service: &str) -> Option<u64> {
                match self { $( StepKind::$variant(k) => k.replicas_of(service), )* }
            }

            /// What the step may take from running services, for kinds with `allow-removing`.
            pub fn allow_removing_mut(&mut self) -> Option<&mut Vec<allow_removing::Removable>> {
                match self { $( StepKind::$variant(k) => k.allow_removing_mut(), )* }
            }
        }

        fn decode_kind(d: &mut Decoder<'_>, keyword: StepKeyword, fields: &mut Fields<'_>) -> Option<StepKind> {
            Some(match keyword {
                $( StepKeyword::$variant => StepKind::$variant(<$ty as Definition>::decode(d, fields)?), )*
            })
        }
    };
}

step_kinds! {
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

/// The step keywords, as written in a plan.
pub const KEYWORDS: &[&str] = StepKeyword::NAMES;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// serde names a kind from its variant (`BlueGreen` is `blue-green`); the keyword comes from
    /// its definition. They must agree, or `planrun show --json` and the schema would name a
    /// kind differently from the plan.
    #[test]
    fn every_kinds_serde_tag_is_its_keyword() {
        let schema = serde_json::to_string(&schemars::schema_for!(StepKind)).unwrap();
        for keyword in StepKeyword::NAMES {
            assert!(schema.contains(&format!("\"const\":\"{keyword}\"")), "no tag `{keyword}` in {schema}");
        }
    }
}
