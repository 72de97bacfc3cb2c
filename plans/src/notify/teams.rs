//! `teams`: a Microsoft Teams incoming webhook (a Workflows "post to a channel when a webhook
//! request is received" URL, or a legacy connector's).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::gates::Secret;

/// `teams url-env="TEAMS_WEBHOOK_URL"`: messages as an Adaptive Card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Teams {
    /// Where the webhook URL is.
    pub url: Secret,
}

impl super::Definition for Teams {
    const KEYWORD: &'static str = "teams";
    const EXAMPLE: &'static str = "teams url-env=\"TEAMS_WEBHOOK_URL\"";

    fn decode(_d: &mut Decoder<'_>, _f: &mut Fields<'_>, url: Option<Secret>) -> Option<Teams> {
        Some(Teams { url: url? })
    }
}
