//! Work split over the machine's cores, for the catalog's bulk steps: looking
//! at 10,000 files, parsing the cards that changed, decoding the cards a
//! listing shows.

/// At most this many threads.
const MAX_THREADS: usize = 8;

/// `f` of each item, in order; on several threads when there are at least
/// `min` items. A thread that cannot be started leaves its share to this one.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], min: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    let run = |part: &[T]| part.iter().map(&f).collect::<Vec<R>>();
    if threads < 2 || items.len() < min.max(2) {
        return run(items);
    }
    let parts: Vec<&[T]> = items.chunks(items.len().div_ceil(threads)).collect();
    std::thread::scope(|scope| {
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|part| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, || run(part))
                    .ok()
            })
            .collect();
        let mut all = run(parts[0]);
        for (part, thread) in parts[1..].iter().zip(others) {
            match thread.and_then(|t| t.join().ok()) {
                Some(done) => all.extend(done),
                None => all.extend(run(part)),
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order() {
        let items: Vec<usize> = (0..10_000).collect();
        let doubled = super::map(&items, 10, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[1], 0, |i| i + 1), [2]);
        assert!(super::map(&[] as &[u8], 0, |i| *i).is_empty());
    }
}
