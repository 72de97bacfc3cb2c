//! Typed getters: a setting or a value read as a string, number, boolean, duration, percentage or
//! one of a few words, each bad value an error at its span.

use super::{Arg, Decoder, Fields};
use crate::diagnostic::{Code, Diagnostic};
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
