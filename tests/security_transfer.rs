//! The transfer engine against hostile and broken servers (security issue 11,
//! items 5, 6 and 8): bodies without end, trickles, wrong `Content-Range`s,
//! huge headers, a full disk, a device as a local source, and redirects to
//! another host. Each test bounds zoo's running time (a hang fails the test
//! instead of hanging it) and asserts the final state on disk: nothing
//! half-written, nothing published, and the store still usable.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use util::{Run, TestEnv};
use zoo_test_support::{Fault, FaultKind, FixtureRepo, HubServer, fixture_bytes};

const MODEL: &str = "model.onnx";
const MODEL_SIZE: usize = 3 << 20;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a card describes the model file.
#[derive(Clone, Copy)]
enum Declared {
    SizeAndSha,
    /// No size: only a documented limit bounds the transfer.
    ShaOnly,
    Nothing,
}

struct Setup {
    env: TestEnv,
    server: HubServer,
    model: Vec<u8>,
    catalog: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        Setup::with(FixtureRepo::new("org/tiny"), fixture_bytes(5, MODEL_SIZE))
    }

    fn with(repo: FixtureRepo, model: Vec<u8>) -> Setup {
        let env = TestEnv::new();
        let server = HubServer::start(vec![repo.lfs_file(MODEL, model.clone())]);
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        let s = Setup {
            env,
            server,
            model,
            catalog,
        };
        s.card(
            Declared::SizeAndSha,
            "  - hf: {repo: org/tiny, revision: main}\n",
        );
        s
    }

    /// The card `tiny` with one file and the given `sources:` lines.
    fn card(&self, declared: Declared, sources: &str) {
        let facts = match declared {
            Declared::SizeAndSha => format!(
                "\n    sha256: {}\n    size: {}",
                sha(&self.model),
                self.model.len()
            ),
            Declared::ShaOnly => format!("\n    sha256: {}", sha(&self.model)),
            Declared::Nothing => String::new(),
        };
        let card = format!(
            "schema: 1
name: tiny
version: \"1\"
family: test
task: image-classification
architecture: Tiny
description: A fixture model.
files:
  - path: {MODEL}{facts}
    format: onnx
    role: model
sources:
{sources}license:
  id: MIT
openness:
  class: open
provenance:
  organization: Test
"
        );
        std::fs::write(self.catalog.join("tiny.yaml"), card).unwrap();
    }

    fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("HF_ENDPOINT", self.server.endpoint())
            .env("ZOO_REGISTRY", &self.catalog)
            .env("ZOO_RETRY_BASE", "0.05");
        cmd
    }

    /// `zoo pull tiny` with extra environment, killed (and the test failed) if
    /// it runs longer than `limit`.
    fn pull_within(&self, limit: Duration, vars: &[(&str, &str)]) -> Run {
        let mut cmd = self.zoo();
        cmd.args(["pull", "tiny"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        run_within(cmd, limit)
    }

    fn model_dir(&self) -> PathBuf {
        self.env.zoo_home().join("store/models/tiny")
    }

    /// Nothing published, no blob of the model, no partial or temporary file.
    #[track_caller]
    fn assert_clean_failure(&self) {
        assert!(
            !self.model_dir().exists(),
            "a model directory was published"
        );
        let all = files_under(self.env.path());
        let bad: Vec<&String> = all
            .iter()
            .filter(|f| {
                f.contains("/partial/")
                    || f.contains(".zoo-partial")
                    || f.ends_with(".tmp")
                    || f.contains("/blobs/")
            })
            .collect();
        assert!(bad.is_empty(), "left behind: {bad:#?}");
        self.assert_store_usable();
    }

    /// The catalog and the store still answer.
    #[track_caller]
    fn assert_store_usable(&self) {
        Run::from(self.zoo().arg("ls").output().unwrap()).success();
        Run::from(self.zoo().args(["info", "tiny"]).output().unwrap()).success();
    }

    /// After the faults are gone, a plain pull gets the right bytes.
    #[track_caller]
    fn assert_recovers(&self) {
        self.server.clear_faults();
        self.pull_within(Duration::from_secs(60), &[]).success();
        let got = std::fs::read(self.model_dir().join(MODEL)).unwrap();
        assert!(
            got == self.model,
            "stored bytes differ from the served bytes"
        );
        Run::from(self.zoo().args(["verify", "tiny"]).output().unwrap()).success();
    }
}

/// Runs `cmd`, failing the test (after killing zoo) if it takes over `limit`.
fn run_within(mut cmd: Command, limit: Duration) -> Run {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut s).ok();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("zoo ran longer than {limit:?} (hang); stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run::from(std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    })
}

/// Every file under `dir`, as full paths.
fn files_under(dir: &Path) -> Vec<String> {
    util::list_files(dir)
        .into_iter()
        .map(|f| dir.join(f).display().to_string())
        .collect()
}

/// Item 5: a card without size or digest (like the gemma, llama and
/// stable-diffusion cards) is bounded: by ZOO_MAX_DOWNLOAD_SIZE when the hub
/// announces more (nothing is fetched), else by the hub's size, which an
/// endless body (no Content-Length) cannot go past.
#[test]
fn unsized_file_is_bounded_by_the_cap_and_the_announced_size() {
    let s = Setup::new();
    s.card(
        Declared::Nothing,
        "  - hf: {repo: org/tiny, revision: main}\n",
    );
    s.server.set_faults(vec![Fault::endless().on(MODEL)]);
    let run = s
        .pull_within(Duration::from_secs(60), &[("ZOO_MAX_DOWNLOAD_SIZE", "1M")])
        .code(1)
        .stderr_has("larger than 1048576 bytes")
        .stderr_has("ZOO_MAX_DOWNLOAD_SIZE");
    assert!(run.stderr.contains("deleted"), "{}", run.stderr);
    assert_eq!(
        s.server.bytes_served(MODEL),
        0,
        "fetched past a refused size"
    );
    s.assert_clean_failure();

    s.pull_within(Duration::from_secs(60), &[])
        .code(1)
        .stderr_has("size mismatch")
        .stderr_has(&format!("expected {MODEL_SIZE} bytes"));
    let served = s.server.bytes_served(MODEL);
    assert!(
        served >= MODEL_SIZE as u64,
        "the endless body was not sent: {served}"
    );
    s.assert_clean_failure();
    s.assert_recovers();
}

/// Item 5: a `file:` source naming a device is refused before a byte is read;
/// a local file beyond the cap is refused too.
#[test]
fn local_source_of_dev_zero_or_over_the_cap_is_refused() {
    let s = Setup::new();
    s.card(
        Declared::ShaOnly,
        "  - file: {path: /dev, files: {model.onnx: zero}}\n",
    );
    s.pull_within(Duration::from_secs(30), &[])
        .code(5)
        .stderr_has("not a regular file");
    s.assert_clean_failure();

    let mirror = s.env.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join(MODEL), &s.model).unwrap();
    s.card(
        Declared::ShaOnly,
        &format!("  - file: {{path: {}}}\n", mirror.display()),
    );
    s.pull_within(Duration::from_secs(30), &[("ZOO_MAX_DOWNLOAD_SIZE", "1M")])
        .code(1)
        .stderr_has("larger than 1048576 bytes");
    s.assert_clean_failure();
    assert_eq!(
        std::fs::read(mirror.join(MODEL)).unwrap(),
        s.model,
        "source changed"
    );
    s.pull_within(Duration::from_secs(30), &[]).success();
}

