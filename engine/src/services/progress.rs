//! What following a service reports as it goes, through a callback the caller gives: the
//! services layer knows nothing of runs, steps or events.

/// One report of a follow: what it sees now, and how many tasks run the target of how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Such as "2 of 3 tasks running on image app:v2, Swarm is still updating".
    pub message: String,
    /// (tasks running the target, tasks expected).
    pub updated: (u64, u64),
}

/// Where a follow sends its reports (a step turns them into run events).
pub type Report<'a> = &'a (dyn Fn(Progress) + Sync);
