//! `switch nginx router=SERVICE template=FILE [target=PATH]`: a config rendered from the
//! template for the new colour, rolled onto the router.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Definition;
use crate::decoder::{Decoder, Fields};

/// A switch that re-renders an nginx router's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Nginx {
    /// The nginx router service.
    pub router: String,
    /// Config template; `${upstream}` is replaced by the live colour's service name.
    pub template: String,
    /// Where the config goes in the router's containers.
    pub target: String,
    /// Where `template` was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub template_span: crate::span::Span,
}

impl Definition for Nginx {
    const KEYWORD: &'static str = "nginx";
    const EXAMPLE: &'static str = "switch nginx router=SERVICE template=FILE";

    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Nginx> {
        let (router, template, target, template_span) = super::router_settings(d, f, "/etc/nginx/nginx.conf")?;
        Some(Nginx { router, template, target, template_span })
    }

    fn router(&self) -> Option<&str> {
        Some(&self.router)
    }
}
