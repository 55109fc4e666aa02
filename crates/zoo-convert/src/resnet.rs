//! ResNet image classifiers (depths 18, 34, 50, 101, 152) as ONNX graphs:
//! `pixel_values` float32 `[batch_size, 3, height, width]` to `logits`
//! `[batch_size, classes]` and the pooled `features` `[batch_size, width]`.
//!
//! Two weight layouts: torchvision and timm (`conv1`, `bn1`, `layer1.0.conv1`,
//! `downsample.0`, `fc`; config.json `{"architecture": "resnet50", ...}`) and
//! Transformers' ResNetForImageClassification (`resnet.embedder...`,
//! `resnet.encoder.stages.S.layers.L.layer.N...`, `classifier.1`; config.json
//! `model_type: resnet`). Every BatchNorm is folded into the convolution before
//! it, in f64: `W' = W·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)`.

use serde_json::{Map, Value};

use crate::builder::{Builder, Dim, FLOAT, int_attr, ints_attr};
use crate::config::Fields;
use crate::error::Result;
use crate::weights::Weights;

pub const PIXEL_VALUES: &str = "pixel_values";
pub const LOGITS: &str = "logits";
pub const FEATURES: &str = "features";
const BATCH: &str = "batch_size";
/// PyTorch's BatchNorm2d default, used by torchvision, timm and Transformers.
const BN_EPS: f64 = 1e-5;

/// Where a checkpoint's names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// torchvision and timm: `conv1`, `layer1.0.conv1`, `fc`.
    Torchvision,
    /// Transformers: `resnet.embedder`, `resnet.encoder.stages`, `classifier.1`.
    Transformers,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResNetConfig {
    pub naming: Naming,
    /// `resnet50`, or the Transformers layer type and depths.
    pub architecture: String,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    pub bottleneck: bool,
    pub stem_width: usize,
    /// Output channels of each stage.
    pub widths: Vec<usize>,
    pub classes: usize,
    pub downsample_in_first_stage: bool,
    /// Stride on the first 1×1 of a bottleneck (ResNet v1) rather than the 3×3 (v1.5).
    pub downsample_in_bottleneck: bool,
}

impl ResNetConfig {
    pub fn feature_dim(&self) -> usize {
        *self.widths.last().expect("four stages")
    }

    /// torchvision/timm: the depth comes from `architecture`.
    pub(crate) fn from_timm(fields: &Fields, map: &Map<String, Value>) -> Result<ResNetConfig> {
        let arch = fields
            .string("architecture")?
            .unwrap_or_default()
            .to_owned();
        let (depths, bottleneck) = match arch.as_str() {
            "resnet18" => (vec![2, 2, 2, 2], false),
            "resnet34" => (vec![3, 4, 6, 3], false),
            "resnet50" => (vec![3, 4, 6, 3], true),
            "resnet101" => (vec![3, 4, 23, 3], true),
            "resnet152" => (vec![3, 8, 36, 3], true),
            other => {
                return Err(fields.bad(
                    "architecture",
                    format!(
                        "`{other}` is not supported; zoo builds resnet18, resnet34, resnet50, \
                         resnet101 and resnet152"
                    ),
                ));
            }
        };
        let expansion = if bottleneck { 4 } else { 1 };
        let classes = match map.get("num_classes") {
            None => 1000,
            Some(_) => fields.int("num_classes", 1, 1_000_000, None)? as usize,
        };
        Ok(ResNetConfig {
            naming: Naming::Torchvision,
            architecture: arch,
            depths,
            bottleneck,
            stem_width: 64,
            widths: [64, 128, 256, 512].iter().map(|w| w * expansion).collect(),
            classes,
            downsample_in_first_stage: false,
            downsample_in_bottleneck: false,
        })
    }

