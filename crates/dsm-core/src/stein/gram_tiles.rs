//! The Langevin Stein kernel with a radial base kernel, summed over the upper triangle with
//! the O(d) part of every pair taken from one small matrix product per tile.
//!
//! For r = xᵢ − xⱼ and a radial k = φ(‖r‖²), u_p needs only four inner products per pair:
//!
//! ```text
//! ‖r‖²          = xᵢ·xᵢ + xⱼ·xⱼ − 2 xᵢ·xⱼ
//! r·(sⱼ − sᵢ)   = xᵢ·sⱼ − xᵢ·sᵢ − xⱼ·sⱼ + xⱼ·sᵢ
//! sᵢ·sⱼ
//! u_p           = φ sᵢ·sⱼ + 2φ′ r·(sⱼ − sᵢ) − 2dφ′ − 4φ″‖r‖²
//! ```
//! The points are centred first (k⁰ sees them only through differences), so that ‖r‖² from
//! the Gram products does not cancel against ‖x‖² for data far from the origin. With
//! A = [X_I; S_I] (the block's points over its scores) and B = [X_J; S_J] for a tile's
//! columns, the products A Bᵀ hold all four (faer, sequential inside the tile, SIMD
//! chosen at run time). One fused pass over the tile then forms φ, φ′, φ″ and u_p and adds
//! the row and column sums. The pass is written as plain loops over short columns with
//! lane-wise partial sums in a fixed shape, and runs under [`pulp::Arch::dispatch`], which
//! compiles it for the widest vector unit the CPU has (AVX2/FMA on x86-64) and picks that
//! version at run time, without `unsafe` here. Vector width changes nothing numerically in
//! this pass: every operation is IEEE-exact per lane and no sum is reassociated (the
//! compiler does not contract to FMA).
//!
//! **What is bit-identical.** On one machine, results are identical for every thread count
//! (fixed tiles, ordered reductions; tested). Across CPUs they may differ in the last bits:
//! the Gram products A Bᵀ (and the Gaussian's batched scores) go through faer's matrix
//! products, which pick FMA or non-FMA kernels of different widths at run time (AVX2,
//! AVX-512, none), and a fused multiply-add rounds once where a multiply and an add round
//! twice. We do not promise identical bits across CPU generations.

use faer::{Accum, Mat, MatRef};
use pulp::{Arch, Simd, WithSimd};

use super::pairwise::{COLS, Layout, PairSums, ROWS, Tile, drive_tiles};
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
    langevin_radial_upper_with(x, s, d, kernel, weights, par, Layout::default())
}

/// [`langevin_radial_upper`] with a chosen [`Layout`] (tests use short segments).
pub(crate) fn langevin_radial_upper_with<K: Kernel>(
    x: &[f64],
    s: &[f64],
    d: usize,
    kernel: &K,
    weights: Option<&[f64]>,
    par: Par,
    layout: Layout,
) -> Result<PairSums> {
    let tiles = LangevinTiles::new(x, s, d, kernel, weights);
    drive_tiles(
        tiles.n,
        par,
        layout,
        || tiles.scratch(),
        |sc, t, own, cols| tiles.tile(sc, t, own, cols, None),
    )
}

/// The Langevin Stein kernel of a radial kernel, tile by tile: the shared per-set data (the
/// points' centre and the scores as a matrix) for [`LangevinTiles::tile`].
pub(crate) struct LangevinTiles<'a, K> {
    x: &'a [f64],
    s: &'a [f64],
    d: usize,
    n: usize,
    sm: MatRef<'a, f64>,
    centre: Vec<f64>,
    kernel: &'a K,
    weights: Option<&'a [f64]>,
    arch: Arch,
}

