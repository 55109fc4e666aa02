//! What the conversion tests share: inputs from the environment, the Python
//! reference, and test homes with models pulled from local files.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zoo_test_support::skip;

use crate::util::{self, Run, TestEnv};

/// Largest difference allowed between zoo's graph and the numpy reference.
pub const PARITY_TOLERANCE: f64 = 1e-4;

/// A path from the environment, or why the test cannot run.
pub fn input(var: &str) -> Option<PathBuf> {
    skip::env_path_exists(
        var,
        "run scripts/test.sh, which pulls the models and writes the data sets",
    )
}

/// The tests' Python with what the reference imports, or why not.
pub fn python() -> Option<()> {
    skip::python_has(
        &[
            "numpy",
            "scipy",
            "onnx",
            "onnxruntime",
            "tokenizers",
            "safetensors",
            "PIL",
            "sklearn",
        ],
        &[
            "numpy",
            "scipy",
            "onnx",
            "onnxruntime",
            "tokenizers",
            "safetensors",
            "pillow",
            "scikit-learn",
        ],
    )
    .then_some(())
}

/// Runs tests/support/convert_ref.py and returns the JSON it prints.
#[track_caller]
pub fn reference(args: &[&str]) -> Value {
    util::python_json("convert_ref.py", args)
}

pub fn f64_at(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number '{key}' in {v}"))
}

/// A test home with a catalog directory (`--registry`) of its own.
pub struct Env {
    pub env: TestEnv,
    pub catalog: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        Env { env, catalog }
    }

    pub fn zoo(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.zoo();
        cmd.arg("--registry").arg(&self.catalog).args(args);
        Run::from(cmd.output().expect("run zoo"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.env.path().join(rel)
    }

    /// Pulls the built-in card `name` with its files taken from `dir`, where
    /// they lie at their card paths (a `file:` source instead of its own).
    pub fn pull_builtin(&self, name: &str, dir: &Path) {
        let card = std::fs::read_to_string(util::repo_root().join(format!("registry/{name}.yaml")))
            .unwrap();
        let mut yaml: serde_yaml::Value = serde_yaml::from_str(&card).unwrap();
        // zoo's store links into its blobs, and a file source refuses links
        // that lead out of its directory: hand over plain copies.
        let files = self.path(&format!("files-{name}"));
        copy_tree(dir, &files);
        yaml["sources"] =
            serde_yaml::from_str(&format!("[{{file: {{path: '{}'}}}}]", files.display())).unwrap();
        std::fs::write(
            self.catalog.join(format!("{name}.yaml")),
            serde_yaml::to_string(&yaml).unwrap(),
        )
        .unwrap();
        self.zoo(&["pull", name, "--quiet"]).success();
        std::fs::remove_dir_all(&files).unwrap();
    }

    /// A text-embedding card `name` for the checkpoint in `dir` (config.json,
    /// model.safetensors), pulled from there.
    pub fn pull_checkpoint(&self, name: &str, dir: &Path) -> Run {
        self.pull_files(
            name,
            dir,
            &[
                ("model.safetensors", "safetensors", "weights"),
                ("config.json", "json", "config"),
            ],
        )
    }

    /// A text-embedding card `name` without an io section listing `files`
    /// (path, format, role) of `dir`, pulled from there.
    pub fn pull_files(&self, name: &str, dir: &Path, files: &[(&str, &str, &str)]) -> Run {
        let mut entries = String::new();
        for (file, format, role) in files {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            entries += &format!(
                "  - path: {file}\n    sha256: {}\n    size: {}\n    format: {format}\n    role: {role}\n",
                sha256(&bytes),
                bytes.len()
            );
        }
        let card = format!(
            "schema: 1\nname: {name}\nversion: \"1\"\nfamily: test\ntask: text-embedding\n\
             architecture: Test encoder\ndescription: A checkpoint made for a test.\nfiles:\n{entries}\
             sources:\n  - file: {{path: '{}'}}\nlicense:\n  id: MIT\nopenness:\n  class: open\n\
             provenance:\n  organization: Test\n",
            dir.display()
        );
        std::fs::write(self.catalog.join(format!("{name}.yaml")), card).unwrap();
        self.zoo(&["pull", name, "--quiet"])
    }

    /// Plain copies of the files under `dir` (the store's are links).
    pub fn copy_of(&self, dir: &Path, rel: &str) -> PathBuf {
        let to = self.path(rel);
        copy_tree(dir, &to);
        to
    }

    /// Everything under the store's derived/onnx folder, relative paths.
    pub fn converted_files(&self) -> Vec<String> {
        let root = self.env.zoo_home().join("store/derived/onnx");
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}

/// A random-weight checkpoint of `family` in `dir`, written by the reference.
pub fn tiny_checkpoint(dir: &Path, family: &str, seed: u32) {
    reference(&["tiny", dir.to_str().unwrap(), family, &seed.to_string()]);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        // Follows the store's links: the copies are plain files.
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else if path.is_file() {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        out.push(path.strip_prefix(root).unwrap().display().to_string());
        if path.is_dir() && !path.is_symlink() {
            walk(root, &path, out);
        }
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
