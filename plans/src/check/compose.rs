//! Compose files the plan names: a `compose` step's file is read (its unsupported keys are
//! warnings at their lines, its bad values errors) and the step learns which services it
//! changes; a `compose FILE service=NAME` setting in a rolling, canary or blue-green step fills in
//! the service (`STACK_NAME`), the image and, for rolling and canary steps, the replica count the
//! plan leaves out. Interpolation sees the plan's variables first, then the environment.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::compose::{self, ComposeFile, Mode};
use crate::diagnostic::problem::ComposeProblem;
use crate::diagnostic::{Diagnostic, SourceFile};
use crate::model::Plan;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::steps::StepKind;
use crate::steps::compose::{FromCompose, Resolved};
use crate::steps::update::UpdatePolicy;

/// A compose file read for a plan.
#[derive(Debug, Clone)]
pub struct Read {
    /// The file (its name as the plan writes it, relative to the current directory).
    pub source: Arc<SourceFile>,
    /// The model, when the file has no error.
    pub file: Option<ComposeFile>,
    /// Its diagnostics, pointing into it, named where the plan names it.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the compose file `named` (relative to `dir`) with the plan's variables and `env` for
/// interpolation. A file that cannot be read is one error at `named`.
pub fn read(plan: &Plan, named: &Spanned<String>, dir: &Path, env: &HashMap<String, String>) -> Read {
    let path = dir.join(&named.value);
    let shown = if dir == Path::new(".") { named.value.clone() } else { path.display().to_string() };
    match std::fs::read_to_string(&path) {
        Err(e) => Read {
            source: Arc::new(SourceFile::new(shown, String::new())),
            file: None,
            diagnostics: vec![Diagnostic::new(
                ComposeProblem::Unreadable { named: &named.value, path: &path, error: &e },
                named.span,
            )],
        },
        Ok(text) => {
            let vars: HashMap<&str, &str> =
                plan.variables.iter().map(|v| (v.name.value.as_str(), v.value.as_str())).collect();
            let lookup = |name: &str| vars.get(name).map(|v| v.to_string()).or_else(|| env.get(name).cloned());
            let base = std::path::absolute(path.parent().unwrap_or(Path::new("."))).unwrap_or_default();
            let dir = compose::values::clean(&base.to_string_lossy());
            let (mut file, mut diagnostics) = compose::load(&text, compose::Context { lookup: &lookup, dir: &dir });
            if let Some(f) = &mut file
                && !(env_files(f, &base, &lookup, &mut diagnostics) & bind_sources(f, &mut diagnostics))
            {
                file = None;
            }
            let source = Arc::new(SourceFile::new(shown, text));
            let diagnostics = diagnostics.into_iter().map(|d| d.in_named_file(source.clone(), named.span)).collect();
            Read { source, file, diagnostics }
        }
    }
}

/// Reads each service's `env_file`s (relative to the compose file's directory) under its
/// `environment`, as docker does: later files win over earlier ones and `environment` over
/// all; leading blanks and `#` comment lines are skipped, a value keeps its trailing blanks, a
/// bare `KEY` takes the environment's value (and is left out when it has none), and an empty
/// value takes the environment's when it has one. A file that cannot be read, or a line docker
/// refuses, is an error at the file's path; returns whether every file was read.
fn env_files(
    file: &mut ComposeFile,
    base: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let mut ok = true;
    for service in &mut file.services {
        let mut merged: std::collections::BTreeMap<String, Option<String>> = std::collections::BTreeMap::new();
        for named in &service.env_files {
            let path = base.join(&named.value);
            let fail = |why: String| {
                let problem = ComposeProblem::UnreadableEnvFile {
                    named: &named.value,
                    service: &service.name.value,
                    why: &why,
                    path: &path,
                };
                Diagnostic::new(problem, named.span)
            };
            match std::fs::read_to_string(&path) {
                Err(e) => {
                    ok = false;
                    out.push(fail(e.to_string()));
                }
                Ok(text) => match env_lines(&text, lookup) {
                    Ok(pairs) => {
                        for (key, value) in pairs {
                            let value = match value {
                                v if v.is_empty() => lookup(&key).unwrap_or(v),
                                v => v,
                            };
                            merged.insert(key, Some(value));
                        }
                    }
                    Err(why) => {
                        ok = false;
                        out.push(fail(why));
                    }
                },
            }
        }
        for (key, value) in merged {
            service.environment.entry(key).or_insert(value);
        }
    }
    ok
}

/// Every bind source written relative to the compose file (or to `~`) exists: docker resolves
/// it on this machine, and a task whose source is missing fails to start with
/// `bind source path does not exist`. Returns whether all exist.
fn bind_sources(file: &ComposeFile, out: &mut Vec<Diagnostic>) -> bool {
    let mut ok = true;
    for s in &file.services {
        for m in s.volumes.iter().filter(|m| m.relative) {
            let Some(source) = m.source.as_deref() else { continue };
            if !Path::new(source).exists() {
                ok = false;
                out.push(Diagnostic::new(ComposeProblem::NoBindSource { source }, m.source_span));
            }
        }
    }
    ok
}

/// docker's `kvfile.Parse`: `KEY=VALUE` lines as they are (leading blanks dropped), a bare
/// `KEY` from the environment (left out when unset), blank lines and `#` comments skipped.
fn env_lines(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(format!("no variable name on line '{line}'"));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        match value {
            Some(v) => out.push((key.to_owned(), v.to_owned())),
            None => {
                if let Some(v) = lookup(key) {
                    out.push((key.to_owned(), v));
                }
            }
        }
    }
    Ok(out)
}

