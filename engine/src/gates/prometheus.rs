//! `prometheus` gates: one instant query whose single value is judged against `pass` and
//! `fail`, or, with a `baseline`, paired with a baseline value at each measurement and the two
//! series judged at the end (`compare.rs`). Only this file knows the Prometheus HTTP API.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use plans::condition::{Comparison, Condition};
use plans::gates::{Against, Credentials, Outcome, PrometheusGate};
use serde::Deserialize;

use super::client::{self, End};
use super::credentials::{self, Sent};
use super::probe::{GateBehavior, LiveProbe};
use super::{Conclusion, Measurement, Meter, compare, excerpt, outcome_word};
use crate::cause::chain as error_chain;
use crate::cluster::Cluster;
use std::sync::Arc;

/// At most this much of an answer is read. A gate's query returns one sample, a few hundred
/// bytes; even a query that wrongly returns every series of a large server stays well below,
/// and its error names the series.
pub const ANSWER_LIMIT: usize = 16 << 20;

/// Measures a `prometheus` gate.
pub struct PrometheusMeter {
    /// The gate.
    pub gate: PrometheusGate,
    /// The server: the gate's own, else the project's.
    pub server: Option<String>,
    /// The client.
    pub client: reqwest::Client,
    /// Time allowed for one query, its answer included.
    pub timeout: Duration,
    /// The plan's directory (a `bearer-token-file` is relative to it).
    pub dir: PathBuf,
    /// For `baseline before`: when the run started; the baseline window ends there.
    pub started: SystemTime,
    /// With a baseline: when the first measurement was taken.
    pub first: Option<SystemTime>,
    /// With a baseline: the new and the baseline value of each measurement that had both.
    pub pairs: Vec<(f64, f64)>,
}

#[async_trait]
impl Meter for PrometheusMeter {
    fn target(&self) -> String {
        self.gate.query.clone()
    }

    fn condition(&self) -> String {
        condition(&self.gate)
    }

    async fn measure(&mut self) -> Measurement {
        if self.gate.baseline.is_none() {
            return measure(&self.gate, self.server.as_deref(), &self.client, self.timeout, &self.dir).await;
        }
        let now = SystemTime::now();
        let first = *self.first.get_or_insert(now);
        // `baseline before` mirrors the gate's window back from the run's start: the first
        // measurement pairs with the run's start, each later one with as much earlier.
        let before = self.started - now.duration_since(first).unwrap_or_default();
        let (m, pair) = measure_pair(self, now, before).await;
        self.pairs.extend(pair);
        m
    }

    fn conclude(&mut self) -> Option<Conclusion> {
        let baseline = self.gate.baseline.as_ref()?;
        Some(compare::conclude(&self.pairs, baseline))
    }
}

/// One measurement of a gate with a baseline: the query at `now`, and the baseline (the same
/// query at `before`, or the baseline query at `now`); the measurement and, when both are
/// numbers, the pair. An empty or NaN value on either side takes `on-empty` or `on-nan` and
/// gives no pair.
async fn measure_pair(
    meter: &PrometheusMeter,
    now: SystemTime,
    before: SystemTime,
) -> (Measurement, Option<(f64, f64)>) {
    let gate = &meter.gate;
    let condition = condition(gate);
    let Some(server) = meter.server.as_deref() else {
        return (Measurement::error(&gate.query, condition, NO_SERVER), None);
    };
    let sent = match credentials::read(&gate.credentials, &meter.dir).await {
        Ok(sent) => sent,
        Err(e) => return (Measurement::error(&gate.query, condition, e.to_string()), None),
    };
    let (old_query, old_at) = match gate.baseline.as_ref().map(|b| &b.against) {
        Some(Against::Query(q)) => (q.as_str(), now),
        Some(Against::Before) | None => (gate.query.as_str(), before),
    };
    let (new, old) = tokio::join!(
        ask(server, &meter.client, meter.timeout, &sent, &gate.credentials, &gate.query, Some(now)),
        ask(server, &meter.client, meter.timeout, &sent, &gate.credentials, old_query, Some(old_at)),
    );
    let when = humantime::format_rfc3339_millis(old_at).to_string();
    let mut warnings = Vec::new();
    let new = side(gate, new, "new", &mut warnings);
    let old = side(gate, old, &format!("baseline (at {when})"), &mut warnings);
    let value = new.as_ref().ok().map(|(text, _)| text.clone());
    let (outcome, mut detail, pair) = match (new, old) {
        (Ok((_, new)), Ok((old_text, old))) => {
            (Outcome::Pass, format!("baseline {old_text} at {when}"), Some((new, old)))
        }
        (Err((outcome, why)), _) | (Ok(_), Err((outcome, why))) => (outcome, why, None),
    };
    if !warnings.is_empty() {
        detail = format!("{detail} (Prometheus warns: {})", warnings.join("; "));
    }
    let m = Measurement { outcome, target: gate.query.clone(), value, condition, detail: Some(detail) };
    (sent.scrubbed(m), pair)
}

