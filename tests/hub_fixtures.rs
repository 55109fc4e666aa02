//! The fake Hub's metadata as the real client reads it: huggingface_hub (the
//! tests' Python, ZOO_PYTHON) runs scripts/hub_model_info.py against a
//! HubServer holding one fixture of every kind `zoo pull hf:`, `zoo search --hub`
//! and the dataset license lookups meet (open, gated, custom license, no
//! license, fine-tune, dataset, two weight formats, a lying blob id, a search
//! spread over several pages), and every value huggingface_hub parsed must be
//! the one the fixture declared. Without huggingface_hub the test goes through
//! zoo_test_support::skip: `SKIP:`, or a failure under ZOO_TEST_STRICT=1.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zoo_test_support::{
    FileContent, FixtureDataset, FixtureFile, FixtureRepo, HubServer, ServerConfig, fixture_bytes,
    skip,
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/hub_model_info.py");

const OPEN: &str = "acme/open-embedder";
const GATED: &str = "meta-like/Llama-Mini";
const CUSTOM: &str = "acme/custom-license";
const UNLICENSED: &str = "acme/unlicensed";
const FINETUNE: &str = "acme/llama-mini-chat";
const DUAL: &str = "acme/dual-format";
const LIAR: &str = "acme/liar";
const DATASET: &str = "acme/reviews";
const LIE: &str = "0123456789abcdef0123456789abcdef01234567";
/// The search word: every probe id holds it in some case, no other id does.
const WORD: &str = "zoo-probe";
const PROBES: &[(&str, u64)] = &[
    ("acme/Zoo-Probe-small", 40),
    ("org-b/zoo-probe-base", 900),
    ("org-c/ZOO-PROBE-large", 15),
    ("acme/zoo-probe-onnx", 300),
    ("org-d/my-zoo-probe", 75),
    ("org-e/zoo-probe-v2", 5000),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A safetensors file written by hand: an 8-byte little-endian header length,
/// the JSON header (padded with spaces to 8 bytes, as the safetensors library
/// does), then the tensors' bytes. Returns it with its element count per dtype.
fn safetensors(tensors: &[(&str, &str, &[u64])]) -> (Vec<u8>, BTreeMap<String, u64>) {
    let mut header = serde_json::Map::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let width = match *dtype {
            "F64" | "I64" => 8,
            "F32" | "I32" => 4,
            "F16" | "BF16" => 2,
            other => panic!("no width for {other}"),
        };
        let n: u64 = shape.iter().product();
        header.insert(
            name.to_string(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n * width]}),
        );
        *counts.entry(dtype.to_string()).or_default() += n;
        offset += n * width;
    }
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut header = Value::Object(header).to_string().into_bytes();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend(fixture_bytes(offset, offset as usize));
    (out, counts)
}

/// The git-lfs pointer an LFS file's blob id is computed from.
fn lfs_pointer(bytes: &[u8]) -> String {
    format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
        sha256(bytes),
        bytes.len()
    )
}

