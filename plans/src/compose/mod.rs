//! Compose files (`docker-compose.yml`) as `docker stack deploy` reads them: the YAML with
//! positions (`yaml.rs`), docker's variable interpolation (`interpolate.rs`) and the typed part
//! a Swarm stack uses (`model.rs`). A key planrun does not apply is a warning at its line, never
//! silence; a value it cannot read is an error there. Every diagnostic's spans are in the
//! compose file's text (the caller points them there with `Diagnostic::in_named_file`).

pub mod interpolate;
pub mod model;
pub mod yaml;

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::spanned::Spanned;
pub use model::*;
use yaml::{Key, Node, Value};

/// Reads a compose file's text; `lookup` gives an environment variable's value. Returns the
/// model when there is no error, and every diagnostic either way.
pub fn load(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (Option<ComposeFile>, Vec<Diagnostic>) {
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let mut d =
                Diagnostic::error(Code::ComposeFile, format!("not a compose file: {}", e.message), e.span, "here");
            if let Some(other) = e.other {
                d = d.with_label(other, "first given here").with_help("remove one of the two");
            }
            return (None, vec![d]);
        }
    };
    let mut r = Reader { lookup, out: Vec::new() };
    let file = r.file(&root);
    let ok = !r.out.iter().any(Diagnostic::is_error);
    (file.filter(|_| ok), r.out)
}

