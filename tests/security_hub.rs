//! Regression tests for the review of the hub import (cards made from Hub
//! metadata) as an attacker who controls HF_ENDPOINT or a repository on it.
//! Each runs the real binary against a Hub look-alike (the fixture hub, or a
//! raw server for answers the fixtures cannot give) and asserts the exit
//! code, the message and what is left in `$ZOO_HOME/catalog`.

mod util;

#[path = "hub/fixtures.rs"]
mod fixtures;

use std::process::Command;

use fixtures::Hub;
use serde_json::{Value, json};
use util::{Run, TestEnv};
use zoo_test_support::FixtureRepo;

fn catalog_file(env: &TestEnv, name: &str) -> std::path::PathBuf {
    env.zoo_home().join("catalog").join(format!("{name}.yaml"))
}

fn card_yaml(env: &TestEnv, name: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(catalog_file(env, name)).expect("card written");
    serde_yaml::from_str(&text).expect("card is YAML")
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
