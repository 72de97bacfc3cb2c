//! `http` gates measured from inside a Swarm network (`network=` and `image=`): the request is
//! sent by busybox `wget` in a probe container on that network, so a URL names
//! `service:port` as the network's own services reach it.
//!
//! The probe container is an attended Swarm job (`services::job::Attended`): a stack's overlay
//! networks are not attachable, so a plain container cannot join them, but a service can. It
//! runs on the node planrun talks to (exec reaches no other), is started once per judgement
//! before its first measurement, serves all of its measurements, and is removed when the
//! judgement ends, however it ends: by `finish`, or from `Drop` when the judgement is dropped
//! (a run stopped, a failing gate beside it). `finish` keeps it for the next judgement of the
//! same run, network and image (`services::job::keep`), and a step may start one ahead of its
//! first judgement ([`warm`]): a judgement then finds its probe ready. A kept one must still run
//! a command (`true`, by exec) before a judgement takes it; one whose container died is removed
//! and another started, so a dead probe never fails a healthy release. The run ends every kept
//! one before it ends (`services::job::settle`); a dropped one is removed beside the run. It carries `planrun.job.run-id`, so
//! `planrun repair` removes what a run that died left. Each measurement is one `exec` of
//! [`wget::argv`]; no credential is sent this way (the checker refuses them: Docker keeps an
//! exec's command line in its event log).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use plans::gates::{FromNetwork, HttpGate, Outcome};
use plans::model::Analysis;
use tokio::time::Instant;

use super::{BODY_LIMIT, condition, judge, wget};
use crate::cluster::{Cluster, Exec, ExecInput, ExecOutput};
use crate::database::service::JOB_RUN;
use crate::gates::analysis::planned_measurements;
use crate::gates::{Measurement, Meter, excerpt};
use crate::services::job::{self, Attended, Job};

/// The value of `planrun.job` on a gate's probe container.
pub const PROBE_JOB: &str = "http-gate";

/// How long the probe container may take to run (a task start, an image the node has).
const STARTING: Duration = Duration::from_secs(60);

/// How much longer than the judgement's plan the probe container lives, if nobody ends it.
const SPARE_LIFE: Duration = Duration::from_secs(300);

/// The probe container's life when no judgement says how long (a meter measured unprepared).
const DEFAULT_LIFE: Duration = Duration::from_secs(3600);

/// How long one measurement took, two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// From sending the exec to having its whole answer, on tokio's clock.
    pub round_trip: Duration,
    /// The request alone, inside the container (`/proc/uptime`, 10 ms steps), if read.
    pub request: Option<Duration>,
}

/// Where the probe container is.
enum Probe {
    /// Not started yet.
    Idle,
    /// Running; measurements exec in it.
    Running(Attended),
    /// It could not start, and why: every measurement is an error saying so.
    Broken(String),
    /// Ended with the judgement.
    Ended,
}

/// Measures an `http` gate from a probe container on a network.
pub struct NetworkMeter {
    gate: HttpGate,
    from: FromNetwork,
    cluster: Arc<dyn Cluster>,
    timeout: Duration,
    run_id: Option<String>,
    probe: Probe,
    /// When the running probe container ends by itself.
    ends: Option<Instant>,
    last: Option<Timing>,
}

impl NetworkMeter {
    /// A meter of `gate` sent from `from`, each measurement within `timeout`; the probe
    /// container is labelled with `run_id` when there is one.
    pub fn new(
        gate: HttpGate,
        from: FromNetwork,
        cluster: Arc<dyn Cluster>,
        timeout: Duration,
        run_id: Option<String>,
    ) -> NetworkMeter {
        NetworkMeter { gate, from, cluster, timeout, run_id, probe: Probe::Idle, ends: None, last: None }
    }

    /// How long the last measurement took, if one reached the container.
    pub fn last_timing(&self) -> Option<Timing> {
        self.last
    }

