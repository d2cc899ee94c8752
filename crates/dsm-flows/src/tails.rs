//! Tail-accurate normal and Student-t functions in log space, for the Gaussian flow.
//!
//! Everything is computed through log-probabilities, so the Gaussian flow stays finite and
//! accurate where the probabilities themselves underflow (|x| up to 1e12 and beyond for any
//! degrees of freedom): log Φ by the complementary error function (libm, through `special`)
//! and by the Laplace continued fraction of the Mills ratio beyond; Φ⁻¹ of a log-probability
//! by Newton's method on log Φ; the Student-t survival function by the hypergeometric series
//! of the regularised incomplete beta function, in log space.

use special::{Error as _, Gamma};

use dsm_core::{Error, Result};

/// ½ log 2π.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// log φ(z), the standard normal log-density.
#[inline]
pub fn norm_log_pdf(z: f64) -> f64 {
    -0.5 * z * z - HALF_LN_2PI
}

/// log Φ(z), accurate to a few ulp for every finite z.
///
/// ```text
/// z ≥ −30:  log Φ(z) = log(½ erfc(−z/√2))            (log1p(−½ erfc(z/√2)) for z > 0)
/// z < −30:  Φ(z) = φ(z) / (t + 1/(t + 2/(t + 3/(t + …)))),  t = −z
/// ```
pub fn log_ndtr(z: f64) -> f64 {
    if z > 0.0 {
        (-0.5 * (z * std::f64::consts::FRAC_1_SQRT_2).compl_error()).ln_1p()
    } else if z >= -30.0 {
        (0.5 * (-z * std::f64::consts::FRAC_1_SQRT_2).compl_error()).ln()
    } else {
        let t = -z;
        let mut v = t;
        for k in (1..=60).rev() {
            v = t + k as f64 / v;
        }
        norm_log_pdf(t) - v.ln()
    }
}

