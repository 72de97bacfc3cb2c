//! An error with the causes below it, as one line: libraries often keep the useful part
//! ("Connection refused") in a source several levels down and say only "error sending
//! request" or "client error (Connect)" on top.

/// An I/O error kept as a value: its kind, to match on, and its message, to show. Unlike
/// `std::io::Error` it can be cloned and compared, as the errors that carry it are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    /// What kind of failure (`NotFound`, `PermissionDenied`).
    pub kind: std::io::ErrorKind,
    /// The system's words: `No such file or directory (os error 2)`.
    pub message: String,
}

impl From<std::io::Error> for IoError {
    fn from(e: std::io::Error) -> Self {
        IoError { kind: e.kind(), message: e.to_string() }
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IoError {}

/// The error and every cause below it, joined with `: `, without repeating text.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The innermost cause's message.
pub fn root(error: &dyn std::error::Error) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    last
}

/// At most `max` characters of `text`, with `…` when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn causes_are_joined_once() {
        let e = Layer(
            "client error (Connect)",
            Some(Box::new(Layer("tcp connect error", Some(Box::new(Layer("Connection refused", None)))))),
        );
        assert_eq!(chain(&e), "client error (Connect): tcp connect error: Connection refused");
        assert_eq!(root(&e), "Connection refused");
        let repeated = Layer("error: Connection refused", Some(Box::new(Layer("Connection refused", None))));
        assert_eq!(chain(&repeated), "error: Connection refused");
    }
}
