//! How a blue-green step switches traffic: one file per switch kind, named as users write it
//! (`switch alias ...`, `switch nginx ...`). `switch_kinds!` derives [`Switch`], [`SwitchKind`]
//! and every dispatch from each kind's [`Definition`], so a new switch (Traefik labels, Caddy)
//! is one file here, one in `engine/src/steps/switch/`, and a line in each registry.

pub mod alias;
pub mod caddy;
pub mod nginx;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::kdl_fast::Node;

pub use alias::Alias;
pub use caddy::Caddy;
pub use nginx::Nginx;

/// What a switch kind is, defined once, in its own file. No method has a default.
pub trait Definition: Sized {
    /// The word after `switch`.
    const KEYWORD: &'static str;
    /// How to write it, shown when a `switch` says nothing.
    const EXAMPLE: &'static str;
    /// Reads its settings (the properties of the `switch` node).
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Self>;
    /// The service the switch rolls to send traffic elsewhere (a router), if it has one: it is
    /// a resource of the step, so no other step changes it meanwhile.
    fn router(&self) -> Option<&str>;
}

macro_rules! switch_kinds {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// How a blue-green step switches traffic.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "via", rename_all = "kebab-case")]
        pub enum Switch {
            $( $(#[$doc])* $variant($ty), )*
        }

        /// A switch kind as written in a plan.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum SwitchKind {
            $( $(#[$doc])* $variant, )*
        }

        impl SwitchKind {
            /// Every kind, in the order the language reference lists them.
            pub const ALL: &'static [SwitchKind] = &[$(SwitchKind::$variant,)*];

            /// The word after `switch`.
            pub fn keyword(self) -> &'static str {
                match self { $( SwitchKind::$variant => <$ty as Definition>::KEYWORD, )* }
            }

            /// How to write it.
            pub fn example(self) -> &'static str {
                match self { $( SwitchKind::$variant => <$ty as Definition>::EXAMPLE, )* }
            }
        }

        impl Switch {
            /// The kind, without its settings.
            pub fn kind(&self) -> SwitchKind {
                match self { $( Switch::$variant(_) => SwitchKind::$variant, )* }
            }

            /// The router service the switch rolls, if it has one.
            pub fn router(&self) -> Option<&str> {
                match self { $( Switch::$variant(k) => k.router(), )* }
            }
        }

        fn decode_settings(d: &mut Decoder<'_>, kind: SwitchKind, f: &mut Fields<'_>) -> Option<Switch> {
            match kind {
                $( SwitchKind::$variant => <$ty as Definition>::decode(d, f).map(Switch::$variant), )*
            }
        }
    };
}

switch_kinds! {
    /// Move a network alias from the old colour to the new one.
    Alias(Alias),
    /// Render an nginx config pointing at the new colour and roll the router onto it.
    Nginx(Nginx),
    /// Load a config pointing at the new colour into a Caddy router through its admin API, then
    /// roll the router onto it.
    Caddy(Caddy),
}

/// The settings of a switch that renders a router's config (`nginx`, `caddy`): `router`,
/// `template` (and where it was written) and `target`, `default_target` when not set.
fn router_settings(
    d: &mut Decoder<'_>,
    f: &mut Fields<'_>,
    default_target: &str,
) -> Option<(String, String, String, crate::span::Span)> {
    let router = d.string(f, "router", true);
    let template = d.string(f, "template", true);
    let target = d.string(f, "target", false).map(|t| t.value).unwrap_or_else(|| default_target.into());
    router.zip(template).map(|(r, t)| (r.value, t.value, target, t.span))
}

/// Reads `switch KIND setting=value ...`.
pub fn decode(d: &mut Decoder<'_>, node: &Node) -> Option<Switch> {
    let mut f = d.fields(node, "`switch`");
    d.no_more_args(&f, 1);
    let choices: Vec<(&str, SwitchKind)> = SwitchKind::ALL.iter().map(|k| (k.keyword(), *k)).collect();
    let kind = match d.args(node).first() {
        Some(v) => d.as_choice("switch", *v, &choices),
        None => {
            let words: Vec<&str> = SwitchKind::ALL.iter().map(|k| k.keyword()).collect();
            let examples: Vec<&str> = SwitchKind::ALL.iter().map(|k| k.example()).collect();
            d.push(Diagnostic::new(
                StepProblem::SwitchWithoutKind { kinds: &words, examples: &examples },
                f.name_span(),
            ));
            None
        }
    };
    let switch = kind.and_then(|k| decode_settings(d, k.value, &mut f));
    d.finish(f);
    switch
}
