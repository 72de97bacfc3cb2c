//! `planrun.toml`: environments (Docker host, Prometheus, database, variables), chosen with `--env`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::diagnostic::problem::InputProblem;
use crate::diagnostic::{Diagnostic, SourceFile};
use crate::span::Span;
use crate::suggest;

/// The project file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Project {
    /// The environment used when `--env` is not given.
    pub default_environment: Option<String>,
    /// Environments by name.
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    /// How `planrun plan` estimates what the swarm cannot tell it.
    #[serde(default)]
    pub simulation: Simulation,
    /// What the swarm keeps of past runs.
    #[serde(default)]
    pub runs: Runs,
}

/// `[runs]`: how many runs of a stack the swarm keeps the state of (their undo records, for
/// `rollback` and `history` from any machine).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Runs {
    /// The newest runs kept per stack (default 20); older runs' state is removed when a run
    /// starts. At least 1.
    pub keep: Option<std::num::NonZeroUsize>,
}

/// `[simulation]`: timings `planrun plan` cannot read from the swarm (`--calibrate-from RUN`
/// measures them instead).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Simulation {
    /// From a task's creation to its container running (default 1s).
    pub task_start: Option<crate::duration::Duration>,
    /// Each gate measurement (default 0.2s).
    pub measurement: Option<crate::duration::Duration>,
    /// Each `run` step's command, unless `commands` names the step (default 1s).
    pub command: Option<crate::duration::Duration>,
    /// Each SQL statement of a migration (default 0.1s).
    pub statement: Option<crate::duration::Duration>,
    /// How long a person takes to approve (default 0s: not counted).
    pub approval: Option<crate::duration::Duration>,
    /// Replicas of each service when planning offline (default 2).
    pub replicas: Option<u64>,
    /// Per gate name, each measurement.
    #[serde(default)]
    pub gates: BTreeMap<String, crate::duration::Duration>,
    /// Per `run` step name, its command.
    #[serde(default)]
    pub commands: BTreeMap<String, crate::duration::Duration>,
}

/// Where one environment's services are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Environment {
    /// Docker daemon: `unix:///var/run/docker.sock` or `tcp://host:2376`.
    pub docker_host: Option<String>,
    /// Verify the daemon's TLS certificate (tcp only).
    #[serde(default)]
    pub tls_verify: bool,
    /// Directory with `ca.pem`, `cert.pem` and `key.pem`.
    pub cert_path: Option<String>,
    /// Prometheus server for gates that name none.
    pub prometheus: Option<String>,
    /// Database for backup and migrate steps that name none.
    pub database: Option<DatabaseConfig>,
    /// Variable values for this environment (below `--var` and `env=`, above `default=`).
    #[serde(default)]
    pub vars: HashMap<String, String>,
    /// Where to tell the team, by target name: added to the plan's `notify` targets by
    /// `apply` (replacing one of the same name), and the only ones `rollback` has.
    #[serde(default)]
    pub notify: BTreeMap<String, crate::notify::config::NotifyConfig>,
}

/// A database connection in `planrun.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Swarm service running PostgreSQL.
    pub service: Option<String>,
    /// Or a connection URL.
    pub url: Option<String>,
    /// Database name.
    pub database: Option<String>,
    /// User.
    pub user: Option<String>,
}

impl Project {
    /// Parses a project file; an error points at its place in the file.
    pub fn parse(file: &SourceFile) -> Result<Project, Diagnostic> {
        toml::from_str(&file.text).map_err(|e| {
            let span = e.span().map(|r| Span::new(r.start, r.end - r.start)).unwrap_or_default();
            Diagnostic::new(InputProblem::Project { file: &file.name, message: e.message() }, span)
        })
    }

    /// The environment `name` (or the default one), with an error listing the known ones.
    pub fn environment(&self, name: Option<&str>) -> Result<Option<(String, &Environment)>, String> {
        let Some(name) = name.or(self.default_environment.as_deref()) else {
            return Ok(None);
        };
        match self.environments.get(name) {
            Some(env) => Ok(Some((name.to_owned(), env))),
            None => {
                let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
                let hint = suggest::help_for(name, "environments", &known)
                    .unwrap_or_else(|| "planrun.toml declares no environments".into());
                Err(format!("unknown environment `{name}`: {hint}"))
            }
        }
    }
}
