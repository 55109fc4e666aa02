//! The head networks: forward pass, and the backward pass by hand.
//!
//! Weights are stored `[inputs, outputs]` (the transpose of ONNX's Gemm
//! `transB=1` layout) so the forward product and both gradient products stream
//! along contiguous rows; export transposes once.

use super::loss::{LossConfig, cross_entropy};
use super::matrix::{Matrix, View, gemm};
use crate::rng::Rng;

/// Which head to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeadSpec {
    /// Softmax regression on the features.
    Linear,
    /// One hidden layer with ReLU; `dropout` is the drop probability after it.
    Mlp { hidden: usize, dropout: f32 },
}

/// One fully connected layer, `y = x · w + b` with `w` stored `[inputs, outputs]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Dense {
    fn zeros(inputs: usize, outputs: usize) -> Dense {
        Dense {
            inputs,
            outputs,
            w: vec![0.0; inputs * outputs],
            b: vec![0.0; outputs],
        }
    }

    /// `x · w + b` for a batch.
    pub fn forward(&self, x: &Matrix) -> Matrix {
        let mut y = Matrix::zeros(x.rows, self.outputs);
        for i in 0..x.rows {
            y.row_mut(i).copy_from_slice(&self.b);
        }
        gemm(
            x.rows,
            self.outputs,
            self.inputs,
            View::normal(&x.data, x.cols),
            View::normal(&self.w, self.outputs),
            &mut y.data,
        );
        y
    }
}

/// A head being trained: one layer (linear) or two (MLP).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadModel {
    pub layers: Vec<Dense>,
    pub dropout: f32,
}

/// Gradients, shaped as the model's layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    pub layers: Vec<Dense>,
}

impl HeadModel {
    /// Linear heads start at zero (the problem is convex); MLP weights are drawn
    /// He-normal for the ReLU layer and Glorot-normal for the output layer.
    pub fn init(spec: HeadSpec, dim: usize, classes: usize, rng: &mut Rng) -> HeadModel {
        match spec {
            HeadSpec::Linear => HeadModel {
                layers: vec![Dense::zeros(dim, classes)],
                dropout: 0.0,
            },
            HeadSpec::Mlp { hidden, dropout } => {
                let mut l1 = Dense::zeros(dim, hidden);
                let mut l2 = Dense::zeros(hidden, classes);
                let s1 = (2.0 / dim as f32).sqrt();
                l1.w.iter_mut().for_each(|w| *w = rng.normal() * s1);
                let s2 = (2.0 / (hidden + classes) as f32).sqrt();
                l2.w.iter_mut().for_each(|w| *w = rng.normal() * s2);
                HeadModel {
                    layers: vec![l1, l2],
                    dropout,
                }
            }
        }
    }

    pub fn zero_grads(&self) -> Grads {
        Grads {
            layers: (self.layers.iter())
                .map(|l| Dense::zeros(l.inputs, l.outputs))
                .collect(),
        }
    }

    /// Logits without dropout.
    pub fn logits(&self, x: &Matrix) -> Matrix {
        let mut h = self.layers[0].forward(x);
        for layer in &self.layers[1..] {
            h.data.iter_mut().for_each(|v| *v = v.max(0.0));
            h = layer.forward(&h);
        }
        h
    }

