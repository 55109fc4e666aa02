//! The Hub protocol as served: metadata, tree, resolve, CDN ranges, errors.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Conn, cdn_path, get, send};
use sha2::{Digest, Sha256};
use zoo_test_support::{FixtureRepo, HubServer, LFS_THRESHOLD, TEST_TOKEN, fixture_bytes};

const WEIGHTS_LEN: usize = 300_000;

fn tiny() -> FixtureRepo {
    FixtureRepo::new("org/tiny")
        .lfs_file("onnx/model.onnx", fixture_bytes(1, WEIGHTS_LEN))
        .text_file("config.json", "{\"hidden\": 8}\n")
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn model_info_lists_files_and_blobs() {
    let hub = HubServer::start(vec![tiny()]);
    let commit = hub.commit_of("org/tiny").unwrap();
    assert_eq!(commit.len(), 40);

    let plain = get(&hub.endpoint(), "/api/models/org/tiny");
    assert_eq!(plain.status, 200);
    let info = plain.json();
    assert_eq!(info["id"], "org/tiny");
    assert_eq!(info["modelId"], "org/tiny");
    assert_eq!(info["sha"], commit.as_str());
    assert_eq!(info["private"], false);
    assert_eq!(info["gated"], false);
    assert_eq!(info["disabled"], false);
    assert!(info["_id"].is_string() && info["lastModified"].is_string());
    // Derived as the Hub does: file formats, then the region.
    assert_eq!(info["tags"], serde_json::json!(["onnx", "region:us"]));
    assert!(info.get("cardData").is_none() && info.get("pipeline_tag").is_none());
    let names: Vec<&str> = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["config.json", "onnx/model.onnx"]);
    assert!(info["siblings"][0].get("size").is_none());

    let blobs = get(&hub.endpoint(), "/api/models/org/tiny?blobs=true").json();
    let config = &blobs["siblings"][0];
    assert_eq!(config["size"], 14);
    // `printf '{"hidden": 8}\n' | git hash-object --stdin`
    assert_eq!(config["blobId"].as_str().unwrap().len(), 40);
    assert!(config.get("lfs").is_none());
    let model = &blobs["siblings"][1];
    assert_eq!(model["size"], WEIGHTS_LEN);
    assert_eq!(
        model["lfs"]["sha256"],
        sha256_hex(&fixture_bytes(1, WEIGHTS_LEN)).as_str()
    );
    assert_eq!(model["lfs"]["size"], WEIGHTS_LEN);
    // 125 + digits of the size: the pointer file git actually stores.
    assert_eq!(model["lfs"]["pointerSize"], 131);

    for rev in ["main", commit.as_str(), "ma%69n"] {
        let r = get(
            &hub.endpoint(),
            &format!("/api/models/org/tiny/revision/{rev}"),
        );
        assert_eq!(r.status, 200, "{rev}");
        assert_eq!(r.json()["sha"], commit.as_str());
    }
}

#[test]
fn unknown_repo_and_revision() {
    let hub = HubServer::start(vec![tiny()]);
    let r = get(&hub.endpoint(), "/api/models/org/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Error-Code"), Some("RepoNotFound"));
    assert_eq!(r.json()["error"], "Repository not found");
    let r = get(&hub.endpoint(), "/org/nope/resolve/main/config.json");
    assert_eq!(r.header("X-Error-Code"), Some("RepoNotFound"));

    let r = get(&hub.endpoint(), "/api/models/org/tiny/revision/v9");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Error-Code"), Some("RevisionNotFound"));
    let r = get(&hub.endpoint(), "/org/tiny/resolve/v9/config.json");
    assert_eq!(r.header("X-Error-Code"), Some("RevisionNotFound"));

    let r = send(
        &hub.endpoint(),
        "HEAD",
        "/org/tiny/resolve/main/missing.bin",
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Error-Code"), Some("EntryNotFound"));
    assert_eq!(
        r.header("X-Repo-Commit"),
        hub.commit_of("org/tiny").as_deref()
    );
}

#[test]
fn tree_listing() {
    let hub = HubServer::start(vec![tiny().text_file("onnx/sub/notes.txt", "n")]);
    let commit = hub.commit_of("org/tiny").unwrap();
    let top = get(&hub.endpoint(), "/api/models/org/tiny/tree/main").json();
    let paths: Vec<(&str, &str)> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(paths, [("file", "config.json"), ("directory", "onnx")]);

    let all = get(
        &hub.endpoint(),
        &format!("/api/models/org/tiny/tree/{commit}?recursive=true&expand=false"),
    )
    .json();
    let paths: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "config.json",
            "onnx",
            "onnx/model.onnx",
            "onnx/sub",
            "onnx/sub/notes.txt"
        ]
    );
    let model = &all[2];
    assert_eq!(model["size"], WEIGHTS_LEN);
    assert_eq!(model["lfs"]["size"], WEIGHTS_LEN);
    assert_eq!(model["lfs"]["oid"].as_str().unwrap().len(), 64);

    let sub = get(&hub.endpoint(), "/api/models/org/tiny/tree/main/onnx").json();
    assert_eq!(sub.as_array().unwrap().len(), 2);
    let r = get(&hub.endpoint(), "/api/models/org/tiny/tree/main/nothing");
    assert_eq!(r.header("X-Error-Code"), Some("EntryNotFound"));
}

