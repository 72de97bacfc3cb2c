use super::*;
use crate::diagnostic::Code;

fn env(name: &str) -> Option<String> {
    match name {
        "WEB_TAG" => Some("v2".into()),
        _ => None,
    }
}

fn read(text: &str) -> (Option<ComposeFile>, Vec<Diagnostic>) {
    load(text, Context { lookup: &env, dir: "/srv/shop" })
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
    assert_eq!(web.healthcheck.as_ref().unwrap().test.as_ref().unwrap()[0], "CMD-SHELL");
    assert_eq!(web.healthcheck.as_ref().unwrap().interval, Some(1_000_000_000));
    assert_eq!(web.deploy.mode, Mode::Replicated(2));
    let api = file.service("api").unwrap();
    assert_eq!(api.image.value, "planrun-test/app:v1");
    let u = api.deploy.update_config.as_ref().unwrap();
    assert_eq!((u.parallelism, u.order.as_deref(), u.monitor), (Some(2), Some("start-first"), Some(5_000_000_000)));
    let networks: Vec<(&str, &[String])> = api.networks.iter().map(|a| (a.key.as_str(), &a.aliases[..])).collect();
    assert_eq!(networks, [("backend", &["api-internal".to_string()][..])]);
    let agent = file.service("agent").unwrap();
    assert_eq!(agent.deploy.mode, Mode::Global);
    assert_eq!(agent.command.as_deref(), Some(&["/app/serve".to_string()][..]));
    assert_eq!(file.networks.len(), 2);
    assert_eq!(file.configs[0].file.as_deref(), Some("./app-config.txt"));
    assert_eq!(file.secrets[0].key, "api-token");
}

#[test]
fn keys_docker_ignores_are_warnings_and_keys_it_refuses_are_errors_at_their_line() {
    let text = "services:\n  web:\n    image: app\n    build: .\n    depends_on: [db]\n    tmpfs: /run\n    deploy:\n      replicas: 2\n      rollback_window: 3\n    enviroment: {A: 1}\nvolumes:\n  data: {}\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let found: Vec<(usize, bool, String)> =
        diagnostics.iter().map(|d| (line_of(text, d), d.is_error(), d.message.clone())).collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    let warnings: Vec<usize> = found.iter().filter(|f| !f.1).map(|f| f.0).collect();
    assert_eq!(warnings, [4, 5, 6], "build (docker warns), depends_on and tmpfs (docker drops them silently)");
    assert!(found[0].2.contains("ignores `build`"), "{}", found[0].2);
    assert!(found[1].2.contains("silently drops `depends_on`"), "{}", found[1].2);
    let errors: Vec<&(usize, bool, String)> = found.iter().filter(|f| f.1).collect();
    assert_eq!((errors[0].0, errors[1].0), (9, 10));
    assert!(errors[0].2.contains("Additional property rollback_window is not allowed"), "{}", errors[0].2);
    let typo = diagnostics.iter().find(|d| d.message.contains("enviroment")).unwrap();
    assert_eq!(typo.help.as_deref(), Some("did you mean `environment`?"));
}

#[test]
fn keys_docker_forbids_are_errors_in_its_words() {
    let text = "services:\n  web:\n    image: app\n    mem_limit: 1g\n    restart: always\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let e = diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert!(
        e.message.contains("Set resource limits using deploy.resources") || e.message.contains("set resource limits"),
        "{}",
        e.message
    );
    assert_eq!(line_of(text, e), 4);
    let w = diagnostics.iter().find(|d| !d.is_error()).unwrap();
    assert!(w.message.contains("deploy.restart_policy"), "restart is applied, with docker's warning: {}", w.message);
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
        Port { target: 80, published: Some(8080), protocol: Some("tcp".into()), mode: Some("ingress".into()) }
    );
    assert_eq!(web.ports[1].protocol.as_deref(), Some("udp"));
    assert_eq!(web.ports[2].mode.as_deref(), Some("host"));
    assert_eq!(
        web.deploy.limits,
        Some(Resources { nano_cpus: Some(500_000_000), memory: Some(256 * 1024 * 1024), ..Resources::default() })
    );
}