/// Φ⁻¹(p) given log p (log p ≤ 0): the z with log Φ(z) = `log_p`, by Newton's method on
/// log Φ from an asymptotic start. Accurate where p itself underflows (log p < −745).
///
/// # Errors
/// [`Error::InvalidParameter`] for log p > 0 or NaN; [`Error::InverseFailed`] if Newton's
/// method does not settle (not observed).
pub fn ndtri_log(log_p: f64) -> Result<f64> {
    if !(log_p <= 0.0) {
        return Err(Error::InvalidParameter {
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
    if log_p > -std::f64::consts::LN_2 {
        // Upper half: Φ⁻¹(p) = −Φ⁻¹(1 − p).
        return Ok(-ndtri_log((-log_p.exp_m1()).ln())?);
    }
    // Lower half (z ≤ 0). Start: the inverse error function for moderate p, the asymptotic
    // t² = −2 log p − 2 log t − log 2π in the tail.
    let mut z = if log_p > -20.0 {
        -std::f64::consts::SQRT_2 * (1.0 - 2.0 * log_p.exp()).inv_error()
    } else {
        let mut t = (-2.0 * log_p).sqrt();
        for _ in 0..3 {
            t = (-2.0 * log_p - 2.0 * t.ln() - 2.0 * HALF_LN_2PI)
                .max(1.0)
                .sqrt();
        }
        -t
    };
    for iteration in 0..100 {
        let lp = log_ndtr(z);
        let slope = (norm_log_pdf(z) - lp).exp(); // d/dz log Φ(z) = φ(z)/Φ(z)
        let step = (lp - log_p) / slope;
        z -= step;
        if step.abs() <= 1e-15 * z.abs().max(1.0) {
            return Ok(z);
        }
        if !z.is_finite() {
            return Err(Error::InverseFailed {
                index: 0,
                iterations: iteration + 1,
            });
        }
    }
    Err(Error::InverseFailed {
        index: 0,
        iterations: 100,
    })
}

/// log B(a, b).
fn ln_beta(a: f64, b: f64) -> f64 {
    Gamma::ln_gamma(a).0 + Gamma::ln_gamma(b).0 - Gamma::ln_gamma(a + b).0
}

/// log I_x(a, b), given log x and log(1 − x), by the series
/// I_x(a,b) = xᵃ(1−x)ᵇ/(a B(a,b)) · Σₙ (a+b)ₙ/(a+1)ₙ xⁿ (for x < 1; fast for small x).
fn log_ibeta_series(x: f64, ln_x: f64, ln_1mx: f64, a: f64, b: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..20_000 {
        let nf = n as f64;
        term *= (a + b + nf) / (a + 1.0 + nf) * x;
        sum += term;
        if term <= 1e-17 * sum {
            break;
        }
    }
    a * ln_x + b * ln_1mx - a.ln() - ln_beta(a, b) + sum.ln()
}

/// log of the standard Student-t survival function P(T > z), for z ≥ 0 and ν > 0:
///
/// ```text
/// sf(z) = ½ I_x(ν/2, ½),   x = ν/(ν + z²)          (MATH.md section 10)
/// ```
/// with I_x by its series where it is the smaller tail and I_x(a, b) = 1 − I_{1−x}(b, a)
/// otherwise, all in log space (finite for z up to 1e150 at any ν).
pub fn t_log_sf(z: f64, nu: f64) -> f64 {
    debug_assert!(z >= 0.0);
    let r = z * z / nu; // z²/ν
    let ln_x = -r.ln_1p(); // log x, x = ν/(ν+z²)
    let ln_1mx = r.ln() + ln_x; // log(1 − x) = log(z²/(ν+z²))
    let (a, b) = (0.5 * nu, 0.5);
    // The series for I_x(a, b) is used where it is the smaller tail (x below the mean
    // (a+1)/(a+b+2) of the continued-fraction rule), the complement otherwise, so that
    // neither branch subtracts nearly equal numbers.
    if ln_x.exp() <= (a + 1.0) / (a + b + 2.0) {
        -std::f64::consts::LN_2 + log_ibeta_series(ln_x.exp(), ln_x, ln_1mx, a, b)
    } else {
        let i = log_ibeta_series(ln_1mx.exp(), ln_1mx, ln_x, b, a).exp();
        -std::f64::consts::LN_2 + (-i).ln_1p()
    }
}

/// log of the standard Student-t density f_ν(z).
pub fn t_log_pdf(z: f64, nu: f64) -> f64 {
    Gamma::ln_gamma(0.5 * (nu + 1.0)).0
        - Gamma::ln_gamma(0.5 * nu).0
        - 0.5 * (nu * std::f64::consts::PI).ln()
        - 0.5 * (nu + 1.0) * (z * z / nu).ln_1p()
}

/// The z ≥ 0 with log sf_ν(z) = `log_sf` (log_sf ≤ log ½), by safeguarded Newton steps
/// on a bracket found by doubling.
///
/// # Errors
/// [`Error::InverseFailed`] when no finite z has that tail probability or the iteration
/// does not settle.
pub fn t_isf_log(log_sf: f64, nu: f64) -> Result<f64> {
    let half = -std::f64::consts::LN_2;
    if log_sf >= half {
        return Ok(0.0);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut iterations = 0;
    while t_log_sf(hi, nu) > log_sf {
        lo = hi;
        hi *= 2.0;
        iterations += 1;
        if !hi.is_finite() || iterations > 1100 {
            return Err(Error::InverseFailed {
                index: 0,
                iterations,
            });
        }
    }
    let mut z = if lo > 0.0 { (lo * hi).sqrt() } else { 0.5 * hi };
    for it in 0..200 {
        let f = t_log_sf(z, nu) - log_sf;
        if f > 0.0 {
            lo = z;
        } else {
            hi = z;
        }
        let slope = -(t_log_pdf(z, nu) - t_log_sf(z, nu)).exp(); // d/dz log sf
        let newton = z - f / slope;
        let next = if newton > lo && newton < hi && newton.is_finite() {
            newton
        } else if lo > 0.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * hi
        };
        if (next - z).abs() <= 4.0 * f64::EPSILON * z || hi - lo <= 4.0 * f64::EPSILON * hi {
            return Ok(next);
        }
        z = next;
        iterations = it;
    }
    Err(Error::InverseFailed {
        index: 0,
        iterations,
    })
}
