//! A compose file's YAML as a tree with a byte span on every key and value.
//!
//! Built from `saphyr-parser`'s events, so planrun decides what YAML 1.1 habits compose files
//! rely on: anchors and aliases (`*name` is a copy of the anchored node), merge keys
//! (`<<: *base` or `<<: [*a, *b]`, keys written in the mapping itself win), and a duplicated
//! key is an error at its second place (docker's loader refuses it too).

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::span::Span;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it holds.
    pub value: Value,
    /// Where it was written (for an alias, where the anchored node was).
    pub span: Span,
}

/// What a YAML node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar, as written; `quoted` when it was in quotes or a block (always a string).
    Scalar { text: String, quoted: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in file order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// Why a file is not a YAML tree planrun reads.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// A second place that explains it (the first of two duplicated keys).
    pub other: Option<Span>,
}

impl Node {
    /// The scalar's text, if it is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is an unquoted `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "nothing",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses `text` (one YAML document whose top is a mapping, or empty) into a tree.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder { offsets: &offsets, stack: Vec::new(), anchors: Vec::new(), root: None, total: 0 };
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            message: e.info().to_string(),
            span: offsets.point(e.marker().index()),
            other: None,
        })?;
        if let Event::DocumentStart(_) = event {
            documents += 1;
            if documents > 1 {
                return Err(YamlError {
                    message: "a compose file holds one YAML document; this is a second".into(),
                    span: builder.span(span),
                    other: None,
                });
            }
        }
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or(Node { value: Value::Map(Vec::new()), span: Span::new(0, 0) }))
}

/// Character index to byte offset (saphyr counts characters).
struct CharOffsets {
    /// Byte offset of each character that is not ASCII, with its character index; empty for
    /// ASCII text, where the two agree.
    wide: Vec<(usize, usize)>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let wide = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().enumerate().map(|(i, (b, _))| (i, b)).collect()
        };
        CharOffsets { wide, len: text.len() }
    }

    fn byte(&self, index: usize) -> usize {
        if self.wide.is_empty() {
            return index.min(self.len);
        }
        self.wide.get(index).map_or(self.len, |(_, b)| *b)
    }

    fn point(&self, index: usize) -> Span {
        Span::new(self.byte(index), 0)
    }
}

/// At most this many nodes, counting every copy an alias makes: a file of aliases of aliases
/// ("billion laughs") is refused instead of filling memory.
const MAX_NODES: usize = 1_000_000;

enum Open {
    Seq {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
        weight: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        start: Span,
        anchor: usize,
        merged: Vec<(Key, Node)>,
        weight: usize,
    },
}

struct Builder<'a> {
    offsets: &'a CharOffsets,
    stack: Vec<Open>,
    /// Anchored nodes with their weight (nodes, copies included).
    anchors: Vec<(usize, Node, usize)>,
    root: Option<Node>,
    /// Nodes made so far, alias copies included.
    total: usize,
}

