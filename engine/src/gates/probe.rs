//! Measuring gates, behind a seam: [`LiveProbe`] measures for real (HTTP and Prometheus over
//! reqwest, commands through `Commands`, the swarm through `Cluster`); [`ScriptedProbe`]
//! answers as a script says, in virtual time, so a whole plan can run without the outside world.
//!
//! A probe hands out a [`Meter`] per judgement of a gate: a meter may keep state between the
//! measurements of one judgement (the swarm gate remembers which tasks had already ended, so a
//! task that dies between two measurements fails the gate).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use plans::gates::{GateKind, Outcome};
use plans::model::Gate;

use super::client::{self, Redirects};
use super::{Conclusion, Measurement};
use crate::cluster::Cluster;
use crate::commands::Commands;

/// Takes the measurements of one judgement of one gate.
#[async_trait]
pub trait Meter: Send {
    /// What is measured, as shown in events: the URL, the resolved query, the service, the command.
    fn target(&self) -> String;
    /// The condition, as shown in events.
    fn condition(&self) -> String;
    /// Before the first measurement, outside any measurement's timeout: sets up what the
    /// measurements share (a probe container on a network), for a judgement under `analysis`.
    /// What goes wrong is said by the measurements that follow. Most meters need nothing.
    async fn prepare(&mut self, _analysis: &plans::model::Analysis) {}
    /// Takes one measurement. Never fails: what goes wrong is an `Error` measurement.
    async fn measure(&mut self) -> Measurement;
    /// After the judgement, however it ended: takes down what `prepare` set up (a meter
    /// dropped midway does so from its `Drop`, only spawned). Most meters need nothing.
    async fn finish(&mut self) {}
    /// After the last measurement, when every limit held: a verdict over the whole series, for
    /// meters that compare with a baseline; `None` (every other meter) keeps the verdict the
    /// measurements gave.
    fn conclude(&mut self) -> Option<Conclusion> {
        None
    }
}

/// Measures gates.
#[async_trait]
pub trait Probe: Send + Sync {
    /// A meter for one judgement of `gate`, of the plan in `dir` (the files it names, such as
    /// a `bearer-token-file`, are relative to it).
    fn meter(&self, gate: &Gate, dir: &Path) -> Box<dyn Meter>;
    /// Before a run: why `gate` could not be measured at all (its service is missing, its
    /// server does not answer, its token file cannot be read), if so.
    async fn preflight(&self, gate: &Gate, dir: &Path) -> Option<String>;
    /// This probe for the run `run_id`: what its meters leave on the swarm (the probe
    /// container of a gate measured from a network) is labelled with the run, so
    /// `planrun repair` finds what a run that died left.
    fn for_run(&self, run_id: &str) -> Arc<dyn Probe>;
    /// Before a step's rollout, beside the caller: what `gate`'s first judgement would
    /// otherwise wait for ([`GateBehavior::warm`]).
    fn warm(&self, gate: &Gate);
}

/// Measures for real.
#[derive(Clone)]
pub struct LiveProbe {
    /// The swarm, for `swarm` gates.
    pub cluster: Arc<dyn Cluster>,
    /// The HTTP client for `http` and `prometheus` gates that send no credentials.
    pub http: reqwest::Client,
    /// The HTTP client for those that do: it follows a redirect only to the same origin.
    pub http_with_credentials: reqwest::Client,
    /// The default Prometheus server (`prometheus` in `planrun.toml`).
    pub prometheus: Option<String>,
    /// Runs `command` gates.
    pub commands: Arc<dyn Commands>,
    /// When the probe was made, before the run changed anything: where the window of a
    /// `baseline before` gate ends.
    pub started: std::time::SystemTime,
    /// The run it measures for, once known (`Probe::for_run`): labels what it leaves.
    pub run_id: Option<String>,
}

impl LiveProbe {
    /// A probe with the gates' HTTP clients (`client.rs`).
    pub fn new(cluster: Arc<dyn Cluster>, prometheus: Option<String>, commands: Arc<dyn Commands>) -> LiveProbe {
        LiveProbe {
            cluster,
            http: client::client(Redirects::Anywhere),
            http_with_credentials: client::client(Redirects::SameOrigin),
            prometheus,
            commands,
            started: std::time::SystemTime::now(),
            run_id: None,
        }
    }

