//! Per-point Stein quantities, computed once, and the Stein kernel k⁰ of a pair.

use super::pairwise::gram;
use crate::density::Score;
use crate::error::{Error, Result};
use crate::kernel::{Kernel, sq_dist};
use crate::mc::Par;
use crate::samples::Samples;

/// A Stein discrepancy that can prepare its per-point quantities for a model and samples:
/// implemented by [`Ksd`](super::Ksd) and [`DiffusionKsd`](super::DiffusionKsd), and consumed
/// by their estimators and by [`KsdTest`](super::KsdTest).
pub trait SteinKernel {
    /// The base kernel.
    type Kernel: Kernel;

    /// The estimator (U or V) this discrepancy was configured with.
    fn estimator(&self) -> super::Estimator;

    /// Computes the per-point quantities (O(n·d) or O(n·d²) memory) once.
    ///
    /// # Errors
    /// Dimension mismatches, non-finite scores or diffusion values (naming the sample), and
    /// [`Error::ThreadPool`](crate::Error::ThreadPool).
    fn points<'a, P>(
        &'a self,
        model: &P,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, Self::Kernel>>
    where
        P: Score + Sync + ?Sized;

    /// The per-point quantities from samples with precomputed scores (an MCMC run's draws
    /// and gradients), instead of a model's score: the same table, to the bit, when the
    /// scores are the model's.
    ///
    /// # Errors
    /// As [`SteinKernel::points`], without the model's dimension check.
    fn points_scored<'a>(
        &'a self,
        scored: &'a crate::ScoredSamples,
        par: Par,
    ) -> Result<SteinPoints<'a, Self::Kernel>>;

    /// [`SteinKernel::estimate`] from samples with precomputed scores.
    ///
    /// # Errors
    /// As [`SteinKernel::points_scored`] and [`SteinPoints::estimate`].
    fn estimate_scored(
        &self,
        scored: &crate::ScoredSamples,
        par: Par,
    ) -> Result<super::KsdEstimate> {
        self.points_scored(scored, par)?
            .estimate(self.estimator(), par)
    }

    /// Estimates the discrepancy (KSD² or DKSD²) of the model from `samples` of q, weighted
    /// when they carry weights, with this discrepancy's estimator (docs/math.md section 7.4).
    ///
    /// # Errors
    /// Those of [`SteinKernel::points`] (dimension mismatches; the first sample with a
    /// non-finite score, m or ∇·m); [`Error::TooFewSamples`](crate::Error::TooFewSamples)
    /// for the U-statistic with n < 2; [`Error::ThreadPool`](crate::Error::ThreadPool).
    fn estimate<P>(&self, model: &P, samples: &Samples, par: Par) -> Result<super::KsdEstimate>
    where
        P: Score + Sync + ?Sized,
    {
        self.points(model, samples, par)?
            .estimate(self.estimator(), par)
    }
}

/// Scratch buffers for kernels that are not radial (allocated once per task, not per pair).
#[derive(Debug, Clone, Default)]
pub struct PairScratch {
    grad_x: Vec<f64>,
    grad_y: Vec<f64>,
    cross: Vec<f64>,
}

impl PairScratch {
    fn ensure(&mut self, d: usize) {
        if self.grad_x.len() != d {
            self.grad_x = vec![0.0; d];
            self.grad_y = vec![0.0; d];
            self.cross = vec![0.0; d * d];
        }
    }
}

/// The per-point quantities of a Stein kernel for one sample set: for each point the vector
/// b (the score s_p for the Langevin kernel, b = mᵀs_p + ∇·m for a diffusion) and, for a
/// diffusion, the matrix m; k⁰ of any pair follows from them and the base kernel.
#[derive(Debug)]
pub struct SteinPoints<'a, K> {
    pub(crate) kernel: &'a K,
    pub(crate) samples: &'a Samples,
    /// Per point: [b (d) | m: nothing, its diagonal (d) or all of it (d², row-major), by
    /// `layout`].
    pub(crate) data: Vec<f64>,
    pub(crate) stride: usize,
    pub(crate) layout: PointLayout,
}

