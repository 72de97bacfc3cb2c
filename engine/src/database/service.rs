//! A database that is a Swarm service: its own tools, run with its own image.
//!
//! When a task of the service runs on the node planrun talks to, the tools run in it by
//! `exec`, streaming a dump straight into a file here and a dump to verify straight out of
//! one. Otherwise each piece of work is a one-off Swarm job with the service's image on the
//! service's networks, connecting to it by name: a dump comes back base64-encoded through the
//! job's logs with its SHA-256 computed in the job, so what arrives is checked against what
//! left. A job cannot read a file from here, so verifying and restoring a dump taken that way
//! use the `pg_restore` installed beside planrun.
//!
//! The password: `PGPASSWORD` in planrun's environment goes to `exec` (never into a spec);
//! a job mounts the secret the service's own `POSTGRES_PASSWORD_FILE` names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bollard::models::TaskSpecContainerSpecSecrets;

use super::{Batch, DbError, Dump, Postgres, Ran, Target, Via, psql, sha256_of};
use crate::cluster::{Cluster, Exec, ExecInput, ExecOutput, Executed};
use crate::services::job::{self, Job, JobError};

/// How long a job may take.
const JOB_DEADLINE: Duration = Duration::from_secs(3600);

/// The marker before the SHA-256 a dump job prints after the dump.
const SHA_MARKER: &str = "planrun-sha256 ";

/// A database service, reached by exec or by job.
pub struct ServicePostgres {
    cluster: Arc<dyn Cluster>,
    target: Target,
    service: String,
    route: Route,
    image: String,
    networks: Vec<String>,
    password_file: Option<(String, TaskSpecContainerSpecSecrets)>,
    run_id: String,
    /// Where jobs run: the node planrun talks to when it takes tasks.
    job_node: Option<String>,
}

/// How the tools are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `exec` into this container on this node.
    Exec(String),
    /// One-off Swarm jobs.
    Job,
}

impl ServicePostgres {
    /// Looks the service up and picks the route.
    pub async fn open(cluster: Arc<dyn Cluster>, target: Target, run_id: &str) -> Result<ServicePostgres, DbError> {
        let Via::Service(name) = &target.via else {
            return Err(DbError::Unreachable("not a service".into()));
        };
        let unreachable = |e: crate::cluster::ClusterError| DbError::Unreachable(format!("service {name}: {e}"));
        let service = cluster.service(name).await.map_err(unreachable)?;
        let id = service.id.clone().unwrap_or_default();
        let template = service.spec.as_ref().and_then(|s| s.task_template.clone()).unwrap_or_default();
        let container = template.container_spec.clone().unwrap_or_default();
        let image = container.image.clone().unwrap_or_default();
        let networks = template.networks.unwrap_or_default().into_iter().filter_map(|n| n.target).collect();
        let env = container.env.clone().unwrap_or_default();
        let password_file = env.iter().find_map(|e| e.strip_prefix("POSTGRES_PASSWORD_FILE=")).and_then(|path| {
            let secret =
                container.secrets.iter().flatten().find(|s| {
                    s.file.as_ref().and_then(|f| f.name.as_deref()).is_some_and(|f| secret_path(f) == path)
                })?;
            Some((path.to_owned(), secret.clone()))
        });
        let route = match cluster.local_container(&id).await.map_err(unreachable)? {
            Some(container) if std::env::var_os("PLANRUN_DATABASE_ROUTE").is_none_or(|r| r != "job") => {
                Route::Exec(container)
            }
            _ => Route::Job,
        };
        // A job's output (a dump) passes through its container's log, and dockerd 20.10 keeps
        // the exited container of a removed job: on this node planrun removes it, elsewhere
        // it would stay. So jobs run here when this node takes tasks.
        let job_node = match route {
            Route::Job => cluster.node_taking_tasks_here().await,
            Route::Exec(_) => None,
        };
        Ok(ServicePostgres {
            cluster,
            service: name.clone(),
            target,
            route,
            image,
            networks,
            password_file,
            run_id: run_id.to_owned(),
            job_node,
        })
    }

    /// The route chosen.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// `-U user -d database`, and `-h service` for a job.
    fn connection_args(&self) -> Vec<String> {
        let mut args = vec!["-U".into(), self.target.user.clone(), "-d".into(), self.target.database.clone()];
        if self.route == Route::Job {
            args.extend(["-h".into(), self.service.clone()]);
        }
        args
    }

