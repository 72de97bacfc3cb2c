//! A blue-green switch through the nginx router, by `planrun apply` and by the hand procedure on
//! the same services, alternately; prints each wall time, the medians and the ratio.
//!
//! The hand procedure, with the same update settings planrun uses: update the idle colour to the
//! new image at the live size (`docker service update --detach=false`), `docker config create` the
//! rendered config, and roll the router onto it (`--config-rm/--config-add`, start-first, all
//! tasks at once, `--detach=false`). planrun does the same and also checks the config with
//! `nginx -t` in a job, takes the deploy lock, writes its journal and the swarm's run record, and
//! waits for the replaced router tasks to stop before it is done (they answer with the old config
//! for about 3 s).
//!
//! Needs the local swarm with the router image (tests/env/swarm-up). Run:
//!   cargo bench -p planrun-tests --bench blue_green_vs_hand
//! Env: PLANRUN_BENCH_ROUNDS (default 4).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn config_create(name: &str, data: &str) {
    let mut child = Command::new("docker")
        .args(["config", "create", "--label", "planrun-test=1", name, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "docker config create {name}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

const HEALTH: &[&str] = &[
    "--health-cmd",
    "timeout 2 wget -q -O- http://127.0.0.1:8080/health",
    "--health-interval",
    "1s",
    "--health-timeout",
    "3s",
    "--health-retries",
    "1",
];

fn create(name: &str, image: &str, replicas: &str) {
    let mut args = vec![
        "service",
        "create",
        "--quiet",
        "--detach=false",
        "--no-resolve-image",
        "--name",
        name,
        "--label",
        "planrun-test=1",
        "--replicas",
        replicas,
        "--network",
        "planrun-test",
        "--endpoint-mode",
        "dnsrr",
    ];
    args.extend_from_slice(HEALTH);
    args.push(image);
    docker(&args);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("PLANRUN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(4);
    let id = std::process::id();
    let (blue, green, router) = (format!("prbg{id}-blue"), format!("prbg{id}-green"), format!("prbg{id}-rt"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("tests/env/router/nginx.conf.template")).unwrap();
    create(&blue, "planrun-test/app:v1", "3");
    create(&green, "planrun-test/app:v1", "0");
    let first = format!("{router}-hand-0");
    config_create(&first, &template.replace("${upstream}", &blue));
    #[rustfmt::skip]
    docker(&[
        "service", "create", "--quiet", "--detach=false", "--no-resolve-image", "--name", &router,
        "--label", "planrun-test=1", "--replicas", "2", "--network", "planrun-test", "--endpoint-mode", "dnsrr",
        "--config", &format!("source={first},target=/etc/nginx/nginx.conf"),
        "--health-cmd", "timeout 2 wget -q -O- http://127.0.0.1:8080/router-health",
        "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "1",
        "planrun-test/router:1",
    ]);
    let dir = std::env::temp_dir().join(format!("prbg{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("router.conf.template"), &template).unwrap();
    let plan = dir.join("plan.kdl");
    std::fs::write(
        &plan,
        format!(
            "plan bench {{\n    stack prbg{id}\n    var image default=\"planrun-test/app:v2\"\n    blue-green front {{\n        \
             blue {blue}\n        green {green}\n        image \"${{image}}\"\n        switch nginx router={router} \
             template=\"router.conf.template\"\n        keep-old \"10m\"\n        deadline \"5m\"\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let planrun = env!("CARGO_BIN_EXE_planrun-e2e");
    let (mut hand_s, mut planrun_s) = (Vec::new(), Vec::new());
    // Which colour is live, and the router's config the hand procedure replaces.
    let (mut live, mut idle) = (blue.clone(), green.clone());
    let mut current_config = first.clone();
    let mut image = "v1";
    println!("round  tool     switch to   seconds");
    for round in 1..=rounds {
        for tool in ["hand", "planrun"] {
            image = if image == "v1" { "v2" } else { "v1" };
            let next = format!("planrun-test/app:{image}");
            let started = Instant::now();
            if tool == "hand" {
                #[rustfmt::skip]
                docker(&[
                    "service", "update", "--quiet", "--detach=false", "--no-resolve-image", "--image", &next,
                    "--replicas", "3", "--update-order", "start-first", "--update-parallelism", "0",
                    "--update-monitor", "1s", &idle,
                ]);
                let config = format!("{router}-hand-{round}");
                config_create(&config, &template.replace("${upstream}", &idle));
                #[rustfmt::skip]
                docker(&[
                    "service", "update", "--quiet", "--detach=false", "--config-rm", &current_config,
                    "--config-add", &format!("source={config},target=/etc/nginx/nginx.conf"),
                    "--update-order", "start-first", "--update-parallelism", "0", &router,
                ]);
                current_config = config;
            } else {
                let out = Command::new(planrun)
                    .args(["apply", plan.to_str().unwrap(), "--output", "json", "--var", &format!("image={next}")])
                    .arg("--state-dir")
                    .arg(dir.join("state"))
                    .output()
                    .expect("planrun runs");
                assert!(out.status.success(), "planrun apply failed: {}", String::from_utf8_lossy(&out.stderr));
                current_config = docker(&[
                    "service",
                    "inspect",
                    "--format",
                    "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}",
                    &router,
                ]);
            }
            let secs = started.elapsed().as_secs_f64();
            println!("{round:>5}  {tool:<7}  {idle:<10}  {secs:>6.2}");
            if tool == "hand" {
                hand_s.push(secs)
            } else {
                planrun_s.push(secs)
            }
            std::mem::swap(&mut live, &mut idle);
            // Let replaced tasks finish stopping so every round starts from the same state.
            std::thread::sleep(std::time::Duration::from_secs(4));
        }
    }
    let _ = Command::new("docker").args(["service", "rm", &router, &blue, &green]).output();
    std::thread::sleep(std::time::Duration::from_secs(5));
    let configs = docker(&["config", "ls", "--format", "{{.Name}}"]);
    let ours: Vec<&str> = configs.lines().filter(|n| n.starts_with(&router)).collect();
    if !ours.is_empty() {
        let _ = Command::new("docker").arg("config").arg("rm").args(&ours).output();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (h, p) = (median(hand_s), median(planrun_s));
    println!("median hand procedure: {h:.2}s; median planrun apply: {p:.2}s; ratio planrun/hand: {:.3}", p / h);
}
