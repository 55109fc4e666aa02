//! Security issue 11, items 7 and 8: hostile inputs (resource bombs in cards,
//! images, YAML and data items; pickles under other names; class names with
//! control characters) are refused with a clear error and its exit code, and
//! leave nothing behind. Each test runs the real binary and checks the final
//! state on disk.
//!
//! The JPEG-bomb test runs `zoo predict` and needs ONNX Runtime (from
//! ZOO_TEST_RUNTIME_DIR or the Python onnxruntime package); without one it
//! goes through zoo_test_support::skip (`SKIP:`, or a failure under ZOO_TEST_STRICT=1). The others need nothing.

#[path = "security_inputs/text.rs"]
mod text;
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use util::{Run, TestEnv};
use zoo_test_support::skip;

fn fixtures() -> PathBuf {
    util::repo_root().join("crates/zoo-ort/tests/fixtures")
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha_file(p: &Path) -> (String, u64) {
    let bytes = std::fs::read(p).unwrap();
    (sha_hex(&bytes), bytes.len() as u64)
}

const COMMON: &str = "version: '1'\nfamily: test\narchitecture: test\ndescription: tiny test model\nlicense:\n  id: MIT\nopenness:\n  class: open\nprovenance: {}\n";

/// The tiny image classifier's card, with `resize`/`crop` as given. Its logits
/// double as the feature output, so `zoo finetune` gets to the data set without
/// running anything.
fn classifier_card(name: &str, resize: u32, crop: u32) -> String {
    let fx = fixtures();
    let (sha, size) = sha_file(&fx.join("tiny_classifier.onnx"));
    format!(
        "schema: 1\nname: {name}\ntask: image-classification\n{COMMON}files:\n  - {{path: tiny_classifier.onnx, sha256: {sha}, size: {size}, format: onnx, role: model}}\nsources:\n  - file: {{path: '{}'}}\nio:\n  inputs:\n    - {{name: data, dtype: float32, shape: [N, 3, 8, 8], layout: NCHW}}\n  outputs:\n    - {{name: logits, kind: logits, dim: 4}}\n    - {{name: logits, kind: features, dim: 4}}\n  preprocessing:\n    image: {{resize: {resize}, crop: {crop}, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], scale: 0.00392156862745098, channel_order: RGB, layout: NCHW}}\n  labels: tiny\n",
        fx.display()
    )
}

fn encoder_card() -> String {
    let fx = fixtures();
    let (enc_sha, enc_size) = sha_file(&fx.join("tiny_encoder.onnx"));
    let (tok_sha, tok_size) = sha_file(&fx.join("tiny_tokenizer.json"));
    format!(
        "schema: 1\nname: tiny-encoder\ntask: text-embedding\n{COMMON}files:\n  - {{path: tiny_encoder.onnx, sha256: {enc_sha}, size: {enc_size}, format: onnx, role: model}}\n  - {{path: tiny_tokenizer.json, sha256: {tok_sha}, size: {tok_size}, format: tokenizer, role: tokenizer}}\nsources:\n  - file: {{path: '{}'}}\nio:\n  outputs:\n    - {{name: last_hidden_state, kind: token-embeddings, dim: 4}}\n  preprocessing:\n    text: {{tokenizer: tiny_tokenizer.json, max_length: 5, pooling: mean, normalize: true}}\n",
        fx.display()
    )
}

/// A test environment with a user catalog holding the tiny models.
struct Setup {
    env: TestEnv,
    catalog: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(catalog.join("labels")).unwrap();
        std::fs::write(catalog.join("labels/tiny.txt"), "zero\none\ntwo\nthree\n").unwrap();
        std::fs::write(
            catalog.join("tiny-classifier.yaml"),
            classifier_card("tiny-classifier", 10, 8),
        )
        .unwrap();
        std::fs::write(catalog.join("tiny-encoder.yaml"), encoder_card()).unwrap();
        Setup { env, catalog }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.env.zoo();
        cmd.arg("--registry").arg(&self.catalog).args(args);
        cmd
    }

    fn zoo(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run zoo"))
    }

    fn path(&self, rel: &str) -> String {
        self.env.path().join(rel).display().to_string()
    }

    fn models(&self) -> PathBuf {
        self.env.zoo_home().join("models")
    }

    /// The catalog still loads and lists its models.
    fn assert_catalog_usable(&self) {
        self.zoo(&["list"])
            .success()
            .stdout_has("tiny-classifier")
            .stdout_has("tiny-encoder");
    }
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn write_png(path: &Path, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(12, 9, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

#[test]
fn a_card_asking_for_a_huge_resize_or_crop_is_refused() {
    let s = Setup::new();
    std::fs::write(
        s.catalog.join("huge.yaml"),
        classifier_card("huge", 60000, 60000),
    )
    .unwrap();
    let before = std::fs::read(s.catalog.join("huge.yaml")).unwrap();
    for args in [
        vec!["registry", "check", s.catalog.to_str().unwrap()],
        vec!["predict", "huge", "x.png"],
    ] {
        let mut cmd = s.env.zoo();
        if args[0] != "registry" {
            cmd.arg("--registry").arg(&s.catalog);
        }
        let run = Run::from(cmd.args(&args).output().unwrap());
        run.code(2)
            .stderr_has("huge.yaml")
            .stderr_has("larger than 4096 pixels");
    }
    // Nothing was pulled or written; the card is as it was.
    assert!(!s.models().exists());
    assert_eq!(std::fs::read(s.catalog.join("huge.yaml")).unwrap(), before);
    // Without the bad card the catalog is whole again.
    std::fs::remove_file(s.catalog.join("huge.yaml")).unwrap();
    s.assert_catalog_usable();
}

/// A valid tiny JPEG whose SOF0 header claims 13000x13000 pixels: a few hundred
/// bytes that decode to half a gigabyte (more in libjpeg's buffers).
fn jpeg_bomb() -> Vec<u8> {
    let pixels = vec![128u8; 16 * 16 * 3];
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(&pixels, 16, 16, image::ExtendedColorType::Rgb8)
        .unwrap();
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    // FF C0, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&13000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&13000u16.to_be_bytes());
    jpeg
}

/// The ONNX Runtime library of the Python package, when no shared runtime
/// directory is set; `Err` when neither is there.
fn runtime(test: &str) -> Option<Option<PathBuf>> {
    if std::env::var_os("ZOO_TEST_RUNTIME_DIR").is_some() {
        return Some(None);
    }
    let out = skip::python_command()
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.' + onnxruntime.__version__))",
        ])
        .output()
        .ok();
    let lib = out
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    skip::require(
        lib,
        &format!("ONNX Runtime for {test}"),
        "set ZOO_TEST_RUNTIME_DIR (scripts/test.sh does) or pip install onnxruntime",
    )
    .map(Some)
}

/// Runs `cmd` under `/usr/bin/time` and returns its result and peak resident
/// memory in bytes.
fn run_measuring_memory(cmd: &Command, dir: &Path) -> (Run, u64) {
    let report = dir.join("time.txt");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        timed.current_dir(d);
    }
    let run = Run::from(timed.output().expect("run /usr/bin/time"));
    let text = std::fs::read_to_string(&report).unwrap();
    let kib: u64 = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {text:?}"));
    (run, kib * 1024)
}