    /// The client for a request with `credentials`.
    pub fn client_for(&self, credentials: &plans::gates::Credentials) -> reqwest::Client {
        if credentials.is_empty() { self.http.clone() } else { self.http_with_credentials.clone() }
    }
}

/// What a gate kind does at run time: one implementation per kind, in `gates/<kind>.rs`, and
/// [`kind`] the one match from a plan's `GateKind` to it. No method has a default.
#[async_trait]
pub trait GateBehavior: Sync {
    /// A meter for one judgement against the real world, each measurement within `timeout`;
    /// `dir` is the plan's directory.
    fn meter(&self, probe: &LiveProbe, timeout: Duration, dir: &Path) -> Box<dyn Meter>;
    /// Before a run: why the gate could not be measured at all, if so.
    async fn preflight(&self, probe: &LiveProbe, dir: &Path) -> Option<String>;
    /// In a simulation: a meter that measures the simulated swarm itself, for kinds that read
    /// the swarm; `None` for kinds whose answers are scripted.
    fn simulated(&self, cluster: &Arc<dyn Cluster>) -> Option<Box<dyn Meter>>;
    /// In a simulation: why the gate could not be measured on the simulated swarm, if so.
    async fn simulated_preflight(&self, cluster: &dyn Cluster) -> Option<String>;
    /// Before a step's rollout: prepares, beside the caller, what the first judgement would
    /// otherwise wait for (an `http` gate's probe container on a network), if anything.
    fn warm(&self, probe: &LiveProbe, analysis: &plans::model::Analysis);
}

/// The run-time behaviour of a gate kind.
pub fn kind(gate: &GateKind) -> &dyn GateBehavior {
    match gate {
        GateKind::Http(g) => g,
        GateKind::Prometheus(g) => g,
        GateKind::Swarm(g) => g,
        GateKind::Command(g) => g,
    }
}

#[async_trait]
impl Probe for LiveProbe {
    fn meter(&self, gate: &Gate, dir: &Path) -> Box<dyn Meter> {
        kind(&gate.kind).meter(self, gate.analysis.timeout.to_std(), dir)
    }

    fn warm(&self, gate: &Gate) {
        kind(&gate.kind).warm(self, &gate.analysis);
    }

    async fn preflight(&self, gate: &Gate, dir: &Path) -> Option<String> {
        kind(&gate.kind).preflight(self, dir).await
    }

    fn for_run(&self, run_id: &str) -> Arc<dyn Probe> {
        Arc::new(LiveProbe { run_id: Some(run_id.to_owned()), ..self.clone() })
    }
}

/// Gates that answer as scripted: per gate name, the outcomes of its measurements in turn,
/// counted across every judgement of that gate in the run (the last one repeats); a gate
/// without a script passes, except `swarm` gates, which are measured against `cluster` (the fake
/// swarm) when one is given. Each measurement takes `latency` on tokio's clock.
#[derive(Clone, Default)]
pub struct ScriptedProbe {
    scripts: Scripts,
    /// How long each measurement takes.
    pub latency: Duration,
    /// Where unscripted `swarm` gates are measured.
    pub cluster: Option<Arc<dyn Cluster>>,
    /// Per gate name, how long each of its measurements takes instead of `latency`.
    latencies: Arc<Mutex<HashMap<String, Duration>>>,
    /// Per gate name, how many judgements of it began.
    judged: Arc<Mutex<HashMap<String, u64>>>,
    /// Per (gate, judgement number from 0), that judgement's own outcomes.
    judgements: Arc<Mutex<Judgements>>,
    /// Asked, when a judgement begins that `judgements` does not script, for its own outcomes
    /// (it may block until it knows): a worst case that runs beside the run it depends on.
    decider: Option<Decider>,
}

/// Given a gate's name and a judgement's number, that judgement's own outcomes, if any.
pub type Decider = Arc<dyn Fn(&str, u64) -> Option<Vec<Outcome>> + Send + Sync>;

impl ScriptedProbe {
    /// Every gate passes at once, until scripted otherwise.
    pub fn new() -> ScriptedProbe {
        ScriptedProbe::default()
    }

    /// Measures unscripted swarm gates against `cluster`.
    pub fn with_cluster(cluster: Arc<dyn Cluster>) -> ScriptedProbe {
        ScriptedProbe { cluster: Some(cluster), ..ScriptedProbe::default() }
    }

