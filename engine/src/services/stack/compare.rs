//! Whether a live spec already is the spec a compose file asks for.

use bollard::models::ServiceSpec;

/// Whether the live spec already is `desired`: every field `desired` sets is equal, and every
/// field it leaves out is empty in `live` or one the daemon fills in itself (isolation,
/// runtime). Published ports are compared as a set: the docker CLI orders them by published
/// port only, so their order among equals is not the file's. Comparing so keeps an unchanged
/// service untouched (its version index does not move), while a field the file stopped setting
/// still counts as a change.
pub fn same_spec(desired: &ServiceSpec, live: &ServiceSpec) -> bool {
    same_spec_at(desired, live, None)
}

/// [`same_spec`] against a daemon speaking Engine API `api`: fields it does not keep (newer
/// than it, or never kept by Swarm) are left out of both sides, so a file that sets them does
/// not count as changed on every run. `None` keeps every field (the fake).
pub fn same_spec_at(desired: &ServiceSpec, live: &ServiceSpec, api: Option<(u32, u32)>) -> bool {
    let mut d = serde_json::to_value(desired).unwrap_or_default();
    let mut l = serde_json::to_value(live).unwrap_or_default();
    for spec in [&mut d, &mut l] {
        if let Some(api) = api {
            drop_unkept(spec, api);
        }
        insert_defaults(spec);
        if let Some(ports) = spec.pointer_mut("/EndpointSpec/Ports").and_then(|p| p.as_array_mut()) {
            ports.sort_by_key(|p| p.to_string());
        }
    }
    covers(&d, &l)
}

/// Swarm's defaults where a spec leaves them out, as the daemon fills them in for
/// `docker service inspect` (`insertDefaults`): update and rollback configs (parallelism 1,
/// failure action pause, monitor 5 s, order stop-first), a restart policy of any exit 5 s apart,
/// a 10 s stop grace period and an empty DNS config. A spec the docker CLI wrote (which leaves
/// them out) and one an older planrun wrote (which spelled them out) then compare equal.
pub fn insert_defaults(spec: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(s) = spec.as_object_mut() else { return };
    let update = serde_json::to_value(crate::services::spec::swarm_update_default()).unwrap_or_default();
    for key in ["UpdateConfig", "RollbackConfig"] {
        match s.get_mut(key).and_then(Value::as_object_mut) {
            None => {
                s.insert(key.into(), update.clone());
            }
            // Parallelism and MaxFailureRatio left out are 0, which is not their default.
            Some(c) => {
                for field in ["FailureAction", "Monitor", "Order"] {
                    fill(c, field, update[field].clone());
                }
            }
        }
    }
    let Some(task) = s.entry("TaskTemplate").or_insert_with(|| json!({})).as_object_mut() else { return };
    let restart = task.entry("RestartPolicy").or_insert_with(|| json!({}));
    if let Some(r) = restart.as_object_mut() {
        fill(r, "Condition", json!("any"));
        fill(r, "Delay", json!(5_000_000_000u64));
    }
    if let Some(c) = task.get_mut("ContainerSpec").and_then(Value::as_object_mut) {
        fill(c, "StopGracePeriod", json!(10_000_000_000u64));
        fill(c, "DNSConfig", json!({}));
    }
}

/// Fields a daemon does not keep, with the API version that keeps them (`None`: Swarm never
/// keeps it): dockerd 20.10 (API 1.41) drops a health check's start interval, and no Swarm keeps
/// a mount's consistency (a Docker Desktop setting).
const NEWER_FIELDS: &[(&str, Option<(u32, u32)>)] = &[
    ("/TaskTemplate/ContainerSpec/HealthCheck/StartInterval", Some((1, 44))),
    ("/TaskTemplate/ContainerSpec/OomScoreAdj", Some((1, 46))),
    ("/TaskTemplate/ContainerSpec/Mounts/*/Consistency", None),
    ("/TaskTemplate/ContainerSpec/Mounts/*/VolumeOptions/Subpath", Some((1, 45))),
];

fn drop_unkept(spec: &mut serde_json::Value, api: (u32, u32)) {
    for (path, kept_from) in NEWER_FIELDS {
        if kept_from.is_none_or(|v| api < v) {
            remove_path(spec, &path[1..]);
        }
    }
}

/// Removes the field at `path` (`a/b/*/c`: every element of the array `b`).
fn remove_path(value: &mut serde_json::Value, path: &str) {
    let (head, rest) = path.split_once('/').unwrap_or((path, ""));
    match (head, rest.is_empty()) {
        ("*", _) => {
            for item in value.as_array_mut().into_iter().flatten() {
                remove_path(item, rest);
            }
        }
        (key, true) => {
            if let Some(o) = value.as_object_mut() {
                o.remove(key);
            }
        }
        (key, false) => {
            if let Some(next) = value.get_mut(key) {
                remove_path(next, rest);
            }
        }
    }
}

/// Sets `key` to `value` where it is missing or empty.
fn fill(object: &mut serde_json::Map<String, serde_json::Value>, key: &str, value: serde_json::Value) {
    if object.get(key).is_none_or(empty) {
        object.insert(key.to_owned(), value);
    }
}

fn empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(empty),
    }
}

fn daemon_fills(key: &str, value: &serde_json::Value) -> bool {
    matches!((key, value.as_str()), ("Isolation", Some("default")) | ("Runtime", Some("container")))
}

fn covers(desired: &serde_json::Value, live: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            d.iter().all(|(k, dv)| match l.get(k) {
                Some(lv) => covers(dv, lv),
                None => empty(dv),
            }) && l.iter().all(|(k, lv)| d.contains_key(k) || empty(lv) || daemon_fills(k, lv))
        }
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(a, b)| covers(a, b)),
        (d, l) if empty(d) && empty(l) => true,
        (d, l) => d == l,
    }
}
