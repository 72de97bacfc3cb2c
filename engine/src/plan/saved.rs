//! A saved plan (`planrun plan -o release.plan`): the plan's text and inputs, and what was
//! live when it was planned. `planrun apply release.plan` applies exactly that plan text, and
//! refuses when the swarm moved on since: a service's version index, image or the live colour
//! differs from what the reviewer saw.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::diff;
use super::live::LiveState;

/// What identifies a saved plan file.
pub const FORMAT: &str = "planrun-saved-plan/1";

/// A saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// `planrun-saved-plan/1`.
    pub format: String,
    /// The plan file, as it was named.
    pub file: String,
    /// Its directory, absolute (SQL files and templates are read from there at apply).
    pub dir: String,
    /// Its text, exactly.
    pub text: String,
    /// `--var` names, each with a marker of its value (`crate::redact`): apply takes the values
    /// again and checks them against these.
    pub vars: Vec<(String, String)>,
    /// `--env`.
    pub env: Option<String>,
    /// What was live.
    pub live: LiveState,
}

impl SavedPlan {
    /// A saved plan of `text`, as planrun may write it: `--var` values and what was live
    /// redacted (env values, config contents).
    pub fn new(
        file: String,
        dir: String,
        text: String,
        vars: &[(String, String)],
        env: Option<String>,
        live: &LiveState,
    ) -> SavedPlan {
        let vars = vars.iter().map(|(k, v)| (k.clone(), crate::redact::value(v))).collect();
        SavedPlan { format: FORMAT.into(), file, dir, text, vars, env, live: live.redacted() }
    }

    /// The `--var` values to apply this plan with: `given` again, each the value reviewed.
    /// Saved plans of older planruns kept the values themselves, and need none given.
    pub fn vars_from(&self, given: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (name, saved) in &self.vars {
            let again = given.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
            match (crate::redact::hash_of(saved), again) {
                (None, None) => out.push((name.clone(), saved.clone())),
                (None, Some(v)) if v == saved => out.push((name.clone(), v.clone())),
                (Some(_), Some(v)) if crate::redact::stands_for(saved, v) => out.push((name.clone(), v.clone())),
                (_, None) => problems.push(format!(
                    "--var {name}: the plan was reviewed with a value of `{name}` the saved plan keeps only a hash of; give the same `--var {name}=...` again"
                )),
                (_, Some(_)) => problems.push(format!(
                    "--var {name}: not the value the plan was reviewed with; plan again to change it"
                )),
            }
        }
        for (name, _) in given.iter().filter(|(k, _)| !self.vars.iter().any(|(s, _)| s == k)) {
            problems.push(format!("--var {name}: the plan was reviewed without it; plan again to add it"));
        }
        if problems.is_empty() { Ok(out) } else { Err(problems.join("; ")) }
    }

    /// Whether `text` is a saved plan (JSON with this format) rather than KDL.
    pub fn sniff(text: &str) -> bool {
        text.trim_start().starts_with('{') && text.contains(FORMAT)
    }
}