#[test]
fn a_jpeg_bomb_fails_alone_and_memory_stays_bounded() {
    let test = "a_jpeg_bomb_fails_alone_and_memory_stays_bounded";
    let Some(ort) = runtime(test) else { return };
    if !Path::new("/usr/bin/time").is_file() {
        skip::missing(
            "/usr/bin/time",
            "apt-get install time (.ci/run installs it)",
        );
        return;
    }
    let s = Setup::new();
    let pull = |cmd: &mut Command| {
        if let Some(lib) = &ort {
            cmd.env("ORT_DYLIB_PATH", lib);
        }
    };
    let mut cmd = s.command(&["pull", "tiny-classifier"]);
    pull(&mut cmd);
    Run::from(cmd.output().unwrap()).success();

    let imgs = s.env.path().join("imgs");
    write_png(&imgs.join("a-good.png"), [255, 0, 0]);
    let bomb = jpeg_bomb();
    assert!(bomb.len() < 1024, "{} bytes", bomb.len());
    // Four of them, so that four decoders would each take one at once.
    for i in 0..4 {
        std::fs::write(imgs.join(format!("bomb{i}.jpg")), &bomb).unwrap();
    }
    write_png(&imgs.join("z-good.png"), [0, 0, 255]);

    let mut cmd = s.command(&[
        "predict",
        "tiny-classifier",
        imgs.to_str().unwrap(),
        "/dev/zero",
        "--json",
        "--device",
        "cpu",
        "--decoders",
        "4",
    ]);
    pull(&mut cmd);
    let started = Instant::now();
    let (run, peak) = run_measuring_memory(&cmd, s.env.path());
    eprintln!("{test}: peak resident memory {} MiB", peak >> 20);
    let run = run
        .code(1)
        .stderr_has("bomb0.jpg")
        .stderr_has("13000x13000 pixels")
        .stderr_has("/dev/zero")
        .stderr_has("not a regular file");
    assert!(started.elapsed() < Duration::from_secs(60));
    // The good images on both sides of the bombs still get their predictions.
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0]["path"].as_str().unwrap().ends_with("a-good.png"));
    assert!(lines[1]["path"].as_str().unwrap().ends_with("z-good.png"));
    // One decoded bomb alone would be 507 MB of pixels.
    assert!(
        peak < 400 << 20,
        "peak memory {} MiB; stderr:\n{}",
        peak >> 20,
        run.stderr
    );
    // The inputs are untouched.
    assert_eq!(std::fs::read(imgs.join("bomb0.jpg")).unwrap(), bomb);
}

