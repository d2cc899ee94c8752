//! The Gaussian flow Φ⁻¹ ∘ F_t of docs/math.md eq. 12: Student-t to standard normal.

use super::elementwise::{ScalarMap, scalar_flow};
use dsm_core::special_functions::StudentTFunctions;
use dsm_core::special_functions::normal::{
    central_quantile, log_ndtr, log_normal_hazard, ndtri_log, norm_log_pdf,
};
use dsm_core::validate::{finite, positive};
use dsm_core::{Error, Result};
use special::Error as _;

/// The Gaussian flow of a Student-t St(μ, σ, ν) (docs/math.md eq. 12):
///
/// ```text
/// T(x) = Φ⁻¹(F_ν((x − μ)/σ)),       p_T = N(0, 1) exactly
/// T′(x) = p(x)/φ(T(x)),   T″ = T′(s_p + T T′),   T‴ = T″(s_p + T T′) + T′(s_p′ + T′² + T T″)
/// m(x) = 1/T′(x) = φ(T(x))/p(x)                    (the diffusion this flow defines)
/// ```
/// Computed in log space through the one Student-t of dsm-core
/// ([`StudentTFunctions`], its constants computed here, once) and a tail-accurate Φ⁻¹:
///
/// ```text
/// T(z)    = sign(z) · (−Φ⁻¹(sf_ν(|z|)))                          (tails)
///         = sign(z) · Φ⁻¹(½ + δ(|z|)),  δ = F_ν − ½              (centre, |T| ≲ 0.52)
/// log T′  = −log(sf_ν/f_ν)(|z|) − log σ − log(φ/Φ̄)(|T|)       (no large terms cancel)
/// ```
/// For every ν > 0 and every finite x, T is finite and increasing; measured against a
/// mpmath table (80-digit arithmetic, 30 digits kept; ν from 0.3 to 1e10, |x| from 1e-3 to
/// 1e300) T is within 1.1e-15 relative and log m = −log T′ within 1.2e-13 absolute
/// (docs/flows.md gives the figures by ν).
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, GaussianFlow};
/// let t = GaussianFlow::new(0.0, 1.0, 3.0)?;
/// let mut y = [0.0];
/// t.transform(&[1e12], &mut y);
/// assert!((y[0] - 12.596568661302944).abs() < 1e-12); // mpmath: 12.596568661302944626
/// let mut x = [0.0];
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[0] / 1e12 - 1.0).abs() < 1e-9);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianFlow {
    location: f64,
    scale: f64,
    ln_scale: f64,
    student: StudentTFunctions,
}

impl GaussianFlow {
    /// The Gaussian flow of St(location, scale, dof).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](dsm_core::Error::InvalidParameter) for a non-finite
    /// location or a scale or dof that is not finite and positive.
    pub fn new(location: f64, scale: f64, dof: f64) -> Result<Self> {
        finite("GaussianFlow", "location", location)?;
        positive("GaussianFlow", "scale", scale)?;
        let student = StudentTFunctions::new(dof)?;
        Ok(Self {
            location,
            scale,
            ln_scale: scale.ln(),
            student,
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
        self.student.dof()
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

    /// T(x) and log T′(x).
    ///
    /// # Errors
    /// [`Error::NonFiniteSample`] for a NaN or infinite x (or one whose z overflows), and the
    /// (never observed) convergence errors of the Student-t and normal functions.
    pub fn value_and_log_slope(&self, x: f64) -> Result<(f64, f64)> {
        let z = self.standardise(x);
        if !z.is_finite() {
            return Err(Error::NonFiniteSample {
                index: 0,
                coordinate: 0,
            });
        }
        let (magnitude, log_slope) = if self.student.is_central(z.abs()) {
            // |T| < ½: through δ = F(|z|) − ½, so T keeps its relative accuracy near 0.
            let magnitude = central_quantile(self.student.central(z.abs())?)?;
            let log_slope = self.student.log_pdf(z) - self.ln_scale - norm_log_pdf(magnitude);
            (magnitude, log_slope)
        } else {
            let tail = self.student.upper_tail(z.abs())?;
            let magnitude = -ndtri_log(tail.log_sf)?;
            let log_slope = -tail.log_sf_over_pdf - self.ln_scale - log_normal_hazard(magnitude);
            (magnitude, log_slope)
        };
        Ok((if z >= 0.0 { magnitude } else { -magnitude }, log_slope))
    }
}

impl ScalarMap for GaussianFlow {
    /// [T, T′, T″, T‴]; NaN where x is not finite (the fallible flow paths report it).
    fn derivatives(&self, x: f64) -> [f64; 4] {
        let Ok((t, log_slope)) = self.value_and_log_slope(x) else {
            return [f64::NAN; 4];
        };
        let t1 = log_slope.exp();
        let z = self.standardise(x);
        let score = self.student.score(z) / self.scale;
        let score1 = self.student.score_derivative(z) / (self.scale * self.scale);
        let a = score + t * t1;
        let t2 = t1 * a;
        let t3 = t2 * a + t1 * (score1 + t1 * t1 + t * t2);
        [t, t1, t2, t3]
    }

    fn log_derivative(&self, x: f64) -> f64 {
        self.value_and_log_slope(x).map_or(f64::NAN, |(_, l)| l)
    }

    fn scalar_inverse(&self, y: f64) -> Result<f64> {
        if !y.is_finite() {
            return Err(Error::NonFiniteSample {
                index: 0,
                coordinate: 0,
            });
        }
        if y == 0.0 {
            return Ok(self.location);
        }
        let delta = 0.5 * (y.abs() * std::f64::consts::FRAC_1_SQRT_2).error();
        // Near the centre through δ (full relative accuracy), else through the tail.
        let z = match self.student.quantile_central(delta) {
            Ok(z) => z,
            Err(_) => self.student.quantile_log_sf(log_ndtr(-y.abs()))?,
        };
        super::elementwise::finite_inverse(
            self.location + self.scale * if y > 0.0 { z } else { -z },
        )
    }
}

scalar_flow!(GaussianFlow);