impl<'a, K: Kernel> LangevinTiles<'a, K> {
    /// Points `x` and scores `s` (both n × d row-major), optional weights.
    pub(crate) fn new(
        x: &'a [f64],
        s: &'a [f64],
        d: usize,
        kernel: &'a K,
        weights: Option<&'a [f64]>,
    ) -> Self {
        let n = x.len() / d;
        // k⁰ depends on the points only through their differences, so they are centred first
        // (per block and per tile, without a copy of the whole set): ‖xᵢ − xⱼ‖² from Gram
        // products would otherwise cancel against ‖x‖² for points far from the origin.
        let mut centre = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for (c, v) in centre.iter_mut().zip(row) {
                *c += v;
            }
        }
        centre.iter_mut().for_each(|c| *c /= n.max(1) as f64);
        LangevinTiles {
            x,
            s,
            d,
            n,
            sm: MatRef::from_row_major_slice(s, n, d),
            centre,
            kernel,
            weights,
            arch: Arch::new(),
        }
    }

    /// Buffers for one task.
    pub(crate) fn scratch(&self) -> Scratch {
        Scratch::new(self.d)
    }

    fn centred(&self, i: usize, out: &mut [f64]) {
        let d = self.d;
        for ((o, v), c) in out
            .iter_mut()
            .zip(&self.x[i * d..(i + 1) * d])
            .zip(&self.centre)
        {
            *o = v - c;
        }
    }

    /// One tile of the upper triangle (pairs i < j): adds the weighted row and column sums
    /// as [`drive_tiles`] asks and returns Σ wᵢwⱼ k⁰ᵢⱼ; with `out` (m × c column-major, m the
    /// block's rows, c the tile's columns) it also writes k⁰ᵢⱼ there, and 0 where i ≥ j.
    pub(crate) fn tile(
        &self,
        sc: &mut Scratch,
        t: &Tile,
        own: &mut [f64],
        cols: &mut [f64],
        out: Option<&mut [f64]>,
    ) -> f64 {
        let (s, d, sm) = (self.s, self.d, self.sm);
        let w = |i: usize| self.weights.map_or(1.0, |w| w[i]);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
        let m = t.end - t.start;
        if sc.block != Some(t.start) {
            // A = [X_I − 1cᵀ; S_I] and the block's ‖x̃ᵢ‖², x̃ᵢ·sᵢ, wᵢ, once per block.
            sc.block = Some(t.start);
            sc.a = Mat::zeros(2 * m, d);
            sc.a.as_mut()
                .subrows_mut(m, m)
                .copy_from(sm.subrows(t.start, m));
            for (a, i) in (t.start..t.end).enumerate() {
                let mut point = std::mem::take(&mut sc.point);
                self.centred(i, &mut point);
                let si = &s[i * d..(i + 1) * d];
                sc.xx_i[a] = dot(&point, &point);
                sc.xs_i[a] = dot(&point, si);
                sc.w_i[a] = w(i);
                for (j, v) in point.iter().enumerate() {
                    sc.a[(a, j)] = *v;
                }
                sc.point = point;
            }
        }
        let c = t.hi - t.lo;
        // The columns' centred points, ‖x̃ⱼ‖², x̃ⱼ·sⱼ, wⱼ; then A X̃_Jᵀ and A S_Jᵀ (S_J straight
        // from the row-major data).
        for (b, (j, xj)) in (t.lo..t.hi).zip(sc.xj.chunks_exact_mut(d)).enumerate() {
            self.centred(j, xj);
            let sj = &s[j * d..(j + 1) * d];
            sc.xx_j[b] = dot(xj, xj);
            sc.xs_j[b] = dot(xj, sj);
            sc.w_j[b] = w(j);
        }
        let (gx, gs) =
            sc.g.as_mut()
                .submatrix_mut(0, 0, 2 * m, 2 * c)
                .split_at_col_mut(c);
        for (dst, src) in [
            (gx, MatRef::from_row_major_slice(&sc.xj[..c * d], c, d)),
            (gs, sm.subrows(t.lo, c)),
        ] {
            faer::linalg::matmul::matmul(
                dst,
                Accum::Replace,
                sc.a.as_ref(),
                src.transpose(),
                1.0,
                faer::Par::Seq,
            );
        }
        let g = sc.g.as_ref().submatrix(0, 0, 2 * m, 2 * c);
        self.arch.dispatch(TilePass {
            kernel: self.kernel,
            g,
            m,
            c,
            first_valid: t.lo - t.start,
            xx_i: &sc.xx_i[..m],
            xs_i: &sc.xs_i[..m],
            w_i: &sc.w_i[..m],
            xx_j: &sc.xx_j[..c],
            xs_j: &sc.xs_j[..c],
            w_j: &sc.w_j[..c],
            df: d as f64,
            own,
            cols,
            out,
        })
    }
}

