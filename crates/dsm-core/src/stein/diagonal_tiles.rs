//! The diffusion Stein kernel with a diagonal m (an elementwise flow's m = J⁻¹, a diagonal
//! constant m) and a radial base kernel, summed over the upper triangle tile by tile.
//!
//! With r = xᵢ − xⱼ, vₓ = mᵢ∘r, v_y = mⱼ∘r (docs/math.md section 7.2, m diagonal):
//!
//! ```text
//! k⁰ = φ bᵢ·bⱼ + 2φ′(bⱼ·vₓ − bᵢ·v_y) − 2φ′ mᵢ·mⱼ − 4φ″ vₓ·v_y,     φ = φ(‖r‖²)
//! ```
//! Per block of 64 rows the points, b and the diagonal of m are stored coordinate-major, so
//! that for each column point the five sums run along contiguous rows; the profile φ, φ′, φ″
//! then comes from [`Kernel::radial_profile_each`] over the whole column, all under
//! [`pulp::Arch::dispatch`] (the widest vector unit the CPU has, chosen at run time). Every
//! pair's sums are taken over the coordinates in order 0, 1, …, d − 1, exactly as the
//! pairwise [`SteinPoints::stein_kernel`](super::SteinPoints::stein_kernel) does, so each k⁰ has
//! the same bits as there. A column's k⁰ values are stored, then added to the rows' sums and
//! summed for the column with eight lane-wise partial sums in a fixed tree (the same result
//! for any vector width); the blocks' sums follow the fixed order of [`drive_tiles`]
//! (bit-identical for any thread count). One dispatch per tile.

use pulp::{Arch, Simd, WithSimd};

use super::pairwise::{Layout, PairSums, ROWS, drive_tiles};
use crate::error::Result;
use crate::kernel::Kernel;
use crate::mc::Par;

/// Upper-triangle sums of the diagonal-diffusion Stein kernel for a radial `kernel`: points
/// `x` (n × d row-major) and the per-point table `table` (n rows of [b (d) | diag m (d)]).
pub(crate) fn diagonal_radial_upper<K: Kernel>(
    x: &[f64],
    table: &[f64],
    d: usize,
    kernel: &K,
    weights: Option<&[f64]>,
    par: Par,
) -> Result<PairSums> {
    diagonal_radial_upper_with(x, table, d, kernel, weights, par, Layout::default())
}

/// [`diagonal_radial_upper`] with a chosen [`Layout`] (tests use short segments).
pub(crate) fn diagonal_radial_upper_with<K: Kernel>(
    x: &[f64],
    table: &[f64],
    d: usize,
    kernel: &K,
    weights: Option<&[f64]>,
    par: Par,
    layout: Layout,
) -> Result<PairSums> {
    let n = x.len() / d;
    let arch = Arch::new();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    drive_tiles(
        n,
        par,
        layout,
        || Block::new(d),
        |blk, t, own, cols| {
            let m = t.end - t.start;
            if blk.start != Some(t.start) {
                blk.start = Some(t.start);
                for (a, i) in (t.start..t.end).enumerate() {
                    let row = &table[i * 2 * d..(i + 1) * 2 * d];
                    for c in 0..d {
                        blk.x[c * ROWS + a] = x[i * d + c];
                        blk.b[c * ROWS + a] = row[c];
                        blk.m[c * ROWS + a] = row[d + c];
                    }
                    blk.w[a] = w(i);
                }
            }
            arch.dispatch(TilePass {
                kernel,
                d,
                m,
                start: t.start,
                lo: t.lo,
                hi: t.hi,
                x,
                table,
                w: &w,
                blk: &mut *blk,
                own,
                cols,
            })
        },
    )
}

/// One block's rows, coordinate-major (`x[c·ROWS + a]`), and the per-column sums.
struct Block {
    start: Option<usize>,
    x: Vec<f64>,
    b: Vec<f64>,
    m: Vec<f64>,
    w: [f64; ROWS],
    sums: [[f64; ROWS]; 5],
    k: [f64; ROWS],
}

impl Block {
    fn new(d: usize) -> Self {
        Block {
            start: None,
            x: vec![0.0; d * ROWS],
            b: vec![0.0; d * ROWS],
            m: vec![0.0; d * ROWS],
            w: [0.0; ROWS],
            sums: [[0.0; ROWS]; 5],
            k: [0.0; ROWS],
        }
    }
}

/// The pairs of one tile: for each column point j, k⁰ against the block's rows a with
/// start + a < j; adds wⱼ k⁰ to the rows' sums and Σₐ wₐ k⁰ to column j's, and returns
/// Σ wₐwⱼ k⁰. One dispatch per tile, so the vectorised loops run without a call per column.
struct TilePass<'a, K, W> {
    kernel: &'a K,
    d: usize,
    m: usize,
    start: usize,
    lo: usize,
    hi: usize,
    x: &'a [f64],
    table: &'a [f64],
    w: &'a W,
    blk: &'a mut Block,
    own: &'a mut [f64],
    cols: &'a mut [f64],
}

