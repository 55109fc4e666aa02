//! A Hub repository with only the safetensors checkpoint (no ONNX export):
//! `zoo pull hf:ORG/NAME` marks it runnable, and `zoo embed` converts it on
//! first use, with its pooling from its sentence-transformers files. Served by
//! zoo-test-support's Hub look-alike from the real all-MiniLM-L6-v2 files.

use serde_json::json;
use zoo_test_support::{FixtureFile, FixtureRepo, HubServer};

use crate::setup::{Env, input};

#[test]
fn a_hub_checkpoint_without_onnx_is_runnable_and_embeds() {
    let Some(dir) = input("ZOO_TEST_MINILM_DIR") else {
        return;
    };
    let mut repo = FixtureRepo::new("sentence-transformers/all-MiniLM-L6-v2")
        .card_data(json!({"license": "apache-2.0", "pipeline_tag": "sentence-similarity"}))
        .pipeline_tag("sentence-similarity")
        .library_name("sentence-transformers")
        .file(FixtureFile::disk(
            "model.safetensors",
            dir.join("model.safetensors"),
            true,
        ))
        .file(FixtureFile::disk(
            "tokenizer.json",
            dir.join("tokenizer.json"),
            false,
        ));
    for small in [
        "config.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        repo = repo.file(FixtureFile::disk(small, dir.join(small), false));
    }
    let hub = HubServer::start(vec![repo]);
    let e = Env::new();
    let with_hub = |args: &[&str]| {
        let mut cmd = e.env.zoo();
        cmd.env("HF_ENDPOINT", hub.endpoint())
            .arg("--registry")
            .arg(&e.catalog)
            .args(args);
        crate::util::Run::from(cmd.output().unwrap())
    };
    with_hub(&[
        "pull",
        "hf:sentence-transformers/all-MiniLM-L6-v2",
        "--quiet",
    ])
    .success();
    let name = "sentence-transformers--all-minilm-l6-v2";
    let info = with_hub(&["info", name, "--json"]).success().json();
    assert_eq!(info["card"]["hub"]["runnable"], true, "{info}");

    e.pull_builtin("all-minilm-l6-v2", &dir);
    let texts = ["A man is eating food.", "Ein Mann isst Essen."];
    let run = with_hub(&["embed", name, texts[0], texts[1]])
        .success()
        .stderr_has("converting");
    let hub_rows: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let builtin = e
        .zoo(&["embed", "all-minilm-l6-v2", texts[0], texts[1]])
        .success();
    let builtin_rows: Vec<serde_json::Value> = builtin
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hub_rows.len(), 2);
    for (a, b) in hub_rows.iter().zip(&builtin_rows) {
        let (a, b) = (
            a["embedding"].as_array().unwrap(),
            b["embedding"].as_array().unwrap(),
        );
        assert_eq!(a.len(), 384);
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs())
            .fold(0f64, f64::max);
        assert!(diff < 1e-6, "the hub model embeds differently: {diff}");
    }
}
