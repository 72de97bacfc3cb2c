//! Problems with the files a plan names (`check/files.rs`, `check/sql_lint/`): an nginx template
//! or a migration's SQL file that cannot be read or lacks what it must have.

use std::path::Path;

use super::Words;
use crate::diagnostic::Code;

/// A problem with a file the plan names. `named` is the path as written, `path` where it is.
#[derive(Debug)]
pub enum FileProblem<'a> {
    /// A template that cannot be read.
    UnreadableTemplate { named: &'a str, path: &'a Path, error: &'a std::io::Error },
    /// A template without `${upstream}`.
    TemplateWithoutUpstream { named: &'a str },
    /// A SQL file that cannot be read.
    UnreadableSql { named: &'a str, path: &'a Path, error: &'a std::io::Error },
}

impl FileProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use FileProblem::*;
        match *self {
            UnreadableTemplate { named, path, error } => {
                Words::error(Code::Template, format!("cannot read the template `{named}`: {error}"), "not readable")
                    .help(relative(path))
            }
            TemplateWithoutUpstream { named } => Words::error(
                Code::Template,
                format!("the template `{named}` has no `${{upstream}}`"),
                "nothing to switch",
            )
            .help(
                "write `${upstream}` where the live colour's service name goes, for example \
                         `set $backend ${upstream}; proxy_pass http://$backend:8080;`",
            ),
            UnreadableSql { named, path, error } => {
                Words::error(Code::SqlFile, format!("cannot read the SQL file `{named}`: {error}"), "not readable")
                    .help(relative(path))
            }
        }
    }
}

fn relative(path: &Path) -> String {
    format!("the path is relative to the plan's directory; it names {}", path.display())
}
