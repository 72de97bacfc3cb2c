//! Variables: `var NAME default=.. env=.. required=#true`, resolved before anything else.

use std::collections::HashMap;

use crate::kdl_fast::Node;

use crate::decoder::Decoder;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::{InputProblem, Setter};
use crate::model::{Variable, VariableSource};
use crate::span::Span;
use crate::suggest;

/// What the outside world says about variables.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--var name=value`, in command-line order.
    pub overrides: Vec<(String, String)>,
    /// The process environment (only names that `env=` mentions are read).
    pub env: HashMap<String, String>,
    /// The selected `planrun.toml` environment's name and its variables.
    pub project: Option<(String, HashMap<String, String>)>,
    /// The directory the files a plan names (nginx templates) are read from, relative paths
    /// being relative to it; `None` reads no file.
    pub files: Option<std::path::PathBuf>,
}

impl Inputs {
    /// Inputs with the current process environment.
    pub fn from_process_env() -> Self {
        Inputs { env: std::env::vars().collect(), ..Inputs::default() }
    }
}

/// Resolves every `var` node. Values are not interpolated themselves.
pub fn resolve(
    d: &mut Decoder<'_>,
    nodes: &[&Node],
    inputs: &Inputs,
    plan_name: Span,
) -> (Vec<Variable>, rustc_hash::FxHashMap<String, String>) {
    let mut out: Vec<Variable> = Vec::new();
    let mut first_span: HashMap<String, Span> = HashMap::new();
    for node in nodes {
        let Some(name) = d.name_arg(node, "variable") else { continue };
        let mut f = d.fields(node, format!("variable `{}`", name.value));
        d.no_more_args(&f, 1);
        let default = d.value(&mut f, "default", false);
        let env = d.string(&mut f, "env", false);
        let required = d.boolean(&mut f, "required").map(|b| b.value).unwrap_or(false);
        let _description = d.string(&mut f, "description", false);
        d.finish(f);
        if let Some(first) = first_span.get(&name.value) {
            d.push(Diagnostic::new(InputProblem::DuplicateVariable { name: &name.value, first: *first }, name.span));
            continue;
        }
        first_span.insert(name.value.clone(), name.span);
        let default_text = default.and_then(|(v, span)| match v {
            crate::kdl_fast::Value::String(s) => Some(s.clone()),
            crate::kdl_fast::Value::Integer(i) => Some(i.to_string()),
            crate::kdl_fast::Value::Float(x) => Some(x.to_string()),
            crate::kdl_fast::Value::Bool(b) => Some(b.to_string()),
            crate::kdl_fast::Value::Null => {
                d.wrong_type("default", "a string or number", (v, span));
                None
            }
        });
        let over = inputs.overrides.iter().rev().find(|(k, _)| *k == name.value);
        let from_env = env.as_ref().and_then(|e| inputs.env.get(&e.value).map(|v| (e.value.clone(), v.clone())));
        let from_project = inputs
            .project
            .as_ref()
            .and_then(|(env_name, vars)| vars.get(&name.value).map(|v| (env_name.clone(), v.clone())));
        let resolved = if let Some((_, v)) = over {
            Some((v.clone(), VariableSource::Override))
        } else if let Some((e, v)) = from_env {
            Some((v, VariableSource::Environment(e)))
        } else if let Some((p, v)) = from_project {
            Some((v, VariableSource::Project(p)))
        } else {
            default_text.map(|v| (v, VariableSource::Default))
        };
        match resolved {
            Some((value, source)) => out.push(Variable { name, value, source }),
            None => {
                let env = env.as_ref().map(|e| e.value.as_str());
                d.push(Diagnostic::new(InputProblem::NoValue { name: &name.value, required, env }, name.span));
                d.outline.valueless_variables.insert(name.value.clone());
            }
        }
    }
    let declared: Vec<(&str, Span)> = {
        let mut v: Vec<(&str, Span)> = first_span.iter().map(|(k, s)| (k.as_str(), *s)).collect();
        v.sort_by_key(|(_, s)| *s);
        v
    };
    for (key, _) in &inputs.overrides {
        if !first_span.contains_key(key) {
            d.push(undeclared(key, Setter::CommandLine, &declared, plan_name));
        }
    }
    if let Some((env, vars)) = &inputs.project {
        let mut keys: Vec<&String> = vars.keys().filter(|k| !first_span.contains_key(k.as_str())).collect();
        keys.sort();
        for key in keys {
            d.push(undeclared(key, Setter::Project { env }, &declared, plan_name));
        }
    }
    let values = out.iter().map(|v| (v.name.value.clone(), v.value.clone())).collect();
    (out, values)
}

/// A variable `key` set from outside (a `--var`, an error; a planrun.toml environment, a
/// warning, as one project file may serve several plans) that the plan does not declare, pointed
/// at the declaration it probably means, or at the declarations, or at the plan's name when it
/// declares none. The mistake is outside the file, so no place in it is blamed.
fn undeclared(key: &str, setter: Setter<'_>, declared: &[(&str, Span)], plan_name: Span) -> Diagnostic {
    let best = suggest::did_you_mean(key, declared.iter().map(|(n, _)| *n));
    let at = match (best, declared.first()) {
        (Some(best), _) => declared.iter().find(|(n, _)| *n == best).map_or(plan_name, |(_, s)| *s),
        (None, Some((_, first))) => *first,
        (None, None) => plan_name,
    };
    let names: Vec<&str> = declared.iter().map(|(n, _)| *n).collect();
    Diagnostic::new(InputProblem::Undeclared { key, setter, best, declared: &names }, at)
}
