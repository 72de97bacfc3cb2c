//! The Debian package as a user gets it: `packaging/deb/build` packages this test's `planrun`,
//! the package says what it is and holds exactly the expected files, root-owned with Debian's
//! modes; then `dpkg -i` installs it, `/usr/bin/planrun --version` runs, the man pages render
//! from where it was installed and bash-completion loads the completion from where it looks.
//! `dpkg --purge` removes it again, whether or not an assertion failed.
//!
//! Building the package needs dpkg-dev (tests/run-all installs it). Installing needs root, as
//! tests/run-all runs; otherwise that part is skipped with a notice.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The package's files and their modes, besides its directories (all `drwxr-xr-x`) and its
/// man pages ([`files`]).
const FILES: &[(&str, &str)] = &[
    ("./usr/bin/planrun", "-rwxr-xr-x"),
    ("./usr/share/bash-completion/completions/planrun", "-rw-r--r--"),
    ("./usr/share/zsh/vendor-completions/_planrun", "-rw-r--r--"),
    ("./usr/share/fish/vendor_completions.d/planrun.fish", "-rw-r--r--"),
    ("./usr/share/doc/planrun/copyright", "-rw-r--r--"),
    ("./usr/share/doc/planrun/README.md.gz", "-rw-r--r--"),
];

