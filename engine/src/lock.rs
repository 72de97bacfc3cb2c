//! The per-stack deploy lock, kept in the swarm itself as a config object, so two CI runners
//! on two machines cannot deploy the same stack at once. Creating a config is atomic: the
//! second creator gets a conflict.
//!
//! A lock is a lease: its holder beats every [`BEAT`] (a change of the config's labels, made
//! with the version it read, so two writers cannot both think they beat), and a lock whose
//! holder has not beaten for [`LEASE`] is shown as expired: its run died (a CI runner lost,
//! a SIGKILL). An expired lock is not taken over silently, since a dead run may have left a
//! half-done release; `planrun unlock STACK --force RUN` names the run whose lock it removes,
//! so it cannot remove a lock a new run has just taken. A run whose lock is gone or taken
//! over (fencing) learns it at its next beat and stops changing things.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, ClusterError, ConfigObject};

/// How long a lock stays valid after its holder's last beat.
pub const LEASE: Duration = Duration::from_secs(60);

/// How often a running holder beats (on tokio's clock).
pub const BEAT: Duration = Duration::from_secs(10);

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
    /// The holder's last beat, RFC 3339 (a lock written before leases: when it was taken).
    #[serde(default)]
    pub beat: String,
    /// How long after its last beat the lock expires, in seconds.
    #[serde(default = "lease_secs")]
    pub lease_secs: u64,
    /// The run a rollback holding the lock undoes: a rollback of that run that comes later
    /// may take over the lock once this one is gone (a rollback that failed keeps the lock).
    #[serde(default)]
    pub undoing: Option<String>,
}

fn lease_secs() -> u64 {
    LEASE.as_secs()
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
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        Holder {
            holder: format!("{user}@{host}"),
            host,
            run_id: run_id.to_owned(),
            pid: std::process::id(),
            started: now.clone(),
            beat: now,
            lease_secs: LEASE.as_secs(),
            undoing: None,
        }
    }

    /// How long ago the holder last beat, when that is longer than its lease (by the clock of
    /// this machine: the lease is longer than the skew of synchronised clocks); `None` while
    /// the lock is live.
    pub fn expired(&self, now: SystemTime) -> Option<Duration> {
        let beat = humantime::parse_rfc3339(&self.beat).or_else(|_| humantime::parse_rfc3339(&self.started)).ok()?;
        let age = now.duration_since(beat).unwrap_or_default();
        (age > Duration::from_secs(self.lease_secs)).then_some(age)
    }

    /// Whether the holder's run is over: its lease expired, or its process on this machine is
    /// gone.
    pub fn is_dead(&self, now: SystemTime) -> bool {
        self.expired(now).is_some() || (self.host == hostname() && gone(self.pid))
    }

    /// `ci@runner-7 (run r-1, pid 42 on runner-7) since 2026-11-26T10:00:00Z`, and the age of
    /// the last beat when the lock expired.
    pub fn describe(&self, now: SystemTime) -> String {
        let mut words =
            format!("{} (run {}, pid {} on {}) since {}", self.holder, self.run_id, self.pid, self.host, self.started);
        if let Some(age) = self.expired(now) {
            words.push_str(&format!(
                ", expired: no beat for {} (its lease is {} s), so that run is dead",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                self.lease_secs
            ));
        }
        words
    }

    fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            ("planrun.lock.holder".into(), self.holder.clone()),
            ("planrun.lock.host".into(), self.host.clone()),
            ("planrun.lock.run-id".into(), self.run_id.clone()),
            ("planrun.lock.pid".into(), self.pid.to_string()),
            ("planrun.lock.started".into(), self.started.clone()),
            ("planrun.lock.beat".into(), self.beat.clone()),
            ("planrun.lock.lease".into(), self.lease_secs.to_string()),
        ]);
        if let Some(run) = &self.undoing {
            labels.insert("planrun.lock.undoing".into(), run.clone());
        }
        labels
    }

    fn from_labels(labels: &HashMap<String, String>) -> Holder {
        let get = |k: &str| labels.get(k).cloned().unwrap_or_else(|| "?".into());
        Holder {
            holder: get("planrun.lock.holder"),
            host: get("planrun.lock.host"),
            run_id: get("planrun.lock.run-id"),
            pid: get("planrun.lock.pid").parse().unwrap_or(0),
            started: get("planrun.lock.started"),
            beat: labels.get("planrun.lock.beat").cloned().unwrap_or_else(|| get("planrun.lock.started")),
            lease_secs: labels.get("planrun.lock.lease").and_then(|s| s.parse().ok()).unwrap_or(LEASE.as_secs()),
            undoing: labels.get("planrun.lock.undoing").cloned(),
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
    /// `unlock --force RUN` named another run than the holder's.
    OtherRun {
        /// The stack.
        stack: String,
        /// The run named.
        named: String,
        /// Who holds it.
        holder: Holder,
    },
    /// The swarm did not answer.
    Cluster(ClusterError),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { stack, holder } => write!(
                f,
                "stack `{stack}` is locked by {}\n\
                 if that run is no longer alive, `planrun repair {stack}` undoes what it left and clears the lock \
                 (or clear only the lock: planrun unlock {stack} --force {})",
                holder.describe(SystemTime::now()),
                holder.run_id
            ),
            LockError::NotHeld(stack) => write!(f, "stack `{stack}` is not locked"),
            LockError::OtherRun { stack, named, holder } => write!(
                f,
                "stack `{stack}` is locked by run {}, not {named}: nothing was removed \
                 (held by {})",
                holder.run_id,
                holder.describe(SystemTime::now())
            ),
            LockError::Cluster(e) => write!(f, "cannot reach the swarm for the deploy lock: {e}"),
        }
    }
}

