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

    // Random inputs, and two real photographs (scikit-learn's samples).
    let parity = reference(&["images", out_s, dir_s, "2"]);
    assert_eq!(parity["photos"], 2, "{parity}");
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

/// A pulled ResNet checkpoint whose card has only labels: `zoo predict`
/// converts it on first use, takes the preprocessing from timm's
/// pretrained_cfg, and agrees with onnxruntime on the converted graph fed the
/// reference preprocessing (a 256x256 image: no resampling on either side).
#[test]
fn a_pulled_resnet_checkpoint_classifies_images() {
    let Some(()) = python() else { return };
    let e = Env::new();
    let dir = e.path("r18");
    reference(&["resnet", dir.to_str().unwrap(), "tv", "18", "3"]);
    let mut files = String::new();
    for (file, format, role) in [
        ("model.safetensors", "safetensors", "weights"),
        ("config.json", "json", "config"),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        files += &format!(
            "  - path: {file}\n    sha256: {}\n    size: {}\n    format: {format}\n    role: {role}\n",
            crate::setup::sha256(&bytes),
            bytes.len()
        );
    }
    let card = format!(
        "schema: 1\nname: r18\nversion: \"1\"\nfamily: test\ntask: image-classification\n\
         architecture: ResNet-18\ndescription: Random weights.\nfiles:\n{files}\
         sources:\n  - file: {{path: '{}'}}\nlicense:\n  id: MIT\nopenness:\n  class: open\n\
         provenance:\n  organization: Test\nio:\n  labels: imagenet-1k\n",
        dir.display()
    );
    std::fs::create_dir_all(e.catalog.join("labels")).unwrap();
    std::fs::copy(
        crate::util::repo_root().join("registry/labels/imagenet-1k.txt"),
        e.catalog.join("labels/imagenet-1k.txt"),
    )
    .unwrap();
    std::fs::write(e.catalog.join("r18.yaml"), card).unwrap();
    e.zoo(&["pull", "r18", "--quiet"]).success();

    let image = e.path("random.png");
    let image_s = image.to_str().unwrap();
    reference(&["make-image", image_s, "5"]);
    let run = e
        .zoo(&["predict", "r18", image_s, "--json", "-k", "3"])
        .success()
        .stderr_has("converting");
    let line: serde_json::Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let ours = line["predictions"].as_array().unwrap();
    assert_eq!(ours.len(), 3, "{line}");

    let record = e.zoo(&["convert", "r18", "--json"]).success().json();
    assert_eq!(record["cached"], true);
    finetunes_on_fashion_mnist(&e, "r18");
    let expected = reference(&["classify", record["path"].as_str().unwrap(), image_s, "3"]);
    for (i, score) in ours.iter().enumerate() {
        assert_eq!(score["index"], expected["index"][i], "{line} vs {expected}");
        let p = score["probability"].as_f64().unwrap();
        let q = expected["probability"][i].as_f64().unwrap();
        assert!((p - q).abs() <= PARITY_TOLERANCE, "{line} vs {expected}");
    }
}

/// `zoo finetune` on the converted checkpoint, end to end: features cut at
/// the pooled `features` output, a head trained on ten Fashion-MNIST photos
/// of each of two classes, the fine-tune scored by `zoo eval`.
fn finetunes_on_fashion_mnist(e: &Env, base: &str) {
    let Some(mnist) = zoo_test_support::skip::env_path_exists(
        "ZOO_TEST_FASHION_MNIST",
        "the fine-tune learns Fashion-MNIST images: run scripts/test.sh, which prepares them",
    ) else {
        return;
    };
    let data = e.path("fashion");
    for class in ["bag", "sandal"] {
        let to = data.join(class);
        std::fs::create_dir_all(&to).unwrap();
        let mut images: Vec<_> = std::fs::read_dir(mnist.join(class))
            .unwrap()
            .map(|d| d.unwrap().path())
            .collect();
        images.sort();
        for image in images.iter().take(10) {
            std::fs::copy(image, to.join(image.file_name().unwrap())).unwrap();
        }
    }
    let data_s = data.to_str().unwrap();
    let report = e
        .zoo(&[
            "finetune",
            base,
            "--data",
            data_s,
            "--out",
            "r18-fashion",
            "--seed",
            "0",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["train_items"], 16, "{report}");
    let info = e.zoo(&["info", "r18-fashion", "--json"]).success().json();
    let lineage = &info["card"]["lineage"];
    assert_eq!(lineage["base_model"], base, "{info}");
    assert_eq!(
        lineage["hyperparameters"]["feature_tensor"], "features",
        "{info}"
    );
    let eval = e
        .zoo(&["eval", "r18-fashion", "--data", data_s, "--json"])
        .success()
        .json();
    assert_eq!(eval["items"], 20, "{eval}");
}
