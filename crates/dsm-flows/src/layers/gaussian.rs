//! The Gaussian flow Φ⁻¹ ∘ F_t of MATH.md eq. (12): Student-t to standard normal.

use super::elementwise::{ScalarMap, scalar_flow};
use crate::tails::{log_ndtr, ndtri_log, norm_log_pdf, t_isf_log, t_log_pdf, t_log_sf};
use dsm_core::Result;
use dsm_core::validate::{finite, positive};

/// The Gaussian flow of a Student-t St(μ, σ, ν) (MATH.md eq. 12):
///
/// ```text
/// T(x) = Φ⁻¹(F_ν((x − μ)/σ)),       p_T = N(0, 1) exactly
/// T′(x) = p(x)/φ(T(x)),   T″ = T′(s_p + T T′),   T‴ = T″(s_p + T T′) + T′(s_p′ + T′² + T T″)
/// m(x) = 1/T′(x) = φ(T(x))/p(x)                    (the diffusion this flow defines)
/// ```
/// Computed in log space through the survival function and a tail-accurate Φ⁻¹
/// ([`tails`](crate::tails)): T(z) = sign(z)·(−Φ⁻¹(sf_ν(|z|))), log T′ = log p − log φ(T).
/// It is finite, strictly increasing and accurate for |x| up to 1e12 and beyond.
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
    dof: f64,
}

impl GaussianFlow {
    /// The Gaussian flow of St(location, scale, dof).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](dsm_core::Error::InvalidParameter) for a non-finite
    /// location or a scale or dof that is not finite and positive.
    pub fn new(location: f64, scale: f64, dof: f64) -> Result<Self> {
        finite("location", location)?;
        positive("scale", scale)?;
        positive("dof", dof)?;
        Ok(Self {
            location,
            scale,
            dof,
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

    /// T(x) and log T′(x).
    fn value_and_log_slope(&self, x: f64) -> (f64, f64) {
        let z = (x - self.location) / self.scale;
        let tail = ndtri_log(t_log_sf(z.abs(), self.dof)).unwrap_or(f64::NAN);
        let t = if z >= 0.0 { -tail } else { tail };
        let log_p = t_log_pdf(z, self.dof) - self.scale.ln();
        (t, log_p - norm_log_pdf(t))
    }
}

impl ScalarMap for GaussianFlow {
    fn derivatives(&self, x: f64) -> [f64; 4] {
        let (t, log_slope) = self.value_and_log_slope(x);
        let t1 = log_slope.exp();
        let (nu, s2) = (self.dof, self.scale * self.scale);
        let r = x - self.location;
        let z2 = r * r / s2;
        let score = -(nu + 1.0) * r / (nu * s2 + r * r);
        let score1 = -(nu + 1.0) * (nu - z2) / (s2 * (nu + z2) * (nu + z2));
        let a = score + t * t1;
        let t2 = t1 * a;
        let t3 = t2 * a + t1 * (score1 + t1 * t1 + t * t2);
        [t, t1, t2, t3]
    }

    fn log_derivative(&self, x: f64) -> f64 {
        self.value_and_log_slope(x).1
    }

    fn inverse(&self, y: f64) -> Result<f64> {
        if y == 0.0 {
            return Ok(self.location);
        }
        let z = t_isf_log(log_ndtr(-y.abs()), self.dof)?;
        Ok(self.location + self.scale * if y > 0.0 { z } else { -z })
    }
}

scalar_flow!(GaussianFlow);
