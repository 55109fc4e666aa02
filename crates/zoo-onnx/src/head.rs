use crate::cut::BATCH;
use crate::graph::{
    FLOAT, GraphIndex, Names, dim_param, dim_value, float_value_info, int_attr, known_dim, node,
};
use crate::proto::{
    GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
};
use crate::{FeatureTensor, OnnxError, Result};

/// Graph output holding the head's pre-softmax scores, `[N, classes]`.
pub const LOGITS: &str = "logits";
/// Graph output holding `softmax(logits)`, `[N, classes]`.
pub const PROBABILITIES: &str = "probabilities";

const PREFIX: &str = "zoo_head";

/// Opset declared for the head when the backbone declares none for `ai.onnx`.
const DEFAULT_OPSET: i64 = 13;

/// A trained classification head. Matrices are row-major `[out, in]`, the
/// layout of `Gemm` with `transB=1`.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// `logits = weight · x + bias`, `weight` being `[classes, dim]`.
    Linear {
        weight: Vec<f32>,
        bias: Vec<f32>,
        classes: usize,
        dim: usize,
    },
    /// `logits = w2 · relu(w1 · x + b1) + b2`, `w1` being `[hidden, dim]` and `w2`
    /// `[classes, hidden]`.
    Mlp {
        w1: Vec<f32>,
        b1: Vec<f32>,
        hidden: usize,
        w2: Vec<f32>,
        b2: Vec<f32>,
        classes: usize,
        dim: usize,
    },
}

struct Dense<'h> {
    weight: &'h [f32],
    bias: &'h [f32],
    outputs: usize,
    inputs: usize,
}

impl Head {
    pub fn classes(&self) -> usize {
        match *self {
            Head::Linear { classes, .. } | Head::Mlp { classes, .. } => classes,
        }
    }

    pub fn dim(&self) -> usize {
        match *self {
            Head::Linear { dim, .. } | Head::Mlp { dim, .. } => dim,
        }
    }

    fn layers(&self) -> Vec<Dense<'_>> {
        match self {
            Head::Linear {
                weight,
                bias,
                classes,
                dim,
            } => vec![Dense::new(weight, bias, *classes, *dim)],
            Head::Mlp {
                w1,
                b1,
                hidden,
                w2,
                b2,
                classes,
                dim,
            } => vec![
                Dense::new(w1, b1, *hidden, *dim),
                Dense::new(w2, b2, *classes, *hidden),
            ],
        }
    }
}

impl<'h> Dense<'h> {
    fn new(weight: &'h [f32], bias: &'h [f32], outputs: usize, inputs: usize) -> Self {
        Self {
            weight,
            bias,
            outputs,
            inputs,
        }
    }

    fn validate(&self, layer: &str) -> Result<()> {
        let fail = |why: String| Err(OnnxError::InvalidHead(format!("{layer}: {why}")));
        if self.outputs == 0 || self.inputs == 0 {
            return fail(format!("empty {}x{} weight", self.outputs, self.inputs));
        }
        if Some(self.weight.len()) != self.outputs.checked_mul(self.inputs) {
            return fail(format!(
                "weight has {} values, expected {}x{}",
                self.weight.len(),
                self.outputs,
                self.inputs
            ));
        }
        if self.bias.len() != self.outputs {
            return fail(format!(
                "bias has {} values, expected {}",
                self.bias.len(),
                self.outputs
            ));
        }
        if !self.weight.iter().chain(self.bias).all(|v| v.is_finite()) {
            return fail("parameters contain NaN or infinity".into());
        }
        Ok(())
    }
}

/// Appends `head` to a model produced by [`crate::cut_at`], giving one standalone
/// model with outputs [`LOGITS`] and [`PROBABILITIES`]. `metadata` entries (e.g.
/// lineage) are added to the model's `metadata_props`, replacing equal keys.
pub fn append_head(
    backbone_cut: &ModelProto,
    feature: &FeatureTensor,
    head: &Head,
    metadata: &[(String, String)],
) -> Result<ModelProto> {
    let layers = head.layers();
    for (i, layer) in layers.iter().enumerate() {
        layer.validate(&format!("layer {}", i + 1))?;
    }
    let mut model = backbone_cut.clone();
    let opset = default_opset(&model);
    let ir_version = model.ir_version.unwrap_or(0);
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| OnnxError::InvalidGraph("the model has no graph".into()))?;
    let input = head_input(graph, feature, head.dim())?;

    let mut names = Names::of(graph);
    for reserved in [LOGITS, PROBABILITIES] {
        if names.contains(reserved) {
            return Err(OnnxError::InvalidGraph(format!(
                "the backbone already has a tensor or node named `{reserved}`"
            )));
        }
    }

    let params = add_layers(graph, &mut names, input, &layers, opset);
    let shape = || vec![dim_param(BATCH), dim_value(head.classes() as i64)];
    graph.output = vec![
        float_value_info(LOGITS, shape()),
        float_value_info(PROBABILITIES, shape()),
    ];
    if ir_version < 4 {
        // IR < 4 requires every initializer to also be declared as a graph input.
        let declared = params.iter().map(|t| {
            let dims = t.dims.iter().map(|&d| dim_value(d)).collect();
            float_value_info(t.name(), dims)
        });
        graph.input.extend(declared);
    }
    graph.initializer.extend(params);
    if opset.is_none() {
        model.opset_import.push(OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(DEFAULT_OPSET),
        });
    }
    set_metadata(&mut model, metadata);
    Ok(model)
}

