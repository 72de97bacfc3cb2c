//! The request of an `http` gate measured from a network: busybox `wget` run by `exec` in the
//! probe container, and what its output says.
//!
//! `wget -S` writes the status line and headers of each response (a redirect's too) to stderr,
//! indented by two spaces; the body goes to stdout, read up to one byte past the limit (so a
//! longer body is told apart). busybox writes no body for a status of 400 or more. busybox
//! `wget -T` crashes in some builds, so the time limit is busybox `timeout`'s. The request is
//! timed inside the container from `/proc/uptime` (10 ms steps, the finest clock a busybox
//! shell reads), before and after `wget`.

use std::time::Duration;

/// Marks the line that carries `wget`'s exit status.
const EXIT: &str = "planrun-wget-exit";
/// Marks the line that carries the uptime before and after the request.
const TIMES: &str = "planrun-wget-times";

/// The program and arguments that send `method` (`GET` or `POST`, with an empty body) to `url`,
/// within `timeout` (whole seconds, at least one), reading at most `limit` bytes of the body
/// and one more. The URL is an argument of the script, never part of it.
pub fn argv(method: &str, url: &str, timeout: Duration, limit: usize) -> Vec<String> {
    let post = if method == "POST" { " --post-data ''" } else { "" };
    let script = format!(
        "t0=$(cut -d' ' -f1 /proc/uptime); \
         {{ timeout \"$1\" wget -q -S -O -{post} \"$2\"; echo \"{EXIT} $?\" >&2; }} | head -c {}; \
         t1=$(cut -d' ' -f1 /proc/uptime); echo \"{TIMES} $t0 $t1\" >&2",
        limit + 1
    );
    let seconds = timeout.as_secs().max(1).to_string();
    vec!["sh".into(), "-c".into(), script, "planrun-probe".into(), seconds, url.into()]
}

/// Marks, on stderr, where the lines of one task's request begin (`every-task`).
const TASK: &str = "planrun-wget-task";
/// Marks, on stdout, one task's body and its length (`every-task`).
const BODY: &str = "planrun-wget-body";
/// Said on stderr when `tasks.HOST` lists no address (`every-task`).
const NO_TASK: &str = "planrun-wget-no-task";

/// Like [`argv`], sent to every task of the URL's service at once (`every-task`): the addresses
/// of `tasks.HOST` in the network's DNS (busybox `nslookup`), each asked by address with the
/// URL's own `Host` header, at the same time; then, task by task, a [`TASK`] line and that
/// request's lines on stderr, and a [`BODY`] line with the body's length before the body on
/// stdout. `None` when the URL names no host.
pub fn every_task_argv(method: &str, url: &str, timeout: Duration, limit: usize) -> Option<Vec<String>> {
    let parts = plans::gates::http::url_parts(url).filter(|p| !p.host.is_empty())?;
    let post = if method == "POST" { " --post-data ''" } else { "" };
    let script = format!(
        "d=$(mktemp -d) || exit 1; n=0; \
         for a in $(timeout \"$1\" nslookup \"tasks.$2\" 2>/dev/null | sed -n '/^Name:/,$ s/^Address:[[:space:]]*//p'); do \
         n=$((n+1)); case $a in *:*) h=\"[$a]\" ;; *) h=$a ;; esac; \
         ( t0=$(cut -d' ' -f1 /proc/uptime); \
         {{ timeout \"$1\" wget -q -S -O -{post} --header \"Host: $5\" \"$3$h$4\" 2>\"$d/e$n\"; echo \"{EXIT} $?\" >>\"$d/e$n\"; }} \
         | head -c {} >\"$d/b$n\"; \
         t1=$(cut -d' ' -f1 /proc/uptime); echo \"{TIMES} $t0 $t1\" >>\"$d/e$n\"; echo \"$a\" >\"$d/a$n\" ) & \
         done; wait; [ $n -gt 0 ] || echo {NO_TASK} >&2; i=1; \
         while [ $i -le $n ]; do a=$(cat \"$d/a$i\"); echo \"{TASK} $a\" >&2; cat \"$d/e$i\" >&2; \
         echo \"{BODY} $a $(wc -c <\"$d/b$i\")\"; cat \"$d/b$i\"; i=$((i+1)); done; rm -rf \"$d\"",
        limit + 1
    );
    let seconds = timeout.as_secs().max(1).to_string();
    Some(vec![
        "sh".into(),
        "-c".into(),
        script,
        "planrun-probe".into(),
        seconds,
        parts.host.to_owned(),
        parts.scheme.to_owned(),
        format!("{}{}", parts.port, parts.rest),
        parts.host_and_port(),
    ])
}