/// Every file of the package with its mode: [`FILES`] and a man page for planrun and for each
/// of its commands, as `planrun man --dir` writes them.
fn files() -> Vec<(String, &'static str)> {
    let mut files: Vec<(String, &str)> = FILES.iter().map(|(p, m)| (p.to_string(), *m)).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-man");
    let _ = std::fs::remove_dir_all(&dir);
    let listed = stdout(Command::new(env!("CARGO_BIN_EXE_planrun")).arg("man").arg("--dir").arg(&dir));
    for page in listed.lines() {
        let name = Path::new(page).file_name().unwrap().to_string_lossy().into_owned();
        files.push((format!("./usr/share/man/man1/{name}.gz"), "-rw-r--r--"));
    }
    assert!(files.iter().any(|(p, _)| p == "./usr/share/man/man1/planrun-apply.1.gz"), "{files:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    files
}

/// Runs a command to success and returns its standard output.
fn stdout(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Purges the installed package when dropped, so a failed assertion leaves the machine as found.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        match Command::new("dpkg").args(["--purge", "planrun"]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("dpkg --purge planrun: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("dpkg --purge planrun: {e}"),
        }
    }
}

/// Packages the test binary with packaging/deb/build into `out`; the `.deb`'s path.
fn build_package(out: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/deb/build");
    let printed = stdout(
        Command::new(script)
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_planrun"))
            .args(["--compression", "gzip", "--out"])
            .arg(out),
    );
    PathBuf::from(printed.lines().last().expect("the script prints the package's path"))
}

#[test]
fn the_debian_package_installs_runs_its_man_page_and_completion_and_purges() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package");
    let _ = std::fs::remove_dir_all(&out);
    let deb = build_package(&out);
    let files_expected = files();
    let arch = stdout(Command::new("dpkg").arg("--print-architecture")).trim().to_owned();
    assert_eq!(deb, out.join(format!("planrun_{VERSION}_{arch}.deb")));

    let field = |name: &str| stdout(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name)).trim().to_owned();
    assert_eq!((field("Package"), field("Version"), field("Architecture")), ("planrun".into(), VERSION.into(), arch));
    let depends = field("Depends");
    assert!(depends.contains("libc6 (>= 2."), "Depends: {depends}");
    assert!(field("Maintainer").contains('@') && field("Description").contains("Docker Swarm"));

    // `dpkg-deb --contents` lists like `tar tv`: mode, owner/group, size, date, time, path.
    let listing = stdout(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    let mut files = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (mode, owner, path) = (fields[0], fields[1], fields[5]);
        assert_eq!(owner, "root/root", "{line}");
        if path.ends_with('/') {
            assert_eq!(mode, "drwxr-xr-x", "{line}");
        } else {
            files.push((path, mode));
        }
    }
    files.sort();
    let mut expected = files_expected.clone();
    expected.sort();
    let files: Vec<(String, &str)> = files.into_iter().map(|(p, m)| (p.to_owned(), m)).collect();
    assert_eq!(files, expected, "{listing}");

    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped installing {}: dpkg -i needs root (tests/run-all runs as root)", deb.display());
        return;
    }
    let known = Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", "planrun"]).output().unwrap();
    let status = String::from_utf8_lossy(&known.stdout);
    if (known.status.success() && status != "not-installed") || Path::new("/usr/bin/planrun").exists() {
        eprintln!("skipped installing {}: planrun is already on this machine ({status}), left as it is", deb.display());
        return;
    }
    let installed = Installed;
    stdout(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(stdout(Command::new("/usr/bin/planrun").arg("--version")).trim(), format!("planrun {VERSION}"));

    let page = if Path::new("/usr/bin/man").exists() {
        // man finds the page by its name, so this also checks where it was installed.
        stdout(Command::new("man").args(["-P", "cat", "planrun"]).env("MANWIDTH", "100").env("LC_ALL", "C.UTF-8"))
    } else {
        eprintln!("man is not installed: rendering /usr/share/man/man1/planrun.1.gz with groff");
        let text = stdout(Command::new("gzip").args(["-dc", "/usr/share/man/man1/planrun.1.gz"]));
        let roff = std::env::temp_dir().join(format!("planrun-package-{}.1", std::process::id()));
        std::fs::write(&roff, text).unwrap();
        let rendered = stdout(Command::new("groff").args(["-man", "-Tutf8", "-P-cbou"]).arg(&roff));
        std::fs::remove_file(&roff).unwrap();
        rendered
    };
    for part in ["NAME", "SYNOPSIS", "SUBCOMMANDS", "planrun-apply(1)", VERSION] {
        assert!(page.contains(part), "{part} in the man page:\n{page}");
    }
    // A command's own page, with its examples, found by its name as planrun(1) gives it.
    if Path::new("/usr/bin/man").exists() {
        let apply = stdout(
            Command::new("man").args(["-P", "cat", "planrun-apply"]).env("MANWIDTH", "100").env("LC_ALL", "C.UTF-8"),
        );
        for part in ["planrun-apply", "EXAMPLES", "planrun apply deploy/plan.kdl --env production", "SEE ALSO"] {
            assert!(apply.contains(part), "{part} in planrun-apply(1):\n{apply}");
        }
    }

    // bash-completion's loader looks for a command's completion in the share/bash-completion/
    // completions directory next to the command's bin/ (and in the user's, here empty).
    let loader = "/usr/share/bash-completion/bash_completion";
    if Path::new(loader).exists() {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-home");
        std::fs::create_dir_all(&home).unwrap();
        let script = format!(
            "source {loader}; __load_completion planrun || exit 1; complete -p planrun; \
             COMP_WORDS=(planrun va); COMP_CWORD=1; COMP_LINE='planrun va'; COMP_POINT=10; \
             _planrun planrun va planrun; echo \"${{COMPREPLY[*]}}\""
        );
        let bash = Command::new("bash")
            .args(["-c", &script])
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("share"))
            .env_remove("BASH_COMPLETION_USER_DIR")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&bash.stdout);
        assert!(bash.status.success(), "{said}{}", String::from_utf8_lossy(&bash.stderr));
        assert!(said.contains("-F _planrun") && said.lines().last() == Some("validate"), "{said}");
    } else {
        eprintln!("bash-completion is not installed: checked only that the completion file is in its directory");
        assert!(Path::new("/usr/share/bash-completion/completions/planrun").is_file());
    }

    drop(installed);
    let after = Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", "planrun"]).output().unwrap();
    let status = String::from_utf8_lossy(&after.stdout);
    assert!(!after.status.success() || status == "not-installed", "after the purge: {status}");
    for (path, _) in &files_expected {
        let installed_path = Path::new(&path[1..]);
        assert!(!installed_path.exists(), "{} is left after the purge", installed_path.display());
    }
    std::fs::remove_dir_all(&out).unwrap();
}
