//! The regularised incomplete beta and gamma functions in log space, both tails, and the
//! inverse of the incomplete gamma function from a log-probability (docs/math.md §13): the
//! radius laws of the multivariate Student-t (through the F distribution) and of χ_d, which
//! the radial Gaussian flow matches.

use special::Gamma;

use super::normal::ndtri_log;
use crate::{Error, Result};

/// Most terms of a series or continued fraction here.
const MAX_TERMS: usize = 10_000;

/// ln Γ(a).
fn ln_gamma(a: f64) -> f64 {
    Gamma::ln_gamma(a).0
}

/// ln Γ(x + h) − ln Γ(x), without the cancellation of two large ln Γ for large x (Stirling:
/// (x + h − ½) ln(1 + h/x) + h ln x − h + 1/(12(x + h)) − 1/(12x), error O(x⁻³)).
pub fn ln_gamma_difference(x: f64, h: f64) -> f64 {
    if x > 1e6 {
        (x + h - 0.5) * (h / x).ln_1p() + h * x.ln() - h
            + (1.0 / (12.0 * (x + h)) - 1.0 / (12.0 * x))
    } else {
        ln_gamma(x + h) - ln_gamma(x)
    }
}

/// ln(1 − eᵗ) for t ≤ 0, accurate on both sides of t = −ln 2.
pub fn log1m_exp(t: f64) -> f64 {
    if t > -std::f64::consts::LN_2 {
        (-t.exp_m1()).ln()
    } else {
        (-t.exp()).ln_1p()
    }
}

/// Checks a shape parameter.
fn shape(owner: &'static str, name: &'static str, a: f64) -> Result<()> {
    crate::validate::positive(owner, name, a).map(|_| ())
}

/// (ln I_x(a, b), ln(1 − I_x(a, b))), the lower and upper tails of the Beta(a, b) law at x,
/// with y = 1 − x given by the caller so that neither tail loses digits near 0 or 1.
///
/// ```text
/// I_x(a, b) = xᵃ yᵇ / (a B(a, b)) · CF(a, b, x)     for x < (a + 1)/(a + b + 2)
/// 1 − I_x(a, b) = I_y(b, a)                         otherwise
/// ```
/// CF is the continued fraction of Numerical Recipes §6.4 (modified Lentz).
///
/// # Errors
/// [`Error::InvalidParameter`] unless a, b are finite and positive, x, y ∈ [0, 1] and
/// |x + y − 1| ≤ 1e-12; [`Error::NotConverged`] if the fraction does not settle.
pub fn log_beta_inc(a: f64, b: f64, x: f64, y: f64) -> Result<(f64, f64)> {
    shape("log_beta_inc", "a", a)?;
    shape("log_beta_inc", "b", b)?;
    if !((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y) && (x + y - 1.0).abs() <= 1e-12) {
        return Err(Error::InvalidParameter {
            owner: "log_beta_inc",
            name: "x",
            value: x,
            constraint: "in [0, 1], with y = 1 − x",
        });
    }
    if x == 0.0 {
        return Ok((f64::NEG_INFINITY, 0.0));
    }
    if y == 0.0 {
        return Ok((0.0, f64::NEG_INFINITY));
    }
    let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    // ln of the larger of x, y from the smaller (ln(1 − u) = ln1p(−u)), which carries the
    // digits: b ln y for y = 1 − 2e-9 and b = 5e8 needs ln y to full relative precision.
    let (ln_x, ln_y) = if x < y {
        (x.ln(), (-x).ln_1p())
    } else {
        ((-y).ln_1p(), y.ln())
    };
    let front = a * ln_x + b * ln_y - ln_beta;
    if x < (a + 1.0) / (a + b + 2.0) {
        // At most 0: rounding in ln B for extreme shapes must not make a probability exceed 1.
        let lower = (front - a.ln() + super::student_t::continued_fraction(a, b, x)?.ln()).min(0.0);
        Ok((lower, log1m_exp(lower)))
    } else {
        let upper = (front - b.ln() + super::student_t::continued_fraction(b, a, y)?.ln()).min(0.0);
        Ok((log1m_exp(upper), upper))
    }
}

/// (ln P(a, x), ln Q(a, x)), the lower and upper regularised incomplete gamma functions: the
/// series for P when x < a + 1, the continued fraction for Q otherwise (Numerical Recipes
/// §6.2), the other tail as ln(1 − e^(·)).
///
/// ```text
/// P(a, x) = xᵃ e⁻ˣ / Γ(a + 1) · Σₙ xⁿ / ((a + 1) ⋯ (a + n))
/// Q(a, x) = xᵃ e⁻ˣ / Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − ⋯))
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] unless a is finite and positive and x ≥ 0 (x = ∞ allowed);
/// [`Error::NotConverged`] if the series or fraction does not settle.
pub fn log_gamma_inc(a: f64, x: f64) -> Result<(f64, f64)> {
    shape("log_gamma_inc", "a", a)?;
    if !(x >= 0.0) {
        return Err(Error::InvalidParameter {
            owner: "log_gamma_inc",
            name: "x",
            value: x,
            constraint: ">= 0",
        });
    }
    if x == 0.0 {
        return Ok((f64::NEG_INFINITY, 0.0));
    }
    if x == f64::INFINITY {
        return Ok((0.0, f64::NEG_INFINITY));
    }
    let front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..MAX_TERMS {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * f64::EPSILON {
                let lower = (front + sum.ln()).min(0.0);
                return Ok((lower, log1m_exp(lower)));
            }
        }
        return Err(Error::NotConverged {
            what: "incomplete gamma series",
            iterations: MAX_TERMS,
        });
    }
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=MAX_TERMS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() <= 2.0 * f64::EPSILON {
            let upper = (front + h.ln()).min(0.0);
            return Ok((log1m_exp(upper), upper));
        }
    }
    Err(Error::NotConverged {
        what: "incomplete gamma continued fraction",
        iterations: MAX_TERMS,
    })
}

