//! The watch's last verdict, for `planrun status`: the labels of a config object
//! `planrun-watch-STACK` that the watch changes after every round of its gates (a config's
//! labels change without a new object; a service's would redeploy nothing but cost an update).

use std::collections::HashMap;

use crate::cluster::{Cluster, ClusterError, NewObject};

const VERDICT: &str = "planrun.watch.verdict";
const AT: &str = "planrun.watch.verdict-at";
const SUMMARY: &str = "planrun.watch.summary";
const ROUNDS: &str = "planrun.watch.rounds";
const STACK: &str = "planrun.watch.verdict-of";

/// The last verdict of a watch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Last {
    /// `passed`, or the verdict of the first gate that did not pass.
    pub verdict: String,
    /// When, RFC 3339.
    pub at: String,
    /// The gates' summaries, one line.
    pub summary: String,
    /// How many rounds of the gates were judged.
    pub rounds: u64,
}

fn name(stack: &str) -> String {
    format!("planrun-watch-{stack}")
}

/// Records `last` (creating the object on the first round).
pub async fn write(cluster: &dyn Cluster, stack: &str, last: &Last) -> Result<(), ClusterError> {
    let labels = HashMap::from([
        (STACK.to_string(), stack.to_string()),
        (VERDICT.to_string(), last.verdict.clone()),
        (AT.to_string(), last.at.clone()),
        (SUMMARY.to_string(), last.summary.chars().take(400).collect()),
        (ROUNDS.to_string(), last.rounds.to_string()),
    ]);
    match cluster.config(&name(stack)).await? {
        Some(object) => cluster.update_config_labels(&object.id, object.version, labels).await,
        None => cluster.create_config(NewObject::new(&name(stack), labels, b"planrun watch")).await.map(|_| ()),
    }
}

/// The last verdict recorded for `stack`'s watch.
pub async fn read(cluster: &dyn Cluster, stack: &str) -> Result<Option<Last>, ClusterError> {
    let Some(object) = cluster.config(&name(stack)).await? else { return Ok(None) };
    let label = |key: &str| object.labels.get(key).cloned().unwrap_or_default();
    Ok(Some(Last {
        verdict: label(VERDICT),
        at: label(AT),
        summary: label(SUMMARY),
        rounds: label(ROUNDS).parse().unwrap_or(0),
    }))
}

/// Removes the record.
pub async fn remove(cluster: &dyn Cluster, stack: &str) -> Result<(), ClusterError> {
    let Some(object) = cluster.config(&name(stack)).await? else { return Ok(()) };
    match cluster.remove_config(&object.id).await {
        Ok(()) | Err(ClusterError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
