//! `switch caddy router=SERVICE template=FILE [target=PATH]`: a config rendered from the
//! template for the new colour, loaded into every running router task through Caddy's admin API
//! (so traffic moves at once, without replacing a task), then rolled onto the router so a task
//! started later has it too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Definition;
use crate::decoder::{Decoder, Fields};

/// The port of Caddy's admin API in each router task. The template must make Caddy listen on it
/// on the task's network address (`admin 0.0.0.0:2019` in a Caddyfile's global options).
pub const ADMIN_PORT: u16 = 2019;

/// A switch that loads a new config into a Caddy router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Caddy {
    /// The Caddy router service.
    pub router: String,
    /// Config template (a Caddyfile, or Caddy JSON when `target` ends in `.json`); `${upstream}` is
    /// replaced by the live colour's service name.
    pub template: String,
    /// Where the config goes in the router's containers.
    pub target: String,
    /// Where `template` was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub template_span: crate::span::Span,
}

impl Caddy {
    /// The config's format as Caddy's admin API names it in `Content-Type`, and its adapter.
    pub fn format(&self) -> (&'static str, &'static str) {
        if self.target.ends_with(".json") { ("application/json", "json") } else { ("text/caddyfile", "caddyfile") }
    }
}

impl Definition for Caddy {
    const KEYWORD: &'static str = "caddy";
    const EXAMPLE: &'static str = "switch caddy router=SERVICE template=FILE";

    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Caddy> {
        let (router, template, target, template_span) = super::router_settings(d, f, "/etc/caddy/Caddyfile")?;
        Some(Caddy { router, template, target, template_span })
    }

    fn router(&self) -> Option<&str> {
        Some(&self.router)
    }
}
