//! What the signing tests share: a home with a small pulled model, keys and a
//! test CA made with `openssl`, the Python reference, and a model folder
//! materialised as regular files (the reference refuses symlinks, and the
//! store keeps each file as a link to its blob).

use std::path::{Path, PathBuf};
use std::process::Command;

use zoo_test_support::{LocalModel, fixture_bytes, skip};

use crate::util::{Run, TestEnv};

/// A zoo home whose catalog (ZOO_REGISTRY) holds the test models.
pub struct Home {
    pub env: TestEnv,
}

impl Home {
    /// A home where `model` is pulled (from its local directory).
    pub fn with(model: &LocalModel) -> Home {
        let home = Home {
            env: TestEnv::new(),
        };
        model.write(home.path());
        home.run(&["pull", &model.name, "--quiet"]).success();
        home
    }

    pub fn path(&self) -> &Path {
        self.env.path()
    }

    pub fn zoo(&self) -> Command {
        let mut cmd = self.env.zoo();
        cmd.env("ZOO_REGISTRY", self.path().join("catalog"));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.zoo().args(args).output().expect("run zoo"))
    }

    /// `zoo sign NAME --key KEY --cert CERT --chain CHAIN`.
    pub fn sign_with_cert(&self, name: &str, key: &Path, cert: &Path, chain: &Path) -> Run {
        self.run(&[
            "sign",
            name,
            "--key",
            s(key),
            "--cert",
            s(cert),
            "--chain",
            s(chain),
        ])
    }

    /// `zoo verify NAME --signature --key PUBLIC --json`, which must pass:
    /// its report.
    pub fn verify_signature_json(&self, name: &str, public: &Path) -> serde_json::Value {
        self.run(&["verify", name, "--signature", "--key", s(public), "--json"])
            .success()
            .json()
    }

    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.env.zoo_home().join("store/models").join(name)
    }

    /// The model's files as a folder of regular files (copies), without
    /// zoo's manifest: what the reference reads. `with_signature` copies
    /// model.sig too.
    pub fn materialise(&self, name: &str, with_signature: bool) -> PathBuf {
        let to = self.path().join("plain").join(name);
        let _ = std::fs::remove_dir_all(&to);
        copy_tree(&self.model_dir(name), &to, with_signature);
        to
    }

    /// Write `text` as `rel` under the home; its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Replace the model's signature with `bytes`.
    pub fn put_signature(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.model_dir(name).join("model.sig"), bytes).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path, with_signature: bool) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "zoo-manifest.json" || (name == "model.sig" && !with_signature) {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(&name), with_signature);
        } else {
            // Follows the store's link: a regular file with the blob's bytes.
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

/// A small model: weights in a sub-folder, a config, and names whose string
/// order differs from their path order (`a-b/c` vs `a/b`).
pub fn tiny(name: &str, seed: u64) -> LocalModel {
    LocalModel::new(name)
        .file(
            "onnx/model.onnx",
            fixture_bytes(seed, 64 << 10),
            "onnx",
            "model",
        )
        .file("config.json", b"{\"a\": 1}".to_vec(), "json", "config")
        .file("a/b.json", b"{}".to_vec(), "json", "config")
        .file("a-b/c.json", b"[]".to_vec(), "json", "config")
}

/// The `openssl` command, or a skip.
pub fn openssl() -> Option<PathBuf> {
    zoo_test_support::tool(
        "openssl",
        "install OpenSSL's command (Debian package `openssl`)",
    )
}

#[track_caller]
pub fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An EC key pair on `curve` (an OpenSSL name: prime256v1, secp384r1,
/// secp521r1) in `dir`: (private key, public key).
pub fn key_pair(openssl: &Path, dir: &Path, curve: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let key = dir.join(format!("{curve}.key.pem"));
    let public = dir.join(format!("{curve}.pub.pem"));
    run_ok(
        Command::new(openssl)
            .args(["ecparam", "-name", curve, "-genkey", "-noout", "-out"])
            .arg(&key),
    );
    run_ok(
        Command::new(openssl)
            .args(["ec", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public),
    );
    (key, public)
}

/// A test CA and certificates it issues.
pub struct Pki {
    openssl: PathBuf,
    pub dir: PathBuf,
    pub ca: PathBuf,
    ca_key: PathBuf,
}

impl Pki {
    pub fn new(openssl: &Path, dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let (ca_key, _) = key_pair(openssl, &dir.join("ca"), "prime256v1");
        let ca = dir.join("ca.pem");
        run_ok(
            Command::new(openssl)
                .args([
                    "req",
                    "-x509",
                    "-new",
                    "-subj",
                    "/CN=Zoo Test CA",
                    "-days",
                    "2",
                    "-key",
                ])
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca)
                .args([
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ]),
        );
        Pki {
            openssl: openssl.to_owned(),
            dir: dir.to_owned(),
            ca,
            ca_key,
        }
    }

    /// A leaf certificate named `name` for a new key on `curve`, with the
    /// extensions `ext` (an OpenSSL extension file's lines), valid for
    /// `days` (-1: already expired): (key, certificate).
    pub fn leaf(&self, name: &str, curve: &str, ext: &str, days: i32) -> (PathBuf, PathBuf) {
        let (key, _) = key_pair(&self.openssl, &self.dir.join(name), curve);
        let csr = self.dir.join(format!("{name}.csr"));
        let cert = self.dir.join(format!("{name}.pem"));
        let ext_file = self.dir.join(format!("{name}.ext"));
        std::fs::write(&ext_file, ext).unwrap();
        run_ok(
            Command::new(&self.openssl)
                .args(["req", "-new", "-subj"])
                .arg(format!("/CN={name}/O=Zoo Tests"))
                .arg("-key")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        );
        run_ok(
            Command::new(&self.openssl)
                .args(["x509", "-req", "-CAcreateserial", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.ca)
                .arg("-CAkey")
                .arg(&self.ca_key)
                .arg("-days")
                .arg(days.to_string())
                .arg("-extfile")
                .arg(&ext_file)
                .arg("-out")
                .arg(&cert),
        );
        (key, cert)
    }

    /// A leaf fit for code signing.
    pub fn code_signing(&self, name: &str, curve: &str) -> (PathBuf, PathBuf) {
        self.leaf(name, curve, CODE_SIGNING, 1)
    }
}

pub const CODE_SIGNING: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n";

/// Whether the tests' Python has the reference tool (else a skip).
pub fn has_model_signing() -> bool {
    skip::python_has(
        &["model_signing", "OpenSSL"],
        &["model-signing", "pyopenssl"],
    )
}

/// `python -m model_signing ARGS`.
pub fn model_signing(args: &[&str]) -> Run {
    Run::from(
        skip::python_command()
            .args(["-m", "model_signing"])
            .args(args)
            .output()
            .expect("run model_signing"),
    )
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