    /// The job service of the probe container, while it runs.
    pub fn probe_service(&self) -> Option<&str> {
        match &self.probe {
            Probe::Running(a) => Some(&a.name),
            Probe::Idle | Probe::Broken(_) | Probe::Ended => None,
        }
    }

    /// Takes a kept probe container that lives long enough for `life`'s planned part, or
    /// starts one to live `life` unless ended before.
    async fn start(&mut self, life: Duration) {
        let key = kept_key(self.run_id.as_deref(), &self.from);
        let planned = life.saturating_sub(SPARE_LIFE) + KEPT_MARGIN;
        if let Some((running, ends)) = job::take_kept(&key, Instant::now() + planned) {
            if answers(self.cluster.as_ref(), &running.container).await {
                self.probe = Probe::Running(running);
                self.ends = Some(ends);
                return;
            }
            // Its container is gone or stuck (killed, its node restarted): every measurement
            // would fail for the probe, not the service. It is removed and another started.
            running.end_later();
        }
        let ends = Instant::now() + life;
        self.probe = match started(&self.cluster, self.run_id.as_deref(), &self.from, life).await {
            Ok(running) => {
                self.ends = Some(ends);
                Probe::Running(running)
            }
            Err(why) => Probe::Broken(why),
        };
    }
}

/// How long a kept probe container has to show it still runs commands before a judgement takes it.
const STILL_ANSWERS: Duration = Duration::from_secs(5);

/// Whether `container` still runs commands: `true` by exec, exit 0 within [`STILL_ANSWERS`].
async fn answers(cluster: &dyn Cluster, container: &str) -> bool {
    let exec = Exec {
        container: container.to_owned(),
        argv: vec!["true".into()],
        env: Vec::new(),
        user: None,
        stdin: ExecInput::Nothing,
        stdout: ExecOutput::Capture,
    };
    matches!(tokio::time::timeout(STILL_ANSWERS, cluster.exec(exec)).await, Ok(Ok(done)) if done.exit_code == 0)
}

/// How much longer than a judgement's planned measurements a kept probe container must live to
/// serve it.
const KEPT_MARGIN: Duration = Duration::from_secs(30);

/// Which kept probe containers a meter may take: those of its run, network and image.
fn kept_key(run_id: Option<&str>, from: &FromNetwork) -> String {
    format!("http-gate {} {} {}", run_id.unwrap_or("-"), from.network, from.image)
}

/// Starts a probe container for `gate` ahead of its first judgement, beside the caller, and
/// keeps it for that judgement (a step calls this before its rollout begins, so the judgement
/// that starts with the first new task does not wait about a second for its probe). One that
/// cannot start is left: the judgement then starts its own and says why it could not.
pub fn warm(cluster: Arc<dyn Cluster>, run_id: Option<String>, from: FromNetwork, analysis: &Analysis) {
    let life = life_of(analysis) + WARM_LIFE;
    job::starting_to_keep(async move {
        let ends = Instant::now() + life;
        if let Ok(running) = started(&cluster, run_id.as_deref(), &from, life).await {
            job::keep(kept_key(run_id.as_deref(), &from), running, ends);
        }
    });
}

/// How much longer a probe container started ahead lives than one started by its judgement:
/// the rollout before the first judgement (one that ends too soon for it is not taken). Short,
/// since a run killed outright leaves it until then (or until `planrun repair`).
const WARM_LIFE: Duration = Duration::from_secs(120);

/// How long a probe container for a judgement of `analysis` lives unless ended before.
fn life_of(analysis: &Analysis) -> Duration {
    let planned = u32::try_from(planned_measurements(analysis)).unwrap_or(u32::MAX);
    analysis.initial_delay.to_std()
        + analysis.interval.to_std().saturating_mul(planned)
        + analysis.timeout.to_std()
        + SPARE_LIFE
}

