//! ResNet-18 and ResNet-50 checkpoints with random weights and BatchNorm
//! statistics far from the identity, in the torchvision/timm layout and in
//! Transformers' ResNetForImageClassification layout: the converted graph
//! (BatchNorm folded into the convolutions) against the numpy reference that
//! applies BatchNorm as such, and the parameter counts of the real networks.

use crate::setup::{Env, PARITY_TOLERANCE, f64_at, python, reference};

/// torchvision's published parameter counts (1000 classes).
const RESNET18_PARAMETERS: u64 = 11_689_512;
const RESNET50_PARAMETERS: u64 = 25_557_032;

fn converts_and_matches(naming: &str, depth: u32, parameters: u64) {
    let Some(()) = python() else { return };
    let e = Env::new();
    let dir = e.path(&format!("resnet{depth}-{naming}"));
    let dir_s = dir.to_str().unwrap();
    let written = reference(&["resnet", dir_s, naming, &depth.to_string(), "9"]);
    assert_eq!(written["parameters"], parameters, "{written}");
    let out = e.path("resnet.onnx");
    let out_s = out.to_str().unwrap();
    let report = e
        .zoo(&["convert", dir_s, "--out", out_s, "--json"])
        .success()
        .json();
    assert_eq!(report["parameters"], parameters, "{report}");
    assert_eq!(report["classes"], 1000, "{report}");
    assert_eq!(report["inputs"], serde_json::json!(["pixel_values"]));

    let check = reference(&["check", out_s]);
    assert_eq!(check["opset"], serde_json::json!([17]), "{check}");
    assert_eq!(check["outputs"], serde_json::json!(["logits", "features"]));
    // Folded: no BatchNormalization node is left in the graph.
    let ops = check["ops"].as_array().unwrap();
    assert!(!ops.contains(&"BatchNormalization".into()), "{check}");

    let parity = reference(&["images", out_s, dir_s, "2"]);
    for key in ["logits_max_abs_diff", "features_max_abs_diff"] {
        let diff = f64_at(&parity, key);
        assert!(
            diff <= PARITY_TOLERANCE,
            "resnet{depth} ({naming}): {key} {diff}: {parity}"
        );
    }
}

#[test]
fn resnet18_torchvision_layout_matches_the_reference() {
    converts_and_matches("tv", 18, RESNET18_PARAMETERS);
}

#[test]
fn resnet18_transformers_layout_matches_the_reference() {
    converts_and_matches("hf", 18, RESNET18_PARAMETERS);
}

#[test]
fn resnet50_torchvision_layout_matches_the_reference() {
    converts_and_matches("tv", 50, RESNET50_PARAMETERS);
}

#[test]
fn resnet50_transformers_layout_matches_the_reference() {
    converts_and_matches("hf", 50, RESNET50_PARAMETERS);
}

#[test]
fn resnet_configs_that_do_not_fit_are_clear_errors() {
    let Some(()) = python() else { return };
    let e = Env::new();
    let dir = e.path("r18");
    let dir_s = dir.to_str().unwrap();
    reference(&["resnet", dir_s, "tv", "18", "1"]);
    let config = dir.join("config.json");
    let original = std::fs::read_to_string(&config).unwrap();
    let out = e.path("out.onnx");
    let out_s = out.to_str().unwrap();
    let edit = |from: &str, to: &str, needles: &[&str]| {
        std::fs::write(&config, original.replace(from, to)).unwrap();
        let run = e.zoo(&["convert", dir_s, "--out", out_s]).code(2);
        for n in needles {
            assert!(
                run.stderr.contains(n),
                "stderr lacks {n:?}:\n{}",
                run.stderr
            );
        }
        assert!(!out.exists());
    };
    // A resnet34 config over resnet18 weights: the first missing block.
    edit(
        "\"resnet18\"",
        "\"resnet34\"",
        &["layer1.2.conv1.weight", "missing"],
    );
    edit(
        "\"resnet18\"",
        "\"resnet26\"",
        &["architecture", "resnet26"],
    );
    // resnet50 expects bottleneck shapes: the first one that differs.
    edit(
        "\"resnet18\"",
        "\"resnet50\"",
        &["layer1.0.conv1.weight", "shape"],
    );
    edit(
        "\"num_classes\": 1000",
        "\"num_classes\": 10",
        &["fc.weight", "[10, 512]"],
    );
}
