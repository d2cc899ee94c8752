//! The standard normal distribution in log space: log φ, log Φ, the log hazard
//! log(φ/Φ̄), the scaled complementary error function, and Φ⁻¹ of a log-probability.

use special::Error as _;
use std::f64::consts::{FRAC_1_SQRT_2, LN_2, PI, SQRT_2};

use crate::error::{Error, Result};

/// ½ ln 2π.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// From here on erfcx is computed by its continued fraction (libm's erfc underflows at 26.5).
const ERFCX_FRACTION_FROM: f64 = 26.0;

/// Newton iterations allowed in [`ndtri_log`].
const NDTRI_MAX_ITERATIONS: usize = 100;

/// log φ(z) = −z²/2 − ½ ln 2π, the standard normal log-density.
#[inline]
pub fn norm_log_pdf(z: f64) -> f64 {
    -0.5 * z * z - HALF_LN_2PI
}

/// ln erfcx(y) = ln(e^{y²} erfc(y)), for y ≥ 0, to a few ulp.
///
/// ```text
/// y < 26:  erfcx(y) = e^{y²} erfc(y),    y² split exactly into hi + lo (fma)
/// y ≥ 26:  erfcx(y) = 1 / (√π (y + ½/(y + 1/(y + (3/2)/(y + 2/(y + …))))))
/// ```
pub fn log_erfcx(y: f64) -> f64 {
    debug_assert!(!(y < 0.0));
    if y < ERFCX_FRACTION_FROM {
        // e^{y²} erfc(y) as a product (a few ulp); its logarithm then has no cancellation.
        let hi = y * y;
        let lo = y.mul_add(y, -hi);
        (hi.exp() * y.compl_error() * lo.exp()).ln()
    } else {
        let mut v = y;
        for k in (1..=40).rev() {
            v = y + 0.5 * k as f64 / v;
        }
        -0.5 * PI.ln() - v.ln()
    }
}

/// log Φ̄(t) = log P(Z > t) for t ≥ 0, through erfcx: −t²/2 − ln 2 + ln erfcx(t/√2).
fn log_upper_tail(t: f64) -> f64 {
    -0.5 * t * t - LN_2 + log_erfcx(t * FRAC_1_SQRT_2)
}

/// log Φ(z), accurate to a few ulp for every z (−∞ where it is below −1.8e308).
///
/// ```text
/// z ≥ −1:  log Φ(z) = ln(½ erfc(−z/√2))            (log1p(−½ erfc(z/√2)) for z > 0)
/// z < −1:  log Φ(z) = −z²/2 − ln 2 + ln erfcx(−z/√2)
/// ```
pub fn log_ndtr(z: f64) -> f64 {
    if z > 0.0 {
        (-0.5 * (z * FRAC_1_SQRT_2).compl_error()).ln_1p()
    } else if z >= -1.0 {
        (0.5 * (-z * FRAC_1_SQRT_2).compl_error()).ln()
    } else {
        log_upper_tail(-z)
    }
}

/// The log hazard log(φ(t)/Φ̄(t)) of the standard normal, without cancellation for any t.
///
/// ```text
/// t ≥ 0:  ½ ln(2/π) − ln erfcx(t/√2)        (→ ln t as t → ∞)
/// t < 0:  log φ(t) − log Φ(−t)
/// ```
pub fn log_normal_hazard(t: f64) -> f64 {
    if t >= 0.0 {
        0.5 * (2.0 / PI).ln() - log_erfcx(t * FRAC_1_SQRT_2)
    } else {
        norm_log_pdf(t) - log_ndtr(-t)
    }
}

/// The z ≥ 0 with Φ(z) − ½ = `delta` (0 ≤ δ < ½), to a few ulp relative, also for tiny δ
/// where Φ⁻¹(½ + δ) would lose digits: the inverse error function, then Newton steps on
/// ½ erf(z/√2) − δ.
///
/// # Errors
/// [`Error::InvalidParameter`] for δ outside [0, ½) or NaN.
pub fn central_quantile(delta: f64) -> Result<f64> {
    if !(0.0..0.5).contains(&delta) {
        return Err(Error::InvalidParameter {
            owner: "central_quantile",
            name: "delta",
            value: delta,
            constraint: "in [0, 1/2)",
        });
    }
    let mut z = SQRT_2 * (2.0 * delta).inv_error();
    for _ in 0..3 {
        let residual = 0.5 * (z * FRAC_1_SQRT_2).error() - delta;
        z -= residual / norm_log_pdf(z).exp();
    }
    Ok(z.max(0.0))
}

/// Φ⁻¹ of a log-probability: the z with log Φ(z) = `log_p` (log p ≤ 0), by Newton's method on
/// log Φ from an asymptotic start. Accurate where p itself underflows (log p < −745): the
/// relative error of z is a few ulp.
///
/// # Errors
/// [`Error::InvalidParameter`] for log p > 0 or NaN; [`Error::NotConverged`] if Newton's
/// method does not settle (not observed).
pub fn ndtri_log(log_p: f64) -> Result<f64> {
    if !(log_p <= 0.0) {
        return Err(Error::InvalidParameter {
            owner: "ndtri_log",
            name: "log_p",
            value: log_p,
            constraint: "<= 0",
        });
    }
    if log_p == 0.0 {
        return Ok(f64::INFINITY);
    }
    if log_p == f64::NEG_INFINITY {
        return Ok(f64::NEG_INFINITY);
    }
    if log_p > -LN_2 {
        // Upper half: Φ⁻¹(p) = −Φ⁻¹(1 − p).
        return Ok(-ndtri_log((-log_p.exp_m1()).ln())?);
    }
    // Lower half (z ≤ 0). Start: the inverse error function for moderate p, the asymptotic
    // t² = −2 log p − 2 log t − log 2π in the tail.
    let mut z = if log_p > -20.0 {
        -SQRT_2 * (1.0 - 2.0 * log_p.exp()).inv_error()
    } else {
        let mut t = (-2.0 * log_p).sqrt();
        for _ in 0..3 {
            t = (-2.0 * log_p - 2.0 * t.ln() - 2.0 * HALF_LN_2PI)
                .max(1.0)
                .sqrt();
        }
        -t
    };
    let mut previous = f64::INFINITY;
    for _ in 0..NDTRI_MAX_ITERATIONS {
        // d/dz log Φ(z) = φ(z)/Φ(z) = hazard at −z.
        let slope = log_normal_hazard(-z).exp();
        let step = (log_ndtr(z) - log_p) / slope;
        if !step.is_finite() {
            break;
        }
        z -= step;
        let size = step.abs();
        let scale = z.abs().max(1e-300);
        // Converged, or stalled at the noise level of log Φ.
        if size <= 4.0 * f64::EPSILON * scale || (size <= 1e-12 * scale && size >= 0.5 * previous) {
            return Ok(z);
        }
        previous = size;
    }
    Err(Error::NotConverged {
        what: "normal quantile",
        iterations: NDTRI_MAX_ITERATIONS,
    })
}
