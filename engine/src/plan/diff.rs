//! What changes between two specs of a service, field by field, in the words a reviewer
//! reads: image (tag and digest), replicas, update settings, env, networks, mounts, configs,
//! secrets, health check, published ports, labels (planrun's own bookkeeping labels left out).

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::ServiceSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::services::spec;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    /// The field: `image`, `replicas`, `update.parallelism`, `env.LOG_LEVEL`, `networks`, ...
    pub field: String,
    /// Before (`None`: not set, or unknown when `before_unknown`).
    pub before: Option<String>,
    /// Whether the value before is unknown: planning offline reads nothing live.
    pub before_unknown: bool,
    /// After (`None`: removed).
    pub after: Option<String>,
}

/// The fields of a spec a reviewer cares about, flattened to text. `networks` maps network ids
/// to names.
pub fn fields(s: &ServiceSpec, networks: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let (tag, digest) = super::live::image_parts(s);
    out.insert("image".into(), tag);
    if let Some(d) = digest {
        out.insert("image.digest".into(), d);
    }
    match spec::replicas(s) {
        Some(n) => out.insert("replicas".into(), n.to_string()),
        None => out.insert("mode".into(), "global".into()),
    };
    // A spec without an update config gets Swarm's defaults (what `docker service inspect`
    // shows, asking with insertDefaults).
    let swarm_default = spec::swarm_update_default();
    if let Some(u) = s.update_config.as_ref().or(Some(&swarm_default)) {
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.insert(format!("update.{k}"), v);
            }
        };
        put("parallelism", u.parallelism.map(|p| p.to_string()));
        // No delay and a delay of 0 are the same to Swarm.
        put("delay", Some(nanos(u.delay.unwrap_or(0))));
        put("order", u.order.map(|o| o.to_string()));
        put("failure-action", u.failure_action.map(|o| o.to_string()));
        put("monitor", u.monitor.map(nanos));
        put("max-failure-ratio", Some(u.max_failure_ratio.unwrap_or(0.0).to_string()));
    }
    let template = s.task_template.clone().unwrap_or_default();
    let container = template.container_spec.clone().unwrap_or_default();
    for e in container.env.iter().flatten() {
        // Values never: a marker with a short hash still shows that one changed.
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        out.insert(format!("env.{k}"), crate::redact::value(v));
    }
    if let Some(args) = &container.args {
        out.insert("args".into(), crate::redact::text(&args.join(" ")).into_owned());
    }
    if let Some(command) = &container.command {
        out.insert("command".into(), crate::redact::text(&command.join(" ")).into_owned());
    }
    let mut nets: BTreeSet<String> = BTreeSet::new();
    for n in template.networks.iter().flatten() {
        let target = n.target.clone().unwrap_or_default();
        let name = networks.get(&target).cloned().unwrap_or(target);
        let aliases = n.aliases.clone().unwrap_or_default();
        nets.insert(if aliases.is_empty() { name } else { format!("{name} (aliases {})", aliases.join(", ")) });
    }
    if !nets.is_empty() {
        out.insert("networks".into(), nets.into_iter().collect::<Vec<_>>().join(", "));
    }
    for m in container.mounts.iter().flatten() {
        let target = m.target.clone().unwrap_or_default();
        let kind = m.typ.map(|t| t.to_string()).unwrap_or_else(|| "volume".into());
        let mut what = match m.source.as_deref().filter(|s| !s.is_empty()) {
            Some(source) => format!("{kind} {source}"),
            None => kind,
        };
        if m.read_only == Some(true) {
            what.push_str(" (read-only)");
        }
        out.insert(format!("mount {target}"), what);
    }
    for c in container.configs.iter().flatten() {
        let at = c.file.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
        out.insert(format!("config {at}"), c.config_name.clone().unwrap_or_default());
    }
    for c in container.secrets.iter().flatten() {
        let at = c.file.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
        out.insert(format!("secret {at}"), c.secret_name.clone().unwrap_or_default());
    }
    if let Some(h) = spec::health_check(s) {
        let test = h.test.clone().unwrap_or_default();
        let mut text = test.iter().skip(1).cloned().collect::<Vec<_>>().join(" ");
        if let Some(i) = h.interval.filter(|i| *i > 0) {
            text.push_str(&format!(", every {}", nanos(i)));
        }
        if let Some(r) = h.retries.filter(|r| *r > 0) {
            text.push_str(&format!(", {r} retries"));
        }
        if let Some(p) = h.start_period.filter(|p| *p > 0) {
            text.push_str(&format!(", start period {}", nanos(p)));
        }
        out.insert("healthcheck".into(), text);
    }
    for p in s.endpoint_spec.iter().flat_map(|e| e.ports.iter().flatten()) {
        let mode = p.publish_mode.map(|m| m.to_string()).unwrap_or_default();
        let protocol = p.protocol.map(|x| x.to_string()).filter(|x| !x.is_empty() && x != "tcp");
        let target = p.target_port.unwrap_or(0);
        // One field per published port (and protocol); unpublished ones by their target.
        match p.published_port.filter(|n| *n != 0) {
            Some(published) => {
                let key = protocol.map_or_else(|| format!("port {published}"), |x| format!("port {published}/{x}"));
                out.insert(key, format!("{target}/{mode}"));
            }
            None => {
                let key = format!("port {target}/{} (unpublished)", protocol.as_deref().unwrap_or("tcp"));
                out.insert(key, mode);
            }
        }
    }
    for (k, v) in s.labels.iter().flatten() {
        if !k.starts_with("planrun.") {
            out.insert(format!("label {k}"), v.clone());
        }
    }
    out
}

