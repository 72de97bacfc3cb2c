//! Gate credentials against servers that require them: a loopback HTTP server (tokio, this
//! test's own) that answers 401 unless the request carries the right `Authorization` (Bearer or
//! Basic) or `X-Api-Key`, and echoes what it got in its 401 page, as careless servers do; and a
//! fake Prometheus answering the query API only with the right bearer token. Every secret is a
//! unique marker, looked for in every event, summary and error afterwards.

mod loopback;

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use engine::cluster::fake::FakeCluster;
use engine::commands::LocalCommands;
use engine::events::{Events, Memory};
use engine::gates::{GateReport, LiveProbe, Probe as _, Verdict, judge};
use plans::condition::Condition;
use plans::duration::Duration;
use plans::gates::{Auth, Credentials, GateKind, Header, HeaderValue, HttpGate, Outcome, PrometheusGate, Secret};
use plans::model::{Analysis, Gate, Sampling};
use plans::span::Span;
use plans::spanned::Spanned;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A secret no other text holds.
fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-MARKER-{}-{nanos}", std::process::id())
}

/// What the server accepts, and every request head it was sent.
#[derive(Clone, Default)]
struct Accepts {
    bearer: String,
    basic: String,
    api_key: String,
    /// Where `/elsewhere` redirects.
    redirect_to: String,
    heads: Arc<Mutex<Vec<String>>>,
}