/// Reads every compose file the plan names and fills in what the steps take from them.
pub fn resolve(plan: &mut Plan, dir: &Path, env: &HashMap<String, String>, out: &mut Vec<Diagnostic>) {
    let mut cache: HashMap<String, Read> = HashMap::new();
    let stack = plan.stack.value.clone();
    let mut read_with_source = |plan: &Plan, named: &Spanned<String>, out: &mut Vec<Diagnostic>| {
        let entry = cache.entry(named.value.clone()).or_insert_with(|| {
            let r = read(plan, named, dir, env);
            out.extend(r.diagnostics.iter().cloned());
            r
        });
        entry.file.clone().map(|f| (f, entry.source.clone()))
    };
    for i in 0..plan.steps.len() {
        let kind = plan.steps[i].kind.clone();
        match kind {
            StepKind::Compose(c) => {
                if let Some((file, source)) = read_with_source(plan, &c.file, out)
                    && let StepKind::Compose(step) = &mut plan.steps[i].kind
                {
                    step.services = file.services.iter().map(|s| format!("{stack}_{}", s.name.value)).collect();
                    let dir = dir.join(&c.file.value).parent().map(Path::to_path_buf).unwrap_or_default();
                    step.resolved = Some(Arc::new(Resolved { file, dir, source }));
                }
            }
            StepKind::Rolling(r) => {
                let Some(from) = &r.compose else { continue };
                let Some((file, _)) = read_with_source(plan, &from.file, out) else { continue };
                let Some(service) = find(&file, from, out) else { continue };
                if let StepKind::Rolling(step) = &mut plan.steps[i].kind {
                    let target = Rollout {
                        name: &mut step.service,
                        image: &mut step.image,
                        replicas: &mut step.replicas,
                        update: &mut step.update,
                    };
                    target.fill(&stack, service, from);
                }
            }
            StepKind::Canary(c) => {
                let Some(from) = &c.compose else { continue };
                let Some((file, _)) = read_with_source(plan, &from.file, out) else { continue };
                let Some(service) = find(&file, from, out) else { continue };
                if let StepKind::Canary(step) = &mut plan.steps[i].kind {
                    let target = Rollout {
                        name: &mut step.service,
                        image: &mut step.image,
                        replicas: &mut step.replicas,
                        update: &mut step.update,
                    };
                    target.fill(&stack, service, from);
                }
            }
            StepKind::BlueGreen(b) => {
                let Some(from) = &b.compose else { continue };
                let Some((file, _)) = read_with_source(plan, &from.file, out) else { continue };
                let Some(service) = find(&file, from, out) else { continue };
                if let StepKind::BlueGreen(step) = &mut plan.steps[i].kind
                    && step.image.value.is_empty()
                {
                    step.image = Spanned::new(service.image.value.clone(), from.service.span);
                }
            }
            StepKind::Backup(_) | StepKind::Migrate(_) | StepKind::Check(_) | StepKind::Run(_) | StepKind::Pause(_) => {
            }
        }
    }
}

