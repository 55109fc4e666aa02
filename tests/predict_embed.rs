//! `zoo predict`, `zoo embed` and `zoo runtime info` end to end on the tiny
//! models of crates/zoo-ort/tests/fixtures, pulled from a `file:` source into a
//! temporary store. The ONNX Runtime comes from ZOO_TEST_RUNTIME_DIR (see
//! util.rs) or the onnxruntime package of the tests' Python (ZOO_PYTHON);
//! without either a test goes through zoo_test_support::skip (`SKIP:`, or a
//! failure under ZOO_TEST_STRICT=1).

mod util;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use util::{Run, TestEnv};
use zoo_test_support::skip;

fn fixtures() -> PathBuf {
    util::repo_root().join("crates/zoo-ort/tests/fixtures")
}

fn sha_file(p: &Path) -> (String, u64) {
    let bytes = std::fs::read(p).unwrap();
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (hex, bytes.len() as u64)
}

/// The Python package's library, when no shared runtime directory is set.
fn python_ort() -> Option<PathBuf> {
    let out = skip::python_output(&[
        "-c",
        "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.' + onnxruntime.__version__))",
    ])?;
    let p = PathBuf::from(out.trim());
    p.is_file().then_some(p)
}

/// The shared runtime directory, which must hold a zoo install when it is set.
fn shared_runtime_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("ZOO_TEST_RUNTIME_DIR").filter(|v| !v.is_empty())?);
    let installed = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join("zoo-runtime.json").is_file())
        })
        .unwrap_or(false);
    assert!(
        installed,
        "ZOO_TEST_RUNTIME_DIR={} holds no ONNX Runtime install: run `ZOO_RUNTIME_DIR=... zoo runtime install` or scripts/test.sh",
        dir.display()
    );
    Some(dir)
}

struct Setup {
    env: TestEnv,
    catalog: PathBuf,
    ort: Option<PathBuf>,
}

impl Setup {
    fn new() -> Option<Setup> {
        let ort = match shared_runtime_dir() {
            Some(_) => None,
            None => Some(skip::require(
                python_ort(),
                "an ONNX Runtime (ZOO_TEST_RUNTIME_DIR, or onnxruntime in the tests' Python)",
                "run scripts/test.sh (it installs one with `zoo runtime install` and sets ZOO_TEST_RUNTIME_DIR), \
                 or install onnxruntime into ZOO_PYTHON",
            )?),
        };
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(catalog.join("labels")).unwrap();
        std::fs::write(catalog.join("labels/tiny.txt"), "zero\none\ntwo\nthree\n").unwrap();
        let fx = fixtures();
        let (cls_sha, cls_size) = sha_file(&fx.join("tiny_classifier.onnx"));
        let (enc_sha, enc_size) = sha_file(&fx.join("tiny_encoder.onnx"));
        let (tok_sha, tok_size) = sha_file(&fx.join("tiny_tokenizer.json"));
        let common = "version: '1'\nfamily: test\narchitecture: test\ndescription: tiny test model\nlicense:\n  id: MIT\nopenness:\n  class: open\nprovenance: {}\n";
        std::fs::write(
            catalog.join("tiny-classifier.yaml"),
            format!(
                "schema: 1\nname: tiny-classifier\ntask: image-classification\n{common}files:\n  - {{path: tiny_classifier.onnx, sha256: {cls_sha}, size: {cls_size}, format: onnx, role: model}}\nsources:\n  - file: {{path: '{}'}}\nio:\n  inputs:\n    - {{name: data, dtype: float32, shape: [N, 3, 8, 8], layout: NCHW}}\n  outputs:\n    - {{name: logits, kind: logits, dim: 4}}\n  preprocessing:\n    image: {{resize: 10, crop: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], scale: 0.00392156862745098, channel_order: RGB, layout: NCHW}}\n  labels: tiny\n",
                fx.display()
            ),
        )
        .unwrap();
        std::fs::write(
            catalog.join("tiny-encoder.yaml"),
            format!(
                "schema: 1\nname: tiny-encoder\ntask: text-embedding\n{common}files:\n  - {{path: tiny_encoder.onnx, sha256: {enc_sha}, size: {enc_size}, format: onnx, role: model}}\n  - {{path: tiny_tokenizer.json, sha256: {tok_sha}, size: {tok_size}, format: tokenizer, role: tokenizer}}\nsources:\n  - file: {{path: '{}'}}\nio:\n  outputs:\n    - {{name: last_hidden_state, kind: token-embeddings, dim: 4}}\n  preprocessing:\n    text: {{tokenizer: tiny_tokenizer.json, max_length: 5, pooling: mean, normalize: true}}\n",
                fx.display()
            ),
        )
        .unwrap();
        Some(Setup { env, catalog, ort })
    }

