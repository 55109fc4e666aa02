//! The stratified train/validation split.

use crate::rng::Rng;

/// Indices into a data set's examples.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

/// Puts `fraction` of each class (rounded, at least one when the class has two or
/// more examples, never all of it) into validation, the rest into training.
/// Depends only on `labels` and `seed`, so `zoo features` and `zoo finetune`
/// given the same seed agree on the split.
pub fn stratified_split(labels: &[usize], classes: usize, fraction: f64, seed: u64) -> Split {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let mut rng = Rng::new(seed ^ 0x5EED_5B11_7000_0000);
    let mut split = Split::default();
    for members in &mut by_class {
        rng.shuffle(members);
        let n = members.len();
        let mut take = (n as f64 * fraction).round() as usize;
        if fraction > 0.0 && n >= 2 {
            take = take.max(1);
        }
        let take = take.min(n.saturating_sub(1));
        split.val.extend_from_slice(&members[..take]);
        split.train.extend_from_slice(&members[take..]);
    }
    // Data-set order, so that neither list is grouped by class.
    split.train.sort_unstable();
    split.val.sort_unstable();
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_and_deterministic() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i >= 80)).collect();
        let s = stratified_split(&labels, 2, 0.2, 3);
        assert_eq!(s.val.len(), 20);
        assert_eq!(s.val.iter().filter(|&&i| labels[i] == 1).count(), 4);
        assert_eq!(s, stratified_split(&labels, 2, 0.2, 3));
        assert_ne!(s, stratified_split(&labels, 2, 0.2, 4));
        let mut all: Vec<usize> = s.train.iter().chain(&s.val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn small_classes_keep_a_training_example() {
        let s = stratified_split(&[0, 1, 1], 2, 0.5, 0);
        assert_eq!(s.train.iter().filter(|&&i| i == 0).count(), 1);
        assert_eq!(s.val.len(), 1);
        assert!(stratified_split(&[0, 1], 2, 0.0, 0).val.is_empty());
    }

    #[test]
    fn every_example_lands_once_and_fractions_round() {
        // Classes of 1, 3, 10 and 25 examples, interleaved.
        let sizes = [1usize, 3, 10, 25];
        let mut labels = Vec::new();
        for round in 0..25 {
            for (c, &n) in sizes.iter().enumerate() {
                if round < n {
                    labels.push(c);
                }
            }
        }
        let s = stratified_split(&labels, 4, 0.3, 11);
        let per_class = |idx: &[usize], c: usize| idx.iter().filter(|&&i| labels[i] == c).count();
        // round(0.3 n), at least one once a class has two, never the last one.
        let want = [0, 1, 3, 8];
        for (c, &w) in want.iter().enumerate() {
            assert_eq!(per_class(&s.val, c), w, "class {c}");
            assert_eq!(per_class(&s.train, c), sizes[c] - w, "class {c}");
        }
        assert!(s.train.windows(2).all(|w| w[0] < w[1]), "in data-set order");
        assert!(s.val.windows(2).all(|w| w[0] < w[1]), "in data-set order");
        let mut all: Vec<usize> = s.train.iter().chain(&s.val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        // No validation asked: none given.
        let none = stratified_split(&labels, 4, 0.0, 11);
        assert!(none.val.is_empty() && none.train.len() == labels.len());
        // Even a fraction near one leaves each class a training example.
        let most = stratified_split(&labels, 4, 0.99, 11);
        for (c, &n) in sizes.iter().enumerate() {
            assert_eq!(per_class(&most.train, c), 1, "class {c} of {n}");
        }
    }
}
