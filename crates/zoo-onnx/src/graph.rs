use std::collections::{HashMap, HashSet};

use crate::proto::tensor_shape_proto::Dimension;
use crate::proto::tensor_shape_proto::dimension::Value as DimValue;
use crate::proto::type_proto::{self, Value as TypeValue};
use crate::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::{OnnxError, Result};

pub(crate) const FLOAT: i32 = crate::proto::tensor_proto::DataType::Float as i32;

pub(crate) fn graph_of(model: &ModelProto) -> Result<&GraphProto> {
    model
        .graph
        .as_ref()
        .ok_or_else(|| OnnxError::InvalidGraph("the model has no graph".into()))
}

/// Name lookups over one graph, built once per operation.
pub(crate) struct GraphIndex<'g> {
    graph: &'g GraphProto,
    producers: HashMap<&'g str, usize>,
    consumers: HashMap<&'g str, Vec<usize>>,
    initializers: HashMap<&'g str, &'g TensorProto>,
    declared: HashMap<&'g str, &'g type_proto::Tensor>,
}

impl<'g> GraphIndex<'g> {
    pub fn new(graph: &'g GraphProto) -> Self {
        let mut producers = HashMap::new();
        let mut consumers: HashMap<_, Vec<_>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for output in node.output.iter().filter(|o| !o.is_empty()) {
                producers.insert(output.as_str(), i);
            }
            for input in &node.input {
                consumers.entry(input.as_str()).or_default().push(i);
            }
        }
        let initializers = graph.initializer.iter().map(|t| (t.name(), t)).collect();
        let declared = (graph
            .value_info
            .iter()
            .chain(&graph.output)
            .chain(&graph.input))
        .filter_map(|info| Some((info.name(), tensor_type(info)?)))
        .collect();
        Self {
            graph,
            producers,
            consumers,
            initializers,
            declared,
        }
    }

    pub fn producer(&self, tensor: &str) -> Option<&'g NodeProto> {
        self.producers.get(tensor).map(|&i| &self.graph.node[i])
    }

    pub fn graph_outputs(&self) -> impl Iterator<Item = &'g str> {
        self.graph.output.iter().map(|o| o.name())
    }

    pub fn node_count(&self) -> usize {
        self.graph.node.len()
    }

    pub fn producer_index(&self, tensor: &str) -> Option<usize> {
        self.producers.get(tensor).copied()
    }

    pub fn consumers(&self, tensor: &str) -> impl Iterator<Item = &'g NodeProto> + '_ {
        let nodes = &self.graph.node;
        self.consumers
            .get(tensor)
            .into_iter()
            .flatten()
            .map(move |&i| &nodes[i])
    }

    /// Tensors a feature can be taken from: graph inputs and node outputs.
    pub fn tensor_names(&self) -> impl Iterator<Item = &'g str> {
        let inputs = self.graph.input.iter().map(|i| i.name());
        let outputs = self.graph.node.iter().flat_map(|n| &n.output);
        inputs.chain(outputs.map(String::as_str).filter(|o| !o.is_empty()))
    }

    pub fn require_tensor(&self, name: &str) -> Result<()> {
        if self.producers.contains_key(name) || self.graph.input.iter().any(|i| i.name() == name) {
            return Ok(());
        }
        Err(OnnxError::TensorNotFound {
            name: name.to_owned(),
            close: close_names(name, self.tensor_names()),
        })
    }

    /// Shape of a constant: an initializer or the `value` of a `Constant` node.
    pub fn constant_dims(&self, tensor: &str) -> Option<&'g [i64]> {
        if let Some(init) = self.initializers.get(tensor) {
            return Some(&init.dims);
        }
        let node = self
            .producer(tensor)
            .filter(|n| n.op_type() == "Constant")?;
        Some(&attr(node, "value")?.t.as_ref()?.dims)
    }

    pub fn is_constant(&self, tensor: &str) -> bool {
        self.constant_dims(tensor).is_some()
    }

    /// The tensor type declared in `value_info`, inputs or outputs, if any.
    pub fn declared(&self, tensor: &str) -> Option<&'g type_proto::Tensor> {
        self.declared.get(tensor).copied()
    }
}

fn tensor_type(info: &ValueInfoProto) -> Option<&type_proto::Tensor> {
    match info.r#type.as_ref()?.value.as_ref()? {
        TypeValue::TensorType(t) => Some(t),
        _ => None,
    }
}

pub(crate) fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

pub(crate) fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name)?.i
}

