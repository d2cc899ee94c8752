//! The multivariate Gaussian N(μ, Σ) with full covariance.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use super::spd::{Spd, check_location};
use crate::autodiff::GenericLogDensity;
use crate::density::{Hessian, LogDensity, Sampler, Score};
use crate::error::{Result, positive};
use crate::scalar::Scalar;

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The Gaussian N(μ, Σ) on ℝᵈ, normalised, with closed-form score and Hessian.
///
/// ```text
/// log p(x) = −½ (x−μ)ᵀ Σ⁻¹ (x−μ) − ½ log det Σ − (d/2) log 2π
/// s(x)     = −Σ⁻¹ (x−μ)
/// ∇² log p = −Σ⁻¹
/// ```
/// Σ is validated (finite, symmetric, positive definite) by a Cholesky factorisation through
/// faer, which also gives the sampler x = μ + L z.
///
/// # Examples
/// ```
/// use dsm_core::{Gaussian, Score};
/// let g = Gaussian::new(vec![1.0, 0.0], &[2.0, 0.0, 0.0, 0.5])?;
/// let s = g.try_score(&[2.0, 1.0])?;
/// assert!((s[0] + 0.5).abs() < 1e-15 && (s[1] + 2.0).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: Vec<f64>,
    cov: Spd,
    log_norm: f64,
    neg_trace_precision: f64,
}

impl Gaussian {
    /// N(mean, covariance), with `covariance` row-major d × d.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an empty mean;
    /// [`Error::NonFiniteMatrix`](crate::Error::NonFiniteMatrix) for a non-finite entry;
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) when the covariance is
    /// not d × d; [`Error::NotSymmetric`](crate::Error::NotSymmetric);
    /// [`Error::NotPositiveDefinite`](crate::Error::NotPositiveDefinite).
    pub fn new(mean: Vec<f64>, covariance: &[f64]) -> Result<Self> {
        check_location("Gaussian", "mean", &mean)?;
        let d = mean.len();
        let cov = Spd::new("covariance", d, covariance)?;
        let log_norm = -0.5 * cov.log_det - 0.5 * d as f64 * LN_2PI;
        let neg_trace_precision = -(0..d).map(|i| cov.inverse[i * d + i]).sum::<f64>();
        Ok(Self {
            mean,
            cov,
            log_norm,
            neg_trace_precision,
        })
    }

    /// N(mean, variance · I).
    ///
    /// # Errors
    /// As [`Gaussian::new`], and [`Error::InvalidParameter`](crate::Error::InvalidParameter)
    /// for a non-positive variance.
    pub fn isotropic(mean: Vec<f64>, variance: f64) -> Result<Self> {
        positive("Gaussian::isotropic", "variance", variance)?;
        let d = mean.len();
        crate::linalg::check_dim("Gaussian::isotropic", "mean (dimension)", d)?;
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            cov[i * d + i] = variance;
        }
        Self::new(mean, &cov)
    }

    /// The standard normal N(0, I_d).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for `dim == 0` or
    /// `dim >` [`MAX_DIM`](crate::linalg::MAX_DIM).
    pub fn standard(dim: usize) -> Result<Self> {
        crate::linalg::check_dim("Gaussian::standard", "dim", dim)?;
        Self::isotropic(vec![0.0; dim], 1.0)
    }

    /// The mean μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The covariance Σ, row-major.
    pub fn covariance(&self) -> &[f64] {
        &self.cov.matrix
    }

    /// The precision Σ⁻¹, row-major.
    pub fn precision(&self) -> &[f64] {
        &self.cov.inverse
    }

    /// The lower Cholesky factor L of Σ = L Lᵀ, row-major.
    pub fn cholesky(&self) -> &[f64] {
        &self.cov.chol
    }
}

impl LogDensity for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        self.log_norm - 0.5 * self.cov.mahalanobis_sq(x, &self.mean)
    }
}

impl Score for Gaussian {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        self.cov.precision_times(x, &self.mean, out);
        out.iter_mut().for_each(|v| *v = -*v);
    }

    /// S = −Z Σ⁻ᵀ with Z = X − 1μᵀ formed first (so no cancellation against μ), as one
    /// faer matrix product (sequential; SIMD chosen at run time).
    fn has_batched_scores(&self) -> bool {
        true
    }

    fn score_rows_into(&self, xs: &[f64], out: faer::MatMut<'_, f64>) {
        let d = self.mean.len();
        let k = xs.len() / d;
        let mut z = xs[..k * d].to_vec();
        for row in z.chunks_exact_mut(d) {
            for (v, m) in row.iter_mut().zip(&self.mean) {
                *v -= m;
            }
        }
        faer::linalg::matmul::matmul(
            out,
            faer::Accum::Replace,
            faer::MatRef::from_row_major_slice(&z, k, d),
            faer::MatRef::from_row_major_slice(&self.cov.inverse, d, d).transpose(),
            -1.0,
            faer::Par::Seq,
        );
    }
}

impl Hessian for Gaussian {
    fn hessian_into(&self, _x: &[f64], out: &mut [f64]) {
        for (o, p) in out.iter_mut().zip(&self.cov.inverse) {
            *o = -p;
        }
    }

    /// Δ log p = −tr Σ⁻¹, a constant.
    fn laplacian(&self, _x: &[f64], _scratch: &mut [f64]) -> f64 {
        self.neg_trace_precision
    }
}

impl Sampler for Gaussian {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        for v in out.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        self.cov.affine_from_standard(&self.mean, out);
    }
}

/// One point of length `dim()`, the same as [`Sampler::sample_into`] for the same `rng`
/// state (allocates the vector; use `sample_into` in loops).
///
/// ```
/// use dsm_core::Gaussian;
/// use rand::distr::Distribution;
/// use rand::SeedableRng;
/// let model = Gaussian::standard(3)?;
/// let mut rng = chacha20::ChaCha8Rng::seed_from_u64(1);
/// let points: Vec<Vec<f64>> = model.sample_iter(&mut rng).take(10).collect();
/// assert!(points.iter().all(|x| x.len() == 3));
/// # Ok::<(), dsm_core::Error>(())
/// ```
impl rand::distr::Distribution<Vec<f64>> for Gaussian {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut out = vec![0.0; LogDensity::dim(self)];
        self.sample_into(rng, &mut out);
        out
    }
}

impl GenericLogDensity for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_density_generic<D: Scalar>(&self, x: &[D]) -> D {
        let d = self.mean.len();
        let mut q = D::from(0.0);
        for i in 0..d {
            for j in 0..d {
                q += (x[i] - self.mean[i]) * (x[j] - self.mean[j]) * self.cov.inverse[i * d + j];
            }
        }
        q * (-0.5) + self.log_norm
    }
}
