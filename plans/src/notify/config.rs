//! `[environments.NAME.notify.TARGET]` in `planrun.toml`: where an environment tells its team,
//! for `apply` (besides the plan's own `notify`) and for `rollback`, which has no plan.
//!
//! ```toml
//! [environments.production.notify.team]
//! kind = "slack"                 # slack, teams or webhook
//! url-env = "SLACK_WEBHOOK_URL"  # or url-file = "..." (relative to planrun.toml)
//! on = ["approval", "failed", "rolled-back", "rollback-failed"]   # default: all
//! ```
//!
//! Like a plan's, a target names where its URL is, never the URL: a `url` key is refused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Notify, NotifyEvent, NotifyKind, Slack, Teams, Webhook};
use crate::gates::Secret;
use crate::span::Span;
use crate::spanned::Spanned;

/// One notification target of an environment, checked when `planrun.toml` is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Written", into = "Written")]
#[schemars(with = "Written")]
pub struct NotifyConfig {
    /// Where messages go.
    pub target: NotifyKind,
    /// Which events are sent.
    pub on: Vec<NotifyEvent>,
}

/// The target kinds `kind` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams incoming webhook.
    Teams,
    /// Any HTTP endpoint, planrun's JSON signed with HMAC-SHA256 when a secret is named.
    Webhook,
}

/// A target as written in `planrun.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Written {
    /// `slack`, `teams` or `webhook`.
    pub kind: Kind,
    /// The environment variable holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// The file holding the URL, relative to `planrun.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// A webhook's signing key, from the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// A webhook's signing key, from a file relative to `planrun.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// Refused: a webhook URL is a secret and does not belong in a file kept in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Which events (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<NotifyEvent>>,
}

/// One of `PREFIX-env` and `PREFIX-file`, exactly, when `needed`.
fn one(prefix: &str, env: Option<String>, file: Option<String>, needed: bool) -> Result<Option<Secret>, String> {
    match (env, file) {
        (Some(_), Some(_)) => Err(format!("set one of `{prefix}-env` and `{prefix}-file`, not both")),
        (Some(var), None) => Ok(Some(Secret::Env(var))),
        (None, Some(path)) => Ok(Some(Secret::File(path))),
        (None, None) if needed => {
            Err(format!("name where the URL is: `{prefix}-env = \"VARIABLE\"` or `{prefix}-file = \"path\"`"))
        }
        (None, None) => Ok(None),
    }
}

impl TryFrom<Written> for NotifyConfig {
    type Error = String;

    fn try_from(w: Written) -> Result<Self, String> {
        if w.url.is_some() {
            return Err("a webhook URL is a secret: do not write it in planrun.toml; use `url-env = \"VARIABLE\"` \
                        or `url-file = \"path\"`"
                .into());
        }
        let url = one("url", w.url_env, w.url_file, true)?.expect("needed");
        let secret = one("secret", w.secret_env, w.secret_file, false)?;
        let target = match (w.kind, secret) {
            (Kind::Slack, None) => NotifyKind::Slack(Slack { url }),
            (Kind::Teams, None) => NotifyKind::Teams(Teams { url }),
            (Kind::Webhook, secret) => NotifyKind::Webhook(Webhook { url, secret }),
            (Kind::Slack | Kind::Teams, Some(_)) => {
                return Err(
                    "only a `webhook` is signed: remove `secret-env`/`secret-file`, or use kind = \"webhook\"".into()
                );
            }
        };
        let mut on = w.on.unwrap_or_else(|| NotifyEvent::ALL.to_vec());
        on.sort();
        on.dedup();
        Ok(NotifyConfig { target, on })
    }
}

impl From<NotifyConfig> for Written {
    fn from(c: NotifyConfig) -> Written {
        let (kind, url, secret) = match c.target {
            NotifyKind::Slack(s) => (Kind::Slack, s.url, None),
            NotifyKind::Teams(t) => (Kind::Teams, t.url, None),
            NotifyKind::Webhook(w) => (Kind::Webhook, w.url, w.secret),
        };
        let split = |s: Option<Secret>| match s {
            Some(Secret::Env(v)) => (Some(v), None),
            Some(Secret::File(p)) => (None, Some(p)),
            None => (None, None),
        };
        let (url_env, url_file) = split(Some(url));
        let (secret_env, secret_file) = split(secret);
        Written { kind, url_env, url_file, secret_env, secret_file, url: None, on: Some(c.on) }
    }
}

impl NotifyConfig {
    /// As a plan's `notify NAME`, with no place in a plan.
    pub fn to_notify(&self, name: &str) -> Notify {
        Notify {
            name: Spanned::new(name.to_owned(), Span::default()),
            target: self.target.clone(),
            on: self.on.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<NotifyConfig, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_target_reads_with_its_events_in_order() {
        let c = read("kind = \"webhook\"\nurl-env = \"HOOK\"\nsecret-file = \"key\"\non = [\"failed\", \"started\"]")
            .unwrap();
        assert_eq!(
            c.target,
            NotifyKind::Webhook(Webhook { url: Secret::Env("HOOK".into()), secret: Some(Secret::File("key".into())) })
        );
        assert_eq!(c.on, [NotifyEvent::Started, NotifyEvent::Failed]);
        assert_eq!(read("kind = \"teams\"\nurl-file = \"u\"").unwrap().on, NotifyEvent::ALL);
    }

    #[test]
    fn each_mistake_says_what_to_write() {
        assert_eq!(
            read("kind = \"slack\"\nurl = \"https://hooks.slack.com/x\"").unwrap_err(),
            "a webhook URL is a secret: do not write it in planrun.toml; use `url-env = \"VARIABLE\"` or \
             `url-file = \"path\"`"
        );
        assert_eq!(
            read("kind = \"slack\"").unwrap_err(),
            "name where the URL is: `url-env = \"VARIABLE\"` or `url-file = \"path\"`"
        );
        assert_eq!(
            read("kind = \"slack\"\nurl-env = \"A\"\nurl-file = \"b\"").unwrap_err(),
            "set one of `url-env` and `url-file`, not both"
        );
        assert_eq!(
            read("kind = \"teams\"\nurl-env = \"A\"\nsecret-env = \"K\"").unwrap_err(),
            "only a `webhook` is signed: remove `secret-env`/`secret-file`, or use kind = \"webhook\""
        );
        assert!(read("kind = \"pager\"\nurl-env = \"A\"").unwrap_err().contains("unknown variant `pager`"));
        assert!(
            read("kind = \"slack\"\nurl-env = \"A\"\non = [\"done\"]").unwrap_err().contains("unknown variant `done`")
        );
    }
}
