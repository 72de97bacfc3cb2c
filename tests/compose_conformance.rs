//! planrun's compose step against `docker stack deploy` as the oracle, on docker/cli's own
//! example of every key (tests/compose-conformance/docker-cli, vendored) and on planrun's own
//! file of what that example cannot show here (tests/compose-conformance/planrun): each is
//! deployed by the docker CLI as one stack and by planrun as another, and every service spec
//! (as the daemon keeps it), network, volume, config and secret is compared field by field, with the stack's name as
//! `STACK` and object ids as names. What the daemon here cannot take (a `cluster` mount needs
//! API 1.42) is compared as the two tools send it, through a recording proxy on the Docker
//! socket. Every stack is unique to the run and removed at the end, pass or fail.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use support::compose::{StackGuard, diff, inspect, network_names, normalized, renamed, stored_spec};
use support::docker_proxy::DockerProxy;
use support::{Workdir, docker, planrun, repo, unique};

/// Keys docker's converter never reads, so `docker stack deploy` drops them without a word;
/// planrun warns about them with the keys docker names.
const DOCKER_DROPS_SILENTLY: &[&str] = &["depends_on", "ipv4_address", "ipv6_address", "tmpfs"];

/// Copies the files of `from` (and its folders) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() { copy_dir(&path, &target) } else { std::fs::copy(&path, &target).map(|_| ()).unwrap() }
    }
}

/// docker/cli's full example with the edits `docker stack deploy` needs to deploy it here,
/// each forced by docker's own error on the file as it is. Names the file gives the whole swarm
/// (not `STACK_`) get `run`, so runs never meet; the `cluster` mount stays only when
/// `cluster_mount` (API 1.41 refuses it: "invalid MountType: \"cluster\"").
fn deployable(text: &str, run: &str, cluster_mount: bool) -> String {
    let mut t = text.to_owned();
    let mut edit = |from: &str, to: &str| {
        assert!(t.contains(from), "the vendored file has changed: {from:?}");
        t = t.replacen(from, to, 1);
    };
    // "error during lookup of plugin overlay": there is no IPAM driver of that name.
    edit("    ipam:\n      driver: overlay\n", "    ipam:\n");
    // "read DIR: is a directory": config4 and secret4 have no file.
    edit("  config4:\n    name: foo\n", &format!("  config4:\n    name: foo-{run}\n    file: ./config_data\n"));
    edit("  secret4:\n    name: bar\n", &format!("  secret4:\n    name: bar-{run}\n    file: ./secret_data\n"));
    // "undefined volume \"datavolume\"" and "undefined network \"other-other-network\"".
    edit("volumes:\n  # Entries can be null", "volumes:\n  datavolume:\n  # Entries can be null");
    edit("  other-network:\n    driver: overlay\n", "  other-other-network:\n  other-network:\n    driver: overlay\n");
    // "invalid cpu value 0.0001: Must be at least 0.001" (the daemon; planrun says so at the line).
    edit("          cpus: '0.0001'\n", "          cpus: '0.001'\n");
    // "constraint expected one operator from ==, !=" (the daemon; planrun says so at the line).
    edit("constraints: [node=foo]", "constraints: [node.hostname==foo]");
    // "duplicate mount point: /var/lib/mysql" (the daemon; planrun says so at the line): three
    // entries mount there, two at /opt.
    edit("      - /opt/data:/var/lib/mysql\n", "      - /opt/data:/var/lib/mysql-data\n");
    edit("      - datavolume:/var/lib/mysql\n", "      - datavolume:/var/lib/mysql-volume\n");
    edit("      - type: tmpfs\n        target: /opt\n", "      - type: tmpfs\n        target: /opt-tmpfs\n");
    // "port published with ingress mode can't be used with dnsrr mode" (the daemon; planrun
    // says so at the line).
    edit("      endpoint_mode: dnsrr\n", "      endpoint_mode: vip\n");
    // The external config and secret the service uses, made by this test.
    edit("      name: my_config\n", &format!("      name: my_config-{run}\n"));
    edit("      name: my_secret\n", &format!("      name: my_secret-{run}\n"));
    if !cluster_mount {
        edit("      - type: cluster\n        source: group:mygroup\n        target: /srv\n", "");
    }
    t
}

