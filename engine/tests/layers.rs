//! The engine's modules depend one way, lowest first (docs/architecture.md, "engine/"): each
//! top-level module uses only modules listed before it in `LAYERS`, and inside a directory
//! module the files (other than its `mod.rs`) form no circle. Paths are read with syn from every
//! `use` and every path in code (`crate::x::y`, `super::y`), outside `#[cfg(test)]` modules, so
//! comments and tests do not count. Together: no import circle anywhere in the engine.

mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use source::rust_files;
use syn::visit::Visit;

/// The engine's top-level modules, lowest first.
const LAYERS: &[&str] = &[
    // leaves: words and time
    "cause",
    "clock",
    "load",
    "redact",
    "private",
    "allocator",
    // programs run on this machine (`run` steps, `command` gates, the database tools)
    "commands",
    // the seam to a swarm
    "cluster",
    "lock",
    // what strategies do with services; databases (whose jobs are services)
    "services",
    "database",
    // what a run records and says
    "undo",
    "events",
    "journal",
    "history",
    "run_state",
    // the other seam: approvals
    "approval",
    "gates",
    // telling the team (an event sink that reads gate-style secrets)
    "notify",
    // running steps
    "context",
    "steps",
    "preflight",
    "executor",
    "simulation",
    "session",
    // the watch after a release (it undoes as `rollback` does)
    "watch",
    "status",
    "repair",
    // planrun plan, then the command line
    "plan",
    "cli",
];

/// Every path a file names, as written (`crate::services::watch::Watch`, `super::LiveFacts`).
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.0.push(prefix.iter().cloned().chain([n.ident.to_string()]).collect()),
            syn::UseTree::Rename(r) => self.0.push(prefix.iter().cloned().chain([r.ident.to_string()]).collect()),
            syn::UseTree::Glob(_) => self.0.push(prefix.clone()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.0.push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !source::test_only(m) {
            syn::visit::visit_item_mod(self, m);
        }
    }
}

/// The engine's files by module path (`["services", "watch"]`; a `mod.rs` is its directory).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap().with_extension("");
        let mut path: Vec<String> = rel.components().map(|c| c.as_os_str().to_str().unwrap().to_owned()).collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path == ["lib"] || path == ["main"] {
            continue;
        }
        out.insert(path, file);
    }
    out
}

/// The longest prefix of `path` that is a file of the engine.
fn resolve(files: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| files.contains_key(p))
}

/// Per file, the files it uses.
fn imports(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = modules(src);
    let mut out = BTreeMap::new();
    for (module, file) in &files {
        let syntax = syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        let is_dir_module = file.ends_with("mod.rs");
        let mut uses = BTreeSet::new();
        for p in paths.0 {
            let absolute: Vec<String> = match p.first().map(String::as_str) {
                Some("crate") => p[1..].to_vec(),
                Some("super") => {
                    // `super` of a.rs is its directory's module; of a/mod.rs, the one above.
                    let mut base = module.clone();
                    base.pop();
                    if is_dir_module {
                        base.pop();
                    }
                    base.into_iter().chain(p[1..].iter().cloned()).collect()
                }
                Some("self") if is_dir_module => module.iter().cloned().chain(p[1..].iter().cloned()).collect(),
                _ => continue,
            };
            if let Some(used) = resolve(&files, &absolute)
                && used != *module
            {
                uses.insert(used);
            }
        }
        out.insert(module.clone(), uses);
    }
    out
}

#[test]
fn top_level_modules_use_only_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, uses) in imports(&src) {
        let rank = |m: &str| LAYERS.iter().position(|l| *l == m).unwrap_or_else(|| panic!("add `{m}` to LAYERS"));
        let own = rank(&module[0]);
        for used in uses {
            if rank(&used[0]) > own {
                problems.push(format!("{} uses {}, a module above it", module.join("/"), used.join("/")));
            }
        }
    }
    assert!(problems.is_empty(), "{} upward import(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn no_circle_between_the_files_of_a_directory() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    // Edges between sibling files of one directory, `mod.rs` left out (it declares and
    // dispatches to its files, which use what it defines).
    let sibling =
        |a: &Vec<String>, b: &Vec<String>| a.len() == b.len() && a.len() > 1 && a[..a.len() - 1] == b[..b.len() - 1];
    let edges: BTreeMap<&Vec<String>, Vec<&Vec<String>>> =
        graph.iter().map(|(m, uses)| (m, uses.iter().filter(|u| sibling(m, u)).collect())).collect();
    // Depth-first search for a back edge; report each circle once, by its path.
    let mut state: BTreeMap<&Vec<String>, u8> = BTreeMap::new();
    let mut circles = Vec::new();
    fn visit<'a>(
        m: &'a Vec<String>,
        edges: &BTreeMap<&'a Vec<String>, Vec<&'a Vec<String>>>,
        state: &mut BTreeMap<&'a Vec<String>, u8>,
        stack: &mut Vec<&'a Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        state.insert(m, 1);
        stack.push(m);
        for next in edges.get(m).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == next).unwrap();
                    let path: Vec<String> = stack[at..].iter().chain([next]).map(|s| s.join("/")).collect();
                    circles.push(path.join(" -> "));
                }
                Some(_) => {}
                None => visit(next, edges, state, stack, circles),
            }
        }
        stack.pop();
        state.insert(m, 2);
    }
    for m in edges.keys() {
        if !state.contains_key(m) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(circles.is_empty(), "import circle(s) between files:\n{}", circles.join("\n"));
}

/// What a file does with the terminal: `println!` and friends, `std::io::stdout`/`stderr`.
#[derive(Default)]
struct Prints(Vec<String>);

impl<'ast> Visit<'ast> for Prints {
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if let Some(name) = m.path.get_ident().map(|i| i.to_string())
            && ["println", "eprintln", "print", "eprint", "dbg"].contains(&name.as_str())
        {
            self.0.push(format!("{name}!"));
        }
        syn::visit::visit_macro(self, m);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let names: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if names.windows(2).any(|w| w[0] == "io" && (w[1] == "stdout" || w[1] == "stderr")) {
            self.0.push(names.join("::"));
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !source::test_only(m) {
            syn::visit::visit_item_mod(self, m);
        }
    }
}

/// Only `cli/` (and `main.rs`) knows terminals: everything else says what happened through
/// events or return values, so the same engine runs under `--output json`, in `planrun plan`'s
/// simulation and in tests without writing to anybody's terminal.
#[test]
fn only_cli_prints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, file) in modules(&src) {
        if module[0] == "cli" {
            continue;
        }
        let mut prints = Prints::default();
        prints.visit_file(&syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap());
        for p in prints.0 {
            problems.push(format!("{}: {p}", module.join("/")));
        }
    }
    assert!(problems.is_empty(), "printing outside cli/:\n{}", problems.join("\n"));
}
