//! The signature state `zoo info` and `zoo audit` report, for people and as
//! JSON, and in the AI-BOMs: unsigned, verified (by a key or a certificate,
//! trusted or not), failed (naming the file), keyless; and the audit
//! policy's `require_signature` with its own `trusted_keys` and
//! `trusted_roots`, which fails the audit with exit code 6.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::setup::{Home, Pki, key_pair, openssl, run_ok, s, tiny};

fn config(home: &Home, yaml: &str) {
    home.write("config/zoo/config.yaml", yaml.as_bytes());
}

fn info_signature(home: &Home) -> Value {
    let info = home.run(&["info", "tiny", "--json"]).success().json();
    info["signature"].clone()
}

fn audit_signature(home: &Home) -> Value {
    let report = home.run(&["audit", "tiny", "--json"]).success().json();
    report["models"][0]["signature"].clone()
}

/// The `zoo:signature:*` properties of the model in the CycloneDX AI-BOM.
fn bom_properties(home: &Home) -> Vec<(String, String)> {
    let bom = home
        .run(&["audit", "tiny", "--format", "cyclonedx"])
        .success()
        .json();
    bom["components"][0]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["value"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(n, _)| n.starts_with("zoo:signature:"))
        .collect()
}

#[test]
fn info_and_audit_report_each_signature_state() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 40));
    let (key, _) = key_pair(&openssl, &home.path().join("config/zoo/keys"), "prime256v1");

    // Unsigned.
    assert_eq!(info_signature(&home)["state"], "unsigned");
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("Signature    unsigned");
    assert_eq!(audit_signature(&home)["state"], "unsigned");
    home.run(&["audit", "tiny"])
        .success()
        .stdout_has("Signature   unsigned");

    // Signed by a key the config trusts (a path relative to the config).
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    config(&home, "trusted_keys: [keys/prime256v1.pub.pem]\n");
    let fingerprint = home
        .run(&["verify", "tiny", "--signature", "--json"])
        .success()
        .json()[0]["signer"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = info_signature(&home);
    assert_eq!(state["state"], "verified", "{state}");
    assert_eq!(state["trusted"], true);
    assert_eq!(state["files"], 4);
    assert_eq!(state["signer"]["method"], "key");
    assert_eq!(state["signer"]["fingerprint"], fingerprint.as_str());
    home.run(&["info", "tiny"]).success().stdout_has(&format!(
        "Signature    verified (4 files), signed by key {fingerprint} (P-256), trusted"
    ));
    assert_eq!(audit_signature(&home), state);
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("over the files as pulled");
    let props = bom_properties(&home);
    for (name, value) in [
        ("zoo:signature:state", "verified"),
        ("zoo:signature:trusted", "true"),
        ("zoo:signature:key", fingerprint.as_str()),
    ] {
        assert!(
            props.iter().any(|(n, v)| n == name && v == value),
            "{name}={value} in {props:?}"
        );
    }

    // Signed by a key the config does not hold: nothing can be checked.
    config(&home, "");
    let state = info_signature(&home);
    assert_eq!(state["state"], "failed", "{state}");
    assert_eq!(state["failure"], "untrusted");
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("give its public key");

    // A changed file: `zoo info` compares with the digests recorded at pull
    // (it reads no file, and says so); `zoo audit` re-hashes: failed, naming
    // the file, an error finding, exit 6.
    config(&home, "trusted_keys: [keys/prime256v1.pub.pem]\n");
    let weights = home.model_dir("tiny").join("config.json");
    std::fs::remove_file(&weights).unwrap();
    std::fs::write(&weights, b"{\"a\": 2}").unwrap();
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("over the files as pulled; `zoo verify tiny --signature` re-hashes them");
    let report = home.run(&["audit", "tiny", "--json"]).code(6).json();
    let state = &report["models"][0]["signature"];
    assert_eq!(state["state"], "failed", "{state}");
    assert_eq!(state["failure"], "files");
    assert_eq!(state["diff"]["changed"][0], "config.json");
    home.run(&["audit", "tiny"])
        .code(6)
        .stdout_has("FAILED: the files do not match the signature: changed: config.json")
        .stdout_has("signature-invalid")
        .stderr_has("tiny: the files do not match the signature");
    // The AI-BOM is written all the same, with the failure in it.
    home.run(&["audit", "tiny", "--format", "spdx"])
        .code(6)
        .stdout_has("zoo:signature:failure: files");
}