/// One side of a measurement with a baseline: its value, or the outcome and why there is none.
fn side(
    gate: &PrometheusGate,
    answer: Result<Answer, String>,
    which: &str,
    warnings: &mut Vec<String>,
) -> Result<(String, f64), (Outcome, String)> {
    let answer = answer.map_err(|why| (Outcome::Error, format!("the {which} query: {why}")))?;
    warnings.extend(answer.warnings);
    match answer.sample {
        Sample::Empty => Err((
            gate.on_empty,
            format!("the {which} query returned no series (on-empty {})", outcome_word(gate.on_empty)),
        )),
        Sample::Value { number, .. } if number.is_nan() => {
            Err((gate.on_nan, format!("the {which} value is NaN (on-nan {})", outcome_word(gate.on_nan))))
        }
        Sample::Value { text, number } => Ok((text, number)),
    }
}

/// Before a run: whether the server is set, the gate's credentials can be read (from `dir`
/// and the environment), and the server answers them (its build-info endpoint).
pub async fn preflight(
    server: Option<&str>,
    client: &reqwest::Client,
    credentials: &Credentials,
    dir: &Path,
) -> Option<String> {
    let Some(server) = server else { return Some(NO_SERVER.to_owned()) };
    let sent = match credentials::read(credentials, dir).await {
        Ok(sent) => sent,
        Err(e) => return Some(e.to_string()),
    };
    let url = format!("{}/api/v1/status/buildinfo", server.trim_end_matches('/'));
    let mut why = match sent.apply(client.get(&url).timeout(Duration::from_secs(5))).send().await {
        Ok(r) if r.status().is_success() => return None,
        Ok(r) if r.status().as_u16() == 401 && !sent.is_empty() => format!(
            "Prometheus at {server} answers HTTP 401 to {url}: it refused the credentials sent ({})",
            settings(credentials)
        ),
        Ok(r) => format!("Prometheus at {server} answers HTTP {} to {url}", r.status().as_u16()),
        Err(e) => format!("Prometheus at {server} does not answer: {}", error_chain(&e)),
    };
    sent.scrub(&mut why);
    Some(why)
}

/// The settings that name the gate's secrets, for messages: `bearer-token-env`.
fn settings(credentials: &Credentials) -> String {
    credentials.secrets().into_iter().map(|(s, _)| s).collect::<Vec<_>>().join(", ")
}

/// The detail of a gate with no server to ask.
pub const NO_SERVER: &str =
    "no Prometheus server: set `prometheus \"URL\"` on the gate or `prometheus` in planrun.toml";

/// What an instant query returned, reduced to what a gate judges.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// No series.
    Empty,
    /// One value: as Prometheus wrote it (`0.034`, `NaN`, `+Inf`) and as a number.
    Value {
        /// The text of the value.
        text: String,
        /// The number (NaN and infinities included).
        number: f64,
    },
}

