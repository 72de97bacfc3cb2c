//! What `http` and `prometheus` gates add to their requests: the plan's `bearer-token-*`,
//! `basic-auth` and `header` settings, each secret read when it is needed (a rotated token
//! file is read again at the next measurement).
//!
//! Invariant: a secret's value never reaches an event, an error, or a `Debug` output: errors
//! name the variable or the file; the headers are marked sensitive (`Debug` prints
//! `Sensitive`); and whatever a server answers is scrubbed of every secret sent to it
//! ([`Sent::scrub`]), so a server that echoes a token back does not put it in the journal.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use plans::gates::{Auth, Credentials, HeaderValue, Secret};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName};
use tokio::io::AsyncReadExt;

use super::Measurement;

/// A secret file larger than this is refused: tokens and passwords are a few hundred bytes,
/// and a path naming something endless (`/dev/zero`) must not be read into memory.
pub const SECRET_FILE_LIMIT: u64 = 64 * 1024;

/// Why a gate's credentials could not be read. Names the setting and where it points, never
/// a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// The variable is not set.
    Unset {
        /// The setting (`bearer-token-env`).
        setting: String,
        /// The variable.
        var: String,
    },
    /// The variable's value is not UTF-8.
    NotUnicode {
        /// The setting.
        setting: String,
        /// The variable.
        var: String,
    },
    /// The file cannot be read.
    Unreadable {
        /// The setting (`bearer-token-file`).
        setting: String,
        /// The file, as opened (the plan's directory joined with the path written).
        path: PathBuf,
        /// What the system said.
        error: String,
    },
    /// The file is larger than [`SECRET_FILE_LIMIT`].
    TooLarge {
        /// The setting.
        setting: String,
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    NotText {
        /// The setting.
        setting: String,
        /// The file.
        path: PathBuf,
    },
    /// The value is empty once trimmed.
    Empty {
        /// The setting.
        setting: String,
        /// The variable or the file.
        source: String,
    },
    /// The value cannot be sent in a header (a control character, a newline inside it).
    NotAHeaderValue {
        /// The setting.
        setting: String,
        /// The variable or the file.
        source: String,
    },
}

impl std::fmt::Display for CredentialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialError::Unset { setting, var } => {
                write!(f, "{setting}: the environment variable `{var}` is not set")
            }
            CredentialError::NotUnicode { setting, var } => {
                write!(f, "{setting}: the environment variable `{var}` is not UTF-8 text")
            }
            CredentialError::Unreadable { setting, path, error } => {
                write!(f, "{setting}: cannot read {}: {error}", path.display())
            }
            CredentialError::TooLarge { setting, path } => write!(
                f,
                "{setting}: {} is larger than {} KiB, which no token or password is",
                path.display(),
                SECRET_FILE_LIMIT / 1024
            ),
            CredentialError::NotText { setting, path } => {
                write!(f, "{setting}: {} is not UTF-8 text", path.display())
            }
            CredentialError::Empty { setting, source } => write!(f, "{setting}: {source} is empty"),
            CredentialError::NotAHeaderValue { setting, source } => write!(
                f,
                "{setting}: what {source} holds cannot be sent in an HTTP header (a newline or another \
                 control character inside it, or a character that is not ASCII)"
            ),
        }
    }
}

impl std::error::Error for CredentialError {}

/// A secret as read. Its `Debug` shows no value.
struct Value(String);

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// The headers a gate sends, read for one measurement, and the secrets in them (to scrub
/// from what comes back).
#[derive(Debug, Default)]
pub struct Sent {
    headers: HeaderMap,
    secrets: Vec<Value>,
}

impl Sent {
    /// Whether the request carries credentials or headers the plan named.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The request with these headers.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.headers.is_empty() { request } else { request.headers(self.headers.clone()) }
    }

    /// `text` with every secret sent replaced by its marker (`crate::redact::value`).
    pub fn scrub(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(secret.0.as_str()) {
                *text = text.replace(secret.0.as_str(), &crate::redact::value(&secret.0));
            }
        }
    }

    /// The measurement with every secret sent scrubbed from what it says.
    pub fn scrubbed(&self, mut m: Measurement) -> Measurement {
        self.scrub(&mut m.target);
        if let Some(v) = &mut m.value {
            self.scrub(v);
        }
        if let Some(d) = &mut m.detail {
            self.scrub(d);
        }
        m
    }
}

