//! Notifications: `notify NAME { KIND ...; on EVENT... }` tells the team what a run does. One
//! file per target kind (`slack`, `teams`, `webhook`), registered in `notify_kinds!`.
//!
//! A webhook URL is a secret (whoever holds it posts to the channel): a plan names where it is
//! (`url-env`, `url-file`), never the URL. The checker reads neither: like gate credentials,
//! they belong to the machine that deploys and are checked by `planrun apply`'s preflight.

pub mod config;
pub mod slack;
pub mod teams;
pub mod webhook;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::NotifyProblem;
use crate::gates::Secret;
use crate::gates::credentials::{Source, one_source};
use crate::kdl_fast::Node;
use crate::spanned::Spanned;

pub use slack::Slack;
pub use teams::Teams;
pub use webhook::Webhook;

/// Where to tell the team, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Notify {
    /// The name, used in warnings about it.
    pub name: Spanned<String>,
    /// Where messages go.
    pub target: NotifyKind,
    /// Which events are sent, in the order the language reference lists them (default: all).
    pub on: Vec<NotifyEvent>,
}

/// What a run tells the team about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyEvent {
    /// The run began (its lock is taken).
    Started,
    /// A step waits for a person; the message holds the exact `planrun promote` command.
    Approval,
    /// Every step finished and every gate passed.
    Succeeded,
    /// A step failed (the message names it and its error), or the run was refused after it
    /// started (preflight), or stopped.
    Failed,
    /// Every change was undone after a failure.
    RolledBack,
    /// Undoing failed: the stack needs a person.
    RollbackFailed,
}

impl NotifyEvent {
    /// Every event, in the order the language reference lists them.
    pub const ALL: &'static [NotifyEvent] = &[
        NotifyEvent::Started,
        NotifyEvent::Approval,
        NotifyEvent::Succeeded,
        NotifyEvent::Failed,
        NotifyEvent::RolledBack,
        NotifyEvent::RollbackFailed,
    ];

    /// The word users write after `on`.
    pub fn word(self) -> &'static str {
        match self {
            NotifyEvent::Started => "started",
            NotifyEvent::Approval => "approval",
            NotifyEvent::Succeeded => "succeeded",
            NotifyEvent::Failed => "failed",
            NotifyEvent::RolledBack => "rolled-back",
            NotifyEvent::RollbackFailed => "rollback-failed",
        }
    }
}

/// What a notification target kind is, defined once, in its own file (`notify/<kind>.rs`).
pub trait Definition: Sized {
    /// The keyword users write inside `notify NAME { ... }`.
    const KEYWORD: &'static str;
    /// How to write it, shown when a `notify` names no target.
    const EXAMPLE: &'static str;
    /// Reads the kind's settings (its URL is read by [`url`]).
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>, url: Option<Secret>) -> Option<Self>;
}

/// The target kinds: one line each, the variant and its model.
macro_rules! notify_kinds {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// Where a notification goes.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum NotifyKind {
            $( $(#[$doc])* $variant($ty), )*
        }

        /// A target kind as written in a plan: one variant per [`NotifyKind`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum NotifyKeyword {
            $( $(#[$doc])* $variant, )*
        }

        impl NotifyKeyword {
            /// Every kind, in the order the language reference lists them.
            pub const ALL: &'static [NotifyKeyword] = &[$(NotifyKeyword::$variant,)*];

            /// Every keyword, in the same order.
            pub const NAMES: &'static [&'static str] = &[$(<$ty as Definition>::KEYWORD,)*];

            /// The keyword as written in a plan.
            pub fn keyword(self) -> &'static str {
                match self { $( NotifyKeyword::$variant => <$ty as Definition>::KEYWORD, )* }
            }

            /// How to write it.
            pub fn example(self) -> &'static str {
                match self { $( NotifyKeyword::$variant => <$ty as Definition>::EXAMPLE, )* }
            }
        }

        impl NotifyKind {
            /// The kind, without its settings.
            pub fn kind(&self) -> NotifyKeyword {
                match self { $( NotifyKind::$variant(_) => NotifyKeyword::$variant, )* }
            }
        }

        fn decode_settings(
            d: &mut Decoder<'_>,
            kind: NotifyKeyword,
            f: &mut Fields<'_>,
            url: Option<Secret>,
        ) -> Option<NotifyKind> {
            match kind {
                $( NotifyKeyword::$variant => <$ty as Definition>::decode(d, f, url).map(NotifyKind::$variant), )*
            }
        }
    };
}

