//! The per-stack deploy lock, kept in the swarm itself as a config object, so two CI runners
//! on two machines cannot deploy the same stack at once. Creating a config is atomic: the
//! second creator gets a conflict.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterError, ConfigObject};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`.
    pub holder: String,
    /// The machine.
    pub host: String,
    /// The run's id.
    pub run_id: String,
    /// The process id on that machine.
    pub pid: u32,
    /// When the lock was taken, RFC 3339.
    pub started: String,
}

impl Holder {
    /// The current process as a lock holder for `run_id`.
    pub fn this_process(run_id: &str) -> Holder {
        let host = hostname();
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(user_of_this_process)
            .unwrap_or_else(|| format!("uid{}", this_uid()));
        Holder {
            holder: format!("{user}@{host}"),
            host,
            run_id: run_id.to_owned(),
            pid: std::process::id(),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            ("planrun.lock.holder".into(), self.holder.clone()),
            ("planrun.lock.host".into(), self.host.clone()),
            ("planrun.lock.run-id".into(), self.run_id.clone()),
            ("planrun.lock.pid".into(), self.pid.to_string()),
            ("planrun.lock.started".into(), self.started.clone()),
        ])
    }

    fn from_labels(labels: &HashMap<String, String>) -> Holder {
        let get = |k: &str| labels.get(k).cloned().unwrap_or_else(|| "?".into());
        Holder {
            holder: get("planrun.lock.holder"),
            host: get("planrun.lock.host"),
            run_id: get("planrun.lock.run-id"),
            pid: get("planrun.lock.pid").parse().unwrap_or(0),
            started: get("planrun.lock.started"),
        }
    }
}

/// The name of the user this process runs as, from the password database (CI runs as root
/// with no `USER` set).
fn user_of_this_process() -> Option<String> {
    let uid = this_uid();
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (whose length it is given) and sets
    // `result` to `&pwd` or null; the name is read only when it succeeded.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf` and is NUL-terminated on success.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().map(str::to_owned).filter(|n| !n.is_empty())
}

fn this_uid() -> u32 {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    unsafe { libc::getuid() }
}

/// Whether process `pid` is gone on this machine.
fn gone(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Why a lock could not be taken or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Someone else holds it.
    Held {
        /// The stack.
        stack: String,
        /// Who.
        holder: Holder,
    },
    /// Nobody holds it.
    NotHeld(String),
    /// The swarm did not answer.
    Cluster(ClusterError),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { stack, holder } => write!(
                f,
                "stack `{stack}` is locked by {} (run {}, pid {} on {}) since {}\n\
                 if that run is no longer alive, clear the lock with: planrun unlock {stack} --force",
                holder.holder, holder.run_id, holder.pid, holder.host, holder.started
            ),
            LockError::NotHeld(stack) => write!(f, "stack `{stack}` is not locked"),
            LockError::Cluster(e) => write!(f, "cannot reach the swarm for the deploy lock: {e}"),
        }
    }
}

impl std::error::Error for LockError {}

/// The config object name of a stack's lock.
pub fn lock_name(stack: &str) -> String {
    format!("planrun-lock-{stack}")
}

/// A held lock; release it explicitly with [`Lock::release`].
pub struct Lock {
    cluster: Arc<dyn Cluster>,
    id: String,
    /// The stack.
    pub stack: String,
    /// Who holds it (this process).
    pub holder: Holder,
}

impl Lock {
    /// Takes the stack's lock, or says who holds it.
    pub async fn acquire(cluster: Arc<dyn Cluster>, stack: &str, holder: Holder) -> Result<Lock, LockError> {
        let data = serde_json::to_vec(&holder).unwrap_or_default();
        match cluster.create_config(crate::cluster::NewObject::new(&lock_name(stack), holder.labels(), &data)).await {
            Ok(id) => Ok(Lock { cluster, id, stack: stack.to_owned(), holder }),
            Err(ClusterError::Conflict(_)) => match current(cluster.as_ref(), stack).await {
                Ok(Some((_, holder))) => Err(LockError::Held { stack: stack.to_owned(), holder }),
                // Released between our create and our read: the caller may simply retry.
                Ok(None) => Err(LockError::Cluster(ClusterError::Conflict(lock_name(stack)))),
                Err(e) => Err(LockError::Cluster(e)),
            },
            Err(e) => Err(LockError::Cluster(e)),
        }
    }

