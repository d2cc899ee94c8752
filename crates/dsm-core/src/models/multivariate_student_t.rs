//! The multivariate Student-t distribution t_ν(μ, Σ).

use rand::{Rng, RngExt};

use super::spd::{Spd, check_location};
use crate::autodiff::GenericLogDensity;
use crate::density::{Hessian, LogDensity, Sampler, Score};
use crate::error::{Result, positive};
use crate::scalar::Scalar;

/// The multivariate Student-t t_ν(μ, Σ) on ℝᵈ with scale matrix Σ, normalised.
///
/// ```text
/// log p(x) = log Γ((ν+d)/2) − log Γ(ν/2) − (d/2) log(νπ) − ½ log det Σ − ((ν+d)/2) log(1 + Q/ν)
/// Q        = (x−μ)ᵀ Σ⁻¹ (x−μ)
/// s(x)     = −(ν+d) Σ⁻¹(x−μ) / (ν + Q)                                 (docs/math.md section 5)
/// ∇² log p = −(ν+d)/(ν+Q) Σ⁻¹ + 2(ν+d)/(ν+Q)² (Σ⁻¹(x−μ)) (Σ⁻¹(x−μ))ᵀ
/// ```
/// Sampling: μ + L z / sqrt(W/ν), z ~ N(0, I), W ~ χ²_ν, Σ = L Lᵀ.
///
/// # Examples
/// ```
/// use dsm_core::{MultivariateStudentT, Score};
/// let t = MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 3.0)?;
/// let s = t.try_score(&[1.0, 0.0])?;
/// assert!((s[0] + 5.0 / 4.0).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultivariateStudentT {
    location: Vec<f64>,
    scale: Spd,
    dof: f64,
    log_norm: f64,
    chi2: rand_distr::ChiSquared<f64>,
}

impl MultivariateStudentT {
    /// t_dof(location, scale), `scale` row-major d × d.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an empty location or a
    /// dof that is not finite and positive; the matrix errors of
    /// [`Gaussian::new`](crate::Gaussian::new) for the scale matrix.
    pub fn new(location: Vec<f64>, scale: &[f64], dof: f64) -> Result<Self> {
        check_location("MultivariateStudentT", "location", &location)?;
        positive("MultivariateStudentT", "dof", dof)?;
        let d = location.len();
        let scale = Spd::new("scale", d, scale)?;
        let df = d as f64;
        // ln Γ((ν+d)/2) − ln Γ(ν/2) without the cancellation of two large ln Γ at large ν.
        let log_norm =
            crate::special_functions::incomplete::ln_gamma_difference(0.5 * dof, 0.5 * df)
                - 0.5 * df * (dof * std::f64::consts::PI).ln()
                - 0.5 * scale.log_det;
        let chi2 = super::chi_squared("MultivariateStudentT", dof)?;
        Ok(Self {
            location,
            scale,
            dof,
            log_norm,
            chi2,
        })
    }

    /// The location μ.
    pub fn location(&self) -> &[f64] {
        &self.location
    }

    /// The scale matrix Σ, row-major.
    pub fn scale(&self) -> &[f64] {
        &self.scale.matrix
    }

    /// The degrees of freedom ν.
    pub fn dof(&self) -> f64 {
        self.dof
    }
}

impl LogDensity for MultivariateStudentT {
    fn dim(&self) -> usize {
        self.location.len()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        let q = self.scale.mahalanobis_sq(x, &self.location);
        let d = self.location.len() as f64;
        self.log_norm - 0.5 * (self.dof + d) * (q / self.dof).ln_1p()
    }
}

impl Score for MultivariateStudentT {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        self.scale.precision_times(x, &self.location, out);
        let q: f64 = out
            .iter()
            .zip(x.iter().zip(&self.location))
            .map(|(p, (xi, mi))| p * (xi - mi))
            .sum();
        let c = -(self.dof + self.location.len() as f64) / (self.dof + q);
        out.iter_mut().for_each(|v| *v *= c);
    }
}

