//! Head training: mini-batch AdamW on standardized features, a warmup-then-cosine
//! learning rate, early stopping on validation loss (keeping the best weights),
//! everything driven by one seeded PRNG.

mod head;
mod loss;
mod matrix;
mod optim;
mod trained;

use serde::Serialize;

use crate::error::{FinetuneError, Result};
use crate::rng::Rng;

pub use head::{Dense, Grads, HeadModel, HeadSpec};
pub use loss::{LossConfig, balanced_weights, cross_entropy, softmax_rows};
pub use matrix::Matrix;
pub use optim::{AdamW, Schedule};
pub use trained::{Standardizer, TrainedHead};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// Every example counts the same.
    Uniform,
    /// Classes weighted inversely to their frequency in the training split.
    Balanced,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub head: HeadSpec,
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f32,
    pub batch_size: usize,
    /// Decoupled (AdamW) decay of the weight matrices.
    pub weight_decay: f32,
    pub label_smoothing: f32,
    pub class_weights: ClassWeights,
    /// Fraction of all steps spent warming the rate up linearly.
    pub warmup: f32,
    /// Stop after this many epochs without a lower validation loss.
    pub patience: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            head: HeadSpec::Linear,
            epochs: 20,
            lr: 1e-3,
            batch_size: 32,
            weight_decay: 1e-2,
            label_smoothing: 0.0,
            class_weights: ClassWeights::Uniform,
            warmup: 0.05,
            patience: 5,
            seed: 0,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(FinetuneError::Config(m.to_owned()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be a positive number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("--weight-decay must be zero or positive");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("--label-smoothing must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.warmup) {
            return bad("warmup must be a fraction in [0, 1)");
        }
        if let HeadSpec::Mlp { hidden, dropout } = self.head {
            if hidden == 0 {
                return bad("--hidden must be at least 1");
            }
            if !(0.0..1.0).contains(&dropout) {
                return bad("--dropout must be in [0, 1)");
            }
        }
        Ok(())
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// Learning rate at the epoch's last step.
    pub lr: f32,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// The validation loss is the best so far (these weights are kept).
    pub best: bool,
}

#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub head: TrainedHead,
    pub history: Vec<EpochStats>,
    /// Epoch whose weights were kept (the last one without validation data).
    pub best_epoch: usize,
    pub stopped_early: bool,
}

/// Labelled features.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    pub x: &'a Matrix,
    pub y: &'a [usize],
}

