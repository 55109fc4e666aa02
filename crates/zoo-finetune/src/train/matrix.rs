//! Row-major f32 matrices and the one matrix product head training needs,
//! register-blocked so the compiler keeps a 4x8 tile of C in SIMD registers, and
//! split by rows of C across rayon threads. Each element of C is summed by one
//! thread in a fixed order, so results do not depend on the thread count.

use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// `data.len()` must be `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match its shape"
        );
        Matrix { rows, cols, data }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The listed rows, copied into one contiguous matrix.
    pub fn gather(&self, rows: &[usize]) -> Matrix {
        let mut out = Matrix::zeros(rows.len(), self.cols);
        self.gather_into(rows, &mut out);
        out
    }

    /// As `gather`, reusing `out`'s allocation.
    pub fn gather_into(&self, rows: &[usize], out: &mut Matrix) {
        out.rows = rows.len();
        out.cols = self.cols;
        out.data.clear();
        for &r in rows {
            out.data.extend_from_slice(self.row(r));
        }
    }
}

/// A matrix operand: element (r, c) is at `data[r * rs + c * cs]`, so one type
/// covers a matrix and its transpose without copying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// `rows x cols` row-major.
    pub fn normal(data: &'a [f32], cols: usize) -> View<'a> {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major `rows x cols` matrix (so it reads as `cols x rows`).
    pub fn transposed(data: &'a [f32], cols: usize) -> View<'a> {
        View {
            data,
            rs: 1,
            cs: cols,
        }
    }

    #[inline(always)]
    fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.rs + c * self.cs]
    }
}

const MR: usize = 4;
const NR: usize = 8;
/// Below this many multiply-adds a product runs on the calling thread: handing
/// work to rayon costs microseconds that tiny products do not repay.
const PARALLEL_WORK: usize = 1 << 17;

/// `c (m x n, row-major) += a (m x k) * b (k x n)`.
pub(crate) fn gemm(m: usize, n: usize, k: usize, a: View, b: View, c: &mut [f32]) {
    debug_assert_eq!(c.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    if m * n * k < PARALLEL_WORK || threads == 1 || m < 2 * MR {
        block(0, n, k, a, b, c);
        return;
    }
    let rows = m.div_ceil(threads * 2).next_multiple_of(MR);
    c.par_chunks_mut(rows * n)
        .enumerate()
        .for_each(|(t, chunk)| block(t * rows, n, k, a, b, chunk));
}

/// Rows `i0..` of C, as many as `c` holds.
fn block(i0: usize, n: usize, k: usize, a: View, b: View, c: &mut [f32]) {
    let rows = c.len() / n;
    let mut i = 0;
    while i + MR <= rows {
        let mut j = 0;
        while j + NR <= n {
            tile(i0 + i, j, k, a, b, &mut c[i * n..], n);
            j += NR;
        }
        for r in i..i + MR {
            edge(i0 + r, j..n, k, a, b, &mut c[r * n..(r + 1) * n]);
        }
        i += MR;
    }
    for r in i..rows {
        edge(i0 + r, 0..n, k, a, b, &mut c[r * n..(r + 1) * n]);
    }
}

/// One MR x NR tile of C at (i, j); `c` starts at row i.
#[inline(always)]
fn tile(i: usize, j: usize, k: usize, a: View, b: View, c: &mut [f32], n: usize) {
    let mut acc = [[0f32; NR]; MR];
    let mut bv = [0f32; NR];
    for kk in 0..k {
        if b.cs == 1 {
            let start = kk * b.rs + j;
            bv.copy_from_slice(&b.data[start..start + NR]);
        } else {
            for (q, v) in bv.iter_mut().enumerate() {
                *v = b.at(kk, j + q);
            }
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let av = a.at(i + r, kk);
            for q in 0..NR {
                row[q] += av * bv[q];
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            c[r * n + j + q] += v;
        }
    }
}

/// Columns `cols` of row `i` of C, for the parts that do not fill a tile.
fn edge(i: usize, cols: std::ops::Range<usize>, k: usize, a: View, b: View, c_row: &mut [f32]) {
    for j in cols {
        let mut s = 0f32;
        for kk in 0..k {
            s += a.at(i, kk) * b.at(kk, j);
        }
        c_row[j] += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn naive(m: usize, n: usize, k: usize, a: View, b: View) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|kk| a.at(i, kk) * b.at(kk, j)).sum();
            }
        }
        c
    }

    #[test]
    fn gemm_matches_naive_for_every_layout() {
        let mut rng = Rng::new(5);
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (9, 17, 33),
            (64, 40, 70),
            (130, 9, 300),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let views = [
                (View::normal(&a, k), View::normal(&b, n)),
                (View::transposed(&a, m), View::transposed(&b, k)),
            ];
            for (va, vb) in views {
                let want = naive(m, n, k, va, vb);
                let mut got = vec![0f32; m * n];
                gemm(m, n, k, va, vb, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{m}x{n}x{k}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemm_adds_to_c_and_ignores_the_thread_count() {
        let mut rng = Rng::new(9);
        let (m, n, k) = (130, 40, 300);
        let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let start: Vec<f32> = (0..m * n).map(|_| rng.normal()).collect();
        let go = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut c = start.clone();
            pool.install(|| gemm(m, n, k, View::normal(&a, k), View::normal(&b, n), &mut c));
            c
        };
        let one = go(1);
        for threads in [2, 3, 7] {
            let many = go(threads);
            let same = one
                .iter()
                .zip(&many)
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{threads} threads");
        }
        let product = naive(m, n, k, View::normal(&a, k), View::normal(&b, n));
        for ((c, s), p) in one.iter().zip(&start).zip(&product) {
            assert!(
                (c - (s + p)).abs() <= 1e-4 * (1.0 + p.abs()),
                "{c} vs {s} + {p}"
            );
        }
    }

    #[test]
    fn gather_copies_rows_in_the_order_asked() {
        let m = Matrix::from_vec(3, 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let g = m.gather(&[2, 0, 2]);
        assert_eq!((g.rows, g.cols), (3, 2));
        assert_eq!(g.data, [4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        let mut reused = Matrix::zeros(10, 7);
        m.gather_into(&[1], &mut reused);
        assert_eq!(reused, Matrix::from_vec(1, 2, vec![2.0, 3.0]));
        assert_eq!(m.gather(&[]).rows, 0);
    }

    #[test]
    #[should_panic(expected = "does not match its shape")]
    fn a_matrix_of_the_wrong_size_is_refused() {
        Matrix::from_vec(2, 2, vec![0.0; 3]);
    }
}
