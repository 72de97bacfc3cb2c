//! `planrun status STACK`: what is live on a stack, read from the swarm alone (so it answers on
//! any machine that reaches the swarm): each service's image and tasks, which blue-green colour
//! is live, canaries and their stage, a run waiting for approval, the deploy lock, the last run.

use std::collections::BTreeSet;

use plans::steps::StepKind;
use serde::Serialize;

use crate::approval;
use crate::cluster::{Cluster, ClusterError};
use crate::history::{self, LastRun, RunSummary};
use crate::lock::{self, Holder};
use crate::services::{self, STACK_LABEL, spec};
use crate::steps::blue_green::{self, RETIRE_AFTER};
use crate::steps::canary::{CANARY_OF, STAGE};

/// A stack as it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The stack.
    pub stack: String,
    /// Who holds the deploy lock, if anyone.
    pub lock: Option<Holder>,
    /// A run waiting for a person.
    pub waiting: Option<Waiting>,
    /// The last run.
    pub last_run: Option<RunSummary>,
    /// The stack's services.
    pub services: Vec<ServiceStatus>,
    /// The watch a release left running (`watch` in its plan), if one runs.
    pub watch: Option<crate::watch::Running>,
}

/// A run waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// The run.
    pub run_id: String,
    /// The step that waits.
    pub step: String,
    /// What it asks.
    pub question: String,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// The image its spec runs.
    pub image: String,
    /// Tasks running (only those that should run).
    pub running: u64,
    /// Tasks wanted.
    pub desired: u64,
    /// Swarm's update state, if an update was made.
    pub update: Option<String>,
    /// What planrun uses it for, if anything: `canary of shop_web, stage 1/2`, `live colour`.
    pub role: Option<String>,
}

/// Reads the stack's status from the swarm.
pub async fn of(cluster: &dyn Cluster, stack: &str) -> Result<Status, ClusterError> {
    let lock = lock::current(cluster, stack).await?.map(|(_, holder)| holder);
    let waiting =
        approval::waiting(cluster, stack).await?.map(|(run_id, step, question)| Waiting { run_id, step, question });
    let last = history::load(cluster, stack).await?;
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut roles: Vec<(String, String)> = Vec::new();
    for step in last.iter().flat_map(|r| r.steps.iter()) {
        match &step.kind {
            StepKind::Rolling(r) => {
                names.insert(r.service.value.clone());
            }
            StepKind::Canary(c) => {
                names.insert(c.service.value.clone());
                for canary in cluster.services(&format!("{CANARY_OF}={}", c.service.value)).await? {
                    names.insert(services::name_of(&canary));
                }
            }
            StepKind::BlueGreen(b) => {
                names.insert(b.blue.value.clone());
                names.insert(b.green.value.clone());
                if let Some(router) = b.switch.router() {
                    names.insert(router.to_owned());
                }
                if let Ok(colours) = blue_green::colours(cluster, b).await {
                    roles.push((colours.live, format!("live colour of `{}`", step.name.value)));
                    roles.push((colours.idle, format!("idle colour of `{}`", step.name.value)));
                }
            }
            StepKind::Compose(c) => names.extend(c.services.iter().cloned()),
            StepKind::Backup(_) | StepKind::Migrate(_) | StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_) => {
            }
        }
    }
    for label in [format!("{STACK_LABEL}={stack}"), format!("{}={stack}", crate::steps::canary::STACK)] {
        for service in cluster.services(&label).await? {
            names.insert(services::name_of(&service));
        }
    }
    let mut services = Vec::new();
    for name in names {
        let service = match cluster.service(&name).await {
            Ok(s) => s,
            Err(ClusterError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let spec = service.spec.clone().unwrap_or_default();
        let labels = spec.labels.clone().unwrap_or_default();
        let id = service.id.clone().unwrap_or_default();
        let tasks = cluster.tasks(&id).await?;
        let running = tasks
            .iter()
            .filter(|t| {
                t.desired_state == Some(bollard::models::TaskState::RUNNING)
                    && t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING)
            })
            .count() as u64;
        let mut role: Vec<String> = roles.iter().filter(|(n, _)| *n == name).map(|(_, r)| r.clone()).collect();
        if let Some(of) = labels.get(CANARY_OF) {
            let stage = labels.get(STAGE).map(|s| format!(", stage {s}")).unwrap_or_default();
            role.push(format!("canary of {of}{stage}"));
        }
        if let Some(when) = labels.get(RETIRE_AFTER) {
            role.push(format!("kept for a switch back until {when}"));
        }
        services.push(ServiceStatus {
            image: spec::image(&spec).split('@').next().unwrap_or_default().to_owned(),
            running,
            // A global service has no replica count: the daemon says how many tasks it wants.
            desired: match spec::replicas(&spec) {
                Some(n) => n,
                None => cluster.counts(&id).await.map(|c| c.desired).unwrap_or(0),
            },
            update: service.update_status.as_ref().and_then(|u| u.state).map(|s| s.to_string()),
            role: (!role.is_empty()).then(|| role.join("; ")),
            name,
        });
    }
    let last_run = last.map(|r: LastRun| r.run);
    let watch = crate::watch::running(cluster, stack).await?;
    Ok(Status { stack: stack.to_owned(), lock, waiting, last_run, services, watch })
}
