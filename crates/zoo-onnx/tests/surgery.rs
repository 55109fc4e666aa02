//! Feature discovery, cutting and head appending on small hand-built models.

mod common;

use common::*;
use zoo_onnx::proto::{GraphProto, StringStringEntryProto};
use zoo_onnx::{
    FeatureTensor, Head, LOGITS, OnnxError, PROBABILITIES, append_head, cut_at, find_feature_tensor,
};

fn feature(name: &str, dim: i64) -> FeatureTensor {
    FeatureTensor {
        name: name.into(),
        dim: Some(dim),
    }
}

fn linear(classes: usize, dim: usize) -> Head {
    Head::Linear {
        weight: seeded(20, classes * dim),
        bias: seeded(21, classes),
        classes,
        dim,
    }
}

fn graph(model: &zoo_onnx::proto::ModelProto) -> &GraphProto {
    model.graph.as_ref().unwrap()
}

#[test]
fn finds_the_dense_classifier_input() {
    let model = mlp_model();
    assert_eq!(
        find_feature_tensor(&model, None).unwrap(),
        feature("h_relu", 8)
    );
    assert_eq!(
        find_feature_tensor(&model, Some("h_relu")).unwrap(),
        feature("h_relu", 8)
    );
    // Undeclared shape: the dim is read off the downstream Gemm weight.
    assert_eq!(
        find_feature_tensor(&model, Some("h")).unwrap(),
        feature("h", 8)
    );
    // A graph input is a valid (if degenerate) feature tensor.
    assert_eq!(
        find_feature_tensor(&model, Some("x")).unwrap(),
        feature("x", 4)
    );
}

#[test]
fn finds_the_pointwise_conv_classifier_input() {
    let model = conv_model();
    assert_eq!(
        find_feature_tensor(&model, None).unwrap(),
        feature("pooled", 6)
    );
    assert_eq!(
        find_feature_tensor(&model, Some("pooled")).unwrap(),
        feature("pooled", 6)
    );
    let spatial = find_feature_tensor(&model, Some("act")).unwrap();
    assert_eq!(
        spatial.dim, None,
        "a spatial map's flattened size is unknown here"
    );
}

#[test]
fn misspelled_hint_lists_close_names() {
    let err = find_feature_tensor(&mlp_model(), Some("h_rel")).unwrap_err();
    let OnnxError::TensorNotFound { name, close } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(name, "h_rel");
    assert_eq!(close.first().map(String::as_str), Some("h_relu"));
    assert!(err.to_string().contains("close names: h_relu"), "{err}");
    // Initializers are weights, not activations.
    assert!(find_feature_tensor(&mlp_model(), Some("w1")).is_err());
}

#[test]
fn graph_without_classifier_says_where_the_walk_stopped() {
    let model = model(GraphProto {
        node: vec![node("Relu", &["x"], "y", vec![])],
        input: vec![info("x", &[None, Some(4)])],
        output: vec![info("y", &[None, Some(4)])],
        ..Default::default()
    });
    let err = find_feature_tensor(&model, None).unwrap_err().to_string();
    assert!(
        err.contains("`Relu`") && err.contains("explicitly"),
        "{err}"
    );
}

#[test]
fn cut_keeps_only_what_the_feature_needs() {
    let model = mlp_model();
    let cut = cut_at(&model, &feature("h_relu", 8)).unwrap();
    let g = graph(&cut);
    assert_eq!(op_types(&cut), ["Gemm", "Relu"]);
    let inits: Vec<_> = g.initializer.iter().map(|t| t.name()).collect();
    assert_eq!(inits, ["w1", "b1"]);
    let inputs: Vec<_> = g.input.iter().map(|i| i.name()).collect();
    assert_eq!(inputs, ["x"], "the unrelated `meta` input is dropped");
    assert_eq!(
        output_shapes(&cut),
        [("h_relu".into(), vec!["N".into(), "8".into()])]
    );
    assert!(g.value_info.iter().all(|v| v.name() != "h_relu"));
    assert_eq!(cut.opset_import, model.opset_import);
    assert_eq!(cut.ir_version, model.ir_version);
}

#[test]
fn cut_flattens_pooled_features() {
    let cut = cut_at(&conv_model(), &feature("pooled", 6)).unwrap();
    assert_eq!(
        op_types(&cut),
        ["Conv", "Relu", "GlobalAveragePool", "Flatten"]
    );
    let flatten = graph(&cut).node.last().unwrap();
    assert_eq!(flatten.input, ["pooled"]);
    assert_eq!(flatten.attribute[0].i, Some(1));
    let features = flatten.output[0].clone();
    assert_eq!(
        output_shapes(&cut),
        [(features, vec!["N".into(), "6".into()])]
    );
    let inits: Vec<_> = graph(&cut).initializer.iter().map(|t| t.name()).collect();
    assert_eq!(inits, ["wc", "bc"]);
}

#[test]
fn cut_rejects_a_dim_contradicting_the_declared_shape() {
    let err = cut_at(&mlp_model(), &feature("h_relu", 7)).unwrap_err();
    assert!(
        err.to_string().contains("declared with 8 features"),
        "{err}"
    );
}

