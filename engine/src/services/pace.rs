//! When to look at services again, for the loops that follow and watch them.
//!
//! A loop looks at ticks `every` apart, counted from its last look, as a poll would; but a
//! tick after which the cluster heard of no change of the services is skipped, because that
//! look would see what the last one saw. So a loop sees exactly what polling at every tick
//! would have seen, at the same instants, without the cost of the looks in between: on the
//! fake swarm, which hears of every change, a quiet service costs nothing; on a real swarm,
//! Docker's event stream says when to look, and a look at least every
//! [`Cluster::quiet_limit`] catches what no event tells (tasks on other nodes).
//!
//! Every wait is on tokio's clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::{Cluster, Revision};

/// The pace of one loop over one or more services.
#[derive(Debug, Clone)]
pub struct Pace {
    every: Duration,
    last: Instant,
    seen: Vec<(String, Revision)>,
}

impl Pace {
    /// A loop over `services` that looks at ticks `every` apart.
    pub fn new(services: &[&str], every: Duration) -> Pace {
        let seen = services.iter().map(|id| ((*id).to_owned(), 0)).collect();
        Pace { every, last: Instant::now(), seen }
    }

    /// Call right before a look: what changes from here on is for the next one.
    pub async fn look(&mut self, cluster: &dyn Cluster) {
        self.last = Instant::now();
        for (id, revision) in &mut self.seen {
            *revision = cluster.revision(id).await;
        }
    }

    /// Waits until the next look is due: the first tick after a change the cluster heard of,
    /// or, with none heard, the tick after its quiet limit; never later than `until` (a
    /// deadline, the end of a window), where a poll would look too.
    pub async fn next(&self, cluster: &dyn Cluster, until: Option<Instant>) {
        let first = self.last + self.every;
        let quiet = cluster.quiet_limit().map(|limit| self.tick_at_or_after(self.last + limit).max(first));
        let latest = match (quiet, until) {
            (Some(q), Some(u)) => Some(q.min(u)),
            (q, u) => q.or(u),
        };
        if let Some(latest) = latest
            && latest <= first
        {
            tokio::time::sleep_until(latest).await;
            return;
        }
        match latest {
            Some(latest) => cluster.changed(&self.seen, latest).await,
            None => cluster.changed(&self.seen, far_future()).await,
        }
        // Heard of a change (or reached `latest`): look at the first tick from here on.
        let tick = self.tick_at_or_after(Instant::now()).max(first);
        tokio::time::sleep_until(latest.map_or(tick, |l| tick.min(l))).await;
    }

    /// The first tick at or after `at`.
    fn tick_at_or_after(&self, at: Instant) -> Instant {
        let since = at.saturating_duration_since(self.last);
        let every = self.every.as_nanos().max(1);
        let ticks = since.as_nanos().div_ceil(every);
        self.last + Duration::from_nanos((ticks * every).min(u64::MAX as u128) as u64)
    }
}

/// A wait without end, on tokio's clock (about 30 years, as tokio itself does).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

#[cfg(test)]
mod tests {
    use bollard::models::{ServiceSpec, TaskSpec, TaskSpecContainerSpec};

    use super::*;
    use crate::cluster::fake::FakeCluster;

    fn web(image: &str) -> ServiceSpec {
        ServiceSpec {
            name: Some("web".into()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Milliseconds from `start` of the looks a loop makes until `until`.
    async fn looks(cluster: &dyn Cluster, id: &str, every: Duration, until: Duration) -> Vec<u128> {
        let start = Instant::now();
        let mut pace = Pace::new(&[id], every);
        let mut at = Vec::new();
        loop {
            pace.look(cluster).await;
            at.push(start.elapsed().as_millis());
            if start.elapsed() >= until {
                return at;
            }
            pace.next(cluster, Some(start + until)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_looks_at_the_first_tick_after_each_change_and_at_its_end() {
        let fake = FakeCluster::new();
        let id = fake.add_service(web("app:v1"));
        let version = fake.service(&id).await.unwrap().version.unwrap().index.unwrap();
        fake.update_service(&id, version, web("app:v2")).await.unwrap();

        // Swarm's updater starts 20 ms after the write (stop-first: the old task stops, a new one
        // starts), the new task runs 1 s later: ticks at 100 ms and 1,100 ms, then the end.
        let seen = looks(&fake, &id, Duration::from_millis(100), Duration::from_secs(3)).await;

        assert_eq!(seen, [0, 100, 1_100, 3_000]);
    }

    /// A cluster that hears of nothing: the default methods of the trait.
    struct Deaf(FakeCluster);

    #[async_trait::async_trait]
    impl Cluster for Deaf {
        async fn service(&self, name: &str) -> Result<bollard::models::Service, crate::cluster::ClusterError> {
            self.0.service(name).await
        }
        async fn update_service(&self, _: &str, _: u64, _: ServiceSpec) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn tasks(&self, id: &str) -> Result<Vec<bollard::models::Task>, crate::cluster::ClusterError> {
            self.0.tasks(id).await
        }
        async fn counts(&self, _: &str) -> Result<crate::cluster::ServiceCounts, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn create_config(&self, _: crate::cluster::NewObject) -> Result<String, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn config(&self, _: &str) -> Result<Option<crate::cluster::ConfigObject>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn remove_config(&self, _: &str) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn update_config_labels(
            &self,
            _: &str,
            _: u64,
            _: std::collections::HashMap<String, String>,
        ) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn configs(&self, _: &str) -> Result<Vec<crate::cluster::ConfigObject>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn network(&self, _: &str) -> Result<Option<crate::cluster::Network>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn create_network(&self, _: crate::cluster::NewNetwork) -> Result<String, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn remove_network(&self, _: &str) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn secret(&self, _: &str) -> Result<Option<crate::cluster::SecretObject>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn create_secret(&self, _: crate::cluster::NewObject) -> Result<String, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn remove_secret(&self, _: &str) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn create_service(&self, _: ServiceSpec) -> Result<String, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn remove_service(&self, _: &str) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn services(&self, _: &str) -> Result<Vec<bollard::models::Service>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn logs(&self, _: &str, _: usize) -> Result<String, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn unhealthy(&self, _: &str) -> Result<Vec<(String, String)>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn local_container(&self, _: &str) -> Result<Option<String>, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn exec(
            &self,
            _: crate::cluster::Exec,
        ) -> Result<crate::cluster::Executed, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn stop_container(&self, _: &str, _: Duration) -> Result<(), crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn logs_to(&self, _: &str, _: &std::path::Path) -> Result<u64, crate::cluster::ClusterError> {
            unimplemented!()
        }
        async fn secrets(&self, _: &str) -> Result<Vec<crate::cluster::SecretObject>, crate::cluster::ClusterError> {
            unimplemented!()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cluster_that_hears_of_nothing_is_looked_at_every_tick() {
        let deaf = Deaf(FakeCluster::new());
        let id = deaf.0.add_service(web("app:v1"));

        let seen = looks(&deaf, &id, Duration::from_millis(250), Duration::from_secs(1)).await;

        assert_eq!(seen, [0, 250, 500, 750, 1_000]);
    }
}
