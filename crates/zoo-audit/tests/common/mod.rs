//! Test fixtures: a ZOO_HOME in a temp dir holding a store, local fine-tuned
//! models and a user catalog, filled with small fake files. Shared with the CLI
//! test (`tests/audit.rs` at the workspace root), which points `ZOO_HOME` here.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zoo_fetch::{LicenseRecord, MANIFEST_FILE, Manifest, ManifestFile, Store, Trust};
use zoo_registry::Catalog;

/// sha256 of resnet50-v1-7.onnx as the built-in card publishes it.
pub const RESNET50_SHA256: &str =
    "af16a04a6ec48ac494065d4439fe9dea590d337b9ca6dc328160ccf04a217b9c";

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// What `ZOO_HOME` would be: `store/` and `models/` (local models) below it;
    /// the same layout as the workspace tests' `util::TestEnv`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("zoo-home")
    }

    pub fn store(&self) -> Store {
        Store::open(self.home().join("store"), self.dir.path().join("hf-cache"))
    }

    pub fn local_models(&self) -> PathBuf {
        self.home().join("models")
    }

    /// A user catalog directory (`--registry`).
    pub fn registry(&self) -> PathBuf {
        self.dir.path().join("registry")
    }

    /// As the CLI loads it: built-in cards, local models, then the user catalog.
    pub fn catalog(&self) -> Catalog {
        let mut c = Catalog::embedded().expect("embedded catalog");
        c.merge_local_models(&self.local_models())
            .expect("local models");
        if self.registry().is_dir() {
            c.merge_dir(&self.registry()).expect("user catalog");
        }
        c
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Add a card to the user catalog.
    pub fn add_card(&self, name: &str, yaml: &str) {
        self.write(&format!("registry/{name}.yaml"), yaml.as_bytes());
    }

    /// A card `tiny` (MIT) in the user catalog whose `file` source serves `files`
    /// (`.pt` files are declared as pickles).
    pub fn tiny_card(&self, files: &[(&str, &[u8])]) {
        let src = self.dir.path().join("src");
        let mut entries = String::new();
        for (path, bytes) in files {
            self.write(&format!("src/{path}"), bytes);
            let format = if path.ends_with(".pt") {
                "pickle"
            } else {
                "onnx"
            };
            entries.push_str(&format!(
                "  - path: {path}\n    sha256: {}\n    size: {}\n    format: {format}\n    role: model\n",
                sha256_hex(bytes),
                bytes.len()
            ));
        }
        self.add_card(
            "tiny",
            &format!(
                "schema: 1\nname: tiny\nversion: \"1\"\nfamily: tiny\ntask: image-classification\n\
                 architecture: Tiny CNN\ndescription: A tiny test model.\nfiles:\n{entries}\
                 sources:\n  - file:\n      path: {}\nlicense:\n  id: MIT\nopenness:\n  class: open\n\
                 provenance:\n  organization: Test\n",
                src.display()
            ),
        );
    }

    /// A pulled model written straight into the store: its files as plain files
    /// in the model directory, and a manifest recording them.
    pub fn fake_pull(&self, name: &str, license: &str, accepted: bool, files: &[(&str, &[u8])]) {
        let dir = self.store().model_dir(&name.parse().unwrap());
        let mut entries = Vec::new();
        for (path, bytes) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            entries.push(ManifestFile {
                path: path.parse().unwrap(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
                source: format!("hf test-org/{name}@{}", "0".repeat(40)),
                blob: p,
                trust: Trust::FirstUse,
            });
        }
        write_manifest(&dir, name, license, accepted, entries);
    }

    /// A model zoo fine-tuned from `base`, as `zoo finetune` leaves it: its card
    /// (with lineage) and files under the local models directory, registered in
    /// the store with a `file` source.
    pub fn finetuned(
        &self,
        name: &str,
        base: &str,
        base_sha256: &str,
        base_license: &str,
        data_license: Option<&str>,
    ) {
        let dir = self.local_models().join(name);
        let model = format!("fine-tuned weights of {name}").into_bytes();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.onnx"), &model).unwrap();
        let data_license = data_license
            .map(|l| format!("\n    license: {l}"))
            .unwrap_or_default();
        let card = format!(
            r#"schema: 1
name: {name}
version: "1"
family: resnet
task: image-classification
architecture: {base} backbone with a linear head
description: Fine-tuned by zoo on a few labelled pictures.
files:
  - path: model.onnx
    sha256: {sha}
    size: {size}
    format: onnx
    role: model
sources:
  - file:
      path: {dir}
license:
  id: {base_license}
openness:
  class: open
provenance:
  base_model: {base}
lineage:
  base_model: {base}
  base_sha256: {base_sha256}
  base_license: {base_license}
  dataset:
    source: /data/pets
    fingerprint: {fp}
    items: 20
    classes: [cat, dog]{data_license}
  hyperparameters:
    epochs: "3"
    head: linear
  zoo_version: 0.1.0
  created_at: "2026-01-01T00:00:00Z"
"#,
            sha = sha256_hex(&model),
            size = model.len(),
            dir = dir.display(),
            fp = sha256_hex(b"pets"),
        );
        std::fs::write(dir.join("card.yaml"), card).unwrap();
        let store_dir = self.store().model_dir(&name.parse().unwrap());
        std::fs::create_dir_all(&store_dir).unwrap();
        let link = store_dir.join("model.onnx");
        std::os::unix::fs::symlink(dir.join("model.onnx"), &link).unwrap();
        let entry = ManifestFile {
            path: "model.onnx".parse().unwrap(),
            sha256: sha256_hex(&model),
            size: model.len() as u64,
            source: format!("file {}", dir.display()),
            blob: dir.join("model.onnx"),
            trust: Trust::Card,
        };
        write_manifest(&store_dir, name, base_license, false, vec![entry]);
    }
}

fn write_manifest(dir: &Path, name: &str, license: &str, accepted: bool, files: Vec<ManifestFile>) {
    let m = Manifest {
        name: name.parse().unwrap(),
        version: "1".to_owned(),
        pulled_at: "Thu, 01 Jan 2026 00:00:00 GMT".to_owned(),
        zoo_version: "0.1.0".to_owned(),
        license: LicenseRecord {
            id: license.to_owned(),
            openness: "open".to_owned(),
            accepted,
            accepted_at: accepted.then(|| "Thu, 01 Jan 2026 00:00:00 GMT".to_owned()),
        },
        files,
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}