#[test]
fn linear_head_makes_one_standalone_model() {
    let feature = feature("h_relu", 8);
    let cut = cut_at(&mlp_model(), &feature).unwrap();
    let head = linear(5, 8);
    let lineage = [("zoo.base".to_owned(), "mlp@1".to_owned())];
    let model = append_head(&cut, &feature, &head, &lineage).unwrap();

    assert_eq!(op_types(&model), ["Gemm", "Relu", "Gemm", "Softmax"]);
    let g = graph(&model);
    let gemm = &g.node[2];
    assert_eq!(
        gemm.input,
        ["h_relu", "zoo_head/fc/weight", "zoo_head/fc/bias"]
    );
    assert_eq!(gemm.output, [LOGITS]);
    assert_eq!(
        (gemm.attribute[0].name(), gemm.attribute[0].i),
        ("transB", Some(1))
    );
    let softmax = &g.node[3];
    assert_eq!(
        (softmax.input.as_slice(), softmax.output.as_slice()),
        (&[LOGITS.to_owned()][..], &[PROBABILITIES.to_owned()][..])
    );
    assert_eq!(softmax.attribute[0].i, Some(1));

    let batch_by_classes = vec!["N".to_owned(), "5".to_owned()];
    assert_eq!(
        output_shapes(&model),
        [
            (LOGITS.into(), batch_by_classes.clone()),
            (PROBABILITIES.into(), batch_by_classes)
        ]
    );
    let Head::Linear { weight, bias, .. } = &head else {
        unreachable!()
    };
    let w = initializer(&model, "zoo_head/fc/weight");
    assert_eq!(
        (w.dims.as_slice(), w.float_data.len()),
        (&[5, 8][..], 0),
        "stored as raw data"
    );
    assert_eq!(&floats(w), weight);
    assert_eq!(&floats(initializer(&model, "zoo_head/fc/bias")), bias);
    assert_eq!(model.metadata_props, [entry("zoo.base", "mlp@1")]);
}

#[test]
fn mlp_head_follows_the_flattened_features() {
    let feature = feature("pooled", 6);
    let cut = cut_at(&conv_model(), &feature).unwrap();
    let head = Head::Mlp {
        w1: seeded(30, 4 * 6),
        b1: seeded(31, 4),
        hidden: 4,
        w2: seeded(32, 3 * 4),
        b2: seeded(33, 3),
        classes: 3,
        dim: 6,
    };
    let model = append_head(&cut, &feature, &head, &[]).unwrap();
    let ops = op_types(&model);
    assert_eq!(ops[3..], ["Flatten", "Gemm", "Relu", "Gemm", "Softmax"]);
    let g = graph(&model);
    assert_eq!(
        g.node[4].input[0], g.node[3].output[0],
        "head reads the flattened features"
    );
    let head_inits: Vec<_> = g.initializer[2..].iter().map(|t| t.name()).collect();
    assert_eq!(
        head_inits,
        [
            "zoo_head/fc1/weight",
            "zoo_head/fc1/bias",
            "zoo_head/fc2/weight",
            "zoo_head/fc2/bias"
        ]
    );
    assert_eq!(output_shapes(&model)[1].1, ["N", "3"]);
}

#[test]
fn head_names_avoid_existing_tensors() {
    let mut model = mlp_model();
    // A backbone that already uses the head's preferred names.
    let g = model.graph.as_mut().unwrap();
    g.node[1].output[0] = "zoo_head/fc/weight".into();
    g.value_info[0].name = Some("zoo_head/fc/weight".into());
    let feature = feature("zoo_head/fc/weight", 8);
    let cut = cut_at(&model, &feature).unwrap();
    let model = append_head(&cut, &feature, &linear(2, 8), &[]).unwrap();
    assert_eq!(graph(&model).node[2].input[1], "zoo_head/fc/weight_1");
}

#[test]
fn invalid_heads_are_rejected() {
    let feature = feature("h_relu", 8);
    let cut = cut_at(&mlp_model(), &feature).unwrap();
    let short = Head::Linear {
        weight: vec![0.0; 7],
        bias: vec![0.0],
        classes: 1,
        dim: 8,
    };
    let nan = Head::Linear {
        weight: vec![f32::NAN; 8],
        bias: vec![0.0],
        classes: 1,
        dim: 8,
    };
    for (head, expected) in [
        (short, "weight has 7 values, expected 1x8"),
        (nan, "NaN"),
        (linear(2, 9), "takes 9 features but `h_relu` has 8"),
    ] {
        let err = append_head(&cut, &feature, &head, &[]).unwrap_err();
        assert!(matches!(err, OnnxError::InvalidHead(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    let uncut = append_head(&mlp_model(), &feature, &linear(2, 8), &[]).unwrap_err();
    assert!(
        uncut
            .to_string()
            .contains("expected a backbone from cut_at"),
        "{uncut}"
    );
}

#[test]
fn metadata_replaces_equal_keys_and_keeps_others() {
    let feature = feature("h_relu", 8);
    let mut cut = cut_at(&mlp_model(), &feature).unwrap();
    cut.metadata_props = vec![entry("author", "someone"), entry("zoo.base", "old")];
    let metadata = [
        ("zoo.base".into(), "new".into()),
        ("zoo.head".into(), "linear".into()),
    ];
    let model = append_head(&cut, &feature, &linear(2, 8), &metadata).unwrap();
    assert_eq!(
        model.metadata_props,
        [
            entry("author", "someone"),
            entry("zoo.base", "new"),
            entry("zoo.head", "linear")
        ]
    );
}

#[test]
fn head_on_an_old_opset_uses_broadcasting_gemm_and_declares_initializers() {
    let mut model = mlp_model();
    model.ir_version = Some(3);
    model.opset_import[0].version = Some(6);
    let feature = feature("h_relu", 8);
    let cut = cut_at(&model, &feature).unwrap();
    let headed = append_head(&cut, &feature, &linear(2, 8), &[]).unwrap();
    let gemm = &graph(&headed).node[2];
    assert!(
        gemm.attribute
            .iter()
            .any(|a| a.name() == "broadcast" && a.i == Some(1))
    );
    let inputs: Vec<_> = graph(&headed).input.iter().map(|i| i.name()).collect();
    assert_eq!(inputs, ["x", "zoo_head/fc/weight", "zoo_head/fc/bias"]);
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}
