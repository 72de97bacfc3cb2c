//! What following a service aims at: the target spec's image, force counter and task count,
//! and the service as it was just before the write whose effect is followed. Shared by
//! `convergence.rs` (is it there yet?) and `watch.rs` (did a new task fail on the way?).

use std::collections::HashSet;
use std::time::Duration;

use bollard::models::{Service, ServiceSpec, ServiceUpdateStatus, TaskSpec, TaskSpecContainerSpec};

use crate::cluster::{Cluster, ClusterError, TaskFacts};
use crate::services::failure::Failure;

/// What the service must converge to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Service id.
    pub service_id: String,
    /// Service name, for messages.
    pub service_name: String,
    /// The image every task must run.
    pub image: String,
    /// The task template's ForceUpdate counter every task must carry.
    pub force_update: u64,
    /// How many tasks are wanted, and where.
    pub mode: Mode,
    /// The spec's monitor window (Swarm's default, 5 s, when unset).
    pub monitor: Duration,
}

/// How many tasks a service wants, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// This many tasks, one per slot.
    Replicated(u64),
    /// One task per node that may run it; how many that is, the daemon says at each poll.
    Global,
}

impl Target {
    /// The target that `spec` describes; replicated and global services are supported, jobs
    /// are not.
    pub fn of(service_id: &str, spec: &ServiceSpec) -> Result<Target, Failure> {
        let name = spec.name.clone().unwrap_or_else(|| service_id.to_string());
        let mode = spec.mode.clone().unwrap_or_default();
        let mode = match (&mode.replicated, &mode.global) {
            (Some(_), Some(_)) => {
                return Err(Failure::Unsupported(format!(
                    "the spec of {name} says both replicated and global: a service is one or the other"
                )));
            }
            (Some(replicated), None) => Mode::Replicated(replicated.replicas.unwrap_or(1).max(0) as u64),
            (None, Some(_)) => Mode::Global,
            // A spec without a mode is replicated with one task.
            (None, None) if mode.replicated_job.is_none() && mode.global_job.is_none() => Mode::Replicated(1),
            _ => {
                return Err(Failure::Unsupported(format!(
                    "{name} is a job: planrun follows replicated and global services only"
                )));
            }
        };
        let template = spec.task_template.clone().unwrap_or_default();
        let image = template.container_spec.and_then(|c| c.image).unwrap_or_default();
        Ok(Target {
            service_id: service_id.to_string(),
            service_name: name,
            image,
            force_update: template.force_update.unwrap_or(0),
            mode,
            monitor: spec
                .update_config
                .as_ref()
                .and_then(|u| u.monitor)
                .filter(|ns| *ns > 0)
                .map(|ns| Duration::from_nanos(ns as u64))
                .unwrap_or(Duration::from_secs(5)),
        })
    }

    /// Whether a task's own spec has the target image and force counter.
    pub fn runs_on(&self, task: &impl TaskFacts) -> bool {
        let spec = task.spec();
        let image = spec.and_then(|s| s.container_spec.as_ref()).and_then(|c| c.image.as_deref());
        let force = spec.and_then(|s| s.force_update).unwrap_or(0);
        image == Some(self.image.as_str()) && force == self.force_update
    }

    /// Whether a task runs the target as the service's `template` describes it now: image and
    /// force counter, and everything else a release or a switch changes. Not the health
    /// check: tasks are read through bollard, which drops the daemon's `Healthcheck` key (see
    /// cluster/swarm.rs), so a task never seems to have one.
    pub fn runs_template(&self, task: &impl TaskFacts, template: &TaskSpec) -> bool {
        let Some(spec) = task.spec() else { return false };
        let (ours, theirs) = (spec.container_spec.as_ref(), template.container_spec.as_ref());
        // A field of a missing container spec is a field left unset.
        fn same<T: PartialEq>(
            ours: Option<&TaskSpecContainerSpec>,
            theirs: Option<&TaskSpecContainerSpec>,
            field: impl Fn(&TaskSpecContainerSpec) -> &Option<T>,
        ) -> bool {
            ours.and_then(|c| field(c).as_ref()) == theirs.and_then(|c| field(c).as_ref())
        }
        self.runs_on(task)
            && same(ours, theirs, |c| &c.command)
            && same(ours, theirs, |c| &c.args)
            && same(ours, theirs, |c| &c.env)
            && same(ours, theirs, |c| &c.dir)
            && same(ours, theirs, |c| &c.user)
            && same(ours, theirs, |c| &c.configs)
            && same(ours, theirs, |c| &c.secrets)
            && same(ours, theirs, |c| &c.mounts)
            && spec.networks == template.networks
    }
}

/// What the service looked like just before the write whose effect is followed.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// The update status then: an identical status later is left over, not ours.
    pub update_status: Option<ServiceUpdateStatus>,
    /// Task ids then: only tasks created since are searched for errors.
    pub tasks: HashSet<String>,
}

impl Baseline {
    /// Takes the baseline from a fresh inspect and task list.
    pub async fn take(cluster: &dyn Cluster, service: &Service) -> Result<Baseline, ClusterError> {
        let id = service.id.clone().unwrap_or_default();
        let tasks = cluster.shared_tasks(&id).await?;
        Ok(Baseline {
            update_status: service.update_status.clone(),
            tasks: tasks.iter().filter_map(|t| t.id.clone()).collect(),
        })
    }
}
