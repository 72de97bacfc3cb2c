//! A gate's HTTP client and how it reads an answer: a response body is read chunk by chunk up to
//! a limit and no further, so a server that answers without end (by mistake or on purpose)
//! costs a gate at most the limit plus one chunk of memory.

use std::time::Duration;

use crate::cause::chain as error_chain;

/// Connecting (TCP and TLS) to a gate's server takes at most this long; each request as a whole,
/// its body included, is bounded by the gate's `timeout` besides.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How far a redirect may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Anywhere, as reqwest does by default (at most 10): for requests without credentials.
    Anywhere,
    /// Only to the same scheme, host and port: for requests with credentials. reqwest drops
    /// `Authorization` on a redirect to another host, but not a header the plan names
    /// (`X-Api-Key`): a server must not be able to send that one elsewhere.
    SameOrigin,
}

/// The client gates measure with: [`CONNECT_TIMEOUT`], and redirects as `redirects` says.
pub fn client(redirects: Redirects) -> reqwest::Client {
    let policy = match redirects {
        Redirects::Anywhere => reqwest::redirect::Policy::default(),
        Redirects::SameOrigin => reqwest::redirect::Policy::custom(|attempt| {
            let origin =
                |u: &reqwest::Url| (u.scheme().to_owned(), u.host_str().map(str::to_owned), u.port_or_known_default());
            let first = attempt.previous().first().map(origin);
            if attempt.previous().len() > 10 {
                attempt.error("more than 10 redirects")
            } else if first.is_some_and(|f| f == origin(attempt.url())) {
                attempt.follow()
            } else {
                // Answered as the 3xx it is: the gate judges that status.
                attempt.stop()
            }
        }),
    };
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(policy)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A body as far as it was read.
#[derive(Debug)]
pub struct Body {
    /// The bytes read: at most the limit.
    pub bytes: Vec<u8>,
    /// Why reading stopped.
    pub end: End,
}

/// Why reading a body stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The body ended.
    Whole,
    /// The body is longer than the limit: the rest was not read.
    OverLimit,
    /// The connection failed before the body ended (the cause, as one line).
    Cut(String),
}

/// Reads `response`'s body, at most `limit` bytes of it.
pub async fn read(mut response: reqwest::Response, limit: usize) -> Body {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - bytes.len();
                if chunk.len() > room {
                    bytes.extend_from_slice(&chunk[..room]);
                    // Dropping the response closes the connection: nothing more is read.
                    return Body { bytes, end: End::OverLimit };
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Body { bytes, end: End::Whole },
            Err(e) => return Body { bytes, end: End::Cut(error_chain(&e)) },
        }
    }
}

/// A size in words: `16 MiB`, `1 MiB`, `512 KiB`.
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
