//! The listening server: connections, the request log and fault-aware sending.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::catalog::{Catalog, Repo};
use crate::faults::{Armed, BodyPlan, Fault, FaultKind};
use crate::fixtures::{FixtureDataset, FixtureRepo};
use crate::http::{self, ReadOutcome, Request};
use crate::routes::{self, Body, Context, Response};
use crate::send;

/// The token that opens gated repos unless [`ServerConfig::token`] says otherwise.
pub const TEST_TOKEN: &str = "hf_zoo_test_token";

/// More concurrent connections than this get a 503: a runaway client should
/// fail a test, not exhaust threads.
const MAX_CONNECTIONS: usize = 64;
/// Keep-alive connections idle this long are closed.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// How often blocked reads and stalls look at the stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// How to start a [`HubServer`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// `Authorization: Bearer <token>` opens gated repos.
    pub token: String,
    /// Most models one page of `GET /api/models` holds (the Hub's is 1000);
    /// a small value makes clients walk the `Link: rel="next"` pages.
    pub search_page_size: usize,
}

/// The Hub's largest page of a model search.
pub const DEFAULT_SEARCH_PAGE_SIZE: usize = 1000;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: 0,
            token: TEST_TOKEN.to_string(),
            search_page_size: DEFAULT_SEARCH_PAGE_SIZE,
        }
    }
}

/// One request as the server answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Request target as received: raw path plus `?query`.
    pub path: String,
    /// The `Range` header, if sent.
    pub range: Option<String>,
    pub status: u16,
    /// Body bytes written so far (final once the response is done).
    pub body_bytes: u64,
    /// The connection ended before the announced body was complete, because a
    /// fault cut it or the client went away.
    pub cut: bool,
    /// `org/name/path` of the file involved (also for `/cdn/{sha256}` requests).
    pub file: Option<String>,
    /// Faults that acted on this response.
    pub faults: Vec<FaultKind>,
    /// The request's headers as received (to check what a client sends where,
    /// e.g. that no `Authorization` or `Referer` follows a redirect to another host).
    pub headers: Vec<(String, String)>,
}

impl RequestRecord {
    /// First value of a request header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Shared {
    endpoint: String,
    token: String,
    search_page_size: usize,
    catalog: RwLock<Catalog>,
    faults: Mutex<Armed>,
    log: Mutex<Vec<RequestRecord>>,
    stop: AtomicBool,
    /// Clones of open connections, so `Drop` can shut them down.
    conns: Mutex<HashMap<u64, TcpStream>>,
    active: AtomicUsize,
    next_conn: AtomicU64,
}

/// A fake Hugging Face Hub on 127.0.0.1, serving [`FixtureRepo`]s.
///
/// Dropping it stops accepting and closes open connections.
#[derive(Debug)]
pub struct HubServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl HubServer {
    /// Starts on a free port with [`TEST_TOKEN`].
    ///
    /// # Panics
    /// If binding fails or a disk-backed fixture file cannot be read.
    pub fn start(repos: Vec<FixtureRepo>) -> HubServer {
        Self::start_with(ServerConfig::default(), repos).expect("start the fake Hub server")
    }

    /// Starts with an explicit port and token.
    pub fn start_with(config: ServerConfig, repos: Vec<FixtureRepo>) -> io::Result<HubServer> {
        Self::start_with_datasets(config, repos, Vec::new())
    }

