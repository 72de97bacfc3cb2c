//! Gates that compare with the old release, end to end: `planrun apply` of a plan whose `run`
//! step makes the "release" (a marker file an exporter this test serves on loopback reads) and
//! whose `check` step judges a `baseline before` gate on the p95 of a latency histogram, which
//! the test Prometheus (tests/env/prometheus-up, 127.0.0.1:19090) scrapes from that exporter.
//! A release whose p95 equals the old one passes; one whose p95 is 20% worse fails, and the
//! journal holds both series, the medians, U and the p-value.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Workdir, unique};

const PROMETHEUS: &str = "http://127.0.0.1:19090";

/// The histogram's buckets. Each tick, 5 requests take 0.05 s and 5 take a time in one of the
/// two top buckets: (0.2, 0.24] before the release (p95 = 0.2 + 0.04·0.9 = 0.236), and after a
/// worse one (0.24, 0.288] (p95 = 0.24 + 0.048·0.9 = 0.2832, exactly 20% worse).
const BUCKETS: [&str; 5] = ["0.1", "0.2", "0.24", "0.288", "+Inf"];
const OLD_P95: f64 = 0.236;

/// A `/metrics` exporter on loopback with a latency histogram that grows every 100 ms, slower
/// once `marker` exists when `worse`; registered with the test Prometheus by file discovery.
/// Stops and unregisters on drop.
struct Exporter {
    stop: Arc<AtomicBool>,
    target: PathBuf,
}

