//! Why a step refused to start, or to go on, before it changed anything it could not put back:
//! one variant per reason, carrying what it names, and the words in one place ([`Refusal`]'s
//! `Display`), so a test matches the reason and a user reads what to do.

use std::fmt;
use std::path::PathBuf;

use plans::percentage::Percentage;

use super::switch::ColourError;
use crate::cause::IoError;
use crate::database::TargetError;
use crate::services::job::JobError;

/// A network, config or secret a compose file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmObject {
    /// A network.
    Network,
    /// A config object.
    Config,
    /// A secret.
    Secret,
}

impl fmt::Display for SwarmObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwarmObject::Network => "network",
            SwarmObject::Config => "config",
            SwarmObject::Secret => "secret",
        })
    }
}

/// Why a step refused: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The plan was checked without its files, so the compose file's content is unknown.
    ComposeNotRead {
        /// The compose file, as the plan names it.
        file: String,
    },
    /// The plan was checked without its files, so the migration's statements are unknown.
    SqlNotRead {
        /// The SQL file, as the plan names it.
        file: String,
    },
    /// An external network, config or secret the compose file names does not exist.
    ExternalMissing {
        /// What it is.
        object: SwarmObject,
        /// Its name on the swarm.
        name: String,
    },
    /// The file of a config or secret cannot be read.
    ObjectFile {
        /// A config or a secret.
        object: SwarmObject,
        /// Its key in the compose file.
        key: String,
        /// The file, as the compose file names it.
        file: String,
        /// Why.
        error: IoError,
    },
    /// A config or secret exists with other content, and Swarm cannot change one.
    ObjectChanged {
        /// A config or a secret.
        object: SwarmObject,
        /// Its name on the swarm.
        name: String,
    },
    /// A migration file holds a psql command (`\set`), which only psql understands.
    PsqlCommand {
        /// The SQL file, as the plan names it.
        file: String,
        /// Its line (1-based).
        line: usize,
        /// The command's line.
        command: String,
    },
    /// No backup of the database was verified earlier in the run.
    NoBackup {
        /// The database, described.
        database: String,
    },
    /// A migration file changed since a run applied it (in full, or partly).
    AppliedFileChanged {
        /// The SQL file.
        file: String,
        /// The run that applied it.
        run_id: String,
        /// For a file applied partly: (statements completed, statements in all).
        partial: Option<(usize, usize)>,
    },
    /// The step names no database planrun can use.
    Database(TargetError),
    /// The backup directory cannot be created.
    BackupDirectory {
        /// The directory.
        dir: PathBuf,
        /// Why.
        error: IoError,
    },
    /// A router's template cannot be read.
    Template {
        /// The template's path.
        path: PathBuf,
        /// Why.
        error: IoError,
    },
    /// The router's program (nginx, caddy) rejects the config rendered from the template.
    RouterRejects {
        /// The program that checked it.
        program: &'static str,
        /// The template, as the plan names it.
        template: String,
        /// The colour the config sends traffic to.
        upstream: String,
        /// The check job's failure.
        error: Box<JobError>,
    },
    /// Which colour is live cannot be told.
    Colours(ColourError),
    /// A colour of a blue-green step is a global service.
    GlobalColour {
        /// The service.
        service: String,
    },
    /// A canary step's service is global.
    GlobalCanary {
        /// The service.
        service: String,
    },
    /// A canary stage asks for a share of the traffic that cannot be reached beside the
    /// stable service.
    UnreachableTraffic {
        /// The share asked for.
        traffic: Percentage,
    },
    /// A rolling step sets `replicas` on a global service.
    ReplicasOfGlobal {
        /// The replicas the step asks for.
        replicas: u64,
        /// The service.
        service: String,
    },
    /// Undo found a service changed since the run changed it (by a person, or a later run):
    /// writing the recorded spec would throw that change away.
    ChangedSince {
        /// The service.
        service: String,
        /// The image it runs now.
        image: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ChangedSince { service, image } => write!(
                f,
                "service `{service}` was changed since this run changed it (it runs {image} now, with a spec \
                 that is neither the one the run wrote nor the one before): undoing would throw that change \
                 away, so it is left as it is; look at `docker service inspect {service}`, and put it back by \
                 hand if the change was a mistake"
            ),
            Refusal::ComposeNotRead { file } => write!(
                f,
                "the compose file `{file}` was not read when the plan was checked \
                 (the plan was checked without its files)"
            ),
            Refusal::SqlNotRead { file } => write!(
                f,
                "the SQL file `{file}` was not read when the plan was checked (the plan was checked without its files)"
            ),
            Refusal::ExternalMissing { object, name } => {
                write!(f, "{object} `{name}` is external in the compose file but does not exist: create it first")
            }
            Refusal::ObjectFile { object, key, file, error } => {
                write!(f, "cannot read the file of {object} `{key}` ({file}): {error}")
            }
            Refusal::ObjectChanged { object, name } => write!(
                f,
                "{object} `{name}` exists with other content, and Swarm {object}s cannot change: give the new \
                 content a new name in the compose file (`name: {name}_v2`), so services move to it"
            ),
            Refusal::PsqlCommand { file, line, command } => write!(
                f,
                "{file}:{line}: `{command}` is a psql command, not SQL: planrun sends statements to the server itself"
            ),
            Refusal::NoBackup { database } => write!(
                f,
                "no backup of {database} verified earlier in this run: add a `backup` step this one comes after, \
                 or say `require-backup #false` in the step"
            ),
            Refusal::AppliedFileChanged { file, run_id, partial } => {
                write!(f, "{file} changed since run {run_id} applied it")?;
                if let Some((completed, statements)) = partial {
                    write!(f, " ({completed} of {statements} statements)")?;
                }
                f.write_str(": write a new migration file instead of editing an applied one")
            }
            Refusal::Database(e) => e.fmt(f),
            Refusal::BackupDirectory { dir, error } => {
                write!(f, "cannot create the backup directory {}: {error}", dir.display())
            }
            Refusal::Template { path, error } => write!(f, "cannot read the template {}: {error}", path.display()),
            Refusal::RouterRejects { program, template, upstream, error } => write!(
                f,
                "{program} rejects the config rendered from {template} for {upstream}; the router stays as it was: {error}"
            ),
            Refusal::Colours(e) => e.fmt(f),
            Refusal::GlobalColour { service } => write!(
                f,
                "`{service}` is a global service (one task on every node that may run it): \
                 a colour must be replicated, to run at the live colour's size and be scaled to 0 when it retires; \
                 use a rolling step"
            ),
            Refusal::GlobalCanary { service } => write!(
                f,
                "service `{service}` is global (one task on every node that may run it): a canary of it would \
                 have no share to take, since a canary's share of the traffic is its replicas against the stable \
                 service's and a global service has no replica count; use a rolling step"
            ),
            Refusal::UnreachableTraffic { traffic } => write!(
                f,
                "traffic=\"{traffic}\" cannot be reached beside a stable service that keeps running: promote instead"
            ),
            Refusal::ReplicasOfGlobal { replicas, service } => write!(
                f,
                "`replicas {replicas}` cannot apply to `{service}`: it is a global service \
                 (one task on every node that may run it), which has no replica count; remove `replicas` from the step"
            ),
        }
    }
}

impl From<TargetError> for Refusal {
    fn from(e: TargetError) -> Self {
        Refusal::Database(e)
    }
}

impl From<ColourError> for Refusal {
    fn from(e: ColourError) -> Self {
        Refusal::Colours(e)
    }
}
