//! Softmax cross-entropy with label smoothing and per-class weights.

use super::matrix::Matrix;

#[derive(Debug, Clone, PartialEq)]
pub struct LossConfig {
    /// Mass spread uniformly over all classes: the target is
    /// `(1 - s) * one_hot + s / classes`.
    pub label_smoothing: f32,
    /// Weight of each class's examples (empty: all 1). The loss is the weighted
    /// mean, as PyTorch's `CrossEntropyLoss(weight=...)`.
    pub class_weights: Vec<f32>,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            label_smoothing: 0.0,
            class_weights: Vec::new(),
        }
    }
}

impl LossConfig {
    fn weight(&self, class: usize) -> f32 {
        self.class_weights.get(class).copied().unwrap_or(1.0)
    }
}

/// Replaces each row of `logits` with its softmax, in place (max-subtracted, so
/// large logits do not overflow).
pub fn softmax_rows(logits: &mut Matrix) {
    for i in 0..logits.rows {
        let row = logits.row_mut(i);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// The mean loss over the rows of `logits`, and (if `grad` is given) its gradient
/// with respect to the logits, written over `logits`' shape into `grad`.
pub fn cross_entropy(
    logits: &Matrix,
    labels: &[usize],
    cfg: &LossConfig,
    grad: Option<&mut Matrix>,
) -> f64 {
    let classes = logits.cols;
    let s = cfg.label_smoothing;
    let off = s / classes as f32;
    let on = 1.0 - s + off;
    let mut total = 0f64;
    let mut weight_sum = 0f64;
    let mut probs = vec![0f32; classes];
    let mut grad = grad;
    if let Some(g) = grad.as_deref_mut() {
        *g = Matrix::zeros(logits.rows, classes);
    }
    for (i, &y) in labels.iter().enumerate() {
        let row = logits.row(i);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f64;
        for (p, &z) in probs.iter_mut().zip(row) {
            *p = (z - max).exp();
            sum += f64::from(*p);
        }
        let log_sum = sum.ln();
        // -sum_c q_c log p_c, with log p_c = z_c - max - log_sum.
        let mut loss = 0f64;
        for (c, &z) in row.iter().enumerate() {
            let q = if c == y { on } else { off };
            if q > 0.0 {
                loss -= f64::from(q) * (f64::from(z - max) - log_sum);
            }
        }
        let w = cfg.weight(y);
        total += f64::from(w) * loss;
        weight_sum += f64::from(w);
        if let Some(g) = grad.as_deref_mut() {
            let inv = (1.0 / sum) as f32;
            for (c, gv) in g.row_mut(i).iter_mut().enumerate() {
                let q = if c == y { on } else { off };
                *gv = w * (probs[c] * inv - q);
            }
        }
    }
    if weight_sum == 0.0 {
        return 0.0;
    }
    if let Some(g) = grad {
        let scale = (1.0 / weight_sum) as f32;
        g.data.iter_mut().for_each(|v| *v *= scale);
    }
    total / weight_sum
}

/// Weights inversely proportional to class frequency, `n / (classes * n_c)`, as
/// scikit-learn's `class_weight="balanced"`.
pub fn balanced_weights(counts: &[usize]) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let k = counts.len();
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n as f32 / (k * c) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn hand_computed_losses_and_gradients() {
        // Two classes, logits (0, ln 3): p = (1/4, 3/4).
        let logits = Matrix::from_vec(2, 2, vec![0.0, 3f32.ln(), 0.0, 3f32.ln()]);
        let plain = LossConfig::default();
        let mut g = Matrix::zeros(0, 0);
        let v = cross_entropy(&logits, &[1, 0], &plain, Some(&mut g));
        // Mean of -ln(3/4) and -ln(1/4).
        assert!(close(v, (-(0.75f64).ln() - (0.25f64).ln()) / 2.0), "{v}");
        // (p - onehot) / rows.
        let want = [0.125, -0.125, -0.375, 0.375];
        assert!(
            g.data.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{:?}",
            g.data
        );

        // Smoothing 0.2 over 2 classes: targets (0.9, 0.1) for class 0.
        let smooth = LossConfig {
            label_smoothing: 0.2,
            class_weights: Vec::new(),
        };
        let one = Matrix::from_vec(1, 2, vec![0.0, 3f32.ln()]);
        let v = cross_entropy(&one, &[0], &smooth, Some(&mut g));
        let want = -0.9 * (0.25f64).ln() - 0.1 * (0.75f64).ln();
        assert!(close(v, want), "{v} vs {want}");
        assert!((g.data[0] - (0.25 - 0.9)).abs() < 1e-6 && (g.data[1] - (0.75 - 0.1)).abs() < 1e-6);

        // Weights: the weighted mean, as PyTorch's weight= argument.
        let weighted = LossConfig {
            label_smoothing: 0.0,
            class_weights: vec![1.0, 3.0],
        };
        let v = cross_entropy(&logits, &[1, 0], &weighted, Some(&mut g));
        let want = (3.0 * -(0.75f64).ln() + 1.0 * -(0.25f64).ln()) / 4.0;
        assert!(close(v, want), "{v} vs {want}");
        let want = [3.0 * 0.25 / 4.0, 3.0 * -0.25 / 4.0, -0.75 / 4.0, 0.75 / 4.0];
        assert!(
            g.data.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{:?}",
            g.data
        );
    }

    #[test]
    fn large_logits_neither_overflow_nor_lose_the_answer() {
        let mut m = Matrix::from_vec(1, 3, vec![1000.0, 999.0, -1000.0]);
        let v = cross_entropy(&m, &[1], &LossConfig::default(), None);
        let want = 1.0 + (1.0 + (-1.0f64).exp()).ln();
        assert!(close(v, want), "{v} vs {want}");
        softmax_rows(&mut m);
        assert!(m.data.iter().all(|p| p.is_finite()));
        assert!((m.data.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(m.data[0] > m.data[1] && m.data[2] == 0.0);
    }

    #[test]
    fn balanced_weights_follow_scikit_learn() {
        // n / (classes * n_c) with n = 8, 3 classes (one empty).
        let w = balanced_weights(&[6, 2, 0]);
        assert_eq!(w, [8.0 / 18.0, 8.0 / 6.0, 0.0]);
        // All weight zero: a loss of zero, not NaN.
        let cfg = LossConfig {
            label_smoothing: 0.0,
            class_weights: vec![0.0, 1.0],
        };
        let m = Matrix::from_vec(1, 2, vec![0.5, -0.5]);
        let mut g = Matrix::zeros(0, 0);
        assert_eq!(cross_entropy(&m, &[0], &cfg, Some(&mut g)), 0.0);
        assert!(g.data.iter().all(|v| *v == 0.0));
    }
}
