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
        finite("StudentT", "location", location)?;
        positive("StudentT", "scale", scale)?;
        positive("StudentT", "dof", dof)?;
        let standard = StudentTFunctions::new(dof)?;
        let log_norm = standard.log_pdf_at_zero() - scale.ln();
        let chi2 = super::chi_squared("StudentT", dof)?;
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

    /// log St(x; μ, σ, ν), the normalised log-density at a scalar, for any x (−∞ only at
    /// x = ±∞, NaN for NaN): the same value as [`LogDensity::log_density`]`(&[x])`.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 1.0)?; // the standard Cauchy
    /// assert!((t.log_pdf(1.0) - (1.0 / (2.0 * std::f64::consts::PI)).ln()).abs() < 1e-15);
    /// assert!(t.log_pdf(1e300).is_finite());
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn log_pdf(&self, x: f64) -> f64 {
        self.standard.log_pdf(self.standardise(x)) - self.ln_scale
    }

    /// St(x; μ, σ, ν), the density at a scalar (exp of [`StudentT::log_pdf`]; it underflows
    /// to 0 far in the tails, where `log_pdf` stays finite).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 1.0)?;
    /// assert!((t.pdf(0.0) - 1.0 / std::f64::consts::PI).abs() < 1e-15);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn pdf(&self, x: f64) -> f64 {
        self.log_pdf(x).exp()
    }

    /// The score at a scalar, s(x) = −(ν+1)(x−μ) / (νσ² + (x−μ)²), without overflow for any
    /// finite x: the same value as [`Score::score_into`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(1.0, 2.0, 3.0)?;
    /// // −(3+1)·(2−1) / (3·4 + 1) = −4/13
    /// assert!((t.score(2.0) + 4.0 / 13.0).abs() < 1e-15);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn score(&self, x: f64) -> f64 {
        self.standard.score(self.standardise(x)) / self.scale
    }

    /// The derivative of the score at a scalar, s'(x) = −(ν+1)(ν − z²) / (σ² (ν + z²)²)
    /// with z = (x−μ)/σ (the 1 × 1 Hessian of log p, [`Hessian::hessian_into`]).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 3.0)?;
    /// assert!((t.score_derivative(0.0) + 4.0 / 3.0).abs() < 1e-15);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn score_derivative(&self, x: f64) -> f64 {
        self.standard.score_derivative(self.standardise(x)) / (self.scale * self.scale)
    }

    /// F(x) = P(X ≤ x), the CDF (exp of [`StudentT::log_cdf`]; use `log_cdf` or
    /// [`StudentT::log_sf`] in the tails).
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_cdf`] (NaN input).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 1.0)?;
    /// // The Cauchy CDF: ½ + atan(x)/π.
    /// assert!((t.cdf(1.0)? - 0.75).abs() < 1e-15);
    /// assert!(t.cdf(f64::NAN).is_err());
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn cdf(&self, x: f64) -> Result<f64> {
        Ok(self.log_cdf(x)?.exp())
    }

    /// 1 − F(x) = P(X > x), the survival function (exp of [`StudentT::log_sf`]).
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_sf`] (NaN input).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 1.0)?;
    /// // Cauchy: P(X > 1e10) = atan(1e-10)/π ≈ 1e-10/π, kept to full relative precision.
    /// assert!((t.sf(1e10)? * std::f64::consts::PI / 1e-10 - 1.0).abs() < 1e-12);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn sf(&self, x: f64) -> Result<f64> {
        Ok(self.log_sf(x)?.exp())
    }

    /// log F(x), the log of the CDF, accurate in both tails (docs/math.md section 10).
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_cdf`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::StudentT;
    /// let t = StudentT::new(0.0, 1.0, 3.0)?;
    /// assert!((t.log_cdf(0.0)? - 0.5f64.ln()).abs() < 1e-15);
    /// assert!(t.log_cdf(-1e100)?.is_finite());
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
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
        self.log_pdf(x[0])
    }
}

impl Score for StudentT {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = self.score(x[0]);
    }
}

impl Hessian for StudentT {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = self.score_derivative(x[0]);
    }
}

impl Sampler for StudentT {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        let w: f64 = rng.sample(self.chi2);
        out[0] = self.location + self.scale * z / (w / self.dof).sqrt();
    }
}

/// One draw, the same as [`Sampler::sample_into`] for the same `rng` state.
///
/// ```
/// use dsm_core::StudentT;
/// use rand::{RngExt, SeedableRng};
/// let t = StudentT::new(0.0, 1.0, 5.0)?;
/// let mut rng = chacha20::ChaCha8Rng::seed_from_u64(1);
/// let x: f64 = rng.sample(t);
/// assert!(x.is_finite());
/// # Ok::<(), dsm_core::Error>(())
/// ```
impl rand::distr::Distribution<f64> for StudentT {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let mut out = [0.0];
        self.sample_into(rng, &mut out);
        out[0]
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
