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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Features far from standardized (offset 50, scale 20), one of them constant.
    fn features(rows: usize, dim: usize, seed: u64) -> Matrix {
        let mut rng = Rng::new(seed);
        let mut data = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            for j in 0..dim {
                data.push(if j == 1 {
                    7.5
                } else {
                    50.0 + j as f32 + 20.0 * rng.normal()
                });
            }
        }
        Matrix::from_vec(rows, dim, data)
    }

    fn trained_like(spec: HeadSpec, dim: usize, classes: usize) -> HeadModel {
        let mut rng = Rng::new(4);
        let mut model = HeadModel::init(spec, dim, classes, &mut rng);
        for l in &mut model.layers {
            l.w.iter_mut().for_each(|w| *w += 0.3 * rng.normal());
            l.b.iter_mut().for_each(|b| *b = 0.2 * rng.normal());
        }
        model
    }

    const SPECS: [HeadSpec; 2] = [
        HeadSpec::Linear,
        HeadSpec::Mlp {
            hidden: 12,
            dropout: 0.3,
        },
    ];

    #[test]
    fn standardizer_centres_and_scales() {
        let x = features(500, 4, 1);
        let std = Standardizer::fit(&x);
        assert_eq!(std.std[1], 1.0, "a constant feature keeps scale 1");
        assert_eq!(std.mean[1], 7.5);
        let z = std.apply(&x);
        for j in 0..4 {
            let col: Vec<f64> = (0..z.rows).map(|i| f64::from(z.row(i)[j])).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(mean.abs() < 1e-4, "feature {j}: mean {mean}");
            let want = if j == 1 { 0.0 } else { 1.0 };
            assert!((var - want).abs() < 1e-4, "feature {j}: variance {var}");
        }
        // Population statistics, by hand.
        let small = Matrix::from_vec(2, 1, vec![1.0, 3.0]);
        let s = Standardizer::fit(&small);
        assert_eq!((s.mean[0], s.std[0]), (2.0, 1.0));
    }

    #[test]
    fn folding_gives_the_logits_of_standardize_then_model() {
        let dim = 6;
        let train = features(64, dim, 2);
        let std = Standardizer::fit(&train);
        // Other data than the statistics came from.
        let x = features(40, dim, 3);
        for spec in SPECS {
            let model = trained_like(spec, dim, 3);
            let expected = model.logits(&std.apply(&x));
            let head = TrainedHead::fold(spec, &model, &std, 3);
            assert_eq!((head.spec, head.dim, head.classes), (spec, dim, 3));
            let got = head.logits(&x);
            assert_eq!((got.rows, got.cols), (40, 3));
            let mut spread = 0f32;
            for (a, b) in expected.data.iter().zip(&got.data) {
                assert!(
                    (a - b).abs() < 1e-4 * a.abs().max(1.0),
                    "{spec:?}: {a} vs {b}"
                );
                spread = spread.max(a.abs());
            }
            assert!(spread > 1.0, "{spec:?}: logits too small to tell anything");
            // Not the unfolded model on raw features.
            let raw = model.logits(&x);
            assert!(
                raw.data
                    .iter()
                    .zip(&got.data)
                    .any(|(a, b)| (a - b).abs() > 1.0)
            );
            // Only the first layer changes.
            assert_eq!(head.layers[1..], model.layers[1..]);
        }
    }

    #[test]
    fn probabilities_and_onnx_layout() {
        let x = features(9, 5, 5);
        let std = Standardizer::fit(&x);
        for spec in SPECS {
            let head = TrainedHead::fold(spec, &trained_like(spec, 5, 4), &std, 4);
            let p = head.probabilities(&x);
            let logits = head.logits(&x);
            for i in 0..p.rows {
                assert!((p.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-5);
                let best = |r: &[f32]| super::super::argmax(r);
                assert_eq!(best(p.row(i)), best(logits.row(i)));
            }
            // Gemm with transB=1: y = x · Wᵀ + b, W stored [outputs, inputs].
            let mut h: Vec<Vec<f32>> = (0..x.rows).map(|i| x.row(i).to_vec()).collect();
            let layers = head.onnx_layers();
            for (li, (w, b, outs, ins)) in layers.iter().enumerate() {
                assert_eq!((w.len(), b.len()), (outs * ins, *outs));
                h = (h.iter())
                    .map(|row| {
                        (0..*outs)
                            .map(|o| {
                                let v =
                                    b[o] + (0..*ins).map(|i| w[o * ins + i] * row[i]).sum::<f32>();
                                if li + 1 < layers.len() { v.max(0.0) } else { v }
                            })
                            .collect()
                    })
                    .collect();
            }
            let flat: Vec<f32> = h.concat();
            for (a, b) in flat.iter().zip(&logits.data) {
                assert!(
                    (a - b).abs() < 1e-4 * a.abs().max(1.0),
                    "{spec:?}: {a} vs {b}"
                );
            }
            let params: usize = layers.iter().map(|(w, b, _, _)| w.len() + b.len()).sum();
            assert_eq!(head.parameters(), params as u64);
            match (spec, head.to_onnx()) {
                (HeadSpec::Linear, zoo_onnx::Head::Linear { classes, dim, .. }) => {
                    assert_eq!((classes, dim), (4, 5));
                }
                (
                    HeadSpec::Mlp { .. },
                    zoo_onnx::Head::Mlp {
                        hidden,
                        classes,
                        dim,
                        ..
                    },
                ) => {
                    assert_eq!((hidden, classes, dim), (12, 4, 5));
                }
                (spec, _) => panic!("{spec:?} exported as the other kind"),
            }
        }
    }
}
