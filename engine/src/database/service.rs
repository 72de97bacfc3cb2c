//! A database that is a Swarm service: its own tools, run with its own image.
//!
//! When a task of the service runs on the node planrun talks to, the tools run in it by
//! `exec`, streaming a dump straight into a file here and a dump to verify straight out of
//! one. Otherwise each piece of work is a one-off Swarm job with the service's image on the
//! service's networks, connecting to it by name. A dump runs in an attended job on the node
//! planrun talks to (`job::attended`): the job's container has no log driver and only waits,
//! and pg_dump runs in it by `exec`, streaming into a file here, so no copy of the database
//! stays in a container log; when that node takes no tasks, a dump by job is refused. A job
//! cannot read a file from here, so verifying and restoring a dump taken that way use the
//! `pg_restore` installed beside planrun.
//!
//! The password: `PGPASSWORD` in planrun's environment goes to `exec` (never into a spec);
//! a job mounts the secret the service's own `POSTGRES_PASSWORD_FILE` names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::TaskSpecContainerSpecSecrets;

use super::{Batch, DbError, Dump, Postgres, Ran, Target, Via, psql, sha256_of};
use crate::cluster::{Cluster, ClusterError, Exec, ExecInput, ExecOutput, Executed};
use crate::services::job::{self, Job, JobError};

/// How long a job may take.
const JOB_DEADLINE: Duration = Duration::from_secs(3600);

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
        let job = Job { output_to, configs, ..self.job_of(what, self.job_script(script)) };
        job::run(self.cluster.clone(), &job).await.map(|o| o.logs)
    }

    /// Runs `work` by exec in an attended job on this node: what it reads passes through no
    /// container log.
    async fn attended_job<T, F, Fut>(&self, what: &str, work: F) -> Result<T, JobError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, JobError>>,
    {
        job::attended(self.cluster.clone(), &self.job_of(what, String::new()), work).await
    }

    /// `script` with the password (read from the secret the service mounts) and the session
    /// tag in its environment.
    fn job_script(&self, script: String) -> String {
        let password = match &self.password_file {
            Some((path, _)) => format!("PGPASSWORD=$(cat {}) ", shell_words(std::slice::from_ref(path))),
            None => String::new(),
        };
        let tag = format!("PGAPPNAME={} ", shell_words(&[super::session_tag(&self.run_id)]));
        format!("{password}{tag}{script}")
    }

    /// A job with the service's image, networks and password secret, running `script`.
    fn job_of(&self, what: &str, script: String) -> Job {
        Job {
            name: unique_name(what, &self.run_id),
            image: self.image.clone(),
            command: vec!["sh".into(), "-c".into(), script],
            env: Vec::new(),
            networks: self.networks.clone(),
            labels: HashMap::from([
                ("planrun.job".to_string(), what.to_string()),
                (JOB_RUN.to_string(), self.run_id.clone()),
            ]),
            configs: Vec::new(),
            secrets: self.password_file.iter().map(|(_, s)| s.clone()).collect(),
            output_to: None,
            deadline: JOB_DEADLINE,
            node: self.job_node.clone(),
        }
    }

    /// Why a dump cannot be taken by job: the node planrun talks to takes no tasks.
    fn no_dump_here(service: &str) -> String {
        format!(
            "no task of {service} runs on the node planrun talks to, and that node takes no tasks (it is drained), \
             so a dump job would have to run elsewhere and its output (a copy of the database) would stay in \
             that node's container log: make this node active for the backup \
             (`docker node update --availability active NODE`), run planrun against a manager that takes tasks, \
             or give the step a `url` this machine reaches, so pg_dump runs here"
        )
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
            Route::Job => format!("{} by Swarm job on another node (this node takes no tasks)", self.target.describe()),
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
                if self.job_node.is_none() {
                    return Err(DbError::Unreachable(Self::no_dump_here(&self.service)));
                }
                let script = self.job_script(shell_words(&argv));
                let cluster = self.cluster.clone();
                let to = file.to_owned();
                let dumped = self
                    .attended_job("dump", |container| async move {
                        let exec = Exec {
                            container,
                            argv: vec!["sh".into(), "-c".into(), script],
                            env: Vec::new(),
                            user: None,
                            stdin: ExecInput::Nothing,
                            stdout: ExecOutput::File(to),
                        };
                        cluster.exec(exec).await.map_err(|error| {
                            JobError::Service(crate::services::ServiceError::Cluster {
                                doing: "run pg_dump in the dump job".into(),
                                error,
                            })
                        })
                    })
                    .await
                    .map_err(job_error("pg_dump -Fc"))?;
                if dumped.exit_code != 0 {
                    return Err(Self::tool_error("pg_dump -Fc", &dumped));
                }
                let (bytes, sha256) = sha256_of(file).await?;
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

/// The label naming the run a job service or its script config belongs to (`planrun repair`
/// and `planrun rollback` remove those a dead run left).
pub const JOB_RUN: &str = "planrun.job.run-id";

/// A one-off job service (a dump, a SQL script, a gate's probe) or a job's SQL script config
/// that a run left behind: its run died before it could remove them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftByRun {
    /// A service, or a config when false.
    pub service: bool,
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// The run it belongs to.
    pub run: String,
}