fn find<'f>(file: &'f ComposeFile, from: &FromCompose, out: &mut Vec<Diagnostic>) -> Option<&'f compose::Service> {
    let found = file.service(&from.service.value);
    if found.is_none() {
        let names: Vec<&str> = file.services.iter().map(|s| s.name.value.as_str()).collect();
        let best = crate::suggest::did_you_mean(&from.service.value, names.iter().copied());
        let problem =
            ComposeProblem::NoSuchService { file: &from.file.value, service: &from.service.value, best, names: &names };
        out.push(Diagnostic::new(problem, from.service.span));
    }
    found
}

/// What a rolling or canary step takes from a compose file.
struct Rollout<'a> {
    name: &'a mut Spanned<String>,
    image: &'a mut Spanned<String>,
    replicas: &'a mut Option<Spanned<u64>>,
    update: &'a mut UpdatePolicy,
}

impl Rollout<'_> {
    /// The service's Swarm name, image, replica count and update settings, where the plan left
    /// them out.
    fn fill(self, stack: &str, service: &compose::Service, from: &FromCompose) {
        let at: Span = from.service.span;
        if self.name.value.is_empty() {
            *self.name = Spanned::new(format!("{stack}_{}", service.name.value), at);
        }
        if self.image.value.is_empty() {
            *self.image = Spanned::new(service.image.value.clone(), at);
        }
        if self.replicas.is_none()
            && let Mode::Replicated(n) = service.deploy.mode
        {
            *self.replicas = Some(Spanned::new(n, at));
        }
        if let Some(u) = &service.deploy.update_config {
            self.update.fill_from(u);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::span::Span;
    use crate::spanned::Spanned;
    use crate::{Inputs, SourceFile};

    fn check(plan: &str, compose: &str) -> crate::Checked {
        let dir = std::env::temp_dir().join(format!("planrun-check-compose-{}-{}", std::process::id(), plan.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("docker-compose.yml"), compose).unwrap();
        let inputs = Inputs { files: Some(dir.clone()), ..Inputs::default() };
        let checked = crate::check(SourceFile::new("plan.kdl", plan), &inputs);
        let _ = std::fs::remove_dir_all(&dir);
        checked
    }

    const COMPOSE: &str = "services:\n  web:\n    image: app:${TAG:-v3}\n    deploy:\n      replicas: 4\n      update_config: {parallelism: 2, order: stop-first, monitor: 30s}\n  agent:\n    image: agent:v1\n    deploy:\n      mode: global\n";

    #[test]
    fn a_rolling_step_takes_service_image_and_replicas_from_the_compose_file() {
        let plan = "plan p {\n    stack shop\n    var TAG default=v9\n    gate g { swarm shop_web }\n    rolling web {\n        compose \"docker-compose.yml\" service=web\n        gates g\n    }\n}\n";
        let checked = check(plan, COMPOSE);
        assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
        let plan = checked.plan.unwrap();
        let crate::steps::StepKind::Rolling(r) = &plan.steps[0].kind else { panic!() };
        assert_eq!(r.service.value, "shop_web");
        assert_eq!(r.image.value, "app:v9", "the plan's variable interpolates the compose file");
        assert_eq!(r.replicas.as_ref().map(|n| n.value), Some(4));
        assert_eq!(r.update.parallelism, 2, "the compose file's update_config");
        assert_eq!(r.update.order, crate::steps::update::Order::StopFirst);
        assert_eq!(r.update.monitor, crate::duration::Duration::from_secs(30));
    }

    #[test]
    fn what_the_step_sets_wins_and_a_missing_service_is_an_error_with_a_suggestion() {
        let plan = "plan p {\n    stack shop\n    gate g { swarm x }\n    rolling web {\n        compose \"docker-compose.yml\" service=web\n        image \"app:pinned\"\n        replicas 2\n        order start-first\n        gates g\n    }\n    canary w2 {\n        compose \"docker-compose.yml\" service=webb\n        stage replicas=1\n        gates g\n    }\n}\n";
        let checked = check(plan, COMPOSE);
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].message.contains("defines no service `webb`"));
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `web`?"));
        let checked = check(&plan.replace("service=webb", "service=web"), COMPOSE);
        let plan = checked.plan.unwrap();
        let crate::steps::StepKind::Rolling(r) = &plan.steps[0].kind else { panic!() };
        assert_eq!((r.image.value.as_str(), r.replicas.as_ref().map(|n| n.value)), ("app:pinned", Some(2)));
        assert_eq!(r.update.order, crate::steps::update::Order::StartFirst, "the plan's order wins");
        assert_eq!(r.update.parallelism, 2, "the rest comes from the file");
    }

    #[test]
    fn a_relative_bind_source_that_does_not_exist_is_an_error_at_its_line() {
        let plan = "plan p {\n    stack shop\n    gate g { swarm shop_web }\n    compose s {\n        file \"docker-compose.yml\"\n        gates g\n    }\n}\n";
        let compose = "services:\n  web:\n    image: app\n    volumes:\n      - .:/code:ro\n      - ./missing:/data\n      - /surely/not/here:/abs\n";
        let checked = check(plan, compose);
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].message.contains("bind source path does not exist") && errors[0].message.ends_with("/missing")
        );
        let named = errors[0].named_file.as_ref().expect("it points into the compose file");
        let line = named.file.line_col(errors[0].primary_span().offset).0;
        assert_eq!(line, 6, "at the entry");
    }

    #[test]
    fn env_files_fill_the_environment_as_docker_does_and_a_missing_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("planrun-env-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.env"), "# defaults\nA=from-a\nB=from-a\nC=first\nC=second\n").unwrap();
        std::fs::write(dir.join("b.env"), "B=from-b\n").unwrap();
        let compose = "services:\n  web:\n    image: app\n    env_file: [a.env, b.env]\n    environment:\n      A: from-environment\n";
        std::fs::write(dir.join("docker-compose.yml"), compose).unwrap();
        let plan = crate::model::Plan {
            name: Spanned::default(),
            stack: Spanned::new("shop".into(), Span::default()),
            on_failure: crate::model::OnFailure::Rollback,
            log: None,
            variables: Vec::new(),
            gates: Vec::new(),
            steps: Vec::new(),
            notify: Vec::new(),
            watch: None,
        };
        let named = Spanned::new("docker-compose.yml".to_string(), Span::default());
        let read = super::read(&plan, &named, &dir, &std::collections::HashMap::new());
        assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
        let env = &read.file.unwrap().services[0].environment;
        let get = |k: &str| env.get(k).cloned().flatten();
        assert_eq!(get("A").as_deref(), Some("from-environment"), "environment wins");
        assert_eq!(get("B").as_deref(), Some("from-b"), "a later file wins");
        assert_eq!(get("C").as_deref(), Some("second"), "a later line wins");
        std::fs::write(dir.join("docker-compose.yml"), compose.replace("b.env", "missing.env")).unwrap();
        let read = super::read(&plan, &named, &dir, &std::collections::HashMap::new());
        assert!(read.file.is_none());
        assert!(
            read.diagnostics[0].message.contains("cannot read the env_file `missing.env`"),
            "{:?}",
            read.diagnostics
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_compose_step_learns_its_services_and_orders_against_steps_on_them() {
        let plan = "plan p {\n    stack shop\n    gate g { swarm shop_web }\n    compose stack {\n        file \"docker-compose.yml\"\n        gates g\n    }\n    rolling web {\n        service shop_web\n        image \"app:v4\"\n        gates g\n    }\n}\n";
        let checked = check(plan, COMPOSE);
        assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
        let plan = checked.plan.unwrap();
        let crate::steps::StepKind::Compose(c) = &plan.steps[0].kind else { panic!() };
        assert_eq!(c.services, ["shop_web", "shop_agent"]);
        let graph = checked.graph.unwrap();
        assert!(graph.runs_before(0, 1), "the rolling step on shop_web waits for the compose step");
        assert_eq!(graph.layers().len(), 2);
    }
}
