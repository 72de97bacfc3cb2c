//! A recording proxy for the Docker Engine API: a test points a child process (the docker CLI,
//! planrun) at it through `DOCKER_HOST` and then checks which requests it made, such as the JSON
//! body of a `POST /services/create`. Each connection carries one request, relayed to the real
//! daemon with `Connection: close`; the response comes back unchanged, byte by byte as it
//! arrives, so streams (events, logs with follow, attach) keep working.

use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// The daemon's socket, unless `PLANRUN_PROXY_UPSTREAM` names another.
pub const UPSTREAM: &str = "/var/run/docker.sock";

/// How long a client or the daemon may take over a request (the response has no limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request head (request line and headers) the proxy accepts.
const MAX_HEAD: usize = 256 * 1024;

/// One request the proxy relayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The HTTP method: `GET`, `POST`, ...
    pub method: String,
    /// The path without its API version prefix: `/services/create`, not `/v1.41/services/create`.
    pub path: String,
    /// The query string as sent (still percent-encoded), without `?`; empty when there is none.
    pub query: String,
    /// The body parsed as JSON; `None` when there is none or it is not JSON.
    pub body: Option<serde_json::Value>,
}

/// A proxy on a fresh unix socket, relaying to the daemon and recording every request; stops
/// and removes its socket on drop.
pub struct DockerProxy {
    socket: PathBuf,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl DockerProxy {
    /// Starts a proxy to [`UPSTREAM`] (or `$PLANRUN_PROXY_UPSTREAM`) on a new socket.
    pub fn start() -> DockerProxy {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("planrun-docker-proxy-{}-{}.sock", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let socket = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).unwrap_or_else(|e| panic!("binding {}: {e}", socket.display()));
        let upstream = match std::env::var("PLANRUN_PROXY_UPSTREAM") {
            Ok(u) if !u.is_empty() => PathBuf::from(u.strip_prefix("unix://").unwrap_or(&u)),
            _ => PathBuf::from(UPSTREAM),
        };
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (recorded, stopping) = (recorded.clone(), stopping.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let (upstream, recorded) = (upstream.clone(), recorded.clone());
                    std::thread::spawn(move || {
                        if let Err(e) = relay(client, &upstream, &recorded) {
                            eprintln!("docker proxy: {e}");
                        }
                    });
                }
            })
        };
        DockerProxy { socket, recorded, stopping, acceptor: Some(acceptor) }
    }

    /// The value for `DOCKER_HOST` (or `docker --host`): `unix:///tmp/planrun-docker-proxy-….sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The proxy's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every request recorded so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear(&self) {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The JSON bodies of the `method` requests whose path starts with `path_prefix`, in order.
    pub fn bodies(&self, method: &str, path_prefix: &str) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.starts_with(path_prefix))
            .filter_map(|r| r.body)
            .collect()
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // One connection wakes the acceptor up to see the flag; connections still open go on.
        if UnixStream::connect(&self.socket).is_ok()
            && let Some(acceptor) = self.acceptor.take()
        {
            let _ = acceptor.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A request read from a client, ready to send upstream.
struct Request {
    /// Request line and headers, rewritten, ending with the empty line.
    head: Vec<u8>,
    /// The body, de-chunked.
    body: Vec<u8>,
    /// What the proxy records of it.
    recorded: Recorded,
}

/// Relays one request of `client` to `upstream` and the response back, then closes both.
fn relay(client: UnixStream, upstream: &Path, recorded: &Mutex<Vec<Recorded>>) -> io::Result<()> {
    client.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(request) = read_request(&mut reader)? else {
        return Ok(()); // a client that closed before sending a request
    };
    recorded.lock().unwrap_or_else(|e| e.into_inner()).push(request.recorded.clone());
    let mut daemon = match connect(upstream) {
        Ok(daemon) => daemon,
        Err(e) => {
            let why = format!("docker proxy: connecting to {}: {e}\n", upstream.display());
            let head =
                format!("HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", why.len());
            let _ = client.write_all(head.as_bytes()).and_then(|()| client.write_all(why.as_bytes()));
            return Err(e);
        }
    };
    daemon.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    daemon.write_all(&request.head)?;
    daemon.write_all(&request.body)?;
    daemon.set_write_timeout(None)?;
    client.set_read_timeout(None)?;
    // What the client sends from now on goes to the daemon too: the stream of a hijacked
    // connection (attach, exec), else nothing but its end, which ends a stream it gave up on.
    let mut to_daemon = daemon.try_clone()?;
    std::thread::spawn(move || {
        let _ = io::copy(&mut reader, &mut to_daemon);
        let _ = to_daemon.shutdown(Shutdown::Write);
    });
    // io::copy writes what each read returns: a stream reaches the client as it comes.
    let _ = io::copy(&mut daemon, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = daemon.shutdown(Shutdown::Both);
    Ok(())
}

/// Connects to the daemon's socket, giving up after [`REQUEST_TIMEOUT`].
fn connect(path: &Path) -> io::Result<UnixStream> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || tx.send(UnixStream::connect(path)));
    rx.recv_timeout(REQUEST_TIMEOUT)
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))
}