impl std::error::Error for LockError {}

/// The config object name of a stack's lock.
pub fn lock_name(stack: &str) -> String {
    format!("planrun-lock-{stack}")
}

/// A held lock; release it explicitly with [`Lock::release`]. Dropping it stops its beats and
/// leaves it in the swarm, to expire.
pub struct Lock {
    cluster: Arc<dyn Cluster>,
    id: String,
    /// The stack.
    pub stack: String,
    /// Who holds it (this process).
    pub holder: Holder,
    beats: Option<tokio::task::JoinHandle<()>>,
    lost: CancellationToken,
    why_lost: Arc<std::sync::Mutex<Option<Lost>>>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(beats) = self.beats.take() {
            beats.abort();
        }
    }
}

/// Why a held lock was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// Its config object is gone (`planrun unlock --force`).
    Removed,
    /// Another run holds the stack now.
    TakenBy(Holder),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Removed => f.write_str("its lock was removed (planrun unlock --force)"),
            Lost::TakenBy(h) => write!(f, "its lock is held by {} now", h.describe(SystemTime::now())),
        }
    }
}

impl Lock {
    /// Takes the stack's lock, or says who holds it.
    pub async fn acquire(cluster: Arc<dyn Cluster>, stack: &str, holder: Holder) -> Result<Lock, LockError> {
        let data = serde_json::to_vec(&holder).unwrap_or_default();
        match cluster.create_config(crate::cluster::NewObject::new(&lock_name(stack), holder.labels(), &data)).await {
            Ok(id) => Ok(Lock {
                cluster,
                id,
                stack: stack.to_owned(),
                holder,
                beats: None,
                lost: CancellationToken::new(),
                why_lost: Arc::default(),
            }),
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
                if (held.run_id == stale_run || held.undoing.as_deref() == Some(stale_run))
                    && ((held.host == holder.host && gone(held.pid)) || held.expired(SystemTime::now()).is_some()) =>
            {
                force_unlock(cluster.as_ref(), stack, &held.run_id).await?;
                Lock::acquire(cluster, stack, holder).await
            }
            other => other,
        }
    }

