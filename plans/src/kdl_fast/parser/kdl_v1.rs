//! KDL 1 constructs recognised where they stand, each an error in KDL 2's words (with the fix where
//! it is certain) and marked `kdl_v1`.

use super::Parser;
use super::error::ParseError;
use crate::fix::Edit;
use crate::span::Span;

impl Parser<'_> {
    /// A KDL 1 raw string, `r"..."` or `r#"..."#`: the bare word `r` at `start` and the string
    /// right after it (at `self.pos`).
    pub(super) fn kdl_v1_raw_string(&self, start: usize) -> Option<ParseError> {
        let written = &self.src[start..self.pos];
        if written != "r" || !matches!(self.peek(), Some(b'"' | b'#')) {
            return None;
        }
        let end = self.string_resume(self.pos);
        let raw = &self.src[self.pos..end];
        let fixed = if raw.starts_with('#') { raw.to_owned() } else { format!("#{raw}#") };
        let span = Span::new(start, end - start);
        Some(
            ParseError::new(span, "`r\"...\"` is a KDL 1 raw string", "KDL 1")
                .help(format!("KDL 2 writes raw strings with `#`: `{fixed}`"))
                .fix(Edit::new(span, fixed))
                .kdl_v1(),
        )
    }

    /// The help for a `"` string not closed on its line when it closes on a later line: KDL 1
    /// allowed a newline inside `"..."`.
    pub(super) fn kdl_v1_newline_in_string(&self, line_end: usize) -> Option<&'static str> {
        let closes_later = self.src[line_end..].find('"').is_some_and(|i| {
            let rest = &self.src[line_end + i + 1..];
            let next_line = rest.find('\n').map_or(rest, |j| &rest[..j]);
            !next_line.contains('"')
        });
        (closes_later && line_end < self.src.len()).then_some("a `\"` string ends on its line; for text over several lines, KDL 2 uses `\"\"\"` on lines of their own (KDL 1 allowed newlines in `\"...\"`)")
    }

    /// Where to go on after such a KDL 1 string opened at `start`: past the `"` that closes it on a
    /// later line.
    pub(super) fn kdl_v1_string_end(&self, start: usize) -> usize {
        let line_end = self.src[start..].find('\n').map_or(self.src.len(), |i| start + i);
        self.src[line_end..].find('"').map_or(self.src.len(), |i| line_end + i + 1)
    }
}

/// The KDL 1 keywords `true`, `false` and `null`, read as the bare word `word` at `start`.
pub(super) fn kdl_v1_keyword(start: usize, word: &str) -> Option<ParseError> {
    if !matches!(word, "true" | "false" | "null") {
        return None;
    }
    Some(
        ParseError::new(Span::new(start, word.len()), format!("`{word}` is KDL 1 spelling"), "KDL 1")
            .help(format!("KDL 2 writes `#{word}` (for the text, quote it: `\"{word}\"`)"))
            .fix(Edit::insert(start, "#"))
            .kdl_v1(),
    )
}

/// The KDL 1 escape `\/` (at `span`, `/` being the character after the `\`).
pub(super) fn kdl_v1_escape(span: Span, next: Option<char>) -> Option<ParseError> {
    (next == Some('/')).then(|| {
        ParseError::new(span, "`\\/` is a KDL 1 escape", "KDL 1")
            .help("KDL 2 writes `/` as it is")
            .fix(Edit::new(span, "/"))
            .kdl_v1()
    })
}
