//! Gates read bounded answers: a loopback server (this test's own) streams a body of 1 GiB,
//! generated as it goes, to an `http` gate and as a Prometheus answer. The gate must end at its
//! limit (1 MiB, 16 MiB) quickly, with an error naming it, and the process's peak memory
//! (`VmHWM` in /proc/self/status, reset before each case through /proc/self/clear_refs) must
//! grow by far less than the body. The cases run one at a time: the peak is the whole process's.

mod loopback;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use engine::cluster::fake::FakeCluster;
use engine::commands::LocalCommands;
use engine::events::{Events, Memory};
use engine::gates::{GateReport, LiveProbe, Verdict, judge};
use plans::condition::Condition;
use plans::duration::Duration;
use plans::gates::{GateKind, HttpGate, Outcome, PrometheusGate};
use plans::model::{Analysis, Gate, Sampling};
use plans::span::Span;
use plans::spanned::Spanned;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The body the server sends, at most: far more than any limit, never held in memory.
const BODY: u64 = 1 << 30;
/// What the peak memory may grow by during one case.
const GROWTH_ALLOWED_KIB: u64 = 64 * 1024;

/// One case at a time: `VmHWM` is the whole process's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A loopback server answering every request with status 200 and `start`, then `repeat` again
/// and again until [`BODY`] bytes or the client hangs up, without a length (the body ends when
/// the connection closes).
async fn serve_endless(start: &'static str, repeat: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let chunk: Arc<Vec<u8>> = Arc::new(repeat.as_bytes().iter().copied().cycle().take(64 * 1024).collect());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let Some(_) = loopback::read_head(&mut stream).await else { return };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{start}");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut sent = 0u64;
                while sent < BODY {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len() as u64;
                }
            });
        }
    });
    port
}

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `case` on its own runtime; returns its report, how long it took and how much the
/// process's peak resident memory grew, in KiB.
fn measured(case: impl std::future::Future<Output = GateReport>) -> (GateReport, StdDuration, u64) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Writing 5 resets the peak to the current size (Linux 4.0 and later).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = if reset { status_kib("VmRSS:") } else { status_kib("VmHWM:") };
    let started = Instant::now();
    let report = runtime.block_on(case);
    let took = started.elapsed();
    let growth = status_kib("VmHWM:").saturating_sub(before);
    eprintln!(
        "peak memory grew {growth} KiB ({} MiB) in {took:?} (peak reset: {reset}): {:?} {}",
        growth / 1024,
        report.verdict,
        report.summary
    );
    (report, took, growth)
}

fn gate(kind: GateKind) -> Gate {
    let analysis = Analysis {
        interval: Duration::from_millis(50),
        // Long enough that only the limit can end these measurements quickly.
        timeout: Duration::from_secs(60),
        sampling: Sampling::Count(1),
        ..Analysis::default()
    };
    Gate { name: Spanned::new("endless".into(), Span::default()), kind, analysis }
}

async fn judge_endless(kind: impl FnOnce(u16) -> GateKind, start: &'static str, repeat: &'static str) -> GateReport {
    let port = serve_endless(start, repeat).await;
    let probe = LiveProbe::new(Arc::new(FakeCluster::new()), None, Arc::new(LocalCommands));
    let events = Events::new(vec![Box::new(Arc::new(Memory::default()))]);
    judge(&gate(kind(port)), "deploy", Path::new("."), &probe, &events).await
}

fn http(port: u16, body: Option<&str>) -> GateKind {
    GateKind::Http(HttpGate {
        url: format!("http://127.0.0.1:{port}/health"),
        method: "GET".into(),
        status: 200,
        body: body.map(Into::into),
        credentials: Default::default(),
        from: None,
    })
}

#[test]
fn an_endless_http_body_ends_the_measurement_at_one_mib_with_an_error_naming_it() {
    let (report, took, growth) = measured(judge_endless(|port| http(port, Some("ready")), "starting ", "x"));
    assert_eq!(report.verdict, Verdict::Error, "{}", report.summary);
    assert!(
        report.summary.contains(
            "status 200, but the body is larger than 1 MiB and \"ready\" is not in its first 1 MiB, which is all \
             planrun reads of a gate's answer"
        ),
        "{}",
        report.summary
    );
    assert!(took < StdDuration::from_secs(10), "took {took:?}");
    assert!(growth < GROWTH_ALLOWED_KIB, "peak memory grew {growth} KiB");
}

#[test]
fn an_endless_http_body_does_not_matter_when_the_status_decides() {
    let (report, took, growth) = measured(judge_endless(|port| http(port, None), "", "x"));
    assert_eq!(report.verdict, Verdict::Passed, "{}", report.summary);
    assert!(took < StdDuration::from_secs(10), "took {took:?}");
    assert!(growth < GROWTH_ALLOWED_KIB, "peak memory grew {growth} KiB");
}

#[test]
fn an_endless_prometheus_answer_ends_the_measurement_at_sixteen_mib_with_an_error_naming_it() {
    let prometheus = |port: u16| {
        GateKind::Prometheus(PrometheusGate {
            server: Some(format!("http://127.0.0.1:{port}")),
            query: "up".into(),
            pass: Some(Condition::parse("result > 0").unwrap()),
            fail: None,
            on_empty: Outcome::Error,
            on_nan: Outcome::Error,
            credentials: Default::default(),
            baseline: None,
        })
    };
    let (report, took, growth) = measured(judge_endless(
        prometheus,
        r#"{"status":"success","data":{"resultType":"vector","result":["#,
        r#"{"metric":{"instance":"a"},"value":[1700000000,"1"]},"#,
    ));
    assert_eq!(report.verdict, Verdict::Error, "{}", report.summary);
    assert!(
        report.summary.contains("answered more than 16 MiB, which is all planrun reads of an answer (HTTP 200)"),
        "{}",
        report.summary
    );
    assert!(took < StdDuration::from_secs(10), "took {took:?}");
    assert!(growth < GROWTH_ALLOWED_KIB, "peak memory grew {growth} KiB");
}