    async fn exec(&self, argv: Vec<String>, stdin: ExecInput, stdout: ExecOutput) -> Result<Executed, DbError> {
        let Route::Exec(container) = &self.route else { unreachable!("exec on the job route") };
        let mut env = vec![format!("PGAPPNAME={}", super::session_tag(&self.run_id))];
        env.extend(std::env::var("PGPASSWORD").ok().map(|p| format!("PGPASSWORD={p}")));
        let exec = Exec { container: container.clone(), argv, env, user: None, stdin, stdout };
        self.cluster.exec(exec).await.map_err(|e| DbError::Unreachable(format!("exec in {}: {e}", self.service)))
    }

    /// Runs `script` (a shell command line) as a job; its whole stdout goes to `output_to`
    /// when given, otherwise its last lines are returned.
    async fn job(
        &self,
        what: &str,
        script: String,
        configs: Vec<(String, String, String)>,
        output_to: Option<PathBuf>,
    ) -> Result<String, JobError> {
        let password = match &self.password_file {
            Some((path, _)) => format!("PGPASSWORD=$(cat {}) ", shell_words(std::slice::from_ref(path))),
            None => String::new(),
        };
        let tag = format!("PGAPPNAME={} ", shell_words(&[super::session_tag(&self.run_id)]));
        let job = Job {
            name: unique_name(what, &self.run_id),
            image: self.image.clone(),
            command: vec!["sh".into(), "-c".into(), format!("{password}{tag}{script}")],
            env: Vec::new(),
            networks: self.networks.clone(),
            labels: HashMap::from([
                ("planrun.job".to_string(), what.to_string()),
                (JOB_RUN.to_string(), self.run_id.clone()),
            ]),
            configs,
            secrets: self.password_file.iter().map(|(_, s)| s.clone()).collect(),
            output_to,
            deadline: JOB_DEADLINE,
            node: self.job_node.clone(),
        };
        job::run(self.cluster.clone(), &job).await.map(|o| o.logs)
    }

    fn tool_error(tool: &str, e: &Executed) -> DbError {
        DbError::Tool {
            tool: tool.into(),
            status: format!("exit code {}", e.exit_code),
            stderr: tail(&String::from_utf8_lossy(&e.stderr)),
        }
    }
}

#[async_trait]
impl Postgres for ServicePostgres {
    fn describe(&self) -> String {
        match &self.route {
            Route::Exec(_) => format!("{} by exec on this node", self.target.describe()),
            Route::Job if self.job_node.is_some() => format!("{} by Swarm job on this node", self.target.describe()),
            Route::Job => format!(
                "{} by Swarm job (this node takes no tasks: the job's exited container keeps its output in its \
                 log on the node that ran it; `docker container prune` there removes it)",
                self.target.describe()
            ),
        }
    }

    async fn dump(&self, file: &Path) -> Result<Dump, DbError> {
        let mut argv = vec!["pg_dump".to_string(), "-Fc".into()];
        argv.extend(self.connection_args());
        match &self.route {
            Route::Exec(_) => {
                let done = self.exec(argv, ExecInput::Nothing, ExecOutput::File(file.to_owned())).await?;
                if done.exit_code != 0 {
                    return Err(Self::tool_error("pg_dump -Fc", &done));
                }
                let (bytes, sha256) = sha256_of(file).await?;
                Ok(Dump { path: file.to_owned(), bytes, sha256 })
            }
            Route::Job => {
                let encoded = file.with_extension("b64");
                let script = format!(
                    "{} -f /tmp/planrun.dump && base64 /tmp/planrun.dump && echo && echo \"{SHA_MARKER}$(sha256sum /tmp/planrun.dump | cut -d' ' -f1)\"",
                    shell_words(&argv)
                );
                self.job("dump", script, Vec::new(), Some(encoded.clone())).await.map_err(job_error("pg_dump -Fc"))?;
                let sent = decode(&encoded, file).await;
                let _ = tokio::fs::remove_file(&encoded).await;
                let sent = sent?;
                let (bytes, sha256) = sha256_of(file).await?;
                if sha256 != sent {
                    return Err(DbError::BadDump(format!(
                        "{} arrived with SHA-256 {sha256}, the job sent {sent}",
                        file.display()
                    )));
                }
                Ok(Dump { path: file.to_owned(), bytes, sha256 })
            }
        }
    }

