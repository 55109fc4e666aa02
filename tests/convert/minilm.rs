//! The real all-MiniLM-L6-v2 checkpoint: converted on first use by `zoo
//! embed`, checked against the numpy reference and the int8 ONNX export, and
//! fine-tuned against the int8 model on Rotten Tomatoes.

use std::path::Path;

use crate::setup::{Env, PARITY_TOLERANCE, f64_at, input, python, reference};

const MODEL: &str = "all-minilm-l6-v2";
const INT8: &str = "all-minilm-l6-v2-int8";
/// The converted fp32 model and the int8 export embed alike.
const MIN_COSINE_TO_INT8: f64 = 0.99;
/// The converted model's fine-tuned accuracy may trail the int8 model's by at
/// most one point.
const ACCURACY_MARGIN: f64 = 0.01;

fn embeddings(stdout: &str) -> Vec<Vec<f64>> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["embedding"].as_array().unwrap().iter())
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn minilm_converts_on_first_use_and_matches_the_reference() {
    let (Some(dir), Some(int8), Some(())) = (
        input("ZOO_TEST_MINILM_DIR"),
        input("ZOO_TEST_MINILM_INT8_ONNX"),
        python(),
    ) else {
        return;
    };
    let e = Env::new();
    e.pull_builtin(MODEL, &dir);

    // A few hundred varied sentences: empty, one letter, past 256 word pieces,
    // Latin, Cyrillic, Greek, CJK, Arabic, Devanagari, emoji.
    let sentences = e.path("sentences.json");
    let sentences_s = sentences.to_str().unwrap();
    reference(&["sentences", sentences_s, "240", "7"]);
    let texts: Vec<String> = serde_json::from_slice(&std::fs::read(&sentences).unwrap()).unwrap();
    // `zoo embed --file` skips empty lines.
    let lines: Vec<usize> = (0..texts.len()).filter(|&i| !texts[i].is_empty()).collect();
    let file = e.path("sentences.txt");
    let body: String = lines.iter().map(|&i| format!("{}\n", texts[i])).collect();
    std::fs::write(&file, body).unwrap();

    let info = e.zoo(&["info", MODEL]).success();
    assert!(info.stdout.contains("on first use"), "{}", info.stdout);

    // First use converts (and says so); the second finds it in the store.
    let first = e
        .zoo(&["embed", MODEL, "--file", file.to_str().unwrap()])
        .success()
        .stderr_has("converting");
    let ours = embeddings(&first.stdout);
    assert_eq!(ours.len(), lines.len());
    let second = e.zoo(&["embed", MODEL, "Hello, world!"]).success();
    assert!(!second.stderr.contains("converting"), "{}", second.stderr);

    let record = e.zoo(&["convert", MODEL, "--json"]).success().json();
    assert_eq!(record["cached"], true, "{record}");
    let checkpoint = std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(record["source_sha256"], crate::setup::sha256(&checkpoint));
    assert_eq!(record["model_type"], "bert");
    let onnx = record["path"].as_str().unwrap().to_owned();

    let info = e.zoo(&["info", MODEL, "--json"]).success().json();
    assert_eq!(
        info["conversion"]["onnx_sha256"], record["onnx_sha256"],
        "{info}"
    );

    // The audit says which graph runs and what it was built from.
    let audit = e.zoo(&["audit", MODEL, "--json"]).json();
    let conversion = &audit["models"][0]["conversion"];
    assert_eq!(
        conversion["source_sha256"], record["source_sha256"],
        "{audit}"
    );
    assert_eq!(conversion["onnx_sha256"], record["onnx_sha256"], "{audit}");
    assert_eq!(conversion["builder_version"], 1, "{audit}");
    let table = e.zoo(&["audit", MODEL]);
    assert!(table.stdout.contains("Converted"), "{}", table.stdout);

    let check = reference(&["check", &onnx]);
    assert_eq!(check["opset"], serde_json::json!([17]), "{check}");
    let ops = check["ops"].as_array().unwrap();
    for op in ["LayerNormalization", "Erf", "Softmax"] {
        assert!(ops.contains(&op.into()), "no {op}: {check}");
    }

    let tokenizer = dir.join("tokenizer.json");
    let parity = reference(&[
        "texts",
        &onnx,
        dir.to_str().unwrap(),
        tokenizer.to_str().unwrap(),
        "256",
        sentences_s,
        int8.to_str().unwrap(),
    ]);
    eprintln!("MiniLM parity: {parity}");
    let diff = f64_at(&parity, "max_abs_diff");
    assert!(
        diff <= PARITY_TOLERANCE,
        "last_hidden_state differs from the numpy reference by {diff}"
    );
    assert_eq!(
        parity["longest"], 256,
        "no sentence reached truncation: {parity}"
    );
    assert!(f64_at(&parity, "truncated") > 0.0, "{parity}");
    let cosine = f64_at(&parity, "min_cosine_int8");
    assert!(
        cosine >= MIN_COSINE_TO_INT8,
        "converted and int8 embeddings disagree: lowest cosine {cosine}"
    );

    // zoo's own pipeline (Rust tokenizer, pooling, normalisation from the
    // card) on the converted graph against the reference's embeddings.
    let reference_rows: Vec<Vec<f64>> =
        serde_json::from_slice(&std::fs::read(format!("{sentences_s}.ref.json")).unwrap()).unwrap();
    let mut worst = 0f64;
    for (row, &i) in ours.iter().zip(&lines) {
        for (a, b) in row.iter().zip(&reference_rows[i]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("zoo embed vs numpy reference: max abs diff {worst}");
    assert!(worst <= PARITY_TOLERANCE, "zoo embed differs by {worst}");
}

/// A card with no io section (as `zoo add` makes from a hub repository): the
/// converted model's pooling, normalisation and length limit come from the
/// sentence-transformers files, and it embeds as the built-in card does.
#[test]
fn pooling_comes_from_the_sentence_transformers_files() {
    let Some(dir) = input("ZOO_TEST_MINILM_DIR") else {
        return;
    };
    let e = Env::new();
    e.pull_builtin(MODEL, &dir);
    let files = e.copy_of(&dir, "plain-files");
    e.pull_files(
        "minilm-plain",
        &files,
        &[
            ("model.safetensors", "safetensors", "weights"),
            ("config.json", "json", "config"),
            ("tokenizer.json", "tokenizer", "tokenizer"),
            ("modules.json", "json", "config"),
            ("sentence_bert_config.json", "json", "config"),
            ("1_Pooling/config.json", "json", "config"),
        ],
    )
    .success();
    let long = "word ".repeat(400);
    let texts = ["A man is eating food.", "Привет, мир", long.as_str()];
    let mut args = vec!["embed", MODEL];
    args.extend(texts);
    let builtin = embeddings(&e.zoo(&args).success().stdout);
    args[1] = "minilm-plain";
    let plain = embeddings(&e.zoo(&args).success().stdout);
    assert_eq!(plain.len(), texts.len());
    for (a, b) in plain.iter().zip(&builtin) {
        let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not normalised: {norm}");
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f64, f64::max);
        assert!(diff < 1e-6, "differs from the built-in card by {diff}");
    }
    // Both cards share the checkpoint but each has its own conversion.
    let record = e
        .zoo(&["convert", "minilm-plain", "--json"])
        .success()
        .json();
    assert_eq!(record["cached"], true, "{record}");

    // A Dense module after pooling (as LaBSE has) is a step zoo does not run:
    // refused, rather than embeddings that silently differ.
    let modules = files.join("modules.json");
    let mut list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&modules).unwrap()).unwrap();
    list.as_array_mut().unwrap().insert(
        2,
        serde_json::json!({"idx": 2, "name": "2", "path": "2_Dense",
                           "type": "sentence_transformers.models.Dense"}),
    );
    std::fs::write(&modules, serde_json::to_vec(&list).unwrap()).unwrap();
    e.pull_files(
        "minilm-dense",
        &files,
        &[
            ("model.safetensors", "safetensors", "weights"),
            ("config.json", "json", "config"),
            ("tokenizer.json", "tokenizer", "tokenizer"),
            ("modules.json", "json", "config"),
        ],
    )
    .success();
    e.zoo(&["embed", "minilm-dense", "text"])
        .code(2)
        .stderr_has("`Dense` module");
}

