//! The command line: flags in `args`, one file per command that changes a swarm (`apply`,
//! `rollback`, `answer` for promote/abort, `unlock`), `validate`, `fmt` and `init`, `graph` and `show`
//! here, output formats in `report` (diagnostics), `progress` (runs) and `summary`. Only this module knows
//! terminals, signals and exit codes; runs themselves are `crate::session`'s.

pub mod answer;
pub mod apply;
pub mod args;
pub mod columns;
pub mod examples;
pub mod explain;
pub mod fmt;
pub mod init;
pub mod install;
pub mod live;
pub mod plan;
pub mod plan_render;
pub mod progress;
pub mod prompt;
pub mod repair;
pub mod report;
pub mod restore;
pub mod rollback;
pub mod signals;
pub mod status;
pub mod summary;
pub mod terminal;
pub mod unlock;
pub mod validate;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use plans::graph::render;
use plans::project::Environment;

use crate::cluster::retry::Retrying;
use crate::cluster::swarm::Swarm;
use crate::cluster::{Cluster, ClusterError};
use crate::events::Refusal;
use crate::load::{self, LoadError, LoadOptions, Loaded};
use args::{Cli, Command, GraphFormat, MessageFormat, PlanInputs};

/// Exit code for a plan with errors, a failed deployment or a refused one.
pub const EXIT_INVALID: u8 = 1;
/// Exit code for usage and I/O errors, and an unreachable Docker daemon.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a second interrupt stopped a run with changes left in place (128 + SIGINT).
pub const EXIT_STOPPED: u8 = 130;

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = match Cli::parse_settled() {
        Ok(cli) => cli,
        Err(e) => return report::usage_error(e),
    };
    match cli.command {
        Command::Validate(a) => validate::validate(a),
        Command::Fmt(a) => fmt::fmt(a),
        Command::Init(a) => init::init(a),
        Command::Graph(a) => graph(a),
        Command::Show(a) => show(a),
        Command::Plan(a) => plan::plan(a),
        Command::Apply(a) => apply::apply(a),
        Command::Rollback(a) => rollback::rollback(a),
        Command::Promote(a) => answer::answer(a, true),
        Command::Abort(a) => answer::answer(a, false),
        Command::Status(a) => status::status(a),
        Command::History(a) => status::history(a),
        Command::Finish(a) => status::finish(a),
        Command::Watch(a) => watch::watch(a),
        Command::Unlock(a) => unlock::unlock(a),
        Command::Repair(a) => repair::repair(a),
        Command::Restore(a) => restore::restore(a),
        Command::Explain(a) => explain::explain(a),
        Command::Completions(a) => install::completions(a),
        Command::Man(a) => install::man(a),
    }
}

/// The exit code of a refusal.
pub fn refusal_code(refusal: Refusal) -> u8 {
    match refusal {
        Refusal::InvalidPlan | Refusal::Locked | Refusal::Preflight | Refusal::StalePlan => EXIT_INVALID,
        Refusal::DockerUnavailable | Refusal::Journal | Refusal::Usage => EXIT_USAGE,
        Refusal::NothingToDo => 0,
    }
}

/// A tokio runtime for one command. It shuts down without waiting for blocking reads (a
/// terminal prompt nobody answered because the swarm answered first).
pub(crate) fn run_async<T, F: std::future::Future<Output = T>>(future: F) -> T {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the tokio runtime");
    let code = runtime.block_on(future);
    runtime.shutdown_background();
    code
}

/// Connects to the Docker host of `environment` (planrun.toml), else as the docker CLI would.
pub(crate) async fn connect(environment: Option<&Environment>) -> Result<Arc<dyn Cluster>, ClusterError> {
    let swarm = match environment.and_then(|e| e.docker_host.as_deref().map(|h| (e, h))) {
        Some((env, host)) => {
            let tls = env.cert_path.as_deref().map(|p| (Path::new(p), env.tls_verify));
            Swarm::connect_to(host, tls).await
        }
        None => Swarm::connect().await,
    };
    if let Some(host) = plain_docker(environment) {
        eprintln!(
            "warning: Docker at {host} is reached without TLS: anyone between can read and change what planrun \
             sends (service specs, env values); use tcp:// with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH \
             (or tls-verify and cert-path in planrun.toml), or an ssh tunnel to the daemon's unix socket"
        );
    }
    // Transient faults (a dockerd restarting, a leader election) are waited out, not failures.
    swarm.map(|s| Arc::new(Retrying::new(Arc::new(s), crate::cluster::retry::BUDGET)) as Arc<dyn Cluster>)
}