    /// Mean loss over the batch, with gradients written into `grads`. Dropout is
    /// applied when `dropout_rng` is given and the head has a hidden layer.
    pub fn loss_and_grad(
        &self,
        x: &Matrix,
        labels: &[usize],
        loss: &LossConfig,
        dropout_rng: Option<&mut Rng>,
        grads: &mut Grads,
    ) -> f64 {
        let mut dlogits = Matrix::zeros(0, 0);
        match self.layers.as_slice() {
            [only] => {
                let logits = only.forward(x);
                let value = cross_entropy(&logits, labels, loss, Some(&mut dlogits));
                dense_backward(x, &dlogits, &mut grads.layers[0]);
                value
            }
            [l1, l2] => {
                let pre = l1.forward(x);
                let mut h = pre.clone();
                // `keep[i]` is the factor the backward pass multiplies by: 0 where
                // ReLU or dropout zeroed the unit, 1/(1-p) where it survived.
                let mut keep = vec![1f32; h.data.len()];
                let p = self.dropout;
                let scale = 1.0 / (1.0 - p);
                let mut rng = dropout_rng.filter(|_| p > 0.0);
                for (v, k) in h.data.iter_mut().zip(&mut keep) {
                    let dropped = rng.as_deref_mut().is_some_and(|r| r.next_f32() < p);
                    if *v <= 0.0 || dropped {
                        *v = 0.0;
                        *k = 0.0;
                    } else if rng.is_some() {
                        *v *= scale;
                        *k = scale;
                    }
                }
                let logits = l2.forward(&h);
                let value = cross_entropy(&logits, labels, loss, Some(&mut dlogits));
                let (g1, g2) = grads.layers.split_at_mut(1);
                dense_backward(&h, &dlogits, &mut g2[0]);
                let mut dh = Matrix::zeros(x.rows, l1.outputs);
                gemm(
                    x.rows,
                    l1.outputs,
                    l2.outputs,
                    View::normal(&dlogits.data, dlogits.cols),
                    View::transposed(&l2.w, l2.outputs),
                    &mut dh.data,
                );
                dh.data.iter_mut().zip(&keep).for_each(|(d, k)| *d *= k);
                dense_backward(x, &dh, &mut g1[0]);
                value
            }
            _ => unreachable!("heads have one or two layers"),
        }
    }
}