/// Fine-tunes a head on `base` and returns its test accuracy from `zoo eval`.
fn accuracy(e: &Env, base: &str, train: &Path, test: &Path) -> f64 {
    let out = format!("{base}-rt");
    e.zoo(&[
        "finetune",
        base,
        "--data",
        train.to_str().unwrap(),
        "--out",
        &out,
        "--seed",
        "0",
        "--json",
    ])
    .success();
    let eval = e
        .zoo(&["eval", &out, "--data", test.to_str().unwrap(), "--json"])
        .success()
        .json();
    f64_at(&eval, "accuracy")
}

#[test]
fn finetuned_converted_minilm_keeps_up_with_int8() {
    let (Some(dir), Some(int8), Some(train)) = (
        input("ZOO_TEST_MINILM_DIR"),
        input("ZOO_TEST_MINILM_INT8_ONNX"),
        input("ZOO_TEST_ROTTEN_TOMATOES"),
    ) else {
        return;
    };
    let test = train.with_file_name(
        train
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".csv", "-test.csv"),
    );
    assert!(test.exists(), "no test set at {}", test.display());
    let e = Env::new();
    e.pull_builtin(MODEL, &dir);
    e.pull_builtin(INT8, int8.parent().unwrap());
    let converted = accuracy(&e, MODEL, &train, &test);
    let quantized = accuracy(&e, INT8, &train, &test);
    eprintln!("Rotten Tomatoes test accuracy: converted fp32 {converted}, int8 {quantized}");
    // The fine-tune's lineage names the converted graph it was cut from; the
    // audit knows that digest as the base's own.
    let audit = e
        .zoo(&["audit", &format!("{MODEL}-rt"), "--format", "json"])
        .success()
        .json();
    let findings = serde_json::to_string(&audit["models"][0]["findings"]).unwrap();
    assert!(!findings.contains("base-digest-mismatch"), "{findings}");
    assert!(
        converted >= quantized - ACCURACY_MARGIN,
        "converted model {converted} trails the int8 model {quantized} by more than {ACCURACY_MARGIN}"
    );
}
