//! A node's settings: each found as a property or a child node, its own or from `defaults`, taken
//! once (a second one is an error), and every one nobody asked for reported as unknown.

use super::{Arg, Decoder, Field, Fields, Source};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::SettingProblem;
use crate::fix::Edit;
use crate::kdl_fast::Node;
use crate::span::Span;
use crate::suggest;

impl Decoder<'_> {
    /// The settings of `node`, described as `what` in messages ("rolling step `backend`").
    pub fn fields<'n>(&self, node: &'n Node, what: impl Into<String>) -> Fields<'n> {
        let mut fields = Vec::new();
        collect(node, false, &mut fields);
        let taken = vec![false; fields.len()];
        Fields { node, what: what.into(), fields, asked: Vec::new(), taken, is_defaults: false }
    }

    /// Adds the settings of a defaults node below the node's own.
    pub fn with_defaults<'n>(&self, mut fields: Fields<'n>, defaults: Option<&'n Node>) -> Fields<'n> {
        if let Some(d) = defaults {
            collect(d, true, &mut fields.fields);
            fields.taken.resize(fields.fields.len(), false);
        }
        fields
    }

    /// Takes the setting `key`, reporting a second occurrence. Own settings win over defaults.
    pub(super) fn take<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Option<Field<'n>> {
        fields.asked.push(key);
        let mut found: Option<Field<'n>> = None;
        for i in 0..fields.fields.len() {
            let f = fields.fields[i];
            if f.key != key {
                continue;
            }
            fields.taken[i] = true;
            match found {
                None => found = Some(f),
                // A duplicate inside `defaults` is reported once, when the defaults are checked.
                Some(first) if first.from_defaults == f.from_defaults && !f.from_defaults => {
                    self.push(
                        Diagnostic::new(
                            SettingProblem::SetTwice { key, what: &fields.what, first: first.key_span },
                            f.key_span,
                        )
                        .with_fix(self.removal(f.source.span())),
                    );
                }
                Some(_) => {}
            }
        }
        found
    }

    /// Takes every occurrence of a repeatable child node (`stage`, `publish`).
    pub fn children<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Vec<&'n Node> {
        fields.asked.push(key);
        let mut out = Vec::new();
        for i in 0..fields.fields.len() {
            let f = fields.fields[i];
            if f.key != key || f.from_defaults {
                continue;
            }
            fields.taken[i] = true;
            match f.source {
                Source::Child(node) => out.push(node),
                Source::Prop(entry) => {
                    let span = entry.span();
                    self.push(Diagnostic::new(SettingProblem::NotAChild { key, what: &fields.what }, span));
                }
            }
        }
        out
    }

    /// Takes a setting that is a node with settings of its own (`postgres service=db`).
    pub fn child<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Option<&'n Node> {
        let f = self.take(fields, key)?;
        match f.source {
            Source::Child(node) => Some(node),
            Source::Prop(entry) => {
                let span = entry.span();
                self.push(Diagnostic::new(SettingProblem::NotAChild { key, what: &fields.what }, span));
                None
            }
        }
    }

    /// The values of a setting: one for a property, the arguments for a child node.
    pub(super) fn values<'n>(&mut self, f: &Field<'n>, what: &str) -> Vec<Arg<'n>> {
        match f.source {
            Source::Prop(entry) => vec![(entry.value(), self.value_span(entry))],
            Source::Child(node) => {
                for entry in node.entries().iter().filter(|e| e.name().is_some()) {
                    let span = entry.name().map(|n| n.span()).unwrap_or(entry.span());
                    self.push(Diagnostic::new(SettingProblem::PropertyOnSetting { key: f.key, what }, span));
                }
                if let Some(children) = node.children() {
                    let span = children.span();
                    self.push(Diagnostic::new(SettingProblem::BlockOnSetting { key: f.key, what }, span));
                }
                self.args(node)
            }
        }
    }

    /// Takes a setting with exactly one value.
    pub fn value<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str, required: bool) -> Option<Arg<'n>> {
        let Some(f) = self.take(fields, key) else {
            if required && !fields.is_defaults {
                self.missing(fields, key);
            }
            return None;
        };
        // The common case, one plain value, without allocating.
        match f.source {
            Source::Prop(entry) => return Some((entry.value(), entry.value_span())),
            Source::Child(node) if node.children().is_none() && node.entries().len() == 1 => {
                let entry = &node.entries()[0];
                if entry.name().is_none() {
                    return Some((entry.value(), entry.value_span()));
                }
            }
            Source::Child(_) => {}
        }
        let what = fields.what.clone();
        let values = self.values(&f, &what);
        match values.as_slice() {
            [one] => Some(*one),
            [] => {
                self.push(Diagnostic::new(SettingProblem::NoValue { key, what: &what }, f.key_span));
                None
            }
            [_, extra @ ..] => {
                for (_, span) in extra {
                    self.push(Diagnostic::new(SettingProblem::ExtraValue { key, what: &what }, *span));
                }
                Some(values[0])
            }
        }
    }

    /// Reports a required setting that is missing.
    pub fn missing(&mut self, fields: &Fields<'_>, key: &str) {
        let span = fields.node.name().span();
        self.push(Diagnostic::new(SettingProblem::Missing { key, what: &fields.what }, span));
    }

    /// Reports every setting nobody asked for, with "did you mean".
    pub fn finish(&mut self, fields: Fields<'_>) {
        if fields.taken.iter().all(|t| *t) {
            return;
        }
        let mut asked: Vec<&'static str> = fields.asked.clone();
        asked.sort_unstable();
        asked.dedup();
        for (i, f) in fields.fields.iter().enumerate() {
            // Defaults are checked once, on their own, not again for every step that uses them.
            if fields.taken[i] || f.from_defaults {
                continue;
            }
            let property = matches!(f.source, Source::Prop(_));
            let best = *self
                .suggestions
                .entry((f.key.to_owned(), asked.clone()))
                .or_insert_with(|| suggest::did_you_mean(f.key, asked.iter().copied()));
            let rename = best.map(|best| Edit::new(f.key_span, crate::fix::kdl_string(best)));
            let problem = SettingProblem::Unknown { key: f.key, what: &fields.what, property, best, asked: &asked };
            self.push(Diagnostic::new(problem, f.key_span).with_fix_opt(rename));
        }
    }
}

impl<'n> Fields<'n> {
    /// The node these settings belong to.
    pub fn node(&self) -> &'n Node {
        self.node
    }

    /// How the node is named in messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The span of the node's name.
    pub fn name_span(&self) -> Span {
        self.node.name().span()
    }

    /// Where the node itself sets `key` (its first setting of it), if it does.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.fields.iter().find(|f| f.key == key && !f.from_defaults).map(|f| f.key_span)
    }

    /// Whether the node itself sets `key` (not only its `defaults`).
    pub fn sets(&self, key: &str) -> bool {
        self.fields.iter().any(|f| f.key == key && !f.from_defaults)
    }
}

fn collect<'n>(node: &'n Node, from_defaults: bool, out: &mut Vec<Field<'n>>) {
    for entry in node.entries() {
        if let Some(name) = entry.name() {
            out.push(Field { key: name.value(), key_span: name.span(), source: Source::Prop(entry), from_defaults });
        }
    }
    if let Some(children) = node.children() {
        for child in children.nodes() {
            out.push(Field {
                key: child.name().value(),
                key_span: child.name().span(),
                source: Source::Child(child),
                from_defaults,
            });
        }
    }
}
