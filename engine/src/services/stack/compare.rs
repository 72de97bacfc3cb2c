//! Whether a live spec already is the spec a compose file asks for.

use bollard::models::ServiceSpec;

/// Whether the live spec already is `desired`: every field `desired` sets is equal, and every
/// field it leaves out is empty in `live` or one the daemon fills in itself (isolation,
/// runtime). Published ports are compared as a set: the docker CLI orders them by published
/// port only, so their order among equals is not the file's. Comparing so keeps an unchanged
/// service untouched (its version index does not move), while a field the file stopped setting
/// still counts as a change.
pub fn same_spec(desired: &ServiceSpec, live: &ServiceSpec) -> bool {
    let mut d = serde_json::to_value(desired).unwrap_or_default();
    let mut l = serde_json::to_value(live).unwrap_or_default();
    for spec in [&mut d, &mut l] {
        if let Some(ports) = spec.pointer_mut("/EndpointSpec/Ports").and_then(|p| p.as_array_mut()) {
            ports.sort_by_key(|p| p.to_string());
        }
    }
    covers(&d, &l)
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