/// A plan that deploys `file` as `stack`; `on-failure pause` leaves what a failed run made.
fn plan(stack: &str, file: &str, on_failure: &str, deadline: &str) -> String {
    format!(
        "plan conformance {{\n    stack {stack}\n    on-failure {on_failure}\n    compose deploy {{\n        file \"{file}\"\n        deadline \"{deadline}\"\n    }}\n}}\n"
    )
}

/// `planrun apply` of `plan`, with `env` and `DOCKER_HOST` when given.
fn apply(work: &Workdir, plan: &Path, env: &[(&str, &str)], host: Option<&str>) -> (i32, String) {
    let state = work.dir.join(format!("state-{}", plan.file_stem().unwrap().to_string_lossy()));
    let mut cmd = planrun();
    cmd.args(["apply", plan.to_str().unwrap(), "--state-dir", state.to_str().unwrap()]);
    cmd.current_dir(&work.dir).envs(env.iter().copied());
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    let out = cmd.output().expect("planrun runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("planrun apply {} -> {:?}\n{stderr}", plan.display(), out.status.code());
    (out.status.code().unwrap_or(-1), stderr)
}

/// `docker stack deploy` of `file` as `stack` (its stderr), with `env` and `DOCKER_HOST`.
fn stack_deploy(
    dir: &Path,
    file: &str,
    stack: &str,
    env: &[(&str, &str)],
    host: Option<&str>,
    wait: bool,
) -> (bool, String) {
    let mut cmd = std::process::Command::new("docker");
    if let Some(h) = host {
        cmd.args(["--host", h]);
    }
    cmd.args(["stack", "deploy", "--resolve-image", "never", "-c", file, stack]);
    if wait {
        cmd.arg("--detach=false");
    }
    let out = cmd.current_dir(dir).envs(env.iter().copied()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("docker stack deploy {file} {stack} -> {:?}\n{stderr}", out.status.code());
    (out.status.success(), stderr)
}

/// Everything a stack is made of, normalised, by normalised name.
#[derive(Default)]
struct Snapshot {
    services: BTreeMap<String, serde_json::Value>,
    networks: BTreeMap<String, serde_json::Value>,
    volumes: BTreeMap<String, serde_json::Value>,
    configs: BTreeMap<String, serde_json::Value>,
    secrets: BTreeMap<String, serde_json::Value>,
}

impl Snapshot {
    /// Reads `stack`'s objects; `subnets` names the networks whose subnets the file sets
    /// (others get one allocated, which differs from stack to stack).
    fn take(stack: &str, subnets: &[&str]) -> Snapshot {
        let label = format!("label=com.docker.stack.namespace={stack}");
        let list = |kind: &str| -> Vec<String> {
            docker(&[kind, "ls", "-q", "--filter", &label]).split_whitespace().map(str::to_owned).collect()
        };
        let names = network_names();
        let mut s = Snapshot::default();
        for id in list("service") {
            // As the daemon keeps it: `docker service inspect` would fill Swarm's defaults in
            // and hide a tool that spells them out.
            let spec = stored_spec(&id);
            let name = spec["Name"].as_str().unwrap().to_owned();
            let mut spec = normalized(&spec, stack, &names);
            // The docker CLI orders ports by published port with Go's unstable sort: among
            // ports of one published port (unpublished ones, say) the order of more than 12 is
            // pdqsort's. planrun orders them stably and compares ports as a set; so does this.
            if let Some(ports) = spec.pointer_mut("/EndpointSpec/Ports").and_then(|p| p.as_array_mut()) {
                ports.sort_by_key(|p| p.to_string());
            }
            s.services.insert(name.replace(stack, "STACK"), spec);
        }
        for id in list("network") {
            let n = inspect("network", &id);
            let name = n["Name"].as_str().unwrap().replace(stack, "STACK");
            let mut options = n["Options"].clone();
            if let Some(o) = options.as_object_mut() {
                o.remove("com.docker.network.driver.overlay.vxlanid_list");
            }
            let mut ipam = n["IPAM"].clone();
            if !subnets.contains(&name.as_str()) {
                ipam.as_object_mut().unwrap().remove("Config");
            } else if let Some(config) = ipam["Config"].as_array_mut() {
                for c in config {
                    c.as_object_mut().unwrap().remove("Gateway");
                }
            }
            let kept = serde_json::json!({
                "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"], "Internal": n["Internal"],
                "Attachable": n["Attachable"], "Ingress": n["Ingress"], "EnableIPv6": n["EnableIPv6"],
                "Options": options, "Labels": n["Labels"], "IPAM": ipam,
            });
            s.networks.insert(name, renamed(&kept, stack));
        }
        for name in list("volume") {
            let v = inspect("volume", &name);
            let kept = serde_json::json!({
                "Name": v["Name"], "Driver": v["Driver"], "Labels": v["Labels"], "Options": v["Options"], "Scope": v["Scope"],
            });
            s.volumes.insert(name.replace(stack, "STACK"), renamed(&kept, stack));
        }
        for (kind, into) in [("config", &mut s.configs), ("secret", &mut s.secrets)] {
            for id in list(kind) {
                let mut object = inspect(kind, &id)["Spec"].clone();
                // The one label planrun adds: the SHA-256 of a secret's content, which Swarm
                // never gives back, so that a changed secret file is refused before any change
                // instead of silently ignored (docs/language.md#compose).
                if let Some(labels) = object["Labels"].as_object_mut() {
                    labels.remove("planrun.content-sha256");
                }
                let name = object["Name"].as_str().unwrap().replace(stack, "STACK");
                into.insert(name, renamed(&object, stack));
            }
        }
        s
    }

    /// Every difference from `theirs`, as `kind name.field: planrun X, docker Y`.
    fn differences(&self, theirs: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, a, b) in [
            ("service", &self.services, &theirs.services),
            ("network", &self.networks, &theirs.networks),
            ("volume", &self.volumes, &theirs.volumes),
            ("config", &self.configs, &theirs.configs),
            ("secret", &self.secrets, &theirs.secrets),
        ] {
            let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                match (a.get(name), b.get(name)) {
                    (Some(x), Some(y)) => diff(x, y, &format!("{kind} {name}"), &mut out),
                    (x, _) => {
                        out.push(format!("{kind} {name}: only {}", if x.is_some() { "planrun" } else { "docker" }))
                    }
                }
            }
        }
        out
    }

    fn count(&self) -> [usize; 5] {
        [self.services.len(), self.networks.len(), self.volumes.len(), self.configs.len(), self.secrets.len()]
    }
}

