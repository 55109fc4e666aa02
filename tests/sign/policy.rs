//! `require_signature` in the config: `zoo pull` registers a model only when
//! its files include a signature by a trusted signer over exactly the other
//! files; otherwise it fails with exit code 6 and the store is as it was.

use zoo_test_support::LocalModel;

use crate::setup::{Home, key_pair, openssl, s, tiny};

/// `tiny` with a `model.sig` that the key at `key` made over its files.
fn signed_tiny(key: &std::path::Path, seed: u64) -> LocalModel {
    let model = tiny("tiny", seed);
    let signer = Home::with(&model);
    signer.run(&["sign", "tiny", "--key", s(key)]).success();
    let sig = std::fs::read(signer.model_dir("tiny").join("model.sig")).unwrap();
    model.file("model.sig", sig, "other", "documentation")
}

fn require(home: &Home, trusted: &str) {
    home.write(
        "config/zoo/config.yaml",
        format!("require_signature: true\ntrusted_keys: [{trusted}]\n").as_bytes(),
    );
}

#[test]
fn pull_registers_only_models_signed_by_a_trusted_key() {
    let Some(openssl) = openssl() else { return };
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(&openssl, &keys.path().join("trusted"), "prime256v1");
    let (other_key, _) = key_pair(&openssl, &keys.path().join("other"), "secp384r1");

    // Signed by the trusted key: pulled, and verified from the config's trust.
    let home = Home {
        env: crate::util::TestEnv::new(),
    };
    signed_tiny(&key, 20).write(home.path());
    require(&home, s(&public));
    home.run(&["pull", "tiny", "--quiet"]).success();
    home.run(&["verify", "tiny", "--signature"])
        .success()
        .stdout_has("signature OK (4 files)");
    home.run(&["verify", "tiny"]).success();

    // Unsigned: refused, nothing registered.
    let home = Home {
        env: crate::util::TestEnv::new(),
    };
    tiny("tiny", 21).write(home.path());
    require(&home, s(&public));
    home.run(&["pull", "tiny", "--quiet"])
        .code(6)
        .stderr_has("has no signature");
    assert!(!home.model_dir("tiny").exists());
    home.run(&["ls"]).success().stdout_has("no models pulled");

    // Signed by another key.
    let home = Home {
        env: crate::util::TestEnv::new(),
    };
    signed_tiny(&other_key, 22).write(home.path());
    require(&home, s(&public));
    home.run(&["pull", "tiny", "--quiet"])
        .code(6)
        .stderr_has("not by a trusted key");
    assert!(!home.model_dir("tiny").exists());

    // A signature over other files (a file replaced on the card and its source).
    let home = Home {
        env: crate::util::TestEnv::new(),
    };
    let mut model = signed_tiny(&key, 23);
    model.files[1].bytes = b"{\"a\": 2}".to_vec();
    model.write(home.path());
    require(&home, s(&public));
    home.run(&["pull", "tiny", "--quiet"])
        .code(6)
        .stderr_has("changed: config.json");

    // require_signature with nobody trusted is a configuration error.
    home.write("config/zoo/config.yaml", b"require_signature: true\n");
    home.run(&["pull", "tiny", "--quiet"])
        .code(2)
        .stderr_has("no signer is trusted");
}