    async fn verify(&self, file: &Path) -> Result<(), DbError> {
        match &self.route {
            Route::Exec(_) => {
                let argv = vec!["pg_restore".into(), "-f".into(), "/dev/null".into()];
                let done = self.exec(argv, ExecInput::File(file.to_owned()), ExecOutput::Capture).await?;
                if done.exit_code != 0 {
                    return Err(DbError::BadDump(format!(
                        "pg_restore could not read {} in full: {}",
                        file.display(),
                        tail(&String::from_utf8_lossy(&done.stderr))
                    )));
                }
                Ok(())
            }
            Route::Job => super::url::verify_here(file).await,
        }
    }

    async fn restore(&self, file: &Path) -> Result<(), DbError> {
        let mut argv = vec!["pg_restore".to_string(), "--clean".into(), "--if-exists".into(), "--exit-on-error".into()];
        argv.extend(["--single-transaction".into()]);
        argv.extend(self.connection_args());
        match &self.route {
            Route::Exec(_) => {
                let done = self.exec(argv, ExecInput::File(file.to_owned()), ExecOutput::Capture).await?;
                if done.exit_code != 0 {
                    return Err(Self::tool_error("pg_restore --exit-on-error", &done));
                }
                Ok(())
            }
            Route::Job => Err(DbError::Unreachable(format!(
                "no task of {} runs on the node planrun talks to, and a Swarm job cannot read {}: \
                 run `planrun restore` against a manager node where a task of {} runs",
                self.service,
                file.display(),
                self.service
            ))),
        }
    }

    async fn run(&self, batch: &Batch) -> Result<Ran, DbError> {
        let script = psql::script(batch);
        let mut argv = vec!["psql".to_string()];
        argv.extend(self.connection_args());
        let output = match &self.route {
            Route::Exec(_) => {
                argv.extend(psql::script_args());
                let done = self.exec(argv, ExecInput::Bytes(script.into_bytes()), ExecOutput::Capture).await?;
                let text =
                    format!("{}\n{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
                if let Some(ran) = psql::read(batch, &text) {
                    return Ok(ran);
                }
                return Err(Self::tool_error("psql", &done));
            }
            Route::Job => {
                let name =
                    format!("{}-{}", unique_name("sql", &self.run_id), short(&super::sha256_hex(script.as_bytes())));
                let created = self
                    .cluster
                    .create_config(crate::cluster::NewObject::new(
                        &name,
                        HashMap::from([("planrun.job".into(), "sql".into()), (JOB_RUN.into(), self.run_id.clone())]),
                        script.as_bytes(),
                    ))
                    .await;
                let id = created.map_err(|e| DbError::Unreachable(format!("create config {name}: {e}")))?;
                let mut args: Vec<String> = psql::script_args();
                let f = args.iter().position(|a| a == "-").unwrap_or(args.len() - 1);
                args[f] = "/planrun/script.sql".into();
                argv.extend(args);
                // The whole output, not the job's last lines: a statement that prints many
                // notices must not push the markers of completed statements out of sight.
                let out = crate::private::temp_file("planrun-sql-").map_err(|e| DbError::File(e.to_string()))?;
                let result = self
                    .job(
                        "sql",
                        format!("{} 2>&1", shell_words(&argv)),
                        vec![(id.clone(), name, "/planrun/script.sql".into())],
                        Some(out.to_path_buf()),
                    )
                    .await;
                let _ = self.cluster.remove_config(&id).await;
                let whole = tokio::fs::read_to_string(&out).await.unwrap_or_default();
                drop(out);
                match result {
                    Ok(_) => whole,
                    Err(JobError::Failed { logs, name, error }) => {
                        if let Some(ran) = psql::read(batch, &whole) {
                            return Ok(ran);
                        }
                        return Err(DbError::Tool {
                            tool: "psql".into(),
                            status: format!("job {name}: {error}"),
                            stderr: tail(&logs),
                        });
                    }
                    Err(e) => return Err(DbError::Unreachable(e.to_string())),
                }
            }
        };
        psql::read(batch, &output).ok_or_else(|| DbError::Tool {
            tool: "psql".into(),
            status: "no result".into(),
            stderr: tail(&output),
        })
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let mut argv = vec!["psql".to_string()];
        argv.extend(self.connection_args());
        argv.extend(psql::query_args(sql));
        match &self.route {
            Route::Exec(_) => {
                let done = self.exec(argv, ExecInput::Nothing, ExecOutput::Capture).await?;
                if done.exit_code != 0 {
                    return Err(Self::tool_error("psql", &done));
                }
                Ok(psql::rows(&String::from_utf8_lossy(&done.stdout)))
            }
            Route::Job => {
                let out = crate::private::temp_file("planrun-query-").map_err(|e| DbError::File(e.to_string()))?;
                let result = self.job("query", shell_words(&argv), Vec::new(), Some(out.to_path_buf())).await;
                let text = tokio::fs::read_to_string(&out).await.unwrap_or_default();
                drop(out);
                result.map_err(job_error("psql"))?;
                Ok(psql::rows(&text))
            }
        }
    }
}

/// A secret's path in the container: absolute as given, or under /run/secrets.
fn secret_path(file_name: &str) -> String {
    if file_name.starts_with('/') { file_name.to_owned() } else { format!("/run/secrets/{file_name}") }
}

fn job_error(tool: &'static str) -> impl Fn(JobError) -> DbError {
    move |e| match e {
        JobError::Failed { name, error, logs } => {
            DbError::Tool { tool: tool.into(), status: format!("job {name}: {error}"), stderr: tail(&logs) }
        }
        other => DbError::Unreachable(other.to_string()),
    }
}

/// Decodes a dump job's output (base64 lines, a blank line, the SHA-256 marker) into `file`;
/// returns the SHA-256 the job computed.
async fn decode(encoded: &Path, file: &Path) -> Result<String, DbError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let input =
        tokio::fs::File::open(encoded).await.map_err(|e| DbError::File(format!("{}: {e}", encoded.display())))?;
    let mut out =
        crate::private::create_async(file).await.map_err(|e| DbError::File(format!("{}: {e}", file.display())))?;
    let mut lines = BufReader::new(input).lines();
    let mut pending = String::new();
    let mut sha = None;
    while let Some(line) = lines.next_line().await.map_err(|e| DbError::File(e.to_string()))? {
        let line = line.trim();
        if let Some(s) = line.strip_prefix(SHA_MARKER) {
            sha = Some(s.trim().to_owned());
            break;
        }
        pending.push_str(line);
        // Decode whole 4-character groups as they come; keep the rest for the next line.
        let whole = pending.len() / 4 * 4;
        if whole >= 1 << 16 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&pending[..whole])
                .map_err(|e| DbError::BadDump(format!("the job's output is not base64: {e}")))?;
            out.write_all(&bytes).await.map_err(|e| DbError::File(e.to_string()))?;
            pending.drain(..whole);
        }
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&pending)
        .map_err(|e| DbError::BadDump(format!("the job's output is not base64: {e}")))?;
    out.write_all(&bytes).await.map_err(|e| DbError::File(e.to_string()))?;
    out.sync_all().await.map_err(|e| DbError::File(e.to_string()))?;
    sha.ok_or_else(|| DbError::BadDump("the job's output ended before its SHA-256: the dump is cut short".into()))
}