impl LeftByRun {
    /// "job service NAME of run RUN" or "SQL script config NAME of run RUN".
    pub fn describe(&self) -> String {
        let what = if self.service { "job service" } else { "SQL script config" };
        format!("{what} {} of run {}", self.name, self.run)
    }

    /// Ends and removes it; one already gone is removed. A job's container on this node is
    /// told to end first (see [`job::end_left`]).
    pub async fn remove(&self, cluster: Arc<dyn Cluster>) -> Result<(), String> {
        if self.service {
            return job::end_left(cluster, self.name.clone(), self.id.clone()).await.map_err(|e| e.to_string());
        }
        match cluster.remove_config(&self.id).await {
            Ok(()) | Err(ClusterError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The job services and script configs of `runs` in the swarm. Only for runs that are over
/// (their lock is held by the caller): a live run's jobs are its own.
pub async fn left_by(cluster: &dyn Cluster, runs: &[&str]) -> Result<Vec<LeftByRun>, ClusterError> {
    let mut found = Vec::new();
    for service in cluster.services(JOB_RUN).await? {
        let labels = service.spec.as_ref().and_then(|s| s.labels.clone()).unwrap_or_default();
        if let Some(run) = labels.get(JOB_RUN).filter(|r| runs.contains(&r.as_str())) {
            found.push(LeftByRun {
                service: true,
                name: crate::services::name_of(&service),
                id: service.id.clone().unwrap_or_default(),
                run: run.clone(),
            });
        }
    }
    for config in cluster.configs(JOB_RUN).await? {
        if let Some(run) = config.labels.get(JOB_RUN).filter(|r| runs.contains(&r.as_str())) {
            found.push(LeftByRun {
                service: false,
                name: config.name.clone(),
                id: config.id.clone(),
                run: run.clone(),
            });
        }
    }
    Ok(found)
}

/// A job or config name no other job of this or another run takes: `planrun-dump-r20261201t181530z-4711-3`.
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

    #[tokio::test(start_paused = true)]
    async fn a_dump_by_job_is_refused_when_this_node_takes_no_tasks() {
        use crate::cluster::fake::FakeCluster;
        let fake = FakeCluster::new();
        fake.add_service(bollard::models::ServiceSpec {
            name: Some("shop_db".into()),
            task_template: Some(bollard::models::TaskSpec {
                container_spec: Some(bollard::models::TaskSpecContainerSpec {
                    image: Some("postgres:15".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let target = Target { via: Via::Service("shop_db".into()), database: "shop".into(), user: "postgres".into() };
        // The fake has no containers (the job route) and its node takes no tasks.
        let pg = ServicePostgres::open(Arc::new(fake.clone()), target, "r1").await.unwrap();
        assert_eq!(pg.describe(), "shop_db/shop by Swarm job on another node (this node takes no tasks)");
        let error = pg.dump(Path::new("/nonexistent/shop.dump")).await.unwrap_err();
        assert!(
            error.to_string().contains(
                "no task of shop_db runs on the node planrun talks to, and that node takes no tasks (it is drained), \
                 so a dump job would have to run elsewhere and its output (a copy of the database) would stay in \
                 that node's container log: make this node active for the backup"
            ),
            "{error}"
        );
        assert_eq!(fake.service_names(), ["shop_db"], "no job was created");
    }

    #[test]
    fn shell_words_survive_quotes() {
        assert_eq!(shell_words(&["psql".into(), "it's".into()]), "'psql' 'it'\\''s'");
    }
}
