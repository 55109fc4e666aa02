//! A small ONNX graph builder: nodes with fresh output names, initializers,
//! constants, and the graph's declared inputs and outputs.

use zoo_onnx::proto::attribute_proto::AttributeType;
use zoo_onnx::proto::tensor_proto::DataType;
use zoo_onnx::proto::tensor_shape_proto::Dimension;
use zoo_onnx::proto::tensor_shape_proto::dimension::Value as DimValue;
use zoo_onnx::proto::type_proto::{self, Value as TypeValue};
use zoo_onnx::proto::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

pub const FLOAT: i32 = DataType::Float as i32;
pub const INT64: i32 = DataType::Int64 as i32;

/// A graph dimension: a fixed size or a named dynamic axis.
#[derive(Debug, Clone)]
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

#[derive(Debug, Default)]
pub struct Builder {
    graph: GraphProto,
    count: usize,
}

impl Builder {
    pub fn new(name: &str) -> Builder {
        Builder {
            graph: GraphProto {
                name: Some(name.into()),
                ..Default::default()
            },
            count: 0,
        }
    }

    pub fn input(&mut self, name: &str, elem_type: i32, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, elem_type, dims));
        name.to_owned()
    }

    pub fn output(&mut self, name: &str, elem_type: i32, dims: &[Dim]) {
        self.graph.output.push(value_info(name, elem_type, dims));
    }

    /// A node of `op` in `scope` with one output, whose fresh name is returned.
    pub fn op(
        &mut self,
        scope: &str,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.count += 1;
        let name = format!("{scope}/{op}_{}", self.count);
        let output = format!("{name}:0");
        self.graph.node.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(name),
            input: inputs.iter().map(|&i| i.to_owned()).collect(),
            output: vec![output.clone()],
            attribute: attrs,
            ..Default::default()
        });
        output
    }

    /// Renames the output of the node that produces `tensor` (graph outputs get
    /// their public names this way).
    pub fn rename_output(&mut self, tensor: &str, name: &str) {
        for node in &mut self.graph.node {
            for input in &mut node.input {
                if input == tensor {
                    *input = name.to_owned();
                }
            }
            for output in &mut node.output {
                if output == tensor {
                    *output = name.to_owned();
                }
            }
        }
    }

    /// A float initializer from little-endian bytes.
    pub fn weight(&mut self, name: &str, dims: &[usize], bytes: Vec<u8>) -> String {
        debug_assert_eq!(bytes.len(), dims.iter().product::<usize>() * 4);
        self.initializer(name, FLOAT, dims, bytes)
    }

    pub fn float(&mut self, name: &str, value: f32) -> String {
        self.initializer(name, FLOAT, &[], value.to_le_bytes().to_vec())
    }

    pub fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, INT64, &[values.len()], bytes)
    }

    pub fn int(&mut self, name: &str, value: i64) -> String {
        self.initializer(name, INT64, &[], value.to_le_bytes().to_vec())
    }

    fn initializer(
        &mut self,
        name: &str,
        data_type: i32,
        dims: &[usize],
        bytes: Vec<u8>,
    ) -> String {
        self.graph.initializer.push(TensorProto {
            name: Some(name.into()),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            raw_data: Some(bytes),
            ..Default::default()
        });
        name.to_owned()
    }

    pub fn finish(self) -> GraphProto {
        self.graph
    }
}

pub fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub fn ints_attr(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn float_attr(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

fn value_info(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => DimValue::DimValue(*n),
                Dim::Named(s) => DimValue::DimParam((*s).into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `[rows, cols]` f32 bytes transposed to `[cols, rows]`: a PyTorch Linear
/// weight (`[out, in]`) becomes the right operand of `MatMul` (`[in, out]`).
pub fn transpose(bytes: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes.len()];
    for r in 0..rows {
        for c in 0..cols {
            let from = (r * cols + c) * 4;
            let to = (c * rows + r) * 4;
            out[to..to + 4].copy_from_slice(&bytes[from..from + 4]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_axes() {
        let m: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = transpose(&m, 2, 3);
        let values: Vec<f32> = t
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(values, [1., 4., 2., 5., 3., 6.]);
    }
}
