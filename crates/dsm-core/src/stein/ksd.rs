//! The Langevin kernel Stein discrepancy and the diffusion kernel Stein discrepancy.

use super::estimate::{Estimator, KsdEstimate};
use super::pairwise::upper_triangle;
use super::points::{PairScratch, PointLayout, SteinKernel, SteinPoints};
use crate::density::Score;
use crate::diffusion::{Diffusion, DiffusionWork};
use crate::error::{Error, Result, check_finite, same_dim};
use crate::kernel::Kernel;
use crate::mc::{self, Estimate, Par};
use crate::samples::Samples;
use crate::scored_samples::ScoredSamples;

/// The Langevin kernel Stein discrepancy (Liu et al. 2016; docs/math.md eq. 3 with an RKHS,
/// section 7.1), with base kernel k and the Stein kernel u_p of [`SteinPoints::stein_kernel`].
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(2)?;
/// let good = model.sample_n(500, 1, Par::Seq)?;
/// let bad = MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 3.0)?.sample_n(500, 1, Par::Seq)?;
/// let ksd = Ksd::new(Imq::default(), Estimator::U);
/// let near = ksd.estimate(&model, &good, Par::rayon(2))?;
/// let far = ksd.estimate(&model, &bad, Par::rayon(2))?;
/// assert!(far.value > near.value);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ksd<K> {
    kernel: K,
    estimator: Estimator,
}

impl<K: Kernel> Ksd<K> {
    /// The KSD with base kernel `kernel` and the given estimator.
    pub fn new(kernel: K, estimator: Estimator) -> Self {
        Self { kernel, estimator }
    }

    /// The base kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// The estimator.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }
}

impl<K: Kernel> SteinKernel for Ksd<K> {
    type Kernel = K;

    fn estimator(&self) -> Estimator {
        self.estimator
    }

    fn points<'a, P>(
        &'a self,
        model: &P,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>>
    where
        P: Score + Sync + ?Sized,
    {
        let d = samples.dim();
        same_dim(
            "dimension of the model",
            model.dim(),
            "dimension of the samples",
            d,
        )?;
        self.points_from(&|_, x, out| model.score_into(x, out), samples, par)
    }

    fn points_scored<'a>(
        &'a self,
        scored: &'a ScoredSamples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>> {
        self.points_from(
            &|i, _, out| scored.score_into(i, out),
            scored.samples(),
            par,
        )
    }
}

impl<K: Kernel> Ksd<K> {
    /// The per-point table from a score source (the model's, or a precomputed table).
    fn points_from<'a>(
        &'a self,
        score: ScoreSource<'_>,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>> {
        let d = samples.dim();
        check_kernel_dim(&self.kernel, d)?;
        if self.kernel.has_feature_map() {
            return mapped_points(
                &self.kernel,
                score,
                None::<&crate::IdentityDiffusion>,
                samples,
                par,
            );
        }
        check_table_size(samples.n(), d)?;
        let data = mc::map_rows(
            samples,
            d,
            par,
            || (),
            |_, i, x, out| {
                score(i, x, out);
                check_finite(out, "score of p", i)
            },
        )?;
        Ok(SteinPoints {
            kernel: &self.kernel,
            samples,
            data,
            stride: d,
            layout: PointLayout::Langevin,
        })
    }
}

/// Where a Stein kernel's per-point scores come from: s(i, xᵢ, out) writes the score at
/// sample i (the model's at xᵢ, or row i of a precomputed table).
type ScoreSource<'s> = &'s (dyn Fn(usize, &[f64], &mut [f64]) + Sync);

/// The diffusion kernel Stein discrepancy (Barp et al. 2019; docs/math.md eq. 7, section 7.2)
/// with matrix kernel K = k I and diffusion m, with the closed-form Stein kernel of
/// [`SteinPoints::stein_kernel`] and b = mᵀs_p + ∇·m computed once per point.
///
/// With m = I it is the Langevin [`Ksd`], pair by pair.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = StudentT::new(0.0, 1.0, 3.0)?;
/// let xs = model.sample_n(400, 2, Par::Seq)?;
/// let m = DiffusionFn::new(
///     1,
///     |x: &[f64], m: &mut [f64]| m[0] = (1.0 + x[0] * x[0] / 3.0).sqrt(),
///     |x: &[f64], dm: &mut [f64]| dm[0] = x[0] / (3.0 * (1.0 + x[0] * x[0] / 3.0).sqrt()),
/// );
/// let dksd = DiffusionKsd::new(Imq::default(), m, Estimator::V)?;
/// let e = dksd.estimate(&model, &xs, Par::Seq)?;
/// assert!(e.value >= 0.0);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DiffusionKsd<K, M> {
    kernel: K,
    diffusion: M,
    estimator: Estimator,
}

