//! Compose files (`docker-compose.yml`) as `docker stack deploy` reads them: the YAML with
//! positions (`yaml.rs`), docker's variable interpolation (`interpolate.rs`) and the typed part
//! a Swarm stack uses (`model.rs`), read key by key as the docker CLI's loader and converter
//! read them (`service.rs`, `deploy.rs`, `objects.rs`, `volumes.rs`, `ports.rs`). `keys.rs`
//! says what docker does with every key of its schema: a key docker ignores is a warning at its
//! line, never silence; a key or value docker refuses is an error there. Every diagnostic's spans
//! are in the compose file's text (the caller points them there with
//! `Diagnostic::in_named_file`).

mod deploy;
pub mod interpolate;
pub mod keys;
pub mod model;
mod objects;
mod ports;
pub mod reference;
mod service;
pub mod values;
mod volumes;
pub mod yaml;

use std::collections::BTreeMap;

use crate::diagnostic::problem::ComposeProblem;
use crate::diagnostic::{Diagnostic, Problem};
use crate::span::Span;
use crate::spanned::Spanned;
use keys::Treatment;
pub use model::*;
pub use values::{go_duration, ram_bytes};
use yaml::{Key, Node, Value};

/// What a compose file is read with.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// A variable's value (the plan's variables, then the environment), `None` when unset.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The compose file's directory, absolute: relative bind sources are resolved against it,
    /// as docker resolves them against the file's.
    pub dir: &'a str,
}

/// Reads a compose file's text. Returns the model when there is no error, and every
/// diagnostic either way.
pub fn load(text: &str, context: Context<'_>) -> (Option<ComposeFile>, Vec<Diagnostic>) {
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let d = Diagnostic::new(ComposeProblem::NotYaml { message: &e.message, first: e.other }, e.span);
            return (None, vec![d]);
        }
    };
    let mut r = Reader { lookup: context.lookup, dir: context.dir, out: Vec::new() };
    let file = r.file(&root);
    let ok = !r.out.iter().any(Diagnostic::is_error);
    (file.filter(|_| ok), r.out)
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    dir: &'a str,
    out: Vec<Diagnostic>,
}

