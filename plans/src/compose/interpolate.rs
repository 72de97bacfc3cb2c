//! Variable interpolation in compose values, as docker does it before reading the file:
//! `$NAME`, `${NAME}`, `${NAME:-default}` (unset or empty), `${NAME-default}` (unset),
//! `${NAME:?message}` and `${NAME?message}` (an error),
//! and `$$` for a literal `$`. Defaults and messages may hold further `${...}`.

/// What interpolating one value found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    /// The value.
    pub text: String,
    /// Variables that were not set and became empty: (name, byte offset in the value).
    pub unset: Vec<(String, usize)>,
}

/// Why a value cannot be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the value.
    pub at: usize,
}

/// Interpolates `text`; `lookup` gives a variable's value, `None` when it is not set.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Interpolated, InterpolationError> {
    let mut out = Interpolated { text: String::with_capacity(text.len()), unset: Vec::new() };
    let end = expand(text, 0, lookup, &mut out, false)?;
    debug_assert_eq!(end, text.len());
    Ok(out)
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Expands from `i` to the end of `text`, or (with `nested`) to the `}` that closes the
/// enclosing `${`; returns the index of that `}` or the end.
fn expand(
    text: &str,
    mut i: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Interpolated,
    nested: bool,
) -> Result<usize, InterpolationError> {
    let bytes = text.as_bytes();
    let mut plain_start = i;
    while i < bytes.len() {
        match bytes[i] {
            b'}' if nested => {
                out.text.push_str(&text[plain_start..i]);
                return Ok(i);
            }
            b'$' => {
                out.text.push_str(&text[plain_start..i]);
                let start = i;
                match bytes.get(i + 1) {
                    Some(b'$') => {
                        out.text.push('$');
                        i += 2;
                    }
                    Some(b'{') => i = braced(text, start, lookup, out)?,
                    Some(c) if is_name_start(*c) => {
                        let mut j = i + 1;
                        while j < bytes.len() && is_name(bytes[j]) {
                            j += 1;
                        }
                        let name = &text[i + 1..j];
                        match lookup(name) {
                            Some(v) => out.text.push_str(&v),
                            None => out.unset.push((name.to_string(), start)),
                        }
                        i = j;
                    }
                    _ => {
                        return Err(InterpolationError {
                            message: "a `$` that starts no variable: write `$$` for a literal `$`".into(),
                            at: start,
                        });
                    }
                }
                plain_start = i;
            }
            _ => i += 1,
        }
    }
    if nested {
        return Err(InterpolationError { message: "this `${` is never closed with `}`".into(), at: text.len() });
    }
    out.text.push_str(&text[plain_start..]);
    Ok(i)
}

