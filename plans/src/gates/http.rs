//! `http`: a request whose status and body decide.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::credentials::{self, Credentials};
use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;

/// An HTTP check: `http "http://app:8080/health" status=200 body="ok"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct HttpGate {
    /// The URL to request.
    pub url: String,
    /// The method.
    pub method: String,
    /// The status that passes.
    pub status: u16,
    /// Text the body must contain.
    pub body: Option<String>,
    /// How the request authenticates, and its extra headers.
    #[serde(default, skip_serializing_if = "Credentials::is_empty")]
    pub credentials: Credentials,
}

impl super::Definition for HttpGate {
    const KEYWORD: &'static str = "http";
    const EXAMPLE: &'static str = "http \"URL\"";

    /// Reads an http gate.
    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<HttpGate> {
        d.no_more_args(f, 1);
        let url = match d.args(f.node()).first() {
            Some(v) => d.as_string("http", *v),
            None => {
                d.push(Diagnostic::new(GateProblem::HttpWithoutUrl, f.name_span()));
                None
            }
        };
        if let Some(u) = &url
            && !(u.value.starts_with("http://") || u.value.starts_with("https://"))
        {
            d.push(Diagnostic::new(GateProblem::HttpNotAUrl { url: &u.value }, u.span));
        }
        let status = d.count(f, "status", false);
        if let Some(s) = &status
            && !(100..=599).contains(&s.value)
        {
            d.push(Diagnostic::new(GateProblem::NotAStatus { status: s.value }, s.span));
        }
        let method = d
            .choice(f, "method", &[("GET", "GET"), ("HEAD", "HEAD"), ("POST", "POST")])
            .map_or("GET", |m| m.value)
            .to_owned();
        let body = d.string(f, "body", false).map(|b| b.value);
        let credentials = credentials::decode(d, f, url.as_ref());
        Some(HttpGate {
            url: url?.value,
            method,
            status: status.map(|s| s.value as u16).unwrap_or(200),
            body,
            credentials,
        })
    }
}
