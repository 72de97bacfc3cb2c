//! Asking a person whether a run goes on (`pause manual` today; canary promotion next).
//!
//! [`Approver`] is the seam. Answers can come from anywhere: [`SwarmApprovals`] keeps the
//! question and the answer in the swarm itself, so `planrun promote STACK` or
//! `planrun abort STACK` from any shell or machine that reaches the swarm answers a run that
//! waits in CI; the command line adds a terminal prompt (`cli::prompt`) when there is one;
//! [`FirstAnswer`] takes whichever comes first; [`ScriptedApprover`] answers in virtual time.
//!
//! The swarm keeps two config objects per stack (the deploy lock makes them one run's):
//! `planrun-wait-STACK` names the run and step that wait (so `promote`, `abort` and, later,
//! `status` can see it), and `planrun-answer-STACK` carries the answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::cause::IoError;
use crate::cluster::{Cluster, ClusterError};
use crate::lock::Holder;

/// What a run asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The stack.
    pub stack: String,
    /// The run that asks.
    pub run_id: String,
    /// The step that waits.
    pub step: String,
    /// The question, as a person reads it.
    pub text: String,
}

/// A person's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Go on (promote), or stop and roll back (abort).
    pub approved: bool,
    /// Who answered, and where: `alice@laptop`, `terminal`.
    pub by: String,
}

/// Why a person could not be asked, or did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskError {
    /// The question cannot be kept in the swarm.
    Swarm(ClusterError),
    /// The answer typed at the terminal cannot be read.
    Terminal(IoError),
    /// The task that asked ended without an answer (it panicked or was cancelled).
    Stopped {
        /// What tokio said.
        message: String,
    },
    /// Nobody answered before the step's deadline.
    Deadline {
        /// How long was left of the step's deadline when the question was asked.
        left: Duration,
    },
    /// Nobody answered within a manual pause's `timeout`.
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// There is no one to ask.
    Nobody,
    /// Every approver failed, each for its reason.
    Every(Vec<AskError>),
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AskError::Swarm(e) => write!(f, "cannot keep the question in the swarm: {e}"),
            AskError::Terminal(e) => write!(f, "cannot read the answer: {e}"),
            AskError::Stopped { message } => f.write_str(message),
            AskError::Timeout { after } => {
                write!(f, "nobody answered within the pause's timeout ({})", humantime::format_duration(*after))
            }
            AskError::Deadline { left } => write!(
                f,
                "nobody answered before the step's deadline ({} left when asked)",
                crate::clock::seconds(*left)
            ),
            AskError::Nobody => f.write_str("nobody can be asked"),
            AskError::Every(errors) => {
                let each: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&each.join("; "))
            }
        }
    }
}

impl std::error::Error for AskError {}

/// Asks a person.
#[async_trait]
pub trait Approver: Send + Sync {
    /// Waits for an answer (for as long as it takes: the caller bounds the wait). An error
    /// means this approver cannot ask at all.
    async fn ask(&self, question: &Question) -> Result<Answer, AskError>;
    /// How a person answers through this approver, for the progress view.
    fn how(&self, question: &Question) -> Option<String>;
    /// Puts the question where it can be answered, before anyone is told it is asked (an
    /// answer given the moment the progress view shows the question must find it). `ask`
    /// does it too if this was not called.
    async fn post(&self, _question: &Question) -> Result<(), AskError> {
        Ok(())
    }
}

/// The name of the config object that says a run waits.
pub fn wait_name(stack: &str) -> String {
    format!("planrun-wait-{stack}")
}

/// The name of the config object that carries the answer.
pub fn answer_name(stack: &str) -> String {
    format!("planrun-answer-{stack}")
}

const RUN_ID: &str = "planrun.wait.run-id";
const STEP: &str = "planrun.wait.step";
const QUESTION: &str = "planrun.wait.question";
const APPROVED: &str = "planrun.answer.approved";
const BY: &str = "planrun.answer.by";

/// How often a waiting run looks for an answer.
const POLL: Duration = Duration::from_millis(500);

/// Questions and answers kept in the swarm.
pub struct SwarmApprovals {
    cluster: Arc<dyn Cluster>,
}

impl SwarmApprovals {
    /// Approvals through `cluster`.
    pub fn new(cluster: Arc<dyn Cluster>) -> SwarmApprovals {
        SwarmApprovals { cluster }
    }