/// A successful answer: the sample and the warnings Prometheus attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The single sample, or none.
    pub sample: Sample,
    /// Warnings (and infos) from the response.
    pub warnings: Vec<String>,
}

/// The condition as shown in events: `result < 0.001`, both conditions, or the comparison
/// (`no worse than before the run by more than 10%, lower is better`).
pub fn condition(gate: &PrometheusGate) -> String {
    if let Some(b) = &gate.baseline {
        let against = match &b.against {
            Against::Before => "before the run".to_owned(),
            Against::Query(q) => format!("`{q}`"),
        };
        return format!("no worse than {against} by more than {}, {} is better", b.margin, b.better.word());
    }
    match (&gate.pass, &gate.fail) {
        (Some(p), None) => p.to_string(),
        (None, Some(f)) => format!("fail if {f}"),
        (Some(p), Some(f)) => format!("{p}, fail if {f}"),
        (None, None) => "no condition".into(),
    }
}

/// Runs the query once against `server` (the gate's, else the project's), with the gate's
/// credentials read from `dir` and the environment, and judges it. An answer larger than
/// [`ANSWER_LIMIT`] is an error. Every secret sent is scrubbed from what the measurement says.
pub async fn measure(
    gate: &PrometheusGate,
    server: Option<&str>,
    client: &reqwest::Client,
    timeout: Duration,
    dir: &Path,
) -> Measurement {
    let Some(server) = server else {
        return Measurement::error(&gate.query, condition(gate), NO_SERVER);
    };
    let sent = match credentials::read(&gate.credentials, dir).await {
        Ok(sent) => sent,
        Err(e) => return Measurement::error(&gate.query, condition(gate), e.to_string()),
    };
    sent.scrubbed(query(gate, server, client, timeout, &sent).await)
}

async fn query(
    gate: &PrometheusGate,
    server: &str,
    client: &reqwest::Client,
    timeout: Duration,
    sent: &Sent,
) -> Measurement {
    let condition = condition(gate);
    let answer = match ask(server, client, timeout, sent, &gate.credentials, &gate.query, None).await {
        Ok(a) => a,
        Err(why) => return Measurement::error(&gate.query, condition, why),
    };
    let (outcome, mut detail) = judge(gate, &answer.sample);
    if !answer.warnings.is_empty() {
        let warnings = format!("Prometheus warns: {}", answer.warnings.join("; "));
        detail = Some(match detail {
            Some(d) => format!("{d} ({warnings})"),
            None => warnings,
        });
    }
    let value = match answer.sample {
        Sample::Value { text, .. } => Some(text),
        Sample::Empty => None,
    };
    Measurement { outcome, target: gate.query.clone(), value, condition, detail }
}

