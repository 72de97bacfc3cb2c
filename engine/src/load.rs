//! Reading a plan and its project file into a checked plan. The plan `-` is read from standard
//! input, named in messages by `--stdin-filename` (as editors and pre-commit hooks pass buffers).

use std::io::Read;

use std::path::{Path, PathBuf};

use plans::project::{Environment, Project};
use plans::{Checked, Diagnostic, Inputs, SourceFile};

/// What the user chose on the command line about variables and environments.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--var k=v`.
    pub vars: Vec<(String, String)>,
    /// `--env NAME`.
    pub env: Option<String>,
    /// `--project FILE`.
    pub project: Option<PathBuf>,
}

/// A plan file read and checked, with its project environment.
#[derive(Debug)]
pub struct Loaded {
    /// The checked plan.
    pub checked: Checked,
    /// The selected environment, if any.
    pub environment: Option<(String, Environment)>,
    /// The project file's `[simulation]` (for `planrun plan`).
    pub simulation: plans::project::Simulation,
    /// The project file's `[runs]`.
    pub runs: plans::project::Runs,
    /// The directory of the project file, when there is one (its files are relative to it).
    pub project_dir: Option<PathBuf>,
}

/// A failure to load that is not a diagnostic in the plan: an unreadable file, a bad project file.
#[derive(Debug)]
pub enum LoadError {
    /// A file could not be read, or the options do not fit together.
    Io(String),
    /// The project file is invalid.
    Project(Box<(SourceFile, Diagnostic)>),
}

/// Reads `path` (`-`: standard input), its project file and the environment, and checks the plan.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded, LoadError> {
    load_as(path, None, options)
}

/// The name messages give the plan at `path`: `stdin_filename` (`--stdin-filename`) or `<stdin>`
/// for `-`, else the path.
pub fn shown_name(path: &Path, stdin_filename: Option<&Path>) -> PathBuf {
    match (stdin_filename, path.as_os_str() == "-") {
        (Some(name), true) => name.to_owned(),
        (None, true) => PathBuf::from("<stdin>"),
        (_, false) => path.to_owned(),
    }
}

/// The most planrun reads of a plan or project file: a plan is kilobytes (the benchmark plan
/// of 1,000 canary steps of 10 stages each is 0.9 MiB); a file far bigger is not one, and
/// reading and checking it would take the memory and time of its size.
pub const MAX_PLAN_BYTES: u64 = 16 << 20;

/// Reads at most [`MAX_PLAN_BYTES`] from `input`, or says that `what` is larger.
fn read_bounded(input: impl Read, what: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    input.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {what}: {e}"))?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(format!(
            "{what} is larger than {} MiB, the most planrun reads of a plan or project file: not a plan \
             (a plan is kilobytes; split a generated one into several stacks)",
            MAX_PLAN_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// The text of the plan at `path` (standard input for `-`). Bytes that are not UTF-8 are a
/// problem in the plan, reported like any other (exit 1, not an I/O error): the file `shown`,
/// checked, with that one diagnostic. Fails with why the file cannot be read.
pub fn read_text(path: &Path, shown: &Path) -> Result<Result<String, Box<Checked>>, String> {
    let from_stdin = path.as_os_str() == "-";
    let bytes = if from_stdin {
        read_bounded(std::io::stdin(), "standard input")?
    } else {
        let what = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what}: {e}"))?;
        read_bounded(file, &what)?
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Ok(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let diagnostic =
                Diagnostic::new(plans::diagnostic::problem::InputProblem::NotUtf8, plans::span::Span::new(at, 1));
            let file = SourceFile::new(shown.display().to_string(), text);
            Ok(Err(Box::new(Checked { file, plan: None, graph: None, diagnostics: vec![diagnostic] })))
        }
    }
}

/// [`load`], naming a plan read from standard input `stdin_filename` in messages and looking for
/// planrun.toml beside that path.
pub fn load_as(path: &Path, stdin_filename: Option<&Path>, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let from_stdin = path.as_os_str() == "-";
    // The path messages name, and beside which planrun.toml is looked for.
    let shown = shown_name(path, stdin_filename);
    let text = match read_text(path, &shown).map_err(LoadError::Io)? {
        Ok(text) => text,
        Err(checked) => {
            return Ok(Loaded {
                checked: *checked,
                environment: None,
                simulation: Default::default(),
                runs: Default::default(),
                project_dir: None,
            });
        }
    };
    check_text(shown, from_stdin && stdin_filename.is_none(), text, options)
}

/// A plan's text as a saved plan keeps it: named `shown` (its directory is where planrun.toml
/// and the files it names are).
pub fn load_text(shown: &Path, text: String, options: &LoadOptions) -> Result<Loaded, LoadError> {
    check_text(shown.to_path_buf(), false, text, options)
}

/// Checks `text` as the plan named `shown`, with its project file; `bare_stdin`: read from
/// standard input with no name given, so planrun.toml is looked for in the current directory.
fn check_text(shown: PathBuf, bare_stdin: bool, text: String, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let project_path = options.project.clone().or_else(|| {
        let dir = if bare_stdin { Path::new(".") } else { shown.parent().unwrap_or(Path::new(".")) };
        let beside = dir.join("planrun.toml");
        beside.is_file().then_some(beside)
    });
    let mut environment = None;
    let mut simulation = plans::project::Simulation::default();
    let mut runs = plans::project::Runs::default();
    let project_dir = project_path.as_deref().map(directory_of);
    if let Some(pp) = project_path {
        let what = pp.display().to_string();
        let ptext = std::fs::File::open(&pp)
            .map_err(|e| format!("cannot read {what}: {e}"))
            .and_then(|f| read_bounded(f, &what))
            .and_then(|b| String::from_utf8(b).map_err(|e| format!("{what} is not UTF-8: {e}")))
            .map_err(LoadError::Io)?;
        let pfile = SourceFile::new(pp.display().to_string(), ptext);
        let project = Project::parse(&pfile).map_err(|d| LoadError::Project(Box::new((pfile.clone(), d))))?;
        simulation = project.simulation.clone();
        runs = project.runs.clone();
        environment = project
            .environment(options.env.as_deref())
            .map_err(|e| LoadError::Io(format!("{}: {e}", pp.display())))?
            .map(|(n, e)| (n, e.clone()));
    } else if let Some(env) = &options.env {
        return Err(LoadError::Io(format!(
            "--env {env}: no planrun.toml beside {} (use --project FILE)",
            shown.display()
        )));
    }
    let mut inputs = Inputs::from_process_env();
    inputs.overrides = options.vars.clone();
    inputs.project = environment.as_ref().map(|(n, e)| (n.clone(), e.vars.clone()));
    // Files the plan names (templates) are beside it: beside --stdin-filename for `-`.
    inputs.files = Some(
        shown
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(".")),
    );
    let checked = plans::check(SourceFile::new(shown.display().to_string(), text), &inputs);
    Ok(Loaded { checked, environment, simulation, runs, project_dir })
}

/// The directory `file` is in (`.` for a bare file name).
pub fn directory_of(file: &Path) -> PathBuf {
    file.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
