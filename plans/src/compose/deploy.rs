//! A service's `deploy`, as docker's loader reads it.

use super::keys::{self, Treatment};
use super::yaml::{Node, Value};
use super::{Deploy, Mode, Reader, Resources, RestartPolicy, UpdateConfig, values};
use crate::diagnostic::problem::ComposeServiceProblem;

const APPLIED: Treatment = Treatment::Applied;

impl Reader<'_> {
    pub(super) fn deploy(&mut self, node: &Node, service: &str) -> Deploy {
        let mut d = Deploy::default();
        let mut mode = None;
        let mut replicas = None;
        for (key, value) in self.map(node, "`deploy`") {
            let what = format!("`deploy.{}` of service `{service}`", key.text);
            match key.text.as_str() {
                "mode" => mode = self.string(value, &what),
                "replicas" => replicas = self.count(value, &what).map(|n| (n, key.span)),
                "labels" => d.labels = self.labels(value, &what),
                "update_config" => d.update_config = self.update_config(value, &what, false),
                "rollback_config" => d.rollback_config = self.update_config(value, &what, true),
                "restart_policy" => d.restart_policy = Some(self.restart_policy(value, &what)),
                "endpoint_mode" => {
                    // docker lower-cases it.
                    d.endpoint_mode = self.string(value, &what).and_then(|s| match s.value.to_lowercase().as_str() {
                        m @ ("vip" | "dnsrr" | "") => Some(m.to_owned()),
                        _ => {
                            self.choice(value, &what, &["vip", "dnsrr"]);
                            None
                        }
                    })
                }
                "placement" => self.placement(value, &what, &mut d),
                "resources" => self.resources(value, &what, &mut d),
                _ => self.other_key(key, &format!("in the `deploy` of service `{service}`"), keys::DEPLOY, false),
            }
        }
        match mode.as_ref().map(|m| m.value.as_str()) {
            None | Some("replicated" | "") => d.mode = Mode::Replicated(replicas.map_or(1, |(n, _)| n)),
            Some("global") => {
                d.mode = Mode::Global;
                if let Some((_, span)) = replicas {
                    self.problem(ComposeServiceProblem::ReplicasWithGlobal, span);
                }
            }
            Some(job @ ("replicated-job" | "global-job")) => {
                let span = mode.as_ref().map_or(node.span, |m| m.span);
                self.problem(ComposeServiceProblem::JobMode { mode: job }, span);
            }
            Some(other) => {
                let span = mode.as_ref().map_or(node.span, |m| m.span);
                self.problem(ComposeServiceProblem::UnknownMode { mode: other }, span);
            }
        }
        d
    }

    fn update_config(&mut self, node: &Node, what: &str, rollback: bool) -> Option<UpdateConfig> {
        let mut u = UpdateConfig { span: node.span, ..UpdateConfig::default() };
        for (key, value) in self.map(node, what) {
            let what = format!("`{}`", key.text);
            match key.text.as_str() {
                "parallelism" => u.parallelism = self.count(value, &what),
                "delay" => u.delay = self.duration(value, &what),
                "failure_action" => {
                    u.failure_action = self.choice(value, &what, &["continue", "rollback", "pause"]);
                    if rollback && u.failure_action.as_deref() == Some("rollback") {
                        self.problem(ComposeServiceProblem::RollbackOfRollback, value.span);
                    }
                }
                "monitor" => u.monitor = self.duration(value, &what),
                "max_failure_ratio" => {
                    u.max_failure_ratio = self.string(value, &what).and_then(|s| match s.value.trim().parse::<f64>() {
                        Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
                        _ => {
                            self.problem(ComposeServiceProblem::FailureRatioOutOfRange { value: &s.value }, value.span);
                            None
                        }
                    })
                }
                "order" => u.order = self.choice(value, &what, &["start-first", "stop-first"]),
                _ => {
                    let table = [
                        ("parallelism", APPLIED),
                        ("delay", APPLIED),
                        ("failure_action", APPLIED),
                        ("monitor", APPLIED),
                        ("max_failure_ratio", APPLIED),
                        ("order", APPLIED),
                    ];
                    self.other_key(key, "in this update config", &table, false)
                }
            }
        }
        Some(u)
    }

    fn restart_policy(&mut self, node: &Node, what: &str) -> RestartPolicy {
        let mut p = RestartPolicy::default();
        for (key, value) in self.map(node, what) {
            let what = format!("`restart_policy.{}`", key.text);
            match key.text.as_str() {
                "condition" => p.condition = self.choice(value, &what, &["none", "on-failure", "any"]),
                "delay" => p.delay = self.duration(value, &what),
                "max_attempts" => p.max_attempts = self.count(value, &what),
                "window" => p.window = self.duration(value, &what),
                _ => {
                    let table =
                        [("condition", APPLIED), ("delay", APPLIED), ("max_attempts", APPLIED), ("window", APPLIED)];
                    self.other_key(key, "in `restart_policy`", &table, false)
                }
            }
        }
        p
    }

    fn placement(&mut self, node: &Node, what: &str, d: &mut Deploy) {
        for (key, value) in self.map(node, what) {
            let what = format!("`placement.{}`", key.text);
            match key.text.as_str() {
                "constraints" => {
                    d.constraints = self.string_list(value, &what);
                    let items: Vec<crate::span::Span> = match &value.value {
                        Value::Seq(items) => items.iter().map(|i| i.span).collect(),
                        _ => vec![value.span],
                    };
                    for (i, c) in d.constraints.iter().enumerate() {
                        if let Err(why) = constraint(c) {
                            let at = items.get(i).copied().unwrap_or(value.span);
                            self.problem(ComposeServiceProblem::BadConstraint { constraint: c, why: &why }, at);
                        }
                    }
                }
                "preferences" => {
                    let Value::Seq(items) = &value.value else {
                        self.problem(ComposeServiceProblem::PreferencesNotAList { what: &what }, value.span);
                        continue;
                    };
                    for item in items {
                        for (k, v) in self.map(item, "a preference") {
                            match k.text.as_str() {
                                "spread" => d.preferences.extend(self.optional_string(v, "`spread`")),
                                _ => self.other_key(k, "in `placement.preferences`", &[("spread", APPLIED)], false),
                            }
                        }
                    }
                }
                "max_replicas_per_node" => d.max_replicas_per_node = self.count(value, &what),
                _ => {
                    let table =
                        [("constraints", APPLIED), ("preferences", APPLIED), ("max_replicas_per_node", APPLIED)];
                    self.other_key(key, "in `placement`", &table, false)
                }
            }
        }
    }

    fn resources(&mut self, node: &Node, what: &str, d: &mut Deploy) {
        for (key, value) in self.map(node, what) {
            let limits = match key.text.as_str() {
                "limits" => true,
                "reservations" => false,
                _ => {
                    self.other_key(key, "in `resources`", &[("limits", APPLIED), ("reservations", APPLIED)], false);
                    continue;
                }
            };
            let mut r = Resources::default();
            for (k, v) in self.map(value, &format!("`resources.{}`", key.text)) {
                match (k.text.as_str(), limits) {
                    ("cpus", _) => {
                        r.nano_cpus = self.string(v, "`cpus`").and_then(|s| match values::nano_cpus(&s.value) {
                            Ok(n) if n > 0 && n < 1_000_000 => {
                                self.problem(ComposeServiceProblem::CpusBelowLeast { value: s.value.trim() }, v.span);
                                None
                            }
                            Ok(n) => Some(n),
                            Err(why) => {
                                self.problem(ComposeServiceProblem::NotCpus { value: &s.value, why }, v.span);
                                None
                            }
                        })
                    }
                    ("memory", _) => r.memory = self.size(v, "`memory`"),
                    ("pids", true) => r.pids = self.integer(v, "`pids`"),
                    ("generic_resources", false) => r.generic = self.generic_resources(v),
                    _ => {
                        let table: &[keys::Key] = if limits {
                            &[("cpus", APPLIED), ("memory", APPLIED), ("pids", APPLIED)]
                        } else {
                            &[("cpus", APPLIED), ("memory", APPLIED), ("generic_resources", APPLIED)]
                        };
                        self.other_key(k, &format!("in `resources.{}`", key.text), table, false)
                    }
                }
            }
            if limits { d.limits = Some(r) } else { d.reservations = Some(r) }
        }
    }

    /// `generic_resources`: `- discrete_resource_spec: {kind: gpu, value: 2}` items.
    fn generic_resources(&mut self, node: &Node) -> Vec<(String, i64)> {
        let Value::Seq(items) = &node.value else {
            self.problem(ComposeServiceProblem::GenericResourcesNotAList, node.span);
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            for (k, v) in self.map(item, "a generic resource") {
                if k.text != "discrete_resource_spec" {
                    self.other_key(k, "in `generic_resources`", &[("discrete_resource_spec", APPLIED)], false);
                    continue;
                }
                let (mut kind, mut value) = (None, None);
                for (key, val) in self.map(v, "`discrete_resource_spec`") {
                    match key.text.as_str() {
                        "kind" => kind = self.optional_string(val, "`kind`"),
                        "value" => value = self.integer(val, "`value`"),
                        _ => self.other_key(
                            key,
                            "in `discrete_resource_spec`",
                            &[("kind", APPLIED), ("value", APPLIED)],
                            false,
                        ),
                    }
                }
                out.push((kind.unwrap_or_default(), value.unwrap_or(0)));
            }
        }
        out
    }
}

