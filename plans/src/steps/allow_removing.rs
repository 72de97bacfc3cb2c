//! `allow-removing`: what a step may take from a running service. A change that would remove a
//! mount, a published port, a secret, a config or a network from a service that runs is
//! refused unless the step names that kind here (`allow-removing mounts ports`): a stack
//! deployed by `docker stack deploy` and a compose file that has lost a volume must never end
//! with a database on an empty data directory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::fix::Edit;
use crate::spanned::Spanned;

/// Something a spec change can take from a running service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Removable {
    /// A volume, bind or tmpfs mount.
    Mounts,
    /// A published port.
    Ports,
    /// A secret.
    Secrets,
    /// A config.
    Configs,
    /// A network.
    Networks,
}

impl Removable {
    /// Every kind, as written in a plan.
    pub const ALL: [(&'static str, Removable); 5] = [
        ("mounts", Removable::Mounts),
        ("ports", Removable::Ports),
        ("secrets", Removable::Secrets),
        ("configs", Removable::Configs),
        ("networks", Removable::Networks),
    ];

    /// The word a plan writes.
    pub fn keyword(self) -> &'static str {
        Removable::ALL.iter().find(|(_, r)| *r == self).map(|(w, _)| *w).unwrap_or_default()
    }

    /// One of them, in the singular: `mount`, `port`, ...
    pub fn singular(self) -> &'static str {
        self.keyword().trim_end_matches('s')
    }
}

/// Reads `allow-removing KIND...`; each kind once, each checked, with "did you mean".
pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Vec<Removable> {
    let words: Vec<Spanned<String>> = d.names(fields, "allow-removing");
    let mut out: Vec<Removable> = Vec::new();
    for word in words {
        let found = Removable::ALL.iter().find(|(w, _)| *w == word.value).map(|(_, r)| *r);
        match found {
            Some(r) if !out.contains(&r) => out.push(r),
            Some(_) => {}
            None => {
                let names: Vec<&str> = Removable::ALL.iter().map(|(w, _)| *w).collect();
                let help = crate::suggest::help_for(&word.value, "expected one of", &names);
                let mut diag = crate::diagnostic::Diagnostic::error(
                    crate::diagnostic::Code::BadValue,
                    format!("`{}` is not something `allow-removing` names", word.value),
                    word.span,
                    "not allowed here",
                )
                .with_optional_help(help);
                if let Some(best) = crate::suggest::did_you_mean(&word.value, names.iter().copied()) {
                    diag = diag.with_fix(Edit::new(word.span, best.to_string()));
                }
                d.push(diag);
            }
        }
    }
    out.sort();
    out
}