    /// Transformers' ResNetConfig.
    pub(crate) fn from_transformers(
        fields: &Fields,
        map: &Map<String, Value>,
    ) -> Result<ResNetConfig> {
        let depths = fields.sizes("depths", 4, 64)?;
        let widths = fields.sizes("hidden_sizes", 4, 1 << 14)?;
        let bottleneck = match fields.string("layer_type")?.unwrap_or("bottleneck") {
            "bottleneck" => true,
            "basic" => false,
            other => {
                return Err(fields.bad(
                    "layer_type",
                    format!("`{other}` is not a ResNet layer type (basic, bottleneck)"),
                ));
            }
        };
        if bottleneck && widths.iter().any(|w| w % 4 != 0) {
            return Err(fields.bad(
                "hidden_sizes",
                "bottleneck widths must be multiples of 4 (the reduction)",
            ));
        }
        if let Some(act) = fields.string("hidden_act")?
            && act != "relu"
        {
            return Err(fields.bad(
                "hidden_act",
                format!("`{act}` is not supported; ResNet uses relu"),
            ));
        }
        if map.get("num_channels").is_some() {
            fields.int("num_channels", 3, 3, None)?;
        }
        let classes = match map.get("id2label") {
            Some(Value::Object(labels)) if !labels.is_empty() => labels.len(),
            _ => fields.int("num_labels", 1, 1_000_000, Some(1000))? as usize,
        };
        let flag = |name: &str| map.get(name).and_then(Value::as_bool).unwrap_or(false);
        Ok(ResNetConfig {
            naming: Naming::Transformers,
            architecture: format!(
                "resnet ({}, depths {depths:?})",
                if bottleneck { "bottleneck" } else { "basic" }
            ),
            depths,
            bottleneck,
            stem_width: fields.int("embedding_size", 1, 1 << 14, Some(64))? as usize,
            widths,
            classes,
            downsample_in_first_stage: flag("downsample_in_first_stage"),
            downsample_in_bottleneck: flag("downsample_in_bottleneck"),
        })
    }
}

/// The names of one convolution and the BatchNorm after it.
struct ConvBn {
    conv: String,
    norm: String,
}

impl ConvBn {
    fn new(conv: String, norm: String) -> ConvBn {
        ConvBn { conv, norm }
    }
}

fn stem_names(naming: Naming) -> ConvBn {
    match naming {
        Naming::Torchvision => ConvBn::new("conv1.weight".into(), "bn1".into()),
        Naming::Transformers => ConvBn::new(
            "embedder.embedder.convolution.weight".into(),
            "embedder.embedder.normalization".into(),
        ),
    }
}

/// The convolutions of block `index` of `stage` (2 or 3) and its shortcut.
fn block_names(naming: Naming, stage: usize, index: usize, convs: usize) -> (Vec<ConvBn>, ConvBn) {
    match naming {
        Naming::Torchvision => {
            let p = format!("layer{}.{index}", stage + 1);
            let convs = (1..=convs)
                .map(|j| ConvBn::new(format!("{p}.conv{j}.weight"), format!("{p}.bn{j}")))
                .collect();
            (
                convs,
                ConvBn::new(
                    format!("{p}.downsample.0.weight"),
                    format!("{p}.downsample.1"),
                ),
            )
        }
        Naming::Transformers => {
            let p = format!("encoder.stages.{stage}.layers.{index}");
            let convs = (0..convs)
                .map(|j| {
                    ConvBn::new(
                        format!("{p}.layer.{j}.convolution.weight"),
                        format!("{p}.layer.{j}.normalization"),
                    )
                })
                .collect();
            (
                convs,
                ConvBn::new(
                    format!("{p}.shortcut.convolution.weight"),
                    format!("{p}.shortcut.normalization"),
                ),
            )
        }
    }
}

struct Net<'a, 'c> {
    b: Builder,
    config: &'a ResNetConfig,
    weights: &'a Weights<'c>,
}

