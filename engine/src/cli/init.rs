//! `planrun init`: a starting plan from a compose file (one `compose` step for the whole file,
//! or with `--rolling` one `rolling` step per service) or from a live stack (one `rolling` step
//! per service, with the image, replicas and update settings it runs now), and a `swarm` gate
//! per service.
//!
//! The plan is built as text, laid out by `plans::fmt` and checked by `plans::check` before it
//! is written: init never writes a plan that `planrun validate` would refuse.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use bollard::models::{
    Service as LiveService, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum as Action,
    ServiceSpecUpdateConfigOrderEnum as LiveOrder,
};
use plans::compose::{self, ComposeFile, Mode};
use plans::fix::kdl_string;
use plans::{Inputs, SourceFile};

use crate::cli::args::{InitArgs, MessageFormat};
use crate::cli::validate::plural;
use crate::cli::{EXIT_INVALID, EXIT_USAGE, fail, report, run_async, swarm_of};
use crate::services::{self, STACK_LABEL, spec};

/// Runs `planrun init`.
pub fn init(a: InitArgs) -> ExitCode {
    if let Some(out) = &a.out
        && !a.force
        && out.exists()
    {
        return exists(out);
    }
    let draft = match (&a.compose, a.stack()) {
        (Some(file), _) => from_compose_file(file, a.stack(), a.rolling, a.out.as_deref()),
        (None, Some(stack)) => run_async(async {
            let cluster = match swarm_of(a.env.as_deref(), a.project.as_deref()).await {
                Ok(c) => c,
                Err(code) => return Err(code),
            };
            let live = services::of_stack(cluster.as_ref(), stack)
                .await
                .map_err(|e| fail(EXIT_USAGE, format!("cannot read stack `{stack}`: {e}")))?;
            if live.is_empty() {
                return Err(fail(
                    EXIT_INVALID,
                    format!(
                        "no services labelled {STACK_LABEL}={stack}; is the name right? `docker stack ls` lists stacks"
                    ),
                ));
            }
            Ok(from_live(stack, &live))
        }),
        (None, None) => return fail(EXIT_USAGE, "give a STACK or --compose FILE"),
    };
    let draft = match draft {
        Ok(d) => d,
        Err(code) => return code,
    };
    let text = match plans::fmt::format(&draft.render()) {
        Ok(text) => text,
        Err(e) => return fail(EXIT_INVALID, format!("planrun init wrote a plan it cannot lay out (a bug): {e:?}")),
    };
    let warnings = match check(&text, a.out.as_deref()) {
        Ok(warnings) => warnings,
        Err(code) => return code,
    };
    match &a.out {
        None => {
            report::write(report::Stream::Stdout, &text);
            ExitCode::SUCCESS
        }
        Some(out) => match write(out, &text, a.force) {
            Ok(()) => {
                let services = draft.services.len();
                let warned = match warnings {
                    0 => String::new(),
                    n => format!(", valid with the {n} {} above", plural(n, "warning")),
                };
                eprintln!(
                    "wrote {} (stack `{}`, {services} {}{warned}); `planrun plan {}` shows what applying it would change",
                    out.display(),
                    draft.stack,
                    plural(services, "service"),
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => exists(out),
            Err(e) => fail(EXIT_USAGE, format!("cannot write {}: {e}", out.display())),
        },
    }
}

fn exists(out: &Path) -> ExitCode {
    fail(
        EXIT_USAGE,
        format!("{} exists: planrun init does not overwrite a file unless --force is given", out.display()),
    )
}

fn write(out: &Path, text: &str, force: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(out)?.write_all(text.as_bytes())
}

/// Checks the plan as `planrun validate` would at `out` (standard output: the current
/// directory). Warnings are printed and counted, and the plan is written (a live stack's own
/// settings can deserve one: stop-first with one replica); an error is planrun's bug.
fn check(text: &str, out: Option<&Path>) -> Result<usize, ExitCode> {
    let name = out.map_or_else(|| "<stdout>".to_owned(), |o| o.display().to_string());
    let mut inputs = Inputs::from_process_env();
    inputs.files = Some(plan_dir(out));
    let checked = plans::check(SourceFile::new(name, text.to_owned()), &inputs);
    report::print_all(&checked.diagnostics, &checked.file, MessageFormat::Human);
    if checked.has_errors() {
        return Err(fail(
            EXIT_INVALID,
            "the plan planrun init made does not validate (a bug in planrun init); nothing was written",
        ));
    }
    Ok(checked.diagnostics.len())
}

/// The directory a plan written to `out` (standard output: the current directory) is in.
fn plan_dir(out: Option<&Path>) -> PathBuf {
    out.and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

// ---------------------------------------------------------------- from a compose file

fn from_compose_file(file: &Path, stack: Option<&str>, rolling: bool, out: Option<&Path>) -> Result<Draft, ExitCode> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        report::print_failure(
            Some(&shown),
            "planrun::io",
            &format!("cannot read {shown}: {e}"),
            None,
            MessageFormat::Human,
        );
        ExitCode::from(EXIT_USAGE)
    })?;
    let base = std::path::absolute(file).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
    let dir = compose::values::clean(&base.to_string_lossy());
    let lookup = |name: &str| std::env::var(name).ok();
    let (model, diagnostics) = compose::load(&text, compose::Context { lookup: &lookup, dir: &dir });
    let Some(model) = model else {
        let source = SourceFile::new(shown.clone(), text);
        report::print_all(&diagnostics, &source, MessageFormat::Human);
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        return Err(fail(
            EXIT_INVALID,
            format!("{shown} has {errors} {}: planrun init needs a valid compose file", plural(errors, "error")),
        ));
    };
    // Paths in a plan are relative to its directory.
    let absolute = std::fs::canonicalize(file).map_err(|e| fail(EXIT_USAGE, format!("cannot read {shown}: {e}")))?;
    let dir = plan_dir(out);
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| fail(EXIT_USAGE, format!("cannot write a plan in {}: {e}", dir.display())))?;
    let relative = relative_path(&dir, &absolute).display().to_string();
    let stack = match stack {
        Some(s) => s.to_owned(),
        None => {
            let folder = absolute.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
            match folder.as_deref().map(sanitize).filter(|s| plans::stack_name::check(s).is_ok()) {
                Some(s) => s,
                None => {
                    return Err(fail(
                        EXIT_USAGE,
                        format!(
                            "cannot name the stack after the directory of {shown}: give the stack's name: planrun init STACK --compose FILE"
                        ),
                    ));
                }
            }
        }
    };
    let mut draft = from_compose(&stack, &relative, &model, rolling);
    draft.vars = image_vars(&text);
    Ok(draft)
}

