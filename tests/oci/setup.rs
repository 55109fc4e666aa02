//! What the OCI tests share: homes (a TestEnv with its own Docker config and
//! catalog directory), the models they push, and the other OCI tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use zoo_test_support::{LocalModel, fixture_bytes, skip};

use crate::util::{Run, TestEnv, list_files};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A zoo home: its own ZOO_HOME, caches, Docker config directory (empty: no
/// credentials, whatever the user running the tests has) and catalog
/// directory.
pub struct Home {
    pub env: TestEnv,
    pub catalog: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(catalog.join("labels")).unwrap();
        std::fs::create_dir_all(env.path().join("docker")).unwrap();
        Home { env, catalog }
    }

    /// A home where `model` is pulled (from its local directory).
    pub fn with(model: &LocalModel) -> Home {
        let home = Home::new();
        model.write(home.env.path());
        home.run(&["pull", &model.name, "--quiet"]).success();
        home
    }

    pub fn path(&self) -> &Path {
        self.env.path()
    }

    pub fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("DOCKER_CONFIG", self.path().join("docker"))
            .env("ZOO_REGISTRY", &self.catalog)
            .env("ZOO_RETRY_BASE", "0.05")
            // Small chunks, so a push can be stopped in the middle of a blob of
            // a few MiB (tests/oci/faults.rs).
            .env("ZOO_OCI_CHUNK_SIZE", "16M")
            .env_remove("ZOO_FAILPOINT");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.zoo().args(args).output().expect("run zoo"))
    }

    /// `zoo push NAME TARGET --json` (plus `extra`): the report.
    pub fn push(&self, name: &str, target: &str, extra: &[&str]) -> Value {
        let mut args = vec!["push", name, target, "--json"];
        args.extend_from_slice(extra);
        self.run(&args).success().json()
    }

    /// Writes a Docker config with `user:password` for `host`.
    pub fn login(&self, host: &str, user: &str, password: &str) {
        let auth = base64(&format!("{user}:{password}"));
        std::fs::write(
            self.path().join("docker/config.json"),
            format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
    }

    /// Writes the user config file (`$XDG_CONFIG_HOME/zoo/config.yaml`).
    pub fn write_config(&self, yaml: &str) {
        let path = self.path().join("config/zoo/config.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
    }

    pub fn store(&self) -> PathBuf {
        self.env.zoo_home().join("store")
    }

    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.store().join("models").join(name)
    }

    /// The pulled file `path` of model `name`.
    pub fn read(&self, name: &str, path: &str) -> Vec<u8> {
        std::fs::read(self.model_dir(name).join(path))
            .unwrap_or_else(|e| panic!("{name}/{path} is not in the store: {e}"))
    }

    /// Every file of the store and the user catalog.
    pub fn stored(&self) -> Vec<String> {
        let mut all = list_files(&self.store());
        all.extend(
            list_files(&self.env.zoo_home().join("catalog"))
                .into_iter()
                .map(|f| format!("catalog/{f}")),
        );
        all.retain(|f| !f.starts_with("oci/"));
        all
    }
}

/// A small open model with a model file of `model_bytes` bytes (more than a
/// 16 MiB chunk makes a push of it resumable mid-file) and a config.
pub fn tiny(name: &str, seed: u64, model_bytes: usize) -> LocalModel {
    LocalModel::new(name)
        .file(
            "model.onnx",
            fixture_bytes(seed, model_bytes),
            "onnx",
            "model",
        )
        .file(
            "config.json",
            format!(r#"{{"seed": {seed}}}"#).into_bytes(),
            "json",
            "config",
        )
}

/// The layer report of `path` in a push report.
pub fn layer<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == path)
        .unwrap_or_else(|| panic!("no layer {path} in {report:#}"))
}

/// `skopeo` and a command running it, or a skip.
pub fn skopeo() -> Option<Command> {
    zoo_test_support::tool(
        "skopeo",
        "install skopeo (Debian package `skopeo`, 1.9 or later)",
    )
    .map(Command::new)
}

/// Runs `skopeo args`; its stdout.
#[track_caller]
pub fn run_skopeo(args: &[&str]) -> String {
    let mut cmd = skopeo().expect("skopeo was found before");
    let out = cmd.args(args).output().expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sha256 of the manifest bytes `skopeo inspect --raw` reads.
pub fn skopeo_digest(reference: &str) -> String {
    let out = skopeo()
        .expect("skopeo was found before")
        .args(["inspect", "--raw", "--tls-verify=false", reference])
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sha256:{}", sha256_hex(&out.stdout))
}

/// Whether the tests' Python has oras-py (else a skip).
pub fn python_oras() -> bool {
    skip::python_has(&["oras.client"], &["oras"])
}

/// Runs a Python script with `args`; its stdout.
#[track_caller]
pub fn python(script: &str, args: &[&str]) -> String {
    let out = skip::python_command()
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard base64, for the Docker config's `auth`.
fn base64(text: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn docker_config_auth_is_standard_base64() {
    assert_eq!(base64("u:hunter2"), "dTpodW50ZXIy");
    assert_eq!(base64("ab"), "YWI=");
}