impl Reader<'_> {
    /// Records `problem`, found at `span`.
    fn problem<'p>(&mut self, problem: impl Into<Problem<'p>>, span: Span) {
        self.out.push(Diagnostic::new(problem, span));
    }

    /// A key no branch of the reader took: what docker does with it, by `table` (the keys of
    /// the object it is in, `at` in words); a key outside the table is refused, as docker's
    /// schema refuses it, unless the object is `open` (docker then drops it without a word).
    fn other_key(&mut self, key: &Key, at: &str, table: &[keys::Key], open: bool) {
        let k = key.text.as_str();
        let problem = match keys::lookup(table, k) {
            Some(Treatment::Ignored { why, docker_warns }) => {
                ComposeProblem::IgnoredKey { key: k, at, why, docker_warns }
            }
            Some(Treatment::Discouraged(why)) => ComposeProblem::DiscouragedKey { key: k, at, why },
            Some(Treatment::Refused(why)) => ComposeProblem::RefusedKey { key: k, at, why },
            Some(Treatment::Applied) | None if open => ComposeProblem::DroppedKey { key: k, at },
            Some(Treatment::Applied) | None => {
                let best = crate::suggest::did_you_mean(k, keys::allowed(table));
                ComposeProblem::NotAKey { key: k, at, best }
            }
        };
        self.problem(problem, key.span);
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> &'n [(Key, Node)] {
        match &node.value {
            Value::Map(m) => m,
            _ if node.is_null() => &[],
            _ => {
                self.problem(ComposeProblem::NotAMapping { what, found: node.kind() }, node.span);
                &[]
            }
        }
    }

    /// A scalar, interpolated.
    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let Value::Scalar { text, quoted } = &node.value else {
            self.problem(ComposeProblem::NotAValue { what, found: node.kind() }, node.span);
            return None;
        };
        let base = node.span.offset + usize::from(*quoted);
        match interpolate::interpolate(text, self.lookup) {
            Ok(i) => {
                for (name, at) in i.unset {
                    let at = Span::new((base + at).min(node.span.end()), name.len() + 1);
                    self.problem(ComposeProblem::Unset { name: &name }, at);
                }
                Some(Spanned::new(i.text, node.span))
            }
            Err(e) => {
                let at = Span::new((base + e.at).min(node.span.end()), 1);
                self.problem(ComposeProblem::BadInterpolation { message: &e.message }, at);
                None
            }
        }
    }

    /// A mapping's value as docker's loader writes it (`fmt.Sprint` of what go-yaml typed):
    /// `3.10` is `3.1`, `0x1A` is `26`, and a boolean is refused (the schema takes strings,
    /// numbers and null there).
    fn typed_string(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if !matches!(node.value, Value::Scalar { quoted: false, .. }) {
            return Some(s.value);
        }
        match values::scalar(&s.value) {
            values::Scalar::Str => Some(s.value),
            values::Scalar::Int(n) => Some(n.to_string()),
            values::Scalar::Float(f) => Some(values::go_float(f)),
            values::Scalar::Bool(_) => {
                self.problem(ComposeProblem::BooleanNotString { what, value: &s.value }, node.span);
                None
            }
        }
    }

    fn optional_string(&mut self, node: &Node, what: &str) -> Option<String> {
        if node.is_null() { None } else { self.string(node, what).map(|s| s.value) }
    }

    fn number<T: std::str::FromStr>(&mut self, node: &Node, what: &str, kind: &str, example: &str) -> Option<T> {
        let s = self.string(node, what)?;
        match s.value.trim().parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(ComposeProblem::NotANumber { what, kind, value: &s.value, example }, node.span);
                None
            }
        }
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<u64> {
        self.number(node, what, "a whole number", "2")
    }

    fn integer(&mut self, node: &Node, what: &str) -> Option<i64> {
        self.number(node, what, "a whole number", "-500")
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let s = self.string(node, what)?;
        match s.value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => {
                self.problem(ComposeProblem::NotABoolean { what, value: &s.value }, node.span);
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<i64> {
        let s = self.string(node, what)?;
        match go_duration(&s.value) {
            Some(ns) => Some(ns),
            None => {
                self.problem(ComposeProblem::NotADuration { what, value: &s.value }, node.span);
                None
            }
        }
    }

    fn size(&mut self, node: &Node, what: &str) -> Option<i64> {
        let s = self.string(node, what)?;
        match ram_bytes(&s.value) {
            Some(b) => Some(b),
            None => {
                self.problem(ComposeProblem::NotASize { what, value: &s.value }, node.span);
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
                match values::shell_words(&s.value) {
                    Ok(w) => Some(w),
                    Err(why) => {
                        self.problem(ComposeProblem::NotShellWords { what, why }, node.span);
                        None
                    }
                }
            }
            Value::Map(_) => {
                self.problem(ComposeProblem::CommandIsMapping { what }, node.span);
                None
            }
        }
    }

    /// One string or a list of strings (`dns: 8.8.8.8`).
    fn string_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|i| self.string(i, what).map(|s| s.value)).collect(),
            Value::Scalar { .. } => self.string(node, what).map(|s| s.value).into_iter().collect(),
            Value::Map(_) => {
                self.problem(ComposeProblem::NotAStringList { what }, node.span);
                Vec::new()
            }
        }
    }

    /// A mapping of strings, or a list of `KEY=VALUE` (a bare `KEY` and a mapping's empty
    /// value give `None`), in the order written; a later entry wins over an earlier one.
    fn pairs(&mut self, node: &Node, what: &str) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        let mut put = |k: String, v: Option<String>| match out.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        };
        match &node.value {
            Value::Map(m) => {
                for (k, v) in m {
                    let value = if v.is_null() { None } else { self.typed_string(v, what) };
                    put(k.text.clone(), value);
                }
            }
            Value::Seq(items) => {
                for item in items {
                    if let Some(s) = self.string(item, what) {
                        match s.value.split_once('=') {
                            Some((k, v)) => put(k.to_string(), Some(v.to_string())),
                            None => put(s.value, None),
                        }
                    }
                }
            }
            _ if node.is_null() => {}
            Value::Scalar { .. } => self.problem(ComposeProblem::NotPairs { what }, node.span),
        }
        out
    }

    /// A mapping of strings or a list of `KEY=VALUE`, by key (`None` for a bare key).
    fn dictionary(&mut self, node: &Node, what: &str) -> BTreeMap<String, Option<String>> {
        self.pairs(node, what).into_iter().collect()
    }

    /// Labels and the like: a missing value is the empty string, as docker reads it.
    fn labels(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        self.dictionary(node, what).into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
    }

    fn choice(&mut self, node: &Node, what: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(node, what)?;
        if allowed.contains(&s.value.as_str()) {
            return Some(s.value);
        }
        let best = crate::suggest::did_you_mean(&s.value, allowed.iter().copied());
        self.problem(ComposeProblem::NotAChoice { what, value: &s.value, allowed, best }, node.span);
        None
    }

    fn file(&mut self, root: &Node) -> Option<ComposeFile> {
        let mut file = ComposeFile::default();
        let mut has_services = false;
        for (key, value) in self.map(root, "the file") {
            match key.text.as_str() {
                "version" => self.version(value),
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
                "volumes" => {
                    for (name, body) in self.map(value, "`volumes`") {
                        let v = self.volume_def(name, body);
                        file.volumes.push(v);
                    }
                }
                "configs" | "secrets" => {
                    let is_config = key.text == "configs";
                    for (name, body) in self.map(value, &format!("`{}`", key.text)) {
                        let o = self.file_object(name, body, is_config);
                        if is_config { file.configs.push(o) } else { file.secrets.push(o) }
                    }
                }
                _ => self.other_key(key, "at the top level", keys::TOP, false),
            }
        }
        if !has_services {
            self.problem(ComposeProblem::NoServices, root.span);
        }
        self.references(&file);
        Some(file)
    }

    /// `version`: docker reads stacks of version 3 only (3.x or none).
    fn version(&mut self, node: &Node) {
        let Some(v) = self.string(node, "`version`") else { return };
        let text = v.value.trim();
        if !(text.is_empty() || text == "3" || text.starts_with("3.")) {
            self.problem(ComposeProblem::UnsupportedVersion { version: text }, node.span);
        }
    }

    /// Every network, volume, config and secret a service names is declared at the top level,
    /// as docker's converter requires (`undefined network`, `undefined volume`, ...).
    fn references(&mut self, file: &ComposeFile) {
        for s in &file.services {
            for a in &s.networks {
                if a.key != "default" && !file.networks.iter().any(|n| n.key == a.key) {
                    self.problem(ComposeProblem::UndefinedNetwork { service: &s.name.value, network: &a.key }, a.span);
                }
            }
            for m in &s.volumes {
                let named = matches!(m.kind, MountKind::Volume)
                    || (m.kind == MountKind::Cluster && m.source.as_deref().is_some_and(|s| !s.starts_with("group:")));
                let Some(source) = m.source.as_deref().filter(|_| named) else { continue };
                if file.volume(source).is_none() {
                    let names: Vec<&str> = file.volumes.iter().map(|v| v.key.as_str()).collect();
                    let best = crate::suggest::did_you_mean(source, names.iter().copied());
                    let problem = ComposeProblem::UndefinedVolume { service: &s.name.value, volume: source, best };
                    self.problem(problem, m.source_span);
                }
            }
            for (refs, declared, kind) in [(&s.configs, &file.configs, "config"), (&s.secrets, &file.secrets, "secret")]
            {
                for r in refs {
                    if !declared.iter().any(|d| d.key == r.source.value) {
                        let names = declared.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
                        let best = crate::suggest::did_you_mean(&r.source.value, names.iter().map(String::as_str));
                        let problem = ComposeProblem::UndefinedObject {
                            service: &s.name.value,
                            kind,
                            name: &r.source.value,
                            best,
                        };
                        self.problem(problem, r.source.span);
                    }
                }
            }
            if let Some(config) = s.credential_spec.as_ref().and_then(|c| c.config.as_deref())
                && !file.configs.iter().any(|c| c.key == config)
            {
                self.problem(ComposeProblem::UndefinedCredentialConfig { service: &s.name.value, config }, s.name.span);
            }
        }
    }
}

#[cfg(test)]
mod tests;
