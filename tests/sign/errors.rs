//! Every way a signature must fail, each a clear error with exit code 6 (or
//! 2 for unusable key material given on the command line), never a pass.

use std::path::Path;
use std::process::Command;

use crate::setup::{
    CODE_SIGNING, Home, Pki, has_model_signing, key_pair, model_signing, openssl, run_ok, s, tiny,
};

/// A home with `tiny` pulled and signed by a new P-256 key: (home, public key).
fn signed_home(openssl: &Path, seed: u64) -> (Home, std::path::PathBuf) {
    let home = Home::with(&tiny("tiny", seed));
    let (key, public) = key_pair(openssl, &home.path().join("keys"), "prime256v1");
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    (home, public)
}

#[test]
fn unsigned_models_and_wrong_keys_fail() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 10));
    let (key, public) = key_pair(&openssl, &home.path().join("keys"), "prime256v1");
    let (_, other) = key_pair(&openssl, &home.path().join("other"), "secp384r1");
    home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
        .code(6)
        .stdout_has("has no signature");
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    home.run(&["verify", "tiny", "--signature", "--key", s(&other)])
        .code(6)
        .stdout_has("not by a trusted key");
    // No key given and none in the config: the signer is named, not trusted.
    home.run(&["verify", "tiny", "--signature"])
        .code(6)
        .stdout_has("give its public key with --key");
    // A public key file that is not one: bad input.
    let junk = home.write("junk.pem", b"not a key");
    home.run(&["verify", "tiny", "--signature", "--key", s(&junk)])
        .code(2)
        .stderr_has("not a PEM file");
    home.run(&["sign", "tiny", "--key", s(&public)])
        .code(2)
        .stderr_has("no PRIVATE KEY");
}

#[test]
fn truncated_non_json_oversized_and_foreign_bundles_fail() {
    let Some(openssl) = openssl() else { return };
    let (home, public) = signed_home(&openssl, 11);
    let good = std::fs::read(home.model_dir("tiny").join("model.sig")).unwrap();
    let verify = || home.run(&["verify", "tiny", "--signature", "--key", s(&public)]);
    home.put_signature("tiny", &good[..good.len() / 2]);
    verify().code(6).stdout_has("not a valid model signature");
    home.put_signature("tiny", b"\x00\x01 not json at all");
    verify().code(6).stdout_has("not a Sigstore bundle in JSON");
    home.put_signature("tiny", &vec![b' '; (16 << 20) + 1]);
    verify().code(6).stdout_has("larger than the 16 MiB");
    // A valid bundle of the same key over another model's files.
    let other = Home::with(&tiny("tiny", 12));
    let key = home.path().join("keys/prime256v1.key.pem");
    other.run(&["sign", "tiny", "--key", s(&key)]).success();
    home.put_signature(
        "tiny",
        &std::fs::read(other.model_dir("tiny").join("model.sig")).unwrap(),
    );
    verify().code(6).stdout_has("changed     onnx/model.onnx");
    // The payload changed after signing.
    let text = String::from_utf8(good.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = v["dsseEnvelope"]["payload"].as_str().unwrap();
    let mut forged = payload.as_bytes().to_vec();
    forged[40] = if forged[40] == b'A' { b'B' } else { b'A' };
    let forged = text.replace(payload, std::str::from_utf8(&forged).unwrap());
    home.put_signature("tiny", forged.as_bytes());
    verify().code(6).stdout_has("signature does not verify");
    // Put back, all is well again.
    home.put_signature("tiny", &good);
    verify().success();
}

/// A bundle over `statement`, signed by `key` with OpenSSL (an independent
/// DSSE implementation): PAE, ECDSA-SHA256, DER, base64.
fn openssl_bundle(openssl: &Path, dir: &Path, key: &Path, hint: &str, statement: &str) -> Vec<u8> {
    let ptype = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {ptype} {} ", ptype.len(), statement.len()).into_bytes();
    pae.extend_from_slice(statement.as_bytes());
    std::fs::write(dir.join("pae.bin"), &pae).unwrap();
    std::fs::write(dir.join("statement.json"), statement).unwrap();
    run_ok(
        Command::new(openssl)
            .args(["dgst", "-sha256", "-sign"])
            .arg(key)
            .arg("-out")
            .arg(dir.join("sig.der"))
            .arg(dir.join("pae.bin")),
    );
    let b64 = |file: &str| {
        let out = Command::new(openssl)
            .args(["base64", "-A", "-in"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":"{hint}"}},"tlogEntries":[]}},"dsseEnvelope":{{"payload":"{}","payloadType":"{ptype}","signatures":[{{"sig":"{}","keyid":""}}]}}}}"#,
        b64("statement.json"),
        b64("sig.der")
    )
    .into_bytes()
}

#[test]
fn a_signed_statement_with_hostile_names_fails() {
    let Some(openssl) = openssl() else { return };
    let (home, public) = signed_home(&openssl, 13);
    let key = home.path().join("keys/prime256v1.key.pem");
    let report = home.verify_signature_json("tiny", &public);
    let hint = report[0]["signer"]["fingerprint"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    // A correctly signed statement whose file escapes the model's folder.
    let digest = "0".repeat(64);
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"tiny","digest":{{"sha256":"{root}"}}}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{{"serialization":{{"method":"files","hash_type":"sha256","allow_symlinks":false}},"resources":[{{"name":"../../etc/passwd","algorithm":"sha256","digest":"{digest}"}}]}}}}"#,
        root = sha256_of_digests(&[&digest])
    );
    home.put_signature(
        "tiny",
        &openssl_bundle(&openssl, home.path(), &key, &hint, &statement),
    );
    home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
        .code(6)
        .stdout_has("not a path inside the model");
    // The same bundle format with an honest statement is accepted: OpenSSL's
    // signature over zoo's PAE verifies.
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    let plain: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.model_dir("tiny").join("model.sig")).unwrap())
            .unwrap();
    let payload = decode_payload(
        &openssl,
        home.path(),
        plain["dsseEnvelope"]["payload"].as_str().unwrap(),
    );
    home.put_signature(
        "tiny",
        &openssl_bundle(&openssl, home.path(), &key, &hint, &payload),
    );
    home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
        .success();
}