async fn started(
    cluster: &Arc<dyn Cluster>,
    run_id: Option<&str>,
    from: &FromNetwork,
    life: Duration,
) -> Result<Attended, String> {
    {
        let network = &from.network;
        let found = match cluster.network(network).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(format!("network `{network}` does not exist on this swarm")),
            Err(e) => return Err(format!("cannot read network `{network}`: {e}")),
        };
        let Some(node) = cluster.node_taking_tasks_here().await else {
            return Err(format!(
                "the probe container for network `{network}` runs on the node planrun talks to (exec reaches no \
                 other), and that node takes no tasks: make it active (`docker node update --availability active \
                 NODE`) or run planrun against a manager that takes tasks"
            ));
        };
        let mut labels = HashMap::from([("planrun.job".to_string(), PROBE_JOB.to_string())]);
        labels.extend(run_id.iter().map(|r| (JOB_RUN.to_string(), (*r).to_owned())));
        let job = Job {
            name: probe_name(run_id),
            image: from.image.clone(),
            command: Vec::new(),
            env: Vec::new(),
            networks: vec![found.id],
            labels,
            configs: Vec::new(),
            secrets: Vec::new(),
            output_to: None,
            deadline: life,
            node: Some(node),
        };
        Attended::start(cluster.clone(), &job, STARTING).await.map_err(|e| {
            format!("the probe container on network `{network}` (image {}) did not start: {e}", from.image)
        })
    }
}

impl NetworkMeter {
    /// One request by exec in `container` (one to every task of the URL's service with
    /// `every-task`).
    async fn request(&mut self, container: String) -> Measurement {
        let target = Meter::target(self);
        let condition = condition(&self.gate);
        let network = &self.from.network;
        let every_task = self.from.every_task;
        let argv = if every_task {
            match wget::every_task_argv(&self.gate.method, &self.gate.url, self.timeout, BODY_LIMIT) {
                Some(argv) => argv,
                None => return Measurement::error(target, condition, "the URL names no host whose tasks to ask"),
            }
        } else {
            wget::argv(&self.gate.method, &self.gate.url, self.timeout, BODY_LIMIT)
        };
        let exec = Exec {
            container,
            argv,
            env: Vec::new(),
            user: None,
            stdin: ExecInput::Nothing,
            stdout: ExecOutput::Capture,
        };
        // Every task is asked at once, after a DNS lookup that may take as long again.
        let allowed = if every_task { self.timeout * 2 } else { self.timeout };
        let sent = Instant::now();
        let done = match tokio::time::timeout(allowed, self.cluster.exec(exec)).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return Measurement::error(target, condition, format!("exec in the probe container: {e}")),
            Err(_) => {
                let why = format!("no answer within {} from network `{network}`", crate::clock::seconds(allowed));
                return Measurement::error(target, condition, why);
            }
        };
        let stderr = String::from_utf8_lossy(&done.stderr);
        if !every_task {
            let answer = wget::parse(&stderr);
            self.last = Some(Timing { round_trip: sent.elapsed(), request: answer.took });
            let (outcome, value, detail) = self.judged(&answer, done.exit_code, &done.stdout);
            return Measurement { outcome, target, value, condition, detail };
        }
        let tasks = wget::parse_every_task(&done.stdout, &stderr);
        let slowest = tasks.iter().filter_map(|t| t.answer.took).max();
        self.last = Some(Timing { round_trip: sent.elapsed(), request: slowest });
        if tasks.is_empty() {
            let host = plans::gates::http::url_host(&self.gate.url).unwrap_or("?");
            let why = if wget::no_task(&stderr) {
                format!("no task of `{host}` is in the DNS of network `{network}` (`tasks.{host}` lists none)")
            } else {
                format!(
                    "the probe in network `{network}` could not ask the tasks of `{host}` (exit code {}): {}",
                    done.exit_code,
                    excerpt(stderr.trim(), 300)
                )
            };
            return Measurement::error(target, condition, why);
        }
        let judged: Vec<_> = tasks
            .iter()
            .map(|t| (t.address.as_str(), self.judged(&t.answer, t.answer.exit.unwrap_or(done.exit_code), &t.body)))
            .collect();
        every_task_measurement(target, condition, &judged)
    }

    /// The outcome, value and detail of one answer (`body`: what was read of it, up to the
    /// limit and one byte more).
    fn judged(&self, answer: &wget::Answer, exit_code: i64, body: &[u8]) -> Judged {
        let network = &self.from.network;
        let Some(status) = answer.status else {
            let why = if answer.timed_out() {
                format!("no answer within {} from network `{network}`", crate::clock::seconds(self.timeout))
            } else if answer.complaints.is_empty() {
                format!("wget in the probe container ended with exit code {exit_code} and no status")
            } else {
                format!("from network `{network}`: {}", excerpt(&answer.complaints.join("; "), 300))
            };
            return (Outcome::Error, None, Some(why));
        };
        let over = body.len() > BODY_LIMIT;
        let text = String::from_utf8_lossy(&body[..body.len().min(BODY_LIMIT)]);
        let value = Some(status.to_string());
        if let Some(wanted) = &self.gate.body
            && status == self.gate.status
            && over
            && !text.contains(wanted.as_str())
        {
            let detail = Some(format!(
                "status {status}, but the body is larger than {} and {wanted:?} is not in its first {}, \
                 which is all planrun reads of a gate's answer",
                crate::gates::client::size(BODY_LIMIT),
                crate::gates::client::size(BODY_LIMIT)
            ));
            return (Outcome::Error, value, detail);
        }
        let (outcome, detail) = judge(&self.gate, status, &text);
        (outcome, value, detail)
    }
}