/// The variables the file's images name with a plain default (`image: app:${TAG:-v1}`), each
/// once, with the services that use it. An image that names a variable another way is left to
/// the environment, as before.
fn image_vars(text: &str) -> Vec<ImageVar> {
    let mut out: Vec<ImageVar> = Vec::new();
    let Ok(root) = compose::yaml::parse(text) else { return out };
    let map = |n: &compose::yaml::Node| match &n.value {
        compose::yaml::Value::Map(m) => m.clone(),
        _ => Vec::new(),
    };
    let services = map(&root).into_iter().find(|(k, _)| k.text == "services").map(|(_, v)| map(&v)).unwrap_or_default();
    for (service, body) in services {
        let image =
            map(&body).into_iter().find(|(k, _)| k.text == "image").and_then(|(_, v)| v.scalar().map(str::to_owned));
        let Some(found) = image.as_deref().and_then(compose::interpolate::defaulted) else { continue };
        for d in found {
            match out.iter_mut().find(|v| v.name == d.name) {
                Some(v) if v.default == d.default => v.services.push(service.text.clone()),
                // Two defaults for one name: a plan variable would give both images the first;
                // such a name is left to the environment and the file, as before.
                Some(v) => v.default.clear(),
                None => out.push(ImageVar { name: d.name, default: d.default, services: vec![service.text.clone()] }),
            }
        }
    }
    out.retain(|v| !v.default.is_empty());
    out
}

