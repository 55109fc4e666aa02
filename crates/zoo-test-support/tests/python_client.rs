//! The real Python `huggingface_hub` client against the fake Hub: downloads,
//! snapshot, CLI, gated access, resume after a cut, and offline cache reads.
//! Needs huggingface_hub in the tests' Python (ZOO_PYTHON); without it the
//! test goes through zoo_test_support::skip (a failure under ZOO_TEST_STRICT=1).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zoo_test_support::{Fault, FixtureRepo, HubServer, TEST_TOKEN, fixture_bytes, skip};

const MODEL_LEN: usize = 3 * 1024 * 1024 + 17;
const CONFIG: &str = "{\"architectures\": [\"Tiny\"], \"hidden_size\": 8}\n";

/// Downloads the given files with `hf_hub_download`, then the whole repo with
/// `snapshot_download`, and prints one path per line.
const SCRIPT: &str = r#"
import sys
from huggingface_hub import hf_hub_download, snapshot_download
repo, files = sys.argv[1], sys.argv[2:]
token = None
if files and files[0].startswith("--token="):
    token = files.pop(0)[len("--token="):]
for f in files:
    print(hf_hub_download(repo, f, token=token))
print(snapshot_download(repo, token=token))
"#;

const PROBE: &str = "import huggingface_hub; print(huggingface_hub.__version__)";

struct Env {
    home: tempfile::TempDir,
    endpoint: String,
}

impl Env {
    fn cache(&self) -> PathBuf {
        self.home.path().join("hub")
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HF_ENDPOINT", &self.endpoint)
            .env("HF_HUB_CACHE", self.cache())
            .env("HF_HOME", self.home.path())
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env_remove("HF_TOKEN")
            .env_remove("HF_HUB_OFFLINE")
            .stdin(Stdio::null());
        cmd
    }

    fn python(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(skip::python());
        cmd.arg("-c").arg(SCRIPT).args(args);
        cmd
    }
}

/// Runs with a deadline so a protocol bug cannot hang the test suite.
fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn ok_lines(out: &Output, what: &str) -> Vec<String> {
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn python_hub_version() -> Option<String> {
    if !skip::python_has(&["huggingface_hub"], &["huggingface_hub"]) {
        return None;
    }
    skip::python_output(&["-c", PROBE]).map(|v| v.trim().to_string())
}

/// The `hf` command the tests' Python installed with huggingface_hub (in its
/// scripts directory, which need not be on PATH for a virtual environment).
fn hf_cli() -> Option<PathBuf> {
    let dir = skip::python_output(&[
        "-c",
        "import sysconfig; print(sysconfig.get_path('scripts'))",
    ])?;
    let hf = Path::new(dir.trim()).join("hf");
    hf.is_file().then_some(hf)
}

fn assert_snapshot(dir: &Path, model: &[u8]) {
    assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), model);
    assert_eq!(
        std::fs::read_to_string(dir.join("config.json")).unwrap(),
        CONFIG
    );
}

