//! Talking through transient faults: a [`Cluster`] that retries, with backoff on tokio's
//! clock, what failed because the daemon or the swarm was briefly unavailable (a connection
//! reset, a dockerd restarting, a 503 while the managers elect a leader), for at most
//! [`BUDGET`] per call. Anything else (not found, a conflict, a stale version) is an answer,
//! passed on at once.
//!
//! A call whose answer was lost may have happened: a create retried then finds the name taken,
//! and is answered with the object it made (found by name); a removal finds it gone, which
//! callers already take as done. `exec` is never retried (it would run the program twice), nor
//! `logs_to` (it streams into a file).
//!
//! A daemon that stayed unavailable for a whole budget is taken as gone (a manager lost for
//! good): until a call goes through again, each call retries for [`WHILE_GONE`] only, so a run
//! that cannot reach its manager ends (and says how to finish from another one) in about one
//! budget, not one budget for every bookkeeping call that follows.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{Service, ServiceSpec, Task};
use tokio::time::Instant;

use super::{
    Cluster, ClusterError, ConfigObject, Exec, Executed, Network, NewNetwork, NewObject, Revision, SecretObject,
    ServiceCounts, SharedTasks,
};

/// The longest one call keeps retrying: a leader election or a dockerd restart takes seconds.
pub const BUDGET: Duration = Duration::from_secs(30);

/// How long a call retries once a whole budget has passed without an answer, until one comes.
pub const WHILE_GONE: Duration = Duration::from_secs(2);

/// The first wait; it doubles up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(200);
const MAX_WAIT: Duration = Duration::from_secs(4);

/// A cluster whose calls are retried through transient unavailability.
pub struct Retrying {
    inner: Arc<dyn Cluster>,
    budget: Duration,
    /// Whether a call ran out of its whole budget with no answer since.
    gone: std::sync::atomic::AtomicBool,
}

impl Retrying {
    /// `inner`, retried for at most `budget` per call.
    pub fn new(inner: Arc<dyn Cluster>, budget: Duration) -> Retrying {
        Retrying { inner, budget, gone: std::sync::atomic::AtomicBool::new(false) }
    }

    /// The budget of the next call: the whole one, or [`WHILE_GONE`] while the daemon is gone.
    fn budget(&self) -> Duration {
        if self.gone.load(std::sync::atomic::Ordering::Relaxed) { self.budget.min(WHILE_GONE) } else { self.budget }
    }

    /// Notes how a call ended: an answer (any but unavailable) means the daemon is there.
    fn ended<T>(&self, result: &Result<T, ClusterError>) {
        let gone = matches!(result, Err(ClusterError::Unavailable(_)));
        self.gone.store(gone, std::sync::atomic::Ordering::Relaxed);
    }

    async fn retry<T, F, Fut>(&self, call: F) -> Result<T, ClusterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ClusterError>>,
    {
        let until = Instant::now() + self.budget();
        let mut wait = FIRST_WAIT;
        loop {
            match call().await {
                Err(ClusterError::Unavailable(_)) if Instant::now() < until => {
                    tokio::time::sleep(wait.min(until - Instant::now())).await;
                    wait = (wait * 2).min(MAX_WAIT);
                }
                other => {
                    self.ended(&other);
                    return other;
                }
            }
        }
    }

    /// A create: retried like any call, and when a retry finds the name taken after the daemon
    /// was unavailable, the object found by that name is taken as the one the lost answer made.
    async fn create<F, Fut, L, LFut>(&self, call: F, lookup: L) -> Result<String, ClusterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<String, ClusterError>>,
        L: Fn() -> LFut,
        LFut: Future<Output = Result<Option<String>, ClusterError>>,
    {
        let until = Instant::now() + self.budget();
        let mut wait = FIRST_WAIT;
        let mut lost_answer = false;
        loop {
            match call().await {
                Err(ClusterError::Unavailable(_)) if Instant::now() < until => {
                    lost_answer = true;
                    tokio::time::sleep(wait.min(until - Instant::now())).await;
                    wait = (wait * 2).min(MAX_WAIT);
                }
                Err(ClusterError::Conflict(what)) if lost_answer => {
                    return match self.retry(&lookup).await? {
                        Some(id) => Ok(id),
                        None => Err(ClusterError::Conflict(what)),
                    };
                }
                other => {
                    self.ended(&other);
                    return other;
                }
            }
        }
    }
}