/// The draft for a compose file named `file` (relative to the plan) holding `model`.
fn from_compose(stack: &str, file: &str, model: &ComposeFile, rolling: bool) -> Draft {
    let services = model
        .services
        .iter()
        .map(|s| {
            let replicas = match s.deploy.mode {
                Mode::Replicated(n) => Some(n),
                Mode::Global => None,
            };
            let update = s.deploy.update_config.as_ref().map(|u| Update {
                parallelism: u.parallelism.map(|p| parallelism(p, replicas)),
                delay: u.delay.map(duration),
                order: u.order.clone(),
                failure_action: u.failure_action.clone(),
                monitor: u.monitor.map(duration),
                max_failure_ratio: u.max_failure_ratio,
            });
            let health = s
                .healthcheck
                .as_ref()
                .is_some_and(|h| h.test.as_ref().and_then(|t| t.first()).is_some_and(|t| t != "NONE"));
            Service {
                key: s.name.value.clone(),
                swarm_name: format!("{stack}_{}", s.name.value),
                image: None,
                replicas: None,
                not_rolled: None,
                health,
                update: update.unwrap_or_default(),
            }
        })
        .collect();
    let source = if rolling { Source::ComposeServices(file.to_owned()) } else { Source::ComposeStep(file.to_owned()) };
    Draft { stack: stack.to_owned(), source, services, vars: Vec::new() }
}

// ---------------------------------------------------------------- from a live stack

fn from_live(stack: &str, live: &[LiveService]) -> Draft {
    let services = live
        .iter()
        .map(|s| {
            let spec = s.spec.clone().unwrap_or_default();
            let name = services::name_of(s);
            let key = name.strip_prefix(&format!("{stack}_")).filter(|k| !k.is_empty()).unwrap_or(&name).to_owned();
            let mode = spec.mode.clone().unwrap_or_default();
            let global = mode.global.is_some();
            let not_rolled =
                if mode.replicated_job.is_some() || mode.global_job.is_some() { Some("a job") } else { None };
            let replicas = spec::replicas(&spec).filter(|_| not_rolled.is_none() && !global);
            Service {
                key,
                swarm_name: name,
                image: Some(spec::image(&spec).to_owned()),
                replicas,
                not_rolled,
                health: spec::health_check(&spec).is_some(),
                update: live_update(spec.update_config.as_ref(), replicas),
            }
        })
        .collect();
    Draft { stack: stack.to_owned(), source: Source::Live, services, vars: Vec::new() }
}

/// The live update config, every setting written, Swarm's defaults where it has none.
fn live_update(config: Option<&ServiceSpecUpdateConfig>, replicas: Option<u64>) -> Update {
    // Swarm's defaults where the service has no update config (what `docker service inspect`
    // shows for a service created without update flags).
    let swarm = spec::swarm_update_default();
    let c = config.cloned().unwrap_or_else(|| swarm.clone());
    let p = c.parallelism.unwrap_or(0).max(0) as u64;
    let failure_action = match c.failure_action {
        Some(Action::ROLLBACK) => "rollback",
        Some(Action::CONTINUE) => "continue",
        Some(Action::PAUSE | Action::EMPTY) | None => "pause",
    };
    let order = match c.order {
        Some(LiveOrder::START_FIRST) => "start-first",
        Some(LiveOrder::STOP_FIRST | LiveOrder::EMPTY) | None => "stop-first",
    };
    Update {
        parallelism: Some(parallelism(p, replicas)),
        delay: Some(duration(c.delay.unwrap_or(0))),
        order: Some(order.to_owned()),
        failure_action: Some(failure_action.to_owned()),
        // Swarm reads a monitor of 0 as its default.
        monitor: Some(duration(c.monitor.filter(|m| *m > 0).or(swarm.monitor).unwrap_or_default())),
        max_failure_ratio: Some(c.max_failure_ratio.unwrap_or(0.0)),
    }
}

// ---------------------------------------------------------------- the plan

/// Where the plan's services come from, which decides its steps.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// One `compose` step deploying this file (relative to the plan).
    ComposeStep(String),
    /// A `rolling` step per service taking its image and replicas from this file.
    ComposeServices(String),
    /// A `rolling` step per live service.
    Live,
}

/// A plan to write.
#[derive(Debug, Clone)]
struct Draft {
    stack: String,
    source: Source,
    services: Vec<Service>,
    /// Variables the compose file's images name with a default (`${TAG:-v1}`): each becomes a
    /// plan variable, so a release's tag is stated in the plan.
    vars: Vec<ImageVar>,
}

/// A plan variable for a compose file's image variable.
#[derive(Debug, Clone, PartialEq)]
struct ImageVar {
    name: String,
    default: String,
    /// The services whose image names it.
    services: Vec<String>,
}

