//! Models produced here must pass `onnx.checker` (full check) and compute the
//! right numbers in onnxruntime. Needs onnx, onnxruntime and numpy in the tests'
//! Python (ZOO_PYTHON); without them a test goes through zoo_test_support::skip.

mod common;

use common::*;
use zoo_onnx::{FeatureTensor, Head, LOGITS, PROBABILITIES, append_head, cut_at, load, save};

#[test]
fn linear_head_matches_hand_computed_softmax() {
    if !python_onnx_available() {
        return;
    }
    let feature = FeatureTensor {
        name: "h_relu".into(),
        dim: Some(8),
    };
    let (classes, dim) = (5, 8);
    let (weight, bias) = (seeded(40, classes * dim), seeded(41, classes));
    let head = Head::Linear {
        weight: weight.clone(),
        bias: bias.clone(),
        classes,
        dim,
    };
    let cut = cut_at(&mlp_model(), &feature).unwrap();
    let model = append_head(&cut, &feature, &head, &[("k".into(), "v".into())]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("headed.onnx");
    save(&model, &path).unwrap();

    let x = seeded(42, 2 * MLP_IN);
    let outputs = run_in_onnxruntime(
        &path,
        &[Input {
            name: "x",
            shape: &[2, 4],
            values: Some(&x),
        }],
    );
    for (row, x) in x.chunks(MLP_IN).enumerate() {
        let logits = dense(&weight, &bias, &mlp_features(x));
        let range = row * classes..(row + 1) * classes;
        assert_close(&output(&outputs, LOGITS)[range.clone()], &logits, 1e-5);
        assert_close(
            &output(&outputs, PROBABILITIES)[range],
            &softmax(&logits),
            1e-5,
        );
    }
}

#[test]
fn mlp_head_on_pooled_conv_features_matches_hand_computed_head() {
    if !python_onnx_available() {
        return;
    }
    let feature = FeatureTensor {
        name: "pooled".into(),
        dim: Some(6),
    };
    let (w1, b1, w2, b2) = (
        seeded(50, 4 * 6),
        seeded(51, 4),
        seeded(52, 3 * 4),
        seeded(53, 3),
    );
    let head = Head::Mlp {
        w1: w1.clone(),
        b1: b1.clone(),
        hidden: 4,
        w2: w2.clone(),
        b2: b2.clone(),
        classes: 3,
        dim: 6,
    };
    let dir = tempfile::tempdir().unwrap();
    let cut = cut_at(&conv_model(), &feature).unwrap();
    let (cut_path, headed_path) = (dir.path().join("cut.onnx"), dir.path().join("headed.onnx"));
    save(&cut, &cut_path).unwrap();
    save(
        &append_head(&cut, &feature, &head, &[]).unwrap(),
        &headed_path,
    )
    .unwrap();

    let image = seeded(54, 3 * 4 * 4);
    let input = [Input {
        name: "image",
        shape: &[1, 3, 4, 4],
        values: Some(&image),
    }];
    let features = run_in_onnxruntime(&cut_path, &input);
    let [(_, features)] = features.as_slice() else {
        panic!("one output expected")
    };
    assert_eq!(features.len(), 6, "the cut model yields [1, 6] features");

    let hidden: Vec<f32> = dense(&w1, &b1, features)
        .into_iter()
        .map(|v| v.max(0.0))
        .collect();
    let expected = softmax(&dense(&w2, &b2, &hidden));
    let outputs = run_in_onnxruntime(&headed_path, &input);
    assert_close(output(&outputs, PROBABILITIES), &expected, 1e-5);
}

#[test]
fn loads_external_data_saved_by_python_onnx() {
    if !python_onnx_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (inline, external) = (
        dir.path().join("inline.onnx"),
        dir.path().join("external.onnx"),
    );
    save(&mlp_model(), &inline).unwrap();
    // onnx only externalizes raw_data, so convert the float_data initializers first.
    let script = "import onnx, sys\n\
        from onnx import numpy_helper as nh\n\
        m = onnx.load(sys.argv[1])\n\
        for t in m.graph.initializer: t.CopyFrom(nh.from_array(nh.to_array(t), t.name))\n\
        onnx.save_model(m, sys.argv[2], save_as_external_data=True, \
        all_tensors_to_one_file=True, location='external.data', size_threshold=0)";
    let status = zoo_test_support::skip::python_command()
        .args(["-c", script])
        .args([&inline, &external])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("external.data").exists());

    let loaded = load(&external).unwrap();
    for original in &mlp_model().graph.unwrap().initializer {
        let tensor = initializer(&loaded, original.name());
        assert!(
            tensor.external_data.is_empty(),
            "{} still external",
            original.name()
        );
        assert_eq!(floats(tensor), original.float_data, "{}", original.name());
    }
}
