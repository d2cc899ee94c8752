//! The Langevin Stein kernel with a radial base kernel, summed over the upper triangle with
//! the O(d) part of every pair taken from small matrix products per tile.
//!
//! For r = xᵢ − xⱼ and a radial k = φ(‖r‖²), u_p needs only four inner products per pair:
//!
//! ```text
//! ‖r‖²          = xᵢ·xᵢ + xⱼ·xⱼ − 2 xᵢ·xⱼ
//! r·(sⱼ − sᵢ)   = xᵢ·sⱼ − xᵢ·sᵢ − xⱼ·sⱼ + xⱼ·sᵢ
//! sᵢ·sⱼ
//! u_p           = φ sᵢ·sⱼ + 2φ′ r·(sⱼ − sᵢ) − 2dφ′ − 4φ″‖r‖²
//! ```
//! so a 64 × 256 tile computes X_I X_Jᵀ, S_I S_Jᵀ, X_I S_Jᵀ and S_I X_Jᵀ with faer's matrix
//! product (sequential inside the tile, SIMD chosen at run time) and then one fused pass over
//! the tile. Blocks, tiles and the reduction order are those of the generic engine, so the
//! result does not depend on the thread count.

use faer::{Accum, Mat, MatRef};
use rayon::prelude::*;

use super::pairwise::{COLS, PairSums, ROWS, WAVE_FLOATS};
use crate::error::Result;
use crate::kernel::Kernel;
use crate::mc::Par;

/// Upper-triangle sums of the Langevin Stein kernel for a radial `kernel`, points `x` and
/// scores `s` (both n × d row-major).
pub(crate) fn langevin_radial_upper<K: Kernel>(
    x: &[f64],
    s: &[f64],
    d: usize,
    kernel: &K,
    weights: Option<&[f64]>,
    par: Par,
) -> Result<PairSums> {
    let n = x.len() / d;
    let xm = MatRef::from_row_major_slice(x, n, d);
    let sm = MatRef::from_row_major_slice(s, n, d);
    let xx: Vec<f64> = x
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    let xs: Vec<f64> = x
        .chunks_exact(d)
        .zip(s.chunks_exact(d))
        .map(|(a, b)| a.iter().zip(b).map(|(u, v)| u * v).sum())
        .collect();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let df = d as f64;
    let block = |t: usize| -> (f64, Vec<f64>) {
        let start = t * ROWS;
        let end = (start + ROWS).min(n);
        let rows = end - start;
        let mut acc = vec![0.0; n - start];
        let mut total = 0.0;
        let (mut gxx, mut gss, mut gxs, mut gsx) = (
            Mat::<f64>::zeros(rows, COLS),
            Mat::<f64>::zeros(rows, COLS),
            Mat::<f64>::zeros(rows, COLS),
            Mat::<f64>::zeros(rows, COLS),
        );
        let (xi, si) = (xm.subrows(start, rows), sm.subrows(start, rows));
        let mut col = start;
        while col < n {
            let cols = (col + COLS).min(n) - col;
            let (xj, sj) = (
                xm.subrows(col, cols).transpose(),
                sm.subrows(col, cols).transpose(),
            );
            let seq = faer::Par::Seq;
            faer::linalg::matmul::matmul(
                gxx.as_mut().subcols_mut(0, cols),
                Accum::Replace,
                xi,
                xj,
                1.0,
                seq,
            );
            faer::linalg::matmul::matmul(
                gss.as_mut().subcols_mut(0, cols),
                Accum::Replace,
                si,
                sj,
                1.0,
                seq,
            );
            faer::linalg::matmul::matmul(
                gxs.as_mut().subcols_mut(0, cols),
                Accum::Replace,
                xi,
                sj,
                1.0,
                seq,
            );
            faer::linalg::matmul::matmul(
                gsx.as_mut().subcols_mut(0, cols),
                Accum::Replace,
                si,
                xj,
                1.0,
                seq,
            );
            for c in 0..cols {
                let j = col + c;
                let (cxx, css, cxs, csx) = (gxx.col(c), gss.col(c), gxs.col(c), gsx.col(c));
                let (xxj, xsj, wj) = (xx[j], xs[j], w(j));
                let mut col_acc = 0.0;
                for a in 0..rows.min(j.saturating_sub(start)) {
                    let i = start + a;
                    let u = (xx[i] + xxj - 2.0 * cxx[a]).max(0.0);
                    let Some([phi, d1, d2]) = kernel.radial_profile(u) else {
                        unreachable!("radial kernel")
                    };
                    let dr = cxs[a] - xs[i] - xsj + csx[a];
                    let k = phi * css[a] + 2.0 * d1 * dr - 2.0 * df * d1 - 4.0 * d2 * u;
                    let wi = w(i);
                    acc[a] += wj * k;
                    col_acc += wi * k;
                    total += wi * wj * k;
                }
                acc[j - start] += col_acc;
            }
            col += cols;
        }
        (total, acc)
    };
    let blocks = n.div_ceil(ROWS);
    let threads = match par {
        Par::Seq => 1,
        Par::Rayon(t) => t.get(),
    };
    let wave = (WAVE_FLOATS / n.max(1)).clamp(threads, 256);
    let mut rows_sum = vec![0.0; n];
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
            for (g, a) in rows_sum[t * ROWS..].iter_mut().zip(&acc) {
                *g += a;
            }
        }
        first = last;
    }
    Ok(PairSums {
        off_diagonal,
        rows: rows_sum,
    })
}