/// 200 KB of `[`: libyaml's time grows with the square of the depth.
fn nested_yaml() -> String {
    format!("name: x\nfiles: {}", "[".repeat(200_000))
}

#[test]
fn deeply_nested_or_huge_yaml_is_refused_quickly() {
    let s = Setup::new();
    let bad = s.env.path().join("bad-catalog");
    std::fs::create_dir_all(&bad).unwrap();
    let card = bad.join("nested.yaml");
    std::fs::write(&card, nested_yaml()).unwrap();

    let started = Instant::now();
    s.env
        .run(&["registry", "check", bad.to_str().unwrap()])
        .code(2)
        .stderr_has("nested.yaml:2")
        .stderr_has("nested more than 32 levels");
    let mut cmd = s.env.zoo();
    cmd.arg("--registry").arg(&bad).arg("list");
    Run::from(cmd.output().unwrap())
        .code(2)
        .stderr_has("nested more than 32 levels");

    // A card of more than 1 MiB is not read at all.
    std::fs::remove_file(&card).unwrap();
    let big = bad.join("big.yaml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    s.env
        .run(&["registry", "check", bad.to_str().unwrap()])
        .code(2)
        .stderr_has("big.yaml")
        .stderr_has("larger than the 1 MiB");

    // A policy file and the config file, the same.
    let policy = s.env.write("policy.yaml", &nested_yaml());
    s.zoo(&["audit", "--policy", policy.to_str().unwrap()])
        .code(2)
        .stderr_has("policy.yaml:2")
        .stderr_has("nested more than 32 levels");
    s.env.write("config/zoo/config.yaml", &nested_yaml());
    s.zoo(&["pull", "tiny-classifier"])
        .code(2)
        .stderr_has("config.yaml:2")
        .stderr_has("nested more than 32 levels");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    std::fs::remove_file(s.env.path().join("config/zoo/config.yaml")).unwrap();
    s.assert_catalog_usable();
}

#[test]
fn a_device_named_as_a_data_item_is_skipped_not_read() {
    let s = Setup::new();
    s.zoo(&["pull", "tiny-classifier"]).success();
    let data = s.env.path().join("data");
    write_png(&data.join("b1.png"), [1, 2, 3]);
    write_png(&data.join("b2.png"), [3, 2, 1]);
    // Class `a`'s only item is /dev/zero: read whole, it never ends. Skipped, it
    // leaves one class, which is the error.
    std::fs::write(
        data.join("list.csv"),
        "path,label\n/dev/zero,a\nb1.png,b\nb2.png,b\n",
    )
    .unwrap();
    let started = Instant::now();
    s.zoo(&[
        "finetune",
        "tiny-classifier",
        "--data",
        &s.path("data/list.csv"),
        "--out",
        "victim",
    ])
    .code(2)
    .stderr_has("found only the class 'b'")
    .stderr_has("1 item(s) were skipped as unreadable");
    assert!(started.elapsed() < Duration::from_secs(30));
    // Nothing registered, nothing cached, the base model still usable.
    assert!(!s.models().join("victim").exists());
    s.zoo(&["ls"]).success().stdout_has("tiny-classifier");
    s.assert_catalog_usable();
}

#[test]
fn pickle_bytes_under_another_name_are_refused_and_nothing_is_stored() {
    let s = Setup::new();
    // pickle.dumps({}, protocol=2), named and described as safetensors.
    let pickle: &[u8] = b"\x80\x02}q\x00.";
    let files = s.env.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("weights.safetensors"), pickle).unwrap();
    let card = |name: &str, path: &str, format: &str| {
        format!(
            "schema: 1\nname: {name}\ntask: text-generation\n{COMMON}files:\n  - {{path: {path}, sha256: {}, size: {}, format: {format}, role: model}}\nsources:\n  - file: {{path: '{}'}}\n",
            sha_hex(pickle),
            pickle.len(),
            files.display()
        )
    };
    std::fs::write(
        s.catalog.join("disguised.yaml"),
        card("disguised", "weights.safetensors", "safetensors"),
    )
    .unwrap();
    s.zoo(&["pull", "disguised"])
        .code(5)
        .stderr_has("weights.safetensors")
        .stderr_has("pickle")
        .stderr_has("--allow-pickle");
    // Nothing of it in the store: no model, no blob, no partial download.
    assert!(!s.env.zoo_home().join("store/models/disguised").exists());
    for f in files_under(&s.env.zoo_home()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert_ne!(bytes, pickle, "{} holds the pickle", f.display());
        assert!(
            !f.to_string_lossy().contains("partial"),
            "{} left behind",
            f.display()
        );
    }
    assert_eq!(
        std::fs::read(files.join("weights.safetensors")).unwrap(),
        pickle
    );

    // A pickle extension in any case is one (the card check sees it too).
    std::fs::write(
        s.catalog.join("upper.yaml"),
        card("upper", "weights.PT", "safetensors"),
    )
    .unwrap();
    s.zoo(&["list"])
        .code(2)
        .stderr_has("upper.yaml")
        .stderr_has("extension says Pickle");
    std::fs::remove_file(s.catalog.join("upper.yaml")).unwrap();

    // Allowed explicitly, it is pulled, and the audit still flags it.
    s.zoo(&["pull", "disguised", "--allow-pickle"]).success();
    let audit = s.zoo(&["audit", "disguised", "--format", "json"]);
    assert!(
        audit.stdout.contains("pickle-file"),
        "{}\n{}",
        audit.stdout,
        audit.stderr
    );
    s.assert_catalog_usable();
}

#[test]
fn class_names_with_control_characters_or_slashes_are_refused() {
    let s = Setup::new();
    s.zoo(&["pull", "tiny-classifier"]).success();
    s.zoo(&["pull", "tiny-encoder"]).success();
    let data = s.env.path().join("folders");
    write_png(&data.join("cat/1.png"), [1, 1, 1]);
    write_png(&data.join("bad\nname/2.png"), [2, 2, 2]);
    s.zoo(&[
        "finetune",
        "tiny-classifier",
        "--data",
        &s.path("folders"),
        "--out",
        "victim",
    ])
    .code(2)
    .stderr_has("class folder")
    .stderr_has("control character");
    assert!(!s.models().join("victim").exists());

    let csv = s
        .env
        .write("texts.csv", "text,label\ngood,pos\nbad,neg/x\n");
    s.zoo(&[
        "finetune",
        "tiny-encoder",
        "--data",
        csv.to_str().unwrap(),
        "--out",
        "victim",
    ])
    .code(2)
    .stderr_has("texts.csv:3")
    .stderr_has("contains '/'");
    assert!(!s.models().join("victim").exists());
    s.assert_catalog_usable();
}
