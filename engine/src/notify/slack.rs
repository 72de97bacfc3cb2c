//! `slack`: a Slack incoming webhook's payload: `text` (what notifications and old clients
//! show) and `blocks` (the message; a failure report, if any, as a code block of its own,
//! so a log line's `*` or `_` is not read as formatting; a context line with the plan and
//! run). Slack refuses a section longer than 3,000 characters: each is cut below that.

use serde_json::json;

use super::{Message, Post, TargetBehavior};

/// Slack's behaviour.
pub struct Slack;

impl TargetBehavior for Slack {
    fn post(&self, message: &Message, _key: Option<&[u8]>, _unix: u64) -> Post {
        let text = super::plain(message);
        let mut said = vec![message.title.clone()];
        said.extend(message.reason.clone());
        let mut blocks = vec![section(&escape(&said.join("\n")))];
        if let Some(report) = super::report_text(message) {
            // Three backticks in a log line would end the code block early.
            let report = escape(&report).replace("```", "'''");
            blocks.push(section(&format!("What the failed tasks said:\n```{}```", within(&report, 2900))));
        }
        let next = super::next_steps(message);
        if !next.is_empty() {
            blocks.push(section(&escape(&next.join("\n"))));
        }
        blocks.push(json!({ "type": "context", "elements": [{
            "type": "mrkdwn",
            "text": escape(&format!("planrun · plan `{}` · run `{}` · {}", message.plan, message.run_id, message.at)),
        }]}));
        let body = json!({ "text": text, "blocks": blocks });
        Post { headers: Vec::new(), body: body.to_string().into_bytes() }
    }
}

/// A `mrkdwn` section, cut to fit Slack's limit.
fn section(text: &str) -> serde_json::Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": within(text, 2990) } })
}

/// `text`, at most `chars` characters (the end cut and marked ` …`).
fn within(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(2)).collect();
    cut.push_str(" …");
    cut
}

/// Slack's three control characters in mrkdwn (`&`, `<`, `>`), escaped as Slack asks, so a
/// reason cannot make a link or mention.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
