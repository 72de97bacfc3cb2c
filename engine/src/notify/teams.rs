//! `teams`: a Microsoft Teams incoming webhook's payload: a message with one Adaptive Card
//! (version 1.4), the form both Workflows webhooks and the older connectors accept.

use plans::notify::NotifyEvent;
use serde_json::{Value, json};

use super::{Message, Post, TargetBehavior};

/// Teams' behaviour.
pub struct Teams;

impl TargetBehavior for Teams {
    fn post(&self, message: &Message, _key: Option<&[u8]>, _unix: u64) -> Post {
        let colour = match message.event {
            NotifyEvent::Started | NotifyEvent::Approval => "accent",
            NotifyEvent::Succeeded => "good",
            NotifyEvent::Failed | NotifyEvent::RolledBack => "warning",
            NotifyEvent::RollbackFailed => "attention",
        };
        let mut body: Vec<Value> = vec![json!({
            "type": "TextBlock", "text": message.title, "wrap": true, "weight": "bolder", "color": colour,
        })];
        if let Some(reason) = &message.reason {
            body.push(json!({ "type": "TextBlock", "text": reason, "wrap": true }));
        }
        if let Some(report) = super::report_text(message) {
            body.push(json!({ "type": "TextBlock", "text": "What the failed tasks said:", "wrap": true }));
            // Lines of a TextBlock need a blank line between them to stay lines.
            let lines: Vec<&str> = report.lines().collect();
            body.push(
                json!({ "type": "TextBlock", "text": lines.join("\n\n"), "wrap": true, "fontType": "monospace" }),
            );
        }
        let commands = super::next_steps(message);
        if !commands.is_empty() {
            body.push(
                json!({ "type": "TextBlock", "text": commands.join("\n\n"), "wrap": true, "fontType": "monospace" }),
            );
        }
        body.push(json!({
            "type": "FactSet",
            "facts": [
                { "title": "Stack", "value": message.stack },
                { "title": "Plan", "value": message.plan },
                { "title": "Run", "value": message.run_id },
                { "title": "At", "value": message.at },
            ],
        }));
        let card = json!({
            "type": "message",
            "summary": message.title,
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }],
        });
        Post { headers: Vec::new(), body: card.to_string().into_bytes() }
    }
}