pub(crate) fn int_attr(name: &str, value: i64) -> AttributeProto {
    use crate::proto::attribute_proto::AttributeType;
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub(crate) fn node(op: &str, name: String, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name),
        input: inputs.iter().map(|&i| i.into()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

pub(crate) fn dim_value(value: i64) -> Dimension {
    Dimension {
        value: Some(DimValue::DimValue(value)),
        ..Default::default()
    }
}

pub(crate) fn dim_param(param: &str) -> Dimension {
    Dimension {
        value: Some(DimValue::DimParam(param.into())),
        ..Default::default()
    }
}

pub(crate) fn known_dim(dim: &Dimension) -> Option<i64> {
    match dim.value {
        Some(DimValue::DimValue(v)) if v >= 0 => Some(v),
        _ => None,
    }
}

pub(crate) fn float_value_info(name: &str, dims: Vec<Dimension>) -> ValueInfoProto {
    let tensor = type_proto::Tensor {
        elem_type: Some(FLOAT),
        shape: Some(TensorShapeProto { dim: dims }),
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every tensor and node name in a graph and its subgraphs, for minting fresh names.
pub(crate) struct Names(HashSet<String>);

impl Names {
    pub fn of(graph: &GraphProto) -> Self {
        let mut names = HashSet::new();
        collect_names(graph, &mut names);
        Self(names)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// `base`, or `base_1`, `base_2`, ... if taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let name = (0..)
            .map(|n| match n {
                0 => base.to_owned(),
                n => format!("{base}_{n}"),
            })
            .find(|candidate| !self.0.contains(candidate))
            .expect("an unbounded range always yields a free name");
        self.0.insert(name.clone());
        name
    }
}

fn collect_names(graph: &GraphProto, names: &mut HashSet<String>) {
    let infos = graph
        .input
        .iter()
        .chain(&graph.output)
        .chain(&graph.value_info);
    names.extend(infos.map(|i| i.name().to_owned()));
    names.extend(graph.initializer.iter().map(|t| t.name().to_owned()));
    for node in &graph.node {
        names.insert(node.name().to_owned());
        names.extend(node.input.iter().chain(&node.output).cloned());
        for sub in subgraphs(node) {
            collect_names(sub, names);
        }
    }
}

pub(crate) fn subgraphs(node: &NodeProto) -> impl Iterator<Item = &GraphProto> {
    node.attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(&a.graphs))
}

/// Tensors a node's subgraphs (If/Loop/Scan bodies) read, including outer-scope
/// captures that do not appear in the node's own input list.
pub(crate) fn subgraph_inputs<'n>(node: &'n NodeProto, out: &mut Vec<&'n str>) {
    for sub in subgraphs(node) {
        for inner in &sub.node {
            out.extend(inner.input.iter().map(String::as_str));
            subgraph_inputs(inner, out);
        }
    }
}

/// Up to five names similar to `wanted`, best first, for "did you mean" errors.
fn close_names<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let distance = edit_distance(&wanted_lower, &lower);
            let related = lower.contains(&wanted_lower) || wanted_lower.contains(&lower);
            (related || distance <= wanted.len().max(6) / 3).then_some((distance, name))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(5)
        .map(|(_, n)| n.to_owned())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Calls `f` on every tensor stored anywhere in the model: initializers, sparse
/// initializers, constant attributes, and the same inside subgraphs and functions.
pub(crate) fn for_each_tensor_mut<F>(model: &mut ModelProto, f: &mut F) -> Result<()>
where
    F: FnMut(&mut TensorProto) -> Result<()>,
{
    if let Some(graph) = &mut model.graph {
        graph_tensors_mut(graph, f)?;
    }
    for info in &mut model.training_info {
        for graph in info.initialization.iter_mut().chain(&mut info.algorithm) {
            graph_tensors_mut(graph, f)?;
        }
    }
    for function in &mut model.functions {
        attribute_tensors_mut(&mut function.attribute_proto, f)?;
        for node in &mut function.node {
            attribute_tensors_mut(&mut node.attribute, f)?;
        }
    }
    Ok(())
}

fn graph_tensors_mut<F>(graph: &mut GraphProto, f: &mut F) -> Result<()>
where
    F: FnMut(&mut TensorProto) -> Result<()>,
{
    graph.initializer.iter_mut().try_for_each(&mut *f)?;
    sparse_tensors_mut(&mut graph.sparse_initializer, f)?;
    for node in &mut graph.node {
        attribute_tensors_mut(&mut node.attribute, f)?;
    }
    Ok(())
}

fn attribute_tensors_mut<F>(attributes: &mut [AttributeProto], f: &mut F) -> Result<()>
where
    F: FnMut(&mut TensorProto) -> Result<()>,
{
    for a in attributes {
        a.t.iter_mut().chain(&mut a.tensors).try_for_each(&mut *f)?;
        sparse_tensors_mut(a.sparse_tensor.as_mut_slice(), f)?;
        sparse_tensors_mut(&mut a.sparse_tensors, f)?;
        for graph in a.g.iter_mut().chain(&mut a.graphs) {
            graph_tensors_mut(graph, f)?;
        }
    }
    Ok(())
}

fn sparse_tensors_mut<F>(sparse: &mut [SparseTensorProto], f: &mut F) -> Result<()>
where
    F: FnMut(&mut TensorProto) -> Result<()>,
{
    sparse
        .iter_mut()
        .flat_map(|s| s.values.iter_mut().chain(&mut s.indices))
        .try_for_each(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("pool", "pool"), 0);
        assert_eq!(edit_distance("pool", "pol"), 1);
        assert_eq!(edit_distance("pool", "poll"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn close_names_rank_by_similarity() {
        let names = ["pool/AvgPool:0", "pool/MaxPool:0", "conv1:0", "Relu_48:0"];
        let close = close_names("pool/AvgPol:0", names.into_iter());
        assert_eq!(close, ["pool/AvgPool:0", "pool/MaxPool:0"]);
        assert!(close_names("zzzzzzzz", names.into_iter()).is_empty());
    }

    #[test]
    fn fresh_names_avoid_collisions() {
        let mut names = Names(["a".to_owned(), "a_1".to_owned()].into());
        assert_eq!(names.fresh("a"), "a_2");
        assert_eq!(names.fresh("b"), "b");
        assert_eq!(names.fresh("b"), "b_1");
    }
}
