//! Values: where a string starts, names, the end of a value, keywords (`#true`) and numbers.

use super::Parser;
use super::cursor::{IDENT_ASCII, is_ident_char, is_newline_char, is_unicode_space};
use super::error::{ParseError, R};
use crate::kdl_fast::ast::{Ident, Value};
use crate::span::Span;

impl Parser<'_> {
    /// Whether a string (not a number or keyword) starts here.
    pub(super) fn is_string_start(&self) -> bool {
        match self.peek() {
            None => false,
            Some(b'"') => true,
            Some(b'#') => matches!(self.peek_at(self.pos + 1), Some(b'#' | b'"')),
            Some(b'0'..=b'9') => false,
            Some(b'+' | b'-') => !matches!(self.peek_at(self.pos + 1), Some(b'0'..=b'9')),
            Some(c) if c < 0x80 => IDENT_ASCII[c as usize],
            Some(_) => is_ident_char(self.char_at(self.pos)),
        }
    }

    /// A string used as a name, with its span.
    pub(super) fn ident(&mut self, what: &str) -> R<Ident> {
        if !self.is_string_start() {
            let help = match self.peek() {
                Some(b'0'..=b'9' | b'+' | b'-') => "a name cannot start like a number: quote it (`\"1st\"`)",
                _ => "a name is a word like `rolling` or a quoted string",
            };
            return self.err_here(self.pos, format!("expected {what}"), help);
        }
        let (value, span) = self.string()?;
        Ok(Ident { value, span })
    }

    /// A value without type annotation: string, number or keyword.
    pub(super) fn value(&mut self) -> R<(Value, Span)> {
        let start = self.pos;
        let v = match self.peek() {
            Some(b'#') if !matches!(self.peek_at(self.pos + 1), Some(b'#' | b'"')) => self.keyword()?,
            Some(b'0'..=b'9') => self.number()?,
            Some(b'+' | b'-') if matches!(self.peek_at(self.pos + 1), Some(b'0'..=b'9')) => self.number()?,
            _ if self.is_string_start() => return self.string().map(|(s, sp)| (Value::String(s), sp)),
            _ => {
                return self.err_here(
                    self.pos,
                    "expected a value",
                    "a value is a string (`web`, `\"a b\"`), a number, or #true, #false, #null",
                );
            }
        };
        Ok((v, Span::new(start, self.pos - start)))
    }

    /// Whether the character here may follow a value: whitespace, a newline, a comment, `\`, `;`,
    /// `=`, `)`, `{`, `}`, or the end.
    fn at_value_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b'=' | b')' | b'{' | b'}' | b';' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) => true,
            // `/-` too: since the 2025 revision of KDL 2, no space is needed before a slashdash.
            Some(b'/') => matches!(self.peek_at(self.pos + 1), Some(b'/' | b'*' | b'-')),
            Some(c) if c >= 0x80 => {
                let ch = self.char_at(self.pos);
                is_unicode_space(ch) || is_newline_char(ch)
            }
            Some(_) => false,
        }
    }

    pub(super) fn check_value_end(&self, start: usize) -> R<()> {
        if self.at_value_end() {
            return Ok(());
        }
        if let Some(e) = self.disallowed_at(self.pos) {
            return Err(Box::new(e));
        }
        if let Some(e) = self.kdl_v1_raw_string(start) {
            return Err(Box::new(e));
        }
        let written = &self.src[start..self.pos];
        let next = self.describe(self.pos);
        Err(Box::new(
            ParseError::new(
                self.char_span(self.pos),
                format!("expected a space between `{written}` and {next}"),
                "no space before this",
            )
            .related(Span::new(start, self.pos - start), "this value")
            .help("separate values with a space; to keep it one string, quote it all"),
        ))
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan`, at the `#`.
    fn keyword(&mut self) -> R<Value> {
        let start = self.pos;
        let rest = &self.b[self.pos + 1..];
        let (v, n) = if rest.starts_with(b"true") {
            (Value::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (Value::Bool(false), 5)
        } else if rest.starts_with(b"null") {
            (Value::Null, 4)
        } else if rest.starts_with(b"nan") {
            (Value::Float(f64::NAN), 3)
        } else if rest.starts_with(b"inf") {
            (Value::Float(f64::INFINITY), 3)
        } else if rest.starts_with(b"-inf") {
            (Value::Float(f64::NEG_INFINITY), 4)
        } else {
            let word_end =
                self.src[start + 1..].find(|c: char| !is_ident_char(c)).map_or(self.src.len(), |i| start + 1 + i);
            let word = &self.src[start..word_end];
            return Err(Box::new(
                ParseError::new(
                    Span::new(start, word_end - start),
                    format!("unknown keyword `{word}`"),
                    "not a keyword",
                )
                .help(format!(
                    "keywords are #true, #false, #null, #inf, #-inf and #nan; for text, quote it: `\"{word}\"`"
                )),
            ));
        };
        self.pos += 1 + n;
        self.check_value_end(start)?;
        Ok(v)
    }

    /// A number, at its sign or first digit.
    fn number(&mut self) -> R<Value> {
        let start = self.pos;
        let neg = match self.b[self.pos] {
            b'-' => {
                self.pos += 1;
                true
            }
            b'+' => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if self.b[self.pos] == b'0' {
            let radix = match self.peek_at(self.pos + 1) {
                Some(b'x') => 16,
                Some(b'o') => 8,
                Some(b'b') => 2,
                _ => 0,
            };
            if radix != 0 {
                self.pos += 2;
                let digit = |c: u8| (c as char).to_digit(radix);
                if self.peek().and_then(digit).is_none() {
                    let prefix = &self.src[start..self.pos];
                    return self.err_here(
                        self.pos,
                        format!("`{prefix}` needs a digit after it"),
                        "write a number such as `0x1f`, `0o17` or `0b101`",
                    );
                }
                let mut v: u128 = 0;
                let mut overflow = false;
                while let Some(c) = self.peek() {
                    if c == b'_' {
                    } else if let Some(d) = digit(c) {
                        match v.checked_mul(radix as u128).and_then(|v| v.checked_add(d as u128)) {
                            Some(n) => v = n,
                            None => overflow = true,
                        }
                    } else {
                        break;
                    }
                    self.pos += 1;
                }
                self.check_value_end(start)?;
                return self.integer(start, neg, v, overflow);
            }
        }
        let int_start = self.pos;
        self.digits();
        let int_end = self.pos;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err_here(
                    self.pos,
                    "expected a digit after the decimal point",
                    "write `1.0`, not `1.`; or quote the text",
                );
            }
            self.digits();
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err_here(
                    self.pos,
                    "expected a digit in the exponent",
                    "write `1e3` or `1.5e-3`; or quote the text",
                );
            }
            self.digits();
            float = true;
        }
        self.check_value_end(start)?;
        if float {
            let text = &self.src[start..self.pos];
            let parsed = if text.contains('_') { text.replace('_', "").parse::<f64>() } else { text.parse::<f64>() };
            return match parsed {
                Ok(f) => Ok(Value::Float(f)),
                Err(_) => self.err(start, self.pos - start, "this number cannot be read", "not a number"),
            };
        }
        let mut v: u128 = 0;
        let mut overflow = false;
        for &c in &self.b[int_start..int_end] {
            if c != b'_' {
                match v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u128)) {
                    Some(n) => v = n,
                    None => overflow = true,
                }
            }
        }
        self.integer(start, neg, v, overflow)
    }

    /// `digit (digit | '_')*`, at a digit.
    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9' | b'_') = self.peek() {
            self.pos += 1;
        }
    }

    fn integer(&self, start: usize, neg: bool, v: u128, overflow: bool) -> R<Value> {
        let limit = if neg { i128::MAX as u128 + 1 } else { i128::MAX as u128 };
        if overflow || v > limit {
            return self.err(start, self.pos - start, "this integer is too large (the limit is 128 bits)", "too large");
        }
        Ok(Value::Integer(if neg { (v as i128).wrapping_neg() } else { v as i128 }))
    }
}