/// What the per-point table holds beside b.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PointLayout {
    /// The Langevin kernel: b = s_p and no m.
    Langevin,
    /// A diagonal diffusion: the diagonal of m (d values).
    Diagonal,
    /// Any diffusion: m in full (d², row-major).
    Dense,
    /// A kernel with a feature map T (a pulled-back kernel): T(x) (d), then M = J m in full
    /// (d², row-major; M = J for the Langevin kernel).
    Mapped,
}

impl<K: Kernel> SteinPoints<'_, K> {
    /// Number of points.
    pub fn n(&self) -> usize {
        self.samples.n()
    }

    /// The Stein kernel value k⁰(xᵢ, xⱼ), or `None` when i or j is not below [`n`](Self::n).
    ///
    /// A convenience for single values: it allocates a [`PairScratch`] per call for kernels
    /// without a radial profile (none for [`Imq`](crate::Imq) and [`Rbf`](crate::Rbf)); in
    /// loops, keep one scratch and call [`SteinPoints::stein_kernel`], or form the whole
    /// matrix with [`SteinPoints::gram_matrix`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::*;
    /// let model = Gaussian::standard(2)?;
    /// let xs = Samples::new(vec![0.0, 0.0, 1.0, 0.5], 2)?;
    /// let ksd = Ksd::new(Imq::default(), Estimator::V);
    /// let points = ksd.points(&model, &xs, Par::Seq)?;
    /// // At x = y = 0 the score vanishes: k⁰(0, 0) = −2d φ′(0) = −2·2·(−½) = 2.
    /// assert_eq!(points.value(0, 0), Some(2.0));
    /// assert_eq!(points.value(0, 1), points.value(1, 0));
    /// assert_eq!(points.value(2, 0), None);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn value(&self, i: usize, j: usize) -> Option<f64> {
        let n = self.n();
        (i < n && j < n).then(|| self.stein_kernel(i, j, &mut PairScratch::default()))
    }

    /// The Stein Gram matrix H, Hᵢⱼ = k⁰(xᵢ, xⱼ), row-major n × n and exactly symmetric (the
    /// upper triangle is computed, in parallel by rows, and mirrored); bit-identical for any
    /// `par`. The statistics are its means:
    /// ```text
    /// V = (1/n²) Σ_{i,j} Hᵢⱼ          U = (1/(n(n−1))) Σ_{i≠j} Hᵢⱼ
    /// ```
    /// It needs **8n² bytes** (80 MB at n = 3 200); above the
    /// [`DEFAULT_MEMORY_CAP`](super::DEFAULT_MEMORY_CAP) of 1 GiB it returns an error before
    /// allocating (see [`SteinPoints::gram_matrix_with_cap`]). The estimators
    /// ([`SteinKernel::estimate`]) never form it and need O(n) memory.
    ///
    /// # Errors
    /// [`Error::MemoryCap`](crate::Error::MemoryCap) when 8n² bytes exceed the cap;
    /// [`Error::NonFiniteValue`](crate::Error::NonFiniteValue) naming the first row with a
    /// non-finite k⁰; [`Error::ThreadPool`](crate::Error::ThreadPool).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::*;
    /// let model = Gaussian::standard(1)?;
    /// let xs = model.sample_n(50, 3, Par::Seq)?;
    /// let ksd = Ksd::new(Imq::default(), Estimator::V);
    /// let points = ksd.points(&model, &xs, Par::Seq)?;
    /// let h = points.gram_matrix(Par::rayon(2))?;
    /// assert_eq!(h.len(), 50 * 50);
    /// assert_eq!(h[3 * 50 + 7], h[7 * 50 + 3]);
    /// let v = h.iter().sum::<f64>() / (50.0 * 50.0);
    /// let direct = ksd.estimate(&model, &xs, Par::Seq)?.value;
    /// assert!((v - direct).abs() <= 1e-12 * direct.abs().max(1.0));
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn gram_matrix(&self, par: Par) -> Result<Vec<f64>> {
        self.gram_matrix_with_cap(par, super::DEFAULT_MEMORY_CAP)
    }

    /// [`SteinPoints::gram_matrix`] with another memory cap, in bytes.
    ///
    /// # Errors
    /// As [`SteinPoints::gram_matrix`].
    pub fn gram_matrix_with_cap(&self, par: Par, memory_cap: u128) -> Result<Vec<f64>> {
        let n = self.n();
        let bytes = 8 * (n as u128) * (n as u128);
        if bytes > memory_cap {
            return Err(Error::MemoryCap {
                what: "Stein Gram matrix",
                needed_bytes: bytes,
                cap_bytes: memory_cap,
                largest_n: crate::error::largest_fitting(memory_cap, |m| {
                    8u128.saturating_mul(m).saturating_mul(m)
                }),
                remedy: "raise the cap with SteinPoints::gram_matrix_with_cap",
            });
        }
        let h = gram(n, par, PairScratch::default, |s, i, j| {
            self.stein_kernel(i, j, s)
        })?;
        if let Some(pos) = h.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein kernel",
                index: pos / n,
            });
        }
        Ok(h)
    }

    /// The Stein kernel k⁰(xᵢ, xⱼ) (unchecked indices: panics when out of range).
    ///
    /// Langevin (docs/math.md section 7.1), with r = x − y and a radial k = φ(‖r‖²):
    /// ```text
    /// u_p = k sₓᵀs_y + sₓᵀ∇_y k + ∇ₓkᵀ s_y + tr ∇ₓ∇_yᵀk
    ///     = φ sₓ·s_y + 2φ′ r·(s_y − sₓ) − 2dφ′ − 4φ″‖r‖²
    /// ```
    /// Diffusion (docs/math.md section 7.2), with vₓ = mₓᵀr, v_y = m_yᵀr:
    /// ```text
    /// k⁰ = bₓᵀb_y k + b_yᵀmₓᵀ∇ₓk + bₓᵀm_yᵀ∇_y k + tr(mₓᵀ[∇ₓ∇_yᵀk] m_y)
    ///    = φ bₓ·b_y + 2φ′(b_y·vₓ − bₓ·v_y) − 2φ′⟨mₓ, m_y⟩_F − 4φ″ vₓ·v_y
    /// ```
    /// Kernels without a radial profile use the first line of each, through their full
    /// derivatives.
    #[inline]
    pub fn stein_kernel(&self, i: usize, j: usize, scratch: &mut PairScratch) -> f64 {
        let (x, y) = (self.samples.row(i), self.samples.row(j));
        let d = x.len();
        let pi = &self.data[i * self.stride..(i + 1) * self.stride];
        let pj = &self.data[j * self.stride..(j + 1) * self.stride];
        let (bx, by) = (&pi[..d], &pj[..d]);
        if self.layout == PointLayout::Mapped {
            // docs/math.md eq. 7.15: r = T(x) − T(y), vₓ = Mₓᵀr, M = J m.
            let (tx, ty) = (&pi[d..2 * d], &pj[d..2 * d]);
            let u = sq_dist(tx, ty);
            let [phi, d1, d2] = self.kernel.feature_profile(u).unwrap_or([f64::NAN; 3]);
            let (dot, cross_b, frob, vv) = dense_terms(tx, ty, bx, by, &pi[2 * d..], &pj[2 * d..]);
            return phi * dot + 2.0 * d1 * cross_b - 2.0 * d1 * frob - 4.0 * d2 * vv;
        }
        let u = sq_dist(x, y);
        if let Some([phi, d1, d2]) = self.kernel.radial_profile(u) {
            let (mut dot, mut cross_b, mut frob, mut vv) = (0.0, 0.0, 0.0, 0.0);
            match self.layout {
                PointLayout::Langevin => {
                    let mut dr = 0.0;
                    for a in 0..d {
                        dot += bx[a] * by[a];
                        dr += (x[a] - y[a]) * (by[a] - bx[a]);
                    }
                    return phi * dot + 2.0 * d1 * dr - 2.0 * d as f64 * d1 - 4.0 * d2 * u;
                }
                PointLayout::Diagonal => {
                    let (mx, my) = (&pi[d..], &pj[d..]);
                    for c in 0..d {
                        let r = x[c] - y[c];
                        let (vxc, vyc) = (mx[c] * r, my[c] * r);
                        dot += bx[c] * by[c];
                        cross_b += by[c] * vxc - bx[c] * vyc;
                        frob += mx[c] * my[c];
                        vv += vxc * vyc;
                    }
                }
                PointLayout::Dense | PointLayout::Mapped => {
                    (dot, cross_b, frob, vv) = dense_terms(x, y, bx, by, &pi[d..], &pj[d..]);
                }
            }
            return phi * dot + 2.0 * d1 * cross_b - 2.0 * d1 * frob - 4.0 * d2 * vv;
        }
        scratch.ensure(d);
        let PairScratch {
            grad_x,
            grad_y,
            cross,
        } = scratch;
        let k = self.kernel.derivatives_into(x, y, grad_x, grad_y, cross);
        let (mx, my) = (&pi[d..], &pj[d..]);
        let mut total = 0.0;
        match self.layout {
            PointLayout::Langevin => {
                for a in 0..d {
                    total += k * bx[a] * by[a]
                        + bx[a] * grad_y[a]
                        + grad_x[a] * by[a]
                        + cross[a * d + a];
                }
            }
            PointLayout::Diagonal => {
                for c in 0..d {
                    total += k * bx[c] * by[c]
                        + grad_x[c] * mx[c] * by[c]
                        + grad_y[c] * my[c] * bx[c]
                        + mx[c] * cross[c * d + c] * my[c];
                }
            }
            // (Mapped returned above, through the feature profile.)
            PointLayout::Dense | PointLayout::Mapped => {
                for c in 0..d {
                    total += k * bx[c] * by[c];
                    for a in 0..d {
                        // b_yᵀ mₓᵀ ∇ₓk = Σ_a ∇ₓk_a (mₓ b_y)_a, likewise for y.
                        total +=
                            grad_x[a] * mx[a * d + c] * by[c] + grad_y[a] * my[a * d + c] * bx[c];
                        let mut cm = 0.0;
                        for b in 0..d {
                            cm += cross[a * d + b] * my[b * d + c];
                        }
                        total += mx[a * d + c] * cm;
                    }
                }
            }
        }
        total
    }
}

/// The four sums of docs/math.md eq. 7.6 for a full m: bₓ·b_y, b_y·vₓ − bₓ·v_y, ⟨mₓ, m_y⟩_F and
/// vₓ·v_y, with vₓ = mₓᵀr, v_y = m_yᵀr, r = x − y.
#[inline]
fn dense_terms(
    x: &[f64],
    y: &[f64],
    bx: &[f64],
    by: &[f64],
    mx: &[f64],
    my: &[f64],
) -> (f64, f64, f64, f64) {
    let d = x.len();
    let (mut dot, mut cross_b, mut frob, mut vv) = (0.0, 0.0, 0.0, 0.0);
    for c in 0..d {
        let (mut vxc, mut vyc) = (0.0, 0.0);
        for a in 0..d {
            let ra = x[a] - y[a];
            let (mxa, mya) = (mx[a * d + c], my[a * d + c]);
            vxc += mxa * ra;
            vyc += mya * ra;
            frob += mxa * mya;
        }
        dot += bx[c] * by[c];
        cross_b += by[c] * vxc - bx[c] * vyc;
        vv += vxc * vyc;
    }
    (dot, cross_b, frob, vv)
}
