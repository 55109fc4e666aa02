//! The finished head: standardization folded into its first layer, so it runs on
//! raw backbone features and exports as plain Gemm layers.

use super::head::{Dense, HeadModel, HeadSpec};
use super::loss::softmax_rows;
use super::matrix::Matrix;

/// Per-feature mean and standard deviation of the training features. Training on
/// standardized features makes one learning rate suit any backbone's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardizer {
    pub fn fit(x: &Matrix) -> Standardizer {
        let n = x.rows.max(1) as f64;
        let mut mean = vec![0f64; x.cols];
        for i in 0..x.rows {
            for (m, &v) in mean.iter_mut().zip(x.row(i)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; x.cols];
        for i in 0..x.rows {
            for ((s, &v), m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        // Constant features (e.g. dead ReLU channels) keep scale 1 rather than
        // dividing by zero.
        let std = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 1e-6 { sd as f32 } else { 1.0 }
            })
            .collect();
        Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    pub fn apply(&self, x: &Matrix) -> Matrix {
        let mut out = x.clone();
        for i in 0..out.rows {
            for ((v, m), s) in out.row_mut(i).iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        out
    }
}

/// A trained head over raw features.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedHead {
    pub spec: HeadSpec,
    pub dim: usize,
    pub classes: usize,
    /// Weights `[inputs, outputs]`, as in training.
    pub layers: Vec<Dense>,
}

impl TrainedHead {
    /// `W·((x - μ)/σ) + b = (W/σ)·x + (b - W·(μ/σ))`: the standardization moves
    /// into the first layer's weights and bias.
    pub fn fold(spec: HeadSpec, model: &HeadModel, std: &Standardizer, classes: usize) -> Self {
        let mut layers = model.layers.clone();
        let first = &mut layers[0];
        for i in 0..first.inputs {
            let (m, s) = (std.mean[i], std.std[i]);
            let row = &mut first.w[i * first.outputs..(i + 1) * first.outputs];
            for (w, b) in row.iter_mut().zip(&mut first.b) {
                *w /= s;
                *b -= *w * m;
            }
        }
        TrainedHead {
            spec,
            dim: model.layers[0].inputs,
            classes,
            layers,
        }
    }

    pub fn logits(&self, x: &Matrix) -> Matrix {
        HeadModel {
            layers: self.layers.clone(),
            dropout: 0.0,
        }
        .logits(x)
    }

    pub fn probabilities(&self, x: &Matrix) -> Matrix {
        let mut p = self.logits(x);
        softmax_rows(&mut p);
        p
    }

    pub fn parameters(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| (l.w.len() + l.b.len()) as u64)
            .sum()
    }

    /// The layers in ONNX Gemm (`transB=1`) layout: weights `[outputs, inputs]`.
    pub fn onnx_layers(&self) -> Vec<(Vec<f32>, Vec<f32>, usize, usize)> {
        self.layers
            .iter()
            .map(|l| {
                let mut t = vec![0f32; l.w.len()];
                for i in 0..l.inputs {
                    for o in 0..l.outputs {
                        t[o * l.inputs + i] = l.w[i * l.outputs + o];
                    }
                }
                (t, l.b.clone(), l.outputs, l.inputs)
            })
            .collect()
    }

    pub fn to_onnx(&self) -> zoo_onnx::Head {
        let mut layers = self.onnx_layers().into_iter();
        let (w1, b1, out1, dim) = layers.next().expect("a head has a layer");
        match layers.next() {
            None => zoo_onnx::Head::Linear {
                weight: w1,
                bias: b1,
                classes: out1,
                dim,
            },
            Some((w2, b2, classes, hidden)) => zoo_onnx::Head::Mlp {
                w1,
                b1,
                hidden,
                w2,
                b2,
                classes,
                dim,
            },
        }
    }
}
