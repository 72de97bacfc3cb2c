//! The stack's specs against the docker CLI's rules, on the example compose file.

use plans::compose::{self, ComposeFile};

use super::*;
use crate::services::STACK_LABEL;

fn example() -> ComposeFile {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/compose/docker-compose.yml"))
        .unwrap();
    let (file, d) = compose::load(&text, compose::Context { lookup: &|_| None, dir: "/srv/compose" });
    assert!(d.is_empty(), "{d:?}");
    file.unwrap()
}

#[test]
fn names_labels_networks_and_defaults_follow_the_docker_cli() {
    let file = example();
    let nets = networks("shop", &file);
    let names: Vec<&str> = nets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["shop_frontend", "shop_backend"]);
    let ids = Ids {
        networks: [("shop_frontend".into(), "F".into()), ("shop_backend".into(), "B".into())].into(),
        configs: [("shop_app-config".into(), "C".into())].into(),
        secrets: [("shop_api-token".into(), "S".into())].into(),
    };
    let web = service_spec("shop", &file, file.service("web").unwrap(), &ids);
    assert_eq!(web.name.as_deref(), Some("shop_web"));
    let labels = web.labels.as_ref().unwrap();
    assert_eq!(labels[STACK_LABEL], "shop");
    assert_eq!(labels[IMAGE_LABEL], "planrun-test/app:v1");
    assert_eq!(labels["shop.tier"], "front");
    let t = web.task_template.as_ref().unwrap();
    let targets: Vec<&str> = t.networks.as_ref().unwrap().iter().map(|n| n.target.as_deref().unwrap()).collect();
    assert_eq!(targets, ["B", "F"], "ordered by network name, as the docker CLI does");
    let c = t.container_spec.as_ref().unwrap();
    assert_eq!(c.env.as_deref(), Some(&["APP_VERSION=web-v1".to_string()][..]));
    assert_eq!(c.configs.as_ref().unwrap()[0].config_id.as_deref(), Some("C"));
    assert_eq!(c.stop_grace_period, None, "left to Swarm's default, as the docker CLI leaves it");
    let api = service_spec("shop", &file, file.service("api").unwrap(), &ids);
    let t = api.task_template.unwrap();
    assert_eq!(t.networks.unwrap()[0].aliases.as_deref(), Some(&["api-internal".to_string(), "api".to_string()][..]));
    let secret = &t.container_spec.unwrap().secrets.unwrap()[0];
    assert_eq!(secret.file.as_ref().unwrap().name.as_deref(), Some("api-token"));
    assert_eq!(secret.file.as_ref().unwrap().mode, Some(0o444));
}

#[test]
fn an_unchanged_spec_is_the_same_and_any_change_is_not() {
    let file = example();
    let ids = Ids::default();
    let web = file.service("web").unwrap();
    let desired = service_spec("shop", &file, web, &ids);
    let mut live = desired.clone();
    // What the daemon fills in does not count.
    let t = live.task_template.as_mut().unwrap();
    t.force_update = Some(0);
    t.runtime = Some("container".into());
    assert!(same_spec(&desired, &live));
    let mut changed = web.clone();
    changed.image.value = "planrun-test/app:v2".into();
    assert!(!same_spec(&service_spec("shop", &file, &changed, &ids), &live));
    let mut no_health = web.clone();
    no_health.healthcheck = None;
    assert!(!same_spec(&service_spec("shop", &file, &no_health, &ids), &live), "a removed health check is a change");
}

#[test]
fn a_spec_with_swarms_defaults_spelled_out_is_the_same_as_one_that_leaves_them_out() {
    let file = example();
    let web = service_spec("shop", &file, file.service("agent").unwrap(), &Ids::default());
    assert!(
        web.update_config.is_none()
            && web.task_template.as_ref().unwrap().container_spec.as_ref().unwrap().dns_config.is_none()
    );
    let mut spelled = web.clone();
    spelled.update_config = Some(bollard::models::ServiceSpecUpdateConfig {
        parallelism: Some(1),
        failure_action: Some(bollard::models::ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
        monitor: Some(5_000_000_000),
        max_failure_ratio: Some(0.0),
        order: Some(bollard::models::ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
        ..Default::default()
    });
    let t = spelled.task_template.as_mut().unwrap();
    t.container_spec.as_mut().unwrap().stop_grace_period = Some(10_000_000_000);
    t.container_spec.as_mut().unwrap().dns_config = Some(Default::default());
    assert!(same_spec(&web, &spelled) && same_spec(&spelled, &web));
    let mut slower = spelled.clone();
    slower.update_config.as_mut().unwrap().monitor = Some(9_000_000_000);
    assert!(!same_spec(&web, &slower), "a setting other than the default is a change");
}

#[test]
fn fields_an_older_daemon_does_not_keep_are_no_change_there() {
    let file = example();
    let web = service_spec("shop", &file, file.service("web").unwrap(), &Ids::default());
    let mut desired = web.clone();
    let health =
        desired.task_template.as_mut().unwrap().container_spec.as_mut().unwrap().health_check.as_mut().unwrap();
    health.start_interval = Some(1_000_000_000);
    // dockerd 20.10 (API 1.41) kept the spec without it.
    assert!(same_spec_at(&desired, &web, Some((1, 41))));
    assert!(!same_spec_at(&desired, &web, Some((1, 44))), "a daemon that keeps it has it changed");
    assert!(!same_spec(&desired, &web));
}