notify_kinds! {
    /// A Slack incoming webhook.
    Slack(Slack),
    /// A Microsoft Teams incoming webhook (an Adaptive Card).
    Teams(Teams),
    /// Any HTTP endpoint: planrun's JSON, signed with HMAC-SHA256.
    Webhook(Webhook),
}

impl NotifyKind {
    /// Where the URL is read from.
    pub fn url(&self) -> &Secret {
        match self {
            NotifyKind::Slack(s) => &s.url,
            NotifyKind::Teams(t) => &t.url,
            NotifyKind::Webhook(w) => &w.url,
        }
    }

    /// Every secret sending needs, each with the setting that names it (`url-env`, `secret-file`).
    pub fn secrets(&self) -> Vec<(String, &Secret)> {
        let mut out = vec![(self.url().setting("url"), self.url())];
        if let NotifyKind::Webhook(Webhook { secret: Some(s), .. }) = self {
            out.push((s.setting("secret"), s));
        }
        out
    }
}

/// Decodes `notify NAME { KIND url-env=VAR ...; on EVENT... }`.
pub fn decode(d: &mut Decoder<'_>, node: &Node) -> Option<Notify> {
    let name = d.name_arg(node, "notify");
    let what = name.as_ref().map(|n| format!("notify `{}`", n.value)).unwrap_or_else(|| "this notify".into());
    let mut fields = d.fields(node, what.clone());
    d.no_more_args(&fields, 1);
    let mut kinds = Vec::new();
    for &kind in NotifyKeyword::ALL {
        let Some(kind_node) = d.child(&mut fields, kind.keyword()) else { continue };
        let mut f = d.fields(kind_node, format!("the `{}` of {what}", kind.keyword()));
        d.no_more_args(&f, 0);
        let url = url(d, &mut f);
        let decoded = decode_settings(d, kind, &mut f, url);
        d.finish(f);
        kinds.push((kind_node.name().span(), decoded));
    }
    let options: Vec<(&'static str, NotifyEvent)> = NotifyEvent::ALL.iter().map(|e| (e.word(), *e)).collect();
    let on = if fields.sets("on") {
        let mut on: Vec<NotifyEvent> = d.choices(&mut fields, "on", &options).into_iter().map(|e| e.value).collect();
        on.sort();
        on.dedup();
        on
    } else {
        NotifyEvent::ALL.to_vec()
    };
    if kinds.is_empty() {
        let examples: Vec<&str> = NotifyKeyword::ALL.iter().map(|k| k.example()).collect();
        let problem = NotifyProblem::NoTarget { what: &what, kinds: NotifyKeyword::NAMES, examples: &examples };
        d.push(Diagnostic::new(problem, fields.name_span()));
    }
    if kinds.len() > 1 {
        d.push(Diagnostic::new(NotifyProblem::TwoTargets { what: &what, first: kinds[0].0 }, kinds[1].0));
    }
    d.finish(fields);
    let target = kinds.into_iter().next()?.1?;
    Some(Notify { name: name?, target, on })
}

/// The target's URL: `url-env` or `url-file`; a `url` written in the plan is refused.
fn url(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Secret> {
    if let Some(written) = d.string(f, "url", false) {
        d.push(Diagnostic::new(NotifyProblem::UrlInPlan { what: f.what() }, written.span));
        // Read the others so they are not reported as unknown; the one error is enough.
        for key in ["url-file", "url-env"] {
            d.string(f, key, false);
        }
        return None;
    }
    match one_source(d, f, ["url-file", "url-env"], None)? {
        Source::Secret(s) => Some(s),
        Source::Literal(_) => None,
    }
}

/// An optional secret named by `PREFIX-file` or `PREFIX-env` (the webhook's signing key).
pub(crate) fn optional_secret(d: &mut Decoder<'_>, f: &mut Fields<'_>, keys: [&'static str; 2]) -> Option<Secret> {
    if !keys.iter().any(|k| f.sets(k)) {
        return None;
    }
    match one_source(d, f, keys, None)? {
        Source::Secret(s) => Some(s),
        Source::Literal(_) => None,
    }
}
