//! The pairwise engine: sums of a symmetric pair function over the upper triangle, with
//! per-point row sums, in O(n) memory and a fixed reduction order.
//!
//! Row block t holds rows [t·ROWS, (t+1)·ROWS) and handles every pair (i, j), i in the block,
//! j > i. Its columns are cut into tiles on a global grid of COLS (the first tile of a block
//! runs from the block's first row to the next multiple of COLS), and each tile returns its
//! sum, adds to the block's own row sums and writes its column sums.
//!
//! Blocks run in parallel in waves (at least one block per thread); a wave walks the columns
//! in segments of SEGMENT (a multiple of COLS, so no tile straddles two segments), and after
//! each segment the blocks' column sums are added into the row sums in block order. So the
//! memory is the n row sums plus one segment per block in flight (at most WAVE_FLOATS in all
//! unless there are more threads than that allows), and every floating-point addition
//! happens in the same order for any thread count: row j receives the column sums of blocks
//! 0, 1, 2, … in turn and then the row sums of its own block; the statistic adds block sums in
//! block order, each the ordered sum of its tiles.

use rayon::prelude::*;

use crate::error::Result;
use crate::mc::Par;

/// Rows per block.
pub(crate) const ROWS: usize = 64;
/// Columns per tile.
pub(crate) const COLS: usize = 256;
/// Columns per segment: the column sums one block holds at a time (256 KB).
pub(crate) const SEGMENT: usize = 128 * COLS;
/// Floats of column sums held at once across a wave (2 MB), unless the thread count needs
/// more blocks in flight. The wave size changes only memory and speed, never the result.
pub(crate) const WAVE_FLOATS: usize = 1 << 18;

/// Segment length and wave budget of [`drive_tiles`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Columns per segment, a multiple of [`COLS`].
    pub(crate) segment: usize,
    /// Floats of column sums held at once across a wave (at least one block per thread).
    pub(crate) wave_floats: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            segment: SEGMENT,
            wave_floats: WAVE_FLOATS,
        }
    }
}

/// Σ_{i<j} wᵢwⱼ k(i, j) and the row sums gᵢ = Σ_{j≠i} wⱼ k(i, j).
pub(crate) struct PairSums {
    pub(crate) off_diagonal: f64,
    pub(crate) rows: Vec<f64>,
}

/// One tile of block rows × columns [lo, hi): the rows are [start, end).
pub(crate) struct Tile {
    /// First row of the block.
    pub(crate) start: usize,
    /// One past the last row of the block.
    pub(crate) end: usize,
    /// First column.
    pub(crate) lo: usize,
    /// One past the last column.
    pub(crate) hi: usize,
}

/// Drives a tile function over the upper triangle.
///
/// `tile(scratch, tile, row_sums, col_sums)` handles the pairs i < j of one tile: it adds
/// Σ_j wⱼ k(i, j) to `row_sums[i − start]` (length end − start), adds Σ_i wᵢ k(i, j) to
/// `col_sums[j − lo]` (length hi − lo, zeroed) and returns Σ wᵢwⱼ k(i, j). `layout` only
/// changes memory and speed: the sums are bit-identical for any layout and thread count.
pub(crate) fn drive_tiles<S, I, T>(
    n: usize,
    par: Par,
    layout: Layout,
    init: I,
    tile: T,
) -> Result<PairSums>
where
    S: Send,
    I: Fn() -> S + Sync,
    T: Fn(&mut S, &Tile, &mut [f64], &mut [f64]) -> f64 + Sync,
{
    let Layout {
        segment,
        wave_floats,
    } = layout;
    debug_assert!(segment > 0 && segment % COLS == 0);
    let blocks = n.div_ceil(ROWS);
    let threads = match par {
        Par::Seq => 1,
        Par::Rayon(t) => t.get(),
    };
    let mut rows = vec![0.0; n];
    let mut off_diagonal = 0.0;
    // Per block in flight: its running total, its own row sums and one segment of column sums.
    let seg_len = segment.min(n).max(1);
    let wave = (wave_floats / seg_len).max(threads);
    let mut lanes: Vec<(f64, [f64; ROWS], Vec<f64>)> = Vec::new();
    let mut first = 0;
    while first < blocks {
        let last = (first + wave).min(blocks);
        lanes.resize_with(last - first, || (0.0, [0.0; ROWS], vec![0.0; seg_len]));
        for lane in &mut lanes {
            lane.0 = 0.0;
            lane.1 = [0.0; ROWS];
        }
        let mut seg = (first * ROWS) / segment * segment;
        while seg < n {
            let seg_hi = (seg + segment).min(n);
            let run = |(t, (total, own, cols)): (usize, &mut (f64, [f64; ROWS], Vec<f64>))| {
                let start = t * ROWS;
                let end = (start + ROWS).min(n);
                let lo = seg.max(start);
                if lo >= seg_hi {
                    return;
                }
                let mut scratch = init();
                // Only the columns this block reaches in this segment, [lo, seg_hi), are
                // written by its tiles and read by the merge below.
                cols[lo - seg..seg_hi - seg].fill(0.0);
                let mut col = lo;
                while col < seg_hi {
                    let hi = ((col / COLS + 1) * COLS).min(seg_hi);
                    let t = Tile {
                        start,
                        end,
                        lo: col,
                        hi,
                    };
                    *total += tile(
                        &mut scratch,
                        &t,
                        &mut own[..end - start],
                        &mut cols[col - seg..hi - seg],
                    );
                    col = hi;
                }
            };
            match par {
                Par::Seq => (first..last).zip(lanes.iter_mut()).for_each(run),
                Par::Rayon(_) => par.install(|| {
                    (first..last)
                        .into_par_iter()
                        .zip(lanes.par_iter_mut())
                        .for_each(run)
                })?,
            }
            for (t, (_, _, cols)) in (first..last).zip(&lanes) {
                let lo = seg.max(t * ROWS);
                if lo < seg_hi {
                    for (g, c) in rows[lo..seg_hi].iter_mut().zip(&cols[lo - seg..]) {
                        *g += c;
                    }
                }
            }
            seg = seg_hi;
        }
        for (t, (total, own, _)) in (first..last).zip(&lanes) {
            off_diagonal += total;
            let start = t * ROWS;
            let end = (start + ROWS).min(n);
            for (g, o) in rows[start..end].iter_mut().zip(own) {
                *g += o;
            }
        }
        first = last;
    }
    Ok(PairSums { off_diagonal, rows })
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
    S: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, usize) -> f64 + Sync,
{
    upper_triangle_with(n, weights, par, Layout::default(), init, pair)
}