/// The Docker host, when planrun would reach it over plain TCP (no TLS).
fn plain_docker(environment: Option<&Environment>) -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (host, tls) = match environment.and_then(|e| e.docker_host.clone().map(|h| (e, h))) {
        Some((env, host)) => (host, env.cert_path.is_some()),
        None => (var("DOCKER_HOST")?, var("DOCKER_CERT_PATH").is_some() || var("DOCKER_TLS_VERIFY").is_some()),
    };
    ((host.starts_with("tcp://") || host.starts_with("http://")) && !tls).then_some(host)
}

/// The real world for a command without a plan that changes the swarm (rollback, repair):
/// the environment `--env`/`--project` name, its swarm, Prometheus and database, no prompt.
/// A refusal is emitted to `output`.
pub(crate) async fn seams_without_a_plan(
    env: Option<&str>,
    project: Option<&Path>,
    output: &crate::events::Events,
) -> Result<crate::session::Seams, crate::session::Refused> {
    use crate::events::Refusal;
    use crate::session::{Refused, Seams};
    let environment =
        project_environment(env, project).map_err(|e| Refused::emit(Refusal::Usage, e, Vec::new(), output))?;
    let cluster = connect(environment.as_ref())
        .await
        .map_err(|e| Refused::emit(Refusal::DockerUnavailable, e.to_string(), Vec::new(), output))?;
    Ok(Seams::live(
        cluster,
        environment.as_ref().and_then(|e| e.prometheus.clone()),
        environment.as_ref().and_then(|e| e.database.clone()),
        None,
    ))
}

/// The environment `--env`/`--project` name for commands without a plan (rollback, unlock,
/// promote, abort): the project file given, or planrun.toml in the current directory.
pub(crate) fn project_environment(env: Option<&str>, project: Option<&Path>) -> Result<Option<Environment>, String> {
    Ok(project_environment_at(env, project)?.map(|(_, e, _)| e))
}

