//! Hub repositories with only a safetensors checkpoint (no ONNX export),
//! served by zoo-test-support's Hub look-alike: `zoo pull hf:ORG/NAME` marks
//! them runnable; `zoo embed` converts the real all-MiniLM-L6-v2 checkpoint on
//! first use, pooling from its sentence-transformers files, and `zoo predict`
//! a Transformers ResNet, preprocessing from preprocessor_config.json and
//! class names from id2label.

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

/// A Transformers ResNetForImageClassification repository (random weights,
/// preprocessor_config.json, id2label) without an ONNX export: pulled from
/// the Hub look-alike it is runnable, `zoo predict` converts it on first use
/// and names classes from id2label, and it agrees with onnxruntime on the
/// converted graph fed the reference preprocessing (shorter side to
/// 224 / 0.875 = 256, center 224 crop, ImageNet mean and std).
#[test]
fn a_hub_resnet_checkpoint_without_onnx_classifies_images() {
    let Some(()) = crate::setup::python() else {
        return;
    };
    let e = Env::new();
    let dir = e.path("hf-resnet");
    crate::setup::reference(&["resnet", dir.to_str().unwrap(), "hf", "18", "6"]);
    let preprocessor = json!({
        "crop_pct": 0.875,
        "do_normalize": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
        "image_processor_type": "ConvNextImageProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": 224}
    });
    let repo = FixtureRepo::new("acme/resnet-18")
        .card_data(json!({"license": "apache-2.0", "pipeline_tag": "image-classification"}))
        .pipeline_tag("image-classification")
        .library_name("transformers")
        .file(FixtureFile::disk(
            "model.safetensors",
            dir.join("model.safetensors"),
            true,
        ))
        .file(FixtureFile::disk(
            "config.json",
            dir.join("config.json"),
            false,
        ))
        .text_file("preprocessor_config.json", preprocessor.to_string());
    let hub = HubServer::start(vec![repo]);
    let zoo = |args: &[&str]| {
        let mut cmd = e.env.zoo();
        cmd.env("HF_ENDPOINT", hub.endpoint()).args(args);
        crate::util::Run::from(cmd.output().unwrap())
    };
    zoo(&["pull", "hf:acme/resnet-18", "--quiet"]).success();
    let name = "acme--resnet-18";
    let info = zoo(&["info", name, "--json"]).success().json();
    assert_eq!(info["card"]["hub"]["runnable"], true, "{info}");

    let image = e.path("random.png");
    let image_s = image.to_str().unwrap();
    crate::setup::reference(&["make-image", image_s, "8"]);
    let run = zoo(&["predict", name, image_s, "--json", "-k", "3"])
        .success()
        .stderr_has("converting");
    let line: serde_json::Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let record = zoo(&["convert", name, "--json"]).success().json();
    let expected =
        crate::setup::reference(&["classify", record["path"].as_str().unwrap(), image_s, "3"]);
    for (i, score) in line["predictions"].as_array().unwrap().iter().enumerate() {
        let index = &expected["index"][i];
        assert_eq!(score["index"], *index, "{line} vs {expected}");
        assert_eq!(score["label"], format!("LABEL_{index}"), "{line}");
        let p = score["probability"].as_f64().unwrap();
        let q = expected["probability"][i].as_f64().unwrap();
        assert!(
            (p - q).abs() <= crate::setup::PARITY_TOLERANCE,
            "{line} vs {expected}"
        );
    }
}
