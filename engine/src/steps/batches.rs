//! Analysis during a rollout (`analysis per-batch`), shared by the steps whose release Swarm
//! rolls out: rolling, a canary's promotion and compose. The follows of the services a step
//! changes report how many tasks run the new release ([`Batches`]); [`judge`] begins a
//! judgement of the step's gates each time more do, and the first verdict that is not a pass
//! ends the step while Swarm is still updating.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use plans::spanned::Spanned;

use super::StepError;
use crate::context::StepContext;
use crate::gates::GateReport;

/// The judgements still to end once the rollout has converged.
pub type Rest<'a> = Pin<Box<dyn Future<Output = Result<(), Vec<GateReport>>> + Send + 'a>>;

/// Runs `follow` (the follows of the step's services, which report to `batches`) while
/// `during` judges each batch; the first verdict that is not a pass ends the step there. Once
/// the follow has converged, returns what is left to judge: the judgement of the whole release
/// (unless it is over) and `after`, the gates that judge convergence itself. The step watches
/// the new tasks until that has passed.
pub async fn follow_judging<'a, T, E>(
    ctx: &'a StepContext,
    during: &'a [Spanned<String>],
    after: &'a [Spanned<String>],
    (batches, seen): (&Batches, tokio::sync::watch::Receiver<Rollout>),
    follow: impl Future<Output = Result<T, E>>,
) -> Result<Rest<'a>, StepError>
where
    StepError: From<E>,
{
    let mut analysis = Box::pin(judge(ctx, during, seen));
    let analysed = {
        let mut follow = std::pin::pin!(follow);
        tokio::select! {
            judged = analysis.as_mut() => {
                judged.map_err(StepError::Gates)?;
                follow.as_mut().await?;
                true
            }
            followed = follow.as_mut() => {
                followed?;
                false
            }
        }
    };
    batches.converged();
    Ok(Box::pin(async move {
        let whole = async { if analysed { Ok(()) } else { analysis.await } };
        tokio::try_join!(whole, ctx.judge(after)).map(|_| ())
    }))
}

/// How the progress message that a judgement of a batch begins starts (`planrun plan`'s
/// drills show these).
pub const JUDGING: &str = "judging ";

/// Where the follows of a step's services say how far each has come, summed into the
/// [`Rollout`] that [`judge`] reads.
pub struct Batches {
    sender: tokio::sync::watch::Sender<Rollout>,
    /// (tasks on the new release, tasks expected) of each service, as its follow last said.
    parts: Mutex<Vec<(u64, u64)>>,
}

impl Batches {
    /// One part per service followed, each expecting that many tasks until its follow says
    /// (so that the first service to converge is not taken for the whole release).
    pub fn new(expected: &[u64]) -> (Batches, tokio::sync::watch::Receiver<Rollout>) {
        let parts: Vec<(u64, u64)> = expected.iter().map(|e| (0, *e)).collect();
        let (on_new, expected) = sum(&parts);
        let (sender, seen) = tokio::sync::watch::channel(Rollout { on_new, expected, converged: false });
        (Batches { sender, parts: Mutex::new(parts) }, seen)
    }

    /// Service `part` runs `updated.0` tasks of the new release, out of `updated.1`.
    pub fn update(&self, part: usize, updated: (u64, u64)) {
        let (on_new, expected) = {
            let mut parts = self.parts.lock().expect("batches poisoned");
            if let Some(p) = parts.get_mut(part) {
                *p = updated;
            }
            sum(&parts)
        };
        self.sender.send_modify(|r| (r.on_new, r.expected) = (on_new, expected));
    }

    /// Every service followed has converged.
    pub fn converged(&self) {
        self.sender.send_modify(|r| r.converged = true);
    }
}

fn sum(parts: &[(u64, u64)]) -> (u64, u64) {
    parts.iter().fold((0, 0), |(n, e), (pn, pe)| (n + pn, e + pe))
}

/// How far Swarm's update has come, as the follows last saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rollout {
    /// Tasks running the new release, in every service followed.
    on_new: u64,
    /// Tasks those services should run.
    expected: u64,
    /// The update has converged.
    converged: bool,
}

/// Judges `gates` batch by batch as the rollout `seen` goes on. A judgement begins as soon as
/// more tasks run the new release than when the last one began; one of a partial rollout at a
/// time (a batch that comes up meanwhile waits for it to end). Once every task runs the new
/// release (or the update converged), the judgement of the whole release begins at once,
/// beside a partial one still under way; both must pass. The first verdict that is not a pass
/// ends it.
pub async fn judge(
    ctx: &StepContext,
    gates: &[Spanned<String>],
    mut seen: tokio::sync::watch::Receiver<Rollout>,
) -> Result<(), Vec<GateReport>> {
    type Judgement<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Vec<GateReport>>> + Send + 'a>>;
    let begin = |now: Rollout| -> Judgement<'_> {
        let names: Vec<&str> = gates.iter().map(|g| g.value.as_str()).collect();
        ctx.progress(format!(
            "{JUDGING}{} with {} of {} tasks on the new release",
            names.join(", "),
            now.on_new,
            now.expected
        ));
        Box::pin(ctx.judge(gates))
    };
    let mut partial: Option<Judgement<'_>> = None;
    let mut judged = 0;
    loop {
        let now = *seen.borrow_and_update();
        if now.converged || (now.expected > 0 && now.on_new >= now.expected) {
            let whole = begin(now);
            return match partial {
                Some(partial) => tokio::try_join!(partial, whole).map(|_| ()),
                None => whole.await,
            };
        }
        if partial.is_none() && now.on_new > judged {
            judged = now.on_new;
            partial = Some(begin(now));
        }
        let under_way = partial.is_some();
        tokio::select! {
            verdict = async { partial.as_mut().expect("a judgement under way").await }, if under_way => {
                verdict?;
                partial = None;
            }
            changed = seen.changed() => {
                // The sender lives as long as the step: this waits until the step ends.
                if changed.is_err() {
                    return std::future::pending().await;
                }
            }
        }
    }
}
