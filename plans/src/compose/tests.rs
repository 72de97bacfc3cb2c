use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "WEB_TAG" => Some("v2".into()),
        _ => None,
    }
}

fn read(text: &str) -> (Option<ComposeFile>, Vec<Diagnostic>) {
    load(text, &env)
}

fn line_of(text: &str, d: &Diagnostic) -> usize {
    text[..d.primary_span().offset].lines().count().max(1)
        + usize::from(text[..d.primary_span().offset].ends_with('\n'))
}

#[test]
fn the_example_compose_file_reads_with_interpolation_anchors_and_merge_keys() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/compose/docker-compose.yml"))
        .unwrap();
    let (file, diagnostics) = read(&text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let file = file.unwrap();
    let names: Vec<&str> = file.services.iter().map(|s| s.name.value.as_str()).collect();
    assert_eq!(names, ["web", "api", "agent"]);
    let web = file.service("web").unwrap();
    assert_eq!(web.image.value, "planrun-test/app:v2");
    assert_eq!(web.environment.get("APP_VERSION"), Some(&Some("web-v2".to_string())));
    assert_eq!(web.healthcheck.as_ref().unwrap().test[0], "CMD-SHELL");
    assert_eq!(web.healthcheck.as_ref().unwrap().interval, Some(1_000_000_000));
    assert_eq!(web.deploy.mode, Mode::Replicated(2));
    let api = file.service("api").unwrap();
    assert_eq!(api.image.value, "planrun-test/app:v1");
    let u = api.deploy.update_config.as_ref().unwrap();
    assert_eq!((u.parallelism, u.order.as_deref(), u.monitor), (Some(2), Some("start-first"), Some(5_000_000_000)));
    assert_eq!(api.networks, vec![("backend".to_string(), vec!["api-internal".to_string()])]);
    let agent = file.service("agent").unwrap();
    assert_eq!(agent.deploy.mode, Mode::Global);
    assert_eq!(agent.command.as_deref(), Some(&["/app/serve".to_string()][..]));
    assert_eq!(file.networks.len(), 2);
    assert_eq!(file.configs[0].file.as_deref(), Some("./app-config.txt"));
    assert_eq!(file.secrets[0].key, "api-token");
}

#[test]
fn unsupported_keys_are_warnings_at_their_line() {
    let text = "services:\n  web:\n    image: app\n    build: .\n    depends_on: [db]\n    deploy:\n      replicas: 2\n      rollback_window: 3\nvolumes:\n  data: {}\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_some());
    let found: Vec<(usize, String)> = diagnostics.iter().map(|d| (line_of(text, d), d.message.clone())).collect();
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(diagnostics.iter().all(|d| !d.is_error() && d.code == Code::ComposeUnsupported));
    assert_eq!(found[0].0, 4);
    assert!(found[0].1.contains("`build`"), "{}", found[0].1);
    assert_eq!(found[1].0, 5);
    assert_eq!(found[2].0, 8);
    assert!(found[2].1.contains("rollback_window"));
    assert_eq!(found[3].0, 9);
}

#[test]
fn bad_values_are_errors_at_the_value_and_nothing_is_returned() {
    let text = "services:\n  web:\n    image: app\n    deploy:\n      replicas: two\n      update_config:\n        order: start-frist\n  api:\n    deploy: {}\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let errors: Vec<(usize, &str)> =
        diagnostics.iter().filter(|d| d.is_error()).map(|d| (line_of(text, d), d.message.as_str())).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(errors[0].0, 5);
    assert!(errors[0].1.contains("whole number"));
    assert_eq!(errors[1].0, 7);
    assert_eq!(
        diagnostics.iter().find(|d| d.message.contains("start-frist")).unwrap().help.as_deref(),
        Some("did you mean `start-first`?")
    );
    assert!(errors[2].1.contains("has no `image`"));
}

#[test]
fn interpolation_errors_and_unset_variables_point_into_the_value() {
    let text =
        "services:\n  web:\n    image: \"app:${TAG:?set TAG to the release}\"\n    environment:\n      A: $UNSET_ONE\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let e = diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!(e.message, "required variable: set TAG to the release");
    assert_eq!(e.primary_span().offset, text.find("${TAG").unwrap());
    let w = diagnostics.iter().find(|d| !d.is_error()).unwrap();
    assert!(w.message.contains("`UNSET_ONE` is not set"));
    assert_eq!(w.primary_span().offset, text.find("$UNSET").unwrap());
}

#[test]
fn references_to_undeclared_networks_configs_and_secrets_are_errors() {
    let text = "services:\n  web:\n    image: app\n    networks: [front]\n    configs: [app-conf]\nconfigs:\n  app-config:\n    file: ./a\n";
    let (_, diagnostics) = read(text);
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("network `front`")), "{messages:?}");
    let c = diagnostics.iter().find(|d| d.message.contains("config `app-conf`")).unwrap();
    assert_eq!(c.help.as_deref(), Some("did you mean `app-config`?"));
}

#[test]
fn short_and_long_ports_command_strings_and_sizes() {
    let text = "services:\n  web:\n    image: app\n    command: serve --name 'a b'\n    ports:\n      - \"8080:80\"\n      - 53/udp\n      - target: 81\n        published: 8081\n        mode: host\n    deploy:\n      resources:\n        limits: {cpus: \"0.5\", memory: 256M}\n";
    let (file, diagnostics) = read(text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let web = file.unwrap().services.remove(0);
    assert_eq!(web.command.unwrap(), ["serve", "--name", "a b"]);
    assert_eq!(
        web.ports[0],
        Port { target: 80, published: Some(8080), protocol: "tcp".into(), mode: "ingress".into() }
    );
    assert_eq!(web.ports[1].protocol, "udp");
    assert_eq!(web.ports[2].mode, "host");
    assert_eq!(web.deploy.limits, Resources { nano_cpus: Some(500_000_000), memory: Some(256 * 1024 * 1024) });
}

#[test]
fn go_durations_and_sizes() {
    assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
    assert_eq!(go_duration("500ms"), Some(500_000_000));
    assert_eq!(go_duration("1.5s"), Some(1_500_000_000));
    assert_eq!(go_duration("0"), Some(0));
    assert_eq!(go_duration("10"), None);
    assert_eq!(go_duration("5 s"), None);
    assert_eq!(ram_bytes("1g"), Some(1 << 30));
    assert_eq!(ram_bytes("64mb"), Some(64 << 20));
    assert_eq!(ram_bytes("lots"), None);
}

#[test]
fn not_yaml_and_a_duplicated_service_are_errors() {
    let (file, diagnostics) = read("services:\n  web:\n    image: [\n");
    assert!(file.is_none());
    assert!(diagnostics[0].message.starts_with("not a compose file"));
    let (_, diagnostics) = read("services:\n  web: {image: a}\n  web: {image: b}\n");
    assert_eq!(diagnostics[0].labels.len(), 2);
}
