//! The files a plan names, read only when the caller says where they are (`Inputs::files`):
//! a blue-green step's router template (nginx, caddy) must exist and say where the live colour goes; a migrate
//! step's SQL files must be readable and pass the SQL lint (`sql_lint/`).

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::FileProblem;
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
            Switch::Caddy(c) => (&c.template, &c.template_span),
            // An alias switch names no file.
            Switch::Alias(_) => continue,
        };
        let path = dir.join(template);
        match std::fs::read_to_string(&path) {
            Err(e) => out.push(Diagnostic::new(
                FileProblem::UnreadableTemplate { named: template, path: &path, error: &e },
                *template_span,
            )),
            Ok(text) if !text.contains("${upstream}") => {
                out.push(Diagnostic::new(FileProblem::TemplateWithoutUpstream { named: template }, *template_span))
            }
            Ok(_) => {}
        }
    }
}