/// Runs `query` once against `server`, at `time` (Prometheus's now when `None`), sending
/// `sent`: the answer, or why there is none (unscrubbed: the caller scrubs what it reports).
async fn ask(
    server: &str,
    client: &reqwest::Client,
    timeout: Duration,
    sent: &Sent,
    credentials: &Credentials,
    query: &str,
    time: Option<SystemTime>,
) -> Result<Answer, String> {
    let url = format!("{}/api/v1/query", server.trim_end_matches('/'));
    let mut params = vec![("query", query.to_owned())];
    if let Some(time) = time {
        let seconds = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        params.push(("time", format!("{seconds:.3}")));
    }
    let request = sent.apply(client.get(&url).query(&params).timeout(timeout));
    let response = request.send().await.map_err(|e| format!("Prometheus at {server}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let read = client::read(response, ANSWER_LIMIT).await;
    match read.end {
        End::Whole => {}
        End::OverLimit => {
            return Err(format!(
                "Prometheus at {server} answered more than {}, which is all planrun reads of an answer \
                 (HTTP {status}); a gate's query returns one sample: aggregate it, with sum() for example",
                client::size(ANSWER_LIMIT)
            ));
        }
        End::Cut(why) => return Err(format!("Prometheus at {server}: {why}")),
    }
    let body = String::from_utf8_lossy(&read.bytes);
    match parse(status, &body) {
        Ok(a) => Ok(a),
        Err(QueryError::Http { status: 401, body }) if !sent.is_empty() => Err(format!(
            "Prometheus at {server}: HTTP 401: it refused the credentials sent ({}): {body}",
            settings(credentials)
        )),
        Err(why) => Err(format!("Prometheus at {server}: {why}")),
    }
}

#[derive(Deserialize)]
struct Response {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    infos: Vec<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    value: (serde_json::Value, String),
}

/// Why a Prometheus answer gives no value, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// An HTTP error whose body is not Prometheus's JSON.
    Http {
        /// The HTTP status.
        status: u16,
        /// The body's start.
        body: String,
    },
    /// A 200 whose body is not a query response (another server answered).
    NotAResponse {
        /// What the JSON reader said.
        message: String,
        /// The body's start.
        body: String,
    },
    /// Prometheus refused the query.
    Refused {
        /// Its `errorType` (`bad_data`, `timeout`).
        kind: String,
        /// Its `error`.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// A success without `data`.
    NoData,
    /// A result of a known type that does not read as one.
    Unreadable {
        /// `vector` or `scalar`.
        result_type: &'static str,
        /// What the JSON reader said.
        message: String,
    },
    /// More than one series, where a gate needs one value.
    Series {
        /// How many.
        count: usize,
        /// The labels of the first few.
        first: Vec<String>,
    },
    /// A range vector (`[5m]` left in the query).
    RangeVector,
    /// A result of another type (`string`).
    OtherType {
        /// The `resultType`.
        result_type: String,
    },
    /// A sample that is not a number.
    NotANumber {
        /// The sample as sent.
        text: String,
    },
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Http { status, body } => write!(f, "HTTP {status}: {body}"),
            QueryError::NotAResponse { message, body } => {
                write!(f, "not a Prometheus query response ({message}): {body}")
            }
            QueryError::Refused { kind, message, status } => write!(f, "{kind}: {message} (HTTP {status})"),
            QueryError::NoData => f.write_str("the response has no `data`"),
            QueryError::Unreadable { result_type, message } => write!(f, "unreadable {result_type} result: {message}"),
            QueryError::Series { count, first } => write!(
                f,
                "query returned {count} series; aggregate it to one, e.g. with sum() (first: {})",
                first.join(", ")
            ),
            QueryError::RangeVector => f.write_str(
                "query returned a range vector; a gate needs one instant value, \
                 e.g. wrap it in avg_over_time(...) or drop the [range]",
            ),
            QueryError::OtherType { result_type } => write!(f, "query returned a {result_type}, not a number"),
            QueryError::NotANumber { text } => write!(f, "`{text}` is not a number"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Reads an instant-query response (`status` is the HTTP status).
pub fn parse(status: u16, body: &str) -> Result<Answer, QueryError> {
    let response: Response = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(_) if status != 200 => return Err(QueryError::Http { status, body: excerpt(body, 200) }),
        Err(e) => return Err(QueryError::NotAResponse { message: e.to_string(), body: excerpt(body, 200) }),
    };
    if response.status != "success" || status >= 300 {
        let kind = response.error_type.unwrap_or_else(|| "error".into());
        let message = response.error.unwrap_or_else(|| "no message".into());
        return Err(QueryError::Refused { kind, message, status });
    }
    let mut warnings = response.warnings;
    warnings.extend(response.infos);
    let data = response.data.ok_or(QueryError::NoData)?;
    let unreadable = |result_type: &'static str| {
        move |e: serde_json::Error| QueryError::Unreadable { result_type, message: e.to_string() }
    };
    let sample = match data.result_type.as_str() {
        "vector" => {
            let series: Vec<Series> = serde_json::from_value(data.result).map_err(unreadable("vector"))?;
            match series.as_slice() {
                [] => Sample::Empty,
                [one] => value(&one.value.1)?,
                many => {
                    let first = many.iter().take(3).map(|s| labels(&s.metric)).collect();
                    return Err(QueryError::Series { count: many.len(), first });
                }
            }
        }
        "scalar" => {
            let (_, text): (serde_json::Value, String) =
                serde_json::from_value(data.result).map_err(unreadable("scalar"))?;
            value(&text)?
        }
        "matrix" => return Err(QueryError::RangeVector),
        other => return Err(QueryError::OtherType { result_type: other.to_owned() }),
    };
    Ok(Answer { sample, warnings })
}

fn value(text: &str) -> Result<Sample, QueryError> {
    let number = match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().map_err(|_| QueryError::NotANumber { text: text.to_owned() })?,
    };
    Ok(Sample::Value { text: text.to_owned(), number })
}

fn labels(metric: &serde_json::Map<String, serde_json::Value>) -> String {
    let pairs: Vec<String> = metric
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().map(|s| format!("{s:?}")).unwrap_or(v.to_string())))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Judges a sample. Empty and NaN take the gate's `on-empty` and `on-nan`. A number: with only
/// `pass`, pass if it holds else fail; with only `fail`, fail if it holds else pass; with both,
/// pass if `pass` holds, fail if `fail` holds, else inconclusive.
pub fn judge(gate: &PrometheusGate, sample: &Sample) -> (Outcome, Option<String>) {
    let (text, number) = match sample {
        Sample::Empty => {
            let why = format!("the query returned no series (on-empty {})", outcome_word(gate.on_empty));
            return (gate.on_empty, Some(why));
        }
        Sample::Value { text, number } => (text, *number),
    };
    if number.is_nan() {
        return (gate.on_nan, Some(format!("the value is NaN (on-nan {})", outcome_word(gate.on_nan))));
    }
    match (gate.pass, gate.fail) {
        (None, None) => (Outcome::Error, Some("the gate has no `pass` or `fail` condition".into())),
        (Some(pass), _) if pass.holds(number) => (Outcome::Pass, None),
        (_, Some(fail)) if fail.holds(number) => {
            (Outcome::Fail, Some(format!("{text} {} {}", Comparison::symbol(fail.op), fail.threshold)))
        }
        (Some(pass), None) => (Outcome::Fail, Some(negated(pass, text))),
        (None, Some(_)) => (Outcome::Pass, None),
        (Some(pass), Some(fail)) => {
            (Outcome::Inconclusive, Some(format!("{text} meets neither `{pass}` nor the failure condition `{fail}`")))
        }
    }
}