/// A loopback server: `/bearer`, `/basic` and `/api-key` answer `200 ok` to the right
/// credential and 401 otherwise, echoing the `Authorization` or `X-Api-Key` they got;
/// `/api/v1/query` and `/api/v1/status/buildinfo` are Prometheus's, behind the bearer token;
/// `/elsewhere` redirects to `redirect_to`, `/same` to `/api-key`; anything else answers `200 ok`.
async fn serve(accepts: Accepts) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let accepts = accepts.clone();
            tokio::spawn(async move {
                let Some(request) = loopback::read_head(&mut stream).await else { return };
                let head = request;
                accepts.heads.lock().unwrap().push(head.clone());
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)))
                        .map(|(_, v)| v.trim().to_owned())
                        .unwrap_or_default()
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let path = path.split('?').next().unwrap_or("").to_owned();
                let authorization = header("authorization");
                let (status, location, body) = match path.as_str() {
                    "/bearer" | "/api/v1/query" | "/api/v1/status/buildinfo"
                        if authorization != format!("Bearer {}", accepts.bearer) =>
                    {
                        (401, None, format!("unauthorized: got {authorization:?}"))
                    }
                    "/basic" if authorization != format!("Basic {}", accepts.basic) => {
                        (401, None, format!("unauthorized: got {authorization:?}"))
                    }
                    "/api-key" if header("x-api-key") != accepts.api_key => {
                        (401, None, format!("bad key {:?}", header("x-api-key")))
                    }
                    "/api/v1/query" => (
                        200,
                        None,
                        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.001"]}]}}"#
                            .to_owned(),
                    ),
                    "/api/v1/status/buildinfo" => (200, None, r#"{"status":"success","data":{}}"#.to_owned()),
                    "/elsewhere" => (302, Some(accepts.redirect_to.clone()), String::new()),
                    "/same" => (302, Some("/api-key".to_owned()), String::new()),
                    _ => (200, None, "ok".to_owned()),
                };
                let location = location.map(|l| format!("Location: {l}\r\n")).unwrap_or_default();
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{location}Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

struct Env {
    probe: LiveProbe,
    events: Events,
    memory: Arc<Memory>,
}

fn env(prometheus: Option<String>) -> Env {
    let memory = Arc::new(Memory::default());
    let probe = LiveProbe::new(Arc::new(FakeCluster::new()), prometheus, Arc::new(LocalCommands));
    Env { probe, events: Events::new(vec![Box::new(memory.clone())]), memory }
}

fn gate(name: &str, kind: GateKind) -> Gate {
    let analysis = Analysis {
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        sampling: Sampling::Count(1),
        ..Analysis::default()
    };
    Gate { name: Spanned::new(name.into(), Span::default()), kind, analysis }
}

fn http(url: String, credentials: Credentials) -> GateKind {
    GateKind::Http(HttpGate {
        url,
        method: "GET".into(),
        status: 200,
        body: Some("ok".into()),
        credentials,
        from: None,
    })
}

fn bearer(secret: Secret) -> Credentials {
    Credentials { auth: Some(Auth::Bearer(secret)), headers: vec![] }
}

async fn judge_in(g: &Gate, dir: &Path, env: &Env) -> GateReport {
    judge(g, "deploy", dir, &env.probe, &env.events).await
}

/// Fails when any event, as the journal would write it, holds `secret`.
fn assert_nowhere(env: &Env, reports: &[&GateReport], secret: &str) {
    for record in env.memory.records() {
        let line = serde_json::to_string(&record).unwrap();
        assert!(!line.contains(secret), "an event holds the secret: {line}");
        let debug = format!("{record:?}");
        assert!(!debug.contains(secret), "an event's Debug holds the secret: {debug}");
    }
    for r in reports {
        assert!(!format!("{r:?}").contains(secret), "a report holds the secret: {r:?}");
    }
}

fn details(env: &Env) -> Vec<String> {
    env.memory
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            engine::events::Event::Measurement { detail, .. } => detail,
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// http

#[tokio::test]
async fn a_bearer_token_file_relative_to_the_plan_passes_and_a_wrong_one_fails_without_showing_it() {
    let token = marker("token");
    let wrong = marker("wrong");
    let port = serve(Accepts { bearer: token.clone(), ..Accepts::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/token"), format!("{token}\n")).unwrap();
    std::fs::write(dir.path().join("secrets/wrong"), &wrong).unwrap();
    let env = env(None);
    let url = format!("http://127.0.0.1:{port}/bearer");

    let right = gate("right", http(url.clone(), bearer(Secret::File("secrets/token".into()))));
    let passed = judge_in(&right, dir.path(), &env).await;
    assert_eq!(passed.verdict, Verdict::Passed, "{}", passed.summary);

    let refused = gate("refused", http(url, bearer(Secret::File("secrets/wrong".into()))));
    let failed = judge_in(&refused, dir.path(), &env).await;
    assert_eq!(failed.verdict, Verdict::Failed, "{}", failed.summary);
    assert!(
        failed.summary.contains("status 401, wanted 200; body: unauthorized: got \"Bearer <redacted:")
            && failed.summary.contains("(the server refused the credentials sent (bearer-token-file))"),
        "{}",
        failed.summary
    );
    assert_nowhere(&env, &[&passed, &failed], &token);
    assert_nowhere(&env, &[&passed, &failed], &wrong);
}

#[tokio::test]
async fn basic_auth_and_an_api_key_header_pass_with_the_right_values() {
    let password = marker("password");
    let key = marker("key");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("monitor:{password}"));
    let port = serve(Accepts { basic: basic.clone(), api_key: key.clone(), ..Accepts::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), format!("  {password}\n\n")).unwrap();
    std::fs::write(dir.path().join("key"), &key).unwrap();
    std::fs::write(dir.path().join("wrong-key"), marker("wrong-key")).unwrap();
    let env = env(None);

    let basic_auth = Credentials {
        auth: Some(Auth::Basic { user: "monitor".into(), password: Secret::File("password".into()) }),
        headers: vec![],
    };
    let api_key = |file: &str| Credentials {
        auth: None,
        headers: vec![
            Header { name: "X-Api-Key".into(), value: HeaderValue::Secret(Secret::File(file.into())) },
            Header { name: "Accept".into(), value: HeaderValue::Literal("text/plain".into()) },
        ],
    };
    let reports = [
        judge_in(&gate("basic", http(format!("http://127.0.0.1:{port}/basic"), basic_auth)), dir.path(), &env).await,
        judge_in(&gate("key", http(format!("http://127.0.0.1:{port}/api-key"), api_key("key"))), dir.path(), &env)
            .await,
        judge_in(
            &gate("wrong-key", http(format!("http://127.0.0.1:{port}/api-key"), api_key("wrong-key"))),
            dir.path(),
            &env,
        )
        .await,
        judge_in(
            &gate("no-key", http(format!("http://127.0.0.1:{port}/api-key"), Credentials::default())),
            dir.path(),
            &env,
        )
        .await,
    ];
    let verdicts: Vec<Verdict> = reports.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [Verdict::Passed, Verdict::Passed, Verdict::Failed, Verdict::Failed], "{reports:#?}");
    assert!(
        reports[2].summary.contains("bad key \"<redacted:"),
        "the key echoed back is scrubbed: {}",
        reports[2].summary
    );
    assert!(
        reports[3].summary.starts_with("1 failed (limit 0): status 401, wanted 200; body: bad key \"\""),
        "{}",
        reports[3].summary
    );
    let all: Vec<&GateReport> = reports.iter().collect();
    assert_nowhere(&env, &all, &password);
    assert_nowhere(&env, &all, &basic);
    assert_nowhere(&env, &all, &key);
}

#[tokio::test]
async fn a_missing_file_or_variable_is_an_error_naming_it_and_preflight_finds_it_first() {
    let accepts = Accepts::default();
    let port = serve(accepts.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(None);
    let url = format!("http://127.0.0.1:{port}/bearer");
    let no_file = gate("no-file", http(url.clone(), bearer(Secret::File("secrets/absent".into()))));
    let no_var = gate("no-var", http(url, bearer(Secret::Env("PLANRUN_TEST_UNSET_TOKEN_VARIABLE".into()))));
    let absent = dir.path().join("secrets/absent");

    let why = env.probe.preflight(&no_file, dir.path()).await.expect("preflight finds the missing file");
    assert!(why.starts_with(&format!("bearer-token-file: cannot read {}: ", absent.display())), "{why}");
    assert_eq!(
        env.probe.preflight(&no_var, dir.path()).await.as_deref(),
        Some("bearer-token-env: the environment variable `PLANRUN_TEST_UNSET_TOKEN_VARIABLE` is not set")
    );

    let r = judge_in(&no_file, dir.path(), &env).await;
    assert_eq!(r.verdict, Verdict::Error, "{}", r.summary);
    assert!(r.summary.contains(&format!("cannot read {}", absent.display())), "{}", r.summary);
    let r = judge_in(&no_var, dir.path(), &env).await;
    assert_eq!(r.verdict, Verdict::Error, "{}", r.summary);
    assert!(r.summary.contains("`PLANRUN_TEST_UNSET_TOKEN_VARIABLE` is not set"), "{}", r.summary);
    assert_eq!(details(&env).len(), 2, "{:?}", details(&env));
    assert!(details(&env).iter().all(|d| d.starts_with("bearer-token-")), "{:?}", details(&env));
    // Nothing was sent without its credentials.
    assert!(accepts.heads.lock().unwrap().is_empty(), "{:?}", accepts.heads);
}

/// The variable is set for a child run of this same test (setting it here would race with the
/// other tests' threads reading the environment).
#[test]
fn a_bearer_token_from_an_environment_variable() {
    const VAR: &str = "PLANRUN_TEST_GATE_TOKEN";
    let Ok(token) = std::env::var(VAR) else {
        let token = marker("env-token");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["a_bearer_token_from_an_environment_variable", "--exact", "--nocapture", "--test-threads=1"])
            .env(VAR, format!("{token}\n"))
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.contains("1 passed"), "the child run failed:\n{said}");
        assert!(!said.contains(&token), "the child's output holds the token:\n{said}");
        return;
    };
    let token = token.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let port = serve(Accepts { bearer: token.clone(), ..Accepts::default() }).await;
        let env = env(None);
        let g = gate("env", http(format!("http://127.0.0.1:{port}/bearer"), bearer(Secret::Env(VAR.into()))));
        assert_eq!(env.probe.preflight(&g, Path::new(".")).await, None);
        let r = judge_in(&g, Path::new("."), &env).await;
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary);
        assert_nowhere(&env, &[&r], &token);
    });
}