#[test]
fn python_huggingface_hub_downloads_from_the_fake_hub() {
    let Some(version) = python_hub_version() else {
        return;
    };
    println!("huggingface_hub {version}");
    let model = fixture_bytes(42, MODEL_LEN);
    let hub = HubServer::start(vec![
        FixtureRepo::new("org/tiny")
            .lfs_file("model.onnx", model.clone())
            .text_file("config.json", CONFIG),
        FixtureRepo::new("org/gated")
            .lfs_file("model.onnx", fixture_bytes(7, 1000))
            .gated(),
    ]);
    let commit = hub.commit_of("org/tiny").unwrap();
    let env = Env {
        home: tempfile::tempdir().unwrap(),
        endpoint: hub.endpoint(),
    };

    // hf_hub_download of both files, then snapshot_download.
    let out = run(env.python(&["org/tiny", "model.onnx", "config.json"]));
    let paths = ok_lines(&out, "python download");
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(
        paths[0].contains(&format!("snapshots/{commit}/")),
        "{paths:?}"
    );
    assert_eq!(std::fs::read(&paths[0]).unwrap(), model);
    assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), CONFIG);
    assert_snapshot(Path::new(&paths[2]), &model);
    print_endpoints("python download + snapshot", &hub);

    // The `hf` CLI, into a fresh cache.
    let Some(hf) = skip::require(
        hf_cli(),
        "the `hf` command of huggingface_hub",
        "install huggingface_hub into the tests' Python (scripts/requirements-test.txt)",
    ) else {
        return;
    };
    {
        let env = Env {
            home: tempfile::tempdir().unwrap(),
            endpoint: hub.endpoint(),
        };
        hub.clear_log();
        let mut cmd = env.command(&hf);
        cmd.args(["download", "org/tiny"]);
        // The snapshot path, alone or after a `path:` label depending on version.
        let lines = ok_lines(&run(cmd), "hf download");
        let line = lines
            .iter()
            .rfind(|l| l.contains("/snapshots/"))
            .expect("a path");
        let path = &line[line.find('/').unwrap()..];
        assert_snapshot(Path::new(path.trim()), &model);
        print_endpoints("hf download", &hub);
    }

    // Gated: refused without the token, served with it.
    let out = run(env.python(&["org/gated", "model.onnx"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GatedRepoError"), "{err}");
    let token = format!("--token={TEST_TOKEN}");
    let out = run(env.python(&["org/gated", &token, "model.onnx"]));
    let paths = ok_lines(&out, "gated download with token");
    assert_eq!(std::fs::read(&paths[0]).unwrap(), fixture_bytes(7, 1000));

    // A cut mid-download: the client retries, resuming with a Range request
    // from the last 10 MiB chunk it wrote (its DOWNLOAD_CHUNK_SIZE), so the
    // file must be bigger than that for the Range to show.
    let big = fixture_bytes(43, 12 << 20);
    hub.add_repo(FixtureRepo::new("org/big").lfs_file("weights.bin", big.clone()));
    hub.clear_log();
    hub.set_faults(vec![Fault::cut_after(11 << 20).on("weights.bin").times(1)]);
    let out = run(env.python(&["org/big", "weights.bin"]));
    let paths = ok_lines(&out, "download after a cut");
    assert!(
        std::fs::read(&paths[0]).unwrap() == big,
        "resumed file differs"
    );
    let log = hub.log();
    assert!(
        log.iter().any(|r| r.cut && r.body_bytes == 11 << 20),
        "{log:#?}"
    );
    let resumed = log
        .iter()
        .find(|r| r.status == 206 && r.file.as_deref() == Some("org/big/weights.bin"))
        .unwrap_or_else(|| panic!("no ranged retry: {log:#?}"));
    println!("resumed after the cut with Range: {:?}", resumed.range);
    hub.clear_faults();

    // Offline: everything comes from the cache, nothing reaches the server.
    hub.clear_log();
    let mut cmd = env.python(&["org/tiny", "model.onnx", "config.json"]);
    cmd.env("HF_HUB_OFFLINE", "1");
    let paths = ok_lines(&run(cmd), "offline python");
    assert_eq!(std::fs::read(&paths[0]).unwrap(), model);
    assert_snapshot(Path::new(&paths[2]), &model);
    assert!(
        hub.log().is_empty(),
        "offline run hit the server: {:?}",
        hub.log()
    );
}

/// Prints the distinct requests, with hashes shortened, for the report.
fn print_endpoints(what: &str, hub: &HubServer) {
    println!("{what}:");
    let mut seen = Vec::new();
    for r in hub.log() {
        let line = format!("  {} {} -> {}", r.method, r.path, r.status);
        if !seen.contains(&line) {
            println!("{line}");
            seen.push(line);
        }
    }
}
