//! `compose`: deploy a compose file as a Swarm stack, the way `docker stack deploy` does, then
//! judge gates; and `compose FILE service=NAME` in rolling, canary and blue-green steps, which
//! take the service's image (and more, see `resolve`) from a compose file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::{Definition, Resource};

/// A stack deployed from a compose file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Compose {
    /// The compose file, relative to the plan's directory.
    pub file: Spanned<String>,
    /// Gates judged while Swarm replaces the changed services' tasks (`analysis per-batch`,
    /// the default), or once every changed service has converged (`analysis after`).
    pub gates: Vec<Spanned<String>>,
    /// When the gates are judged.
    #[serde(default)]
    pub analysis: crate::steps::update::AnalysisMode,
    /// How the changed services' new tasks leave when the step is undone half way.
    #[serde(default)]
    pub on_undo: crate::steps::update::OnUndo,
    /// The step fails when the stack has not converged in this time.
    pub deadline: Duration,
    /// The Swarm services the file defines (`STACK_NAME`), filled in when the file is read.
    #[serde(default)]
    pub services: Vec<String>,
    /// What the step may take from running services (a mount, port, secret, config or network
    /// the file no longer has).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_removing: Vec<crate::steps::allow_removing::Removable>,
    /// The file as the checker read it (interpolated, `env_file`s read, bind sources made
    /// absolute), so a run never reads or parses it again; `None` until the plan is checked with
    /// its files (`Inputs::files`).
    #[serde(skip)]
    #[schemars(skip)]
    pub resolved: Option<std::sync::Arc<Resolved>>,
}

/// A compose file read and checked with the plan.
#[derive(Debug)]
pub struct Resolved {
    /// What it defines.
    pub file: crate::compose::ComposeFile,
    /// Its directory, where the files of its configs and secrets are.
    pub dir: std::path::PathBuf,
    /// Its text, for the lines of messages.
    pub source: std::sync::Arc<crate::diagnostic::SourceFile>,
}

impl Definition for Compose {
    const KEYWORD: &'static str = "compose";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = false;
    const DEPLOYS: bool = true;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a compose step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Compose> {
        let file = d.string(fields, "file", true);
        let gates = d.gate_names(fields, "gates");
        let deadline = d.duration(fields, "deadline").map(|v| v.value).unwrap_or(Duration::from_secs(600));
        let allow_removing = crate::steps::allow_removing::decode(d, fields);
        let analysis = crate::steps::update::decode_analysis(d, fields).map(|v| v.value).unwrap_or_default();
        let on_undo = crate::steps::update::decode_on_undo(d, fields).map(|v| v.value).unwrap_or_default();
        Some(Compose {
            file: file?,
            gates,
            analysis,
            on_undo,
            deadline,
            services: Vec::new(),
            allow_removing,
            resolved: None,
        })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        self.gates.iter().collect()
    }

    fn resources(&self) -> Vec<Resource> {
        self.services.iter().map(|s| Resource::Service(s.clone())).collect()
    }

    fn asks_a_person(&self) -> bool {
        false
    }

    fn image(&self) -> Option<&str> {
        None
    }

    fn replicas_of(&self, _service: &str) -> Option<u64> {
        None
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<crate::steps::allow_removing::Removable>> {
        Some(&mut self.allow_removing)
    }
}

/// `compose "FILE" service=NAME`: where a rolling, canary or blue-green step's service is defined.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FromCompose {
    /// The compose file, relative to the plan's directory.
    pub file: Spanned<String>,
    /// The service's name in the file (without the stack's prefix).
    pub service: Spanned<String>,
}

impl FromCompose {
    /// Reads an optional `compose "FILE" service=NAME` child or property.
    pub fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<FromCompose> {
        let node = d.child(fields, "compose")?;
        let mut f = d.fields(node, "`compose`");
        let args = d.args(node);
        d.no_more_args(&f, 1);
        let file = match args.first() {
            Some(arg) => d.as_string("compose", *arg),
            None => {
                d.push(Diagnostic::new(StepProblem::ComposeWithoutFile, f.name_span()));
                None
            }
        };
        let service = d.string(&mut f, "service", true);
        d.finish(f);
        Some(FromCompose { file: file?, service: service? })
    }

    /// The step's service and image as written, or, where the plan leaves them to the compose
    /// file, empty values at the `compose` setting that `check::compose` fills in once it has
    /// read the file. `None` when a value is missing and no compose file gives it.
    pub fn or_later(
        from: &Option<FromCompose>,
        service: Option<Spanned<String>>,
        image: Option<Spanned<String>>,
    ) -> Option<(Spanned<String>, Spanned<String>)> {
        match from {
            None => Some((service?, image?)),
            Some(f) => {
                let later = || Spanned::new(String::new(), f.service.span);
                Some((service.unwrap_or_else(later), image.unwrap_or_else(later)))
            }
        }
    }
}
