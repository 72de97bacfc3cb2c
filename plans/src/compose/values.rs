//! Compose values read the way the docker CLI reads them: Go durations, RAM sizes
//! (`units.RAMInBytes`), CPUs (`opts.ParseCPUs`), shell words (`shlex.Split`) and paths
//! (`filepath.Join`, which cleans).

/// A Go duration (`1m30s`, `500ms`, `1.5s`, `0`) in nanoseconds.
pub fn go_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    if t == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    Some(total.round() as i64)
}

/// docker's RAM sizes (`512m`, `1g`, `1024`, `64mb`, `50M`, `1.5 GiB`): a number, an optional
/// space, an optional unit of k, m, g, t or p (powers of 1024), an optional `i` and `b`.
pub fn ram_bytes(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, mut unit) = t.split_at(digits);
    if number.is_empty() || number.starts_with('.') {
        return None;
    }
    let n: f64 = number.parse().ok()?;
    unit = unit.strip_prefix(' ').unwrap_or(unit);
    let lower = unit.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let scale = match rest.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            rest = &rest[1..];
            1024f64.powi(match c {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                _ => 5,
            })
        }
        _ => 1.0,
    };
    rest = rest.strip_prefix('i').unwrap_or(rest);
    rest = rest.strip_prefix('b').unwrap_or(rest);
    rest.is_empty().then_some((n * scale) as i64)
}

/// CPUs as docker reads them (`0.5`, `2`, `0.0001`): nanoCPUs, refused when finer than 1e-9.
pub fn nano_cpus(text: &str) -> Result<i64, &'static str> {
    let t = text.trim();
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err("not a number");
    }
    if fraction.len() > 9 && fraction[9..].chars().any(|c| c != '0') {
        return Err("too precise: the smallest step is 0.000000001");
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "too large")? };
    let mut nanos = 0i64;
    for (i, c) in fraction.chars().take(9).enumerate() {
        nanos += i64::from(c as u8 - b'0') * 10i64.pow(8 - i as u32);
    }
    whole.checked_mul(1_000_000_000).and_then(|w| w.checked_add(nanos)).ok_or("too large")
}

/// Splits like a POSIX shell: spaces separate, quotes group, `\` escapes; `None` for an
/// unclosed quote.
pub fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Some(out)
}

/// `path` lexically cleaned as Go's `filepath.Clean` does: no `.`, no `x/..`, no doubled or
/// trailing `/`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `path` made absolute against `dir` the way docker's loader does (`filepath.Join`).
pub fn absolute(dir: &str, path: &str) -> String {
    if path.starts_with('/') { path.to_owned() } else { clean(&format!("{dir}/{path}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_sizes_and_cpus_read_as_docker_reads_them() {
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("500ms"), Some(500_000_000));
        assert_eq!(go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration("0"), Some(0));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("5 s"), None);
        assert_eq!(ram_bytes("1g"), Some(1 << 30));
        assert_eq!(ram_bytes("64mb"), Some(64 << 20));
        assert_eq!(ram_bytes("50M"), Some(50 << 20));
        assert_eq!(ram_bytes("1.5 GiB"), Some(3 << 29));
        assert_eq!(ram_bytes("1024"), Some(1024));
        assert_eq!(ram_bytes("2p"), Some(2 << 50));
        assert_eq!(ram_bytes("lots"), None);
        assert_eq!(ram_bytes("10x"), None);
        assert_eq!(nano_cpus("0.001"), Ok(1_000_000));
        assert_eq!(nano_cpus("0.0001"), Ok(100_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(nano_cpus(".5"), Ok(500_000_000));
        assert!(nano_cpus("0.0000000001").is_err());
        assert!(nano_cpus("half").is_err());
    }

    #[test]
    fn paths_are_joined_and_cleaned_as_go_does() {
        assert_eq!(absolute("/srv/app", "."), "/srv/app");
        assert_eq!(absolute("/srv/app", "./static"), "/srv/app/static");
        assert_eq!(absolute("/srv/app", "../data/"), "/srv/data");
        assert_eq!(absolute("/srv/app", "/opt/data"), "/opt/data");
        assert_eq!(clean("/a//b/./c/.."), "/a/b");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean("a/../.."), "..");
    }

    #[test]
    fn shell_words_group_quotes() {
        assert_eq!(shell_words("serve --name 'a b'").unwrap(), ["serve", "--name", "a b"]);
        assert_eq!(shell_words(r#"a "b \" c" d\ e"#).unwrap(), ["a", "b \" c", "d e"]);
        assert_eq!(shell_words("unclosed 'quote"), None);
    }
}