/// `0.034 >= 0.001` for a value that does not meet `result < 0.001`.
fn negated(c: Condition, text: &str) -> String {
    let op = match c.op {
        Comparison::Less => Comparison::GreaterOrEqual,
        Comparison::LessOrEqual => Comparison::Greater,
        Comparison::Greater => Comparison::LessOrEqual,
        Comparison::GreaterOrEqual => Comparison::Less,
        Comparison::Equal => Comparison::NotEqual,
        Comparison::NotEqual => Comparison::Equal,
    };
    format!("{text} {} {}", Comparison::symbol(op), c.threshold)
}

/// The `prometheus` kind at run time.
#[async_trait]
impl GateBehavior for PrometheusGate {
    fn meter(&self, probe: &LiveProbe, timeout: Duration, dir: &Path) -> Box<dyn Meter> {
        Box::new(PrometheusMeter {
            gate: self.clone(),
            server: self.server.clone().or_else(|| probe.prometheus.clone()),
            client: probe.client_for(&self.credentials),
            timeout,
            dir: dir.to_path_buf(),
            started: probe.started,
            first: None,
            pairs: Vec::new(),
        })
    }

    async fn preflight(&self, probe: &LiveProbe, dir: &Path) -> Option<String> {
        let server = self.server.clone().or_else(|| probe.prometheus.clone());
        preflight(server.as_deref(), &probe.client_for(&self.credentials), &self.credentials, dir).await
    }

