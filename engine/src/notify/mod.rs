//! Telling the team what a run does: the plan's `notify` targets get a message when a run
//! starts, waits for approval (with the exact `planrun promote` command), succeeds, fails, is
//! rolled back or its rollback fails. One file per target kind (`slack.rs`, `teams.rs`,
//! `webhook.rs`), each a [`TargetBehavior`] that words a [`Message`] as its service expects.
//!
//! A notification never fails nor blocks a deploy: the [`Notifier`] is an event sink that only
//! queues messages; each target's messages are sent in order by a task of its own, each
//! attempt bounded by [`ATTEMPT_TIMEOUT`], at most [`ATTEMPTS`] attempts with backoff (on tokio's
//! clock). At the end of the run [`Notifier::finish`] waits at most [`FINISH_BOUND`] for what
//! is still queued, then gives up with a warning. A webhook URL is a secret: it is read when the
//! run starts, kept in memory, and never written into a message, an error or a warning
//! (reqwest's errors name their URL: it is cut with `without_url`).

pub mod slack;
pub mod teams;
pub mod webhook;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use plans::model::Notify;
use plans::notify::config::NotifyConfig;
use plans::notify::{NotifyEvent, NotifyKind};
use tokio::sync::mpsc;

use crate::events::{Event, Record, RunOutcome, Sink, StepOutcome};
use crate::services::failure_report::FailureReport;

/// How long one attempt to deliver a message may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times a message is tried at most.
pub const ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles before each next one.
pub const BACKOFF: Duration = Duration::from_millis(500);
/// How long the end of a run waits for messages still queued, at most.
pub const FINISH_BOUND: Duration = Duration::from_secs(5);
/// The longest failure reason a message carries (a gate's detail can be long).
const REASON_LIMIT: usize = 1500;
/// The log lines of each failed task a message carries (the journal keeps more).
pub const REPORT_LOG_LINES: usize = 10;
/// The longest failure report a message carries, as text.
const REPORT_LIMIT: usize = 4000;

/// What one notification says, before a target kind words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Which event.
    pub event: NotifyEvent,
    /// The stack deployed.
    pub stack: String,
    /// The plan's name.
    pub plan: String,
    /// The run's id.
    pub run_id: String,
    /// When, RFC 3339.
    pub at: String,
    /// The step it is about (the failing one, the one waiting), if any.
    pub step: Option<String>,
    /// One line saying what happened.
    pub title: String,
    /// Why, for a failure or a rollback (redacted).
    pub reason: Option<String>,
    /// The exact command a person runs next: `planrun promote ...` for an approval,
    /// `planrun rollback ...` when a rollback failed.
    pub command: Option<String>,
    /// What the swarm said of the failed tasks of the step that failed (a failure, a rollback),
    /// when its release's tasks failed (redacted).
    pub report: Option<Box<FailureReport>>,
}

/// A request to a target, as its kind words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Extra headers (`Content-Type` is always `application/json`).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// What a target kind does with a message.
pub trait TargetBehavior: Sync {
    /// The request that carries `message`; `key` signs it (webhooks), `unix` is the time sent.
    fn post(&self, message: &Message, key: Option<&[u8]>, unix: u64) -> Post;
}

/// The one match from a target kind to its behaviour.
pub fn behavior(kind: &NotifyKind) -> &'static dyn TargetBehavior {
    match kind {
        NotifyKind::Slack(_) => &slack::Slack,
        NotifyKind::Teams(_) => &teams::Teams,
        NotifyKind::Webhook(_) => &webhook::Webhook,
    }
}

/// A target ready to send to: its URL and key read. `Debug` shows neither.
pub struct Target {
    /// Its name in the plan.
    pub name: String,
    /// Its kind and settings.
    pub kind: NotifyKind,
    /// The events it wants.
    pub on: Vec<NotifyEvent>,
    url: String,
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} {}, url <secret>)", self.name, self.kind.kind().keyword())
    }
}

impl Target {
    /// A target with its URL and key given (tests).
    pub fn new(name: &str, kind: NotifyKind, on: Vec<NotifyEvent>, url: String, key: Option<Vec<u8>>) -> Target {
        Target { name: name.to_owned(), kind, on, url, key }
    }

    /// How warnings name it: `notify `team` (slack)`.
    pub fn describe(&self) -> String {
        format!("notify `{}` ({})", self.name, self.kind.kind().keyword())
    }
}