fn decode_payload(openssl: &Path, dir: &Path, b64: &str) -> String {
    std::fs::write(dir.join("payload.b64"), b64).unwrap();
    let out = Command::new(openssl)
        .args(["base64", "-d", "-A", "-in"])
        .arg(dir.join("payload.b64"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn sha256_of_digests(hex: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for d in hex {
        let bytes: Vec<u8> = (0..d.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&d[i..i + 2], 16).unwrap())
            .collect();
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn expired_wrong_purpose_and_untrusted_certificates_fail() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 14));
    let pki = Pki::new(&openssl, &home.path().join("pki"));
    let other_ca = Pki::new(&openssl, &home.path().join("other-pki"));
    let (key, expired) = pki.leaf("expired", "prime256v1", CODE_SIGNING, -1);
    home.sign_with_cert("tiny", &key, &expired, &pki.ca)
        .code(2)
        .stderr_has("expired");
    let server_only = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
    let (key2, tls) = pki.leaf("tls", "prime256v1", server_only, 1);
    home.sign_with_cert("tiny", &key2, &tls, &pki.ca)
        .code(2)
        .stderr_has("not for code signing");
    // A certificate that is not the key's.
    home.sign_with_cert("tiny", &key2, &expired, &pki.ca)
        .code(2)
        .stderr_has("not for this key");

    let (key3, good) = pki.code_signing("good", "prime256v1");
    home.sign_with_cert("tiny", &key3, &good, &pki.ca).success();
    home.run(&[
        "verify",
        "tiny",
        "--signature",
        "--cert-chain",
        s(&other_ca.ca),
    ])
    .code(6)
    .stdout_has("not issued by a trusted root");
    home.run(&["verify", "tiny", "--signature"])
        .code(6)
        .stdout_has("no trusted root");

    // Bundles the reference writes with such certificates (it checks neither
    // expiry nor purpose when signing) are refused by zoo.
    if !has_model_signing() {
        return;
    }
    let plain = home.materialise("tiny", false);
    let sig = plain.join("model.sig");
    for (key, cert, why) in [
        (&key, &expired, "expired"),
        (&key2, &tls, "not for code signing"),
    ] {
        model_signing(&[
            "sign",
            "certificate",
            s(&plain),
            "--private_key",
            s(key),
            "--signing_certificate",
            s(cert),
            "--certificate_chain",
            s(&pki.ca),
            "--signature",
            s(&sig),
        ])
        .success();
        home.put_signature("tiny", &std::fs::read(&sig).unwrap());
        home.run(&["verify", "tiny", "--signature", "--cert-chain", s(&pki.ca)])
            .code(6)
            .stdout_has(why);
    }
}

#[test]
fn keyless_bundles_are_not_verifiable_offline() {
    let Some(openssl) = openssl() else { return };
    let (home, public) = signed_home(&openssl, 15);
    let pki = Pki::new(&openssl, &home.path().join("pki"));
    let (_, cert) = pki.code_signing("keyless", "prime256v1");
    let out = Command::new(&openssl)
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(home.path().join("cert.der"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let good = String::from_utf8(std::fs::read(home.model_dir("tiny").join("model.sig")).unwrap())
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let b64 = Command::new(&openssl)
        .args(["base64", "-A", "-in"])
        .arg(home.path().join("cert.der"))
        .output()
        .unwrap();
    v["verificationMaterial"] = serde_json::json!({
        "certificate": {"rawBytes": String::from_utf8(b64.stdout).unwrap()},
        "tlogEntries": [{"logIndex": "1"}],
    });
    home.put_signature("tiny", v.to_string().as_bytes());
    home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
        .code(6)
        .stdout_has("not verifiable offline");
}

#[test]
fn links_zoo_did_not_make_are_refused() {
    let Some(openssl) = openssl() else { return };
    let (home, public) = signed_home(&openssl, 16);
    let dir = home.model_dir("tiny");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("config.json")).unwrap();
    home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
        .code(6)
        .stdout_has("symbolic link zoo did not make");
}
