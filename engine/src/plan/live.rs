//! What is live on the swarm that a plan is about, read with read-only calls alone: the
//! services the plan names (spec, version index, tasks), the networks and configs their specs
//! refer to, the deploy lock, a run waiting for approval, the live blue-green colours and the
//! canaries left behind. A saved plan keeps this, so `apply` can tell when the swarm moved on.

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::{ServiceSpec, TaskState};
use plans::gates::GateKind;
use plans::model::Plan;
use plans::steps::StepKind;
use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterError, ConfigObject, Network};
use crate::lock::Holder;
use crate::services::spec;
use crate::{approval, lock};

/// The swarm as `plan` read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// When it was read, RFC 3339.
    pub read_at: String,
    /// The services the plan names that exist, by name.
    pub services: BTreeMap<String, LiveService>,
    /// The services the plan names that do not exist, with the step or gate that names them.
    pub missing: Vec<Missing>,
    /// Networks the services are attached to.
    pub networks: Vec<LiveNetwork>,
    /// Config objects the services mount.
    pub configs: Vec<LiveConfig>,
    /// Secrets the services mount: (id, name, labels); Swarm never gives their data back.
    #[serde(default)]
    pub secrets: Vec<(String, String, BTreeMap<String, String>)>,
    /// Who holds the stack's deploy lock.
    pub lock: Option<Holder>,
    /// A run of the stack waiting for a person: (run, step, question).
    pub waiting: Option<(String, String, String)>,
    /// Per blue-green step: its live colour (or why it cannot be told, in words: a saved plan
    /// keeps this state as JSON and compares it with the swarm's at apply).
    pub colours: BTreeMap<String, Result<String, String>>,
    /// Canaries still on the swarm: (canary service, the service it is a canary of, stage).
    pub canaries: Vec<(String, String, Option<String>)>,
    /// The Engine API version the daemon speaks (it keeps only the fields of that version).
    #[serde(default)]
    pub api_version: Option<(u32, u32)>,
}

/// A service the plan names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveService {
    /// Its id.
    pub id: String,
    /// Its version index: a saved plan is stale when it moved.
    pub version: u64,
    /// Its spec.
    pub spec: ServiceSpec,
    /// Tasks running.
    pub running: u64,
    /// Swarm's update state, if an update was made.
    pub update: Option<String>,
}

/// A service the plan names that the swarm does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// The service.
    pub service: String,
    /// What names it: "step `web`", "gate `tasks-healthy`".
    pub named_by: String,
}

/// A network, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveNetwork {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A config object a service mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveConfig {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its data.
    pub data: String,
}

impl LiveState {
    /// What was live, as planrun may write it: service env values and config contents redacted.
    pub fn redacted(&self) -> LiveState {
        let mut out = self.clone();
        for s in out.services.values_mut() {
            crate::redact::spec_in_place(&mut s.spec);
        }
        for c in out.configs.iter_mut() {
            c.data = crate::redact::value(&c.data);
        }
        out
    }
}

impl From<LiveNetwork> for Network {
    fn from(n: LiveNetwork) -> Network {
        Network { id: n.id, name: n.name }
    }
}

impl From<LiveConfig> for ConfigObject {
    fn from(c: LiveConfig) -> ConfigObject {
        ConfigObject {
            id: c.id,
            name: c.name,
            labels: c.labels.into_iter().collect(),
            data: c.data.into_bytes(),
            version: 0,
        }
    }
}

/// The services a plan names, each with what names it first, in file order.
pub fn named_services(plan: &Plan) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, by: String| {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_owned(), by));
        }
    };
    for step in &plan.steps {
        let by = format!("step `{}`", step.name.value);
        match &step.kind {
            StepKind::Rolling(r) => add(&r.service.value, by),
            StepKind::Canary(c) => add(&c.service.value, by),
            StepKind::BlueGreen(b) => {
                add(&b.blue.value, by.clone());
                add(&b.green.value, by.clone());
                if let Some(router) = b.switch.router() {
                    add(router, by);
                }
            }
            // A compose step creates the services that are missing: they are read when they
            // exist (`read`), never missing.
            StepKind::Compose(_)
            | StepKind::Backup(_)
            | StepKind::Migrate(_)
            | StepKind::Check(_)
            | StepKind::Run(_)
            | StepKind::Pause(_) => {}
        }
    }
    for gate in &plan.gates {
        if let GateKind::Swarm(g) = &gate.kind {
            add(&g.service, format!("gate `{}`", gate.name.value));
        }
    }
    out
}

