//! Undo records: what a step writes down, before it changes anything, to be put back later.
//!
//! A record is plain data (journalled as JSON), so `planrun rollback` can undo a run from its
//! journal alone, on another day, without the plan. One variant per step kind that changes
//! something; kinds that change nothing (check, pause) record nothing.

use bollard::models::ServiceSpec;
use serde::{Deserialize, Serialize};

use crate::redact;

/// What a step needs to be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// A rolling update: the service's whole spec before it.
    Rolling(Box<RollingUndo>),
    /// A command with an undo command.
    Run(RunUndo),
    /// A canary: the canary service to remove, and the stable service's spec if it was promoted.
    Canary(Box<CanaryUndo>),
    /// A blue-green switch: both colours' specs, the router's, and the config it rendered.
    BlueGreen(Box<BlueGreenUndo>),
    /// A migration: its `down` statements, or how to restore without them.
    Migrate(Box<MigrateUndo>),
    /// A compose stack: the specs of the services it changed and what it created.
    Compose(Box<ComposeUndo>),
}

impl Undo {
    /// This record as planrun may write it (journal, JSON events): every spec's env values and
    /// every URL's credentials redacted (`crate::redact`). The run state in the swarm keeps
    /// the whole record.
    pub fn redact(&mut self) {
        match self {
            Undo::Rolling(r) => r.redact(),
            Undo::Run(r) => {
                for arg in r.command.iter_mut() {
                    redact::scrub(arg);
                }
            }
            Undo::Canary(c) => c.stable.redact(),
            Undo::BlueGreen(b) => {
                b.live.redact();
                b.idle.redact();
                if let Some(router) = b.router.as_mut() {
                    router.redact();
                }
            }
            Undo::Migrate(m) => m.target.redact(),
            Undo::Compose(c) => {
                for u in c.updated.iter_mut() {
                    u.redact();
                }
            }
        }
    }

    /// The service records in it (a rolling step's, a promoted canary's stable service, both
    /// colours and the router, a compose step's updated services).
    pub fn services_mut(&mut self) -> Vec<&mut RollingUndo> {
        match self {
            Undo::Rolling(r) => vec![r.as_mut()],
            Undo::Canary(c) => vec![&mut c.stable],
            Undo::BlueGreen(b) => {
                let mut out = vec![&mut b.live, &mut b.idle];
                out.extend(b.router.as_mut());
                out
            }
            Undo::Compose(c) => c.updated.iter_mut().collect(),
            Undo::Run(_) | Undo::Migrate(_) => Vec::new(),
        }
    }

    /// What undoing it puts back, in a few words: `shop_web back to app:v1`.
    pub fn describe(&self) -> String {
        match self {
            Undo::Rolling(r) => r.describe(),
            Undo::Run(r) => format!("run `{}`", r.command.join(" ")),
            Undo::Canary(c) if c.promoted => format!("{}, canary {} removed", c.stable.describe(), c.canary_name),
            Undo::Canary(c) => format!("canary {} removed ({} unchanged)", c.canary_name, c.stable.service_name),
            Undo::BlueGreen(b) if b.switched => format!(
                "traffic back to {}, {} back to {}",
                b.live.service_name,
                b.idle.service_name,
                b.idle.previous_image()
            ),
            Undo::Compose(c) => {
                let mut parts: Vec<String> = c.updated.iter().map(RollingUndo::describe).collect();
                let created = c.created_services.len()
                    + c.created_networks.len()
                    + c.created_configs.len()
                    + c.created_secrets.len();
                if created > 0 {
                    parts.push(format!("{created} created object(s) of stack {} removed", c.stack));
                }
                if parts.is_empty() { format!("stack {} unchanged", c.stack) } else { parts.join(", ") }
            }
            Undo::Migrate(m) => match &m.down {
                Some(down) => format!("run {} on {}", down.file, m.database_name),
                None => format!("{} has no down file: restore needed", m.file),
            },
            Undo::BlueGreen(b) => {
                format!(
                    "{} back to {} ({} kept the traffic)",
                    b.idle.service_name,
                    b.idle.previous_image(),
                    b.live.service_name
                )
            }
        }
    }
}

/// What a rolling step records: enough to put the service back exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingUndo {
    /// The service's id.
    pub service_id: String,
    /// The service's name.
    pub service_name: String,
    /// The full spec before the step, as the daemon reported it.
    pub previous_spec: ServiceSpec,
    /// The version index that spec was read at.
    pub version: u64,
    /// How long undo may take to converge, in milliseconds (the step's update deadline).
    pub deadline_ms: u64,
    /// The spec the step writes, recorded before it writes it: undo finds the service on it
    /// (or on the recorded spec) unless someone changed it since, and then leaves it alone.
    /// None where the step does not say (records of older planruns: not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<ServiceSpec>,
    /// Undone while old tasks serve beside new ones, planrun stops the new tasks' containers
    /// on its node at once (the step's `on-undo stop-now`), not after Swarm's DNS removal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_now: bool,
}

