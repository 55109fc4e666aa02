//! AdamW (decoupled weight decay) and the learning-rate schedule.

/// Linear warmup to the peak rate, then cosine decay to zero at the last step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub peak: f32,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl Schedule {
    /// The rate for step `t` (0-based).
    pub fn at(&self, t: usize) -> f32 {
        if t < self.warmup_steps {
            return self.peak * (t + 1) as f32 / self.warmup_steps as f32;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((t - self.warmup_steps) as f32 / span as f32).min(1.0);
        self.peak * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
    }
}

/// AdamW state for one parameter tensor.
#[derive(Debug, Clone)]
pub struct AdamW {
    m: Vec<f32>,
    v: Vec<f32>,
    /// Decay applies to weight matrices only, never to biases.
    decay: bool,
}

pub const BETA1: f32 = 0.9;
pub const BETA2: f32 = 0.999;
pub const EPS: f32 = 1e-8;

impl AdamW {
    pub fn new(len: usize, decay: bool) -> AdamW {
        AdamW {
            m: vec![0.0; len],
            v: vec![0.0; len],
            decay,
        }
    }

    /// One update at step `t` (1-based) with rate `lr`.
    pub fn step(&mut self, params: &mut [f32], grad: &[f32], t: i32, lr: f32, weight_decay: f32) {
        let c1 = 1.0 - BETA1.powi(t);
        let c2 = 1.0 - BETA2.powi(t);
        let shrink = if self.decay {
            1.0 - lr * weight_decay
        } else {
            1.0
        };
        let step = lr / c1;
        let c2_sqrt = c2.sqrt();
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *p = *p * shrink - step * *m / ((*v).sqrt() / c2_sqrt + EPS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        let s = Schedule {
            peak: 1.0,
            warmup_steps: 10,
            total_steps: 110,
        };
        assert!((s.at(0) - 0.1).abs() < 1e-6);
        assert!((s.at(9) - 1.0).abs() < 1e-6);
        assert!((s.at(10) - 1.0).abs() < 1e-6);
        assert!((s.at(60) - 0.5).abs() < 1e-6);
        assert!(s.at(109) < 0.01);
    }

    #[test]
    fn adamw_minimises_a_quadratic() {
        let mut p = vec![5.0f32, -3.0];
        let mut opt = AdamW::new(2, false);
        for t in 1..=2000 {
            let g: Vec<f32> = p.iter().map(|x| 2.0 * x).collect();
            opt.step(&mut p, &g, t, 0.05, 0.0);
        }
        assert!(p.iter().all(|x| x.abs() < 1e-2), "{p:?}");
    }

    #[test]
    fn adamw_first_step_and_decoupled_decay() {
        // Bias correction makes the first step exactly lr in the gradient's sign.
        let mut p = vec![1.0f32, 1.0];
        AdamW::new(2, false).step(&mut p, &[0.5, -2.0], 1, 0.1, 0.3);
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] - 1.1).abs() < 1e-6,
            "{p:?}"
        );
        // Decay shrinks weights by lr * decay even without a gradient...
        let mut w = vec![2.0f32, -4.0];
        AdamW::new(2, true).step(&mut w, &[0.0, 0.0], 1, 0.1, 0.5);
        assert!(
            (w[0] - 1.9).abs() < 1e-6 && (w[1] + 3.8).abs() < 1e-6,
            "{w:?}"
        );
        // ...and never touches parameters built without it (biases).
        let mut b = vec![2.0f32];
        AdamW::new(1, false).step(&mut b, &[0.0], 1, 0.1, 0.5);
        assert_eq!(b, [2.0]);
    }

    #[test]
    fn schedule_edge_cases() {
        // All warmup: linear to the peak.
        let s = Schedule {
            peak: 2.0,
            warmup_steps: 4,
            total_steps: 4,
        };
        let rates: Vec<f32> = (0..4).map(|t| s.at(t)).collect();
        assert_eq!(rates, [0.5, 1.0, 1.5, 2.0]);
        // Past the end stays at zero rather than rising again.
        let s = Schedule {
            peak: 1.0,
            warmup_steps: 1,
            total_steps: 11,
        };
        assert!(s.at(11).abs() < 1e-6 && s.at(50).abs() < 1e-6);
        let decaying: Vec<f32> = (1..11).map(|t| s.at(t)).collect();
        assert!(decaying.windows(2).all(|w| w[1] < w[0]), "{decaying:?}");
    }
}
