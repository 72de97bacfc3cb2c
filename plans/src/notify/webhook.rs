//! `webhook`: any HTTP endpoint, sent planrun's own JSON (its schema is in docs/language.md),
//! signed with HMAC-SHA256 when a signing secret is named.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::gates::Secret;

/// `webhook url-env="DEPLOY_HOOK_URL" secret-env="DEPLOY_HOOK_SECRET"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Webhook {
    /// Where the URL is.
    pub url: Secret,
    /// Where the key signing each request is (`secret-env`, `secret-file`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

impl super::Definition for Webhook {
    const KEYWORD: &'static str = "webhook";
    const EXAMPLE: &'static str = "webhook url-env=\"DEPLOY_HOOK_URL\" secret-env=\"DEPLOY_HOOK_SECRET\"";

    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>, url: Option<Secret>) -> Option<Webhook> {
        let secret = super::optional_secret(d, f, ["secret-file", "secret-env"]);
        Some(Webhook { url: url?, secret })
    }
}