#[test]
fn certificates_are_verified_trusted_or_not_and_keyless_is_named() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 41));
    let pki = Pki::new(&openssl, &home.path().join("config/zoo/pki"));
    let (key, cert) = pki.code_signing("release", "secp384r1");
    home.sign_with_cert("tiny", &key, &cert, &pki.ca).success();

    // No trusted root: the signature and files verify, the signer is not trusted.
    let state = info_signature(&home);
    assert_eq!(state["state"], "verified", "{state}");
    assert_eq!(state["trusted"], false);
    assert!(
        state["untrusted_because"]
            .as_str()
            .unwrap()
            .contains("no trusted root"),
        "{state}"
    );
    assert_eq!(state["signer"]["method"], "certificate");
    assert!(
        state["signer"]["subject"]
            .as_str()
            .unwrap()
            .contains("release")
    );
    assert!(
        state["signer"]["issuer"]
            .as_str()
            .unwrap()
            .contains("Zoo Test CA")
    );
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("NOT TRUSTED");
    // Not trusted is information, not a failure, without a policy asking.
    let report = home.run(&["audit", "tiny", "--json"]).success().json();
    assert!(
        report["models"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "signature-untrusted" && f["severity"] == "info"),
        "{report}"
    );

    // The config trusts the CA: trusted.
    config(&home, "trusted_roots: [pki/ca.pem]\n");
    let state = info_signature(&home);
    assert_eq!(state["trusted"], true, "{state}");
    assert!(state.get("untrusted_because").is_none(), "{state}");
    home.run(&["audit", "tiny"])
        .success()
        .stdout_has("issued by CN=Zoo Test CA, trusted");

    // A keyless bundle: named, never verified.
    keyless(&openssl, &home, &cert);
    let state = info_signature(&home);
    assert_eq!(state["state"], "keyless", "{state}");
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("not verifiable offline");
}

/// Replace tiny's signature by a keyless-looking bundle: the certificate in
/// `certificate`, a transparency-log entry.
fn keyless(openssl: &Path, home: &Home, cert: &Path) {
    let der = home.path().join("keyless.der");
    run_ok(
        Command::new(openssl)
            .args(["x509", "-outform", "DER", "-in"])
            .arg(cert)
            .arg("-out")
            .arg(&der),
    );
    let b64 = Command::new(openssl)
        .args(["base64", "-A", "-in"])
        .arg(&der)
        .output()
        .unwrap();
    let good = std::fs::read(home.model_dir("tiny").join("model.sig")).unwrap();
    let mut v: Value = serde_json::from_slice(&good).unwrap();
    v["verificationMaterial"] = serde_json::json!({
        "certificate": {"rawBytes": String::from_utf8(b64.stdout).unwrap()},
        "tlogEntries": [{"logIndex": "1"}],
    });
    home.put_signature("tiny", v.to_string().as_bytes());
}

fn policy(home: &Home, yaml: &str) -> String {
    let path = home.write("policy/policy.yaml", yaml.as_bytes());
    path.to_str().unwrap().to_owned()
}

#[test]
fn an_audit_policy_requires_a_signature_by_a_signer_it_trusts() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 42));
    let (key, _) = key_pair(&openssl, &home.path().join("policy/keys"), "prime256v1");
    let (other_key, _) = key_pair(&openssl, &home.path().join("other"), "secp384r1");
    let required = policy(
        &home,
        "require_signature: true\ntrusted_keys: [keys/prime256v1.pub.pem]\n",
    );

    // Unsigned: exit 6, the model named and what to do.
    home.run(&["audit", "tiny", "--policy", &required])
        .code(6)
        .stdout_has("signature-missing")
        .stderr_has("tiny: the policy requires a signature")
        .stderr_has("zoo sign");
    // Without the policy the same model passes.
    home.run(&["audit", "tiny"]).success();

    // Signed by another key: untrusted, exit 6.
    home.run(&["sign", "tiny", "--key", s(&other_key)])
        .success();
    home.run(&["audit", "tiny", "--policy", &required, "--json"])
        .code(6)
        .stderr_has("tiny: untrusted signer");

    // Signed by the key the policy trusts; the config trusting someone else
    // does not matter: the policy's lists replace the config's.
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    config(
        &home,
        &format!("trusted_keys: [\"sha256:{}\"]\n", "ab".repeat(32)),
    );
    let report = home
        .run(&["audit", "tiny", "--policy", &required, "--json"])
        .success()
        .json();
    assert_eq!(report["models"][0]["signature"]["trusted"], true);
    assert_eq!(report["policy"]["require_signature"], true);
    // The AI-BOM of a passing audit records the trusted signer.
    home.run(&[
        "audit",
        "tiny",
        "--policy",
        &required,
        "--format",
        "cyclonedx",
    ])
    .success()
    .stdout_has("\"zoo:signature:trusted\"");

    // A policy that requires signatures but trusts nobody (nor does the
    // config), or lists a malformed fingerprint: bad input, exit 2.
    config(&home, "");
    let nobody = policy(&home, "require_signature: true\n");
    home.run(&["audit", "tiny", "--policy", &nobody])
        .code(2)
        .stderr_has("no signer is trusted");
    let bad = policy(
        &home,
        "require_signature: true\ntrusted_keys: [\"sha256:abc\"]\n",
    );
    home.run(&["audit", "tiny", "--policy", &bad])
        .code(2)
        .stderr_has("64 hex digits");
    let missing = policy(&home, "trusted_keys: [nowhere.pem]\n");
    home.run(&["audit", "tiny", "--policy", &missing])
        .code(2)
        .stderr_has("nowhere.pem");
}