/// How the swarm moved on since the plan was saved: one line per service or colour, naming
/// what changed. Empty: nothing did.
pub fn moved_on(saved: &LiveState, now: &LiveState) -> Vec<String> {
    let mut out = Vec::new();
    let networks: BTreeMap<String, String> = now.networks.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
    for (name, then) in &saved.services {
        match now.services.get(name) {
            None => out.push(format!("service `{name}` was removed since the plan was saved")),
            Some(s) if s.version != then.version => {
                let fields = diff::changes(&then.spec, &s.spec, &networks);
                let what = if fields.is_empty() {
                    "its spec was rewritten (no reviewed field differs)".to_owned()
                } else {
                    fields
                        .iter()
                        .map(|f| {
                            format!(
                                "{} {} -> {}",
                                f.field,
                                f.before.as_deref().unwrap_or("(unset)"),
                                f.after.as_deref().unwrap_or("(unset)")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push(format!(
                    "service `{name}` changed since the plan was saved (version {} -> {}): {what}",
                    then.version, s.version
                ));
            }
            Some(_) => {}
        }
    }
    for m in &now.missing {
        if saved.services.contains_key(&m.service) {
            continue;
        }
        if !saved.missing.iter().any(|x| x.service == m.service) {
            out.push(format!("service `{}` is missing", m.service));
        }
    }
    for (name, _) in now.services.iter().filter(|(n, _)| !saved.services.contains_key(*n)) {
        out.push(format!("service `{name}` was created since the plan was saved"));
    }
    for (step, colour) in &saved.colours {
        if now.colours.get(step) != Some(colour) {
            let show = |c: Option<&Result<String, String>>| match c {
                Some(Ok(c)) => c.clone(),
                _ => "unknown".into(),
            };
            out.push(format!(
                "the live colour of step `{step}` changed since the plan was saved: {} -> {}",
                show(Some(colour)),
                show(now.colours.get(step))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::live::LiveService;

    fn state(version: u64, env: &[&str]) -> LiveState {
        let mut spec = bollard::models::ServiceSpec { name: Some("shop_web".into()), ..Default::default() };
        crate::services::spec::set_image(&mut spec, "app:v1");
        spec.task_template.as_mut().unwrap().container_spec.as_mut().unwrap().env =
            Some(env.iter().map(|e| e.to_string()).collect());
        LiveState {
            read_at: "2026-12-01T00:00:00Z".into(),
            services: [(
                "shop_web".to_owned(),
                LiveService { id: "x".into(), version, spec, running: 2, update: None },
            )]
            .into(),
            missing: Vec::new(),
            networks: Vec::new(),
            configs: Vec::new(),
            secrets: Vec::new(),
            lock: None,
            waiting: None,
            colours: [("front".to_owned(), Ok("blue".to_owned()))].into(),
            canaries: Vec::new(),
            api_version: None,
        }
    }

    #[test]
    fn a_saved_plan_keeps_no_value_and_takes_them_again() {
        let vars = [("version".to_owned(), "v2".to_owned()), ("token".to_owned(), "s3cret".to_owned())];
        let saved =
            SavedPlan::new("plan.kdl".into(), "/x".into(), "plan x {}".into(), &vars, None, &state(7, &["K=s3cret"]));
        let json = serde_json::to_string(&saved).unwrap();
        assert!(!json.contains("s3cret") && !json.contains("\"v2\""), "{json}");
        assert_eq!(saved.vars_from(&vars), Ok(vars.to_vec()));
        let missing = saved.vars_from(&vars[..1]).unwrap_err();
        assert!(missing.contains("--var token") && missing.contains("give the same"), "{missing}");
        let other = saved.vars_from(&[vars[0].clone(), ("token".into(), "guess".into())]).unwrap_err();
        assert!(other.contains("not the value the plan was reviewed with"), "{other}");
        let extra = saved.vars_from(&[vars[0].clone(), vars[1].clone(), ("x".into(), "1".into())]).unwrap_err();
        assert!(extra.contains("--var x: the plan was reviewed without it"), "{extra}");
        // What was live compares with the swarm through the same markers.
        assert!(moved_on(&saved.live, &state(7, &["K=s3cret"])).is_empty());
        let changed = moved_on(&saved.live, &state(8, &["K=other"]));
        assert!(changed[0].contains("env.K <redacted:") && !changed[0].contains("other"), "{changed:?}");
    }

    #[test]
    fn nothing_moved_is_nothing_to_say() {
        assert!(moved_on(&state(7, &[]), &state(7, &[])).is_empty());
    }

    #[test]
    fn a_service_written_since_is_named_with_what_changed() {
        let said = moved_on(&state(7, &[]), &state(9, &["X=1"]));
        assert_eq!(
            said,
            [
                "service `shop_web` changed since the plan was saved (version 7 -> 9): env.X (unset) -> <redacted:7cf97d97>"
            ]
        );
        let same_fields = moved_on(&state(7, &[]), &state(8, &[]));
        assert!(same_fields[0].contains("its spec was rewritten"), "{same_fields:?}");
    }

    #[test]
    fn a_removed_service_and_a_switched_colour_are_named() {
        let mut now = state(7, &[]);
        now.services.clear();
        now.colours.insert("front".into(), Ok("green".into()));
        assert_eq!(
            moved_on(&state(7, &[]), &now),
            [
                "service `shop_web` was removed since the plan was saved",
                "the live colour of step `front` changed since the plan was saved: blue -> green",
            ]
        );
    }
}
