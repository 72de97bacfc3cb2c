//! What `http` and `prometheus` gates send besides the request: at most one way to
//! authenticate (`bearer-token-file`, `bearer-token-env`, `basic-auth`) and extra `header`s.
//!
//! A plan names where each secret is (a file, an environment variable), never the secret: the
//! engine reads it when it measures. The checker reads neither: a token file or variable belongs
//! to the machine that deploys and is checked there, before the first change (preflight).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::kdl_fast::Node;
use crate::span::Span;
use crate::spanned::Spanned;

/// How a gate's requests authenticate, and the headers they carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Credentials {
    /// The one way to authenticate, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// Extra request headers, in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

/// Where a secret is read from when a measurement is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Secret {
    /// A file, relative to the plan's directory; its text, trimmed.
    File(String),
    /// An environment variable of the process running planrun; its value, trimmed.
    Env(String),
}

/// How a gate's requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// `Authorization: Bearer TOKEN`.
    Bearer(Secret),
    /// `Authorization: Basic ...` of a user and a password.
    Basic {
        /// The user name (not a secret: it is written in the plan).
        user: String,
        /// Where the password is.
        password: Secret,
    },
}

/// One extra request header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Header {
    /// The header's name, as written.
    pub name: String,
    /// Its value.
    pub value: HeaderValue,
}

/// A header's value: written in the plan (for what is not secret), or read like a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderValue {
    /// The value as written (`value="..."`): shown by `planrun show`, so never a secret.
    Literal(String),
    /// Read from a file or an environment variable (`value-file`, `value-env`).
    Secret(Secret),
}

impl Credentials {
    /// Whether the gate sends nothing besides its request.
    pub fn is_empty(&self) -> bool {
        self.auth.is_none() && self.headers.is_empty()
    }

    /// Every secret the requests need, each with the setting that names it
    /// (`bearer-token-file`, `basic-auth password-env`, `header "X-Api-Key" value-env`).
    pub fn secrets(&self) -> Vec<(String, &Secret)> {
        let mut out = Vec::new();
        match &self.auth {
            Some(Auth::Bearer(s)) => out.push((s.setting("bearer-token"), s)),
            Some(Auth::Basic { password, .. }) => {
                out.push((format!("basic-auth {}", password.setting("password")), password))
            }
            None => {}
        }
        for h in &self.headers {
            if let HeaderValue::Secret(s) = &h.value {
                out.push((format!("header {:?} {}", h.name, s.setting("value")), s));
            }
        }
        out
    }
}

impl Secret {
    /// The setting that names this secret, from its prefix: `bearer-token` gives
    /// `bearer-token-file` or `bearer-token-env`.
    pub fn setting(&self, prefix: &str) -> String {
        match self {
            Secret::File(_) => format!("{prefix}-file"),
            Secret::Env(_) => format!("{prefix}-env"),
        }
    }
}

/// Reads the credentials of an `http` or `prometheus` node; `url` is the URL it requests (for
/// `http`) or its server (for `prometheus`), checked for credentials written into it.
pub fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>, url: Option<&Spanned<String>>) -> Credentials {
    // Where each way to authenticate is written.
    let mut ways: Vec<Span> = Vec::new();
    if let Some(url) = url {
        let found = in_url(&url.value);
        if found.userinfo {
            // reqwest sends a URL's `user:password@` as basic authentication.
            ways.push(url.span);
        }
        if found.userinfo || found.query.is_some() {
            let problem = GateProblem::CredentialsInUrl { userinfo: found.userinfo, query: found.query.as_deref() };
            d.push(Diagnostic::new(problem, url.span));
        }
    }
    let mut auth = None;
    for (key, kind) in [("bearer-token-file", SecretKind::File), ("bearer-token-env", SecretKind::Env)] {
        if let Some(value) = d.string(f, key, false) {
            ways.push(value.span);
            auth = secret(d, kind, &value).map(Auth::Bearer);
        }
    }
    if let Some(node) = d.child(f, "basic-auth") {
        ways.push(node.name().span());
        auth = basic(d, node);
    }
    let headers = headers(d, f, &mut ways);
    if let [first, second, ..] = ways.as_slice() {
        d.push(Diagnostic::new(GateProblem::TwoAuthentications { what: f.what(), first: *first }, *second));
    }
    Credentials { auth, headers }
}