    fn zoo(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.zoo();
        cmd.arg("--registry").arg(&self.catalog).args(args);
        if let Some(lib) = &self.ort {
            cmd.env("ORT_DYLIB_PATH", lib);
        }
        Run::from(cmd.output().expect("run zoo"))
    }

    fn pull(&self, name: &str) {
        self.zoo(&["pull", name]).success();
    }
}

fn write_png(path: &Path, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(12, 9, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

#[test]
fn predict_reports_provider_results_and_bad_images() {
    let Some(s) = Setup::new() else {
        return;
    };
    s.zoo(&["predict", "tiny-classifier", "x.png"])
        .code(1)
        .stderr_has("is not pulled: run `zoo pull tiny-classifier`");
    s.pull("tiny-classifier");
    let imgs = s.env.path().join("imgs");
    std::fs::create_dir_all(imgs.join("sub")).unwrap();
    write_png(&imgs.join("red.png"), [255, 0, 0]);
    write_png(&imgs.join("sub/blue.png"), [0, 0, 255]);
    std::fs::write(imgs.join("broken.jpg"), b"\xff\xd8\xff\xe0 truncated").unwrap();

    let run = s.zoo(&[
        "predict",
        "tiny-classifier",
        imgs.to_str().unwrap(),
        "--json",
        "-k",
        "2",
        "--device",
        "cpu",
        "--decoders",
        "2",
    ]);
    let run = run
        .code(1)
        .stderr_has("on CPUExecutionProvider")
        .stderr_has("image(s) in")
        .stderr_has("(2 decoder thread(s);")
        .stderr_has("broken.jpg");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0]["path"].as_str().unwrap().ends_with("red.png"));
    assert_eq!(lines[0]["provider"], "CPUExecutionProvider");
    // The top 2 of the softmax of the hand-computed logits of a red image.
    let want = expected_top(&RED_FEATURES, 2);
    assert_eq!(want[0].0, "zero");
    assert_predictions(&lines[0]["predictions"], &want);
    assert!(lines[1]["path"].as_str().unwrap().ends_with("blue.png"));
    assert_predictions(&lines[1]["predictions"], &expected_top(&BLUE_FEATURES, 2));

    // Paths on stdin; a table by default; all good means exit 0.
    let mut cmd = s.env.zoo();
    cmd.arg("--registry")
        .arg(&s.catalog)
        .args(["predict", "tiny-classifier", "-", "-k", "1"]);
    if let Some(lib) = &s.ort {
        cmd.env("ORT_DYLIB_PATH", lib);
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        imgs.join("sub/blue.png").display()
    )
    .unwrap();
    let run = Run::from(child.wait_with_output().unwrap()).success();
    assert!(run.stdout.starts_with("IMAGE"), "{}", run.stdout);
    let (label, p) = expected_top(&BLUE_FEATURES, 1)[0].clone();
    assert_eq!(label, "two");
    assert!(
        run.stdout.lines().any(|l| l.contains("blue.png")
            && l.contains(&label)
            && l.contains(&format!("{p:.4}"))),
        "no row `blue.png {label} {p:.4}`:\n{}",
        run.stdout
    );
}

/// tiny_classifier.onnx (crates/zoo-ort/tests/fixtures/gen.py): logits =
/// per-channel means of the preprocessed image x W + b.
const W: [[f64; 4]; 3] = [
    [1.0, -1.0, 0.5, 0.0],
    [0.0, 2.0, -0.5, 1.0],
    [-1.0, 0.0, 1.0, 0.25],
];
const B: [f64; 4] = [0.1, -0.2, 0.0, 0.3];
const LABELS: [&str; 4] = ["zero", "one", "two", "three"];
/// A solid colour stays solid through resize and crop; the card normalises
/// each channel as (v / 255 - 0.5) / 0.25: 255 -> 2, 0 -> -2.
const RED_FEATURES: [f64; 3] = [2.0, -2.0, -2.0];
const BLUE_FEATURES: [f64; 3] = [-2.0, -2.0, 2.0];

