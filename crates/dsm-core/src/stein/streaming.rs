//! The wild bootstrap's quadratic forms streamed tile by tile (docs/math.md eq. 14.1): never
//! an n × n matrix.
//!
//! For replicate weights u (n × B, one column per replicate) the bootstrap needs
//! ```text
//! Q_b = Σ_{i<j} u_ib u_jb Hᵢⱼ,      Hᵢⱼ = k⁰(xᵢ, xⱼ)
//! ```
//! Row block I (ROWS rows) walks its columns j > i in tiles J of COLS, fills the tile H_IJ
//! (zero where i ≥ j) and accumulates P_I += H_IJ U_J with one matrix product per tile
//! (faer, sequential inside the task); at the end of the row Q_b gets Σ_{i∈I} u_ib P_ib. The
//! multiply-adds are n²B/2, the matrix-product floor of the upper triangle. Blocks run in
//! parallel; each block's B sums are added in block order, so the result is bit-identical for
//! any thread count. Memory: the weights (8nB bytes) and, per task, P_I (8·ROWS·B bytes),
//! one tile and the block sums of one wave.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef};
use rayon::prelude::*;

use super::gram_tiles::LangevinTiles;
use super::pairwise::{COLS, ROWS, Tile};
use super::points::{PairScratch, PointLayout, SteinPoints};
use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::mc::Par;

/// Row blocks whose B sums are held at once before they are added in block order.
const WAVE_BLOCKS: usize = 256;

/// Q_b = Σ_{i<j} u_ib u_jb k⁰(xᵢ, xⱼ) for every column b of `u` (n × B, column-major).
///
/// # Errors
/// [`Error::NonFiniteValue`] naming a row of the first tile (in block order) with a
/// non-finite k⁰;
/// [`Error::ThreadPool`].
pub(crate) fn upper_quadratic_forms<K: Kernel>(
    points: &SteinPoints<'_, K>,
    u: MatRef<'_, f64>,
    par: Par,
) -> Result<Vec<f64>> {
    let n = points.n();
    let replicates = u.ncols();
    debug_assert_eq!(u.nrows(), n);
    let d = points.samples.dim();
    let fast = (points.kernel.radial_profile(0.0).is_some()
        && points.layout == PointLayout::Langevin)
        .then(|| {
            LangevinTiles::new(
                points.samples.as_slice(),
                &points.data,
                d,
                points.kernel,
                None,
            )
        });
    let blocks = n.div_ceil(ROWS);
    let mut q = vec![0.0; replicates];
    let one_block = |buffers: &mut Buffers, block: usize| -> Result<Vec<f64>> {
        let start = block * ROWS;
        let end = (start + ROWS).min(n);
        let m = end - start;
        let p = &mut buffers.p;
        p.as_mut().fill(0.0);
        let mut lo = start;
        while lo < n {
            let hi = ((lo / COLS + 1) * COLS).min(n);
            let c = hi - lo;
            let tile = &mut buffers.tile[..m * c];
            let t = Tile { start, end, lo, hi };
            match &fast {
                Some(tiles) => {
                    let (own, cols) = (&mut buffers.own[..m], &mut buffers.cols[..c]);
                    tiles.tile(&mut buffers.scratch, &t, own, cols, Some(tile));
                }
                None => {
                    for (b, column) in tile.chunks_exact_mut(m).enumerate() {
                        let j = lo + b;
                        for (a, slot) in column.iter_mut().enumerate() {
                            let i = start + a;
                            *slot = if i < j {
                                points.stein_kernel(i, j, &mut buffers.pair)
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
            if let Some(pos) = tile.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteValue {
                    quantity: "Stein kernel",
                    index: start + pos % m,
                });
            }
            matmul(
                p.as_mut().subrows_mut(0, m),
                Accum::Add,
                MatRef::from_column_major_slice(tile, m, c),
                u.subrows(lo, c),
                1.0,
                faer::Par::Seq,
            );
            lo = hi;
        }
        let sums = (0..replicates)
            .map(|b| {
                let weights = u.col(b).subrows(start, m);
                let row = p.col(b);
                (0..m).map(|a| weights[a] * row[a]).sum::<f64>()
            })
            .collect();
        Ok(sums)
    };
    let init = || Buffers::new(d, replicates);
    let mut first = 0;
    while first < blocks {
        let last = (first + WAVE_BLOCKS).min(blocks);
        let sums: Vec<Result<Vec<f64>>> = match par {
            Par::Seq => {
                let mut buffers = init();
                (first..last).map(|t| one_block(&mut buffers, t)).collect()
            }
            Par::Rayon(_) => par.install(|| {
                (first..last)
                    .into_par_iter()
                    .map_init(init, one_block)
                    .collect()
            })?,
        };
        for block in sums {
            for (total, s) in q.iter_mut().zip(block?) {
                *total += s;
            }
        }
        first = last;
    }
    Ok(q)
}

/// The buffers of one task, reused across its blocks.
struct Buffers {
    p: Mat<f64>,
    tile: Vec<f64>,
    own: Vec<f64>,
    cols: Vec<f64>,
    scratch: super::gram_tiles::Scratch,
    pair: PairScratch,
}

impl Buffers {
    fn new(d: usize, replicates: usize) -> Self {
        Buffers {
            p: Mat::zeros(ROWS, replicates),
            tile: vec![0.0; ROWS * COLS],
            own: vec![0.0; ROWS],
            cols: vec![0.0; COLS],
            scratch: super::gram_tiles::Scratch::new(d),
            pair: PairScratch::default(),
        }
    }
}