/// One service of the plan.
#[derive(Debug, Clone)]
struct Service {
    /// Its name in the stack (`web` of `shop_web`): the step's name and the gate's prefix.
    key: String,
    /// Its Swarm name.
    swarm_name: String,
    /// The image to write (a live service's); `None` when a compose file gives it.
    image: Option<String>,
    /// The replica count to write (a live replicated service's).
    replicas: Option<u64>,
    /// Why a rolling step cannot update it, if it cannot.
    not_rolled: Option<&'static str>,
    /// Whether it has a health check.
    health: bool,
    /// The update settings to write.
    update: Update,
}

/// Update settings to write; `None` leaves a setting to planrun's default.
#[derive(Debug, Clone, Default, PartialEq)]
struct Update {
    /// Already at least 1 (Swarm's 0, every task at once, becomes the replica count).
    parallelism: Option<Parallelism>,
    delay: Option<String>,
    order: Option<String>,
    failure_action: Option<String>,
    monitor: Option<String>,
    max_failure_ratio: Option<f64>,
}

/// A parallelism to write, and whether it stands for Swarm's 0 (every task at once).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Parallelism {
    value: u64,
    all_at_once: bool,
}

/// Swarm's parallelism `p` for a service of `replicas`: planrun refuses 0 (every task at once),
/// which is the replica count.
fn parallelism(p: u64, replicas: Option<u64>) -> Parallelism {
    match p {
        0 => Parallelism { value: replicas.unwrap_or(1).max(1), all_at_once: true },
        p => Parallelism { value: p, all_at_once: false },
    }
}

/// Nanoseconds as a planrun duration (`"1m30s"`, `"500ms"`), rounded up to a millisecond.
fn duration(ns: i64) -> String {
    let ms = (ns.max(0) as u64).div_ceil(1_000_000);
    plans::duration::Duration::from_millis(ms).to_string()
}

/// A string as a KDL value; `${` is written `$${` so planrun does not read it as a variable.
fn string(s: &str) -> String {
    kdl_string(&s.replace("${", "$${"))
}

/// A string that is always quoted (paths, images, durations), as the language reference writes them.
fn quoted(s: &str) -> String {
    format!("{:?}", s.replace("${", "$${"))
}

impl Draft {
    fn gate_name(s: &Service) -> String {
        format!("{}-healthy", s.key)
    }

    /// The plan's text (not yet in the canonical layout).
    fn render(&self) -> String {
        let stack = string(&self.stack);
        let mut out = String::new();
        out.push_str(&comment(&self.intro(), 0));
        out.push_str(&format!("plan {stack} {{\nstack {stack}\non-failure rollback\n"));
        if !self.vars.is_empty() {
            out.push('\n');
        }
        for v in &self.vars {
            let description = format!("in the image of {} (the compose file's default)", v.services.join(", "));
            // `env=` keeps what the variable of the same name in the environment gives, as it did
            // when the compose file read it from there.
            out.push_str(&format!(
                "var {} env={} default={} description={}\n",
                string(&v.name),
                quoted(&v.name),
                quoted(&v.default),
                quoted(&description)
            ));
        }
        match &self.source {
            Source::ComposeStep(file) => {
                for s in &self.services {
                    out.push('\n');
                    out.push_str(&self.gate(s));
                }
                let gates: Vec<String> = self.services.iter().map(|s| string(&Self::gate_name(s))).collect();
                out.push_str(&format!("\ncompose {stack} {{\nfile {}\n", quoted(file)));
                if !gates.is_empty() {
                    out.push_str(&format!("gates {}\n", gates.join(" ")));
                }
                out.push_str("}\n");
            }
            Source::ComposeServices(_) | Source::Live => {
                for s in &self.services {
                    out.push('\n');
                    let (gate, step) = (self.gate(s), self.rolling(s));
                    match s.not_rolled {
                        None => out.push_str(&format!("{gate}{step}")),
                        Some(why) => {
                            let why = format!(
                                "{} is {why}: rolling steps update services, not one-off jobs, so its gate and \
                                 step are commented out (`/-`).",
                                s.swarm_name
                            );
                            out.push_str(&format!("{}/-{gate}/-{step}", comment(&why, 1)));
                        }
                    }
                }
            }
        }
        out.push_str("}\n");
        out
    }

