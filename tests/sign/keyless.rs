//! Keyless Sigstore bundles checked offline with `zoo verify --signature
//! --trust-root trusted_root.json`. The test plays Fulcio and Rekor with
//! openssl: a CA issues a short code-signing certificate naming an email and
//! an OIDC issuer, a log key signs the entry's signed entry timestamp over
//! the canonical JSON Rekor signs, and the bundle is assembled from a DSSE
//! envelope signed with the certificate's key. Without the trust root the
//! bundle stays "not verifiable offline"; a wrong CA, a wrong log key, an
//! altered entry or identity, and changed files all fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::setup::{Home, Pki, key_pair, openssl, run_ok, s, tiny};

const IDENTITY: &str = "signer@example.com";
const OIDC_ISSUER: &str = "https://issuer.example";
/// A Fulcio-like leaf: code signing, the identity in the SAN, the OIDC
/// issuer in Fulcio's extension 1.3.6.1.4.1.57264.1.8 (a UTF8String).
const FULCIO_LEAF: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
extendedKeyUsage=codeSigning\nsubjectAltName=email:signer@example.com\n\
1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:https://issuer.example\n";

struct Tools<'a> {
    openssl: &'a Path,
    dir: PathBuf,
}

impl Tools<'_> {
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn b64(&self, bytes: &[u8]) -> String {
        let input = self.file("b64.in", bytes);
        let out = Command::new(self.openssl)
            .args(["base64", "-A", "-in"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn unb64(&self, text: &str) -> Vec<u8> {
        let input = self.file("unb64.in", text.as_bytes());
        let out = Command::new(self.openssl)
            .args(["base64", "-d", "-A", "-in"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    }

    /// DER of a PEM certificate (`x509`) or public key (`pkey -pubin`).
    fn der(&self, args: &[&str], pem: &Path) -> Vec<u8> {
        let out = self.dir.join("der.out");
        run_ok(
            Command::new(self.openssl)
                .args(args)
                .args(["-outform", "DER", "-in"])
                .arg(pem)
                .arg("-out")
                .arg(&out),
        );
        std::fs::read(out).unwrap()
    }

    /// ECDSA-SHA256 signature (DER) of `message` by the key at `key`.
    fn sign(&self, key: &Path, message: &[u8]) -> Vec<u8> {
        let input = self.file("msg.in", message);
        let out = self.dir.join("sig.out");
        run_ok(
            Command::new(self.openssl)
                .args(["dgst", "-sha256", "-sign"])
                .arg(key)
                .arg("-out")
                .arg(&out)
                .arg(&input),
        );
        std::fs::read(out).unwrap()
    }
}

/// The log: its key pair and id (the sha256 of its public key's DER).
struct Log {
    key: PathBuf,
    public_der: Vec<u8>,
}

impl Log {
    fn id(&self) -> Vec<u8> {
        Sha256::digest(&self.public_der).to_vec()
    }
}

fn trust_root(t: &Tools, ca: &Path, log_key_der: &[u8], log_id: &[u8]) -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": t.b64(log_key_der),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            },
            "logId": {"keyId": t.b64(log_id)},
        }],
        "certificateAuthorities": [{
            "subject": {"organization": "Zoo Tests", "commonName": "Zoo Test CA"},
            "uri": "https://fulcio.test",
            "certChain": {"certificates": [{"rawBytes": t.b64(&t.der(&["x509"], ca))}]},
            "validFor": {"start": "2020-01-01T00:00:00.000Z"},
        }],
        "ctlogs": [],
        "timestampAuthorities": [],
    })
}