/// Reads every target's URL and key (files relative to `dir`): `apply`'s preflight. Every
/// problem is returned, each naming the setting and where it looked, never a value.
pub async fn resolve(notify: &[Notify], dir: &Path) -> Result<Vec<Target>, Vec<String>> {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for n in notify {
        let what = format!("notify `{}`", n.name.value);
        let mut url = None;
        let mut key = None;
        for (setting, secret) in n.target.secrets() {
            match crate::gates::credentials::secret(secret, &setting, dir).await {
                Ok(value) if setting.starts_with("url") => url = Some(value),
                Ok(value) => key = Some(value.into_bytes()),
                Err(e) => problems.push(format!("{what}: {e}")),
            }
        }
        if let Some(u) = &url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            let setting = n.target.url().setting("url");
            problems.push(format!(
                "{what}: {setting} does not hold an http or https URL (its value is not shown: a webhook URL is a secret)"
            ));
            continue;
        }
        if let Some(url) = url {
            targets.push(Target { name: n.name.value.clone(), kind: n.target.clone(), on: n.on.clone(), url, key });
        }
    }
    if problems.is_empty() { Ok(targets) } else { Err(problems) }
}

/// The plan's targets (files relative to `plan_dir`) and those of the environment `env` of
/// planrun.toml (files relative to `project_dir`), an environment's replacing a plan's of the
/// same name (so staging can send a plan's messages elsewhere). Every problem is returned.
pub async fn resolve_with_environment(
    plan: &[Notify],
    plan_dir: &Path,
    env: Option<(&str, &std::collections::BTreeMap<String, NotifyConfig>, &Path)>,
) -> Result<Vec<Target>, Vec<String>> {
    let (env_notify, env_problems) = match env {
        Some((name, targets, dir)) => {
            let notify: Vec<Notify> = targets.iter().map(|(n, c)| c.to_notify(n)).collect();
            match resolve(&notify, dir).await {
                Ok(t) => (t, Vec::new()),
                Err(problems) => {
                    let named = |p: String| format!("environment `{name}` of planrun.toml: {p}");
                    (Vec::new(), problems.into_iter().map(named).collect())
                }
            }
        }
        None => (Vec::new(), Vec::new()),
    };
    let replaced = |n: &Notify| env.is_some_and(|(_, targets, _)| targets.contains_key(&n.name.value));
    let own: Vec<Notify> = plan.iter().filter(|n| !replaced(n)).cloned().collect();
    let mut problems = env_problems;
    let mut targets = match resolve(&own, plan_dir).await {
        Ok(t) => t,
        Err(p) => {
            problems.extend(p);
            Vec::new()
        }
    };
    targets.extend(env_notify);
    if problems.is_empty() { Ok(targets) } else { Err(problems) }
}

/// What `planrun plan` says of a `notify`: `notify `team`: slack, its URL from url-env
/// `SLACK_WEBHOOK_URL`; on started, approval, failed` (where the URL is, never the URL).
pub fn describe(n: &Notify) -> String {
    let url = n.target.url();
    let place = match url {
        plans::gates::Secret::Env(var) => var,
        plans::gates::Secret::File(path) => path,
    };
    let signed = match &n.target {
        NotifyKind::Webhook(plans::notify::Webhook { secret: Some(s), .. }) => {
            format!(", signed ({})", s.setting("secret"))
        }
        NotifyKind::Webhook(_) | NotifyKind::Slack(_) | NotifyKind::Teams(_) => String::new(),
    };
    let on: Vec<&str> = n.on.iter().map(|e| e.word()).collect();
    format!(
        "notify `{}`: {}, its URL from {} `{place}`{signed}; on {}",
        n.name.value,
        n.target.kind().keyword(),
        url.setting("url"),
        on.join(", ")
    )
}

/// How messages leave this machine.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Posts `post` to `url`; an error never holds the URL.
    async fn post(&self, url: &str, post: &Post) -> Result<(), String>;
}

/// HTTP with reqwest.
pub struct Http(reqwest::Client);