/// Reads every secret `credentials` name (files relative to `dir`) and makes the headers.
pub async fn read(credentials: &Credentials, dir: &Path) -> Result<Sent, CredentialError> {
    let mut sent = Sent::default();
    match &credentials.auth {
        Some(Auth::Bearer(secret)) => {
            let setting = secret.setting("bearer-token");
            let token = value_of(secret, &setting, dir).await?;
            let header = header_value(&format!("Bearer {}", token.0), &setting, secret, dir)?;
            sent.headers.insert(AUTHORIZATION, header);
            sent.secrets.push(token);
        }
        Some(Auth::Basic { user, password: secret }) => {
            let setting = format!("basic-auth {}", secret.setting("password"));
            let password = value_of(secret, &setting, dir).await?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.0));
            let header = header_value(&format!("Basic {encoded}"), &setting, secret, dir)?;
            sent.headers.insert(AUTHORIZATION, header);
            sent.secrets.push(password);
            sent.secrets.push(Value(encoded));
        }
        None => {}
    }
    for h in &credentials.headers {
        // The checker let only valid names through.
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else { continue };
        let header = match &h.value {
            HeaderValue::Literal(text) => match reqwest::header::HeaderValue::from_str(text) {
                Ok(v) => v,
                Err(_) => continue,
            },
            HeaderValue::Secret(secret) => {
                let setting = format!("header {:?} {}", h.name, secret.setting("value"));
                let value = value_of(secret, &setting, dir).await?;
                let header = header_value(&value.0, &setting, secret, dir)?;
                sent.secrets.push(value);
                header
            }
        };
        sent.headers.insert(name, header);
    }
    Ok(sent)
}

/// One secret's value, trimmed (a notification's URL or signing key); `setting` names it in
/// errors, which never hold the value.
pub async fn secret(secret: &Secret, setting: &str, dir: &Path) -> Result<String, CredentialError> {
    value_of(secret, setting, dir).await.map(|v| v.0)
}

/// Before a run: whether every secret can be read (the values are read and dropped).
pub async fn preflight(credentials: &Credentials, dir: &Path) -> Option<String> {
    read(credentials, dir).await.err().map(|e| e.to_string())
}

fn header_value(
    text: &str,
    setting: &str,
    secret: &Secret,
    dir: &Path,
) -> Result<reqwest::header::HeaderValue, CredentialError> {
    let mut v = reqwest::header::HeaderValue::from_str(text)
        .map_err(|_| CredentialError::NotAHeaderValue { setting: setting.to_owned(), source: source(secret, dir) })?;
    v.set_sensitive(true);
    Ok(v)
}

/// How errors name where a secret is: the variable, or the file as opened.
fn source(secret: &Secret, dir: &Path) -> String {
    match secret {
        Secret::Env(var) => format!("the environment variable `{var}`"),
        Secret::File(path) => dir.join(path).display().to_string(),
    }
}

/// The secret's value, trimmed.
async fn value_of(secret: &Secret, setting: &str, dir: &Path) -> Result<Value, CredentialError> {
    let text = match secret {
        Secret::Env(var) => match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                return Err(CredentialError::Unset { setting: setting.to_owned(), var: var.clone() });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CredentialError::NotUnicode { setting: setting.to_owned(), var: var.clone() });
            }
        },
        Secret::File(path) => read_file(&dir.join(path), setting).await?,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CredentialError::Empty { setting: setting.to_owned(), source: source(secret, dir) });
    }
    Ok(Value(trimmed.to_owned()))
}