    fn simulated(&self, _cluster: &Arc<dyn Cluster>) -> Option<Box<dyn Meter>> {
        None
    }

    async fn simulated_preflight(&self, _cluster: &dyn Cluster) -> Option<String> {
        None
    }

    /// Nothing to prepare: a measurement needs no container.
    fn warm(&self, _probe: &LiveProbe, _analysis: &plans::model::Analysis) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(pass: Option<&str>, fail: Option<&str>) -> PrometheusGate {
        PrometheusGate {
            server: None,
            query: "sum(rate(errors[1m]))".into(),
            pass: pass.map(|c| Condition::parse(c).unwrap()),
            fail: fail.map(|c| Condition::parse(c).unwrap()),
            on_empty: Outcome::Error,
            on_nan: Outcome::Error,
            credentials: Default::default(),
            baseline: None,
        }
    }

    fn number(text: &str) -> Sample {
        value(text).unwrap()
    }

    fn vector(values: &[&str]) -> String {
        let series: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!(r#"{{"metric":{{"instance":"a{i}"}},"value":[1700000000.123,"{v}"]}}"#))
            .collect();
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, series.join(","))
    }

    #[test]
    fn one_series_is_the_value() {
        let a = parse(200, &vector(&["0.034"])).unwrap();
        assert_eq!(a, Answer { sample: Sample::Value { text: "0.034".into(), number: 0.034 }, warnings: vec![] });
    }

    #[test]
    fn special_values_are_numbers() {
        let nan = parse(200, &vector(&["NaN"])).unwrap();
        assert!(matches!(nan.sample, Sample::Value { ref text, number } if text == "NaN" && number.is_nan()));
        assert_eq!(parse(200, &vector(&["+Inf"])).unwrap().sample, number("+Inf"));
        assert!(matches!(number("+Inf"), Sample::Value { number, .. } if number == f64::INFINITY));
        assert!(matches!(number("-Inf"), Sample::Value { number, .. } if number == f64::NEG_INFINITY));
        assert!(matches!(number("1e-3"), Sample::Value { number, .. } if number == 0.001));
        assert_eq!(value("abc").unwrap_err(), QueryError::NotANumber { text: "abc".into() });
        assert_eq!(value("abc").unwrap_err().to_string(), "`abc` is not a number");
    }

    #[test]
    fn scalar_is_the_value() {
        let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
        assert_eq!(parse(200, body).unwrap().sample, number("42"));
    }

    #[test]
    fn empty_vector_is_empty() {
        assert_eq!(parse(200, &vector(&[])).unwrap().sample, Sample::Empty);
    }

    #[test]
    fn several_series_are_an_error() {
        assert_eq!(
            parse(200, &vector(&["1", "2"])).unwrap_err().to_string(),
            r#"query returned 2 series; aggregate it to one, e.g. with sum() (first: {instance="a0"}, {instance="a1"})"#
        );
    }

    #[test]
    fn other_result_types_are_errors() {
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(parse(200, matrix).unwrap_err(), QueryError::RangeVector);
        assert!(parse(200, matrix).unwrap_err().to_string().starts_with("query returned a range vector"));
        let string = r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert_eq!(parse(200, string).unwrap_err().to_string(), "query returned a string, not a number");
    }

