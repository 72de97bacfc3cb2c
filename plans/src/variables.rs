//! Variables: `var NAME default=.. env=.. required=#true`, resolved before anything else.

use std::collections::HashMap;

use crate::kdl_fast::Node;

use crate::decoder::Decoder;
use crate::diagnostic::{Code, Diagnostic};
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
            d.push(
                Diagnostic::error(
                    Code::DuplicateVariable,
                    format!("variable `{}` is declared twice", name.value),
                    name.span,
                    "declared again",
                )
                .with_label(*first, "first declared here")
                .with_help("remove one of the declarations"),
            );
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
                let how = match &env {
                    Some(e) => format!("set the environment variable {} or pass `--var {}=VALUE`", e.value, name.value),
                    None => format!("pass `--var {}=VALUE`, or give it a `default=`", name.value),
                };
                let message = if required {
                    format!("required variable `{}` has no value", name.value)
                } else {
                    format!("variable `{}` has no value and no default", name.value)
                };
                d.push(Diagnostic::error(Code::MissingVariable, message, name.span, "no value").with_help(how));
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
            let what = format!("`--var {key}=...`");
            let message = format!("{what} sets `{key}`, which the plan does not declare");
            let (span, label, help) = undeclared(key, &declared, plan_name, "the --var");
            d.push(Diagnostic::error(Code::BadInput, message, span, label).with_help(help));
        }
    }
    if let Some((env, vars)) = &inputs.project {
        let mut keys: Vec<&String> = vars.keys().filter(|k| !first_span.contains_key(k.as_str())).collect();
        keys.sort();
        for key in keys {
            let what = format!("planrun.toml environment `{env}`");
            let message = format!("{what} sets variable `{key}`, which the plan does not declare");
            let (span, label, help) = undeclared(key, &declared, plan_name, "it from planrun.toml");
            d.push(Diagnostic::warning(Code::UnusedProjectVariable, message, span, label).with_help(help));
        }
    }
    let values = out.iter().map(|v| (v.name.value.clone(), v.value.clone())).collect();
    (out, values)
}

/// Where to point and what to say for a variable `key` set from outside (a `--var`, an error; a
/// planrun.toml environment, a warning, as one project file may serve several plans) that the
/// plan does not declare: at the declaration it probably means, or at the declarations, or at
/// the plan's name when it declares none. The mistake is outside the file, so no place in it is
/// blamed. Returns the span, its label and the help.
fn undeclared(key: &str, declared: &[(&str, Span)], plan_name: Span, remove: &str) -> (Span, String, String) {
    let best = suggest::did_you_mean(key, declared.iter().map(|(n, _)| *n));
    let names = declared.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    match (best, declared.first()) {
        (Some(best), _) => {
            let at = declared.iter().find(|(n, _)| *n == best).map_or(plan_name, |(_, s)| *s);
            (at, format!("did you mean `{best}`?"), format!("did you mean `{best}`? The plan declares {names}"))
        }
        (None, Some((_, first))) => (
            *first,
            "the plan's variables start here".to_string(),
            format!("the plan declares {names}; remove {remove}, or declare `var {key} default=\"...\"`"),
        ),
        (None, None) => (
            plan_name,
            "declares no variables".to_string(),
            format!("this plan declares no variables: remove {remove}, or declare `var {key} default=\"...\"`"),
        ),
    }
}
