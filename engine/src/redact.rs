//! The one redaction rule: what planrun writes (journals, JSON events, progress lines, plan
//! diffs in every format, saved plans) never holds a service's env values, a URL's credentials
//! or its query string. Each is replaced by a marker with a short hash of the value,
//! `<redacted:3f9a61c2>`, so a diff still shows that a value changed, and a value read back from
//! the swarm can be matched to the marker that stands for it.
//!
//! The hash is the first 32 bits of SHA-256 over a fixed prefix and the value: enough to tell
//! values apart in a diff, too short to be a fingerprint of a strong secret, but a weak one (a
//! short password) can be guessed from it as from any hash. The values themselves stay in the
//! swarm: the run state keeps whole specs as Swarm config objects, and undo reads them there.

use std::borrow::Cow;

use bollard::models::ServiceSpec;
use sha2::{Digest, Sha256};

/// How every marker begins.
pub const OPEN: &str = "<redacted:";

/// The marker standing for `value`: `<redacted:3f9a61c2>`. A marker stands for itself, so
/// redacting twice changes nothing.
pub fn value(value: &str) -> String {
    if hash_of(value).is_some() {
        return value.to_owned();
    }
    format!("{OPEN}{}>", hash(value))
}

/// The short hash in a marker, or `None` when `text` is not exactly one marker.
pub fn hash_of(text: &str) -> Option<&str> {
    let hash = text.strip_prefix(OPEN)?.strip_suffix('>')?;
    (hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// Whether `marker` stands for `value`.
pub fn stands_for(marker: &str, value: &str) -> bool {
    hash_of(marker).is_some_and(|h| h == hash(value))
}

fn hash(value: &str) -> String {
    let digest = Sha256::new().chain_update(b"planrun redact\0").chain_update(value.as_bytes()).finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// An env entry `KEY=value` with its value redacted: `KEY=<redacted:..>`. An entry without
/// `=` (Docker passes the caller's value of that name) is only a name, and stays.
pub fn env_entry(entry: &str) -> String {
    match entry.split_once('=') {
        Some((key, v)) => format!("{key}={}", value(v)),
        None => entry.to_owned(),
    }
}

/// Redacts `spec`'s env values in place.
pub fn spec_in_place(spec: &mut ServiceSpec) {
    let env = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()).and_then(|c| c.env.as_mut());
    for entry in env.into_iter().flatten() {
        *entry = env_entry(entry);
    }
}

/// Whether `spec` holds a redacted env value (a spec read back from a journal).
pub fn is_redacted(spec: &ServiceSpec) -> bool {
    env_of(spec).any(|e| e.split_once('=').is_some_and(|(_, v)| hash_of(v).is_some()))
}

fn env_of(spec: &ServiceSpec) -> impl Iterator<Item = &String> {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
}

/// An env value a redacted spec needs and no source holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The variable.
    pub key: String,
    /// The marker standing for its value.
    pub marker: String,
}

/// Puts back, in `spec`, each redacted env value from the first of `sources` (specs read from
/// the swarm: the service's current spec, its previous one) holding the same key with a value
/// the marker stands for. What no source holds is returned, and left redacted.
pub fn restore_env(spec: &mut ServiceSpec, sources: &[&ServiceSpec]) -> Vec<Unmatched> {
    let mut unmatched = Vec::new();
    let env = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()).and_then(|c| c.env.as_mut());
    for entry in env.into_iter().flatten() {
        let Some((key, marker)) = entry.split_once('=') else { continue };
        if hash_of(marker).is_none() {
            continue;
        }
        let found = sources.iter().flat_map(|s| env_of(s)).find_map(|e| {
            let (k, v) = e.split_once('=')?;
            (k == key && stands_for(marker, v)).then_some(v)
        });
        match found {
            Some(v) => *entry = format!("{key}={v}"),
            None => unmatched.push(Unmatched { key: key.to_owned(), marker: marker.to_owned() }),
        }
    }
    unmatched
}