#[test]
fn not_yaml_and_a_duplicated_service_are_errors() {
    let (file, diagnostics) = read("services:\n  web:\n    image: [\n");
    assert!(file.is_none());
    assert!(diagnostics[0].message.starts_with("not a compose file"));
    let (_, diagnostics) = read("services:\n  web: {image: a}\n  web: {image: b}\n");
    assert_eq!(diagnostics[0].labels.len(), 2);
}

/// The docker CLI's own example of every key: planrun finds every problem `docker stack
/// deploy` or the daemon stops at, and warns about exactly the keys docker ignores (those it names in
/// "Ignoring unsupported options" and "Ignoring deprecated options", and the ones its
/// converter never reads).
#[test]
fn docker_clis_full_example_gives_the_errors_and_warnings_docker_gives() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compose-conformance/docker-cli");
    let text = std::fs::read_to_string(format!("{dir}/full-example.yml")).unwrap();
    let lookup = |n: &str| (n == "HOME").then(|| "/home/dev".to_string());
    let (file, diagnostics) = load(&text, Context { lookup: &lookup, dir });
    assert!(file.is_none());
    let errors: Vec<&str> = diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
    assert_eq!(errors.len(), 10, "{errors:#?}");
    for expected in [
        "can't be used with dnsrr mode",
        "duplicate mount point: /var/lib/mysql",
        "duplicate mount point: /opt",
        "constraint expected one operator from ==, !=",
        "invalid cpu value 0.0001: Must be at least 0.001",
        "undefined network \"other-other-network\"",
        "undefined volume \"datavolume\"",
        "config `config4`",
        "secret `secret4`",
    ] {
        assert!(errors.iter().any(|e| e.contains(expected)), "{expected}: {errors:#?}");
    }
    let mut ignored: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == Code::ComposeUnsupported)
        .map(|d| &text[d.primary_span().offset..d.primary_span().end()])
        .collect();
    ignored.sort_unstable();
    let mut expected = vec![
        // docker: "Ignoring unsupported options: ..."
        "build",
        "cgroup_parent",
        "devices",
        "domainname",
        "external_links",
        "ipc",
        "links",
        "mac_address",
        "network_mode",
        "pid",
        "privileged",
        "restart",
        "security_opt",
        // docker: "Ignoring deprecated options: ..."
        "container_name",
        "expose",
        // never read by docker's converter
        "depends_on",
        "ipv4_address",
        "ipv6_address",
        "tmpfs",
    ];
    expected.sort_unstable();
    assert_eq!(ignored, expected);
}

#[test]
fn volumes_short_and_long_with_bind_paths_made_absolute() {
    let text = "services:\n  db:\n    image: postgres:15\n    volumes:\n      - data:/var/lib/postgresql/data\n      - ./init:/docker-entrypoint-initdb.d:ro\n      - ~/backups:/backups\n      - /var/lib/cache\n      - type: tmpfs\n        target: /tmp\n        tmpfs: {size: 65536, mode: 1777}\n      - type: bind\n        source: ../shared\n        target: /shared\n        bind: {propagation: rshared}\n      - type: volume\n        source: logs\n        target: /logs\n        volume: {nocopy: true}\nvolumes:\n  data:\n    driver_opts: {type: none}\n    labels: [tier=db]\n  logs:\n    external: true\n  old:\n    external: {name: legacy-logs}\n";
    let lookup = |n: &str| (n == "HOME").then(|| "/home/dev".to_string());
    let (file, diagnostics) = load(text, Context { lookup: &lookup, dir: "/srv/shop" });
    let warnings: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(warnings.len(), 2, "tmpfs.mode (docker drops it) and external.name (deprecated): {warnings:#?}");
    assert!(warnings[0].contains("`mode`"), "{warnings:#?}");
    let file = file.unwrap();
    let m = &file.services[0].volumes;
    let got: Vec<(MountKind, Option<&str>, &str, bool)> =
        m.iter().map(|m| (m.kind, m.source.as_deref(), m.target.as_str(), m.read_only)).collect();
    assert_eq!(
        got,
        [
            (MountKind::Volume, Some("data"), "/var/lib/postgresql/data", false),
            (MountKind::Bind, Some("/srv/shop/init"), "/docker-entrypoint-initdb.d", true),
            (MountKind::Bind, Some("/home/dev/backups"), "/backups", false),
            (MountKind::Volume, None, "/var/lib/cache", false),
            (MountKind::Tmpfs, None, "/tmp", false),
            (MountKind::Bind, Some("/srv/shared"), "/shared", false),
            (MountKind::Volume, Some("logs"), "/logs", false),
        ]
    );
    assert_eq!(m[4].tmpfs, Some(TmpfsOptions { size: Some(65536) }));
    assert_eq!(m[5].bind.as_ref().unwrap().propagation.as_deref(), Some("rshared"));
    assert!(m[6].volume.as_ref().unwrap().nocopy);
    let data = file.volume("data").unwrap();
    assert_eq!((data.external, data.name.as_deref(), data.labels["tier"].as_str()), (false, None, "db"));
    assert_eq!(data.driver_opts.as_ref().unwrap()["type"], "none");
    assert_eq!(file.volume("logs").unwrap().name.as_deref(), Some("logs"), "an external volume is named by its key");
    assert_eq!(file.volume("old").unwrap().name.as_deref(), Some("legacy-logs"));
}