/// The keyless bundle for `envelope` (a DSSE envelope signed by the leaf's
/// key), logged at `time` by `log`.
fn keyless_bundle(t: &Tools, envelope: &Value, leaf: &Path, log: &Log, time: u64) -> Value {
    let payload = t.unb64(envelope["payload"].as_str().unwrap());
    let signature = envelope["signatures"][0]["sig"].as_str().unwrap();
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex(&Sha256::digest(envelope.to_string()))},
            "payloadHash": {"algorithm": "sha256", "value": hex(&Sha256::digest(&payload))},
            "signatures": [{"signature": signature, "verifier": t.b64(&std::fs::read(leaf).unwrap())}],
        },
    });
    let body = t.b64(body.to_string().as_bytes());
    let canonical = format!(
        "{{\"body\":\"{body}\",\"integratedTime\":{time},\"logID\":\"{}\",\"logIndex\":42}}",
        hex(&log.id())
    );
    let set = t.sign(&log.key, canonical.as_bytes());
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": t.b64(&t.der(&["x509"], leaf))},
            "tlogEntries": [{
                "logIndex": "42",
                "logId": {"keyId": t.b64(&log.id())},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": t.b64(&set)},
                "canonicalizedBody": body,
            }],
        },
        "dsseEnvelope": envelope,
    })
}