/// Gradients of a dense layer given its input `x` and the gradient `dy` of its
/// output: `dw = xᵀ · dy`, `db = Σ rows of dy`. Overwrites `g`.
fn dense_backward(x: &Matrix, dy: &Matrix, g: &mut Dense) {
    g.w.iter_mut().for_each(|v| *v = 0.0);
    gemm(
        g.inputs,
        g.outputs,
        x.rows,
        View::transposed(&x.data, x.cols),
        View::normal(&dy.data, dy.cols),
        &mut g.w,
    );
    g.b.iter_mut().for_each(|v| *v = 0.0);
    for i in 0..dy.rows {
        for (b, d) in g.b.iter_mut().zip(dy.row(i)) {
            *b += d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small batch with every class present, and non-trivial weights.
    fn problem(spec: HeadSpec) -> (HeadModel, Matrix, Vec<usize>, LossConfig) {
        let mut rng = Rng::new(7);
        let (n, dim, classes) = (6, 5, 3);
        let mut model = HeadModel::init(spec, dim, classes, &mut rng);
        // Linear heads start at zero; move them off it so every path is exercised.
        for l in &mut model.layers {
            l.w.iter_mut().for_each(|w| *w += 0.3 * rng.normal());
            l.b.iter_mut().for_each(|b| *b = 0.1 * rng.normal());
        }
        let x = Matrix::from_vec(n, dim, (0..n * dim).map(|_| rng.normal()).collect());
        let y = vec![0, 1, 2, 2, 1, 0];
        let loss = LossConfig {
            label_smoothing: 0.1,
            class_weights: vec![0.5, 1.0, 2.0],
        };
        (model, x, y, loss)
    }

    /// Every analytic gradient against a central finite difference of the loss.
    fn check(spec: HeadSpec) {
        let (model, x, y, loss) = problem(spec);
        let mut grads = model.zero_grads();
        model.loss_and_grad(&x, &y, &loss, None, &mut grads);
        let eps = 1e-2f32;
        let loss_at = |m: &HeadModel| {
            let mut g = m.zero_grads();
            m.loss_and_grad(&x, &y, &loss, None, &mut g)
        };
        let mut checked = 0;
        for (li, layer) in model.layers.iter().enumerate() {
            for (is_bias, len) in [(false, layer.w.len()), (true, layer.b.len())] {
                for i in 0..len {
                    let nudge = |d: f32| {
                        let mut m = model.clone();
                        let p = if is_bias {
                            &mut m.layers[li].b[i]
                        } else {
                            &mut m.layers[li].w[i]
                        };
                        *p += d;
                        loss_at(&m)
                    };
                    let numeric = (nudge(eps) - nudge(-eps)) / (2.0 * eps as f64);
                    let g = &grads.layers[li];
                    let analytic = if is_bias { g.b[i] } else { g.w[i] } as f64;
                    let err = (numeric - analytic).abs();
                    assert!(
                        err <= 2e-3 + 2e-2 * numeric.abs().max(analytic.abs()),
                        "{spec:?} layer {li} {} {i}: analytic {analytic}, numeric {numeric}",
                        if is_bias { "bias" } else { "weight" }
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 15);
    }

    #[test]
    fn linear_gradients_match_finite_differences() {
        check(HeadSpec::Linear);
    }

    #[test]
    fn mlp_gradients_match_finite_differences() {
        check(HeadSpec::Mlp {
            hidden: 4,
            dropout: 0.0,
        });
    }

    #[test]
    fn dropout_changes_the_loss_only_when_asked() {
        let spec = HeadSpec::Mlp {
            hidden: 8,
            dropout: 0.5,
        };
        let (model, x, y, loss) = problem(spec);
        let mut g = model.zero_grads();
        let plain = model.loss_and_grad(&x, &y, &loss, None, &mut g);
        let again = model.loss_and_grad(&x, &y, &loss, None, &mut g);
        assert_eq!(plain, again, "no rng, no dropout: deterministic");
        let dropped = model.loss_and_grad(&x, &y, &loss, Some(&mut Rng::new(1)), &mut g);
        assert_ne!(plain, dropped);
    }

    /// The loss computed independently, all in f64: `params[l]` is layer l's
    /// weights then biases; `keep` multiplies the hidden units after ReLU
    /// (dropout's mask and scale), when given.
    fn reference_loss(
        model: &HeadModel,
        params: &[Vec<f64>],
        x: &Matrix,
        y: &[usize],
        loss: &LossConfig,
        keep: Option<&[f64]>,
    ) -> f64 {
        let dense = |l: usize, input: &[Vec<f64>]| -> Vec<Vec<f64>> {
            let (ins, outs) = (model.layers[l].inputs, model.layers[l].outputs);
            let (w, b) = params[l].split_at(ins * outs);
            (input.iter())
                .map(|row| {
                    (0..outs)
                        .map(|o| b[o] + (0..ins).map(|i| row[i] * w[i * outs + o]).sum::<f64>())
                        .collect()
                })
                .collect()
        };
        let input: Vec<Vec<f64>> = (0..x.rows)
            .map(|r| x.row(r).iter().map(|&v| f64::from(v)).collect())
            .collect();
        let mut h = dense(0, &input);
        if model.layers.len() == 2 {
            let width = model.layers[0].outputs;
            for (r, row) in h.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = v.max(0.0) * keep.map_or(1.0, |k| k[r * width + j]);
                }
            }
            h = dense(1, &h);
        }
        let classes = h[0].len() as f64;
        let s = f64::from(loss.label_smoothing);
        let (mut total, mut weights) = (0.0, 0.0);
        for (z, &label) in h.iter().zip(y) {
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            let nll: f64 = (z.iter().enumerate())
                .map(|(c, v)| {
                    let q = s / classes + if c == label { 1.0 - s } else { 0.0 };
                    -q * (v - max - log_sum)
                })
                .sum();
            let w = f64::from(loss.class_weights[label]);
            total += w * nll;
            weights += w;
        }
        total / weights
    }

    /// Analytic gradients against central differences of the f64 reference loss,
    /// with a step small enough that no ReLU changes side.
    fn check_against_reference(spec: HeadSpec, dropout: Option<u64>) {
        let (model, x, y, loss) = problem(spec);
        let mut params: Vec<Vec<f64>> = (model.layers.iter())
            .map(|l| l.w.iter().chain(&l.b).map(|&v| f64::from(v)).collect())
            .collect();
        let keep: Option<Vec<f64>> = dropout.map(|seed| {
            let mut r = Rng::new(seed);
            let p = model.dropout;
            (0..x.rows * model.layers[0].outputs)
                .map(|_| {
                    if r.next_f32() < p {
                        0.0
                    } else {
                        1.0 / (1.0 - f64::from(p))
                    }
                })
                .collect()
        });
        if let Some(k) = &keep {
            assert!(
                k.contains(&0.0) && k.iter().any(|&v| v > 1.0),
                "a mask that drops some"
            );
        }
        let mut grads = model.zero_grads();
        let value = model.loss_and_grad(&x, &y, &loss, dropout.map(Rng::new).as_mut(), &mut grads);
        let at = |p: &[Vec<f64>]| reference_loss(&model, p, &x, &y, &loss, keep.as_deref());
        let reference = at(&params);
        assert!(
            (value - reference).abs() < 1e-5 * reference.max(1.0),
            "{spec:?}: loss {value} vs reference {reference}"
        );
        let eps = 1e-6;
        let mut worst = 0f64;
        for (li, g) in grads.layers.iter().enumerate() {
            let analytic: Vec<f64> = g.w.iter().chain(&g.b).map(|&v| f64::from(v)).collect();
            for (i, &a) in analytic.iter().enumerate() {
                let orig = params[li][i];
                params[li][i] = orig + eps;
                let up = at(&params);
                params[li][i] = orig - eps;
                let down = at(&params);
                params[li][i] = orig;
                let numeric = (up - down) / (2.0 * eps);
                let err = (numeric - a).abs();
                let rel = err / numeric.abs().max(a.abs()).max(1e-12);
                assert!(
                    err < 1e-4 || rel < 1e-2,
                    "{spec:?} layer {li} parameter {i}: analytic {a}, numeric {numeric}"
                );
                worst = worst.max(err);
            }
        }
        // Not vacuous: some gradients are far from zero.
        let largest = (grads.layers.iter())
            .flat_map(|g| g.w.iter().chain(&g.b))
            .fold(0f32, |m, v| m.max(v.abs()));
        assert!(largest > 1e-2, "{spec:?}: largest gradient {largest}");
        assert!(worst < 1e-4, "{spec:?}: worst absolute error {worst}");
    }

    #[test]
    fn linear_gradients_match_an_f64_reference() {
        check_against_reference(HeadSpec::Linear, None);
    }

    #[test]
    fn mlp_gradients_match_an_f64_reference() {
        check_against_reference(
            HeadSpec::Mlp {
                hidden: 4,
                dropout: 0.0,
            },
            None,
        );
    }

    #[test]
    fn mlp_gradients_through_dropout_match_an_f64_reference() {
        check_against_reference(
            HeadSpec::Mlp {
                hidden: 6,
                dropout: 0.4,
            },
            Some(3),
        );
    }

    #[test]
    fn gradients_are_overwritten_not_accumulated() {
        let spec = HeadSpec::Mlp {
            hidden: 4,
            dropout: 0.0,
        };
        let (model, x, y, loss) = problem(spec);
        let mut once = model.zero_grads();
        model.loss_and_grad(&x, &y, &loss, None, &mut once);
        let mut twice = model.zero_grads();
        model.loss_and_grad(&x, &y, &loss, None, &mut twice);
        model.loss_and_grad(&x, &y, &loss, None, &mut twice);
        assert_eq!(once, twice);
        // And logits() is the forward pass the loss saw.
        let from_logits = cross_entropy(&model.logits(&x), &y, &loss, None);
        let from_grad = model.loss_and_grad(&x, &y, &loss, None, &mut once);
        assert_eq!(from_logits, from_grad);
    }

    #[test]
    fn initialisation_follows_the_spec() {
        let mut rng = Rng::new(0);
        let linear = HeadModel::init(HeadSpec::Linear, 5, 3, &mut rng);
        assert_eq!(linear.layers.len(), 1);
        assert_eq!((linear.layers[0].inputs, linear.layers[0].outputs), (5, 3));
        assert!(linear.layers[0].w.iter().all(|&w| w == 0.0));
        let spec = HeadSpec::Mlp {
            hidden: 200,
            dropout: 0.25,
        };
        let mlp = HeadModel::init(spec, 50, 3, &mut rng);
        assert_eq!(mlp.dropout, 0.25);
        let shapes: Vec<(usize, usize, usize, usize)> = (mlp.layers.iter())
            .map(|l| (l.inputs, l.outputs, l.w.len(), l.b.len()))
            .collect();
        assert_eq!(shapes, [(50, 200, 10_000, 200), (200, 3, 600, 3)]);
        // He-normal: variance 2 / fan_in.
        let w = &mlp.layers[0].w;
        let var = w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((var - 2.0 / 50.0).abs() < 0.1 * 2.0 / 50.0, "{var}");
        assert!(mlp.layers.iter().all(|l| l.b.iter().all(|&b| b == 0.0)));
    }
}
