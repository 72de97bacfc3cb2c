//! Fixes a diagnostic can offer: text edits that, applied as they are, remove the problem.
//!
//! A help text says in words what to do; an edit does the same to the file, so editors can
//! offer it and tests can check that following the help really gives a valid plan.

use serde::Serialize;

use crate::span::Span;

/// Replace the text at `span` with `replacement` (an empty span inserts, an empty replacement
/// deletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The bytes to replace.
    #[serde(flatten)]
    pub span: Span,
    /// What goes there instead.
    pub replacement: String,
}

impl Edit {
    /// An edit replacing `span` with `replacement`.
    pub fn new(span: Span, replacement: impl Into<String>) -> Self {
        Edit { span, replacement: replacement.into() }
    }

    /// An edit inserting `text` at byte `at`.
    pub fn insert(at: usize, text: impl Into<String>) -> Self {
        Edit::new(Span::new(at, 0), text)
    }
}

/// `s` as a KDL string: bare when it can be, quoted otherwise.
pub fn kdl_string(s: &str) -> String {
    let looks_like_number = s.starts_with(|c: char| c.is_ascii_digit())
        || (s.starts_with(['-', '+', '.']) && s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    let keyword = matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "nan");
    let bare = !s.is_empty()
        && !looks_like_number
        && !keyword
        && s.chars().all(|c| c.is_alphanumeric() || "-_.:+*!?$%&<>@^|~,'`".contains(c));
    if bare { s.to_owned() } else { format!("{s:?}") }
}

/// `text` with every edit applied; edits must not overlap.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|e| (e.span.offset, e.span.len));
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for e in edits {
        let start = e.span.offset.clamp(at, text.len());
        out.push_str(&text[at..start]);
        out.push_str(&e.replacement);
        at = e.span.end().clamp(start, text.len());
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_edits_in_order() {
        let edits = [Edit::insert(5, "!"), Edit::new(Span::new(0, 1), "H"), Edit::new(Span::new(2, 2), "")];
        assert_eq!(apply("hello", &edits), "Heo!");
    }
}
