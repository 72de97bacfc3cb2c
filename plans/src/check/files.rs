//! The files a plan names, read only when the caller says where they are (`Inputs::files`):
//! a blue-green step's nginx template must exist and say where the live colour goes; a migrate
//! step's SQL files must be readable and pass the SQL lint (`sql_lint/`).

use std::path::Path;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Plan;
use crate::steps::StepKind;
use crate::steps::switch::Switch;

/// Checks every file the plan names, relative to `dir`; keeps a migrate step's SQL files,
/// read and split, on the step.
pub fn check(plan: &mut Plan, dir: &Path, out: &mut Vec<Diagnostic>) {
    for step in &mut plan.steps {
        if let StepKind::Migrate(m) = &mut step.kind {
            m.resolved = super::sql_lint::check(m, dir, out).map(std::sync::Arc::new);
        }
        let StepKind::BlueGreen(b) = &step.kind else { continue };
        let (template, template_span) = match &b.switch {
            Switch::Nginx(n) => (&n.template, &n.template_span),
            // An alias switch names no file.
            Switch::Alias(_) => continue,
        };
        let path = dir.join(template);
        match std::fs::read_to_string(&path) {
            Err(e) => out.push(
                Diagnostic::error(
                    Code::Template,
                    format!("cannot read the template `{template}`: {e}"),
                    *template_span,
                    "not readable",
                )
                .with_help(format!("the path is relative to the plan's directory; it names {}", path.display())),
            ),
            Ok(text) if !text.contains("${upstream}") => out.push(
                Diagnostic::error(
                    Code::Template,
                    format!("the template `{template}` has no `${{upstream}}`"),
                    *template_span,
                    "nothing to switch",
                )
                .with_help(
                    "write `${upstream}` where the live colour's service name goes, for example \
                     `set $backend ${upstream}; proxy_pass http://$backend:8080;`",
                ),
            ),
            Ok(_) => {}
        }
    }
}
