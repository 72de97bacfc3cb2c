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

/// An unquoted YAML scalar as docker's loader (go-yaml v3) types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `true`, `false` (and their capitalised spellings).
    Bool(bool),
    /// An integer in any of YAML's spellings (`42`, `0x2a`, `0o52`, `052`, `1_000`).
    Int(i128),
    /// A float (`3.10`, `.5`, `1e3`).
    Float(f64),
    /// Anything else.
    Str,
}

/// How go-yaml v3 types the unquoted scalar `text`.
pub fn scalar(text: &str) -> Scalar {
    match text {
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        _ => {}
    }
    let plain = text.replace('_', "");
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    // Go's ParseInt with base 0: 0x, 0o, 0b, and a leading 0 for octal.
    let int = if let Some(h) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(o) = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")) {
        i128::from_str_radix(o, 8).ok()
    } else if let Some(b) = digits.strip_prefix("0b").or_else(|| digits.strip_prefix("0B")) {
        i128::from_str_radix(b, 2).ok()
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    };
    if let Some(n) = int.filter(|_| !text.contains('_') || !text.starts_with('_')) {
        return Scalar::Int(if negative { -n } else { n });
    }
    let float_like = plain.bytes().any(|b| b.is_ascii_digit())
        && plain.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match plain.parse::<f64>() {
        Ok(f) if float_like => Scalar::Float(f),
        _ => Scalar::Str,
    }
}

/// A float as Go's `fmt.Sprint` writes it (`%v`, which is `%g` with the shortest digits: an
/// exponent from 1e6 on and below 1e-4, `strconv`'s precision 6 for that decision): `3.1` for
/// `3.10`, `1e+06` for `1000000.0`.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest digits that read back the same.
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// Splits like a POSIX shell (google/shlex, which docker uses): spaces separate, quotes
/// group, `\` escapes, and a word starting with `#` begins a comment to the end of the line.
/// The error says what is unclosed.
pub fn shell_words(text: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("an unclosed quote")? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next().ok_or("an unclosed quote")? {
                        '"' => break,
                        '\\' => word.push(chars.next().ok_or("an unclosed quote")?),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or("a `\\` at its end, escaping nothing")?);
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
    Ok(out)
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
    fn shell_words_group_quotes_and_hash_comments() {
        assert_eq!(shell_words("serve --name 'a b'").unwrap(), ["serve", "--name", "a b"]);
        assert_eq!(shell_words(r#"a "b \" c" d\ e"#).unwrap(), ["a", "b \" c", "d e"]);
        assert_eq!(shell_words("run --x #y z").unwrap(), ["run", "--x"], "google/shlex reads a comment");
        assert_eq!(shell_words("a#b").unwrap(), ["a#b"]);
        assert_eq!(shell_words("unclosed 'quote"), Err("an unclosed quote"));
        assert!(shell_words("trailing \\").unwrap_err().contains("escaping nothing"));
    }

    #[test]
    fn yaml_scalars_typed_and_written_as_docker_does() {
        assert_eq!(scalar("42"), Scalar::Int(42));
        assert_eq!(scalar("0x1A"), Scalar::Int(26));
        assert_eq!(scalar("0o17"), Scalar::Int(15));
        assert_eq!(scalar("0777"), Scalar::Int(511), "Go's base 0: a leading 0 is octal");
        assert_eq!(scalar("1_000"), Scalar::Int(1000));
        assert_eq!(scalar("-5"), Scalar::Int(-5));
        assert_eq!(scalar("3.10"), Scalar::Float(3.1));
        assert_eq!(scalar(".5"), Scalar::Float(0.5));
        assert_eq!(scalar("true"), Scalar::Bool(true));
        assert_eq!(scalar("v1.2"), Scalar::Str);
        assert_eq!(scalar("1.2.3"), Scalar::Str);
        assert_eq!(scalar("abc"), Scalar::Str);
        assert_eq!(go_float(3.1), "3.1");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
    }
}
