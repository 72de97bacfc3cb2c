//! Problems with a compose file as a whole (`compose/mod.rs`, `check/compose.rs`): reading it,
//! its keys by what docker does with each, the values its reader's primitives take, the top
//! level and what services refer to. Where docker has words for a problem, they are docker's;
//! texts carried in a variant (`why`, `message`) come from the reader's parsers of docker's
//! formats.

use std::path::Path;

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;

/// A problem with a compose file. `what` names a value in the user's words ("`deploy.replicas`").
#[derive(Debug)]
pub enum ComposeProblem<'a> {
    /// The compose file cannot be read.
    Unreadable { named: &'a str, path: &'a Path, error: &'a std::io::Error },
    /// Not YAML, in the YAML reader's words; `first` is where a duplicated key was first given.
    NotYaml { message: &'a str, first: Option<Span> },
    /// A key docker ignores (`docker_warns` when it says so).
    IgnoredKey { key: &'a str, at: &'a str, why: &'a str, docker_warns: bool },
    /// A key docker applies and warns about.
    DiscouragedKey { key: &'a str, at: &'a str, why: &'a str },
    /// A key docker refuses, and why.
    RefusedKey { key: &'a str, at: &'a str, why: &'a str },
    /// A key of an open object that docker drops without a word.
    DroppedKey { key: &'a str, at: &'a str },
    /// A key docker's schema does not have here; `best` is the closest one it has.
    NotAKey { key: &'a str, at: &'a str, best: Option<&'a str> },
    /// Not a mapping; `found` names what it is.
    NotAMapping { what: &'a str, found: &'a str },
    /// Not a single value; `found` names what it is.
    NotAValue { what: &'a str, found: &'a str },
    /// `$NAME` with NAME unset.
    Unset { name: &'a str },
    /// A `$` form docker does not read, in the interpolation's words.
    BadInterpolation { message: &'a str },
    /// A boolean where a string or a number belongs.
    BooleanNotString { what: &'a str, value: &'a str },
    /// Not a number; `kind` says which ("a whole number"), `example` is one.
    NotANumber { what: &'a str, kind: &'a str, value: &'a str, example: &'a str },
    /// Not true or false.
    NotABoolean { what: &'a str, value: &'a str },
    /// Not a Go duration.
    NotADuration { what: &'a str, value: &'a str },
    /// Not a RAM size.
    NotASize { what: &'a str, value: &'a str },
    /// A string that does not split into shell words, and why.
    NotShellWords { what: &'a str, why: &'a str },
    /// A mapping where a command belongs.
    CommandIsMapping { what: &'a str },
    /// A mapping where a list of strings belongs.
    NotAStringList { what: &'a str },
    /// A single value where `KEY: value` lines belong.
    NotPairs { what: &'a str },
    /// A word that is not one of `allowed`; `best` is the closest.
    NotAChoice { what: &'a str, value: &'a str, allowed: &'a [&'a str], best: Option<&'a str> },
    /// A file without `services`.
    NoServices,
    /// A `version` other than 3.
    UnsupportedVersion { version: &'a str },
    /// A network a service joins that the file does not declare.
    UndefinedNetwork { service: &'a str, network: &'a str },
    /// A volume a service mounts that the file does not declare; `best` is the closest declared.
    UndefinedVolume { service: &'a str, volume: &'a str, best: Option<&'a str> },
    /// A config or secret (`kind`) a service uses that the file does not declare.
    UndefinedObject { service: &'a str, kind: &'a str, name: &'a str, best: Option<&'a str> },
    /// A config a credential_spec names that the file does not declare.
    UndefinedCredentialConfig { service: &'a str, config: &'a str },
    /// An env_file that cannot be read, and why.
    UnreadableEnvFile { named: &'a str, service: &'a str, why: &'a str, path: &'a Path },
    /// A relative bind source that does not exist.
    NoBindSource { source: &'a str },
    /// A step naming a service the file does not define; `names` are the ones it defines.
    NoSuchService { file: &'a str, service: &'a str, best: Option<&'a str>, names: &'a [&'a str] },
}

impl ComposeProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use ComposeProblem::*;
        match *self {
            Unreadable { named, path, error } => {
                error_(format!("cannot read the compose file `{named}`: {error}"), "not readable")
                    .help(format!("the path is relative to the plan's directory; it names {}", path.display()))
            }
            NotYaml { message, first } => {
                let words = Words::error(Code::ComposeFile, format!("not a compose file: {message}"), "here");
                match first {
                    Some(first) => words.note(first, "first given here").help("remove one of the two"),
                    None => words,
                }
            }
            IgnoredKey { key, at, why, docker_warns } => {
                let says = if docker_warns { "ignores" } else { "silently drops" };
                unsupported(format!("docker stack deploy {says} `{key}` {at}, and so does planrun: {why}"), "not applied")
                    .help(format!("remove `{key}`, or keep it for `docker compose` and ignore this warning"))
            }
            DiscouragedKey { key, at, why } => {
                unsupported(format!("`{key}` {at}: {why}"), "applied").help("see docs/language.md#compose")
            }
            RefusedKey { key, at, why } => {
                error_(format!("docker stack deploy refuses `{key}` {at}: {why}"), "unsupported option")
                    .help(format!("remove `{key}`"))
            }
            DroppedKey { key, at } => {
                unsupported(format!("docker stack deploy silently drops `{key}` {at}, and so does planrun"), "not applied")
                    .help(format!("remove `{key}`: it has no effect on a stack"))
            }
            NotAKey { key, at, best } => error_(
                format!("docker stack deploy refuses `{key}` {at} (\"Additional property {key} is not allowed\")"),
                "not a compose key here",
            )
            .help(best.map_or_else(|| format!("remove `{key}`"), |n| format!("did you mean `{n}`?"))),
            NotAMapping { what, found } => error_(format!("{what} must be a mapping, not {found}"), "not a mapping")
                .help("write `key: value` lines, indented under it"),
            NotAValue { what, found } => error_(format!("{what} must be a single value, not {found}"), "not a value")
                .help("write it on the key's line"),
            Unset { name } => Words::warning(
                Code::ComposeFile,
                format!("`{name}` is not set: it becomes an empty string"),
                "not set",
            )
            .help(format!("set {name} in the environment, or write `${{{name}:-default}}`")),
            BadInterpolation { message } => error_(message, "here")
                .help("docker's forms are `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:?message}` and `$$`"),
            BooleanNotString { what, value } => {
                error_(format!("{what} takes a string or a number, not the boolean `{value}`"), "a boolean")
                    .help(format!("quote it: \"{value}\" (docker's schema refuses a boolean here)"))
            }
            NotANumber { what, kind, value, example } => {
                error_(format!("{what} must be {kind}, not `{value}`"), "not a number")
                    .help(format!("write a number such as `{example}`"))
            }
            NotABoolean { what, value } => {
                error_(format!("{what} must be true or false, not `{value}`"), "not a boolean")
                    .help("write `true` or `false`")
            }
            NotADuration { what, value } => error_(
                format!("{what} must be a duration such as `10s`, `1m30s` or `500ms`, not `{value}`"),
                "not a duration",
            )
            .help("units are ns, us, ms, s, m and h"),
            NotASize { what, value } => {
                error_(format!("{what} must be a size such as 512M, not `{value}`"), "not a size")
                    .help("write a number with b, k, m or g")
            }
            NotShellWords { what, why } => error_(format!("{what} has {why}"), "not shell words")
                .help("close the quote, or write the words as a list"),
            CommandIsMapping { what } => {
                error_(format!("{what} must be a list or a string, not a mapping"), "a mapping")
                    .help("write `[\"program\", \"arg\"]`")
            }
            NotAStringList { what } => error_(format!("{what} must be a list"), "a mapping").help("write `[a, b]`"),
            NotPairs { what } => error_(format!("{what} must be a mapping or a list of `KEY=VALUE`"), "a single value")
                .help("write `KEY: value` lines"),
            NotAChoice { what, value, allowed, best } => {
                error_(format!("{what} must be one of {}, not `{value}`", allowed.join(", ")), "unknown value").help(
                    best.map_or_else(|| format!("write one of: {}", allowed.join(", ")), |n| format!("did you mean `{n}`?")),
                )
            }
            NoServices => error_("the compose file has no `services`", "no services")
                .help("a stack needs at least one service under `services:`"),
            UnsupportedVersion { version } => {
                error_(format!("unsupported Compose file version: {version}"), "not version 3").help(
                    "docker stack deploy reads version 3 files: write `version: \"3.8\"`, or leave `version` out",
                )
            }
            UndefinedNetwork { service, network } => error_(
                format!(
                    "service `{service}` joins network `{network}`, which `networks:` does not declare (docker: undefined network \"{network}\")"
                ),
                "here",
            )
            .help(format!("declare it: `networks:\\n  {network}:\\n    driver: overlay`")),
            UndefinedVolume { service, volume, best } => error_(
                format!(
                    "service `{service}` mounts volume `{volume}`, which `volumes:` does not declare (docker: undefined volume \"{volume}\")"
                ),
                "not declared",
            )
            .help(best.map_or_else(
                || format!("declare it: `volumes:\\n  {volume}:` at the top level"),
                |n| format!("did you mean `{n}`?"),
            )),
            UndefinedObject { service, kind, name, best } => error_(
                format!("service `{service}` uses {kind} `{name}`, which `{kind}s:` does not declare"),
                "not declared",
            )
            .help(best.map_or_else(
                || format!("declare it under `{kind}s:` with a `file`"),
                |n| format!("did you mean `{n}`?"),
            )),
            UndefinedCredentialConfig { service, config } => error_(
                format!(
                    "the credential_spec of service `{service}` names config `{config}`, which `configs:` does not declare"
                ),
                "here",
            )
            .help("declare it under `configs:`"),
            UnreadableEnvFile { named, service, why, path } => {
                error_(format!("cannot read the env_file `{named}` of service `{service}`: {why}"), "not readable")
                    .help(format!("the path is relative to the compose file; it names {}", path.display()))
            }
            NoBindSource { source } => error_(
                format!("invalid mount config for type \"bind\": bind source path does not exist: {source}"),
                "no such path",
            )
            .help("create it, or fix the path: a relative source is relative to the compose file"),
            NoSuchService { file, service, best, names } => {
                error_(format!("`{file}` defines no service `{service}`"), "no such service").help(
                    best.map_or_else(|| format!("the file defines: {}", names.join(", ")), |n| format!("did you mean `{n}`?")),
                )
            }
        }
    }
}

/// An error in a compose file: what docker would refuse.
pub(super) fn error_(message: impl Into<String>, label: &str) -> Words {
    Words::error(Code::ComposeFile, message, label)
}

/// A warning about a key planrun does not apply, as docker does not.
fn unsupported(message: String, label: &str) -> Words {
    Words::warning(Code::ComposeUnsupported, message, label)
}