/// One task's answer to a run of [`every_task_argv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAnswer {
    /// The task's address.
    pub address: String,
    /// What its request said on stderr.
    pub answer: Answer,
    /// Its body, up to the limit and one byte more.
    pub body: Vec<u8>,
}

/// Reads what a run of [`every_task_argv`] wrote: one answer per task, in the order asked
/// (empty when `tasks.HOST` listed none). A body whose length line is missing or short is
/// taken as it is.
pub fn parse_every_task(stdout: &[u8], stderr: &str) -> Vec<TaskAnswer> {
    let mut answers: Vec<TaskAnswer> = Vec::new();
    let mut section = String::new();
    let mut address: Option<String> = None;
    let close = |address: &mut Option<String>, section: &mut String, answers: &mut Vec<TaskAnswer>| {
        if let Some(a) = address.take() {
            answers.push(TaskAnswer { address: a, answer: parse(section), body: Vec::new() });
        }
        section.clear();
    };
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix(TASK) {
            close(&mut address, &mut section, &mut answers);
            address = Some(rest.trim().to_owned());
        } else if address.is_some() {
            section.push_str(line);
            section.push('\n');
        }
    }
    close(&mut address, &mut section, &mut answers);
    let mut rest = stdout;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        let Some(header) = line.strip_prefix(BODY) else { break };
        let mut words = header.split_whitespace();
        let (Some(a), Some(len)) = (words.next(), words.next().and_then(|l| l.parse::<usize>().ok())) else { break };
        let body = &rest[end + 1..];
        let len = len.min(body.len());
        if let Some(task) = answers.iter_mut().find(|t| t.address == a && t.body.is_empty()) {
            task.body = body[..len].to_vec();
        }
        rest = &body[len..];
    }
    answers
}

/// Whether a run of [`every_task_argv`] said `tasks.HOST` listed no address.
pub fn no_task(stderr: &str) -> bool {
    stderr.lines().any(|l| l.trim() == NO_TASK)
}

/// What a run of [`argv`] said on stderr.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    /// The status of the last response (after redirects), if one came.
    pub status: Option<u16>,
    /// `wget`'s exit status (under `timeout`: 143 when it was killed for taking too long).
    pub exit: Option<i64>,
    /// What `wget` and the shell said went wrong (`wget: bad address 'api:8080'`).
    pub complaints: Vec<String>,
    /// How long the request took inside the container, to 10 ms.
    pub took: Option<Duration>,
}

impl Answer {
    /// Whether `timeout` stopped `wget` (SIGTERM: 143; 124 from a coreutils-like `timeout`).
    pub fn timed_out(&self) -> bool {
        matches!(self.exit, Some(124 | 143))
    }
}

/// Reads the stderr of a run of [`argv`].
pub fn parse(stderr: &str) -> Answer {
    let mut answer = Answer::default();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix(EXIT) {
            answer.exit = rest.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix(TIMES) {
            let times: Vec<f64> = rest.split_whitespace().filter_map(|t| t.parse().ok()).collect();
            if let [t0, t1] = times[..]
                && t1 >= t0
            {
                answer.took = Some(Duration::from_millis(((t1 - t0) * 1000.0).round() as u64));
            }
        } else if let Some(status) = line.strip_prefix("  ").and_then(status_line) {
            answer.status = Some(status);
        } else if !line.trim().is_empty() && !line.starts_with("  ") {
            answer.complaints.push(line.trim().to_owned());
        }
    }
    // Said by wget after a status line it already printed: nothing more to learn from it.
    if answer.status.is_some() {
        answer.complaints.retain(|c| !c.starts_with("wget: server returned error"));
    }
    answer
}