#[test]
fn volumes_docker_refuses_are_errors_at_their_entry() {
    let text = "services:\n  web:\n    image: app\n    volumes:\n      - data:/d:rshared\n      - type: tmpfs\n        source: x\n        target: /t\n      - type: bind\n        target: /b\n      - cache:/c\n      - type: blob\n        target: /x\nvolumes:\n  data: {}\n  ext:\n    external: true\n    driver: local\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let errors: Vec<(usize, &str)> =
        diagnostics.iter().filter(|d| d.is_error()).map(|d| (line_of(text, d), d.message.as_str())).collect();
    let expect = [
        (5, "bind options are incompatible with type volume"),
        (7, "invalid tmpfs source, source must be empty"),
        (9, "field Source must not be empty"),
        (12, "volume type must be volume, bind, tmpfs, npipe, or cluster"),
        (18, "conflicting parameters \"external\" and \"driver\""),
        (11, "undefined volume \"cache\""),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (line, message) in expect {
        assert!(errors.iter().any(|(l, m)| *l == line && m.contains(message)), "line {line}: {message}\n{errors:#?}");
    }
}

#[test]
fn environment_extra_hosts_ulimits_and_capabilities_as_docker_reads_them() {
    let text = "services:\n  web:\n    image: app\n    environment:\n      SET: from-file\n      EMPTY: ''\n      BARE:\n      MISSING:\n    extra_hosts:\n      - \"b.example:10.0.0.2\"\n      - \"a.example=10.0.0.1\"\n      - \"v6.example:[::1]\"\n    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: 40000}\n    cap_add: [net_admin]\n    sysctls: [net.core.somaxconn=1024]\n    dns: 8.8.8.8\n";
    let lookup = |n: &str| match n {
        "EMPTY" => Some("from-env".to_string()),
        "BARE" => Some("bare-from-env".to_string()),
        _ => None,
    };
    let (file, diagnostics) = load(text, Context { lookup: &lookup, dir: "/srv" });
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let web = file.unwrap().services.remove(0);
    let env: Vec<(&str, Option<&str>)> = web.environment.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    assert_eq!(
        env,
        [("BARE", Some("bare-from-env")), ("EMPTY", Some("from-env")), ("MISSING", None), ("SET", Some("from-file"))]
    );
    assert_eq!(web.extra_hosts, ["10.0.0.2 b.example", "10.0.0.1 a.example", "::1 v6.example"], "in file order");
    assert_eq!(web.ulimits["nproc"], Ulimit { soft: 65535, hard: 65535 });
    assert_eq!(web.ulimits["nofile"], Ulimit { soft: 20000, hard: 40000 });
    assert_eq!(web.cap_add, ["net_admin"]);
    assert_eq!(web.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(web.dns.as_deref(), Some(&["8.8.8.8".to_string()][..]));
}

#[test]
fn values_are_read_as_docker_types_and_writes_them() {
    let text = "services:\n  web:\n    image: app\n    restart: always:3\n    environment:\n      VERSION: 3.10\n      HEX: 0x1A\n      TEXT: v1.2\n    labels:\n      replicas: 042\n    ports:\n      - target: 53\n        protocol: UDP\n        mode: HOST\n    deploy:\n      endpoint_mode: DNSRR\n";
    let (file, diagnostics) = read(text);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:#?}");
    let web = file.unwrap().services.remove(0);
    assert_eq!(web.environment["VERSION"].as_deref(), Some("3.1"), "fmt.Sprint of the float go-yaml read");
    assert_eq!(web.environment["HEX"].as_deref(), Some("26"));
    assert_eq!(web.environment["TEXT"].as_deref(), Some("v1.2"));
    assert_eq!(web.labels["replicas"], "34", "a leading 0 is octal to Go's ParseInt");
    assert_eq!((web.ports[0].protocol.as_deref(), web.ports[0].mode.as_deref()), (Some("udp"), Some("host")));
    assert_eq!(web.deploy.endpoint_mode.as_deref(), Some("dnsrr"));
    assert_eq!(web.restart.as_deref(), Some("always:3"));
}

#[test]
fn more_that_docker_or_the_daemon_refuses_is_an_error_at_its_line() {
    let text = "services:\n  web:\n    image: app\n    restart: sometimes\n    isolation: sandbox\n    environment:\n      DEBUG: true\n    configs:\n      - source: a\n        target: /etc/app.conf\n      - source: b\n        target: /etc/app.conf\n    volumes:\n      - type: bind\n        source: /srv\n        target: /srv\n        bind: {propagation: sideways}\n    ports:\n      - published: 80\n    deploy:\n      rollback_config: {failure_action: rollback}\nconfigs:\n  a: {file: ./a}\n  b: {file: ./b}\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let errors: Vec<(usize, &str)> =
        diagnostics.iter().filter(|d| d.is_error()).map(|d| (line_of(text, d), d.message.as_str())).collect();
    let expect = [
        (4, "unknown restart policy: sometimes"),
        (7, "not the boolean `true`"),
        (11, "duplicate config target for b not allowed"),
        (17, "`sideways` is not a bind propagation"),
        (19, "needs `target`"),
        (21, "a rollback that fails cannot roll back"),
        (2, "isolation `sandbox`"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (line, message) in expect {
        assert!(errors.iter().any(|(l, m)| *l == line && m.contains(message)), "line {line}: {message}\n{errors:#?}");
    }
}

#[test]
fn a_non_ascii_image_is_an_error_not_a_panic() {
    let (file, diagnostics) = read("services:\n  web:\n    image: \u{e9}app\n  api:\n    image: \"app\u{201d}\"\n");
    assert!(file.is_none());
    assert_eq!(diagnostics.iter().filter(|d| d.message.contains("invalid image reference")).count(), 2);
}

#[test]
fn the_rest_of_what_docker_refuses_says_so_at_its_line() {
    let text = "version: \"2.4\"\nservices:\n  web:\n    image: app\n    credential_spec: {file: a.json, registry: r}\n    ulimits:\n      nofile: {soft: 10}\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      disable: true\n    deploy:\n      resources:\n        reservations:\n          generic_resources: gpu\nnetworks:\n  n:\n    external: {name: a}\n    name: b\nsecrets:\n  s:\n    driver: vault\n    file: ./s\n";
    let (file, diagnostics) = read(text);
    assert!(file.is_none());
    let errors: Vec<(usize, &str)> =
        diagnostics.iter().filter(|d| d.is_error()).map(|d| (line_of(text, d), d.message.as_str())).collect();
    let expect = [
        (1, "unsupported Compose file version: 2.4"),
        (5, "cannot specify both file and registry"),
        (7, "needs both `soft` and `hard`"),
        (10, "test and disable can't be set at the same time"),
        (14, "`generic_resources` must be a list"),
        (17, "network.external.name and network.name conflict"),
        (22, "secret.driver and secret.file conflict"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (line, message) in expect {
        assert!(errors.iter().any(|(l, m)| *l == line && m.contains(message)), "line {line}: {message}\n{errors:#?}");
    }
}
