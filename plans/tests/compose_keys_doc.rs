//! docs/language.md lists every key of docker's compose schema for stacks with what docker does
//! with it: each `<!-- compose-keys: NAME -->` table must name exactly the keys of
//! `plans::compose::keys` (TOP, SERVICE, ...) in the same order, each with the words of its
//! treatment, so the reference cannot drift from the reader.

use std::path::Path;

use plans::compose::keys::{self, Treatment};

fn tables() -> Vec<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md")).unwrap();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("<!-- compose-keys: ").and_then(|l| l.strip_suffix(" -->")) {
            out.push((name.to_owned(), Vec::new()));
            current = Some(out.len() - 1);
        } else if let Some(i) = current {
            if let Some(rest) = line.strip_prefix("| `") {
                let (key, rest) = rest.split_once("` | ").expect("| `key` | text |");
                out[i].1.push((key.to_owned(), rest.trim_end_matches(" |").to_owned()));
            } else if !line.starts_with('|') {
                current = None;
            }
        }
    }
    out
}

#[test]
fn every_compose_key_is_documented_with_what_docker_does() {
    let expected: [(&str, &[keys::Key]); 9] = [
        ("top", keys::TOP),
        ("service", keys::SERVICE),
        ("deploy", keys::DEPLOY),
        ("attachment", keys::ATTACHMENT),
        ("mount", keys::MOUNT),
        ("network", keys::NETWORK),
        ("volume", keys::VOLUME),
        ("config", keys::CONFIG),
        ("secret", keys::SECRET),
    ];
    let found = tables();
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    for ((name, rows), (_, table)) in found.iter().zip(expected) {
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let wanted: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, wanted, "the keys of table `{name}`");
        for ((key, text), (_, treatment)) in rows.iter().zip(table) {
            let words = match treatment {
                Treatment::Applied => "applied as docker does".to_owned(),
                Treatment::Discouraged(why) => format!("applied as docker does, with docker's warning: {why}"),
                Treatment::Ignored { why, docker_warns: true } => {
                    format!("ignored by docker too (docker warns): {why}")
                }
                Treatment::Ignored { why, docker_warns: false } => {
                    format!("ignored by docker too (docker says nothing; planrun warns): {why}")
                }
                Treatment::Refused(why) => format!("refused by docker too: {why}"),
            };
            assert_eq!(text, &words, "`{key}` in table `{name}`");
        }
    }
}