/// A config or secret of the whole swarm, removed on drop.
struct SwarmObject(&'static str, String);

impl Drop for SwarmObject {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args([self.0, "rm", &self.1]).output();
    }
}

/// A folder the file binds from outside its own, made for the test and removed on drop.
struct MadeDir(Option<PathBuf>);

impl Drop for MadeDir {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The full example's files in a work directory, with the data its configs and secrets read
/// and the folders its binds name.
fn full_example_dir(work: &Workdir) -> (PathBuf, MadeDir) {
    let dir = work.dir.join("full");
    copy_dir(&repo().join("tests/compose-conformance/docker-cli"), &dir);
    std::fs::write(dir.join("config_data"), "config data\n").unwrap();
    std::fs::write(dir.join("secret_data"), "secret data\n").unwrap();
    for d in ["static", "opt", "home/configs"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let opt_data = Path::new("/opt/data");
    let made = (!opt_data.exists()).then(|| {
        std::fs::create_dir_all(opt_data).unwrap();
        opt_data.to_path_buf()
    });
    (dir, MadeDir(made))
}

#[test]
fn docker_clis_full_example_gives_equal_specs_networks_configs_and_secrets() {
    let run = unique("fe");
    let work = Workdir::new("conformance-full");
    let (dir, _opt) = full_example_dir(&work);
    let home = dir.join("home");
    let env = [("HOME", home.to_str().unwrap())];
    let pristine = std::fs::read_to_string(dir.join("full-example.yml")).unwrap();
    std::fs::write(dir.join("with-cluster.yml"), deployable(&pristine, &run, true)).unwrap();
    std::fs::write(dir.join("deployable.yml"), deployable(&pristine, &run, false)).unwrap();
    std::fs::write(dir.join("external"), "external\n").unwrap();
    let external = dir.join("external");
    docker(&["config", "create", &format!("my_config-{run}"), external.to_str().unwrap()]);
    let _config = SwarmObject("config", format!("my_config-{run}"));
    docker(&["secret", "create", &format!("my_secret-{run}"), external.to_str().unwrap()]);
    let _secret = SwarmObject("secret", format!("my_secret-{run}"));
    let _named = [("config", format!("foo-{run}")), ("secret", format!("bar-{run}"))].map(|(k, n)| SwarmObject(k, n));

    // What the daemon refuses, as each tool sends it: the service with its `cluster` mount.
    // One stack at a time: `other-network` asks for a fixed subnet, which two stacks cannot share.
    let mut sent = Vec::new();
    for (tool, stack) in [("docker", unique("theirs")), ("planrun", unique("ours"))] {
        let guard = StackGuard(stack.clone());
        let proxy = DockerProxy::start();
        let refused = if tool == "docker" {
            let (ok, stderr) = stack_deploy(&dir, "with-cluster.yml", &stack, &env, Some(&proxy.host()), false);
            assert!(!ok, "this daemon refuses a cluster mount");
            stderr
        } else {
            let plan = work.plan(&plan(&stack, "full/with-cluster.yml", "pause", "2s"));
            let (code, stderr) = apply(&work, &plan, &env, Some(&proxy.host()));
            assert_ne!(code, 0);
            stderr
        };
        assert!(refused.contains("invalid MountType"), "{tool}: {refused}");
        let bodies = proxy.bodies("POST", "/services/create");
        assert_eq!(bodies.len(), 1, "{tool} sent one service");
        sent.push(renamed(&bodies[0]["TaskTemplate"]["ContainerSpec"]["Mounts"], &stack));
        guard.remove();
    }
    let mut differences = Vec::new();
    diff(&sent[1], &sent[0], "sent mounts", &mut differences);
    assert!(differences.is_empty(), "the mounts planrun sends differ from docker's:\n{}", differences.join("\n"));
    assert_eq!(sent[0].as_array().map(Vec::len), Some(9), "every volume of the file, the cluster mount last");

    // Everything else, as the daemon keeps it. Its tasks never run (`node.hostname==foo`, a GPU).
    let (theirs, ours) = one_after_the_other(&work, "full", "deployable.yml", &env, &["STACK_other-network"]);
    let (theirs, ours) = (&theirs, &ours);
    assert_eq!(theirs.count(), [1, 3, 0, 2, 2], "docker made a service, 3 networks, 2 configs and 2 secrets");
    let differences = ours.differences(theirs);
    assert!(differences.is_empty(), "planrun and docker stack deploy differ:\n{}", differences.join("\n"));
    // The comparison can fail: a changed field is found.
    let mut changed = Snapshot { services: ours.services.clone(), ..Snapshot::default() };
    changed.services.values_mut().next().unwrap()["TaskTemplate"]["ContainerSpec"]["User"] = serde_json::json!("root");
    assert_eq!(changed.differences(&Snapshot { services: theirs.services.clone(), ..Snapshot::default() }).len(), 1);
}

/// `file` (in `work`'s folder `dir`) deployed by `docker stack deploy` and then by planrun, each
/// as a stack of its own removed before the next (fixed subnets and published ports cannot be
/// shared), each snapshotted first; planrun's run may fail (tasks that never start fail its
/// deadline) and `on-failure pause` leaves what it made. Returns (docker's, planrun's).
fn one_after_the_other(
    work: &Workdir,
    dir: &str,
    file: &str,
    env: &[(&str, &str)],
    subnets: &[&str],
) -> (Snapshot, Snapshot) {
    let mut snapshots = Vec::new();
    for (tool, stack) in [("docker", unique("theirs")), ("planrun", unique("ours"))] {
        let guard = StackGuard(stack.clone());
        if tool == "docker" {
            let (ok, stderr) = stack_deploy(&work.dir.join(dir), file, &stack, env, None, false);
            assert!(ok, "{stderr}");
            // A stack docker deployed is one planrun leaves alone: its plan changes nothing.
            let plan = work.plan(&plan(&stack, &format!("{dir}/{file}"), "pause", "3s"));
            let out = planrun()
                .args(["plan", plan.to_str().unwrap(), "--format", "json"])
                .current_dir(&work.dir)
                .envs(env.iter().copied())
                .output()
                .unwrap();
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            assert_eq!(
                report["summary"]["changes_present"],
                false,
                "{file} as docker deployed it: planrun plan says {}",
                serde_json::to_string_pretty(&report["steps"]).unwrap_or_default()
            );
        } else {
            let plan = work.plan(&plan(&stack, &format!("{dir}/{file}"), "pause", "3s"));
            apply(work, &plan, env, None);
        }
        snapshots.push(Snapshot::take(&stack, subnets));
        guard.remove();
    }
    let ours = snapshots.pop().unwrap();
    (snapshots.pop().unwrap(), ours)
}

/// Stack files as teams publish them (tests/compose-conformance/public): a voting app with
/// PostgreSQL on a named volume, and swarmprom (Prometheus, Grafana, cAdvisor, node-exporter,
/// Alertmanager, Caddy; global services, host paths, configs, published ports).
#[test]
fn public_stack_files_give_equal_specs_networks_configs_and_secrets() {
    let work = Workdir::new("conformance-public");
    copy_dir(&repo().join("tests/compose-conformance/public"), &work.dir);
    for (dir, file, services) in [("voting-app", "docker-stack.yml", 5), ("swarmprom", "docker-compose.yml", 8)] {
        // planrun validates it without a warning: every key it has is one docker applies.
        let plan = work.plan(&plan("check", &format!("{dir}/{file}"), "rollback", "1m"));
        let out = planrun().args(["validate", "--deny-warnings", plan.to_str().unwrap()]).output().unwrap();
        let ungated = String::from_utf8_lossy(&out.stderr).matches("ungated-rollout").count();
        assert!(out.status.success() || ungated > 0, "{dir}: {}", String::from_utf8_lossy(&out.stderr));
        let (theirs, ours) = one_after_the_other(&work, dir, file, &[], &[]);
        assert_eq!(theirs.count()[0], services, "{dir}: docker made every service");
        let differences = ours.differences(&theirs);
        assert!(differences.is_empty(), "{dir}: planrun and docker stack deploy differ:\n{}", differences.join("\n"));
    }
}

#[test]
fn planrun_warns_about_exactly_the_keys_docker_ignores_in_the_full_example() {
    let work = Workdir::new("conformance-keys");
    let (dir, _opt) = full_example_dir(&work);
    // docker reads the file and says what it ignores before it stops at the first problem.
    let stack = unique("keys");
    let _guard = StackGuard(stack.clone());
    let (_, stderr) = stack_deploy(&dir, "full-example.yml", &stack, &[], None, false);
    let mut docker_ignores: BTreeSet<String> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ignoring unsupported options: "))
        .expect("docker names what it ignores")
        .split(", ")
        .map(str::to_owned)
        .collect();
    let deprecated = stderr.split("Ignoring deprecated options:").nth(1).expect("and what is deprecated");
    for line in deprecated.lines() {
        if let Some((key, _)) = line.split_once(": ")
            && !key.contains(' ')
        {
            docker_ignores.insert(key.to_owned());
        }
    }
    assert!(docker_ignores.contains("container_name") && docker_ignores.contains("build"), "{docker_ignores:?}");

    let plan = work.plan(&plan("keys", "full/full-example.yml", "rollback", "1m"));
    let out = planrun().args(["validate", plan.to_str().unwrap(), "--message-format", "json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut planrun_warns: BTreeSet<String> = BTreeSet::new();
    for line in stdout.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if d["code"] == "planrun::compose-unsupported" {
            let message = d["message"].as_str().unwrap_or_default();
            let key = message.split('`').nth(1).expect("the key in backticks");
            planrun_warns.insert(key.to_owned());
        }
    }
    let mut expected = docker_ignores.clone();
    expected.extend(DOCKER_DROPS_SILENTLY.iter().map(|k| k.to_string()));
    assert_eq!(planrun_warns, expected, "planrun's warnings: {stdout}");
}

#[test]
fn planruns_own_file_gives_equal_services_networks_volumes_configs_and_secrets() {
    let work = Workdir::new("conformance-own");
    let dir = work.dir.join("own");
    copy_dir(&repo().join("tests/compose-conformance/planrun"), &dir);
    let shared = unique("shared");
    docker(&["volume", "create", "--label", "conformance=shared", &shared]);
    let _shared = SwarmObject("volume", shared.clone());
    let (theirs, ours) = (unique("theirs"), unique("ours"));
    let (_g1, _g2) = (StackGuard(theirs.clone()), StackGuard(ours.clone()));
    let env = |stack: &str| {
        vec![
            ("STACK", stack.to_owned()),
            ("SHARED_VOLUME", shared.clone()),
            ("EMPTY_FROM_ENV", "from-env".to_owned()),
            ("BARE_FROM_ENV", "bare".to_owned()),
        ]
    };
    let theirs_env = env(&theirs);
    let theirs_env: Vec<(&str, &str)> = theirs_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (ok, stderr) = stack_deploy(&dir, "docker-compose.yml", &theirs, &theirs_env, None, true);
    assert!(ok, "{stderr}");
    let ours_env = env(&ours);
    let ours_env: Vec<(&str, &str)> = ours_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let plan = work.plan(&plan(&ours, "own/docker-compose.yml", "rollback", "3m"));
    let (code, stderr) = apply(&work, &plan, &ours_env, None);
    assert_eq!(code, 0, "{stderr}");

    let (a, b) = (Snapshot::take(&ours, &[]), Snapshot::take(&theirs, &[]));
    assert_eq!(
        b.count(),
        [2, 1, 3, 3, 1],
        "docker: 2 services, a network, 3 volumes (made by the node), 3 configs, a secret"
    );
    let differences = a.differences(&b);
    assert!(differences.is_empty(), "planrun and docker stack deploy differ:\n{}", differences.join("\n"));
    let env = &a.services["STACK_store"]["TaskTemplate"]["ContainerSpec"]["Env"];
    assert_eq!(
        env,
        &serde_json::json!([
            "APP_ROLE=store",
            "BARE_FROM_ENV=bare",
            "EMPTY_FROM_ENV=from-env",
            "FROM_FILE=kept  ",
            "INDENTED=yes",
            "PATH_FROM_ENV"
        ]),
        "env_file and environment read as docker reads them"
    );
}