/// `${...}` starting at `start` (the `$`); returns the index after its `}`.
fn braced(
    text: &str,
    start: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Interpolated,
) -> Result<usize, InterpolationError> {
    let bytes = text.as_bytes();
    let mut j = start + 2;
    while j < bytes.len() && is_name(bytes[j]) {
        j += 1;
    }
    let name = &text[start + 2..j];
    if name.is_empty() || !is_name_start(name.as_bytes()[0]) {
        return Err(InterpolationError {
            message: "`${` must be followed by a variable name (`${NAME}`, `${NAME:-default}`)".into(),
            at: start,
        });
    }
    let value = lookup(name);
    let (colon, op_at) = if bytes.get(j) == Some(&b':') { (true, j + 1) } else { (false, j) };
    let op = bytes.get(op_at).copied();
    match op {
        Some(b'}') if !colon => {
            match value {
                Some(v) => out.text.push_str(&v),
                None => out.unset.push((name.to_string(), start)),
            }
            Ok(op_at + 1)
        }
        // The docker CLI has no `${NAME:+other}` (compose v2 has): it refuses the file.
        Some(b'+') => Err(InterpolationError {
            message: format!(
                "invalid interpolation format: docker stack deploy has no `${{{name}{}+...}}` (only `docker compose` has)",
                if colon { ":" } else { "" }
            ),
            at: start,
        }),
        Some(b'-' | b'?') => {
            let op = op.unwrap_or_default();
            // The word after the operator, expanded on its own.
            let mut word = Interpolated { text: String::new(), unset: Vec::new() };
            let close = expand(text, op_at + 1, lookup, &mut word, true)?;
            let set = match &value {
                Some(v) => !(colon && v.is_empty()),
                None => false,
            };
            match op {
                b'-' => {
                    if set {
                        out.text.push_str(value.as_deref().unwrap_or_default());
                    } else {
                        out.text.push_str(&word.text);
                        out.unset.extend(word.unset);
                    }
                }
                _ => {
                    if !set {
                        let why = if word.text.is_empty() {
                            format!("`{name}` must be set{}", if colon { " and not empty" } else { "" })
                        } else {
                            word.text.clone()
                        };
                        return Err(InterpolationError { message: format!("required variable: {why}"), at: start });
                    }
                    out.text.push_str(value.as_deref().unwrap_or_default());
                }
            }
            Ok(close + 1)
        }
        None => Err(InterpolationError { message: "this `${` is never closed with `}`".into(), at: start }),
        Some(_) => Err(InterpolationError {
            message: format!(
                "`${{{name}...}}` is not a form docker reads: use `${{{name}}}`, `${{{name}:-default}}`, \
                 or `${{{name}:?message}}`"
            ),
            at: start,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("v2".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, String> {
        interpolate(text, &env).map(|i| i.text).map_err(|e| e.message)
    }

    #[test]
    fn every_form_docker_reads() {
        assert_eq!(run("app:$TAG").unwrap(), "app:v2");
        assert_eq!(run("app:${TAG}").unwrap(), "app:v2");
        assert_eq!(run("${NOPE:-v1}").unwrap(), "v1");
        assert_eq!(run("${EMPTY:-v1}").unwrap(), "v1");
        assert_eq!(run("${EMPTY-v1}").unwrap(), "");
        assert_eq!(run("${NOPE-v1}").unwrap(), "v1");
        assert!(run("${TAG:+set}").unwrap_err().starts_with("invalid interpolation format"), "docker refuses it");
        assert!(run("${EMPTY+set}").is_err());
        assert_eq!(run("cost: $$5 and $${TAG}").unwrap(), "cost: $5 and ${TAG}");
        assert_eq!(run("${NOPE:-${TAG}-x}").unwrap(), "v2-x");
    }

    #[test]
    fn unset_variables_become_empty_and_are_reported() {
        let i = interpolate("x${NOPE}y$ALSO", &env).unwrap();
        assert_eq!(i.text, "xy");
        assert_eq!(i.unset, vec![("NOPE".to_string(), 1), ("ALSO".to_string(), 9)]);
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = interpolate("a ${NOPE:?set NOPE to the tag}", &env).unwrap_err();
        assert_eq!((e.message.as_str(), e.at), ("required variable: set NOPE to the tag", 2));
        assert!(run("${NOPE?}").unwrap_err().contains("`NOPE` must be set"));
        assert!(run("${TAG").unwrap_err().contains("never closed"));
        assert!(run("${}").unwrap_err().contains("variable name"));
        assert!(run("${TAG/x/y}").unwrap_err().contains("not a form"));
        assert!(run("50$").unwrap_err().contains("$$"));
    }
}

/// A variable a value names with a default, as `${NAME:-default}` or `${NAME-default}` (the
/// default plain text): what `planrun init` turns into a plan variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaulted {
    /// The variable.
    pub name: String,
    /// Its default.
    pub default: String,
}

/// The variables `text` names with a plain default, in order, each once; `None` when it names
/// a variable any other way (`$NAME`, `${NAME}`, `${NAME:?...}`, a default with `$` in it).
pub fn defaulted(text: &str) -> Option<Vec<Defaulted>> {
    let mut out: Vec<Defaulted> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
            continue;
        }
        let inner = after.strip_prefix('{')?;
        let close = inner.find('}')?;
        let body = &inner[..close];
        let (name, default) = body.split_once(":-").or_else(|| body.split_once('-'))?;
        let bytes = name.as_bytes();
        if bytes.is_empty() || !is_name_start(bytes[0]) || !bytes.iter().all(|b| is_name(*b)) || default.contains('$') {
            return None;
        }
        if !out.iter().any(|d| d.name == name) {
            out.push(Defaulted { name: name.to_owned(), default: default.to_owned() });
        }
        rest = &inner[close + 1..];
    }
    Some(out)
}

#[cfg(test)]
mod defaulted_tests {
    use super::*;

    #[test]
    fn variables_with_plain_defaults_are_found_and_others_refused() {
        let d = |n: &str, v: &str| Defaulted { name: n.into(), default: v.into() };
        assert_eq!(defaulted("app:${TAG:-v1}"), Some(vec![d("TAG", "v1")]));
        assert_eq!(
            defaulted("${REG-registry.example.com}/app:${TAG:-1.4}"),
            Some(vec![d("REG", "registry.example.com"), d("TAG", "1.4")])
        );
        assert_eq!(defaulted("app:v1"), Some(vec![]));
        assert_eq!(defaulted("app:$$literal"), Some(vec![]));
        assert_eq!(defaulted("app:${TAG}"), None);
        assert_eq!(defaulted("app:$TAG"), None);
        assert_eq!(defaulted("app:${TAG:?set it}"), None);
        assert_eq!(defaulted("app:${TAG:-${OTHER}}"), None);
    }
}