/// Item 5: a full disk is a clear error that leaves nothing half-written.
/// The store lives on a 1 MiB tmpfs (needs root; skipped otherwise).
#[test]
fn disk_full_is_a_clear_error_and_leaves_nothing_half_written() {
    let s = Setup::new();
    let small = s.env.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        zoo_test_support::skip::missing(
            "a 1 MiB tmpfs to fill (mount -t tmpfs)",
            "run the tests as root, as CI does",
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(small.clone());
    let home = small.join("zoo-home");
    let cache = small.join("hf-cache");
    let run = s
        .pull_within(
            Duration::from_secs(60),
            &[
                ("ZOO_HOME", home.to_str().unwrap()),
                ("HF_HUB_CACHE", cache.to_str().unwrap()),
            ],
        )
        .code(1)
        .stderr_has("no space left on the device")
        .stderr_has("the partial file was deleted");
    assert!(
        !run.stderr.contains("giving up"),
        "retried a full disk: {}",
        run.stderr
    );
    let left: Vec<String> = files_under(&small)
        .into_iter()
        .filter(|f| !f.contains("/locks/"))
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:#?}");
    assert!(!home.join("store/models/tiny").exists());
}

/// Item 6: a body trickling a byte at a time never stalls long enough for the
/// stall timeout, but falls under the minimum rate and is given up on.
#[test]
fn trickling_body_is_cut_off_by_the_minimum_rate() {
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::trickle(1, Duration::from_millis(200)).on(MODEL),
    ]);
    let run = s
        .pull_within(Duration::from_secs(45), &[("ZOO_STALL_TIMEOUT", "1")])
        .code(1)
        .stderr_has("too slow")
        .stderr_has("ZOO_MIN_RATE")
        .stderr_has("giving up");
    assert!(!run.stderr.contains('\u{1b}'));
    assert!(!s.model_dir().exists());
    // What was received is a true prefix, kept for a resume, and nothing else.
    let partials: Vec<String> = files_under(&s.env.hf_cache())
        .into_iter()
        .filter(|f| f.contains(".zoo-partial"))
        .collect();
    assert!(partials.len() <= 1, "{partials:?}");
    for p in &partials {
        let bytes = std::fs::read(p).unwrap();
        assert!(s.model.starts_with(&bytes), "the partial is not a prefix");
    }
    s.assert_store_usable();
    s.assert_recovers();
}

