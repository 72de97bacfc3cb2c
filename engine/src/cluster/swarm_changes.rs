//! Changes of services heard on Docker's event stream, for the real swarm's
//! `Cluster::revision` and `Cluster::changed`.
//!
//! One `GET /events` per connection, opened the first time a loop asks, filtered to what moves
//! a rollout: service events (`update` carries Swarm's update state) and the life of the
//! containers on this node (create, start, health status, die, stop, kill, destroy, oom; not
//! the `exec_*` events a health check makes every interval). Each event counts as a change of
//! the service its actor belongs to (a container's `com.docker.swarm.service.id` label). A
//! stream that ends or fails counts as a change of everything, and is opened again a second
//! later. Containers on other nodes send nothing here: loops also look now and then
//! (`Cluster::quiet_limit`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Revision;

/// The container events that say a task moved.
const CONTAINER_EVENTS: [&str; 8] = ["create", "start", "health_status", "die", "stop", "kill", "destroy", "oom"];

/// Service events.
const SERVICE_EVENTS: [&str; 3] = ["create", "update", "remove"];

/// How long after a failed or ended stream it is opened again.
const RECONNECT: Duration = Duration::from_secs(1);

/// What the event stream said so far, shared by the clones of one `Swarm`.
#[derive(Default)]
pub(super) struct Changes {
    heard: Mutex<Heard>,
    /// Bumped on every event: wakes the waiters, who then compare their services' counts.
    any: watch::Sender<u64>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
struct Heard {
    by_service: HashMap<String, Revision>,
    /// Streams lost (each one may have hidden any change).
    lost: Revision,
}

impl Drop for Changes {
    fn drop(&mut self) {
        if let Ok(mut listener) = self.listener.lock()
            && let Some(task) = listener.take()
        {
            task.abort();
        }
    }
}

impl Changes {
    /// The changes of `service_id` heard so far; opens the stream the first time.
    pub(super) fn revision(self: &Arc<Self>, docker: &Docker, service_id: &str) -> Revision {
        self.listen(docker);
        let heard = self.heard.lock().expect("changes poisoned");
        heard.by_service.get(service_id).copied().unwrap_or(0) + heard.lost
    }

    /// Waits until one of `services` changed past the revision given, or until `until`.
    pub(super) async fn changed(self: &Arc<Self>, docker: &Docker, services: &[(String, Revision)], until: Instant) {
        self.listen(docker);
        let mut any = self.any.subscribe();
        let wait = async {
            loop {
                if services.iter().any(|(id, seen)| self.revision(docker, id) != *seen) {
                    return;
                }
                if any.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout_at(until, wait).await;
    }

    /// Starts the listener unless it runs.
    fn listen(self: &Arc<Self>, docker: &Docker) {
        let mut listener = self.listener.lock().expect("changes poisoned");
        if listener.is_none() {
            *listener = Some(tokio::spawn(listen(Arc::downgrade(self), docker.clone())));
        }
    }

    fn heard(&self, event: &EventMessage) {
        let Some(service) = service_of(event) else { return };
        *self.heard.lock().expect("changes poisoned").by_service.entry(service).or_default() += 1;
        self.any.send_modify(|n| *n += 1);
    }

    fn lost(&self) {
        self.heard.lock().expect("changes poisoned").lost += 1;
        self.any.send_modify(|n| *n += 1);
    }
}

/// Reads the event stream for as long as the `Swarm` lives, opening it again when it ends.
async fn listen(changes: Weak<Changes>, docker: Docker) {
    let filters = HashMap::from([
        ("type".to_owned(), vec!["service".to_owned(), "container".to_owned()]),
        ("event".to_owned(), CONTAINER_EVENTS.iter().chain(&SERVICE_EVENTS).map(|e| (*e).to_owned()).collect()),
    ]);
    loop {
        let options = EventsOptions { filters: Some(filters.clone()), ..Default::default() };
        let mut stream = docker.events(Some(options));
        while let Some(event) = stream.next().await {
            let Some(changes) = changes.upgrade() else { return };
            match event {
                Ok(event) => changes.heard(&event),
                Err(_) => break,
            }
        }
        let Some(changes) = changes.upgrade() else { return };
        changes.lost();
        drop(changes);
        tokio::time::sleep(RECONNECT).await;
    }
}

/// The service an event is about: a service event's actor, or a task container's service.
fn service_of(event: &EventMessage) -> Option<String> {
    let actor = event.actor.as_ref()?;
    match event.typ? {
        EventMessageTypeEnum::SERVICE => actor.id.clone(),
        EventMessageTypeEnum::CONTAINER => actor.attributes.as_ref()?.get("com.docker.swarm.service.id").cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn event(typ: EventMessageTypeEnum, id: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(typ),
            action: Some("start".into()),
            actor: Some(EventActor {
                id: Some(id.into()),
                attributes: Some(attributes.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_event_belongs_to_its_service_or_to_none() {
        assert_eq!(service_of(&event(EventMessageTypeEnum::SERVICE, "svc1", &[])).as_deref(), Some("svc1"));
        let task = event(EventMessageTypeEnum::CONTAINER, "c1", &[("com.docker.swarm.service.id", "svc2")]);
        assert_eq!(service_of(&task).as_deref(), Some("svc2"));
        assert_eq!(service_of(&event(EventMessageTypeEnum::CONTAINER, "c2", &[("name", "plain")])), None);
        assert_eq!(service_of(&event(EventMessageTypeEnum::NETWORK, "n1", &[])), None);
    }

    #[test]
    fn each_event_is_a_change_of_its_service_and_a_lost_stream_of_all() {
        let changes = Changes::default();
        changes.heard(&event(EventMessageTypeEnum::SERVICE, "a", &[]));
        changes.heard(&event(EventMessageTypeEnum::SERVICE, "a", &[]));
        changes.lost();
        let heard = changes.heard.lock().unwrap();
        assert_eq!(heard.by_service.get("a").copied().unwrap_or(0) + heard.lost, 3);
        assert_eq!(heard.by_service.get("b").copied().unwrap_or(0) + heard.lost, 1);
    }
}