/// A URL with its password and query string redacted:
/// `postgres://app:<redacted:..>@db:5432/shop?<redacted:..>`. Text that is not a URL with
/// credentials or a query comes back unchanged.
pub fn url(text: &str) -> Cow<'_, str> {
    let Some(scheme_end) = text.find("://") else { return Cow::Borrowed(text) };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let after = &rest[authority_end..];
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..scheme_end + 3]);
    let mut changed = false;
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(&value(password));
                }
                // A bare user part may be a token (`https://TOKEN@host`).
                None => out.push_str(&value(userinfo)),
            }
            out.push('@');
            out.push_str(host);
            changed = true;
        }
        None => out.push_str(authority),
    }
    match after.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            out.push_str(path);
            out.push('?');
            out.push_str(&value(query));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            changed = true;
        }
        None => out.push_str(after),
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
}

/// The shortest env value [`text_with_env`] replaces in free text: shorter ones (`1`, `ok`,
/// `v2`) are too common in a log line to stand for a value, and replacing them would garble it.
pub const SHORTEST_IN_TEXT: usize = 4;

/// Free text written by a service's tasks (a log line, a health check's output, a task's
/// error) with every value of the service's `env` (`KEY=value` entries) that appears in it
/// replaced by its marker, longest first, then every URL redacted as [`text`] does. An app
/// that prints its configuration prints its secrets: they never reach a journal this way.
/// Values shorter than [`SHORTEST_IN_TEXT`] characters are left.
pub fn text_with_env(text: &str, env: &[String]) -> String {
    let mut values: Vec<&str> = env
        .iter()
        .filter_map(|e| e.split_once('=').map(|(_, v)| v))
        .filter(|v| v.chars().count() >= SHORTEST_IN_TEXT && hash_of(v).is_none())
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    let mut out = text.to_owned();
    for v in values {
        if out.contains(v) {
            out = out.replace(v, &value(v));
        }
    }
    self::text(&out).into_owned()
}

/// `s` with every URL in it redacted, in place ([`text`]).
pub fn scrub(s: &mut String) {
    if let Cow::Owned(clean) = text(s) {
        *s = clean;
    }
}

/// The same for an optional text.
pub fn scrub_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        scrub(s);
    }
}