#[async_trait]
impl Cluster for Retrying {
    async fn service(&self, name: &str) -> Result<Service, ClusterError> {
        self.retry(|| self.inner.service(name)).await
    }
    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
        self.retry(|| self.inner.update_service(id, version, spec.clone())).await
    }
    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        self.retry(|| self.inner.tasks(service_id)).await
    }
    async fn shared_service(&self, name: &str) -> Result<Arc<Service>, ClusterError> {
        self.retry(|| self.inner.shared_service(name)).await
    }
    async fn shared_tasks(&self, service_id: &str) -> Result<SharedTasks, ClusterError> {
        self.retry(|| self.inner.shared_tasks(service_id)).await
    }
    async fn revision(&self, service_id: &str) -> Revision {
        self.inner.revision(service_id).await
    }
    async fn changed(&self, services: &[(String, Revision)], until: Instant) {
        self.inner.changed(services, until).await
    }
    fn quiet_limit(&self) -> Option<Duration> {
        self.inner.quiet_limit()
    }
    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        self.retry(|| self.inner.counts(service_id)).await
    }
    async fn create_config(&self, config: NewObject) -> Result<String, ClusterError> {
        let name = config.name.clone();
        self.create(
            || self.inner.create_config(config.clone()),
            || async { Ok(self.inner.config(&name).await?.map(|c| c.id)) },
        )
        .await
    }
    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        self.retry(|| self.inner.config(name)).await
    }
    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        self.retry(|| self.inner.remove_config(id)).await
    }
    async fn update_config_labels(
        &self,
        id: &str,
        version: u64,
        labels: HashMap<String, String>,
    ) -> Result<(), ClusterError> {
        self.retry(|| self.inner.update_config_labels(id, version, labels.clone())).await
    }
    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
        self.retry(|| self.inner.configs(label)).await
    }
    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
        self.retry(|| self.inner.network(name_or_id)).await
    }
    async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError> {
        let name = network.name.clone();
        self.create(
            || self.inner.create_network(network.clone()),
            || async { Ok(self.inner.network(&name).await?.map(|n| n.id)) },
        )
        .await
    }
    async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
        self.retry(|| self.inner.remove_network(id)).await
    }
    async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError> {
        self.retry(|| self.inner.secret(name)).await
    }
    async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError> {
        let name = secret.name.clone();
        self.create(
            || self.inner.create_secret(secret.clone()),
            || async { Ok(self.inner.secret(&name).await?.map(|s| s.id)) },
        )
        .await
    }
    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
        self.retry(|| self.inner.remove_secret(id)).await
    }
    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
        let name = spec.name.clone().unwrap_or_default();
        self.create(
            || self.inner.create_service(spec.clone()),
            || async {
                match self.inner.service(&name).await {
                    Ok(s) => Ok(s.id),
                    Err(ClusterError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }
    async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
        self.retry(|| self.inner.remove_service(id)).await
    }
    async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError> {
        self.retry(|| self.inner.services(label)).await
    }
    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
        self.retry(|| self.inner.logs(service_id, tail)).await
    }
    async fn unhealthy(&self, service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
        self.retry(|| self.inner.unhealthy(service_id)).await
    }
    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
        self.retry(|| self.inner.local_container(service_id)).await
    }
    async fn exec(&self, exec: Exec) -> Result<Executed, ClusterError> {
        self.inner.exec(exec).await
    }
    // Not retried: a stop that timed out waited its whole grace period, and Swarm stops the
    // task anyway; nor does it count as the daemon gone.
    async fn stop_container(&self, id: &str, grace: std::time::Duration) -> Result<(), ClusterError> {
        self.inner.stop_container(id, grace).await
    }
    async fn logs_to(&self, service_id: &str, to: &std::path::Path) -> Result<u64, ClusterError> {
        self.inner.logs_to(service_id, to).await
    }
    // Not retried: it is bounded in time, and what it cannot read it says.
    async fn post_mortem(&self, task: &Task, log_lines: usize) -> super::PostMortem {
        self.inner.post_mortem(task, log_lines).await
    }
    async fn only_node_is_here(&self) -> bool {
        self.inner.only_node_is_here().await
    }
    async fn api_version(&self) -> Option<(u32, u32)> {
        self.inner.api_version().await
    }
    async fn node_taking_tasks_here(&self) -> Option<String> {
        self.inner.node_taking_tasks_here().await
    }
    async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError> {
        self.retry(|| self.inner.secrets(label)).await
    }
    async fn nodes_down(&self) -> Vec<(String, String)> {
        self.inner.nodes_down().await
    }
    async fn has_image(&self, reference: &str) -> Result<bool, ClusterError> {
        self.retry(|| self.inner.has_image(reference)).await
    }
    // Not retried: a second upload of hundreds of megabytes after a lost answer is worse than
    // saying so; the next apply imports it again if it is missing.
    async fn import_image(&self, reference: &str, rootfs: Vec<u8>) -> Result<(), ClusterError> {
        self.inner.import_image(reference, rootfs).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::cluster::fake::FakeCluster;

    /// A cluster whose first `failures` calls of `create_config` and `configs` fail as a
    /// daemon restarting does; the first create is made before its answer is lost.
    struct Flaky {
        inner: FakeCluster,
        failures: AtomicUsize,
    }

    impl Flaky {
        fn fail(&self) -> bool {
            self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        }
    }

    #[async_trait]
    impl Cluster for Flaky {
        async fn service(&self, name: &str) -> Result<Service, ClusterError> {
            self.inner.service(name).await
        }
        async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
            self.inner.update_service(id, version, spec).await
        }
        async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
            self.inner.tasks(service_id).await
        }
        async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
            self.inner.counts(service_id).await
        }
        async fn create_config(&self, config: NewObject) -> Result<String, ClusterError> {
            let made = self.inner.create_config(config).await;
            if self.fail() { Err(ClusterError::Unavailable("connection reset by peer".into())) } else { made }
        }
        async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
            self.inner.config(name).await
        }
        async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
            self.inner.remove_config(id).await
        }
        async fn update_config_labels(
            &self,
            id: &str,
            version: u64,
            labels: HashMap<String, String>,
        ) -> Result<(), ClusterError> {
            self.inner.update_config_labels(id, version, labels).await
        }
        async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
            if self.fail() {
                return Err(ClusterError::Unavailable("503: the swarm does not have a leader".into()));
            }
            self.inner.configs(label).await
        }
        async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
            self.inner.network(name_or_id).await
        }
        async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError> {
            self.inner.create_network(network).await
        }
        async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
            self.inner.remove_network(id).await
        }
        async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError> {
            self.inner.secret(name).await
        }
        async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError> {
            self.inner.create_secret(secret).await
        }
        async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
            self.inner.remove_secret(id).await
        }
        async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
            self.inner.create_service(spec).await
        }
        async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
            self.inner.remove_service(id).await
        }
        async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError> {
            self.inner.services(label).await
        }
        async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
            self.inner.logs(service_id, tail).await
        }
        async fn unhealthy(&self, service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
            self.inner.unhealthy(service_id).await
        }
        async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
            self.inner.local_container(service_id).await
        }
        async fn exec(&self, exec: Exec) -> Result<Executed, ClusterError> {
            self.inner.exec(exec).await
        }
        async fn stop_container(&self, id: &str, grace: std::time::Duration) -> Result<(), ClusterError> {
            self.inner.stop_container(id, grace).await
        }
        async fn logs_to(&self, service_id: &str, to: &std::path::Path) -> Result<u64, ClusterError> {
            self.inner.logs_to(service_id, to).await
        }
        async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError> {
            self.inner.secrets(label).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_is_retried_through_unavailability_and_a_lost_create_answer_finds_what_it_made() {
        let flaky = Arc::new(Flaky { inner: FakeCluster::new(), failures: AtomicUsize::new(3) });
        let cluster = Retrying::new(flaky.clone(), BUDGET);
        let started = Instant::now();
        let id = cluster.create_config(NewObject::new("c", HashMap::new(), b"x")).await.unwrap();
        assert_eq!(flaky.inner.config("c").await.unwrap().unwrap().id, id, "the object the lost answer made");
        assert_eq!(cluster.configs("any").await.unwrap().len(), 0, "then a read goes through the last failure");
        assert_eq!(started.elapsed(), Duration::from_millis(200 + 400 + 800), "waits double from 0.2 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fault_that_outlasts_the_budget_is_passed_on() {
        let flaky = Arc::new(Flaky { inner: FakeCluster::new(), failures: AtomicUsize::new(1000) });
        let cluster = Retrying::new(flaky, Duration::from_secs(10));
        let started = Instant::now();
        let error = cluster.configs("any").await.unwrap_err();
        assert!(matches!(error, ClusterError::Unavailable(_)), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(10), "the whole budget, and not a moment more");
    }

    #[tokio::test(start_paused = true)]
    async fn once_a_whole_budget_passed_without_an_answer_calls_retry_briefly_until_one_comes() {
        let flaky = Arc::new(Flaky { inner: FakeCluster::new(), failures: AtomicUsize::new(1000) });
        let cluster = Retrying::new(flaky.clone(), Duration::from_secs(10));
        cluster.configs("any").await.unwrap_err();

        let started = Instant::now();
        cluster.configs("any").await.unwrap_err();
        assert_eq!(started.elapsed(), WHILE_GONE, "gone: a short try");

        // It answers again: the whole budget is back for the next fault.
        flaky.failures.store(0, Ordering::SeqCst);
        assert!(cluster.configs("any").await.is_ok());
        flaky.failures.store(1000, Ordering::SeqCst);
        let started = Instant::now();
        cluster.configs("any").await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