/// Item 6: a server that accepts the connection and never answers is a
/// timeout (first byte), retried a bounded number of times.
#[test]
fn server_that_never_answers_times_out() {
    let s = Setup::new();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(6).flatten() {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    // The hub answers; its redirect for the file leads to the silent server.
    s.server.set_faults(vec![
        Fault::redirect_to(format!("http://{addr}")).on("/resolve/"),
    ]);
    let started = Instant::now();
    s.pull_within(Duration::from_secs(40), &[("ZOO_STALL_TIMEOUT", "1")])
        .code(1)
        .stderr_has("timed out")
        .stderr_has("giving up");
    assert!(started.elapsed() < Duration::from_secs(30));
    s.assert_clean_failure();
    drop(held);
}

/// Item 8: a resume answered with bytes from elsewhere restarts from zero
/// instead of appending them; the download still succeeds.
#[test]
fn resume_answered_with_the_wrong_range_restarts_cleanly() {
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::cut_after(1 << 20).on(MODEL).times(1),
        Fault::wrong_content_range(0).on(MODEL),
    ]);
    s.pull_within(Duration::from_secs(60), &[])
        .success()
        .stderr_has("starting over");
    let got = std::fs::read(s.model_dir().join(MODEL)).unwrap();
    assert!(got == s.model, "stored bytes differ from the served bytes");
    assert!(
        s.server.log().iter().any(|r| r
            .faults
            .iter()
            .any(|f| matches!(f, FaultKind::WrongContentRange { .. }))),
        "the wrong range was never served"
    );
}

/// Item 8: a server that answers every resume with the wrong range is given
/// up on after a bounded number of restarts, and the partial file is deleted.
#[test]
fn wrong_range_every_time_is_a_bounded_clean_failure() {
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::cut_after(1 << 20).on(MODEL),
        Fault::wrong_content_range(0).on(MODEL),
    ]);
    s.pull_within(Duration::from_secs(60), &[])
        .code(1)
        .stderr_has("wrong byte range")
        .stderr_has("Content-Range: bytes 0-");
    s.assert_clean_failure();
    s.assert_recovers();
}

