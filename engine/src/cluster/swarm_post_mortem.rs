//! How a task of the real swarm ended (`Cluster::post_mortem`), read through the raw client
//! (`swarm_raw.rs`), whose JSON answers are bounded: the node's hostname (`GET /nodes/{id}`),
//! the container (`GET /containers/{id}/json`: `State.OOMKilled`, `State.ExitCode`,
//! `State.Health.Log`), which answers only on the node that ran it, and the task's log
//! (`GET /tasks/{id}/logs`), which Swarm fetches from whichever node ran it. Each read has its
//! own bound on tokio's clock; the three go at once.

use bollard::models::Task;
use tokio::time::{Instant, timeout, timeout_at};

use super::ClusterError;
use super::post_mortem::{
    ContainerEnd, HealthCheckRun, INSPECT_WAIT, LOG_WAIT, LogReader, LogTail, PostMortem, clean_line,
};
use super::swarm_raw::RawApi;

/// How `task` ended, as far as the daemon behind `raw` can tell.
pub async fn post_mortem(raw: &RawApi, task: &Task, log_lines: usize) -> PostMortem {
    let status = task.status.as_ref();
    let container = status.and_then(|s| s.container_status.as_ref()).and_then(|c| c.container_id.clone());
    let node = async {
        let id = task.node_id.as_deref().filter(|n| !n.is_empty())?;
        let answer = timeout(INSPECT_WAIT, raw.get(&format!("/nodes/{id}"))).await.ok()?.ok()?;
        answer.pointer("/Description/Hostname").and_then(|h| h.as_str()).map(str::to_owned)
    };
    let inspected = async {
        let id = container.as_deref().filter(|c| !c.is_empty())?;
        // Another node's container is not found here: that is `None`, not an error.
        let answer = timeout(INSPECT_WAIT, raw.get(&format!("/containers/{id}/json"))).await.ok()?.ok()?;
        Some(container_end(&answer))
    };
    let logs = async {
        match task.id.as_deref() {
            Some(id) => task_log(raw, id, log_lines).await,
            None => Err("the task has no id".to_owned()),
        }
    };
    let (node, container, logs) = tokio::join!(node, inspected, logs);
    PostMortem { node, container, logs }
}

/// A container's end, from its inspect answer.
fn container_end(answer: &serde_json::Value) -> ContainerEnd {
    let state = &answer["State"];
    let health = state.pointer("/Health/Log").and_then(|l| l.as_array()).and_then(|log| log.last()).map(|last| {
        let output = last["Output"].as_str().unwrap_or_default();
        let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        HealthCheckRun { exit_code: last["ExitCode"].as_i64().unwrap_or(-1), output: clean_line(&lines.join(" / ")) }
    });
    ContainerEnd {
        oom_killed: state["OOMKilled"].as_bool().unwrap_or(false),
        // A running container reports 0: only an ended one has an exit code.
        exit_code: (state["Status"].as_str() != Some("running")).then(|| state["ExitCode"].as_i64()).flatten(),
        health,
    }
}

/// The task's last `lines` log lines, stdout and stderr, read for at most [`LOG_WAIT`].
async fn task_log(raw: &RawApi, task: &str, lines: usize) -> Result<LogTail, String> {
    let deadline = Instant::now() + LOG_WAIT;
    let waited = crate::clock::seconds(LOG_WAIT);
    let path = format!("/tasks/{task}/logs?stdout=1&stderr=1&tail={lines}");
    let mut answer = match timeout_at(deadline, raw.get_unread(&path)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(ClusterError::Other(why))) => return Err(format!("Docker did not give the log: {why}")),
        Ok(Err(other)) => return Err(format!("Docker did not give the log ({other})")),
        Err(_) => return Err(format!("Docker did not answer within {waited}")),
    };
    let mut reader = LogReader::new();
    let mut read_any = false;
    loop {
        match timeout_at(deadline, answer.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                read_any = true;
                if !reader.feed(&chunk) {
                    break;
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(format!("the log broke off: {e}")),
            // What came in time is shown, marked as cut.
            Err(_) if read_any => {
                let mut tail = reader.finish(lines);
                tail.cut = true;
                return Ok(tail);
            }
            Err(_) => return Err(format!("Docker sent no log within {waited}")),
        }
    }
    Ok(reader.finish(lines))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A daemon on 127.0.0.1 that answers each request with `head` (when `Some`) and then
    /// holds the connection open for 10 s, sending nothing more.
    fn stalling(head: Option<&'static [u8]>) -> RawApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    if let Some(head) = head {
                        let _ = stream.write_all(head);
                    }
                    std::thread::sleep(std::time::Duration::from_secs(10));
                });
            }
        });
        let host = format!("tcp://{address}");
        RawApi::new(&host, None).unwrap()
    }

    #[tokio::test]
    async fn a_log_that_stalls_is_given_up_after_its_bound_keeping_what_came() {
        // One frame (stdout, 12 bytes) of a chunked answer, then nothing.
        const FRAME: &[u8] =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n14\r\n\x01\0\0\0\0\0\0\x0cfirst words\n\r\n";
        let (started, partial, silent) = (Instant::now(), stalling(Some(FRAME)), stalling(None));
        let (partial, silent) = tokio::join!(task_log(&partial, "t1", 20), task_log(&silent, "t2", 20));
        let took = started.elapsed();
        assert!(took >= LOG_WAIT && took < LOG_WAIT + std::time::Duration::from_secs(2), "{took:?}");
        assert_eq!(partial, Ok(LogTail { lines: vec!["first words".into()], cut: true }));
        assert_eq!(silent, Err("Docker did not answer within 3s".into()));
    }

    #[test]
    fn a_container_killed_for_memory_and_its_last_health_check_are_read_from_its_inspect() {
        let answer = serde_json::json!({ "State": {
            "Status": "exited", "OOMKilled": true, "ExitCode": 137,
            "Health": { "Status": "unhealthy", "Log": [
                { "ExitCode": 0, "Output": "ok" },
                { "ExitCode": 1, "Output": "wget: server returned error\n  HTTP/1.0 500\n" },
            ]},
        }});
        let end = container_end(&answer);
        assert!(end.oom_killed);
        assert_eq!(end.exit_code, Some(137));
        assert_eq!(
            end.health,
            Some(HealthCheckRun { exit_code: 1, output: "wget: server returned error / HTTP/1.0 500".into() })
        );
        let running = container_end(&serde_json::json!({ "State": { "Status": "running", "ExitCode": 0 } }));
        assert_eq!(running, ContainerEnd::default());
    }
}
