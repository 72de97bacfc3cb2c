//! `planrun plan`: load the plan, read what is live (read-only), simulate, render the report
//! (`plan_render`), save it with `-o`, and exit as review tools expect.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::args::{PlanArgs, PlanFormat};
use crate::cli::{EXIT_INVALID, EXIT_USAGE, connect, load_valid, plan_render, report};
use crate::load;
use crate::plan::live::{self, LiveState, ReadOnly};
use crate::plan::saved::SavedPlan;
use crate::plan::simulate::{self, Knobs};
use crate::plan::{self as planning, Offline, Request, calibrate};

/// Runs `planrun plan`.
pub fn plan(a: PlanArgs) -> ExitCode {
    // Terraform's -detailed-exitcode: every error is 1, 2 means "changes".
    let error = |code: u8| ExitCode::from(if a.detailed_exitcode { EXIT_INVALID } else { code });
    let loaded = match load_valid(&a.plan, &a.inputs) {
        Ok(l) => l,
        Err(code) => return if a.detailed_exitcode { ExitCode::from(EXIT_INVALID) } else { code },
    };
    let (Some(plan), Some(graph)) = (loaded.checked.plan.clone(), loaded.checked.graph.clone()) else {
        return error(EXIT_INVALID);
    };
    let shown = load::shown_name(&a.plan, a.inputs.stdin_filename.as_deref());
    let plan_dir =
        shown.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| ".".into());
    let failure = match a.fail.as_deref().map(|name| simulate::can_fail(&plan, name)) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(why)) => return crate::cli::fail(if a.detailed_exitcode { EXIT_INVALID } else { EXIT_USAGE }, why),
    };
    let environment = loaded.environment.as_ref().map(|(_, e)| e.clone());
    let live: Result<LiveState, Offline> =
        if a.offline { Err(Offline::Asked) } else { read_live(environment.as_ref(), &plan) };
    if let Err(why) = &live
        && *why != Offline::Asked
        && require_live(a.require_live, a.allow_offline, std::env::var_os("CI"))
    {
        return crate::cli::fail(
            if a.detailed_exitcode { EXIT_INVALID } else { EXIT_USAGE },
            unreachable(why, loaded.environment.as_ref().map(|(n, _)| n.as_str()), a.require_live),
        );
    }
    if let Ok(state) = &live
        && !state.missing.is_empty()
    {
        for m in &state.missing {
            eprintln!(
                "error: service `{}` does not exist on the swarm ({} names it); create it first, or fix the name",
                m.service, m.named_by
            );
        }
        return error(EXIT_INVALID);
    }
    if let Err(why) = &live
        && a.out.is_some()
    {
        return crate::cli::fail(
            if a.detailed_exitcode { EXIT_INVALID } else { EXIT_USAGE },
            format!("-o needs what is live, to tell at apply whether the swarm moved on; planning offline ({why})"),
        );
    }
    let (mut knobs, mut sources) = knobs_of(&loaded.simulation);
    knobs.parallelism = usize::from(a.parallelism);
    let live_or_offline = match &live {
        Ok(s) => s.clone(),
        Err(_) => planning::offline_state(&plan, loaded.simulation.replicas.unwrap_or(2)),
    };
    if let Some(run) = &a.calibrate_from {
        let records = match journal_of(&a.state_dir, &plan.stack.value, run) {
            Ok(r) => r,
            Err(why) => return crate::cli::fail(if a.detailed_exitcode { EXIT_INVALID } else { EXIT_USAGE }, why),
        };
        let (k, said) = calibrate::from_journal(&plan, &graph, &plan_dir, &live_or_offline, &knobs, &records);
        knobs = k;
        sources.push(format!("calibrated from run {run}:"));
        sources.extend(said.into_iter().map(|s| format!("  {s}")));
    }
    let request = Request {
        plan: &plan,
        graph: &graph,
        file: loaded.checked.file.name.clone(),
        plan_dir: &plan_dir,
        live: live.clone(),
        knobs,
        knob_sources: sources,
        offline_replicas: loaded.simulation.replicas.unwrap_or(2),
        fail: failure,
        environment: loaded.environment.as_ref().map(|(n, _)| n.clone()),
    };
    let built = planning::build(&request);
    let text = match a.format {
        PlanFormat::Human => plan_render::human(&built, crate::cli::terminal::colour_on_stdout()),
        PlanFormat::Markdown => plan_render::markdown(&built, plan_render::COMMENT_LIMIT),
        PlanFormat::Json => serde_json::to_string_pretty(&built).expect("a report serializes") + "\n",
    };
    report::write(report::Stream::Stdout, &text);
    if let (Some(out), Ok(state)) = (&a.out, &live) {
        let saved = SavedPlan::new(
            loaded.checked.file.name.clone(),
            std::path::absolute(&plan_dir).unwrap_or(plan_dir.clone()).display().to_string(),
            loaded.checked.file.text.to_string(),
            &a.inputs.vars,
            a.inputs.env.clone(),
            state,
        );
        let json = serde_json::to_string_pretty(&saved).expect("a saved plan serializes");
        if let Err(e) = crate::private::write(out, (json + "\n").as_bytes()) {
            return crate::cli::fail(
                if a.detailed_exitcode { EXIT_INVALID } else { EXIT_USAGE },
                format!("cannot write {}: {e}", out.display()),
            );
        }
        eprintln!("saved the plan to {}; `planrun apply {}` applies exactly it", out.display(), out.display());
    }
    match (a.detailed_exitcode, built.summary.changes_present) {
        (true, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

/// Whether an unreachable swarm is an error: `--require-live`, or in CI (`CI` set to anything
/// but `false`, `0` or nothing) unless `--allow-offline`.
fn require_live(flag: bool, allow_offline: bool, ci: Option<std::ffi::OsString>) -> bool {
    let in_ci = ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    flag || (in_ci && !allow_offline)
}

/// The error when the swarm cannot be read and a plan needs it: what, why, and the fix.
fn unreachable(why: &Offline, environment: Option<&str>, asked: bool) -> String {
    let from = match environment {
        Some(env) => format!("the swarm of environment `{env}` (planrun.toml's docker-host)"),
        None => "the swarm (DOCKER_HOST, or the local Docker socket)".to_owned(),
    };
    let because = if asked { "--require-live" } else { "CI is set, so --require-live is the default" };
    format!(
        "cannot plan: {from} cannot be read: {why}; {because}, and a plan from the file alone would review nothing live. \
         Fix: make the swarm reachable from here (docker-host, TLS certificates), or pass --offline (or --allow-offline) \
         to plan from the file alone"
    )
}

/// Reads what is live, through a swarm that refuses writes; why not, when it cannot.
pub(crate) fn read_live(
    environment: Option<&plans::project::Environment>,
    plan: &plans::model::Plan,
) -> Result<LiveState, Offline> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let cluster = connect(environment).await.map_err(Offline::Docker)?;
        let read_only = ReadOnly(Arc::clone(&cluster));
        live::read(&read_only, plan).await.map_err(Offline::Swarm)
    })
}