/// [`project_environment`], with its name and the directory of the project file (its files are
/// relative to it).
pub(crate) fn project_environment_at(
    env: Option<&str>,
    project: Option<&Path>,
) -> Result<Option<(String, Environment, PathBuf)>, String> {
    let path = match project {
        Some(p) => p.to_path_buf(),
        None if Path::new("planrun.toml").is_file() => PathBuf::from("planrun.toml"),
        None if env.is_some() => {
            return Err("--env needs a project file: no planrun.toml here (use --project FILE)".into());
        }
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = plans::SourceFile::new(path.display().to_string(), text);
    let project = plans::project::Project::parse(&file).map_err(|d| d.message)?;
    let chosen = project.environment(env).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(chosen.map(|(n, e)| (n.to_owned(), e.clone(), crate::load::directory_of(&path))))
}

/// For commands without a plan (promote, abort, status, finish, unlock): the swarm that `--env`
/// and `--project` name, or the exit code after saying why it cannot be reached.
pub(crate) async fn swarm_of(env: Option<&str>, project: Option<&Path>) -> Result<Arc<dyn Cluster>, ExitCode> {
    let environment = project_environment(env, project).map_err(|e| fail(EXIT_USAGE, e))?;
    connect(environment.as_ref()).await.map_err(|e| fail(EXIT_USAGE, e))
}

/// Prints `error: WHY` and gives the exit code.
pub(crate) fn fail(code: u8, why: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {why}");
    ExitCode::from(code)
}

pub(crate) fn options(inputs: &PlanInputs) -> LoadOptions {
    LoadOptions { vars: inputs.vars.clone(), env: inputs.env.clone(), project: inputs.project.clone() }
}

/// Loads a plan; on failure prints why and returns the exit code.
pub(crate) fn load_or_report(path: &std::path::Path, inputs: &PlanInputs, format: MessageFormat) -> Result<Loaded, u8> {
    let stdin_filename = inputs.stdin_filename.as_deref();
    match load::load_as(path, stdin_filename, &options(inputs)) {
        Ok(l) => Ok(l),
        Err(LoadError::Io(message)) => {
            let file = load::shown_name(path, stdin_filename).display().to_string();
            report::print_failure(Some(&file), "planrun::io", &message, None, format);
            Err(EXIT_USAGE)
        }
        Err(LoadError::Project(boxed)) => {
            let (file, d) = *boxed;
            report::print_all(std::slice::from_ref(&d), &file, format);
            Err(EXIT_USAGE)
        }
    }
}

/// The plan files `paths` name: a file as it is, a directory as every `*.kdl` file under it
/// (sorted; hidden entries and symbolic links to directories skipped). A directory holding
/// none is an error naming it.
pub(crate) fn plan_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "kdl") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() != "-" && path.is_dir() {
            let before = files.len();
            walk(path, &mut files).map_err(|e| format!("cannot read directory {}: {e}", path.display()))?;
            if files.len() == before {
                return Err(format!("{} holds no plan file (`*.kdl`)", path.display()));
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Loads a plan that must be valid; prints diagnostics (errors and warnings) to stderr.
pub(crate) fn load_valid(path: &std::path::Path, inputs: &PlanInputs) -> Result<Loaded, ExitCode> {
    let loaded = load_or_report(path, inputs, MessageFormat::Human).map_err(ExitCode::from)?;
    let c = &loaded.checked;
    report::print_all(&c.diagnostics, &c.file, MessageFormat::Human);
    if c.plan.is_none() {
        // The same inputs, so `validate` reports the same problems.
        let mut again = format!("planrun validate {}", path.display());
        for (k, v) in &inputs.vars {
            again.push_str(&format!(" --var {k}={v}"));
        }
        if let Some(env) = &inputs.env {
            again.push_str(&format!(" --env {env}"));
        }
        if let Some(project) = &inputs.project {
            again.push_str(&format!(" --project {}", project.display()));
        }
        let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
        let text = format!(
            "{}: invalid ({errors} {}); `{again}` checks it again\n",
            c.file.name,
            validate::plural(errors, "error")
        );
        report::write(report::Stream::Stderr, &text);
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(loaded)
}

fn graph(a: args::GraphArgs) -> ExitCode {
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (Some(plan), Some(g)) = (&loaded.checked.plan, &loaded.checked.graph) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let out = match a.format {
        GraphFormat::Text => render::text(plan, g),
        GraphFormat::Dot => render::dot(plan, g),
        GraphFormat::Mermaid => render::mermaid(plan, g),
    };
    report::write(report::Stream::Stdout, &out);
    ExitCode::SUCCESS
}

fn show(a: args::ShowArgs) -> ExitCode {
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let Some(plan) = &loaded.checked.plan else { return ExitCode::from(EXIT_INVALID) };
    // JSON is the only format today; `--json` is accepted so scripts say what they expect.
    let _ = a.json;
    match serde_json::to_string_pretty(plan) {
        Ok(s) => {
            report::write(report::Stream::Stdout, &format!("{s}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot print the plan as JSON: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Replaces the file at `path` with `text` at once: written beside it in a new file (an
/// unguessable name, created `O_EXCL` by tempfile), given the file's permissions, then renamed
/// over it, so a reader never sees half a file.
pub(crate) fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".planrun-fmt-").tempfile_in(dir)?;
    std::io::Write::write_all(&mut temp, text.as_bytes())?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), permissions)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tcp_to_docker_is_named_and_tls_is_not() {
        let env = |host: &str, cert: Option<&str>| Environment {
            docker_host: Some(host.into()),
            cert_path: cert.map(Into::into),
            ..Environment::default()
        };
        assert_eq!(plain_docker(Some(&env("tcp://10.0.0.5:2375", None))).as_deref(), Some("tcp://10.0.0.5:2375"));
        assert_eq!(plain_docker(Some(&env("tcp://10.0.0.5:2376", Some("/certs")))), None);
        assert_eq!(plain_docker(Some(&env("unix:///var/run/docker.sock", None))), None);
    }
}