/// Buffers of one task, reused across the tiles of a block.
pub(crate) struct Scratch {
    block: Option<usize>,
    point: Vec<f64>,
    a: Mat<f64>,
    /// The tile's centred points, row-major.
    xj: Vec<f64>,
    g: Mat<f64>,
    xx_i: [f64; ROWS],
    xs_i: [f64; ROWS],
    w_i: [f64; ROWS],
    xx_j: Vec<f64>,
    xs_j: Vec<f64>,
    w_j: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(d: usize) -> Self {
        Scratch {
            block: None,
            point: vec![0.0; d],
            a: Mat::zeros(0, d),
            xj: vec![0.0; COLS * d],
            g: Mat::zeros(2 * ROWS, 2 * COLS),
            xx_i: [0.0; ROWS],
            xs_i: [0.0; ROWS],
            w_i: [0.0; ROWS],
            xx_j: vec![0.0; COLS],
            xs_j: vec![0.0; COLS],
            w_j: vec![0.0; COLS],
        }
    }
}

/// The fused pass over one tile. `g` is A Bᵀ (2m × 2c, column-major): for column b of the
/// tile, rows 0..m of column b hold xᵢ·xⱼ and rows m..2m hold sᵢ·xⱼ; rows 0..m of column c + b
/// hold xᵢ·sⱼ and rows m..2m hold sᵢ·sⱼ.
struct TilePass<'a, K> {
    kernel: &'a K,
    g: MatRef<'a, f64>,
    m: usize,
    c: usize,
    /// Column b pairs with rows a < first_valid + b only (i < j); ≥ m off the diagonal.
    first_valid: usize,
    xx_i: &'a [f64],
    xs_i: &'a [f64],
    w_i: &'a [f64],
    xx_j: &'a [f64],
    xs_j: &'a [f64],
    w_j: &'a [f64],
    df: f64,
    own: &'a mut [f64],
    cols: &'a mut [f64],
    /// Where to write the tile's k⁰ (m × c column-major, 0 where i ≥ j), when asked.
    out: Option<&'a mut [f64]>,
}

impl<K: Kernel> WithSimd for TilePass<'_, K> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> f64 {
        let TilePass {
            kernel,
            g,
            m,
            c,
            first_valid,
            xx_i,
            xs_i,
            w_i,
            xx_j,
            xs_j,
            w_j,
            df,
            own,
            cols,
            mut out,
        } = self;
        let mut u = [0.0; ROWS];
        let mut k = [0.0; ROWS];
        let mut total = 0.0;
        for b in 0..c {
            let len = m.min(first_valid + b);
            if let Some(out) = out.as_deref_mut() {
                out[b * m + len..(b + 1) * m].fill(0.0);
            }
            if len == 0 {
                continue;
            }
            let xj_col = g.col(b).try_as_col_major().expect("column-major tile");
            let sj_col = g.col(c + b).try_as_col_major().expect("column-major tile");
            let (gxx, gsx) = xj_col.as_slice().split_at(m);
            let (gxs, gss) = sj_col.as_slice().split_at(m);
            let (xxj, xsj, wj) = (xx_j[b], xs_j[b], w_j[b]);
            let (xx_i, xs_i, gxx, gsx, gxs, gss) = (
                &xx_i[..len],
                &xs_i[..len],
                &gxx[..len],
                &gsx[..len],
                &gxs[..len],
                &gss[..len],
            );
            let u = &mut u[..len];
            for a in 0..len {
                u[a] = (xx_i[a] + xxj - 2.0 * gxx[a]).max(0.0);
            }
            let k = &mut k[..len];
            kernel.radial_profile_each(u, |a, [phi, d1, d2]| {
                let dr = gxs[a] - xs_i[a] - xsj + gsx[a];
                k[a] = phi * gss[a] + 2.0 * d1 * dr - 2.0 * df * d1 - 4.0 * d2 * u[a];
            });
            if let Some(out) = out.as_deref_mut() {
                out[b * m..b * m + len].copy_from_slice(k);
            }
            for (o, &k) in own[..len].iter_mut().zip(k.iter()) {
                *o += wj * k;
            }
            let col = lane_dot(&w_i[..len], k);
            cols[b] += col;
            total += wj * col;
        }
        total
    }
}