/// Which tail a log-probability refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// P(X ≤ x).
    Lower,
    /// P(X > x).
    Upper,
}

/// The x with ln P(a, x) = `log_p` (lower tail) or ln Q(a, x) = `log_p` (upper tail): Newton
/// in u = ln x on the log-probability, whose derivative is ± x^a e⁻ˣ/(Γ(a) · tail), from the
/// Wilson–Hilferty start (or the small-x power law), with steps clamped to ±2 in u. Accurate
/// to a few ulps of x for any log_p ≤ 0 whose x is representable.
///
/// # Errors
/// [`Error::InvalidParameter`] unless a is finite and positive and log_p ≤ 0 is not NaN;
/// [`Error::NotConverged`] if Newton does not settle in 200 steps.
pub fn gamma_inc_inverse(a: f64, log_p: f64, tail: Tail) -> Result<f64> {
    shape("gamma_inc_inverse", "a", a)?;
    if !(log_p <= 0.0) {
        return Err(Error::InvalidParameter {
            owner: "gamma_inc_inverse",
            name: "log_p",
            value: log_p,
            constraint: "<= 0 (a log-probability)",
        });
    }
    match (tail, log_p) {
        (Tail::Lower, f64::NEG_INFINITY) | (Tail::Upper, 0.0) => return Ok(0.0),
        (Tail::Lower, 0.0) | (Tail::Upper, f64::NEG_INFINITY) => return Ok(f64::INFINITY),
        _ => {}
    }
    // Solve on the smaller tail, where the log-probability carries the digits.
    let (tail, log_p) = if log_p > -std::f64::consts::LN_2 {
        let other = match tail {
            Tail::Lower => Tail::Upper,
            Tail::Upper => Tail::Lower,
        };
        (other, log1m_exp(log_p))
    } else {
        (tail, log_p)
    };
    let lg = ln_gamma(a);
    // Wilson–Hilferty: x ≈ a (1 − 1/(9a) + z/(3√a))³, z the normal quantile of P.
    let z = match tail {
        Tail::Lower => ndtri_log(log_p)?,
        Tail::Upper => -ndtri_log(log_p)?,
    };
    let wh = a * (1.0 - 1.0 / (9.0 * a) + z / (3.0 * a.sqrt())).powi(3);
    let mut u = if wh > 0.0 && wh.is_finite() {
        wh.ln()
    } else {
        // P ≈ xᵃ/(a Γ(a)) for small x.
        (log_p + a.ln() + lg) / a
    };
    for _ in 0..200 {
        let x = u.exp();
        let (lower, upper) = log_gamma_inc(a, x)?;
        let (value, sign) = match tail {
            Tail::Lower => (lower, 1.0),
            Tail::Upper => (upper, -1.0),
        };
        let f = value - log_p;
        // d value / du = ± x · xᵃ⁻¹ e⁻ˣ / (Γ(a) · tail) = ± exp(a ln x − x − ln Γ(a) − value).
        let slope = sign * (a * u - x - lg - value).exp();
        let step = (f / slope).clamp(-2.0, 2.0);
        if !step.is_finite() {
            break;
        }
        u -= step;
        // Newton converges quadratically: after a step below 1e-12 (relative) the error is
        // at the rounding level, and further steps only chase rounding noise in f.
        if step.abs() <= 1e-12 * u.abs().max(1.0) || f.abs() <= 4.0 * f64::EPSILON * log_p.abs() {
            return Ok(u.exp());
        }
    }
    Err(Error::NotConverged {
        what: "inverse incomplete gamma (Newton)",
        iterations: 200,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_tails_sum_to_one_and_the_inverse_inverts() {
        for a in [0.1, 0.5, 1.0, 2.5, 25.0, 500.0] {
            for x in [1e-8, 0.3, 1.0, a, 3.0 * a + 10.0, 1e3] {
                let (l, u) = log_gamma_inc(a, x).unwrap();
                assert!((l.exp() + u.exp() - 1.0).abs() < 1e-14, "a {a} x {x}");
                for tail in [Tail::Lower, Tail::Upper] {
                    let target = if tail == Tail::Lower { l } else { u };
                    if target == 0.0 {
                        continue;
                    }
                    let back = gamma_inc_inverse(a, target, tail).unwrap();
                    assert!(
                        (back / x - 1.0).abs() < 1e-11,
                        "a {a} x {x} {tail:?}: {back}"
                    );
                }
            }
        }
    }
}