/// A secret file's text, at most [`SECRET_FILE_LIMIT`] bytes of it.
async fn read_file(path: &Path, setting: &str) -> Result<String, CredentialError> {
    let unreadable = |e: std::io::Error| CredentialError::Unreadable {
        setting: setting.to_owned(),
        path: path.to_path_buf(),
        error: e.to_string(),
    };
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(SECRET_FILE_LIMIT + 1).read_to_end(&mut bytes).await.map_err(unreadable)?;
    if bytes.len() as u64 > SECRET_FILE_LIMIT {
        return Err(CredentialError::TooLarge { setting: setting.to_owned(), path: path.to_path_buf() });
    }
    String::from_utf8(bytes)
        .map_err(|_| CredentialError::NotText { setting: setting.to_owned(), path: path.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use plans::gates::Header;

    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[tokio::test]
    async fn a_token_file_is_read_trimmed_and_relative_to_the_plan() {
        let d = dir();
        std::fs::create_dir(d.path().join("secrets")).unwrap();
        std::fs::write(d.path().join("secrets/token"), "  tok-MARKER-1\n").unwrap();
        let c = Credentials { auth: Some(Auth::Bearer(Secret::File("secrets/token".into()))), headers: vec![] };
        let sent = read(&c, d.path()).await.unwrap();
        assert_eq!(sent.headers[AUTHORIZATION], "Bearer tok-MARKER-1");
        assert!(sent.headers[AUTHORIZATION].is_sensitive());
        let shown = format!("{sent:?}");
        assert!(!shown.contains("MARKER"), "{shown}");
        let mut echoed = "invalid token tok-MARKER-1".to_owned();
        sent.scrub(&mut echoed);
        assert!(echoed.starts_with("invalid token <redacted:"), "{echoed}");
    }

    #[tokio::test]
    async fn errors_name_the_variable_or_the_file_never_a_value() {
        let d = dir();
        let missing = Credentials {
            auth: Some(Auth::Bearer(Secret::Env("PLANRUN_TEST_NO_SUCH_VARIABLE".into()))),
            headers: vec![],
        };
        assert_eq!(
            read(&missing, d.path()).await.unwrap_err().to_string(),
            "bearer-token-env: the environment variable `PLANRUN_TEST_NO_SUCH_VARIABLE` is not set"
        );
        let no_file = Credentials {
            auth: Some(Auth::Basic { user: "deploy".into(), password: Secret::File("nope".into()) }),
            headers: vec![],
        };
        let e = read(&no_file, d.path()).await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("basic-auth password-file: cannot read {}", d.path().join("nope").display())),
            "{e}"
        );
        std::fs::write(d.path().join("two-lines"), "a-MARKER\nb-MARKER\n").unwrap();
        let header = Credentials {
            auth: None,
            headers: vec![Header {
                name: "X-Api-Key".into(),
                value: HeaderValue::Secret(Secret::File("two-lines".into())),
            }],
        };
        let e = read(&header, d.path()).await.unwrap_err().to_string();
        assert!(e.starts_with("header \"X-Api-Key\" value-file: what ") && !e.contains("MARKER"), "{e}");
        std::fs::write(d.path().join("blank"), " \n").unwrap();
        let blank = Credentials { auth: Some(Auth::Bearer(Secret::File("blank".into()))), headers: vec![] };
        assert_eq!(
            read(&blank, d.path()).await.unwrap_err().to_string(),
            format!("bearer-token-file: {} is empty", d.path().join("blank").display())
        );
    }

    #[tokio::test]
    async fn an_endless_file_is_refused_at_the_limit() {
        let c = Credentials { auth: Some(Auth::Bearer(Secret::File("/dev/zero".into()))), headers: vec![] };
        assert_eq!(
            read(&c, Path::new("/")).await.unwrap_err(),
            CredentialError::TooLarge { setting: "bearer-token-file".into(), path: "/dev/zero".into() }
        );
    }

    #[tokio::test]
    async fn basic_auth_scrubs_the_password_and_its_encoding() {
        let d = dir();
        std::fs::write(d.path().join("pw"), "pw-MARKER").unwrap();
        let c = Credentials {
            auth: Some(Auth::Basic { user: "deploy".into(), password: Secret::File("pw".into()) }),
            headers: vec![Header { name: "Host".into(), value: HeaderValue::Literal("api.internal".into()) }],
        };
        let sent = read(&c, d.path()).await.unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("deploy:pw-MARKER");
        assert_eq!(sent.headers[AUTHORIZATION], format!("Basic {encoded}").as_str());
        assert_eq!(sent.headers["host"], "api.internal");
        let mut text = format!("got Basic {encoded} for pw-MARKER");
        sent.scrub(&mut text);
        assert!(!text.contains(&encoded) && !text.contains("MARKER"), "{text}");
    }
}
