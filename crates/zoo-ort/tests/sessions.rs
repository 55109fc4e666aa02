//! Sessions, classification and embedding on the tiny generated models in
//! tests/fixtures (see gen.py). Fast; skipped when no ONNX Runtime can be found.

mod common;

use std::collections::HashMap;

use common::{card, fixture, runtime};
use zoo_ort::image::{Scratch, preprocess};
use zoo_ort::pipeline::PipelineOptions;
use zoo_ort::{CacheUse, Classifier, Device, Engine, EngineOptions, Provider, TextEmbedder};

const W: [[f32; 4]; 3] = [
    [1.0, -1.0, 0.5, 0.0],
    [0.0, 2.0, -0.5, 1.0],
    [-1.0, 0.0, 1.0, 0.25],
];
const B: [f32; 4] = [0.1, -0.2, 0.0, 0.3];

fn engine(rt: &'static zoo_ort::Runtime, cache: Option<std::path::PathBuf>) -> Engine {
    Engine::with_runtime(
        rt,
        EngineOptions {
            device: Device::Cpu,
            threads: Some(1),
            cache,
        },
    )
    .unwrap()
}

fn classifier_card(model: &str) -> zoo_registry::Card {
    card(
        model,
        "image-classification",
        "io:\n  inputs:\n    - {name: data, dtype: float32, shape: [N, 3, 8, 8], layout: NCHW}\n  outputs:\n    - {name: logits, kind: logits, dim: 4}\n  preprocessing:\n    image: {resize: 10, crop: 8, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 0.00392156862745098, channel_order: RGB, layout: NCHW}\n  labels: tiny\n",
    )
}

fn text_card() -> zoo_registry::Card {
    card(
        "tiny-encoder",
        "text-embedding",
        "io:\n  outputs:\n    - {name: last_hidden_state, kind: token-embeddings, dim: 4}\n  preprocessing:\n    text: {tokenizer: tokenizer.json, max_length: 5, pooling: mean, normalize: true}\n",
    )
}

fn labels() -> Vec<String> {
    ["zero", "one", "two", "three"].map(String::from).to_vec()
}

#[test]
fn runtime_reports_cpu_and_why_not_cuda() {
    let Some(rt) = runtime() else {
        return;
    };
    let info = rt.info();
    assert!(
        info.providers.iter().any(|p| p == "CPUExecutionProvider"),
        "{:?}",
        info.providers
    );
    assert!(info.version.starts_with("1."), "{}", info.version);
    if !rt.has_cuda_provider() {
        assert!(!info.cuda.usable);
        assert!(info.cuda.reason.is_some());
    }
}

#[test]
fn cuda_request_without_cuda_is_a_clear_error() {
    let Some(rt) = runtime() else {
        return;
    };
    if rt.has_cuda_provider() && !matches!(zoo_ort::driver_hint(), zoo_ort::DriverHint::Absent(_)) {
        eprintln!("SKIP: cuda_request_without_cuda_is_a_clear_error: this machine has CUDA");
        return;
    }
    let err = Engine::with_runtime(
        rt,
        EngineOptions {
            device: Device::Cuda(0),
            threads: None,
            cache: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("--device cuda:0: "), "{err}");
    // Auto quietly means CPU here, and says so through the provider.
    let auto = Engine::with_runtime(
        rt,
        EngineOptions {
            device: Device::Auto,
            threads: Some(1),
            cache: None,
        },
    )
    .unwrap();
    let s = auto.open(&fixture("tiny_classifier.onnx"), None).unwrap();
    assert_eq!(s.provider(), Provider::Cpu);
}

#[test]
fn optimized_model_is_cached_and_reused() {
    let Some(rt) = runtime() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(rt, Some(tmp.path().to_owned()));
    let model = fixture("tiny_classifier.onnx");
    let input: Vec<f32> = (0..2 * 3 * 64).map(|i| (i % 17) as f32 / 7.0).collect();
    let feed = [("data", &[2usize, 3, 8, 8][..], &input[..])];

    let mut first = e.open(&model, None).unwrap();
    assert_eq!(first.provider(), Provider::Cpu);
    assert_eq!(first.cache(), CacheUse::Written);
    let mut second = e.open(&model, None).unwrap();
    assert_eq!(second.cache(), CacheUse::Hit);
    let a = first.run_f32(&feed).unwrap();
    let b = second.run_f32(&feed).unwrap();
    assert_eq!(a, b);
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one cache entry and no temporary files: {files:?}"
    );
    let name = files[0].to_string_lossy().into_owned();
    assert!(
        name.ends_with(&format!("-{}-cpu.onnx", rt.version())),
        "{name}"
    );

    // A damaged entry is rebuilt rather than fatal.
    std::fs::write(tmp.path().join(&name), b"garbage").unwrap();
    let third = e.open(&model, None).unwrap();
    assert_eq!(third.cache(), CacheUse::Written);
}

/// Logits by hand: channel means of the preprocessed image through W and b.
fn expected_probabilities(data: &[f32]) -> Vec<f32> {
    let plane = 64;
    let means: Vec<f32> = (0..3)
        .map(|c| data[c * plane..(c + 1) * plane].iter().sum::<f32>() / plane as f32)
        .collect();
    let mut logits: Vec<f32> = (0..4)
        .map(|k| B[k] + (0..3).map(|c| means[c] * W[c][k]).sum::<f32>())
        .collect();
    zoo_ort::softmax(&mut logits);
    logits
}