struct Fixtures {
    repos: Vec<FixtureRepo>,
    dataset: FixtureDataset,
    /// Repo id → its safetensors element counts.
    params: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

fn fixtures() -> Fixtures {
    let mut params = BTreeMap::new();
    let (encoder, counts) = safetensors(&[
        ("embeddings.word_embeddings.weight", "F32", &[30, 8]),
        ("embeddings.position_ids", "I64", &[1, 16]),
        (
            "encoder.layer.0.attention.self.query.weight",
            "F32",
            &[8, 8],
        ),
        ("encoder.layer.0.attention.self.query.bias", "F32", &[8]),
        ("pooler.scale", "F32", &[]),
    ]);
    params.insert(OPEN, counts);
    let open = FixtureRepo::new(OPEN)
        .lfs_file("model.safetensors", encoder)
        .lfs_file("onnx/model.onnx", fixture_bytes(11, 4096))
        .text_file(
            "config.json",
            r#"{"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 8, "vocab_size": 30}"#,
        )
        .text_file("tokenizer.json", r#"{"version": "1.0", "model": {"type": "WordPiece"}}"#)
        .text_file(
            "tokenizer_config.json",
            r#"{"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": {"content": "[MASK]", "lstrip": true}}"#,
        )
        .text_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
        .card_data(json!({
            "license": "apache-2.0",
            "datasets": ["acme/pairs", "sentence-transformers/stsb"],
            "pipeline_tag": "feature-extraction",
            "library_name": "sentence-transformers",
            "language": ["en"],
            "tags": ["sentence-similarity"],
        }))
        .downloads(120);

    let (llama, counts) = safetensors(&[
        ("model.embed_tokens.weight", "BF16", &[64, 16]),
        ("lm_head.weight", "BF16", &[64, 16]),
        ("model.norm.weight", "F32", &[16]),
    ]);
    params.insert(GATED, counts);
    let gated = FixtureRepo::new(GATED)
        .lfs_file("model.safetensors", llama)
        .text_file(
            "config.json",
            r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}"#,
        )
        .card_data(json!({
            "license": "llama3.1",
            "pipeline_tag": "text-generation",
            "library_name": "transformers",
            "extra_gated_prompt": "Accept the license to continue.",
        }))
        .gated();

    let custom = FixtureRepo::new(CUSTOM)
        .lfs_file("onnx/model.onnx", fixture_bytes(12, 3000))
        .card_data(json!({
            "license": "other",
            "license_name": "acme-research-license",
            "license_link": "https://example.invalid/acme/LICENSE",
        }));

    let unlicensed = FixtureRepo::new(UNLICENSED)
        .lfs_file("model.onnx", fixture_bytes(13, 2500))
        .card_data(json!({"pipeline_tag": "image-classification", "tags": ["vision"]}));

    let (chat, counts) = safetensors(&[("lora.weight", "F16", &[16, 4])]);
    params.insert(FINETUNE, counts);
    let finetune = FixtureRepo::new(FINETUNE)
        .lfs_file("model.safetensors", chat)
        .card_data(json!({
            "license": "llama3.1",
            "base_model": GATED,
            "datasets": DATASET,
            "pipeline_tag": "text-generation",
        }));

    let (dual, counts) = safetensors(&[("classifier.weight", "F32", &[3, 5])]);
    params.insert(DUAL, counts);
    let dual = FixtureRepo::new(DUAL)
        .lfs_file("pytorch_model.bin", fixture_bytes(14, 700))
        .lfs_file("model.safetensors", dual)
        .text_file("config.json", r#"{"model_type": "resnet"}"#)
        .card_data(json!({"license": "mit", "library_name": "transformers"}));

    let liar = FixtureRepo::new(LIAR)
        .file(
            FixtureFile::text("config.json", "{\"model_type\": \"bert\"}\n").with_claimed_oid(LIE),
        )
        .text_file("vocab.txt", "a\nb\n")
        .lfs_file("model.onnx", fixture_bytes(15, 1500));

    let mut repos = vec![open, gated, custom, unlicensed, finetune, dual, liar];
    for (id, downloads) in PROBES {
        repos.push(
            FixtureRepo::new(*id)
                .lfs_file("model.onnx", fixture_bytes(*downloads, 100))
                .pipeline_tag("feature-extraction")
                .downloads(*downloads),
        );
    }
    let dataset = FixtureDataset::new(DATASET)
        .card_data(json!({
            "license": "cc-by-nc-4.0",
            "pretty_name": "Acme reviews",
            "task_categories": ["text-classification"],
            "language": ["en"],
        }))
        .text_file("data/train.csv", "text,label\ngreat,1\nbad,0\n");
    Fixtures {
        repos,
        dataset,
        params,
    }
}

/// Runs the script with a deadline so a protocol bug cannot hang the suite.
fn run_script(endpoint: &str, home: &Path, args: &[&str]) -> Value {
    let mut child = Command::new(skip::python())
        .arg(SCRIPT)
        .arg(endpoint)
        .args(args)
        .env("HF_HOME", home)
        .env("HF_HUB_CACHE", home.join("hub"))
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the tests' Python");
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out: Output = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hub_model_info.py {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// What huggingface_hub parsed for one model equals what `repo` declares.
fn check_model(
    parsed: &Value,
    repo: &FixtureRepo,
    commit: &str,
    params: Option<&BTreeMap<String, u64>>,
) {
    let id = repo.id.as_str();
    assert_eq!(parsed["id"], id);
    assert_eq!(parsed["sha"], commit, "{id}");
    assert_eq!(parsed["private"], false, "{id}");
    assert_eq!(parsed["downloads"], repo.downloads, "{id}");
    let expected_gated = if repo.gated {
        json!("manual")
    } else {
        json!(false)
    };
    assert_eq!(parsed["gated"], expected_gated, "{id}");

    // The card, field for field (to_dict() drops what is unset, as the fixture does).
    let card = repo.card_data.clone();
    assert_eq!(
        parsed["card_data"],
        card.clone().unwrap_or(Value::Null),
        "{id}"
    );
    let card = card.unwrap_or(json!({}));
    let tags = strs(&parsed["tags"]);
    assert_eq!(tags.last(), Some(&"region:us"), "{id}: {tags:?}");
    for key in ["pipeline_tag", "library_name"] {
        assert_eq!(
            parsed[key],
            card.get(key).cloned().unwrap_or(Value::Null),
            "{id} {key}"
        );
    }
    match card.get("license").and_then(Value::as_str) {
        Some(license) => assert!(
            tags.contains(&format!("license:{license}").as_str()),
            "{id}: {tags:?}"
        ),
        None => assert!(
            !tags.iter().any(|t| t.starts_with("license:")),
            "{id}: {tags:?}"
        ),
    }
    let as_list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let datasets: Vec<String> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("dataset:"))
        .map(str::to_string)
        .collect();
    assert_eq!(datasets, as_list(card.get("datasets")), "{id}");
    let bases = as_list(card.get("base_model"));
    for base in &bases {
        assert!(
            tags.contains(&format!("base_model:{base}").as_str()),
            "{id}: {tags:?}"
        );
        assert!(
            tags.contains(&format!("base_model:finetune:{base}").as_str()),
            "{id}: {tags:?}"
        );
    }
    if bases.is_empty() {
        assert!(
            !tags.iter().any(|t| t.starts_with("base_model:")),
            "{id}: {tags:?}"
        );
    }

    // Parameters: the real element counts of the safetensors written above.
    match params {
        Some(p) => {
            assert_eq!(parsed["safetensors"]["parameters"], json!(p), "{id}");
            assert_eq!(
                parsed["safetensors"]["total"],
                p.values().sum::<u64>(),
                "{id}"
            );
            assert!(tags.contains(&"safetensors"), "{id}: {tags:?}");
        }
        None => assert!(parsed["safetensors"].is_null(), "{id}"),
    }

    // Files: sizes, blob ids (git's, of the bytes or of the LFS pointer), sha256s.
    let siblings = parsed["siblings"].as_array().unwrap();
    for f in &repo.files {
        let FileContent::Bytes(bytes) = &f.content else {
            panic!("in-memory fixtures only");
        };
        let s = siblings
            .iter()
            .find(|s| s["rfilename"] == f.path.as_str())
            .unwrap_or_else(|| panic!("{id}: {} not listed", f.path));
        assert_eq!(s["size"], bytes.len(), "{id}/{}", f.path);
        let blob_id = match (&f.claimed_oid, f.lfs) {
            (Some(claimed), _) => claimed.clone(),
            (None, true) => git_blob_id(lfs_pointer(bytes).as_bytes()),
            (None, false) => git_blob_id(bytes),
        };
        assert_eq!(s["blob_id"], blob_id.as_str(), "{id}/{}", f.path);
        let lfs = if f.lfs {
            json!(sha256(bytes))
        } else {
            Value::Null
        };
        assert_eq!(s["lfs_sha256"], lfs, "{id}/{}", f.path);
    }
    // The card also comes as a README.md; nothing else is listed.
    let extra = usize::from(repo.card_data.is_some());
    assert_eq!(
        siblings.len(),
        repo.files.len() + extra,
        "{id}: {siblings:?}"
    );
    if extra == 1 {
        assert!(
            siblings.iter().any(|s| s["rfilename"] == "README.md"),
            "{id}"
        );
    }
}

#[test]
fn huggingface_hub_parses_every_fixture_as_declared() {
    if !skip::python_has(&["huggingface_hub"], &["huggingface_hub"]) {
        return;
    }
    let Fixtures {
        repos,
        dataset,
        params,
    } = fixtures();
    let config = ServerConfig {
        search_page_size: 2,
        ..ServerConfig::default()
    };
    let hub = HubServer::start_with_datasets(config, repos.clone(), vec![dataset.clone()])
        .expect("start the fake Hub");
    let home = tempfile::tempdir().unwrap();

    let models: Vec<&str> = [OPEN, GATED, CUSTOM, UNLICENSED, FINETUNE, DUAL, LIAR].to_vec();
    let shouted = WORD.to_uppercase();
    let mut args = models.clone();
    args.extend([
        "--datasets",
        DATASET,
        "--search",
        &shouted,
        "--limit",
        "100",
    ]);
    args.extend(["--expect-gated", GATED, "model.safetensors"]);
    let out = run_script(&hub.endpoint(), home.path(), &args);
    println!("huggingface_hub {}", out["huggingface_hub"]);

    // Every model, parsed as declared.
    let parsed = out["models"].as_array().unwrap();
    assert_eq!(parsed.len(), models.len());
    for (p, id) in parsed.iter().zip(&models) {
        let repo = repos.iter().find(|r| r.id == *id).unwrap();
        let commit = hub.commit_of(id).unwrap();
        check_model(p, repo, &commit, params.get(id));
    }
    let by_id = |id: &str| parsed.iter().find(|p| p["id"] == id).unwrap();

    // The points zoo relies on, spelled out.
    let open = by_id(OPEN);
    assert_eq!(open["card_data"]["license"], "apache-2.0");
    assert_eq!(open["pipeline_tag"], "feature-extraction");
    assert_eq!(open["config"]["model_type"], "bert");
    assert_eq!(open["config"]["tokenizer_config"]["mask_token"], "[MASK]");
    assert_eq!(open["safetensors"]["total"], 30 * 8 + 16 + 64 + 8 + 1);
    for tag in [
        "sentence-transformers",
        "onnx",
        "safetensors",
        "dataset:acme/pairs",
    ] {
        assert!(strs(&open["tags"]).contains(&tag), "{tag}");
    }
    assert_eq!(by_id(GATED)["gated"], "manual");
    assert_eq!(by_id(GATED)["card_data"]["license"], "llama3.1");
    let custom = &by_id(CUSTOM)["card_data"];
    assert_eq!(
        (
            custom["license"].as_str(),
            custom["license_name"].as_str(),
            custom["license_link"].as_str()
        ),
        (
            Some("other"),
            Some("acme-research-license"),
            Some("https://example.invalid/acme/LICENSE")
        )
    );
    assert!(by_id(UNLICENSED)["card_data"].get("license").is_none());
    assert_eq!(by_id(FINETUNE)["card_data"]["base_model"], GATED);
    let dual_tags = strs(&by_id(DUAL)["tags"]);
    assert!(
        dual_tags.contains(&"pytorch") && dual_tags.contains(&"safetensors"),
        "{dual_tags:?}"
    );
    let liar = by_id(LIAR)["siblings"].as_array().unwrap();
    assert_eq!(liar[0]["rfilename"], "config.json");
    assert_eq!(liar[0]["blob_id"], LIE);
    assert_ne!(LIE, git_blob_id(b"{\"model_type\": \"bert\"}\n"));

    // The dataset and its license.
    let ds = &out["datasets"][0];
    assert_eq!(ds["id"], DATASET);
    assert_eq!(ds["license"], "cc-by-nc-4.0");
    assert_eq!(ds["sha"], hub.dataset_commit_of(DATASET).unwrap().as_str());
    assert!(strs(&ds["tags"]).contains(&"license:cc-by-nc-4.0"));
    assert_eq!(ds["card_data"], dataset.repo.card_data.clone().unwrap());
    let csv = ds["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rfilename"] == "data/train.csv")
        .unwrap();
    assert_eq!(
        csv["blob_id"],
        git_blob_id(b"text,label\ngreat,1\nbad,0\n").as_str()
    );

    // The search: case-insensitive, all probes, in downloads order, over pages of 2.
    let mut expected: Vec<(&str, u64)> = PROBES.to_vec();
    expected.sort_by_key(|p| std::cmp::Reverse(p.1));
    let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
    assert_eq!(strs(&out["search"]["ids"]), expected_ids);
    let downloads: Vec<u64> = expected.iter().map(|(_, d)| *d).collect();
    assert_eq!(out["search"]["downloads"], json!(downloads));
    let first = &out["search"]["models"][0];
    assert_eq!(
        first["sha"],
        hub.commit_of(expected_ids[0]).unwrap().as_str()
    );
    assert_eq!(first["pipeline_tag"], "feature-extraction");
    assert_eq!(first["siblings"][0]["rfilename"], "model.onnx");
    let pages: Vec<String> = hub
        .log()
        .iter()
        .filter(|r| r.path.starts_with("/api/models?"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(pages.len(), PROBES.len().div_ceil(2), "{pages:#?}");
    assert!(
        pages[1..].iter().all(|p| p.contains("cursor=")),
        "{pages:#?}"
    );

    // Metadata of the gated repo came without a token; its file did not.
    assert_eq!(out["gated_download"]["error"], "GatedRepoError");
    let log = hub.log();
    assert!(
        log.iter().all(|r| r.header("authorization").is_none()),
        "a token was sent"
    );
    assert!(
        log.iter()
            .any(|r| r.path.starts_with(&format!("/api/models/{GATED}")) && r.status == 200)
    );
    assert!(
        log.iter()
            .any(|r| r.path.contains(&format!("{GATED}/resolve/")) && r.status == 401)
    );

    // A limit under the number of matches: the first ones, and no page past them.
    hub.clear_log();
    let out = run_script(
        &hub.endpoint(),
        home.path(),
        &["--search", WORD, "--limit", "3"],
    );
    assert_eq!(strs(&out["search"]["ids"]), expected_ids[..3]);
    let searches = hub
        .log()
        .iter()
        .filter(|r| r.path.starts_with("/api/models?"))
        .count();
    assert_eq!(searches, 2, "{:#?}", hub.log());
}