    /// Starts serving model repos and dataset repos.
    pub fn start_with_datasets(
        config: ServerConfig,
        repos: Vec<FixtureRepo>,
        datasets: Vec<FixtureDataset>,
    ) -> io::Result<HubServer> {
        let mut catalog = Catalog::default();
        for repo in repos {
            catalog.insert(Repo::prepare(repo)?);
        }
        for dataset in datasets {
            catalog.insert(Repo::prepare_dataset(dataset)?);
        }
        let listener = TcpListener::bind(("127.0.0.1", config.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            endpoint: format!("http://127.0.0.1:{}", addr.port()),
            token: config.token,
            search_page_size: config.search_page_size,
            catalog: RwLock::new(catalog),
            faults: Mutex::new(Armed::default()),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            next_conn: AtomicU64::new(0),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("zoo-hf-accept".into())
                .spawn(move || accept_loop(&shared, &listener))?
        };
        Ok(HubServer {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`, to use as `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// The bearer token that opens gated repos.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Adds a repo, or replaces the one with the same id.
    ///
    /// # Panics
    /// If a disk-backed file cannot be read.
    pub fn add_repo(&self, repo: FixtureRepo) {
        let id = repo.id.clone();
        let repo = Repo::prepare(repo).unwrap_or_else(|e| panic!("fixture repo {id}: {e}"));
        write_lock(&self.shared.catalog).insert(repo);
    }

    /// Adds a dataset, or replaces the one with the same id.
    ///
    /// # Panics
    /// If a disk-backed file cannot be read.
    pub fn add_dataset(&self, dataset: FixtureDataset) {
        let id = dataset.repo.id.clone();
        let repo =
            Repo::prepare_dataset(dataset).unwrap_or_else(|e| panic!("fixture dataset {id}: {e}"));
        write_lock(&self.shared.catalog).insert(repo);
    }

    /// The commit sha the server reports for the model repo `repo_id`.
    pub fn commit_of(&self, repo_id: &str) -> Option<String> {
        let catalog = self
            .shared
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner());
        catalog.repos.get(repo_id).map(|r| r.commit.clone())
    }

    /// The commit sha the server reports for the dataset `dataset_id`.
    pub fn dataset_commit_of(&self, dataset_id: &str) -> Option<String> {
        let catalog = self
            .shared
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner());
        catalog.datasets.get(dataset_id).map(|r| r.commit.clone())
    }

    /// Replaces the active faults (use counts restart at zero).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        lock(&self.shared.faults).set(faults);
    }

    pub fn clear_faults(&self) {
        self.set_faults(Vec::new());
    }

    /// Every request answered so far, in the order responses started.
    pub fn log(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Body bytes sent for requests whose path or file contains `path_substring`.
    pub fn bytes_served(&self, path_substring: &str) -> u64 {
        lock(&self.shared.log)
            .iter()
            .filter(|r| {
                r.path.contains(path_substring)
                    || r.file
                        .as_deref()
                        .is_some_and(|f| f.contains(path_substring))
            })
            .map(|r| r.body_bytes)
            .sum()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for conn in lock(&self.shared.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// Poisoning only means a test thread panicked; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        if shared.active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = http::write_head(
                &mut stream,
                503,
                &[
                    ("Content-Length".into(), "0".into()),
                    ("Connection".into(), "close".into()),
                ],
            );
            continue;
        }
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let worker = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("zoo-hf-conn".into())
            .spawn(move || {
                serve_connection(&worker, stream);
                lock(&worker.conns).remove(&id);
                worker.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve_connection(shared: &Shared, mut stream: TcpStream) {
    // The short timeout lets idle reads and stalls notice `stop`.
    if stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut pending = Vec::new();
    let stop = || shared.stop.load(Ordering::SeqCst);
    loop {
        match http::read_request(&mut stream, &mut pending, IDLE_LIMIT, &stop) {
            ReadOutcome::Closed => return,
            ReadOutcome::Malformed(why) => {
                let body = format!("{why}\n");
                let _ = http::write_head(
                    &mut stream,
                    400,
                    &[
                        ("Content-Length".into(), body.len().to_string()),
                        ("Connection".into(), "close".into()),
                    ],
                );
                let _ = stream.write_all(body.as_bytes());
                return;
            }
            ReadOutcome::Request(req) => {
                if !answer(shared, &mut stream, &req) || !req.keep_alive {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
    }
}

/// Routes, applies faults and sends one response. Returns whether the
/// connection can carry another request.
fn answer(shared: &Shared, stream: &mut TcpStream, req: &Request) -> bool {
    let mut resp = {
        let catalog = shared.catalog.read().unwrap_or_else(|e| e.into_inner());
        let ctx = Context {
            endpoint: &shared.endpoint,
            token: &shared.token,
            search_page_size: shared.search_page_size,
        };
        routes::route(&catalog, &ctx, req)
    };
    let file_key = resp.file_key.clone().unwrap_or_default();
    let keys = [req.target.as_str(), file_key.as_str()];
    let status_fault = lock(&shared.faults).take_status(&keys);
    if let Some(kind) = &status_fault {
        resp = Response::fault(kind, resp.file_key.take(), &req.target);
    }
    let mut head_faults = Vec::new();
    {
        let mut faults = lock(&shared.faults);
        if let Some(kind) = faults.take_head(&keys, |k| {
            matches!(k, FaultKind::WrongContentRange { start } if resp.range_from(*start).is_some())
        }) && let FaultKind::WrongContentRange { start } = kind
        {
            resp.serve_range_from(start);
            head_faults.push(kind);
        }
        if let Some(kind) = faults.take_head(&keys, |k| matches!(k, FaultKind::HugeHeaders { .. }))
            && let FaultKind::HugeHeaders { bytes } = kind
        {
            resp.headers.push(("X-Padding".into(), "p".repeat(bytes)));
            head_faults.push(kind);
        }
    }
    let is_head = req.method == "HEAD";
    let carries_file = matches!(resp.body, Body::File { .. }) && matches!(resp.status, 200 | 206);
    let plan = if carries_file && !is_head {
        lock(&shared.faults).take_body(&keys, resp.body.len())
    } else {
        BodyPlan::default()
    };
    let mut applied: Vec<FaultKind> = status_fault.into_iter().collect();
    applied.extend(head_faults);
    applied.extend(plan.applied.iter().cloned());
    let record = RequestRecord {
        method: req.method.clone(),
        path: req.target.clone(),
        range: req.header("range").map(str::to_string),
        status: resp.status,
        body_bytes: 0,
        cut: false,
        file: resp.file_key.clone(),
        faults: applied,
        headers: req.headers.clone(),
    };
    let conn = send::Conn {
        stream,
        log: &shared.log,
        stop: &shared.stop,
    };
    send::respond(conn, req, resp, &plan, record)
}
