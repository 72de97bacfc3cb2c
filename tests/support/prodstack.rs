//! examples/prodstack under a unique stack name: a copy of the example in which `prodstack_`
//! becomes `NAME_` in every file, with unique ports, deployed at release 1.0 by its `up` script
//! and removed by its `down` script on drop. Shared by tests/prodstack.rs and the
//! prodstack_release bench.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Background, Probe, Run, Workdir, docker, planrun, repo, unique};

/// The example under a unique name, deployed at release 1.0; removed on drop.
pub struct Stack {
    pub name: String,
    pub dir: PathBuf,
    pub edge: u16,
    pub prometheus: u16,
    pub work: Workdir,
}

impl Stack {
    pub fn up(work: Workdir) -> Stack {
        let name = unique("ps");
        let dir = work.dir.join("prodstack");
        copy_renamed(&repo().join("examples/prodstack"), &dir, &name);
        let port = 20000 + (std::process::id() % 2000) as u16 * 2;
        let (edge, prometheus) = (port, port + 1);
        let project = std::fs::read_to_string(dir.join("planrun.toml"))
            .unwrap()
            .replace("127.0.0.1:18080", &format!("127.0.0.1:{edge}"))
            .replace("127.0.0.1:19190", &format!("127.0.0.1:{prometheus}"));
        std::fs::write(dir.join("planrun.toml"), project).unwrap();
        let stack = Stack { name, dir, edge, prometheus, work };
        stack.deploy();
        stack
    }

    /// Runs the `up` script (again): every service back on release 1.0, the database kept.
    pub fn deploy(&self) {
        let up = Command::new(self.dir.join("up"))
            .env("STACK", &self.name)
            .env("EDGE_PORT", self.edge.to_string())
            .env("PROMETHEUS_PORT", self.prometheus.to_string())
            .env("PRODSTACK_STATE", self.dir.join("state"))
            .env("PLANRUN_REPO", repo())
            .output()
            .unwrap();
        assert!(
            up.status.success(),
            "up: {}{}",
            String::from_utf8_lossy(&up.stdout),
            String::from_utf8_lossy(&up.stderr)
        );
    }

    pub fn service(&self, name: &str) -> String {
        format!("{}_{name}", self.name)
    }

    /// `planrun apply plan.kdl --env local`, in the background, dumps to `backups/`.
    pub fn apply(&self, extra: &[&str]) -> Background {
        let plan = self.dir.join("plan.kdl");
        let backups = format!("backups={}", self.dir.join("backups").display());
        let mut args = vec!["--env", "local", "--var", &backups];
        args.extend_from_slice(extra);
        Background::apply(&self.work, &plan, &args)
    }

    /// A probe through the edge, from the stack's own network, ~4 requests a second.
    pub fn probe(&self, path: &str) -> Probe {
        let url = format!("http://{}:8080{path}", self.service("edge"));
        Probe::start_on(&self.service("default"), &url, 600, 100)
    }

    /// A probe through the edge for a fixed `seconds`, a request every ~`interval_ms` (plus the
    /// request's own time); [`Probe::finish`] waits for its end.
    pub fn probe_for(&self, path: &str, seconds: u32, interval_ms: u32) -> Probe {
        let url = format!("http://{}:8080{path}", self.service("edge"));
        Probe::start_on(&self.service("default"), &url, seconds, interval_ms)
    }

    pub fn psql(&self, sql: &str) -> String {
        let task = self.postgres_container();
        docker(&["exec", &task, "psql", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "prodstack", "-c", sql])
            .trim()
            .to_owned()
    }

    pub fn image(&self, service: &str) -> String {
        let image = docker(&[
            "service",
            "inspect",
            &self.service(service),
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        ]);
        image.trim().split('@').next().unwrap().to_owned()
    }

    pub fn replicas(&self, service: &str) -> String {
        docker(&[
            "service",
            "ls",
            "--filter",
            &format!("name={}", self.service(service)),
            "--format",
            "{{.Name}} {{.Replicas}}",
        ])
        .lines()
        .find(|l| l.split(' ').next() == Some(&self.service(service)))
        .map(|l| l.split(' ').nth(1).unwrap_or_default().to_owned())
        .unwrap_or_default()
    }

