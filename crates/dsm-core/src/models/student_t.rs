//! The one-dimensional location-scale Student-t distribution St(μ, σ, ν).

use rand::{Rng, RngExt};

use crate::autodiff::GenericLogDensity;
use crate::density::{Hessian, LogDensity, Sampler, Score};
use crate::error::{Result, finite, positive};
use crate::scalar::Scalar;
use crate::special_functions::StudentTFunctions;

/// The Student-t St(μ, σ, ν) on ℝ (docs/math.md section 5), normalised, with closed forms.
///
/// ```text
/// St(x; μ,σ,ν) = Γ((ν+1)/2) / ( Γ(ν/2) √(νπ) σ ) · (1 + z²/ν)^{−(ν+1)/2},   z = (x−μ)/σ
/// s(x)  = −(ν+1)(x−μ) / ( νσ² + (x−μ)² )
/// s'(x) = −(ν+1)(ν − z²) / ( σ² (ν + z²)² )
/// ```
/// Sampling: μ + σ · Z / sqrt(W/ν) with Z ~ N(0,1), W ~ χ²_ν.
///
/// # Examples
/// ```
/// use dsm_core::{Score, StudentT};
/// let t = StudentT::new(0.0, 1.0, 10.0)?;
/// assert_eq!(t.try_score(&[1.0])?, vec![-11.0 / 11.0]);
/// assert!(StudentT::new(0.0, -1.0, 10.0).is_err());
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    location: f64,
    scale: f64,
    dof: f64,
    log_norm: f64,
    ln_scale: f64,
    standard: StudentTFunctions,
    chi2: rand_distr::ChiSquared<f64>,
}

impl StudentT {
    /// St(location, scale, dof).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for a non-finite location,
    /// or a scale or dof that is not finite and positive.
    pub fn new(location: f64, scale: f64, dof: f64) -> Result<Self> {
        finite("location", location)?;
        positive("scale", scale)?;
        positive("dof", dof)?;
        let standard = StudentTFunctions::new(dof)?;
        let log_norm = standard.log_pdf_at_zero() - scale.ln();
        let chi2 = super::chi_squared(dof)?;
        Ok(Self {
            location,
            scale,
            dof,
            log_norm,
            ln_scale: scale.ln(),
            standard,
            chi2,
        })
    }

    /// The location μ.
    pub fn location(&self) -> f64 {
        self.location
    }

    /// The scale σ.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The degrees of freedom ν.
    pub fn dof(&self) -> f64 {
        self.dof
    }

    /// The standard Student-t functions (log-space CDF, survival function, quantile) of this
    /// dof, shared with the Gaussian flow.
    pub fn standard(&self) -> &StudentTFunctions {
        &self.standard
    }

    /// log F(x), the log of the CDF, accurate in both tails (docs/math.md section 10).
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_cdf`].
    pub fn log_cdf(&self, x: f64) -> Result<f64> {
        self.standard.log_cdf(self.standardise(x))
    }

    /// log(1 − F(x)), the log of the survival function, accurate in both tails.
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_sf`].
    pub fn log_sf(&self, x: f64) -> Result<f64> {
        self.standard.log_sf(self.standardise(x))
    }

    /// z = (x − μ)/σ, without overflow where x − μ alone would overflow.
    fn standardise(&self, x: f64) -> f64 {
        let z = (x - self.location) / self.scale;
        if z.is_finite() || x.is_nan() {
            z
        } else {
            x / self.scale - self.location / self.scale
        }
    }

    /// A copy with another location (the model family St(μ, σ, ν) of docs/math.md section 6.1).
    ///
    /// # Errors
    /// As [`StudentT::new`].
    pub fn with_location(&self, location: f64) -> Result<Self> {
        Self::new(location, self.scale, self.dof)
    }
}

impl LogDensity for StudentT {
    fn dim(&self) -> usize {
        1
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        self.standard.log_pdf(self.standardise(x[0])) - self.ln_scale
    }
}

impl Score for StudentT {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = self.standard.score(self.standardise(x[0])) / self.scale;
    }
}

impl Hessian for StudentT {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = self.standard.score_derivative(self.standardise(x[0])) / (self.scale * self.scale);
    }
}

impl Sampler for StudentT {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        let w: f64 = rng.sample(self.chi2);
        out[0] = self.location + self.scale * z / (w / self.dof).sqrt();
    }
}

impl GenericLogDensity for StudentT {
    fn dim(&self) -> usize {
        1
    }
    fn log_density_generic<D: Scalar>(&self, x: &[D]) -> D {
        let z = (x[0] - self.location) / self.scale;
        // ln(1 + z²/ν); beyond |z| = 1e100 as 2 ln|z| − ln ν + ln(1 + ν/z²), so that z² never
        // overflows (the density is finite for every finite x).
        let log_ratio = if z.value().abs() > 1e100 {
            let magnitude = if z.value() < 0.0 { -z } else { z };
            magnitude.ln() * 2.0 - self.dof.ln() + (z.recip() * self.dof / z).ln_1p()
        } else {
            (z * z / self.dof).ln_1p()
        };
        log_ratio * (-0.5 * (self.dof + 1.0)) + self.log_norm
    }
}