#[test]
fn resolve_plain_and_lfs_files() {
    let hub = HubServer::start(vec![tiny()]);
    let commit = hub.commit_of("org/tiny").unwrap();
    let weights = fixture_bytes(1, WEIGHTS_LEN);
    let sha = sha256_hex(&weights);

    let head = send(
        &hub.endpoint(),
        "HEAD",
        "/org/tiny/resolve/main/config.json",
        &[],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("X-Repo-Commit"), Some(commit.as_str()));
    assert_eq!(head.content_length(), 14);
    assert_eq!(head.header("Accept-Ranges"), Some("bytes"));
    let etag = head.header("ETag").unwrap();
    assert!(etag.starts_with('"') && etag.len() == 42, "{etag}");
    let body = get(&hub.endpoint(), "/org/tiny/resolve/main/config.json");
    assert_eq!(body.body, b"{\"hidden\": 8}\n");
    assert_eq!(body.header("ETag"), Some(etag));

    for method in ["HEAD", "GET"] {
        let r = send(
            &hub.endpoint(),
            method,
            "/org/tiny/resolve/main/onnx/model.onnx",
            &[],
        );
        assert_eq!(r.status, 302);
        let location = r.header("Location").unwrap();
        assert_eq!(location, format!("{}/cdn/{sha}", hub.endpoint()));
        assert_eq!(
            r.header("X-Linked-Etag"),
            Some(format!("\"{sha}\"").as_str())
        );
        assert_eq!(r.header("ETag"), Some(format!("\"{sha}\"").as_str()));
        assert_eq!(
            r.header("X-Linked-Size"),
            Some(WEIGHTS_LEN.to_string().as_str())
        );
        assert_eq!(r.header("X-Repo-Commit"), Some(commit.as_str()));
    }
    let r = get(&hub.endpoint(), &format!("/cdn/{sha}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, weights);
    assert_eq!(r.header("ETag"), Some(format!("\"{sha}\"").as_str()));

    let by_commit = get(
        &hub.endpoint(),
        &format!("/org/tiny/resolve/{commit}/onnx%2Fmodel.onnx"),
    );
    assert_eq!(by_commit.status, 302);
    assert_eq!(get(&hub.endpoint(), "/cdn/00ff").status, 404);
}

#[test]
fn range_semantics() {
    let hub = HubServer::start(vec![tiny()]);
    let weights = fixture_bytes(1, WEIGHTS_LEN);
    let r = send(
        &hub.endpoint(),
        "HEAD",
        "/org/tiny/resolve/main/onnx/model.onnx",
        &[],
    );
    let cdn = cdn_path(r.header("Location").unwrap());
    let len = WEIGHTS_LEN;

    let cases = [
        ("bytes=0-9", 0, 10),
        ("bytes=100-", 100, len - 100),
        ("bytes=-16", len - 16, 16),
        ("bytes=299990-400000", 299_990, 10),
    ];
    for (range, start, n) in cases {
        let r = send(&hub.endpoint(), "GET", &cdn, &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, weights[start..start + n], "{range}");
        assert_eq!(
            r.header("Content-Range").unwrap(),
            format!("bytes {}-{}/{}", start, start + n - 1, len)
        );
        assert_eq!(r.content_length(), n as u64);
    }
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 5, len + 9),
    ] {
        let r = send(&hub.endpoint(), "GET", &cdn, &[("Range", &range)]);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes */{len}").as_str())
        );
    }
    // Ranges work on directly served files too, and HEAD reports the part.
    let r = send(
        &hub.endpoint(),
        "HEAD",
        "/org/tiny/resolve/main/config.json",
        &[("Range", "bytes=2-5")],
    );
    assert_eq!((r.status, r.content_length()), (206, 4));
    let r = send(
        &hub.endpoint(),
        "GET",
        "/org/tiny/resolve/main/config.json",
        &[("Range", "bytes=2-5")],
    );
    assert_eq!(r.body, b"hidd");
}