impl Hessian for MultivariateStudentT {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        let d = self.location.len();
        // v = Σ⁻¹(x−μ) is kept in row 0 of `out` until row 0 itself is written (last).
        let (v, _) = out.split_at_mut(d);
        self.scale.precision_times(x, &self.location, v);
        let q: f64 = v
            .iter()
            .zip(x.iter().zip(&self.location))
            .map(|(p, (xi, mi))| p * (xi - mi))
            .sum();
        let nd = self.dof + d as f64;
        let a = -nd / (self.dof + q);
        let b = 2.0 * nd / ((self.dof + q) * (self.dof + q));
        let p = &self.scale.inverse;
        for i in (1..d).rev() {
            let vi = out[i];
            for j in 0..d {
                out[i * d + j] = a * p[i * d + j] + b * vi * out[j];
            }
        }
        let v0 = out[0];
        for j in 0..d {
            out[j] = a * p[j] + b * v0 * out[j];
        }
    }

    fn laplacian(&self, x: &[f64], scratch: &mut [f64]) -> f64 {
        self.laplacian_closed(x, scratch)
    }
}

impl MultivariateStudentT {
    /// Δ log p = −(ν+d) tr Σ⁻¹/(ν+Q) + 2(ν+d) ‖Σ⁻¹(x−μ)‖²/(ν+Q)², with Σ⁻¹(x−μ) in `scratch`.
    fn laplacian_closed(&self, x: &[f64], scratch: &mut [f64]) -> f64 {
        let d = self.location.len();
        let v = &mut scratch[..d];
        self.scale.precision_times(x, &self.location, v);
        let q: f64 = v
            .iter()
            .zip(x.iter().zip(&self.location))
            .map(|(p, (xi, mi))| p * (xi - mi))
            .sum();
        let nd = self.dof + d as f64;
        let tr: f64 = (0..d).map(|i| self.scale.inverse[i * d + i]).sum();
        let vv: f64 = v.iter().map(|a| a * a).sum();
        -nd * tr / (self.dof + q) + 2.0 * nd * vv / ((self.dof + q) * (self.dof + q))
    }
}

impl Sampler for MultivariateStudentT {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        for v in out.iter_mut() {
            *v = rng.sample(rand_distr::StandardNormal);
        }
        let w: f64 = rng.sample(self.chi2);
        let c = 1.0 / (w / self.dof).sqrt();
        out.iter_mut().for_each(|v| *v *= c);
        self.scale.affine_from_standard(&self.location, out);
    }
}

/// One point of length `dim()`, the same as [`Sampler::sample_into`] for the same `rng`
/// state (allocates the vector; use `sample_into` in loops).
///
/// ```
/// use dsm_core::MultivariateStudentT;
/// use rand::distr::Distribution;
/// use rand::SeedableRng;
/// let model = MultivariateStudentT::new(vec![0.0; 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 4.0)?;
/// let mut rng = chacha20::ChaCha8Rng::seed_from_u64(1);
/// let points: Vec<Vec<f64>> = model.sample_iter(&mut rng).take(10).collect();
/// assert!(points.iter().all(|x| x.len() == 3));
/// # Ok::<(), dsm_core::Error>(())
/// ```
impl rand::distr::Distribution<Vec<f64>> for MultivariateStudentT {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut out = vec![0.0; LogDensity::dim(self)];
        self.sample_into(rng, &mut out);
        out
    }
}

impl GenericLogDensity for MultivariateStudentT {
    fn dim(&self) -> usize {
        self.location.len()
    }
    fn log_density_generic<D: Scalar>(&self, x: &[D]) -> D {
        let d = self.location.len();
        let p = &self.scale.inverse;
        let mut q = D::from(0.0);
        for i in 0..d {
            for j in 0..d {
                q += (x[i] - self.location[i]) * (x[j] - self.location[j]) * p[i * d + j];
            }
        }
        (q / self.dof).ln_1p() * (-0.5 * (self.dof + d as f64)) + self.log_norm
    }
}