/// Builds the classifier graph; returns it with the parameter count.
pub fn build(
    config: &ResNetConfig,
    weights: &Weights,
) -> Result<(zoo_onnx::proto::GraphProto, u64)> {
    let mut net = Net {
        b: Builder::new(&format!("zoo-convert {}", config.architecture)),
        config,
        weights,
    };
    let image = [
        Dim::Named(BATCH),
        Dim::Fixed(3),
        Dim::Named("height"),
        Dim::Named("width"),
    ];
    net.b.input(PIXEL_VALUES, FLOAT, &image);

    let stem = stem_names(config.naming);
    let mut x = net.conv_bn("/stem", &stem, PIXEL_VALUES, 3, config.stem_width, 7, 2)?;
    x = net.b.op("/stem", "Relu", &[&x], vec![]);
    let pool = vec![
        ints_attr("kernel_shape", &[3, 3]),
        ints_attr("strides", &[2, 2]),
        ints_attr("pads", &[1, 1, 1, 1]),
    ];
    x = net.b.op("/stem", "MaxPool", &[&x], pool);

    let mut channels = config.stem_width;
    for (stage, &depth) in config.depths.iter().enumerate() {
        for index in 0..depth {
            // The first block of each stage halves the resolution, but for the
            // first stage (after the max pool) unless the config says so.
            let downsamples = index == 0 && (stage > 0 || config.downsample_in_first_stage);
            let first_stride = if downsamples { 2 } else { 1 };
            x = net.block(stage, index, &x, channels, first_stride)?;
            channels = config.widths[stage];
        }
    }
    let s = "/head";
    let pooled = net.b.op(s, "GlobalAveragePool", &[&x], vec![]);
    let features = net
        .b
        .op(s, "Flatten", &[&pooled], vec![int_attr("axis", 1)]);
    let (weight_name, bias_name) = match config.naming {
        Naming::Torchvision => ("fc.weight", "fc.bias"),
        Naming::Transformers => ("classifier.1.weight", "classifier.1.bias"),
    };
    let dim = config.feature_dim();
    let (weight, bias) = match config.naming {
        Naming::Torchvision => (
            weights.get(weight_name, &[config.classes, dim])?,
            weights.get(bias_name, &[config.classes])?,
        ),
        Naming::Transformers => (
            weights.get_unprefixed(weight_name, &[config.classes, dim])?,
            weights.get_unprefixed(bias_name, &[config.classes])?,
        ),
    };
    let weight = net.b.weight(weight_name, &[config.classes, dim], weight);
    let bias = net.b.weight(bias_name, &[config.classes], bias);
    let logits = net.b.op(
        s,
        "Gemm",
        &[&features, &weight, &bias],
        vec![int_attr("transB", 1)],
    );
    net.b.rename_output(&features, FEATURES);
    net.b.rename_output(&logits, LOGITS);
    let batch = Dim::Named(BATCH);
    net.b.output(
        LOGITS,
        FLOAT,
        &[batch.clone(), Dim::Fixed(config.classes as i64)],
    );
    net.b
        .output(FEATURES, FLOAT, &[batch, Dim::Fixed(dim as i64)]);
    weights.check_all_used()?;
    let parameters = weights.parameter_count();
    Ok((net.b.finish(), parameters))
}

impl Net<'_, '_> {
    /// One residual block: basic (3×3, 3×3) or bottleneck (1×1, 3×3, 1×1), with a
    /// projection shortcut where the shape changes.
    fn block(
        &mut self,
        stage: usize,
        index: usize,
        x: &str,
        inputs: usize,
        stride: usize,
    ) -> Result<String> {
        let c = self.config;
        let out = c.widths[stage];
        let s = format!("/stage{stage}/block{index}");
        let (convs, shortcut) =
            block_names(c.naming, stage, index, if c.bottleneck { 3 } else { 2 });
        let mut y = x.to_owned();
        let plan: Vec<(usize, usize, usize, usize)> = if c.bottleneck {
            let mid = out / 4;
            let (s1, s3) = if c.downsample_in_bottleneck {
                (stride, 1)
            } else {
                (1, stride)
            };
            vec![(inputs, mid, 1, s1), (mid, mid, 3, s3), (mid, out, 1, 1)]
        } else {
            vec![(inputs, out, 3, stride), (out, out, 3, 1)]
        };
        for (j, (names, &(cin, cout, k, st))) in convs.iter().zip(&plan).enumerate() {
            y = self.conv_bn(&s, names, &y, cin, cout, k, st)?;
            if j + 1 < plan.len() {
                y = self.b.op(&s, "Relu", &[&y], vec![]);
            }
        }
        let residual = if inputs != out || stride != 1 {
            self.conv_bn(&s, &shortcut, x, inputs, out, 1, stride)?
        } else {
            x.to_owned()
        };
        let sum = self.b.op(&s, "Add", &[&y, &residual], vec![]);
        Ok(self.b.op(&s, "Relu", &[&sum], vec![]))
    }

