//! How tasks behave and how long things take in the fake swarm: an image's behaviour, the
//! health check's timing, and the update and rollback policies of a spec.

use std::time::Duration;

use bollard::models::{
    ServiceSpec, ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec,
};

/// How a task running an image behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Starts, passes its health check and keeps running (a job: exits 0).
    Healthy,
    /// Exits at once with this code (Swarm: "task: non-zero exit (N)").
    Crash(i64),
    /// Never passes its health check: killed after `retries` failed checks.
    NeverHealthy,
    /// Runs and passes its checks, then is stopped as unhealthy this long after it started
    /// (ends `complete`, like an app that exits 0 on SIGTERM).
    UnhealthyAfter(Duration),
}

/// How long things take in the fake, besides what the health check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From a task's creation to its container running.
    pub start: Duration,
    /// Between a failed task and its replacement when the spec sets no restart delay.
    pub restart_delay: Duration,
    /// How long Swarm takes to start a rollback once it decided on one.
    pub rollback: Duration,
    /// From a service update to Swarm's updater saying `updating`. Until then the update
    /// status is empty (Swarm resets it on every write) and the old tasks still run: a
    /// follower that judges tasks by their image alone sees a config-only change as done.
    pub updater: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            start: Duration::from_secs(1),
            restart_delay: Duration::from_secs(2),
            rollback: Duration::from_secs(1),
            updater: Duration::from_millis(20),
        }
    }
}

/// The health check's timing, with Docker's defaults for what the spec leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Between checks (Docker's default 30 s).
    pub interval: Duration,
    /// Failed checks before the container is unhealthy (default 3).
    pub retries: u32,
    /// Failures in this time after the start do not count (default 0).
    pub start_period: Duration,
}

impl Health {
    /// The health check of a task template, if it has one that is not `NONE`.
    pub fn of(template: &TaskSpec) -> Option<Health> {
        let check = template.container_spec.as_ref()?.health_check.as_ref()?;
        let test = check.test.clone().unwrap_or_default();
        if test.is_empty() || test.first().map(String::as_str) == Some("NONE") {
            return None;
        }
        let nanos = |n: Option<i64>, default: Duration| match n {
            Some(n) if n > 0 => Duration::from_nanos(n as u64),
            _ => default,
        };
        Some(Health {
            interval: nanos(check.interval, Duration::from_secs(30)),
            retries: check.retries.filter(|r| *r > 0).map(|r| r as u32).unwrap_or(3),
            start_period: nanos(check.start_period, Duration::ZERO),
        })
    }

    /// From the container's start to its first passing check.
    pub fn until_healthy(&self) -> Duration {
        self.interval
    }

    /// From the container's start to being killed when every check fails.
    pub fn until_unhealthy(&self) -> Duration {
        (self.interval * self.retries).max(self.start_period + self.interval)
    }
}

/// When a new task of `template` is known to be up, or to have failed, counted from its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Running (and healthy, if it has a health check) after this long.
    Up(Duration),
    /// Failed after this long.
    Failed(Duration),
}

/// How the first moments of a new task go, and when it dies later if it does.
pub(super) fn start_of(behavior: Behavior, template: &TaskSpec, timing: &Timing) -> (Start, Option<Duration>) {
    let health = Health::of(template);
    let up = timing.start + health.map(|h| h.until_healthy()).unwrap_or_default();
    match behavior {
        Behavior::Healthy => (Start::Up(up), None),
        Behavior::Crash(_) => (Start::Failed(timing.start), None),
        Behavior::NeverHealthy => {
            let after = health.map(|h| h.until_unhealthy()).unwrap_or_default();
            (Start::Failed(timing.start + after), None)
        }
        Behavior::UnhealthyAfter(after) if timing.start + after <= up => (Start::Failed(timing.start + after), None),
        Behavior::UnhealthyAfter(after) => (Start::Up(up), Some(timing.start + after)),
    }
}

pub(super) fn restart_delay(template: &TaskSpec, timing: &Timing) -> Duration {
    template
        .restart_policy
        .as_ref()
        .and_then(|p| p.delay)
        .filter(|d| *d > 0)
        .map(|d| Duration::from_nanos(d as u64))
        .unwrap_or(timing.restart_delay)
}

/// The replacement settings of an update or a rollback, with Swarm's defaults.
pub(super) struct Policy {
    pub(super) parallelism: usize,
    pub(super) delay: Duration,
    pub(super) monitor: Duration,
    pub(super) start_first: bool,
    pub(super) on_failure: OnFailure,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFailure {
    Rollback,
    Pause,
    Continue,
}

impl Policy {
    pub(super) fn of(spec: &ServiceSpec, rolling_back: bool) -> Policy {
        let nanos =
            |n: Option<i64>, default: Duration| n.map(|n| Duration::from_nanos(n.max(0) as u64)).unwrap_or(default);
        if rolling_back {
            let c = spec.rollback_config.clone().unwrap_or_default();
            Policy {
                parallelism: c.parallelism.unwrap_or(1).max(0) as usize,
                delay: nanos(c.delay, Duration::ZERO),
                monitor: nanos(c.monitor, Duration::from_secs(5)),
                start_first: c.order.map(|o| o.to_string()) == Some("start-first".into()),
                on_failure: match c.failure_action {
                    Some(ServiceSpecRollbackConfigFailureActionEnum::CONTINUE) => OnFailure::Continue,
                    _ => OnFailure::Pause,
                },
            }
        } else {
            let c = spec.update_config.clone().unwrap_or_default();
            Policy {
                parallelism: c.parallelism.unwrap_or(1).max(0) as usize,
                delay: nanos(c.delay, Duration::ZERO),
                monitor: nanos(c.monitor, Duration::from_secs(5)),
                start_first: c.order == Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
                on_failure: match c.failure_action {
                    Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK) => OnFailure::Rollback,
                    Some(ServiceSpecUpdateConfigFailureActionEnum::CONTINUE) => OnFailure::Continue,
                    _ => OnFailure::Pause,
                },
            }
        }
    }
}
