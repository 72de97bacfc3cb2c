//! The hand-written decoder over the `kdl_fast` document tree: typed settings with exact spans,
//! collecting every error.
//!
//! A setting can be written as a property (`delay="30s"`) or as a child node (`delay "30s"`);
//! both read the same. Settings a decoder never asks for are reported as unknown, with the
//! names it did ask for as "did you mean" candidates.

use rustc_hash::FxHashMap as HashMap;

use crate::kdl_fast::{Entry, Node, Value};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::duration::Duration;
use crate::fix::Edit;
use crate::outline::{Outline, Reference};
use crate::percentage::Percentage;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::suggest;

/// Shared state while decoding one file: the source, resolved variables and every diagnostic.
pub struct Decoder<'s> {
    src: &'s str,
    /// Resolved variable values, used by `${name}`.
    pub vars: HashMap<String, String>,
    /// Everything found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// Every step and gate declared and every reference to them, decoded or not.
    pub outline: Outline,
    errors: usize,
    /// "Did you mean" for an unknown setting, by the setting and the names asked for: the same
    /// misspelling in every step is compared against the known names once.
    suggestions: HashMap<(String, Vec<&'static str>), Option<&'static str>>,
}

/// Where one setting was written.
#[derive(Clone, Copy)]
enum Source<'n> {
    Prop(&'n Entry),
    Child(&'n Node),
}

impl Source<'_> {
    /// The whole setting: `key=value`, or the child node.
    fn span(self) -> Span {
        match self {
            Source::Prop(entry) => entry.span(),
            Source::Child(node) => node.span(),
        }
    }
}

#[derive(Clone, Copy)]
struct Field<'n> {
    key: &'n str,
    key_span: Span,
    source: Source<'n>,
    from_defaults: bool,
}

/// The settings of one node (and of its `defaults` node, used where the node is silent).
pub struct Fields<'n> {
    node: &'n Node,
    what: String,
    fields: Vec<Field<'n>>,
    // A Vec, not a set: ~15 pushes per node are cheaper than ordered inserts; finish dedups.
    asked: Vec<&'static str>,
    taken: Vec<bool>,
    /// A defaults block: required settings may be absent and there is no name.
    pub is_defaults: bool,
}

/// One positional value with its span.
pub type Arg<'n> = (&'n Value, Span);