impl Exporter {
    fn start(label: &str, marker: &Path, worse: bool) -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new([0u64; 5]));
        let (ticker_stop, ticker_counts, marker) = (stop.clone(), counts.clone(), marker.to_path_buf());
        std::thread::spawn(move || {
            while !ticker_stop.load(Ordering::SeqCst) {
                let slow = worse && marker.exists();
                let mut c = ticker_counts.lock().unwrap();
                // Cumulative buckets: 5 fast requests in every bucket, 5 slow ones from theirs up.
                let first_slow = if slow { 3 } else { 2 };
                for (i, count) in c.iter_mut().enumerate() {
                    *count += 5 + if i >= first_slow { 5 } else { 0 };
                }
                drop(c);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (server_stop, label) = (stop.clone(), label.to_owned());
        std::thread::spawn(move || {
            while !server_stop.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let c = *counts.lock().unwrap();
                let mut body = "# TYPE planrun_e2e_latency_seconds histogram\n".to_owned();
                for (le, count) in BUCKETS.iter().zip(c) {
                    body.push_str(&format!(
                        "planrun_e2e_latency_seconds_bucket{{run=\"{label}\",le=\"{le}\"}} {count}\n"
                    ));
                }
                body.push_str(&format!("planrun_e2e_latency_seconds_count{{run=\"{label}\"}} {}\n", c[4]));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        let dir = Path::new("/tmp/planrun-prometheus/targets");
        assert!(dir.is_dir(), "the test Prometheus is not running: run tests/env/prometheus-up");
        let target = dir.join(format!("{}.json", unique("baseline")));
        let tmp = target.with_extension("tmp");
        std::fs::write(&tmp, format!(r#"[{{"targets":["127.0.0.1:{port}"]}}]"#)).unwrap();
        // Prometheus must never read a half-written file.
        std::fs::rename(&tmp, &target).unwrap();
        Exporter { stop, target }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.target);
    }
}

/// The query's value now, if it has one.
fn query(q: &str) -> Option<f64> {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--get", "--data-urlencode", &format!("query={q}"), &format!("{PROMETHEUS}/api/v1/query")])
        .output()
        .expect("curl runs");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    answer["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn p95_query(label: &str) -> String {
    format!("histogram_quantile(0.95, sum by (le) (rate(planrun_e2e_latency_seconds_bucket{{run=\"{label}\"}}[5s])))")
}

/// Serves the histogram until Prometheus has more history of the old release than the gate's
/// baseline window (8 measurements 1 s apart) and the rate's 5 s need, then applies the plan.
fn release(worse: bool) -> (support::Run, String, String) {
    let label = unique("p95").replace('-', "_");
    let work = Workdir::new("baseline");
    let marker = work.dir.join("released");
    let _exporter = Exporter::start(&label, &marker, worse);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !query(&p95_query(&label)).is_some_and(|v| (v - OLD_P95).abs() < 1e-9) {
        assert!(Instant::now() < deadline, "Prometheus never scraped the exporter");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(14));
    let stack = unique("stack");
    let plan = work.plan(&format!(
        "plan e2e {{\n    stack {stack}\n    on-failure rollback\n    gate p95 {{\n        prometheus \"{PROMETHEUS}\" {{\n            \
         query #\"{}\"#\n            baseline before\n            margin \"10%\"\n            better lower\n        }}\n        \
         initial-delay \"8s\"\n        interval \"1s\"\n        count 8\n    }}\n    run release {{\n        command \"touch\" \
         \"{}\"\n    }}\n    check verify after=release {{\n        gates p95\n    }}\n}}\n",
        p95_query(&label),
        marker.display()
    ));
    let run = work.apply(&plan, &[]);
    let runs = work.dir.join("state").join("runs").join(&stack);
    let journal = std::fs::read_dir(&runs).unwrap().next().expect("the run's journal").unwrap().path();
    (run, label, std::fs::read_to_string(journal).unwrap())
}

fn close(value: &serde_json::Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

#[test]
fn a_baseline_gate_passes_a_release_equal_to_the_old_one_and_fails_one_twenty_percent_worse() {
    let ((equal, equal_label, _), (worse, _, journal)) = std::thread::scope(|s| {
        let equal = s.spawn(|| release(false));
        let worse = s.spawn(|| release(true));
        (equal.join().unwrap(), worse.join().unwrap())
    });

    // Equal: every new value and every baseline value is 0.236; the test finds nothing worse.
    assert_eq!(equal.code, 0, "{}", equal.stderr);
    let finished = equal.events_of("gate-finished");
    assert_eq!(finished.len(), 1, "{:?}", equal.events);
    let g = finished[0];
    assert_eq!(g["verdict"], "passed", "{g}");
    let c = &g["comparison"];
    assert_eq!(c["method"], "mann-whitney", "{g}");
    assert_eq!(
        (c["margin"].as_str(), c["better"].as_str(), c["verdict"].as_str()),
        (Some("10%"), Some("lower"), Some("no-worse"))
    );
    for side in ["new", "baseline"] {
        let values = c[side].as_array().unwrap();
        assert_eq!(values.len(), 8, "{side}: {g}");
        assert!(values.iter().all(|v| close(v, OLD_P95)), "{side}: {g}");
    }
    assert!(close(&c["new_median"], OLD_P95) && close(&c["baseline_median"], OLD_P95), "{g}");
    assert!(c["p_value"].as_f64().unwrap() > 0.05, "{g}");
    assert!(
        g["summary"].as_str().unwrap().starts_with("no worse than the baseline: median 0.236 against 0.236"),
        "{g}"
    );
    // Each measurement in the journal: the new value, and the baseline value with when it was.
    let measured = equal.events_of("measurement");
    assert_eq!(measured.len(), 8);
    for m in &measured {
        assert_eq!(m["verdict"], "pass", "{m}");
        assert!(m["target"].as_str().unwrap().contains(&equal_label), "{m}");
        assert!(m["detail"].as_str().unwrap().starts_with("baseline 0.236 at 20"), "{m}");
        assert_eq!(m["condition"], "no worse than before the run by more than 10%, lower is better", "{m}");
    }

    // 20% worse: the gate fails on the Mann-Whitney test and the run rolls back.
    assert_eq!(worse.code, 1, "{}", worse.stderr);
    assert_eq!(worse.outcome(), "rolled-back");
    let g = worse.events_of("gate-finished")[0];
    assert_eq!(g["verdict"], "failed", "{g}");
    let c = &g["comparison"];
    assert_eq!((c["method"].as_str(), c["verdict"].as_str()), (Some("mann-whitney"), Some("worse")), "{g}");
    assert!(close(&c["new_median"], OLD_P95 * 1.2), "{g}");
    assert!(close(&c["baseline_median"], OLD_P95), "{g}");
    assert!(c["baseline"].as_array().unwrap().iter().all(|v| close(v, OLD_P95)), "{g}");
    assert_eq!(c["u"].as_f64(), Some(64.0), "every new value is above every allowed baseline value: {g}");
    assert!(c["p_value"].as_f64().unwrap() < 0.001, "{g}");
    let summary = g["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "worse than the baseline by more than the margin: median 0.2832 against 0.236 (+20.0%, margin 10%, \
             lower is better); Mann-Whitney U=64, p="
        ),
        "{summary}"
    );
    assert!(worse.stderr.contains("gate `p95` failed"), "{}", worse.stderr);
    // The journal on disk holds the same comparison.
    let kept: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "gate-finished")
        .collect();
    assert_eq!(kept.len(), 1, "{journal}");
    assert_eq!(kept[0]["comparison"], g["comparison"]);
}
