//! A command's program and arguments (`run`'s `command` and `undo`, the `command` gate), with a
//! warning at every `${name}` pasted into the script a shell runs: interpolation is plain text,
//! so a value holding `;`, `$(...)` or a quote would run as shell code.

use super::interpolate::variables;
use super::{Arg, Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::SafetyProblem;
use crate::kdl_fast::Value;
use crate::shell;
use crate::span::Span;
use crate::spanned::Spanned;

impl Decoder<'_> {
    /// A command setting (`command "sh" "-c" "..."`): program and arguments, at least one.
    pub fn command(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Vec<Spanned<String>> {
        let values = self.listed(fields, key);
        self.argv(key, &values)
    }

    /// Program and arguments, each interpolated (a value that is no string is an error and left
    /// out).
    pub fn argv(&mut self, key: &str, values: &[Arg<'_>]) -> Vec<Spanned<String>> {
        let args: Vec<Option<Spanned<String>>> = values.iter().map(|v| self.as_string(key, *v)).collect();
        let words: Vec<&str> = args.iter().map(|a| a.as_ref().map_or("", |a| a.value.as_str())).collect();
        if let Some(script) = shell::script(&words)
            && let (Value::String(written), span) = values[script.script]
        {
            self.warn_interpolated_script(words[script.shell], written, span);
        }
        args.into_iter().flatten().collect()
    }

    /// Warns at every `${name}` of a known variable in `written`, a shell's script as written at
    /// `span`. Unknown and valueless names are errors already.
    fn warn_interpolated_script(&mut self, shell: &str, written: &str, span: Span) {
        let names: Vec<&str> =
            variables(written).map(|(_, name)| name).filter(|n| self.vars.contains_key(*n)).collect();
        if names.is_empty() {
            return;
        }
        // Each `${name}` where it is in the file. The source differs from the value only by
        // quotes and escapes, so it holds the same variables in the same order; where it does
        // not (a `$` written as `\u{24}`), the warnings point at the whole argument.
        let source = self.text(span);
        let places: Vec<(usize, &str)> = variables(source).filter(|(_, name)| self.vars.contains_key(*name)).collect();
        let same = places.iter().map(|(_, name)| *name).eq(names.iter().copied());
        for (i, name) in names.iter().enumerate() {
            let at = match places.get(i) {
                Some((offset, _)) if same => Span::new(span.offset + offset, name.len() + 3),
                _ => span,
            };
            self.push(Diagnostic::new(SafetyProblem::InterpolatedShellScript { name, shell }, at));
        }
    }
}