/// A PostgreSQL connection URL or `key=value` string with its password redacted, and only
/// that: the rest (`sslmode`, the host) is what reaching the database again needs. Reached
/// again from a journal, a redacted password counts as none (`PGPASSWORD` then applies). A
/// URL that does not parse is redacted whole: where its password is cannot be told. Messages
/// show a database URL this way too (`database::Target::describe`).
pub fn database_url(text: &str) -> String {
    let parsed = ::url::Url::parse(text);
    if parsed.is_err() && text.contains("://") {
        return value(text);
    }
    if let Ok(mut u) = parsed {
        if let Some(p) = u.password().map(str::to_owned) {
            let marker = value(&p);
            let _ = u.set_password(Some(&marker));
        }
        if u.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" { value(&v) } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return u.to_string();
    }
    // `host=db password=secret dbname=shop`
    text.split(' ')
        .map(|part| match part.split_once('=') {
            Some(("password", v)) => format!("password={}", value(v)),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Free text (a reason, a progress line, a command's output quoted in an error) with every URL
/// in it redacted as [`url`] does. A URL runs from its scheme to the next space or quote.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let bounds = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ',' | ')' | '(');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: letters, digits, `+`, `-`, `.` before `://`.
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let end = rest[at + 3..].find(bounds).map_or(rest.len(), |e| at + 3 + e);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use bollard::models::{TaskSpec, TaskSpecContainerSpec};

    use super::*;

    fn spec(spec: &ServiceSpec) -> ServiceSpec {
        let mut out = spec.clone();
        spec_in_place(&mut out);
        out
    }

    fn with_env(env: &[&str]) -> ServiceSpec {
        ServiceSpec {
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    env: Some(env.iter().map(|e| (*e).to_owned()).collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_marker_names_the_value_by_a_short_hash_and_stands_for_itself() {
        let m = value("s3cret");
        assert!(m.starts_with("<redacted:") && m.ends_with('>') && m.len() == "<redacted:>".len() + 8, "{m}");
        assert!(!m.contains("s3cret"));
        assert_eq!(value(&m), m, "idempotent");
        assert_ne!(value("s3cret"), value("s3cret2"), "a change shows");
        assert!(stands_for(&m, "s3cret"));
        assert!(!stands_for(&m, "other"));
        assert_eq!(hash_of("<redacted:xyz>"), None);
    }

    #[test]
    fn env_values_are_redacted_and_come_back_from_the_swarm() {
        let live = with_env(&["DATABASE_URL=postgres://u:pw@db/x", "MODE=prod", "INHERITED"]);
        let mut red = spec(&live);
        let env = red.task_template.as_ref().unwrap().container_spec.as_ref().unwrap().env.clone().unwrap();
        assert!(env[0].starts_with("DATABASE_URL=<redacted:") && !env[0].contains("pw"), "{env:?}");
        assert!(env[1].starts_with("MODE=<redacted:"), "{env:?}");
        assert_eq!(env[2], "INHERITED");
        assert!(is_redacted(&red));
        assert!(!is_redacted(&live));
        assert_eq!(spec(&red), red, "idempotent");

        let other = with_env(&["MODE=staging"]);
        assert_eq!(restore_env(&mut red, &[&other, &live]), vec![]);
        assert_eq!(red, live, "each value found where its hash matches");

        let mut again = spec(&live);
        let missing = restore_env(&mut again, &[&other]);
        assert_eq!(missing.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), ["DATABASE_URL", "MODE"]);
    }

    #[test]
    fn urls_lose_their_credentials_and_query() {
        assert_eq!(url("http://web:8080/health"), "http://web:8080/health");
        let u = url("postgres://app:hunter2@db:5432/shop?sslmode=require");
        assert!(u.starts_with("postgres://app:<redacted:") && u.contains("@db:5432/shop?<redacted:"), "{u}");
        assert!(!u.contains("hunter2") && !u.contains("sslmode"), "{u}");
        let t = url("https://TOKEN123@api.example.com/x#frag");
        assert!(t.starts_with("https://<redacted:") && t.ends_with("@api.example.com/x#frag"), "{t}");
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn database_urls_keep_what_reaching_them_needs() {
        let u = database_url("postgres://app:hunter2@db:5432/shop?sslmode=require");
        assert!(u.contains("sslmode=require") && !u.contains("hunter2") && u.contains("app:%3Credacted"), "{u}");
        let q = database_url("postgres://db/shop?user=app&password=hunter2");
        assert!(!q.contains("hunter2") && q.contains("user=app"), "{q}");
        assert_eq!(database_url("postgres://db/shop"), "postgres://db/shop");
        let broken = database_url("postgres://app:hunter2@db:99999/shop");
        assert!(broken.starts_with("<redacted:") && !broken.contains("hunter2"), "{broken}");
        let kv = database_url("host=db password=hunter2 dbname=shop");
        assert!(kv.starts_with("host=db password=<redacted:") && kv.ends_with(" dbname=shop"), "{kv}");
    }

    #[test]
    fn a_services_env_values_in_its_log_lines_become_markers() {
        let env: Vec<String> =
            ["API_TOKEN=tok-hunter2", "DB=postgres://app:pw@db/shop", "MODE=ok", "LONG=tok-hunter2-x"]
                .iter()
                .map(|e| (*e).to_owned())
                .collect();
        let line = text_with_env(
            "starting mode=ok with token tok-hunter2-x and tok-hunter2, db postgres://app:pw@db/shop",
            &env,
        );
        assert!(!line.contains("hunter2") && !line.contains(":pw@"), "{line}");
        assert!(line.starts_with("starting mode=ok with token <redacted:"), "short values stay: {line}");
        assert!(line.contains(&format!("token {} and {},", value("tok-hunter2-x"), value("tok-hunter2"))), "{line}");
        assert!(line.contains(&format!("db {}", value("postgres://app:pw@db/shop"))), "{line}");
        assert_eq!(text_with_env("GET http://u:p4ss@h/x", &[]), text("GET http://u:p4ss@h/x"), "URLs as `text` does");
        assert_eq!(text_with_env("nothing to hide", &env), "nothing to hide");
    }

    #[test]
    fn urls_inside_text_are_redacted_in_place() {
        let t = text("GET http://u:p4ss@h/a?token=abc failed: 500; see \"https://x.test/?k=v\" (retry)");
        assert!(!t.contains("p4ss") && !t.contains("token=abc") && !t.contains("k=v"), "{t}");
        assert!(t.starts_with("GET http://u:<redacted:") && t.ends_with("\" (retry)"), "{t}");
        assert_eq!(text("no url here"), "no url here");
        assert_eq!(text("plain http://web/health ok"), "plain http://web/health ok");
    }
}
