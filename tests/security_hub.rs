//! Regression tests for the review of the hub import (cards made from Hub
//! metadata) as an attacker who controls HF_ENDPOINT or a repository on it.
//! Each runs the real binary against a Hub look-alike (the fixture hub, or a
//! raw server for answers the fixtures cannot give) and asserts the exit
//! code, the message and what is left in `$ZOO_HOME/catalog`.

mod util;

#[path = "hub/fixtures.rs"]
mod fixtures;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use fixtures::{Hub, safetensors_bytes};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use util::{Run, TestEnv};
use zoo_test_support::FixtureRepo;

const COMMIT_A: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_B: &str = "89abcdef0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------------------
// A raw hub: model info answers written by the test, as a hostile endpoint
// would send them. `zoo add` reads only these (no file is fetched).

struct RawHub {
    endpoint: String,
    /// The head of every request received.
    log: Arc<Mutex<Vec<String>>>,
}

impl RawHub {
    /// Serves `GET {path}` (query left out) from `answers`; 404 otherwise.
    fn start(answers: BTreeMap<String, String>) -> RawHub {
        Self::start_with_headers(answers, BTreeMap::new())
    }

    /// As [`RawHub::start`], with extra header lines for some paths.
    fn start_with_headers(
        answers: BTreeMap<String, String>,
        headers: BTreeMap<String, String>,
    ) -> RawHub {
        let answers = Arc::new((answers, headers));
        let log = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answers = Arc::clone(&answers);
                let requests = Arc::clone(&requests);
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n")
                        && stream.read(&mut byte).is_ok_and(|n| n == 1)
                    {
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    requests.lock().unwrap().push(head.clone());
                    let target = head.split(' ').nth(1).unwrap_or("");
                    let path = target.split('?').next().unwrap_or("");
                    let (answers, headers) = &*answers;
                    let extra = headers.get(path).map_or("", String::as_str);
                    let (status, body) = match answers.get(path) {
                        Some(body) => ("200 OK", body.clone()),
                        None => (
                            "404 Not Found",
                            r#"{"error":"Repository not found"}"#.to_owned(),
                        ),
                    };
                    let code = if status.starts_with("404") {
                        "X-Error-Code: RepoNotFound\r\n"
                    } else {
                        ""
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{code}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        RawHub { endpoint, log }
    }

    fn run(&self, env: &TestEnv, args: &[&str]) -> Run {
        Run::from(
            env.zoo()
                .env("HF_ENDPOINT", &self.endpoint)
                .args(args)
                .output()
                .expect("run zoo"),
        )
    }
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `/api/models/{id}/revision/main` answering with `card_data`, one LFS file.
fn model_answer(id: &str, commit: &str, card_data: Value) -> (String, String) {
    let weights = safetensors_bytes(2);
    let body = json!({
        "id": id,
        "sha": commit,
        "cardData": card_data,
        "siblings": [{
            "rfilename": "model.safetensors",
            "size": weights.len(),
            "lfs": {"sha256": sha(&weights), "size": weights.len()}
        }]
    });
    (format!("/api/models/{id}/revision/main"), body.to_string())
}

fn catalog_file(env: &TestEnv, name: &str) -> std::path::PathBuf {
    env.zoo_home().join("catalog").join(format!("{name}.yaml"))
}

fn card_yaml(env: &TestEnv, name: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(catalog_file(env, name)).expect("card written");
    serde_yaml::from_str(&text).expect("card is YAML")
}

fn catalog_files(env: &TestEnv) -> Vec<String> {
    util::list_files(&env.zoo_home().join("catalog"))
}

// ---------------------------------------------------------------------------
// Card names: a card made from the hub never replaces another card.

/// Old repositories have no owner (`bert-base-uncased`), and fine-tunes name
/// them as their base model all the time. Such a base could not be a card
/// (its hf source must be org/name), so every `zoo add` of a fine-tune failed;
/// and its name has no `--`, so it could be a built-in card's name or alias.
#[test]
fn an_ownerless_base_model_is_recorded_without_a_card_and_never_takes_a_catalog_name() {
    for base in ["bert-base-uncased", "resnet50-v1-7", "minilm"] {
        let hub = RawHub::start(BTreeMap::from([
            model_answer(
                "evil/finetune",
                COMMIT_A,
                json!({"license": "mit", "base_model": base}),
            ),
            model_answer(base, COMMIT_B, json!({"license": "mit"})),
        ]));
        let env = TestEnv::new();
        hub.run(&env, &["add", "hf:evil/finetune"]).success();
        let card = card_yaml(&env, "evil--finetune");
        assert_eq!(card["provenance"]["base_model"], format!("hf:{base}"));
        assert_eq!(catalog_files(&env), ["evil--finetune.yaml"], "{base}");
    }
    // The built-in cards still answer to their names and aliases.
    let env = TestEnv::new();
    for name in ["resnet50-v1-7", "minilm"] {
        let info = env.run(&["info", name, "--json"]).success().json();
        assert!(
            info["origin"].as_str().unwrap().starts_with("built-in"),
            "{info}"
        );
    }
}

/// A base model's card is named `org--name`; a card of that name for another
/// repository (made with --name) is left alone, not overwritten.
#[test]
fn a_base_model_card_never_overwrites_a_card_of_another_repository() {
    let hub = RawHub::start(BTreeMap::from([
        model_answer(
            "evil/top",
            COMMIT_A,
            json!({"license": "mit", "base_model": "evil/base"}),
        ),
        model_answer("evil/base", COMMIT_B, json!({"license": "mit"})),
        model_answer("other/thing", COMMIT_B, json!({"license": "apache-2.0"})),
    ]));
    let env = TestEnv::new();
    hub.run(&env, &["add", "hf:other/thing", "--name", "evil--base"])
        .success();
    let before = std::fs::read_to_string(catalog_file(&env, "evil--base")).unwrap();
    let out = hub.run(&env, &["add", "hf:evil/top"]).success();
    assert!(out.stderr.contains("evil--base"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(catalog_file(&env, "evil--base")).unwrap(),
        before,
        "the user's card was replaced by a base model's"
    );
    assert_eq!(
        card_yaml(&env, "evil--top")["provenance"]["base_model"],
        "hf:evil/base"
    );
}

/// `--name` (and the default name) may not take the name or alias of another
/// card, nor the name of a built-in labels file (the class names of a hub
/// card are stored under its name, and would replace them for every card).
#[test]
fn a_hub_card_cannot_take_a_name_the_catalog_already_uses() {
    let hub = Hub::start();
    let env = TestEnv::new();
    let zoo = |args: &[&str]| {
        Run::from(
            env.zoo()
                .env("HF_ENDPOINT", hub.server.endpoint())
                .args(args)
                .output()
                .unwrap(),
        )
    };
    for taken in ["resnet50-v1-7", "minilm", "imagenet-1k"] {
        zoo(&["add", "hf:acme/open-encoder", "--name", taken])
            .code(2)
            .stderr_has("--name");
        zoo(&["pull", "hf:acme/open-encoder", "--name", taken])
            .code(2)
            .stderr_has(taken);
    }
    assert!(catalog_files(&env).is_empty(), "{:?}", catalog_files(&env));
    assert!(!env.zoo_home().join("store/models").exists());

    // Another repository's card keeps its name; the same repository may
    // write its card again.
    zoo(&["add", "hf:acme/no-license"]).success();
    zoo(&["add", "hf:acme/open-encoder", "--name", "acme--no-license"])
        .code(2)
        .stderr_has("acme--no-license");
    assert_eq!(
        card_yaml(&env, "acme--no-license")["hub"]["repo"],
        "acme/no-license"
    );
    zoo(&["add", "hf:acme/open-encoder", "--name", "mine"]).success();
    zoo(&["add", "hf:acme/open-encoder", "--name", "mine"]).success();
    let info = zoo(&["info", "resnet50-v1-7", "--json"]).success().json();
    assert!(info["origin"].as_str().unwrap().starts_with("built-in"));
}

// ---------------------------------------------------------------------------
// The token goes to the endpoint only (checked sound; kept as regressions).

/// An API answer that redirects to another host, and a search whose next
/// page is on another host: neither gets HF_TOKEN.
#[test]
fn the_token_never_follows_an_api_redirect_or_a_next_page_to_another_host() {
    let thief = RawHub::start(BTreeMap::new());
    let token = "hf_secret_token_for_the_endpoint_only";

    let hub = Hub::start();
    hub.server.set_faults(vec![
        zoo_test_support::Fault::redirect_to(thief.endpoint.clone()).on("/api/models/"),
    ]);
    let env = TestEnv::new();
    let run = Run::from(
        env.zoo()
            .env("HF_ENDPOINT", hub.server.endpoint())
            .env("HF_TOKEN", token)
            .args(["add", "hf:acme/open-encoder"])
            .output()
            .unwrap(),
    );
    assert_ne!(run.code, 0, "the thief answered 404");
    assert!(!run.stderr.contains(token) && !run.stdout.contains(token));
    let sent = thief.log.lock().unwrap().clone();
    assert!(!sent.is_empty(), "the redirect was not followed");
    assert!(
        sent.iter()
            .all(|h| !h.to_ascii_lowercase().contains("authorization")),
        "{sent:?}"
    );

    let paged = RawHub::start_with_headers(
        BTreeMap::from([("/api/models".to_owned(), r#"[{"id": "evil/a"}]"#.to_owned())]),
        BTreeMap::from([(
            "/api/models".to_owned(),
            format!(
                "Link: <{}/api/models?cursor=x>; rel=\"next\"\r\n",
                thief.endpoint
            ),
        )]),
    );
    let before = thief.log.lock().unwrap().len();
    let run = Run::from(
        env.zoo()
            .env("HF_ENDPOINT", &paged.endpoint)
            .env("HF_TOKEN", token)
            .args(["search", "--hub", "a", "--limit", "5"])
            .output()
            .unwrap(),
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("another host"), "{}", run.stderr);
    assert_eq!(thief.log.lock().unwrap().len(), before, "next page fetched");
}

// ---------------------------------------------------------------------------
// What zoo writes must load.

/// The catalog reads a card up to 1 MiB; a repository listing thousands of
/// files made a card zoo wrote (after fetching every file, for a pull) and the
/// catalog then skipped with a warning. It is refused before anything is
/// written or fetched.
#[test]
fn a_card_too_large_for_the_catalog_is_refused_before_it_is_written() {
    let siblings: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({
                "rfilename": format!("shard-{i:05}.safetensors"),
                "size": 8,
                "lfs": {"sha256": sha(format!("{i}").as_bytes()), "size": 8}
            })
        })
        .collect();
    let body = json!({"id": "evil/many", "sha": COMMIT_A, "cardData": {"license": "mit"}, "siblings": siblings});
    let hub = RawHub::start(BTreeMap::from([(
        "/api/models/evil/many/revision/main".to_owned(),
        body.to_string(),
    )]));
    let env = TestEnv::new();
    hub.run(&env, &["add", "hf:evil/many"])
        .code(2)
        .stderr_has("--include");
    hub.run(&env, &["pull", "hf:evil/many"])
        .code(2)
        .stderr_has("--include");
    assert!(catalog_files(&env).is_empty(), "{:?}", catalog_files(&env));
    let list = env.run(&["list"]).success();
    assert!(!list.stderr.contains("ignoring"), "{}", list.stderr);
}

/// A license id of punctuation only (`_` is a valid hub token) used to make
/// `LicenseRef-Hub-`, which is no SPDX id: the card failed its own check.
#[test]
fn a_license_id_of_punctuation_still_makes_a_valid_card() {
    let hub = RawHub::start(BTreeMap::from([model_answer(
        "evil/punct",
        COMMIT_A,
        json!({"license": ["_", "+"]}),
    )]));
    let env = TestEnv::new();
    hub.run(&env, &["add", "hf:evil/punct"]).success();
    let card = card_yaml(&env, "evil--punct");
    assert!(
        card["license"]["id"]
            .as_str()
            .unwrap()
            .starts_with("LicenseRef-Hub-Unnamed"),
        "{card:?}"
    );
}

/// The catalog joins a card's `io.labels` to its `labels/` folder: a card in
/// `$ZOO_HOME/catalog` naming `../../outside` read a file outside the catalog
/// (any `.txt` the user can read). It is now a warning for that card only.
#[test]
fn a_catalog_card_cannot_read_labels_outside_its_labels_folder() {
    let env = TestEnv::new();
    let curated =
        std::fs::read_to_string(util::repo_root().join("registry/squeezenet1.1-7.yaml")).unwrap();
    let card = curated
        .replace("name: squeezenet1.1-7", "name: mine")
        .replace("aliases: [squeezenet, squeezenet1.1, squeezenet-1.1]\n", "")
        .replace("labels: imagenet-1k", "labels: ../../outside");
    assert!(card.contains("labels: ../../outside"));
    let dir = env.zoo_home().join("catalog");
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    std::fs::write(dir.join("mine.yaml"), card).unwrap();
    std::fs::write(env.zoo_home().join("outside.txt"), "alpha\nbeta\n").unwrap();

    let info = env.run(&["info", "mine"]);
    assert!(
        !info.stdout.contains("2 classes"),
        "labels read from outside the catalog:\n{}",
        info.stdout
    );
    info.code(2).stderr_has("labels");
    // Every other command still works.
    env.run(&["list"]).success();
    env.run(&["info", "squeezenet"]).success();
}

// ---------------------------------------------------------------------------
// The model's own files (read after a pull) are hostile too.

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// A length-delimited protobuf field.
fn field(tag: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = varint(tag << 3 | 2);
    out.extend(varint(bytes.len() as u64));
    out.extend_from_slice(bytes);
    out
}

fn int_field(tag: u64, n: u64) -> Vec<u8> {
    let mut out = varint(tag << 3);
    out.extend(varint(n));
    out
}

enum D<'a> {
    Fixed(u64),
    Param(&'a str),
}

/// An ONNX `ValueInfoProto` of a tensor.
fn value_info(name: &str, elem_type: u64, dims: &[D]) -> Vec<u8> {
    let shape: Vec<u8> = dims
        .iter()
        .flat_map(|d| {
            field(
                1,
                &match d {
                    D::Fixed(n) => int_field(1, *n),
                    D::Param(p) => field(2, p.as_bytes()),
                },
            )
        })
        .collect();
    let mut tensor = int_field(1, elem_type);
    tensor.extend(field(2, &shape));
    let mut v = field(1, name.as_bytes());
    v.extend(field(2, &field(1, &tensor)));
    v
}

/// A `ModelProto` whose graph has these fields (already encoded).
fn model(graph: &[u8]) -> Vec<u8> {
    let mut m = int_field(1, 8);
    m.extend(field(7, graph));
    m
}

fn image_classifier(id: &str, onnx: Vec<u8>, preprocessor: Value) -> FixtureRepo {
    FixtureRepo::new(id)
        .card_data(json!({"license": "mit", "pipeline_tag": "image-classification"}))
        .pipeline_tag("image-classification")
        .lfs_file("model.onnx", onnx)
        .text_file(
            "config.json",
            r#"{"model_type": "vit", "id2label": {"0": "cat", "1": "dog"}}"#,
        )
        .text_file("preprocessor_config.json", preprocessor.to_string())
}

fn classifier_graph(batch: &str, side: D) -> Vec<u8> {
    let (h, w) = match side {
        D::Fixed(n) => (D::Fixed(n), D::Fixed(n)),
        D::Param(p) => (D::Param(p), D::Param(p)),
    };
    let mut graph = field(1, &[field(2, b"logits"), field(4, b"Gemm")].concat());
    graph.extend(field(
        11,
        &value_info("pixel_values", 1, &[D::Param(batch), D::Fixed(3), h, w]),
    ));
    graph.extend(field(
        12,
        &value_info("logits", 1, &[D::Param("batch"), D::Fixed(2)]),
    ));
    model(&graph)
}

/// The graph names its batch axis with an escape sequence: the card zoo made
/// failed its own check, so the pull ended in an error after every file was
/// fetched, and no card was written. The axis is now called `batch`.
#[test]
fn an_onnx_axis_name_with_an_escape_sequence_does_not_fail_the_pull() {
    let hub = Hub::start();
    hub.server.add_repo(image_classifier(
        "acme/escape-axis",
        classifier_graph("\u{1b}]0;owned\u{7}", D::Fixed(224)),
        json!({"size": {"height": 224, "width": 224}}),
    ));
    let env = TestEnv::new();
    Run::from(
        env.zoo()
            .env("HF_ENDPOINT", hub.server.endpoint())
            .args(["pull", "hf:acme/escape-axis"])
            .output()
            .unwrap(),
    )
    .success();
    let text = std::fs::read_to_string(catalog_file(&env, "acme--escape-axis")).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains("\\e"), "{text}");
    let card: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(card["hub"]["runnable"], true, "{text}");
    assert_eq!(card["io"]["inputs"][0]["shape"][0], "batch");
}

/// `size` 2^32 + 224 was cut to 224 for the bound check and the
/// preprocessing, but kept whole in the input shape: a card that passed its
/// check and disagreed with itself. It is now a size zoo cannot use.
#[test]
fn an_image_size_past_u32_is_refused_not_truncated() {
    let hub = Hub::start();
    let huge = (1u64 << 32) + 224;
    hub.server.add_repo(image_classifier(
        "acme/huge-side",
        classifier_graph("batch", D::Param("side")),
        json!({"size": {"height": huge, "width": huge}}),
    ));
    let env = TestEnv::new();
    Run::from(
        env.zoo()
            .env("HF_ENDPOINT", hub.server.endpoint())
            .args(["pull", "hf:acme/huge-side"])
            .output()
            .unwrap(),
    )
    .success();
    let text = std::fs::read_to_string(catalog_file(&env, "acme--huge-side")).unwrap();
    let card: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(card["hub"]["runnable"], false, "{text}");
    assert!(
        !text.contains(&huge.to_string()) || card["io"].is_null(),
        "{text}"
    );
    assert!(
        card["hub"]["not_runnable_because"]
            .as_str()
            .unwrap()
            .contains("size"),
        "{text}"
    );
}

/// Reading a graph's signature decoded every node into a struct: an empty
/// node is 2 bytes on disk and about 50 in memory, so a 64 MiB graph of them
/// took 1.6 GB, and the 2 GiB a graph may have about 50 GB (the pull was
/// killed, and every later pull of it too). The same pull now runs under a
/// 1 GiB address-space limit.
#[test]
fn a_graph_of_empty_nodes_cannot_exhaust_memory() {
    const NODES: usize = 32 << 20;
    const LIMIT_KIB: u64 = 1 << 20;
    let mut graph = field(
        11,
        &value_info("input_ids", 7, &[D::Param("batch"), D::Fixed(128)]),
    );
    graph.extend(b"\x0a\x00".repeat(NODES));
    let hub = Hub::start();
    hub.server.add_repo(
        FixtureRepo::new("acme/node-bomb")
            .card_data(json!({"license": "mit", "pipeline_tag": "sentence-similarity"}))
            .pipeline_tag("sentence-similarity")
            .lfs_file("onnx/model.onnx", model(&graph))
            .text_file("tokenizer.json", "{}"),
    );
    let env = TestEnv::new();
    let base = {
        let mut c = env.zoo();
        c.env("HF_ENDPOINT", hub.server.endpoint());
        c
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {LIMIT_KIB} && exec \"$@\""))
        .arg("sh")
        .arg(base.get_program())
        .args(["pull", "hf:acme/node-bomb"])
        .current_dir(env.path());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    Run::from(cmd.output().unwrap()).success();
    let card = card_yaml(&env, "acme--node-bomb");
    assert_eq!(card["hub"]["runnable"], false, "{card:?}");
}
