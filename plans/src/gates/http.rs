//! `http`: a request whose status and body decide.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::credentials::{self, Credentials};
use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::GateProblem;
use crate::span::Span;
use crate::spanned::Spanned;

/// An HTTP check: `http "http://app:8080/health" status=200 body="ok"`, sent from the machine
/// running planrun, or from a probe container on a Swarm network
/// (`network="shop_backend" image="busybox:1.36"`).
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
    /// Where the request is sent from when not from the machine running planrun: a probe
    /// container on a Swarm network (`network="shop_backend" image="busybox:1.36"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<FromNetwork>,
}

/// A probe container on a Swarm network, from which an `http` gate sends its requests, so a
/// URL can name `service:port` as the network's own services reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FromNetwork {
    /// The network's name or id, as `docker network ls` shows it (`shop_backend`).
    pub network: String,
    /// The probe container's image; it runs busybox's `wget`.
    pub image: String,
    /// Each measurement asks every task of the URL's service (the addresses of `tasks.HOST` in
    /// the network's DNS), not the one address the name picks: it fails when any task's answer
    /// fails (`every-task=#true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub every_task: bool,
}

/// The settings that make a request carry a credential: none is sent from a network.
const CREDENTIAL_SETTINGS: [&str; 4] = ["bearer-token-file", "bearer-token-env", "basic-auth", "header"];

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
        let chosen = d.choice(f, "method", &[("GET", "GET"), ("HEAD", "HEAD"), ("POST", "POST")]);
        let head = chosen.as_ref().filter(|m| m.value == "HEAD").map(|m| m.span);
        let method = chosen.map_or("GET", |m| m.value).to_owned();
        let body = d.string(f, "body", false).map(|b| b.value);
        let credential = CREDENTIAL_SETTINGS.iter().find_map(|k| f.key_span(k).map(|span| (*k, span)));
        let credentials = credentials::decode(d, f, url.as_ref());
        let from = from_network(d, f, url.as_ref(), credential, head);
        Some(HttpGate {
            url: url?.value,
            method,
            status: status.map(|s| s.value as u16).unwrap_or(200),
            body,
            credentials,
            from,
        })
    }
}

/// Reads `network` and `image`: both or neither. A gate measured from a network sends no
/// credential (`credential`: the first credential setting and where it is written, or the
/// URL's `user:password@`), nor a `HEAD` request (`head`: where `method=HEAD` is written), which
/// busybox `wget` cannot send.
fn from_network(
    d: &mut Decoder<'_>,
    f: &mut Fields<'_>,
    url: Option<&Spanned<String>>,
    credential: Option<(&'static str, Span)>,
    head: Option<Span>,
) -> Option<FromNetwork> {
    let network = d.string(f, "network", false);
    let image = d.string(f, "image", false);
    let every_task = d.boolean(f, "every-task");
    for (key, value) in [("network", &network), ("image", &image)] {
        if let Some(v) = value
            && v.value.trim().is_empty()
        {
            d.push(Diagnostic::new(GateProblem::EmptyProbeSetting { key }, v.span));
        }
    }
    match (&network, &image) {
        (Some(n), None) if !n.value.trim().is_empty() => {
            d.push(Diagnostic::new(GateProblem::NetworkWithoutImage { network: &n.value }, n.span));
        }
        (None, Some(i)) => d.push(Diagnostic::new(GateProblem::ImageWithoutNetwork, i.span)),
        (Some(_), _) | (None, None) => {}
    }
    if let Some(every) = &every_task
        && network.is_none()
    {
        d.push(Diagnostic::new(GateProblem::EveryTaskWithoutNetwork, every.span));
    }
    let every_task = every_task.is_some_and(|e| e.value);
    if every_task
        && let Some(u) = url
        && let Some(host) = url_host(&u.value)
        && (host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('['))
    {
        d.push(Diagnostic::new(GateProblem::EveryTaskOfAnAddress { host }, u.span));
    }
    let network = network?;
    let in_url = url.map(|u| (credentials::in_url(&u.value), u.span));
    let userinfo = in_url.as_ref().filter(|(found, _)| found.userinfo).map(|(_, span)| ("user:password@", *span));
    if let Some((setting, span)) = credential.or(userinfo) {
        d.push(Diagnostic::new(GateProblem::CredentialsFromNetwork { setting }, span));
    }
    // The URL itself goes into the exec's command line: a credential in its query too.
    if let Some((found, span)) = &in_url
        && let Some(query) = &found.query
    {
        d.push(Diagnostic::new(GateProblem::CredentialsFromNetwork { setting: query }, *span));
    }
    if let Some(span) = head {
        d.push(Diagnostic::new(GateProblem::HeadFromNetwork, span));
    }
    Some(FromNetwork { network: network.value, image: image?.value, every_task })
}

/// A URL cut around its host: `http://` `u:p@` `shop_api` `:8080` `/health?x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// The scheme with its `://`.
    pub scheme: &'a str,
    /// `user:password` before an `@`, if written.
    pub userinfo: Option<&'a str>,
    /// The host (empty if none), `[...]` for an IPv6 address.
    pub host: &'a str,
    /// `:PORT`, or empty.
    pub port: &'a str,
    /// The path, query and fragment, from the first `/`, `?` or `#` after the host.
    pub rest: &'a str,
}

impl UrlParts<'_> {
    /// Host and port, as a `Host` header carries them (`shop_api:8080`).
    pub fn host_and_port(&self) -> String {
        format!("{}{}", self.host, self.port)
    }
}

/// `url` cut around its host; `None` without a `://`.
pub fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")? + 3;
    let after_scheme = &url[scheme_end..];
    let authority_end = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
    let authority = &after_scheme[..authority_end];
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let host_end = match host_port.strip_prefix('[') {
        Some(inside) => inside.find(']').map_or(host_port.len(), |end| end + 2),
        None => host_port.find(':').unwrap_or(host_port.len()),
    };
    Some(UrlParts {
        scheme: &url[..scheme_end],
        userinfo,
        host: &host_port[..host_end],
        port: &host_port[host_end..],
        rest: &after_scheme[authority_end..],
    })
}

/// The host of an `http://` or `https://` URL (`shop_api` of `http://shop_api:8080/health`),
/// without its port; `[...]` for an IPv6 address.
pub fn url_host(url: &str) -> Option<&str> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    url_parts(url).map(|parts| parts.host).filter(|host| !host.is_empty())
}
