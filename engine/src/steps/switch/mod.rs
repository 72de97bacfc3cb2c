//! How a blue-green step switches traffic at run time: one file per switch kind, each
//! implementing [`SwitchBehavior`], and [`behavior`] the one match from a plan's `Switch` to it.
//! The blue-green step (`steps/blue_green.rs`) asks the switch which colour is live, checks it in
//! preflight, and calls it once the idle colour has passed its preview gates; the undo is the
//! step's (every spec the switch changes is in the step's record before it changes).

pub mod alias;
pub mod caddy;
pub mod nginx;
pub mod rendered;

use async_trait::async_trait;
use bollard::models::Service;
use plans::steps::BlueGreen;
use plans::steps::switch::Switch;
use plans::steps::update::{AnalysisMode, FailureAction, Order, UpdatePolicy};

use super::{Findings, StepError};
use crate::cluster::{Cluster, ClusterError};
use crate::context::StepContext;
use crate::services::ServiceError;
use crate::undo::BlueGreenUndo;

/// The label on what a blue-green step leaves behind (an old colour, a rendered config): the
/// stack it belongs to.
pub const STACK: &str = "planrun.stack";

/// Why a blue-green step's live colour cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourError {
    /// A service (a colour, the router) cannot be inspected.
    Inspect {
        /// The service.
        service: String,
        /// Why.
        error: ClusterError,
    },
    /// Another read of the swarm failed (the router's config, the alias's network).
    Cluster(ClusterError),
    /// The router mounts no config where the switch says it does.
    NoRouterConfig {
        /// The router service.
        router: String,
        /// Where the config should be.
        target: String,
    },
    /// Both colours carry the alias.
    BothCarryAlias {
        /// The blue service.
        blue: String,
        /// The green service.
        green: String,
        /// The alias.
        alias: String,
    },
    /// The switch names neither colour, and both run tasks, or neither does.
    Undecided {
        /// The blue service.
        blue: String,
        /// The green service.
        green: String,
        /// Whether both run tasks (else neither does).
        both_run: bool,
    },
}

impl std::fmt::Display for ColourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColourError::Inspect { service, error } => write!(f, "cannot inspect service `{service}`: {error}"),
            ColourError::Cluster(e) => e.fmt(f),
            ColourError::NoRouterConfig { router, target } => {
                write!(f, "the router `{router}` mounts no config at {target}")
            }
            ColourError::BothCarryAlias { blue, green, alias } => {
                write!(f, "both `{blue}` and `{green}` carry the alias `{alias}`")
            }
            ColourError::Undecided { blue, green, both_run } => write!(
                f,
                "cannot tell whether `{blue}` or `{green}` is live: the switch names neither, and {}; \
                 scale the idle one to 0 replicas and apply again",
                if *both_run { "both run tasks" } else { "neither runs tasks" }
            ),
        }
    }
}

impl std::error::Error for ColourError {}

/// Which colour takes traffic, and which waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colours {
    /// The live colour's service.
    pub live: String,
    /// The idle colour's service.
    pub idle: String,
    /// How that was found out.
    pub because: String,
}

/// What a switch kind does at run time. No method has a default.
#[async_trait]
pub trait SwitchBehavior: Sync {
    /// Which of `blue` and `green` the switch sends traffic to now, and how that was found out;
    /// `None` when it names neither (a first run).
    async fn live_colour(
        &self,
        cluster: &dyn Cluster,
        blue: &Service,
        green: &Service,
    ) -> Result<Option<(String, String)>, ColourError>;
    /// Before the run: what stops the switch, and what is worth knowing, given the colours that
    /// exist. Reads only.
    async fn preflight(&self, ctx: &StepContext, colours: &[&Service], monitor: std::time::Duration) -> Findings;
    /// The service the switch will roll (a router), read before the step records its undo and
    /// deploys the idle colour (a switch may start meanwhile what it will need).
    async fn router(&self, ctx: &StepContext) -> Result<Option<Service>, ServiceError>;
    /// Sends traffic from `colours.live` to `colours.idle`. Records `record.switched` (and
    /// whatever else undo needs) through `ctx.record` before it changes anything.
    async fn switch(
        &self,
        ctx: &StepContext,
        step: &BlueGreen,
        colours: &Colours,
        router: Option<Service>,
        record: &mut BlueGreenUndo,
    ) -> Result<(), StepError>;
    /// The networks it names, read by `planrun plan`.
    fn networks(&self) -> Vec<String>;
}

/// The run-time behaviour of a switch kind.
pub fn behavior(switch: &Switch) -> &dyn SwitchBehavior {
    match switch {
        Switch::Alias(s) => s,
        Switch::Nginx(s) => s,
        Switch::Caddy(s) => s,
    }
}

/// The policy a switch rolls the router (or a colour) with: start-first, every task at once.
pub fn policy(deadline: plans::duration::Duration, monitor: plans::duration::Duration) -> UpdatePolicy {
    UpdatePolicy {
        parallelism: 0,
        delay: plans::duration::Duration::ZERO,
        order: Order::StartFirst,
        failure_action: FailureAction::Rollback,
        monitor,
        max_failure_ratio: 0.0,
        deadline,
        // Nobody sees what a switch rolls until the switch: its gates are judged after it.
        analysis: AnalysisMode::After,
        // A router's or colour's tasks are never bad on their own: Swarm's own pace.
        on_undo: plans::steps::update::OnUndo::Drain,
        order_span: None,
        written: Vec::new(),
    }
}

/// How long a switch waits for the replaced tasks (of the router, or of a colour losing its
/// alias) to stop before anything is taken from under them.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A service's attachments to networks.
pub fn attachments(service: &Service) -> Vec<bollard::models::NetworkAttachmentConfig> {
    service.spec.as_ref().and_then(|s| s.task_template.as_ref()).and_then(|t| t.networks.clone()).unwrap_or_default()
}
