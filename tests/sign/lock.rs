//! `zoo sign` takes the store's lock for the model (the store lock shared,
//! the model's exclusive, as `zoo pull` does): while another process holds
//! the model's lock, it waits, says why, and writes nothing.

use std::process::Stdio;
use std::time::Duration;

use crate::setup::{Home, key_pair, openssl, s, tiny};

#[test]
fn sign_waits_while_another_process_changes_the_model() {
    let Some(openssl) = openssl() else { return };
    let home = Home::with(&tiny("tiny", 60));
    let (key, _) = key_pair(&openssl, &home.path().join("keys"), "prime256v1");
    // What a `zoo pull tiny` in progress holds.
    let lock = home.env.zoo_home().join("store/locks/model-tiny.lock");
    let held = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .unwrap();
    held.lock().unwrap();
    let child = home
        .zoo()
        .args(["sign", "tiny", "--key", s(&key)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let signature = home.model_dir("tiny").join("model.sig");
    assert!(
        !signature.exists(),
        "zoo sign wrote while the model was locked"
    );
    held.unlock().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for another zoo process that is changing 'tiny'"),
        "{stderr}"
    );
    assert!(signature.is_file());
}
