use std::collections::HashSet;

use crate::graph::{
    FLOAT, GraphIndex, Names, dim_param, dim_value, float_value_info, graph_of, int_attr,
    known_dim, node, subgraph_inputs,
};
use crate::proto::tensor_proto::DataType;
use crate::proto::tensor_shape_proto::Dimension;
use crate::proto::{GraphProto, ModelProto};
use crate::{FeatureTensor, OnnxError, Result};

/// Batch axis name used where the backbone does not name one.
pub(crate) const BATCH: &str = "N";

/// Base name of the Flatten output that `cut_at` adds for non-2-D features.
const FLAT_FEATURES: &str = "zoo_features";

/// Truncates `model` so that its only output is `feature`.
///
/// Nodes the feature does not depend on, and initializers and inputs they alone
/// used, are dropped; opset imports and IR version are kept. Unless the feature is
/// declared 2-D it is passed through a `Flatten(axis=1)` (a no-op on 2-D input),
/// so the output is always `[batch, features]`, e.g. `[N, C]` for a global-pool
/// `[N, C, 1, 1]` activation.
pub fn cut_at(model: &ModelProto, feature: &FeatureTensor) -> Result<ModelProto> {
    let graph = graph_of(model)?;
    let index = GraphIndex::new(graph);
    let dims = checked_dims(&index, feature)?;

    let keep = needed_nodes(&index, graph, &feature.name);
    let kept: Vec<_> = (graph.node.iter().zip(&keep))
        .filter_map(|(node, &keep)| keep.then_some(node))
        .collect();
    let mut used: HashSet<&str> = HashSet::from([feature.name.as_str()]);
    let mut defined: HashSet<&str> = HashSet::new();
    for node in &kept {
        used.extend(node.input.iter().map(String::as_str));
        let mut captured = Vec::new();
        subgraph_inputs(node, &mut captured);
        used.extend(captured);
        defined.extend(node.output.iter().map(String::as_str));
    }
    let mut nodes: Vec<_> = kept.into_iter().cloned().collect();

    let output = if dims.is_some_and(|d| d.len() == 2) {
        feature.name.clone()
    } else {
        let mut names = Names::of(graph);
        let flat = names.fresh(FLAT_FEATURES);
        let mut flatten = node(
            "Flatten",
            names.fresh("zoo_cut/flatten"),
            &[&feature.name],
            &flat,
        );
        flatten.attribute.push(int_attr("axis", 1));
        nodes.push(flatten);
        flat
    };
    let batch = dims
        .and_then(|d| d.first())
        .filter(|d| d.value.is_some())
        .cloned()
        .unwrap_or_else(|| dim_param(BATCH));
    let features = (feature.dim.or(dims.and_then(flat_size)))
        .map(dim_value)
        .unwrap_or_default();

    let cut = GraphProto {
        node: nodes,
        name: graph.name.clone(),
        initializer: (graph.initializer.iter())
            .filter(|t| used.contains(t.name()))
            .cloned()
            .collect(),
        sparse_initializer: (graph.sparse_initializer.iter())
            .filter(|s| s.values.as_ref().is_some_and(|v| used.contains(v.name())))
            .cloned()
            .collect(),
        doc_string: graph.doc_string.clone(),
        input: (graph.input.iter())
            .filter(|i| used.contains(i.name()))
            .cloned()
            .collect(),
        output: vec![float_value_info(&output, vec![batch, features])],
        value_info: (graph.value_info.iter())
            .filter(|v| defined.contains(v.name()) && v.name() != output)
            .cloned()
            .collect(),
        quantization_annotation: (graph.quantization_annotation.iter())
            .filter(|a| defined.contains(a.tensor_name()) || used.contains(a.tensor_name()))
            .cloned()
            .collect(),
        metadata_props: graph.metadata_props.clone(),
    };
    Ok(with_graph(model, cut))
}

/// The feature's declared dims, if any, after checking that a head can use it:
/// FLOAT, at least 2-D, and as many features as `feature.dim` says.
fn checked_dims<'g>(
    index: &GraphIndex<'g>,
    feature: &FeatureTensor,
) -> Result<Option<&'g [Dimension]>> {
    index.require_tensor(&feature.name)?;
    let declared = index.declared(&feature.name);
    let invalid = |why: String| {
        Err(OnnxError::InvalidGraph(format!(
            "feature tensor `{}` {why}",
            feature.name
        )))
    };
    if let Some(elem) = declared.and_then(|t| t.elem_type)
        && elem != FLOAT
    {
        let ty = DataType::try_from(elem).map_or(elem.to_string(), |t| t.as_str_name().into());
        return invalid(format!("has element type {ty}; heads need FLOAT features"));
    }
    let Some(dims) = declared
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.as_slice())
    else {
        return Ok(None);
    };
    if dims.len() < 2 {
        let rank = dims.len();
        return invalid(format!(
            "has rank {rank}; expected a batch axis plus feature axes"
        ));
    }
    if let (Some(declared), Some(given)) = (flat_size(dims), feature.dim)
        && declared != given
    {
        return invalid(format!("is declared with {declared} features, not {given}"));
    }
    Ok(Some(dims))
}

/// Features per example: the product of the non-batch axes, if all are known.
pub(crate) fn flat_size(dims: &[Dimension]) -> Option<i64> {
    dims.get(1..)?.iter().map(known_dim).product()
}

/// Marks the nodes `target` depends on. A worklist rather than one reverse pass
/// so a model whose nodes are not topologically sorted is still cut correctly.
fn needed_nodes<'g>(index: &GraphIndex<'g>, graph: &'g GraphProto, target: &'g str) -> Vec<bool> {
    let mut keep = vec![false; graph.node.len()];
    let mut pending = vec![target];
    while let Some(tensor) = pending.pop() {
        let Some(i) = index.producer_index(tensor) else {
            continue;
        };
        if std::mem::replace(&mut keep[i], true) {
            continue;
        }
        let node = &graph.node[i];
        pending.extend(node.input.iter().map(String::as_str));
        subgraph_inputs(node, &mut pending);
    }
    keep
}

/// `model`'s header around a new graph. Training info is dropped because it
/// refers to tensors of the original graph.
fn with_graph(model: &ModelProto, graph: GraphProto) -> ModelProto {
    ModelProto {
        ir_version: model.ir_version,
        opset_import: model.opset_import.clone(),
        producer_name: model.producer_name.clone(),
        producer_version: model.producer_version.clone(),
        domain: model.domain.clone(),
        model_version: model.model_version,
        doc_string: model.doc_string.clone(),
        graph: Some(graph),
        metadata_props: model.metadata_props.clone(),
        training_info: Vec::new(),
        functions: model.functions.clone(),
        configuration: model.configuration.clone(),
    }
}
