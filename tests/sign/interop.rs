//! Both ways with the reference: what zoo signs, `model_signing verify`
//! accepts; what `model_signing sign` writes, `zoo verify --signature`
//! accepts; and after a byte changes, or a file is added or removed, both
//! reject it and zoo names the file.

use crate::setup::{Home, Pki, has_model_signing, key_pair, model_signing, openssl, s, tiny};

#[test]
fn zoo_signs_with_a_key_and_model_signing_verifies_on_every_curve() {
    let (Some(openssl), true) = (openssl(), has_model_signing()) else {
        return;
    };
    let home = Home::with(&tiny("tiny", 1));
    for curve in ["prime256v1", "secp384r1", "secp521r1"] {
        let (key, public) = key_pair(&openssl, &home.path().join("keys"), curve);
        let signed = home
            .run(&["sign", "tiny", "--key", s(&key), "--json"])
            .success()
            .json();
        assert_eq!(signed["files"], 4, "{signed}");
        let plain = home.materialise("tiny", true);
        let sig = plain.join("model.sig");
        model_signing(&[
            "verify",
            "key",
            s(&plain),
            "--signature",
            s(&sig),
            "--public_key",
            s(&public),
        ])
        .success()
        .stdout_has("Verification succeeded");
        // The store's folder itself, whose files are links to blobs.
        let dir = home.model_dir("tiny");
        model_signing(&[
            "verify",
            "key",
            s(&dir),
            "--signature",
            s(&dir.join("model.sig")),
            "--public_key",
            s(&public),
            "--allow_symlinks",
        ])
        .success();
        home.run(&["verify", "tiny", "--signature", "--key", s(&public)])
            .success()
            .stdout_has("signature OK (4 files)");
    }
    // `zoo verify` (re-hashing against the manifest) expects model.sig.
    home.run(&["verify", "tiny"])
        .success()
        .stdout_has("OK (4 files verified)");
}

#[test]
fn zoo_signs_with_a_certificate_and_model_signing_verifies() {
    let (Some(openssl), true) = (openssl(), has_model_signing()) else {
        return;
    };
    let home = Home::with(&tiny("tiny", 2));
    let pki = Pki::new(&openssl, &home.path().join("pki"));
    let (key, cert) = pki.code_signing("signer", "secp384r1");
    home.sign_with_cert("tiny", &key, &cert, &pki.ca)
        .success()
        .stdout_has("CN=signer");
    let plain = home.materialise("tiny", true);
    model_signing(&[
        "verify",
        "certificate",
        s(&plain),
        "--signature",
        s(&plain.join("model.sig")),
        "--certificate_chain",
        s(&pki.ca),
    ])
    .success();
    let report = home
        .run(&[
            "verify",
            "tiny",
            "--signature",
            "--cert-chain",
            s(&pki.ca),
            "--json",
        ])
        .success()
        .json();
    let signer = &report[0]["signer"];
    assert_eq!(signer["method"], "certificate", "{report}");
    assert_eq!(signer["subject"], "O=Zoo Tests,CN=signer");
    assert_eq!(signer["issuer"], "CN=Zoo Test CA");
}

#[test]
fn model_signing_signs_and_zoo_verifies() {
    let (Some(openssl), true) = (openssl(), has_model_signing()) else {
        return;
    };
    let home = Home::with(&tiny("tiny", 3));
    let plain = home.materialise("tiny", false);
    let sig = plain.join("model.sig");
    for curve in ["prime256v1", "secp384r1", "secp521r1"] {
        let (key, public) = key_pair(&openssl, &home.path().join("keys"), curve);
        model_signing(&[
            "sign",
            "key",
            s(&plain),
            "--private_key",
            s(&key),
            "--signature",
            s(&sig),
        ])
        .success();
        home.put_signature("tiny", &std::fs::read(&sig).unwrap());
        let report = home.verify_signature_json("tiny", &public);
        assert_eq!(report[0]["files"], 4, "{report}");
        assert_eq!(report[0]["signer"]["method"], "key");
    }
    let pki = Pki::new(&openssl, &home.path().join("pki"));
    let (key, cert) = pki.code_signing("python-signer", "prime256v1");
    model_signing(&[
        "sign",
        "certificate",
        s(&plain),
        "--private_key",
        s(&key),
        "--signing_certificate",
        s(&cert),
        "--certificate_chain",
        s(&pki.ca),
        "--signature",
        s(&sig),
    ])
    .success();
    home.put_signature("tiny", &std::fs::read(&sig).unwrap());
    home.run(&["verify", "tiny", "--signature", "--cert-chain", s(&pki.ca)])
        .success()
        .stdout_has("certificate O=Zoo Tests,CN=python-signer, issued by CN=Zoo Test CA");
}

#[test]
fn a_changed_added_or_removed_file_fails_both_tools_and_zoo_names_it() {
    let (Some(openssl), true) = (openssl(), has_model_signing()) else {
        return;
    };
    let home = Home::with(&tiny("tiny", 4));
    let (key, public) = key_pair(&openssl, &home.path().join("keys"), "prime256v1");
    home.run(&["sign", "tiny", "--key", s(&key)]).success();
    let dir = home.model_dir("tiny");
    let verify_zoo = || home.run(&["verify", "tiny", "--signature", "--key", s(&public)]);
    let verify_python = || {
        let plain = home.materialise("tiny", true);
        model_signing(&[
            "verify",
            "key",
            s(&plain),
            "--signature",
            s(&plain.join("model.sig")),
            "--public_key",
            s(&public),
        ])
    };
    verify_python().success();

    // One byte of one file: the link to the blob replaced by a changed copy.
    let weights = dir.join("onnx/model.onnx");
    let mut bytes = std::fs::read(&weights).unwrap();
    bytes[1000] ^= 1;
    std::fs::remove_file(&weights).unwrap();
    std::fs::write(&weights, &bytes).unwrap();
    verify_zoo()
        .code(6)
        .stdout_has("changed     onnx/model.onnx");
    verify_python().code(1).stderr_has("onnx/model.onnx");
    bytes[1000] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    verify_zoo().success();

    // A file added.
    std::fs::write(dir.join("onnx/extra.bin"), b"more").unwrap();
    verify_zoo()
        .code(6)
        .stdout_has("not signed  onnx/extra.bin");
    verify_python().code(1).stderr_has("onnx/extra.bin");
    std::fs::remove_file(dir.join("onnx/extra.bin")).unwrap();

    // A file removed.
    std::fs::remove_file(dir.join("a-b/c.json")).unwrap();
    verify_zoo().code(6).stdout_has("missing     a-b/c.json");
    verify_python().code(1).stderr_has("a-b/c.json");
}
