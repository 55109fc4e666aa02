//! A small model that `zoo pull` takes from a local directory (a card with a
//! `file:` source in a catalog directory), so that a test has something to
//! `zoo push` without any network.
//!
//! ```no_run
//! use zoo_test_support::{LocalModel, fixture_bytes};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let catalog = LocalModel::new("tiny")
//!     .file("model.onnx", fixture_bytes(7, 1 << 20), "onnx", "model")
//!     .file("config.json", b"{}".to_vec(), "json", "config")
//!     .write(dir.path());
//! // zoo --registry {catalog} pull tiny; zoo push tiny 127.0.0.1:PORT/test/tiny:v1
//! ```

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One file of a [`LocalModel`].
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: String,
    pub bytes: Vec<u8>,
    /// The card's `format` (`onnx`, `json`, `text`, ...).
    pub format: String,
    /// The card's `role` (`model`, `config`, ...).
    pub role: String,
}

impl LocalFile {
    /// Hex sha256 of the bytes.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// A model card and its files, written where `zoo --registry` finds it.
#[derive(Debug, Clone)]
pub struct LocalModel {
    pub name: String,
    pub version: String,
    pub license: String,
    /// The card's openness class (`open`, `open-weights-restricted`).
    pub class: String,
    pub files: Vec<LocalFile>,
}

impl LocalModel {
    /// Version `1`, MIT, open, no files yet.
    pub fn new(name: &str) -> LocalModel {
        LocalModel {
            name: name.to_owned(),
            version: "1".to_owned(),
            license: "MIT".to_owned(),
            class: "open".to_owned(),
            files: Vec::new(),
        }
    }

    /// Adds a file with its card `format` and `role`.
    pub fn file(mut self, path: &str, bytes: Vec<u8>, format: &str, role: &str) -> LocalModel {
        self.files.push(LocalFile {
            path: path.to_owned(),
            bytes,
            format: format.to_owned(),
            role: role.to_owned(),
        });
        self
    }

    /// The SPDX license and the openness class.
    pub fn license(mut self, id: &str, class: &str) -> LocalModel {
        self.license = id.to_owned();
        self.class = class.to_owned();
        self
    }

    pub fn version(mut self, version: &str) -> LocalModel {
        self.version = version.to_owned();
        self
    }

    /// The card, its source the directory `files`.
    pub fn card(&self, files: &Path) -> String {
        let mut text = format!(
            "schema: 1
name: {}
version: \"{}\"
family: test
task: other
architecture: Tiny
description: A fixture model for the OCI tests.
files:
",
            self.name, self.version
        );
        for f in &self.files {
            text.push_str(&format!(
                "  - path: {}\n    sha256: {}\n    size: {}\n    format: {}\n    role: {}\n",
                f.path,
                f.sha256(),
                f.bytes.len(),
                f.format,
                f.role
            ));
        }
        text.push_str(&format!(
            "sources:
  - file: {{path: '{}'}}
license:
  id: {}
openness:
  class: {}
provenance:
  organization: Test
  authors: [Zoo Tests]
",
            files.display(),
            self.license,
            self.class
        ));
        text
    }

    /// Writes the files under `root/files-<name>/` and the card into
    /// `root/catalog/<name>.yaml`; returns the catalog directory (for
    /// `zoo --registry DIR` or `ZOO_REGISTRY`).
    ///
    /// # Panics
    /// If writing fails.
    pub fn write(&self, root: &Path) -> PathBuf {
        let files = root.join(format!("files-{}", self.name));
        for f in &self.files {
            let to = files.join(&f.path);
            std::fs::create_dir_all(to.parent().unwrap()).expect("create the files' directory");
            std::fs::write(&to, &f.bytes).expect("write a model file");
        }
        std::fs::create_dir_all(&files).expect("create the files' directory");
        let catalog = root.join("catalog");
        std::fs::create_dir_all(&catalog).expect("create the catalog");
        std::fs::write(
            catalog.join(format!("{}.yaml", self.name)),
            self.card(&files),
        )
        .expect("write the card");
        catalog
    }
}