/// Keys docker stack deploy ignores, with why, so the warning can say what to do instead.
fn ignored_why(key: &str) -> &'static str {
    match key {
        "build" => "Swarm does not build images: build and push it first, then name it in `image`",
        "depends_on" => "Swarm starts services in no order: order steps with `after` in the plan",
        "container_name" => "Swarm names tasks itself",
        "restart" => "in a stack, `deploy.restart_policy` says how tasks restart",
        "links" | "external_links" => "services on one network find each other by name",
        "volumes" | "tmpfs" => "planrun does not create volumes or mounts yet: the key is left out",
        "profiles" => "a stack deploys every service",
        _ => "planrun does not apply it",
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    out: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>, label: &str, help: impl Into<String>) {
        self.out.push(Diagnostic::error(Code::ComposeFile, message, span, label).with_help(help));
    }

    fn unsupported(&mut self, key: &Key, at: &str) {
        let why = ignored_why(&key.text);
        self.out.push(
            Diagnostic::warning(
                Code::ComposeUnsupported,
                format!("planrun does not apply `{}` {at}: {why}", key.text),
                key.span,
                "not applied",
            )
            .with_help(format!("remove `{}`, or keep it for `docker compose` and ignore this warning", key.text)),
        );
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> &'n [(Key, Node)] {
        match &node.value {
            Value::Map(m) => m,
            _ if node.is_null() => &[],
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be a mapping, not {}", node.kind()),
                    "not a mapping",
                    "write `key: value` lines, indented under it",
                );
                &[]
            }
        }
    }

    /// A scalar, interpolated.
    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let Value::Scalar { text, quoted } = &node.value else {
            self.error(
                node.span,
                format!("{what} must be a single value, not {}", node.kind()),
                "not a value",
                "write it on the key's line",
            );
            return None;
        };
        let base = node.span.offset + usize::from(*quoted);
        match interpolate::interpolate(text, self.lookup) {
            Ok(i) => {
                for (name, at) in i.unset {
                    let at = Span::new((base + at).min(node.span.end()), name.len() + 1);
                    self.out.push(
                        Diagnostic::warning(
                            Code::ComposeFile,
                            format!("`{name}` is not set: it becomes an empty string"),
                            at,
                            "not set",
                        )
                        .with_help(format!("set {name} in the environment, or write `${{{name}:-default}}`")),
                    );
                }
                Some(Spanned::new(i.text, node.span))
            }
            Err(e) => {
                let at = Span::new((base + e.at).min(node.span.end()), 1);
                self.error(
                    at,
                    e.message,
                    "here",
                    "docker's forms are `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:?message}` and `$$`",
                );
                None
            }
        }
    }

    fn optional_string(&mut self, node: &Node, what: &str) -> Option<String> {
        if node.is_null() { None } else { self.string(node, what).map(|s| s.value) }
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<u64> {
        let s = self.string(node, what)?;
        match s.value.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(
                    node.span,
                    format!("{what} must be a whole number, not `{}`", s.value),
                    "not a number",
                    "write a number such as `2`",
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let s = self.string(node, what)?;
        match s.value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be true or false, not `{}`", s.value),
                    "not a boolean",
                    "write `true` or `false`",
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<i64> {
        let s = self.string(node, what)?;
        match go_duration(&s.value) {
            Some(ns) => Some(ns),
            None => {
                self.error(
                    node.span,
                    format!("{what} must be a duration such as `10s`, `1m30s` or `500ms`, not `{}`", s.value),
                    "not a duration",
                    "units are ns, us, ms, s, m and h",
                );
                None
            }
        }
    }

    /// A list of strings, or one string split the way a shell would (`command: serve --port 80`).
    fn words(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(items) => items.iter().map(|i| self.string(i, what).map(|s| s.value)).collect(),
            Value::Scalar { .. } => {
                let s = self.string(node, what)?;
                match shell_words(&s.value) {
                    Some(w) => Some(w),
                    None => {
                        self.error(
                            node.span,
                            format!("{what} has an unclosed quote"),
                            "unclosed quote",
                            "close the quote, or write the words as a list",
                        );
                        None
                    }
                }
            }
            Value::Map(_) => {
                self.error(
                    node.span,
                    format!("{what} must be a list or a string, not a mapping"),
                    "a mapping",
                    "write `[\"program\", \"arg\"]`",
                );
                None
            }
        }
    }

    /// A mapping of strings, or a list of `KEY=VALUE` (a bare `KEY` gives `None`).
    fn dictionary(&mut self, node: &Node, what: &str) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Map(m) => {
                for (k, v) in m {
                    let value = if v.is_null() { None } else { self.string(v, what).map(|s| s.value) };
                    out.insert(k.text.clone(), value);
                }
            }
            Value::Seq(items) => {
                for item in items {
                    if let Some(s) = self.string(item, what) {
                        match s.value.split_once('=') {
                            Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                            None => out.insert(s.value, None),
                        };
                    }
                }
            }
            _ if node.is_null() => {}
            Value::Scalar { .. } => self.error(
                node.span,
                format!("{what} must be a mapping or a list of `KEY=VALUE`"),
                "a single value",
                "write `KEY: value` lines",
            ),
        }
        out
    }

    fn labels(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        self.dictionary(node, what).into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
    }

    fn file(&mut self, root: &Node) -> Option<ComposeFile> {
        let mut file = ComposeFile::default();
        let mut has_services = false;
        for (key, value) in self.map(root, "the file") {
            match key.text.as_str() {
                "version" | "name" => {}
                k if k.starts_with("x-") => {}
                "services" => {
                    has_services = true;
                    for (name, body) in self.map(value, "`services`") {
                        if let Some(s) = self.service(name, body) {
                            file.services.push(s);
                        }
                    }
                }
                "networks" => {
                    for (name, body) in self.map(value, "`networks`") {
                        let n = self.network(name, body);
                        file.networks.push(n);
                    }
                }
                "configs" | "secrets" => {
                    let is_config = key.text == "configs";
                    for (name, body) in self.map(value, &format!("`{}`", key.text)) {
                        let o = self.file_object(name, body, is_config);
                        if is_config { file.configs.push(o) } else { file.secrets.push(o) }
                    }
                }
                _ => self.unsupported(key, "at the top level"),
            }
        }
        if !has_services {
            self.error(
                root.span,
                "the compose file has no `services`",
                "no services",
                "a stack needs at least one service under `services:`",
            );
        }
        self.references(&file);
        Some(file)
    }

    /// Every network, config and secret a service names is declared at the top level.
    fn references(&mut self, file: &ComposeFile) {
        for s in &file.services {
            for (net, _) in &s.networks {
                if net != "default" && !file.networks.iter().any(|n| &n.key == net) {
                    self.error(
                        s.name.span,
                        format!("service `{}` joins network `{net}`, which `networks:` does not declare", s.name.value),
                        "here",
                        format!("declare it: `networks:\\n  {net}:\\n    driver: overlay`"),
                    );
                }
            }
            for (refs, declared, kind) in [(&s.configs, &file.configs, "config"), (&s.secrets, &file.secrets, "secret")]
            {
                for r in refs {
                    if !declared.iter().any(|d| d.key == r.source.value) {
                        let names = declared.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
                        let hint = crate::suggest::did_you_mean(&r.source.value, names.iter().map(String::as_str))
                            .map_or_else(
                                || format!("declare it under `{kind}s:` with a `file`"),
                                |n| format!("did you mean `{n}`?"),
                            );
                        self.error(
                            r.source.span,
                            format!(
                                "service `{}` uses {kind} `{}`, which `{kind}s:` does not declare",
                                s.name.value, r.source.value
                            ),
                            "not declared",
                            hint,
                        );
                    }
                }
            }
        }
    }

    fn service(&mut self, name: &Key, body: &Node) -> Option<Service> {
        let mut s = Service { name: Spanned::new(name.text.clone(), name.span), ..Service::default() };
        let mut image = None;
        for (key, value) in self.map(body, &format!("service `{}`", name.text)) {
            let what = format!("`{}` of service `{}`", key.text, name.text);
            match key.text.as_str() {
                "image" => image = self.string(value, &what),
                "command" => s.command = self.words(value, &what),
                "entrypoint" => s.entrypoint = self.words(value, &what),
                "environment" => s.environment.extend(self.dictionary(value, &what)),
                "env_file" => s.env_files = self.env_files(value, &what),
                "labels" => s.labels = self.labels(value, &what),
                "healthcheck" => s.healthcheck = self.healthcheck(value, &what),
                "networks" => s.networks = self.attachments(value, &what),
                "configs" => s.configs = self.file_refs(value, &what),
                "secrets" => s.secrets = self.file_refs(value, &what),
                "hostname" => s.hostname = self.optional_string(value, &what),
                "user" => s.user = self.optional_string(value, &what),
                "working_dir" => s.working_dir = self.optional_string(value, &what),
                "stop_grace_period" => s.stop_grace_period = self.duration(value, &what),
                "stop_signal" => s.stop_signal = self.optional_string(value, &what),
                "read_only" => s.read_only = self.boolean(value, &what).unwrap_or(false),
                "init" => s.init = self.boolean(value, &what),
                "tty" => s.tty = self.boolean(value, &what).unwrap_or(false),
                "stdin_open" => s.stdin_open = self.boolean(value, &what).unwrap_or(false),
                "extra_hosts" => {
                    s.extra_hosts = self
                        .dictionary(value, &what)
                        .into_iter()
                        .map(|(host, ip)| {
                            let (host, ip) = match ip {
                                Some(ip) => (host, ip),
                                None => match host.split_once(':') {
                                    Some((h, i)) => (h.to_string(), i.to_string()),
                                    None => (host, String::new()),
                                },
                            };
                            format!("{ip} {host}")
                        })
                        .collect()
                }
                "ports" => s.ports = self.ports(value, &what),
                "deploy" => s.deploy = self.deploy(value, &name.text),
                k if k.starts_with("x-") => {}
                _ => self.unsupported(key, &format!("in service `{}`", name.text)),
            }
        }
        match image {
            Some(i) => s.image = i,
            None => {
                self.error(
                    name.span,
                    format!("service `{}` has no `image`", name.text),
                    "no image",
                    "a stack runs images: add `image: NAME:TAG`",
                );
                return None;
            }
        }
        Some(s)
    }

    /// `env_file: PATH`, a list of paths, or items with `path`.
    fn env_files(&mut self, node: &Node, what: &str) -> Vec<Spanned<String>> {
        match &node.value {
            Value::Scalar { .. } => self.string(node, what).into_iter().collect(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Map(m) => {
                        let path = m.iter().find(|(k, _)| k.text == "path").map(|(_, v)| v);
                        match path {
                            Some(p) => self.string(p, "`path`"),
                            None => {
                                self.error(
                                    item.span,
                                    format!("an item of {what} has no `path`"),
                                    "no path",
                                    "write `- path: ./app.env`",
                                );
                                None
                            }
                        }
                    }
                    _ => self.string(item, what),
                })
                .collect(),
            Value::Map(_) => {
                self.error(
                    node.span,
                    format!("{what} must be a path or a list of paths"),
                    "a mapping",
                    "write `env_file: ./app.env`",
                );
                Vec::new()
            }
        }
    }

    fn healthcheck(&mut self, node: &Node, what: &str) -> Option<Healthcheck> {
        let mut h = Healthcheck::default();
        let mut disable = false;
        for (key, value) in self.map(node, what) {
            let what = format!("`healthcheck.{}`", key.text);
            match key.text.as_str() {
                "test" => {
                    h.test = match &value.value {
                        Value::Scalar { .. } => vec!["CMD-SHELL".into(), self.string(value, &what)?.value],
                        _ => self.words(value, &what)?,
                    }
                }
                "interval" => h.interval = self.duration(value, &what),
                "timeout" => h.timeout = self.duration(value, &what),
                "start_period" => h.start_period = self.duration(value, &what),
                "retries" => h.retries = self.count(value, &what),
                "disable" => disable = self.boolean(value, &what).unwrap_or(false),
                _ => self.unsupported(key, "in `healthcheck`"),
            }
        }
        if disable {
            h = Healthcheck { test: vec!["NONE".into()], ..Healthcheck::default() };
        }
        Some(h)
    }

    fn attachments(&mut self, node: &Node, what: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(n) = self.string(item, what) {
                        out.push((n.value, Vec::new()));
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    let mut aliases = Vec::new();
                    for (key, value) in self.map(v, &format!("network `{}`", k.text)) {
                        match key.text.as_str() {
                            "aliases" => aliases = self.words(value, "`aliases`").unwrap_or_default(),
                            _ => self.unsupported(key, &format!("on network `{}`", k.text)),
                        }
                    }
                    out.push((k.text.clone(), aliases));
                }
            }
            _ => self.error(
                node.span,
                format!("{what} must be a list of network names"),
                "not a list",
                "write `networks: [front, back]`",
            ),
        }
        out
    }

    fn file_refs(&mut self, node: &Node, what: &str) -> Vec<FileRef> {
        let Value::Seq(items) = &node.value else {
            if !node.is_null() {
                self.error(node.span, format!("{what} must be a list"), "not a list", "write `- name` items");
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Scalar { .. } => {
                    if let Some(source) = self.string(item, what) {
                        out.push(FileRef { source, ..FileRef::default() });
                    }
                }
                Value::Map(m) => {
                    let mut r = FileRef::default();
                    let mut source = None;
                    for (key, value) in m {
                        match key.text.as_str() {
                            "source" => source = self.string(value, "`source`"),
                            "target" => r.target = self.optional_string(value, "`target`"),
                            "uid" => r.uid = self.optional_string(value, "`uid`"),
                            "gid" => r.gid = self.optional_string(value, "`gid`"),
                            "mode" => {
                                r.mode = self.string(value, "`mode`").and_then(|m| {
                                    let t = m.value.trim();
                                    let parsed = match t
                                        .strip_prefix("0o")
                                        .or_else(|| t.strip_prefix('0').filter(|r| !r.is_empty()))
                                    {
                                        Some(octal) => u32::from_str_radix(octal, 8).ok(),
                                        None => t.parse().ok(),
                                    };
                                    if parsed.is_none() {
                                        self.error(
                                            value.span,
                                            format!("`mode` must be a file mode such as 0440, not `{t}`"),
                                            "not a mode",
                                            "write an octal mode such as 0440",
                                        );
                                    }
                                    parsed
                                })
                            }
                            _ => self.unsupported(key, "in this reference"),
                        }
                    }
                    match source {
                        Some(s) => {
                            r.source = s;
                            out.push(r);
                        }
                        None => self.error(
                            item.span,
                            format!("an item of {what} has no `source`"),
                            "no source",
                            "add `source: NAME`",
                        ),
                    }
                }
                Value::Seq(_) => self.error(
                    item.span,
                    format!("an item of {what} must be a name or a mapping"),
                    "a list",
                    "write `- source: NAME`",
                ),
            }
        }
        out
    }

    fn ports(&mut self, node: &Node, what: &str) -> Vec<Port> {
        let Value::Seq(items) = &node.value else {
            if !node.is_null() {
                self.error(node.span, format!("{what} must be a list"), "not a list", "write `- \"8080:80\"`");
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let port = match &item.value {
                Value::Map(m) => {
                    let mut p = Port { protocol: "tcp".into(), mode: "ingress".into(), ..Port::default() };
                    for (key, value) in m {
                        match key.text.as_str() {
                            "target" => p.target = self.count(value, "`target`").unwrap_or(0) as u32,
                            "published" => p.published = self.count(value, "`published`").map(|n| n as u32),
                            "protocol" => p.protocol = self.optional_string(value, "`protocol`").unwrap_or(p.protocol),
                            "mode" => p.mode = self.optional_string(value, "`mode`").unwrap_or(p.mode),
                            _ => self.unsupported(key, "in this port"),
                        }
                    }
                    Some(p)
                }
                _ => self.string(item, what).and_then(|s| {
                    let p = short_port(&s.value);
                    if p.is_none() {
                        self.error(
                            item.span,
                            format!("`{}` is not a port planrun reads", s.value),
                            "not a port",
                            "write `PUBLISHED:TARGET[/udp]`, such as `8080:80`, or the long form with `target`",
                        );
                    }
                    p
                }),
            };
            if let Some(p) = port {
                if p.target == 0 || p.target > 65535 || p.published.is_some_and(|n| n == 0 || n > 65535) {
                    self.error(
                        item.span,
                        "a port must be from 1 to 65535",
                        "out of range",
                        "write a port such as `8080:80`",
                    );
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    fn deploy(&mut self, node: &Node, service: &str) -> Deploy {
        let mut d = Deploy::default();
        let mut mode = None;
        let mut replicas = None;
        for (key, value) in self.map(node, "`deploy`") {
            let what = format!("`deploy.{}` of service `{service}`", key.text);
            match key.text.as_str() {
                "mode" => mode = self.string(value, &what),
                "replicas" => replicas = self.count(value, &what).map(|n| (n, key.span)),
                "labels" => d.labels = self.labels(value, &what),
                "update_config" => d.update_config = self.update_config(value, &what),
                "rollback_config" => d.rollback_config = self.update_config(value, &what),
                "restart_policy" => {
                    let mut p = RestartPolicy::default();
                    for (key, value) in self.map(value, &what) {
                        let what = format!("`restart_policy.{}`", key.text);
                        match key.text.as_str() {
                            "condition" => p.condition = self.choice(value, &what, &["none", "on-failure", "any"]),
                            "delay" => p.delay = self.duration(value, &what),
                            "max_attempts" => p.max_attempts = self.count(value, &what),
                            "window" => p.window = self.duration(value, &what),
                            _ => self.unsupported(key, "in `restart_policy`"),
                        }
                    }
                    d.restart_policy = Some(p);
                }
                "endpoint_mode" => d.endpoint_mode = self.choice(value, &what, &["vip", "dnsrr"]),
                "placement" => {
                    for (key, value) in self.map(value, &what) {
                        let what = format!("`placement.{}`", key.text);
                        match key.text.as_str() {
                            "constraints" => d.constraints = self.words(value, &what).unwrap_or_default(),
                            "preferences" => {
                                if let Value::Seq(items) = &value.value {
                                    for item in items {
                                        for (k, v) in self.map(item, "a preference") {
                                            match k.text.as_str() {
                                                "spread" => d.preferences.extend(self.optional_string(v, "`spread`")),
                                                _ => self.unsupported(k, "in `placement.preferences`"),
                                            }
                                        }
                                    }
                                }
                            }
                            "max_replicas_per_node" => d.max_replicas_per_node = self.count(value, &what),
                            _ => self.unsupported(key, "in `placement`"),
                        }
                    }
                }
                "resources" => {
                    for (key, value) in self.map(value, &what) {
                        let slot = match key.text.as_str() {
                            "limits" => &mut d.limits,
                            "reservations" => &mut d.reservations,
                            _ => {
                                self.unsupported(key, "in `resources`");
                                continue;
                            }
                        };
                        let mut r = Resources::default();
                        for (k, v) in self.map(value, &format!("`resources.{}`", key.text)) {
                            match k.text.as_str() {
                                "cpus" => {
                                    r.nano_cpus =
                                        self.string(v, "`cpus`").and_then(|s| match s.value.trim().parse::<f64>() {
                                            Ok(c) if c >= 0.0 => Some((c * 1e9).round() as i64),
                                            _ => {
                                                self.error(
                                                    v.span,
                                                    format!("`cpus` must be a number such as 0.5, not `{}`", s.value),
                                                    "not a number",
                                                    "write `cpus: \"0.5\"`",
                                                );
                                                None
                                            }
                                        })
                                }
                                "memory" => {
                                    r.memory = self.string(v, "`memory`").and_then(|s| match ram_bytes(&s.value) {
                                        Some(b) => Some(b),
                                        None => {
                                            self.error(
                                                v.span,
                                                format!("`memory` must be a size such as 512M, not `{}`", s.value),
                                                "not a size",
                                                "write a number with b, k, m or g",
                                            );
                                            None
                                        }
                                    })
                                }
                                _ => self.unsupported(k, &format!("in `resources.{}`", key.text)),
                            }
                        }
                        *slot = r;
                    }
                }
                _ => self.unsupported(key, &format!("in the `deploy` of service `{service}`")),
            }
        }
        match mode.as_ref().map(|m| m.value.as_str()) {
            None | Some("replicated") => d.mode = Mode::Replicated(replicas.map_or(1, |(n, _)| n)),
            Some("global") => {
                d.mode = Mode::Global;
                if let Some((_, span)) = replicas {
                    self.error(
                        span,
                        format!("service `{service}` is global and sets `replicas`"),
                        "global services have no replica count",
                        "remove `replicas`, or write `mode: replicated`",
                    );
                }
            }
            Some(other) => {
                let span = mode.as_ref().map_or(node.span, |m| m.span);
                self.error(
                    span,
                    format!("`deploy.mode` must be `replicated` or `global`, not `{other}`"),
                    "unknown mode",
                    "write `mode: replicated` or `mode: global` (jobs are not stack services)",
                );
            }
        }
        d
    }

    fn choice(&mut self, node: &Node, what: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(node, what)?;
        if allowed.contains(&s.value.as_str()) {
            return Some(s.value);
        }
        let hint = crate::suggest::did_you_mean(&s.value, allowed.iter().copied())
            .map_or_else(|| format!("write one of: {}", allowed.join(", ")), |n| format!("did you mean `{n}`?"));
        self.error(
            node.span,
            format!("{what} must be one of {}, not `{}`", allowed.join(", "), s.value),
            "unknown value",
            hint,
        );
        None
    }

    fn update_config(&mut self, node: &Node, what: &str) -> Option<UpdateConfig> {
        let mut u = UpdateConfig { span: node.span, ..UpdateConfig::default() };
        for (key, value) in self.map(node, what) {
            let what = format!("`{}`", key.text);
            match key.text.as_str() {
                "parallelism" => u.parallelism = self.count(value, &what),
                "delay" => u.delay = self.duration(value, &what),
                "failure_action" => u.failure_action = self.choice(value, &what, &["continue", "rollback", "pause"]),
                "monitor" => u.monitor = self.duration(value, &what),
                "max_failure_ratio" => {
                    u.max_failure_ratio = self.string(value, &what).and_then(|s| match s.value.trim().parse::<f64>() {
                        Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
                        _ => {
                            self.error(
                                value.span,
                                format!("`max_failure_ratio` must be a fraction from 0 to 1, not `{}`", s.value),
                                "out of range",
                                "write a fraction such as 0.2",
                            );
                            None
                        }
                    })
                }
                "order" => u.order = self.choice(value, &what, &["start-first", "stop-first"]),
                _ => self.unsupported(key, "in this update config"),
            }
        }
        Some(u)
    }

    fn network(&mut self, key: &Key, body: &Node) -> NetworkDef {
        let mut n = NetworkDef { key: key.text.clone(), span: key.span, ..NetworkDef::default() };
        for (k, value) in self.map(body, &format!("network `{}`", key.text)) {
            let what = format!("`{}` of network `{}`", k.text, key.text);
            match k.text.as_str() {
                "name" => n.name = self.optional_string(value, &what),
                "external" => n.external = self.external(value, &what, &mut n.name),
                "driver" => n.driver = self.optional_string(value, &what),
                "driver_opts" => n.driver_opts = self.labels(value, &what),
                "attachable" => n.attachable = self.boolean(value, &what).unwrap_or(false),
                "internal" => n.internal = self.boolean(value, &what).unwrap_or(false),
                "labels" => n.labels = self.labels(value, &what),
                k2 if k2.starts_with("x-") => {}
                _ => self.unsupported(k, &format!("on network `{}`", key.text)),
            }
        }
        n
    }

    /// `external: true`, or the old `external: {name: N}`.
    fn external(&mut self, value: &Node, what: &str, name: &mut Option<String>) -> bool {
        if let Value::Map(m) = &value.value {
            for (k, v) in m {
                if k.text == "name" {
                    *name = self.optional_string(v, "`external.name`");
                }
            }
            return true;
        }
        self.boolean(value, what).unwrap_or(false)
    }

    fn file_object(&mut self, key: &Key, body: &Node, is_config: bool) -> FileObject {
        let kind = if is_config { "config" } else { "secret" };
        let mut o = FileObject { key: key.text.clone(), span: key.span, ..FileObject::default() };
        for (k, value) in self.map(body, &format!("{kind} `{}`", key.text)) {
            let what = format!("`{}` of {kind} `{}`", k.text, key.text);
            match k.text.as_str() {
                "name" => o.name = self.optional_string(value, &what),
                "external" => o.external = self.external(value, &what, &mut o.name),
                "file" => o.file = self.optional_string(value, &what),
                "labels" => o.labels = self.labels(value, &what),
                k2 if k2.starts_with("x-") => {}
                _ => self.unsupported(k, &format!("on {kind} `{}`", key.text)),
            }
        }
        if !o.external && o.file.is_none() {
            self.error(
                key.span,
                format!("{kind} `{}` has neither `file` nor `external: true`", key.text),
                "no content",
                format!("add `file: ./{}` (relative to the compose file)", key.text),
            );
        }
        o
    }
}

/// A Go duration (`1m30s`, `500ms`, `1.5s`, `0`) in nanoseconds.
pub fn go_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    if t == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    Some(total.round() as i64)
}

/// docker's RAM sizes: `512m`, `1g`, `1024`, `64mb` (powers of 1024).
pub fn ram_bytes(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let n: f64 = number.parse().ok()?;
    let scale = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        _ => return None,
    };
    Some((n * scale) as i64)
}

/// `[IP:][PUBLISHED:]TARGET[/PROTOCOL]`; a published IP is not something Swarm can do.
fn short_port(text: &str) -> Option<Port> {
    let (ports, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    let parts: Vec<&str> = ports.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [t] => (None, *t),
        [p, t] => (Some(*p), *t),
        _ => return None,
    };
    Some(Port {
        target: target.parse().ok()?,
        published: match published {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        },
        protocol: protocol.to_string(),
        mode: "ingress".into(),
    })
}

/// Splits like a POSIX shell: spaces separate, quotes group, `\` escapes.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Some(out)
}

#[cfg(test)]
mod tests;