impl<'s> Decoder<'s> {
    /// A decoder over `src`; variables are set once resolved.
    pub fn new(src: &'s str) -> Self {
        Decoder {
            src,
            vars: HashMap::default(),
            diagnostics: Vec::new(),
            outline: Outline::default(),
            errors: 0,
            suggestions: HashMap::default(),
        }
    }

    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        if d.severity == Severity::Error {
            self.errors += 1;
        }
        self.diagnostics.push(d);
    }

    /// How many errors have been recorded: compare before and after decoding an element to know
    /// whether it has any.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// Records an error.
    pub fn error(&mut self, code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) {
        self.push(Diagnostic::error(code, message, span, label));
    }

    /// The source text at a span.
    pub fn text(&self, span: Span) -> &'s str {
        self.src.get(span.offset..span.end()).unwrap_or("")
    }

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
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!("the name of a {kind} must be a string"),
                        *span,
                        format!("found {}", type_name(other)),
                    )
                    .with_help(format!("write `{} my-name`", node.name().value())),
                );
                None
            }
            None => {
                self.push(
                    Diagnostic::error(
                        Code::MissingField,
                        format!("this {kind} has no name"),
                        node_span,
                        "name missing",
                    )
                    .with_help(format!("write `{} my-name {{ ... }}`", node.name().value())),
                );
                None
            }
        }
    }

    /// Reports positional arguments past the first `allowed` ones.
    pub fn no_more_args(&mut self, fields: &Fields<'_>, allowed: usize) {
        let args = self.args(fields.node);
        for (value, span) in args.iter().skip(allowed) {
            let help = match allowed {
                0 => format!(
                    "`{}` takes no arguments; settings are written as `key=value` or as child nodes",
                    fields.node.name().value()
                ),
                1 => format!(
                    "`{}` takes one argument; settings are written as `key=value` or as child nodes",
                    fields.node.name().value()
                ),
                n => format!("`{}` takes {n} arguments", fields.node.name().value()),
            };
            self.push(
                Diagnostic::error(
                    Code::UnknownProperty,
                    format!("unexpected argument in {}", fields.what),
                    *span,
                    format!("unexpected {}", type_name(value)),
                )
                .with_help(help),
            );
        }
    }

    /// Takes the setting `key`, reporting a second occurrence. Own settings win over defaults.
    fn take<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Option<Field<'n>> {
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
                        Diagnostic::error(
                            Code::DuplicateField,
                            format!("`{key}` is set twice in {}", fields.what),
                            f.key_span,
                            "set again here",
                        )
                        .with_label(first.key_span, "first set here")
                        .with_help(format!("remove one of the two `{key}` settings"))
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
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            format!("`{key}` must be a child node, not a property"),
                            span,
                            "written as a property",
                        )
                        .with_help(format!("write `{key} ...` on its own line inside {}", fields.what)),
                    );
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
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!("`{key}` must be a child node, not a property"),
                        span,
                        "written as a property",
                    )
                    .with_help(format!("write `{key} ...` on its own line inside {}", fields.what)),
                );
                None
            }
        }
    }

    /// The values of a setting: one for a property, the arguments for a child node.
    fn values<'n>(&mut self, f: &Field<'n>, what: &str) -> Vec<Arg<'n>> {
        match f.source {
            Source::Prop(entry) => vec![(entry.value(), self.value_span(entry))],
            Source::Child(node) => {
                for entry in node.entries().iter().filter(|e| e.name().is_some()) {
                    let span = entry.name().map(|n| n.span()).unwrap_or(entry.span());
                    self.push(
                        Diagnostic::error(
                            Code::UnknownProperty,
                            format!("`{}` takes no properties in {what}", f.key),
                            span,
                            "unexpected property",
                        )
                        .with_help(format!("write the value as an argument: `{} VALUE`", f.key)),
                    );
                }
                if let Some(children) = node.children() {
                    let span = children.span();
                    self.push(
                        Diagnostic::error(
                            Code::UnknownNode,
                            format!("`{}` takes no block in {what}", f.key),
                            span,
                            "unexpected block",
                        )
                        .with_help(format!("write the value as an argument: `{} VALUE`", f.key)),
                    );
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
                self.push(
                    Diagnostic::error(
                        Code::MissingField,
                        format!("`{key}` has no value in {what}"),
                        f.key_span,
                        "value missing",
                    )
                    .with_help(format!("write `{key} VALUE`")),
                );
                None
            }
            [_, extra @ ..] => {
                for (_, span) in extra {
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            format!("`{key}` takes one value in {what}"),
                            *span,
                            "extra value",
                        )
                        .with_help(format!("remove the extra values after `{key}`")),
                    );
                }
                Some(values[0])
            }
        }
    }

    /// Reports a required setting that is missing.
    pub fn missing(&mut self, fields: &Fields<'_>, key: &str) {
        let span = fields.node.name().span();
        self.push(
            Diagnostic::error(
                Code::MissingField,
                format!("{} has no `{key}`", fields.what),
                span,
                format!("`{key}` missing"),
            )
            .with_help(format!("add `{key} VALUE` inside {}", fields.what)),
        );
    }

    /// Reports a value of the wrong type.
    pub fn wrong_type(&mut self, key: &str, expected: &str, value: Arg<'_>) {
        let example = match expected {
            "a string" => format!("`{key} \"...\"`"),
            "an integer" => format!("`{key} 3`"),
            "a number" => format!("`{key} 0.5`"),
            "a boolean" => format!("`{key} #true` or `{key} #false`"),
            "a duration" => format!("`{key} \"30s\"`"),
            _ => format!("`{key} VALUE`"),
        };
        self.push(
            Diagnostic::error(
                Code::WrongType,
                format!("`{key}` must be {expected}"),
                value.1,
                format!("found {}", type_name(value.0)),
            )
            .with_help(format!("write {example}")),
        );
    }

    /// A string setting, interpolated.
    pub fn string(&mut self, fields: &mut Fields<'_>, key: &'static str, required: bool) -> Option<Spanned<String>> {
        let value = self.value(fields, key, required)?;
        self.as_string(key, value)
    }

    /// A value as an interpolated string.
    pub fn as_string(&mut self, key: &str, (value, span): Arg<'_>) -> Option<Spanned<String>> {
        match value {
            Value::String(s) => Some(Spanned::new(self.interpolate(s, span), span)),
            other => {
                self.wrong_type(key, "a string", (other, span));
                None
            }
        }
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

    /// The values of a list setting, at least one (or an error saying it names nothing).
    fn listed<'n>(&mut self, fields: &mut Fields<'n>, key: &'static str) -> Vec<Arg<'n>> {
        let Some(f) = self.take(fields, key) else { return Vec::new() };
        let values = self.values(&f, &fields.what);
        let what = &fields.what;
        if values.is_empty() {
            self.push(
                Diagnostic::error(
                    Code::MissingField,
                    format!("`{key}` names nothing in {what}"),
                    f.key_span,
                    "no names",
                )
                .with_help(format!("write `{key} NAME...` or remove it")),
            );
        }
        values
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

    /// A non-negative integer setting (a string holding one is accepted, for `${var}`).
    pub fn count(&mut self, fields: &mut Fields<'_>, key: &'static str, required: bool) -> Option<Spanned<u64>> {
        let value = self.value(fields, key, required)?;
        let (number, span) = self.number_of(key, value, "an integer")?;
        if number.fract() != 0.0 || number < 0.0 || number > u32::MAX as f64 {
            self.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!("`{key}` must be a whole number, 0 or more"),
                    span,
                    format!("{number} is not allowed"),
                )
                .with_help(format!("write `{key} 1`")),
            );
            return None;
        }
        Some(Spanned::new(number as u64, span))
    }

    /// A number setting.
    pub fn number(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Option<Spanned<f64>> {
        let value = self.value(fields, key, false)?;
        let (n, span) = self.number_of(key, value, "a number")?;
        Some(Spanned::new(n, span))
    }

    fn number_of(&mut self, key: &str, (value, span): Arg<'_>, expected: &str) -> Option<(f64, Span)> {
        match value {
            Value::Integer(i) => Some((*i as f64, span)),
            Value::Float(f) if expected == "a number" && f.is_finite() => Some((*f, span)),
            Value::String(s) if s.contains("${") => {
                let text = self.interpolate(s, span);
                match text.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => Some((n, span)),
                    _ => {
                        self.push(
                            Diagnostic::error(
                                Code::WrongType,
                                format!("`{key}` must be {expected}"),
                                span,
                                format!("`{text}` after interpolation"),
                            )
                            .with_help("give the variable a numeric value"),
                        );
                        None
                    }
                }
            }
            other => {
                self.wrong_type(key, expected, (other, span));
                None
            }
        }
    }

    /// A boolean setting.
    pub fn boolean(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Option<Spanned<bool>> {
        let (value, span) = self.value(fields, key, false)?;
        match value {
            Value::Bool(b) => Some(Spanned::new(*b, span)),
            Value::String(s) if s == "true" || s == "false" => {
                self.push(
                    Diagnostic::error(Code::WrongType, format!("`{key}` must be a boolean"), span, "found a string")
                        .with_help(format!("KDL 2 writes booleans as #{s}"))
                        .with_fix(Edit::new(span, format!("#{s}"))),
                );
                None
            }
            other => {
                self.wrong_type(key, "a boolean", (other, span));
                None
            }
        }
    }

    /// A duration setting (`"30s"`).
    pub fn duration(&mut self, fields: &mut Fields<'_>, key: &'static str) -> Option<Spanned<Duration>> {
        let value = self.value(fields, key, false)?;
        self.as_duration(key, value)
    }

    /// A value as a duration.
    pub fn as_duration(&mut self, key: &str, value: Arg<'_>) -> Option<Spanned<Duration>> {
        let (raw, span) = value;
        let text = match raw {
            Value::String(s) => self.interpolate(s, span),
            Value::Integer(i) => {
                self.push(
                    Diagnostic::error(Code::BadDuration, format!("`{key}` needs a unit"), span, "a bare number")
                        .with_help(format!("write `{key} \"{i}s\"` (units: ms, s, m, h)"))
                        .with_fix(Edit::new(span, format!("\"{i}s\""))),
                );
                return None;
            }
            other => {
                self.wrong_type(key, "a duration", (other, span));
                return None;
            }
        };
        match Duration::parse(&text) {
            Ok(d) => Some(Spanned::new(d, span)),
            Err(why) => {
                self.push(
                    Diagnostic::error(Code::BadDuration, format!("`{text}` is not a duration"), span, why)
                        .with_help("write a number and a unit: \"500ms\", \"30s\", \"5m\", \"1h30m\""),
                );
                None
            }
        }
    }

    /// A value as a percentage (`"50%"`).
    pub fn as_percentage(&mut self, key: &str, (raw, span): Arg<'_>) -> Option<Spanned<Percentage>> {
        let text = match raw {
            Value::String(s) => self.interpolate(s, span),
            Value::Integer(_) | Value::Float(_) => {
                self.push(
                    Diagnostic::error(
                        Code::BadPercentage,
                        format!("`{key}` must be a percentage string"),
                        span,
                        "a bare number",
                    )
                    .with_help(format!("write `{key}=\"{}%\"`", self.text(span)))
                    .with_fix(Edit::new(span, format!("\"{}%\"", self.text(span)))),
                );
                return None;
            }
            other => {
                self.wrong_type(key, "a percentage", (other, span));
                return None;
            }
        };
        match Percentage::parse(&text) {
            Ok(p) => Some(Spanned::new(p, span)),
            Err(why) => {
                self.push(
                    Diagnostic::error(Code::BadPercentage, format!("`{text}` is not a percentage"), span, why)
                        .with_help("write a number from 0 to 100 followed by %: \"25%\""),
                );
                None
            }
        }
    }

    /// A setting that is one of a few words (`order start-first`), each standing for a value.
    pub fn choice<T: Copy>(
        &mut self,
        fields: &mut Fields<'_>,
        key: &'static str,
        options: &[(&'static str, T)],
    ) -> Option<Spanned<T>> {
        let value = self.value(fields, key, false)?;
        self.as_choice(key, value, options)
    }

    /// A value as one of a few words, each standing for a value.
    pub fn as_choice<T: Copy>(
        &mut self,
        key: &str,
        value: Arg<'_>,
        options: &[(&'static str, T)],
    ) -> Option<Spanned<T>> {
        let text = self.as_string(key, value)?;
        if let Some((_, v)) = options.iter().find(|(w, _)| *w == text.value.as_str()) {
            return Some(Spanned::new(*v, text.span));
        }
        let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
        let help = suggest::help_for(&text.value, "expected one of", &words);
        let mut d = Diagnostic::error(
            Code::BadValue,
            format!("`{}` is not a valid `{key}`", text.value),
            text.span,
            "not allowed here",
        )
        .with_optional_help(help);
        if let Some(best) = suggest::did_you_mean(&text.value, words.iter().copied()) {
            d = d.with_fix(Edit::new(text.span, crate::fix::kdl_string(best)));
        }
        self.push(d);
        None
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
            let (code, kind) = match f.source {
                Source::Prop(_) => (Code::UnknownProperty, "property"),
                Source::Child(_) => (Code::UnknownNode, "setting"),
            };
            let best = *self
                .suggestions
                .entry((f.key.to_owned(), asked.clone()))
                .or_insert_with(|| suggest::did_you_mean(f.key, asked.iter().copied()));
            let help = match best {
                Some(best) => Some(format!("did you mean `{best}`?")),
                None => suggest::help_for(f.key, &format!("{} takes", fields.what), &asked),
            };
            let rename = best.map(|best| Edit::new(f.key_span, crate::fix::kdl_string(best)));
            self.push(
                Diagnostic::error(
                    code,
                    format!("unknown {kind} `{}` in {}", f.key, fields.what),
                    f.key_span,
                    format!("unknown {kind}"),
                )
                .with_optional_help(help)
                .with_fix_opt(rename),
            );
        }
    }

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
                        self.push(
                            Diagnostic::error(
                                Code::UnknownVariable,
                                "`${` is not closed",
                                self.locate("${", span),
                                "no closing `}`",
                            )
                            .with_help("close it: `${name}`, or write `$${` for a literal `${`"),
                        );
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
        let help = match best {
            Some(best) => format!("did you mean `${{{best}}}`?"),
            None => format!("declare it: `var {name} default=\"...\"`"),
        };
        let mut d = Diagnostic::error(Code::UnknownVariable, format!("unknown variable `{name}`"), at, "not declared")
            .with_help(help);
        if let Some(best) = best
            && at.len == name.len() + 3
        {
            d = d.with_fix(Edit::new(at, format!("${{{best}}}")));
        }
        self.push(d);
    }

    /// An edit removing what is at `span`: its whole line when nothing else is on it, else the
    /// span and the spaces before it.
    pub fn removal(&self, span: Span) -> Edit {
        let line_start = self.src[..span.offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.src[span.end()..].find('\n').map_or(self.src.len(), |i| span.end() + i + 1);
        let before = &self.src[line_start..span.offset];
        let after = &self.src[span.end()..line_end];
        if before.trim().is_empty() && after.trim().is_empty() {
            return Edit::new(Span::new(line_start, line_end - line_start), "");
        }
        let spaces = before.len() - before.trim_end().len();
        Edit::new(Span::new(span.offset - spaces, span.len + spaces), "")
    }

    /// The span of `needle` inside the source at `span`, or `span` itself.
    fn locate(&self, needle: &str, span: Span) -> Span {
        match self.text(span).find(needle) {
            Some(i) => Span::new(span.offset + i, needle.len()),
            None => span,
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

/// How a KDL value's type is named in messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "#null",
    }
}
