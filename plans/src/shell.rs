//! Which argument of a command a shell runs as code: the `SCRIPT` of `sh -c SCRIPT`. planrun
//! runs commands without a shell, so only an argument a shell parses can turn a value into code.

/// The shells recognised, by the last part of their path (`/bin/sh` is `sh`).
pub const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ash", "ksh"];

/// A shell given a script to run, by index into the command's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    /// The argument naming the shell.
    pub shell: usize,
    /// The argument the shell runs as its script.
    pub script: usize,
}

/// The shell script in `argv`, if there is one: the first argument naming a shell (the program
/// itself, or after a wrapper such as `env`, `sudo`, `timeout 30` or `docker run IMAGE`) whose
/// options hold `c` (`-c`, `-ec`, `-euc`, `-lc`, also after other options), and the first
/// argument after its options. Arguments after the script are its positional parameters (`$0`,
/// `$1`, ...), data to the shell, and are not looked at; so is everything after a shell that
/// runs a file rather than `-c`.
pub fn script<S: AsRef<str>>(argv: &[S]) -> Option<Script> {
    let shell = argv.iter().position(|a| is_shell(a.as_ref()))?;
    let mut c = false;
    let mut at = shell + 1;
    while let Some(arg) = argv.get(at).map(AsRef::as_ref) {
        match arg {
            // The end of the options.
            "--" | "-" => {
                at += 1;
                break;
            }
            // bash's long options; two take a file.
            "--rcfile" | "--init-file" => at += 2,
            long if long.starts_with("--") => at += 1,
            // A cluster of short options (`-eu`, `+x`); `-o NAME` and `-O NAME` take a name.
            cluster if cluster.len() > 1 && (cluster.starts_with('-') || cluster.starts_with('+')) => {
                c |= cluster.starts_with('-') && cluster[1..].contains('c');
                at += if cluster[1..].contains(['o', 'O']) { 2 } else { 1 };
            }
            _ => break,
        }
    }
    (c && at < argv.len()).then_some(Script { shell, script: at })
}

/// Whether `program` names a shell (`sh`, `/bin/bash`); `SHELL=/bin/sh` (an `env` setting) does not.
fn is_shell(program: &str) -> bool {
    !program.contains('=') && SHELLS.contains(&program.rsplit('/').next().unwrap_or(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script `argv` (words split at spaces) runs, if any.
    fn script_of(argv: &str) -> Option<String> {
        let words: Vec<&str> = argv.split(' ').collect();
        script(&words).map(|s| format!("{} runs {}", words[s.shell], words[s.script]))
    }

    #[test]
    fn the_argument_after_c_is_the_script() {
        let cases = [
            ("sh -c SCRIPT", "sh runs SCRIPT"),
            ("bash -c SCRIPT $0 $1", "bash runs SCRIPT"),
            ("dash -c SCRIPT", "dash runs SCRIPT"),
            ("zsh -c SCRIPT", "zsh runs SCRIPT"),
            ("ash -c SCRIPT", "ash runs SCRIPT"),
            ("ksh -c SCRIPT", "ksh runs SCRIPT"),
            ("/bin/sh -c SCRIPT", "/bin/sh runs SCRIPT"),
            ("/usr/local/bin/bash -c SCRIPT", "/usr/local/bin/bash runs SCRIPT"),
            ("sh -ec SCRIPT", "sh runs SCRIPT"),
            ("sh -euc SCRIPT", "sh runs SCRIPT"),
            ("bash -lc SCRIPT", "bash runs SCRIPT"),
            ("sh -ce SCRIPT", "sh runs SCRIPT"),
            ("sh -e -c SCRIPT", "sh runs SCRIPT"),
            ("sh -c -e SCRIPT", "sh runs SCRIPT"),
            ("sh -c -- SCRIPT", "sh runs SCRIPT"),
            ("bash -o pipefail -c SCRIPT", "bash runs SCRIPT"),
            ("bash -eo pipefail -c SCRIPT", "bash runs SCRIPT"),
            ("bash -O extglob -c SCRIPT", "bash runs SCRIPT"),
            ("bash --norc --noprofile -c SCRIPT", "bash runs SCRIPT"),
            ("bash --rcfile FILE -c SCRIPT", "bash runs SCRIPT"),
            ("sh +x -c SCRIPT", "sh runs SCRIPT"),
            ("env sh -c SCRIPT", "sh runs SCRIPT"),
            ("/usr/bin/env -i PATH=/bin sh -c SCRIPT", "sh runs SCRIPT"),
            ("env SHELL=/bin/bash sh -c SCRIPT", "sh runs SCRIPT"),
            ("env bash -c SCRIPT", "bash runs SCRIPT"),
            ("sudo -u app sh -c SCRIPT", "sh runs SCRIPT"),
            ("timeout 30 sh -c SCRIPT", "sh runs SCRIPT"),
            ("docker run --rm app:v1 sh -c SCRIPT", "sh runs SCRIPT"),
        ];
        for (argv, expected) in cases {
            assert_eq!(script_of(argv).as_deref(), Some(expected), "{argv}");
        }
    }

    #[test]
    fn no_script_without_a_shell_and_c() {
        for argv in [
            "echo hello",
            "curl -c cookies URL",
            "sh script.sh ARG",
            "sh script.sh -c ARG",
            "bash -e script.sh",
            "sh +c SCRIPT",
            "sh -c",
            "sh -ec",
            "shell -c SCRIPT",
            "fish -c SCRIPT",
            "/bin/shx -c SCRIPT",
            "bash -o c SCRIPT",
            "sh -- -c SCRIPT",
        ] {
            assert_eq!(script_of(argv), None, "{argv}");
        }
    }

    #[test]
    fn the_first_shell_decides_and_its_positional_arguments_are_data() {
        // `$0` is "sh" and `$1` is "-c": no second script.
        assert_eq!(script_of("sh -c SCRIPT sh -c VALUE").as_deref(), Some("sh runs SCRIPT"));
        assert_eq!(script_of("sh script.sh sh -c VALUE"), None);
    }
}