/// [`upper_triangle`] with a chosen [`Layout`].
pub(crate) fn upper_triangle_with<S, I, F>(
    n: usize,
    weights: Option<&[f64]>,
    par: Par,
    layout: Layout,
    init: I,
    pair: F,
) -> Result<PairSums>
where
    S: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, usize) -> f64 + Sync,
{
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    drive_tiles(n, par, layout, init, |scratch, t, own, cols| {
        let mut total = 0.0;
        for i in t.start..t.end {
            let wi = w(i);
            let mut row = 0.0;
            for j in t.lo.max(i + 1)..t.hi {
                let k = pair(scratch, i, j);
                let wj = w(j);
                row += wj * k;
                cols[j - t.lo] += wi * k;
                total += wi * wj * k;
            }
            own[i - t.start] += row;
        }
        total
    })
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
    par.for_each_chunk_mut(&mut g, n, fill)?;
    for i in 0..n {
        for j in 0..i {
            g[i * n + j] = g[j * n + i];
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric pair function with no structure to hide summation-order mistakes.
    fn pair(i: usize, j: usize) -> f64 {
        let (a, b) = (i.min(j) as f64, i.max(j) as f64);
        (0.37 * a + 1.3).sin() * (0.11 * b - 0.4).cos() + 1e-3 * a * b
    }

    #[test]
    fn any_layout_and_thread_count_gives_the_same_bits_and_the_plain_sums() {
        for n in [0, 1, 2, 63, 64, 65, 300, 700] {
            let w: Vec<f64> = (0..n).map(|i| 0.25 + (i % 5) as f64).collect();
            for weights in [None, Some(&w[..])] {
                let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
                let (mut off, mut rows) = (0.0, vec![0.0; n]);
                for (i, row) in rows.iter_mut().enumerate() {
                    for j in 0..n {
                        if i != j {
                            *row += wt(j) * pair(i, j);
                            if i < j {
                                off += wt(i) * wt(j) * pair(i, j);
                            }
                        }
                    }
                }
                let mut first: Option<PairSums> = None;
                for segment in [COLS, 2 * COLS, SEGMENT] {
                    for wave_floats in [1, 3 * COLS, WAVE_FLOATS] {
                        for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
                            let layout = Layout {
                                segment,
                                wave_floats,
                            };
                            let got = upper_triangle_with(
                                n,
                                weights,
                                par,
                                layout,
                                || (),
                                |_, i, j| pair(i, j),
                            )
                            .unwrap();
                            let tol = 1e-12 * (1.0 + off.abs());
                            assert!((got.off_diagonal - off).abs() < tol, "n={n}");
                            for (g, r) in got.rows.iter().zip(&rows) {
                                assert!((g - r).abs() < 1e-12 * (1.0 + r.abs()), "n={n}");
                            }
                            if let Some(f) = &first {
                                assert_eq!(f.off_diagonal.to_bits(), got.off_diagonal.to_bits());
                                assert!(f.rows.iter().zip(&got.rows).all(|(a, b)| a == b));
                            } else {
                                first = Some(got);
                            }
                        }
                    }
                }
            }
        }
    }
}