/// One answer's outcome, value and detail.
type Judged = (Outcome, Option<String>, Option<String>);

/// One measurement of every task's answer: it fails when one task's answer fails, and is
/// otherwise an error when one could not be taken, inconclusive when one was; its value names
/// the tasks that did not pass (`500 from 10.0.1.7; 2 of 3 tasks passed`), or says how many
/// answered (`200 from 3 of 3 tasks`).
fn every_task_measurement(target: String, condition: String, judged: &[(&str, Judged)]) -> Measurement {
    let worst = [Outcome::Fail, Outcome::Error, Outcome::Inconclusive, Outcome::Pass]
        .into_iter()
        .find(|o| judged.iter().any(|(_, (outcome, _, _))| outcome == o))
        .unwrap_or(Outcome::Pass);
    let total = judged.len();
    let of = format!("of {total} task{}", if total == 1 { "" } else { "s" });
    let bad: Vec<_> = judged.iter().filter(|(_, (o, _, _))| *o != Outcome::Pass).collect();
    let passed = total - bad.len();
    let value = if bad.is_empty() {
        let statuses: std::collections::BTreeSet<_> = judged.iter().filter_map(|(_, (_, v, _))| v.clone()).collect();
        let statuses: Vec<_> = statuses.into_iter().collect();
        format!("{} from {total} {of}", statuses.join(", "))
    } else {
        let named: Vec<String> = bad
            .iter()
            .map(|(address, (_, value, _))| format!("{} from {address}", value.as_deref().unwrap_or("no answer")))
            .collect();
        format!("{}; {passed} {of} passed", named.join("; "))
    };
    let detail = bad
        .iter()
        .find(|(_, (o, _, _))| *o == worst)
        .and_then(|(address, (_, _, detail))| detail.as_ref().map(|d| format!("{address}: {d}")));
    Measurement { outcome: worst, target, value: Some(value), condition, detail }
}

#[async_trait]
impl Meter for NetworkMeter {
    fn target(&self) -> String {
        let every = if self.from.every_task { ", every task" } else { "" };
        format!("{} {} from network {}{every}", self.gate.method, self.gate.url, self.from.network)
    }

    fn condition(&self) -> String {
        condition(&self.gate)
    }

    async fn prepare(&mut self, analysis: &Analysis) {
        if matches!(self.probe, Probe::Idle) {
            self.start(life_of(analysis)).await;
        }
    }