impl Builder<'_> {
    fn span(&self, s: YamlSpan) -> Span {
        let start = self.offsets.byte(s.start.index());
        let end = self.offsets.byte(s.end.index()).max(start);
        Span::new(start, end - start)
    }

    fn event(&mut self, event: Event<'_>, span: YamlSpan) -> Result<(), YamlError> {
        let span = self.span(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                self.value(Node { value: Value::Scalar { text: text.into_owned(), quoted }, span }, anchor, 1)
            }
            Event::Alias(id) => {
                let found = self.anchors.iter().rev().find(|(a, _, _)| *a == id).map(|(_, n, w)| (n.clone(), *w));
                let (node, weight) =
                    found.ok_or_else(|| YamlError { message: "an alias to no anchor".into(), span, other: None })?;
                self.total += weight;
                if self.total > MAX_NODES {
                    return Err(YamlError {
                        message: format!("the file grows past {MAX_NODES} values through aliases of aliases"),
                        span,
                        other: None,
                    });
                }
                self.value(node, 0, weight)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq { items: Vec::new(), start: span, anchor, weight: 1 });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map {
                    entries: Vec::new(),
                    key: None,
                    start: span,
                    anchor,
                    merged: Vec::new(),
                    weight: 1,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Seq { items, start, anchor, weight }) => {
                    let span = Span::new(start.offset, span.end().max(start.end()) - start.offset);
                    self.value(Node { value: Value::Seq(items), span }, anchor, weight)
                }
                _ => Ok(()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Map { mut entries, start, anchor, merged, weight, .. }) => {
                    for (k, v) in merged {
                        if !entries.iter().any(|(e, _)| e.text == k.text) {
                            entries.push((k, v));
                        }
                    }
                    let span = Span::new(start.offset, span.end().max(start.end()) - start.offset);
                    self.value(Node { value: Value::Map(entries), span }, anchor, weight)
                }
                _ => Ok(()),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {
                Ok(())
            }
        }
    }

    /// A finished node of `weight` nodes: a key, a mapping value, a sequence item or the root.
    fn value(&mut self, node: Node, anchor: usize, weight: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone(), weight));
        }
        match self.stack.last_mut() {
            Some(Open::Seq { weight: w, .. } | Open::Map { weight: w, .. }) => *w += weight,
            None => {}
        }
        match self.stack.last_mut() {
            None => {
                if !matches!(node.value, Value::Map(_)) && !node.is_null() {
                    return Err(YamlError {
                        message: format!("a compose file is a mapping (`services:` ...), not {}", node.kind()),
                        span: node.span,
                        other: None,
                    });
                }
                self.root =
                    Some(if node.is_null() { Node { value: Value::Map(Vec::new()), span: node.span } } else { node });
                Ok(())
            }
            Some(Open::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Open::Map { entries, key, merged, .. }) => match key.take() {
                None => {
                    let Value::Scalar { text, .. } = &node.value else {
                        return Err(YamlError {
                            message: format!("a mapping key must be a plain word, not {}", node.kind()),
                            span: node.span,
                            other: None,
                        });
                    };
                    if text != "<<"
                        && let Some((first, _)) = entries.iter().find(|(k, _)| k.text == *text)
                    {
                        return Err(YamlError {
                            message: format!("`{text}` is given twice in this mapping"),
                            span: node.span,
                            other: Some(first.span),
                        });
                    }
                    *key = Some(Key { text: text.clone(), span: node.span });
                    Ok(())
                }
                Some(k) if k.text == "<<" => {
                    // A merge key: a mapping, or a list of mappings, whose keys come in unless
                    // the mapping sets them itself; earlier mappings in the list win.
                    let sources = match node.value {
                        Value::Map(m) => vec![m],
                        Value::Seq(items) => {
                            let mut out = Vec::new();
                            for item in items {
                                match item.value {
                                    Value::Map(m) => out.push(m),
                                    _ => {
                                        return Err(YamlError {
                                            message: "`<<` merges mappings; this list holds something else".into(),
                                            span: item.span,
                                            other: None,
                                        });
                                    }
                                }
                            }
                            out
                        }
                        Value::Scalar { .. } => {
                            return Err(YamlError {
                                message: "`<<` merges a mapping (`<<: *anchor`), not a scalar".into(),
                                span: node.span,
                                other: None,
                            });
                        }
                    };
                    for source in sources {
                        for (k, v) in source {
                            if !merged.iter().any(|(m, _)| m.text == k.text) {
                                merged.push((k, v));
                            }
                        }
                    }
                    Ok(())
                }
                Some(k) => {
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> Vec<(&str, &Node)> {
        match &node.value {
            Value::Map(m) => m.iter().map(|(k, v)| (k.text.as_str(), v)).collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn keys_and_values_have_their_byte_spans() {
        let text = "services:\n  web:\n    image: app:v1\n";
        let root = parse(text).unwrap();
        let (_, services) = map(&root)[0];
        let (web, body) = map(services)[0];
        assert_eq!(web, "web");
        let (k, v) = match &body.value {
            Value::Map(m) => (&m[0].0, &m[0].1),
            _ => unreachable!(),
        };
        assert_eq!(&text[k.span.offset..k.span.end()], "image");
        assert_eq!(&text[v.span.offset..v.span.end()], "app:v1");
    }

    #[test]
    fn aliases_copy_and_merge_keys_fill_in_what_the_mapping_lacks() {
        let text = "base: &b\n  a: 1\n  b: 2\nuse:\n  <<: *b\n  b: 3\ncopy: *b\n";
        let root = parse(text).unwrap();
        let m = map(&root);
        let used: Vec<(&str, &str)> = map(m[1].1).iter().map(|(k, v)| (*k, v.scalar().unwrap())).collect();
        assert_eq!(used, vec![("b", "3"), ("a", "1")]);
        assert_eq!(map(m[2].1).len(), 2);
    }

    #[test]
    fn a_duplicated_key_is_an_error_at_its_second_place() {
        let text = "services:\n  web: {}\n  web: {}\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.span.offset, text.rfind("web").unwrap());
        assert_eq!(e.other.map(|s| s.offset), Some(text.find("web").unwrap()));
    }

    #[test]
    fn bad_yaml_and_a_top_level_list_are_errors_with_positions() {
        assert!(parse("services:\n  web: [\n").is_err());
        let e = parse("- a\n- b\n").unwrap_err();
        assert!(e.message.contains("mapping"), "{}", e.message);
    }

    #[test]
    fn aliases_of_aliases_that_grow_without_bound_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("aliases of aliases"), "{}", e.message);
    }

    #[test]
    fn non_ascii_text_keeps_byte_spans() {
        let text = "x-note: \"größe\"\nservices: {}\n";
        let root = parse(text).unwrap();
        let (k, _) = match &root.value {
            Value::Map(m) => (&m[1].0, ()),
            _ => unreachable!(),
        };
        assert_eq!(&text[k.span.offset..k.span.end()], "services");
    }
}
