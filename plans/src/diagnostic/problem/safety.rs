//! Warnings about a valid plan that would probably cause downtime or run in an unsafe order
//! (`check/safety.rs`).

use super::Words;
use crate::diagnostic::Code;
use crate::fix::kdl_string;
use crate::span::Span;

/// How the fix makes a contract step wait for the steps it may run before, by how the step is
/// written: what the help says the edits do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddAfter<'a> {
    /// Where the step is written is unknown: no edits, only the words.
    Anywhere,
    /// Extend the step's `after` line.
    ExtendLine,
    /// Replace `after=name` with an `after` line.
    ReplaceProperty { name: &'a str },
    /// Add an `after` line to the step's block.
    AddLine,
    /// Add `after=x` to the step's node.
    AddProperty,
    /// Add a block with an `after` line.
    AddBlock,
}

/// A plan that is valid but probably unsafe. `step` names a step.
#[derive(Debug, Clone, PartialEq)]
pub enum SafetyProblem<'a> {
    /// A stop-first update of a service with one replica.
    StopFirstSingleReplica { step: &'a str },
    /// A start-first update of a service publishing `port` in host mode, at `port_at`.
    StartFirstHostPort { service: &'a str, port: u64, port_at: Span },
    /// A rolling, canary or compose step without a gate.
    UngatedRollout { step: &'a str },
    /// A migration without a backup of its database before it.
    MigrationWithoutBackup { step: &'a str },
    /// A contract migration that may run before the deployment steps `before` (at `uses_old`).
    ContractBeforeDeploy { step: &'a str, before: &'a [&'a str], uses_old: &'a [Span], add: AddAfter<'a> },
    /// A canary stage taking all of the traffic (`percent`, as written).
    CanaryAllTraffic { percent: &'a str },
    /// A canary share that `stable` replicas cannot give it: it would need `exact` replicas.
    CanaryInexactShare { percent: &'a str, stable: u64, exact: f64 },
    /// A gate that no step uses.
    UnusedGate { gate: &'a str },
    /// `${name}` interpolated into the script a shell runs (`shell -c SCRIPT`).
    InterpolatedShellScript { name: &'a str, shell: &'a str },
}

impl SafetyProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use SafetyProblem::*;
        match *self {
            StopFirstSingleReplica { step } => Words::warning(
                Code::StopFirstSingleReplica,
                format!("stop-first update of `{step}` with one replica takes it down"),
                "stop-first",
            )
            .help("use `order start-first`, or run at least two replicas"),
            StartFirstHostPort { service, port, port_at } => Words::warning(
                Code::StartFirstHostPort,
                format!("start-first update of `{service}` with host-mode port {port} will hang"),
                "start-first",
            )
            .note(port_at, "host-mode port")
            .help("the new task cannot bind the port while the old one holds it: use `order stop-first`, or publish through a router"),
            UngatedRollout { step } => {
                Words::warning(Code::UngatedRollout, format!("`{step}` rolls out without a health gate"), "no gates")
                    .help("add `gates NAME...` so a bad release is caught and rolled back")
            }
            MigrationWithoutBackup { step } => Words::warning(
                Code::MigrationWithoutBackup,
                format!("migration `{step}` runs without an earlier backup of its database"),
                "no backup before this",
            )
            .help("add a `backup` step for the same database before it (a backup written above it in the file runs first)"),
            ContractBeforeDeploy { step, before, uses_old, add } => {
                let mut words = Words::warning(
                    Code::ContractBeforeDeploy,
                    format!("contract migration `{step}` can run before {}", name_list(before)),
                    "contract",
                );
                for span in uses_old {
                    words = words.note(*span, "still uses the old schema");
                }
                words.help(add_after(add, before))
            }
            CanaryAllTraffic { percent } => Words::warning(
                Code::CanaryPercentage,
                format!("a canary cannot take {percent} of the traffic"),
                "100% or more",
            )
            .help("the stable service keeps running until promotion: end with a smaller share, then `promote`"),
            CanaryInexactShare { percent, stable, exact } => {
                let lower = exact.floor().max(1.0);
                let shares: Vec<String> = [lower, lower + 1.0]
                    .iter()
                    .map(|c| {
                        let unit = if *c == 1.0 { "replica" } else { "replicas" };
                        format!("{}% ({c} {unit})", ((c / (c + stable as f64)) * 1000.0).round() / 10.0)
                    })
                    .collect();
                Words::warning(
                    Code::CanaryPercentage,
                    format!(
                        "{percent} of the traffic beside {stable} stable replicas needs {} canary replicas",
                        (exact * 100.0).round() / 100.0
                    ),
                    "not a whole number of replicas",
                )
                .help(format!(
                    "the canary gets canary / (canary + {stable}) of the tasks behind the name: use {}, or `replicas=N`",
                    shares.join(" or ")
                ))
            }
            UnusedGate { gate } => {
                Words::warning(Code::UnusedGate, format!("gate `{gate}` is never used"), "declared here")
                    .help("name it in a step's `gates`, or remove it")
            }
            InterpolatedShellScript { name, shell } => {
                let env: String =
                    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
                Words::warning(
                    Code::ShellInjection,
                    format!("`${{{name}}}` is pasted into the script `{shell}` runs"),
                    "runs as shell code",
                )
                .help(format!(
                    "a value holding `;`, `$(...)` or a quote would run as a command: pass it as an argument \
                     after the script, `\"{shell}\" \"-c\" \"... \\\"$1\\\" ...\" \"{shell}\" \"${{{name}}}\"`, \
                     or in the environment, `\"env\" \"{env}=${{{name}}}\" \"{shell}\" \"-c\" \"... \\\"${env}\\\" ...\"`"
                ))
            }
        }
    }
}

/// Names for a message: the first few, then how many more.
fn name_list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut list: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        list.push(format!("{} more", names.len() - SHOWN));
    }
    list.join(", ")
}

/// The help of a contract step that may run early: how to make it wait for `names`.
fn add_after(add: AddAfter<'_>, names: &[&str]) -> String {
    let new: Vec<String> = names.iter().map(|n| kdl_string(n)).collect();
    let shown = if new.len() > 5 { format!("{} ... ({} steps)", new[..5].join(" "), new.len()) } else { new.join(" ") };
    match add {
        AddAfter::Anywhere | AddAfter::AddLine => format!("add `after {shown}` to the contract step"),
        AddAfter::ExtendLine => format!("add {shown} to the contract step's `after` line"),
        AddAfter::ReplaceProperty { name } => format!(
            "`after={name}` holds one name: replace it with a line `after {name} {shown}` in the contract step's block"
        ),
        AddAfter::AddProperty => format!("add `after={shown}` to the contract step"),
        AddAfter::AddBlock => format!("add `{{ after {shown} }}` to the contract step"),
    }
}