    /// The comment at the top of the plan.
    fn intro(&self) -> String {
        let stack = &self.stack;
        match &self.source {
            Source::ComposeStep(file) => format!(
                "Written by `planrun init` from {file}. A compose step deploys the whole file as the stack \
                 `{stack}`, as `docker stack deploy` does; then a swarm gate per service judges the release, \
                 and on failure the whole stack goes back."
            ),
            Source::ComposeServices(file) => format!(
                "Written by `planrun init --rolling` from {file}. A rolling step per service takes its image \
                 and replicas from the file, then judges its swarm gate. Rolling steps update services that \
                 exist: deploy the stack once first (`planrun init` without --rolling writes a compose step, \
                 which creates them). Update settings the file does not give are planrun's (start-first, \
                 rollback)."
            ),
            Source::Live => format!(
                "Written by `planrun init {stack}` from the live stack. A rolling step per service \
                 sets the image, replicas and update settings it runs now (Swarm's defaults where it has \
                 none), then judges its swarm gate. Change an image and apply the plan to release it."
            ),
        }
    }

    /// `gate SVC-healthy { ... }`: three measurements two seconds apart for a service with a
    /// health check (a task turning unhealthy shows within them), one otherwise.
    fn gate(&self, s: &Service) -> String {
        let timing = if s.health { "count 3\ninterval \"2s\"\n" } else { "count 1\n" };
        format!("gate {} {{\nswarm {}\n{timing}}}\n", string(&Self::gate_name(s)), string(&s.swarm_name))
    }

    fn rolling(&self, s: &Service) -> String {
        let mut out = format!("rolling {} {{\n", string(&s.key));
        match &self.source {
            Source::ComposeServices(file) => {
                out.push_str(&format!("compose {} service={}\n", quoted(file), string(&s.key)));
            }
            Source::ComposeStep(_) | Source::Live => {
                out.push_str(&format!("service {}\n", string(&s.swarm_name)));
                out.push_str(&format!("image {}\n", quoted(s.image.as_deref().unwrap_or_default())));
                if let Some(n) = s.replicas {
                    out.push_str(&format!("replicas {n}\n"));
                }
            }
        }
        let u = &s.update;
        if let Some(p) = u.parallelism {
            let note = if p.all_at_once { " // Swarm's 0: every task at once" } else { "" };
            out.push_str(&format!("parallelism {}{note}\n", p.value));
        }
        if let Some(d) = &u.delay {
            out.push_str(&format!("delay {}\n", quoted(d)));
        }
        if let Some(o) = &u.order {
            out.push_str(&format!("order {}\n", string(o)));
        }
        if let Some(a) = &u.failure_action {
            out.push_str(&format!("failure-action {}\n", string(a)));
        }
        if let Some(m) = &u.monitor {
            out.push_str(&format!("monitor {}\n", quoted(m)));
        }
        if let Some(r) = u.max_failure_ratio {
            out.push_str(&format!("max-failure-ratio {r:?}\n"));
        }
        out.push_str(&format!("gates {}\n}}\n", string(&Self::gate_name(s))));
        out
    }
}

/// Widest line of a comment, indentation included.
const WIDTH: usize = 100;