    /// The prometheus query's one value.
    pub fn query(&self, promql: &str) -> Option<f64> {
        let out = Command::new("curl")
            .args(["-fsS", "--get", &format!("http://127.0.0.1:{}/api/v1/query", self.prometheus)])
            .args(["--data-urlencode", &format!("query={promql}")])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Column names of `orders`, in order.
    pub fn orders_columns(&self) -> String {
        self.psql(
            "SELECT string_agg(column_name || ':' || is_nullable, ',' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_name = 'orders'",
        )
    }

    /// The public schema's tables and constraints.
    pub fn schema(&self) -> String {
        self.psql(
            "SELECT string_agg(x, ',' ORDER BY x) FROM (\
             SELECT 'table ' || table_name AS x FROM information_schema.tables WHERE table_schema = 'public' \
             UNION ALL SELECT 'constraint ' || conname || ' ' || convalidated FROM pg_constraint \
             WHERE connamespace = 'public'::regnamespace) s",
        )
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new(self.dir.join("down")).env("STACK", &self.name).output();
        super::forget_stack(&self.name);
    }
}

/// Copies the example, renaming its stack: `prodstack_` (service names) and `stack prodstack`.
fn copy_renamed(from: &Path, to: &Path, name: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_renamed(&entry.path(), &target, name);
        } else if entry.file_name() != "DEPLOYMENT_LOG.md" {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text =
                text.replace("prodstack_", &format!("{name}_")).replace("stack prodstack", &format!("stack {name}"));
            std::fs::write(&target, text).unwrap();
            std::fs::set_permissions(&target, entry.metadata().unwrap().permissions()).unwrap();
        }
    }
}

/// Reads the run's events, answering each manual pause with `planrun promote STACK` from
/// another process, as a person would, until `stop` holds for one (true) or the run ends (false).
/// A question `stop` holds for is left unanswered.
fn promoting_until(stack: &Stack, apply: &mut Background, stop: impl Fn(&serde_json::Value) -> bool) -> bool {
    while let Some(Ok(line)) = apply.lines.next() {
        let e: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        apply.seen.push(e.clone());
        if stop(&e) {
            return true;
        }
        if e["event"] == "awaiting-approval" {
            let promoted = planrun().args(["promote", &stack.name]).output().unwrap();
            assert!(promoted.status.success(), "promote: {}", String::from_utf8_lossy(&promoted.stderr));
        }
    }
    false
}

/// Lets the run finish, answering each manual pause with `planrun promote STACK`.
pub fn finish_promoting(stack: &Stack, mut apply: Background) -> Run {
    promoting_until(stack, &mut apply, |_| false);
    apply.finish()
}

/// A file's SHA-256, hex.
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}

/// Where a run is killed: the first event of `kind` about `step` (whose message starts with
/// `message`, when given, or whose update reached `updated` new tasks), and how long after it.
#[derive(Debug, Clone, Copy)]
pub struct KillPoint {
    pub kind: &'static str,
    pub step: &'static str,
    pub message: Option<&'static str>,
    pub updated: Option<u64>,
    pub gate: Option<&'static str>,
    pub after: std::time::Duration,
}

impl KillPoint {
    /// At the first event of `kind` about `step`, at once.
    pub const fn at(kind: &'static str, step: &'static str) -> KillPoint {
        KillPoint { kind, step, message: None, updated: None, gate: None, after: std::time::Duration::ZERO }
    }

    fn matches(&self, e: &serde_json::Value) -> bool {
        e["event"] == self.kind
            && e["step"] == self.step
            && self.message.is_none_or(|m| e["message"].as_str().is_some_and(|t| t.starts_with(m)))
            && self.updated.is_none_or(|n| e["updated"][0].as_u64().is_some_and(|u| u >= n))
            && self.gate.is_none_or(|g| e["gate"] == g)
    }
}

impl std::fmt::Display for KillPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.kind, self.step)?;
        if let Some(m) = self.message {
            write!(f, " (\"{m}…\")")?;
        }
        if let Some(g) = self.gate {
            write!(f, " of gate {g}")?;
        }
        if let Some(n) = self.updated {
            write!(f, " ({n} new task running)")?;
        }
        if !self.after.is_zero() {
            write!(f, " + {:?}", self.after)?;
        }
        Ok(())
    }
}

/// Lets the run go on, answering each manual pause with `planrun promote`, until `point`;
/// then kills it (SIGKILL, as a CI runner dies). The killed run.
pub fn kill_at(stack: &Stack, mut apply: Background, point: KillPoint) -> Run {
    if promoting_until(stack, &mut apply, |e| point.matches(e)) {
        std::thread::sleep(point.after);
        apply.signal("KILL");
        return apply.finish();
    }
    panic!("the run ended before {point}: {:#?}", apply.seen);
}

impl Stack {
    /// A container of the stack's PostgreSQL service on this node.
    fn postgres_container(&self) -> String {
        let filter = format!("label=com.docker.swarm.service.name={}", self.service("postgres"));
        docker(&["ps", "-q", "--filter", &filter]).lines().next().expect("a postgres container").to_owned()
    }

    /// `pg_dump --schema-only` of the database, planrun's own ledger schema left out.
    pub fn schema_dump(&self) -> String {
        let task = self.postgres_container();
        let dump = docker(&[
            "exec",
            &task,
            "pg_dump",
            "--schema-only",
            "--exclude-schema=planrun",
            "-U",
            "postgres",
            "prodstack",
        ]);
        // pg_dump 15.14 and later fence the dump with a random key each time.
        dump.lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