    async fn measure(&mut self) -> Measurement {
        if matches!(self.probe, Probe::Idle) {
            self.start(DEFAULT_LIFE).await;
        }
        let container = match &self.probe {
            Probe::Running(a) => a.container.clone(),
            Probe::Broken(why) => return Measurement::error(Meter::target(self), self.condition(), why.clone()),
            Probe::Idle | Probe::Ended => {
                return Measurement::error(Meter::target(self), self.condition(), "the probe container has ended");
            }
        };
        self.request(container).await
    }

    async fn finish(&mut self) {
        if let Probe::Running(running) = std::mem::replace(&mut self.probe, Probe::Ended) {
            match self.ends {
                Some(ends) => job::keep(kept_key(self.run_id.as_deref(), &self.from), running, ends),
                None => running.end_later(),
            }
        }
    }
}

/// A job service name no other probe takes: `planrun-gate-r20261201t181530z4711-3`.
fn probe_name(run_id: Option<&str>) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let run: String = run_id.unwrap_or("").chars().filter(char::is_ascii_alphanumeric).collect::<String>();
    let run = run.to_lowercase();
    let run = &run[run.len().saturating_sub(24)..];
    match run {
        "" => format!("planrun-gate-{}-{n}", std::process::id()),
        run => format!("planrun-gate-{run}-{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;

    fn gate() -> (HttpGate, FromNetwork) {
        let from = FromNetwork { network: "shop_backend".into(), image: "busybox:1.36".into(), every_task: false };
        let gate = HttpGate {
            url: "http://shop_api:8080/health".into(),
            method: "GET".into(),
            status: 200,
            body: None,
            credentials: Default::default(),
            from: Some(from.clone()),
        };
        (gate, from)
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_network_is_an_error_naming_it_and_nothing_is_created() {
        let fake = FakeCluster::new();
        let (gate, from) = gate();
        let mut meter =
            NetworkMeter::new(gate, from, Arc::new(fake.clone()), Duration::from_secs(5), Some("r1".into()));
        let m = meter.measure().await;
        assert_eq!(m.outcome, Outcome::Error);
        assert_eq!(m.target, "GET http://shop_api:8080/health from network shop_backend");
        assert_eq!(m.detail.as_deref(), Some("network `shop_backend` does not exist on this swarm"));
        assert_eq!(meter.measure().await.outcome, Outcome::Error, "and so is every measurement after it");
        assert!(fake.service_names().is_empty(), "no probe job was created");
    }

    #[test]
    fn every_task_fails_when_one_task_fails_and_names_it() {
        let pass = |v: &str| (Outcome::Pass, Some(v.to_owned()), None);
        let m = every_task_measurement(
            "t".into(),
            "status 200".into(),
            &[
                ("10.0.1.5", pass("200")),
                ("10.0.1.7", (Outcome::Fail, Some("500".into()), Some("status 500".into()))),
                ("10.0.1.9", (Outcome::Error, None, Some("refused".into()))),
            ],
        );
        assert_eq!(m.outcome, Outcome::Fail);
        assert_eq!(m.value.as_deref(), Some("500 from 10.0.1.7; no answer from 10.0.1.9; 1 of 3 tasks passed"));
        assert_eq!(m.detail.as_deref(), Some("10.0.1.7: status 500"));
        let m = every_task_measurement("t".into(), "c".into(), &[("a", pass("200")), ("b", pass("200"))]);
        assert_eq!((m.outcome, m.value.as_deref(), m.detail), (Outcome::Pass, Some("200 from 2 of 2 tasks"), None));
        let m =
            every_task_measurement("t".into(), "c".into(), &[("a", (Outcome::Error, None, Some("refused".into())))]);
        assert_eq!(m.outcome, Outcome::Error);
        assert_eq!(m.value.as_deref(), Some("no answer from a; 0 of 1 task passed"));
    }

    #[test]
    fn probe_names_are_unique_and_fit_a_service_name() {
        let a = probe_name(Some("r20261201T181530Z-4711"));
        let b = probe_name(Some("r20261201T181530Z-4711"));
        assert_ne!(a, b);
        assert!(a.starts_with("planrun-gate-r20261201t181530z4711-") && a.len() <= 63, "{a}");
    }
}