impl RollingUndo {
    /// The record of `service` as it is now, to be undone within `deadline_ms`.
    pub fn of(service: &bollard::models::Service, deadline_ms: u64) -> RollingUndo {
        RollingUndo {
            service_id: service.id.clone().unwrap_or_default(),
            service_name: service
                .spec
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| service.id.clone().unwrap_or_default()),
            previous_spec: service.spec.clone().unwrap_or_default(),
            version: service.version.as_ref().and_then(|v| v.index).unwrap_or(0),
            deadline_ms,
            written: None,
            stop_now: false,
        }
    }

    /// This record, saying how the step's new tasks leave when it is undone half way.
    pub fn on_undo(mut self, mode: plans::steps::update::OnUndo) -> RollingUndo {
        self.stop_now = mode == plans::steps::update::OnUndo::StopNow;
        self
    }

    /// Redacts both specs' env values.
    pub fn redact(&mut self) {
        redact::spec_in_place(&mut self.previous_spec);
        if let Some(w) = self.written.as_mut() {
            redact::spec_in_place(w);
        }
    }

    /// This record, saying the step writes `spec`.
    pub fn writing(mut self, spec: &ServiceSpec) -> RollingUndo {
        self.written = Some(spec.clone());
        self
    }

    /// What undoing it does, in a few words.
    pub fn describe(&self) -> String {
        let at_once = if self.stop_now { ", its new tasks stopped at once beside old ones" } else { "" };
        format!("{} back to {}{at_once}", self.service_name, self.previous_image())
    }

    /// The image of the recorded spec.
    pub fn previous_image(&self) -> &str {
        self.previous_spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.as_deref())
            .unwrap_or("?")
    }
}

/// What a compose step records before it changes anything: every service it will update (with
/// its whole spec) and every object it will create, by name (removed on undo if it exists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComposeUndo {
    /// The stack.
    pub stack: String,
    /// Services the step updates, as they were.
    pub updated: Vec<RollingUndo>,
    /// Services the step creates.
    pub created_services: Vec<String>,
    /// Networks the step creates.
    pub created_networks: Vec<String>,
    /// Configs the step creates.
    pub created_configs: Vec<String>,
    /// Secrets the step creates.
    pub created_secrets: Vec<String>,
}

/// What a canary step records, again before promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryUndo {
    /// The stable service and its spec before the step.
    pub stable: RollingUndo,
    /// The canary service's name.
    pub canary_name: String,
    /// Whether the stable service was (being) promoted to the new image.
    pub promoted: bool,
}

/// What a blue-green step records, again before the switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlueGreenUndo {
    /// The colour that gets the new image, as it was.
    pub idle: RollingUndo,
    /// The colour that had the traffic, as it was.
    pub live: RollingUndo,
    /// The router, as it was (for `switch nginx` and `switch caddy`).
    pub router: Option<RollingUndo>,
    /// The config object the step rendered, if it made one.
    pub config: Option<String>,
    /// Whether traffic was (being) switched.
    pub switched: bool,
    /// How the router's previous config is loaded into its running tasks before its spec is
    /// restored (`switch caddy`); `None` when restoring the spec is the switch back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_load: Option<LiveLoad>,
}

/// How a switch back loads a router's previous config into its running tasks (`switch caddy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveLoad {
    /// Where the router mounts its config (its previous spec says which config that was).
    pub target: String,
    /// The config's `Content-Type` for Caddy's admin API.
    pub content_type: String,
}

/// What a migrate step records before its first statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrateUndo {
    /// The database, as the step resolved it when it ran (a later `planrun rollback` with
    /// another environment still undoes it where it was applied).
    pub target: crate::database::Target,
    /// Which database that is, for messages.
    pub database_name: String,
    /// The run that applied it (its sessions are tagged with it).
    pub run_id: String,
    /// The migration file, as the plan names it (its key in planrun's ledger).
    pub file: String,
    /// The statements that undo it, read when the step started.
    pub down: Option<DownFile>,
    /// The newest dump this run verified of that database, if any.
    pub restore_from: Option<String>,
    /// `lock_timeout` for the down statements, in milliseconds.
    pub lock_timeout_ms: u64,
    /// `statement_timeout` for them, in milliseconds.
    pub statement_timeout_ms: u64,
}

/// A `down` file, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownFile {
    /// As the plan names it.
    pub file: String,
    /// Its statements.
    pub statements: Vec<String>,
    /// In one transaction (as the migration itself).
    pub transactional: bool,
}

/// What a run step records: the command that undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUndo {
    /// Program and arguments.
    pub command: Vec<String>,
    /// How long it may run, in milliseconds.
    pub timeout_ms: u64,
}

/// The records of a run, in the order they were last made: a step that records again
/// replaces its earlier record (its newest record says everything its undo needs).
#[derive(Debug, Default)]
pub struct Recorded(std::sync::Mutex<Vec<(String, Undo)>>);

impl Recorded {
    /// Keeps `undo` as the record of `step`.
    pub fn push(&self, step: &str, undo: Undo) {
        let mut records = self.0.lock().expect("records poisoned");
        records.retain(|(s, _)| s != step);
        records.push((step.to_owned(), undo));
    }

    /// Forgets the record of `step` (it was undone).
    pub fn remove(&self, step: &str) {
        self.0.lock().expect("records poisoned").retain(|(s, _)| s != step);
    }

    /// Every record, newest first: the order to undo them in.
    pub fn newest_first(&self) -> Vec<(String, Undo)> {
        let mut records = self.0.lock().expect("records poisoned").clone();
        records.reverse();
        records
    }
}