/// The changed fields from `before` to `after`, in field order.
pub fn changes(before: &ServiceSpec, after: &ServiceSpec, networks: &BTreeMap<String, String>) -> Vec<FieldChange> {
    let (a, b) = (fields(before, networks), fields(after, networks));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out: Vec<FieldChange> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
            before_unknown: false,
        })
        .collect();
    // The image first: it is what a reviewer looks for.
    out.sort_by_key(|c| (!c.field.starts_with("image"), c.field.clone()));
    out
}

/// Nanoseconds as a duration a person reads: `5s`, `1.5s`, `2m`.
fn nanos(n: i64) -> String {
    crate::clock::seconds(std::time::Duration::from_nanos(n.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use bollard::models::{ServiceSpecUpdateConfig, TaskSpec, TaskSpecContainerSpec};

    use super::*;

    fn spec(image: &str, env: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: Some("web".into()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(env.iter().map(|e| e.to_string()).collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn image_first_then_fields_in_order_swarm_defaults_filled_and_planrun_labels_left_out() {
        use crate::redact;
        let before = spec("app:v1@sha256:aaa", &["A=1", "B=2"]);
        let mut after = spec("app:v2", &["A=1", "B=3", "C=4"]);
        after.update_config = Some(ServiceSpecUpdateConfig { parallelism: Some(2), ..Default::default() });
        after.labels = Some([("planrun.release".to_owned(), "x".to_owned())].into());
        let got: Vec<(String, Option<String>, Option<String>)> =
            changes(&before, &after, &BTreeMap::new()).into_iter().map(|c| (c.field, c.before, c.after)).collect();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            got,
            vec![
                ("image".into(), s("app:v1"), s("app:v2")),
                ("image.digest".into(), s("sha256:aaa"), None),
                // Env values only as markers: that B changed shows, 2 and 3 never do.
                ("env.B".into(), s(&redact::value("2")), s(&redact::value("3"))),
                ("env.C".into(), None, s(&redact::value("4"))),
                ("update.failure-action".into(), s("pause"), None),
                ("update.monitor".into(), s("5s"), None),
                ("update.order".into(), s("stop-first"), None),
                ("update.parallelism".into(), s("1"), s("2")),
            ]
        );
        assert!(changes(&before, &before, &BTreeMap::new()).is_empty());
    }
}
