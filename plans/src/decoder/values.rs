//! Typed getters: a setting or a value read as a string, number, boolean, duration, percentage or
//! one of a few words, each bad value an error at its span.

use super::{Arg, Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::SettingProblem;
use crate::duration::Duration;
use crate::fix::Edit;
use crate::kdl_fast::Value;
use crate::percentage::Percentage;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::suggest;

impl Decoder<'_> {
    /// Reports a value of the wrong type.
    pub fn wrong_type(&mut self, key: &str, expected: &str, value: Arg<'_>) {
        let found = type_name(value.0);
        self.push(Diagnostic::new(SettingProblem::WrongType { key, expected, found }, value.1));
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

    /// A non-negative integer setting (a string holding one is accepted, for `${var}`).
    pub fn count(&mut self, fields: &mut Fields<'_>, key: &'static str, required: bool) -> Option<Spanned<u64>> {
        let value = self.value(fields, key, required)?;
        let (number, span) = self.number_of(key, value, "an integer")?;
        if number.fract() != 0.0 || number < 0.0 || number > u32::MAX as f64 {
            self.push(Diagnostic::new(SettingProblem::NotACount { key, number }, span));
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
                        let problem = SettingProblem::NotANumberAfterInterpolation { key, expected, text: &text };
                        self.push(Diagnostic::new(problem, span));
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
                    Diagnostic::new(SettingProblem::BooleanAsString { key, text: s }, span)
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
                    Diagnostic::new(SettingProblem::DurationWithoutUnit { key, number: *i }, span)
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
                self.push(Diagnostic::new(SettingProblem::BadDuration { text: &text, why: &why }, span));
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
                    Diagnostic::new(SettingProblem::PercentageAsNumber { key, written: self.text(span) }, span)
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
                self.push(Diagnostic::new(SettingProblem::BadPercentage { text: &text, why: &why }, span));
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
        let mut d = Diagnostic::new(SettingProblem::NotAChoice { key, text: &text.value, words: &words }, text.span);
        if let Some(best) = suggest::did_you_mean(&text.value, words.iter().copied()) {
            d = d.with_fix(Edit::new(text.span, crate::fix::kdl_string(best)));
        }
        self.push(d);
        None
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