/// Reads what `plan` is about from the swarm. Only reads: inspect, list, config reads.
pub async fn read(cluster: &dyn Cluster, plan: &Plan) -> Result<LiveState, ClusterError> {
    let mut state = LiveState {
        read_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        services: BTreeMap::new(),
        missing: Vec::new(),
        networks: Vec::new(),
        configs: Vec::new(),
        secrets: Vec::new(),
        lock: lock::current(cluster, &plan.stack.value).await?.map(|(_, h)| h),
        waiting: approval::waiting(cluster, &plan.stack.value).await?,
        colours: BTreeMap::new(),
        canaries: Vec::new(),
        api_version: cluster.api_version().await,
    };
    let mut networks = BTreeSet::new();
    let mut configs = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut wanted: Vec<(String, String, bool)> =
        named_services(plan).into_iter().map(|(n, by)| (n, by, true)).collect();
    for step in &plan.steps {
        if let StepKind::Compose(c) = &step.kind {
            for name in &c.services {
                match wanted.iter_mut().find(|(n, _, _)| n == name) {
                    // A gate may name a service the compose step creates.
                    Some(w) => w.2 = false,
                    None => wanted.push((name.clone(), format!("step `{}`", step.name.value), false)),
                }
            }
        }
    }
    for (name, named_by, required) in wanted {
        let service = match cluster.service(&name).await {
            Ok(s) => s,
            Err(ClusterError::NotFound(_)) => {
                if required {
                    state.missing.push(Missing { service: name, named_by });
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let spec = service.spec.clone().unwrap_or_default();
        let id = service.id.clone().unwrap_or_default();
        let tasks = cluster.tasks(&id).await?;
        let running = tasks
            .iter()
            .filter(|t| {
                t.desired_state == Some(TaskState::RUNNING)
                    && t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
            })
            .count() as u64;
        let template = spec.task_template.clone().unwrap_or_default();
        for n in template.networks.iter().flatten() {
            networks.extend(n.target.clone());
        }
        for c in template.container_spec.iter().flat_map(|c| c.configs.iter().flatten()) {
            configs.extend(c.config_name.clone());
        }
        for s in template.container_spec.iter().flat_map(|c| c.secrets.iter().flatten()) {
            secrets.extend(s.secret_name.clone());
        }
        state.services.insert(
            name,
            LiveService {
                id,
                version: service.version.as_ref().and_then(|v| v.index).unwrap_or(0),
                spec,
                running,
                update: service.update_status.as_ref().and_then(|u| u.state).map(|s| s.to_string()),
            },
        );
    }
    let mut stack_objects = false;
    for step in &plan.steps {
        let facts = crate::steps::behavior(&step.kind).live(cluster).await?;
        networks.extend(facts.networks);
        if let Some(colour) = facts.colour {
            // Kept as words: a saved plan stores what was live, and compares it at apply.
            state.colours.insert(step.name.value.clone(), colour.map_err(|e| e.to_string()));
        }
        state.canaries.extend(facts.canaries);
        stack_objects |= facts.stack_objects;
    }
    for n in networks {
        if let Some(net) = cluster.network(&n).await?
            && !state.networks.iter().any(|x| x.id == net.id)
        {
            state.networks.push(LiveNetwork { id: net.id, name: net.name });
        }
    }
    // A compose step makes every config and secret its file declares, used or not: those the
    // stack has already are live too.
    let mut config_objects = Vec::new();
    let mut secret_objects = Vec::new();
    if stack_objects {
        let label = format!("{}={}", crate::services::STACK_LABEL, plan.stack.value);
        config_objects = cluster.configs(&label).await?;
        secret_objects = cluster.secrets(&label).await?;
    }
    // The rest by name (a config the stack's services use from elsewhere).
    configs.retain(|c| !config_objects.iter().any(|o| o.name == *c));
    for c in configs {
        config_objects.extend(cluster.config(&c).await?);
    }
    secrets.retain(|s| !secret_objects.iter().any(|o| o.name == *s));
    for s in secrets {
        secret_objects.extend(cluster.secret(&s).await?);
    }
    for obj in config_objects {
        state.configs.push(LiveConfig {
            id: obj.id,
            name: obj.name,
            labels: obj.labels.into_iter().collect(),
            data: String::from_utf8_lossy(&obj.data).into_owned(),
        });
    }
    for obj in secret_objects {
        state.secrets.push((obj.id, obj.name, obj.labels.into_iter().collect()));
    }
    Ok(state)
}

/// The image a spec runs, tag and digest apart: ("app:v2", Some("sha256:...")).
pub fn image_parts(spec: &ServiceSpec) -> (String, Option<String>) {
    let image = spec::image(spec);
    match image.split_once('@') {
        Some((tag, digest)) => (tag.to_owned(), Some(digest.to_owned())),
        None => (image.to_owned(), None),
    }
}

/// A swarm that can only be read: `plan` reaches the swarm through this, so a bug cannot turn a
/// review into a change. Every write fails, naming what was attempted.
pub struct ReadOnly(pub std::sync::Arc<dyn Cluster>);

fn refused(what: &str) -> ClusterError {
    ClusterError::Other(format!("planrun plan only reads the swarm; it refused to {what}"))
}

#[async_trait::async_trait]
impl Cluster for ReadOnly {
    async fn service(&self, name: &str) -> Result<bollard::models::Service, ClusterError> {
        self.0.service(name).await
    }
    async fn update_service(&self, id: &str, _: u64, _: ServiceSpec) -> Result<(), ClusterError> {
        Err(refused(&format!("update service {id}")))
    }
    async fn tasks(&self, service_id: &str) -> Result<Vec<bollard::models::Task>, ClusterError> {
        self.0.tasks(service_id).await
    }
    async fn shared_service(&self, name: &str) -> Result<std::sync::Arc<bollard::models::Service>, ClusterError> {
        self.0.shared_service(name).await
    }
    async fn shared_tasks(&self, service_id: &str) -> Result<crate::cluster::SharedTasks, ClusterError> {
        self.0.shared_tasks(service_id).await
    }
    async fn revision(&self, service_id: &str) -> crate::cluster::Revision {
        self.0.revision(service_id).await
    }
    async fn changed(&self, services: &[(String, crate::cluster::Revision)], until: tokio::time::Instant) {
        self.0.changed(services, until).await
    }
    fn quiet_limit(&self) -> Option<std::time::Duration> {
        self.0.quiet_limit()
    }
    async fn counts(&self, service_id: &str) -> Result<crate::cluster::ServiceCounts, ClusterError> {
        self.0.counts(service_id).await
    }
    async fn create_config(&self, config: crate::cluster::NewObject) -> Result<String, ClusterError> {
        Err(refused(&format!("create config {}", config.name)))
    }
    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        self.0.config(name).await
    }
    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        Err(refused(&format!("remove config {id}")))
    }
    async fn update_config_labels(
        &self,
        id: &str,
        _: u64,
        _: std::collections::HashMap<String, String>,
    ) -> Result<(), ClusterError> {
        Err(refused(&format!("update config {id}")))
    }
    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
        self.0.configs(label).await
    }
    async fn secrets(&self, label: &str) -> Result<Vec<crate::cluster::SecretObject>, ClusterError> {
        self.0.secrets(label).await
    }
    async fn api_version(&self) -> Option<(u32, u32)> {
        self.0.api_version().await
    }
    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
        self.0.network(name_or_id).await
    }
    async fn create_network(&self, network: crate::cluster::NewNetwork) -> Result<String, ClusterError> {
        Err(refused(&format!("create network {}", network.name)))
    }
    async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
        Err(refused(&format!("remove network {id}")))
    }
    async fn secret(&self, name: &str) -> Result<Option<crate::cluster::SecretObject>, ClusterError> {
        self.0.secret(name).await
    }
    async fn create_secret(&self, secret: crate::cluster::NewObject) -> Result<String, ClusterError> {
        Err(refused(&format!("create secret {}", secret.name)))
    }
    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
        Err(refused(&format!("remove secret {id}")))
    }
    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
        Err(refused(&format!("create service {}", spec.name.unwrap_or_default())))
    }
    async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
        Err(refused(&format!("remove service {id}")))
    }
    async fn services(&self, label: &str) -> Result<Vec<bollard::models::Service>, ClusterError> {
        self.0.services(label).await
    }
    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
        self.0.logs(service_id, tail).await
    }
    async fn unhealthy(&self, service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
        self.0.unhealthy(service_id).await
    }
    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
        self.0.local_container(service_id).await
    }
    async fn exec(&self, exec: crate::cluster::Exec) -> Result<crate::cluster::Executed, ClusterError> {
        Err(refused(&format!("run {} in container {}", exec.argv.join(" "), exec.container)))
    }
    async fn stop_container(&self, id: &str, _: std::time::Duration) -> Result<(), ClusterError> {
        Err(refused(&format!("stop container {id}")))
    }
    async fn logs_to(&self, service_id: &str, _: &std::path::Path) -> Result<u64, ClusterError> {
        Err(refused(&format!("write the logs of {service_id} to a file")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::fake::FakeCluster;

    #[tokio::test]
    async fn the_read_only_swarm_reads_and_refuses_every_write() {
        let fake = FakeCluster::new();
        let id = fake.add_service(ServiceSpec { name: Some("web".into()), ..Default::default() });
        let ro = ReadOnly(Arc::new(fake.clone()));
        assert_eq!(ro.service("web").await.unwrap().id.as_deref(), Some(id.as_str()));
        let refused = |e: ClusterError| e.to_string().contains("planrun plan only reads the swarm");
        assert!(refused(ro.update_service(&id, 1, ServiceSpec::default()).await.unwrap_err()));
        assert!(refused(ro.create_service(ServiceSpec::default()).await.unwrap_err()));
        assert!(refused(ro.remove_service(&id).await.unwrap_err()));
        assert!(refused(
            ro.create_config(crate::cluster::NewObject::new("c", Default::default(), b"")).await.unwrap_err()
        ));
        assert!(refused(ro.remove_config("c").await.unwrap_err()));
        assert!(refused(ro.create_network(Default::default()).await.unwrap_err()));
        assert!(refused(ro.remove_network("n").await.unwrap_err()));
        assert!(refused(
            ro.create_secret(crate::cluster::NewObject::new("s", Default::default(), b"")).await.unwrap_err()
        ));
        assert!(refused(ro.remove_secret("s").await.unwrap_err()));
        assert_eq!(fake.update_calls(), 0);
        assert!(fake.spec("web").is_some());
    }

    #[tokio::test]
    async fn reading_a_plan_lists_missing_services_with_what_names_them() {
        let fake = FakeCluster::new();
        fake.add_service(ServiceSpec { name: Some("shop_web".into()), ..Default::default() });
        let (plan, _) = crate::simulation::Simulation::plan(
            "plan p {\n    stack shop\n    gate up { swarm shop_api; }\n    rolling web {\n        service shop_web\n        image \"a:2\"\n        gates up\n    }\n}\n",
        );
        let state = read(&ReadOnly(Arc::new(fake)), &plan).await.unwrap();
        assert_eq!(state.services.keys().collect::<Vec<_>>(), ["shop_web"]);
        assert_eq!(state.missing, [Missing { service: "shop_api".into(), named_by: "gate `up`".into() }]);
    }
}
