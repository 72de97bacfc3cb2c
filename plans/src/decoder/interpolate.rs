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
        for piece in Pieces::new(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Variable { name, .. } => match self.vars.get(name) {
                    Some(v) => out.push_str(v),
                    None if self.outline.valueless_variables.contains(name) => {}
                    None => self.unknown_variable(name, span),
                },
                Piece::Unclosed(rest) => {
                    self.push(Diagnostic::new(SettingProblem::UnclosedInterpolation, self.locate("${", span)));
                    out.push_str(rest);
                }
            }
        }
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
    pub(super) fn locate(&self, needle: &str, span: Span) -> Span {
        match self.text(span).find(needle) {
            Some(i) => Span::new(span.offset + i, needle.len()),
            None => span,
        }
    }
}

/// Every `${name}` in `text` with its byte offset, as [`Decoder::interpolate`] reads them: a
/// `$${` is no variable, a `${` without `}` ends the search.
pub(super) fn variables(text: &str) -> impl Iterator<Item = (usize, &str)> {
    Pieces::new(text).filter_map(|p| match p {
        Piece::Variable { name, at } => Some((at, name)),
        Piece::Text(_) | Piece::Unclosed(_) => None,
    })
}

/// A part of a string as interpolation reads it.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'t> {
    /// Text as it stands (`$${` gives its `${`).
    Text(&'t str),
    /// `${name}`, starting at byte `at` of the text.
    Variable { name: &'t str, at: usize },
    /// A `${` without its `}`, and the rest of the text from it.
    Unclosed(&'t str),
}

/// The pieces of a string, in order; the one grammar of `${name}` and `$${`.
struct Pieces<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Pieces<'t> {
    fn new(text: &'t str) -> Self {
        Pieces { text, at: 0 }
    }
}

impl<'t> Iterator for Pieces<'t> {
    type Item = Piece<'t>;

    fn next(&mut self) -> Option<Piece<'t>> {
        let rest = &self.text[self.at..];
        let start = self.at;
        match rest.find('$') {
            None if rest.is_empty() => None,
            None => {
                self.at = self.text.len();
                Some(Piece::Text(rest))
            }
            Some(i) if i > 0 => {
                self.at += i;
                Some(Piece::Text(&rest[..i]))
            }
            Some(_) if rest.starts_with("$${") => {
                self.at += 3;
                Some(Piece::Text(&rest[1..3]))
            }
            Some(_) => match rest.strip_prefix("${") {
                Some(after) => match after.find('}') {
                    Some(end) => {
                        self.at += end + 3;
                        Some(Piece::Variable { name: &after[..end], at: start })
                    }
                    None => {
                        self.at = self.text.len();
                        Some(Piece::Unclosed(rest))
                    }
                },
                None => {
                    self.at += 1;
                    Some(Piece::Text("$"))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_the_interpolation_grammar() {
        let pieces: Vec<Piece<'_>> = Pieces::new("a ${x} $${y} $1 $$${z} ${").collect();
        assert_eq!(
            pieces,
            [
                Piece::Text("a "),
                Piece::Variable { name: "x", at: 2 },
                Piece::Text(" "),
                Piece::Text("${"),
                Piece::Text("y} "),
                Piece::Text("$"),
                Piece::Text("1 "),
                Piece::Text("$"),
                Piece::Text("${"),
                Piece::Text("z} "),
                Piece::Unclosed("${"),
            ]
        );
    }

    #[test]
    fn variables_are_the_interpolated_names_only() {
        let found: Vec<(usize, &str)> = variables("echo ${a} $${b} $c ${d}x $$${e}").collect();
        assert_eq!(found, [(5, "a"), (19, "d")]);
    }
}
