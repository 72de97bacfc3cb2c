//! `http` gates: one request; the status (and optionally a text in the body) decides. Sent from
//! this machine (reqwest), or from a probe container on a Swarm network (`from_network.rs`,
//! busybox `wget` as `wget.rs` runs and reads it).

pub mod from_network;
pub mod wget;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use plans::gates::{HttpGate, Outcome};

use self::from_network::NetworkMeter;
use super::client::{self, End};
use super::credentials::{self, Sent};
use super::probe::{GateBehavior, LiveProbe};
use super::{Measurement, Meter, excerpt};
use crate::cause::chain as error_chain;
use crate::cluster::Cluster;
use std::sync::Arc;

/// Measures an `http` gate.
pub struct HttpMeter {
    /// The gate.
    pub gate: HttpGate,
    /// The client.
    pub client: reqwest::Client,
    /// Time allowed for one request, its body included.
    pub timeout: Duration,
    /// The plan's directory (a `bearer-token-file` is relative to it).
    pub dir: PathBuf,
}

#[async_trait]
impl Meter for HttpMeter {
    fn target(&self) -> String {
        target(&self.gate)
    }

    fn condition(&self) -> String {
        condition(&self.gate)
    }

    async fn measure(&mut self) -> Measurement {
        measure(&self.gate, &self.client, self.timeout, &self.dir).await
    }
}

/// At most this much of the body is read: a health endpoint answers with a few bytes, and the
/// body only ever decides whether it contains a text.
pub const BODY_LIMIT: usize = 1 << 20;

/// What is measured, as shown in events: `GET http://app:8080/health`.
pub fn target(gate: &HttpGate) -> String {
    format!("{} {}", gate.method, gate.url)
}

/// The condition as shown in events: `status == 200` or `status == 200 and body contains "ok"`.
pub fn condition(gate: &HttpGate) -> String {
    match &gate.body {
        Some(body) => format!("status == {} and body contains {body:?}", gate.status),
        None => format!("status == {}", gate.status),
    }
}

/// Sends one request, with the gate's credentials read from `dir` and the environment.
/// Passes when the status is the expected one and the body contains `body` (if given); a
/// request that gets no response, or credentials that cannot be read, are an error. A body cut
/// short or longer than [`BODY_LIMIT`] still counts when the status alone decides (a 500
/// fails whatever its body), or when the text is in what was read. Every secret sent is
/// scrubbed from what the measurement says.
pub async fn measure(gate: &HttpGate, client: &reqwest::Client, timeout: Duration, dir: &Path) -> Measurement {
    let sent = match credentials::read(&gate.credentials, dir).await {
        Ok(sent) => sent,
        Err(e) => return Measurement::error(target(gate), condition(gate), e.to_string()),
    };
    sent.scrubbed(exchange(gate, client, timeout, &sent).await)
}

async fn exchange(gate: &HttpGate, client: &reqwest::Client, timeout: Duration, sent: &Sent) -> Measurement {
    let target = target(gate);
    let condition = condition(gate);
    let method = match reqwest::Method::from_bytes(gate.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Measurement::error(target, condition, format!("`{}` is not an HTTP method", gate.method)),
    };
    let request = sent.apply(client.request(method, &gate.url).timeout(timeout));
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Measurement::error(target, condition, error_chain(&e)),
    };
    let status = response.status().as_u16();
    let read = client::read(response, BODY_LIMIT).await;
    let body = String::from_utf8_lossy(&read.bytes);
    let value = Some(status.to_string());
    if let Some(wanted) = &gate.body
        && status == gate.status
    {
        // Only the body can decide, and it did not arrive whole.
        let detail = match &read.end {
            End::Cut(why) => Some(format!("status {status}, but the body was cut short: {why}")),
            End::OverLimit if !body.contains(wanted.as_str()) => Some(format!(
                "status {status}, but the body is larger than {} and {wanted:?} is not in its first {}, \
                 which is all planrun reads of a gate's answer",
                client::size(BODY_LIMIT),
                client::size(BODY_LIMIT)
            )),
            End::OverLimit | End::Whole => None,
        };
        if detail.is_some() {
            return Measurement { outcome: Outcome::Error, target, value, condition, detail };
        }
    }
    let (outcome, mut detail) = judge(gate, status, &body);
    if status == 401 && gate.status != 401 && !sent.is_empty() {
        let settings: Vec<String> = gate.credentials.secrets().into_iter().map(|(s, _)| s).collect();
        let refused = format!("the server refused the credentials sent ({})", settings.join(", "));
        detail = Some(match detail {
            Some(d) => format!("{d} ({refused})"),
            None => refused,
        });
    }
    Measurement { outcome, target, value, condition, detail }
}