    /// A bias-free k×k convolution (padding k/2) with the BatchNorm after it
    /// folded in.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &mut self,
        s: &str,
        names: &ConvBn,
        x: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        stride: usize,
    ) -> Result<String> {
        let w = self.weights;
        let conv = w.get(&names.conv, &[outputs, inputs, kernel, kernel])?;
        let gamma = w.get(&format!("{}.weight", names.norm), &[outputs])?;
        let beta = w.get(&format!("{}.bias", names.norm), &[outputs])?;
        let mean = w.get(&format!("{}.running_mean", names.norm), &[outputs])?;
        let var = w.get(&format!("{}.running_var", names.norm), &[outputs])?;
        let (weight, bias) = fold(&conv, &gamma, &beta, &mean, &var, BN_EPS);
        let weight = self
            .b
            .weight(&names.conv, &[outputs, inputs, kernel, kernel], weight);
        let bias = self
            .b
            .weight(&format!("{}.folded_bias", names.norm), &[outputs], bias);
        let pad = (kernel / 2) as i64;
        let attrs = vec![
            ints_attr("kernel_shape", &[kernel as i64, kernel as i64]),
            ints_attr("strides", &[stride as i64, stride as i64]),
            ints_attr("pads", &[pad, pad, pad, pad]),
        ];
        Ok(self.b.op(s, "Conv", &[x, &weight, &bias], attrs))
    }
}

fn floats(bytes: &[u8]) -> impl Iterator<Item = f64> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// BatchNorm folded into the convolution before it, computed in f64.
fn fold(
    conv: &[u8],
    gamma: &[u8],
    beta: &[u8],
    mean: &[u8],
    var: &[u8],
    eps: f64,
) -> (Vec<u8>, Vec<u8>) {
    let scale: Vec<f64> = floats(gamma)
        .zip(floats(var))
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let per_output = conv.len() / 4 / scale.len();
    let weight = floats(conv)
        .enumerate()
        .flat_map(|(i, w)| ((w * scale[i / per_output]) as f32).to_le_bytes())
        .collect();
    let bias = floats(beta)
        .zip(floats(mean))
        .zip(&scale)
        .flat_map(|((b, m), s)| ((b - m * s) as f32).to_le_bytes())
        .collect();
    (weight, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// conv(x)·γ/√(σ²+ε) + β − μ·γ/√(σ²+ε) on one value per channel.
    #[test]
    fn folding_matches_batchnorm_after_the_convolution() {
        let conv = [0.5f32, -1.0, 2.0, 0.25];
        let (gamma, beta, mean, var) =
            ([2.0f32, 0.5], [0.1f32, -0.3], [0.4f32, 1.5], [0.25f32, 4.0]);
        let (w, b) = fold(
            &bytes(&conv),
            &bytes(&gamma),
            &bytes(&beta),
            &bytes(&mean),
            &bytes(&var),
            1e-5,
        );
        let w: Vec<f64> = floats(&w).collect();
        let b: Vec<f64> = floats(&b).collect();
        let x = [3.0f64, -2.0];
        for out in 0..2 {
            let conv_out: f64 = (0..2).map(|i| f64::from(conv[out * 2 + i]) * x[i]).sum();
            let bn = (conv_out - f64::from(mean[out])) / (f64::from(var[out]) + 1e-5).sqrt()
                * f64::from(gamma[out])
                + f64::from(beta[out]);
            let folded: f64 = (0..2).map(|i| w[out * 2 + i] * x[i]).sum::<f64>() + b[out];
            assert!((bn - folded).abs() < 1e-5, "{bn} vs {folded}");
        }
    }
}
