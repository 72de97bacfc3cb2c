//! Measuring gates, behind a seam: [`LiveProbe`] measures for real (HTTP and Prometheus over
//! reqwest, commands through `Commands`, the swarm through `Cluster`); [`ScriptedProbe`]
//! answers as a script says, in virtual time, so a whole plan can run without the outside world.
//!
//! A probe hands out a [`Meter`] per judgement of a gate: a meter may keep state between the
//! measurements of one judgement (the swarm gate remembers which tasks had already ended, so a
//! task that dies between two measurements fails the gate).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use plans::gates::{GateKind, Outcome};
use plans::model::Gate;

use super::{Measurement, command, http, prometheus, swarm};
use crate::cluster::Cluster;
use crate::commands::Commands;

/// Takes the measurements of one judgement of one gate.
#[async_trait]
pub trait Meter: Send {
    /// What is measured, as shown in events: the URL, the resolved query, the service, the command.
    fn target(&self) -> String;
    /// The condition, as shown in events.
    fn condition(&self) -> String;
    /// Takes one measurement. Never fails: what goes wrong is an `Error` measurement.
    async fn measure(&mut self) -> Measurement;
}

/// Measures gates.
#[async_trait]
pub trait Probe: Send + Sync {
    /// A meter for one judgement of `gate`.
    fn meter(&self, gate: &Gate) -> Box<dyn Meter>;
    /// Before a run: why `gate` could not be measured at all (its service is missing, its
    /// server does not answer), if so.
    async fn preflight(&self, gate: &Gate) -> Option<String>;
}

/// Measures for real.
#[derive(Clone)]
pub struct LiveProbe {
    /// The swarm, for `swarm` gates.
    pub cluster: Arc<dyn Cluster>,
    /// The HTTP client for `http` and `prometheus` gates.
    pub http: reqwest::Client,
    /// The default Prometheus server (`prometheus` in `planrun.toml`).
    pub prometheus: Option<String>,
    /// Runs `command` gates.
    pub commands: Arc<dyn Commands>,
}

#[async_trait]
impl Probe for LiveProbe {
    fn meter(&self, gate: &Gate) -> Box<dyn Meter> {
        let timeout = gate.analysis.timeout.to_std();
        match &gate.kind {
            GateKind::Http(g) => Box::new(http::HttpMeter { gate: g.clone(), client: self.http.clone(), timeout }),
            GateKind::Prometheus(g) => Box::new(prometheus::PrometheusMeter {
                gate: g.clone(),
                server: g.server.clone().or_else(|| self.prometheus.clone()),
                client: self.http.clone(),
                timeout,
            }),
            GateKind::Swarm(g) => Box::new(swarm::SwarmMeter::new(g.clone(), self.cluster.clone())),
            GateKind::Command(g) => {
                Box::new(command::CommandMeter { gate: g.clone(), commands: self.commands.clone(), timeout })
            }
        }
    }

    async fn preflight(&self, gate: &Gate) -> Option<String> {
        match &gate.kind {
            // The URL often names what the plan is about to deploy: it may rightly not answer yet.
            GateKind::Http(_) => None,
            GateKind::Prometheus(g) => {
                let server = g.server.clone().or_else(|| self.prometheus.clone());
                prometheus::preflight(server.as_deref(), &self.http).await
            }
            GateKind::Swarm(g) => swarm::preflight(g, self.cluster.as_ref()).await,
            GateKind::Command(g) => command::preflight(g, self.commands.as_ref()),
        }
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
}

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
    fn meter(&self, gate: &Gate) -> Box<dyn Meter> {
        let name = &gate.name.value;
        let k = {
            let mut judged = self.judged.lock().expect("judged poisoned");
            let n = judged.entry(name.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let latency = self.latencies.lock().expect("latencies poisoned").get(name).copied().unwrap_or(self.latency);
        if let Some(outcomes) = self.judgements.lock().expect("judgements poisoned").remove(&(name.clone(), k)) {
            let own: Scripts = Arc::new(Mutex::new([(name.clone(), (outcomes, 0))].into()));
            return Box::new(ScriptedMeter { scripts: own, latency, target: name.clone() });
        }
        let scripted = self.scripts.lock().expect("scripts poisoned").contains_key(&gate.name.value);
        match (&gate.kind, scripted, &self.cluster) {
            (GateKind::Swarm(g), false, Some(cluster)) => Box::new(swarm::SwarmMeter::new(g.clone(), cluster.clone())),
            _ => Box::new(ScriptedMeter {
                scripts: self.scripts.clone(),
                latency: self
                    .latencies
                    .lock()
                    .expect("latencies poisoned")
                    .get(&gate.name.value)
                    .copied()
                    .unwrap_or(self.latency),
                target: gate.name.value.clone(),
            }),
        }
    }

    async fn preflight(&self, gate: &Gate) -> Option<String> {
        match (&gate.kind, &self.cluster) {
            (GateKind::Swarm(g), Some(cluster)) => swarm::preflight(g, cluster.as_ref()).await,
            _ => None,
        }
    }
}
