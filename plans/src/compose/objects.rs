//! Top-level networks, volumes, configs and secrets, as docker's loader reads them: an
//! external object without a name is named by its key, `external.name` is the old spelling of
//! `name` (docker warns), and the combinations docker refuses are errors.

use super::keys::{self, Treatment};
use super::yaml::{Key, Node, Value};
use super::{FileObject, Ipam, NetworkDef, Reader, VolumeDef};
use crate::diagnostic::problem::ComposeObjectProblem;
use crate::span::Span;

impl Reader<'_> {
    pub(super) fn network(&mut self, key: &Key, body: &Node) -> NetworkDef {
        let mut n = NetworkDef { key: key.text.clone(), span: key.span, ..NetworkDef::default() };
        let mut external_name = None;
        let at = format!("on network `{}`", key.text);
        for (k, value) in self.map(body, &format!("network `{}`", key.text)) {
            let what = format!("`{}` of network `{}`", k.text, key.text);
            match k.text.as_str() {
                "name" => n.name = self.optional_string(value, &what),
                "external" => n.external = self.external(value, &what, &mut external_name, false),
                "driver" => n.driver = self.optional_string(value, &what),
                "driver_opts" => n.driver_opts = self.labels(value, &what),
                "ipam" => n.ipam = Some(self.ipam(value, &what)),
                "attachable" => n.attachable = self.boolean(value, &what).unwrap_or(false),
                "internal" => n.internal = self.boolean(value, &what).unwrap_or(false),
                "labels" => n.labels = self.labels(value, &what),
                k2 if k2.starts_with("x-") => {}
                _ => self.other_key(k, &at, keys::NETWORK, false),
            }
        }
        n.name = self.external_name("network", key, n.external, n.name.take(), external_name);
        n
    }

    fn ipam(&mut self, node: &Node, what: &str) -> Ipam {
        let mut ipam = Ipam::default();
        for (k, value) in self.map(node, what) {
            match k.text.as_str() {
                "driver" => ipam.driver = self.optional_string(value, "`ipam.driver`"),
                "config" => {
                    let Value::Seq(items) = &value.value else {
                        self.problem(ComposeObjectProblem::IpamConfigNotAList, value.span);
                        continue;
                    };
                    for item in items {
                        for (ck, cv) in self.map(item, "an `ipam.config` item") {
                            match ck.text.as_str() {
                                "subnet" => ipam.subnets.extend(self.optional_string(cv, "`subnet`")),
                                _ => self.other_key(ck, "in `ipam.config`", &[("subnet", Treatment::Applied)], false),
                            }
                        }
                    }
                }
                _ => self.other_key(
                    k,
                    "in `ipam`",
                    &[("driver", Treatment::Applied), ("config", Treatment::Applied)],
                    false,
                ),
            }
        }
        ipam
    }

    pub(super) fn volume_def(&mut self, key: &Key, body: &Node) -> VolumeDef {
        let mut v = VolumeDef { key: key.text.clone(), span: key.span, ..VolumeDef::default() };
        let mut external_name = None;
        let mut conflicts: Vec<(&str, Span)> = Vec::new();
        let at = format!("on volume `{}`", key.text);
        for (k, value) in self.map(body, &format!("volume `{}`", key.text)) {
            let what = format!("`{}` of volume `{}`", k.text, key.text);
            match k.text.as_str() {
                "name" => v.name = self.optional_string(value, &what),
                "external" => v.external = self.external(value, &what, &mut external_name, false),
                "driver" => {
                    v.driver = self.optional_string(value, &what);
                    conflicts.push(("driver", k.span));
                }
                "driver_opts" => {
                    // `driver_opts:` with nothing is no driver options at all, as docker reads it.
                    v.driver_opts = (!value.is_null()).then(|| self.labels(value, &what));
                    conflicts.push(("driver_opts", k.span));
                }
                "labels" => {
                    v.labels = self.labels(value, &what);
                    conflicts.push(("labels", k.span));
                }
                k2 if k2.starts_with("x-") => {}
                _ => self.other_key(k, &at, keys::VOLUME, false),
            }
        }
        if v.external {
            let empty = |name: &str| match name {
                "driver" => v.driver.as_deref().is_none_or(str::is_empty),
                "driver_opts" => v.driver_opts.as_ref().is_none_or(|o| o.is_empty()),
                _ => v.labels.is_empty(),
            };
            if let Some((name, span)) = conflicts.iter().find(|(name, _)| !empty(name)) {
                self.problem(ComposeObjectProblem::ExternalConflict { param: name, volume: &key.text }, *span);
            }
        }
        v.name = self.external_name("volume", key, v.external, v.name.take(), external_name);
        v
    }

    pub(super) fn file_object(&mut self, key: &Key, body: &Node, is_config: bool) -> FileObject {
        let kind = if is_config { "config" } else { "secret" };
        let mut o = FileObject { key: key.text.clone(), span: key.span, ..FileObject::default() };
        let mut external_name = None;
        let mut file_span = None;
        let table = if is_config { keys::CONFIG } else { keys::SECRET };
        for (k, value) in self.map(body, &format!("{kind} `{}`", key.text)) {
            let what = format!("`{}` of {kind} `{}`", k.text, key.text);
            match (k.text.as_str(), is_config) {
                ("name", _) => o.name = self.optional_string(value, &what),
                ("external", _) => o.external = self.external(value, &what, &mut external_name, true),
                ("file", _) => {
                    o.file = self.optional_string(value, &what);
                    file_span = Some(k.span);
                }
                ("labels", _) => o.labels = self.labels(value, &what),
                ("template_driver", _) => o.template_driver = self.optional_string(value, &what),
                ("driver", false) => o.driver = self.optional_string(value, &what),
                ("driver_opts", false) => o.driver_opts = self.labels(value, &what),
                (k2, _) if k2.starts_with("x-") => {}
                _ => self.other_key(k, &format!("on {kind} `{}`", key.text), table, false),
            }
        }
        o.name = self.external_name(kind, key, o.external, o.name.take(), external_name);
        if !o.external && o.driver.is_some() && o.file.is_some() {
            self.problem(ComposeObjectProblem::DriverAndFile { kind, name: &key.text }, file_span.unwrap_or(key.span));
        }
        if !o.external && o.file.is_none() && o.driver.is_none() {
            self.problem(ComposeObjectProblem::NoContent { kind, name: &key.text, is_config }, key.span);
        }
        o
    }

    /// `external: true`, or the old `external: {name: N}` (its name into `name`).
    fn external(&mut self, value: &Node, what: &str, name: &mut Option<(String, Span)>, open: bool) -> bool {
        if let Value::Map(m) = &value.value {
            for (k, v) in m {
                match k.text.as_str() {
                    "name" => *name = self.string(v, "`external.name`").map(|s| (s.value, k.span)),
                    _ => self.other_key(k, "in `external`", &[("name", Treatment::Applied)], open),
                }
            }
            return true;
        }
        self.boolean(value, what).unwrap_or(false)
    }

    /// The name docker gives an object: `external.name` (deprecated; it conflicts with
    /// `name`), else `name`, else for an external object its key.
    fn external_name(
        &mut self,
        kind: &str,
        key: &Key,
        external: bool,
        name: Option<String>,
        external_name: Option<(String, Span)>,
    ) -> Option<String> {
        if !external {
            return name;
        }
        match (name, external_name) {
            (Some(name), Some((_, span))) => {
                self.problem(ComposeObjectProblem::ExternalNameConflict { kind, name: &key.text }, span);
                Some(name)
            }
            (None, Some((old, span))) => {
                self.problem(ComposeObjectProblem::ExternalNameDeprecated { kind, name: &key.text, old: &old }, span);
                Some(old)
            }
            (name, None) => Some(name.unwrap_or_else(|| key.text.clone())),
        }
    }
}