/// Trains a head on `train`, early-stopping on `val` when given.
pub fn train(
    train: Labelled,
    val: Option<Labelled>,
    classes: usize,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainOutcome> {
    cfg.validate()?;
    if train.x.rows == 0 || train.x.rows != train.y.len() {
        return Err(FinetuneError::Config("no training examples".into()));
    }
    if classes < 2 {
        return Err(FinetuneError::Config(format!(
            "a classifier needs at least two classes, not {classes}"
        )));
    }
    for (what, set) in std::iter::once(("training", train)).chain(val.map(|v| ("validation", v))) {
        if set.x.rows != set.y.len() || set.x.cols != train.x.cols {
            return Err(FinetuneError::Config(format!(
                "{what} features are {}x{} for {} labels; expected width {}",
                set.x.rows,
                set.x.cols,
                set.y.len(),
                train.x.cols
            )));
        }
        if let Some(i) = set.x.data.iter().position(|v| !v.is_finite()) {
            return Err(FinetuneError::Config(format!(
                "{what} features from the backbone hold a non-finite value (row {}, column {})",
                i / set.x.cols,
                i % set.x.cols
            )));
        }
        if let Some(bad) = set.y.iter().find(|&&y| y >= classes) {
            return Err(FinetuneError::Config(format!(
                "{what} label {bad} is out of range for {classes} classes"
            )));
        }
    }
    let std = Standardizer::fit(train.x);
    let xs = std.apply(train.x);
    let val_s = val.map(|v| (std.apply(v.x), v.y));

    let mut rng = Rng::new(cfg.seed);
    let mut init_rng = rng.fork(1);
    let mut order_rng = rng.fork(2);
    let mut dropout_rng = rng.fork(3);

    let mut counts = vec![0usize; classes];
    train.y.iter().for_each(|&y| counts[y] += 1);
    let loss_cfg = LossConfig {
        label_smoothing: cfg.label_smoothing,
        class_weights: match cfg.class_weights {
            ClassWeights::Uniform => Vec::new(),
            ClassWeights::Balanced => balanced_weights(&counts),
        },
    };
    // Validation loss is measured without smoothing or weights: it is the model
    // selection criterion, and should not reward hedged predictions.
    let eval_cfg = LossConfig::default();

    let mut model = HeadModel::init(cfg.head, train.x.cols, classes, &mut init_rng);
    let mut grads = model.zero_grads();
    let mut opts: Vec<(AdamW, AdamW)> = (model.layers.iter())
        .map(|l| (AdamW::new(l.w.len(), true), AdamW::new(l.b.len(), false)))
        .collect();
    let n = xs.rows;
    let batch = cfg.batch_size.min(n);
    let steps_per_epoch = n.div_ceil(batch);
    let total = steps_per_epoch * cfg.epochs;
    let schedule = Schedule {
        peak: cfg.lr,
        warmup_steps: ((total as f32 * cfg.warmup).round() as usize).max(1),
        total_steps: total,
    };

    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = Matrix::zeros(0, 0);
    let mut yb = Vec::with_capacity(batch);
    let mut step = 0usize;
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, HeadModel)> = None;
    let mut stopped_early = false;
    for epoch in 1..=cfg.epochs {
        order_rng.shuffle(&mut order);
        let mut loss_sum = 0f64;
        let mut lr = cfg.lr;
        for chunk in order.chunks(batch) {
            xs.gather_into(chunk, &mut xb);
            yb.clear();
            yb.extend(chunk.iter().map(|&i| train.y[i]));
            let loss = model.loss_and_grad(&xb, &yb, &loss_cfg, Some(&mut dropout_rng), &mut grads);
            if !loss.is_finite() {
                return Err(FinetuneError::Diverged(format!(
                    "the training loss became {loss} in epoch {epoch}"
                )));
            }
            loss_sum += loss * chunk.len() as f64;
            lr = schedule.at(step);
            step += 1;
            for ((layer, g), (ow, ob)) in model.layers.iter_mut().zip(&grads.layers).zip(&mut opts)
            {
                ow.step(&mut layer.w, &g.w, step as i32, lr, cfg.weight_decay);
                ob.step(&mut layer.b, &g.b, step as i32, lr, 0.0);
            }
        }
        let (val_loss, val_accuracy) = match &val_s {
            Some((vx, vy)) if vx.rows > 0 => {
                let logits = model.logits(vx);
                (
                    Some(cross_entropy(&logits, vy, &eval_cfg, None)),
                    Some(accuracy(&logits, vy)),
                )
            }
            _ => (None, None),
        };
        let improved = match (val_loss, &best) {
            (Some(v), Some((b, _, _))) => v < *b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if let (true, Some(v)) = (improved, val_loss) {
            best = Some((v, epoch, model.clone()));
        }
        let stats = EpochStats {
            epoch,
            lr,
            train_loss: loss_sum / n as f64,
            val_loss,
            val_accuracy,
            best: improved,
        };
        on_epoch(&stats);
        history.push(stats);
        if let Some((_, best_epoch, _)) = &best
            && epoch - best_epoch >= cfg.patience
            && epoch < cfg.epochs
        {
            stopped_early = true;
            break;
        }
    }
    let epochs_run = history.len();
    let (model, best_epoch) = match best {
        Some((_, e, m)) => (m, e),
        None => (model, epochs_run),
    };
    Ok(TrainOutcome {
        head: TrainedHead::fold(cfg.head, &model, &std, classes),
        history,
        best_epoch,
        stopped_early,
    })
}

/// Fraction of rows whose largest logit is the label's.
pub fn accuracy(logits: &Matrix, labels: &[usize]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let right = (0..logits.rows)
        .filter(|&i| argmax(logits.row(i)) == labels[i])
        .count();
    right as f64 / labels.len() as f64
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three Gaussian blobs in 10 dimensions, on an offset and scale far from
    /// standardized, so that folding the standardization matters.
    fn blobs(per_class: usize, seed: u64) -> (Matrix, Vec<usize>) {
        blobs_apart(per_class, seed, 3.0)
    }

    /// As `blobs`, with the centers `separation` unit-noise widths apart (about).
    fn blobs_apart(per_class: usize, seed: u64, separation: f32) -> (Matrix, Vec<usize>) {
        // The same centers for every sample drawn; `seed` picks the points.
        let mut centers_rng = Rng::new(99);
        let dim = 10;
        let centers: Vec<Vec<f32>> = (0..3)
            .map(|_| {
                (0..dim)
                    .map(|_| separation * centers_rng.normal())
                    .collect()
            })
            .collect();
        let mut rng = Rng::new(seed);
        let mut data = Vec::new();
        let mut y = Vec::new();
        for i in 0..per_class * 3 {
            let c = i % 3;
            data.extend(centers[c].iter().map(|m| 50.0 + 20.0 * (m + rng.normal())));
            y.push(c);
        }
        (Matrix::from_vec(y.len(), dim, data), y)
    }

    fn run(cfg: &TrainConfig) -> (TrainOutcome, Matrix, Vec<usize>) {
        let (x, y) = blobs(60, 1);
        let (vx, vy) = blobs(20, 2);
        let out = train(
            Labelled { x: &x, y: &y },
            Some(Labelled { x: &vx, y: &vy }),
            3,
            cfg,
            &mut |_| {},
        )
        .unwrap();
        (out, vx, vy)
    }

    const MLP: HeadSpec = HeadSpec::Mlp {
        hidden: 16,
        dropout: 0.1,
    };

    #[test]
    fn linear_and_mlp_heads_learn_separable_blobs() {
        for head in [HeadSpec::Linear, MLP] {
            let cfg = TrainConfig {
                head,
                epochs: 30,
                lr: 1e-2,
                ..Default::default()
            };
            let (out, vx, vy) = run(&cfg);
            let acc = accuracy(&out.head.logits(&vx), &vy);
            assert!(acc > 0.95, "{head:?}: validation accuracy {acc}");
        }
    }

    #[test]
    fn the_seed_decides_everything() {
        let cfg = TrainConfig {
            head: MLP,
            epochs: 5,
            ..Default::default()
        };
        let (a, _, _) = run(&cfg);
        let (b, _, _) = run(&cfg);
        assert_eq!(a.head, b.head, "same seed, same weights");
        assert_eq!(a.history, b.history);
        let (c, _, _) = run(&TrainConfig { seed: 1, ..cfg });
        assert_ne!(a.head, c.head, "another seed, other weights");
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() {
        // A high rate on a small, overlapping problem overfits quickly: validation
        // loss turns up.
        let cfg = TrainConfig {
            head: HeadSpec::Mlp {
                hidden: 64,
                dropout: 0.0,
            },
            epochs: 200,
            lr: 5e-2,
            patience: 3,
            ..Default::default()
        };
        let (x, y) = blobs_apart(15, 1, 0.4);
        let (vx, vy) = blobs_apart(60, 2, 0.4);
        let out = train(
            Labelled { x: &x, y: &y },
            Some(Labelled { x: &vx, y: &vy }),
            3,
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        assert!(out.stopped_early, "{} epochs", out.history.len());
        assert_eq!(out.history.len(), out.best_epoch + cfg.patience);
        let best = out.history[out.best_epoch - 1].val_loss.unwrap();
        let min = (out.history.iter())
            .filter_map(|e| e.val_loss)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(best, min);
        // The returned head is that epoch's, not the last one's.
        let kept = cross_entropy(&out.head.logits(&vx), &vy, &LossConfig::default(), None);
        assert!(
            (kept - best).abs() < 1e-5 * best,
            "kept {kept}, best {best}"
        );
        // ...which this can tell apart: the last epoch's loss is clearly worse.
        let last = out.history.last().unwrap().val_loss.unwrap();
        assert!(last - best > 1e-2 * best, "last {last}, best {best}");
        assert!(out.best_epoch > 1, "some learning happened first");
        assert!(out.history.iter().filter(|e| e.best).count() >= 1);
        assert!(out.history[out.best_epoch - 1].best);
        assert!(out.history[out.best_epoch..].iter().all(|e| !e.best));
    }

    #[test]
    fn folded_standardization_gives_the_same_logits() {
        let (x, _) = blobs(10, 3);
        let std = Standardizer::fit(&x);
        for spec in [HeadSpec::Linear, MLP] {
            let model = HeadModel::init(spec, x.cols, 3, &mut Rng::new(5));
            let mut model = model;
            let mut rng = Rng::new(6);
            model.layers[0]
                .w
                .iter_mut()
                .for_each(|w| *w += 0.5 * rng.normal());
            let expected = model.logits(&std.apply(&x));
            let folded = TrainedHead::fold(spec, &model, &std, 3).logits(&x);
            for (a, b) in expected.data.iter().zip(&folded.data) {
                assert!(
                    (a - b).abs() < 1e-4 * a.abs().max(1.0),
                    "{spec:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let ok = TrainConfig::default();
        for bad in [
            TrainConfig {
                epochs: 0,
                ..ok.clone()
            },
            TrainConfig {
                lr: -1.0,
                ..ok.clone()
            },
            TrainConfig {
                label_smoothing: 1.0,
                ..ok.clone()
            },
            TrainConfig {
                head: HeadSpec::Mlp {
                    hidden: 0,
                    dropout: 0.0,
                },
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    fn bits(head: &TrainedHead) -> Vec<u32> {
        (head.layers.iter())
            .flat_map(|l| l.w.iter().chain(&l.b))
            .map(|v| v.to_bits())
            .collect()
    }

    #[test]
    fn runs_repeat_bit_for_bit_and_seeds_differ() {
        for head in [HeadSpec::Linear, MLP] {
            let cfg = TrainConfig {
                head,
                epochs: 6,
                lr: 1e-2,
                seed: 42,
                ..Default::default()
            };
            let (a, vx, vy) = run(&cfg);
            let (b, _, _) = run(&cfg);
            assert_eq!(bits(&a.head), bits(&b.head), "{head:?}");
            let loss_bits = |o: &TrainOutcome| -> Vec<u64> {
                (o.history.iter())
                    .flat_map(|e| [e.train_loss.to_bits(), e.val_loss.unwrap().to_bits()])
                    .collect()
            };
            assert_eq!(loss_bits(&a), loss_bits(&b), "{head:?}");
            assert_eq!(a.best_epoch, b.best_epoch);
            let (c, _, _) = run(&TrainConfig { seed: 43, ..cfg });
            assert_ne!(bits(&a.head), bits(&c.head), "{head:?}: another seed");
            assert_ne!(loss_bits(&a), loss_bits(&c), "{head:?}: another seed");
            // Both seeds still learn.
            assert!(accuracy(&c.head.logits(&vx), &vy) > 0.95, "{head:?}");
        }
    }

    #[test]
    fn the_thread_count_changes_nothing() {
        // Wide enough that the matrix products split across threads.
        let mut rng = Rng::new(8);
        let (n, dim) = (256, 48);
        let x = Matrix::from_vec(n, dim, (0..n * dim).map(|_| rng.normal()).collect());
        let y: Vec<usize> = (0..n)
            .map(|i| usize::from(x.row(i)[0] + x.row(i)[1] > 0.0))
            .collect();
        let cfg = TrainConfig {
            head: HeadSpec::Mlp {
                hidden: 128,
                dropout: 0.2,
            },
            epochs: 3,
            batch_size: 64,
            ..Default::default()
        };
        let go = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let data = Labelled { x: &x, y: &y };
                train(data, Some(data), 2, &cfg, &mut |_| {}).unwrap()
            })
        };
        let one = go(1);
        let four = go(4);
        assert_eq!(bits(&one.head), bits(&four.head));
        assert_eq!(one.history, four.history);
    }

    #[test]
    fn every_epoch_is_reported_and_without_validation_the_last_is_kept() {
        let (x, y) = blobs(20, 1);
        let cfg = TrainConfig {
            epochs: 4,
            patience: 1,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let out = train(Labelled { x: &x, y: &y }, None, 3, &cfg, &mut |s| {
            seen.push(s.clone())
        })
        .unwrap();
        assert_eq!(seen, out.history);
        assert_eq!(out.history.len(), 4);
        assert_eq!((out.best_epoch, out.stopped_early), (4, false));
        assert!(out.history.iter().all(|e| e.val_loss.is_none() && !e.best));
        let epochs: Vec<usize> = out.history.iter().map(|e| e.epoch).collect();
        assert_eq!(epochs, [1, 2, 3, 4]);
        // The schedule decays to (nearly) nothing by the last step.
        assert!(out.history[3].lr < 0.05 * cfg.lr, "{}", out.history[3].lr);
        assert!(out.history[3].train_loss < out.history[0].train_loss);
    }

    #[test]
    fn inconsistent_inputs_are_errors_not_panics() {
        let (x, y) = blobs(5, 1);
        let cfg = TrainConfig::default();
        let ok = Labelled { x: &x, y: &y };
        let fails = |train_set: Labelled, val: Option<Labelled>, classes: usize| {
            let e = train(train_set, val, classes, &cfg, &mut |_| {}).unwrap_err();
            e.to_string()
        };
        let e = fails(ok, None, 2);
        assert!(e.contains("label 2 is out of range for 2 classes"), "{e}");
        let e = fails(ok, None, 1);
        assert!(e.contains("at least two classes"), "{e}");
        let narrow = Matrix::zeros(3, 4);
        let e = fails(
            ok,
            Some(Labelled {
                x: &narrow,
                y: &[0, 1, 2],
            }),
            3,
        );
        assert!(e.contains("validation features are 3x4"), "{e}");
        let e = fails(ok, Some(Labelled { x: &x, y: &y[1..] }), 3);
        assert!(e.contains("validation"), "{e}");
        let e = fails(Labelled { x: &x, y: &y[1..] }, None, 3);
        assert!(e.contains("no training examples"), "{e}");
        // Validation data with a label the model lacks.
        let mut wrong = y.clone();
        wrong[0] = 7;
        let e = fails(ok, Some(Labelled { x: &x, y: &wrong }), 3);
        assert!(e.contains("validation label 7"), "{e}");
    }

    #[test]
    fn divergence_and_broken_features_are_reported() {
        let cfg = TrainConfig {
            lr: 3e38,
            weight_decay: 0.0,
            epochs: 3,
            ..Default::default()
        };
        // Labels unrelated to the features: the loss cannot fall to zero.
        let (x, _) = blobs(10, 1);
        let y: Vec<usize> = (0..x.rows).map(|i| (i * 7 / 3) % 3).collect();
        let e = train(Labelled { x: &x, y: &y }, None, 3, &cfg, &mut |_| {}).unwrap_err();
        assert!(matches!(e, FinetuneError::Diverged(_)), "{e}");
        // A NaN from the backbone is not the learning rate's fault.
        let mut bad = x.clone();
        bad.row_mut(4)[2] = f32::NAN;
        let ok = TrainConfig::default();
        let e = train(Labelled { x: &bad, y: &y }, None, 3, &ok, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("training features"), "{e}");
        assert!(e.to_string().contains("row 4"), "{e}");
        let e = train(
            Labelled { x: &x, y: &y },
            Some(Labelled { x: &bad, y: &y }),
            3,
            &ok,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.to_string().contains("validation features"), "{e}");
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[2.0]), 0);
        let logits = Matrix::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, 5.0, 5.0]);
        assert!((accuracy(&logits, &[0, 0, 0]) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(accuracy(&Matrix::zeros(0, 2), &[]), 0.0);
    }
}
