//! What the swarm itself keeps about a stack's last run, so `planrun status` works from any
//! machine that reaches the swarm (a CI runner that ran the deploy may be gone): the config
//! object `planrun-run-STACK` holds the run's id, plan, who ran it, when, how it ended, and the
//! plan's deployment steps (so status knows which services form a canary or a blue-green pair).
//!
//! It is written when a run starts (outcome empty: running, or died) and again when it ends.
//! Config objects cannot be changed, so writing one removes the old one first; the deploy lock
//! makes the stack's runs one at a time.

use std::collections::HashMap;

use plans::model::Step;
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterError};
use crate::events::RunOutcome;

/// The config object holding a stack's last run.
pub fn record_name(stack: &str) -> String {
    format!("planrun-run-{stack}")
}

/// A config object holds at most 500 KB; steps are left out past this.
const MAX_STEPS_BYTES: usize = 400_000;

/// A stack's last run: what it was, and the plan's deployment steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastRun {
    /// Who ran what, when, and how it ended.
    #[serde(flatten)]
    pub run: RunSummary,
    /// The plan's deployment steps (rolling, canary, blue-green), as resolved.
    pub steps: Vec<Step>,
}

/// Who ran what, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// The plan's name.
    pub plan: String,
    /// `user@host`.
    pub by: String,
    /// When it started, RFC 3339.
    pub started: String,
    /// When it ended, RFC 3339; none while it runs (or if it died).
    pub finished: Option<String>,
    /// How it ended; none while it runs (or if it died).
    pub outcome: Option<RunOutcome>,
    /// Why, when it did not succeed.
    pub reason: Option<String>,
}

/// Writes the stack's last run, replacing what was there.
pub async fn save(cluster: &dyn Cluster, stack: &str, run: &LastRun) -> Result<(), ClusterError> {
    let mut run = run.clone();
    run.steps.retain(|s| s.kind.is_deployment());
    let mut data = serde_json::to_vec(&run).map_err(|e| ClusterError::Other(e.to_string()))?;
    if data.len() > MAX_STEPS_BYTES {
        run.steps.clear();
        data = serde_json::to_vec(&run).map_err(|e| ClusterError::Other(e.to_string()))?;
    }
    let name = record_name(stack);
    if let Some(old) = cluster.config(&name).await? {
        match cluster.remove_config(&old.id).await {
            Ok(()) | Err(ClusterError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let labels = HashMap::from([
        ("planrun.stack".to_string(), stack.to_owned()),
        ("planrun.run-id".to_string(), run.run.run_id.clone()),
    ]);
    cluster.create_config(crate::cluster::NewObject::new(&name, labels, &data)).await.map(|_| ())
}

/// Reads the stack's last run, if one was recorded.
pub async fn load(cluster: &dyn Cluster, stack: &str) -> Result<Option<LastRun>, ClusterError> {
    let Some(config) = cluster.config(&record_name(stack)).await? else { return Ok(None) };
    serde_json::from_slice(&config.data)
        .map(Some)
        .map_err(|e| ClusterError::Other(format!("the record {} is unreadable: {e}", config.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;
    use crate::simulation::Simulation;

    #[tokio::test]
    async fn the_last_run_is_kept_with_its_deployment_steps() {
        let fake = FakeCluster::new();
        assert!(load(&fake, "shop").await.unwrap().is_none());
        let (plan, _) = Simulation::plan(
            "plan p {\n    stack shop\n    gate g { swarm w }\n    rolling web { service w; image \"a:v2\"; gates g; }\n    \
             pause p \"1s\"\n}\n",
        );
        let mut run = LastRun {
            run: RunSummary {
                run_id: "r-1".into(),
                plan: "p".into(),
                by: "ci@runner".into(),
                started: "2026-12-01T10:00:00Z".into(),
                finished: None,
                outcome: None,
                reason: None,
            },
            steps: plan.steps.clone(),
        };
        save(&fake, "shop", &run).await.unwrap();
        run.run.finished = Some("2026-12-01T10:01:00Z".into());
        run.run.outcome = Some(RunOutcome::RolledBack);
        save(&fake, "shop", &run).await.unwrap();

        let back = load(&fake, "shop").await.unwrap().unwrap();
        assert_eq!(back.run.outcome, Some(RunOutcome::RolledBack));
        assert_eq!(back.steps.len(), 1, "only deployment steps are kept");
        assert_eq!(back.steps[0].name.value, "web");
    }
}