impl<K: Kernel, M: Diffusion> DiffusionKsd<K, M> {
    /// The DKSD with base kernel `kernel`, diffusion `diffusion` and the given estimator.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a diffusion of dimension 0.
    pub fn new(kernel: K, diffusion: M, estimator: Estimator) -> Result<Self> {
        if diffusion.dim() == 0 {
            return Err(Error::InvalidParameter {
                owner: "DiffusionKsd",
                name: "diffusion dimension",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        Ok(Self {
            kernel,
            diffusion,
            estimator,
        })
    }

    /// The diffusion m.
    pub fn diffusion(&self) -> &M {
        &self.diffusion
    }

    /// The base kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// The estimator.
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }
}

impl<K: Kernel, M: Diffusion> SteinKernel for DiffusionKsd<K, M> {
    type Kernel = K;

    fn estimator(&self) -> Estimator {
        self.estimator
    }

    fn points<'a, P>(
        &'a self,
        model: &P,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>>
    where
        P: Score + Sync + ?Sized,
    {
        let d = samples.dim();
        same_dim(
            "dimension of the model",
            model.dim(),
            "dimension of the samples",
            d,
        )?;
        self.points_from(&|_, x, out| model.score_into(x, out), samples, par)
    }

    fn points_scored<'a>(
        &'a self,
        scored: &'a ScoredSamples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>> {
        self.points_from(
            &|i, _, out| scored.score_into(i, out),
            scored.samples(),
            par,
        )
    }
}

impl<K: Kernel, M: Diffusion> DiffusionKsd<K, M> {
    /// The per-point table from a score source (the model's, or a precomputed table).
    fn points_from<'a>(
        &'a self,
        score: ScoreSource<'_>,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, K>> {
        let d = samples.dim();
        same_dim(
            "dimension of the diffusion",
            self.diffusion.dim(),
            "dimension of the samples",
            d,
        )?;
        check_kernel_dim(&self.kernel, d)?;
        if self.kernel.has_feature_map() {
            return mapped_points(&self.kernel, score, Some(&self.diffusion), samples, par);
        }
        // A diagonal m (an elementwise flow's, say) is stored as its diagonal and paired in
        // O(d); any other m in full.
        let diagonal = self.diffusion.is_diagonal();
        let stride = check_table_size(samples.n(), if diagonal { 2 * d } else { d + d * d })?;
        let data = mc::map_rows(
            samples,
            stride,
            par,
            || {
                let dense = if diagonal { d * d } else { 0 };
                (
                    vec![0.0; d],
                    vec![0.0; d],
                    vec![0.0; dense],
                    DiffusionWork::new(),
                )
            },
            |(s, div, dense, work), i, x, out| {
                score(i, x, s);
                check_finite(s, "score of p", i)?;
                let (b, m_slot) = out.split_at_mut(d);
                if diagonal {
                    self.diffusion
                        .matrix_and_divergence_into(x, work, dense, div)
                        .map_err(|e| e.at_sample(i))?;
                    check_finite(dense, "diffusion matrix", i)?;
                    check_finite(div, "divergence of m", i)?;
                    // b_k = m_kk s_k + (∇·m)_k
                    for k in 0..d {
                        m_slot[k] = dense[k * d + k];
                        b[k] = div[k] + m_slot[k] * s[k];
                    }
                } else {
                    self.diffusion
                        .matrix_and_divergence_into(x, work, m_slot, div)
                        .map_err(|e| e.at_sample(i))?;
                    check_finite(m_slot, "diffusion matrix", i)?;
                    check_finite(div, "divergence of m", i)?;
                    // b_k = Σ_j m_jk s_j + (∇·m)_k
                    for (k, bk) in b.iter_mut().enumerate() {
                        *bk = div[k] + (0..d).map(|j| m_slot[j * d + k] * s[j]).sum::<f64>();
                    }
                }
                check_finite(b, "b = mᵀs + ∇·m", i)
            },
        )?;
        Ok(SteinPoints {
            kernel: &self.kernel,
            samples,
            data,
            stride,
            layout: if diagonal {
                PointLayout::Diagonal
            } else {
                PointLayout::Dense
            },
        })
    }
}

