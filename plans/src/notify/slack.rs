//! `slack`: a Slack incoming webhook (`https://hooks.slack.com/services/...`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::gates::Secret;

/// `slack url-env="SLACK_WEBHOOK_URL"`: messages as Slack's `text` and `blocks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Slack {
    /// Where the webhook URL is.
    pub url: Secret,
}

impl super::Definition for Slack {
    const KEYWORD: &'static str = "slack";
    const EXAMPLE: &'static str = "slack url-env=\"SLACK_WEBHOOK_URL\"";

    fn decode(_d: &mut Decoder<'_>, _f: &mut Fields<'_>, url: Option<Secret>) -> Option<Slack> {
        Some(Slack { url: url? })
    }
}
