//! `slack`: a Slack incoming webhook's payload: `text` (what notifications and old clients
//! show) and `blocks` (a header, the message, a context line with the plan and run).

use serde_json::json;

use super::{Message, Post, TargetBehavior};

/// Slack's behaviour.
pub struct Slack;

impl TargetBehavior for Slack {
    fn post(&self, message: &Message, _key: Option<&[u8]>, _unix: u64) -> Post {
        let text = super::plain(message);
        let body = json!({
            "text": text,
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": escape(&text) } },
                { "type": "context", "elements": [{
                    "type": "mrkdwn",
                    "text": escape(&format!("planrun · plan `{}` · run `{}` · {}", message.plan, message.run_id, message.at)),
                }]},
            ],
        });
        Post { headers: Vec::new(), body: body.to_string().into_bytes() }
    }
}

/// Slack's three control characters in mrkdwn (`&`, `<`, `>`), escaped as Slack asks, so a
/// reason cannot make a link or mention.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