impl<K: Kernel> SteinPoints<'_, K> {
    /// The U or V estimate of the Stein discrepancy over these points (weighted when the
    /// samples carry weights), with its first-order standard error.
    ///
    /// ```text
    /// U = Σ_{i≠j} wᵢwⱼ k⁰ᵢⱼ / (W² − Σwᵢ²)        V = Σ_{i,j} wᵢwⱼ k⁰ᵢⱼ / W²,   W = Σwᵢ
    /// ```
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for U with fewer than 2 points of positive weight;
    /// [`Error::NonFiniteValue`] when k⁰ is not finite; [`Error::ThreadPool`].
    pub fn estimate(&self, estimator: Estimator, par: Par) -> Result<KsdEstimate> {
        let n = self.n();
        if estimator == Estimator::U && n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        let weights = self.samples.weights();
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let positive = weights.map_or(n, |ws| ws.iter().filter(|&&v| v > 0.0).count());
        if estimator == Estimator::U && positive < 2 {
            // All weight on one point: no pair carries weight.
            return Err(Error::TooFewSamples {
                needed: 2,
                got: positive,
            });
        }
        let total: f64 = (0..n).map(w).sum();
        // W − wᵢ from prefix and suffix sums, not by subtraction, which cancels when one
        // weight dominates ([1e300, 1, 1, …]); W² − Σwᵢ² = Σᵢ wᵢ (W − wᵢ) likewise.
        let leave_one_out = leave_one_out_totals(n, w);
        let pair_total: f64 = (0..n).map(|i| w(i) * leave_one_out[i]).sum();
        // The diagonal first, so that its n values are freed before the pairwise sums.
        let diag = match estimator {
            Estimator::U => 0.0,
            Estimator::V => {
                let diag = mc::map_samples(self.samples, par, PairScratch::default, |s, i, _| {
                    Ok(self.stein_kernel(i, i, s))
                })?;
                diag.iter().enumerate().map(|(i, k)| w(i) * w(i) * k).sum()
            }
        };
        let radial = self.kernel.radial_profile(0.0).is_some();
        let sums = if radial && self.layout == PointLayout::Diagonal {
            // Diagonal m: O(d) per pair, a block's rows coordinate-major, vectorised.
            super::diagonal_tiles::diagonal_radial_upper(
                self.samples.as_slice(),
                &self.data,
                self.samples.dim(),
                self.kernel,
                weights,
                par,
            )?
        } else if radial && self.layout == PointLayout::Langevin {
            // The O(d) part of every pair from matrix products per tile (same blocks, same order).
            super::gram_tiles::langevin_radial_upper(
                self.samples.as_slice(),
                &self.data,
                self.samples.dim(),
                self.kernel,
                weights,
                par,
            )?
        } else {
            upper_triangle(n, weights, par, PairScratch::default, |s, i, j| {
                self.stein_kernel(i, j, s)
            })?
        };
        let value = match estimator {
            Estimator::U => 2.0 * sums.off_diagonal / pair_total,
            Estimator::V => (diag + 2.0 * sums.off_diagonal) / (total * total),
        };
        if !value.is_finite() {
            let index = sums.rows.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(Error::NonFiniteValue {
                quantity: "Stein kernel",
                index,
            });
        }
        // h₁(xᵢ) = Σ_{j≠i} wⱼ k⁰ᵢⱼ / (W − wᵢ), in place of the row sums; std_err = 2 · se of
        // its weighted mean.
        let std_err = if n >= 2 {
            let mut h1 = sums.rows;
            for (i, g) in h1.iter_mut().enumerate() {
                *g /= leave_one_out[i];
            }
            match Estimate::from_values(&h1, weights, par) {
                Ok(e) => 2.0 * e.std_err,
                Err(_) => f64::INFINITY,
            }
        } else {
            f64::INFINITY
        };
        Ok(KsdEstimate {
            value,
            std_err,
            n,
            estimator,
        })
    }
}