/// `text` as `//` lines no wider than [`WIDTH`] at `depth` levels of indentation (the layout
/// indents them).
fn comment(text: &str, depth: usize) -> String {
    let room = WIDTH - 4 * depth - 3;
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > room {
            out.push_str(&format!("// {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("// {line}\n"));
    }
    out
}

/// A name for a stack made of a directory's name: lower case letters, digits, `-` and `_`.
fn sanitize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_owned()
}

/// `to` relative to the directory `from` (both absolute).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        HealthConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
    };

    use super::*;

    #[test]
    fn image_variables_with_a_default_become_plan_variables() {
        let text = "services:\n  web:\n    image: reg/web:${TAG:-1.4}\n  api:\n    image: reg/api:${TAG:-1.4}\n  db:\n    image: postgres:${PG-15}\n  job:\n    image: tool:${TOOL}\n";
        let vars = image_vars(text);
        let got: Vec<(&str, &str, Vec<&str>)> = vars
            .iter()
            .map(|v| (v.name.as_str(), v.default.as_str(), v.services.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            got,
            [("TAG", "1.4", vec!["web", "api"]), ("PG", "15", vec!["db"])],
            "a variable without a default is left to the environment"
        );
        let two = "services:\n  web:\n    image: web:${TAG:-1.4}\n  api:\n    image: api:${TAG:-2.0}\n";
        assert!(image_vars(two).is_empty(), "two defaults for one name: left to the file");
    }

    #[test]
    fn durations_in_planruns_words() {
        assert_eq!(duration(5_000_000_000), "5s");
        assert_eq!(duration(90_000_000_000), "1m30s");
        assert_eq!(duration(500_000_000), "500ms");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(1), "1ms", "rounded up, never to nothing");
        assert_eq!(duration(3_600_000_000_000), "1h");
    }

    #[test]
    fn a_stack_named_after_a_directory() {
        assert_eq!(sanitize("My Shop.v2"), "my-shop-v2");
        assert_eq!(sanitize("compose"), "compose");
        assert_eq!(sanitize("__x__"), "x");
        assert_eq!(sanitize("..."), "");
    }

    #[test]
    fn relative_paths_go_up_then_down() {
        let r = |a: &str, b: &str| relative_path(Path::new(a), Path::new(b)).display().to_string();
        assert_eq!(r("/repo/examples", "/repo/examples/compose/docker-compose.yml"), "compose/docker-compose.yml");
        assert_eq!(r("/tmp/x", "/repo/a.yml"), "../../repo/a.yml");
        assert_eq!(r("/repo", "/repo/a.yml"), "a.yml");
    }

    #[test]
    fn values_are_quoted_as_kdl_2_needs_and_dollar_braces_escaped() {
        assert_eq!(string("web"), "web");
        assert_eq!(string("2fa"), "\"2fa\"");
        assert_eq!(quoted("app:v1"), "\"app:v1\"");
        assert_eq!(quoted("a/${X}.yml"), "\"a/$${X}.yml\"");
    }

    fn live(name: &str, mode: ServiceSpecMode, update: Option<ServiceSpecUpdateConfig>, health: bool) -> LiveService {
        LiveService {
            spec: Some(ServiceSpec {
                name: Some(name.into()),
                mode: Some(mode),
                update_config: update,
                task_template: Some(TaskSpec {
                    container_spec: Some(TaskSpecContainerSpec {
                        image: Some("app:v1@sha256:abc".into()),
                        health_check: health.then(|| HealthConfig {
                            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn replicated(n: i64) -> ServiceSpecMode {
        ServiceSpecMode { replicated: Some(ServiceSpecModeReplicated { replicas: Some(n) }), ..Default::default() }
    }

    fn rendered(draft: &Draft) -> String {
        let text = plans::fmt::format(&draft.render()).expect("init's text lays out");
        let checked = plans::check(SourceFile::new("plan.kdl", text.clone()), &Inputs::default());
        assert!(!checked.has_errors(), "{text}\n{:#?}", checked.diagnostics);
        text
    }

    #[test]
    fn a_live_stack_gets_its_own_settings_and_swarms_defaults_where_it_has_none() {
        let update = ServiceSpecUpdateConfig {
            parallelism: Some(0),
            delay: Some(1_500_000_000),
            failure_action: Some(Action::ROLLBACK),
            monitor: Some(0),
            max_failure_ratio: Some(0.25),
            order: Some(LiveOrder::START_FIRST),
        };
        let services = [
            live("shop_api", replicated(3), Some(update), true),
            live("shop_web", replicated(2), None, false),
            live("shop_agent", ServiceSpecMode { global: Some(Default::default()), ..Default::default() }, None, false),
        ];
        let text = rendered(&from_live("shop", &services));
        for expected in [
            "rolling api {\n        service shop_api\n        image \"app:v1@sha256:abc\"\n        replicas 3\n        \
             parallelism 3 // Swarm's 0: every task at once\n        delay \"1s500ms\"\n        order start-first\n        \
             failure-action rollback\n        monitor \"5s\"\n        max-failure-ratio 0.25\n        gates api-healthy\n",
            "gate api-healthy {\n        swarm shop_api\n        count 3\n        interval \"2s\"\n    }",
            "parallelism 1\n        delay \"0s\"\n        order stop-first\n        failure-action pause\n        \
             monitor \"5s\"\n        max-failure-ratio 0.0\n        gates web-healthy",
            "gate web-healthy {\n        swarm shop_web\n        count 1\n    }",
            "rolling agent {\n        service shop_agent\n        image \"app:v1@sha256:abc\"\n        parallelism 1\n",
            "gate agent-healthy",
        ] {
            assert!(text.contains(expected), "{expected}\nnot in\n{text}");
        }
        assert!(!text.contains("replicas 1\n        parallelism 1\n        delay \"0s\"\n        order stop-first"));
        assert!(!text.contains("/-"), "a global service is rolled like any other:\n{text}");
    }
}