#[test]
fn gated_repo_needs_the_token() {
    let gated = FixtureRepo::new("org/secret")
        .lfs_file("w.bin", fixture_bytes(2, 1000))
        .gated();
    let hub = HubServer::start(vec![gated]);
    let info = get(&hub.endpoint(), "/api/models/org/secret").json();
    assert_eq!(info["gated"], "manual");

    let path = "/org/secret/resolve/main/w.bin";
    for auth in [vec![], vec![("Authorization", "Bearer wrong")]] {
        let r = send(&hub.endpoint(), "HEAD", path, &auth);
        assert_eq!(r.status, 401);
        assert_eq!(r.header("X-Error-Code"), Some("GatedRepo"));
    }
    let bearer = format!("Bearer {TEST_TOKEN}");
    let r = send(&hub.endpoint(), "GET", path, &[("Authorization", &bearer)]);
    assert_eq!(r.status, 302);
}

#[test]
fn keep_alive_and_connection_close() {
    let hub = HubServer::start(vec![tiny()]);
    let mut conn = Conn::open(&hub.endpoint());
    for _ in 0..3 {
        let r = conn.send("GET", "/org/tiny/resolve/main/config.json", &[]);
        assert_eq!(r.status, 200);
        assert!(r.complete);
    }
    let r = conn.send("GET", "/api/models/org/tiny", &[("Connection", "close")]);
    assert_eq!(r.status, 200);
    assert!(conn.is_closed());
    assert_eq!(
        send(&hub.endpoint(), "POST", "/api/models/org/tiny", &[]).status,
        405
    );
}

#[test]
fn add_repo_log_and_drop() {
    let hub = HubServer::start(Vec::new());
    assert_eq!(get(&hub.endpoint(), "/api/models/org/tiny").status, 404);
    hub.add_repo(tiny());
    assert_eq!(get(&hub.endpoint(), "/api/models/org/tiny").status, 200);
    let body = get(&hub.endpoint(), "/org/tiny/resolve/main/config.json");
    let log = hub.log();
    assert_eq!(log.len(), 3);
    let last = log.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.status),
        ("GET", "/org/tiny/resolve/main/config.json", 200)
    );
    assert_eq!(last.body_bytes, body.body.len() as u64);
    assert_eq!(last.file.as_deref(), Some("org/tiny/config.json"));
    assert!(!last.cut);
    assert_eq!(hub.bytes_served("config.json"), 14);

    // Dropping stops the server and joins its thread. (Whether the port then
    // refuses connections is not asserted: a server of a parallel test may
    // already have been given the same port.)
    drop(hub);
}

#[test]
fn from_dir_streams_files_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let big = fixture_bytes(3, LFS_THRESHOLD as usize + 1);
    std::fs::create_dir_all(dir.path().join("onnx")).unwrap();
    std::fs::write(dir.path().join("big.dat"), &big).unwrap();
    std::fs::write(dir.path().join("onnx/model.onnx"), b"small weights").unwrap();
    std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
    let repo = FixtureRepo::from_dir("org/disk", dir.path()).unwrap();
    let lfs: Vec<(&str, bool)> = repo
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.lfs))
        .collect();
    assert_eq!(
        lfs,
        [
            ("big.dat", true),
            ("config.json", false),
            ("onnx/model.onnx", true)
        ]
    );

    let hub = HubServer::start(vec![repo]);
    let r = send(
        &hub.endpoint(),
        "HEAD",
        "/org/disk/resolve/main/big.dat",
        &[],
    );
    let cdn = cdn_path(r.header("Location").unwrap());
    assert_eq!(get(&hub.endpoint(), &cdn).body, big);
    let part = send(
        &hub.endpoint(),
        "GET",
        &cdn,
        &[("Range", "bytes=5000000-5000099")],
    );
    assert_eq!(part.body, big[5_000_000..5_000_100]);
    assert_eq!(
        get(&hub.endpoint(), "/org/disk/resolve/main/config.json").body,
        b"{}"
    );
}

#[test]
fn binary_serves_a_directory() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("acme/demo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("config.json"), b"{\"a\": 1}").unwrap();
    std::fs::write(repo.join("model.onnx"), fixture_bytes(4, 5000)).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_zoo-hf-server"))
        .arg("--root")
        .arg(root.path())
        .args(["--token", "t0k"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("endpoint=")
        .expect(&line)
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"));

    let info = get(&endpoint, "/api/models/acme/demo?blobs=true").json();
    assert_eq!(info["siblings"][1]["rfilename"], "model.onnx");
    assert_eq!(info["siblings"][1]["lfs"]["size"], 5000);
    let r = get(&endpoint, "/acme/demo/resolve/main/model.onnx");
    assert_eq!(r.status, 302);
    assert_eq!(
        get(&endpoint, &cdn_path(r.header("Location").unwrap())).body,
        fixture_bytes(4, 5000)
    );

    child.kill().unwrap();
    child.wait().unwrap();
}
