//! The power-tail map (docs/math.md eq. 12.5): it sends a density whose tails decay like a
//! power |u|^(−α−1) to one with Gaussian tails, as the Gaussian flow Φ⁻¹∘F of a heavy-tailed
//! law does, but with the tail index α as a parameter instead of a known family.

use super::elementwise::{ScalarMap, scalar_flow};
use dsm_core::validate::positive;
use dsm_core::{Result, Scalar, derivatives_of};

/// t(u) = sign(u) √(α log(1 + u²/α)), tail index α > 0: linear at the origin (t′(0) = 1),
/// growing like √(2α log|u|) far out, the growth of Φ⁻¹∘F for a law with tails |u|^(−α−1).
/// So exp(−t²/2) = (1 + u²/α)^(−α/2): N(0, 1) pulled back through t is Student-like.
///
/// ```text
/// t⁻¹(y) = sign(y) √(α (exp(y²/α) − 1)),   log t′(u) = −log(1 + u²/α) − ½ log w(u²/α)
/// w(s) = log(1 + s)/s
/// ```
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, PowerTail};
/// let t = PowerTail::new(5.0)?;
/// let (y, _) = t.forward(&[1e6])?;
/// assert!((y[0] - (5.0f64 * (1.0f64 + 1e12 / 5.0).ln()).sqrt()).abs() < 1e-12);
/// let (x, _) = t.inverse(&y)?;
/// assert!((x[0] / 1e6 - 1.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerTail {
    alpha: f64,
}

impl PowerTail {
    /// The map with tail index `alpha` (α).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](dsm_core::Error::InvalidParameter) unless α is finite and
    /// positive.
    pub fn new(alpha: f64) -> Result<Self> {
        positive("PowerTail", "alpha", alpha)?;
        Ok(Self { alpha })
    }

    /// The map without validation, for layers that check α on the log scale (an α that
    /// over- or underflows then shows as a non-finite value, which those layers report).
    pub(crate) fn unchecked(alpha: f64) -> Self {
        Self { alpha }
    }
}

/// Where s = u²/α counts as large: log(1 + s) is then taken as log s + log(1 + 1/s), so that
/// u² never overflows.
const LARGE_LOG_S: f64 = 40.0;

/// Where s counts as small: w(s) = log(1 + s)/s from its series (error below s⁶/7 < 1e-19).
const SMALL_S: f64 = 1e-3;

/// t(u) for tail index α, in any dual scalar (both u and α may carry derivatives).
pub(crate) fn power_tail_value<D: Scalar>(u: D, alpha: D) -> D {
    let (ur, ar) = (u.re(), alpha.re());
    let log_s = 2.0 * ur.abs().ln() - ar.ln();
    if log_s > LARGE_LOG_S {
        // log(1 + s) = 2 log|u| − log α + log(1 + α/u²).
        let abs_u = if ur < 0.0 { -u } else { u };
        let log1p_s = abs_u.ln() * 2.0 - alpha.ln() + (alpha / (abs_u * abs_u)).ln_1p();
        let magnitude = (alpha * log1p_s).sqrt();
        return if ur < 0.0 { -magnitude } else { magnitude };
    }
    let s = u * u / alpha;
    let w = if s.re() < SMALL_S {
        // log(1 + s)/s = 1 − s/2 + s²/3 − s³/4 + s⁴/5 − s⁵/6 + …
        let mut acc = D::from(-1.0 / 6.0);
        for k in (1..=5).rev() {
            let sign = if k % 2 == 0 { -1.0 } else { 1.0 };
            acc = acc * s + sign / k as f64;
        }
        acc
    } else {
        s.ln_1p() / s
    };
    u * w.sqrt()
}

impl ScalarMap for PowerTail {
    fn derivatives(&self, x: f64) -> [f64; 4] {
        let alpha = self.alpha;
        derivatives_of(|u| power_tail_value(u, alpha.into()), x)
    }

    fn log_derivative(&self, x: f64) -> f64 {
        // t′ = 1/((1 + s) √w(s)), s = x²/α.
        let log_s = 2.0 * x.abs().ln() - self.alpha.ln();
        if log_s > LARGE_LOG_S {
            let log1p_s = log_s + (-log_s).exp().ln_1p();
            // w = log(1 + s)/s, so −log(1 + s) − ½ log w = −½ log s − log(1 + 1/s) − ½ log log(1 + s).
            return -0.5 * log_s - (-log_s).exp().ln_1p() - 0.5 * log1p_s.ln();
        }
        let s = x * x / self.alpha;
        let w = if s < SMALL_S {
            1.0 - s / 2.0 + s * s / 3.0 - s * s * s / 4.0
        } else {
            s.ln_1p() / s
        };
        -s.ln_1p() - 0.5 * w.ln()
    }

    fn scalar_inverse(&self, y: f64) -> Result<f64> {
        let q = y * y / self.alpha;
        // |x| = √(α (eˢ − 1)), in logs where eˢ would overflow.
        let magnitude = if q > 1.0 {
            (0.5 * (self.alpha.ln() + q + (-(-q).exp_m1()).ln())).exp()
        } else {
            (self.alpha * q.exp_m1()).sqrt()
        };
        super::elementwise::finite_inverse(magnitude.copysign(y))
    }
}

scalar_flow!(PowerTail);
