//! Two fine-tunes of one base share their backbone's weights byte for byte
//! (backbone.onnx.data): the store keeps them once, a registry receives them
//! once, and a machine that has one fine-tune pulls the next one's head only.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;
use zoo_test_support::{OciRegistry, RegistryFront, skip};

use crate::roundtrip::{open_nsfw_home, write_png};
use crate::setup::{Home, layer};

/// Ten Fashion-MNIST images of each of `classes`, as `zoo finetune --data` reads them.
fn small_set(from: &Path, to: &Path, classes: &[&str]) {
    for class in classes {
        let dir = to.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let mut images: Vec<_> = std::fs::read_dir(from.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        images.sort();
        for image in images.iter().take(10) {
            std::fs::copy(image, dir.join(image.file_name().unwrap())).unwrap();
        }
    }
}

/// The card entry of `path` in `zoo info NAME --json`.
fn card_file(home: &Home, name: &str, path: &str) -> Value {
    let info = home.run(&["info", name, "--json"]).success().json();
    info["card"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{name} has no {path}: {info:#}"))
        .clone()
}

#[test]
fn a_second_fine_tune_costs_its_head_in_the_store_the_registry_and_the_network() {
    let Some(data) = skip::env_path_exists(
        "ZOO_TEST_FASHION_MNIST",
        "the fine-tunes learn Fashion-MNIST images: run scripts/test.sh, which prepares them",
    ) else {
        return;
    };
    let Some(a) = open_nsfw_home() else {
        return;
    };
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    for (name, classes) in [("bags", ["bag", "sandal"]), ("tops", ["coat", "shirt"])] {
        let set = a.path().join(format!("data-{name}"));
        small_set(&data, &set, &classes);
        let set = set.to_str().unwrap();
        a.run(&[
            "finetune",
            "open-nsfw",
            "--data",
            set,
            "--out",
            name,
            "--seed",
            "0",
            "--quiet",
        ])
        .success();
    }

    // One set of backbone bytes, a small graph each.
    let (first, second) = (
        card_file(&a, "bags", "backbone.onnx.data"),
        card_file(&a, "tops", "backbone.onnx.data"),
    );
    assert_eq!(first["sha256"], second["sha256"], "{first} {second}");
    assert_eq!(first["format"], "onnx-data");
    let weights = first["size"].as_u64().unwrap();
    assert!(weights > 20_000_000, "open_nsfw's weights: {first}");
    for name in ["bags", "tops"] {
        let graph = card_file(&a, name, "model.onnx")["size"].as_u64().unwrap();
        assert!(graph * 100 < weights, "{name}: model.onnx is {graph} bytes");
    }
    // The second fine-tune's folder links the stored blob instead of copying it.
    let sha = first["sha256"].as_str().unwrap().to_owned();
    let blob = a.store().join("blobs/sha256").join(&sha);
    let local = a.env.zoo_home().join("models/tops/backbone.onnx.data");
    assert_eq!(
        std::fs::metadata(&blob).unwrap().ino(),
        std::fs::metadata(&local).unwrap().ino()
    );

    // The registry receives the backbone once.
    let front = RegistryFront::start(&registry.host());
    let host = front.host();
    let pushed = a.push("bags", &format!("{host}/team/bags:v1"), &[]);
    let uploaded_first = front.bytes_uploaded();
    assert_eq!(pushed["sent"], pushed["total"], "{pushed:#}");
    let again = a.push(
        "tops",
        &format!("{host}/team/tops:v1"),
        &["--mount-from", "team/bags"],
    );
    let uploaded_second = front.bytes_uploaded() - uploaded_first;
    assert_eq!(
        layer(&again, "backbone.onnx.data")["outcome"]["kind"],
        "mounted",
        "{again:#}"
    );
    let sent = again["sent"].as_u64().unwrap();
    let first_sent = pushed["sent"].as_u64().unwrap();
    assert!(
        sent * 100 < first_sent,
        "second push sent {sent} of {first_sent}"
    );
    assert!(
        uploaded_second * 100 < uploaded_first,
        "bytes on the wire: {uploaded_second} then {uploaded_first}"
    );
    eprintln!(
        "first push {first_sent} bytes sent ({uploaded_first} uploaded), second {sent} ({uploaded_second})"
    );

    // A machine with one fine-tune fetches only the next one's head.
    let b = Home::new();
    b.run(&["pull", &format!("oci://{host}/team/bags:v1"), "--quiet"])
        .success();
    front.clear_log();
    b.run(&["pull", &format!("oci://{host}/team/tops:v1"), "--quiet"])
        .success();
    assert_eq!(front.blob_bytes_served(&sha), 0, "{:#?}", front.log());

    // It runs there as it does where it was trained, and its audit follows it
    // to its base.
    let img = write_png(&b.path().join("gradient.png"));
    let img = img.to_str().unwrap();
    let on_b = b.run(&["predict", "tops", img, "--json"]).success().json();
    let on_a = a.run(&["predict", "tops", img, "--json"]).success().json();
    assert_eq!(
        on_b["predictions"], on_a["predictions"],
        "{on_b:#} {on_a:#}"
    );
    let audit = b
        .run(&["audit", "tops", "--format", "json"])
        .success()
        .json();
    let lineage = serde_json::to_string(&audit["models"][0]["lineage"]).unwrap();
    assert!(lineage.contains("open-nsfw"), "{audit:#}");
}
