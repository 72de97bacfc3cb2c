//! One service of a compose file, key by key as docker's loader reads it.

use std::collections::BTreeMap;

use super::keys::{self, Treatment};
use super::yaml::{Key, Node, Value};
use super::{Attachment, CredentialSpec, FileRef, Healthcheck, Logging, Reader, Service, Ulimit, reference};
use crate::diagnostic::problem::ComposeServiceProblem;
use crate::spanned::Spanned;

impl Reader<'_> {
    pub(super) fn service(&mut self, name: &Key, body: &Node) -> Option<Service> {
        let mut s = Service { name: Spanned::new(name.text.clone(), name.span), ..Service::default() };
        let mut image = None;
        let mut environment = Vec::new();
        let mut restart_span = None;
        let at = format!("in service `{}`", name.text);
        let body_map = self.map(body, &format!("service `{}`", name.text));
        // docker refuses these before anything else, with its own words.
        for (key, _) in body_map {
            if let Some(Treatment::Refused(_)) = keys::lookup(keys::SERVICE, &key.text) {
                self.other_key(key, &at, keys::SERVICE, false);
            }
        }
        for (key, value) in body_map {
            let what = format!("`{}` of service `{}`", key.text, name.text);
            match key.text.as_str() {
                "image" => image = self.string(value, &what),
                "command" => s.command = self.words(value, &what),
                "entrypoint" => s.entrypoint = self.words(value, &what),
                "environment" => environment = self.pairs(value, &what),
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
                "extra_hosts" => s.extra_hosts = self.extra_hosts(value, &what),
                "ports" => s.ports = self.ports(value, &what),
                "volumes" => s.volumes = self.mounts(value, &what),
                "dns" => s.dns = Some(self.string_list(value, &what)),
                "dns_search" => s.dns_search = Some(self.string_list(value, &what)),
                "cap_add" => s.cap_add = self.string_list(value, &what),
                "cap_drop" => s.cap_drop = self.string_list(value, &what),
                "sysctls" => s.sysctls = self.labels(value, &what),
                "ulimits" => s.ulimits = self.ulimits(value, &what),
                "logging" => s.logging = self.logging(value, &what),
                "isolation" => s.isolation = self.optional_string(value, &what),
                "oom_score_adj" => s.oom_score_adj = self.integer(value, &what),
                "credential_spec" => s.credential_spec = self.credential_spec(value, &what),
                "restart" => {
                    s.restart = self.restart(value, &what);
                    restart_span = Some(value.span);
                    self.other_key(key, &at, keys::SERVICE, false);
                }
                "deploy" => s.deploy = self.deploy(value, &name.text),
                k if k.starts_with("x-") => {}
                k if matches!(keys::lookup(keys::SERVICE, k), Some(Treatment::Refused(_))) => {}
                _ => self.other_key(key, &at, keys::SERVICE, false),
            }
        }
        s.environment = self.resolve_environment(environment);
        match image {
            Some(i) => {
                if let Err(e) = reference::check(&i.value) {
                    self.problem(
                        ComposeServiceProblem::BadImage { service: &name.text, error: &e.to_string() },
                        i.span,
                    );
                }
                s.image = i;
            }
            None => {
                self.problem(ComposeServiceProblem::NoImage { service: &name.text }, name.span);
                return None;
            }
        }
        if s.deploy.endpoint_mode.as_deref() == Some("dnsrr")
            && let Some(port) = s.ports.iter().find(|p| p.mode.as_deref().is_none_or(|m| m == "ingress"))
        {
            let at = body_map.iter().find(|(k, _)| k.text == "ports").map_or(body.span, |(k, _)| k.span);
            self.problem(ComposeServiceProblem::IngressWithDnsrr { port: port.target }, at);
        }
        if let Some(r) = &s.restart
            && s.deploy.restart_policy.is_none()
            && let Err(why) = valid_restart(r)
        {
            self.problem(ComposeServiceProblem::BadRestartPolicy { why: &why }, restart_span.unwrap_or(body.span));
        }
        for (refs, kind) in [(&s.configs, "config"), (&s.secrets, "secret")] {
            let mut seen: Vec<&str> = Vec::new();
            for r in refs.iter() {
                let target = r.target.as_deref().filter(|t| !t.is_empty()).unwrap_or(&r.source.value);
                if seen.contains(&target) {
                    self.problem(ComposeServiceProblem::DuplicateTarget { kind, name: &r.source.value }, r.source.span);
                }
                seen.push(target);
            }
        }
        if let Some(i) = s.isolation.as_deref()
            && !matches!(i.to_lowercase().as_str(), "" | "default" | "process" | "hyperv")
        {
            self.problem(ComposeServiceProblem::UnknownIsolation { service: &name.text, isolation: i }, name.span);
        }
        Some(s)
    }

    /// `environment` as docker resolves it: an empty or bare name takes the environment's
    /// value when it has one; a bare name it lacks stays bare.
    fn resolve_environment(&mut self, pairs: Vec<(String, Option<String>)>) -> BTreeMap<String, Option<String>> {
        pairs
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    None => (self.lookup)(&k),
                    Some(v) if v.is_empty() => Some((self.lookup)(&k).unwrap_or(v)),
                    v => v,
                };
                (k, v)
            })
            .collect()
    }

    fn restart(&mut self, node: &Node, what: &str) -> Option<String> {
        self.optional_string(node, what)
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
                                self.problem(ComposeServiceProblem::EnvFileWithoutPath { what }, item.span);
                                None
                            }
                        }
                    }
                    _ => self.string(item, what),
                })
                .collect(),
            Value::Map(_) => {
                self.problem(ComposeServiceProblem::EnvFileNotPaths { what }, node.span);
                Vec::new()
            }
        }
    }

    fn healthcheck(&mut self, node: &Node, what: &str) -> Option<Healthcheck> {
        let mut h = Healthcheck::default();
        let mut disable = None;
        for (key, value) in self.map(node, what) {
            let what = format!("`healthcheck.{}`", key.text);
            match key.text.as_str() {
                "test" => {
                    h.test = match &value.value {
                        Value::Scalar { .. } => Some(vec!["CMD-SHELL".into(), self.string(value, &what)?.value]),
                        _ => Some(self.words(value, &what)?),
                    }
                }
                "interval" => h.interval = self.duration(value, &what),
                "timeout" => h.timeout = self.duration(value, &what),
                "start_period" => h.start_period = self.duration(value, &what),
                "start_interval" => h.start_interval = self.duration(value, &what),
                "retries" => h.retries = self.count(value, &what),
                "disable" => disable = self.boolean(value, &what).map(|d| (d, key.span)),
                _ => self.other_key(key, "in `healthcheck`", HEALTHCHECK, false),
            }
        }
        if let Some((true, span)) = disable {
            if h.test.as_ref().is_some_and(|t| !t.is_empty()) {
                self.problem(ComposeServiceProblem::TestAndDisable, span);
            }
            h = Healthcheck { test: Some(vec!["NONE".into()]), ..Healthcheck::default() };
        }
        Some(h)
    }

    fn attachments(&mut self, node: &Node, what: &str) -> Vec<Attachment> {
        let mut out = Vec::new();
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(n) = self.string(item, what) {
                        out.push(Attachment { key: n.value, span: item.span, ..Attachment::default() });
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    let mut a = Attachment { key: k.text.clone(), span: k.span, ..Attachment::default() };
                    for (key, value) in self.map(v, &format!("network `{}`", k.text)) {
                        match key.text.as_str() {
                            "aliases" => a.aliases = self.words(value, "`aliases`").unwrap_or_default(),
                            "driver_opts" => a.driver_opts = self.labels(value, "`driver_opts`"),
                            _ => self.other_key(key, &format!("on network `{}`", k.text), keys::ATTACHMENT, false),
                        }
                    }
                    out.push(a);
                }
            }
            _ => self.problem(ComposeServiceProblem::NetworksNotAList { what }, node.span),
        }
        out
    }

    fn file_refs(&mut self, node: &Node, what: &str) -> Vec<FileRef> {
        let Value::Seq(items) = &node.value else {
            if !node.is_null() {
                self.problem(ComposeServiceProblem::ReferencesNotAList { what }, node.span);
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
                            "mode" => r.mode = self.file_mode(value),
                            _ => self.other_key(key, "in this reference", &[], true),
                        }
                    }
                    match source {
                        Some(s) => {
                            r.source = s;
                            out.push(r);
                        }
                        None => self.problem(ComposeServiceProblem::ReferenceWithoutSource { what }, item.span),
                    }
                }
                Value::Seq(_) => self.problem(ComposeServiceProblem::ReferenceNotNameOrMapping { what }, item.span),
            }
        }
        out
    }

    /// A file mode: YAML 1.1 reads `0440` as octal, as docker's loader does.
    fn file_mode(&mut self, value: &Node) -> Option<u32> {
        let m = self.string(value, "`mode`")?;
        let t = m.value.trim();
        let parsed = match t.strip_prefix("0o").or_else(|| t.strip_prefix('0').filter(|r| !r.is_empty())) {
            Some(octal) => u32::from_str_radix(octal, 8).ok(),
            None => t.parse().ok(),
        };
        if parsed.is_none() {
            self.problem(ComposeServiceProblem::NotAFileMode { value: t }, value.span);
        }
        parsed
    }

    /// `extra_hosts`: a list of `HOST:IP` or `HOST=IP` (in order), or a mapping (sorted, as
    /// docker sorts it), as Swarm's `IP HOST` lines; brackets around an IPv6 address dropped.
    fn extra_hosts(&mut self, node: &Node, what: &str) -> Vec<String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        match &node.value {
            Value::Map(_) => {
                let mut entries: Vec<String> =
                    self.pairs(node, what).into_iter().filter_map(|(k, v)| v.map(|v| format!("{k}:{v}"))).collect();
                entries.sort();
                for e in entries {
                    let (h, ip) = e.split_once(':').unwrap_or((&e, ""));
                    pairs.push((h.to_owned(), ip.to_owned()));
                }
            }
            Value::Seq(items) => {
                for item in items {
                    let Some(s) = self.string(item, what) else { continue };
                    let split = s.value.split_once('=').or_else(|| s.value.split_once(':'));
                    match split {
                        Some((h, ip)) => pairs.push((h.to_owned(), ip.to_owned())),
                        None => {
                            self.problem(ComposeServiceProblem::HostWithoutAddress { what, entry: &s.value }, item.span)
                        }
                    }
                }
            }
            _ => self.problem(ComposeServiceProblem::HostsNotListOrMapping { what }, node.span),
        }
        pairs
            .into_iter()
            .map(|(host, ip)| {
                let ip = match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                    Some(inner) if ip.len() > 2 => inner.to_owned(),
                    _ => ip,
                };
                format!("{ip} {host}")
            })
            .collect()
    }

    /// `ulimits`: a number (soft and hard) or `soft` and `hard`, by name.
    fn ulimits(&mut self, node: &Node, what: &str) -> BTreeMap<String, Ulimit> {
        let mut out = BTreeMap::new();
        for (key, value) in self.map(node, what) {
            let what = format!("`ulimits.{}`", key.text);
            let limit = match &value.value {
                Value::Map(m) => {
                    let (mut soft, mut hard) = (None, None);
                    for (k, v) in m {
                        match k.text.as_str() {
                            "soft" => soft = self.integer(v, &format!("{what}.soft")),
                            "hard" => hard = self.integer(v, &format!("{what}.hard")),
                            _ => self.other_key(
                                k,
                                &format!("in {what}"),
                                &[("soft", Treatment::Applied), ("hard", Treatment::Applied)],
                                false,
                            ),
                        }
                    }
                    match (soft, hard) {
                        (Some(soft), Some(hard)) => Some(Ulimit { soft, hard }),
                        _ => {
                            self.problem(ComposeServiceProblem::UlimitIncomplete { what: &what }, value.span);
                            None
                        }
                    }
                }
                _ => self.integer(value, &what).map(|n| Ulimit { soft: n, hard: n }),
            };
            if let Some(l) = limit {
                out.insert(key.text.clone(), l);
            }
        }
        out
    }

    fn logging(&mut self, node: &Node, what: &str) -> Option<Logging> {
        let mut l = Logging::default();
        for (key, value) in self.map(node, what) {
            match key.text.as_str() {
                "driver" => l.driver = self.optional_string(value, "`logging.driver`"),
                "options" => l.options = self.labels(value, "`logging.options`"),
                _ => self.other_key(
                    key,
                    "in `logging`",
                    &[("driver", Treatment::Applied), ("options", Treatment::Applied)],
                    false,
                ),
            }
        }
        Some(l)
    }

    fn credential_spec(&mut self, node: &Node, what: &str) -> Option<CredentialSpec> {
        let mut c = CredentialSpec::default();
        let mut set = Vec::new();
        for (key, value) in self.map(node, what) {
            match key.text.as_str() {
                "config" => c.config = self.optional_string(value, "`credential_spec.config`"),
                "file" => c.file = self.optional_string(value, "`credential_spec.file`"),
                "registry" => c.registry = self.optional_string(value, "`credential_spec.registry`"),
                _ => {
                    let table = [
                        ("config", Treatment::Applied),
                        ("file", Treatment::Applied),
                        ("registry", Treatment::Applied),
                    ];
                    self.other_key(key, "in `credential_spec`", &table, false);
                    continue;
                }
            }
            set.push(key.text.clone());
        }
        if set.len() > 1 {
            let set: Vec<&str> = set.iter().map(String::as_str).collect();
            self.problem(ComposeServiceProblem::CredentialSpecConflict { set: &set }, node.span);
        }
        (set.len() == 1).then_some(c)
    }
}

/// The keys of `healthcheck`.
const HEALTHCHECK: &[keys::Key] = &[
    ("disable", Treatment::Applied),
    ("interval", Treatment::Applied),
    ("retries", Treatment::Applied),
    ("test", Treatment::Applied),
    ("timeout", Treatment::Applied),
    ("start_period", Treatment::Applied),
    ("start_interval", Treatment::Applied),
];

/// docker's restart policies (`opts.ParseRestartPolicy`, then the converter): `no`, `always`,
/// `unless-stopped` or `on-failure`, each with an optional `:COUNT`; the error in docker's words.
fn valid_restart(text: &str) -> Result<(), String> {
    let (name, count) = text.split_once(':').unwrap_or((text, ""));
    if text.contains(':') && name.is_empty() {
        return Err("invalid restart policy format: no policy provided before colon".into());
    }
    if !count.is_empty() && count.parse::<i64>().is_err() {
        return Err("invalid restart policy format: maximum retry count must be an integer".into());
    }
    match name {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(()),
        _ => Err(format!("unknown restart policy: {text}")),
    }
}
