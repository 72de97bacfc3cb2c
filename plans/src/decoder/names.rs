//! A node's name and positional arguments, and list settings: names (the gates and steps a step
//! refers to, recorded in the outline) and lists of words.

use super::{Arg, Decoder, Fields, type_name};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::SettingProblem;
use crate::kdl_fast::{Entry, Node, Value};
use crate::outline::Reference;
use crate::span::Span;
use crate::spanned::Spanned;

impl Decoder<'_> {
    /// The span of a value written as an entry: for `key=value`, just the value.
    pub fn value_span(&self, entry: &Entry) -> Span {
        entry.value_span()
    }

    /// The node's positional arguments.
    pub fn args<'n>(&self, node: &'n Node) -> Vec<Arg<'n>> {
        node.entries().iter().filter(|e| e.name().is_none()).map(|e| (e.value(), self.value_span(e))).collect()
    }

    /// The name a node gives its object: its first argument, a string (`rolling backend`).
    pub fn name_arg(&mut self, node: &Node, kind: &str) -> Option<Spanned<String>> {
        let args = self.args(node);
        let node_span = node.name().span();
        match args.first() {
            Some((Value::String(s), span)) => Some(Spanned::new(self.interpolate(s, *span), *span)),
            Some((other, span)) => {
                let problem =
                    SettingProblem::NameNotAString { kind, node: node.name().value(), found: type_name(other) };
                self.push(Diagnostic::new(problem, *span));
                None
            }
            None => {
                self.push(Diagnostic::new(SettingProblem::NoName { kind, node: node.name().value() }, node_span));
                None
            }
        }
    }

    /// Reports positional arguments past the first `allowed` ones.
    pub fn no_more_args(&mut self, fields: &Fields<'_>, allowed: usize) {
        let args = self.args(fields.node);
        for (value, span) in args.iter().skip(allowed) {
            let problem = SettingProblem::UnexpectedArgument {
                what: &fields.what,
                node: fields.node.name().value(),
                allowed,
                found: type_name(value),
            };
            self.push(Diagnostic::new(problem, *span));
        }
    }

    /// The values of a list setting, at least one (or an error saying it names nothing).
    pub(super) fn listed<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Vec<Arg<'n>> {
        let Some(f) = self.take(fields, key) else { return Vec::new() };
        let values = self.values(&f, &fields.what);
        let what = &fields.what;
        if values.is_empty() {
            self.push(Diagnostic::new(SettingProblem::NamesNothing { key, what }, f.key_span));
        }
        values
    }

    /// A list of one or more names (`gates a b c`, `after x y`).
    pub fn names(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Vec<Spanned<String>> {
        let values = self.listed(fields, key);
        values.into_iter().filter_map(|v| self.as_string(key, v)).collect()
    }

    /// A list of one or more words, each one of a few (`allow-removing mounts ports`), each
    /// standing for a value.
    pub fn choices<T: Copy>(
        &mut self,
        fields: &mut Fields<'_>,
        key: &'static str,
        options: &[(&'static str, T)],
    ) -> Vec<Spanned<T>> {
        let values = self.listed(fields, key);
        values.into_iter().filter_map(|v| self.as_choice(key, v, options)).collect()
    }

    /// The gates a step names under `key` (`gates`, `preview-gates`); they go into the outline, so
    /// they are checked even when the step has other errors.
    pub fn gate_names(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Vec<Spanned<String>> {
        let names = self.names(fields, key);
        self.outline.gate_uses.extend(names.iter().cloned());
        names
    }

    /// The steps a step waits for (`after`); they go into the outline like [`Decoder::gate_names`],
    /// with the span of the step's keyword, `from`.
    pub fn step_names(&mut self, fields: &mut Fields<'_>, key: &'static str, from: Span) -> Vec<Spanned<String>> {
        let names = self.names(fields, key);
        self.outline.after.extend(names.iter().map(|n| Reference { from, name: n.clone() }));
        names
    }
}
