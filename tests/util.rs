//! Shared helpers for the integration tests: each test gets its own temporary
//! ZOO_HOME, Hugging Face cache and config directory, and runs the real `zoo`
//! binary built by Cargo.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn zoo_home(&self) -> PathBuf {
        self.path().join("zoo-home")
    }

    pub fn hf_cache(&self) -> PathBuf {
        self.path().join("hf-cache")
    }

    /// A `zoo` command isolated from the user's environment.
    pub fn zoo(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoo"));
        cmd.current_dir(self.path())
            .env("ZOO_HOME", self.zoo_home())
            .env("HF_HUB_CACHE", self.hf_cache())
            .env("HF_HOME", self.path().join("hf-home"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env_remove("ZOO_REGISTRY")
            .env_remove("ZOO_CONFIG")
            .env_remove("ZOO_OFFLINE")
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_TOKEN")
            .env_remove("HF_ENDPOINT")
            .env_remove("ORT_DYLIB_PATH");
        // The ONNX Runtime library is provisioned once per test run, not per test.
        if let Some(lib) = shared_runtime_dir() {
            cmd.env("ZOO_RUNTIME_DIR", lib);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.zoo().args(args).output().expect("run zoo"))
    }

    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

/// A finished `zoo` run with its output decoded.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "zoo failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The repository root (tests run from the zoo crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A runtime directory shared by all tests of one run, if the environment set one.
fn shared_runtime_dir() -> Option<PathBuf> {
    std::env::var_os("ZOO_TEST_RUNTIME_DIR").map(PathBuf::from)
}

/// The tests' Python (ZOO_PYTHON, default `python3`) if it imports `module`
/// (whose pip package is `package`); else zoo_test_support::skip::missing.
pub fn python_with(module: &str, package: &str) -> Option<std::ffi::OsString> {
    zoo_test_support::skip::python_has(&[module], &[package]).then(zoo_test_support::skip::python)
}

/// The tests' Python if it has pip (zoo's `pypi` source runs the same
/// ZOO_PYTHON); else zoo_test_support::skip::missing.
pub fn python_with_pip() -> Option<std::ffi::OsString> {
    zoo_test_support::skip::pip_available().then(zoo_test_support::skip::python)
}

/// Every file and link under `dir`, as paths relative to it, sorted (a missing
/// `dir` has none): what tests compare to say what a command left behind.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A fine-tuning set-up under `dir`: `dir/catalog` holds the real open-nsfw
/// card with a `file:` source (the files beside `onnx`, copied to
/// `dir/files`) and its labels; `dir/data` the first `n` training images of
/// Fashion-MNIST's `bag` and `trouser` from `train`. Returns (catalog, data).
pub fn open_nsfw_finetune_setup(
    dir: &Path,
    onnx: &Path,
    train: &Path,
    n: usize,
) -> (PathBuf, PathBuf) {
    let root = repo_root();
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(catalog.join("labels")).unwrap();
    let text = std::fs::read_to_string(root.join("registry/open-nsfw.yaml")).unwrap();
    let mut card: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    for f in std::fs::read_dir(onnx.parent().unwrap()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, files.join(f.file_name().unwrap())).unwrap();
        }
    }
    card["sources"] =
        serde_yaml::from_str(&format!("[{{file: {{path: '{}'}}}}]", files.display())).unwrap();
    std::fs::write(
        catalog.join("open-nsfw.yaml"),
        serde_yaml::to_string(&card).unwrap(),
    )
    .unwrap();
    if let Some(labels) = card["io"]["labels"].as_str() {
        std::fs::copy(
            root.join(format!("registry/labels/{labels}.txt")),
            catalog.join(format!("labels/{labels}.txt")),
        )
        .unwrap();
    }
    let data = dir.join("data");
    for class in ["bag", "trouser"] {
        let dest = data.join(class);
        std::fs::create_dir_all(&dest).unwrap();
        let mut items: Vec<PathBuf> = std::fs::read_dir(train.join(class))
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        items.sort();
        for f in items.iter().take(n) {
            std::fs::copy(f, dest.join(f.file_name().unwrap())).unwrap();
        }
    }
    (catalog, data)
}

/// Runs the Python script `tests/support/<script>` with `args` in the tests'
/// Python (ZOO_PYTHON) and returns the JSON it prints.
#[track_caller]
pub fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = zoo_test_support::skip::python_command()
        .arg(repo_root().join("tests/support").join(script))
        .args(args)
        .output()
        .expect("run the tests' Python (ZOO_PYTHON)");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}
