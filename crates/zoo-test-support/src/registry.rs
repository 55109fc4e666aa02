//! A real OCI registry for tests: CNCF distribution (Debian's
//! `docker-registry`, distribution 2.8.2) on 127.0.0.1, with its own config
//! and a temporary storage directory, killed when dropped.
//!
//! The binary is `ZOO_TEST_DOCKER_REGISTRY`, else `/usr/bin/docker-registry`;
//! when neither exists, [`OciRegistry::start`] reports it through
//! [`crate::skip::missing`] (a failure under `ZOO_TEST_STRICT=1`) and returns
//! `None`. [`tool`] finds the other command-line tools the OCI tests drive
//! (`skopeo`) by the same rule.
//!
//! ```no_run
//! use zoo_test_support::OciRegistry;
//!
//! let Some(mut registry) = OciRegistry::start() else { return };
//! // zoo push MODEL {host}/team/model:v1 ...
//! let _ = registry.host(); // "127.0.0.1:PORT"
//! registry.restart(); // same storage, same port: uploads in flight survive
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::skip;

/// Names the registry binary; default `/usr/bin/docker-registry`.
pub const REGISTRY_BIN_VAR: &str = "ZOO_TEST_DOCKER_REGISTRY";
const DEFAULT_REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// How long a registry may take to answer `GET /v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running distribution registry; killed (and its storage removed) on drop.
#[derive(Debug)]
pub struct OciRegistry {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The HMAC key of upload state (`http.secret`): kept across a
    /// [`OciRegistry::restart`], so uploads begun before it can be resumed,
    /// as in a deployment that sets it.
    secret: u32,
    child: Option<Child>,
}

impl OciRegistry {
    /// Starts a registry on a free port of 127.0.0.1 with empty storage, and
    /// waits until `GET /v2/` answers. `None` (after [`skip::missing`]) when
    /// the binary is not installed.
    ///
    /// # Panics
    /// If the registry does not come up.
    #[track_caller]
    pub fn start() -> Option<OciRegistry> {
        let bin = registry_bin()?;
        let dir = unique_temp_dir("zoo-oci-registry");
        std::fs::create_dir_all(dir.join("storage")).expect("create the registry's storage");
        // A port picked free may be taken before the registry binds it: retry.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut registry = OciRegistry {
                bin: bin.clone(),
                dir: dir.clone(),
                port,
                secret: 1,
                child: None,
            };
            match registry.spawn() {
                Ok(()) => return Some(registry),
                Err(e) => {
                    last = e;
                    // Keep the directory for the next try.
                    registry.dir = PathBuf::new();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("the registry ({}) did not start: {last}", bin.display());
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps its blobs and repositories.
    pub fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }

    /// Kills the registry and starts it again on the same port and storage.
    ///
    /// # Panics
    /// If it does not come back.
    pub fn restart(&mut self) {
        self.kill();
        self.respawn();
    }

    /// Like [`OciRegistry::restart`], with a new `http.secret`: the registry
    /// then refuses the uploads begun before (404 `BLOB_UPLOAD_INVALID`), as
    /// one that generates its secret at start does.
    pub fn restart_with_new_secret(&mut self) {
        self.kill();
        self.secret += 1;
        self.respawn();
    }

    fn respawn(&mut self) {
        // The port was just freed: it may take a moment to be bindable again.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("the registry did not restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Kills the registry now (it stays down until [`OciRegistry::restart`]).
    pub fn stop(&mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let config = self.dir.join("config.yml");
        std::fs::write(
            &config,
            config_yaml(&self.storage(), self.port, self.secret),
        )
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("registry.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("it exited ({status}): {}", self.log_tail()));
            }
            if http_status(&self.host(), "GET", "/v2/") == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("no answer on {}: {}", self.host(), self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of the registry's own log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn config_yaml(storage: &Path, port: u16, secret: u32) -> String {
    format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: zoo-test-secret-{secret}
",
        storage.display()
    )
}

/// The registry binary, or `None` after [`skip::missing`].
#[track_caller]
fn registry_bin() -> Option<PathBuf> {
    let named = std::env::var_os(REGISTRY_BIN_VAR).filter(|v| !v.is_empty());
    if let Some(p) = &named
        && !Path::new(p).is_file()
    {
        panic!(
            "{REGISTRY_BIN_VAR}={} is not an existing file",
            Path::new(p).display()
        );
    }
    let bin = named
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(DEFAULT_REGISTRY_BIN)).filter(|p| p.is_file()));
    skip::require(
        bin,
        &format!("the OCI registry binary ({DEFAULT_REGISTRY_BIN} or {REGISTRY_BIN_VAR})"),
        "install Debian's docker-registry (distribution 2.8) with its service blocked \
         (a policy-rc.d exiting 101), or set ZOO_TEST_DOCKER_REGISTRY to a `registry` binary",
    )
}

/// The executable `name` on `PATH`; else [`skip::missing`] (with `how`
/// saying how to install it) and `None`.
#[track_caller]
pub fn tool(name: &str, how: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    skip::require(found, &format!("the `{name}` command"), how)
}

/// A fresh directory under the system's temporary directory.
pub(crate) fn unique_temp_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ))
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The status of a bodiless request to `host`, or `None` when nothing answers.
pub(crate) fn http_status(host: &str, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split(' ').nth(1)?.parse().ok()
}