    async fn remove(&self, name: &str) -> Result<(), ClusterError> {
        match self.cluster.config(name).await? {
            Some(c) => match self.cluster.remove_config(&c.id).await {
                Ok(()) | Err(ClusterError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            },
            None => Ok(()),
        }
    }
}

/// Removes the wait marker and the answer when the wait ends, however it ends.
struct Cleanup {
    cluster: Arc<dyn Cluster>,
    stack: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let cluster = self.cluster.clone();
        let stack = self.stack.clone();
        // Drop cannot wait; a leftover is removed by the next question on this stack anyway.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let approvals = SwarmApprovals { cluster };
                let _ = approvals.remove(&answer_name(&stack)).await;
                let _ = approvals.remove(&wait_name(&stack)).await;
            });
        }
    }
}

#[async_trait]
impl Approver for SwarmApprovals {
    async fn post(&self, question: &Question) -> Result<(), AskError> {
        let failed = AskError::Swarm;
        let posted = self.cluster.config(&wait_name(&question.stack)).await.map_err(failed)?;
        let ours = |labels: &HashMap<String, String>| {
            labels.get(RUN_ID) == Some(&question.run_id) && labels.get(STEP) == Some(&question.step)
        };
        if posted.is_some_and(|c| ours(&c.labels)) {
            return Ok(());
        }
        // The deploy lock makes this run the only one on the stack: anything left is stale.
        self.remove(&answer_name(&question.stack)).await.map_err(failed)?;
        self.remove(&wait_name(&question.stack)).await.map_err(failed)?;
        let labels = HashMap::from([
            (RUN_ID.to_string(), question.run_id.clone()),
            (STEP.to_string(), question.step.clone()),
            (QUESTION.to_string(), question.text.clone()),
        ]);
        self.cluster
            .create_config(crate::cluster::NewObject::new(&wait_name(&question.stack), labels, b"waiting"))
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn ask(&self, question: &Question) -> Result<Answer, AskError> {
        self.post(question).await?;
        let _cleanup = Cleanup { cluster: self.cluster.clone(), stack: question.stack.clone() };
        loop {
            // A poll that fails is tried again: the daemon may hiccup during a long wait.
            if let Ok(Some(answer)) = self.cluster.config(&answer_name(&question.stack)).await {
                let get = |k: &str| answer.labels.get(k).cloned().unwrap_or_default();
                if get(RUN_ID) == question.run_id && get(STEP) == question.step {
                    return Ok(Answer { approved: get(APPROVED) == "true", by: get(BY) });
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn how(&self, question: &Question) -> Option<String> {
        Some(format!(
            "planrun promote {0} (or planrun abort {0}) from any machine that reaches the swarm",
            question.stack
        ))
    }
}

/// Why `planrun promote` or `planrun abort` could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// No run of the stack waits.
    NothingWaits(String),
    /// The answer for this wait is already given.
    AlreadyAnswered(String),
    /// The swarm did not answer.
    Cluster(ClusterError),
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerError::NothingWaits(stack) => write!(f, "no run of stack `{stack}` waits for approval"),
            AnswerError::AlreadyAnswered(stack) => {
                write!(f, "the waiting run of stack `{stack}` has already been answered")
            }
            AnswerError::Cluster(e) => write!(f, "cannot reach the swarm: {e}"),
        }
    }
}

impl std::error::Error for AnswerError {}

/// Removes the question run `run_id` left in the swarm, and its answer, if they are still
/// there (a question and answer of another run are left alone). A run calls it as it ends, and
/// `planrun rollback` for the run it undoes: a run killed while it waited leaves its question,
/// which `planrun promote` would otherwise answer.
pub async fn withdraw(cluster: &dyn Cluster, stack: &str, run_id: &str) -> Result<(), ClusterError> {
    for name in [answer_name(stack), wait_name(stack)] {
        if let Some(c) = cluster.config(&name).await?
            && c.labels.get(RUN_ID).map(String::as_str) == Some(run_id)
        {
            match cluster.remove_config(&c.id).await {
                Ok(()) | Err(ClusterError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Who waits on a stack: (run id, step, question).
pub async fn waiting(cluster: &dyn Cluster, stack: &str) -> Result<Option<(String, String, String)>, ClusterError> {
    Ok(cluster.config(&wait_name(stack)).await?.map(|c| {
        let get = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
        (get(RUN_ID), get(STEP), get(QUESTION))
    }))
}

/// Answers the run waiting on `stack` (`planrun promote` / `planrun abort`); returns the run
/// id and step that were answered.
pub async fn answer(
    cluster: &dyn Cluster,
    stack: &str,
    approved: bool,
    by: &Holder,
) -> Result<(String, String), AnswerError> {
    let Some((run_id, step, _)) = waiting(cluster, stack).await.map_err(AnswerError::Cluster)? else {
        return Err(AnswerError::NothingWaits(stack.to_owned()));
    };
    let labels = HashMap::from([
        (RUN_ID.to_string(), run_id.clone()),
        (STEP.to_string(), step.clone()),
        (APPROVED.to_string(), approved.to_string()),
        (BY.to_string(), by.holder.clone()),
    ]);
    match cluster.create_config(crate::cluster::NewObject::new(&answer_name(stack), labels, b"answer")).await {
        Ok(_) => Ok((run_id, step)),
        Err(ClusterError::Conflict(_)) => Err(AnswerError::AlreadyAnswered(stack.to_owned())),
        Err(e) => Err(AnswerError::Cluster(e)),
    }
}

/// Whichever approver answers first; one that cannot ask is left out.
pub struct FirstAnswer(pub Vec<Arc<dyn Approver>>);

#[async_trait]
impl Approver for FirstAnswer {
    async fn ask(&self, question: &Question) -> Result<Answer, AskError> {
        let mut asking: tokio::task::JoinSet<Result<Answer, AskError>> = tokio::task::JoinSet::new();
        for approver in &self.0 {
            let (approver, question) = (approver.clone(), question.clone());
            asking.spawn(async move { approver.ask(&question).await });
        }
        let mut errors = Vec::new();
        while let Some(joined) = asking.join_next().await {
            match joined {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(AskError::Stopped { message: e.to_string() }),
            }
        }
        Err(if errors.is_empty() { AskError::Nobody } else { AskError::Every(errors) })
    }

    fn how(&self, question: &Question) -> Option<String> {
        let ways: Vec<String> = self.0.iter().filter_map(|a| a.how(question)).collect();
        (!ways.is_empty()).then(|| ways.join("; or "))
    }

    async fn post(&self, question: &Question) -> Result<(), AskError> {
        // One that cannot post is left out, as in `ask`.
        let mut errors = Vec::new();
        for approver in &self.0 {
            if let Err(e) = approver.post(question).await {
                errors.push(e);
            }
        }
        if errors.len() == self.0.len() && !errors.is_empty() { Err(AskError::Every(errors)) } else { Ok(()) }
    }
}

/// Answers every question the same way after a while (simulations, tests).
#[derive(Debug, Clone)]
pub struct ScriptedApprover {
    /// How long the person takes (tokio's clock).
    pub after: Duration,
    /// Their answer.
    pub approved: bool,
}

#[async_trait]
impl Approver for ScriptedApprover {
    async fn ask(&self, _question: &Question) -> Result<Answer, AskError> {
        tokio::time::sleep(self.after).await;
        Ok(Answer { approved: self.approved, by: "simulation".into() })
    }

    fn how(&self, _question: &Question) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;

    fn question() -> Question {
        Question { stack: "shop".into(), run_id: "r-1".into(), step: "sign-off".into(), text: "go on?".into() }
    }

    fn holder(who: &str) -> Holder {
        Holder {
            holder: who.into(),
            host: "h".into(),
            run_id: "r-x".into(),
            pid: 1,
            started: "now".into(),
            beat: "now".into(),
            lease_secs: 60,
            undoing: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_posted_question_can_be_answered_before_the_run_starts_polling() {
        let fake = FakeCluster::new();
        let cluster: Arc<dyn Cluster> = Arc::new(fake.clone());
        let approvals = FirstAnswer(vec![Arc::new(SwarmApprovals::new(cluster.clone()))]);
        approvals.post(&question()).await.unwrap();
        // What the progress view shows next is answered at once, from another process.
        let answered = answer(cluster.as_ref(), "shop", true, &holder("alice@laptop")).await.unwrap();
        assert_eq!(answered, ("r-1".to_string(), "sign-off".to_string()));
        let got = approvals.ask(&question()).await.unwrap();
        assert_eq!(got, Answer { approved: true, by: "alice@laptop".into() }, "posting again keeps the answer");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_the_swarm_reaches_the_waiting_run() {
        let fake = FakeCluster::new();
        let cluster: Arc<dyn Cluster> = Arc::new(fake.clone());
        let approvals = SwarmApprovals::new(cluster.clone());
        let waiting_run = tokio::spawn(async move { approvals.ask(&question()).await });
        tokio::time::sleep(Duration::from_secs(3)).await;

        assert_eq!(
            waiting(cluster.as_ref(), "shop").await.unwrap(),
            Some(("r-1".into(), "sign-off".into(), "go on?".into()))
        );
        let answered = answer(cluster.as_ref(), "shop", false, &holder("alice@laptop")).await.unwrap();
        assert_eq!(answered, ("r-1".to_string(), "sign-off".to_string()));
        let second = answer(cluster.as_ref(), "shop", true, &holder("bob@ci")).await.unwrap_err();
        assert_eq!(second, AnswerError::AlreadyAnswered("shop".into()));

        let got = waiting_run.await.unwrap().unwrap();
        assert_eq!(got, Answer { approved: false, by: "alice@laptop".into() });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(waiting(cluster.as_ref(), "shop").await.unwrap(), None, "the wait marker is removed");
        assert_eq!(cluster.config(&answer_name("shop")).await.unwrap(), None, "the answer is removed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_withdraws_its_own_question_and_answer_and_leaves_another_runs_alone() {
        let fake = FakeCluster::new();
        let cluster: Arc<dyn Cluster> = Arc::new(fake.clone());
        // A question of run r-1, answered, whose waiting run is gone (killed).
        SwarmApprovals::new(cluster.clone()).post(&question()).await.unwrap();
        answer(cluster.as_ref(), "shop", true, &holder("alice@laptop")).await.unwrap();

        withdraw(cluster.as_ref(), "shop", "r-2").await.unwrap();
        assert!(waiting(cluster.as_ref(), "shop").await.unwrap().is_some(), "another run's question stays");
        assert!(cluster.config(&answer_name("shop")).await.unwrap().is_some(), "and its answer");

        withdraw(cluster.as_ref(), "shop", "r-1").await.unwrap();
        assert_eq!(waiting(cluster.as_ref(), "shop").await.unwrap(), None);
        assert_eq!(cluster.config(&answer_name("shop")).await.unwrap(), None);
        let error = answer(cluster.as_ref(), "shop", true, &holder("bob@ci")).await.unwrap_err();
        assert_eq!(error, AnswerError::NothingWaits("shop".into()));
        withdraw(cluster.as_ref(), "shop", "r-1").await.expect("nothing left is no error");
    }

    #[tokio::test(start_paused = true)]
    async fn answering_when_nothing_waits_says_so() {
        let fake = FakeCluster::new();
        let error = answer(&fake, "shop", true, &holder("alice@laptop")).await.unwrap_err();
        assert_eq!(error.to_string(), "no run of stack `shop` waits for approval");
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_approver_nobody_can_be_asked() {
        let error = FirstAnswer(Vec::new()).ask(&question()).await.unwrap_err();
        assert_eq!(error, AskError::Nobody);
        assert_eq!(error.to_string(), "nobody can be asked");
    }

    #[test]
    fn every_approver_that_failed_is_named() {
        let swarm = AskError::Swarm(ClusterError::Unavailable("no daemon".into()));
        let deadline = AskError::Deadline { left: Duration::from_secs(90) };
        let both = AskError::Every(vec![swarm, deadline]);
        assert_eq!(
            both.to_string(),
            "cannot keep the question in the swarm: Docker is unavailable: no daemon; \
             nobody answered before the step's deadline (90s left when asked)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_answer_wins() {
        let slow: Arc<dyn Approver> = Arc::new(ScriptedApprover { after: Duration::from_secs(60), approved: false });
        let quick: Arc<dyn Approver> = Arc::new(ScriptedApprover { after: Duration::from_secs(5), approved: true });
        let started = tokio::time::Instant::now();
        let answer = FirstAnswer(vec![slow, quick]).ask(&question()).await.unwrap();
        assert!(answer.approved);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
