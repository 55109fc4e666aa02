//! A signature made by `zoo sign` travels with the model: it is one more file
//! of the artifact, so a pull on another machine, and a `skopeo copy` to
//! another repository, keep it, and `zoo verify --signature` passes there. It
//! is also attached to the model's manifest as an OCI 1.1 referrer (through
//! the referrers tag schema on distribution 2.8), and a signature attached
//! that way by another tool is found and checked by `zoo pull`.

use std::path::{Path, PathBuf};
use std::process::Command;

use zoo_test_support::OciRegistry;

use serde_json::Value;

use crate::setup::{Home, python, run_skopeo, sha256_hex, skopeo, tiny};
use crate::util;

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
    // The referrer: distribution 2.8.2 has no referrers API, so zoo wrote the
    // `sha256-<hex>` index tag; skopeo reads it and the manifest it lists.
    assert_eq!(report["signature"]["via"], "tag-schema", "{report:#}");
    let subject = report["digest"].as_str().unwrap();
    let index: Value = serde_json::from_str(&run_skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/team/signed:{}", subject.replace(':', "-")),
    ]))
    .unwrap();
    let listed = &index["manifests"][0];
    assert_eq!(
        listed["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json",
        "{index:#}"
    );
    assert_eq!(listed["digest"], report["signature"]["digest"]);
    let referrer: Value = serde_json::from_str(&run_skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!(
            "docker://{host}/team/signed@{}",
            listed["digest"].as_str().unwrap()
        ),
    ]))
    .unwrap();
    assert_eq!(referrer["subject"]["digest"], subject, "{referrer:#}");
    let bundle = sha256_hex(&a.read("signed", "model.sig"));
    assert_eq!(referrer["layers"][0]["digest"], format!("sha256:{bundle}"));
    run_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/team/signed:v1"),
        &format!("docker://{host}/mirror/signed:v1"),
    ]);

    // The AI-BOM pushed with the model records its signature.
    let bom_digest = crate::setup::layer(&report, "ai-bom.cdx.json")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let bom = python(
        "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
        &[&format!("http://{host}/v2/team/signed/blobs/{bom_digest}")],
    );
    assert!(bom.contains("zoo:signature:state"), "{bom}");

    // A pull checks the signature it brings: without the key in the config
    // it says it could not; with it, that it verifies.
    let b = Home::new();
    b.run(&["pull", &format!("oci://{host}/mirror/signed:v1")])
        .success()
        .stderr_has("signature: by a key zoo does not hold");
    let c = Home::new();
    c.write_config(&format!("trusted_keys: [{:?}]\n", public.to_str().unwrap()));
    c.run(&["pull", &format!("oci://{host}/mirror/signed:v1")])
        .success()
        .stderr_has("signature: verified (");
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

#[test]
fn a_signature_another_tool_attached_as_a_referrer_is_pulled_and_required() {
    // The referrer is written by a Python script of the standard library.
    if !zoo_test_support::skip::python_has(&["json", "urllib.request"], &[]) {
        return;
    }
    let Some(openssl) = zoo_test_support::tool("openssl", "install Debian's `openssl`") else {
        return;
    };
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let host = registry.host();
    // Pushed unsigned; signed afterwards, and the signature attached to the
    // pushed manifest by an independent writer of the referrers tag schema.
    let a = Home::with(&tiny("later", 22, 100_000));
    let report = a.push("later", &format!("{host}/team/later:v1"), &[]);
    assert!(report.get("signature").is_none(), "{report:#}");
    let keys = a.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, public) = key_pair(&openssl, &keys, "key");
    a.run(&["sign", "later", "--key", key.to_str().unwrap()])
        .success();
    let subject = report["digest"].as_str().unwrap();
    let manifest = run_skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/team/later@{subject}"),
    ]);
    let script = util::repo_root().join("tests/support/attach_referrer.py");
    let sig = a.model_dir("later").join("model.sig");
    python(
        &format!(
            "import runpy; runpy.run_path({:?}, run_name='__main__')",
            script.to_str().unwrap()
        ),
        &[
            &format!("http://{host}"),
            "team/later",
            subject,
            &manifest.trim_end_matches('\n').len().to_string(),
            sig.to_str().unwrap(),
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        ],
    );

    // Without require_signature, a signature found on a mutable tag is named,
    // not adopted: nothing checks it.
    let d = Home::new();
    d.run(&["pull", &format!("oci://{host}/team/later:v1")])
        .success()
        .stderr_has("not verified) is attached to it as an OCI referrer");
    assert!(!d.model_dir("later").join("model.sig").exists());

    // A home that requires a signature by that key pulls it, with the
    // signature found through the referrer, and verifies it.
    let b = Home::new();
    let trusted = b.path().join("trusted.pub.pem");
    std::fs::copy(&public, &trusted).unwrap();
    b.write_config(&format!(
        "require_signature: true\ntrusted_keys: [{:?}]\n",
        trusted.to_str().unwrap()
    ));
    let pulled = b.run(&["pull", &format!("oci://{host}/team/later:v1")]);
    pulled
        .success()
        .stderr_has("is attached to it as an OCI referrer; pulled as model.sig")
        .stderr_has("signature: verified (2 files)");
    assert_eq!(b.read("later", "model.sig"), std::fs::read(&sig).unwrap());
    b.run(&[
        "verify",
        "later",
        "--signature",
        "--key",
        public.to_str().unwrap(),
    ])
    .success();

    // The same model in a repository without the referrer is refused there.
    run_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/team/later:v1"),
        &format!("docker://{host}/bare/later:v1"),
    ]);
    let c = Home::new();
    std::fs::copy(&public, c.path().join("trusted.pub.pem")).unwrap();
    c.write_config(&format!(
        "require_signature: true\ntrusted_keys: [{:?}]\n",
        c.path().join("trusted.pub.pem").to_str().unwrap()
    ));
    let refused = c.run(&["pull", &format!("oci://{host}/bare/later:v1")]);
    assert_eq!(refused.code, 6, "{refused:?}");
    refused.stderr_has("model.sig");
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
