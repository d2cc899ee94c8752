//! The sinh–arcsinh transformation of Jones & Pewsey (2009).

use super::elementwise::{ScalarMap, scalar_flow};
use dsm_core::validate::{finite, positive};
use dsm_core::{Result, derivatives_of};
use num_dual::DualNum as _;

/// t(x) = sinh(δ asinh(x) − ε): skewness ε ∈ ℝ, tail weight δ > 0 (δ < 1 heavier tails
/// in y, δ > 1 lighter).
///
/// ```text
/// t⁻¹(y) = sinh((asinh(y) + ε)/δ),     log t′(x) = log δ + log cosh(δ asinh x − ε) − ½ log(1 + x²)
/// ```
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, SinhArcsinh};
/// let t = SinhArcsinh::new(0.3, 0.7)?;
/// let (mut y, mut x) = ([0.0], [0.0]);
/// t.transform(&[2.5], &mut y);
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[0] - 2.5).abs() < 1e-13);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinhArcsinh {
    skew: f64,
    tail: f64,
}

impl SinhArcsinh {
    /// The map with skewness `skew` (ε) and tail weight `tail` (δ).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](dsm_core::Error::InvalidParameter) for a non-finite ε or a
    /// δ that is not finite and positive.
    pub fn new(skew: f64, tail: f64) -> Result<Self> {
        finite("SinhArcsinh", "skew", skew)?;
        positive("SinhArcsinh", "tail", tail)?;
        Ok(Self { skew, tail })
    }

    /// The map without validation, for layers whose parameters are checked on their own
    /// scale (a tail weight exp(log δ) that over- or underflows then shows as a non-finite
    /// value or log-determinant, which those layers report).
    pub(crate) fn unchecked(skew: f64, tail: f64) -> Self {
        Self { skew, tail }
    }
}

/// log cosh(u) without overflow.
fn ln_cosh(u: f64) -> f64 {
    let a = u.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

impl ScalarMap for SinhArcsinh {
    fn derivatives(&self, x: f64) -> [f64; 4] {
        let (e, d) = (self.skew, self.tail);
        derivatives_of(|x| (x.asinh() * d - e).sinh(), x)
    }

    fn log_derivative(&self, x: f64) -> f64 {
        // ½ log(1 + x²) = log|x| + ½ log(1 + 1/x²) where x² would overflow.
        let half_log = if x.abs() > 1e150 {
            x.abs().ln() + 0.5 * (1.0 / (x * x)).ln_1p()
        } else {
            0.5 * (x * x).ln_1p()
        };
        self.tail.ln() + ln_cosh(self.tail * x.asinh() - self.skew) - half_log
    }

    fn scalar_inverse(&self, y: f64) -> Result<f64> {
        super::elementwise::finite_inverse(((y.asinh() + self.skew) / self.tail).sinh())
    }
}

scalar_flow!(SinhArcsinh);
