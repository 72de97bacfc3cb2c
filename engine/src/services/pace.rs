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