/// The knobs planrun.toml's `[simulation]` sets, over the defaults, and what they are, in words.
pub(crate) fn knobs_of(s: &plans::project::Simulation) -> (Knobs, Vec<String>) {
    let mut k = Knobs::default();
    let mut said = Vec::new();
    let mut set = |name: &str, value: Option<plans::duration::Duration>, slot: &mut std::time::Duration| {
        let from = match value {
            Some(v) => {
                *slot = v.to_std();
                "planrun.toml"
            }
            None => "default",
        };
        said.push(format!("{name}: {} ({from})", crate::clock::seconds(*slot)));
    };
    set("task start", s.task_start, &mut k.task_start);
    set("gate measurement", s.measurement, &mut k.measurement);
    set("run step command", s.command, &mut k.run_command);
    set("SQL statement", s.statement, &mut k.statement);
    set("approval", s.approval, &mut k.approval);
    for (gate, d) in &s.gates {
        k.gate_measurement.insert(gate.clone(), d.to_std());
        said.push(format!("gate `{gate}` measurement: {d} (planrun.toml)"));
    }
    for (step, d) in &s.commands {
        k.command.insert(step.clone(), d.to_std());
        said.push(format!("step `{step}` command: {d} (planrun.toml)"));
    }
    (k, said)
}

/// The journal of `run` (a run id, or a journal file).
fn journal_of(state_dir: &Path, stack: &str, run: &str) -> Result<Vec<crate::events::Record>, String> {
    let direct = PathBuf::from(run);
    let path = if direct.is_file() {
        direct
    } else {
        let all = crate::journal::all(state_dir, stack).map_err(|e| format!("cannot list journals: {e}"))?;
        all.into_iter().find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy().contains(run))).ok_or_else(|| {
            format!(
                "--calibrate-from {run}: no journal of that run in {}",
                crate::journal::stack_dir(state_dir, stack).display()
            )
        })?
    };
    crate::journal::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_swarm_is_an_error_when_asked_or_in_ci_unless_offline_is_allowed() {
        assert!(require_live(true, false, None));
        assert!(!require_live(false, false, None));
        assert!(require_live(false, false, Some("true".into())));
        assert!(require_live(false, false, Some("1".into())));
        assert!(!require_live(false, false, Some("false".into())));
        assert!(!require_live(false, false, Some("0".into())));
        assert!(!require_live(false, false, Some("".into())));
        assert!(!require_live(false, true, Some("true".into())));
    }
}
