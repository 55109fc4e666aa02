//! A model's inputs and outputs without its weights. The graph is walked in
//! place: only its `input` and `output` declarations are decoded (bounded in
//! size), and node outputs and initializer names are compared where they lie,
//! so a hostile file cannot make this allocate more than a small multiple of
//! those declarations. (Decoding every node into a struct, as this did with
//! prost, turned two bytes on disk — an empty node — into 48 in memory: a
//! 2 GiB graph of empty nodes asked for about 50 GiB.)

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use crate::io::check_size;
use crate::proto::ValueInfoProto;
use crate::proto::tensor_shape_proto::dimension;
use crate::proto::type_proto;
use crate::{OnnxError, Result};

/// The graph's input and output declarations in all: a name, a type and a few
/// axes each, so 1 MiB is thousands of them. Each is decoded into structs a
/// few dozen times its size on disk, so this bounds the memory too.
const MAX_IO_BYTES: usize = 1 << 20;

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

/// `ModelProto.graph`, and in `GraphProto`: `node`, `initializer`, `input`,
/// `output`; in `NodeProto`: `output`, `op_type`; in `TensorProto`: `name`.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const NODE_OUTPUT: u32 = 2;
const NODE_OP_TYPE: u32 = 4;
const TENSOR_NAME: u32 = 8;

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
    let invalid = |why: &str| OnnxError::InvalidGraph(format!("{}: {why}", path.display()));

    // Pass 1: the declarations, decoded, at most MAX_IO_BYTES of them.
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    let mut io_bytes = 0usize;
    each_graph_field(&bytes, |tag, value| {
        let (GRAPH_INPUT | GRAPH_OUTPUT, Wire::Bytes(b)) = (tag, value) else {
            return Ok(());
        };
        io_bytes += b.len();
        if io_bytes > MAX_IO_BYTES {
            return Err(invalid(&format!(
                "its input and output declarations take more than {MAX_IO_BYTES} bytes"
            ))
            .into());
        }
        let v = ValueInfoProto::decode(b).map_err(|source| OnnxError::Decode {
            path: path.to_owned(),
            source,
        })?;
        if tag == GRAPH_INPUT {
            inputs.push(tensor(&v));
        } else {
            outputs.push(tensor(&v));
        }
        Ok(())
    })
    .map_err(|e| e.or_invalid(&invalid))?;

    // Pass 2: initializer names and node outputs, compared in place.
    let index = |list: &[TensorSignature]| {
        let mut by_name: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, t) in list.iter().enumerate() {
            by_name
                .entry(t.name.as_bytes().to_vec())
                .or_default()
                .push(i);
        }
        by_name
    };
    let (input_index, output_index) = (index(&inputs), index(&outputs));
    let mut is_weight = vec![false; inputs.len()];
    // For each output: found yet, and the op type of the first node making it.
    let mut producer: Vec<Option<Option<String>>> = vec![None; outputs.len()];
    each_graph_field(&bytes, |tag, value| {
        match (tag, value) {
            (GRAPH_INITIALIZER, Wire::Bytes(t)) => {
                let mut name = None;
                for field in Fields(t) {
                    if let (TENSOR_NAME, Wire::Bytes(n)) = field? {
                        name = Some(n);
                    }
                }
                for &i in name.and_then(|n| input_index.get(n)).into_iter().flatten() {
                    is_weight[i] = true;
                }
            }
            (GRAPH_NODE, Wire::Bytes(node)) => {
                let mut op_type = None;
                let mut made = Vec::new();
                for field in Fields(node) {
                    match field? {
                        (NODE_OP_TYPE, Wire::Bytes(op)) => op_type = Some(op),
                        (NODE_OUTPUT, Wire::Bytes(out)) => {
                            for &i in output_index.get(out).into_iter().flatten() {
                                if producer[i].is_none() && !made.contains(&i) {
                                    made.push(i);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let op = op_type.and_then(|o| String::from_utf8(o.to_vec()).ok());
                for i in made {
                    producer[i] = Some(op.clone());
                }
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| e.or_invalid(&invalid))?;

    let inputs = inputs
        .into_iter()
        .zip(is_weight)
        .filter(|(_, weight)| !weight)
        .map(|(t, _)| t)
        .collect();
    for (t, p) in outputs.iter_mut().zip(producer) {
        t.producer = p.flatten();
    }
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

/// A malformed wire format, or an error from the visitor.
enum WalkError {
    Wire(&'static str),
    Onnx(OnnxError),
}

impl From<&'static str> for WalkError {
    fn from(why: &'static str) -> Self {
        WalkError::Wire(why)
    }
}

impl From<OnnxError> for WalkError {
    fn from(e: OnnxError) -> Self {
        WalkError::Onnx(e)
    }
}

impl WalkError {
    fn or_invalid(self, invalid: &dyn Fn(&str) -> OnnxError) -> OnnxError {
        match self {
            WalkError::Wire(why) => invalid(&format!("not a valid ONNX model: {why}")),
            WalkError::Onnx(e) => e,
        }
    }
}

/// Call `visit` with every field of the model's graph. A message field that
/// occurs more than once merges, so the fields of every `graph` occurrence
/// are visited in order; nothing is collected on the way.
fn each_graph_field<'a>(
    model: &'a [u8],
    mut visit: impl FnMut(u32, Wire<'a>) -> std::result::Result<(), WalkError>,
) -> std::result::Result<(), WalkError> {
    for field in Fields(model) {
        if let (MODEL_GRAPH, Wire::Bytes(graph)) = field? {
            for field in Fields(graph) {
                let (tag, value) = field?;
                visit(tag, value)?;
            }
        }
    }
    Ok(())
}

/// A field's value as the wire format carries it.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Bytes(&'a [u8]),
    Scalar,
}

/// The fields of one protobuf message, read in place (nothing is copied).
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u32, Wire<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.0 = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> std::result::Result<u64, &'static str> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first().ok_or("a truncated varint")?;
            self.0 = rest;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes")
    }

    fn take(&mut self, len: u64) -> std::result::Result<&'a [u8], &'static str> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or("a field longer than the bytes left")?;
        let (value, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(value)
    }

    fn field(&mut self) -> std::result::Result<(u32, Wire<'a>), &'static str> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| "a field number out of range")?;
        let value = match key & 7 {
            0 => {
                self.varint()?;
                Wire::Scalar
            }
            1 => {
                self.take(8)?;
                Wire::Scalar
            }
            2 => {
                let len = self.varint()?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Scalar
            }
            // Groups (3, 4) are deprecated and ONNX has none.
            _ => return Err("an unsupported wire type"),
        };
        Ok((tag, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{
        GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
        tensor_shape_proto, type_proto,
    };

    fn value(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
        ValueInfoProto {
            name: Some(name.to_owned()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(elem),
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|d| tensor_shape_proto::Dimension {
                                value: Some(match d {
                                    Some(n) => dimension::Value::DimValue(*n),
                                    None => dimension::Value::DimParam("batch".into()),
                                }),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join("m.onnx");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_inputs_outputs_and_producers_without_initializers() {
        let graph = GraphProto {
            node: vec![
                NodeProto {
                    output: vec!["hidden".into()],
                    op_type: Some("MatMul".into()),
                    ..Default::default()
                },
                NodeProto {
                    output: vec!["probs".into()],
                    op_type: Some("Softmax".into()),
                    ..Default::default()
                },
                NodeProto {
                    output: vec!["probs".into()],
                    op_type: Some("Identity".into()),
                    ..Default::default()
                },
            ],
            initializer: vec![TensorProto {
                name: Some("w".into()),
                ..Default::default()
            }],
            input: vec![value("x", 1, &[None, Some(3)]), value("w", 1, &[Some(3)])],
            output: vec![value("probs", 1, &[None, Some(2)]), value("other", 7, &[])],
            ..Default::default()
        };
        let model = ModelProto {
            graph: Some(graph),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let sig = signature(write(dir.path(), &model.encode_to_vec())).unwrap();
        assert_eq!(sig.inputs.len(), 1);
        assert_eq!(sig.inputs[0].name, "x");
        assert_eq!(
            sig.inputs[0].dims,
            [Dim::Symbolic("batch".into()), Dim::Fixed(3)]
        );
        assert_eq!(sig.outputs[0].producer.as_deref(), Some("Softmax"));
        assert_eq!(sig.outputs[1].producer, None);
        assert_eq!(sig.outputs[1].elem_type, Some(7));
    }

    #[test]
    fn declarations_are_bounded_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let many = GraphProto {
            output: (0..MAX_IO_BYTES / 8)
                .map(|i| value(&format!("o{i}"), 1, &[]))
                .collect(),
            ..Default::default()
        };
        let model = ModelProto {
            graph: Some(many),
            ..Default::default()
        };
        let err = signature(write(dir.path(), &model.encode_to_vec())).unwrap_err();
        assert!(err.to_string().contains("declarations"), "{err}");
        // A field that claims more bytes than the file has.
        let err = signature(write(dir.path(), b"\x3a\xff\xff\x03\x0a")).unwrap_err();
        assert!(err.to_string().contains("not a valid ONNX model"), "{err}");
    }

    #[test]
    fn a_graph_of_empty_nodes_costs_no_memory() {
        // 8 MiB of empty nodes: four million of them, none kept.
        let nodes = b"\x0a\x00".repeat(4 << 20);
        let mut model = vec![0x3a];
        let mut len = nodes.len();
        while len >= 0x80 {
            model.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        model.push(len as u8);
        model.extend_from_slice(&nodes);
        let dir = tempfile::tempdir().unwrap();
        let sig = signature(write(dir.path(), &model)).unwrap();
        assert!(sig.inputs.is_empty() && sig.outputs.is_empty());
    }
}
