//! The fenced blocks of docs/language.md with their directives (the HTML comment before a block's
//! fence), shared by the tests that read the reference's examples.

#![allow(dead_code)]

use std::path::Path;

/// One fenced block of the document.
pub struct Block {
    pub lang: String,
    pub text: String,
    /// One-based line of the opening fence.
    pub line: usize,
    pub fragment: bool,
    pub fails: Option<String>,
    pub warns: Option<String>,
    /// The code whose example (a `fails:` or `warns:` block) this block is, fixed.
    pub fixes: Option<String>,
    pub vars: Vec<(String, String)>,
    pub project_vars: Vec<(String, String)>,
    /// For a `sql` block: the file it is.
    pub file: Option<String>,
}

pub fn read_doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn blocks(doc: &str) -> Vec<Block> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let mut block = Block {
            lang: lang.trim().to_owned(),
            text: String::new(),
            line: i + 1,
            fragment: false,
            fails: None,
            warns: None,
            fixes: None,
            vars: Vec::new(),
            project_vars: Vec::new(),
            file: None,
        };
        if let Some(comment) = i.checked_sub(1).map(|p| lines[p].trim()).filter(|l| l.starts_with("<!--")) {
            let inner = comment.trim_start_matches("<!--").trim_end_matches("-->");
            for directive in inner.split(';').map(str::trim).filter(|d| !d.is_empty()) {
                match directive.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                    None if directive == "fragment" => block.fragment = true,
                    Some(("file", path)) => block.file = Some(path.to_owned()),
                    Some(("fails", code)) => block.fails = Some(code.to_owned()),
                    Some(("warns", code)) => block.warns = Some(code.to_owned()),
                    Some(("fixes", code)) => block.fixes = Some(code.to_owned()),
                    Some(("var", kv)) => {
                        let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("line {}: `var: NAME=VALUE`", i));
                        block.vars.push((k.to_owned(), v.to_owned()));
                    }
                    Some(("project-var", kv)) => {
                        let (k, v) =
                            kv.split_once('=').unwrap_or_else(|| panic!("line {i}: `project-var: NAME=VALUE`"));
                        block.project_vars.push((k.to_owned(), v.to_owned()));
                    }
                    _ => panic!("docs/language.md:{i}: unknown directive `{directive}`"),
                }
            }
        }
        i += 1;
        while i < lines.len() && lines[i].trim_start() != "```" {
            block.text.push_str(lines[i]);
            block.text.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "docs/language.md:{}: unclosed block", block.line);
        i += 1;
        out.push(block);
    }
    out
}
