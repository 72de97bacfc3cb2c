//! `${name}` interpolation, with an unknown or unclosed name an error at its exact place.

use super::Decoder;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::SettingProblem;
use crate::fix::Edit;
use crate::span::Span;
use crate::suggest;

impl Decoder<'_> {
    /// Replaces `${name}` with the variable's value; `$${` writes a literal `${`.
    /// An unknown name is an error at the exact place in the file.
    pub fn interpolate(&mut self, text: &str, span: Span) -> String {
        if !text.contains('$') {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                match after.find('}') {
                    Some(end) => {
                        let name = &after[..end];
                        match self.vars.get(name) {
                            Some(v) => out.push_str(v),
                            None if self.outline.valueless_variables.contains(name) => {}
                            None => self.unknown_variable(name, span),
                        }
                        rest = &after[end + 1..];
                    }
                    None => {
                        self.push(Diagnostic::new(SettingProblem::UnclosedInterpolation, self.locate("${", span)));
                        out.push_str(tail);
                        rest = "";
                    }
                }
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn unknown_variable(&mut self, name: &str, span: Span) {
        let at = self.locate(&format!("${{{name}}}"), span);
        let mut known: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        known.sort_unstable();
        let best = suggest::did_you_mean(name, known.iter().copied());
        let mut d = Diagnostic::new(SettingProblem::UnknownVariable { name, best }, at);
        if let Some(best) = best
            && at.len == name.len() + 3
        {
            d = d.with_fix(Edit::new(at, format!("${{{best}}}")));
        }
        self.push(d);
    }

    /// The span of `needle` inside the source at `span`, or `span` itself.
    fn locate(&self, needle: &str, span: Span) -> Span {
        match self.text(span).find(needle) {
            Some(i) => Span::new(span.offset + i, needle.len()),
            None => span,
        }
    }
}