/// An error about a malformed request.
fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one request: `None` when the client closes before sending anything.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut lines: Vec<String> = Vec::new();
    let mut size = 0;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            return if lines.is_empty() { Ok(None) } else { Err(invalid("the client closed inside the request head")) };
        }
        size += n;
        if size > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        match line.trim_end_matches(['\r', '\n']) {
            "" if lines.is_empty() => {} // stray line ends before a request line are allowed
            "" => break,
            line => lines.push(line.to_owned()),
        }
    }
    let mut words = lines[0].split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next()) else {
        return Err(invalid(format!("bad request line `{}`", lines[0])));
    };
    let mut headers = Vec::new();
    for line in &lines[1..] {
        let (name, value) = line.split_once(':').ok_or_else(|| invalid(format!("bad header `{line}`")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned(), line));
    }
    let has = |name: &str, token: &str| {
        headers.iter().any(|(n, v, _)| n == name && v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    // A request to take over the connection (attach, exec start) keeps its `Connection: Upgrade`.
    let upgrade = has("connection", "upgrade");
    let chunked = has("transfer-encoding", "chunked");
    let length = headers.iter().find(|(n, _, _)| n == "content-length").map(|(_, v, _)| v);
    let body = match (chunked, length) {
        (true, _) => read_chunked(reader)?,
        (false, Some(length)) => {
            let mut body = vec![0; length.parse().map_err(|_| invalid(format!("bad Content-Length `{length}`")))?];
            reader.read_exact(&mut body)?;
            body
        }
        (false, None) => Vec::new(),
    };

    let mut head = format!("{method} {target} {version}\r\n");
    for (name, _, line) in &headers {
        // The body goes with a Content-Length. `Expect` is dropped: the body is read before the
        // daemon sees the request (a client waiting for `100 Continue` sends it after a timeout).
        let dropped = match name.as_str() {
            "content-length" | "transfer-encoding" | "expect" => true,
            "connection" | "keep-alive" | "proxy-connection" => !upgrade,
            _ => false,
        };
        if !dropped {
            head.push_str(&format!("{line}\r\n"));
        }
    }
    if chunked || length.is_some() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !upgrade {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");

    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let recorded = Recorded {
        method: method.to_owned(),
        path: unversioned(path).to_owned(),
        query: query.to_owned(),
        body: serde_json::from_slice(&body).ok(),
    };
    Ok(Some(Request { head: head.into_bytes(), body, recorded }))
}

/// Reads a chunked body (and its trailers), returning its bytes.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("the client closed inside a chunked body"));
        }
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size `{size}`")))?;
        if size == 0 {
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?; // the line end after the chunk's data
    }
}

/// `path` without a leading API version (`/v1.41/services` is `/services`).
fn unversioned(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else { return path };
    let (version, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match version.split_once('.') {
        Some((major, minor)) if digits(major) && digits(minor) => {
            if tail.is_empty() {
                "/"
            } else {
                tail
            }
        }
        _ => path,
    }
}
