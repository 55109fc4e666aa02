//! A push and a pull killed in the middle of a blob, a registry restarted
//! under a push, a store file changed before a push, a blob whose bytes are
//! not its digest, a manifest too large to read.

use zoo_test_support::{OciRegistry, RegistryFront};

use crate::setup::{Home, layer, sha256_hex, tiny};

/// Chunks of zoo's uploads in these tests (ZOO_OCI_CHUNK_SIZE, set by Home).
const CHUNK: u64 = 16 << 20;
/// A model file of two chunks.
const BIG: usize = 20 << 20;

/// `zoo push` aborted (as by kill -9) right after the first chunk of the
/// model file was accepted; `--jobs 1` makes the model file the first blob.
fn killed_push(home: &Home, target: &str) {
    let out = home
        .zoo()
        .env("ZOO_FAILPOINT", "push-after-first-chunk")
        .args(["push", "tiny", target, "--jobs", "1", "--quiet"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the failpoint did not stop the push");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failpoint"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Upload sessions a push kept for a rerun to resume.
fn open_sessions(home: &Home) -> usize {
    std::fs::read_dir(home.store().join("oci/uploads"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A registry behind a counting front, and a home whose push of a two-chunk
/// `tiny` model (seeded `seed`) to `team/tiny:v1` was killed after the first
/// chunk.
struct KilledPush {
    _registry: OciRegistry,
    front: RegistryFront,
    model: zoo_test_support::LocalModel,
    home: Home,
    target: String,
}

fn killed_tiny_push(seed: u64) -> Option<KilledPush> {
    let registry = OciRegistry::start()?;
    let front = RegistryFront::start(&registry.host());
    let model = tiny("tiny", seed, BIG);
    let home = Home::with(&model);
    let target = format!("{}/team/tiny:v1", front.host());
    killed_push(&home, &target);
    Some(KilledPush {
        _registry: registry,
        front,
        model,
        home,
        target,
    })
}

/// Bytes of the PATCH bodies the front relayed.
fn patched(front: &RegistryFront) -> u64 {
    front
        .log()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.request_bytes)
        .sum()
}

#[test]
fn killed_push_resumes_from_the_bytes_the_registry_holds() {
    let Some(killed) = killed_tiny_push(31) else {
        return;
    };
    let (front, model, a, target) = (&killed.front, &killed.model, &killed.home, &killed.target);
    assert_eq!(patched(front), CHUNK, "one chunk went up before the kill");
    assert!(open_sessions(a) > 0, "the session was kept for the rerun");

    front.clear_log();
    let report = a.push("tiny", target, &[]);
    let m = layer(&report, "model.onnx");
    assert_eq!(m["outcome"]["kind"], "uploaded", "{report:#}");
    assert_eq!(m["outcome"]["resumed"], CHUNK, "{report:#}");
    assert_eq!(m["outcome"]["sent"], BIG as u64 - CHUNK, "{report:#}");
    // What the report says is what went over the wire.
    let model_patches: u64 = front
        .log()
        .iter()
        .filter(|r| r.method == "PATCH" && r.request_bytes > 1 << 20)
        .map(|r| r.request_bytes)
        .sum();
    assert_eq!(model_patches, BIG as u64 - CHUNK);
    assert!(report["sent"].as_u64().unwrap() < report["total"].as_u64().unwrap());
    assert_eq!(open_sessions(a), 0, "finished sessions are forgotten");

    // The resumed blob is whole: a fresh home pulls it verified.
    let b = Home::new();
    b.run(&["pull", &format!("oci://{target}"), "--quiet"])
        .success();
    assert_eq!(
        sha256_hex(&b.read("tiny", "model.onnx")),
        model.files[0].sha256()
    );
}

#[test]
fn killed_pull_resumes_and_fetches_only_the_missing_bytes() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 33, BIG);
    let a = Home::with(&model);
    let target = format!("{}/team/tiny:v1", registry.host());
    a.push("tiny", &target, &[]);

    // Through the front, the model's blob trickles; the pull is killed -9
    // once some of it is on disk.
    let front = RegistryFront::start(&registry.host());
    front.throttle_blobs(Some(4 << 20));
    let from_front = format!("oci://{}/team/tiny:v1", front.host());
    let b = Home::new();
    let mut child = b
        .zoo()
        .args(["pull", &from_front, "--quiet"])
        .spawn()
        .unwrap();
    let sha = model.files[0].sha256();
    let partial = b.store().join("partial").join(format!("{sha}.part"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 2 << 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the download never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let on_disk = std::fs::metadata(&partial).unwrap().len();
    assert!(on_disk > 0 && on_disk < BIG as u64, "{on_disk}");
    assert!(
        !b.model_dir("tiny").exists(),
        "a killed pull published nothing"
    );

    // The front logs the dead download once its writes fail; then the
    // rerun asks for the rest only, and says so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !front.log().iter().any(|r| r.is_blob_get(&sha)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed download never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    front.throttle_blobs(None);
    front.clear_log();
    let report = b.run(&["pull", &from_front, "--json"]).success().json();
    let file = report[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.onnx")
        .unwrap()
        .clone();
    assert_eq!(file["outcome"]["resumed"], on_disk, "{report:#}");
    assert_eq!(
        file["outcome"]["transferred"],
        BIG as u64 - on_disk,
        "{report:#}"
    );
    assert_eq!(front.blob_bytes_served(&sha), BIG as u64 - on_disk);
    assert_eq!(b.read("tiny", "model.onnx"), model.files[0].bytes);
    eprintln!(
        "killed pull: {on_disk} bytes kept, {} fetched on the rerun",
        BIG as u64 - on_disk
    );
}

#[test]
fn registry_restarted_under_a_push_still_gets_the_whole_model() {
    let Some(mut registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 32, BIG);
    let a = Home::with(&model);
    let host = registry.host();

    // Restarted with its upload state (a fixed http.secret): the upload is
    // resumed where it stopped.
    let target = format!("{host}/team/tiny:v1");
    killed_push(&a, &target);
    registry.restart();
    let report = a.push("tiny", &target, &[]);
    let m = layer(&report, "model.onnx");
    assert_eq!(m["outcome"]["resumed"], CHUNK, "{report:#}");
    assert_eq!(m["outcome"]["sent"], BIG as u64 - CHUNK, "{report:#}");

    // Restarted with a new secret, the registry no longer knows the upload
    // (404 BLOB_UPLOAD_INVALID): zoo starts it again and the push completes.
    let other = format!("{host}/other/tiny:v1");
    killed_push(&a, &other);
    registry.restart_with_new_secret();
    let report = a.push("tiny", &other, &[]);
    let m = layer(&report, "model.onnx");
    assert_eq!(m["outcome"]["kind"], "uploaded", "{report:#}");
    assert_eq!(m["outcome"]["resumed"], 0, "{report:#}");
    assert_eq!(m["outcome"]["sent"], BIG as u64, "{report:#}");

    for target in [target, other] {
        let b = Home::new();
        b.run(&["pull", &format!("oci://{target}"), "--quiet"])
            .success();
        assert_eq!(b.read("tiny", "model.onnx"), model.files[0].bytes);
    }
}

/// Flips one byte of a stored model file (same size, other digest), as a disk
/// error or a stray edit would.
fn damage(home: &Home, name: &str, path: &str, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let file = home.model_dir(name).join(path);
    let mut perms = std::fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file)
        .unwrap();
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut byte).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[byte[0] ^ 0xff]).unwrap();
}

/// What the registry was asked to keep: no finished upload of `hex`, no
/// manifest.
#[track_caller]
fn assert_nothing_published(front: &RegistryFront, hex: &str) {
    for r in front.log() {
        assert!(
            !(r.method == "PUT" && (r.path.contains(hex) || r.path.contains("/manifests/"))),
            "published: {r:?}"
        );
    }
}

#[test]
fn store_file_changed_since_pull_is_refused_and_nothing_is_published() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let front = RegistryFront::start(&registry.host());
    let model = tiny("tiny", 35, BIG);
    let a = Home::with(&model);
    let model_sha = model.files[0].sha256();
    // In the second chunk: the first one has gone up when the change is seen.
    damage(&a, "tiny", "model.onnx", CHUNK + 7);
    let target = format!("{}/team/tiny:v1", front.host());
    let run = a.run(&["push", "tiny", &target, "--jobs", "1"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("model.onnx of tiny changed since zoo verified it"),
        "{run:#?}"
    );
    assert!(run.stderr.contains(&model_sha), "{run:#?}");
    assert!(
        run.stderr.contains("no manifest or tag was published"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("`zoo verify tiny`"), "{run:#?}");
    assert_nothing_published(&front, &model_sha);
    // The push stopped at the failure: the blobs after it were not started.
    let uploads = front
        .log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/blobs/uploads/"))
        .count();
    assert_eq!(uploads, 1, "{:#?}", front.log());
    assert!(
        front.log().iter().any(|r| r.method == "DELETE"),
        "the registry was told to drop the upload"
    );
    // Nothing under the tag: another machine finds no model there.
    let b = Home::new();
    let run = b.run(&["pull", &format!("oci://{target}"), "--quiet"]);
    assert_eq!(run.code, 2, "{run:#?}");
}

#[test]
fn store_file_of_another_size_is_refused_before_a_byte_is_sent() {
    let Some(killed) = killed_tiny_push(37) else {
        return;
    };
    let (front, a, target) = (&killed.front, &killed.home, &killed.target);
    let file = a.model_dir("tiny").join("model.onnx");
    damage(a, "tiny", "model.onnx", 0);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(BIG as u64 - 1)
        .unwrap();
    front.clear_log();
    let run = a.run(&["push", "tiny", target, "--jobs", "1"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let expected = format!(
        "model.onnx of tiny changed since zoo verified it ({}): it is {} bytes, not the recorded {BIG}",
        file.display(),
        BIG - 1
    );
    assert!(run.stderr.contains(&expected), "{run:#?}");
    assert_eq!(patched(front), 0, "no byte of it was sent");
    assert!(
        front.log().iter().any(|r| r.method == "DELETE"),
        "the upload the killed push left was dropped"
    );
    assert_eq!(open_sessions(a), 0, "{:?}", a.stored());
    assert_nothing_published(front, &killed.model.files[0].sha256());
}

#[test]
fn resumed_push_hashes_the_prefix_it_does_not_send_again() {
    let Some(killed) = killed_tiny_push(36) else {
        return;
    };
    let (front, model, a, target) = (&killed.front, &killed.model, &killed.home, &killed.target);
    // The change is in the chunk the registry holds, which the rerun does
    // not send again: the rerun hashes it from disk before going on.
    damage(a, "tiny", "model.onnx", 11);
    front.clear_log();
    let run = a.run(&["push", "tiny", target, "--jobs", "1"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("model.onnx of tiny changed since zoo verified it"),
        "{run:#?}"
    );
    assert_nothing_published(front, &model.files[0].sha256());
    assert_eq!(open_sessions(a), 0, "the dropped upload is forgotten");
}

#[test]
fn blob_not_matching_its_digest_fails_the_pull_and_stores_nothing() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 33, 400_000);
    let a = Home::with(&model);
    let report = a.push("tiny", &format!("{}/team/tiny:v1", registry.host()), &[]);
    let card_sha = layer(&report, "zoo-card.yaml")["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let front = RegistryFront::start(&registry.host());
    let spec = format!("oci://{}/team/tiny:v1", front.host());
    let model_sha = model.files[0].sha256();

    // A model layer: zoo-fetch's verified download refuses it (exit 1, the
    // code of a failed transfer), after retrying.
    front.corrupt_blob(&model_sha);
    let b = Home::new();
    let run = b.run(&["pull", &spec]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("sha256"), "{run:#?}");
    assert!(run.stderr.contains(&model_sha[..12]), "{run:#?}");
    assert!(
        front.log().iter().any(|r| r.is_blob_get(&model_sha)),
        "the layer was fetched"
    );
    assert_nothing_stored(&b, &model_sha);

    // The card layer (read into memory before any file): the same exit code
    // as for a file whose bytes do not match (1, a failed verification).
    front.corrupt_blob(&card_sha);
    let c = Home::new();
    let run = c.run(&["pull", &spec]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("the model's card"), "{run:#?}");
    assert!(run.stderr.contains("nothing was stored"), "{run:#?}");
    assert_nothing_stored(&c, &model_sha);
}

/// No model directory, no card, no trace of the refused bytes: the store
/// holds at most blobs it verified (files of the model that did match, which
/// a rerun will not fetch again) and its lock files.
#[track_caller]
fn assert_nothing_stored(home: &Home, model_sha: &str) {
    let stored = home.stored();
    assert!(!home.model_dir("tiny").exists(), "{stored:#?}");
    for f in &stored {
        if let Some(hex) = f.strip_prefix("blobs/sha256/") {
            assert_ne!(hex, model_sha, "the refused blob was stored");
            let bytes = std::fs::read(home.store().join(f)).unwrap();
            assert_eq!(sha256_hex(&bytes), hex, "an unverified blob: {f}");
        } else {
            assert!(f.starts_with("locks/"), "left behind: {f} in {stored:#?}");
        }
    }
}

#[test]
fn manifest_larger_than_the_limit_is_refused() {
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let front = RegistryFront::start(&registry.host());
    front.oversize_manifests((4 << 20) + 100);
    let b = Home::new();
    let run = b.run(&["pull", &format!("oci://{}/team/huge:v1", front.host())]);
    assert_eq!(run.code, 5, "{run:#?}");
    assert!(run.stderr.contains("larger than 4194304 bytes"), "{run:#?}");
    assert!(b.stored().is_empty(), "{:#?}", b.stored());
}
