//! Pooling as ONNX nodes, so an exported text classifier is one standalone graph
//! from token ids to probabilities: the same mask-aware mean (or CLS, or max) and
//! L2 normalisation that zoo-ort applies in Rust when it embeds text.

use std::collections::HashSet;

use zoo_onnx::FeatureTensor;
use zoo_onnx::proto::attribute_proto::AttributeType;
use zoo_onnx::proto::tensor_proto::DataType;
use zoo_onnx::proto::tensor_shape_proto::Dimension;
use zoo_onnx::proto::tensor_shape_proto::dimension::Value as DimValue;
use zoo_onnx::proto::type_proto::{self, Value as TypeValue};
use zoo_onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use zoo_registry::card::Pooling;

use crate::error::{FinetuneError, Result};

const PREFIX: &str = "zoo_pool";
/// Name of the pooled output.
pub const POOLED: &str = "zoo_pool/features";
const MASK: &str = "attention_mask";

/// `model` with its outputs replaced by `output` pooled over tokens (when
/// `pooling` is set) and L2-normalised (when `normalize`): `[batch, hidden]`.
pub fn pooled(
    model: &ModelProto,
    output: &FeatureTensor,
    pooling: Option<Pooling>,
    normalize: bool,
) -> Result<(ModelProto, FeatureTensor)> {
    let invalid = |m: String| FinetuneError::Onnx(zoo_onnx::OnnxError::InvalidGraph(m));
    let mut model = model.clone();
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map_or(13, |o| o.version());
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| invalid("the model has no graph".into()))?;
    let names = all_names(graph);
    if names.iter().any(|n| n.starts_with(PREFIX)) {
        return Err(invalid(format!(
            "the model already uses names starting with `{PREFIX}`"
        )));
    }
    if !names.contains(&output.name) {
        return Err(invalid(format!(
            "the model has no tensor `{}`",
            output.name
        )));
    }
    let has_mask = graph.input.iter().any(|i| i.name() == MASK);
    let mut b = Builder {
        graph,
        opset,
        count: 0,
    };
    let mut x = output.name.clone();
    match pooling {
        None => {}
        Some(Pooling::Cls) => {
            let zero = b.int64_scalar("cls_index", 0);
            x = b.node("Gather", &[&x, &zero], &[("axis", 1)]);
        }
        Some(Pooling::Mean) if has_mask => {
            let mask = b.node("Cast", &[MASK], &[("to", DataType::Float as i64)]);
            let mask = b.unsqueeze(&mask, 2);
            let masked = b.node("Mul", &[&x, &mask], &[]);
            let sum = b.reduce("ReduceSum", &masked, 13);
            let count = b.reduce("ReduceSum", &mask, 13);
            let eps = b.float_scalar("min_count", 1e-9);
            let count = b.node("Max", &[&count, &eps], &[]);
            x = b.node("Div", &[&sum, &count], &[]);
        }
        Some(Pooling::Mean) => x = b.reduce("ReduceMean", &x, 18),
        Some(Pooling::Max) => {
            if has_mask {
                // Masked tokens get -1e9 added, so they never win the max.
                let mask = b.node("Cast", &[MASK], &[("to", DataType::Float as i64)]);
                let mask = b.unsqueeze(&mask, 2);
                let one = b.float_scalar("one", 1.0);
                let big = b.float_scalar("big", 1e9);
                let off = b.node("Sub", &[&mask, &one], &[]);
                let off = b.node("Mul", &[&off, &big], &[]);
                x = b.node("Add", &[&x, &off], &[]);
            }
            x = b.reduce("ReduceMax", &x, 18);
        }
    }
    if normalize {
        x = b.node("LpNormalization", &[&x], &[("axis", 1), ("p", 2)]);
    }
    let ours = x != output.name;
    let last = (b.graph.node.last_mut()).filter(|n| ours && n.output.first() == Some(&x));
    let pooled = match last {
        Some(node) => {
            node.output[0] = POOLED.to_owned();
            POOLED.to_owned()
        }
        // No pooling and no normalisation: the output itself is the feature.
        None => x,
    };
    let dims = vec![
        dim_param("N"),
        output.dim.map_or_else(Dimension::default, dim_value),
    ];
    b.graph.output = vec![float_value_info(&pooled, dims)];
    Ok((
        model,
        FeatureTensor {
            name: pooled,
            dim: output.dim,
        },
    ))
}