impl Http {
    /// A client that connects within the attempt's bound and follows no redirect (a redirect
    /// would carry the body somewhere the plan did not name).
    pub fn new() -> Http {
        let client = reqwest::Client::builder()
            .connect_timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Http(client)
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

#[async_trait]
impl Transport for Http {
    async fn post(&self, url: &str, post: &Post) -> Result<(), String> {
        let mut request = self.0.post(url).header("content-type", "application/json").body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(name, value);
        }
        let answer = request.send().await.map_err(|e| crate::cause::chain(&e.without_url()))?;
        let status = answer.status();
        if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
    }
}

/// Sends `post` to `url`: at most [`ATTEMPTS`] attempts of at most [`ATTEMPT_TIMEOUT`] each,
/// [`BACKOFF`] apart, doubling. Returns how many attempts it took, or the last error.
pub async fn deliver(transport: &dyn Transport, url: &str, post: &Post) -> Result<u32, String> {
    let mut delay = BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, transport.post(url, post)).await {
            Ok(Ok(())) => return Ok(attempt),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no answer within {}", crate::clock::millis(ATTEMPT_TIMEOUT.as_millis() as u64)),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    // Never the URL, and nothing a receiver echoed that looks like a credential.
    last = last.replace(url, "<webhook URL>");
    Err(format!("{} (tried {ATTEMPTS} times)", crate::redact::text(&last)))
}

/// Which messages a run's events make; knows the run from its `run-started`.
#[derive(Debug, Default)]
struct Watch {
    started: Option<(String, String, String)>,
    failed_sent: bool,
    /// The failure report of the first step that failed, for the messages that follow.
    report: Option<Box<FailureReport>>,
}

/// What the run's messages need besides its events: the commands a person runs next.
#[derive(Debug, Clone, Default)]
pub struct Commands {
    /// `planrun promote STACK ...`, with the flags that reach the same swarm.
    pub promote: String,
    /// `planrun rollback STACK ...`.
    pub rollback: String,
}

impl Watch {
    fn message(&mut self, record: &Record, commands: &Commands) -> Option<Message> {
        let text = |s: &str| cut(crate::redact::text(s).into_owned(), REASON_LIMIT);
        let (event, step, title, reason, command) = match &record.event {
            Event::RunStarted { run_id, plan, stack, .. } => {
                self.started = Some((stack.clone(), plan.clone(), run_id.clone()));
                let title = format!("`{stack}`: release started (plan `{plan}`, run `{run_id}`)");
                (NotifyEvent::Started, None, title, None, None)
            }
            Event::RollbackStarted { undoing: Some(run), .. } => {
                // `planrun rollback`: the run it undoes is known now.
                if let Some((_, _, run_id)) = self.started.as_mut() {
                    *run_id = run.clone();
                }
                return None;
            }
            Event::AwaitingApproval { step, question, .. } => {
                let (stack, ..) = self.started.as_ref()?;
                let title = format!("`{stack}`: step `{step}` waits for approval: {}", text(question));
                (NotifyEvent::Approval, Some(step.clone()), title, None, Some(commands.promote.clone()))
            }
            Event::StepFinished { step, outcome: StepOutcome::Failed, reason, report, .. } if !self.failed_sent => {
                let (stack, ..) = self.started.as_ref()?;
                self.failed_sent = true;
                self.report = report.clone();
                let title = format!("`{stack}`: step `{step}` failed");
                (NotifyEvent::Failed, Some(step.clone()), title, reason.as_deref().map(text), None)
            }
            Event::RunRefused { message, problems, .. } if !self.failed_sent => {
                let (stack, ..) = self.started.as_ref()?;
                self.failed_sent = true;
                let title = format!("`{stack}`: release refused before any change");
                let mut why = message.clone();
                for p in problems {
                    why.push_str(&format!("\n- {p}"));
                }
                (NotifyEvent::Failed, None, title, Some(text(&why)), None)
            }
            Event::RunFinished { outcome, reason } => {
                let (stack, ..) = self.started.as_ref()?;
                let reason = reason.as_deref().map(text);
                match outcome {
                    RunOutcome::Succeeded => {
                        (NotifyEvent::Succeeded, None, format!("`{stack}`: release succeeded"), None, None)
                    }
                    RunOutcome::RolledBack => {
                        let title = format!("`{stack}`: release rolled back: every change was undone");
                        (NotifyEvent::RolledBack, None, title, reason, None)
                    }
                    RunOutcome::RollbackFailed => {
                        let title = format!("`{stack}`: rollback FAILED: the stack needs a person");
                        (NotifyEvent::RollbackFailed, None, title, reason, Some(commands.rollback.clone()))
                    }
                    RunOutcome::Paused | RunOutcome::Stopped if !self.failed_sent => {
                        self.failed_sent = true;
                        let title = format!("`{stack}`: release {} with changes left", outcome.word());
                        (NotifyEvent::Failed, None, title, reason, Some(commands.rollback.clone()))
                    }
                    RunOutcome::Paused | RunOutcome::Stopped => return None,
                }
            }
            _ => return None,
        };
        let (stack, plan, run_id) = self.started.clone()?;
        // A failure, and how the run ended after it, carry what the failed tasks said.
        let report = match event {
            NotifyEvent::Failed | NotifyEvent::RolledBack | NotifyEvent::RollbackFailed => self.report.clone(),
            NotifyEvent::Started | NotifyEvent::Approval | NotifyEvent::Succeeded => None,
        };
        Some(Message { event, stack, plan, run_id, at: record.at.clone(), step, title, reason, command, report })
    }
}

/// `text` cut to at most `limit` bytes (at a character's boundary), ending with ` …` if cut.
fn cut(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" …");
    }
    text
}

