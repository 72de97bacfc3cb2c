//! The watch service's spec: one replica of planrun's own image on a manager, restarted when
//! it fails, with the Docker socket (it reads the run state and undoes through it) and on the
//! `host` network (gates name addresses as the releasing machine reached them, such as a
//! Prometheus at http://127.0.0.1:9090).

use std::collections::HashMap;

use bollard::models::{
    Mount, MountType, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
    TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use super::{GATES_LABEL, ON_LABEL, RUN_LABEL, STACK_LABEL, UNTIL_LABEL, image, service_name};

/// What the service is made of.
pub struct Watcher<'a> {
    /// The stack watched.
    pub stack: &'a str,
    /// The run watched.
    pub run_id: &'a str,
    /// When the window ends, RFC 3339.
    pub until: &'a str,
    /// The gates, separated by spaces (for `planrun status`).
    pub gates: &'a str,
    /// `rollback` or `notify`.
    pub on_regression: &'a str,
    /// planrun's image.
    pub image: &'a str,
    /// The id of the `host` network.
    pub host_network: &'a str,
}

/// The Docker socket, on the manager and in the container.
const SOCKET: &str = "/var/run/docker.sock";

/// The service spec.
pub fn spec(w: &Watcher<'_>) -> ServiceSpec {
    let labels = HashMap::from([
        (STACK_LABEL.to_string(), w.stack.to_string()),
        (RUN_LABEL.to_string(), w.run_id.to_string()),
        (UNTIL_LABEL.to_string(), w.until.to_string()),
        (GATES_LABEL.to_string(), w.gates.to_string()),
        (ON_LABEL.to_string(), w.on_regression.to_string()),
    ]);
    let command = [image::BINARY, "watch", w.stack, "--run", w.run_id];
    ServiceSpec {
        name: Some(service_name(w.stack)),
        labels: Some(labels),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(w.image.to_string()),
                command: Some(command.iter().map(|s| s.to_string()).collect()),
                env: Some(vec!["PATH=/usr/local/bin:/bin".into(), "HOME=/tmp".into()]),
                mounts: Some(vec![Mount {
                    target: Some(SOCKET.into()),
                    source: Some(SOCKET.into()),
                    typ: Some(MountType::BIND),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE),
                delay: Some(5_000_000_000),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(vec!["node.role==manager".into()]),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(w.host_network.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_runs_once_on_a_manager_with_the_socket_on_the_host_network_and_says_what_it_watches() {
        let spec = spec(&Watcher {
            stack: "shop",
            run_id: "r-1",
            until: "2026-12-07T08:00:00Z",
            gates: "a b",
            on_regression: "rollback",
            image: "planrun/planrun:0.1.0-abc",
            host_network: "host-id",
        });
        assert_eq!(spec.name.as_deref(), Some("planrun-watch-shop"));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["Mode"]["Replicated"]["Replicas"], 1);
        let task = &json["TaskTemplate"];
        assert_eq!(task["RestartPolicy"]["Condition"], "on-failure");
        assert_eq!(task["Placement"]["Constraints"], serde_json::json!(["node.role==manager"]));
        assert_eq!(task["Networks"][0]["Target"], "host-id");
        let container = &task["ContainerSpec"];
        assert_eq!(
            container["Command"],
            serde_json::json!(["/usr/local/bin/planrun", "watch", "shop", "--run", "r-1"])
        );
        assert_eq!(container["Mounts"][0]["Source"], "/var/run/docker.sock");
        assert_eq!(container["Mounts"][0]["Type"], "bind");
        let labels = &json["Labels"];
        assert_eq!(labels["planrun.watch.until"], "2026-12-07T08:00:00Z");
        assert_eq!(labels["planrun.watch.gates"], "a b");
        assert_eq!(labels["planrun.watch.run-id"], "r-1");
    }
}