/// Σ aᵢbᵢ with eight lane-wise partial sums combined in a fixed tree, then the tail: the same
/// result whatever vector width the loop is compiled for.
#[inline(always)]
pub(crate) fn lane_dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])))
        + tail
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernel::{Imq, Rbf};
    use crate::stein::pairwise::{SEGMENT, WAVE_FLOATS};

    /// Deterministic pseudo-random numbers in (−2, 2) (a 64-bit LCG).
    pub(crate) fn data(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
            })
            .collect()
    }

    /// u_p of one pair from its definition in coordinates (docs/math.md section 7.1).
    fn pair<K: Kernel>(k: &K, x: &[f64], y: &[f64], sx: &[f64], sy: &[f64]) -> f64 {
        let d = x.len() as f64;
        let u: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
        let [phi, d1, d2] = k.radial_profile(u).unwrap();
        let dot: f64 = sx.iter().zip(sy).map(|(a, b)| a * b).sum();
        let dr: f64 = (0..x.len()).map(|a| (x[a] - y[a]) * (sy[a] - sx[a])).sum();
        phi * dot + 2.0 * d1 * dr - 2.0 * d * d1 - 4.0 * d2 * u
    }

    fn check<K: Kernel>(kernel: &K, label: &str, shift: f64) {
        for (n, d) in [(1, 3), (2, 1), (65, 3), (300, 10), (530, 2)] {
            let (mut x, s) = (data(n * d, n as u64), data(n * d, 1000 + n as u64));
            x.iter_mut().for_each(|v| *v += shift);
            let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
            for weights in [None, Some(&w[..])] {
                let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
                let (mut off, mut rows) = (0.0, vec![0.0; n]);
                for i in 0..n {
                    for j in 0..n {
                        if i != j {
                            let (xi, xj) = (&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
                            let (si, sj) = (&s[i * d..(i + 1) * d], &s[j * d..(j + 1) * d]);
                            let k = pair(kernel, xi, xj, si, sj);
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
                            let got =
                                langevin_radial_upper_with(&x, &s, d, kernel, weights, par, layout)
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
    fn tiles_match_the_pairwise_definition_bit_identically_for_any_layout() {
        // β = −½ takes the vectorised branch of the IMQ profile; β = −0.35 the general one;
        // the RBF goes through the default per-entry profile.
        check(&Imq::default(), "imq -1/2", 0.0);
        check(&Imq::new(1.3, -0.35).unwrap(), "imq -0.35", 0.0);
        check(&Rbf::new(0.8).unwrap(), "rbf", 0.0);
    }

    #[test]
    fn points_far_from_the_origin_lose_no_digits() {
        // ‖x − y‖² from Gram products cancels catastrophically when the points sit far from
        // the origin relative to their spread (here 1e7 against 1); the engine centres them
        // first, since k⁰ depends on the points only through their differences.
        check(&Imq::default(), "imq -1/2 at 1e7", 1e7);
        check(&Rbf::new(0.8).unwrap(), "rbf at -3e8", -3e8);
    }

    #[test]
    fn batch_profiles_equal_the_one_at_a_time_profiles_bit_for_bit() {
        let u: Vec<f64> = data(257, 5).iter().map(|v| v.abs() * 50.0).collect();
        for kernel in [Imq::default(), Imq::new(0.3, -0.8).unwrap()] {
            let mut seen = 0;
            assert!(kernel.radial_profile_each(&u, |a, p| {
                assert_eq!(p, kernel.radial_profile(u[a]).unwrap());
                seen += 1;
            }));
            assert_eq!(seen, u.len());
        }
    }
}