/// One target's queue and what became of its messages.
struct Queue {
    target: Arc<Target>,
    sender: mpsc::UnboundedSender<Message>,
    pending: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// The event sink that notifies: queues each message for its targets, sent in the background.
pub struct Notifier {
    watch: Mutex<Watch>,
    commands: Commands,
    queues: Mutex<Vec<Queue>>,
}

impl Notifier {
    /// Starts one sending task per target (on the current tokio runtime).
    pub fn start(targets: Vec<Target>, transport: Arc<dyn Transport>, commands: Commands) -> Arc<Notifier> {
        let queues = targets
            .into_iter()
            .map(|target| {
                let target = Arc::new(target);
                let (sender, mut receiver) = mpsc::unbounded_channel::<Message>();
                let pending = Arc::new(AtomicUsize::new(0));
                let failures = Arc::new(Mutex::new(Vec::new()));
                let (t, p, f, transport) = (target.clone(), pending.clone(), failures.clone(), transport.clone());
                let task = tokio::spawn(async move {
                    while let Some(message) = receiver.recv().await {
                        let unix = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs());
                        let post = behavior(&t.kind).post(&message, t.key.as_deref(), unix);
                        if let Err(e) = deliver(transport.as_ref(), &t.url, &post).await {
                            let line = format!(
                                "{}: the `{}` message was not delivered: {e}",
                                t.describe(),
                                message.event.word()
                            );
                            f.lock().expect("notify failures poisoned").push(line);
                        }
                        p.fetch_sub(1, Ordering::SeqCst);
                    }
                });
                Queue { target, sender, pending, failures, task }
            })
            .collect();
        Arc::new(Notifier { watch: Mutex::default(), commands, queues: Mutex::new(queues) })
    }

    /// Tells the notifier which stack the events that follow are about, for a run that emits
    /// no `run-started` of its own (`planrun rollback`, whose `rollback-started` names the run
    /// it undoes).
    pub fn about(&self, stack: &str, plan: &str) {
        let mut watch = self.watch.lock().expect("notify watch poisoned");
        watch.started = Some((stack.to_owned(), plan.to_owned(), String::new()));
    }

    /// Waits at most `bound` for every queued message, then gives up on the rest. Returns a
    /// warning for each message not delivered (never a URL).
    pub async fn finish(&self, bound: Duration) -> Vec<String> {
        let queues: Vec<Queue> = std::mem::take(&mut *self.queues.lock().expect("notify queues poisoned"));
        let deadline = tokio::time::Instant::now() + bound;
        let mut warnings = Vec::new();
        for q in queues {
            drop(q.sender);
            let mut task = q.task;
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                let left = q.pending.load(Ordering::SeqCst);
                warnings.push(format!(
                    "{}: {left} message(s) still unsent after waiting {} at the end of the run; given up",
                    q.target.describe(),
                    crate::clock::millis(bound.as_millis() as u64)
                ));
            }
            warnings.extend(q.failures.lock().expect("notify failures poisoned").drain(..));
        }
        warnings
    }
}