/// Item 8: in a parallel ranged download every part's `Content-Range` is
/// checked; a lying server fails the pull and leaves no partial or sidecar.
#[test]
fn parallel_parts_check_their_content_range() {
    let s = Setup::with(FixtureRepo::new("org/tiny"), fixture_bytes(13, 80 << 20));
    s.server
        .set_faults(vec![Fault::wrong_content_range(0).on(MODEL)]);
    s.pull_within(Duration::from_secs(120), &[])
        .code(1)
        .stderr_has("the server sent Content-Range: bytes 0-")
        .stderr_has("the partial download was deleted");
    s.assert_clean_failure();
}

/// Item 6/8: a response head of a megabyte is refused by the client, retried a
/// bounded number of times, and nothing is written.
#[test]
fn huge_headers_fail_cleanly() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::huge_headers(1 << 20).on(MODEL)]);
    s.pull_within(Duration::from_secs(60), &[])
        .code(1)
        .stderr_has("giving up");
    s.assert_clean_failure();
}

/// Item 8: on a redirect to another host (here another port), neither the
/// token nor a `Referer` with the resolve URL goes along; the hub got the token.
#[test]
fn redirect_to_another_host_carries_no_token_and_no_referer() {
    let model = fixture_bytes(17, 64 << 10);
    let cdn = HubServer::start(vec![
        FixtureRepo::new("org/tiny").lfs_file(MODEL, model.clone()),
    ]);
    let s = Setup::with(FixtureRepo::new("org/tiny").gated(), model);
    s.server
        .set_faults(vec![Fault::redirect_to(cdn.endpoint()).on("/resolve/")]);
    let token = s.server.token().to_owned();
    let mut cmd = s.zoo();
    cmd.env("HF_TOKEN", &token).args(["pull", "tiny"]);
    let run = run_within(cmd, Duration::from_secs(60)).success();
    assert!(!run.stderr.contains(&token) && !run.stdout.contains(&token));
    let hub_resolve: Vec<_> = s
        .server
        .log()
        .into_iter()
        .filter(|r| r.path.contains("/resolve/"))
        .collect();
    assert!(!hub_resolve.is_empty());
    assert!(
        hub_resolve
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {token}"))),
        "the hub did not get the token"
    );
    let cdn_log = cdn.log();
    assert!(!cdn_log.is_empty(), "the redirect was not followed");
    for r in &cdn_log {
        assert_eq!(
            r.header("authorization"),
            None,
            "token sent to another host: {r:?}"
        );
        assert_eq!(
            r.header("referer"),
            None,
            "Referer sent to another host: {r:?}"
        );
    }
    let got = std::fs::read(s.model_dir().join(MODEL)).unwrap();
    assert!(got == s.model);
}

/// Text from a server (error bodies and headers with escape sequences) never
/// reaches the terminal raw.
#[test]
fn escape_sequences_from_the_server_are_not_printed() {
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::error_text(500, "\u{1b}]0;pwned\u{7}\u{1b}[2J evil").on(MODEL),
    ]);
    let run = s.pull_within(Duration::from_secs(60), &[]).code(1);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "raw escape printed: {:?}",
        run.stderr
    );
    assert!(!run.stdout.contains('\u{1b}'));
    s.assert_clean_failure();
}

/// A transfer setting zoo cannot read is bad input (exit 2) naming the
/// variable, before anything is fetched.
#[test]
fn unreadable_transfer_settings_are_bad_input() {
    let s = Setup::new();
    for (name, value) in [
        ("ZOO_MIN_RATE", "fast"),
        ("ZOO_MAX_DOWNLOAD_SIZE", "0"),
        ("ZOO_STALL_TIMEOUT", "-1"),
        ("ZOO_CONNECT_TIMEOUT", "soon"),
    ] {
        s.pull_within(Duration::from_secs(30), &[(name, value)])
            .code(2)
            .stderr_has(&format!("{name}=\"{value}\" is not"));
    }
    assert_eq!(s.server.bytes_served(MODEL), 0);
    s.assert_clean_failure();
}
