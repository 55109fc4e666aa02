//! A signature made by `zoo sign` travels with the model: it is one more file
//! of the artifact, so a pull on another machine, and a `skopeo copy` to
//! another repository, keep it, and `zoo verify --signature` passes there.

use std::path::{Path, PathBuf};
use std::process::Command;

use zoo_test_support::OciRegistry;

use crate::setup::{Home, run_skopeo, skopeo, tiny};

#[test]
fn a_signed_model_verifies_after_push_skopeo_copy_and_pull() {
    if skopeo().is_none() {
        return;
    }
    let Some(openssl) = zoo_test_support::tool("openssl", "install Debian's `openssl`") else {
        return;
    };
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let a = Home::with(&tiny("signed", 21, 200_000));
    let keys = a.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, public) = key_pair(&openssl, &keys, "key");
    a.run(&["sign", "signed", "--key", key.to_str().unwrap()])
        .success();

    let host = registry.host();
    let report = a.push("signed", &format!("{host}/team/signed:v1"), &[]);
    let layers: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert!(layers.contains(&"model.sig"), "{layers:?}");
    run_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/team/signed:v1"),
        &format!("docker://{host}/mirror/signed:v1"),
    ]);

    let b = Home::new();
    b.run(&["pull", &format!("oci://{host}/mirror/signed:v1"), "--quiet"])
        .success();
    let verified = b.run(&[
        "verify",
        "signed",
        "--signature",
        "--key",
        public.to_str().unwrap(),
    ]);
    verified.success();
    // Another key does not verify it.
    let (_, other_pub) = key_pair(&openssl, &keys, "other");
    let refused = b.run(&[
        "verify",
        "signed",
        "--signature",
        "--key",
        other_pub.to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 6, "{refused:?}");
}

/// A P-256 key pair made with openssl: (private PEM, public PEM).
fn key_pair(openssl: &Path, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.pub.pem")),
    );
    let run = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
    run(Command::new(openssl)
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
        ])
        .arg(&key));
    run(Command::new(openssl)
        .args(["ec", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public));
    (key, public)
}
