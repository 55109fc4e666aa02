//! Classification metrics from predicted and true labels.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    /// Of the items predicted as this class, the fraction that are (0 if none were).
    pub precision: f64,
    /// Of the items of this class, the fraction predicted as it.
    pub recall: f64,
    pub f1: f64,
    /// Items of this class.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub items: usize,
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over classes with examples or predictions.
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

pub fn compute(classes: &[String], truth: &[usize], predicted: &[usize]) -> Metrics {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[t][p] += 1;
    }
    let items = truth.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let mut per_class = Vec::with_capacity(k);
    let mut f1_sum = 0.0;
    let mut f1_count = 0usize;
    for c in 0..k {
        let tp = confusion[c][c] as f64;
        let support: usize = confusion[c].iter().sum();
        let predicted_c: usize = (0..k).map(|t| confusion[t][c]).sum();
        let ratio = |a: f64, b: usize| if b == 0 { 0.0 } else { a / b as f64 };
        let precision = ratio(tp, predicted_c);
        let recall = ratio(tp, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        // A class absent from both truth and predictions says nothing about the
        // model; averaging its 0 in would only punish a smaller test set.
        if support > 0 || predicted_c > 0 {
            f1_sum += f1;
            f1_count += 1;
        }
        per_class.push(ClassMetrics {
            class: classes[c].clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    Metrics {
        items,
        accuracy: if items == 0 {
            0.0
        } else {
            correct as f64 / items as f64
        },
        macro_f1: if f1_count == 0 {
            0.0
        } else {
            f1_sum / f1_count as f64
        },
        per_class,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let classes = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        // truth a a b b c; predicted a b b b a
        let m = compute(&classes, &[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]);
        assert_eq!(
            m.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        let a = &m.per_class[0];
        assert!((a.precision - 0.5).abs() < 1e-12 && (a.recall - 0.5).abs() < 1e-12);
        let b = &m.per_class[1];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-12 && (b.recall - 1.0).abs() < 1e-12);
        assert_eq!(m.per_class[2].f1, 0.0);
        let want = (0.5 + 0.8 + 0.0) / 3.0;
        assert!((m.macro_f1 - want).abs() < 1e-12, "{}", m.macro_f1);
    }

    #[test]
    fn absent_classes_and_empty_sets() {
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // Class c appears in neither truth nor predictions: it is left out of the
        // macro average rather than counted as an F1 of zero.
        let m = compute(&classes, &[0, 1, 1], &[0, 1, 0]);
        assert_eq!(m.items, 3);
        assert_eq!(m.per_class[2].support, 0);
        let f1_a = 2.0 * 0.5 * 1.0 / 1.5;
        let f1_b = 2.0 * 1.0 * 0.5 / 1.5;
        assert!(
            (m.macro_f1 - (f1_a + f1_b) / 2.0).abs() < 1e-12,
            "{}",
            m.macro_f1
        );
        // A class only predicted counts, with precision 0.
        let m = compute(&classes, &[0, 0], &[0, 2]);
        assert_eq!(m.per_class[2].precision, 0.0);
        assert!(
            (m.macro_f1 - (2.0 / 3.0 + 0.0) / 2.0).abs() < 1e-12,
            "{}",
            m.macro_f1
        );
        let empty = compute(&classes, &[], &[]);
        assert_eq!((empty.items, empty.accuracy, empty.macro_f1), (0, 0.0, 0.0));
        assert_eq!(empty.confusion, vec![vec![0; 3]; 3]);
    }
}
