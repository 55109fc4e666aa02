use crate::cut::flat_size;
use crate::graph::{GraphIndex, attr, attr_int, graph_of};
use crate::proto::{ModelProto, NodeProto};
use crate::{OnnxError, Result};

/// The tensor a new head reads: the backbone's penultimate activations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureTensor {
    pub name: String,
    /// Features per example once non-batch axes are flattened, when it can be
    /// read off declared shapes or the existing classifier's weights.
    pub dim: Option<i64>,
}

/// Ops between a classifier and the graph output that do not change which
/// tensor holds the features.
const PASS_THROUGH: &[&str] = &[
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Reshape",
    "Identity",
    "Squeeze",
    "Dropout",
];

/// Names the feature tensor of a classification backbone.
///
/// With `hint`, checks that such a tensor exists (suggesting close names if not).
/// Without it, walks back from the graph output through softmax/reshape-like ops
/// to the final Gemm, MatMul(+Add) or 1x1 Conv and returns that layer's input.
pub fn find_feature_tensor(model: &ModelProto, hint: Option<&str>) -> Result<FeatureTensor> {
    let index = GraphIndex::new(graph_of(model)?);
    let classifier = find_classifier(&index);
    let name = match (hint, &classifier) {
        (Some(hint), _) => {
            index.require_tensor(hint)?;
            hint.to_owned()
        }
        (None, Ok(classifier)) => classifier.input.to_owned(),
        (None, Err(why)) => {
            return Err(OnnxError::InvalidGraph(format!(
                "cannot locate the classifier layer ({why}); name the feature tensor explicitly"
            )));
        }
    };
    let dim = match &classifier {
        Ok(c) if c.input == name => weight_input_dim(&index, c.node, &name),
        _ => {
            declared_dim(&index, &name).or_else(|| dense_consumer_dim(&index, &name, FORWARD_STEPS))
        }
    };
    Ok(FeatureTensor { name, dim })
}

/// How many reshape-like ops `dense_consumer_dim` looks through.
const FORWARD_STEPS: usize = 8;

struct Classifier<'g> {
    node: &'g NodeProto,
    input: &'g str,
}

fn find_classifier<'g>(index: &GraphIndex<'g>) -> Result<Classifier<'g>, String> {
    let mut reasons = Vec::new();
    for output in index.graph_outputs() {
        match walk_back(index, output) {
            Ok(found) => return Ok(found),
            Err(why) => reasons.push(format!("from output `{output}`: {why}")),
        }
    }
    if reasons.is_empty() {
        reasons.push("the graph has no outputs".into());
    }
    Err(reasons.join("; "))
}

fn walk_back<'g>(index: &GraphIndex<'g>, output: &'g str) -> Result<Classifier<'g>, String> {
    let mut tensor = output;
    // Each step moves to an earlier node, so the node count bounds a (valid) walk.
    for _ in 0..=index.node_count() {
        let node = index
            .producer(tensor)
            .ok_or_else(|| format!("`{tensor}` is not computed by any node"))?;
        let op = node.op_type();
        let classifier = |input| Ok(Classifier { node, input });
        match op {
            _ if PASS_THROUGH.contains(&op) => tensor = first_input(node)?,
            "Gemm" | "MatMul" => return classifier(data_input(index, node)?),
            "Conv" if is_pointwise(index, node) => return classifier(first_input(node)?),
            // A bias added after MatMul, as exporters like tf2onnx emit.
            "Add" => {
                let matmul = node
                    .input
                    .iter()
                    .filter(|i| !index.is_constant(i))
                    .filter_map(|i| index.producer(i))
                    .find(|n| n.op_type() == "MatMul")
                    .ok_or_else(|| format!("`Add` node `{}` is not a bias add", node.name()))?;
                return Ok(Classifier {
                    node: matmul,
                    input: data_input(index, matmul)?,
                });
            }
            _ => {
                return Err(format!(
                    "reached `{op}` node `{}` before any Gemm, MatMul or 1x1 Conv",
                    node.name()
                ));
            }
        }
    }
    Err("the graph has a cycle".into())
}

fn first_input(node: &NodeProto) -> Result<&str, String> {
    match node.input.first() {
        Some(input) if !input.is_empty() => Ok(input),
        _ => Err(no_input(node)),
    }
}

fn no_input(node: &NodeProto) -> String {
    format!("`{}` node `{}` has no input", node.op_type(), node.name())
}

/// The activation input of a dense layer, i.e. the one that is not the weight.
fn data_input<'g>(index: &GraphIndex<'g>, node: &'g NodeProto) -> Result<&'g str, String> {
    match node.input.as_slice() {
        [a, b, ..] if index.is_constant(a) && !index.is_constant(b) => Ok(b),
        [a, ..] if !a.is_empty() => Ok(a),
        _ => Err(no_input(node)),
    }
}

fn is_pointwise(index: &GraphIndex, conv: &NodeProto) -> bool {
    if let Some(kernel) = attr(conv, "kernel_shape") {
        return kernel.ints.iter().all(|&k| k == 1);
    }
    let weight = conv.input.get(1).and_then(|w| index.constant_dims(w));
    weight.is_some_and(|dims| dims.len() >= 3 && dims[2..].iter().all(|&k| k == 1))
}

/// How many input features a dense or 1x1 conv layer's weight expects.
fn weight_input_dim(index: &GraphIndex, node: &NodeProto, input: &str) -> Option<i64> {
    let weight_name = node.input.iter().find(|i| i.as_str() != input)?;
    let dims = index.constant_dims(weight_name)?;
    let dim = match (node.op_type(), dims) {
        ("Gemm", &[rows, cols]) if node.input.first()? == input => {
            if attr_int(node, "transA").unwrap_or(0) != 0 {
                return None;
            }
            if attr_int(node, "transB").unwrap_or(0) != 0 {
                cols
            } else {
                rows
            }
        }
        ("MatMul", &[rows, _]) if node.input.first()? == input => rows,
        ("Conv", &[_, per_group, ..]) => per_group * attr_int(node, "group").unwrap_or(1),
        _ => return None,
    };
    (dim > 0).then_some(dim)
}

fn declared_dim(index: &GraphIndex, tensor: &str) -> Option<i64> {
    let dims = &index.declared(tensor)?.shape.as_ref()?.dim;
    if dims.len() < 2 {
        None
    } else {
        flat_size(dims)
    }
}

/// Looks downstream, through reshape-like and elementwise ops, for a Gemm or
/// MatMul whose weight reveals the feature count. Convs are skipped: a 1x1 conv on
/// a spatial map sees channels, not flattened features.
fn dense_consumer_dim(index: &GraphIndex, tensor: &str, depth: usize) -> Option<i64> {
    index
        .consumers(tensor)
        .find_map(|node| match node.op_type() {
            "Gemm" | "MatMul" => weight_input_dim(index, node, tensor),
            "Flatten" | "Reshape" | "Squeeze" | "Identity" | "Dropout" | "Relu" if depth > 0 => {
                let output = node.output.first()?;
                dense_consumer_dim(index, output, depth - 1)
            }
            _ => None,
        })
}
