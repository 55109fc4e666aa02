//! A registry behind the Bearer token flow (Docker Hub's, Harbor's, GHCR's):
//! credentials from the Docker config, never printed; and cross-repository
//! mounts that send no byte of a blob the registry has.

use serde_json::json;
use zoo_test_support::{OciRegistry, RegistryFront};

use crate::setup::{Home, layer, tiny};
use crate::util::{Run, list_files};

const USER: &str = "alice";
const PASSWORD: &str = "pa55-w0rd-not-to-print";

/// Neither secret appears in what zoo printed, nor in any file of the home
/// (ZOO_HOME, caches, upload sessions) but the Docker config itself.
#[track_caller]
fn never_shown(home: &Home, run: &Run, token: &str) {
    for secret in [PASSWORD, token] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} printed: {run:#?}"
        );
    }
    for rel in list_files(home.path()) {
        if rel.starts_with("docker/") {
            continue;
        }
        let bytes = std::fs::read(home.path().join(&rel)).unwrap_or_default();
        for secret in [PASSWORD, token] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is written in {rel}"
            );
        }
    }
}

#[test]
fn token_flow_with_docker_credentials_pushes_and_pulls_and_never_prints_them() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let front = RegistryFront::start(&registry.host());
    let token = front.require_token(USER, PASSWORD);
    let model = tiny("tiny", 41, 300_000);
    let a = Home::with(&model);
    let target = format!("{}/private/tiny:v1", front.host());

    // No credentials: refused, naming `docker login`; nothing printed leaks.
    let run = a.run(&["push", "tiny", &target]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("docker login {}", front.host())),
        "{run:#?}"
    );
    never_shown(&a, &run, &token);
    // Wrong password: the same advice.
    a.login(&front.host(), USER, "wrong");
    let run = a.run(&["push", "tiny", &target]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("docker login"), "{run:#?}");
    never_shown(&a, &run, &token);

    // With them: the token service gets Basic, the registry the token.
    a.login(&front.host(), USER, PASSWORD);
    front.clear_log();
    let run = a.run(&["push", "tiny", &target, "--json"]).success();
    never_shown(&a, &run, &token);
    let log = front.log();
    let token_asks: Vec<_> = log
        .iter()
        .filter(|r| r.path.starts_with("/token"))
        .collect();
    assert!(!token_asks.is_empty(), "{log:#?}");
    for r in &token_asks {
        assert!(
            r.header("authorization")
                .is_some_and(|v| v.starts_with("Basic ")),
            "{r:#?}"
        );
        assert!(
            r.path.contains("scope=repository%3Aprivate%2Ftiny%3Apull"),
            "{r:#?}"
        );
    }
    assert!(
        token_asks
            .iter()
            .any(|r| r.path.ends_with("%3Apull%2Cpush")),
        "no token asked for pushing: {token_asks:#?}"
    );
    let authorized = log
        .iter()
        .filter(|r| r.header("authorization") == Some(&format!("Bearer {token}-push")))
        .count();
    assert!(
        authorized >= 5,
        "blobs and manifest went up with the token: {log:#?}"
    );
    assert!(
        log.iter().filter(|r| r.path.starts_with("/v2/")).all(|r| !r
            .header("authorization")
            .is_some_and(|v| v.starts_with("Basic "))),
        "the password went to the registry itself: {log:#?}"
    );

    // Pull on another home: anonymous fails the same way, logged in works.
    let b = Home::new();
    let spec = format!("oci://{target}");
    let run = b.run(&["pull", &spec]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("docker login"), "{run:#?}");
    assert!(!b.model_dir("tiny").exists());
    b.login(&front.host(), USER, PASSWORD);
    front.clear_log();
    let run = b.run(&["pull", &spec]).success();
    never_shown(&b, &run, &token);
    assert_eq!(b.read("tiny", "model.onnx"), model.files[0].bytes);
    // The layer downloads (zoo-fetch) carried the token too.
    let model_sha = model.files[0].sha256();
    let gets: Vec<_> = front
        .log()
        .into_iter()
        .filter(|r| r.is_blob_get(&model_sha))
        .collect();
    assert!(
        gets.iter().any(|r| r.status == 200
            && r.header("authorization") == Some(&format!("Bearer {token}-pull"))),
        "{gets:#?}"
    );
}

#[test]
fn mount_from_another_repository_sends_no_byte_of_the_shared_blobs() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let front = RegistryFront::start(&registry.host());
    let model = tiny("tiny", 42, 2 << 20);
    let a = Home::with(&model);
    let host = front.host();
    a.push("tiny", &format!("{host}/team/base:v1"), &[]);

    front.clear_log();
    let report = a.push(
        "tiny",
        &format!("{host}/team/copy:v1"),
        &["--mount-from", "team/base"],
    );
    for f in &model.files {
        let l = layer(&report, &f.path);
        assert_eq!(l["outcome"], json!({"kind": "mounted"}), "{report:#}");
    }
    let log = front.log();
    assert!(
        log.iter().any(|r| r.method == "POST"
            && r.path
                .contains(&format!("mount=sha256:{}", model.files[0].sha256()))
            && r.path.contains("from=team/base")
            && r.status == 201),
        "{log:#?}"
    );
    // The model file's bytes went nowhere; only small blobs (card, AI-BOM,
    // config) whose content differs per push may have been uploaded.
    let uploaded = front.bytes_uploaded();
    assert!(uploaded < 64 << 10, "{uploaded} bytes uploaded: {log:#?}");
    assert_eq!(report["sent"].as_u64().unwrap(), uploaded - manifests(&log));

    // A fresh home pulls the mounted copy.
    let b = Home::new();
    b.run(&["pull", &format!("oci://{host}/team/copy:v1"), "--quiet"])
        .success();
    assert_eq!(b.read("tiny", "model.onnx"), model.files[0].bytes);
}

/// Bytes of the manifests PUT (not counted as blobs in a push report).
fn manifests(log: &[zoo_test_support::FrontRecord]) -> u64 {
    log.iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .map(|r| r.request_bytes)
        .sum()
}