#[derive(Clone, Copy)]
enum SecretKind {
    File,
    Env,
}

/// A secret's source, checked: a path that is not empty, a well-formed variable name.
fn secret(d: &mut Decoder<'_>, kind: SecretKind, value: &Spanned<String>) -> Option<Secret> {
    match kind {
        SecretKind::File if value.value.trim().is_empty() => {
            d.push(Diagnostic::new(GateProblem::EmptyPath, value.span));
            None
        }
        SecretKind::File => Some(Secret::File(value.value.clone())),
        SecretKind::Env if !is_env_name(&value.value) => {
            d.push(Diagnostic::new(GateProblem::NotAnEnvName { name: &value.value }, value.span));
            None
        }
        SecretKind::Env => Some(Secret::Env(value.value.clone())),
    }
}

/// Where a header's or a password's value comes from, as written.
pub(crate) enum Source {
    /// From a file or a variable.
    Secret(Secret),
    /// Written in the plan (`value="..."`).
    Literal(Spanned<String>),
}

/// Reads exactly one of `keys[0]` (a file), `keys[1]` (a variable) and `literal` (a value
/// written in the plan), reporting none or two.
pub(crate) fn one_source(
    d: &mut Decoder<'_>,
    f: &mut Fields<'_>,
    keys: [&'static str; 2],
    literal: Option<&'static str>,
) -> Option<Source> {
    let mut found: Vec<(Span, Option<Source>)> = Vec::new();
    for (key, kind) in [(keys[0], SecretKind::File), (keys[1], SecretKind::Env)] {
        if let Some(value) = d.string(f, key, false) {
            found.push((value.span, secret(d, kind, &value).map(Source::Secret)));
        }
    }
    if let Some(key) = literal
        && let Some(value) = d.string(f, key, false)
    {
        found.push((value.span, Some(Source::Literal(value))));
    }
    let all: Vec<&'static str> = keys.iter().copied().chain(literal).collect();
    match found.as_slice() {
        [] => {
            d.push(Diagnostic::new(GateProblem::NoSecret { what: f.what(), keys: &all }, f.name_span()));
            None
        }
        [(first, _), (second, _), ..] => {
            d.push(Diagnostic::new(GateProblem::TwoSources { what: f.what(), keys: &all, first: *first }, *second));
            None
        }
        [_] => found.pop().and_then(|(_, v)| v),
    }
}

/// `basic-auth user="NAME" password-file="PATH"` (or `password-env="VAR"`).
fn basic(d: &mut Decoder<'_>, node: &Node) -> Option<Auth> {
    let mut f = d.fields(node, "`basic-auth`");
    d.no_more_args(&f, 0);
    let user = d.string(&mut f, "user", true);
    if let Some(u) = &user
        && u.value.contains(':')
    {
        d.push(Diagnostic::new(GateProblem::UserWithColon, u.span));
    }
    let password = one_source(d, &mut f, ["password-file", "password-env"], None);
    d.finish(f);
    match password? {
        Source::Secret(password) => Some(Auth::Basic { user: user?.value, password }),
        // Only headers take a literal.
        Source::Literal(_) => None,
    }
}

/// Every `header "NAME" value-env="VAR"` (or `value-file`, or `value`); an `Authorization`
/// header is a way to authenticate, added to `ways`.
fn headers(d: &mut Decoder<'_>, f: &mut Fields<'_>, ways: &mut Vec<Span>) -> Vec<Header> {
    let mut out: Vec<Header> = Vec::new();
    let mut seen: Vec<(String, Span)> = Vec::new();
    for node in d.children(f, "header") {
        let mut hf = d.fields(node, "`header`");
        d.no_more_args(&hf, 1);
        let name = match d.args(node).first() {
            Some(v) => d.as_string("header", *v),
            None => {
                d.push(Diagnostic::new(GateProblem::HeaderWithoutName, hf.name_span()));
                None
            }
        };
        let value = one_source(d, &mut hf, ["value-file", "value-env"], Some("value"));
        d.finish(hf);
        let Some(name) = name else { continue };
        if !is_header_name(&name.value) {
            d.push(Diagnostic::new(GateProblem::NotAHeaderName { name: &name.value }, name.span));
            continue;
        }
        let lower = name.value.to_ascii_lowercase();
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == lower) {
            d.push(Diagnostic::new(GateProblem::HeaderTwice { name: &name.value, first: *first }, name.span));
            continue;
        }
        seen.push((lower.clone(), name.span));
        if lower == "authorization" {
            ways.push(name.span);
        }
        let value = match value {
            Some(Source::Secret(secret)) => HeaderValue::Secret(secret),
            Some(Source::Literal(text)) => {
                if text.value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                    d.push(Diagnostic::new(GateProblem::NotAHeaderValue, text.span));
                    continue;
                }
                if looks_secret(&lower) {
                    d.push(Diagnostic::new(GateProblem::SecretHeaderInPlan { name: &name.value }, text.span));
                }
                HeaderValue::Literal(text.value)
            }
            None => continue,
        };
        out.push(Header { name: name.value, value });
    }
    out
}