impl Sink for Notifier {
    fn record(&self, record: &Record) {
        let Some(message) = self.watch.lock().expect("notify watch poisoned").message(record, &self.commands) else {
            return;
        };
        for q in self.queues.lock().expect("notify queues poisoned").iter() {
            if q.target.on.contains(&message.event) {
                q.pending.fetch_add(1, Ordering::SeqCst);
                if q.sender.send(message.clone()).is_err() {
                    q.pending.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// The text of a message as one block: its title, the reason, the failure report and what to
/// run next, each on its own line (Slack and Teams show it as is).
pub fn plain(message: &Message) -> String {
    let mut lines = vec![message.title.clone()];
    lines.extend(message.reason.clone());
    if let Some(report) = report_text(message) {
        lines.push(format!("What the failed tasks said:\n{report}"));
    }
    lines.extend(next_steps(message));
    lines.join("\n")
}

/// The failure report as a message carries it: the last [`REPORT_LOG_LINES`] of each log, at
/// most [`REPORT_LIMIT`] bytes, without its last newline.
pub fn report_text(message: &Message) -> Option<String> {
    let report = message.report.as_ref()?;
    let text = cut(report.render(REPORT_LOG_LINES), REPORT_LIMIT);
    Some(text.trim_end().to_owned())
}

/// What a person runs next, one line each: `To go on, run: `planrun promote ...``.
pub fn next_steps(message: &Message) -> Vec<String> {
    let Some(command) = &message.command else { return Vec::new() };
    match message.event {
        NotifyEvent::Approval => {
            let abort = command.replacen("planrun promote", "planrun abort", 1);
            vec![format!("To go on, run: `{command}`"), format!("To stop and roll back: `{abort}`")]
        }
        NotifyEvent::Started
        | NotifyEvent::Succeeded
        | NotifyEvent::Failed
        | NotifyEvent::RolledBack
        | NotifyEvent::RollbackFailed => vec![format!("To undo what is left, run: `{command}`")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plans::gates::Secret;
    use plans::notify::{Slack, Teams, Webhook};
    use serde_json::Value;

    const URL: &str = "https://hooks.example.com/services/T000/B000/SECRETPATH";

    fn message(event: NotifyEvent) -> Message {
        Message {
            event,
            stack: "shop".into(),
            plan: "release".into(),
            run_id: "r-1".into(),
            at: "2026-12-06T12:00:00.000Z".into(),
            step: Some("web".into()),
            title: "`shop`: step `web` waits for approval: promote the canary?".into(),
            reason: None,
            command: Some("planrun promote shop --env prod".into()),
            report: None,
        }
    }

    fn json(post: &Post) -> Value {
        serde_json::from_slice(&post.body).unwrap()
    }

    #[test]
    fn slack_gets_text_and_blocks_with_the_promote_command() {
        let post = slack::Slack.post(&message(NotifyEvent::Approval), None, 0);
        let body = json(&post);
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("To go on, run: `planrun promote shop --env prod`"), "{text}");
        assert!(text.contains("To stop and roll back: `planrun abort shop --env prod`"), "{text}");
        assert_eq!(body["blocks"][0]["type"], "section");
        assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(body["blocks"][1]["type"], "section");
        assert!(body["blocks"][1]["text"]["text"].as_str().unwrap().starts_with("To go on, run: `planrun promote"));
        assert_eq!(body["blocks"][2]["type"], "context");
        assert!(body["blocks"][2]["elements"][0]["text"].as_str().unwrap().contains("run `r-1`"));
        assert!(post.headers.is_empty());
    }

    /// A report of a task killed for memory, with `lines` log lines, the last one `boom`.
    fn report(lines: usize) -> Box<FailureReport> {
        use crate::services::failure_report::{Oom, TaskReport};
        let mut logs: Vec<String> = (1..lines).map(|n| format!("allocating *chunk* {n}")).collect();
        logs.push("boom ```".into());
        Box::new(FailureReport {
            tasks: vec![TaskReport {
                task: "shop_web.1".into(),
                id: "s3frn4mtizirtk1x835ygraz1".into(),
                image: "app:oom".into(),
                node: Some("vm".into()),
                state: "failed".into(),
                error: Some("task: non-zero exit (137)".into()),
                exit_code: Some(137),
                oom: Oom::Killed,
                memory_limit_bytes: Some(32 << 20),
                logs,
                ..TaskReport::default()
            }],
            more: 0,
            took_ms: 12,
        })
    }

    #[test]
    fn a_failure_carries_the_report_with_the_last_lines_of_each_log_in_every_format() {
        let mut m = message(NotifyEvent::Failed);
        m.title = "`shop`: step `web` failed".into();
        m.reason = Some("1 task of shop_web on app:oom failed after starting".into());
        m.command = None;
        m.report = Some(report(20));
        let text = plain(&m);
        assert!(
            text.starts_with(
                "`shop`: step `web` failed\n1 task of shop_web on app:oom failed after starting\n\
                 What the failed tasks said:\nshop_web.1 on vm (task s3frn4mtizir, app:oom): out of memory: killed by \
                 the kernel at its 32 MiB memory limit (Docker: OOMKilled; exit 137)\n"
            ),
            "{text}"
        );
        assert!(text.contains("  last 10 log lines, earlier ones left out:\n    | allocating *chunk* 11\n"), "{text}");
        assert!(text.ends_with("    | boom ```"), "{text}");
        assert!(!text.contains("chunk* 10\n"), "only the last 10 lines: {text}");

        let slack = json(&slack::Slack.post(&m, None, 0));
        let block = slack["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(block.starts_with("What the failed tasks said:\n```shop_web.1 on vm"), "{block}");
        assert!(block.ends_with("| boom '''```"), "a code block nothing in a log can end early: {block}");
        assert_eq!(slack["blocks"][2]["type"], "context");

        let teams = json(&teams::Teams.post(&m, None, 0));
        let card = &teams["attachments"][0]["content"]["body"];
        assert_eq!(card[2]["text"], "What the failed tasks said:");
        assert_eq!(card[3]["fontType"], "monospace");
        assert!(card[3]["text"].as_str().unwrap().contains("\n\n    | boom ```"), "{}", card[3]["text"]);

        let hook = json(&webhook::Webhook.post(&m, None, 0));
        assert_eq!(hook["failure_report"]["tasks"][0]["oom"], "killed");
        assert_eq!(hook["failure_report"]["tasks"][0]["memory_limit_bytes"], 32 << 20);
        assert_eq!(hook["failure_report"]["tasks"][0]["logs"].as_array().unwrap().len(), 20, "all the journal has");
    }

    #[test]
    fn a_huge_report_is_cut_to_its_limit_and_slack_sections_stay_under_slacks() {
        let mut m = message(NotifyEvent::Failed);
        let mut big = report(20);
        big.tasks[0].logs = vec!["x".repeat(300); 20];
        big.tasks = vec![big.tasks[0].clone(); 3];
        m.report = Some(big);
        let text = report_text(&m).unwrap();
        assert!(text.len() <= REPORT_LIMIT + " …".len() && text.ends_with(" …"), "{}", text.len());
        let slack = json(&slack::Slack.post(&m, None, 0));
        for block in slack["blocks"].as_array().unwrap() {
            let chars = block["text"]["text"].as_str().map_or(0, |t| t.chars().count());
            assert!(chars <= 3000, "a section of {chars} characters");
        }
    }

    #[test]
    fn the_rollback_that_follows_a_failure_carries_its_report_too() {
        let mut events = run_events(RunOutcome::RolledBack);
        let Event::StepFinished { report: r, .. } = &mut events[3].event else { panic!("{:?}", events[3]) };
        *r = Some(report(3));
        let mut watch = Watch::default();
        let messages: Vec<Message> = events.iter().filter_map(|r| watch.message(r, &commands())).collect();
        let with: Vec<NotifyEvent> = messages.iter().filter(|m| m.report.is_some()).map(|m| m.event).collect();
        assert_eq!(with, [NotifyEvent::Failed, NotifyEvent::RolledBack]);
        assert!(
            plain(&messages[3]).contains("What the failed tasks said:\nshop_web.1 on vm"),
            "{}",
            plain(&messages[3])
        );
    }

    #[test]
    fn slack_escapes_what_would_make_links_or_mentions() {
        let mut m = message(NotifyEvent::Failed);
        m.reason = Some("<!channel> & <http://x|y>".into());
        let body = json(&slack::Slack.post(&m, None, 0));
        let block = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(block.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"), "{block}");
    }

    #[test]
    fn teams_gets_one_adaptive_card_in_a_message() {
        let mut m = message(NotifyEvent::RollbackFailed);
        m.reason = Some("undoing `web` failed: the swarm refused".into());
        m.command = Some("planrun rollback shop".into());
        let body = json(&teams::Teams.post(&m, None, 0));
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["body"][0]["type"], "TextBlock");
        assert_eq!(card["body"][0]["color"], "attention");
        assert_eq!(card["body"][1]["text"], "undoing `web` failed: the swarm refused");
        assert_eq!(card["body"][2]["text"], "To undo what is left, run: `planrun rollback shop`");
        assert_eq!(card["body"][3]["type"], "FactSet");
        assert_eq!(card["body"][3]["facts"][0]["value"], "shop");
    }

    #[test]
    fn the_webhook_body_follows_the_documented_schema_and_its_signature_verifies() {
        let mut m = message(NotifyEvent::Failed);
        m.reason = Some("gate `errors` failed".into());
        m.command = None;
        let post = webhook::Webhook.post(&m, Some(b"k3y"), 1_765_000_000);
        let body = json(&post);
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "at",
                "command",
                "event",
                "failure_report",
                "plan",
                "reason",
                "run_id",
                "stack",
                "step",
                "text",
                "title",
                "version"
            ]
        );
        assert_eq!(body["version"], 1);
        assert_eq!(body["event"], "failed");
        assert_eq!(body["step"], "web");
        assert_eq!(body["command"], Value::Null);
        let header = |name: &str| post.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(header("X-Planrun-Timestamp").as_deref(), Some("1765000000"));
        let mut signed = b"1765000000.".to_vec();
        signed.extend_from_slice(&post.body);
        let expected = webhook::hmac_sha256(b"k3y", &signed);
        let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(header("X-Planrun-Signature"), Some(format!("sha256={hex}")));
        // Without a key: the timestamp, no signature.
        let unsigned = webhook::Webhook.post(&m, None, 1);
        assert_eq!(unsigned.headers, vec![("X-Planrun-Timestamp".to_owned(), "1".to_owned())]);
    }

    /// RFC 4231's test cases 1, 2 and 6 (a key longer than a block).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(webhook::hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(webhook::hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(webhook::hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn record(event: Event) -> Record {
        Record { at: "2026-12-06T12:00:00.000Z".into(), elapsed_ms: 0, event: event.redacted() }
    }

    fn run_events(outcome: RunOutcome) -> Vec<Record> {
        vec![
            record(Event::RunStarted {
                run_id: "r-1".into(),
                plan: "release".into(),
                stack: "shop".into(),
                file: "plan.kdl".into(),
                on_failure: "rollback".into(),
            }),
            record(Event::StepStarted { step: "gate".into(), kind: "pause".into() }),
            record(Event::AwaitingApproval {
                step: "gate".into(),
                question: "go on?".into(),
                how: "planrun promote shop".into(),
            }),
            record(Event::StepFinished {
                step: "web".into(),
                outcome: StepOutcome::Failed,
                reason: Some("gate `db` failed: postgres://app:hunter2@db/shop?sslmode=require refused".into()),
                report: None,
                took_ms: 5,
            }),
            record(Event::StepFinished {
                step: "api".into(),
                outcome: StepOutcome::Failed,
                reason: Some("second failure".into()),
                report: None,
                took_ms: 5,
            }),
            record(Event::RollbackStarted { reason: "step `web` failed".into(), undoing: None }),
            record(Event::RunFinished { outcome, reason: Some("step `web` failed".into()) }),
        ]
    }

    fn commands() -> Commands {
        Commands { promote: "planrun promote shop".into(), rollback: "planrun rollback shop".into() }
    }

    #[test]
    fn a_run_makes_started_approval_one_failed_and_rolled_back_in_order() {
        let mut watch = Watch::default();
        let messages: Vec<Message> =
            run_events(RunOutcome::RolledBack).iter().filter_map(|r| watch.message(r, &commands())).collect();
        let events: Vec<NotifyEvent> = messages.iter().map(|m| m.event).collect();
        assert_eq!(events, [NotifyEvent::Started, NotifyEvent::Approval, NotifyEvent::Failed, NotifyEvent::RolledBack]);
        assert_eq!(messages[0].title, "`shop`: release started (plan `release`, run `r-1`)");
        assert_eq!(messages[1].command.as_deref(), Some("planrun promote shop"));
        assert_eq!(messages[1].title, "`shop`: step `gate` waits for approval: go on?");
        assert_eq!(messages[2].step.as_deref(), Some("web"));
        assert_eq!(messages[2].title, "`shop`: step `web` failed");
        let reason = messages[2].reason.as_deref().unwrap();
        assert!(reason.starts_with("gate `db` failed: postgres://app:<redacted:"), "{reason}");
        assert!(!reason.contains("hunter2"), "{reason}");
        assert_eq!(messages[3].title, "`shop`: release rolled back: every change was undone");
    }

    #[test]
    fn a_failed_rollback_names_the_command_and_a_success_says_so() {
        let mut watch = Watch::default();
        let last = run_events(RunOutcome::RollbackFailed).iter().filter_map(|r| watch.message(r, &commands())).last();
        let last = last.unwrap();
        assert_eq!(last.event, NotifyEvent::RollbackFailed);
        assert_eq!(last.command.as_deref(), Some("planrun rollback shop"));
        assert!(plain(&last).ends_with("To undo what is left, run: `planrun rollback shop`"));
        let mut watch = Watch::default();
        let started = watch.message(&run_events(RunOutcome::Succeeded)[0], &commands());
        assert!(started.is_some());
        let done =
            watch.message(&record(Event::RunFinished { outcome: RunOutcome::Succeeded, reason: None }), &commands());
        assert_eq!(done.unwrap().title, "`shop`: release succeeded");
    }

    #[test]
    fn a_refusal_after_the_start_is_a_failure_and_before_it_nothing() {
        let refused = record(Event::RunRefused {
            refusal: crate::events::Refusal::Preflight,
            message: "preflight found problems: nothing was changed".into(),
            problems: vec![crate::events::Problem { step: Some("web".into()), at: None, message: "no image".into() }],
        });
        assert_eq!(Watch::default().message(&refused, &commands()), None, "a run that never started says nothing");
        let mut watch = Watch::default();
        watch.message(&run_events(RunOutcome::Succeeded)[0], &commands());
        let m = watch.message(&refused, &commands()).unwrap();
        assert_eq!(m.event, NotifyEvent::Failed);
        assert_eq!(m.reason.as_deref(), Some("preflight found problems: nothing was changed\n- step `web`: no image"));
    }

    /// A transport that fails its first `failures` posts (or never answers), counting posts.
    struct Scripted {
        failures: usize,
        hang: bool,
        posts: Mutex<Vec<Vec<u8>>>,
    }

    #[async_trait]
    impl Transport for Scripted {
        async fn post(&self, url: &str, post: &Post) -> Result<(), String> {
            let n = {
                let mut posts = self.posts.lock().unwrap();
                posts.push(post.body.clone());
                posts.len()
            };
            if self.hang {
                std::future::pending::<()>().await;
            }
            if n <= self.failures { Err(format!("error sending request for url ({url}): refused")) } else { Ok(()) }
        }
    }

    fn scripted(failures: usize, hang: bool) -> Arc<Scripted> {
        Arc::new(Scripted { failures, hang, posts: Mutex::default() })
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_receiver_is_tried_three_times_with_backoff_and_the_url_never_shows() {
        let post = Post { headers: Vec::new(), body: b"{}".to_vec() };
        let start = tokio::time::Instant::now();
        let t = scripted(1, false);
        assert_eq!(deliver(t.as_ref(), URL, &post).await, Ok(2));
        assert_eq!(start.elapsed(), BACKOFF, "one backoff before the second attempt");

        let start = tokio::time::Instant::now();
        let t = scripted(usize::MAX, false);
        let error = deliver(t.as_ref(), URL, &post).await.unwrap_err();
        assert_eq!(t.posts.lock().unwrap().len(), ATTEMPTS as usize);
        assert_eq!(start.elapsed(), BACKOFF * 3, "0.5 s, then 1 s");
        assert_eq!(error, "error sending request for url (<webhook URL>): refused (tried 3 times)");
    }

    #[tokio::test(start_paused = true)]
    async fn a_receiver_that_never_answers_costs_each_attempt_its_timeout_and_no_more() {
        let post = Post { headers: Vec::new(), body: b"{}".to_vec() };
        let start = tokio::time::Instant::now();
        let t = scripted(0, true);
        let error = deliver(t.as_ref(), URL, &post).await.unwrap_err();
        assert_eq!(start.elapsed(), ATTEMPT_TIMEOUT * ATTEMPTS + BACKOFF * 3);
        assert_eq!(error, "no answer within 3s (tried 3 times)");
    }

    fn target(url: &str) -> Target {
        let kind = NotifyKind::Webhook(Webhook { url: Secret::Env("X".into()), secret: None });
        Target::new("audit", kind, NotifyEvent::ALL.to_vec(), url.into(), None)
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_a_run_waits_at_most_its_bound_for_a_hanging_receiver() {
        let t = scripted(0, true);
        let notifier = Notifier::start(vec![target(URL)], t.clone(), commands());
        for r in run_events(RunOutcome::RolledBack) {
            notifier.record(&r);
        }
        let start = tokio::time::Instant::now();
        let warnings = notifier.finish(FINISH_BOUND).await;
        assert_eq!(start.elapsed(), FINISH_BOUND);
        assert_eq!(
            warnings,
            ["notify `audit` (webhook): 4 message(s) still unsent after waiting 5s at the end of the run; given up"]
        );
        assert_eq!(t.posts.lock().unwrap().len(), 2, "the first message's two attempts in 5 s");
    }

    #[tokio::test(start_paused = true)]
    async fn messages_go_in_order_and_only_those_asked_for() {
        let t = scripted(0, false);
        let mut only = target(URL);
        only.on = vec![NotifyEvent::Started, NotifyEvent::RolledBack];
        let slack = Target::new(
            "team",
            NotifyKind::Slack(Slack { url: Secret::Env("S".into()) }),
            NotifyEvent::ALL.to_vec(),
            URL.into(),
            None,
        );
        let teams = NotifyKind::Teams(Teams { url: Secret::Env("T".into()) });
        let notifier = Notifier::start(
            vec![only, slack, Target::new("t", teams, vec![], URL.into(), None)],
            t.clone(),
            commands(),
        );
        for r in run_events(RunOutcome::RolledBack) {
            notifier.record(&r);
        }
        assert_eq!(notifier.finish(FINISH_BOUND).await, Vec::<String>::new());
        let posts = t.posts.lock().unwrap();
        let events: Vec<String> = posts
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok()?["event"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(events, ["started", "rolled-back"], "the webhook's, in order");
        assert_eq!(posts.len(), 6, "two to the webhook, four to slack, none to teams");
    }

    #[test]
    fn plan_describes_where_the_url_is_never_the_url() {
        let n = Notify {
            name: plans::spanned::Spanned::new("hook".into(), Default::default()),
            target: NotifyKind::Webhook(Webhook {
                url: Secret::File("secrets/url".into()),
                secret: Some(Secret::Env("KEY".into())),
            }),
            on: vec![NotifyEvent::Started, NotifyEvent::RollbackFailed],
        };
        assert_eq!(
            describe(&n),
            "notify `hook`: webhook, its URL from url-file `secrets/url`, signed (secret-env); on started, rollback-failed"
        );
    }

    #[tokio::test]
    async fn a_missing_url_or_one_that_is_no_url_refuses_without_its_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("url"), "not-a-url-SECRET\n").unwrap();
        let notify = |name: &str, url: Secret| Notify {
            name: plans::spanned::Spanned::new(name.into(), Default::default()),
            target: NotifyKind::Slack(Slack { url }),
            on: NotifyEvent::ALL.to_vec(),
        };
        let plan =
            [notify("a", Secret::Env("PLANRUN_TEST_UNSET_NOTIFY_URL".into())), notify("b", Secret::File("url".into()))];
        let problems = resolve(&plan, dir.path()).await.unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("notify `a`: url-env: "), "{}", problems[0]);
        assert!(problems[0].contains("PLANRUN_TEST_UNSET_NOTIFY_URL"), "{}", problems[0]);
        assert_eq!(
            problems[1],
            "notify `b`: url-file does not hold an http or https URL (its value is not shown: a webhook URL is a secret)"
        );
        assert!(!format!("{problems:?}").contains("SECRET"));
    }
}
