//! The fake swarm behind the `Cluster` trait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ObjectVersion, Service, ServiceSpec, ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskState};
use tokio::time::Instant;

use super::*;
use crate::cluster::{
    Cluster, ClusterError, ConfigObject, Network, NewNetwork, NewObject, Revision, SecretObject, ServiceCounts,
};

#[async_trait]
impl Cluster for FakeCluster {
    async fn service(&self, name: &str) -> Result<Service, ClusterError> {
        let state = self.lock();
        state
            .find(name)
            .map(|s| Service::clone(&s.service))
            .ok_or_else(|| ClusterError::NotFound(format!("service {name}")))
    }

    async fn update_service(&self, id: &str, version: u64, spec: ServiceSpec) -> Result<(), ClusterError> {
        let overwrite = self.lock().overwrite.take();
        if let Some(theirs) = overwrite {
            let current = self.service(id).await?.version.and_then(|v| v.index).unwrap_or(0);
            self.update_service(id, current, theirs).await?;
            return Err(ClusterError::OutOfSequence);
        }
        let (generation, rolling) = {
            let mut state = self.lock();
            state.updates += 1;
            let index = state.next_index();
            let interfere = state.interfere > 0;
            state.interfere = state.interfere.saturating_sub(1);
            let s = state.find_mut(id).ok_or_else(|| ClusterError::NotFound(format!("service {id}")))?;
            let current = s.service.version.as_ref().and_then(|v| v.index).unwrap_or(0);
            if interfere {
                // Another writer got there first.
                Arc::make_mut(&mut s.service).version = Some(ObjectVersion { index: Some(index) });
                return Err(ClusterError::OutOfSequence);
            }
            if version != current {
                return Err(ClusterError::OutOfSequence);
            }
            let (template_changed, scaled, dirty) = {
                let unset_spec = ServiceSpec::default();
                let old = s.service.spec.as_ref().unwrap_or(&unset_spec);
                let unset = TaskSpec::default();
                let new_template = spec.task_template.as_ref().unwrap_or(&unset);
                // Tasks an interrupted update left on an older template: Swarm's updater
                // replaces them on any later write, with the new spec's update config.
                // A task sharing the spec the last tasks started with runs the new template when
                // that spec is it: compared once, not per task.
                let shared = s.template.as_ref().filter(|shared| ***shared == *new_template);
                let on_new = |t: &SeenTask| match (&t.spec, shared) {
                    (Some(own), Some(shared)) if Arc::ptr_eq(own, shared) => true,
                    (own, _) => own.as_deref() == Some(new_template),
                };
                let dirty = s.tasks.iter().any(|t| t.desired_state == Some(TaskState::RUNNING) && !on_new(t));
                let old_template = old.task_template.as_ref().unwrap_or(&unset);
                (old_template != new_template, replicas(old) != replicas(&spec), dirty)
            };
            let service = Arc::make_mut(&mut s.service);
            s.previous = Some(service.spec.replace(spec).unwrap_or_default());
            service.version = Some(ObjectVersion { index: Some(index) });
            // Swarm resets the update status on every update; only a new task template starts one.
            service.update_status = None;
            s.generation += 1;
            let generation = s.generation;
            let sid = s.service.id.clone().unwrap_or_default();
            (generation, (template_changed || scaled || dirty).then_some((sid, template_changed || dirty)))
        };
        if let Some((sid, updating)) = rolling {
            let fake = self.clone();
            let after = self.lock().timing.updater;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                {
                    let mut state = fake.lock();
                    if state.generation(&sid) != Some(generation) {
                        return;
                    }
                    if updating {
                        set_status(&mut state, &sid, ServiceUpdateStatusStateEnum::UPDATING, "update in progress");
                    }
                }
                fake.rollout(sid, generation, false).await;
            });
        }
        Ok(())
    }

    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, ClusterError> {
        let state = self.lock();
        state
            .find(service_id)
            .map(|s| s.tasks.iter().map(|t| with_container(as_read(t), state.here.as_deref())).collect())
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))
    }

    /// The fake's own tasks, shared. Unlike `tasks`, their specs are whole (a real daemon's
    /// leave out the restart policy, stop grace period and health check): nothing that
    /// follows or watches a service reads those.
    async fn shared_tasks(&self, service_id: &str) -> Result<crate::cluster::SharedTasks, ClusterError> {
        let state = self.lock();

        state
            .find(service_id)
            .map(|s| s.tasks.clone())
            .ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))
    }

    async fn shared_service(&self, name: &str) -> Result<Arc<Service>, ClusterError> {
        let state = self.lock();
        state.find(name).map(|s| s.service.clone()).ok_or_else(|| ClusterError::NotFound(format!("service {name}")))
    }

    async fn revision(&self, service_id: &str) -> Revision {
        self.lock().find(service_id).map_or(0, |s| *s.revision.borrow())
    }

    async fn changed(&self, services: &[(String, Revision)], until: Instant) {
        let mut waits = Vec::new();
        {
            let state = self.lock();
            for (id, seen) in services {
                match state.find(id) {
                    Some(s) if *s.revision.borrow() == *seen => waits.push(s.revision.subscribe()),
                    // Changed already, or removed.
                    _ => return,
                }
            }
        }
        if waits.is_empty() {
            tokio::time::sleep_until(until).await;
            return;
        }
        // Most loops follow one service: its change alone, without a list of boxed waits.
        if let [wait] = waits.as_mut_slice() {
            let _ = tokio::time::timeout_at(until, wait.changed()).await;
            return;
        }
        let changes = waits.iter_mut().map(|w| Box::pin(w.changed()));
        let any = futures_util::future::select_all(changes);
        // A service removed meanwhile ends its channel: a change too.
        let _ = tokio::time::timeout_at(until, any).await;
    }

    fn quiet_limit(&self) -> Option<Duration> {
        // Every change of the fake wakes its waiters.
        None
    }

    async fn counts(&self, service_id: &str) -> Result<ServiceCounts, ClusterError> {
        let state = self.lock();
        let s = state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let spec = s.service.spec.clone().unwrap_or_default();
        let running = s.tasks.iter().filter(|t| running(t)).count() as u64;
        // dockerd counts a global service's tasks that want to run; the fake counts the nodes
        // that should run one, which is what those tasks add up to once the service converged.
        let desired = if is_global(&spec) { state.nodes.0.len() as u64 } else { replicas(&spec) };
        Ok(ServiceCounts { running, desired })
    }

    async fn create_config(&self, config: NewObject) -> Result<String, ClusterError> {
        let NewObject { name, labels, data, .. } = config;
        let (name, data) = (name.as_str(), data.as_slice());
        let mut state = self.lock();
        if state.configs.iter().any(|c| c.name == name) {
            return Err(ClusterError::Conflict(format!("config {name}")));
        }
        let id = state.new_id("config");
        let version = state.next_index();
        let config = ConfigObject { id: id.clone(), name: name.to_string(), labels, data: data.to_vec(), version };
        state.configs.push(config);
        Ok(id)
    }

    async fn update_config_labels(
        &self,
        id: &str,
        version: u64,
        labels: HashMap<String, String>,
    ) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let next = state.next_index();
        let Some(config) = state.configs.iter_mut().find(|c| c.id == id) else {
            return Err(ClusterError::NotFound(format!("config {id}")));
        };
        if config.version != version {
            return Err(ClusterError::OutOfSequence);
        }
        config.labels = labels;
        config.version = next;
        Ok(())
    }

    async fn config(&self, name: &str) -> Result<Option<ConfigObject>, ClusterError> {
        Ok(self.lock().configs.iter().find(|c| c.name == name).cloned())
    }

    async fn api_version(&self) -> Option<(u32, u32)> {
        self.lock().api
    }

    async fn nodes_down(&self) -> Vec<(String, String)> {
        self.lock().down.iter().map(|n| (n.clone(), format!("{n}.host"))).collect()
    }

    async fn secrets(&self, label: &str) -> Result<Vec<SecretObject>, ClusterError> {
        let matches = |labels: &HashMap<String, String>| match label.split_once('=') {
            Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
            None => labels.contains_key(label),
        };
        Ok(self.lock().secrets.iter().filter(|(s, _)| matches(&s.labels)).map(|(s, _)| s.clone()).collect())
    }

    async fn configs(&self, label: &str) -> Result<Vec<ConfigObject>, ClusterError> {
        let matches = |labels: &HashMap<String, String>| match label.split_once('=') {
            Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
            None => labels.contains_key(label),
        };
        Ok(self.lock().configs.iter().filter(|c| matches(&c.labels)).cloned().collect())
    }

    async fn network(&self, name_or_id: &str) -> Result<Option<Network>, ClusterError> {
        Ok(self.lock().networks.iter().find(|n| n.id == name_or_id || n.name == name_or_id).cloned())
    }

    async fn create_network(&self, network: NewNetwork) -> Result<String, ClusterError> {
        let mut state = self.lock();
        if state.networks.iter().any(|n| n.name == network.name) {
            return Err(ClusterError::Conflict(format!("network {}", network.name)));
        }
        let id = state.new_id("network");
        state.networks.push(Network { id: id.clone(), name: network.name });
        Ok(id)
    }

    async fn remove_network(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let Some(network) = state.networks.iter().find(|n| n.id == id || n.name == id).cloned() else {
            return Err(ClusterError::NotFound(format!("network {id}")));
        };
        // As the daemon does: a network a service is attached to cannot be removed.
        let in_use = state.services.values().any(|s| {
            let networks =
                s.service.spec.as_ref().and_then(|spec| spec.task_template.as_ref()).and_then(|t| t.networks.clone());
            networks.unwrap_or_default().iter().any(|n| n.target.as_deref() == Some(network.id.as_str()))
        });
        if in_use {
            return Err(ClusterError::Other(format!("network {} is in use by a service", network.name)));
        }
        state.networks.retain(|n| n.id != network.id);
        Ok(())
    }

    async fn secret(&self, name: &str) -> Result<Option<SecretObject>, ClusterError> {
        Ok(self.lock().secrets.iter().find(|(s, _)| s.name == name).map(|(s, _)| s.clone()))
    }

    async fn create_secret(&self, secret: NewObject) -> Result<String, ClusterError> {
        let NewObject { name, labels, data, .. } = secret;
        let (name, data) = (name.as_str(), data.as_slice());
        let mut state = self.lock();
        if state.secrets.iter().any(|(s, _)| s.name == name) {
            return Err(ClusterError::Conflict(format!("secret {name}")));
        }
        let id = state.new_id("secret");
        state.secrets.push((SecretObject { id: id.clone(), name: name.to_string(), labels }, data.to_vec()));
        Ok(id)
    }

    async fn remove_secret(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let before = state.secrets.len();
        state.secrets.retain(|(s, _)| s.id != id);
        if state.secrets.len() == before {
            return Err(ClusterError::NotFound(format!("secret {id}")));
        }
        Ok(())
    }

    async fn remove_config(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        // As the daemon does: a config a service mounts cannot be removed.
        let in_use = state.services.values().any(|s| {
            let configs = s
                .service
                .spec
                .as_ref()
                .and_then(|spec| spec.task_template.as_ref())
                .and_then(|t| t.container_spec.as_ref())
                .and_then(|c| c.configs.clone());
            configs.unwrap_or_default().iter().any(|c| c.config_id.as_deref() == Some(id))
        });
        if in_use {
            return Err(ClusterError::Other(format!("config {id} is in use by a service")));
        }
        let before = state.configs.len();
        state.configs.retain(|c| c.id != id);
        if state.configs.len() == before {
            return Err(ClusterError::NotFound(format!("config {id}")));
        }
        Ok(())
    }

    async fn create_service(&self, spec: ServiceSpec) -> Result<String, ClusterError> {
        let name = spec.name.clone().unwrap_or_default();
        let (id, job) = {
            let mut state = self.lock();
            if state.find(&name).is_some() {
                return Err(ClusterError::Conflict(format!("service {name}")));
            }
            (insert_service(&mut state, spec.clone()), is_job(&spec))
        };
        if job {
            tokio::spawn(self.clone().run_job(id.clone(), 0));
        } else {
            let (target, places) = {
                let mut state = self.lock();
                let target = state.services.get_mut(&id).map(|s| s.template_for(&spec)).unwrap_or_default();
                (target, state.places(&spec))
            };
            for place in places {
                let (task, start) = self.start_in(&id, 0, &place, &target, Duration::ZERO);
                let (fake, id, target) = (self.clone(), id.clone(), target.clone());
                tokio::spawn(async move { fake.settle(&id, 0, &task, start, &target).await });
            }
        }
        Ok(id)
    }

    async fn remove_service(&self, id: &str) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let key = state
            .find(id)
            .and_then(|s| s.service.id.clone())
            .ok_or_else(|| ClusterError::NotFound(format!("service {id}")))?;
        if let Some(removed) = state.services.remove(&key)
            && let Some(name) = removed.service.spec.as_ref().and_then(|s| s.name.clone())
        {
            state.by_name.remove(&name);
        }
        Ok(())
    }

    async fn services(&self, label: &str) -> Result<Vec<Service>, ClusterError> {
        let state = self.lock();
        let mut found: Vec<Service> = state
            .services
            .values()
            .filter(|s| s.service.spec.as_ref().is_some_and(|spec| has_label(spec, label)))
            .map(|s| Service::clone(&s.service))
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    async fn unhealthy(&self, _service_id: &str) -> Result<Vec<(String, String)>, ClusterError> {
        // The fake's tasks die the moment they turn unhealthy.
        Ok(Vec::new())
    }

    async fn logs(&self, service_id: &str, tail: usize) -> Result<String, ClusterError> {
        let state = self.lock();
        let s = state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        let from = s.logs.len().saturating_sub(tail);
        Ok(s.logs[from..].iter().map(|l| format!("{l}\n")).collect())
    }

    async fn post_mortem(&self, task: &Task, log_lines: usize) -> crate::cluster::PostMortem {
        let image = task.spec.as_ref().map(image_of).unwrap_or_default();
        let (container, log) = self.lock().ends.get(&image).cloned().unwrap_or_default();
        let from = log.len().saturating_sub(log_lines);
        let lines = log[from..].to_vec();
        crate::cluster::PostMortem {
            node: task.node_id.clone(),
            container,
            logs: Ok(crate::cluster::post_mortem::LogTail { lines, cut: from > 0 }),
        }
    }

    async fn local_container(&self, service_id: &str) -> Result<Option<String>, ClusterError> {
        // The fake's tasks have no containers: database work goes through jobs here, and
        // steps are tested with the fake database (crate::database::fake).
        let state = self.lock();
        state.find(service_id).ok_or_else(|| ClusterError::NotFound(format!("service {service_id}")))?;
        Ok(None)
    }

    async fn stop_container(&self, id: &str, _grace: Duration) -> Result<(), ClusterError> {
        let mut state = self.lock();
        let here = state.here.clone();
        // This node's daemon knows only this node's containers.
        let known = state.services.values().flat_map(|s| s.tasks.iter()).any(|t| {
            let task = with_container(as_read(t), here.as_deref());
            let container = task.status.and_then(|s| s.container_status).and_then(|c| c.container_id);
            task.node_id.is_some() && task.node_id == here && container.as_deref() == Some(id)
        });
        // One this daemon does not know (gone, or on another node) is not an error, as on
        // the real daemon (its 404); only the stops of this node's containers are recorded.
        if known {
            state.stopped.push(id.to_owned());
        }
        Ok(())
    }

    async fn node_taking_tasks_here(&self) -> Option<String> {
        self.lock().here.clone()
    }

    async fn exec(&self, exec: crate::cluster::Exec) -> Result<crate::cluster::Executed, ClusterError> {
        Err(ClusterError::NotFound(format!("container {} (the fake swarm has no containers)", exec.container)))
    }

    async fn logs_to(&self, service_id: &str, to: &std::path::Path) -> Result<u64, ClusterError> {
        let text = self.logs(service_id, usize::MAX).await?;
        crate::private::write(to, text.as_bytes()).map_err(|e| ClusterError::Other(format!("local file: {e}")))?;
        Ok(text.len() as u64)
    }
}

/// A running task as the real swarm shows it, once a test says which node planrun talks to:
/// with its container, on whichever node.
fn with_container(mut task: Task, here: Option<&str>) -> Task {
    let running = task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING);
    if running && here.is_some() {
        let id = format!("container-{}", task.id.as_deref().unwrap_or_default());
        if let Some(status) = task.status.as_mut() {
            let container = status.container_status.get_or_insert_with(Default::default);
            container.container_id = Some(id);
        }
    }
    task
}