    #[test]
    fn error_responses_carry_their_message() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}"#;
        assert_eq!(
            parse(400, bad).unwrap_err().to_string(),
            "bad_data: 1:5: parse error: unexpected end of input (HTTP 400)"
        );
        let exec = r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#;
        assert_eq!(
            parse(422, exec).unwrap_err().to_string(),
            "execution: many-to-many matching not allowed (HTTP 422)"
        );
        let timeout = r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
        assert_eq!(
            parse(503, timeout).unwrap_err().to_string(),
            "timeout: query timed out in expression evaluation (HTTP 503)"
        );
        assert_eq!(
            parse(502, "<html>Bad Gateway</html>").unwrap_err().to_string(),
            "HTTP 502: <html>Bad Gateway</html>"
        );
        assert!(matches!(parse(200, "hello").unwrap_err(), QueryError::NotAResponse { .. }));
        assert!(parse(200, "hello").unwrap_err().to_string().starts_with("not a Prometheus query response"));
        let refused = QueryError::Refused {
            kind: "bad_data".into(),
            message: "1:5: parse error: unexpected end of input".into(),
            status: 400,
        };
        assert_eq!(parse(400, bad).unwrap_err(), refused);
    }

    #[test]
    fn warnings_are_kept() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]},
            "warnings":["PromQL warning: metric might not be a counter"],"infos":["PromQL info: x"]}"#;
        let a = parse(200, body).unwrap();
        assert_eq!(a.sample, Sample::Empty);
        assert_eq!(a.warnings, ["PromQL warning: metric might not be a counter", "PromQL info: x"]);
    }

    #[test]
    fn only_pass() {
        let g = gate(Some("result < 0.001"), None);
        assert_eq!(judge(&g, &number("0.0005")), (Outcome::Pass, None));
        assert_eq!(judge(&g, &number("0.034")), (Outcome::Fail, Some("0.034 >= 0.001".into())));
        assert_eq!(judge(&g, &number("+Inf")), (Outcome::Fail, Some("+Inf >= 0.001".into())));
        assert_eq!(judge(&g, &number("-Inf")), (Outcome::Pass, None));
        assert_eq!(condition(&g), "result < 0.001");
    }

    #[test]
    fn only_fail() {
        let g = gate(None, Some("result > 0.01"));
        assert_eq!(judge(&g, &number("0.02")), (Outcome::Fail, Some("0.02 > 0.01".into())));
        assert_eq!(judge(&g, &number("0.005")), (Outcome::Pass, None));
        assert_eq!(condition(&g), "fail if result > 0.01");
    }

    #[test]
    fn both_conditions() {
        let g = gate(Some("result < 0.001"), Some("result > 0.01"));
        assert_eq!(judge(&g, &number("0")), (Outcome::Pass, None));
        assert_eq!(judge(&g, &number("0.5")), (Outcome::Fail, Some("0.5 > 0.01".into())));
        assert_eq!(
            judge(&g, &number("0.005")),
            (
                Outcome::Inconclusive,
                Some("0.005 meets neither `result < 0.001` nor the failure condition `result > 0.01`".into())
            )
        );
        assert_eq!(condition(&g), "result < 0.001, fail if result > 0.01");
    }

    #[test]
    fn empty_and_nan_follow_the_gate() {
        let mut g = gate(Some("result < 1"), None);
        assert_eq!(
            judge(&g, &Sample::Empty),
            (Outcome::Error, Some("the query returned no series (on-empty error)".into()))
        );
        assert_eq!(judge(&g, &number("NaN")), (Outcome::Error, Some("the value is NaN (on-nan error)".into())));
        g.on_empty = Outcome::Pass;
        g.on_nan = Outcome::Inconclusive;
        assert_eq!(judge(&g, &Sample::Empty).0, Outcome::Pass);
        assert_eq!(judge(&g, &number("NaN")).0, Outcome::Inconclusive);
        // NaN never meets a condition, so without on-nan it would fail a pass-only gate.
        g.on_nan = Outcome::Fail;
        assert_eq!(judge(&g, &number("NaN")).0, Outcome::Fail);
    }

    #[test]
    fn no_condition_is_an_error() {
        assert_eq!(judge(&gate(None, None), &number("1")).0, Outcome::Error);
    }
}