impl<K: Kernel, W: Fn(usize) -> f64> WithSimd for TilePass<'_, K, W> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> f64 {
        let TilePass {
            kernel,
            d,
            m,
            start,
            lo,
            hi,
            x,
            table,
            w,
            blk,
            own,
            cols,
        } = self;
        let mut total = 0.0;
        for j in lo..hi {
            // Rows a < len pair with column j (i < j).
            let len = m.min(j - start);
            if len == 0 {
                continue;
            }
            let row = &table[j * 2 * d..(j + 1) * 2 * d];
            let (xj, bj, mj) = (&x[j * d..(j + 1) * d], &row[..d], &row[d..]);
            let wj = w(j);
            let [u, dot, cross, frob, vv] = &mut blk.sums;
            let (u, dot, cross, frob, vv) = (
                &mut u[..len],
                &mut dot[..len],
                &mut cross[..len],
                &mut frob[..len],
                &mut vv[..len],
            );
            for s in [&mut *u, &mut *dot, &mut *cross, &mut *frob, &mut *vv] {
                s.fill(0.0);
            }
            for c in 0..d {
                let (xi, bi, mi) = (
                    &blk.x[c * ROWS..c * ROWS + len],
                    &blk.b[c * ROWS..c * ROWS + len],
                    &blk.m[c * ROWS..c * ROWS + len],
                );
                let (xjc, bjc, mjc) = (xj[c], bj[c], mj[c]);
                for a in 0..len {
                    let r = xi[a] - xjc;
                    let (vx, vy) = (mi[a] * r, mjc * r);
                    u[a] += r * r;
                    dot[a] += bi[a] * bjc;
                    cross[a] += bjc * vx - bi[a] * vy;
                    frob[a] += mi[a] * mjc;
                    vv[a] += vx * vy;
                }
            }
            let k = &mut blk.k[..len];
            kernel.radial_profile_each(u, |a, [phi, d1, d2]| {
                k[a] = phi * dot[a] + 2.0 * d1 * cross[a] - 2.0 * d1 * frob[a] - 4.0 * d2 * vv[a];
            });
            for (o, &ka) in own[..len].iter_mut().zip(k.iter()) {
                *o += wj * ka;
            }
            let col = super::gram_tiles::lane_dot(&blk.w[..len], k);
            cols[j - lo] += col;
            total += wj * col;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Imq, Rbf};
    use crate::stein::gram_tiles::tests::data;
    use crate::stein::pairwise::{COLS, SEGMENT, WAVE_FLOATS};

    /// k⁰ of one pair from its definition with a full (diagonal) m: docs/math.md section 7.2.
    fn pair<K: Kernel>(k: &K, x: &[f64], y: &[f64], rx: &[f64], ry: &[f64]) -> f64 {
        let d = x.len();
        let (bx, mx, by, my) = (&rx[..d], &rx[d..], &ry[..d], &ry[d..]);
        let r: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
        let u: f64 = r.iter().map(|v| v * v).sum();
        let [phi, d1, d2] = k.radial_profile(u).unwrap();
        // vₓ = mₓᵀ r with mₓ = diag(mx), as dense matrices.
        let dense = |m: &[f64]| -> Vec<f64> {
            (0..d * d)
                .map(|k| if k / d == k % d { m[k / d] } else { 0.0 })
                .collect()
        };
        let (mxd, myd) = (dense(mx), dense(my));
        let vx: Vec<f64> = (0..d)
            .map(|c| (0..d).map(|a| mxd[a * d + c] * r[a]).sum())
            .collect();
        let vy: Vec<f64> = (0..d)
            .map(|c| (0..d).map(|a| myd[a * d + c] * r[a]).sum())
            .collect();
        let dot: f64 = bx.iter().zip(by).map(|(a, b)| a * b).sum();
        let cross: f64 = (0..d).map(|c| by[c] * vx[c] - bx[c] * vy[c]).sum();
        let frob: f64 = mxd.iter().zip(&myd).map(|(a, b)| a * b).sum();
        let vv: f64 = vx.iter().zip(&vy).map(|(a, b)| a * b).sum();
        phi * dot + 2.0 * d1 * cross - 2.0 * d1 * frob - 4.0 * d2 * vv
    }

    fn check<K: Kernel>(kernel: &K, label: &str) {
        for (n, d) in [(1, 2), (2, 1), (65, 3), (300, 2), (530, 5)] {
            let x = data(n * d, n as u64);
            let mut table = data(n * 2 * d, 77 + n as u64);
            for i in 0..n {
                for c in 0..d {
                    table[i * 2 * d + d + c] = 0.2 + table[i * 2 * d + d + c].abs();
                }
            }
            let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
            for weights in [None, Some(&w[..])] {
                let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
                let (mut off, mut rows) = (0.0, vec![0.0; n]);
                for i in 0..n {
                    for j in 0..n {
                        if i != j {
                            let k = pair(
                                kernel,
                                &x[i * d..(i + 1) * d],
                                &x[j * d..(j + 1) * d],
                                &table[i * 2 * d..(i + 1) * 2 * d],
                                &table[j * 2 * d..(j + 1) * 2 * d],
                            );
                            rows[i] += wt(j) * k;
                            if i < j {
                                off += wt(i) * wt(j) * k;
                            }
                        }
                    }
                }
                let mut first: Option<PairSums> = None;
                for segment in [COLS, SEGMENT] {
                    for wave_floats in [1, WAVE_FLOATS] {
                        for par in [Par::Seq, Par::rayon(3)] {
                            let layout = Layout {
                                segment,
                                wave_floats,
                            };
                            let got = diagonal_radial_upper_with(
                                &x, &table, d, kernel, weights, par, layout,
                            )
                            .unwrap();
                            let scale: f64 = rows.iter().map(|r| r.abs()).sum::<f64>() + 1.0;
                            assert!(
                                (got.off_diagonal - off).abs() < 1e-12 * scale,
                                "{label} n={n}: {} vs {off}",
                                got.off_diagonal
                            );
                            for (g, r) in got.rows.iter().zip(&rows) {
                                assert!((g - r).abs() < 1e-12 * scale, "{label} n={n}");
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

    #[test]
    fn diagonal_tiles_match_the_pairwise_definition_bit_identically_for_any_layout() {
        check(&Imq::default(), "imq -1/2");
        check(&Imq::new(1.3, -0.35).unwrap(), "imq -0.35");
        check(&Rbf::new(0.8).unwrap(), "rbf");
    }
}