/// Whether `name` is an environment variable name: a letter or `_`, then letters, digits, `_`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is an HTTP header name (RFC 9110's `token`).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What a URL carries that looks like a credential.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InUrl {
    /// `user:password@` or `token@` before the host.
    pub userinfo: bool,
    /// The first query parameter named like a credential (`token`, `api_key`, `password`).
    pub query: Option<String>,
}

/// What in `url` looks like a credential.
pub fn in_url(url: &str) -> InUrl {
    let Some(parts) = super::http::url_parts(url) else { return InUrl::default() };
    let userinfo = parts.userinfo.is_some();
    let query = parts.rest.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or(""));
    let query = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        looks_secret(&name.to_ascii_lowercase()).then(|| name.to_owned())
    });
    InUrl { userinfo, query }
}

/// Whether a (lower-case) header or query parameter name looks like it holds a credential: one
/// of its words (split at `-`, `_`, `.`) is `token`, `key`, `password`, `secret`, `auth`...
fn looks_secret(lower: &str) -> bool {
    const WORDS: &[&str] = &[
        "token",
        "key",
        "apikey",
        "password",
        "passwd",
        "pwd",
        "secret",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "signature",
        "sig",
        "cookie",
        "session",
        "jwt",
    ];
    lower.split(['-', '_', '.']).any(|w| WORDS.contains(&w))
        || ["accesstoken", "authtoken", "apitoken", "privatekey"].iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_found_without_their_values() {
        assert_eq!(in_url("http://web:8080/health"), InUrl::default());
        assert!(in_url("https://u:p@prom:9090").userinfo);
        assert!(in_url("https://TOKEN@prom:9090/").userinfo);
        assert_eq!(in_url("http://web/health?token=abc").query.as_deref(), Some("token"));
        assert_eq!(in_url("http://web/health?x=1&api_key=abc#f").query.as_deref(), Some("api_key"));
        assert_eq!(in_url("http://web/health?X-Amz-Signature=abc").query.as_deref(), Some("X-Amz-Signature"));
        assert_eq!(in_url("http://web/health?accessToken=abc").query.as_deref(), Some("accessToken"));
        assert_eq!(in_url("http://web/health?verbose=1&monkey=2").query, None);
        assert_eq!(in_url("http://web/a@b"), InUrl::default(), "an @ in the path is not userinfo");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("PROM_TOKEN") && is_env_name("_x1"));
        assert!(!is_env_name("") && !is_env_name("1X") && !is_env_name("A-B") && !is_env_name("$A"));
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(is_header_name("X-Api-Key") && is_header_name("Authorization"));
        assert!(!is_header_name("X Api") && !is_header_name("X:Y") && !is_header_name(""));
    }
}
