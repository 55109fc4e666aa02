//! Random-weight BERT, RoBERTa and DistilBERT checkpoints in the layouts
//! Transformers saves (model prefix, task heads beside the encoder), converted
//! by `zoo convert DIR --out FILE` and checked against the numpy reference.

use crate::setup::{Env, PARITY_TOLERANCE, f64_at, python, reference, tiny_checkpoint};

fn converts_and_matches(family: &str, dtype: &str, inputs: &[&str]) {
    let Some(()) = python() else { return };
    let e = Env::new();
    let dir = e.path(&format!("ckpt-{family}"));
    let dir_s = dir.to_str().unwrap();
    let written = reference(&["tiny", dir_s, family, "11", dtype]);
    let out = e.path(&format!("{family}.onnx"));
    let out_s = out.to_str().unwrap();
    let report = e
        .zoo(&["convert", dir_s, "--out", out_s, "--json"])
        .success()
        .json();
    assert_eq!(report["model_type"], family, "{report}");
    assert_eq!(report["inputs"], serde_json::json!(inputs), "{report}");
    assert_eq!(
        report["parameters"], written["encoder_parameters"],
        "the parameters are the encoder's tensors, heads and pooler left out"
    );

    let check = reference(&["check", out_s]);
    assert_eq!(check["opset"], serde_json::json!([17]), "{check}");
    assert_eq!(check["inputs"], serde_json::json!(inputs), "{check}");
    assert_eq!(check["outputs"], serde_json::json!(["last_hidden_state"]));
    let ops = check["ops"].as_array().unwrap();
    assert!(ops.contains(&"LayerNormalization".into()), "{check}");

    for seed in ["1", "2"] {
        let parity = reference(&["random", out_s, dir_s, seed]);
        let diff = f64_at(&parity, "max_abs_diff");
        assert!(
            diff <= PARITY_TOLERANCE,
            "{family}: last_hidden_state differs from the numpy reference by {diff}"
        );
    }

    // Converting again refuses to overwrite without --force.
    e.zoo(&["convert", dir_s, "--out", out_s])
        .code(2)
        .stderr_has("--force");

    // The layout of models past 1.5 GiB: weights in FILE.data beside the graph.
    let external = e.path(&format!("{family}-external.onnx"));
    let external_s = external.to_str().unwrap();
    let report = e
        .zoo(&[
            "convert",
            dir_s,
            "--out",
            external_s,
            "--external-data",
            "--json",
        ])
        .success()
        .json();
    let data = format!("{external_s}.data");
    assert_eq!(report["external_data"], data.as_str(), "{report}");
    let graph_bytes = std::fs::metadata(&external).unwrap().len();
    assert!(
        graph_bytes < 64 * 1024,
        "the weights are still inside the graph: {graph_bytes} bytes"
    );
    reference(&["check", external_s]);
    let parity = reference(&["random", external_s, dir_s, "1"]);
    assert!(
        f64_at(&parity, "max_abs_diff") <= PARITY_TOLERANCE,
        "{parity}"
    );
}

/// BERT naming with the `bert.` prefix, the tanh GELU (`gelu_new`), token types.
#[test]
fn bert_checkpoint_matches_the_reference() {
    converts_and_matches(
        "bert",
        "float32",
        &["input_ids", "attention_mask", "token_type_ids"],
    );
}

/// RoBERTa: positions counted past padding_idx from the ids, one token type,
/// LayerNorm epsilon 1e-5, an `lm_head` beside the encoder.
#[test]
fn roberta_checkpoint_matches_the_reference() {
    converts_and_matches("roberta", "float32", &["input_ids", "attention_mask"]);
}

/// XLM-RoBERTa is RoBERTa's architecture under its own model_type; this one
/// is saved in float16, which zoo widens to float32.
#[test]
fn xlm_roberta_float16_checkpoint_matches_the_reference() {
    converts_and_matches("xlm-roberta", "float16", &["input_ids", "attention_mask"]);
}

/// MPNet (all-mpnet-base-v2's architecture): RoBERTa's positions, no token
/// types, and the bucketed relative position bias in every layer's attention.
#[test]
fn mpnet_checkpoint_matches_the_reference() {
    converts_and_matches("mpnet", "float32", &["input_ids", "attention_mask"]);
}

/// DistilBERT: its own names (`transformer.layer.N.attention.q_lin`...), no
/// token types, the masked-LM head tensors beside the encoder.
#[test]
fn distilbert_checkpoint_matches_the_reference() {
    converts_and_matches("distilbert", "float32", &["input_ids", "attention_mask"]);
}

#[test]
fn a_pulled_checkpoint_converts_into_the_store_once() {
    let Some(()) = python() else { return };
    let e = Env::new();
    let dir = e.path("ckpt");
    tiny_checkpoint(&dir, "roberta", 5);
    e.pull_checkpoint("tiny-roberta", &dir).success();
    let first = e
        .zoo(&["convert", "tiny-roberta", "--json"])
        .success()
        .json();
    assert_eq!(first["cached"], false, "{first}");
    let checkpoint = std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(
        first["source_sha256"],
        crate::setup::sha256(&checkpoint),
        "{first}"
    );
    assert_eq!(first["builder_version"], 1);
    let onnx = first["path"].as_str().unwrap();
    let parity = reference(&["random", onnx, dir.to_str().unwrap(), "3"]);
    assert!(
        f64_at(&parity, "max_abs_diff") <= PARITY_TOLERANCE,
        "{parity}"
    );

    let again = e
        .zoo(&["convert", "tiny-roberta", "--json"])
        .success()
        .json();
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["onnx_sha256"], first["onnx_sha256"]);
    let forced = e
        .zoo(&["convert", "tiny-roberta", "--force", "--json"])
        .success()
        .json();
    assert_eq!(forced["cached"], false, "{forced}");
    // The builder is deterministic: the same bytes again.
    assert_eq!(forced["onnx_sha256"], first["onnx_sha256"]);
    let files = e.converted_files();
    assert!(
        files
            .iter()
            .all(|f| !f.contains(".tmp") && !f.contains(".old")),
        "{files:?}"
    );

    // A damaged graph in the store is not used: it is built again.
    let onnx_path = forced["path"].as_str().unwrap();
    let bytes = std::fs::read(onnx_path).unwrap();
    std::fs::write(onnx_path, &bytes[..bytes.len() / 2]).unwrap();
    let rebuilt = e
        .zoo(&["convert", "tiny-roberta", "--json"])
        .success()
        .json();
    assert_eq!(rebuilt["cached"], false, "{rebuilt}");
    assert_eq!(rebuilt["onnx_sha256"], first["onnx_sha256"]);
    assert_eq!(std::fs::read(onnx_path).unwrap(), bytes);

    // zoo gc keeps the conversion of a pulled model, and removes it once the
    // model is gone.
    let gc = e.zoo(&["gc", "--json"]).success().json();
    assert_eq!(gc["removed_conversions"], 0, "{gc}");
    assert!(!e.converted_files().is_empty());
    e.zoo(&["rm", "tiny-roberta"]).success();
    let gc = e.zoo(&["gc", "--json"]).success().json();
    assert_eq!(gc["removed_conversions"], 1, "{gc}");
    assert!(e.converted_files().is_empty(), "{:?}", e.converted_files());
}