/// The `k` most probable (label, probability), by hand.
fn expected_top(features: &[f64; 3], k: usize) -> Vec<(String, f64)> {
    let logits: Vec<f64> = (0..4)
        .map(|j| B[j] + (0..3).map(|c| features[c] * W[c][j]).sum::<f64>())
        .collect();
    let sum: f64 = logits.iter().map(|l| l.exp()).sum();
    let mut probs: Vec<(String, f64)> = (0..4)
        .map(|j| (LABELS[j].to_owned(), logits[j].exp() / sum))
        .collect();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    probs.truncate(k);
    probs
}

#[track_caller]
fn assert_predictions(got: &serde_json::Value, want: &[(String, f64)]) {
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, (label, p)) in got.iter().zip(want) {
        assert_eq!(g["label"], label.as_str(), "{got:?}");
        let gp = g["probability"].as_f64().unwrap();
        assert!((gp - p).abs() < 1e-5, "{label}: {gp} vs {p} (by hand)");
    }
}

#[test]
fn wrong_model_kind_and_device_errors() {
    let Some(s) = Setup::new() else {
        return;
    };
    s.zoo(&["embed", "tiny-classifier", "hello"])
        .code(2)
        .stderr_has("use `zoo predict tiny-classifier");
    s.zoo(&["predict", "tiny-encoder", "x.png"])
        .code(2)
        .stderr_has("use `zoo embed tiny-encoder`");
    s.zoo(&["predict", "tiny-classifier", "x.png", "--device", "tpu"])
        .code(2)
        .stderr_has("--device");
    s.zoo(&["predict", "tiny-classifier", "x.png", "--decoders", "0"])
        .code(2)
        .stderr_has("--decoders");
}

#[test]
fn embed_writes_json_lines_and_safetensors() {
    let Some(s) = Setup::new() else {
        return;
    };
    s.pull("tiny-encoder");
    let run = s
        .zoo(&[
            "embed",
            "tiny-encoder",
            "hello world",
            "the cat",
            "--device",
            "cpu",
        ])
        .success();
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        run.stdout
            .starts_with("{\"text\":\"hello world\",\"embedding\":["),
        "{}",
        run.stdout
    );
    let v: Vec<f64> = serde_json::from_value(lines[1]["embedding"].clone()).unwrap();
    assert_eq!(v.len(), 4);
    assert!(
        (v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-5,
        "normalised"
    );

    let file = s.env.write("lines.txt", "a dog\n\nthe big red cat\n");
    let out = s.env.path().join("e.safetensors");
    s.zoo(&[
        "embed",
        "tiny-encoder",
        "--file",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .success()
    .stderr_has("wrote 2 embeddings of dimension 4");
    let bytes = std::fs::read(&out).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["embeddings"]["shape"], serde_json::json!([2, 4]));
    assert_eq!(header["__metadata__"]["model"], "tiny-encoder");
}

#[test]
fn runtime_info_names_the_library_and_providers() {
    let Some(s) = Setup::new() else {
        return;
    };
    let run = s.zoo(&["runtime", "info", "--json"]).success();
    let v = run.json();
    assert_ne!(v["installed"], false, "no runtime found: {v}");
    // The library really loaded: the shared directory's install, or the one
    // ORT_DYLIB_PATH names; its file name carries the version it reports.
    let library = PathBuf::from(v["library"].as_str().unwrap_or_else(|| panic!("{v}")));
    match (&s.ort, shared_runtime_dir()) {
        (Some(lib), _) => assert_eq!(&library, lib, "{v}"),
        (None, Some(dir)) => assert!(
            library.starts_with(&dir),
            "{} not in {}",
            library.display(),
            dir.display()
        ),
        (None, None) => unreachable!("Setup found a runtime"),
    }
    assert!(library.is_file(), "{}", library.display());
    let version = v["version"].as_str().unwrap();
    assert_eq!(
        library.file_name().unwrap().to_str().unwrap(),
        format!("libonnxruntime.so.{version}"),
        "{v}"
    );
    assert!(
        v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "CPUExecutionProvider")
    );
    assert!(v["cuda"]["usable"].as_bool().is_some());
}