/// Adds `Gemm(transB=1) [-> Relu -> Gemm] -> Softmax` reading `input`, and
/// returns the initializers the Gemms need.
fn add_layers(
    graph: &mut GraphProto,
    names: &mut Names,
    input: String,
    layers: &[Dense],
    opset: Option<i64>,
) -> Vec<TensorProto> {
    let mut params = Vec::new();
    let mut x = input;
    for (i, layer) in layers.iter().enumerate() {
        let scope = match layers.len() {
            1 => format!("{PREFIX}/fc"),
            _ => format!("{PREFIX}/fc{}", i + 1),
        };
        let weight = names.fresh(&format!("{scope}/weight"));
        let bias = names.fresh(&format!("{scope}/bias"));
        let last = i + 1 == layers.len();
        let out = if last {
            LOGITS.to_owned()
        } else {
            names.fresh(&format!("{scope}/output"))
        };
        let mut gemm = node("Gemm", names.fresh(&scope), &[&x, &weight, &bias], &out);
        gemm.attribute.push(int_attr("transB", 1));
        if opset.is_some_and(|v| v < 7) {
            // Before opset 7 Gemm only broadcasts the bias when asked to.
            gemm.attribute.push(int_attr("broadcast", 1));
        }
        graph.node.push(gemm);
        params.push(float_tensor(
            weight,
            &[layer.outputs, layer.inputs],
            layer.weight,
        ));
        params.push(float_tensor(bias, &[layer.outputs], layer.bias));
        x = out;
        if !last {
            let relu = names.fresh(&format!("{PREFIX}/relu{}", i + 1));
            graph
                .node
                .push(node("Relu", relu.clone(), &[x.as_str()], &relu));
            x = relu;
        }
    }
    let mut softmax = node(
        "Softmax",
        names.fresh(&format!("{PREFIX}/softmax")),
        &[LOGITS],
        PROBABILITIES,
    );
    softmax.attribute.push(int_attr("axis", 1));
    graph.node.push(softmax);
    params
}

/// The cut model's single output, checked to carry `feature` with `dim` features.
fn head_input(graph: &GraphProto, feature: &FeatureTensor, dim: usize) -> Result<String> {
    let dim = dim as i64;
    if let Some(found) = feature.dim
        && found != dim
    {
        return Err(OnnxError::InvalidHead(format!(
            "the head takes {dim} features but `{}` has {found}",
            feature.name
        )));
    }
    let [output] = graph.output.as_slice() else {
        return Err(not_cut(graph, feature));
    };
    let index = GraphIndex::new(graph);
    let flattened = index
        .producer(output.name())
        .is_some_and(|n| n.op_type() == "Flatten" && n.input.first() == Some(&feature.name));
    if output.name() != feature.name && !flattened {
        return Err(not_cut(graph, feature));
    }
    let declared = index.declared(output.name()).and_then(|t| t.shape.as_ref());
    if let Some(found) = declared.and_then(|s| s.dim.get(1)).and_then(known_dim)
        && found != dim
    {
        return Err(OnnxError::InvalidHead(format!(
            "the head takes {dim} features but the backbone outputs {found}"
        )));
    }
    Ok(output.name().to_owned())
}

fn not_cut(graph: &GraphProto, feature: &FeatureTensor) -> OnnxError {
    let outputs: Vec<_> = graph.output.iter().map(|o| o.name()).collect();
    OnnxError::InvalidGraph(format!(
        "expected a backbone from cut_at with the single output `{}`, found outputs {outputs:?}",
        feature.name
    ))
}

fn default_opset(model: &ModelProto) -> Option<i64> {
    let default = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"));
    default.map(|o| o.version())
}

fn float_tensor(name: String, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(FLOAT),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn set_metadata(model: &mut ModelProto, entries: &[(String, String)]) {
    for (key, value) in entries {
        let props = &mut model.metadata_props;
        match props.iter_mut().find(|p| p.key() == key) {
            Some(existing) => existing.value = Some(value.clone()),
            None => props.push(StringStringEntryProto {
                key: Some(key.clone()),
                value: Some(value.clone()),
            }),
        }
    }
}
