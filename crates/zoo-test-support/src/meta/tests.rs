//! Unit tests of the derived metadata.

use super::*;

fn tags_for(card: Value, paths: &[&str], library: Option<&str>) -> Vec<String> {
    model_tags(&TagInputs {
        card: card.as_object(),
        library,
        pipeline: card.get("pipeline_tag").and_then(Value::as_str),
        model_type: None,
        paths,
        extra: &["extra-tag".to_string()],
    })
}

#[test]
fn model_tags_follow_the_hub() {
    let card = json!({
        "license": "apache-2.0",
        "datasets": ["org/a", "b"],
        "language": "en",
        "tags": ["sentence-similarity", "sentence-transformers"],
        "pipeline_tag": "feature-extraction",
        "base_model": "org/base",
    });
    let tags = tags_for(
        card,
        &["pytorch_model.bin", "onnx/model.onnx", "model.safetensors"],
        Some("sentence-transformers"),
    );
    assert_eq!(
        tags,
        [
            "sentence-transformers",
            "pytorch",
            "onnx",
            "safetensors",
            "feature-extraction",
            "sentence-similarity",
            "extra-tag",
            "en",
            "dataset:org/a",
            "dataset:b",
            "base_model:org/base",
            "base_model:finetune:org/base",
            "license:apache-2.0",
            "region:us",
        ]
    );
}

#[test]
fn base_model_relations() {
    let rel = |card: Value, paths: &[&str]| -> Vec<String> {
        tags_for(card, paths, None)
            .into_iter()
            .filter(|t| t.starts_with("base_model:"))
            .collect()
    };
    assert_eq!(
        rel(
            json!({"base_model": "a/b", "base_model_relation": "adapter"}),
            &[]
        ),
        ["base_model:a/b", "base_model:adapter:a/b"]
    );
    assert_eq!(
        rel(json!({"base_model": "a/b"}), &["adapter_config.json"]),
        ["base_model:a/b", "base_model:adapter:a/b"]
    );
    assert_eq!(
        rel(json!({"base_model": "a/b"}), &["m.Q4_K_M.gguf"]),
        ["base_model:a/b", "base_model:quantized:a/b"]
    );
    assert_eq!(
        rel(json!({"base_model": ["a/b", "c/d"]}), &[]),
        [
            "base_model:a/b",
            "base_model:c/d",
            "base_model:merge:a/b",
            "base_model:merge:c/d"
        ]
    );
    // An unknown relation is ignored, as the Hub ignores it.
    assert_eq!(
        rel(
            json!({"base_model": "a/b", "base_model_relation": "odd"}),
            &[]
        ),
        ["base_model:a/b", "base_model:finetune:a/b"]
    );
    // No card: only the library, formats and region.
    assert_eq!(
        tags_for(Value::Null, &["model.safetensors"], Some("transformers")),
        ["transformers", "safetensors", "extra-tag", "region:us"]
    );
}

#[test]
fn dataset_tags_are_key_value() {
    let card = json!({
        "license": "cc-by-nc-4.0",
        "language": ["en", "fr"],
        "task_categories": "text-classification",
        "size_categories": ["1K<n<10K"],
        "tags": ["reviews"],
    });
    assert_eq!(
        dataset_tags(card.as_object(), &[]),
        [
            "task_categories:text-classification",
            "language:en",
            "language:fr",
            "license:cc-by-nc-4.0",
            "size_categories:1K<n<10K",
            "reviews",
            "region:us"
        ]
    );
}

/// A safetensors file: header length, header, then zeroed data.
fn safetensors(tensors: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let mut header = Map::new();
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let width = match *dtype {
            "F32" | "I32" => 4,
            "F16" | "BF16" => 2,
            _ => 8,
        };
        let n: u64 = shape.iter().product();
        header.insert(
            name.to_string(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n * width]}),
        );
        offset += n * width;
    }
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let header = Value::Object(header).to_string().into_bytes();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.resize(out.len() + offset as usize, 0);
    out
}

#[test]
fn safetensors_parameters_are_counted() {
    let bytes = safetensors(&[
        ("w", "F32", &[3, 4]),
        ("b", "F32", &[4]),
        ("ids", "I64", &[1, 5]),
        ("scalar", "F16", &[]),
    ]);
    let source = Source::Mem(std::sync::Arc::new(bytes.clone()));
    let header = safetensors_header(&source, bytes.len() as u64).unwrap();
    let counts = count_parameters(&header).unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([("F16".into(), 1), ("F32".into(), 16), ("I64".into(), 5)])
    );
}

#[test]
fn broken_safetensors_headers_are_refused() {
    let src = |b: Vec<u8>| (b.len() as u64, Source::Mem(std::sync::Arc::new(b)));
    // Too short, a length past the end, a huge length.
    for bytes in [
        vec![1, 2, 3],
        [100u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat(),
        u64::MAX.to_le_bytes().to_vec(),
    ] {
        let (len, s) = src(bytes);
        assert!(safetensors_header(&s, len).is_none());
    }
    assert!(count_parameters(b"[1]").is_none());
    assert!(count_parameters(br#"{"t": {"dtype": "F32"}}"#).is_none());
    assert!(count_parameters(br#"{"t": {"dtype": "F32", "shape": [-1]}}"#).is_none());
    let huge = format!(
        r#"{{"t": {{"dtype": "F32", "shape": [{0}, {0}, {0}]}}}}"#,
        u64::MAX / 4
    );
    assert!(count_parameters(huge.as_bytes()).is_none());
    assert_eq!(
        count_parameters(br#"{"__metadata__": {"format": "pt"}}"#),
        Some(BTreeMap::new())
    );
}

#[test]
fn front_matter_and_description() {
    let readme = generated_readme("org/name", &json!({"license": "mit"}));
    assert_eq!(front_matter(&readme), Some("{\"license\":\"mit\"}\n"));
    assert_eq!(card_from_readme(&readme), Some(json!({"license": "mit"})));
    assert_eq!(description_of(&readme).as_deref(), Some("name"));
    let titled = generated_readme("org/name", &json!({"pretty_name": "Nice  name"}));
    assert!(titled.ends_with("\n\n# Nice  name\n"), "{titled}");
    assert_eq!(description_of(&titled).as_deref(), Some("Nice name"));
    assert_eq!(front_matter("no front matter"), None);
    assert_eq!(front_matter("---\nlicense: mit\n"), None);
    assert_eq!(card_from_readme("---\nlicense: mit\n---\n"), None);
    assert_eq!(
        description_of("---\n{}\n---\n\n# Title\n\nSome   text.\n").as_deref(),
        Some("Title Some text.")
    );
}
