//! "Did you mean": the closest known name to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| *score > 0.8 && *c != name)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `did you mean `x`?` as help text, or the list of what is allowed.
pub fn help_for(name: &str, what: &str, candidates: &[&str]) -> Option<String> {
    if let Some(best) = did_you_mean(name, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let mut list: Vec<&str> = candidates.to_vec();
    list.sort_unstable();
    list.dedup();
    Some(format!("{what}: {}", list.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")))
}

/// `a, b, c or d`.
pub fn either(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_joins_words_as_a_sentence_does() {
        assert_eq!(either(&["http", "prometheus", "swarm"]), "http, prometheus or swarm");
        assert_eq!(either(&["http"]), "http");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("paralelism", ["parallelism", "delay"]), Some("parallelism"));
        assert_eq!(did_you_mean("zzz", ["parallelism", "delay"]), None);
        assert_eq!(help_for("qq", "expected one of", &["b", "a"]).unwrap(), "expected one of: `a`, `b`");
    }
}