#[tokio::test]
async fn a_header_holding_a_secret_does_not_follow_a_redirect_to_another_host() {
    let key = marker("key");
    let elsewhere = Accepts::default();
    let other = serve(elsewhere.clone()).await;
    let port = serve(Accepts {
        api_key: key.clone(),
        redirect_to: format!("http://127.0.0.1:{other}/capture"),
        ..Accepts::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), &key).unwrap();
    let env = env(None);
    let credentials = Credentials {
        auth: None,
        headers: vec![Header { name: "X-Api-Key".into(), value: HeaderValue::Secret(Secret::File("key".into())) }],
    };
    let g = gate("redirected", http(format!("http://127.0.0.1:{port}/elsewhere"), credentials.clone()));
    let r = judge_in(&g, dir.path(), &env).await;
    assert_eq!(r.verdict, Verdict::Failed, "{}", r.summary);
    assert!(r.summary.contains("status 302, wanted 200"), "{}", r.summary);
    assert!(elsewhere.heads.lock().unwrap().is_empty(), "the other host was asked: {:?}", elsewhere.heads);

    // A redirect within the same origin is followed, the header with it.
    let same = gate("same", http(format!("http://127.0.0.1:{port}/same"), credentials));
    let r = judge_in(&same, dir.path(), &env).await;
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary);

    // Without credentials, redirects are followed as before.
    let plain = gate("plain", http(format!("http://127.0.0.1:{port}/elsewhere"), Credentials::default()));
    let r = judge_in(&plain, dir.path(), &env).await;
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary);
    assert_eq!(elsewhere.heads.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// prometheus

fn promql(server: Option<String>, credentials: Credentials) -> GateKind {
    GateKind::Prometheus(PrometheusGate {
        server,
        query: "sum(rate(errors[1m]))".into(),
        pass: Some(Condition::parse("result < 0.01").unwrap()),
        fail: None,
        on_empty: Outcome::Error,
        on_nan: Outcome::Error,
        credentials,
        baseline: None,
    })
}

#[tokio::test]
async fn a_prometheus_gate_sends_its_token_to_its_own_server_or_the_environments() {
    let token = marker("prom-token");
    let accepts = Accepts { bearer: token.clone(), ..Accepts::default() };
    let port = serve(accepts.clone()).await;
    let server = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prom-token"), &token).unwrap();
    std::fs::write(dir.path().join("stale-token"), marker("stale")).unwrap();
    // The environment's server (planrun.toml), for gates that name none.
    let env = env(Some(server.clone()));

    let own = gate("own", promql(Some(server.clone()), bearer(Secret::File("prom-token".into()))));
    let environments = gate("environments", promql(None, bearer(Secret::File("prom-token".into()))));
    let stale = gate("stale", promql(None, bearer(Secret::File("stale-token".into()))));
    let none = gate("none", promql(None, Credentials::default()));
    for g in [&own, &environments] {
        assert_eq!(env.probe.preflight(g, dir.path()).await, None, "{}", g.name.value);
    }
    let why = env.probe.preflight(&stale, dir.path()).await.unwrap();
    assert_eq!(
        why,
        format!(
            "Prometheus at {server} answers HTTP 401 to {server}/api/v1/status/buildinfo: it refused the credentials \
             sent (bearer-token-file)"
        )
    );
    let reports = [
        judge_in(&own, dir.path(), &env).await,
        judge_in(&environments, dir.path(), &env).await,
        judge_in(&stale, dir.path(), &env).await,
        judge_in(&none, dir.path(), &env).await,
    ];
    let verdicts: Vec<Verdict> = reports.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [Verdict::Passed, Verdict::Passed, Verdict::Error, Verdict::Error], "{reports:#?}");
    assert!(
        reports[2].summary.contains(
            "HTTP 401: it refused the credentials sent (bearer-token-file): unauthorized: got \"Bearer <redacted:"
        ),
        "{}",
        reports[2].summary
    );
    assert!(reports[3].summary.contains("HTTP 401: unauthorized: got \"\""), "{}", reports[3].summary);
    let queries = accepts.heads.lock().unwrap().iter().filter(|h| h.starts_with("GET /api/v1/query?query=")).count();
    assert_eq!(queries, 4, "one query per gate");
    let all: Vec<&GateReport> = reports.iter().collect();
    assert_nowhere(&env, &all, &token);
}