/// The status of `HTTP/1.1 200 OK`.
fn status_line(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    words.next().filter(|w| w.starts_with("HTTP/"))?;
    words.next()?.parse().ok().filter(|s| (100..=599).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_with_its_headers_and_times() {
        let stderr = "  HTTP/1.0 200 OK\n  Content-Type: text/plain\n  Content-Length: 3\n  \n\
                      planrun-wget-exit 0\nplanrun-wget-times 24089.51 24089.53\n";
        assert_eq!(
            parse(stderr),
            Answer { status: Some(200), exit: Some(0), complaints: vec![], took: Some(Duration::from_millis(20)) }
        );
    }

    #[test]
    fn a_500_is_a_status_not_a_complaint() {
        let stderr = "  HTTP/1.0 500 Internal Server Error\n\
                      wget: server returned error: HTTP/1.0 500 Internal Server Error\n\
                      planrun-wget-exit 1\nplanrun-wget-times 10.00 10.01\n";
        let answer = parse(stderr);
        assert_eq!((answer.status, answer.exit, answer.complaints.len()), (Some(500), Some(1), 0));
    }

    #[test]
    fn after_a_redirect_the_last_status_counts() {
        let stderr = "  HTTP/1.1 302 Found\n  Location: /health/\n  HTTP/1.1 204 No Content\nplanrun-wget-exit 0\n";
        assert_eq!(parse(stderr).status, Some(204));
    }

    #[test]
    fn no_answer_names_what_wget_said() {
        let answer = parse("wget: bad address 'nosuch:8080'\nplanrun-wget-exit 1\nplanrun-wget-times 1.00 1.00\n");
        assert_eq!(answer.status, None);
        assert_eq!(answer.complaints, ["wget: bad address 'nosuch:8080'"]);
        assert!(!answer.timed_out());
        let killed = parse("planrun-wget-exit 143\n");
        assert!(killed.timed_out());
        let no_wget = parse("sh: wget: not found\nplanrun-wget-exit 127\n");
        assert_eq!(no_wget.complaints, ["sh: wget: not found"]);
    }

    #[test]
    fn every_task_splits_the_url_around_its_host() {
        let argv = every_task_argv("GET", "http://shop_api:8080/v1/x?a=$(reboot)", Duration::from_secs(2), 9).unwrap();
        assert!(!argv[2].contains("reboot") && argv[2].contains("head -c 10"), "{}", argv[2]);
        assert_eq!(argv[3..], ["planrun-probe", "2", "shop_api", "http://", ":8080/v1/x?a=$(reboot)", "shop_api:8080"]);
        let argv = every_task_argv("POST", "https://api/", Duration::ZERO, 1).unwrap();
        assert!(argv[2].contains("--post-data ''"));
        assert_eq!(argv[5..], ["api", "https://", "/", "api"]);
        assert_eq!(every_task_argv("GET", "http:///x", Duration::ZERO, 1), None);
    }

    #[test]
    fn every_task_answers_are_read_task_by_task() {
        let stderr = "planrun-wget-task 10.0.1.5\n  HTTP/1.0 200 OK\n  \nplanrun-wget-exit 0\nplanrun-wget-times 1.00 1.01\n\
                      planrun-wget-task 10.0.1.7\n  HTTP/1.0 500 Internal Server Error\n\
                      wget: server returned error: HTTP/1.0 500 Internal Server Error\nplanrun-wget-exit 1\n\
                      planrun-wget-task 10.0.1.9\nwget: can't connect to remote host: Connection refused\nplanrun-wget-exit 1\n";
        let stdout =
            b"planrun-wget-body 10.0.1.5 8\nok\nv=2\n\nplanrun-wget-body 10.0.1.7 0\nplanrun-wget-body 10.0.1.9 0\n";
        let answers = parse_every_task(stdout, stderr);
        let seen: Vec<_> = answers.iter().map(|t| (t.address.as_str(), t.answer.status, t.body.as_slice())).collect();
        assert_eq!(
            seen,
            [
                ("10.0.1.5", Some(200), &b"ok\nv=2\n\n"[..]),
                ("10.0.1.7", Some(500), &b""[..]),
                ("10.0.1.9", None, &b""[..])
            ]
        );
        assert_eq!(answers[0].answer.took, Some(Duration::from_millis(10)));
        assert_eq!(answers[2].answer.complaints, ["wget: can't connect to remote host: Connection refused"]);
        assert!(parse_every_task(b"", "planrun-wget-no-task\n").is_empty());
        assert!(no_task("planrun-wget-no-task\n") && !no_task(stderr));
    }

    #[test]
    fn the_url_is_an_argument_never_part_of_the_script() {
        let argv = argv("GET", "http://api:8080/$(reboot)", Duration::from_millis(2500), 1024);
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert!(!argv[2].contains("reboot"), "{}", argv[2]);
        assert!(argv[2].contains("head -c 1025"));
        assert!(!argv[2].contains("--post-data"));
        assert_eq!(argv[3..], ["planrun-probe", "2", "http://api:8080/$(reboot)"]);
        assert!(super::argv("POST", "http://api/", Duration::ZERO, 1)[2].contains("--post-data ''"));
        assert_eq!(super::argv("POST", "http://api/", Duration::ZERO, 1)[4], "1", "at least one second");
    }
}