/// sigstore-python's `TransparencyLogEntry._verify_set`, on the bundle's
/// entry: argv[1] the bundle, argv[2] the log's public key (PEM).
const REFERENCE_SET_CHECK: &str = r#"
import base64, json, sys
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
e = json.load(open(sys.argv[1]))["verificationMaterial"]["tlogEntries"][0]
payload = {
    "body": e["canonicalizedBody"],
    "integratedTime": int(e["integratedTime"]),
    "logID": base64.b64decode(e["logId"]["keyId"]).hex(),
    "logIndex": int(e["logIndex"]),
}
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
key.verify(base64.b64decode(e["inclusionPromise"]["signedEntryTimestamp"]),
           rfc8785.dumps(payload), ec.ECDSA(hashes.SHA256()))
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn keyless_bundles_verify_against_a_supplied_trust_root() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 50));
    let t = Tools {
        openssl: &openssl,
        dir: home.path().join("tools"),
    };
    std::fs::create_dir_all(&t.dir).unwrap();
    let pki = Pki::new(&openssl, &home.path().join("fulcio"));
    let (leaf_key, leaf) = pki.leaf("keyless", "prime256v1", FULCIO_LEAF, 1);
    let (log_key, log_pub) = key_pair(&openssl, &home.path().join("rekor"), "prime256v1");
    let log = Log {
        key: log_key,
        public_der: t.der(&["pkey", "-pubin"], &log_pub),
    };
    // The envelope: zoo signs with the certificate's key.
    home.run(&["sign", "tiny", "--key", s(&leaf_key)]).success();
    let signed: Value =
        serde_json::from_slice(&std::fs::read(home.model_dir("tiny").join("model.sig")).unwrap())
            .unwrap();
    let envelope = signed["dsseEnvelope"].clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let bundle = keyless_bundle(&t, &envelope, &leaf, &log, now);
    home.put_signature("tiny", bundle.to_string().as_bytes());
    let root = trust_root(&t, &pki.ca, &log.public_der, &log.id());
    let root_path = home.write("trusted_root.json", root.to_string().as_bytes());
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "tiny", "--signature"];
        args.extend_from_slice(extra);
        home.run(&args)
    };

    // The reference's way to check a signed entry timestamp (sigstore-python,
    // a dependency of model-signing: RFC 8785 JSON of the entry, ECDSA with
    // the log key) accepts the entry this test made, so zoo's acceptance
    // below is of the real format, not only of this test's idea of it.
    if zoo_test_support::skip::python_has(&["sigstore", "rfc8785"], &["model-signing"]) {
        let bundle_path = home.write("keyless.sigstore.json", bundle.to_string().as_bytes());
        let out = zoo_test_support::skip::python_command()
            .args(["-c", REFERENCE_SET_CHECK, s(&bundle_path), s(&log_pub)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Without a trust root: not verifiable offline, never verified.
    verify(&[]).code(6).stdout_has("not verifiable offline");
    home.run(&["info", "tiny"])
        .success()
        .stdout_has("not verifiable offline");

    // With it: verified, the identity named, what was not checked said.
    verify(&["--trust-root", s(&root_path)])
        .success()
        .stdout_has(&format!(
            "signature OK (4 files), signed by keyless identity {IDENTITY} (OIDC issuer {OIDC_ISSUER})"
        ))
        .stdout_has("NOT CHECKED: the Rekor inclusion proof");
    let json = verify(&["--trust-root", s(&root_path), "--json"])
        .success()
        .json();
    let signer = &json[0]["signer"];
    assert_eq!(signer["method"], "keyless", "{json}");
    assert_eq!(signer["identity"], IDENTITY);
    assert_eq!(signer["log_index"], 42);
    assert_eq!(signer["certificate_authority"], "https://fulcio.test");
    assert!(signer["not_checked"].as_array().unwrap().len() >= 3);
    // The identity pinned: the right one passes (and is no longer "not
    // checked"), another fails.
    let pinned = verify(&[
        "--trust-root",
        s(&root_path),
        "--identity",
        IDENTITY,
        "--oidc-issuer",
        OIDC_ISSUER,
        "--json",
    ])
    .success()
    .json();
    assert_eq!(
        pinned[0]["signer"]["not_checked"].as_array().unwrap().len(),
        2
    );
    verify(&[
        "--trust-root",
        s(&root_path),
        "--identity",
        "other@example.com",
    ])
    .code(6)
    .stdout_has("not the identity other@example.com");

    // A trust root with another CA: the certificate does not chain.
    let other_ca = Pki::new(&openssl, &home.path().join("other-ca"));
    let wrong_ca = home.write(
        "wrong-ca.json",
        trust_root(&t, &other_ca.ca, &log.public_der, &log.id())
            .to_string()
            .as_bytes(),
    );
    verify(&["--trust-root", s(&wrong_ca)])
        .code(6)
        .stdout_has("does not chain to a certificate authority of the trust root");
    // Another log: not listed; the log's id with another key: the signed
    // entry timestamp does not verify.
    let (_, other_pub) = key_pair(&openssl, &home.path().join("other-log"), "prime256v1");
    let other_der = t.der(&["pkey", "-pubin"], &other_pub);
    let other_id = Sha256::digest(&other_der).to_vec();
    let wrong_log = home.write(
        "wrong-log.json",
        trust_root(&t, &pki.ca, &other_der, &other_id)
            .to_string()
            .as_bytes(),
    );
    verify(&["--trust-root", s(&wrong_log)])
        .code(6)
        .stdout_has("a transparency log the trust root does not list");
    let wrong_key = home.write(
        "wrong-key.json",
        trust_root(&t, &pki.ca, &other_der, &log.id())
            .to_string()
            .as_bytes(),
    );
    verify(&["--trust-root", s(&wrong_key)])
        .code(6)
        .stdout_has("signed entry timestamp does not verify");
    // Not a trust root at all: bad input.
    let junk = home.write("junk.json", b"{\"mediaType\": \"x\"}");
    verify(&["--trust-root", s(&junk)])
        .code(2)
        .stderr_has("not a Sigstore trust root");

    // The entry altered after the log signed it (another time): refused.
    let mut altered = bundle.clone();
    altered["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
        json!((now - 60).to_string());
    home.put_signature("tiny", altered.to_string().as_bytes());
    verify(&["--trust-root", s(&root_path)])
        .code(6)
        .stdout_has("signed entry timestamp does not verify");
    // A correctly logged entry for another envelope: refused.
    let mut other_env = envelope.clone();
    other_env["payload"] = json!(t.b64(b"{}"));
    let mut mixed = keyless_bundle(&t, &other_env, &leaf, &log, now);
    mixed["dsseEnvelope"] = envelope.clone();
    home.put_signature("tiny", mixed.to_string().as_bytes());
    verify(&["--trust-root", s(&root_path)])
        .code(6)
        .stdout_has("the transparency-log entry is for another signature");

    // The good bundle over changed files: the files fail.
    home.put_signature("tiny", bundle.to_string().as_bytes());
    let config = home.model_dir("tiny").join("config.json");
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, b"{\"a\": 3}").unwrap();
    verify(&["--trust-root", s(&root_path)])
        .code(6)
        .stdout_has("changed     config.json");
}
