//! Damaged checkpoints and configs: each a clear error naming the tensor or
//! field, exit code 2, and nothing written (no output file, no temporary file,
//! no folder in the store).

use std::path::Path;

use crate::setup::{Env, python, reference, tiny_checkpoint};

/// Converts `dir` to `out.onnx` in a fresh folder, expecting exit code 2 and
/// every one of `needles` in the message; nothing may be left in the folder.
fn refused(e: &Env, dir: &Path, needles: &[&str]) {
    let out_dir = e.path(&format!(
        "out-{}",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("out.onnx");
    let run = e
        .zoo(&[
            "convert",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .code(2);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

fn damaged(e: &Env, kind: &str) -> (std::path::PathBuf, serde_json::Value) {
    let dir = e.path(kind);
    tiny_checkpoint(&dir, "bert", 3);
    let what = reference(&["broken", dir.to_str().unwrap(), kind]);
    (dir, what)
}

#[test]
fn damaged_checkpoints_are_clear_errors() {
    let Some(()) = python() else { return };
    let e = Env::new();

    let (dir, what) = damaged(&e, "missing-tensor");
    let tensor = what["tensor"].as_str().unwrap();
    refused(&e, &dir, &[tensor, "missing"]);

    let (dir, what) = damaged(&e, "wrong-shape");
    let tensor = what["tensor"].as_str().unwrap();
    refused(&e, &dir, &[tensor, "shape [32, 31]", "[32, 32]"]);

    let (dir, _) = damaged(&e, "truncated");
    refused(&e, &dir, &["model.safetensors", "truncated"]);

    let (dir, _) = damaged(&e, "header-overclaims");
    refused(&e, &dir, &["model.safetensors", "header claims"]);

    let (dir, _) = damaged(&e, "unknown-model-type");
    refused(
        &e,
        &dir,
        &["config.json", "frobnicator", "unknown", "bert, roberta"],
    );

    let (dir, _) = damaged(&e, "not-yet");
    refused(
        &e,
        &dir,
        &["config.json", "deberta-v2", "not supported yet"],
    );
}

/// Edits one field of a tiny BERT's config.json.
fn with_config(
    e: &Env,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> std::path::PathBuf {
    let dir = e.path(name);
    tiny_checkpoint(&dir, "bert", 4);
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    dir
}

#[test]
fn configs_that_disagree_with_the_weights_are_clear_errors() {
    let Some(()) = python() else { return };
    let e = Env::new();
    // Fewer layers than the checkpoint holds: the extra layer's tensors.
    let dir = with_config(&e, "fewer-layers", |c| c["num_hidden_layers"] = 1.into());
    refused(
        &e,
        &dir,
        &["encoder.layer.1.", "does not use", "num_hidden_layers"],
    );
    // More layers: the first tensor of the missing layer.
    let dir = with_config(&e, "more-layers", |c| c["num_hidden_layers"] = 3.into());
    refused(
        &e,
        &dir,
        &["encoder.layer.2.attention.self.query.weight", "missing"],
    );
    let dir = with_config(&e, "heads", |c| c["num_attention_heads"] = 5.into());
    refused(&e, &dir, &["num_attention_heads", "not divisible"]);
    let dir = with_config(&e, "act", |c| c["hidden_act"] = "mish2".into());
    refused(&e, &dir, &["hidden_act", "mish2", "not supported"]);
    let dir = with_config(&e, "eps", |c| c["layer_norm_eps"] = "tiny".into());
    refused(&e, &dir, &["layer_norm_eps"]);
    let dir = with_config(&e, "hidden", |c| {
        c.as_object_mut().unwrap().remove("hidden_size");
    });
    refused(&e, &dir, &["hidden_size", "missing"]);
}

/// A pulled model whose checkpoint does not fit its config: `zoo embed`
/// (conversion on first use) and `zoo convert` fail with 2 and leave nothing
/// in the store's derived folder.
#[test]
fn a_bad_pulled_checkpoint_leaves_nothing_in_the_store() {
    let Some(()) = python() else { return };
    let e = Env::new();
    let (dir, what) = damaged(&e, "wrong-shape");
    e.pull_checkpoint("broken", &dir).success();
    let tensor = what["tensor"].as_str().unwrap();
    e.zoo(&["convert", "broken"]).code(2).stderr_has(tensor);
    e.zoo(&["embed", "broken", "some text"])
        .code(2)
        .stderr_has(tensor);
    let files = e.converted_files();
    assert!(files.is_empty(), "left in the store: {files:?}");
}
