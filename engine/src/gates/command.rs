//! `command` gates: a program runs (no shell unless its argv names one); exit status 0 passes.
//!
//! Commands run through the `Commands` seam, which kills the whole process group when the
//! measurement is abandoned (the analysis timeout drops it), so `sh -c 'sleep 60'` leaves no
//! `sleep` behind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use plans::gates::{CommandGate, Outcome};

use super::probe::{GateBehavior, LiveProbe};
use super::{Measurement, Meter};
use crate::cluster::Cluster;
use crate::commands::{self, Command, Commands};

/// The condition as shown in events.
pub const CONDITION: &str = "exit status 0";

/// The command as a shell would show it: `sh -c 'exit 3'`.
pub fn target(gate: &CommandGate) -> String {
    commands::display(&gate.argv)
}

/// Measures a `command` gate.
pub struct CommandMeter {
    /// The gate.
    pub gate: CommandGate,
    /// Where commands run.
    pub commands: Arc<dyn Commands>,
    /// Time allowed for one run (the analysis timeout also bounds it).
    pub timeout: Duration,
}

#[async_trait]
impl Meter for CommandMeter {
    fn target(&self) -> String {
        target(&self.gate)
    }

    fn condition(&self) -> String {
        CONDITION.to_owned()
    }

    async fn measure(&mut self) -> Measurement {
        let command = Command { argv: self.gate.argv.clone(), timeout: self.timeout };
        let target = target(&self.gate);
        match self.commands.run(&command).await {
            Ok(finished) if finished.success() => Measurement {
                outcome: Outcome::Pass,
                target,
                value: Some("0".into()),
                condition: CONDITION.to_owned(),
                detail: None,
            },
            Ok(finished) => Measurement {
                outcome: Outcome::Fail,
                target,
                value: Some(finished.status()),
                condition: CONDITION.to_owned(),
                detail: Some(finished.output_tail()),
            },
            Err(e) => Measurement::error(target, CONDITION, e.to_string()),
        }
    }
}

/// Before a run: whether the program can be started at all.
pub fn preflight(gate: &CommandGate, commands: &dyn Commands) -> Option<String> {
    let program = gate.argv.first()?;
    (!commands.can_start(program)).then(|| format!("`{program}` is not an executable file or a program on PATH"))
}

/// The `command` kind at run time.
#[async_trait]
impl GateBehavior for CommandGate {
    fn meter(&self, probe: &LiveProbe, timeout: Duration, _dir: &Path) -> Box<dyn Meter> {
        Box::new(CommandMeter { gate: self.clone(), commands: probe.commands.clone(), timeout })
    }

    async fn preflight(&self, probe: &LiveProbe, _dir: &Path) -> Option<String> {
        preflight(self, probe.commands.as_ref())
    }

    fn simulated(&self, _cluster: &Arc<dyn Cluster>) -> Option<Box<dyn Meter>> {
        None
    }

    async fn simulated_preflight(&self, _cluster: &dyn Cluster) -> Option<String> {
        None
    }

    /// Nothing to prepare: a measurement needs no container.
    fn warm(&self, _probe: &LiveProbe, _analysis: &plans::model::Analysis) {}
}