/// The per-point table of a kernel with a feature map T (a pulled-back kernel), once per
/// point: b (d; s_p, or mᵀs_p + ∇·m with a diffusion), T(x) (d) and M = J m (d²; J without a
/// diffusion), so that each pair costs O(d²) (docs/math.md eq. 7.15).
fn mapped_points<'a, K, M>(
    kernel: &'a K,
    score: ScoreSource<'_>,
    diffusion: Option<&M>,
    samples: &'a Samples,
    par: Par,
) -> Result<SteinPoints<'a, K>>
where
    K: Kernel,
    M: Diffusion,
{
    let d = samples.dim();
    if let Some(m) = diffusion {
        same_dim(
            "dimension of the diffusion",
            m.dim(),
            "dimension of the samples",
            d,
        )?;
    }
    let stride = check_table_size(samples.n(), 2 * d + d * d)?;
    let data = mc::map_rows(
        samples,
        stride,
        par,
        || {
            (
                vec![0.0; d],
                vec![0.0; d],
                vec![0.0; 2 * d * d],
                DiffusionWork::new(),
            )
        },
        |(s, div, mj, work), i, x, out| {
            score(i, x, s);
            check_finite(s, "score of p", i)?;
            let (b, rest) = out.split_at_mut(d);
            let (tx, big_m) = rest.split_at_mut(d);
            let (m, j) = mj.split_at_mut(d * d);
            kernel
                .feature_map_into(x, tx, j)
                .map_err(|e| e.at_sample(i))?;
            check_finite(tx, "feature map T(x) of the kernel", i)?;
            check_finite(j, "Jacobian of the kernel's feature map", i)?;
            match diffusion {
                None => {
                    b.copy_from_slice(s);
                    big_m.copy_from_slice(j);
                }
                Some(diff) => {
                    diff.matrix_and_divergence_into(x, work, m, div)
                        .map_err(|e| e.at_sample(i))?;
                    check_finite(m, "diffusion matrix", i)?;
                    check_finite(div, "divergence of m", i)?;
                    for (k, bk) in b.iter_mut().enumerate() {
                        *bk = div[k] + (0..d).map(|r| m[r * d + k] * s[r]).sum::<f64>();
                    }
                    // M = J m
                    for r in 0..d {
                        for c in 0..d {
                            big_m[r * d + c] = (0..d).map(|k| j[r * d + k] * m[k * d + c]).sum();
                        }
                    }
                }
            }
            check_finite(b, "b = mᵀs + ∇·m", i)
        },
    )?;
    Ok(SteinPoints {
        kernel,
        samples,
        data,
        stride,
        layout: PointLayout::Mapped,
    })
}

/// W − wᵢ for every i, as the sum of the weights before i plus the sum after i.
pub(crate) fn leave_one_out_totals(n: usize, w: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut out = vec![0.0; n];
    let mut prefix = 0.0;
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = prefix;
        prefix += w(i);
    }
    let mut suffix = 0.0;
    for (i, slot) in out.iter_mut().enumerate().rev() {
        *slot += suffix;
        suffix += w(i);
    }
    out
}

/// Largest per-point table the Stein discrepancies build: n·stride floats (for DKSD,
/// stride = d + d²: b and m at every point), 4 GiB.
pub const MAX_POINT_TABLE_BYTES: u128 = 1 << 32;

/// Checks that n·stride floats fit under [`MAX_POINT_TABLE_BYTES`]; returns the stride.
fn check_table_size(n: usize, stride: usize) -> Result<usize> {
    let needed = 8 * n as u128 * stride as u128;
    if needed > MAX_POINT_TABLE_BYTES {
        return Err(Error::MemoryCap {
            what: "Stein per-point table (n (d + d²) floats for DKSD)",
            needed_bytes: needed,
            cap_bytes: MAX_POINT_TABLE_BYTES,
            largest_n: crate::error::largest_fitting(MAX_POINT_TABLE_BYTES, |m| {
                m.saturating_mul(8 * stride as u128)
            }),
            remedy: "the cap MAX_POINT_TABLE_BYTES is fixed: use fewer samples",
        });
    }
    Ok(stride)
}

/// Checks a kernel's own dimension (if it has one) against the samples'.
fn check_kernel_dim<K: Kernel>(kernel: &K, d: usize) -> Result<()> {
    match kernel.dim() {
        Some(k) => same_dim("dimension of the kernel", k, "dimension of the samples", d),
        None => Ok(()),
    }
}