struct Builder<'g> {
    graph: &'g mut GraphProto,
    opset: i64,
    count: usize,
}

impl Builder<'_> {
    fn fresh(&mut self, what: &str) -> String {
        self.count += 1;
        format!("{PREFIX}/{what}_{}", self.count)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, i64)]) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.graph.node.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(out.clone()),
            input: inputs.iter().map(|&i| i.to_owned()).collect(),
            output: vec![out.clone()],
            attribute: attrs.iter().map(|(n, v)| int_attr(n, *v)).collect(),
            ..Default::default()
        });
        out
    }

    /// Axes moved from an attribute to an input at opset `since` (13 for
    /// Unsqueeze and ReduceSum, 18 for the other reductions).
    fn with_axes(
        &mut self,
        op: &str,
        x: &str,
        axis: i64,
        since: i64,
        keepdims: Option<i64>,
    ) -> String {
        let keep: Vec<(&str, i64)> = keepdims.map(|k| ("keepdims", k)).into_iter().collect();
        if self.opset >= since {
            let axes = self.int64_tensor("axes", &[axis]);
            self.node(op, &[x, &axes], &keep)
        } else {
            let out = self.node(op, &[x], &keep);
            let node = self.graph.node.last_mut().expect("just added");
            node.attribute.push(AttributeProto {
                name: Some("axes".into()),
                r#type: Some(AttributeType::Ints as i32),
                ints: vec![axis],
                ..Default::default()
            });
            out
        }
    }

    fn unsqueeze(&mut self, x: &str, axis: i64) -> String {
        self.with_axes("Unsqueeze", x, axis, 13, None)
    }

    /// Reduces over the token axis (1), dropping it.
    fn reduce(&mut self, op: &str, x: &str, since: i64) -> String {
        self.with_axes(op, x, 1, since, Some(0))
    }

    fn initializer(&mut self, t: TensorProto) -> String {
        let name = t.name().to_owned();
        self.graph.initializer.push(t);
        name
    }

    fn int64_tensor(&mut self, what: &str, values: &[i64]) -> String {
        let name = self.fresh(what);
        self.initializer(TensorProto {
            name: Some(name),
            dims: vec![values.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            int64_data: values.to_vec(),
            ..Default::default()
        })
    }

    fn int64_scalar(&mut self, what: &str, value: i64) -> String {
        let name = self.fresh(what);
        self.initializer(TensorProto {
            name: Some(name),
            data_type: Some(DataType::Int64 as i32),
            int64_data: vec![value],
            ..Default::default()
        })
    }

    fn float_scalar(&mut self, what: &str, value: f32) -> String {
        let name = self.fresh(what);
        self.initializer(TensorProto {
            name: Some(name),
            data_type: Some(DataType::Float as i32),
            float_data: vec![value],
            ..Default::default()
        })
    }
}

fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

fn all_names(graph: &GraphProto) -> HashSet<String> {
    let mut names: HashSet<String> = (graph.input.iter())
        .chain(&graph.output)
        .chain(&graph.value_info)
        .map(|v| v.name().to_owned())
        .collect();
    names.extend(graph.initializer.iter().map(|t| t.name().to_owned()));
    for n in &graph.node {
        names.insert(n.name().to_owned());
        names.extend(n.input.iter().chain(&n.output).cloned());
    }
    names
}

fn dim_value(v: i64) -> Dimension {
    Dimension {
        value: Some(DimValue::DimValue(v)),
        ..Default::default()
    }
}

fn dim_param(p: &str) -> Dimension {
    Dimension {
        value: Some(DimValue::DimParam(p.into())),
        ..Default::default()
    }
}

fn float_value_info(name: &str, dims: Vec<Dimension>) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
