//! A model's inputs and outputs without its weights: only the graph's `input`,
//! `output` and initializer names are decoded (prost skips every other field,
//! so the tensors are never copied), for cards that describe a model file.

use std::path::Path;

use prost::Message;

use crate::io::check_size;
use crate::proto::ValueInfoProto;
use crate::proto::tensor_shape_proto::dimension;
use crate::proto::type_proto;
use crate::{OnnxError, Result};

/// One graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSignature {
    pub name: String,
    /// The ONNX element type (`TensorProto.DataType`: 1 float, 7 int64 ...);
    /// `None` for non-tensor values.
    pub elem_type: Option<i32>,
    /// Each axis: a fixed size, or the symbolic name (`batch_size`), or `None`
    /// when the graph leaves it unnamed.
    pub dims: Vec<Dim>,
    /// For outputs: the operator that produces it (`Softmax` tells
    /// probabilities from logits); `None` for inputs.
    pub producer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Symbolic(String),
    Unknown,
}

/// The inputs fed at run time (initializers listed as inputs, as old exports
/// do, are left out) and the outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub inputs: Vec<TensorSignature>,
    pub outputs: Vec<TensorSignature>,
}

#[derive(Clone, PartialEq, Message)]
struct ModelOnlySignature {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphOnlySignature>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphOnlySignature {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeOnly>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<NameOnly>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeOnly {
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, optional, tag = "4")]
    op_type: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct NameOnly {
    #[prost(string, optional, tag = "8")]
    name: Option<String>,
}

/// Read the signature of the ONNX model at `path`.
pub fn signature(path: impl AsRef<Path>) -> Result<Signature> {
    let path = path.as_ref();
    let io_err = |source| OnnxError::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io_err)?.len();
    check_size(path, size)?;
    let bytes = std::fs::read(path).map_err(io_err)?;
    let model =
        ModelOnlySignature::decode(bytes.as_slice()).map_err(|source| OnnxError::Decode {
            path: path.to_owned(),
            source,
        })?;
    let graph = model.graph.unwrap_or_default();
    let weights: std::collections::HashSet<String> = graph
        .initializer
        .into_iter()
        .filter_map(|t| t.name)
        .collect();
    let inputs = graph
        .input
        .iter()
        .map(tensor)
        .filter(|t| !weights.contains(&t.name))
        .collect();
    let outputs = graph
        .output
        .iter()
        .map(|v| {
            let mut t = tensor(v);
            t.producer = graph
                .node
                .iter()
                .find(|n| n.output.contains(&t.name))
                .and_then(|n| n.op_type.clone());
            t
        })
        .collect();
    Ok(Signature { inputs, outputs })
}

fn tensor(v: &ValueInfoProto) -> TensorSignature {
    let tensor_type = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => Some(t),
        _ => None,
    };
    let dims = tensor_type
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(dimension::Value::DimValue(n)) => Dim::Fixed(*n),
                    Some(dimension::Value::DimParam(p)) if !p.is_empty() => {
                        Dim::Symbolic(p.clone())
                    }
                    _ => Dim::Unknown,
                })
                .collect()
        })
        .unwrap_or_default();
    TensorSignature {
        name: v.name.clone().unwrap_or_default(),
        elem_type: tensor_type.and_then(|t| t.elem_type),
        dims,
        producer: None,
    }
}