/// A placement constraint as swarmkit reads one (`constraint.Parse`): `KEY==VALUE` or
/// `KEY!=VALUE`; the error in the daemon's words.
fn constraint(text: &str) -> Result<(), String> {
    // swarmkit splits at the first operator; another one makes the value invalid.
    let first = [text.find("=="), text.find("!=")].into_iter().flatten().min();
    let Some(at) = first else {
        return Err("constraint expected one operator from ==, !=".into());
    };
    let op = &text[at..at + 2];
    let at = &at;
    let (key, value) = (text[..*at].trim(), text[at + op.len()..].trim());
    let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.len() > 1
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        return Err(format!("key '{key}' is invalid"));
    }
    if value.is_empty() || value.contains("==") || value.contains("!=") {
        return Err(format!("value '{value}' is invalid"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn constraints_as_swarmkit_reads_them() {
        assert!(super::constraint("node.role == manager").is_ok());
        assert!(super::constraint("node.labels.zone!=b").is_ok());
        assert_eq!(super::constraint("node=foo").unwrap_err(), "constraint expected one operator from ==, !=");
        assert_eq!(super::constraint("node.id==b==c").unwrap_err(), "value 'b==c' is invalid");
        assert!(super::constraint("==b").unwrap_err().contains("key"));
        assert!(super::constraint("node.id==").unwrap_err().contains("value"));
    }
}