    /// Takes the stack's lock; a lock left by run `stale_run` is taken over when that run's
    /// process, on this machine, is gone (a run stopped by a second interrupt keeps its lock
    /// so nobody deploys over a half-undone stack; its `planrun rollback` takes it over).
    pub async fn acquire_or_take_over(
        cluster: Arc<dyn Cluster>,
        stack: &str,
        holder: Holder,
        stale_run: &str,
    ) -> Result<Lock, LockError> {
        match Lock::acquire(cluster.clone(), stack, holder.clone()).await {
            Err(LockError::Held { holder: held, .. })
                if held.run_id == stale_run && held.host == holder.host && gone(held.pid) =>
            {
                force_unlock(cluster.as_ref(), stack).await?;
                Lock::acquire(cluster, stack, holder).await
            }
            other => other,
        }
    }

    /// Releases the lock.
    pub async fn release(self) -> Result<(), LockError> {
        match self.cluster.remove_config(&self.id).await {
            Ok(()) | Err(ClusterError::NotFound(_)) => Ok(()),
            Err(e) => Err(LockError::Cluster(e)),
        }
    }
}

/// The lock's config object and holder, if the stack is locked.
pub async fn current(cluster: &dyn Cluster, stack: &str) -> Result<Option<(ConfigObject, Holder)>, ClusterError> {
    Ok(cluster.config(&lock_name(stack)).await?.map(|c| {
        let holder = Holder::from_labels(&c.labels);
        (c, holder)
    }))
}

/// Removes a stack's lock whoever holds it (`planrun unlock STACK --force`).
pub async fn force_unlock(cluster: &dyn Cluster, stack: &str) -> Result<Holder, LockError> {
    let Some((config, holder)) = current(cluster, stack).await.map_err(LockError::Cluster)? else {
        return Err(LockError::NotHeld(stack.to_owned()));
    };
    match cluster.remove_config(&config.id).await {
        Ok(()) | Err(ClusterError::NotFound(_)) => Ok(holder),
        Err(e) => Err(LockError::Cluster(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;

    fn holder(run_id: &str, pid: u32) -> Holder {
        Holder { pid, run_id: run_id.into(), ..Holder::this_process(run_id) }
    }

    /// A pid that is not running here: the highest pid the kernel would hand out, plus one.
    fn dead_pid() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304)
            + 1
    }

    #[tokio::test]
    async fn a_second_run_is_refused_and_told_who_holds_the_lock() {
        let cluster: Arc<dyn Cluster> = Arc::new(FakeCluster::new());
        let first = Lock::acquire(cluster.clone(), "shop", holder("r-1", 1)).await.unwrap();
        let Err(LockError::Held { holder: held, .. }) = Lock::acquire(cluster.clone(), "shop", holder("r-2", 2)).await
        else {
            panic!("the second run got the lock")
        };
        assert_eq!(held.run_id, "r-1");
        first.release().await.unwrap();
        Lock::acquire(cluster, "shop", holder("r-3", 3)).await.unwrap();
    }

    #[tokio::test]
    async fn the_rollback_of_a_stopped_run_takes_its_lock_over_only_when_that_process_is_gone() {
        let cluster: Arc<dyn Cluster> = Arc::new(FakeCluster::new());
        // A run whose process still lives (this one) keeps its lock.
        let _alive = Lock::acquire(cluster.clone(), "live", holder("r-live", std::process::id())).await.unwrap();
        let refused = Lock::acquire_or_take_over(cluster.clone(), "live", holder("r-rb", 1), "r-live").await;
        assert!(matches!(refused, Err(LockError::Held { .. })), "{:?}", refused.err());

        // A stopped run (its process gone) hands its lock to the rollback of that run only.
        let _stopped = Lock::acquire(cluster.clone(), "shop", holder("r-stopped", dead_pid())).await.unwrap();
        let other = Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb", 1), "r-other").await;
        assert!(matches!(other, Err(LockError::Held { .. })), "{:?}", other.err());
        let taken = Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb", 1), "r-stopped").await.unwrap();
        assert_eq!(current(cluster.as_ref(), "shop").await.unwrap().unwrap().1.run_id, "r-rb");
        taken.release().await.unwrap();
    }

    #[test]
    fn the_holder_names_a_user_without_user_in_the_environment() {
        // getpwuid_r is what is left when USER and LOGNAME are unset (CI runs as root without them).
        let name = user_of_this_process().expect("this uid has a name in the password database");
        let id = std::process::Command::new("id").arg("-un").output().unwrap();
        assert_eq!(name, String::from_utf8_lossy(&id.stdout).trim());
    }
}
