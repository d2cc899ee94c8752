//! The pairwise engine: sums of a symmetric pair function over the upper triangle, with
//! per-point row sums, in O(n) memory and a fixed reduction order.
//!
//! Row block t holds rows [t·ROWS, (t+1)·ROWS) and handles every pair (i, j), i in the block,
//! j > i, in column tiles of COLS for cache reuse. It returns its partial sum and a vector of
//! its contributions to the row sums of points t·ROWS.. n. Blocks run in parallel in waves
//! whose size bounds memory; their results are added in block order, so every floating-point
//! addition happens in the same order for any thread count.

use rayon::prelude::*;

use crate::error::Result;
use crate::mc::Par;

/// Rows per block.
pub(crate) const ROWS: usize = 64;
/// Columns per tile.
pub(crate) const COLS: usize = 256;
/// Floats of row-sum partials held at once across a wave (16 MB), unless the thread count
/// needs more blocks in flight. The wave size changes only memory and speed: partials are
/// added in block order whatever it is.
pub(crate) const WAVE_FLOATS: usize = 2 << 20;

/// Σ_{i<j} wᵢwⱼ k(i, j) and the row sums gᵢ = Σ_{j≠i} wⱼ k(i, j).
pub(crate) struct PairSums {
    pub(crate) off_diagonal: f64,
    pub(crate) rows: Vec<f64>,
}

/// Sums the symmetric pair function `pair(scratch, i, j)` over i < j.
pub(crate) fn upper_triangle<S, I, F>(
    n: usize,
    weights: Option<&[f64]>,
    par: Par,
    init: I,
    pair: F,
) -> Result<PairSums>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, usize) -> f64 + Sync,
{
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let block = |t: usize| -> (f64, Vec<f64>) {
        let start = t * ROWS;
        let end = (start + ROWS).min(n);
        let mut acc = vec![0.0; n - start];
        let mut scratch = init();
        let mut total = 0.0;
        let mut col = start;
        while col < n {
            let col_end = (col + COLS).min(n);
            for i in start..end {
                let wi = w(i);
                let mut row_acc = 0.0;
                for j in col.max(i + 1)..col_end {
                    let k = pair(&mut scratch, i, j);
                    let wj = w(j);
                    row_acc += wj * k;
                    acc[j - start] += wi * k;
                    total += wi * wj * k;
                }
                acc[i - start] += row_acc;
            }
            col = col_end;
        }
        (total, acc)
    };
    let blocks = n.div_ceil(ROWS);
    let threads = match par {
        Par::Seq => 1,
        Par::Rayon(t) => t.get(),
    };
    let wave = (WAVE_FLOATS / n.max(1)).clamp(threads, 256);
    let mut rows = vec![0.0; n];
    let mut off_diagonal = 0.0;
    let mut first = 0;
    while first < blocks {
        let last = (first + wave).min(blocks);
        let results: Vec<(f64, Vec<f64>)> = match par {
            Par::Seq => (first..last).map(block).collect(),
            Par::Rayon(_) => par.install(|| (first..last).into_par_iter().map(block).collect())?,
        };
        for (t, (total, acc)) in (first..last).zip(results) {
            off_diagonal += total;
            for (g, a) in rows[t * ROWS..].iter_mut().zip(&acc) {
                *g += a;
            }
        }
        first = last;
    }
    Ok(PairSums { off_diagonal, rows })
}

/// The full symmetric matrix of the pair function (row-major n × n), upper triangle computed
/// in parallel by rows and mirrored, so it is exactly symmetric.
pub(crate) fn gram<S, I, F>(n: usize, par: Par, init: I, pair: F) -> Result<Vec<f64>>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, usize) -> f64 + Sync,
{
    let mut g = vec![0.0; n * n];
    let fill = |(i, row): (usize, &mut [f64])| {
        let mut scratch = init();
        for (j, slot) in row.iter_mut().enumerate().skip(i) {
            *slot = pair(&mut scratch, i, j);
        }
    };
    match par {
        Par::Seq => g.chunks_mut(n.max(1)).enumerate().for_each(fill),
        Par::Rayon(_) => par.install(|| g.par_chunks_mut(n.max(1)).enumerate().for_each(fill))?,
    }
    for i in 0..n {
        for j in 0..i {
            g[i * n + j] = g[j * n + i];
        }
    }
    Ok(g)
}
