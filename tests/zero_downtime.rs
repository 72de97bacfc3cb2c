//! Zero downtime, measured: a probe container on the service's overlay network requests it in a
//! bounded loop while planrun drives a start-first rolling update. Every request must succeed.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{NETWORK, Service, Workdir, docker, unique};

/// The probe: resolves the dnsrr name and fetches it every ~10 ms until /tmp/stop appears or
/// 4000 requests were made; prints `ok=N failed=M` at the end.
const PROBE: &str = r#"ok=0; failed=0; i=0
while [ $i -lt 4000 ] && [ ! -f /tmp/stop ]; do
  if timeout 2 wget -q -O /dev/null "http://$TARGET:8080/"; then ok=$((ok+1)); else failed=$((failed+1)); echo "failed at $i" >&2; fi
  i=$((i+1)); usleep 10000
done
echo "ok=$ok failed=$failed""#;

#[test]
fn start_first_rolling_update_fails_no_request() {
    let web = Service::create(&unique("web"), "planrun-test/app:v1", 3);
    let probe = unique("probe");
    let target = format!("TARGET={}", web.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &probe,
        "--network",
        NETWORK,
        "-e",
        &target,
        "planrun-test/app:v1",
        "sh",
        "-c",
        PROBE,
    ]);
    let _probe = Probe(probe.clone());
    // Let the probe warm up so the measurement covers the whole update.
    std::thread::sleep(Duration::from_secs(2));

    let work = Workdir::new("zd");
    let plan = work.plan(&format!(
        "plan zd {{\n    stack {}\n    rolling web {{\n        service {}\n        image \"planrun-test/app:v2\"\n        \
         parallelism 1\n        delay \"1s\"\n        order start-first\n        monitor \"3s\"\n        deadline \"2m\"\n    }}\n}}\n",
        unique("stack"),
        web.name
    ));
    let started = Instant::now();
    let run = work.apply(&plan, &[]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    docker(&["exec", &probe, "touch", "/tmp/stop"]);
    let status = Command::new("docker").args(["wait", &probe]).output().unwrap();
    assert!(status.status.success());
    let logs = Command::new("docker").args(["logs", &probe]).output().unwrap();
    let out = String::from_utf8_lossy(&logs.stdout);
    let line = out.lines().last().unwrap_or_default();
    let count = |key: &str| -> u64 {
        line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|n| n.parse().ok()).expect("probe counts")
    };
    let (ok, failed) = (count("ok="), count("failed="));
    println!(
        "zero downtime: {ok} ok, {failed} failed during a {:.1}s planrun apply (start-first, 3 replicas)",
        took.as_secs_f64()
    );
    eprintln!("{}", String::from_utf8_lossy(&logs.stderr));
    assert_eq!(failed, 0, "requests failed during the update");
    assert!(ok >= 500, "too few requests to tell: {ok}");
    web.assert_converged("planrun-test/app:v2", 3);
}

/// Removes the probe container on drop.
struct Probe(String);

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}
