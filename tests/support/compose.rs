//! Compose stacks in end-to-end tests: a guard that removes a stack with everything labelled
//! with it (services, networks, configs, secrets, the volumes its tasks made) and planrun's
//! lock and run record; specs and objects read with the docker CLI, normalised (the stack's
//! name as `STACK`, object ids as names) and compared field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::docker;

/// A stack removed, with everything labelled with it, on drop.
pub struct StackGuard(pub String);

impl StackGuard {
    /// Removes the stack now and waits (at most 60 s) until its networks and volumes are gone.
    pub fn remove(&self) {
        let run = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let label = format!("label=com.docker.stack.namespace={}", self.0);
        let _ = run(&["stack", "rm", &self.0]);
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let left = |kind: &str| {
                run(&[kind, "ls", "-q", "--filter", &label])
                    .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_else(|_| Vec::<String>::new())
            };
            // Volumes go once the containers using them are gone (a node made them for a task).
            for v in left("volume") {
                let _ = run(&["volume", "rm", &v]);
            }
            if (left("network").is_empty() && left("volume").is_empty()) || Instant::now() > until {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        for name in [format!("planrun-lock-{}", self.0), format!("planrun-run-{}", self.0)] {
            let _ = run(&["config", "rm", &name]);
        }
    }
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `docker KIND inspect NAME`'s first object.
pub fn inspect(kind: &str, name: &str) -> serde_json::Value {
    let text = docker(&[kind, "inspect", name]);
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all[0].clone()
}

/// A service's spec, as `docker service inspect` shows it (Swarm's defaults filled in).
pub fn spec(service: &str) -> serde_json::Value {
    inspect("service", service)["Spec"].clone()
}

/// A service's spec exactly as the daemon keeps it (the Engine API without `insertDefaults`):
/// what a tool wrote, and nothing the daemon fills in on reading.
pub fn stored_spec(service: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--unix-socket", "/var/run/docker.sock", &format!("http://docker/v1.41/services/{service}")])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "GET /services/{service}: {}", String::from_utf8_lossy(&out.stderr));
    let service: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    service["Spec"].clone()
}

/// Every network's name by id.
pub fn network_names() -> BTreeMap<String, String> {
    docker(&["network", "ls", "--format", "{{.ID}} {{.Name}}", "--no-trunc"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(id, name)| (id.to_owned(), name.to_owned())))
        .collect()
}

/// A service spec with the stack's name replaced by `STACK`, network ids by their names and
/// config, secret and credential-spec config ids left out.
pub fn normalized(spec: &serde_json::Value, stack: &str, networks: &BTreeMap<String, String>) -> serde_json::Value {
    let mut spec = spec.clone();
    if let Some(list) = spec["TaskTemplate"]["Networks"].as_array_mut() {
        for n in list {
            let id = n["Target"].as_str().unwrap_or_default().to_owned();
            n["Target"] = serde_json::json!(networks.get(&id).cloned().unwrap_or(id));
        }
    }
    let container = &mut spec["TaskTemplate"]["ContainerSpec"];
    for (list, id) in [("Configs", "ConfigID"), ("Secrets", "SecretID")] {
        if let Some(items) = container[list].as_array_mut() {
            for item in items {
                item.as_object_mut().unwrap().remove(id);
            }
        }
    }
    if let Some(c) = container.pointer_mut("/Privileges/CredentialSpec").and_then(|c| c.as_object_mut()) {
        c.remove("Config");
    }
    renamed(&spec, stack)
}

/// `value` with `stack` replaced by `STACK` wherever it appears.
pub fn renamed(value: &serde_json::Value, stack: &str) -> serde_json::Value {
    serde_json::from_str(&serde_json::to_string(value).unwrap().replace(stack, "STACK")).unwrap()
}

/// The fields where `a` (planrun's) and `b` (docker's) differ, as `path: planrun X, docker Y`.
pub fn diff(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(u, v, &format!("{at}[{i}]"), out);
            }
        }
        (x, y) if x != y => out.push(format!("{at}: planrun {x}, docker {y}")),
        _ => {}
    }
}