    /// Starts beating every `every` (on tokio's clock), and returns a token that is cancelled,
    /// with the reason passed to `on_lost`, when a beat finds the lock removed or taken over:
    /// the run must then stop changing things. A beat that cannot reach the swarm is tried
    /// again at the next one: the lease is several beats long.
    pub fn keep(&mut self, every: Duration, on_lost: impl Fn(Lost) + Send + 'static) -> CancellationToken {
        let (cluster, id, stack, mut holder) =
            (self.cluster.clone(), self.id.clone(), self.stack.clone(), self.holder.clone());
        let (lost, why_lost) = (self.lost.clone(), self.why_lost.clone());
        let beats = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match beat(cluster.as_ref(), &id, &stack, &mut holder).await {
                    Ok(()) | Err(Beat::Missed) => {}
                    Err(Beat::Lost(why)) => {
                        *why_lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why.clone());
                        on_lost(why);
                        lost.cancel();
                        return;
                    }
                }
            }
        });
        if let Some(old) = self.beats.replace(beats) {
            old.abort();
        }
        self.lost.clone()
    }

    /// Whether a beat found the lock removed or taken over.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// How a beat found the lock removed or taken over, if one did.
    pub fn lost(&self) -> Option<Lost> {
        self.why_lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Releases the lock, unless it was lost (then it is someone else's).
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(beats) = self.beats.take() {
            beats.abort();
        }
        if self.lost.is_cancelled() {
            return Ok(());
        }
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

/// What a beat found.
enum Beat {
    /// The swarm did not answer, or another write came first: try at the next beat.
    Missed,
    /// The lock is not ours any more.
    Lost(Lost),
}

/// One beat: the lock's config, read by name, must still be ours (same id, same run); its
/// `beat` label is then set to now, with the version just read.
async fn beat(cluster: &dyn Cluster, id: &str, stack: &str, holder: &mut Holder) -> Result<(), Beat> {
    let (config, held) = match current(cluster, stack).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(Beat::Lost(Lost::Removed)),
        Err(_) => return Err(Beat::Missed),
    };
    if config.id != id || held.run_id != holder.run_id {
        return Err(Beat::Lost(Lost::TakenBy(held)));
    }
    holder.beat = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    match cluster.update_config_labels(id, config.version, holder.labels()).await {
        Ok(()) => Ok(()),
        Err(ClusterError::NotFound(_)) => Err(Beat::Lost(Lost::Removed)),
        Err(_) => Err(Beat::Missed),
    }
}

/// Removes a stack's lock held by run `run` (`planrun unlock STACK --force RUN`): naming the
/// run keeps it from removing a lock that a new run took since someone looked.
pub async fn force_unlock(cluster: &dyn Cluster, stack: &str, run: &str) -> Result<Holder, LockError> {
    let Some((config, holder)) = current(cluster, stack).await.map_err(LockError::Cluster)? else {
        return Err(LockError::NotHeld(stack.to_owned()));
    };
    if holder.run_id != run {
        return Err(LockError::OtherRun { stack: stack.to_owned(), named: run.to_owned(), holder });
    }
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

        // A failed rollback keeps the lock; a later rollback of the same run takes it over.
        let failed = Holder { undoing: Some("r-stopped".into()), ..holder("r-rb1", dead_pid()) };
        let _kept = Lock::acquire(cluster.clone(), "shop", failed).await.unwrap();
        let other = Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb2", 1), "r-other").await;
        assert!(matches!(other, Err(LockError::Held { .. })), "{:?}", other.err());
        let again = Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb2", 1), "r-stopped").await.unwrap();
        assert_eq!(current(cluster.as_ref(), "shop").await.unwrap().unwrap().1.run_id, "r-rb2");
        again.release().await.unwrap();
    }

    /// A holder whose last beat was `ago` before now, on another machine.
    fn beat_ago(run_id: &str, ago: Duration) -> Holder {
        let then = humantime::format_rfc3339_seconds(SystemTime::now() - ago).to_string();
        Holder {
            host: "runner-9".into(),
            holder: "ci@runner-9".into(),
            pid: 7,
            started: then.clone(),
            beat: then,
            ..holder(run_id, 7)
        }
    }

    #[test]
    fn a_lock_expires_a_lease_after_its_last_beat_and_says_so() {
        let now = SystemTime::now();
        assert_eq!(beat_ago("r-1", Duration::from_secs(30)).expired(now), None);
        let age = beat_ago("r-1", Duration::from_secs(300)).expired(now).expect("expired");
        assert!((299..=301).contains(&age.as_secs()), "{age:?}");
        let words = beat_ago("r-1", Duration::from_secs(300)).describe(now);
        assert!(words.contains("ci@runner-9 (run r-1, pid 7 on runner-9)"), "{words}");
        assert!(words.contains("expired: no beat for 5m"), "{words}");
        assert!(!beat_ago("r-1", Duration::ZERO).describe(now).contains("expired"));
        // A lock written before leases (no beat label) counts from when it was taken.
        let old = Holder::from_labels(&HashMap::from([
            ("planrun.lock.run-id".to_owned(), "r-old".to_owned()),
            ("planrun.lock.started".to_owned(), "2026-01-01T00:00:00Z".to_owned()),
        ]));
        assert!(old.expired(now).is_some());
        assert_eq!(old.lease_secs, LEASE.as_secs());
    }

    #[tokio::test]
    async fn unlock_force_removes_only_the_lock_of_the_run_it_names() {
        let cluster: Arc<dyn Cluster> = Arc::new(FakeCluster::new());
        let held = Lock::acquire(cluster.clone(), "shop", holder("r-1", 1)).await.unwrap();
        let other = force_unlock(cluster.as_ref(), "shop", "r-0").await;
        let Err(LockError::OtherRun { named, holder: h, .. }) = &other else { panic!("{other:?}") };
        assert_eq!((named.as_str(), h.run_id.as_str()), ("r-0", "r-1"));
        assert!(other.unwrap_err().to_string().contains("locked by run r-1, not r-0: nothing was removed"));
        assert_eq!(force_unlock(cluster.as_ref(), "shop", "r-1").await.unwrap().run_id, "r-1");
        assert_eq!(force_unlock(cluster.as_ref(), "shop", "r-1").await, Err(LockError::NotHeld("shop".into())));
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lock_beats_and_a_run_whose_lock_was_removed_learns_it_at_its_next_beat() {
        let cluster: Arc<dyn Cluster> = Arc::new(FakeCluster::new());
        let mut first =
            Lock::acquire(cluster.clone(), "shop", beat_ago("r-1", Duration::from_secs(3600))).await.unwrap();
        let said = Arc::new(std::sync::Mutex::new(Vec::new()));
        let heard = said.clone();
        let lost = first.keep(BEAT, move |why| heard.lock().unwrap().push(why));
        let version = current(cluster.as_ref(), "shop").await.unwrap().unwrap().0.version;
        tokio::time::sleep(BEAT + Duration::from_millis(1)).await;
        let (config, beaten) = current(cluster.as_ref(), "shop").await.unwrap().unwrap();
        assert!(config.version > version, "a beat is a change of the config");
        assert_eq!(beaten.expired(SystemTime::now()), None, "the beat renewed an hour-old lease");
        assert!(!lost.is_cancelled());

        // A person removes it, and a second run takes the stack.
        force_unlock(cluster.as_ref(), "shop", "r-1").await.unwrap();
        let second = Lock::acquire(cluster.clone(), "shop", holder("r-2", 2)).await.unwrap();
        tokio::time::sleep(BEAT).await;
        assert!(lost.is_cancelled() && first.is_lost());
        let why = said.lock().unwrap().clone();
        let [Lost::TakenBy(by)] = why.as_slice() else { panic!("{why:?}") };
        assert_eq!(by.run_id, "r-2");
        // Releasing a lost lock leaves the new holder's alone.
        first.release().await.unwrap();
        assert_eq!(current(cluster.as_ref(), "shop").await.unwrap().unwrap().1.run_id, "r-2");
        second.release().await.unwrap();
    }

    #[tokio::test]
    async fn the_rollback_of_a_run_takes_over_its_expired_lock_from_any_machine() {
        let cluster: Arc<dyn Cluster> = Arc::new(FakeCluster::new());
        // Held by a run on another machine whose pid may well be alive here: only its lease says.
        let _live = Lock::acquire(cluster.clone(), "live", beat_ago("r-live", Duration::from_secs(5))).await.unwrap();
        let refused = Lock::acquire_or_take_over(cluster.clone(), "live", holder("r-rb", 1), "r-live").await;
        assert!(matches!(refused, Err(LockError::Held { .. })), "{:?}", refused.err());
        let _dead = Lock::acquire(cluster.clone(), "shop", beat_ago("r-dead", Duration::from_secs(600))).await.unwrap();
        let other = Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb", 1), "r-other").await;
        assert!(
            matches!(other, Err(LockError::Held { .. })),
            "an expired lock is taken over by its own run's rollback only"
        );
        Lock::acquire_or_take_over(cluster.clone(), "shop", holder("r-rb", 1), "r-dead").await.unwrap();
        assert_eq!(current(cluster.as_ref(), "shop").await.unwrap().unwrap().1.run_id, "r-rb");
    }

    #[test]
    fn the_holder_names_a_user_without_user_in_the_environment() {
        // getpwuid_r is what is left when USER and LOGNAME are unset (CI runs as root without them).
        let name = user_of_this_process().expect("this uid has a name in the password database");
        let id = std::process::Command::new("id").arg("-un").output().unwrap();
        assert_eq!(name, String::from_utf8_lossy(&id.stdout).trim());
    }
}
