//! Image references as the docker CLI reads them (`distribution/reference`): the grammar it
//! checks (`invalid reference format`), and the tagged familiar form its API client writes into
//! a service spec (`redis` becomes `redis:latest`, `docker.io/library/redis:7` becomes
//! `redis:7`; a reference with a digest keeps it).

/// Why a reference is refused, in docker's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefError {
    /// `invalid reference format`.
    Format,
    /// `invalid reference format: repository name must be lowercase`.
    Uppercase,
    /// `repository name must not be more than 255 characters`.
    TooLong,
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefError::Format => "invalid reference format",
            RefError::Uppercase => "invalid reference format: repository name must be lowercase",
            RefError::TooLong => "repository name must not be more than 255 characters",
        })
    }
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference<'a> {
    domain: Option<&'a str>,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn path_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    let lower_or_digit = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(lower_or_digit) || !bytes.last().is_some_and(lower_or_digit) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !(bytes[i].is_ascii_lowercase() || bytes[i].is_ascii_digit()) {
            i += 1;
        }
        let sep = &s[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

fn domain_ok(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || s.starts_with('[') => (h, Some(p)),
        _ => (s, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[') {
        return v6
            .strip_suffix(']')
            .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'));
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn tag_ok(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn digest_ok(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else { return false };
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse(text: &str) -> Result<Reference<'_>, RefError> {
    let (rest, digest) = match text.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (text, None),
    };
    if digest.is_some_and(|d| !digest_ok(d)) {
        return Err(RefError::Format);
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if tag.is_some_and(|t| !tag_ok(t)) {
        return Err(RefError::Format);
    }
    if name.is_empty() {
        return Err(RefError::Format);
    }
    if name.len() > 255 {
        return Err(RefError::TooLong);
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':']) || first == "localhost" || first != first.to_lowercase() =>
        {
            (Some(first), remainder)
        }
        _ => (None, name),
    };
    if domain.is_some_and(|d| !domain_ok(d)) {
        return Err(RefError::Format);
    }
    if !path.split('/').all(path_component) {
        let lowered = path.to_lowercase();
        return Err(if lowered != path && lowered.split('/').all(path_component) {
            RefError::Uppercase
        } else {
            RefError::Format
        });
    }
    Ok(Reference { domain, path, tag, digest })
}

/// Checks `image` against docker's reference grammar.
pub fn check(image: &str) -> Result<(), RefError> {
    parse(image).map(|_| ())
}

/// The image as the docker CLI writes it into a service spec: familiar (no `docker.io/`, no
/// `library/`), with `:latest` when it names neither a tag nor a digest. A reference docker
/// cannot read stays as it is.
pub fn tagged(image: &str) -> String {
    let Ok(r) = parse(image) else { return image.to_owned() };
    let domain = match r.domain {
        Some("index.docker.io") | None => "docker.io",
        Some(d) => d,
    };
    let mut out = String::new();
    if domain != "docker.io" {
        out.push_str(domain);
        out.push('/');
    }
    match r.path.strip_prefix("library/") {
        Some(p) if domain == "docker.io" && !p.contains('/') => out.push_str(p),
        _ => out.push_str(r.path),
    }
    match (r.tag, r.digest) {
        (None, None) => out.push_str(":latest"),
        (tag, digest) => {
            if let Some(t) = tag {
                out.push(':');
                out.push_str(t);
            }
            if let Some(d) = digest {
                out.push('@');
                out.push_str(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_tagged_and_familiar_as_the_docker_cli_writes_them() {
        assert_eq!(tagged("redis"), "redis:latest");
        assert_eq!(tagged("redis:7"), "redis:7");
        assert_eq!(tagged("docker.io/library/redis"), "redis:latest");
        assert_eq!(tagged("index.docker.io/library/redis:7"), "redis:7");
        assert_eq!(tagged("docker.io/grafana/grafana"), "grafana/grafana:latest");
        assert_eq!(tagged("library/redis"), "redis:latest");
        assert_eq!(tagged("planrun-test/app:v1"), "planrun-test/app:v1");
        assert_eq!(tagged("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(tagged("registry.example.com/a/b:1.2"), "registry.example.com/a/b:1.2");
        let digest = "busybox@sha256:38a203e1986cf79639cfb9b2e1d6e773de84002feea2d4eb006b52004ee8502d";
        assert_eq!(tagged(digest), digest);
        assert_eq!(tagged("Bad/Name"), "Bad/Name");
    }

    #[test]
    fn references_docker_refuses() {
        assert_eq!(check("App"), Err(RefError::Uppercase));
        assert_eq!(check("app:"), Err(RefError::Format));
        assert_eq!(check("app:v1 "), Err(RefError::Format));
        assert_eq!(check("-app"), Err(RefError::Format));
        assert_eq!(check("app@sha256:short"), Err(RefError::Format));
        assert_eq!(check("a__b.c-d/e---f:1.0_x"), Err(RefError::Format), "a first part with a dot is a domain");
        assert_eq!(check("a__b-c/e---f.g:1.0_x"), Ok(()));
        assert_eq!(check("Registry.Example.com:443/app"), Ok(()));
        assert_eq!(check("\u{e9}app"), Err(RefError::Format), "not a panic on a multibyte first character");
        assert_eq!(check("app\u{201d}"), Err(RefError::Format));
    }
}