#[test]
fn classifies_files_in_order_and_reports_bad_ones() {
    let Some(rt) = runtime() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = common::write_pictures(tmp.path());
    let bad = tmp.path().join("broken.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff not really a jpeg").unwrap();
    paths.insert(3, bad);
    paths.push(tmp.path().join("missing.png"));

    for model in ["tiny_classifier.onnx", "tiny_classifier_fixed.onnx"] {
        let c = classifier_card(model);
        let session = engine(rt, None).open(&fixture(model), None).unwrap();
        let mut clf = Classifier::new(session, &c, labels()).unwrap();
        let spec = clf.spec().clone();
        let mut got = Vec::new();
        clf.classify_paths(
            &paths,
            4,
            PipelineOptions {
                batch: 3,
                workers: 2,
            },
            |p| got.push(p),
        )
        .unwrap();
        assert_eq!(got.len(), paths.len());
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p.index, i);
            assert_eq!(p.path, paths[i]);
            if i == 3 || i == paths.len() - 1 {
                assert!(p.result.is_err(), "{:?}", p.path);
                continue;
            }
            let scores = p.result.as_ref().unwrap();
            let img = zoo_ort::image::decode(&paths[i]).unwrap();
            let mut data = vec![0f32; spec.len()];
            preprocess(&img, &spec, &mut Scratch::default(), &mut data);
            let want = expected_probabilities(&data);
            assert_eq!(scores.len(), 4);
            assert!(
                scores
                    .windows(2)
                    .all(|w| w[0].probability >= w[1].probability)
            );
            for s in scores {
                assert_eq!(s.label, labels()[s.index]);
                assert!(
                    (s.probability - want[s.index]).abs() < 1e-5,
                    "{model} {i}: {} vs {}",
                    s.probability,
                    want[s.index]
                );
            }
        }
    }
}

#[test]
fn wrong_kind_of_model_says_what_to_use() {
    let Some(rt) = runtime() else {
        return;
    };
    let e = engine(rt, None);
    let s = e.open(&fixture("tiny_encoder.onnx"), None).unwrap();
    let err = Classifier::new(s, &text_card(), labels())
        .unwrap_err()
        .to_string();
    assert!(err.contains("use `zoo embed tiny-encoder`"), "{err}");
    let s = e.open(&fixture("tiny_classifier.onnx"), None).unwrap();
    let err = TextEmbedder::new(s, &classifier_card("tiny"), &fixture("tiny_tokenizer.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("use `zoo predict tiny`"), "{err}");
    let s = e.open(&fixture("tiny_classifier.onnx"), None).unwrap();
    let err = Classifier::new(s, &classifier_card("tiny"), vec!["a".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 labels for 4 outputs"), "{err}");
}

fn tables() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("tiny_encoder_tables.json")).unwrap())
            .unwrap();
    let m = |k: &str| -> Vec<Vec<f32>> { serde_json::from_value(v[k].clone()).unwrap() };
    (m("E"), m("T"))
}

#[test]
fn embeds_with_card_truncation_length_batches_and_pooling() {
    let Some(rt) = runtime() else {
        return;
    };
    let session = engine(rt, None)
        .open(&fixture("tiny_encoder.onnx"), None)
        .unwrap();
    let mut emb =
        TextEmbedder::new(session, &text_card(), &fixture("tiny_tokenizer.json")).unwrap();
    // The card's max_length (5) replaces the file's truncation (6) and its fixed
    // padding (12) is dropped.
    assert_eq!(
        emb.tokenize("the big red cat sat on the mat").unwrap(),
        vec![2, 4, 11, 12, 3]
    );
    assert_eq!(emb.tokenize("hello").unwrap(), vec![2, 14, 3]);

    let texts = [
        "the big red cat sat on the mat",
        "hello",
        "a dog",
        "",
        "cats sat",
        "hello world the end",
    ];
    emb.set_batch(4);
    let batched = emb.embed(&texts).unwrap();
    let (e, t) = tables();
    for (text, got) in texts.iter().zip(&batched) {
        let ids = emb.tokenize(text).unwrap();
        let mut want = vec![0f32; 4];
        for &id in &ids {
            for k in 0..4 {
                want[k] += (e[id as usize][k] + t[0][k]) / ids.len() as f32;
            }
        }
        zoo_ort::l2_normalize(&mut want);
        assert!(
            common::max_abs_diff(got, &want) < 1e-5,
            "{text:?}: {got:?} vs {want:?}"
        );
    }
    emb.set_batch(1);
    let single = emb.embed(&texts).unwrap();
    for (a, b) in batched.iter().zip(&single) {
        assert!(common::max_abs_diff(a, b) < 1e-6);
    }
}

#[test]
fn safetensors_output_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("out.safetensors");
    let rows = vec![vec![1.0f32, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
    let meta = HashMap::from([("model".to_owned(), "m".to_owned())]);
    zoo_ort::write_safetensors(&path, &rows, meta).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("embeddings").unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    assert_eq!(t.dtype(), safetensors::Dtype::F32);
    let back: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(back, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(header.metadata().as_ref().unwrap()["model"], "m");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}
