//! A whole run without the outside world: the fake cluster, scripted gates, scripted commands
//! and a scripted person, all on tokio's clock. With the clock paused, a plan that takes
//! minutes on a real swarm runs in milliseconds and reports how long it would have taken.
//!
//! The executor and the steps are the ones that deploy: only the seams differ.

use std::sync::Arc;
use std::time::Duration;

use crate::approval::{Approver, ScriptedApprover};
use crate::cluster::Cluster;
use crate::cluster::fake::FakeCluster;
use crate::commands::{Commands, ScriptedCommands};
use crate::context::{RunContext, StepContext};
use crate::database::Databases;
use crate::database::fake::FakePostgres;
use crate::events::{Events, Sink};
use crate::gates::{Probe, ScriptedProbe};
use crate::undo::Recorded;

/// The simulated world a run happens in; scripts are set on its parts.
#[derive(Clone)]
pub struct Simulation {
    /// The swarm.
    pub cluster: FakeCluster,
    /// Gates (unscripted swarm gates are measured on `cluster`).
    pub probe: ScriptedProbe,
    /// Commands.
    pub commands: Arc<ScriptedCommands>,
    /// The person who answers approvals.
    pub approver: ScriptedApprover,
    /// The database backup and migrate steps reach (whichever they name).
    pub database: FakePostgres,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation::new()
    }
}

impl Simulation {
    /// An empty swarm; every gate and command passes at once; approvals come after a minute.
    pub fn new() -> Simulation {
        let cluster = FakeCluster::new();
        Simulation {
            probe: ScriptedProbe::with_cluster(Arc::new(cluster.clone())),
            cluster,
            commands: Arc::new(ScriptedCommands::new()),
            approver: ScriptedApprover { after: Duration::from_secs(60), approved: true },
            database: FakePostgres::new(),
        }
    }

    /// A plan checked from KDL text, with its graph; panics with the diagnostics if it has
    /// errors (simulations and tests write their plans inline).
    pub fn plan(text: &str) -> (Arc<plans::model::Plan>, plans::PlanGraph) {
        Self::checked(text, &plans::Inputs::default())
    }

    /// [`Simulation::plan`], checked with the files it names in `dir` (its SQL files read and
    /// split, as `planrun` checks a plan).
    pub fn plan_with_files(text: &str, dir: &std::path::Path) -> (Arc<plans::model::Plan>, plans::PlanGraph) {
        Self::checked(text, &plans::Inputs { files: Some(dir.to_path_buf()), ..plans::Inputs::default() })
    }

    fn checked(text: &str, inputs: &plans::Inputs) -> (Arc<plans::model::Plan>, plans::PlanGraph) {
        let checked = plans::check(plans::SourceFile::new("plan.kdl", text), inputs);
        let errors: Vec<String> =
            checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
        match (checked.plan, checked.graph) {
            (Some(plan), Some(graph)) => (Arc::new(plan), graph),
            _ => panic!("the plan has errors: {errors:?}"),
        }
    }

    /// The context step `step` of `plan` runs with.
    pub fn step(&self, ctx: &Arc<RunContext>, plan: &Arc<plans::model::Plan>, step: &str) -> StepContext {
        StepContext {
            run: ctx.clone(),
            plan: plan.clone(),
            plan_dir: Arc::new(std::path::PathBuf::from(".")),
            step: step.to_owned(),
        }
    }

    /// A run context over this world for `stack`, events going to `sinks`.
    pub fn context(&self, stack: &str, run_id: &str, sinks: Vec<Box<dyn Sink>>) -> Arc<RunContext> {
        Arc::new(RunContext {
            cluster: Arc::new(self.cluster.clone()) as Arc<dyn Cluster>,
            events: Events::new(sinks),
            probe: Arc::new(self.probe.clone()) as Arc<dyn Probe>,
            commands: self.commands.clone() as Arc<dyn Commands>,
            approver: Arc::new(self.approver.clone()) as Arc<dyn Approver>,
            stack: stack.to_owned(),
            run_id: run_id.to_owned(),
            recorded: Arc::new(Recorded::default()),
            databases: Arc::new(self.database.clone()) as Arc<dyn Databases>,
            backups: Arc::default(),
            state: None,
        })
    }
}