/// Pass or fail for a response, with the reason for a failure.
pub fn judge(gate: &HttpGate, status: u16, body: &str) -> (Outcome, Option<String>) {
    if status != gate.status {
        let mut why = format!("status {status}, wanted {}", gate.status);
        if !body.trim().is_empty() {
            why.push_str(&format!("; body: {}", excerpt(body, 200)));
        }
        return (Outcome::Fail, Some(why));
    }
    match &gate.body {
        Some(wanted) if !body.contains(wanted.as_str()) => {
            (Outcome::Fail, Some(format!("body does not contain {wanted:?}; body: {}", excerpt(body, 200))))
        }
        _ => (Outcome::Pass, None),
    }
}

/// The `http` kind at run time.
#[async_trait]
impl GateBehavior for HttpGate {
    fn meter(&self, probe: &LiveProbe, timeout: Duration, dir: &Path) -> Box<dyn Meter> {
        if let Some(from) = &self.from {
            let cluster = probe.cluster.clone();
            return Box::new(NetworkMeter::new(self.clone(), from.clone(), cluster, timeout, probe.run_id.clone()));
        }
        let client = probe.client_for(&self.credentials);
        Box::new(HttpMeter { gate: self.clone(), client, timeout, dir: dir.to_path_buf() })
    }

    async fn preflight(&self, probe: &LiveProbe, dir: &Path) -> Option<String> {
        // The URL often names what the plan is about to deploy: it may rightly not answer yet,
        // and a network it is measured from may be one the plan creates. The probe container
        // runs on the node planrun talks to, which must take tasks. Credentials are this
        // machine's, and must be here before anything changes.
        if let Some(from) = &self.from
            && probe.cluster.node_taking_tasks_here().await.is_none()
        {
            return Some(format!(
                "the probe container for network `{}` runs on the node planrun talks to, which takes no tasks \
                 (or cannot be read)",
                from.network
            ));
        }
        credentials::preflight(&self.credentials, dir).await
    }

    // Scripted, wherever it is measured from: the simulated swarm answers no request.
    fn simulated(&self, _cluster: &Arc<dyn Cluster>) -> Option<Box<dyn Meter>> {
        None
    }

    async fn simulated_preflight(&self, _cluster: &dyn Cluster) -> Option<String> {
        None
    }

    /// From a network: the probe container, started ahead and kept for the first judgement.
    fn warm(&self, probe: &LiveProbe, analysis: &plans::model::Analysis) {
        if let Some(from) = &self.from {
            from_network::warm(probe.cluster.clone(), probe.run_id.clone(), from.clone(), analysis);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(status: u16, body: Option<&str>) -> HttpGate {
        HttpGate {
            url: "http://127.0.0.1:1/health".into(),
            method: "GET".into(),
            status,
            body: body.map(Into::into),
            credentials: Default::default(),
            from: None,
        }
    }

    #[test]
    fn status_and_body_decide() {
        assert_eq!(judge(&gate(200, None), 200, ""), (Outcome::Pass, None));
        assert_eq!(judge(&gate(200, Some("ok")), 200, "all ok\n"), (Outcome::Pass, None));
        assert_eq!(
            judge(&gate(200, None), 500, "error version=5xx\n"),
            (Outcome::Fail, Some("status 500, wanted 200; body: error version=5xx".into()))
        );
        assert_eq!(
            judge(&gate(200, Some("ok")), 200, "starting"),
            (Outcome::Fail, Some("body does not contain \"ok\"; body: starting".into()))
        );
        assert_eq!(judge(&gate(503, None), 503, ""), (Outcome::Pass, None));
    }

    #[test]
    fn condition_text() {
        assert_eq!(condition(&gate(200, None)), "status == 200");
        assert_eq!(condition(&gate(204, Some("ok"))), "status == 204 and body contains \"ok\"");
    }
}