/// A job or config name no other job of this or another run takes: `planrun-dump-r20261201t181530z-4711-3`.
/// The label naming the run a job service or its script config belongs to (`planrun repair`
/// removes those a dead run left).
pub const JOB_RUN: &str = "planrun.job.run-id";

fn unique_name(what: &str, run_id: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let run: String = run_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let run = &run[run.len().saturating_sub(24)..];
    format!("planrun-{what}-{run}-{n}")
}

fn short(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).take(12).collect::<String>().to_lowercase()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Quotes arguments for `sh -c`.
fn shell_words(argv: &[String]) -> String {
    argv.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dump_job_output_decodes_and_a_cut_one_is_caught() {
        let dir = std::env::temp_dir().join(format!("planrun-decode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let whole = format!("{}\n\n{SHA_MARKER}abc\n", lines.join("\n"));
        std::fs::write(dir.join("in"), &whole).unwrap();
        assert_eq!(decode(&dir.join("in"), &dir.join("out")).await.unwrap(), "abc");
        assert_eq!(std::fs::read(dir.join("out")).unwrap(), data);
        let cut = &whole[..whole.len() / 2];
        std::fs::write(dir.join("in"), cut).unwrap();
        let e = decode(&dir.join("in"), &dir.join("out")).await.unwrap_err();
        assert!(matches!(e, DbError::BadDump(_)), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shell_words_survive_quotes() {
        assert_eq!(shell_words(&["psql".into(), "it's".into()]), "'psql' 'it'\\''s'");
    }
}