    /// Makes the gate named `gate` measure `outcomes` in turn.
    pub fn script(&self, gate: &str, outcomes: &[Outcome]) {
        self.scripts.lock().expect("scripts poisoned").insert(gate.to_owned(), (outcomes.to_vec(), 0));
    }

    /// Makes judgement number `k` (from 0, in the order judgements begin) of the gate named
    /// `gate` measure `outcomes` in turn; its other judgements are as scripted otherwise.
    pub fn script_judgement(&self, gate: &str, k: u64, outcomes: &[Outcome]) {
        self.judgements.lock().expect("judgements poisoned").insert((gate.to_owned(), k), outcomes.to_vec());
    }

    /// Asks `decider` for the outcomes of each judgement not scripted by `script_judgement`.
    pub fn decide_judgements(&mut self, decider: Decider) {
        self.decider = Some(decider);
    }

    /// Makes each measurement of the gate named `gate` take `takes`.
    pub fn set_latency(&self, gate: &str, takes: Duration) {
        self.latencies.lock().expect("latencies poisoned").insert(gate.to_owned(), takes);
    }
}

/// Per (gate, judgement number), that judgement's own outcomes.
type Judgements = HashMap<(String, u64), Vec<Outcome>>;

/// Per gate: its outcomes and how many were taken.
type Scripts = Arc<Mutex<HashMap<String, (Vec<Outcome>, usize)>>>;

struct ScriptedMeter {
    scripts: Scripts,
    latency: Duration,
    target: String,
}

#[async_trait]
impl Meter for ScriptedMeter {
    fn target(&self) -> String {
        self.target.clone()
    }

    fn condition(&self) -> String {
        "scripted".into()
    }

    async fn measure(&mut self) -> Measurement {
        tokio::time::sleep(self.latency).await;
        let outcome = {
            let mut scripts = self.scripts.lock().expect("scripts poisoned");
            match scripts.get_mut(&self.target) {
                Some((outcomes, taken)) => {
                    let next = outcomes.get(*taken).or(outcomes.last()).copied().unwrap_or(Outcome::Pass);
                    *taken += 1;
                    next
                }
                None => Outcome::Pass,
            }
        };
        let detail = (outcome != Outcome::Pass).then(|| format!("scripted {}", super::outcome_word(outcome)));
        Measurement { outcome, target: self.target.clone(), value: None, condition: "scripted".into(), detail }
    }
}

#[async_trait]
impl Probe for ScriptedProbe {
    /// A scripted meter is ready at once.
    fn warm(&self, _gate: &Gate) {}

    // Scripted answers need no secret: a plan is simulated without its token files and
    // variables.
    fn meter(&self, gate: &Gate, _dir: &Path) -> Box<dyn Meter> {
        let name = &gate.name.value;
        let k = {
            let mut judged = self.judged.lock().expect("judged poisoned");
            let n = judged.entry(name.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let latency = self.latencies.lock().expect("latencies poisoned").get(name).copied().unwrap_or(self.latency);
        let own = self.judgements.lock().expect("judgements poisoned").remove(&(name.clone(), k));
        if let Some(outcomes) = own.or_else(|| self.decider.as_ref().and_then(|decide| decide(name, k))) {
            let own: Scripts = Arc::new(Mutex::new([(name.clone(), (outcomes, 0))].into()));
            return Box::new(ScriptedMeter { scripts: own, latency, target: name.clone() });
        }
        let scripted = self.scripts.lock().expect("scripts poisoned").contains_key(&gate.name.value);
        let measured = match (scripted, &self.cluster) {
            (false, Some(cluster)) => kind(&gate.kind).simulated(cluster),
            (true, _) | (false, None) => None,
        };
        measured
            .unwrap_or_else(|| Box::new(ScriptedMeter { scripts: self.scripts.clone(), latency, target: name.clone() }))
    }

    async fn preflight(&self, gate: &Gate, _dir: &Path) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        kind(&gate.kind).simulated_preflight(cluster.as_ref()).await
    }

    // The same scripts, counts and latencies: nothing a scripted meter makes is left behind.
    fn for_run(&self, _run_id: &str) -> Arc<dyn Probe> {
        Arc::new(self.clone())
    }
}
